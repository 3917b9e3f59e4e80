"""Property-based fuzzing from the schema itself (hypothesis-graphql): generated queries,
mutations and invalid operations, sent over HTTP through the real app as every role of
MISSION.md section 1, against `tests.world` with a national register number for every
person and a distinctive marker in every personal field.

The properties, with oracles built from the data written here (never from the code
under test):
- no 500 and no INTERNAL_SERVER_ERROR; every error carries a known `extensions.code`;
- no response (and no log line) holds any person's national register number, in any of
  its usual spellings;
- no role reads a family's personal data outside its grant (`tests.world.EXPECTED`), and
  within a grant only the categories MISSION.md gives that grant (counter staff: name,
  address, contact; the sick-child service: child name, parent name and address);
- counter staff get no non-null dossier field outside their subset;
- a compiled plan never answers differently from strawberry (loket.planner).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis_graphql import Mode, mutations, queries

from loket.planner import MISMATCHES, STATS
from loket.settings import settings as loket_settings
from models.accounts import (
    Membership,
    ReferralOrganisation,
    Role,
    SickChildService,
    User,
)
from models.households import Child, Household, Mandate, Parent
from models.integrators import IntegratorClient
from models.providers import ProviderLocation, ProviderOrganisation
from models.regions import Counter
from models.requests import Application, CareRequest, Enrolment
from permissions.policy import Grant
from permissions.rrn import Rrn
from resolvers import uniqueness
from schema.root import schema
from tests import factories as f
from tests import world as world_module
from tests.conftest import Actor, register_operation, truncate

SCHEMA: graphql.GraphQLSchema = schema()._schema

# Hypothesis keeps its caches (its example database is off, `database=None` below) under
# .loket/, which git ignores, instead of a .hypothesis folder in the repository.
set_hypothesis_home_dir(loket_settings.data_dir / "hypothesis")

# Every `extensions.code` the project documents for a GraphQL error (README "Errors",
# the limits, the resolvers' InvalidInput codes and the search filters' codes) and for a
# request refused at the HTTP level.
KNOWN_CODES = frozenset(
    {
        # request and authentication
        "BAD_REQUEST",
        "METHOD_NOT_ALLOWED",
        "NOT_ACCEPTABLE",
        "UNSUPPORTED_MEDIA_TYPE",
        "BODY_TOO_LARGE",
        "DOCUMENT_TOO_LARGE",
        "BATCH_TOO_LARGE",
        "CSRF_REQUIRED",
        "UNAUTHENTICATED",
        "ROLE_REQUIRED",
        "ROLE_NOT_HELD",
        "UNKNOWN_ROLE",
        "PERSISTED_QUERY_NOT_FOUND",
        "PERSISTED_QUERY_REQUIRED",
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "PERSISTED_QUERY_HASH_MISMATCH",
        # documents and limits
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
        "OPERATION_NAME_REQUIRED",
        "DEPTH_LIMIT_EXCEEDED",
        "TOO_MANY_ALIASES",
        "TOO_MANY_TOKENS",
        "TOO_MANY_DIRECTIVES",
        "COST_LIMIT_EXCEEDED",
        "INTROSPECTION_DISABLED",
        "INTROSPECTION_LIMIT",
        # execution
        "FORBIDDEN",
        "RATE_LIMITED",
        "NOT_FOUND",
        "INVALID_CURSOR",
        "OUT_OF_RANGE",
        "PERIOD_ORDER",
        "TOO_LONG",
        "INVALID_SAVED_FILTER",
        # search filters (the first problem of a filter is the field's error)
        "UNKNOWN_MUNICIPALITY",
        "UNKNOWN_POSTAL_CODE",
        "INVALID_POSTAL_CODE",
        "POSTAL_CODE_NOT_LOCATED",
    }
)
INTERNAL = "INTERNAL_SERVER_ERROR"

# --- the data: tests.world, every person with an RRN and markers ----------------------

# Personal data categories, each with a marker written into every family's dossier.
PARENT_NAME = "parent name"
PARENT_ADDRESS = "parent address"
PARENT_CONTACT = "parent contact"
PARENT_PROFILE = "parent profile"
CHILD_NAME = "child name"
CHILD_DETAILS = "child details"
# The ids of the household, its parents, children and requests: any grant may see them.
DOSSIER_IDS = "dossier ids"
ALL_CATEGORIES = frozenset(
    {
        DOSSIER_IDS,
        PARENT_NAME,
        PARENT_ADDRESS,
        PARENT_CONTACT,
        PARENT_PROFILE,
        CHILD_NAME,
        CHILD_DETAILS,
    }
)

# What each grant may read, as MISSION.md section 1 states it (no grant: nothing).
READABLE: dict[Grant, frozenset[str]] = {
    Grant.OWN_HOUSEHOLD: ALL_CATEGORIES,
    Grant.ACTIVE_MANDATE: ALL_CATEGORIES,
    Grant.ADMIN: ALL_CATEGORIES,
    Grant.PROVIDER_SELECTED: ALL_CATEGORIES,
    Grant.PROVIDER_ENROLLED: ALL_CATEGORIES,
    Grant.PROVIDER_EMERGENCY: ALL_CATEGORIES,
    # "only name, address, contact details (phone, email) and the list of preferred providers"
    Grant.COUNTER_REGION: frozenset({DOSSIER_IDS, PARENT_NAME, PARENT_ADDRESS, PARENT_CONTACT}),
    # "what invoicing needs: child name, parent name and address"
    Grant.SICK_CHILD_SERVICE: frozenset({DOSSIER_IDS, CHILD_NAME, PARENT_NAME, PARENT_ADDRESS}),
}

# The dossier fields counter staff may get a value for (MISSION.md section 1: name,
# address, contact, preferred providers; ids and the containers that lead to them).
COUNTER_ACTORS = frozenset({"loket", "integrator_loket"})
COUNTER_FIELDS: dict[str, frozenset[str]] = {
    "Household": frozenset({"id", "viewerGrant", "residence", "parents", "requests"}),
    "Parent": frozenset(
        {"id", "firstName", "lastName", "street", "postalCode", "municipality", "phone", "email"}
    ),
    "CareRequest": frozenset({"id", "preferredLocations"}),
    "Child": frozenset({"id"}),
    "Application": frozenset({"id", "location"}),
    "Mandate": frozenset({"id"}),
    "Consent": frozenset(),
    "ServiceChild": frozenset(),
    "ServiceParent": frozenset(),
}


def rrn_spellings(rrn: str) -> list[str]:
    """An RRN as digits and in the usual separated forms (YY.MM.DD-SSS.CC and kin)."""
    yy, mm, dd, sss, cc = rrn[0:2], rrn[2:4], rrn[4:6], rrn[6:9], rrn[9:11]
    return [
        rrn,
        f"{yy}.{mm}.{dd}-{sss}.{cc}",
        f"{yy}{mm}{dd}-{sss}.{cc}",
        f"{yy}{mm}{dd}-{sss}-{cc}",
        f"{yy}{mm}{dd} {sss} {cc}",
        f"{yy} {mm} {dd} {sss} {cc}",
        f"{yy}.{mm}.{dd} {sss} {cc}",
        f"{yy}.{mm}.{dd}.{sss}.{cc}",
    ]


@dataclass(repr=False)
class FuzzWorld:
    world: world_module.World
    rrns: list[str] = field(default_factory=list)
    # family key -> category -> markers
    markers: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    clients: dict[str, Actor] = field(default_factory=dict)
    strategies: Any = None  # (see `strategies`)

    def __repr__(self) -> str:
        return f"FuzzWorld({len(self.markers)} families, {len(self.rrns)} RRNs)"

    def forbidden_markers(self, actor_name: str) -> dict[str, list[str]]:
        """Per family, the markers `actor_name` must never receive."""
        out: dict[str, list[str]] = {}
        for family, categories in self.markers.items():
            grant = world_module.EXPECTED[family].get(actor_name)
            readable = READABLE[grant] if grant is not None else frozenset()
            banned = [m for c, ms in categories.items() if c not in readable for m in ms]
            if banned:
                out[family] = banned
        return out


async def build_world(actors: Callable[..., Actor]) -> FuzzWorld:
    await truncate()
    w = await world_module.build()
    fw = FuzzWorld(world=w, rrns=[world_module.PARENT_RRN, *world_module.CHILD_RRNS])
    serial = 500
    for n, (family, household) in enumerate(sorted(w.households.items())):
        m: dict[str, set[str]] = {c: set() for c in ALL_CATEGORIES}
        fw.markers[family] = m
        m[DOSSIER_IDS].add(str(household.id))
        m[DOSSIER_IDS] |= {
            str(i)
            for model in (Parent, Child, CareRequest)
            for i in await model.filter(household_id=household.id).values_list("id", flat=True)
        }
        for i, parent in enumerate(await Parent.filter(household_id=household.id).order_by("id")):
            tag = f"Qz{n:02d}{i}"
            values = {
                "first_name": f"{tag}Voornaam",
                "last_name": f"{tag}Achternaam",
                "street": f"{tag}straat 7",
                "phone": f"+32 499 {n:02d}{i} 717",
                "email": f"{tag.lower()}.gezin@ouders.example",
                "birthplace": f"{tag}Geboorteplaats",
            }
            await Parent.filter(id=parent.id).update(**values)
            m[PARENT_NAME] |= {values["first_name"], values["last_name"]}
            m[PARENT_ADDRESS].add(values["street"])
            m[PARENT_CONTACT] |= {values["phone"], values["email"]}
            m[PARENT_PROFILE].add(values["birthplace"])
            if not parent.rrn_hashes:  # type: ignore[attr-defined]
                serial += 2
                rrn = f.make_rrn(f.days(-30 * 365 - n), serial)
                await uniqueness.store_parent_rrn(parent.id, Rrn.parse(rrn))
                fw.rrns.append(rrn)
        for i, child in enumerate(await Child.filter(household_id=household.id).order_by("id")):
            tag = f"Qz{n:02d}{i}"
            values = {
                "first_name": f"{tag}Kindnaam",
                "last_name": f"{tag}Familienaam",
                "nickname": f"{tag}Roepnaam",
            }
            await Child.filter(id=child.id).update(**values)
            m[CHILD_NAME] |= {values["first_name"], values["last_name"]}
            m[CHILD_DETAILS].add(values["nickname"])
            if child.birth_date is not None and not child.rrn_hashes:  # type: ignore[attr-defined]
                serial += 2
                rrn = f.make_rrn(child.birth_date, serial)
                await uniqueness.store_child_rrn(child.id, Rrn.parse(rrn))
                fw.rrns.append(rrn)
    for model in (
        Household,
        Parent,
        Child,
        CareRequest,
        Application,
        Enrolment,
        Mandate,
        ProviderLocation,
        ProviderOrganisation,
        ReferralOrganisation,
        SickChildService,
        Counter,
        User,
        Membership,
    ):
        fw.ids += [str(i) for i in await model.all().values_list("id", flat=True)]
    for name, (user_key, role) in world_module.ACTORS.items():
        fw.clients[name] = actors(w.users.get(user_key), role)
    return fw


@pytest.fixture(scope="module")
def shared() -> dict[str, FuzzWorld]:
    """The world of the module's read-only tests, built on first use and dropped by a
    test that writes (module scope: pytest drops it too when tests of another module,
    which empty the database, run in between)."""
    return {}


@pytest_asyncio.fixture
async def read_world(actors: Callable[..., Actor], shared: dict[str, FuzzWorld]) -> FuzzWorld:
    if "read" not in shared:
        shared["read"] = await build_world(actors)
    return shared["read"]


@pytest_asyncio.fixture
async def write_world(actors: Callable[..., Actor], shared: dict[str, FuzzWorld]) -> FuzzWorld:
    """A world of the test's own, to write in."""
    shared.pop("read", None)
    return await build_world(actors)


