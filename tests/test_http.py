import json

async def test_explore(actor):
    from tests import factories as f
    from models.accounts import Role
    await f.municipality("24062", "Leuven")
    a = actor(None)
    h = a.http
    cases = [
        ("malformed json", dict(method="POST", url="/graphql", content=b"{not json", headers={"content-type": "application/json"})),
        ("json list", dict(method="POST", url="/graphql", content=b"[1,2]", headers={"content-type": "application/json"})),
        ("json string", dict(method="POST", url="/graphql", content=b'"x"', headers={"content-type": "application/json"})),
        ("json null", dict(method="POST", url="/graphql", content=b'null', headers={"content-type": "application/json"})),
        ("json num", dict(method="POST", url="/graphql", content=b'5', headers={"content-type": "application/json"})),
        ("json list of str", dict(method="POST", url="/graphql", content=b'["x"]', headers={"content-type": "application/json"})),
        ("bad utf8", dict(method="POST", url="/graphql", content=b'\xff\xfe{', headers={"content-type": "application/json"})),
        ("query not string", dict(method="POST", url="/graphql", json={"query": 5})),
        ("variables not object", dict(method="POST", url="/graphql", json={"query": "{ municipalities { name } }", "variables": [1]})),
        ("no query", dict(method="POST", url="/graphql", json={})),
        ("text/plain", dict(method="POST", url="/graphql", content=b'{"query":"{ municipalities { name } }"}', headers={"content-type": "text/plain"})),
        ("form", dict(method="POST", url="/graphql", content=b'query=x', headers={"content-type": "application/x-www-form-urlencoded"})),
        ("empty", dict(method="POST", url="/graphql", content=b"", headers={"content-type": "application/json"})),
        ("empty no ct", dict(method="POST", url="/graphql", content=b"")),
        ("syntax", dict(method="POST", url="/graphql", json={"query": "{ municipalities { name "})),
        ("unknown field", dict(method="POST", url="/graphql", json={"query": "{ municipalities { nope } }"})),
        ("var type", dict(method="POST", url="/graphql", json={"query": "query Q($f: Int!) { dossiers(first: $f) { pageInfo { hasNextPage } } }", "variables": {"f": "abc"}})),
        ("get mutation", dict(method="GET", url="/graphql", params={"query": "mutation { registerHousehold(input: {}) { errors { code } } }"})),
        ("get query", dict(method="GET", url="/graphql", params={"query": "{municipalities{name}}"})),
        ("get html", dict(method="GET", url="/graphql", headers={"accept": "text/html"})),
        ("get no query", dict(method="GET", url="/graphql")),
        ("put", dict(method="PUT", url="/graphql", json={"query": "{municipalities{name}}"})),
        ("delete", dict(method="DELETE", url="/graphql")),
        ("big", dict(method="POST", url="/graphql", content=b"x", headers={"content-length": "1000001", "content-type": "application/json"})),
        ("neg len", dict(method="POST", url="/graphql", content=b"x", headers={"content-length": "-1", "content-type": "application/json"})),
        ("healthz", dict(method="GET", url="/healthz")),
        ("readyz", dict(method="GET", url="/readyz")),
        ("unknown role anon", dict(method="POST", url="/graphql", json={"query": "{ me { email } }"}, headers={"x-loket-role": "ADMIN"})),
        ("deep", dict(method="POST", url="/graphql", json={"query": "{ me { email } }"})),
        ("operationName missing", dict(method="POST", url="/graphql", json={"query": "query A { municipalities { name } } query B { municipalities { nisCode } }"})),
        ("operationName wrong", dict(method="POST", url="/graphql", json={"query": "query A { municipalities { name } }", "operationName": "Z"})),
        ("subscription", dict(method="POST", url="/graphql", json={"query": "subscription { x }"})),
        ("introspection", dict(method="POST", url="/graphql", json={"query": "{ __schema { queryType { name } } }"})),
        ("batch", dict(method="POST", url="/graphql", json=[{"query": "{municipalities{name}}"}])),
        ("multipart", dict(method="POST", url="/graphql", files={"operations": (None, '{"query":"{municipalities{name}}"}'), "map": (None, "{}")})),
    ]
    for name, kw in cases:
        try:
            r = await h.request(**kw)
        except Exception as e:
            print("=====", name, "RAISED", type(e).__name__, e)
            continue
        print("=====", name, r.status_code, dict(r.headers))
        print(r.text[:600])
