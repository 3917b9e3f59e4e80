"""Against the running demo service: the counter's restricted view, a provider signing in
with a password and reading its ranked inbox, and GraphiQL served without a CDN."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request

URL = "http://127.0.0.1:8000/graphql"


def token(email: str) -> str:
    out = subprocess.run(
        [".venv/bin/loket", "dev-token", email], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def gql(query: str, bearer: str | None = None, variables: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    body = {"query": query, "variables": variables or {}}
    request = urllib.request.Request(URL, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request) as response:  # noqa: S310 - fixed local URL
        return json.load(response)


loket = token("loket@demo.loket.be")
result = gql(
    "{ dossiers { edges { node { parents { firstName phone workSituation }"
    " residence { name } } } } }",
    loket,
)
nodes = [e["node"] for e in result["data"]["dossiers"]["edges"]]
assert nodes, result
assert all(p["firstName"] and p["phone"] for n in nodes for p in n["parents"]), nodes
assert all(p["workSituation"] is None for n in nodes for p in n["parents"]), nodes
assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}, result
print(f"smoke: counter staff sees {len(nodes)} dossiers, names and phones, no work situation")

# A provider signs in with the demo password and reads the ranked inbox of its location.
signed_in = gql(
    "mutation($i: SignInInput!) { signIn(input: $i) { token errors { code } } }",
    variables={"i": {"email": "provider.leuven@demo.loket.be", "password": "demo-loket-2026"}},
)["data"]["signIn"]
assert signed_in["errors"] == [], signed_in
provider = signed_in["token"]
locations = gql("{ me { locations { id name } } }", provider)["data"]["me"]["locations"]
assert locations, locations
inbox = gql(
    "query($loc: ID!) { inbox(locationId: $loc) { edges { node { rank reason"
    " priority { ruleSet reasons } } } } }",
    provider,
    {"loc": locations[0]["id"]},
)
assert "errors" not in inbox, inbox
entries = [e["node"] for e in inbox["data"]["inbox"]["edges"]]
assert entries, inbox
assert [n["rank"] for n in entries] == list(range(1, len(entries) + 1)), entries
assert all(n["priority"]["reasons"] for n in entries), entries
print(
    f"smoke: provider signed in with a password; inbox of {locations[0]['name']} ranks "
    f"{len(entries)} requests, first because: {', '.join(entries[0]['priority']['reasons'])}"
)

# GraphiQL: the page names no other origin, and every asset it names is served here and
# matches the page's own SRI hash (the browser checks the same).
sys.path.insert(0, ".")
from loket.graphiql import ASSET_PREFIX, _sri, assets  # noqa: E402

page_request = urllib.request.Request(URL, headers={"Accept": "text/html"})
with urllib.request.urlopen(page_request) as response:  # noqa: S310 - fixed local URL
    page = response.read().decode()
external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
assert external == [], external
for package, path, sri in assets():
    asset_url = f"http://127.0.0.1:8000{ASSET_PREFIX}{package}/{path}"
    with urllib.request.urlopen(asset_url) as response:
        assert _sri(response.read()) == sri, asset_url
print(f"smoke: GraphiQL page and its {len(assets())} assets served locally, SRI hashes match")

# The job worker started beside the service is registered with the queue, and a job runs
# on the live database (a dry run: counts only).
for _ in range(30):
    jobs = subprocess.run(
        [".venv/bin/loket", "jobs", "list"], check=True, capture_output=True, text=True
    ).stdout
    alive = int(re.search(r"workers alive: (\d+)", jobs).group(1))  # type: ignore[union-attr]
    if alive:
        break
    time.sleep(1)
assert alive >= 1, jobs
dry = subprocess.run(
    [".venv/bin/loket", "jobs", "run", "emergency_list", "--dry-run", "--quiet"],
    check=True,
    capture_output=True,
    text=True,
).stdout
assert "would touch" in dry, dry
print(f"smoke: {alive} job worker(s) alive; {dry.splitlines()[0]}")
sys.exit(0)