# --- logs ------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {getattr(record, 'fields', '')}")


@pytest.fixture
def logs() -> Iterator[_Collect]:
    """Every log record of the test (DEBUG up), as text."""
    handler = _Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


# --- strategies ------------------------------------------------------------------------


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _int(value: int) -> graphql.IntValueNode:
    return graphql.IntValueNode(value=str(value))


# Values that mean something in the world: its municipalities and postal code.
KNOWN_STRINGS = ["24062", "24038", "12025", "3000", "Leuven", "Herent", "Mechelen", ""]


def scalars(fw: FuzzWorld) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Argument values: mostly ids of the world's rows, households and locations most
    (so that generated operations reach real dossiers and inboxes), small counts (so
    that most pass the cost limit), real dates."""
    text = st.text(st.characters(codec="utf-8", max_codepoint=0xFFFF), max_size=30)
    households = [str(h.id) for h in fw.world.households.values()]
    locations = [str(loc.id) for loc in fw.world.locations.values()]
    return {
        "ID": st.one_of(
            st.sampled_from(households),
            st.sampled_from(locations),
            st.sampled_from(fw.ids),
            text,
        ).map(_string),
        "Int": st.one_of(
            st.integers(0, 30), st.sampled_from([-1, 2000, 2026, 2**31 - 1, -(2**31)])
        ).map(_int),
        "String": st.one_of(st.sampled_from(KNOWN_STRINGS), text).map(_string),
        "Date": st.one_of(
            st.dates(datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)).map(
                lambda d: d.isoformat()
            ),
            st.dates(datetime.date(2020, 1, 1), datetime.date(2030, 12, 31)).map(
                lambda d: d.replace(day=1).isoformat()
            ),
        ).map(_string),
        "DateTime": st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2100, 1, 1)).map(
            lambda d: _string(d.isoformat() + "+00:00")
        ),
    }


# Root fields that reach dossiers: a second query strategy draws only from them, so that
# most examples read personal data (and hit the compiled plans).
DOSSIER_ROOTS = [
    "household",
    "myHousehold",
    "dossiers",
    "inbox",
    "serviceChildren",
    "consentedContacts",
]

# Text PostgreSQL cannot hold (NUL, lone surrogates), bidi overrides, and long strings.
AWKWARD_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "\u202e", "\r\n", "x" * 5000]
ANY_TEXT = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=20),
    st.sampled_from(AWKWARD_TEXT),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists and objects of `inner` (a named function: hypothesis reads a lambda's source
    to see that it recurses, and can misread it)."""
    return st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3)


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        ANY_TEXT,
    ),
    _containers,
    max_leaves=6,
)


