"""Raw HTTP fuzzing of /graphql: the cases tests/test_http.py, tests/test_errors.py and
tests/test_limits.py leave out (long and deep input, NUL and lone surrogates anywhere in
the body, other methods, crafted cursors), and hypothesis strategies for arbitrary bodies,
JSON values and headers.

Every answer is a clear 4xx, or a 200 whose errors carry a known code; never a 500, a
stack trace or an internal detail. The client does not re-raise the app's exceptions, so
a crash shows up as the 500 a real server would send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from loket.auth import mint_token
from loket.settings import settings as loket_settings
from models.accounts import Role, User
from tests import factories as f
from tests.conftest import truncate
from tests.test_fuzz_graphql import INTERNAL, KNOWN_CODES

MAX_BODY_BYTES = loket_settings.max_body_bytes
LEUVEN = "{ municipalities { name } }"
# What a body must never show: a traceback, a source path, the database layers.
INTERNAL_DETAILS = ("Traceback", 'File "/', "/work/", "site-packages", "asyncpg", "tortoise")


@pytest_asyncio.fixture(scope="module")
async def client(app: Any, database: str) -> AsyncIterator[httpx.AsyncClient]:
    """Anonymous, on a database with Leuven, made once for the module (no test here
    changes what another reads). App exceptions come back as 500s, as from a server."""
    await truncate()
    await f.municipality("24062", "Leuven")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest_asyncio.fixture(scope="module")
async def admin(client: httpx.AsyncClient) -> User:
    return await f.user(Role.ADMIN)


def _as(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(str(user.id))}"}


def sane(response: httpx.Response) -> list[str]:
    """The response is a clear refusal or an answer: below 500, no internal detail, and
    (when JSON with errors) each error with a known code; returns the codes."""
    assert response.status_code < 500, response.text[:2000]
    for detail in INTERNAL_DETAILS:
        assert detail not in response.text, response.text[:2000]
    if not response.headers.get("content-type", "").startswith("application/"):
        assert response.status_code >= 400 or response.request.method == "GET", response.text
        return []
    body = response.json()
    results = body if isinstance(body, list) else [body]
    codes = []
    for result in results:
        for error in result.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            assert code != INTERNAL, error
            assert code in KNOWN_CODES, error
            codes.append(code)
    if response.status_code >= 400:
        assert codes, body
    return codes


async def post_raw(client: httpx.AsyncClient, body: bytes | str, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return await client.post(
        "/graphql", content=content, headers={"content-type": "application/json", **headers}
    )


def ascii_json(value: Any) -> str:
    """JSON with \\u escapes, so that NUL and lone surrogates travel as the JSON text
    a client would send."""
    return json.dumps(value, ensure_ascii=True)


# --- size ------------------------------------------------------------------------------


async def test_request_with_a_variable_over_the_body_limit_gets_413(
    client: httpx.AsyncClient,
) -> None:
    # given a well-formed request whose variable alone is over the body limit
    body = ascii_json(
        {
            "query": "query($m: String) { locations(municipality: $m) { name } }",
            "variables": {"m": "2" * (MAX_BODY_BYTES + 1)},
        }
    )
    # when it is posted
    response = await post_raw(client, body)
    # then it is refused for its size, before anything runs
    assert response.status_code == 413
    assert sane(response) == ["BODY_TOO_LARGE"]


async def test_batch_over_the_body_limit_gets_413(client: httpx.AsyncClient) -> None:
    # given a batch of two operations, each padded to more than half the limit
    padding = "#" + "x" * (MAX_BODY_BYTES // 2) + "\n"
    body = ascii_json([{"query": padding + LEUVEN}, {"query": padding + LEUVEN}])
    # when it is posted
    response = await post_raw(client, body)
    # then it is refused for its size
    assert response.status_code == 413
    assert sane(response) == ["BODY_TOO_LARGE"]


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ("query($m: String) { locations(municipality: $m) { name } }", {"m": "2" * 900_000}),
        (
            "query($m: String) { searchLocations(filter: {municipalityNisCode: $m})"
            " { edges { node { name } } } }",
            {"m": "2" * 900_000},
        ),
        ("query($i: ID!) { household(id: $i) { id } }", {"i": "7" * 900_000}),
        (
            "mutation($t: String!) { fileReport(input: {kind: COMPLAINT, text: $t})"
            " { errors { field code } } }",
            {"t": "klacht " * 120_000},
        ),
        (
            "mutation($e: String!) { signIn(input: {email: $e, password: $e}) { token } }",
            {"e": "a" * 900_000},
        ),
        (
            "mutation($e: String!) { signUp(input: {email: $e, password: $e, displayName: $e})"
            " { errors { code } } }",
            {"e": "a" * 300_000},
        ),
    ],
    ids=["locations", "search", "household", "report", "sign-in", "sign-up"],
)
async def test_very_long_strings_in_variables_get_an_answer(
    client: httpx.AsyncClient, document: str, variables: dict[str, Any]
) -> None:
    # given a string of up to 900 kB (under the body limit) where a short one is expected
    # when it is posted
    response = await post_raw(client, ascii_json({"query": document, "variables": variables}))
    # then it is answered (data or coded errors), not a server error
    assert response.status_code == 200
    sane(response)


async def test_very_long_operation_name_gets_400(client: httpx.AsyncClient) -> None:
    # given an operation name of 900 kB that names no operation
    body = ascii_json({"query": "query A " + LEUVEN, "operationName": "B" * 900_000})
    # when it is posted
    response = await post_raw(client, body)
    # then it is refused
    assert response.status_code == 400
    sane(response)


# --- depth and breadth -----------------------------------------------------------------


def nested_selection(depth: int) -> str:
    return "{ " + "municipalities { " * depth + "name" + " }" * depth + " }"


def nested_list_argument(depth: int) -> str:
    return "{ locations(municipality: " + "[" * depth + "]" * depth + ") { name } }"


def nested_object_argument(depth: int) -> str:
    value = "{near: " * depth + "1" + "}" * depth
    return "{ searchLocations(filter: " + value + ") { pageInfo { hasNextPage } } }"


def nested_inline_fragments(depth: int) -> str:
    return "{ " + "... on Query { " * depth + "__typename" + " }" * depth + " }"


def nested_fragment_spreads(depth: int) -> str:
    # F0 spreads F1 inside a selection, F1 spreads F2 ... (each fragment used once)
    fragments = [f"fragment F{i} on Municipality {{ name ...F{i + 1} }}" for i in range(depth - 1)]
    fragments.append(f"fragment F{depth - 1} on Municipality {{ nisCode }}")
    return "{ municipalities { ...F0 } } " + " ".join(fragments)


SHAPES = {
    "selections": nested_selection,
    "list-argument": nested_list_argument,
    "object-argument": nested_object_argument,
    "inline-fragments": nested_inline_fragments,
    "fragment-spreads": nested_fragment_spreads,
}


# The deepest of the depths below at which the shape is still a valid document.
VALID_UP_TO = {
    "selections": 0,
    "list-argument": 0,
    "object-argument": 0,
    "inline-fragments": 180,
    "fragment-spreads": 180,
}


@pytest.mark.parametrize("depth", [20, 100, 180, 250, 400, 1200])
@pytest.mark.parametrize("shape", list(SHAPES))
async def test_deeply_nested_documents_get_a_coded_error(
    client: httpx.AsyncClient, admin: User, shape: str, depth: int
) -> None:
    # given a document nested `depth` levels in one way (around the parser's own
    # recursion limit, and the token limit)
    document = SHAPES[shape](depth)
    # when an admin posts it (admins pass more checks than anyone)
    response = await client.post("/graphql", json={"query": document}, headers=_as(admin))
    # then the valid ones run; the others get a code (a depth, token, parse or
    # validation error)
    assert response.status_code == 200
    codes = sane(response)
    if depth <= VALID_UP_TO[shape]:
        assert codes == [], response.text[:500]
        assert response.json()["data"]
    else:
        assert codes, response.text[:500]


DEEP = 5000


@pytest.mark.parametrize(
    ("body", "status", "codes"),
    [
        (
            '{"query": "{ __typename }", "variables": {"a": '
            + '{"a": ' * DEEP
            + "1"
            + "}" * DEEP
            + "}}",
            400,
            [],
        ),
        (
            '{"query": "{ __typename }", "extensions": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}",
            400,
            [],
        ),
        ("[" * DEEP + "]" * DEEP, 400, []),
        # (deep, but within what the JSON decoder takes: an unused variable, a wrong type)
        ('{"query": "{ __typename }", "variables": {"a": ' + "[" * 900 + "]" * 900 + "}}", 200, []),
        (
            '{"query": "query($a: String) { locations(municipality: $a) { name } }",'
            ' "variables": {"a": ' + "[" * 900 + "]" * 900 + "}}",
            200,
            ["BAD_USER_INPUT"],
        ),
    ],
    ids=["variables-objects", "extensions-objects", "batch-lists", "unused-900", "typed-900"],
)
async def test_deeply_nested_json_bodies_get_an_answer(
    client: httpx.AsyncClient, body: str, status: int, codes: list[str]
) -> None:
    # given a JSON body nested deeper than any request needs
    # when it is posted
    response = await post_raw(client, body)
    # then it is refused as malformed, or answered (with a coded error)
    assert response.status_code == status, response.text[:500]
    assert sane(response) == codes


WIDE = {
    "aliases": (
        "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }",
        ["TOO_MANY_ALIASES"],
    ),
    "unused-fragments": (
        "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(300)),
        ["GRAPHQL_VALIDATION_FAILED"],
    ),
    "spread-fragments": (
        "{ "
        + " ".join(f"...F{i}" for i in range(300))
        + " } "
        + " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(300)),
        [],
    ),
    "variables": (
        "query(" + " ".join(f"$v{i}: Int" for i in range(1200)) + ") { __typename }",
        ["TOO_MANY_TOKENS"],
    ),
    "directives": (
        "{ __typename " + "@include(if: true) " * 400 + "}",
        ["GRAPHQL_VALIDATION_FAILED", "TOO_MANY_DIRECTIVES"],
    ),
    "repeated-directive": (
        "{ __typename @skip(if: false) @include(if: true) @skip(if: false) }",
        ["GRAPHQL_VALIDATION_FAILED"],
    ),
    # (graphql-core gives up comparing 1300 identical fields pairwise)
    "repeated-field": ("{ " + "__typename " * 1300 + "}", ["GRAPHQL_VALIDATION_FAILED"]),
    "operations": ("query A { __typename } " * 600, ["OPERATION_NAME_REQUIRED"]),
}


@pytest.mark.parametrize("name", list(WIDE))
async def test_wide_documents_get_a_coded_error(
    client: httpx.AsyncClient, admin: User, name: str
) -> None:
    # given a document with very many aliases, fragments, variables, directives, fields
    # or operations
    document, expected = WIDE[name]
    # when an admin posts it
    response = await client.post("/graphql", json={"query": document}, headers=_as(admin))
    # then it is refused with its code (the one valid document runs)
    assert response.status_code == 200
    assert sorted(set(sane(response))) == expected
    assert (response.json()["data"] is None) == bool(expected)


# --- NUL and lone surrogates -----------------------------------------------------------


# (chr: some tools read a lone surrogate escape as U+FFFD)
@pytest.mark.parametrize("char", ["\x00", chr(0xD800), chr(0xDFFF)], ids=["nul", "high", "low"])
@pytest.mark.parametrize(
    "where",
    [
        "query-comment",
        "query-string",
        "query-name",
        "operation-name",
        "variable-key",
        "variable-value",
        "extension-key",
        "document-id",
        "apq-hash",
    ],
)
async def test_nul_and_lone_surrogates_anywhere_get_an_answer(
    client: httpx.AsyncClient, admin: User, where: str, char: str
) -> None:
    # given a request carrying NUL or a lone surrogate (as a JSON \u escape) somewhere
    query = "query($m: String) { locations(municipality: $m) { name } }"
    body: dict[str, Any] = {"query": query, "variables": {"m": "24062"}}
    if where == "query-comment":
        body["query"] = f"{query} # {char}"
    elif where == "query-string":
        body["query"] = '{ locations(municipality: "' + char + '") { name } }'
    elif where == "query-name":
        body["query"] = "query " + char + " " + LEUVEN
    elif where == "operation-name":
        body["operationName"] = char
    elif where == "variable-key":
        body["variables"] = {char: "24062", "m": "24062"}
    elif where == "variable-value":
        body["variables"] = {"m": f"24{char}062"}
    elif where == "extension-key":
        body["extensions"] = {char: 1}
    elif where == "document-id":
        body = {"documentId": f"sha256:{char}", "variables": {}}
    else:
        body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": char}}
    # when it is posted, anonymously and as an admin
    for headers in ({}, _as(admin)):
        response = await post_raw(client, ascii_json(body), **headers)
        # then it is answered or refused with a code, never a server error
        sane(response)


@pytest.mark.parametrize("char", ["\x00", chr(0xD800)], ids=["nul", "surrogate"])
async def test_automatic_persisted_query_with_nul_or_surrogate_in_a_comment_is_not_stored(
    client: httpx.AsyncClient, char: str
) -> None:
    # given an APQ registration whose text holds NUL or a lone surrogate in a comment (the
    # hash is of the text the client meant, in UTF-8 with the surrogate passed through)
    text = f"{LEUVEN} # {char}"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    # when it is posted, then asked for by its hash alone
    registered = await post_raw(client, ascii_json({"query": text, "extensions": extensions}))
    by_hash = await post_raw(client, ascii_json({"extensions": extensions}))
    # then it is answered (NUL: it runs), and was not stored (PostgreSQL cannot)
    sane(registered)
    if char == "\x00":
        assert registered.json() == {"data": {"municipalities": [{"name": "Leuven"}]}}
    assert sane(by_hash) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_unknown_operation_name_with_a_lone_surrogate_gets_400(
    client: httpx.AsyncClient, accept: str
) -> None:
    # given an operation name that is a lone surrogate (its refusal repeats it)
    body = ascii_json({"query": "query A " + LEUVEN, "operationName": chr(0xD800)})
    # when it is posted
    response = await post_raw(client, body, accept=accept)
    # then it is refused as unknown, the name escaped
    assert response.status_code == 400
    sane(response)
    json_body = response.headers["content-type"].startswith("application/")
    message = response.json()["errors"][0]["message"] if json_body else response.text
    assert message == 'Unknown operation named "\\ud800".'


def cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


@pytest.mark.parametrize(
    "after",
    [
        cursor("name", "\x00", str(uuid.uuid4())),
        cursor("name", "a" * 100_000, str(uuid.uuid4())),
        cursor("km", 1e308, str(uuid.uuid4())),
        cursor("start", "2026-02-30", str(uuid.uuid4())),
        cursor("name", None, str(uuid.uuid4())),
        cursor("name", ["x"], str(uuid.uuid4())),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(("\x00|" + str(uuid.uuid4())).encode()).decode(),
        "\x00",
        "%%%",
    ],
    ids=[
        "nul-key",
        "long-key",
        "huge-float",
        "bad-date",
        "null-key",
        "list-key",
        "not-utf8",
        "nul-pipe",
        "nul",
        "not-base64",
    ],
)
async def test_crafted_cursors_get_an_answer(client: httpx.AsyncClient, after: str) -> None:
    # given a cursor made by hand: the right encoding around a wrong or awkward key
    queries = [
        "query($a: String) { searchLocations(after: $a) { edges { node { name } } } }",
        "query($a: String) { lastMinutePlaces(after: $a) { edges { node { id } } } }",
    ]
    for query in queries:
        # when a search continues after it
        response = await post_raw(client, ascii_json({"query": query, "variables": {"a": after}}))
        # then the page comes, or INVALID_CURSOR, never a server error
        assert response.status_code == 200
        assert set(sane(response)) <= {"INVALID_CURSOR"}


async def test_crafted_cursors_of_admin_lists_get_an_answer(
    client: httpx.AsyncClient, admin: User
) -> None:
    # given an admin, and cursors with NUL where a date, a time or an id belongs
    cursors = [
        base64.urlsafe_b64encode(raw.encode()).decode()
        for raw in ["\x00|" + str(uuid.uuid4()), "infinity|\x00", "1|\x00|x", "\x00"]
    ]
    queries = [
        "query($a: String) { agreements(after: $a) { edges { node { id } } } }",
        "query($a: String) { reports(after: $a) { edges { node { id } } } }",
        "query($a: String) { dossiers(after: $a) { edges { node { id } } } }",
        "query($a: String) { consentedContacts(purpose: RESEARCH, after: $a)"
        " { edges { node { id } } } }",
    ]
    for query in queries:
        for after in cursors:
            # when each list continues after it
            response = await post_raw(
                client, ascii_json({"query": query, "variables": {"a": after}}), **_as(admin)
            )
            # then a page, or a coded error, never a server error
            sane(response)


# --- methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "FOO"])
async def test_other_methods_on_graphql_get_405(client: httpx.AsyncClient, method: str) -> None:
    # given a method /graphql does not serve (OPTIONS without CORS preflight headers)
    # when it is sent with a query
    response = await client.request(method, "/graphql", params={"query": LEUVEN})
    # then it is refused, naming the methods that work, and nothing runs
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert "Leuven" not in response.text
    sane(response)


# --- hypothesis: arbitrary bodies, JSON and headers -----------------------------------

# (LOKET_FUZZ_RANDOM=1: new examples each run; see tests/test_fuzz_graphql.py)
FUZZ = settings(
    database=None,
    derandomize=not os.environ.get("LOKET_FUZZ_RANDOM"),
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=False,
)

# Pieces of real requests, so that random bytes often look almost right.
FRAGMENTS = [
    b'{"query": ',
    b'"{ municipalities { name } }"',
    b'"variables": ',
    b'"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "',
    b'"documentId": "sha256:',
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b'"',
    b"\\u0000",
    b"\\ud800",
    b"\\",
    b"null",
    b"1e999",
    b"\x00",
    b"\xff",
    b"\xed\xa0\x80",
]
BODIES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=4), max_size=25).map(b"".join),
)
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists and objects of `inner` (a named function: hypothesis reads a lambda's source
    to see that it recurses, and can misread it)."""
    return st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4)


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    _containers,
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["query", "variables", "operationName", "extensions", "documentId", "doc_id"]
)
REQUESTS = st.one_of(
    JSON_VALUES,
    st.dictionaries(KEYS, JSON_VALUES, max_size=4),
    st.lists(st.dictionaries(KEYS, JSON_VALUES, max_size=3), max_size=3),
)


