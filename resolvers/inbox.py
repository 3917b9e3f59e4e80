"""A location's inbox: its open applications and the emergency-list requests of its
municipality, filtered in SQL and ranked by the priority engine (`resolvers.priority`).

All candidates of the location are loaded in one statement with the features the rules
need, ranked in Python (the rules are small pure functions), and only the page is then
built: four statements per request whatever the page size or the inbox size.

An open request never belongs to an anonymised child or dossier (`jobs.retention` leaves
those alone); the candidates exclude them all the same, as every grant does.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import strawberry

from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from loket.settings import settings
from models.requests import OPEN_APPLICATION_STATUSES_SQL
from permissions.scopes import Params, emergency_condition, selected_condition
from resolvers import priority
from resolvers.access import parse_id
from resolvers.households import HOUSEHOLD_COLUMNS, household_from_row
from resolvers.loaders import APPLICATION_SQL, application_from_row
from resolvers.requests import requests_by_id
from schema.common import Connection, Edge, connection, decode_cursor, encode_cursor, page_size
from schema.directives import arg
from schema.requests import InboxEntry, InboxFilter, InboxReason, PriorityExplanation

RULE_SET_NAMES = {r.key: r.name for r in priority.RULE_SETS}

CANDIDATES_SQL = """
WITH entries AS (
    SELECT r.id AS request_id, a.id AS application_id, 'SELECTED' AS reason,
           'PROVIDER_SELECTED' AS grant_name, a.status AS application_status,
           a.staff_child, a.created_at AS applied_at, r.household_id, r.child_id,
           r.submitted_at, r.desired_start_date
    FROM application a JOIN care_request r ON r.id = a.request_id
    WHERE {selected}
    UNION ALL
    SELECT r.id, NULL, 'EMERGENCY_LIST', 'PROVIDER_EMERGENCY', NULL, false, NULL,
           r.household_id, r.child_id, r.submitted_at, r.desired_start_date
    FROM care_request r JOIN household eh ON eh.id = r.household_id
    WHERE {emergency}
)
SELECT e.request_id, e.application_id, e.reason, e.grant_name, e.application_status,
       e.staff_child, e.applied_at, e.household_id, e.submitted_at, e.desired_start_date,
       {features},
       coalesce(e.application_status = 'PENDING'
                AND e.applied_at < now() - make_interval(days => {answer_days}), false)
           AS overdue,
       place.tariff AS place_tariff, place.priority_criteria AS place_criteria
FROM entries e
-- The request's columns, already in the entry, under the name the features use.
CROSS JOIN LATERAL (SELECT e.household_id, e.child_id, e.desired_start_date) r
CROSS JOIN (SELECT tariff, priority_criteria FROM provider_location WHERE id = {loc}) place
JOIN household h ON h.id = r.household_id
JOIN child c ON c.id = r.child_id
{parents}
CROSS JOIN LATERAL (SELECT age(r.desired_start_date, coalesce(c.birth_date,
        c.expected_birth_date, r.desired_start_date)) AS at_start) ag
WHERE h.anonymised_at IS NULL AND c.anonymised_at IS NULL AND {filters}"""


def family_features(household: str, child: str, loc: str) -> str:
    """SQL columns with what the priority rules need to know about a family, for the
    child `child` and the location `loc` (SQL expressions). One aggregate over the
    parents per family."""
    return f"""{household}.family_situation, {household}.income_below_threshold,
       {household}.municipality_id = (SELECT municipality_id FROM provider_location
                                      WHERE id = {loc}) AS resident,
       pa.work_situations, pa.work_shares, pa.education_levels, pa.foster,
       EXISTS (SELECT 1 FROM enrolment se JOIN child sc ON sc.id = se.child_id
               WHERE sc.household_id = {household}.id AND sc.id <> {child}
                 AND se.location_id = {loc} AND se.end_date IS NULL) AS sibling_enrolled"""


def parents_aggregate(household: str) -> str:
    """The lateral join that `family_features` reads as `pa`."""
    order = "ORDER BY p.is_applicant DESC, p.id"
    return f"""CROSS JOIN LATERAL (
        SELECT array_agg(p.work_situation {order}) AS work_situations,
               array_agg(p.work_share_percent {order}) AS work_shares,
               array_agg(p.education_level {order}) AS education_levels,
               coalesce(bool_or(p.relation_to_child = 'FOSTER_PARENT'), false) AS foster
        FROM parent p WHERE p.household_id = {household}.id) pa"""


def criteria_of(raw: Any) -> list[dict[str, Any]]:
    """A location's own criteria (jsonb arrives as text from asyncpg)."""
    value = orjson.loads(raw) if isinstance(raw, str) else raw
    return list(value or [])


