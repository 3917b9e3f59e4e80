"""Compiled plans for the hot read operations: one SQL statement builds the response.

graphql-core executes field by field (a resolver call, a policy check and often a Task
per field); for a page of 100 dossiers that is most of a request's time. For the
operations that matter most — a dossier by id (`household`) and a provider's inbox
(`inbox`) — this module compiles the operation document once per (document, operation
name, role) into a plan, and serves later requests from it:

- **Policy at plan time.** A plan exists only when every selected field is allowed for
  the role (`FieldPolicy.denied_for`): a document selecting a denied field, and
  anything else the planner does not know (mutations, other root fields, directives,
  abstract types, merged fields, filters), is served by strawberry as before, which
  answers with its FORBIDDEN errors. Validation and the limits run once, at plan time,
  with the schema's own rules; the cost estimate (it depends on the variables) runs
  per request.
- **Rows scoped per request.** The plan renders its SQL with the viewer's grants
  (`permissions.scopes`, the same functions the resolvers use), so rows outside them do
  not exist for it either. The scope is evaluated once per statement where it can be:
  the visible children of a root field's dossiers are one CTE that the JSON and the
  access-log flags probe (`Render.visible_children`); a provider's or sick-child
  service's dossier finds its grant and its visible children in one pass over its
  children (`_dossier_by_children`); an inbox entry's child is in scope by the entry's
  own candidate condition (`_inbox_request`). `tests/test_planner_scope.py` checks each
  against the scope itself.
- **One statement** builds the whole `data` object as JSON in PostgreSQL and, in a
  data-modifying CTE of the same statement, writes the access log rows exactly as
  `AccessLogFlush` would (per dossier and grant, the personal fields actually read —
  a field of a nested object counts only where such an object exists). The inbox ranks
  in the same statement by the keys the database keeps (migration 0010); only when the
  priority explanations are selected does the ranking run in Python
  (`resolvers.inbox.inbox_page`, shared with the resolver), a statement before the
  page's.
- **Bytes once.** The JSON text from PostgreSQL is the response body.

Differential mode (`settings.plan_differential`, on in the test suite): every planned
request is also run through strawberry (without writing the access log), and data,
errors and the access log reads are compared; a difference is logged and kept in
`MISMATCHES`, which the tests check after each test.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import logging
import re
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    parse,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.schema.schema import validate_document

from loket.db import fetch
from loket.errors import InvalidInput
from loket.settings import settings
from permissions.engine import AccessAudit, FieldPolicy
from permissions.policy import Grant
from permissions.scopes import (
    Params,
    child_grants,
    live,
    scopes_children,
    selected_condition,
    visible_applications_condition,
    visible_children_condition,
    visible_households,
)
from permissions.viewer import Viewer
from resolvers.access import parse_id
from schema.limits import estimate_cost

log = logging.getLogger("loket.planner")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

# Set while differential mode runs strawberry alongside a plan (tests count statements
# of the served path only).
SHADOW: contextvars.ContextVar[bool] = contextvars.ContextVar("loket_plan_shadow", default=False)
MISMATCHES: list[dict[str, Any]] = []
# Requests served by a plan, and requests a plan handed to strawberry, since start.
STATS: Counter[str] = Counter()


class Fallback(Exception):
    """This request is not for the plan (e.g. an argument it does not cover): strawberry
    serves it. Raised before any statement of the plan ran, or after a statement that
    wrote nothing (a guarded root, `Part.guard`)."""


class NotForAPlan(Exception):
    """The document names no root field a plan covers, for any role."""


class Unplannable(Exception):
    """The document is not covered by the planner."""


# ---------------------------------------------------------------------------------------
# Compiled selections


@dataclass(frozen=True)
class Item:
    key: str  # response key (alias or name)
    name: str  # field name
    node: FieldNode
    sel: Sel | None  # sub-selection of an object-typed field


@dataclass(frozen=True)
class Sel:
    type_name: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Plan:
    operation_name: str | None
    document: DocumentNode
    operation: OperationDefinitionNode
    roots: tuple[Item, ...]


# ---------------------------------------------------------------------------------------
# Rendering: SQL building blocks per type and field


class Render:
    """One request's rendering state: its parameters, aliases and viewer."""

    def __init__(self, viewer: Viewer, personal: dict[str, dict[str, str]]) -> None:
        self.viewer = viewer
        self.personal = personal
        self.p = Params()
        self._n = 0
        # The row scope of children, evaluated once per statement (see `visible_children`):
        # SQL selecting the households the root field being rendered reaches, the CTEs
        # computing the visible children among theirs, and the CTEs not yet placed.
        self.households: str | None = None
        self._child_scopes: dict[str, str] = {}
        self._pending: list[str] = []
        # Aliases of request rows whose child the root's own grant covers, and whether
        # the inbox being rendered selects its entries in the same statement
        # (`_inbox_request`).
        self.proven: set[str] = set()
        self.entries_proven = False

    def alias(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def param(self, value: Any, cast: str) -> str:
        return f"{self.p.add(value)}::{cast}"

    def lazy(self, value: Any, cast: str) -> Callable[[], str]:
        """A parameter added only once the SQL uses it (PostgreSQL cannot type an unused
        one), then the same placeholder each time."""
        placeholder: list[str] = []

        def get() -> str:
            if not placeholder:
                placeholder.append(self.param(value, cast))
            return placeholder[0]

        return get

    def visible_children(self, x: str) -> str:
        """SQL condition on the child row `x`: the viewer sees it (the grants' child scope,
        `permissions.scopes.visible_children_condition`).

        Within a root field that names the households it reaches (`households`), the scope
        is evaluated once per statement, for the children of those households, in a
        materialized CTE that every use probes: the JSON and the access-log flags of
        children and requests then share one evaluation per child, and the statement holds
        one copy of the condition instead of one per use. (A request's child belongs to
        the request's household: migration 0012 makes the database enforce it, so no
        child a root reaches is outside the CTE's set.)"""
        if not scopes_children(self.viewer):
            return live(x)
        if self.households is None:
            return visible_children_condition(
                self.viewer, self.p, x, emergency_days=settings.emergency_days
            )
        vc = self._child_scopes.get(self.households)
        if vc is None:
            vc, c = self.alias("vc"), self.alias("c")
            condition = visible_children_condition(
                self.viewer, self.p, c, emergency_days=settings.emergency_days
            )
            self._pending.append(
                f"{vc} AS MATERIALIZED (SELECT {c}.id FROM child {c} "
                f"WHERE {c}.household_id IN ({self.households}) AND {condition})"
            )
            self._child_scopes[self.households] = vc
        return f"{x}.id IN (SELECT {vc}.id FROM {vc})"

    @contextlib.contextmanager
    def root(self, households: str | None, *, entries_proven: bool = False) -> Iterator[None]:
        """Render within one root field: SQL selecting the households it reaches (for
        `visible_children`), and whether its inbox entries prove their children's scope
        (`_inbox_request`)."""
        saved = self.households, self.entries_proven
        self.households, self.entries_proven = households, entries_proven
        try:
            yield
        finally:
            self.households, self.entries_proven = saved

    def provide_child_scope(self, households: str, vc: str) -> None:
        """The root's own CTE `vc` holds the visible children of `households`."""
        self._child_scopes[households] = vc

    def take_ctes(self) -> list[str]:
        """The CTEs rendering added since the last call (each goes before its first use)."""
        taken, self._pending = self._pending, []
        return taken

    def object(self, sel: Sel, a: str, grant: str) -> str:
        """SQL building the JSON object of `sel` for the row `a`."""
        spec = SPECS[sel.type_name]
        parts = []
        for item in sel.items:
            if item.name == "__typename":
                value = f"'{sel.type_name}'::text"
            else:
                value = spec[item.name].json(self, a, item, grant)
            parts.append(f"'{item.key}', {value}")
        return f"json_build_object({', '.join(parts)})"

    def reads(self, sel: Sel, a: str) -> list[tuple[str | None, tuple[str, ...]]]:
        """(condition, qualified names): the personal fields `sel` reads for the row `a`,
        each under the SQL condition that the object holding it exists (None: it does
        whenever `a` does), as the executor records a field only for objects it resolves.
        The condition asks the same relation the JSON is built from (`Rel.source`)."""
        own = self.personal.get(sel.type_name, {})
        names = tuple(own[i.name] for i in sel.items if i.name in own)
        found: list[tuple[str | None, tuple[str, ...]]] = [(None, names)] if names else []
        spec = SPECS[sel.type_name]
        for item in sel.items:
            if item.sel is None:
                continue
            kind = spec[item.name]
            if isinstance(kind, Same):
                found.extend(self.reads(item.sel, a))
                continue
            x = kind.alias(self)
            found_inside = self.reads(item.sel, x)
            if not found_inside:  # (a source adds parameters: only when the SQL uses it)
                continue
            source: str | None = None
            for condition, inner in found_inside:
                if condition is None and kind.always:
                    found.append((None, inner))
                    continue
                source = source or kind.source(self, a, x)
                where = "" if condition is None else f" WHERE {condition}"
                found.append((f"EXISTS (SELECT 1 FROM (SELECT {x}.* {source}) {x}{where})", inner))
        return found

    def groups(self, sel: Sel, a: str) -> list[tuple[str, tuple[str, ...]]]:
        """`reads` with every condition as SQL ("true" where the row itself suffices)."""
        return [("true" if c is None else c, names) for c, names in self.reads(sel, a)]


class Col:
    """A value computed from the row: `expr(render, alias)` is its SQL."""

    def __init__(self, expr: str | Callable[[Render, str], str]) -> None:
        self.expr = expr

    def json(self, rc: Render, a: str, item: Item, grant: str) -> str:
        if isinstance(self.expr, str):
            return self.expr.format(a=a)
        return self.expr(rc, a)


class GrantName:
    """The grant the dossier was reached by (Household.viewerGrant)."""

    def json(self, rc: Render, a: str, item: Item, grant: str) -> str:
        return grant


Source = Callable[[Render, str, str], str]  # (render, parent alias, own alias) -> FROM ... WHERE


class Rel:
    """A nested object (or list of objects) read by a subquery."""

    def __init__(
        self,
        source: Source,
        *,
        many: bool = False,
        order: str | None = None,
        always: bool = False,
        proves: bool = False,
    ) -> None:
        self.source = source
        self.many = many
        self.order = order
        self.always = always  # one object exists for every row (a required reference)
        self.proves = proves  # an inbox entry's request (see `_inbox_request`)

    def alias(self, rc: Render) -> str:
        """A new alias for this relation's rows."""
        x = rc.alias("x")
        if self.proves and rc.entries_proven:
            rc.proven.add(x)
        return x

    def json(self, rc: Render, a: str, item: Item, grant: str) -> str:
        assert item.sel is not None
        x = self.alias(rc)
        frm = self.source(rc, a, x)
        obj = rc.object(item.sel, x, grant)
        if not self.many:
            return f"(SELECT {obj} {frm})"
        order = f" ORDER BY {self.order.format(a=x)}" if self.order else ""
        return f"coalesce((SELECT json_agg({obj}{order}) {frm}), '[]'::json)"


class Same:
    """A nested object built from the same row (e.g. an inbox entry's explanation)."""

    def json(self, rc: Render, a: str, item: Item, grant: str) -> str:
        assert item.sel is not None
        return rc.object(item.sel, a, grant)


def timestamp(column: str) -> str:
    """A timestamptz as strawberry writes a UTC datetime (`isoformat()`: microseconds
    only when not zero, offset +00:00)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE "
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || '+00:00' END"
    )


def _ts(name: str) -> Col:
    return Col(lambda rc, a: timestamp(f"{a}.{name}"))


def _children_of(rc: Render, a: str, x: str) -> str:
    return f"FROM child {x} WHERE {x}.household_id = {a}.id AND {rc.visible_children(x)}"


def _child_of_request(rc: Render, a: str, x: str) -> str:
    if a in rc.proven:  # the root's grant is this request's: its child is in scope if live
        return f"FROM child {x} WHERE {x}.id = {a}.child_id AND {live(x)}"
    return f"FROM child {x} WHERE {x}.id = {a}.child_id AND {rc.visible_children(x)}"


def _requests_of(rc: Render, a: str, x: str) -> str:
    c = rc.alias("c")
    return (
        f"FROM care_request {x} JOIN child {c} ON {c}.id = {x}.child_id "
        f"WHERE {x}.household_id = {a}.id AND {rc.visible_children(c)}"
    )


def _inbox_request(rc: Render, a: str, x: str) -> str:
    """An inbox entry's request. The entry exists because the viewer's grant covers this
    request's child: its candidate condition (`resolvers.inbox`) is the PROVIDER_SELECTED
    branch of the child scope (an open application at the viewer's location, request
    open) or the PROVIDER_EMERGENCY one (on the list of the location's municipality), and
    both require the child live. So the child's scope is proven for this row and is not
    asked again (`tests/test_planner_scope.py` checks the claim against the scope)."""
    return f"FROM care_request {x} WHERE {x}.id = {a}.request_id"


def _applications_of(rc: Render, a: str, x: str) -> str:
    cond = visible_applications_condition(rc.viewer, rc.p, x)
    return f"FROM application {x} WHERE {x}.request_id = {a}.id AND {cond}"


def _on_emergency_list(rc: Render, a: str) -> str:
    days = rc.param(settings.emergency_days, "int")
    return f"({a}.status = 'OPEN' AND {a}.desired_start_date <= current_date + {days})"


_MUNICIPALITY = Rel(
    lambda rc, a, x: f"FROM municipality {x} WHERE {x}.nis_code = {a}.municipality_id"
)
_WEEKDAYS = "ARRAY['MON','TUE','WED','THU','FRI','SAT','SUN']"

SPECS: dict[str, dict[str, Any]] = {
    "Municipality": {"nisCode": Col("{a}.nis_code"), "name": Col("{a}.name")},
    "Household": {
        "id": Col("{a}.id"),
        "viewerGrant": GrantName(),
        "familySituation": Col("{a}.family_situation"),
        "incomeBelowThreshold": Col("{a}.income_below_threshold"),
        "residence": _MUNICIPALITY,
        "parents": Rel(
            lambda rc, a, x: f"FROM parent {x} WHERE {x}.household_id = {a}.id",
            many=True,
            order="{a}.is_applicant DESC, {a}.id",
        ),
        "children": Rel(_children_of, many=True, order="{a}.created_at, {a}.id"),
        "requests": Rel(_requests_of, many=True, order="{a}.submitted_at, {a}.id"),
    },
    "Parent": {
        "id": Col("{a}.id"),
        "firstName": Col("{a}.first_name"),
        "lastName": Col("{a}.last_name"),
        "street": Col("{a}.street"),
        "postalCode": Col("{a}.postal_code"),
        "municipality": _MUNICIPALITY,
        "phone": Col("{a}.phone"),
        "email": Col("{a}.email"),
        "nationality": Col("{a}.nationality"),
        "birthplace": Col("{a}.birthplace"),
        "homeLanguage": Col("{a}.home_language"),
        "relationToChild": Col("{a}.relation_to_child"),
        "isApplicant": Col("{a}.is_applicant"),
        "workSituation": Col("{a}.work_situation"),
        "workSharePercent": Col("{a}.work_share_percent"),
        "educationLevel": Col("{a}.education_level"),
        "hasAccount": Col("({a}.user_id IS NOT NULL)"),
    },
    "Child": {
        "id": Col("{a}.id"),
        "firstName": Col("{a}.first_name"),
        "lastName": Col("{a}.last_name"),
        "nickname": Col("{a}.nickname"),
        "birthDate": Col("{a}.birth_date"),
        "expectedBirthDate": Col("{a}.expected_birth_date"),
        "isBorn": Col("({a}.birth_date IS NOT NULL)"),
    },
    "CareRequest": {
        "id": Col("{a}.id"),
        "desiredStartDate": Col("{a}.desired_start_date"),
        "carePattern": Rel(
            lambda rc, a, x: f"FROM jsonb_each_text({a}.care_pattern) {x}(day, part) WHERE true",
            many=True,
            order=f"array_position({_WEEKDAYS}, {{a}}.day)",
        ),
        "note": Col("{a}.note"),
        "status": Col("{a}.status"),
        "submittedAt": _ts("submitted_at"),
        "onEmergencyList": Col(_on_emergency_list),
        "closedAt": _ts("closed_at"),
        "child": Rel(_child_of_request),
        "applications": Rel(_applications_of, many=True, order="{a}.preference, {a}.id"),
        # The locations the family chose, in order (an emergency offer is not a choice).
        "preferredLocations": Rel(
            lambda rc, a, x: (
                f"FROM application {x}p JOIN provider_location {x} ON {x}.id = {x}p.location_id "
                f"WHERE {x}p.request_id = {a}.id AND NOT {x}p.by_emergency_offer"
            ),
            many=True,
            order="{a}p.preference, {a}p.id",
        ),
    },
    "CareDay": {"day": Col("{a}.day"), "part": Col("{a}.part")},
    "Application": {
        "id": Col("{a}.id"),
        "location": Rel(
            lambda rc, a, x: f"FROM provider_location {x} WHERE {x}.id = {a}.location_id"
        ),
        "preference": Col("{a}.preference"),
        "status": Col("{a}.status"),
        "offeredStartDate": Col("{a}.offered_start_date"),
        "replyDeadline": Col("{a}.reply_deadline"),
    },
    "ProviderLocation": {
        "id": Col("{a}.id"),
        "name": Col("{a}.name"),
        "organisationName": Col(
            "(SELECT o.name FROM provider_organisation o WHERE o.id = {a}.organisation_id)"
        ),
        "street": Col("{a}.street"),
        "postalCode": Col("{a}.postal_code"),
        "municipality": _MUNICIPALITY,
        "kind": Col("{a}.kind"),
        "capacity": Col("{a}.capacity"),
        "tariff": Col("{a}.tariff"),
        "subsidyStep": Col("{a}.subsidy_step"),
        "minAgeMonths": Col("{a}.min_age_months"),
        "maxAgeMonths": Col("{a}.max_age_months"),
        "openingHours": Col("{a}.opening_hours"),
        "priorityPolicy": Col("{a}.priority_policy"),
        "lastMinutePlaces": Col(
            """(SELECT coalesce(sum(lmp.places), 0) FROM last_minute_place lmp
                WHERE lmp.location_id = {a}.id AND lmp.withdrawn_at IS NULL
                  AND lmp.period_end >= current_date)::int"""
        ),
    },
    # An inbox entry is a row of the page's units (see `_inbox`).
    "InboxEntry": {
        "rank": Col("{a}.rank"),
        "priority": Same(),
        "overdue": Col("{a}.overdue"),
        "reason": Col("{a}.reason"),
        "application": Rel(
            lambda rc, a, x: f"FROM application {x} WHERE {x}.id = {a}.application_id"
        ),
        "request": Rel(_inbox_request, always=True, proves=True),
        "household": Rel(
            lambda rc, a, x: f"FROM household {x} WHERE {x}.id = {a}.household_id", always=True
        ),
    },
    "PriorityExplanation": {
        "ruleSet": Col("{a}.rule_set"),
        "ruleSetName": Col("{a}.rule_set_name"),
        "tier": Col("{a}.tier"),
        "score": Col("{a}.score"),
        "reasons": Col("{a}.reasons::json"),
    },
    "InboxEntryEdge": {"cursor": Col("{a}.cursor"), "node": Same()},
    # A search result is a row of the page (see `_last_minute_places`).
    "LastMinutePlaceEdge": {
        "cursor": Col("{a}.cursor"),
        "node": Same(),
        "distanceKm": Col("NULL::float8"),  # (sorting by distance is left to strawberry)
    },
    "LastMinutePlace": {
        "id": Col("{a}.id"),
        "location": Rel(
            lambda rc, a, x: f"FROM provider_location {x} WHERE {x}.id = {a}.location_id",
            always=True,
        ),
        "periodStart": Col("{a}.period_start"),
        "periodEnd": Col("{a}.period_end"),
        "days": Col("to_json({a}.days)"),
        "minAgeMonths": Col("{a}.min_age_months"),
        "maxAgeMonths": Col("{a}.max_age_months"),
        "places": Col("{a}.places"),
        "note": Col("{a}.note"),
        "withdrawnAt": _ts("withdrawn_at"),
    },
}

# Types whose objects are built by the root renderers themselves.
_ROOT_ONLY = {
    "InboxEntryConnection",
    "HouseholdConnection",
    "HouseholdEdge",
    "LastMinutePlaceConnection",
    "PageInfo",
}


# ---------------------------------------------------------------------------------------
# Root fields


@dataclass
class Part:
    """What one root field adds to the statement."""

    ctes: list[str]
    data: str  # SQL of the field's JSON value
    # SQL of (household_id, grant_name, fields) rows, or None; rendered only when the
    # request is logged (its parameters must then be used).
    reads: Callable[[], Reads] | None
    # SQL: whether the answer stands; when false, strawberry answers instead (with the
    # error its resolver raises). Only on roots of `_GUARDED`, which read no personal data.
    guard: str | None = None


async def _household(rc: Render, item: Item, args: dict[str, Any]) -> Part:
    household_id = parse_id(args["id"])
    if household_id is None:
        return Part([], "NULL::json", None)
    u = rc.alias("u")
    c = rc.alias("c")
    grants = child_grants(rc.viewer, rc.p, c, emergency_days=settings.emergency_days)
    if grants is not None:
        return _dossier_part(rc, item, u, _dossier_by_children(rc, u, c, household_id, grants))
    visible = visible_households(rc.viewer, rc.p, emergency_days=settings.emergency_days)
    cte = (
        f"{u} AS MATERIALIZED (SELECT v.household_id, v.grant_name FROM ({visible}) v "
        f"WHERE v.household_id = {rc.param(household_id, 'uuid')})"
    )
    return _dossier_part(rc, item, u, cte)


def _dossier_by_children(
    rc: Render, u: str, c: str, household_id: uuid.UUID, grants: list[tuple[Grant, bool, str]]
) -> str:
    """The CTEs of one dossier for a role whose grants are about children
    (`permissions.scopes.child_grants`): one pass over the dossier's children gives each
    the first grant it meets, the dossier's grant is the first of those, and its
    visible children are the live ones with a grant (`u` and the child scope of
    `Render.visible_children`, which the rendering then probes). One evaluation of the
    scope per child, instead of the dossier's branches and then each child's."""
    k, vc = rc.alias("k"), rc.alias("vc")
    hid = rc.param(household_id, "uuid")
    case = " ".join(  # (the grants come in `Grant` order: the first one met wins)
        f"WHEN {f'{live(c)} AND ' if needs_live else ''}{condition} THEN {n}"
        for n, (_, needs_live, condition) in enumerate(grants)
    )
    names = ", ".join(f"'{grant.value}'" for grant, _, _ in grants)
    rc.provide_child_scope(_households_of(u), vc)
    return (
        f"{k} AS MATERIALIZED (SELECT {c}.id, {live(c)} AS live, CASE {case} END AS g "
        f"FROM child {c} JOIN household h ON h.id = {c}.household_id "
        f"WHERE {c}.household_id = {hid} AND {live('h')}), "
        f"{u} AS MATERIALIZED (SELECT {hid} AS household_id, "
        f"(ARRAY[{names}]::text[])[min({k}.g) + 1] AS grant_name FROM {k} "
        f"HAVING min({k}.g) IS NOT NULL), "
        f"{vc} AS MATERIALIZED (SELECT {k}.id FROM {k} WHERE {k}.live AND {k}.g IS NOT NULL)"
    )


def _households_of(u: str, where: str | None = None) -> str:
    """SQL selecting the households of the root's rows `u` (the key of their child scope,
    `Render.visible_children`)."""
    return f"SELECT {u}.household_id FROM {u}" + (f" WHERE {where}" if where else "")


def _dossier_part(rc: Render, item: Item, u: str, cte: str) -> Part:
    """The JSON of one dossier root field, built once for data and access log."""
    assert item.sel is not None
    d, h = rc.alias("d"), rc.alias("h")
    with rc.root(_households_of(u)):
        built = (
            f"{d} AS MATERIALIZED (SELECT {u}.household_id, {u}.grant_name, "
            f"{rc.object(item.sel, h, f'{u}.grant_name')} AS j "
            f"FROM {u} JOIN household {h} ON {h}.id = {u}.household_id)"
        )
        r = rc.alias("h")
        reads = _reads(
            rc, item.sel, u, r, f"FROM {u} JOIN household {r} ON {r}.id = {u}.household_id"
        )
    return Part([cte, *rc.take_ctes(), built], f"(SELECT j FROM {d})", reads)


@dataclass
class Reads:
    """What one root field reads, per dossier: `select` names the dossier and grant of each
    row of `frm`; each group is (SQL condition on that row, personal fields it reads)."""

    select: str
    frm: str
    groups: list[tuple[str, tuple[str, ...]]]


def _reads(rc: Render, sel: Sel, u: str, row: str, frm: str) -> Callable[[], Reads]:
    """The reads of the objects `sel` builds from the row `row` of `frm` (`u` holds the
    dossier and grant), rendered when used, within the root field as the JSON was
    (`Render.root`)."""
    households, proven = rc.households, rc.entries_proven

    def render() -> Reads:
        with rc.root(households, entries_proven=proven):
            return Reads(f"{u}.household_id, {u}.grant_name", frm, rc.groups(sel, row))

    return render


async def _inbox(rc: Render, item: Item, args: dict[str, Any]) -> Part:
    assert item.sel is not None
    if args.get("filter") is not None:
        raise Fallback("inbox filters are not planned")
    location = parse_id(args["locationId"])
    if location is None or location not in rc.viewer.location_ids:
        return Part([], "NULL::json", None)
    u = rc.alias("u")
    in_python = _selects(item.sel, "priority")
    if in_python:
        cte, has_next, end_cursor = await _inbox_ranked_in_python(rc, u, location, args)
    else:
        cte, has_next, end_cursor = _inbox_ranked_in_sql(rc, u, location, args)
    with rc.root(
        _households_of(u, f"{u}.on_page"),
        # Ranked in SQL, the entries are selected by the statement that reads their
        # requests: the candidate condition holds for each row read (`_inbox_request`).
        entries_proven=not in_python,
    ):
        return _inbox_part(rc, item, u, cte, has_next, end_cursor)


def _inbox_part(
    rc: Render,
    item: Item,
    u: str,
    cte: str,
    has_next: Callable[[], str],
    end_cursor: Callable[[], str],
) -> Part:
    """The inbox connection built from the page's rows `u` (within `Render.root`)."""
    assert item.sel is not None
    ctes = [cte]
    parts = []
    reads: Callable[[], Reads] | None = None
    for conn_item in item.sel.items:
        if conn_item.name == "__typename":
            parts.append(f"'{conn_item.key}', 'InboxEntryConnection'::text")
        elif conn_item.name == "edges":
            assert conn_item.sel is not None
            d = rc.alias("d")
            edge = rc.object(conn_item.sel, u, f"{u}.grant_name")
            ctes.extend(rc.take_ctes())
            ctes.append(
                f"{d} AS MATERIALIZED (SELECT {u}.household_id, {u}.grant_name, {u}.ord, "
                f"{edge} AS j FROM {u} WHERE {u}.on_page)"
            )
            parts.append(
                f"'{conn_item.key}', coalesce((SELECT json_agg(j ORDER BY ord) FROM {d}), "
                "'[]'::json)"
            )
            reads = _reads(rc, conn_item.sel, u, u, f"FROM {u} WHERE {u}.on_page")
        else:  # pageInfo
            parts.append(_page_info(conn_item, has_next, end_cursor))
    return Part(ctes, f"json_build_object({', '.join(parts)})", reads)


def _selects(sel: Sel, name: str) -> bool:
    """Whether `name` is selected anywhere in `sel`."""
    return any(i.name == name or (i.sel is not None and _selects(i.sel, name)) for i in sel.items)


InboxRows = tuple[str, Callable[[], str], Callable[[], str]]  # CTE, hasNextPage, endCursor


async def _inbox_ranked_in_python(
    rc: Render, u: str, location: uuid.UUID, args: dict[str, Any]
) -> InboxRows:
    """The page ranked by the priority engine, which also explains each place: every
    candidate is loaded and ranked (`resolvers.inbox.inbox_page`), the page's rows then
    travel to the statement as arrays."""
    from resolvers.inbox import RULE_SET_NAMES, cursor_of, inbox_page

    page = await inbox_page(location, None, args["first"], args.get("after"))
    rankings = [k for k, _ in page.entries]
    rows = [e for _, e in page.entries]
    columns = [
        ("request_id", "uuid", [e["request_id"] for e in rows]),
        ("application_id", "uuid", [e["application_id"] for e in rows]),
        ("household_id", "uuid", [e["household_id"] for e in rows]),
        ("grant_name", "text", [e["grant_name"] for e in rows]),
        ("reason", "text", [e["reason"] for e in rows]),
        ("rank", "int", list(range(page.start + 1, page.start + 1 + len(rows)))),
        ("overdue", "bool", [e["overdue"] for e in rows]),
        ("cursor", "text", [cursor_of(k) for k in rankings]),
        ("tier", "int", [k.tier for k in rankings]),
        ("score", "int", [k.score for k in rankings]),
        ("rule_set", "text", [k.rule_set for k in rankings]),
        ("rule_set_name", "text", [RULE_SET_NAMES.get(k.rule_set, k.rule_set) for k in rankings]),
        ("reasons", "text", [orjson.dumps(list(k.reasons)).decode() for k in rankings]),
    ]
    arrays = ", ".join(rc.param(values, f"{cast}[]") for _, cast, values in columns)
    names = ", ".join(name for name, _, _ in columns)
    cte = (
        f"{u} AS MATERIALIZED (SELECT *, true AS on_page "
        f"FROM unnest({arrays}) WITH ORDINALITY AS t({names}, ord))"
    )
    return (
        cte,
        rc.lazy(page.has_next, "bool"),
        rc.lazy(cursor_of(rankings[-1]) if rankings else None, "text"),
    )


def _inbox_ranked_in_sql(
    rc: Render, u: str, location: uuid.UUID, args: dict[str, Any]
) -> InboxRows:
    """The page in one statement, in the order of the keys the database keeps for each
    application (`application.rank_tier`/`rank_score`, migration 0010) and computes for
    the few emergency-list requests (`loket_rank_of`): the engine's order, as
    `resolvers.inbox.inbox_page` ranks, without loading every candidate."""
    from resolvers.inbox import after_key, emergency_entry
    from schema.common import page_size

    size = page_size(args["first"])
    after = after_key(args.get("after"))  # a bad cursor: InvalidInput, strawberry reports it
    loc = rc.param(location, "uuid")
    # Settings, written into the SQL (whole numbers): as parameters, PostgreSQL's generic
    # plan would not know how many requests the emergency list holds, and plan each call.
    days = str(int(settings.emergency_days))
    answer_days = str(int(settings.answer_days))
    c, k = rc.alias("c"), rc.alias("k")
    candidates = f"""{c} AS MATERIALIZED (
        SELECT a.request_id, a.id AS application_id, 'SELECTED'::text AS reason,
               'PROVIDER_SELECTED'::text AS grant_name, r.household_id, r.submitted_at,
               a.rank_tier::int AS tier, a.rank_score AS score,
               coalesce(a.status = 'PENDING'
                        AND a.created_at < now() - make_interval(days => {answer_days}), false)
                   AS overdue
        FROM application a JOIN care_request r ON r.id = a.request_id
        JOIN household h ON h.id = r.household_id JOIN child ch ON ch.id = r.child_id
        WHERE {selected_condition("a", "r", f"ARRAY[{loc}]")}
          AND h.anonymised_at IS NULL AND ch.anonymised_at IS NULL
        UNION ALL
        SELECT r.id, NULL, 'EMERGENCY_LIST', 'PROVIDER_EMERGENCY', r.household_id,
               r.submitted_at, rk.tier, rk.score, false
        FROM care_request r JOIN household eh ON eh.id = r.household_id
        JOIN child ch ON ch.id = r.child_id
        CROSS JOIN LATERAL loket_rank_of(r.id, {loc}, false) rk
        WHERE {emergency_entry(loc, days)}
          AND eh.anonymised_at IS NULL AND ch.anonymised_at IS NULL)"""
    key = f"({c}.tier, -{c}.score, {c}.submitted_at, {c}.request_id)"
    where = ""
    if after is not None:
        tier, minus_score, submitted, request_id = after
        where = (
            f"WHERE {key} > ({rc.param(tier, 'int')}, {rc.param(minus_score, 'int')}, "
            f"{rc.param(submitted, 'timestamptz')}, {rc.param(request_id, 'uuid')})"
        )
    # The cursor is `resolvers.inbox.cursor_of`: tier|-score|submitted (isoformat)|id.
    cursor = _cursor_sql(  # of a page row `p`
        f"p.tier || '|' || -p.score || '|' || {timestamp('p.submitted_at')} || '|' || p.request_id"
    )
    ranked = f"""{k} AS MATERIALIZED (
        SELECT {c}.*, row_number() OVER (ORDER BY {key}) AS rank FROM {c})"""
    limit = rc.param(size, "int")
    page = f"""{u} AS MATERIALIZED (
        SELECT p.*, p.ord <= {limit} AS on_page, {cursor} AS cursor FROM (
            SELECT {c}.*, row_number() OVER (ORDER BY {c}.rank) AS ord FROM {k} {c}
            {where} ORDER BY {c}.rank LIMIT {limit} + 1) p)"""
    return (
        f"{candidates}, {ranked}, {page}",
        lambda: f"EXISTS (SELECT 1 FROM {u} WHERE NOT {u}.on_page)",
        lambda: f"(SELECT {u}.cursor FROM {u} WHERE {u}.on_page ORDER BY {u}.ord DESC LIMIT 1)",
    )


def _page_info(item: Item, has_next: Callable[[], str], end_cursor: Callable[[], str]) -> str:
    assert item.sel is not None
    info = []
    for i in item.sel.items:
        if i.name == "__typename":
            value = "'PageInfo'::text"
        elif i.name == "hasNextPage":
            value = has_next()
        else:  # endCursor
            value = end_cursor()
        info.append(f"'{i.key}', {value}")
    return f"'{item.key}', json_build_object({', '.join(info)})"


async def _my_household(rc: Render, item: Item, args: dict[str, Any]) -> Part:
    u = rc.alias("u")
    visible = visible_households(rc.viewer, rc.p, emergency_days=settings.emergency_days)
    cte = f"{u} AS MATERIALIZED (SELECT v.household_id, v.grant_name FROM ({visible}) v LIMIT 1)"
    return _dossier_part(rc, item, u, cte)


def _cursor_sql(column: str) -> str:
    """`schema.common.encode_cursor` of a uuid column (URL-safe base64 of its text)."""
    # (PostgreSQL's base64 breaks lines every 76 characters: the newlines are dropped.)
    return f"translate(encode(convert_to({column}::text, 'UTF8'), 'base64'), E'+/\\n', '-_')"


async def _dossiers(rc: Render, item: Item, args: dict[str, Any]) -> Part:
    from resolvers.access import after_id
    from schema.common import page_size

    assert item.sel is not None
    size = page_size(args["first"])
    u = rc.alias("u")
    visible = visible_households(rc.viewer, rc.p, emergency_days=settings.emergency_days)
    where = after_id(rc.p, args.get("after"), "v.household_id", "WHERE")
    cte = (
        f"{u} AS MATERIALIZED (SELECT v.household_id, v.grant_name, "
        f"row_number() OVER (ORDER BY v.household_id) AS ord FROM ({visible}) v "
        f"{where} ORDER BY v.household_id LIMIT {rc.param(size + 1, 'int')})"
    )
    limit = rc.lazy(size, "int")
    ctes = [cte]
    parts = []
    reads: Callable[[], Reads] | None = None
    for conn_item in item.sel.items:
        if conn_item.name == "__typename":
            parts.append(f"'{conn_item.key}', 'HouseholdConnection'::text")
        elif conn_item.name == "edges":
            assert conn_item.sel is not None
            d, h = rc.alias("d"), rc.alias("h")
            node = next((i for i in conn_item.sel.items if i.name == "node"), None)
            built = "NULL::json"
            if node is not None:
                assert node.sel is not None
                # (the children of one row past the page are scoped too: a small waste)
                with rc.root(_households_of(u)):
                    built = rc.object(node.sel, h, f"{u}.grant_name")
                    r = rc.alias("h")
                    reads = _reads(
                        rc,
                        node.sel,
                        u,
                        r,
                        f"FROM {u} JOIN household {r} ON {r}.id = {u}.household_id "
                        f"WHERE {u}.ord <= {limit()}",
                    )
                ctes.extend(rc.take_ctes())
            ctes.append(
                f"{d} AS MATERIALIZED (SELECT {u}.household_id, {u}.grant_name, {u}.ord, "
                f"{built} AS j FROM {u} JOIN household {h} ON {h}.id = {u}.household_id "
                f"WHERE {u}.ord <= {limit()})"
            )
            fields = []
            for i in conn_item.sel.items:
                if i.name == "__typename":
                    fields.append(f"'{i.key}', 'HouseholdEdge'::text")
                elif i.name == "cursor":
                    fields.append(f"'{i.key}', {_cursor_sql(f'{d}.household_id')}")
                else:  # node
                    fields.append(f"'{i.key}', {d}.j")
            edge = f"json_build_object({', '.join(fields)})"
            parts.append(
                f"'{conn_item.key}', coalesce((SELECT json_agg({edge} ORDER BY {d}.ord) "
                f"FROM {d}), '[]'::json)"
            )
        else:  # pageInfo
            parts.append(
                _page_info(
                    conn_item,
                    lambda: f"((SELECT count(*) FROM {u}) > {limit()})",
                    lambda: (
                        f"(SELECT {_cursor_sql(f'{u}.household_id')} FROM {u} WHERE {u}.ord = "
                        f"(SELECT max({u}.ord) FROM {u} WHERE {u}.ord <= {limit()}))"
                    ),
                )
            )
    return Part(ctes, f"json_build_object({', '.join(parts)})", reads)


async def _last_minute_places(rc: Render, item: Item, args: dict[str, Any]) -> Part:
    """The public last-minute search (`resolvers.providers.search_last_minute_page`): the
    same conditions and keyset order by start, each place's JSON built in the statement.
    Sorting by distance (`near`) and invalid filters are left to strawberry; an unknown
    municipality or postal code is found by the statement (the guard), which reads only
    public data, and strawberry then reports it."""
    from resolvers.providers import (
        BY_START,
        _after,
        _area_checks,
        _area_conditions,
        last_minute_conditions,
        validate_last_minute_filter,
    )
    from resolvers.validation import Errors
    from schema.common import page_size
    from schema.providers import LastMinuteSearchInput

    assert item.sel is not None
    raw = args.get("filter")
    if raw is not None and raw.get("near") is not None:
        raise Fallback("sorting by distance is not planned")
    data = None
    if raw is not None:
        data = LastMinuteSearchInput(
            municipality_nis_code=raw.get("municipalityNisCode"),
            postal_code=raw.get("postalCode"),
            from_date=raw.get("fromDate"),
            to_date=raw.get("toDate"),
            age_months=raw.get("ageMonths"),
            days=raw.get("days"),
        )
    errors = Errors()
    query = validate_last_minute_filter(errors, ["filter"], data)
    if errors:
        raise Fallback("an invalid filter")
    size = page_size(args["first"])
    c, u = rc.alias("c"), rc.alias("u")
    checks = _area_checks(query.area, rc.p)
    known = [
        column
        for column, given in (
            ("municipality_known", query.area.municipality),
            ("postal_code_known", query.area.postal_code),
        )
        if given is not None
    ]
    conditions = [*last_minute_conditions(query, rc.p), *_area_conditions(query.area, rc.p)]
    keyset = _after(BY_START, args.get("after"), "p.id", rc.p)  # (InvalidInput: fallback)
    if keyset is not None:
        conditions.append(keyset)
    # The cursor is `resolvers.providers._cursor`: ["start", "YYYY-MM-DD", "id"] as JSON.
    cursor = _cursor_sql(
        """'["start","' || to_char(p.period_start, 'YYYY-MM-DD') || '","' || p.id || '"]'"""
    )
    limit = rc.param(size, "int")
    ctes = [
        f"{c} AS MATERIALIZED (SELECT {checks})",
        f"""{u} AS MATERIALIZED (
            SELECT p.*, {cursor} AS cursor,
                   row_number() OVER (ORDER BY p.period_start, p.id) AS ord
            FROM last_minute_place p JOIN provider_location l ON l.id = p.location_id
            WHERE {" AND ".join(conditions)}
            ORDER BY p.period_start, p.id LIMIT {limit} + 1)""",
    ]
    parts = []
    for conn_item in item.sel.items:
        if conn_item.name == "__typename":
            parts.append(f"'{conn_item.key}', 'LastMinutePlaceConnection'::text")
        elif conn_item.name == "edges":
            assert conn_item.sel is not None
            edge = rc.object(conn_item.sel, u, "NULL")
            parts.append(
                f"'{conn_item.key}', coalesce((SELECT json_agg({edge} ORDER BY {u}.ord) "
                f"FROM {u} WHERE {u}.ord <= {limit}), '[]'::json)"
            )
        else:  # pageInfo
            parts.append(
                _page_info(
                    conn_item,
                    lambda: f"((SELECT count(*) FROM {u}) > {limit})",
                    lambda: (
                        f"(SELECT {u}.cursor FROM {u} WHERE {u}.ord <= {limit} "
                        f"ORDER BY {u}.ord DESC LIMIT 1)"
                    ),
                )
            )
    guard = f"(SELECT {' AND '.join(known)} FROM {c})" if known else None
    return Part(ctes, f"json_build_object({', '.join(parts)})", None, guard)


ROOTS: dict[str, Callable[[Render, Item, dict[str, Any]], Any]] = {
    "household": _household,
    "myHousehold": _my_household,
    "dossiers": _dossiers,
    "inbox": _inbox,
    "lastMinutePlaces": _last_minute_places,
}
# Roots whose answer is only known to stand after their statement ran (`Part.guard`): they
# are planned alone, so falling back to strawberry then repeats no logged read.
_GUARDED = {"lastMinutePlaces"}
_ROOT_ONLY_FIELDS = {
    "InboxEntryConnection": {"edges", "pageInfo"},
    "HouseholdConnection": {"edges", "pageInfo"},
    "HouseholdEdge": {"cursor", "node"},
    "LastMinutePlaceConnection": {"edges", "pageInfo"},
    "PageInfo": {"hasNextPage", "endCursor"},
}


# ---------------------------------------------------------------------------------------
# Compilation


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        denied: dict[str, frozenset[str]],
        fragments: dict[str, FragmentDefinitionNode],
    ) -> None:
        self.schema = schema
        self.denied = denied
        self.fragments = fragments

    def selection(self, gtype: GraphQLObjectType, nodes: list[SelectionSetNode | None]) -> Sel:
        """The merged selection of one or more selection sets on `gtype` (a field selected
        several times under one response key — e.g. `__typename` in a fragment and beside
        it, as Apollo Client writes — is one item: validation guarantees the fields merge)."""
        fields: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node is None:
                raise Unplannable("an object without a selection")
            self._collect(gtype, node, fields, set())
        if not fields or len(fields) > 50:  # json_build_object takes at most 100 arguments
            raise Unplannable("selection size")
        items = tuple(self._field(gtype, key, group) for key, group in fields.items())
        if gtype.name in _ROOT_ONLY:  # connections are built with one JSON per row
            names = [i.name for i in items]
            if len(names) != len(set(names)):
                raise Unplannable("a connection field under two keys")
        return Sel(gtype.name, items)

    def _collect(
        self,
        gtype: GraphQLObjectType,
        node: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        spread: set[str],
    ) -> None:
        for s in node.selections:
            if s.directives:
                raise Unplannable("directives")
            if isinstance(s, FieldNode):
                key = s.alias.value if s.alias else s.name.value
                fields.setdefault(key, []).append(s)
            elif isinstance(s, InlineFragmentNode):
                if s.type_condition is not None and s.type_condition.name.value != gtype.name:
                    raise Unplannable("fragment on another type")
                self._collect(gtype, s.selection_set, fields, spread)
            elif isinstance(s, FragmentSpreadNode):
                name = s.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    raise Unplannable("fragment")
                if fragment.type_condition.name.value != gtype.name:
                    raise Unplannable("fragment on another type")
                self._collect(gtype, fragment.selection_set, fields, spread | {name})
            else:  # pragma: no cover - the AST has no other selections
                raise Unplannable("selection")

    def _field(self, gtype: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> Item:
        if not _NAME.fullmatch(key):  # (the lexer allows no other) keys become SQL literals
            raise Unplannable("response key")
        s = nodes[0]
        name = s.name.value
        if any(n.name.value != name for n in nodes):  # (validation refuses it)
            raise Unplannable("different fields under one key")
        if name == "__typename":
            return Item(key, name, s, None)
        if name in self.denied.get(gtype.name, ()):
            raise Unplannable("a denied field")
        root = gtype is self.schema.query_type
        if root:
            if name not in ROOTS:
                raise Unplannable(f"Query.{name}")
        elif gtype.name in _ROOT_ONLY:
            allowed = _ROOT_ONLY_FIELDS[gtype.name]
            if name not in allowed:
                raise Unplannable(f"{gtype.name}.{name}")
        elif name not in SPECS.get(gtype.name, {}):
            raise Unplannable(f"{gtype.name}.{name}")
        definition = gtype.fields[name]
        if any(n.arguments for n in nodes) and not root:
            raise Unplannable("arguments on a nested field")
        named = get_named_type(definition.type)
        sub = None
        if isinstance(named, GraphQLObjectType):
            sub = self.selection(named, [n.selection_set for n in nodes])
        elif any(n.selection_set is not None for n in nodes) or not is_leaf_type(named):
            raise Unplannable("abstract type")
        return Item(key, name, s, sub)


def _names_a_root(document: DocumentNode) -> bool:
    return any(
        isinstance(d, OperationDefinitionNode)
        and d.operation is OperationType.QUERY
        and any(
            isinstance(s, FieldNode) and s.name.value in ROOTS for s in d.selection_set.selections
        )
        for d in document.definitions
    )


def compile_plan(
    schema: Any, field_policy: FieldPolicy, viewer: Viewer, text: str, operation_name: str | None
) -> Plan | None:
    """The plan of `text` for the viewer's role, or None when the planner does not cover
    it (or it is invalid: strawberry then answers with the errors)."""
    from loket.persisted import validation_of

    gql: GraphQLSchema = schema._schema
    rules, max_tokens = validation_of(schema)
    try:
        document = parse(text, max_tokens=max_tokens)
    except GraphQLError:
        return None
    if not _names_a_root(document):
        raise NotForAPlan()  # (before validation: most documents are not for a plan)
    if validate_document(gql, document, rules):
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) != 1:
            return None
        operation = operations[0]
    else:
        named = [o for o in operations if o.name is not None and o.name.value == operation_name]
        if len(named) != 1:
            return None
        operation = named[0]
    if operation.operation is not OperationType.QUERY or operation.directives:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    compiler = Compiler(gql, field_policy.denied_for(viewer), fragments)
    query_type = gql.query_type
    assert query_type is not None
    try:
        roots = compiler.selection(query_type, [operation.selection_set])
    except Unplannable:
        return None
    names = {i.name for i in roots.items} - {"__typename"}
    if names & _GUARDED and len(roots.items) > 1:
        return None  # (a guarded root is planned alone: see `Part.guard`)
    name = operation_name or (operation.name.value if operation.name else None)
    return Plan(name, document, operation, roots.items)


