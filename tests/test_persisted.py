"""Persisted operations: automatic persisted queries for first-party frontends (Apollo's
protocol, with the real Apollo Client and urql over HTTP), persisted documents by
`documentId`, and integrators that may run only the operations registered for them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from loket.auth import mint_token
from loket.persisted import PersistedCache
from loket.settings import settings
from models.accounts import Role, User
from models.integrators import (
    DocumentSource,
    IntegratorClient,
    Manifest,
    ManifestFormat,
    ManifestOperation,
    PersistedDocument,
)
from models.providers import ProviderOrganisation
from tests import factories as f
from tests.conftest import StatementCounter, serve_on_tcp

MUNICIPALITIES = "query Municipalities { municipalities { nisCode name } }"
LEUVEN = {"municipalities": [{"nisCode": "24062", "name": "Leuven"}]}
JS = Path(__file__).parent / "js"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apollo(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def stored() -> dict[str, str]:
    return {d.sha256: d.source for d in await PersistedDocument.all()}


@pytest.fixture
def change_settings() -> Iterator[Callable[..., None]]:
    """`change_settings(name=value)` for this test only (Settings is frozen)."""
    before: dict[str, Any] = {}

    def change(**values: Any) -> None:
        for name, value in values.items():
            before.setdefault(name, getattr(settings, name))
            object.__setattr__(settings, name, value)

    yield change
    for name, value in before.items():
        object.__setattr__(settings, name, value)


@pytest_asyncio.fixture
async def fresh_app(db: str) -> Any:
    """An app of its own: the persisted document cache starts empty in every test."""
    from loket.app import create_app

    await f.municipality("24062", "Leuven")
    return create_app(database_url=db, manage_db=False)


@pytest_asyncio.fixture
async def client(fresh_app: Any) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Factory: `client(user=None, ip=...)` through the ASGI app, with the user's JWT."""
    made: list[httpx.AsyncClient] = []

    def make(user: User | None = None, ip: str = "192.0.2.1") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {mint_token(str(user.id))}"} if user else {}
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fresh_app, client=(ip, 50000)),
            base_url="http://test",
            headers=headers,
        )
        made.append(http)
        return http

    yield make
    for http in made:
        await http.aclose()


# -- automatic persisted queries (first-party frontends) ------------------------------------


async def test_apq_miss_then_registration_then_hash_only_hit_as_anonymous(client: Any) -> None:
    http = client()

    # given: a hash the server has never seen
    miss = await http.post("/graphql", json={"extensions": apollo(MUNICIPALITIES)})
    # then: exactly Apollo Server's answer, upon which the clients retry with the text
    assert miss.status_code == 200
    assert miss.headers["content-type"] == "application/json"
    assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"
    assert miss.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }

    # when: the retry carries the text
    retry = await http.post(
        "/graphql", json={"query": MUNICIPALITIES, "extensions": apollo(MUNICIPALITIES)}
    )
    assert retry.status_code == 200
    assert retry.json() == {"data": LEUVEN}
    assert await stored() == {sha(MUNICIPALITIES): DocumentSource.APQ}

    # then: the hash alone runs it, also from another client process's point of view
    hit = await http.post(
        "/graphql",
        json={"extensions": apollo(MUNICIPALITIES), "operationName": "Municipalities"},
    )
    assert hit.status_code == 200
    assert hit.json() == {"data": LEUVEN}


async def test_apq_hash_only_hit_from_the_database_when_not_cached(
    client: Any, fresh_app: Any
) -> None:
    # given: a document stored by another server process (not in this one's cache)
    await PersistedDocument.create(
        sha256=sha(MUNICIPALITIES), body=MUNICIPALITIES, source=DocumentSource.APQ
    )
    # when / then
    hit = await client().post("/graphql", json={"extensions": apollo(MUNICIPALITIES)})
    assert hit.json() == {"data": LEUVEN}


async def test_apq_with_variables_and_other_extensions_kept(client: Any) -> None:
    query = "query Search($m: String) { locations(municipality: $m) { name } }"
    http = client()
    body = {
        "query": query,
        "variables": {"m": "24062"},
        "extensions": {**apollo(query), "other": True},
    }
    first = await http.post("/graphql", json=body)
    assert first.json() == {"data": {"locations": []}}
    body.pop("query")
    again = await http.post("/graphql", json=body)
    assert again.json() == {"data": {"locations": []}}


async def test_apq_wrong_hash_is_refused_and_nothing_stored(client: Any) -> None:
    response = await client().post(
        "/graphql",
        json={"query": MUNICIPALITIES, "extensions": apollo("{ municipalities { name } }")},
    )
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert "data" not in response.json()
    assert await stored() == {}


