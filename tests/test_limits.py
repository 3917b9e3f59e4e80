"""Request limits through the real app: each just under its limit runs, just over is
refused before anything runs, with its code; field suggestions are off; introspection
only for signed-in providers, admins and integrators."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from graphql import build_schema, get_introspection_query, parse, validate

from loket.context import Context
from loket.settings import settings
from models.accounts import Role
from permissions.engine import build_field_policy
from permissions.viewer import Viewer
from resolvers.loaders import Loaders
from schema.limits import RULES
from schema.root import schema
from tests import factories as f

MUNICIPALITIES = "{ municipalities { name } }"


async def _post(http: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    response = await http.post("/graphql", json=body, headers=headers)
    assert response.status_code < 500, response.text
    return response


def _codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


def _refused(response: httpx.Response, code: str) -> dict[str, Any]:
    """A legacy (application/json) refusal before execution: 200, no data, one error."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    error: dict[str, Any] = body["errors"][0]
    return error


def test_defaults_of_the_limits() -> None:
    # given no LOKET_MAX_* variables in the test environment
    # then the documented defaults apply
    assert (
        settings.max_depth,
        settings.max_aliases,
        settings.max_tokens,
        settings.max_directives,
        settings.max_cost,
        settings.max_list_estimate,
        settings.max_nested_list_estimate,
        settings.max_batch,
        settings.max_body_bytes,
    ) == (12, 30, 4000, 20, 50_000, 50, 10, 10, 1_000_000)


# --- depth ---------------------------------------------------------------------------


def _nested(levels: int) -> str:
    """`{ dossiers { edges { node { edges { node ... id } } } } }` with `levels` fields
    below `dossiers` (the schema has no cycle, so beyond depth 8 this is invalid)."""
    pairs, odd = divmod(levels - 1, 2)
    inner = "edges { " * odd + "id" + " }" * odd
    return "{ dossiers { " + "edges { node { " * pairs + inner + " } }" * pairs + " } }"


async def test_query_deeper_than_the_limit_gets_depth_limit_exceeded(actor: Any) -> None:
    # given a query 13 levels deep below its root field (the limit is 12)
    # when it is posted
    response = await _post(actor(None).http, {"query": _nested(13)})
    # then the depth limit refuses it, with its code, among the schema's own complaints
    assert response.json()["data"] is None
    assert "DEPTH_LIMIT_EXCEEDED" in _codes(response)


async def test_query_at_the_depth_limit_gets_no_depth_error(actor: Any) -> None:
    # given a query exactly 12 levels deep below its root field
    # when it is posted
    response = await _post(actor(None).http, {"query": _nested(12)})
    # then the depth limit lets it pass (the schema is not that deep: only field errors)
    assert set(_codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}


def test_depth_rule_passes_a_valid_operation_at_the_limit_and_refuses_one_over() -> None:
    # given a recursive schema, and operations whose deepest field is at the limit / one over
    recursive = build_schema("type Query { node: Node } type Node { id: ID child: Node }")
    at_limit = "{ node { " + "child { " * 11 + "id" + " }" * 11 + " } }"
    over = "{ node { " + "child { " * 12 + "id" + " }" * 12 + " } }"
    # when they are validated with the app's limit rules
    # then the first passes and the second is refused with its code
    assert validate(recursive, parse(at_limit), RULES) == []
    errors = validate(recursive, parse(over), RULES)
    assert [e.extensions for e in errors] == [{"code": "DEPTH_LIMIT_EXCEEDED"}]


async def test_deepest_valid_query_runs(actor: Any) -> None:
    # given a provider and the deepest path the schema has (8 levels)
    loc = await f.location(await f.municipality("24062", "Leuven"))
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    query = (
        f'{{ inbox(locationId: "{loc.id}") {{ edges {{ node {{ household {{ requests {{ '
        "applications { location { municipality { name } } } } } } } } }"
    )
    # when it is posted
    response = await _post(actor(provider).http, {"query": query})
    # then it runs
    assert response.json() == {"data": {"inbox": {"edges": []}}}