# ---------------------------------------------------------------------------------------
# Execution


def _access_log(rc: Render, plan: Plan, context: Any, reads: list[Reads]) -> str | None:
    """The CTEs `flags` (each condition evaluated once per row) and `logged` (one
    access-log row per dossier and grant read, with the personal fields read, sorted), or
    None when nothing personal is read. Each group of fields is a flag per row; a
    dossier's fields are those of the groups any of its rows flags (no unnesting and no
    sorting per request: the names are ordered here)."""
    groups = [g for r in reads for g in r.groups]
    if not groups:
        return None
    selects, start = [], 0
    for r in reads:
        flags = ["false"] * len(groups)
        for n, (condition, _) in enumerate(r.groups, start=start):
            flags[n] = f"({condition})"
        start += len(r.groups)
        selects.append(f"SELECT {r.select}, {', '.join(flags)} {r.frm}")
    columns = ", ".join(f"g{n}" for n in range(len(groups)))
    holders: dict[str, list[int]] = {}
    for n, (_, names) in enumerate(groups):
        for name in names:
            holders.setdefault(name, []).append(n)
    # Sorted as PostgreSQL sorts with COLLATE "C" (byte order): the names are ASCII.
    fields = ", ".join(
        f"CASE WHEN {' OR '.join(f'bool_or(r.g{n})' for n in holders[name])} THEN '{name}' END"
        for name in sorted(holders)
    )
    anything = " OR ".join(f"bool_or(r.g{n})" for n in range(len(groups)))
    viewer, disclosure = context.viewer, context.disclosure
    return f"""flags AS MATERIALIZED ({" UNION ALL ".join(selects)}),
        logged AS (INSERT INTO access_log (at, viewer_id, role, grant_name, household_id,
               fields_read, operation_name, request_id, disclosure_id)
           SELECT now(), {rc.param(viewer.user_id, "uuid")},
               {rc.param(viewer.role.value if viewer.role else "ANONYMOUS", "text")},
               r.grant_name, r.household_id,
               to_jsonb(array_remove(ARRAY[{fields}]::text[], NULL)),
               {rc.param(plan.operation_name, "text")}, {rc.param(context.request_id, "text")},
               CASE WHEN r.household_id = {
        rc.param(disclosure.household_id if disclosure else None, "uuid")
    }
                    THEN {rc.param(disclosure.id if disclosure else None, "uuid")} END
           FROM flags r(household_id, grant_name, {columns})
           GROUP BY r.household_id, r.grant_name
           HAVING {anything}
           RETURNING viewer_id, role, grant_name, household_id, fields_read, operation_name,
                     request_id, disclosure_id)"""


