"""Care request submission and the provider inbox."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

import orjson
import strawberry
from tortoise.transactions import in_transaction

from jobs import outbox
from loket.context import Info
from loket.db import execute, fetch
from loket.settings import settings
from models.accounts import Role
from models.requests import OPEN_APPLICATION_STATUSES, OPEN_APPLICATION_STATUSES_SQL
from permissions.policy import POLICY, Ability
from permissions.scopes import (
    Params,
    visible_households,
)
from resolvers import uniqueness, validation
from resolvers.access import parse_id, provided, writable
from resolvers.capacity import places_taken
from resolvers.loaders import REQUEST_SQL, request_from_row
from resolvers.validation import Errors
from schema.directives import arg
from schema.requests import (
    AcceptOfferPayload,
    AddChosenLocationsInput,
    AddChosenLocationsPayload,
    AnswerOfferInput,
    CareDayInput,
    DeclineOfferPayload,
    NextStep,
    NextStepKind,
    SubmitCareRequestInput,
    SubmitCareRequestPayload,
    UpdateCareRequestInput,
    UpdateCareRequestPayload,
    WithdrawApplicationInput,
    WithdrawApplicationPayload,
    WithdrawCareRequestInput,
    WithdrawCareRequestPayload,
)


async def requests_by_id(ids: list[uuid.UUID], grants: dict[uuid.UUID, str]) -> dict[Any, Any]:
    if not ids:
        return {}
    p = Params([ids])
    rows = await fetch(
        REQUEST_SQL.format(days=p.add(settings.emergency_days)) + " WHERE r.id = ANY($1::uuid[])",
        *p.values,
    )
    return {r["id"]: request_from_row(r, grants[r["id"]]) for r in rows}


def check_pattern(errors: Errors, path: list[str], pattern: list[CareDayInput]) -> None:
    days = [d.day.value for d in pattern]
    if not days:
        errors.add(path, "REQUIRED", "Choose at least one day.")
    elif len(set(days)) != len(days):
        errors.add(path, "DUPLICATE_DAY", "Each day at most once.")


def check_note(errors: Errors, path: list[str], note: str) -> str:
    cleaned = validation.storable_text(note).strip()
    if len(cleaned) > 2000:
        errors.add(path, "TOO_LONG", "At most 2000 characters.")
    return cleaned


async def check_locations(
    errors: Errors, path: list[str], ids: list[strawberry.ID], already: int
) -> list[uuid.UUID]:
    """Existing, distinct locations; with the `already` chosen ones, at most the maximum."""
    location_ids = [parse_id(x) for x in ids]
    maximum = settings.max_chosen_locations
    if not location_ids or already + len(location_ids) > maximum:
        errors.add(path, "COUNT", f"Choose between 1 and {maximum} locations in all.")
    elif len(set(location_ids)) != len(location_ids):
        errors.add(path, "DUPLICATE_LOCATION", "Each location at most once.")
    elif None in location_ids:
        errors.add(path, "NOT_FOUND", "Unknown location.")
    else:
        found = await fetch(
            "SELECT count(*) AS n FROM provider_location WHERE id = ANY($1::uuid[])", location_ids
        )
        if found[0]["n"] != len(location_ids):
            errors.add(path, "NOT_FOUND", "Unknown location.")
    return [x for x in location_ids if x is not None]


def pattern_json(pattern: list[CareDayInput]) -> str:
    return orjson.dumps({d.day.value: d.part.value for d in pattern}).decode()


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
                WHERE c.id = {p.add(child_id)} AND v.grant_name = ANY({p.add(allowed)}::text[])
                  AND c.anonymised_at IS NULL""",
            *p.values,
        )
        target = rows[0] if rows else None
    if target is None:
        errors.add(["input", "childId"], "NOT_FOUND", "No such child in a dossier you may write.")
    validation.in_future(errors, ["input", "desiredStartDate"], input.desired_start_date, today)
    check_pattern(errors, ["input", "carePattern"], input.care_pattern)
    location_ids = await check_locations(errors, ["input", "locationIds"], input.location_ids, 0)
    note = check_note(errors, ["input", "note"], input.note)
    if errors or target is None:
        return SubmitCareRequestPayload(care_request=None, errors=errors.items)
    # Submitting runs the uniqueness check: it counts against the same limit and log.
    if not await uniqueness.count_check(info, target["household_id"], target["grant_name"]):
        errors.add(["input", "childId"], "RATE_LIMITED", "Too many checks; try again later.")
        return SubmitCareRequestPayload(care_request=None, errors=errors.items)

    request_id = uuid.uuid4()
    async with in_transaction():
        await uniqueness.lock_child_identity(target["id"])
        # The retention job or an erasure may have anonymised the child or its dossier
        # since the check above: both lock the child's row before they decide, so this
        # read, after our lock, sees what they committed.
        if await fetch(
            """SELECT 1 FROM child c JOIN household h ON h.id = c.household_id
               WHERE c.id = $1 AND (c.anonymised_at IS NOT NULL OR h.anonymised_at IS NOT NULL)""",
            target["id"],
        ):
            errors.add(
                ["input", "childId"], "NOT_FOUND", "No such child in a dossier you may write."
            )
            return SubmitCareRequestPayload(care_request=None, errors=errors.items)
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
            pattern_json(input.care_pattern),
            note,
            viewer.user_id,
            mandate,
        )
        await execute(
            """INSERT INTO application (id, request_id, location_id, preference, status,
                   staff_child, by_emergency_offer, refusal_reason, created_at, updated_at)
               SELECT gen_random_uuid(), $1, loc, ord, 'PENDING', false, false, '', now(), now()
               FROM unnest($2::uuid[]) WITH ORDINALITY AS t(loc, ord)""",
            request_id,
            location_ids,
        )
        await outbox.new_applications(None, request_id, location_ids)
    created = await requests_by_id([request_id], {request_id: target["grant_name"]})
    return SubmitCareRequestPayload(care_request=created[request_id], errors=[])