# --- aliases -------------------------------------------------------------------------


def _aliased(count: int) -> str:
    return "{ " + " ".join(f"m{i}: municipalities {{ name }}" for i in range(count)) + " }"


async def test_query_with_aliases_at_the_limit_runs(actor: Any) -> None:
    # given Leuven and 30 aliased copies of a public field (the limit)
    await f.municipality("24062", "Leuven")
    # when they are posted
    response = await _post(actor(None).http, {"query": _aliased(30)})
    # then they run
    assert response.json()["data"] == {f"m{i}": [{"name": "Leuven"}] for i in range(30)}


async def test_query_with_one_alias_over_the_limit_gets_too_many_aliases(actor: Any) -> None:
    # given 31 aliased copies of a public field
    # when they are posted
    response = await _post(actor(None).http, {"query": _aliased(31)})
    # then they are refused with the code
    error = _refused(response, "TOO_MANY_ALIASES")
    assert error["message"] == "31 aliases found. Allowed: 30"


# --- tokens --------------------------------------------------------------------------


def _tokens(count: int) -> str:
    """A valid public query of exactly `count` tokens: 19 around a list of kinds."""
    kinds = " ".join(["GROUP"] * (count - 19))
    return f"{{ searchLocations(filter: {{kinds: [{kinds}]}}) {{ pageInfo {{ hasNextPage }} }} }}"


async def test_query_with_tokens_at_the_limit_runs(actor: Any) -> None:
    # given a query of exactly 4000 tokens
    # when it is posted
    response = await _post(actor(None).http, {"query": _tokens(4000)})
    # then it runs
    assert response.json() == {"data": {"searchLocations": {"pageInfo": {"hasNextPage": False}}}}


async def test_query_with_one_token_over_the_limit_gets_too_many_tokens(actor: Any) -> None:
    # given a query of 4001 tokens
    # when it is posted
    response = await _post(actor(None).http, {"query": _tokens(4001)})
    # then the parser stops, with the code
    error = _refused(response, "TOO_MANY_TOKENS")
    assert (
        error["message"]
        == "Syntax Error: Document contains more than 4000 tokens. Parsing aborted."
    )


# --- directives ----------------------------------------------------------------------


def _directives(count: int) -> str:
    return "{ " + "__typename @include(if: true) " * count + "}"


async def test_query_with_directives_at_the_limit_runs(actor: Any) -> None:
    # given an operation with 20 directive uses (the limit)
    # when it is posted
    response = await _post(actor(None).http, {"query": _directives(20)})
    # then it runs
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_query_with_one_directive_over_the_limit_gets_too_many_directives(
    actor: Any,
) -> None:
    # given an operation with 21 directive uses
    # when it is posted
    response = await _post(actor(None).http, {"query": _directives(21)})
    # then it is refused with the code
    error = _refused(response, "TOO_MANY_DIRECTIVES")
    assert error["message"] == "'anonymous' uses 21 directives. Allowed: 20"


async def test_directives_of_a_fragment_count_for_every_spread(actor: Any) -> None:
    # given a fragment with 5 directive uses, spread 5 times (25 uses, 5 written)
    query = (
        "query Spread { ...F ...F ...F ...F ...F } fragment F on Query { "
        + "__typename @skip(if: false) " * 5
        + "}"
    )
    # when it is posted
    response = await _post(actor(None).http, {"query": query})
    # then it is refused like 25 directives written out
    error = _refused(response, "TOO_MANY_DIRECTIVES")
    assert error["message"] == "'Spread' uses 25 directives. Allowed: 20"


# --- fragments ---------------------------------------------------------------------