def variable_values(
    fw: FuzzWorld, gtype: graphql.GraphQLInputType, depth: int = 0
) -> st.SearchStrategy[Any]:
    """JSON for a variable of `gtype`: mostly of the right shape (ids of the world,
    awkward text, out-of-range numbers), sometimes any JSON at all."""
    typed: st.SearchStrategy[Any]
    if isinstance(gtype, graphql.GraphQLNonNull):
        typed = variable_values(fw, gtype.of_type, depth)
    elif isinstance(gtype, graphql.GraphQLList):
        item = variable_values(fw, gtype.of_type, depth + 1)
        typed = st.lists(item, max_size=3) | item
    elif isinstance(gtype, graphql.GraphQLInputObjectType):
        if depth > 3:
            return st.none()
        fields = {n: variable_values(fw, f.type, depth + 1) for n, f in gtype.fields.items()}
        required = {n for n, f in gtype.fields.items() if graphql.is_required_input_field(f)}
        typed = st.fixed_dictionaries(
            {n: v for n, v in fields.items() if n in required},
            optional={n: v for n, v in fields.items() if n not in required},
        )
    elif isinstance(gtype, graphql.GraphQLEnumType):
        typed = st.sampled_from(list(gtype.values))
    else:
        assert isinstance(gtype, graphql.GraphQLScalarType)
        typed = {
            "ID": st.sampled_from(fw.ids) | ANY_TEXT,
            "String": st.sampled_from(KNOWN_STRINGS) | ANY_TEXT,
            "Int": st.integers(-(2**31), 2**31 - 1) | st.integers(0, 30),
            "Float": st.floats(allow_nan=False, allow_infinity=False),
            "Boolean": st.booleans(),
            "Date": st.dates().map(lambda d: d.isoformat()) | ANY_TEXT,
            "DateTime": st.datetimes().map(lambda d: d.isoformat() + "Z") | ANY_TEXT,
        }.get(gtype.name, JSON_VALUES)
    return st.one_of(typed, typed, typed, JSON_VALUES)