# --- The family's answers: withdraw, accept or decline, correct, add locations. ---------

_NO_REQUEST = "No such request in a dossier you may write."
_NO_APPLICATION = "No such application in a dossier you may write."

# Locks, always in this order: the request row, its applications, the location, the child.
# Each lock is its own statement and the reads come after it: in READ COMMITTED a
# statement that waited for a lock still reads the rest from its older snapshot.
_LOCK_REQUEST_OF_APPLICATION = """SELECT r.id FROM application a
JOIN care_request r ON r.id = a.request_id WHERE a.id = $1 FOR UPDATE OF r, a"""

_APPLICATION_STATE = f"""SELECT a.id, a.status, a.reply_deadline, a.offered_start_date,
    a.location_id, r.id AS request_id, r.status AS request_status, r.child_id,
    r.desired_start_date,
    (SELECT count(*) FROM application o WHERE o.request_id = r.id AND o.id <> a.id
       AND o.status IN {OPEN_APPLICATION_STATUSES_SQL}) AS other_open
FROM application a JOIN care_request r ON r.id = a.request_id
WHERE a.id = $1"""


async def _lock_application(application_id: uuid.UUID) -> Any:
    await fetch(_LOCK_REQUEST_OF_APPLICATION, application_id)
    return (await fetch(_APPLICATION_STATE, application_id))[0]


async def _result(payload: Any, request_id: uuid.UUID, grant: str, errors: Errors) -> Any:
    if errors:
        return payload(care_request=None, errors=errors.items)
    found = await requests_by_id([request_id], {request_id: grant})
    return payload(care_request=found.get(request_id), errors=[])


async def withdraw_care_request(
    info: Info, input: Annotated[WithdrawCareRequestInput, arg("The request to withdraw.")]
) -> WithdrawCareRequestPayload:
    """Withdraw an open request at every location; it leaves the emergency list too."""
    errors = Errors()
    target = await writable(info, "request", input.request_id, Ability.WITHDRAW_REQUEST)
    if target is None:
        errors.add(["input", "requestId"], "NOT_FOUND", _NO_REQUEST)
        return WithdrawCareRequestPayload(care_request=None, errors=errors.items)
    request_id, _, grant = target
    async with in_transaction():
        rows = await fetch("SELECT status FROM care_request WHERE id = $1 FOR UPDATE", request_id)
        if rows[0]["status"] != "OPEN":
            errors.add(["input", "requestId"], "NOT_OPEN", "The request is no longer open.")
        else:
            await execute(
                f"""UPDATE application SET status = 'WITHDRAWN', updated_at = now()
                    WHERE request_id = $1 AND status IN {OPEN_APPLICATION_STATUSES_SQL}""",
                request_id,
            )
            await execute(
                """UPDATE care_request SET status = 'WITHDRAWN', closed_at = now(),
                       emergency_since = NULL WHERE id = $1""",
                request_id,
            )
    return await _result(WithdrawCareRequestPayload, request_id, grant, errors)


