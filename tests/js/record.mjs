// A fetch that records what each request carried and what came back, so the Python test
// can check the automatic persisted query protocol on the wire, not only the results.
export function recordingFetch(requests) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const method = (init.method ?? "GET").toUpperCase();
    let query = null;
    let extensions = null;
    if (method === "GET") {
      query = url.searchParams.get("query");
      const raw = url.searchParams.get("extensions");
      extensions = raw ? JSON.parse(raw) : null;
    } else {
      const body = JSON.parse(init.body);
      query = body.query ?? null;
      extensions = body.extensions ?? null;
    }
    const response = await fetch(input, init);
    const text = await response.clone().text();
    let code = null;
    try {
      code = JSON.parse(text).errors?.[0]?.extensions?.code ?? null;
    } catch {}
    requests.push({
      method,
      withQuery: query !== null,
      sha256Hash: extensions?.persistedQuery?.sha256Hash ?? null,
      status: response.status,
      code,
    });
    return response;
  };
}

export const QUERY = "query Municipalities { municipalities { nisCode name } }";