async def test_fragment_chain_spread_twice_at_each_step_is_measured_quickly(actor: Any) -> None:
    # given 40 fragments, each with an alias and a directive, each spreading the next
    # twice: about 1,000 tokens that stand for 2^40 aliases and directives
    fragments = " ".join(
        f"fragment F{i} on Query {{ a: __typename @skip(if: false) ...F{i + 1} ...F{i + 1} }}"
        for i in range(40)
    )
    query = "query Bomb { ...F0 } " + fragments + " fragment F40 on Query { __typename }"
    # when it is posted
    started = time.monotonic()
    response = await _post(actor(None).http, {"query": query})
    # then it is refused at once (each fragment is measured once), with both codes
    assert time.monotonic() - started < 5
    assert response.json()["data"] is None
    assert _codes(response) == ["TOO_MANY_ALIASES", "TOO_MANY_DIRECTIVES"]


# --- estimated cost ------------------------------------------------------------------

# Objects count, scalars come with their object. A dossier node with its requests (a
# list on an object without `first`: 10), each with its applications (10), each with
# its location and municipality: 1 + 10 * (1 + 10 * 3) = 311; with its edge, 312 per
# item of `dossiers(first: n)`, plus the connection: 1 + 312 n.
NODE = "node { requests { applications { location { municipality { name } } } } }"


def _costly(k: int) -> str:
    """d1 (first: 100) and d2 (first: 60): 2 + 312 * 160 = 49,922; the search's
    `edges { cursor }` the connection and k edges: 1 + k. In all 49,923 + k objects."""
    return (
        "query Costly($n: Int!) { "
        f"d1: dossiers(first: 100) {{ edges {{ {NODE} }} }} "
        f"d2: dossiers(first: $n) {{ edges {{ {NODE} }} }} "
        f"s: searchLocations(first: {k}) {{ edges {{ cursor }} }} }}"
    )


async def test_operation_estimated_at_the_cost_limit_runs(actor: Any) -> None:
    # given an admin, and an operation estimated at exactly 50,000 objects
    admin = await f.user(Role.ADMIN)
    # when it is posted
    response = await _post(actor(admin).http, {"query": _costly(77), "variables": {"n": 60}})
    # then it runs
    assert response.json() == {
        "data": {"d1": {"edges": []}, "d2": {"edges": []}, "s": {"edges": []}}
    }