async def withdraw_application(
    info: Info, input: Annotated[WithdrawApplicationInput, arg("The location to withdraw.")]
) -> WithdrawApplicationPayload:
    """Withdraw the request at one location; the others stay open. The last open location
    cannot be withdrawn alone: withdraw the request instead."""
    errors = Errors()
    target = await writable(info, "application", input.application_id, Ability.WITHDRAW_REQUEST)
    if target is None:
        errors.add(["input", "applicationId"], "NOT_FOUND", _NO_APPLICATION)
        return WithdrawApplicationPayload(care_request=None, errors=errors.items)
    application_id, _, grant = target
    async with in_transaction():
        row = await _lock_application(application_id)
        if row["request_status"] != "OPEN" or row["status"] not in OPEN_APPLICATION_STATUSES:
            errors.add(["input", "applicationId"], "NOT_OPEN", "This location is not open.")
        elif row["other_open"] == 0:
            errors.add(
                ["input", "applicationId"],
                "LAST_OPEN_LOCATION",
                "This is the last open location; withdraw the whole request instead.",
            )
        else:
            await execute(
                "UPDATE application SET status = 'WITHDRAWN', updated_at = now() WHERE id = $1",
                application_id,
            )
    return await _result(WithdrawApplicationPayload, row["request_id"], grant, errors)


async def accept_offer(
    info: Info, input: Annotated[AnswerOfferInput, arg("The offer to accept.")]
) -> AcceptOfferPayload:
    """Accept an offered place: the child is enrolled, the request is fulfilled (it leaves
    the emergency list) and every other location's application closes. Under row locks,
    so concurrent acceptances never exceed the location's capacity in the start month nor
    give a child two places."""
    today = datetime.date.today()
    errors = Errors()
    target = await writable(info, "application", input.application_id, Ability.ANSWER_OFFER)
    if target is None:
        errors.add(["input", "applicationId"], "NOT_FOUND", _NO_APPLICATION)
        return AcceptOfferPayload(care_request=None, errors=errors.items)
    application_id, _, grant = target
    path = ["input", "applicationId"]
    async with in_transaction():
        row = await _lock_application(application_id)
        start = row["offered_start_date"] or row["desired_start_date"]
        if row["request_status"] != "OPEN":
            errors.add(path, "NOT_OPEN", "The request is no longer open.")
        elif row["status"] != "OFFERED":
            errors.add(path, "NOT_OFFERED", "This location has not offered a place.")
        elif row["reply_deadline"] is not None and row["reply_deadline"] < today:
            errors.add(path, "OFFER_EXPIRED", "The reply deadline of this offer has passed.")
        if not errors:
            # Lock first, count in a later statement: a statement that waited for the
            # lock still sees its own (older) snapshot, the next one sees the commits.
            await fetch(
                "SELECT 1 FROM provider_location WHERE id = $1 FOR UPDATE", row["location_id"]
            )
            capacity, taken = await places_taken(row["location_id"], start)
            await fetch("SELECT 1 FROM child WHERE id = $1 FOR UPDATE", row["child_id"])
            enrolled = await fetch(
                """SELECT EXISTS (SELECT 1 FROM enrolment WHERE child_id = $1
                                  AND (end_date IS NULL OR end_date >= $2)) AS found""",
                row["child_id"],
                start,
            )
            if taken >= capacity:
                errors.add(path, "LOCATION_FULL", "The location has no place left that month.")
            elif enrolled[0]["found"]:
                errors.add(path, "ALREADY_ENROLLED", "The child already holds a place.")
        if not errors:
            await execute(
                """INSERT INTO enrolment (id, child_id, location_id, request_id, start_date)
                   VALUES (gen_random_uuid(), $1, $2, $3, $4)""",
                row["child_id"],
                row["location_id"],
                row["request_id"],
                start,
            )
            await execute(
                f"""UPDATE application SET updated_at = now(),
                       status = CASE WHEN id = $2 THEN 'ENROLLED' ELSE 'CLOSED' END
                    WHERE request_id = $1
                      AND (id = $2 OR status IN {OPEN_APPLICATION_STATUSES_SQL})""",
                row["request_id"],
                application_id,
            )
            await execute(
                """UPDATE care_request SET status = 'FULFILLED', closed_at = now(),
                       emergency_since = NULL WHERE id = $1""",
                row["request_id"],
            )
    return await _result(AcceptOfferPayload, row["request_id"], grant, errors)