def plain_selection(gtype: graphql.GraphQLOutputType, depth: int = 2) -> str:
    """The leaves of `gtype` and of its object fields, `depth` levels down (fields that
    need arguments left out)."""
    named = graphql.get_named_type(gtype)
    if graphql.is_leaf_type(named):
        return ""
    if not isinstance(named, graphql.GraphQLObjectType) or depth == 0:
        return "{ __typename }"
    parts = ["__typename"]
    for name, fdef in named.fields.items():
        if any(graphql.is_required_argument(a) for a in fdef.args.values()):
            continue
        inner = graphql.get_named_type(fdef.type)
        if graphql.is_leaf_type(inner):
            parts.append(name)
        elif depth > 1:
            parts.append(f"{name} {plain_selection(fdef.type, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def with_variables(
    fw: FuzzWorld, root: graphql.GraphQLObjectType
) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """An operation on one root field with every argument passed as a variable."""
    keyword = "query" if root is SCHEMA.query_type else "mutation"
    candidates = sorted(name for name, fdef in root.fields.items() if fdef.args)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
        name = draw(st.sampled_from(candidates), label="root field")
        fdef = root.fields[name]
        decls = ", ".join(f"${a}: {arg.type}" for a, arg in fdef.args.items())
        args = ", ".join(f"{a}: ${a}" for a in fdef.args)
        document = f"{keyword}({decls}) {{ {name}({args}) {plain_selection(fdef.type)} }}"
        values = {a: draw(variable_values(fw, arg.type)) for a, arg in fdef.args.items()}
        return document, values

    return build()


def corrupted(document: str) -> st.SearchStrategy[str]:
    """`document` with a few characters deleted, repeated or replaced by GraphQL
    punctuation."""
    punctuation = st.sampled_from([*'{}()[]:$@!.,="\\#|&\n', "...", "on", "null"])

    @st.composite
    def edit(draw: st.DrawFn) -> str:
        text = document
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(text)))
            j = draw(st.integers(i, min(len(text), i + 8)))
            kind = draw(st.sampled_from(["delete", "repeat", "insert"]))
            if kind == "delete":
                text = text[:i] + text[j:]
            elif kind == "repeat":
                text = text[:j] + text[i:j] + text[j:]
            else:
                text = text[:i] + draw(punctuation) + text[i:]
        return text

    return edit()


def _no_variables(document: str) -> tuple[str, dict[str, Any]]:
    return document, {}


@dataclass
class Strategies:
    queries: st.SearchStrategy[tuple[str, dict[str, Any]]]
    mutations: st.SearchStrategy[tuple[str, dict[str, Any]]]
    invalid: st.SearchStrategy[tuple[str, bool]]


def strategies(fw: FuzzWorld) -> Strategies:
    """The world's strategies, made once (hypothesis-graphql reads the schema for them)."""
    if fw.strategies is None:
        custom = scalars(fw)
        assert SCHEMA.query_type is not None
        assert SCHEMA.mutation_type is not None
        all_queries = queries(SCHEMA, custom_scalars=custom)
        dossier_queries = queries(SCHEMA, custom_scalars=custom, fields=DOSSIER_ROOTS)
        negative = st.one_of(
            queries(SCHEMA, custom_scalars=custom, mode=Mode.NEGATIVE),
            mutations(SCHEMA, custom_scalars=custom, mode=Mode.NEGATIVE),
        )
        fw.strategies = Strategies(
            queries=st.one_of(
                all_queries.map(_no_variables),
                dossier_queries.map(_no_variables),
                dossier_queries.map(_no_variables),
                with_variables(fw, SCHEMA.query_type),
            ),
            mutations=st.one_of(
                mutations(SCHEMA, custom_scalars=custom).map(_no_variables),
                with_variables(fw, SCHEMA.mutation_type),
            ),
            # (document, whether it certainly does not validate)
            invalid=st.one_of(
                negative.map(lambda d: (d, True)),
                all_queries.flatmap(corrupted).map(lambda d: (d, False)),
            ),
        )
    result: Strategies = fw.strategies
    return result


# --- the properties --------------------------------------------------------------------


def walk(
    selection_set: graphql.SelectionSetNode | None,
    gtype: graphql.GraphQLNamedType,
    value: Any,
    out: list[tuple[str, str, Any]],
) -> None:
    """Every (type, field, value) the response holds for the selections of a document
    (generated documents use no aliases or fragments spreads; inline fragments name
    their type)."""
    if selection_set is None or value is None:
        return
    if isinstance(value, list):
        for item in value:
            walk(selection_set, gtype, item, out)
        return
    if not isinstance(value, dict):
        return
    for selection in selection_set.selections:
        if isinstance(selection, graphql.InlineFragmentNode):
            condition = selection.type_condition
            target = SCHEMA.get_type(condition.name.value) if condition else gtype
            if target is not None:
                walk(selection.selection_set, target, value, out)
            continue
        if not isinstance(selection, graphql.FieldNode) or not isinstance(
            gtype, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType
        ):
            continue
        key = selection.alias.value if selection.alias else selection.name.value
        fdef = gtype.fields.get(selection.name.value)
        if fdef is None or key not in value:
            continue
        out.append((gtype.name, selection.name.value, value[key]))
        walk(selection.selection_set, graphql.get_named_type(fdef.type), value[key], out)


