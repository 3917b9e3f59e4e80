"""Bad input over HTTP: bodies, content types, methods, limits, and the plain endpoints.

The client here does not re-raise the app's exceptions, so a crash shows up as the
500 response a real server would send; every response is checked to be below 500
and free of Python tracebacks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from loket.auth import mint_token
from loket.settings import settings
from models.accounts import Role, User
from models.households import Child, Household, Parent
from tests import factories as f
from tests.factories import REGISTER, REGISTER_INPUT

MAX_BODY_BYTES = settings.max_body_bytes

MUNICIPALITIES = "{ municipalities { name } }"


def _sane(response: httpx.Response) -> httpx.Response:
    """No server error and no traceback, whatever the request was."""
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    return response


def _only_error(response: httpx.Response) -> str:
    """A GraphQL error response without data: the message of its single error."""
    body = response.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1, body
    message: str = body["errors"][0]["message"]
    return message


async def _dossier_rows() -> tuple[int, int, int]:
    return (await Household.all().count(), await Parent.all().count(), await Child.all().count())


@pytest.fixture
async def client(app: Any, db: str) -> AsyncIterator[httpx.AsyncClient]:
    """Anonymous; Leuven exists. App exceptions come back as 500s, as from a server."""
    await f.municipality("24062", "Leuven")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def parent(client: httpx.AsyncClient) -> User:
    return await f.user(Role.PARENT, email="an.peeters@example.test")


def _as(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(str(user.id))}"}


# --- request bodies ------------------------------------------------------------------


async def test_malformed_json_body_gets_400(client: httpx.AsyncClient) -> None:
    # given a body that is not JSON
    # when it is posted as JSON
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ municipalities',
        headers={"content-type": "application/json"},
    )
    # then it is refused as unparsable
    assert _sane(response).status_code == 400
    assert response.text == "Unable to parse request body as JSON"


async def test_empty_json_body_gets_400(client: httpx.AsyncClient) -> None:
    # given an empty body declared as JSON
    # when it is posted
    response = await client.post(
        "/graphql", content=b"", headers={"content-type": "application/json"}
    )
    # then it is refused as unparsable
    assert _sane(response).status_code == 400
    assert response.text == "Unable to parse request body as JSON"


@pytest.mark.parametrize("body", [b'"{ municipalities { name } }"', b"null", b"5", b"true"])
async def test_json_body_that_is_not_an_object_gets_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    # given valid JSON that is a string, null, a number or a boolean
    # when it is posted
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    # then it is refused as a bad request, not a server error
    assert _sane(response).status_code == 400


@pytest.mark.parametrize("body", [b"\xff\xfe{", b"\xff", b'{"query": "\xff"}'])
async def test_json_body_that_is_not_utf8_gets_400(client: httpx.AsyncClient, body: bytes) -> None:
    # given a body that is not valid UTF-8
    # when it is posted as JSON
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    # then it is refused as a bad request, not a server error
    assert _sane(response).status_code == 400


async def test_json_array_body_runs_as_a_batch(client: httpx.AsyncClient) -> None:
    # given a batch of two operations (batch limits: tests/test_limits.py)
    # when it is posted
    response = await client.post(
        "/graphql", json=[{"query": MUNICIPALITIES}, {"query": MUNICIPALITIES}]
    )
    # then each runs and the answer is the list of their results
    assert _sane(response).status_code == 200
    assert response.json() == [{"data": {"municipalities": [{"name": "Leuven"}]}}] * 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "No GraphQL query found in the request"),
        ({"query": None}, "No GraphQL query found in the request"),
        ({"query": 5}, "The GraphQL operation's `query` must be a string or null, if provided."),
        (
            {"query": MUNICIPALITIES, "variables": [1]},
            "The GraphQL operation's `variables` must be an object or null, if provided.",
        ),
    ],
    ids=["no-query", "null-query", "query-not-string", "variables-not-object"],
)
async def test_json_body_with_bad_operation_fields_gets_400(
    client: httpx.AsyncClient, payload: dict[str, Any], message: str
) -> None:
    # given a JSON object that is no proper GraphQL request
    # when it is posted
    response = await client.post("/graphql", json=payload)
    # then it is refused with strawberry's message
    assert _sane(response).status_code == 400
    assert response.text == message


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/graphql", "text/html", None],
)
async def test_post_with_wrong_content_type_gets_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    # given a JSON request body sent with another (or no) content type
    headers = {} if content_type is None else {"content-type": content_type}
    # when it is posted
    response = await client.post(
        "/graphql", content=b'{"query": "{ municipalities { name } }"}', headers=headers
    )
    # then it is refused as an unsupported media type and the query does not run
    assert _sane(response).status_code == 415
    assert response.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}


async def test_multipart_post_gets_415(client: httpx.AsyncClient) -> None:
    # given a multipart upload (uploads are not enabled)
    # when it is posted
    response = await client.post(
        "/graphql",
        files={
            "operations": (None, '{"query": "{ municipalities { name } }"}'),
            "map": (None, "{}"),
        },
    )
    # then it is refused as an unsupported media type and the query does not run
    assert _sane(response).status_code == 415
    assert response.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}


# --- GraphQL documents that do not validate ------------------------------------------


async def test_query_with_syntax_error_gets_200_with_error_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    # given a query missing its closing braces
    # when it is posted
    response = await client.post("/graphql", json={"query": "{ municipalities { name "})
    # then GraphQL answers with a syntax error and no data (200, per strawberry)
    assert _sane(response).status_code == 200
    assert _only_error(response) == "Syntax Error: Expected Name, found <EOF>."


async def test_query_with_unknown_field_gets_validation_error_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    # given a query for a field that does not exist
    # when it is posted
    response = await client.post("/graphql", json={"query": "{ municipalities { name nope } }"})
    # then it does not run: a validation error and no data
    assert _sane(response).status_code == 200
    assert _only_error(response).startswith("Cannot query field 'nope' on type 'Municipality'.")
    assert "Leuven" not in response.text


async def test_query_with_unknown_root_field_gets_validation_error_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    # given a query naming an unknown root field next to a valid one
    # when it is posted
    response = await client.post("/graphql", json={"query": "{ municipalities { name } users }"})
    # then nothing runs, not even the valid field
    assert _sane(response).status_code == 200
    assert _only_error(response) == "Cannot query field 'users' on type 'Query'."
    assert "Leuven" not in response.text


async def test_query_with_wrong_variable_type_gets_error_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    # given a public query whose String variable gets an object
    query = "query L($m: String) { locations(municipality: $m) { name } }"
    # when it is posted
    response = await client.post(
        "/graphql", json={"query": query, "variables": {"m": {"nis": "24062"}}}
    )
    # then variable coercion fails and nothing runs
    assert _sane(response).status_code == 200
    assert _only_error(response) == (
        "Variable '$m' has invalid value: String cannot represent a non string value."
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("familySituation",),
            "MANY_PARENTS",
            # (no "Did you mean": suggestions are off; the value itself is not repeated)
            "Variable '$input' has invalid value at .familySituation: The value is not in "
            "the 'FamilySituation' enum.",
        ),
        (
            ("applicant", "workSharePercent"),
            "eighty",
            "Variable '$input' has invalid value at .applicant.workSharePercent: "
            "Int cannot represent non-integer value.",
        ),
        (
            ("child", "expectedBirthDate"),
            "soon",
            "Variable '$input' has invalid value at .child.expectedBirthDate: "
            "Value cannot represent a Date.",
        ),
        (
            ("child",),
            "Lotte",
            "Variable '$input' has invalid value at .child: "
            "Expected value of type 'ChildInput' to be an object.",
        ),
    ],
    ids=["enum", "int", "date", "object"],
)
async def test_mutation_with_wrong_variable_type_writes_nothing(
    client: httpx.AsyncClient, parent: User, path: tuple[str, ...], value: Any, message: str
) -> None:
    # given a parent, and registration input with one value of the wrong type
    data: dict[str, Any] = {
        **REGISTER_INPUT,
        "applicant": {**REGISTER_INPUT["applicant"]},
        "child": {**REGISTER_INPUT["child"]},
    }
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    # when they register
    response = await client.post(
        "/graphql", json={"query": REGISTER, "variables": {"input": data}}, headers=_as(parent)
    )
    # then variable coercion fails, nothing runs and nothing is written
    assert _sane(response).status_code == 200
    assert _only_error(response) == message
    assert await _dossier_rows() == (0, 0, 0)


async def test_valid_registration_writes_the_dossier(
    client: httpx.AsyncClient, parent: User
) -> None:
    # given a parent and the registration input used above (the control)
    # when they register with POST
    response = await client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": REGISTER_INPUT}},
        headers=_as(parent),
    )
    # then the dossier is written
    assert _sane(response).status_code == 200
    assert response.json()["data"]["registerHousehold"]["errors"] == []
    assert await _dossier_rows() == (1, 1, 1)


async def test_unknown_operation_name_gets_400(client: httpx.AsyncClient) -> None:
    # given a document with one operation and a request naming another
    # when it is posted
    response = await client.post(
        "/graphql", json={"query": "query A { municipalities { name } }", "operationName": "Z"}
    )
    # then it is refused
    assert _sane(response).status_code == 400
    assert response.text == 'Unknown operation named "Z".'


async def test_subscription_gets_error_and_no_data(client: httpx.AsyncClient) -> None:
    # given a subscription (the schema has none)
    # when it is posted
    response = await client.post("/graphql", json={"query": "subscription { municipalities }"})
    # then it is refused without data
    assert _sane(response).status_code == 200
    assert _only_error(response) == "The subscription operation is not supported by the schema."


# --- methods -------------------------------------------------------------------------


async def test_query_via_get_works(client: httpx.AsyncClient) -> None:
    # given a public query in the query string
    # when it is sent with GET
    response = await client.get("/graphql?query={municipalities{name}}")
    # then it runs
    assert _sane(response).status_code == 200
    assert response.json() == {"data": {"municipalities": [{"name": "Leuven"}]}}


async def test_mutation_via_get_gets_405_and_writes_nothing(
    client: httpx.AsyncClient, parent: User
) -> None:
    # given a parent who could register (see the POST control above)
    # when the mutation is sent with GET
    response = await client.get(
        "/graphql",
        params={"query": REGISTER, "variables": json.dumps({"input": REGISTER_INPUT})},
        headers=_as(parent),
    )
    # then it is refused as a method not allowed (GraphQL over HTTP) and nothing is written
    assert _sane(response).status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"] == [
        {
            "message": "mutations are not allowed when using GET",
            "extensions": {"code": "METHOD_NOT_ALLOWED"},
        }
    ]
    assert await _dossier_rows() == (0, 0, 0)


async def test_mutation_picked_by_operation_name_via_get_gets_405_and_writes_nothing(
    client: httpx.AsyncClient, parent: User
) -> None:
    # given a document holding a query and the mutation, naming the mutation
    document = f"query Q {{ municipalities {{ name }} }} {REGISTER}"
    # when it is sent with GET
    response = await client.get(
        "/graphql",
        params={
            "query": document,
            "operationName": "Register",
            "variables": json.dumps({"input": REGISTER_INPUT}),
        },
        headers=_as(parent),
    )
    # then it is refused as a method not allowed (GraphQL over HTTP) and nothing is written
    assert _sane(response).status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"] == [
        {
            "message": "mutations are not allowed when using GET",
            "extensions": {"code": "METHOD_NOT_ALLOWED"},
        }
    ]
    assert await _dossier_rows() == (0, 0, 0)


async def test_get_with_unparsable_variables_gets_400(client: httpx.AsyncClient) -> None:
    # given a GET whose variables are not JSON
    # when it is sent
    response = await client.get("/graphql", params={"query": MUNICIPALITIES, "variables": "{bad"})
    # then it is refused
    assert _sane(response).status_code == 400
    assert response.text == "Unable to parse request body as JSON"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_get_405(client: httpx.AsyncClient, method: str) -> None:
    # given a GraphQL request with a method other than GET or POST
    # when it is sent
    response = await client.request(method, "/graphql", json={"query": MUNICIPALITIES})
    # then it is refused
    assert _sane(response).status_code == 405
    assert response.text == "GraphQL only supports GET and POST requests."
    assert response.headers["allow"] == "GET, POST"


# --- limits --------------------------------------------------------------------------


async def test_body_over_the_limit_gets_413_body_too_large(client: httpx.AsyncClient) -> None:
    # given a body one byte over the limit (its Content-Length says so)
    body = b" " * MAX_BODY_BYTES + b"{}"
    # when it is posted
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    # then it is refused before anything runs
    assert _sane(response).status_code == 413
    assert response.json() == {
        "errors": [
            {"message": "The request body is too large.", "extensions": {"code": "BODY_TOO_LARGE"}}
        ]
    }


async def test_body_over_the_limit_is_refused_before_the_token_is_checked(
    client: httpx.AsyncClient,
) -> None:
    # given a huge Content-Length and a garbage token
    # when it is posted
    response = await client.post(
        "/graphql",
        content=b"{}",
        headers={
            "content-type": "application/json",
            "content-length": str(10 * MAX_BODY_BYTES),
            "authorization": "Bearer garbage",
        },
    )
    # then the size is what is refused
    assert _sane(response).status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"


async def test_body_exactly_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    # given a valid request padded with whitespace to exactly the limit
    request = b'{"query": "{ municipalities { name } }"}'
    body = request + b" " * (MAX_BODY_BYTES - len(request))
    # when it is posted
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    # then it runs
    assert _sane(response).status_code == 200
    assert response.json() == {"data": {"municipalities": [{"name": "Leuven"}]}}


async def test_chunked_body_over_the_limit_gets_413_body_too_large(
    client: httpx.AsyncClient,
) -> None:
    # given a body over the limit streamed without a Content-Length (chunked)
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * 500_000
        yield b'{"query": "{ municipalities { name } }"}'

    # when it is posted
    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    # then it is refused like a body that declares its size, and nothing runs
    assert _sane(response).status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    assert "Leuven" not in response.text


async def test_query_deeper_than_12_gets_depth_error_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    # given a query nested 13 levels below `dossiers`
    query = "{ dossiers { " + "edges { node { " * 6 + "id" + " } }" * 6 + " } }"
    # when it is posted
    response = await client.post("/graphql", json={"query": query})
    # then the depth limit refuses it and nothing runs
    assert _sane(response).status_code == 200
    body = response.json()
    assert body["data"] is None
    messages = [e["message"] for e in body["errors"]]
    assert "'anonymous' exceeds maximum operation depth of 12" in messages


async def test_nested_introspection_gets_error_and_no_data(client: httpx.AsyncClient) -> None:
    # given an admin (who may introspect), and introspection nested three `fields` deep
    # (skipped by the depth limiter)
    admin = await f.user(Role.ADMIN, email="admin@example.test")
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    # when it is posted
    response = await client.post("/graphql", json={"query": query}, headers=_as(admin))
    # then graphql-core's introspection depth rule refuses it
    assert _sane(response).status_code == 200
    assert _only_error(response) == "Maximum introspection depth exceeded"


async def test_query_with_31_aliases_gets_error_and_no_data(client: httpx.AsyncClient) -> None:
    # given 31 aliased copies of a public field (the limit is 30)
    query = "{ " + " ".join(f"m{i}: municipalities {{ name }}" for i in range(31)) + " }"
    # when it is posted
    response = await client.post("/graphql", json={"query": query})
    # then it is refused and nothing runs
    assert _sane(response).status_code == 200
    assert _only_error(response) == "31 aliases found. Allowed: 30"
    assert "Leuven" not in response.text


async def test_query_with_30_aliases_runs(client: httpx.AsyncClient) -> None:
    # given 30 aliased copies of a public field (the limit)
    query = "{ " + " ".join(f"m{i}: municipalities {{ name }}" for i in range(30)) + " }"
    # when it is posted
    response = await client.post("/graphql", json={"query": query})
    # then it runs
    assert _sane(response).status_code == 200
    assert response.json()["data"] == {f"m{i}": [{"name": "Leuven"}] for i in range(30)}


async def test_query_with_more_than_4000_tokens_gets_error_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    # given a query of about 5600 tokens (repeated fields, no aliases)
    query = "{ " + "municipalities { name } " * 1400 + "}"
    # when it is posted
    response = await client.post("/graphql", json={"query": query})
    # then the parser stops and nothing runs
    assert _sane(response).status_code == 200
    assert _only_error(response) == (
        "Syntax Error: Document contains more than 4000 tokens. Parsing aborted."
    )


# --- GraphiQL and the plain endpoints ------------------------------------------------


async def test_graphiql_page_is_served_for_browsers(client: httpx.AsyncClient) -> None:
    # given a browser asking for /graphql
    # when it sends GET with Accept: text/html
    response = await client.get("/graphql", headers={"accept": "text/html"})
    # then the GraphiQL page comes back
    assert _sane(response).status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_healthz_says_ok(client: httpx.AsyncClient) -> None:
    # given the app
    # when /healthz is asked
    response = await client.get("/healthz")
    # then it answers ok
    assert _sane(response).status_code == 200
    assert response.text == "ok"


async def test_readyz_says_ready_when_the_database_is_up(client: httpx.AsyncClient) -> None:
    # given the app with its database up
    # when /readyz is asked
    response = await client.get("/readyz")
    # then it answers ready
    assert _sane(response).status_code == 200
    assert response.text == "ready"


async def test_unknown_path_gets_404(client: httpx.AsyncClient) -> None:
    # given a path the app does not serve
    # when it is asked
    response = await client.get("/admin")
    # then it is not found
    assert _sane(response).status_code == 404


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($w: WorkSituation!) { __typename }", {"w": "85073100199"}),
        (
            "mutation($i: SubmitCareRequestInput!) "
            "{ submitCareRequest(input: $i) { errors { code } } }",
            {"i": {"childId": "x", "desiredStartDate": "2030-01-01", "carePattern": [],
                   "locationIds": [], "85073100199": 1}},
        ),
    ],
)  # fmt: skip
async def test_input_errors_do_not_echo_the_value(
    actor: Any, query: str, variables: dict[str, Any]
) -> None:
    response = await actor(None).http.post(
        "/graphql", json={"query": query, "variables": variables}
    )

    assert "85073100199" not in response.text
    assert response.json()["errors"]