@dataclass
class Outcome:
    body: bytes  # the response body
    data: str  # the JSON text of `data`
    reads: list[dict[str, Any]] | None  # access log rows written (differential mode)


async def run_plan(
    plan: Plan,
    schema: Any,
    context: Any,
    variables: dict[str, Any] | None,
    *,
    returning_reads: bool = False,
) -> Outcome:
    gql: GraphQLSchema = schema._schema
    coerced = get_variable_values(gql, plan.operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):  # errors: strawberry reports them
        raise Fallback("variables")
    if estimate_cost(gql, plan.document, plan.operation_name, variables) > settings.max_cost:
        raise Fallback("cost")
    query_type = gql.query_type
    assert query_type is not None
    rc = Render(context.viewer, context.field_policy.personal)
    parts: list[tuple[str, Part]] = []
    for item in plan.roots:
        if item.name == "__typename":
            parts.append((item.key, Part([], "'Query'::text", None)))
            continue
        try:
            args = get_argument_values(query_type.fields[item.name], item.node, coerced)
        except GraphQLError as e:  # e.g. null for a non-null argument: strawberry reports it
            raise Fallback("arguments") from e
        try:
            parts.append((item.key, await ROOTS[item.name](rc, item, args)))
        except InvalidInput as e:  # e.g. a bad cursor: strawberry reports it
            raise Fallback("invalid input") from e
    ctes = [c for _, part in parts for c in part.ctes]
    data = "json_build_object(" + ", ".join(f"'{k}', {part.data}" for k, part in parts) + ")"
    audit: AccessAudit | None = context.audit
    returning = "NULL::json"
    logged = None
    if audit is not None:  # (rendered only then: the reads' SQL adds parameters)
        reads = [part.reads() for _, part in parts if part.reads is not None]
        logged = _access_log(rc, plan, context, reads)
    if logged is not None:
        ctes.extend(rc.take_ctes())  # (none: the JSON has used every scope the reads use)
        ctes.append(logged)
        if returning_reads:
            returning = "(SELECT json_agg(logged) FROM logged)"
        else:
            returning = "(SELECT count(*) FROM logged)::text::json"
    guards = [part.guard for _, part in parts if part.guard is not None]
    stands = " AND ".join(guards) if guards else "true"
    with_clause = f"WITH {', '.join(ctes)} " if ctes else ""
    sql = (
        f"{with_clause}SELECT {data}::text AS data, {returning}::text AS reads, {stands} AS stands"
    )
    row = (await fetch(sql, *rc.p.values))[0]
    if not row["stands"]:  # (a guarded root is alone: nothing was logged)
        raise Fallback("the statement found the input wrong")
    text: str = row["data"]
    logged = orjson.loads(row["reads"]) if returning_reads and row["reads"] else None
    return Outcome(b'{"data":' + text.encode() + b"}", text, logged)