def counter_fields_outside_subset(document: str, data: Any) -> list[tuple[str, str]]:
    """Dossier fields with a value that counter staff may not read."""
    if not isinstance(data, dict):
        return []
    occurrences: list[tuple[str, str, Any]] = []
    parsed = graphql.parse(document)
    for definition in parsed.definitions:
        if isinstance(definition, graphql.OperationDefinitionNode):
            root = SCHEMA.get_root_type(definition.operation)
            if root is not None:
                walk(definition.selection_set, root, data, occurrences)
    return [
        (t, n)
        for t, n, v in occurrences
        if t in COUNTER_FIELDS and n not in COUNTER_FIELDS[t] and v not in (None, [])
    ]


def check_errors(errors: Any) -> None:
    assert isinstance(errors, list), errors
    assert errors, errors
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert code != INTERNAL, error
        assert code in KNOWN_CODES, error


def check_body(fw: FuzzWorld, actor_name: str, text: str) -> None:
    """No RRN, no stack trace, no marker the actor's grants do not allow."""
    assert "Traceback" not in text, text[:2000]
    assert 'File "/' not in text, text[:2000]
    for rrn in fw.rrns:
        for spelling in rrn_spellings(rrn):
            assert spelling not in text, f"an RRN ({spelling!r}) in a response to {actor_name}"
    for family, banned in fw.forbidden_markers(actor_name).items():
        leaked = [m for m in banned if m in text]
        assert not leaked, f"{actor_name} got {leaked} of the {family!r} family"


def check_logs(fw: FuzzWorld, logs: _Collect) -> None:
    text = "\n".join(logs.lines)
    for rrn in fw.rrns:
        for spelling in rrn_spellings(rrn):
            assert spelling not in text, f"an RRN ({spelling!r}) in the logs"


def check_planner(document: str, failed_before: int) -> None:
    assert not MISMATCHES, f"plan and strawberry differ for {document}: {MISMATCHES[0]}"
    assert STATS["failed"] == failed_before, f"a compiled plan failed for {document}"