def _filters(p: Params, filter: InboxFilter | None) -> str:
    if filter is None:
        return "true"
    conditions = ["true"]
    months = "(extract(year FROM ag.at_start) * 12 + extract(month FROM ag.at_start))"
    if filter.statuses is not None:
        statuses = [s.value for s in filter.statuses]
        conditions.append(f"e.application_status = ANY({p.add(statuses)}::text[])")
    if filter.reasons is not None:
        reasons = [r.value for r in filter.reasons]
        conditions.append(f"e.reason = ANY({p.add(reasons)}::text[])")
    if filter.start_month is not None:
        first = filter.start_month.replace(day=1)
        conditions.append(f"date_trunc('month', r.desired_start_date) = {p.add(first)}::date")
    for value, op, name in (
        (filter.min_age_months, ">=", "minAgeMonths"),
        (filter.max_age_months, "<=", "maxAgeMonths"),
    ):
        if value is not None:
            if not 0 <= value <= 120:
                raise InvalidInput("OUT_OF_RANGE", f"{name} must be between 0 and 120.")
            conditions.append(f"{months} {op} {p.add(value)}")
    if filter.overdue_only:
        conditions.append(
            f"e.application_status = 'PENDING' AND e.applied_at < now() - "
            f"make_interval(days => {p.add(settings.answer_days)})"
        )
    return " AND ".join(conditions)


def emergency_entry(loc: str, days: str) -> str:
    """SQL on a request `r` and its household `eh`: an EMERGENCY_LIST entry of the inbox of
    location `loc` (on the emergency list of its municipality, `days` the list's horizon,
    and no open application there). Shared with the compiled plan (`loket.planner`)."""
    munis = f"ARRAY(SELECT municipality_id FROM provider_location WHERE id = {loc})"
    return f"""{emergency_condition("r", "eh", munis, days)}
      AND NOT EXISTS (SELECT 1 FROM application x WHERE x.request_id = r.id
                      AND x.location_id = {loc} AND x.status IN {OPEN_APPLICATION_STATUSES_SQL})"""


def candidates_query(location: uuid.UUID, filter: InboxFilter | None) -> tuple[str, list[Any]]:
    """The statement loading every inbox candidate of `location` with its features."""
    p = Params()
    loc = p.add(location)
    sql = CANDIDATES_SQL.format(
        features=family_features("h", "r.child_id", loc),
        parents=parents_aggregate("h"),
        loc=loc,
        selected=selected_condition("a", "r", f"ARRAY[{loc}]"),
        emergency=emergency_entry(loc, p.add(settings.emergency_days)),
        answer_days=p.add(settings.answer_days),
        filters=_filters(p, filter),
    )
    return sql, p.values


def candidate_from_row(r: Any, key: str = "request_id") -> priority.Candidate:
    return priority.Candidate(
        request_id=r[key],
        submitted_at=r["submitted_at"],
        family_situation=r["family_situation"],
        income_below_threshold=r["income_below_threshold"],
        work_situations=tuple(r["work_situations"] or ()),
        work_shares=tuple(r["work_shares"] or ()),
        education_levels=tuple(r["education_levels"] or ()),
        foster=r["foster"],
        sibling_enrolled=r["sibling_enrolled"],
        staff_child=bool(r.get("staff_child", False)),
        resident=r["resident"],
    )


def cursor_of(ranking: priority.Ranking) -> str:
    tier, minus_score, submitted, request_id = ranking.sort_key
    return encode_cursor(f"{tier}|{minus_score}|{submitted.isoformat()}|{request_id}")


_INT32 = range(-(2**31), 2**31)


