"""Providers' answers to applications, enrolments, location settings and quota."""

from __future__ import annotations

import datetime

import strawberry

from permissions.policy import Ability
from schema.common import UserError, Weekday
from schema.directives import guarded, input_field, public
from schema.requests import Application

_PAYLOAD = "payload structure; the application's fields carry their own policy"
_ERRORS = "the caller's own input"
_AGGREGATE = "aggregate counts, no personal data"


@strawberry.type(description="An application after a provider's answer, or what was wrong.")
class ApplicationResult:
    application: Application | None = public(
        "The application after the answer, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.type(description="Result of offerPlace.")
class OfferPlacePayload(ApplicationResult):
    pass


@strawberry.type(description="Result of waitlistApplication.")
class WaitlistApplicationPayload(ApplicationResult):
    pass


@strawberry.type(description="Result of refuseApplication.")
class RefuseApplicationPayload(ApplicationResult):
    pass


@strawberry.type(description="Result of withdrawOffer.")
class WithdrawOfferPayload(ApplicationResult):
    pass


@strawberry.type(description="Result of markStaffChild.")
class MarkStaffChildPayload(ApplicationResult):
    pass


@strawberry.input(
    description="Offer a place at one's own location: for a request that chose it, or for "
    "an emergency-list request of its municipality."
)
class OfferPlaceInput:
    request_id: strawberry.ID = input_field("The request.")
    location_id: strawberry.ID = input_field("The location offering the place.")
    start_date: datetime.date | None = input_field(
        "Start date of the place (default: the desired start).",
        Ability.APPLICATION_HANDLING,
        default=None,
    )
    reply_deadline: datetime.date | None = input_field(
        "Date by which the family must answer (default: LOKET_OFFER_REPLY_DAYS from today).",
        Ability.APPLICATION_HANDLING,
        default=None,
    )


@strawberry.input(description="Put an application on the waiting list.")
class WaitlistApplicationInput:
    application_id: strawberry.ID = input_field("The application at one's own location.")


@strawberry.input(description="Refuse an application, with the reason the family will see.")
class RefuseApplicationInput:
    application_id: strawberry.ID = input_field("The application at one's own location.")
    reason: str = input_field("Why (shown to the family).", Ability.APPLICATION_HANDLING)


@strawberry.input(description="Withdraw an offer the family has not answered yet.")
class WithdrawOfferInput:
    application_id: strawberry.ID = input_field("The application with the offer.")


@strawberry.input(description="Mark the child as a staff member's child (own priority policy).")
class MarkStaffChildInput:
    application_id: strawberry.ID = input_field("The application at one's own location.")
    staff_child: bool = input_field(
        "Whether the child is a staff member's child.", Ability.APPLICATION_HANDLING
    )


@strawberry.input(description="End an enrolment at one's own location.")
class EndEnrolmentInput:
    enrolment_id: strawberry.ID = input_field("The enrolment.")
    end_date: datetime.date = input_field(
        "Last day of care; five years later the family's data is anonymised.",
        Ability.APPLICATION_HANDLING,
    )


@strawberry.type(description="An enrolment: a child holding a place at a location.")
class Enrolment:
    id: strawberry.ID = public("Opaque identifier.", reason="opaque identifier")
    location_id: strawberry.ID = public("The location.", reason="public provider data")
    start_date: datetime.date | None = guarded(Ability.APPLICATION_HANDLING, "First day.")
    end_date: datetime.date | None = guarded(
        Ability.APPLICATION_HANDLING, "Last day, once ended (starts the retention clock)."
    )


@strawberry.type(description="Result of endEnrolment.")
class EndEnrolmentPayload:
    enrolment: Enrolment | None = public(
        "The enrolment, null when there are errors.", reason="payload structure"
    )
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.input(description="One criterion of a provider's own priority policy.")
class PriorityCriterionInput:
    criterion: str = input_field("SIBLING, STAFF_CHILD or RESIDENT.")
    weight: int = input_field("Points it adds (1-100).")


@strawberry.type(description="One criterion of a provider's own priority policy.")
class PriorityCriterion:
    criterion: str = public("SIBLING, STAFF_CHILD or RESIDENT.", reason="public provider data")
    weight: int = public("Points it adds.", reason="public provider data")


@strawberry.input(description="Change one's own location: only the fields given change.")
class UpdateLocationInput:
    location_id: strawberry.ID = input_field("The location.")
    capacity: int | None = input_field("Licensed places (1-500).", default=None)
    min_age_months: int | None = input_field("Youngest age accepted.", default=None)
    max_age_months: int | None = input_field("Oldest age accepted.", default=None)
    opening_hours: str | None = input_field("Opening hours, in words.", default=None)
    opening_days: list[Weekday] | None = input_field("Days open.", default=None)
    priority_policy: str | None = input_field("Own priority policy, in words.", default=None)
    priority_criteria: list[PriorityCriterionInput] | None = input_field(
        "Own priority policy, as criteria with weights (applied within the legal rules).",
        default=None,
    )


@strawberry.type(description="A location's own settings, as its staff see them.")
class LocationSettings:
    id: strawberry.ID = public("The location.", reason="public provider data")
    capacity: int = public("Licensed places.", reason="public provider data")
    min_age_months: int = public("Youngest age accepted.", reason="public provider data")
    max_age_months: int = public("Oldest age accepted.", reason="public provider data")
    opening_hours: str = public("Opening hours.", reason="public provider data")
    opening_days: list[Weekday] = public("Days open.", reason="public provider data")
    priority_policy: str = public("Own priority policy, in words.", reason="public provider data")
    priority_criteria: list[PriorityCriterion] = public(
        "Own priority policy, as criteria.", reason="public provider data"
    )


@strawberry.type(description="Result of updateLocation.")
class UpdateLocationPayload:
    location: LocationSettings | None = public(
        "The location after the change, null when there are errors.", reason="payload structure"
    )
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.type(
    description="A location's share of enrolled children from priority groups or vulnerable "
    "families in a year, against its target (20 % for subsidy step 2, 30 % for step 3)."
)
class LocationQuota:
    year: int = public("The year.", reason="aggregate, no personal data")
    enrolled: int = public("Children holding a place during the year.", reason=_AGGREGATE)
    counting: int = public(
        "Of them, children from priority groups or vulnerable families.", reason=_AGGREGATE
    )
    share: float | None = public("counting / enrolled (null when none).", reason=_AGGREGATE)
    target: float | None = public(
        "The target share (null: no target for this location).", reason=_AGGREGATE
    )
    met: bool | None = public("Whether the share reaches the target.", reason=_AGGREGATE)
