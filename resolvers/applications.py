"""Providers handle applications at their own locations: offer a place (also to an
emergency-list request of their municipality), waitlist, refuse, withdraw an offer, mark
a staff member's child; end enrolments; change their location; follow their quota.

Every write locks in the same order as the family's answers (`resolvers.requests`): the
request row, its applications, the location, the child; each lock is its own statement
and the reads that decide come after it, so concurrent offers and acceptances never
exceed a location's capacity nor give a child two places.
"""

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
from loket.errors import InvalidInput
from loket.settings import settings
from models.requests import OPEN_APPLICATION_STATUSES_SQL
from permissions.scopes import Params, emergency_condition
from resolvers import priority, validation
from resolvers.access import parse_id
from resolvers.capacity import places_taken
from resolvers.inbox import (
    candidate_from_row,
    criteria_of,
    family_features,
    parents_aggregate,
)
from resolvers.loaders import APPLICATION_SQL, application_from_row
from resolvers.validation import Errors
from schema.applications import (
    EndEnrolmentInput,
    EndEnrolmentPayload,
    Enrolment,
    LocationQuota,
    LocationSettings,
    MarkStaffChildInput,
    MarkStaffChildPayload,
    OfferPlaceInput,
    OfferPlacePayload,
    PriorityCriterion,
    RefuseApplicationInput,
    RefuseApplicationPayload,
    UpdateLocationInput,
    UpdateLocationPayload,
    WaitlistApplicationInput,
    WaitlistApplicationPayload,
    WithdrawOfferInput,
    WithdrawOfferPayload,
)
from schema.common import Weekday
from schema.directives import arg

_NO_APPLICATION = "No such open application at a location you work for."


def _own_location(info: Info, value: Any) -> uuid.UUID | None:
    location = parse_id(value)
    return location if location in info.context.viewer.location_ids else None


async def _application(application_id: uuid.UUID) -> Any:
    rows = await fetch(f"{APPLICATION_SQL} WHERE a.id = $1", application_id)
    return application_from_row(rows[0], "PROVIDER_SELECTED") if rows else None