@settings(FUZZ, max_examples=150)
@given(body=BODIES)
async def test_random_bytes_as_json_get_a_clear_answer(
    client: httpx.AsyncClient, body: bytes
) -> None:
    # given any bytes, declared as JSON
    # when they are posted
    response = await post_raw(client, body)
    # then a clear refusal or a coded answer
    sane(response)


@settings(FUZZ, max_examples=150)
@given(request=REQUESTS)
async def test_random_json_requests_get_a_clear_answer(
    client: httpx.AsyncClient, request: Any
) -> None:
    # given any JSON value, or an object or batch with the request's keys and any values
    # when it is posted, and (an object) sent by GET
    posted = await post_raw(client, ascii_json(request))
    sane(posted)
    if isinstance(request, dict):
        params = {k: v if isinstance(v, str) else ascii_json(v) for k, v in request.items()}
        got = await client.get("/graphql", params=params, headers={"accept": "application/json"})
        # then a clear refusal or a coded answer, each time
        sane(got)


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@settings(FUZZ, max_examples=80)
@given(
    accept=st.none() | HEADER_TEXT | st.sampled_from(["application/json;q=nan", "*/*;q=1e999"]),
    content_type=HEADER_TEXT
    | st.sampled_from(["application/json; charset=latin-1", "application/json;;", "application"]),
    role=st.none() | HEADER_TEXT,
    authorization=st.none() | HEADER_TEXT.map(lambda t: "Bearer " + t),
)
async def test_random_headers_get_a_clear_answer(
    client: httpx.AsyncClient,
    accept: str | None,
    content_type: str,
    role: str | None,
    authorization: str | None,
) -> None:
    # given a valid request with arbitrary Accept, Content-Type, role and token headers
    headers = {"content-type": content_type}
    for name, value in (
        ("accept", accept),
        ("x-loket-role", role),
        ("authorization", authorization),
    ):
        if value is not None:
            headers[name] = value
    # when it is posted
    response = await client.post("/graphql", content=ascii_json({"query": LEUVEN}), headers=headers)
    # then a clear refusal or the answer
    sane(response)
