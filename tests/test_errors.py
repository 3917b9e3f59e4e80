"""Error codes, masking of unexpected errors, and GraphQL over HTTP (status codes and
media types), through the real app."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
import pytest

from loket.logs import JsonFormatter
from models.accounts import Role
from tests import factories as f

GRAPHQL_RESPONSE = "application/graphql-response+json"
MUNICIPALITIES = "{ municipalities { name } }"
LOCATIONS_IN = "query L($m: String) { locations(municipality: $m) { name } }"
SECRET = "85073003328"


async def _post(
    http: httpx.AsyncClient, body: Any, accept: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    response = await http.post("/graphql", json=body, headers=headers, **kwargs)
    assert "Traceback" not in response.text
    return response


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


# --- codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"query": "{ municipalities { name "},
            "GRAPHQL_PARSE_FAILED",
            "Syntax Error: Expected Name, found <EOF>.",
        ),
        (
            {"query": "{ municipalities { name nope } }"},
            "GRAPHQL_VALIDATION_FAILED",
            "Cannot query field 'nope' on type 'Municipality'.",
        ),
        (
            {"query": LOCATIONS_IN, "variables": {"m": {"nis": "24062"}}},
            "BAD_USER_INPUT",
            "Variable '$m' has invalid value: String cannot represent a non string value.",
        ),
        (
            {"query": "query L($m: String!) { locations(municipality: $m) { name } }"},
            "BAD_USER_INPUT",
            "Variable '$m' has invalid value: Expected a value of non-null type 'String!' to "
            "be provided.",
        ),
    ],
    ids=["syntax", "validation", "coercion", "missing-variable"],
)
async def test_request_errors_carry_their_code(
    actor: Any, body: dict[str, Any], code: str, message: str
) -> None:
    # given a document that does not parse, does not validate, or variables that do not fit
    # when it is posted (legacy media type)
    response = await _post(actor(None).http, body)
    # then nothing runs: no data, one error with its code
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert _error(response)["message"] == message
    assert _error(response)["extensions"] == {"code": code}


async def test_invalid_input_keeps_its_own_code(actor: Any) -> None:
    # given a search with a cursor that is not one
    query = '{ searchLocations(after: "not-a-cursor") { pageInfo { hasNextPage } } }'
    # when it is posted
    response = await _post(actor(None).http, {"query": query})
    # then the error has the resolver's code and path
    error = _error(response)
    assert error["extensions"] == {"code": "INVALID_CURSOR"}
    assert error["path"] == ["searchLocations"]


async def test_denied_field_keeps_forbidden_as_anonymous(actor: Any) -> None:
    # given an anonymous caller
    # when they ask who they are
    response = await _post(actor(None).http, {"query": "{ me { id } }"})
    # then the field is null with FORBIDDEN at its path
    assert response.json()["data"] == {"me": None}
    assert _error(response)["extensions"] == {"code": "FORBIDDEN"}
    assert _error(response)["path"] == ["me"]


async def test_bad_token_gets_401_with_a_code(actor: Any) -> None:
    # given a token that is not one
    http = actor(None).http
    # when it is sent
    response = await http.post(
        "/graphql", json={"query": MUNICIPALITIES}, headers={"authorization": "Bearer garbage"}
    )
    # then it is refused before GraphQL runs, with a stable code
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"]


# --- masking -------------------------------------------------------------------------


def _log_lines(caplog: pytest.LogCaptureFixture, error_id: str) -> list[str]:
    """The JSON lines (as `loket serve` writes them) of the records about `error_id`."""
    formatter = JsonFormatter()
    return [
        formatter.format(r)
        for r in caplog.records
        if getattr(r, "fields", {}).get("errorId") == error_id or error_id in r.getMessage()
    ]


def _assert_masked(error: dict[str, Any]) -> str:
    assert error["message"] == "Unexpected error."
    assert set(error["extensions"]) == {"code", "errorId"}
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    error_id: str = error["extensions"]["errorId"]
    assert str(uuid.UUID(error_id)) == error_id
    return error_id


async def test_unexpected_error_is_masked_and_logged_once_with_its_error_id(
    actor: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a resolver that fails with personal data in its exception message
    from resolvers import providers

    secret = SECRET

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"secret detail {secret}")

    monkeypatch.setattr(providers, "fetch", broken)
    caplog.set_level(logging.DEBUG)
    # when a query reaches it, with personal data in its variables
    response = await _post(actor(None).http, {"query": LOCATIONS_IN, "variables": {"m": SECRET}})
    # then the client sees a masked error with an errorId, at the field, and nothing else
    assert response.status_code == 200
    assert response.json()["data"] is None
    error = _error(response)
    error_id = _assert_masked(error)
    assert error["path"] == ["locations"]
    assert SECRET not in response.text
    # and exactly one JSON log line at ERROR has that errorId, the exception's type and
    # frames, and neither the message nor the variables
    [line] = _log_lines(caplog, error_id)
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "loket.graphql"
    assert entry["errorId"] == error_id
    assert entry["exceptionType"] == "builtins.RuntimeError"
    assert entry["path"] == ["locations"]
    assert entry["operationName"] == "L"
    assert "broken" in [frame["function"] for frame in entry["frames"]]
    assert all({"file", "line", "function"} <= set(frame) for frame in entry["frames"])
    # (the frames show source lines, so the raise statement's text may appear, not its value)
    assert SECRET not in line
    assert f"secret detail {SECRET}" not in line
    assert SECRET not in caplog.text


async def test_unexpected_error_before_execution_is_masked_too(
    actor: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a failure in a check that runs before execution (outside any resolver)
    from schema import limits

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError(f"secret detail {SECRET}")

    monkeypatch.setattr(limits, "estimate_cost", broken)
    caplog.set_level(logging.DEBUG)
    # when a query is posted, legacy and with the new media type
    legacy = await _post(actor(None).http, {"query": MUNICIPALITIES})
    new = await _post(actor(None).http, {"query": MUNICIPALITIES}, GRAPHQL_RESPONSE)
    # then both get the masked error, with its own errorId in one log line each; the
    # new media type says 500 (the request failed before execution)
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None
    assert new.status_code == 500
    assert "data" not in new.json()
    for response in (legacy, new):
        assert SECRET not in response.text
        [line] = _log_lines(caplog, _assert_masked(_error(response)))
        assert SECRET not in line
    assert SECRET not in caplog.text


# --- GraphQL over HTTP: media types and status codes ---------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ municipalities { name "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ municipalities { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": LOCATIONS_IN, "variables": {"m": 5}}, "BAD_USER_INPUT"),
        ({"query": "{ __schema { types { name } } }"}, "INTROSPECTION_DISABLED"),
        (
            {"query": "{ " + " ".join(f"m{i}: __typename" for i in range(31)) + " }"},
            "TOO_MANY_ALIASES",
        ),
    ],
    ids=["syntax", "validation", "coercion", "introspection", "limit"],
)
async def test_request_error_gets_400_without_data_in_the_new_media_type(
    actor: Any, body: dict[str, Any], code: str
) -> None:
    # given a request that fails before execution
    # when it asks for application/graphql-response+json
    response = await _post(actor(None).http, body, GRAPHQL_RESPONSE)
    # then 400, in that media type, without data, with the code
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in response.json()
    assert _error(response)["extensions"]["code"] == code


async def test_successful_query_gets_200_in_the_new_media_type(actor: Any) -> None:
    # given Leuven
    await f.municipality("24062", "Leuven")
    # when a query asks for application/graphql-response+json
    response = await _post(actor(None).http, {"query": MUNICIPALITIES}, GRAPHQL_RESPONSE)
    # then 200 in that media type
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"municipalities": [{"name": "Leuven"}]}}


async def test_field_error_gets_200_with_data_in_the_new_media_type(actor: Any) -> None:
    # given an anonymous caller asking a guarded field (execution starts)
    # when it asks for application/graphql-response+json
    response = await _post(actor(None).http, {"query": "{ me { id } }"}, GRAPHQL_RESPONSE)
    # then 200 with data and the field's error
    assert response.status_code == 200
    assert response.json()["data"] == {"me": None}
    assert _error(response)["extensions"] == {"code": "FORBIDDEN"}


async def test_unexpected_field_error_gets_200_in_the_new_media_type(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a resolver that fails (execution starts; data becomes null)
    from resolvers import providers

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(providers, "fetch", broken)
    # when a query reaches it with the new media type
    response = await _post(actor(None).http, {"query": MUNICIPALITIES}, GRAPHQL_RESPONSE)
    # then 200: the response has data (null), as the spec asks for execution results
    assert response.status_code == 200
    assert response.json()["data"] is None
    _assert_masked(_error(response))


@pytest.mark.parametrize(
    "accept", ["application/json", "*/*", "application/*", "text/html, */*;q=0.8", None]
)
async def test_request_error_gets_legacy_200_for_json_and_wildcards(
    actor: Any, accept: str | None
) -> None:
    # given a query that does not validate, and an Accept header of a legacy client (or none)
    request = actor(None).http.build_request(
        "POST", "/graphql", json={"query": "{ municipalities { nope } }"}
    )
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    # when it is sent
    response = await actor(None).http.send(request)
    # then the legacy answer: 200, application/json, data null
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] is None
    assert _error(response)["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", "application/json"),
        (f"text/html, {GRAPHQL_RESPONSE};q=0.1", GRAPHQL_RESPONSE),
    ],
)
async def test_accept_header_chooses_the_media_type(
    actor: Any, accept: str, media_type: str
) -> None:
    # given an Accept header listing both media types with qualities
    # when a query is posted with it
    response = await _post(actor(None).http, {"query": "{ __typename }"}, accept)
    # then the preferred one answers (the new one on a tie)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "application/json;q=0, */*;q=0", "image/*"]
)
async def test_unsupported_accept_gets_406(actor: Any, accept: str) -> None:
    # given an Accept header that allows neither JSON media type
    # when a query is posted with it
    response = await _post(actor(None).http, {"query": "{ __typename }"}, accept)
    # then it is refused as not acceptable
    assert response.status_code == 406
    assert _error(response)["extensions"] == {"code": "NOT_ACCEPTABLE"}


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_post_that_is_not_json_gets_415(actor: Any, accept: str) -> None:
    # given a POST body sent as text/plain
    # when it is posted
    response = await actor(None).http.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "text/plain", "accept": accept},
    )
    # then it is refused as an unsupported media type, answered in the accepted one
    assert response.status_code == 415
    assert response.headers["content-type"] == accept
    assert _error(response)["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}


async def test_json_with_charset_is_accepted(actor: Any) -> None:
    # given a JSON body whose content type names its charset
    # when it is posted
    response = await actor(None).http.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    # then it runs
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_mutation_over_get_gets_405_allow_post(actor: Any, accept: str) -> None:
    # given a mutation in a GET query string
    # when it is sent
    response = await actor(None).http.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers={"accept": accept}
    )
    # then it is refused as a method not allowed, naming POST
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == accept
    assert _error(response)["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


async def test_query_over_get_gets_200_in_the_new_media_type(actor: Any) -> None:
    # given a query in a GET query string
    # when it is sent asking for the new media type
    response = await actor(None).http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    # then it runs
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_other_method_gets_405_allow_get_post_in_the_new_media_type(actor: Any) -> None:
    # given a PUT asking for the new media type
    # when it is sent
    response = await actor(None).http.put(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    # then it is refused, as a GraphQL error body with a code
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert _error(response)["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


async def test_malformed_json_gets_400_bad_request_in_the_new_media_type(actor: Any) -> None:
    # given a body that is not JSON, asking for the new media type
    # when it is posted
    response = await actor(None).http.post(
        "/graphql",
        content=b'{"query": ',
        headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
    )
    # then 400 with a GraphQL error body and a code
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert _error(response) == {
        "message": "Unable to parse request body as JSON",
        "extensions": {"code": "BAD_REQUEST"},
    }


async def test_browser_gets_graphiql_with_its_usual_accept_header(actor: Any) -> None:
    # given a browser's Accept header
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    # when it opens /graphql
    response = await actor(None).http.get("/graphql", headers={"accept": accept})
    # then GraphiQL is served
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_batch_gets_200_in_the_new_media_type_with_each_result(actor: Any) -> None:
    # given an admin, and a batch of a valid query and one that does not validate
    admin = await f.user(Role.ADMIN)
    batch = [{"query": "{ __typename }"}, {"query": "{ nope }"}]
    # when it is posted asking for the new media type
    response = await _post(actor(admin).http, batch, GRAPHQL_RESPONSE)
    # then 200 with each result in order
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    first, second = response.json()
    assert first == {"data": {"__typename": "Query"}}
    assert [e["extensions"]["code"] for e in second["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


async def test_several_operations_without_an_operation_name_are_a_request_error(
    actor: Any,
) -> None:
    document = "query A { municipalities { name } } query B { __typename }"
    client = actor(None).http

    unnamed = await client.post("/graphql", json={"query": document})
    named = await client.post("/graphql", json={"query": document, "operationName": "B"})

    assert [e["extensions"]["code"] for e in unnamed.json()["errors"]] == [
        "OPERATION_NAME_REQUIRED"
    ]
    assert named.json() == {"data": {"__typename": "Query"}}