async def test_operation_estimated_one_over_the_cost_limit_gets_cost_limit_exceeded(
    actor: Any,
) -> None:
    # given an admin, and the same operation estimated at 50,001 objects
    admin = await f.user(Role.ADMIN)
    # when it is posted
    response = await _post(actor(admin).http, {"query": _costly(78), "variables": {"n": 60}})
    # then nothing runs: the code, and the estimate
    error = _refused(response, "COST_LIMIT_EXCEEDED")
    assert error["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 50_001, "maxCost": 50_000}
    assert error["message"] == "The operation may fetch about 50001 objects. Allowed: 50000"


def _estimate(query: str, variables: dict[str, Any] | None = None) -> int:
    from schema.limits import estimate_cost

    return estimate_cost(schema()._schema, parse(query), None, variables)


DOSSIERS_N = f"query D($n: Int!) {{ dossiers(first: $n) {{ edges {{ {NODE} }} }} }}"


@pytest.mark.parametrize(
    ("query", "variables", "cost"),
    [
        (DOSSIERS_N, {"n": 7}, 1 + 312 * 7),
        # without the variable's value: the variable's default, or the argument's (20)
        (DOSSIERS_N.replace("$n: Int!", "$n: Int! = 7"), {}, 1 + 312 * 7),
        (DOSSIERS_N.replace("(first: $n)", "").replace("($n: Int!)", ""), {}, 1 + 312 * 20),
        # larger pages than the schema serves are capped at 100 (MAX_PAGE)
        (DOSSIERS_N, {"n": 5000}, 1 + 312 * 100),
        (DOSSIERS_N.replace("$n", "5000").replace("(5000: Int!)", ""), {}, 1 + 312 * 100),
        # the connection's page sizes its edges also through a fragment
        (
            "query D { dossiers(first: 7) { ...Page } } fragment Page on HouseholdConnection "
            f"{{ edges {{ {NODE} }} }}",
            {},
            1 + 312 * 7,
        ),
        # a list at the root without `first` counts 50, on an object 10; scalars nothing
        ("{ municipalities { name nisCode } }", {}, 50),
        ("{ me { locations { name municipality { name } } } }", {}, 1 + 10 * 2),
        ("{ __typename searchLocations(first: 3) { pageInfo { hasNextPage } } }", {}, 2),
        # introspection is left to its own rules
        (get_introspection_query(), {}, 0),
    ],
    ids=[
        "variable",
        "variable-default",
        "argument-default",
        "capped-variable",
        "capped-literal",
        "fragment",
        "root-list",
        "nested-list",
        "scalars",
        "introspection",
    ],
)
def test_estimate_of_list_sizes(query: str, variables: dict[str, Any], cost: int) -> None:
    # given an operation whose list sizes come from `first` (variable, literal, default)
    # or from the estimates for lists without it
    # when it is estimated
    # then each list counts as that many objects
    assert _estimate(query, variables) == cost


@pytest.mark.parametrize(
    "module", ["tests.test_n_plus_one", "tests.test_access_matrix", "benchmarks.permission_cost"]
)
def test_the_repository_s_own_large_queries_are_within_the_cost_limit(module: str) -> None:
    # given the largest queries the tests and benchmarks send (a page of 100 dossiers
    # with their lists; every field of one dossier)
    import importlib

    queries = [
        value
        for name, value in vars(importlib.import_module(module)).items()
        if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("{", "query"))
    ]
    assert queries
    # when they are estimated
    # then they may run
    for query in queries:
        assert _estimate(query, {"loc": "x", "id": "x"}) <= settings.max_cost


# --- batches -------------------------------------------------------------------------


async def test_batch_at_the_limit_runs(actor: Any) -> None:
    # given Leuven and a batch of 10 operations (the limit)
    await f.municipality("24062", "Leuven")
    # when it is posted
    response = await _post(actor(None).http, [{"query": MUNICIPALITIES}] * 10)
    # then each runs, in order
    assert response.status_code == 200
    assert response.json() == [{"data": {"municipalities": [{"name": "Leuven"}]}}] * 10


async def test_batch_one_over_the_limit_gets_400_batch_too_large(actor: Any) -> None:
    # given a batch of 11 operations
    # when it is posted
    response = await _post(actor(None).http, [{"query": MUNICIPALITIES}] * 11)
    # then nothing runs
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "A batch may hold at most 10 operations.",
                "extensions": {"code": "BATCH_TOO_LARGE"},
            }
        ]
    }


@pytest.mark.parametrize(
    "batch",
    [[], [5], [{"query": 5}], [{"query": MUNICIPALITIES, "variables": [1]}]],
    ids=["empty", "not-an-object", "query-not-string", "variables-not-object"],
)
async def test_malformed_batch_gets_400_bad_request(actor: Any, batch: list[Any]) -> None:
    # given a batch that is empty or holds something that is no GraphQL request
    # when it is posted
    response = await _post(actor(None).http, batch)
    # then it is refused as a bad request
    assert response.status_code == 400
    assert _codes(response) == ["BAD_REQUEST"]


async def test_each_operation_of_a_batch_is_checked_on_its_own(actor: Any) -> None:
    # given a batch of a valid query and one over the alias limit
    await f.municipality("24062", "Leuven")
    # when it is posted
    response = await _post(actor(None).http, [{"query": MUNICIPALITIES}, {"query": _aliased(31)}])
    # then the first runs and the second is refused with its code
    first, second = response.json()
    assert first == {"data": {"municipalities": [{"name": "Leuven"}]}}
    assert [e["extensions"]["code"] for e in second["errors"]] == ["TOO_MANY_ALIASES"]