async def offer_place(
    info: Info, input: Annotated[OfferPlaceInput, arg("The offer.")]
) -> OfferPlacePayload:
    """Offer a place at one's own location to a request that chose it, or to an
    emergency-list request of its municipality (a new application is made for it)."""
    today = datetime.date.today()
    errors = Errors()
    location = _own_location(info, input.location_id)
    request_id = parse_id(input.request_id)
    if location is None:
        errors.add(["input", "locationId"], "NOT_FOUND", "Not a location you work for.")
    if input.start_date is not None and input.start_date < today:
        errors.add(["input", "startDate"], "DATE_IN_PAST", "The start cannot be in the past.")
    deadline = input.reply_deadline
    if deadline is not None and deadline < today:
        errors.add(["input", "replyDeadline"], "DATE_IN_PAST", "The deadline has passed.")
    elif deadline is not None and input.start_date is not None and deadline > input.start_date:
        errors.add(
            ["input", "replyDeadline"], "DEADLINE_AFTER_START", "The deadline is after the start."
        )
    if errors or location is None:
        return OfferPlacePayload(application=None, errors=errors.items)
    path = ["input", "requestId"]
    async with in_transaction():
        p = Params([request_id, location])
        munis = "ARRAY(SELECT municipality_id FROM provider_location WHERE id = $2)"
        emergency = emergency_condition("r", "h", munis, p.add(settings.emergency_days))
        request = None
        if request_id is not None:
            await fetch("SELECT 1 FROM care_request WHERE id = $1 FOR UPDATE", request_id)
            rows = await fetch(
                f"""SELECT r.status, r.desired_start_date,
                       (SELECT a.id FROM application a WHERE a.request_id = r.id
                        AND a.location_id = $2 AND a.status IN {OPEN_APPLICATION_STATUSES_SQL})
                           AS application_id,
                       ({emergency}) AS on_list
                    FROM care_request r JOIN household h ON h.id = r.household_id
                    WHERE r.id = $1""",
                *p.values,
            )
            request = rows[0] if rows else None
        # A request this location may not answer does not exist for it.
        if (
            request is None
            or request["status"] != "OPEN"
            or (request["application_id"] is None and not request["on_list"])
        ):
            errors.add(path, "NOT_FOUND", "No such open request in your inbox.")
            return OfferPlacePayload(application=None, errors=errors.items)
        start = input.start_date or max(request["desired_start_date"], today)
        if deadline is None:
            # The usual reply time, but never past the start (an offer for a soon or past
            # desired start without a deadline is not the provider's mistake).
            deadline = min(today + datetime.timedelta(days=settings.offer_reply_days), start)
        elif deadline > start:
            errors.add(
                ["input", "replyDeadline"],
                "DEADLINE_AFTER_START",
                "The deadline is after the start.",
            )
            return OfferPlacePayload(application=None, errors=errors.items)
        if request["application_id"] is not None and await fetch(
            """SELECT 1 FROM application WHERE id = $1 AND status = 'OFFERED'
                   AND offered_start_date = $2 AND reply_deadline = $3""",
            request["application_id"],
            start,
            deadline,
        ):
            # The same offer again (a doubled or retried request, on any server): nothing
            # changes, so nothing is written and the family is not told twice.
            return OfferPlacePayload(
                application=await _application(request["application_id"]), errors=[]
            )
        await fetch("SELECT 1 FROM provider_location WHERE id = $1 FOR UPDATE", location)
        capacity, taken = await places_taken(location, start)
        if taken >= capacity:
            errors.add(["input", "startDate"], "LOCATION_FULL", "No place left in that month.")
            return OfferPlacePayload(application=None, errors=errors.items)
        # A closed application of this location (refused, declined, withdrawn) is offered
        # again in place: the row that was written is the one to return.
        written = await fetch(
            """INSERT INTO application (id, request_id, location_id, preference, status,
                   offered_start_date, reply_deadline, staff_child, by_emergency_offer,
                   refusal_reason, answered_at, answered_by_id, created_at, updated_at)
               VALUES ($1, $2, $3, (SELECT coalesce(max(preference), 0) + 1 FROM application
                                    WHERE request_id = $2),
                       'OFFERED', $4, $5, false, true, '', now(), $6, now(), now())
               ON CONFLICT (request_id, location_id) DO UPDATE SET status = 'OFFERED',
                   offered_start_date = $4, reply_deadline = $5, refusal_reason = '',
                   answered_at = now(),
                   answered_by_id = $6, updated_at = now()
               RETURNING id""",
            request["application_id"] or uuid.uuid4(),
            request_id,
            location,
            start,
            deadline,
            info.context.viewer.user_id,
        )
        await outbox.offer(None, written[0]["id"])
    return OfferPlacePayload(application=await _application(written[0]["id"]), errors=[])


async def _answer(
    info: Info, value: Any, allowed: tuple[str, ...], refusal: str
) -> tuple[Any, Errors]:
    """Lock an open application at one of the viewer's locations and check its status is
    one of `allowed`; (row, errors)."""
    errors = Errors()
    path = ["input", "applicationId"]
    application_id = parse_id(value)
    if application_id is None:
        errors.add(path, "NOT_FOUND", _NO_APPLICATION)
        return None, errors
    await fetch(
        """SELECT 1 FROM care_request r JOIN application a ON a.request_id = r.id
           WHERE a.id = $1 FOR UPDATE OF r, a""",
        application_id,
    )
    rows = await fetch(
        """SELECT a.id, a.status, r.status AS request_status FROM application a
           JOIN care_request r ON r.id = a.request_id
           WHERE a.id = $1 AND a.location_id = ANY($2::uuid[])""",
        application_id,
        list(info.context.viewer.location_ids),
    )
    row = rows[0] if rows else None
    if (
        row is None
        or row["request_status"] != "OPEN"
        or row["status"]
        not in (
            "PENDING",
            "WAITLISTED",
            "OFFERED",
        )
    ):
        errors.add(path, "NOT_FOUND", _NO_APPLICATION)
    elif row["status"] not in allowed:
        errors.add(path, refusal, f"Not possible while the application is {row['status']}.")
    return row, errors