async def decline_offer(
    info: Info, input: Annotated[AnswerOfferInput, arg("The offer to decline.")]
) -> DeclineOfferPayload:
    """Decline an offered place; the request stays open at the other locations."""
    errors = Errors()
    target = await writable(info, "application", input.application_id, Ability.ANSWER_OFFER)
    if target is None:
        errors.add(["input", "applicationId"], "NOT_FOUND", _NO_APPLICATION)
        return DeclineOfferPayload(care_request=None, errors=errors.items)
    application_id, _, grant = target
    async with in_transaction():
        row = await _lock_application(application_id)
        if row["request_status"] != "OPEN" or row["status"] != "OFFERED":
            errors.add(
                ["input", "applicationId"], "NOT_OFFERED", "This location has no open offer."
            )
        else:
            await execute(
                "UPDATE application SET status = 'DECLINED', updated_at = now() WHERE id = $1",
                application_id,
            )
    return await _result(DeclineOfferPayload, row["request_id"], grant, errors)


async def update_care_request(
    info: Info, input: Annotated[UpdateCareRequestInput, arg("The corrections.")]
) -> UpdateCareRequestPayload:
    """Correct an open request's start date, care pattern or note."""
    today = datetime.date.today()
    errors = Errors()
    target = await writable(info, "request", input.request_id, Ability.SUBMIT_CARE_REQUEST)
    if target is None:
        errors.add(["input", "requestId"], "NOT_FOUND", _NO_REQUEST)
    changes: dict[str, Any] = {}
    if provided(input.desired_start_date):
        if input.desired_start_date is None:
            errors.add(["input", "desiredStartDate"], "REQUIRED", "This field is required.")
        else:
            validation.in_future(
                errors, ["input", "desiredStartDate"], input.desired_start_date, today
            )
            changes["desired_start_date"] = input.desired_start_date
    if provided(input.care_pattern):
        check_pattern(errors, ["input", "carePattern"], input.care_pattern or [])
        changes["care_pattern"] = pattern_json(input.care_pattern or [])
    if provided(input.note):
        changes["note"] = check_note(errors, ["input", "note"], input.note or "")
    if errors or target is None:
        return UpdateCareRequestPayload(care_request=None, errors=errors.items)
    request_id, _, grant = target
    async with in_transaction():
        rows = await fetch("SELECT status FROM care_request WHERE id = $1 FOR UPDATE", request_id)
        if rows[0]["status"] != "OPEN":
            errors.add(["input", "requestId"], "NOT_OPEN", "The request is no longer open.")
        elif changes:
            await execute(
                """UPDATE care_request SET
                       desired_start_date = coalesce($2, desired_start_date),
                       care_pattern = coalesce($3::jsonb, care_pattern),
                       note = coalesce($4, note)
                   WHERE id = $1""",
                request_id,
                changes.get("desired_start_date"),
                changes.get("care_pattern"),
                changes.get("note"),
            )
    return await _result(UpdateCareRequestPayload, request_id, grant, errors)


async def add_chosen_locations(
    info: Info, input: Annotated[AddChosenLocationsInput, arg("The locations to add.")]
) -> AddChosenLocationsPayload:
    """Choose more locations for an open request, after the ones chosen before."""
    errors = Errors()
    path = ["input", "locationIds"]
    target = await writable(info, "request", input.request_id, Ability.CHOOSE_LOCATIONS)
    if target is None:
        errors.add(["input", "requestId"], "NOT_FOUND", _NO_REQUEST)
        return AddChosenLocationsPayload(care_request=None, errors=errors.items)
    request_id, _, grant = target
    async with in_transaction():
        # Lock first, read after: a statement that waited for the lock would still see
        # the locations the other call just added as absent.
        await fetch("SELECT 1 FROM care_request WHERE id = $1 FOR UPDATE", request_id)
        rows = await fetch(
            f"""SELECT r.status,
                   ARRAY(SELECT location_id FROM application WHERE request_id = r.id) AS known,
                   (SELECT count(*) FROM application WHERE request_id = r.id
                      AND NOT by_emergency_offer
                      AND status IN {OPEN_APPLICATION_STATUSES_SQL}) AS open_choices
               FROM care_request r WHERE r.id = $1""",
            request_id,
        )
        chosen = set(rows[0]["known"])
        if rows[0]["status"] != "OPEN":
            errors.add(["input", "requestId"], "NOT_OPEN", "The request is no longer open.")
            return AddChosenLocationsPayload(care_request=None, errors=errors.items)
        # The maximum is on the family's locations still open: one that said no (or an
        # emergency-list offer) leaves room for another choice.
        location_ids = await check_locations(
            errors, path, input.location_ids, rows[0]["open_choices"]
        )
        if not errors and chosen & set(location_ids):
            errors.add(path, "ALREADY_CHOSEN", "A location is already chosen for this request.")
        if not errors:
            await execute(
                """INSERT INTO application (id, request_id, location_id, preference, status,
                       staff_child, by_emergency_offer, refusal_reason, created_at, updated_at)
                   SELECT gen_random_uuid(), $1, loc,
                          ord + (SELECT coalesce(max(preference), 0) FROM application
                                 WHERE request_id = $1), 'PENDING', false, false, '', now(), now()
                   FROM unnest($2::uuid[]) WITH ORDINALITY AS t(loc, ord)""",
                request_id,
                location_ids,
            )
            await outbox.new_applications(None, request_id, location_ids)
    return await _result(AddChosenLocationsPayload, request_id, grant, errors)