# --- field suggestions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ municipalitie { name } }", "Cannot query field 'municipalitie' on type 'Query'."),
        ("{ municipalities { nam } }", "Cannot query field 'nam' on type 'Municipality'."),
        (
            "{ searchLocations(frist: 5) { pageInfo { hasNextPage } } }",
            "Unknown argument 'frist' on field 'Query.searchLocations'.",
        ),
        (
            "query Q($f: LocationSearchInpt) { searchLocations(filter: $f) { pageInfo "
            "{ hasNextPage } } }",
            "Unknown type 'LocationSearchInpt'.",
        ),
    ],
    ids=["root-field", "field", "argument", "type"],
)
async def test_misspelled_names_get_no_suggestions(actor: Any, query: str, message: str) -> None:
    # given a document with a misspelled name (one edit away from a real one)
    # when it is posted
    response = await _post(actor(None).http, {"query": query})
    # then the error names the mistake and suggests nothing
    assert "Did you mean" not in response.text
    messages = [e["message"] for e in response.json()["errors"]]
    assert message in messages
    assert set(_codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_misspelled_enum_value_in_variables_gets_no_suggestion(actor: Any) -> None:
    # given a variable with a misspelled enum value
    query = (
        "query Q($f: LocationSearchInput) { searchLocations(filter: $f) { pageInfo "
        "{ hasNextPage } } }"
    )
    # when it is posted
    response = await _post(
        actor(None).http, {"query": query, "variables": {"f": {"tariff": "INCOME_RELATE"}}}
    )
    # then the coercion error suggests nothing
    assert "Did you mean" not in response.text
    assert _refused(response, "BAD_USER_INPUT")["message"].endswith("enum.")


# --- introspection -------------------------------------------------------------------

SCHEMA_QUERY = "{ __schema { queryType { name } } }"
TYPE_QUERY = '{ __type(name: "Household") { name } }'


async def _users() -> dict[str, Any]:
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    scopes: dict[str, tuple[Role, dict[str, Any]]] = {
        "parent": (Role.PARENT, {}),
        "toeleider": (Role.TOELEIDER, {"referral_organisation": await f.referral_organisation()}),
        "loket": (Role.LOKET, {"counter": await f.counter("Loket", leuven)}),
        "sick_child": (
            Role.SICK_CHILD_SERVICE,
            {"sick_child_service": await f.sick_child_service()},
        ),
        "provider": (Role.PROVIDER, {"provider_location": loc}),
        "admin": (Role.ADMIN, {}),
    }
    return {name: await f.user(role, **scope) for name, (role, scope) in scopes.items()}


@pytest.mark.parametrize("query", [SCHEMA_QUERY, TYPE_QUERY], ids=["__schema", "__type"])
@pytest.mark.parametrize("who", ["anonymous", "parent", "toeleider", "loket", "sick_child"])
async def test_introspection_is_refused_as(actor: Any, who: str, query: str) -> None:
    # given a caller who is not provider staff, an admin or an integrator
    users = await _users()
    # when they introspect the schema
    response = await _post(actor(users.get(who)).http, {"query": query})
    # then nothing runs: INTROSPECTION_DISABLED
    error = _refused(response, "INTROSPECTION_DISABLED")
    assert error["message"] == (
        "Introspection is available to signed-in providers, administrators and integrators only."
    )


async def test_introspection_hidden_in_a_fragment_is_refused_as_anonymous(actor: Any) -> None:
    # given introspection inside a fragment, next to a valid field
    query = "{ ...F } fragment F on Query { __schema { queryType { name } } }"
    # when an anonymous caller posts it
    response = await _post(actor(None).http, {"query": query})
    # then it is refused
    _refused(response, "INTROSPECTION_DISABLED")


@pytest.mark.parametrize("who", ["provider", "admin"])
async def test_graphiql_introspection_runs_as(actor: Any, who: str) -> None:
    # given provider staff or an admin, and the full query GraphiQL sends
    users = await _users()
    # when they post it
    response = await _post(actor(users[who]).http, {"query": get_introspection_query()})
    # then the schema comes back (depth, cost and token limits leave it alone)
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_type_introspection_runs_as_provider(actor: Any) -> None:
    # given provider staff
    users = await _users()
    # when they ask for one type
    response = await _post(actor(users["provider"]).http, {"query": TYPE_QUERY})
    # then it comes back
    assert response.json() == {"data": {"__type": {"name": "Household"}}}


async def test_introspection_runs_as_integrator(db: str) -> None:
    # given an integrator viewer (over HTTP integrators run registered operations only,
    # tests/test_persisted.py; the schema's rule is the same)
    the_schema = schema()
    viewer = Viewer(user_id=uuid.uuid4(), role=Role.INTEGRATOR, acting_as=Role.PROVIDER)
    context = Context(
        viewer=viewer,
        field_policy=build_field_policy(the_schema),
        loaders=Loaders(viewer),
        request_id="test",
        audit=None,
    )
    # when it introspects
    result = await the_schema.execute(SCHEMA_QUERY, context_value=context)
    # then it may
    assert result.errors is None
    assert result.data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_typename_is_allowed_as_anonymous(actor: Any) -> None:
    # given an anonymous caller
    # when they ask for __typename
    response = await _post(actor(None).http, {"query": "{ __typename }"})
    # then it is answered
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_introspection_more_than_the_limit_in_one_operation_is_refused(actor: Any) -> None:
    provider = await f.user(Role.PROVIDER, provider_location=await f.location(
        await f.municipality("24062", "Leuven")
    ))  # fmt: skip
    client = actor(provider)
    one = await client.gql("{ __schema { queryType { name } } }")
    many = await client.gql(
        "{ " + " ".join(f"s{i}: __schema {{ queryType {{ name }} }}" for i in range(4)) + " }"
    )

    assert "errors" not in one, one
    assert [e["extensions"]["code"] for e in many["errors"]] == ["INTROSPECTION_LIMIT"]


async def test_document_larger_than_the_limit_is_refused_before_parsing(actor: Any) -> None:
    padded = "# " + "x" * 70_000 + "\n{ municipalities { name } }"

    response = await actor(None).http.post("/graphql", json={"query": padded})

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"


async def test_deeply_nested_json_is_a_bad_request_not_a_server_error(actor: Any) -> None:
    nested = "[" * 5000 + "]" * 5000
    body = '{"query": "{ __typename }", "variables": {"a": ' + nested + "}}"
    client = actor(None).http

    posted = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    got = await client.get("/graphql", params={"query": "{ __typename }", "variables": nested})

    assert posted.status_code == 400
    assert got.status_code == 400


async def test_locations_list_is_bounded_by_first(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    for _ in range(3):
        await f.location(muni)

    result = await actor(None).gql("{ locations(first: 2) { id } }")

    assert len(result["data"]["locations"]) == 2


async def test_batch_whose_operations_together_exceed_the_cost_limit_is_refused(
    actor: Any,
) -> None:
    # given: each operation fits the cost limit (500 here), together they do not
    saved = settings.max_cost
    object.__setattr__(settings, "max_cost", 500)
    try:
        await f.municipality("24062", "Leuven")
        one = "{ locations(first: 100) { id municipality { name } } }"  # 200 objects
        client = actor(None).http

        fits = await _post(client, [{"query": one}, {"query": one}])
        over = await _post(client, [{"query": one}, {"query": one}, {"query": one}])
    finally:
        object.__setattr__(settings, "max_cost", saved)

    # then
    assert fits.status_code == 200
    assert over.status_code == 400
    assert over.json()["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