class Planner:
    """The plans of one schema by (document hash, operation name, role), in an LRU; the
    hashes of documents that name no planned root are remembered apart, so they neither
    cost a second parse nor push plans out."""

    def __init__(self, schema: Any, field_policy: FieldPolicy, maxsize: int = 256) -> None:
        self.schema = schema
        self.field_policy = field_policy
        self.maxsize = maxsize
        self._plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        self._elsewhere: OrderedDict[bytes, None] = OrderedDict()

    def _key(self, viewer: Viewer, digest: bytes, operation_name: str | None) -> tuple[Any, ...]:
        # The field policy, the only role-dependent part of a plan, is decided by these two.
        return (digest, operation_name, viewer.role, viewer.acting_as)

    def plan_for(self, viewer: Viewer, text: str, operation_name: str | None) -> Plan | None:
        digest = hashlib.sha256(text.encode()).digest()
        if digest in self._elsewhere:
            self._elsewhere.move_to_end(digest)
            return None
        key = self._key(viewer, digest, operation_name)
        try:
            plan = self._plans[key]
        except KeyError:
            pass
        else:
            self._plans.move_to_end(key)
            return plan
        try:
            plan = compile_plan(self.schema, self.field_policy, viewer, text, operation_name)
        except NotForAPlan:
            self._elsewhere[digest] = None
            if len(self._elsewhere) > 16 * self.maxsize:
                self._elsewhere.popitem(last=False)
            return None
        self._plans[key] = plan
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)
        return plan

    def forget(self, viewer: Viewer, text: str, operation_name: str | None) -> None:
        """Drop a plan that failed: the next request compiles it again."""
        digest = hashlib.sha256(text.encode()).digest()
        self._plans.pop(self._key(viewer, digest, operation_name), None)

    def __len__(self) -> int:
        return len(self._plans)


