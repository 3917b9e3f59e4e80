// Apollo Client with its persisted query link: `node apollo-apq.mjs URL [get|post]` runs
// one public query twice (a fresh network request each time) and prints the results and
// the requests made as JSON: first a hash-only miss and a retry with the text, then a hit.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { QUERY, recordingFetch } from "./record.mjs";

const [url, mode = "post"] = process.argv.slice(2);
const requests = [];
const persisted = new PersistedQueryLink({
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  useGETForHashedQueries: mode === "get",
});
const client = new ApolloClient({
  link: persisted.concat(new HttpLink({ uri: url, fetch: recordingFetch(requests) })),
  cache: new InMemoryCache(),
});
const results = [];
for (let i = 0; i < 2; i++) {
  const { data } = await client.query({ query: gql(QUERY), fetchPolicy: "network-only" });
  results.push(data);
}
console.log(JSON.stringify({ results, requests }));