def after_key(cursor: str | None) -> tuple[Any, ...] | None:
    """The sort key a cursor names; INVALID_CURSOR for anything `cursor_of` cannot have
    written (numbers beyond 32 bits, a time without zone or beyond the calendar in UTC)."""
    raw = decode_cursor(cursor) if cursor else None
    if not raw:
        return None
    try:
        tier, minus_score, submitted, request_id = raw.split("|")
        stamp = datetime.datetime.fromisoformat(submitted)
        if stamp.tzinfo is None:
            raise ValueError("a cursor's time carries its zone")
        stamp.astimezone(datetime.UTC)  # OverflowError beyond year 1..9999
        key = (int(tier), int(minus_score), stamp, uuid.UUID(request_id))
        if key[0] not in _INT32 or key[1] not in _INT32:
            raise ValueError("a tier and a score are 32-bit numbers")
        return key
    except (ValueError, OverflowError):
        raise InvalidInput("INVALID_CURSOR", "This cursor is not valid here.") from None


@dataclass
class InboxPage:
    """One page of a location's inbox: the ranked entries with their candidate rows."""

    entries: list[tuple[priority.Ranking, Any]]
    start: int  # how many entries precede the page
    has_next: bool


async def inbox_page(
    location: uuid.UUID, filter: InboxFilter | None, first: int, after: str | None
) -> InboxPage:
    """Rank every candidate of `location` and cut the page after `after` (one statement).
    Shared by the resolver and the compiled plan (`loket.planner`), so both rank alike."""
    size = page_size(first)
    key = after_key(after)  # (a bad cursor is refused before any statement)
    sql, values = candidates_query(location, filter)
    rows = await fetch(sql, *values)  # each row carries the location's tariff and criteria
    rankings = (
        priority.rank(
            [candidate_from_row(r) for r in rows],
            tariff=rows[0]["place_tariff"],
            criteria=criteria_of(rows[0]["place_criteria"]),
            today=datetime.date.today(),
        )
        if rows
        else []
    )
    start = 0
    if key is not None:
        start = next((i for i, k in enumerate(rankings) if k.sort_key > key), len(rankings))
    page = rankings[start : start + size]
    by_request = {r["request_id"]: r for r in rows}
    return InboxPage(
        [(k, by_request[k.request_id]) for k in page], start, start + size < len(rankings)
    )


async def inbox(
    info: Info,
    location_id: Annotated[strawberry.ID, arg("The location whose inbox to read.")],
    filter: Annotated[InboxFilter | None, arg("Which entries to show.")] = None,
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[InboxEntry] | None:
    """Open applications at the location plus emergency-list requests of its municipality,
    best ranked first; null for a location the viewer does not work for."""
    viewer = info.context.viewer
    location = parse_id(location_id)
    if location is None or location not in viewer.location_ids:
        return None
    found = await inbox_page(location, filter, first, after)
    start = found.start
    page = [k for k, _ in found.entries]
    entries = [e for _, e in found.entries]
    requests = await requests_by_id(
        [e["request_id"] for e in entries], {e["request_id"]: e["grant_name"] for e in entries}
    )
    applications: dict[Any, Any] = {}
    households: dict[Any, Any] = {}
    if entries:
        app_ids = [e["application_id"] for e in entries if e["application_id"] is not None]
        for a in await fetch(f"{APPLICATION_SQL} WHERE a.id = ANY($1::uuid[])", app_ids):
            applications[a["id"]] = application_from_row(a, "PROVIDER_SELECTED")
        for h in await fetch(
            f"""SELECT NULL AS grant_name, {HOUSEHOLD_COLUMNS} FROM household h
                JOIN municipality m ON m.nis_code = h.municipality_id
                WHERE h.id = ANY($1::uuid[])""",
            list({e["household_id"] for e in entries}),
        ):
            households[h["id"]] = h
    edges = []
    for position, (ranking, e) in enumerate(zip(page, entries, strict=True), start=start + 1):
        grant = e["grant_name"]
        household = household_from_row({**households[e["household_id"]], "grant_name": grant})
        node = InboxEntry(
            rank=position,
            priority=PriorityExplanation(
                household_id=e["household_id"],
                grant=grant,
                rule_set=ranking.rule_set,
                rule_set_name=RULE_SET_NAMES.get(ranking.rule_set, ranking.rule_set),
                tier=ranking.tier,
                score=ranking.score,
                reasons=list(ranking.reasons),
            ),
            overdue=e["overdue"],
            reason=InboxReason(e["reason"]),
            application=applications.get(e["application_id"]),
            request=requests[e["request_id"]],
            household=household,
        )
        edges.append(Edge(cursor=cursor_of(ranking), node=node))
    return connection(edges, found.has_next)