async def compare_with_strawberry(
    schema: Any,
    context: Any,
    plan: Plan,
    text: str,
    variables: dict[str, Any] | None,
    outcome: Outcome,
) -> None:
    """Differential mode: run the same request through strawberry and note differences."""
    from resolvers.loaders import Loaders

    rows: list[dict[str, Any]] = []
    shadow = dataclasses.replace(
        context,
        loaders=Loaders(context.viewer),
        audit=AccessAudit() if context.audit is not None else None,
        shadow=rows,
    )
    token = SHADOW.set(True)
    try:
        result = await schema.execute(
            text,
            variable_values=variables,
            context_value=shadow,
            operation_name=plan.operation_name,
        )
    finally:
        SHADOW.reset(token)
    problems: dict[str, Any] = {}
    if result.errors:
        problems["errors"] = [e.formatted for e in result.errors]
    # Compared as JSON text (sorted keys): 1 and true, or 1 and 1.0, are not the same.
    expected = orjson.dumps(result.data, option=orjson.OPT_SORT_KEYS)
    planned = orjson.dumps(orjson.loads(outcome.data), option=orjson.OPT_SORT_KEYS)
    if expected != planned:
        problems["data"] = {"strawberry": result.data, "plan": orjson.loads(outcome.data)}
    wanted = sorted(orjson.dumps(r, default=str, option=orjson.OPT_SORT_KEYS) for r in rows)
    written = sorted(
        orjson.dumps(r, default=str, option=orjson.OPT_SORT_KEYS) for r in outcome.reads or []
    )
    if wanted != written:
        problems["access_log"] = {"strawberry": wanted, "plan": written}
    if problems:
        log.error("plan and strawberry differ for operation %s", plan.operation_name)
        if len(MISMATCHES) < 100:
            MISMATCHES.append({"operation": text, "variables": variables, **problems})


__all__ = [
    "MISMATCHES",
    "SHADOW",
    "Fallback",
    "Outcome",
    "Plan",
    "Planner",
    "compare_with_strawberry",
    "compile_plan",
    "run_plan",
]
