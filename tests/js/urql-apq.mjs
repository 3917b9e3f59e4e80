// urql with its persisted exchange: `node urql-apq.mjs URL [get|post]`, the same run as
// apollo-apq.mjs (urql sends hashed queries by GET unless told otherwise).
import { Client, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import { QUERY, recordingFetch } from "./record.mjs";

const [url, mode = "get"] = process.argv.slice(2);
const requests = [];
const client = new Client({
  url,
  fetch: recordingFetch(requests),
  exchanges: [
    persistedExchange({ preferGetForPersistedQueries: mode === "get" ? "within-url-limit" : false }),
    fetchExchange,
  ],
});
const results = [];
for (let i = 0; i < 2; i++) {
  const { data, error } = await client.query(QUERY, {}, { requestPolicy: "network-only" }).toPromise();
  if (error) {
    console.error(error);
    process.exit(1);
  }
  results.push(data);
}
console.log(JSON.stringify({ results, requests }));