async def send(
    client: Actor, document: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    """POST `document` as `client` (JSON with ASCII escapes, so lone surrogates pass); an
    integrator's document is registered for its client first, as `Actor.post_gql` does."""
    body: dict[str, Any] = {"query": document, "variables": variables or {}}
    headers = {"content-type": "application/json"}
    response = await client.http.post("/graphql", content=json.dumps(body), headers=headers)
    if (
        response.status_code == 400
        and client.user_id is not None
        and response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    ):
        body = {"documentId": await register_operation(client.user_id, document), **body}
        del body["query"]
        response = await client.http.post("/graphql", content=json.dumps(body), headers=headers)
    return response


async def run_valid(
    fw: FuzzWorld,
    actor_name: str,
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    account_may_close: bool = False,
) -> dict[str, Any]:
    """Send a generated valid operation as `actor_name` and check every property.
    `account_may_close`: the actor's own mutations may have closed its account (an
    erasure), after which its token is refused."""
    failed_before = STATS["failed"]
    response = await send(fw.clients[actor_name], document, variables)
    check_body(fw, actor_name, response.text)
    body: dict[str, Any] = response.json()
    if account_may_close and response.status_code == 401:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body
        return body
    if variables and 400 <= response.status_code < 500:
        # Variables the request cannot carry (a lone surrogate is no JSON text for the
        # persisted path): refused as a bad request, with a code.
        check_errors(body["errors"])
        return body
    assert response.status_code == 200, (actor_name, document, response.text[:2000])
    if "errors" in body:
        check_errors(body["errors"])
    if actor_name in COUNTER_ACTORS:
        outside = counter_fields_outside_subset(document, body.get("data"))
        assert not outside, f"{actor_name} got {outside} for {document}"
    check_planner(document, failed_before)
    return body


# The same examples on every run (CI); for a longer local hunt, LOKET_FUZZ_SCALE=10
# multiplies them and LOKET_FUZZ_RANDOM=1 draws new ones each run.
SCALE = int(os.environ.get("LOKET_FUZZ_SCALE", "1"))
FUZZ = settings(
    database=None,
    derandomize=not os.environ.get("LOKET_FUZZ_RANDOM"),
    deadline=None,
    # The world changes under a mutation (and rate limits count every example), so a
    # failing example would not shrink reliably: it is reported as generated.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    print_blob=False,
)

DOSSIERS_AFTER = (
    "{ dossiers(first: 50) { edges { node { id residence { name }"
    " parents { firstName lastName street phone email birthplace workSituation }"
    " children { firstName lastName nickname birthDate }"
    " requests { status preferredLocations { name } } } } } }"
)


# --- tests -----------------------------------------------------------------------------


@settings(FUZZ, max_examples=50 * SCALE)
@given(data=st.data())
async def test_generated_queries_as_every_role_keep_the_policy(
    read_world: FuzzWorld, logs: _Collect, data: st.DataObject
) -> None:
    # given the world, and a query generated from the schema (or one root field with
    # every argument a variable)
    document, variables = data.draw(strategies(read_world).queries, label="query")
    # when every role sends it
    for actor_name in world_module.ACTORS:
        # then no 500, only known codes, no RRN, nothing outside the role's grant
        await run_valid(read_world, actor_name, document, variables)
    check_logs(read_world, logs)


@pytest.mark.parametrize("actor_name", list(world_module.ACTORS))
@settings(FUZZ, max_examples=8 * SCALE)
@given(data=st.data())
async def test_generated_mutations_keep_the_policy_as(
    write_world: FuzzWorld, logs: _Collect, actor_name: str, data: st.DataObject
) -> None:
    # given a world of its own (only this role writes to it, so its grants change only
    # as its own mutations may change them), and mutations generated from the schema
    document, variables = data.draw(strategies(write_world).mutations, label="mutation")
    # when the role sends them
    await run_valid(write_world, actor_name, document, variables, account_may_close=True)
    # then the properties hold for the payloads, and for what the role reads afterwards
    await run_valid(write_world, actor_name, DOSSIERS_AFTER, account_may_close=True)
    check_logs(write_world, logs)


@settings(FUZZ, max_examples=60 * SCALE)
@given(data=st.data())
async def test_generated_invalid_operations_get_a_coded_error(
    read_world: FuzzWorld, logs: _Collect, data: st.DataObject
) -> None:
    # given an operation with one schema violation (wrong argument type, unknown field,
    # missing required argument, unknown enum value ...) or a valid one with a few
    # characters deleted, repeated or replaced
    document, invalid = data.draw(strategies(read_world).invalid, label="operation")
    actor_name = data.draw(st.sampled_from(list(world_module.ACTORS)), label="actor")
    # when a role sends it
    response = await send(read_world.clients[actor_name], document)
    # then a 4xx or a 200 with coded errors (and no data when it cannot validate); the
    # other properties as for valid operations
    assert response.status_code < 500, response.text[:2000]
    check_body(read_world, actor_name, response.text)
    check_logs(read_world, logs)
    if not response.headers["content-type"].startswith("application/"):
        # strawberry's plain-text refusals of legacy clients
        assert 400 <= response.status_code < 500, response.text[:2000]
        return
    body = response.json()
    if invalid:
        assert body.get("data") is None, (document, body)
        check_errors(body["errors"])
    elif "errors" in body:
        check_errors(body["errors"])


async def test_the_oracles_find_what_they_look_for(read_world: FuzzWorld) -> None:
    # given the world, and an admin's read of every dossier (the admin may read them all)
    document = DOSSIERS_AFTER
    body = await run_valid(read_world, "admin", document)
    text = json.dumps(body, ensure_ascii=False)
    # then every family's markers are in it, so the checks below look for what is there
    for family, categories in read_world.markers.items():
        for category in (DOSSIER_IDS, PARENT_NAME, PARENT_CONTACT, PARENT_PROFILE, CHILD_NAME):
            assert any(marker in text for marker in categories[category]), (family, category)
    # and the same text is refused for a provider without those grants, for counter staff
    # (fields outside their subset), and with an RRN in any spelling
    with pytest.raises(AssertionError, match="provider_far got"):
        check_body(read_world, "provider_far", text)
    assert ("Child", "firstName") in counter_fields_outside_subset(document, body["data"])
    for spelling in rrn_spellings(read_world.rrns[-1]):
        with pytest.raises(AssertionError, match="an RRN"):
            check_body(read_world, "admin", f"{{'note': 'x{spelling}x'}}")


# --- bugs the fuzzing found: regressions -----------------------------------------------
# Text PostgreSQL cannot hold (NUL, a lone surrogate in JSON), a digit int() refuses and an
# overlong number each failed a statement or a conversion: INTERNAL_SERVER_ERROR.

NUL = "Leu\x00ven"
SURROGATE = "Leu\ud800ven"


async def data_of(fw: FuzzWorld, actor_name: str, document: str, **variables: Any) -> Any:
    """The data of an operation that passes every fuzzing property."""
    body = await run_valid(fw, actor_name, document, variables)
    assert body.get("errors") is None, body
    return body["data"]


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_lookups_by_text_postgresql_cannot_store_find_nothing(
    read_world: FuzzWorld, text: str
) -> None:
    # given text no row can hold
    # when it is looked up as a municipality, a child's name, statistics and job names
    locations = await data_of(
        read_world, "anonymous", "query($m: String) { locations(municipality: $m) { id } }", m=text
    )
    search = await run_valid(
        read_world,
        "anonymous",
        "query($m: String) { searchLocations(filter: {municipalityNisCode: $m})"
        " { edges { node { id } } } }",
        {"m": text},
    )
    children = await data_of(
        read_world,
        "sick_child",
        "query($s: String) { serviceChildren(search: $s) { edges { node { id } } } }",
        s=text,
    )
    trends = await data_of(
        read_world,
        "admin",
        "query($m: [String!]) { trendStatistics(municipalities: $m) { month } }",
        m=[text],
    )
    runs = await data_of(
        read_world, "admin", "query($j: String) { jobRuns(job: $j) { job } }", j=text
    )
    # then nothing is found (an unknown municipality for the search), no internal error
    assert locations == {"locations": []}
    assert search["data"] == {"searchLocations": None}
    assert [(e["path"], e["extensions"]["code"]) for e in search["errors"]] == [
        (["searchLocations"], "UNKNOWN_MUNICIPALITY")
    ]
    assert children == {"serviceChildren": {"edges": []}}
    assert trends == {"trendStatistics": []}
    assert runs == {"jobRuns": []}


SIGN_IN = (
    "mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p})"
    " { token errors { field code } } }"
)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("a\x00n@example.be", "correct horse battery"),
        ("a\ud800n@example.be", "correct horse battery"),
        ("an@example.be", "correct \ud800 horse"),
        ("a" * 300 + "@example.be", "correct horse battery"),
    ],
    ids=["nul-email", "surrogate-email", "surrogate-password", "overlong-email"],
)
async def test_sign_in_with_credentials_no_account_can_have_is_refused(
    read_world: FuzzWorld, email: str, password: str
) -> None:
    # given an address or password with text no account can have
    # when someone signs in with it
    data = await data_of(read_world, "anonymous", SIGN_IN, e=email, p=password)
    # then the usual refusal
    assert data == {
        "signIn": {"token": None, "errors": [{"field": ["input"], "code": "INVALID_CREDENTIALS"}]}
    }