async def waitlist_application(
    info: Info, input: Annotated[WaitlistApplicationInput, arg("The application.")]
) -> WaitlistApplicationPayload:
    """Put a pending application on the waiting list."""
    async with in_transaction():
        row, errors = await _answer(info, input.application_id, ("PENDING",), "NOT_PENDING")
        if not errors:
            await execute(
                """UPDATE application SET status = 'WAITLISTED', answered_at = now(),
                       answered_by_id = $2, updated_at = now() WHERE id = $1""",
                row["id"],
                info.context.viewer.user_id,
            )
    if errors:
        return WaitlistApplicationPayload(application=None, errors=errors.items)
    return WaitlistApplicationPayload(application=await _application(row["id"]), errors=[])


async def refuse_application(
    info: Info, input: Annotated[RefuseApplicationInput, arg("The refusal.")]
) -> RefuseApplicationPayload:
    """Refuse a pending or waitlisted application, with a reason the family sees. An
    outstanding offer is withdrawn first (withdrawOffer)."""
    reason = " ".join(validation.storable_text(input.reason).split())
    pre = Errors()
    if not reason:
        pre.add(["input", "reason"], "REQUIRED", "Say why.")
    elif len(reason) > 500:
        pre.add(["input", "reason"], "TOO_LONG", "At most 500 characters.")
    if pre:
        return RefuseApplicationPayload(application=None, errors=pre.items)
    async with in_transaction():
        row, errors = await _answer(
            info, input.application_id, ("PENDING", "WAITLISTED"), "OFFER_OUTSTANDING"
        )
        if not errors:
            await execute(
                """UPDATE application SET status = 'REFUSED', refusal_reason = $3,
                       answered_at = now(), answered_by_id = $2, updated_at = now()
                   WHERE id = $1""",
                row["id"],
                info.context.viewer.user_id,
                reason,
            )
    if errors:
        return RefuseApplicationPayload(application=None, errors=errors.items)
    return RefuseApplicationPayload(application=await _application(row["id"]), errors=[])


async def withdraw_offer(
    info: Info, input: Annotated[WithdrawOfferInput, arg("The offer to withdraw.")]
) -> WithdrawOfferPayload:
    """Take back an offer the family has not answered. An application the family chose is
    pending again; one that only the offer made (an emergency-list offer) ends with it,
    so the location does not become one the family chose."""
    async with in_transaction():
        row, errors = await _answer(info, input.application_id, ("OFFERED",), "NOT_OFFERED")
        if not errors:
            await execute(
                """UPDATE application SET offered_start_date = NULL, reply_deadline = NULL,
                       status = CASE WHEN by_emergency_offer THEN 'CLOSED' ELSE 'PENDING' END,
                       answered_at = now(), answered_by_id = $2,
                       updated_at = now() WHERE id = $1""",
                row["id"],
                info.context.viewer.user_id,
            )
    if errors:
        return WithdrawOfferPayload(application=None, errors=errors.items)
    return WithdrawOfferPayload(application=await _application(row["id"]), errors=[])


async def mark_staff_child(
    info: Info, input: Annotated[MarkStaffChildInput, arg("The mark.")]
) -> MarkStaffChildPayload:
    """Mark (or unmark) the child as a staff member's child, for the own priority policy."""
    async with in_transaction():
        row, errors = await _answer(
            info, input.application_id, ("PENDING", "WAITLISTED", "OFFERED"), "NOT_OPEN"
        )
        if not errors:
            await execute(
                "UPDATE application SET staff_child = $2, updated_at = now() WHERE id = $1",
                row["id"],
                input.staff_child,
            )
    if errors:
        return MarkStaffChildPayload(application=None, errors=errors.items)
    return MarkStaffChildPayload(application=await _application(row["id"]), errors=[])