@pytest.mark.parametrize(
    "text",
    [
        "{ municipalities { nisCode ",  # does not parse
        "{ municipalities { noSuchField } }",  # does not validate
        "{ " + "a: __typename " * (settings.max_aliases + 1) + "}",  # over the alias limit
    ],
    ids=["syntax", "unknown-field", "alias-limit"],
)
async def test_apq_invalid_document_is_not_stored(client: Any, text: str) -> None:
    response = await client().post("/graphql", json={"query": text, "extensions": apollo(text)})
    # the view reports the document's errors as for any text request
    assert response.json()["errors"]
    assert "data" not in response.json() or response.json()["data"] is None
    assert await stored() == {}


async def test_apq_unsupported_version(client: Any) -> None:
    response = await client().post(
        "/graphql",
        json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha(MUNICIPALITIES)}}},
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotSupported",
                "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
            }
        ]
    }


async def test_apq_over_get_with_extensions_in_the_query_string(client: Any) -> None:
    http = client()
    params = {"extensions": json.dumps(apollo(MUNICIPALITIES)), "operationName": "Municipalities"}

    # a hash-only GET (Accept */* would otherwise ask for the GraphiQL page)
    miss = await http.get("/graphql", params=params, headers={"Accept": "*/*"})
    assert miss.status_code == 200
    assert code_of(miss) == "PERSISTED_QUERY_NOT_FOUND"

    # registration over GET (urql retries by GET when the URL stays short)
    registered = await http.get("/graphql", params={**params, "query": MUNICIPALITIES})
    assert registered.json() == {"data": LEUVEN}

    hit = await http.get("/graphql", params=params, headers={"Accept": "*/*"})
    assert hit.status_code == 200
    assert hit.json() == {"data": LEUVEN}


async def test_persisted_mutation_is_not_run_over_get(client: Any) -> None:
    mutation = "mutation { invitePartner { code } }"
    await PersistedDocument.create(sha256=sha(mutation), body=mutation, source=DocumentSource.APQ)
    response = await client().get("/graphql", params={"extensions": json.dumps(apollo(mutation))})
    # the view refuses mutations over GET (400 from strawberry; 405 per GraphQL-over-HTTP)
    assert response.status_code in (400, 405)
    assert "mutations are not allowed" in response.text


async def test_apq_registrations_are_rate_limited_per_ip(
    client: Any, change_settings: Callable[..., None]
) -> None:
    change_settings(apq_registrations_per_hour=2)
    http = client(ip="192.0.2.7")
    texts = [f"query Q{i} {{ municipalities {{ name }} }}" for i in range(3)]
    for text in texts[:2]:
        ok = await http.post("/graphql", json={"query": text, "extensions": apollo(text)})
        assert ok.status_code == 200, ok.text

    # a third new document from the same address is refused, and not run
    refused = await http.post("/graphql", json={"query": texts[2], "extensions": apollo(texts[2])})
    assert refused.status_code == 429
    assert code_of(refused) == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) > 0
    # re-sending a known document is no registration: not limited
    known = await http.post("/graphql", json={"query": texts[0], "extensions": apollo(texts[0])})
    assert known.status_code == 200

    # another address has its own allowance
    other = await client(ip="192.0.2.8").post(
        "/graphql", json={"query": texts[2], "extensions": apollo(texts[2])}
    )
    assert other.status_code == 200
    assert set(await stored()) == {sha(t) for t in texts}