async def test_password_with_a_lone_surrogate_signs_up_and_in(read_world: FuzzWorld) -> None:
    # given a password holding a lone surrogate (valid JSON, no UTF-8 form)
    password = "correct horse \ud800 battery"
    # when an account is made with it, then used
    up = await data_of(
        read_world,
        "anonymous",
        'mutation($p: String!) { signUp(input: {email: "surrogate@example.be",'
        ' password: $p, displayName: "S"}) { errors { code } } }',
        p=password,
    )
    signed_in = await data_of(
        read_world, "anonymous", SIGN_IN, e="surrogate@example.be", p=password
    )
    # then both work
    assert up == {"signUp": {"errors": []}}
    assert signed_in["signIn"]["errors"] == []
    assert signed_in["signIn"]["token"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("claimDossier(input: {code: $t}) { errors { field code } }", "claimDossier"),
        (
            'acceptPartnerInvitation(input: {code: $t, partner: {firstName: "B",'
            ' lastName: "C", nationality: "BE", homeLanguage: "nl", street: "Straat 1",'
            ' postalCode: "3000", municipalityNisCode: "24062", phone: "+32470123456",'
            ' email: "b@example.be", workSituation: WORKING, educationLevel: HIGHER,'
            " relationToChild: PARENT}}) { errors { field code } }",
            "acceptPartnerInvitation",
        ),
    ],
    ids=["claim", "partner"],
)
async def test_code_with_a_lone_surrogate_is_an_invalid_code(
    read_world: FuzzWorld, actors: Callable[..., Actor], document: str, field: str
) -> None:
    # given a parent without a dossier yet
    read_world.clients["newcomer"] = actors(await f.user(Role.PARENT))
    # when they use a code holding a lone surrogate
    data = await data_of(
        read_world, "newcomer", f"mutation($t: String!) {{ {document} }}", t="AB\ud800CD"
    )
    # then it is not a valid code
    assert data == {field: {"errors": [{"field": ["input", "code"], "code": "INVALID_CODE"}]}}


async def test_overlong_national_register_number_is_invalid(write_world: FuzzWorld) -> None:
    # given a number of 5000 digits (int() refuses more than 4300)
    # when an admin corrects a parent's number with it
    data = await data_of(
        write_world,
        "admin",
        "mutation($p: ID!, $r: String) { updateParent(input: {parentId: $p, rrn: $r})"
        " { errors { field code } } }",
        p=str(write_world.world.parents["own"].id),
        r="7" * 5000,
    )
    # then it is an invalid number
    assert data == {
        "updateParent": {"errors": [{"field": ["input", "rrn"], "code": "INVALID_RRN"}]}
    }


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_residence_postgresql_cannot_store_is_an_unknown_municipality(
    write_world: FuzzWorld, text: str
) -> None:
    # given a NIS code no municipality can have
    # when a parent moves to it
    data = await data_of(
        write_world,
        "parent",
        "mutation($p: ID!, $m: String) { updateParent(input: {parentId: $p,"
        " municipalityNisCode: $m}) { errors { field code } } }",
        p=str(write_world.world.parents["own"].id),
        m=text,
    )
    # then it is an unknown municipality
    assert data == {
        "updateParent": {
            "errors": [{"field": ["input", "municipalityNisCode"], "code": "UNKNOWN_MUNICIPALITY"}]
        }
    }


async def test_counter_id_of_digits_int_refuses_names_no_counter(write_world: FuzzWorld) -> None:
    # given "²", a digit for str.isdigit that int() refuses
    # when an admin lists and records agreements of that counter
    listed = await data_of(
        write_world, "admin", 'query { agreements(counterId: "²") { edges { node { id } } } }'
    )
    recorded = await data_of(
        write_world,
        "admin",
        'mutation { recordAgreement(input: {kind: PROCESSING, counterId: "²", version: "v",'
        ' signedOn: "2026-01-01"}) { errors { field code } } }',
    )
    # then there is no such counter
    assert listed == {"agreements": {"edges": []}}
    assert recorded["recordAgreement"]["errors"][0]["field"] == ["input", "counterId"]


async def test_referral_worker_address_postgresql_cannot_store_is_unknown(
    write_world: FuzzWorld,
) -> None:
    organisation = await ReferralOrganisation.get(name="OCMW Leuven")
    data = await data_of(
        write_world,
        "admin",
        "mutation($o: ID!, $e: String!) { addReferralWorker(input: {organisationId: $o,"
        " email: $e}) { errors { field code } } }",
        o=str(organisation.id),
        e="a\x00n@example.be",
    )
    assert data == {
        "addReferralWorker": {"errors": [{"field": ["input", "email"], "code": "UNKNOWN_USER"}]}
    }


