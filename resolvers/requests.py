"""Care request submission and the provider inbox."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

import orjson
import strawberry
from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import execute, fetch
from loket.settings import settings
from models.accounts import Role
from models.requests import OPEN_APPLICATION_STATUSES_SQL
from permissions.policy import POLICY, Ability
from permissions.scopes import (
    Params,
    emergency_condition,
    selected_condition,
    visible_households,
)
from resolvers import uniqueness, validation
from resolvers.households import household_from_row, parse_id
from resolvers.loaders import APPLICATION_SQL, REQUEST_SQL, application_from_row, request_from_row
from resolvers.validation import Errors
from schema.common import (
    Connection,
    Edge,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from schema.directives import arg
from schema.requests import (
    InboxEntry,
    InboxReason,
    SubmitCareRequestInput,
    SubmitCareRequestPayload,
)

INBOX_SQL = """
SELECT e.request_id, e.application_id, e.reason, e.grant_name, e.submitted_at,
       h.id, h.family_situation, h.income_below_threshold, h.municipality_id,
       m.name AS municipality_name
FROM (
    SELECT r.id AS request_id, r.household_id, a.id AS application_id,
           'SELECTED' AS reason, 'PROVIDER_SELECTED' AS grant_name, r.submitted_at
    FROM application a JOIN care_request r ON r.id = a.request_id
    WHERE {selected}
    UNION ALL
    SELECT r.id, r.household_id, NULL, 'EMERGENCY_LIST', 'PROVIDER_EMERGENCY', r.submitted_at
    FROM care_request r JOIN household eh ON eh.id = r.household_id
    WHERE {emergency}
      AND NOT EXISTS (SELECT 1 FROM application x WHERE x.request_id = r.id
                      AND x.location_id = {loc} AND x.status IN {open})
) e
JOIN household h ON h.id = e.household_id
JOIN municipality m ON m.nis_code = h.municipality_id
{after}
ORDER BY e.submitted_at, e.request_id
LIMIT {limit}"""


async def inbox(
    info: Info,
    location_id: Annotated[strawberry.ID, arg("The location whose inbox to read.")],
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[InboxEntry] | None:
    """Open applications at the location plus emergency-list requests of its municipality;
    null for a location the viewer does not work for."""
    viewer = info.context.viewer
    location = parse_id(location_id)
    if location is None or location not in viewer.location_ids:
        return None
    size = page_size(first)
    p = Params()
    loc = p.add(location)
    munis = f"ARRAY(SELECT municipality_id FROM provider_location WHERE id = {loc})"
    after_sql = ""
    cursor = decode_cursor(after) if after else None
    if cursor and "|" in cursor:
        stamp, _, rid = cursor.partition("|")
        try:
            after_sql = (
                f"WHERE (e.submitted_at, e.request_id) > "
                f"({p.add(datetime.datetime.fromisoformat(stamp))}, {p.add(uuid.UUID(rid))})"
            )
        except ValueError:
            after_sql = ""
    sql = INBOX_SQL.format(
        loc=loc,
        open=OPEN_APPLICATION_STATUSES_SQL,
        selected=selected_condition("a", "r", f"ARRAY[{loc}]"),
        emergency=emergency_condition("r", "eh", munis, p.add(settings.emergency_days)),
        after=after_sql,
        limit=p.add(size + 1),
    )
    rows = await fetch(sql, *p.values)
    page = rows[:size]
    requests = await _requests_by_id(
        [r["request_id"] for r in page], {r["request_id"]: r["grant_name"] for r in page}
    )
    app_ids = [r["application_id"] for r in page if r["application_id"] is not None]
    applications: dict[Any, Any] = {}
    if app_ids:
        for a in await fetch(f"{APPLICATION_SQL} WHERE a.id = ANY($1::uuid[])", app_ids):
            applications[a["id"]] = application_from_row(a, "PROVIDER_SELECTED")
    edges = []
    for r in page:
        node = InboxEntry(
            reason=InboxReason(r["reason"]),
            application=applications.get(r["application_id"]),
            request=requests[r["request_id"]],
            household=household_from_row(r),
        )
        cursor_value = f"{r['submitted_at'].isoformat()}|{r['request_id']}"
        edges.append(Edge(cursor=encode_cursor(cursor_value), node=node))
    return connection(edges, len(rows) > size)


async def _requests_by_id(ids: list[uuid.UUID], grants: dict[uuid.UUID, str]) -> dict[Any, Any]:
    if not ids:
        return {}
    p = Params([ids])
    rows = await fetch(
        REQUEST_SQL.format(days=p.add(settings.emergency_days)) + " WHERE r.id = ANY($1::uuid[])",
        *p.values,
    )
    return {r["id"]: request_from_row(r, grants[r["id"]]) for r in rows}


async def submit_care_request(
    info: Info, input: Annotated[SubmitCareRequestInput, arg("The request to file.")]
) -> SubmitCareRequestPayload:
    """File a request for a child of a writable dossier; one open request per child."""
    viewer = info.context.viewer
    today = datetime.date.today()
    errors = Errors()
    child_id = parse_id(input.child_id)
    allowed = [g.value for g in POLICY[Ability.SUBMIT_CARE_REQUEST].grants]
    target = None
    if child_id is not None:
        p = Params()
        visible = visible_households(viewer, p, emergency_days=settings.emergency_days, write=True)
        rows = await fetch(
            f"""SELECT c.id, c.household_id, v.grant_name FROM child c
                JOIN ({visible}) v ON v.household_id = c.household_id
                WHERE c.id = {p.add(child_id)} AND v.grant_name = ANY({p.add(allowed)}::text[])""",
            *p.values,
        )
        target = rows[0] if rows else None
    if target is None:
        errors.add(["input", "childId"], "NOT_FOUND", "No such child in a dossier you may write.")
    validation.in_future(errors, ["input", "desiredStartDate"], input.desired_start_date, today)
    days = [d.day.value for d in input.care_pattern]
    if not days:
        errors.add(["input", "carePattern"], "REQUIRED", "Choose at least one day.")
    elif len(set(days)) != len(days):
        errors.add(["input", "carePattern"], "DUPLICATE_DAY", "Each day at most once.")
    location_ids = [parse_id(x) for x in input.location_ids]
    maximum = settings.max_chosen_locations
    if not location_ids or len(location_ids) > maximum:
        errors.add(["input", "locationIds"], "COUNT", f"Choose between 1 and {maximum} locations.")
    elif len(set(location_ids)) != len(location_ids):
        errors.add(["input", "locationIds"], "DUPLICATE_LOCATION", "Each location at most once.")
    elif None in location_ids:
        errors.add(["input", "locationIds"], "NOT_FOUND", "Unknown location.")
    else:
        found = await fetch(
            "SELECT count(*) AS n FROM provider_location WHERE id = ANY($1::uuid[])", location_ids
        )
        if found[0]["n"] != len(location_ids):
            errors.add(["input", "locationIds"], "NOT_FOUND", "Unknown location.")
    note = input.note.strip()
    if len(note) > 2000:
        errors.add(["input", "note"], "TOO_LONG", "At most 2000 characters.")
    if errors or target is None:
        return SubmitCareRequestPayload(care_request=None, errors=errors.items)

    request_id = uuid.uuid4()
    async with in_transaction():
        await uniqueness.lock_child_identity(target["id"])
        if await uniqueness.child_has_open_request_by_id(target["id"]):
            errors.add(
                ["input", "childId"],
                "OPEN_REQUEST_EXISTS",
                "An open care request already exists for this child.",
            )
            return SubmitCareRequestPayload(care_request=None, errors=errors.items)
        mandate = None
        if viewer.role is Role.TOELEIDER:
            mandates = await fetch(
                """SELECT id FROM mandate WHERE household_id = $1 AND revoked_at IS NULL
                   AND referral_organisation_id = ANY($2::uuid[]) ORDER BY granted_at LIMIT 1""",
                target["household_id"],
                list(viewer.referral_organisation_ids),
            )
            mandate = mandates[0]["id"] if mandates else None
        await execute(
            """INSERT INTO care_request (id, household_id, child_id, desired_start_date,
                   care_pattern, note, status, submitted_at, filed_by_id, filed_via_mandate_id)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'OPEN', now(), $7, $8)""",
            request_id,
            target["household_id"],
            target["id"],
            input.desired_start_date,
            orjson.dumps({d.day.value: d.part.value for d in input.care_pattern}).decode(),
            note,
            viewer.user_id,
            mandate,
        )
        await execute(
            """INSERT INTO application (id, request_id, location_id, preference, status,
                   updated_at)
               SELECT gen_random_uuid(), $1, loc, ord, 'PENDING', now()
               FROM unnest($2::uuid[]) WITH ORDINALITY AS t(loc, ord)""",
            request_id,
            location_ids,
        )
    created = await _requests_by_id([request_id], {request_id: target["grant_name"]})
    return SubmitCareRequestPayload(care_request=created[request_id], errors=[])