async def end_enrolment(
    info: Info, input: Annotated[EndEnrolmentInput, arg("The end of the enrolment.")]
) -> EndEnrolmentPayload:
    """Record the last day of care; it starts the five-year retention clock."""
    errors = Errors()
    enrolment_id = parse_id(input.enrolment_id)
    async with in_transaction():
        rows = []
        if enrolment_id is not None:
            rows = await fetch(
                """SELECT id, location_id, start_date, end_date FROM enrolment
                   WHERE id = $1 AND location_id = ANY($2::uuid[]) FOR UPDATE""",
                enrolment_id,
                list(info.context.viewer.location_ids),
            )
        if not rows:
            errors.add(["input", "enrolmentId"], "NOT_FOUND", "No enrolment at your locations.")
        elif rows[0]["end_date"] is not None:
            errors.add(["input", "enrolmentId"], "ALREADY_ENDED", "The enrolment has ended.")
        elif input.end_date < rows[0]["start_date"]:
            errors.add(["input", "endDate"], "END_BEFORE_START", "Before the first day.")
        if errors:
            return EndEnrolmentPayload(enrolment=None, errors=errors.items)
        await execute(
            "UPDATE enrolment SET end_date = $2 WHERE id = $1", enrolment_id, input.end_date
        )
    row = rows[0]
    return EndEnrolmentPayload(
        enrolment=Enrolment(
            id=strawberry.ID(str(row["id"])),
            location_id=strawberry.ID(str(row["location_id"])),
            start_date=row["start_date"],
            end_date=input.end_date,
        ),
        errors=[],
    )


LOCATION_SETTINGS_SQL = """SELECT id, capacity, min_age_months, max_age_months, opening_hours,
    opening_days, priority_policy, priority_criteria FROM provider_location WHERE id = $1"""


def settings_from_row(r: Any) -> LocationSettings:
    criteria = criteria_of(r["priority_criteria"])
    return LocationSettings(
        id=strawberry.ID(str(r["id"])),
        capacity=r["capacity"],
        min_age_months=r["min_age_months"],
        max_age_months=r["max_age_months"],
        opening_hours=r["opening_hours"],
        opening_days=[Weekday(d) for d in r["opening_days"] or []],
        priority_policy=r["priority_policy"],
        priority_criteria=[
            PriorityCriterion(criterion=c["criterion"], weight=c["weight"]) for c in criteria
        ],
    )