async def test_integrator_documents_with_a_lone_surrogate_are_refused(
    write_world: FuzzWorld,
) -> None:
    # given an integrator client
    client, _ = await IntegratorClient.get_or_create(
        user_id=write_world.world.users["integrator_provider"].id, defaults={"name": "fuzz"}
    )
    # when an admin gives public keys, or a manifest, holding a lone surrogate
    keys = await data_of(
        write_world,
        "admin",
        'mutation($j: String) { createIntegratorClient(input: {name: "K", counterId: "1",'
        " withSecret: false, jwks: $j}) { errors { field code } } }",
        j='{"keys": ["\ud800"]}',
    )
    manifest = await data_of(
        write_world,
        "admin",
        'mutation($c: ID!, $t: String!) { registerManifest(input: {clientId: $c, name: "M",'
        " format: GRAPHQL, content: $t}) { errors { field code } } }",
        c=str(client.id),
        t="query Q { __typename } # \ud800",
    )
    # then each is refused as malformed
    assert {"field": ["input", "jwks"], "code": "INVALID_JWKS"} in keys["createIntegratorClient"][
        "errors"
    ]
    assert [e["code"] for e in manifest["registerManifest"]["errors"]] == ["INVALID_FORMAT"]


async def test_free_text_loses_what_postgresql_cannot_store(write_world: FuzzWorld) -> None:
    # given a parent's and a provider's free text with NUL and a lone surrogate in it
    w = write_world.world
    messy = "Gent\x00 en \ud800Brugge"
    application = await Application.get(request_id=w.requests["own"].id)
    # when they correct and answer with it
    parent = await data_of(
        write_world,
        "parent",
        "mutation($p: ID!, $c: ID!, $r: ID!, $t: String) {"
        " updateParent(input: {parentId: $p, birthplace: $t})"
        " { parent { birthplace } errors { code } }"
        " updateChild(input: {childId: $c, nickname: $t}) { child { nickname } errors { code } }"
        " updateCareRequest(input: {requestId: $r, note: $t})"
        " { careRequest { note } errors { code } }"
        " }",
        p=str(w.parents["own"].id),
        c=str(w.children["own"].id),
        r=str(w.requests["own"].id),
        t=messy,
    )
    provider = await data_of(
        write_world,
        "provider_in",
        "mutation($l: ID!, $a: ID!, $t: String!, $k: [PriorityCriterionInput!]) {"
        " texts: updateLocation(input: {locationId: $l, openingHours: $t, priorityPolicy: $t})"
        " { location { openingHours priorityPolicy } errors { code } }"
        " criteria: updateLocation(input: {locationId: $l, priorityCriteria: $k})"
        " { errors { field code } }"
        ' publishLastMinutePlaces(input: {locationId: $l, periodStart: "2030-01-07",'
        ' periodEnd: "2030-01-08", days: [MON], minAgeMonths: 0, maxAgeMonths: 36, places: 1,'
        " note: $t}) { lastMinutePlace { note } errors { code } }"
        " refuseApplication(input: {applicationId: $a, reason: $t}) { errors { code } } }",
        l=str(w.locations["in"].id),
        a=str(application.id),
        t=messy,
        k=[{"criterion": "SIBLING\ud800", "weight": 1}],
    )
    started = await data_of(
        write_world,
        "toeleider",
        "mutation($i: StartDossierInput!) { startDossier(input: $i) { household {"
        " parents { birthplace } children { nickname } mandates { consentNote } }"
        " errors { code } } }",
        i={
            "applicant": {**f.REGISTER_INPUT["applicant"], "birthplace": messy},
            "familySituation": "SINGLE_PARENT",
            "child": {**f.REGISTER_INPUT["child"], "nickname": messy},
            "consent": {"method": "SIGNED_FORM", "givenAt": "2026-01-01T09:00:00Z", "note": messy},
        },
    )
    # then it is kept without them (an unknown criterion is an input error)
    assert parent == {
        "updateParent": {"parent": {"birthplace": "Gent en Brugge"}, "errors": []},
        "updateChild": {"child": {"nickname": "Gent en Brugge"}, "errors": []},
        "updateCareRequest": {"careRequest": {"note": "Gent en Brugge"}, "errors": []},
    }
    assert provider["texts"] == {
        "location": {"openingHours": "Gent en Brugge", "priorityPolicy": "Gent en Brugge"},
        "errors": [],
    }
    assert [e["code"] for e in provider["criteria"]["errors"]] == ["INVALID_CRITERIA"]
    assert provider["publishLastMinutePlaces"] == {
        "lastMinutePlace": {"note": "Gent en Brugge"},
        "errors": [],
    }
    assert provider["refuseApplication"] == {"errors": []}
    assert started == {
        "startDossier": {
            "household": {
                "parents": [{"birthplace": "Gent en Brugge"}],
                "children": [{"nickname": "Gent en Brugge"}],
                "mandates": [{"consentNote": "Gent en Brugge"}],
            },
            "errors": [],
        }
    }
    assert (
        await Application.get(id=application.id).values_list("refusal_reason", flat=True)
        == "Gent en Brugge"
    )