# --- The dashboard's "what next". ---------------------------------------------------------

_REPLIED = {"REFUSED", "DECLINED", "WITHDRAWN", "CLOSED"}


async def next_steps(info: Info, household_id: uuid.UUID, grant: str) -> list[NextStep]:
    """What the family should do next, most urgent first: answer offers before their
    deadline, record births, file requests for children without one, choose more
    locations when every chosen one said no; otherwise, what they are waiting for."""
    loaders = info.context.loaders
    today = datetime.date.today()
    children = await loaders.children.load((household_id, grant))
    requests = await loaders.requests.load((household_id, grant))
    applications = await loaders.applications.load_many(
        [(uuid.UUID(r.id), grant) for r in requests]
    )
    steps: list[NextStep] = []
    requested = {r.child_id for r in requests if r.status != "WITHDRAWN"}
    for request, apps in zip(requests, applications, strict=True):
        if request.status != "OPEN":
            continue
        rid = strawberry.ID(request.id)
        cid = strawberry.ID(str(request.child_id))
        for a in apps:
            if a.status != "OFFERED":
                continue
            start = a.offered_start_date or request.desired_start_date
            if a.reply_deadline is not None and a.reply_deadline < today:
                steps.append(
                    NextStep(
                        kind=NextStepKind.OFFER_EXPIRED,
                        message=f"The offer of {a.location.name} expired on {a.reply_deadline}; "
                        "contact the location.",
                        deadline=a.reply_deadline,
                        child_id=cid,
                        request_id=rid,
                        application_id=strawberry.ID(a.id),
                    )
                )
            else:
                until = f" by {a.reply_deadline}" if a.reply_deadline else ""
                steps.append(
                    NextStep(
                        kind=NextStepKind.REPLY_TO_OFFER,
                        message=f"{a.location.name} offers a place from {start}: "
                        f"accept or decline{until}.",
                        deadline=a.reply_deadline,
                        child_id=cid,
                        request_id=rid,
                        application_id=strawberry.ID(a.id),
                    )
                )
        waiting = [a for a in apps if a.status in ("PENDING", "WAITLISTED")]
        if apps and all(a.status in _REPLIED for a in apps):
            steps.append(
                NextStep(
                    kind=NextStepKind.CHOOSE_MORE_LOCATIONS,
                    message="No chosen location can offer a place: choose more locations.",
                    deadline=None,
                    child_id=cid,
                    request_id=rid,
                    application_id=None,
                )
            )
        elif waiting:
            emergency = (
                " The request is on the emergency list." if request.on_emergency_list else ""
            )
            steps.append(
                NextStep(
                    kind=NextStepKind.WAIT_FOR_ANSWERS,
                    message=f"Waiting for an answer from {len(waiting)} location(s).{emergency}",
                    deadline=None,
                    child_id=cid,
                    request_id=rid,
                    application_id=None,
                )
            )
    for child in children:
        cid = strawberry.ID(child.id)
        expected = child.expected_birth_date
        if child.birth_date is None and expected is not None and expected <= today:
            steps.append(
                NextStep(
                    kind=NextStepKind.RECORD_BIRTH,
                    message=f"Record the birth date and national register number of "
                    f"{child.first_name}.",
                    deadline=None,
                    child_id=cid,
                    request_id=None,
                    application_id=None,
                )
            )
        if uuid.UUID(child.id) not in requested:
            steps.append(
                NextStep(
                    kind=NextStepKind.FILE_REQUEST,
                    message=f"File a care request for {child.first_name}.",
                    deadline=None,
                    child_id=cid,
                    request_id=None,
                    application_id=None,
                )
            )
    order = list(NextStepKind)
    steps.sort(key=lambda s: (order.index(s.kind), s.deadline or datetime.date.max))
    return steps