async def update_location(
    info: Info, input: Annotated[UpdateLocationInput, arg("The changes.")]
) -> UpdateLocationPayload:
    """Change one's own location's capacity, ages, opening times and own priority policy."""
    errors = Errors()
    location = _own_location(info, input.location_id)
    if location is None:
        errors.add(["input", "locationId"], "NOT_FOUND", "Not a location you work for.")
    changes: dict[str, Any] = {}
    if input.capacity is not None:
        if not 1 <= input.capacity <= 500:
            errors.add(["input", "capacity"], "OUT_OF_RANGE", "Between 1 and 500.")
        changes["capacity"] = input.capacity
    for name, key in (("min_age_months", "minAgeMonths"), ("max_age_months", "maxAgeMonths")):
        value = getattr(input, name)
        if value is not None:
            if not 0 <= value <= 72:
                errors.add(["input", key], "OUT_OF_RANGE", "Between 0 and 72 months.")
            changes[name] = value
    if input.opening_hours is not None:
        if len(input.opening_hours) > 200:
            errors.add(["input", "openingHours"], "TOO_LONG", "At most 200 characters.")
        changes["opening_hours"] = validation.storable_text(input.opening_hours).strip()
    if input.opening_days is not None:
        days = [d.value for d in input.opening_days]
        if len(set(days)) != len(days):
            errors.add(["input", "openingDays"], "DUPLICATE_DAY", "Each day at most once.")
        changes["opening_days"] = days
    if input.priority_policy is not None:
        if len(input.priority_policy) > 2000:
            errors.add(["input", "priorityPolicy"], "TOO_LONG", "At most 2000 characters.")
        changes["priority_policy"] = validation.storable_text(input.priority_policy).strip()
    if input.priority_criteria is not None:
        criteria = [{"criterion": c.criterion, "weight": c.weight} for c in input.priority_criteria]
        messages = priority.validate_criteria(criteria)
        for message in messages:
            errors.add(["input", "priorityCriteria"], "INVALID_CRITERIA", message)
        if not messages:  # (an unknown criterion may be text JSON cannot encode)
            changes["priority_criteria"] = orjson.dumps(criteria).decode()
    if errors or location is None:
        return UpdateLocationPayload(location=None, errors=errors.items)
    async with in_transaction():
        rows = await fetch(f"{LOCATION_SETTINGS_SQL} FOR UPDATE", location)
        merged_min = changes.get("min_age_months", rows[0]["min_age_months"])
        merged_max = changes.get("max_age_months", rows[0]["max_age_months"])
        if merged_min > merged_max:
            errors.add(["input", "minAgeMonths"], "AGE_ORDER", "Youngest above oldest age.")
            return UpdateLocationPayload(location=None, errors=errors.items)
        if changes:
            p = Params([location])
            sets = ", ".join(
                f"{column} = {p.add(value)}{'::jsonb' if column == 'priority_criteria' else ''}"
                for column, value in changes.items()
            )
            await execute(f"UPDATE provider_location SET {sets} WHERE id = $1", *p.values)
    rows = await fetch(LOCATION_SETTINGS_SQL, location)
    return UpdateLocationPayload(location=settings_from_row(rows[0]), errors=[])


QUOTA_SQL = """SELECT DISTINCT ON (c.id) c.id AS child_id, r.submitted_at, {features}
FROM enrolment e
JOIN child c ON c.id = e.child_id
JOIN household h ON h.id = c.household_id
LEFT JOIN care_request r ON r.id = e.request_id
{parents}
WHERE e.location_id = $1 AND e.start_date <= $3 AND (e.end_date IS NULL OR e.end_date >= $2)
ORDER BY c.id"""


async def location_quota(
    info: Info,
    location_id: Annotated[strawberry.ID, arg("The location.")],
    year: Annotated[int, arg("The year.")],
) -> LocationQuota | None:
    """The share of children holding a place during `year` who come from priority groups
    or vulnerable families, against the location's target; null for a location the viewer
    does not work for (admins: any)."""
    viewer = info.context.viewer
    location = parse_id(location_id)
    if location is None:
        return None
    if (
        viewer.effective_role is not None
        and viewer.effective_role.value != "ADMIN"
        and (location not in viewer.location_ids)
    ):
        return None
    if not 2000 <= year <= 2100:
        raise InvalidInput("OUT_OF_RANGE", "The year must be between 2000 and 2100.")
    place = await fetch(
        "SELECT tariff, subsidy_step FROM provider_location WHERE id = $1", location
    )
    if not place:
        return None
    rows = await fetch(
        QUOTA_SQL.format(
            features=family_features("h", "c.id", "$1"), parents=parents_aggregate("h")
        ),
        location,
        datetime.date(year, 1, 1),
        datetime.date(year, 12, 31),
    )
    epoch = datetime.datetime(year, 1, 1, tzinfo=datetime.UTC)
    counting = sum(
        priority.counts_toward_quota(
            candidate_from_row({**r, "submitted_at": r["submitted_at"] or epoch}, "child_id")
        )
        for r in rows
    )
    # Free-price providers apply only their own policy: no target, whatever step is stored.
    target = (
        None
        if place[0]["tariff"] == "FREE_PRICE"
        else priority.quota_target(place[0]["subsidy_step"])
    )
    share = counting / len(rows) if rows else None
    return LocationQuota(
        year=year,
        enrolled=len(rows),
        counting=counting,
        share=share,
        target=target,
        met=None if target is None or share is None else share >= target,
    )