async def test_error_body_as_graphql_response_json_when_preferred(client: Any) -> None:
    response = await client().post(
        "/graphql",
        json={"query": MUNICIPALITIES, "extensions": apollo("x")},
        headers={"Accept": "application/graphql-response+json, application/json;q=0.9"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/graphql-response+json"
    assert code_of(response) == "PERSISTED_QUERY_HASH_MISMATCH"


# -- GraphQL-over-HTTP persisted documents -------------------------------------------------


async def test_document_id_runs_a_stored_document(client: Any) -> None:
    await PersistedDocument.create(
        sha256=sha(MUNICIPALITIES), body=MUNICIPALITIES, source=DocumentSource.MANIFEST
    )
    http = client()
    post = await http.post("/graphql", json={"documentId": f"sha256:{sha(MUNICIPALITIES)}"})
    assert post.json() == {"data": LEUVEN}
    get = await http.get("/graphql", params={"documentId": f"sha256:{sha(MUNICIPALITIES)}"})
    assert get.json() == {"data": LEUVEN}


@pytest.mark.parametrize(
    "body",
    [
        {"documentId": f"sha256:{sha(MUNICIPALITIES)}"},
        {"documentId": "sha256:not-a-hash"},
        {"documentId": "x-custom-id"},
        {"doc_id": "Municipalities"},
    ],
    ids=["unknown-hash", "malformed", "custom-id", "relay-id"],
)
async def test_document_id_unknown_is_not_found(client: Any, body: dict[str, Any]) -> None:
    response = await client().post("/graphql", json=body)
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"


# -- integrators ----------------------------------------------------------------------------


async def integrator(name: str = "Kassa") -> tuple[User, IntegratorClient]:
    org = await ProviderOrganisation.create(name=f"{name} organisation")
    user = await f.user(Role.INTEGRATOR, provider_organisation=org)
    return user, await IntegratorClient.create(name=name, user=user)


async def register(
    owner: IntegratorClient, text: str, external_id: str, name: str = "Municipalities"
) -> Manifest:
    manifest = await Manifest.create(client=owner, name="v1", format=ManifestFormat.RELAY)
    document, _ = await PersistedDocument.get_or_create(
        sha256=sha(text), defaults={"body": text, "source": DocumentSource.MANIFEST}
    )
    await ManifestOperation.create(
        manifest=manifest,
        document=document,
        operation_name=name,
        operation_type="query",
        external_id=external_id,
    )
    return manifest


@pytest.mark.parametrize(
    "body",
    [
        {"extensions": apollo(MUNICIPALITIES)},
        {"documentId": f"sha256:{sha(MUNICIPALITIES)}"},
        {"doc_id": "relay-42"},
        {"documentId": "relay-42"},
        {"query": MUNICIPALITIES, "extensions": apollo(MUNICIPALITIES)},
    ],
    ids=["apollo-hash", "document-id", "relay-doc-id", "custom-document-id", "hash-and-text"],
)
async def test_integrator_runs_its_registered_operation(client: Any, body: dict[str, Any]) -> None:
    user, owner = await integrator()
    await register(owner, MUNICIPALITIES, "relay-42")
    response = await client(user).post("/graphql", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": LEUVEN}


async def test_integrator_runs_its_registered_operation_over_get(client: Any) -> None:
    user, owner = await integrator()
    await register(owner, MUNICIPALITIES, "relay-42")
    http = client(user)
    by_hash = await http.get("/graphql", params={"extensions": json.dumps(apollo(MUNICIPALITIES))})
    assert by_hash.json() == {"data": LEUVEN}
    by_id = await http.get("/graphql", params={"doc_id": "relay-42"})
    assert by_id.json() == {"data": LEUVEN}


async def test_integrator_plain_text_query_is_refused(client: Any) -> None:
    user, owner = await integrator()
    await register(owner, MUNICIPALITIES, "relay-42")
    http = client(user)
    # even the text of its own registered operation: a reference is required
    post = await http.post("/graphql", json={"query": MUNICIPALITIES})
    assert post.status_code == 400
    assert code_of(post) == "PERSISTED_QUERY_REQUIRED"
    assert "data" not in post.json()
    get = await http.get("/graphql", params={"query": MUNICIPALITIES})
    assert get.status_code == 400
    assert code_of(get) == "PERSISTED_QUERY_REQUIRED"
    other_type = await http.post(
        "/graphql", content=MUNICIPALITIES, headers={"Content-Type": "application/graphql"}
    )
    assert other_type.status_code == 400
    assert code_of(other_type) == "PERSISTED_QUERY_REQUIRED"


async def test_integrator_text_with_a_registered_reference_runs_the_registered_text(
    client: Any,
) -> None:
    user, owner = await integrator()
    await register(owner, MUNICIPALITIES, "relay-42")
    response = await client(user).post(
        "/graphql", json={"doc_id": "relay-42", "query": "{ municipalities { name } }"}
    )
    assert response.json() == {"data": LEUVEN}


async def test_integrator_unregistered_hash_is_not_found_and_not_stored(client: Any) -> None:
    user, _ = await integrator()
    http = client(user)
    hash_only = await http.post("/graphql", json={"extensions": apollo(MUNICIPALITIES)})
    assert hash_only.status_code == 400
    assert code_of(hash_only) == "PERSISTED_QUERY_NOT_FOUND"
    # an APQ registration attempt: integrators cannot register by use
    with_text = await http.post(
        "/graphql", json={"query": MUNICIPALITIES, "extensions": apollo(MUNICIPALITIES)}
    )
    assert with_text.status_code == 400
    assert code_of(with_text) == "PERSISTED_QUERY_NOT_FOUND"
    assert await stored() == {}


async def test_integrator_document_stored_by_apq_is_not_registered(client: Any) -> None:
    # given: the document is known (a frontend stored it) but not in the integrator's manifest
    await PersistedDocument.create(
        sha256=sha(MUNICIPALITIES), body=MUNICIPALITIES, source=DocumentSource.APQ
    )
    user, _ = await integrator()
    response = await client(user).post(
        "/graphql", json={"documentId": f"sha256:{sha(MUNICIPALITIES)}"}
    )
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"


async def test_integrator_cannot_run_another_clients_operation(client: Any) -> None:
    _, owner = await integrator("Kassa")
    await register(owner, MUNICIPALITIES, "relay-42")
    other, _ = await integrator("Rapportage")
    http = client(other)
    for body in (
        {"extensions": apollo(MUNICIPALITIES)},
        {"documentId": f"sha256:{sha(MUNICIPALITIES)}"},
        {"doc_id": "relay-42"},
    ):
        response = await http.post("/graphql", json=body)
        assert response.status_code == 400
        assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"


async def test_integrator_revoked_manifest_stops_working(
    client: Any, change_settings: Callable[..., None]
) -> None:
    change_settings(persisted_cache_ttl_seconds=0)
    user, owner = await integrator()
    manifest = await register(owner, MUNICIPALITIES, "relay-42")
    http = client(user)
    assert (await http.post("/graphql", json={"doc_id": "relay-42"})).json() == {"data": LEUVEN}

    # when: the manifest is revoked
    manifest.revoked_at = f.TODAY
    await manifest.save()

    # then: the next request no longer runs it
    for body in ({"doc_id": "relay-42"}, {"extensions": apollo(MUNICIPALITIES)}):
        response = await http.post("/graphql", json=body)
        assert response.status_code == 400
        assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"


async def test_integrator_revocation_takes_effect_after_the_cache_ttl(
    client: Any, change_settings: Callable[..., None]
) -> None:
    change_settings(persisted_cache_ttl_seconds=0.3)
    user, owner = await integrator()
    manifest = await register(owner, MUNICIPALITIES, "relay-42")
    http = client(user)
    assert (await http.post("/graphql", json={"doc_id": "relay-42"})).status_code == 200
    manifest.revoked_at = f.TODAY
    await manifest.save()
    # within the TTL the cached registration still answers (the documented delay) ...
    assert (await http.post("/graphql", json={"doc_id": "relay-42"})).status_code == 200
    await asyncio.sleep(0.35)
    # ... and not after it
    assert (await http.post("/graphql", json={"doc_id": "relay-42"})).status_code == 400


async def test_integrator_batch_runs_only_registered_operations(client: Any) -> None:
    user, owner = await integrator()
    await register(owner, MUNICIPALITIES, "relay-42")
    response = await client(user).post(
        "/graphql", json=[{"doc_id": "relay-42"}, {"query": MUNICIPALITIES}]
    )
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_REQUIRED"


async def test_body_over_the_limit_is_refused_before_any_lookup(client: Any) -> None:
    body = {"extensions": apollo(MUNICIPALITIES), "variables": {"pad": "x" * 1_000_001}}
    response = await client().post("/graphql", json=body)
    assert response.status_code == 413
    assert code_of(response) == "BODY_TOO_LARGE"


def test_cache_is_least_recently_used_bounded_by_entries_and_characters() -> None:
    cache = PersistedCache(2, max_chars=10)
    cache.put("a", "1111")
    cache.put("b", "2222")
    assert cache.get("a") == "1111"  # a is now the most recently used
    cache.put("c", "3333")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1111", None, "3333")
    cache.put("d", "444444444")  # 9 characters: both others must go
    assert (len(cache), cache.chars, cache.get("d")) == (1, 9, "444444444")
    cache.put("e", "x" * 11)  # larger than the whole budget: not kept
    assert cache.get("e") is None
    cache.put("f", "ffff", ttl=0)  # no time to live: not kept
    assert cache.get("f") is None


async def test_cache_entry_with_ttl_expires() -> None:
    cache = PersistedCache(4)
    cache.put("k", "text", ttl=0.05)
    assert cache.get("k") == "text"
    await asyncio.sleep(0.06)
    assert cache.get("k") is None
    assert cache.chars == 0


# -- cost: a persisted operation costs what its text costs -------------------------------


async def test_cached_persisted_request_costs_the_same_statements_as_its_text(
    client: Any, count_statements: StatementCounter
) -> None:
    http = client(await f.user(Role.ADMIN))
    text_body = {"query": MUNICIPALITIES}
    persisted_body = {"extensions": apollo(MUNICIPALITIES)}
    await http.post("/graphql", json={**text_body, **persisted_body})  # registration
    await http.post("/graphql", json=persisted_body)  # warm

    count_statements.statements.clear()
    assert (await http.post("/graphql", json=text_body)).json() == {"data": LEUVEN}
    as_text = list(count_statements.statements)

    count_statements.statements.clear()
    assert (await http.post("/graphql", json=persisted_body)).json() == {"data": LEUVEN}
    as_persisted = list(count_statements.statements)

    assert as_persisted == as_text
    assert not any("persisted_document" in s for s in as_persisted)


async def test_hot_path_second_hash_only_request_does_no_sql_of_its_own(
    client: Any, count_statements: StatementCounter
) -> None:
    await PersistedDocument.create(
        sha256=sha(MUNICIPALITIES), body=MUNICIPALITIES, source=DocumentSource.APQ
    )
    http = client()
    body = {"extensions": apollo(MUNICIPALITIES)}

    count_statements.statements.clear()
    await http.post("/graphql", json=body)  # first: read from persisted_document
    assert sum("persisted_document" in s for s in count_statements.statements) == 1

    count_statements.statements.clear()
    assert (await http.post("/graphql", json=body)).json() == {"data": LEUVEN}
    assert not any("persisted_document" in s for s in count_statements.statements)
    # only the resolver's own statement (municipalities) remains
    assert len(count_statements) == 1, count_statements.statements


async def test_integrator_hot_path_does_no_sql_of_its_own_within_the_ttl(
    client: Any, count_statements: StatementCounter
) -> None:
    user, owner = await integrator()
    await register(owner, MUNICIPALITIES, "relay-42")
    http = client(user)
    await http.post("/graphql", json={"doc_id": "relay-42"})

    count_statements.statements.clear()
    assert (await http.post("/graphql", json={"doc_id": "relay-42"})).json() == {"data": LEUVEN}
    assert not any("manifest" in s for s in count_statements.statements)


# -- the real clients over HTTP --------------------------------------------------------------


@pytest_asyncio.fixture
async def live_server(fresh_app: Any) -> AsyncIterator[str]:
    """The app over real HTTP; the URL of its GraphQL endpoint."""
    async with serve_on_tcp(fresh_app) as url:
        yield f"{url}/graphql"


def _node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Apollo Client and urql runs need Node 20")
    if not (JS / "node_modules").is_dir():
        pytest.skip("tests/js/node_modules is missing: run `npm ci --prefix tests/js`")
    return node


def without_typename(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "__typename"}


async def run_client(script: str, url: str, mode: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        _node_or_skip(),
        str(JS / script),
        url,
        mode,
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.mark.parametrize(
    ("script", "mode", "hashed_method", "retry_method"),
    [
        ("apollo-apq.mjs", "post", "POST", "POST"),
        ("apollo-apq.mjs", "get", "GET", "POST"),  # Apollo retries by POST
        ("urql-apq.mjs", "get", "GET", "GET"),  # urql retries by GET within the URL limit
        ("urql-apq.mjs", "post", "POST", "POST"),
    ],
)
async def test_real_client_automatic_persisted_queries(
    live_server: str, script: str, mode: str, hashed_method: str, retry_method: str
) -> None:
    _node_or_skip()
    run = await run_client(script, live_server, mode)

    # the same data both times (Apollo Client adds __typename to every selection)
    rows = [[without_typename(m) for m in r["municipalities"]] for r in run["results"]]
    assert rows == [LEUVEN["municipalities"]] * 2
    # on the wire: a hash-only miss, the retry with the text, then a hash-only hit
    digest = run["requests"][0]["sha256Hash"]
    assert run["requests"] == [
        {
            "method": hashed_method,
            "withQuery": False,
            "sha256Hash": digest,
            "status": 200,
            "code": "PERSISTED_QUERY_NOT_FOUND",
        },
        {
            "method": retry_method,
            "withQuery": True,
            "sha256Hash": digest,
            "status": 200,
            "code": None,
        },
        {
            "method": hashed_method,
            "withQuery": False,
            "sha256Hash": digest,
            "status": 200,
            "code": None,
        },
    ]
    # and the client's text is now stored under the hash it computed
    document = await PersistedDocument.get(sha256=digest)
    assert document.source == DocumentSource.APQ
    assert sha(document.body) == digest
    assert "municipalities" in document.body
