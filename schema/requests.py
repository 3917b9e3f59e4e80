"""Care requests, their applications per chosen location, and provider inbox entries."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry

from loket.context import Info
from models.requests import ApplicationStatus as ApplicationStatusModel
from models.requests import RequestStatus as RequestStatusModel
from permissions.policy import Ability
from schema.common import UserError, Weekday
from schema.directives import guarded, input_field, public
from schema.households import Child, Household, organisation_seen_by
from schema.providers import ProviderLocation

strawberry.enum(
    RequestStatusModel, name="RequestStatus", description="Open, fulfilled or withdrawn."
)
RequestStatus = RequestStatusModel
strawberry.enum(
    ApplicationStatusModel,
    name="ApplicationStatus",
    description="Where a request stands at one chosen location.",
)
ApplicationStatus = ApplicationStatusModel


@strawberry.enum(description="Which part of the day care is needed.")
class DayPart(Enum):
    FULL = "FULL"
    MORNING = "MORNING"
    AFTERNOON = "AFTERNOON"


@strawberry.type(description="One day of the weekly care pattern.")
class CareDay:
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    day: Weekday | None = guarded(Ability.REQUEST_DETAILS, "Day of the week.")
    part: DayPart | None = guarded(Ability.REQUEST_DETAILS, "Full day or half day.")


@strawberry.enum(description="Who filed a request.")
class FiledByKind(Enum):
    PARENT = "PARENT"
    REFERRAL_WORKER = "REFERRAL_WORKER"
    ADMIN = "ADMIN"


@strawberry.type(
    description="Who filed a request: the parent, or a referral worker (with mandate)."
)
class RequestOrigin:
    kind: FiledByKind = public("Parent, referral worker or admin.", reason="part of filedBy")
    named_organisation: strawberry.Private[str | None]
    organisation_id: strawberry.Private[uuid.UUID | None]

    @public(
        "The referral organisation, for a request filed under a mandate (for another "
        "organisation's worker: null).",
        reason="part of filedBy",
    )
    def organisation_name(self, info: Info) -> str | None:
        return organisation_seen_by(info, self.organisation_id, self.named_organisation)


@strawberry.type(description="A care request at one chosen location.")
class Application:
    id: strawberry.ID = public("Opaque identifier.", reason="opaque identifier")
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    location: ProviderLocation = public(
        "The chosen location.", reason="public provider data; the application is scoped"
    )
    preference: int | None = guarded(
        Ability.APPLICATION_HANDLING, "Rank in the parent's order of preference (1 = first)."
    )
    status: ApplicationStatus | None = guarded(
        Ability.APPLICATION_HANDLING, "Status at this location."
    )
    offered_start_date: datetime.date | None = guarded(
        Ability.APPLICATION_HANDLING, "Start date of an offered place."
    )
    reply_deadline: datetime.date | None = guarded(
        Ability.APPLICATION_HANDLING, "Date by which the other side must answer."
    )


@strawberry.type(description="A request for childcare for one child.")
class CareRequest:
    id: strawberry.ID = public("Opaque identifier.", reason="opaque identifier")
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    child_id: strawberry.Private[uuid.UUID]
    location_ids: strawberry.Private[list[uuid.UUID]]
    desired_start_date: datetime.date | None = guarded(
        Ability.REQUEST_DETAILS, "Date from which care is wanted."
    )
    care_pattern: list[CareDay] | None = guarded(
        Ability.REQUEST_DETAILS, "Days and parts of days on which care is wanted."
    )
    note: str | None = guarded(Ability.REQUEST_DETAILS, "Free-text note of the parent.")
    status: RequestStatus | None = guarded(Ability.REQUEST_DETAILS, "Status of the request.")
    submitted_at: datetime.datetime | None = guarded(
        Ability.REQUEST_DETAILS, "When the request was filed (picks the priority rule set)."
    )
    on_emergency_list: bool | None = guarded(
        Ability.REQUEST_DETAILS,
        "Whether the request is on the emergency list (open, start 60 days away or closer).",
    )
    filed_by: RequestOrigin | None = guarded(
        Ability.REQUEST_DETAILS, "Who filed the request (parent or referral worker)."
    )
    closed_at: datetime.datetime | None = guarded(
        Ability.REQUEST_DETAILS, "When the request was fulfilled or withdrawn."
    )

    @guarded(Ability.HOUSEHOLD_CHILDREN, "The child the request is for.")
    async def child(self, info: Info) -> Child | None:
        return await info.context.loaders.child.load((self.child_id, self.grant))

    @guarded(Ability.PREFERRED_PROVIDERS, "Chosen locations, in order of preference.")
    async def preferred_locations(self, info: Info) -> list[ProviderLocation] | None:
        found = await info.context.loaders.locations.load_many(self.location_ids)
        return [loc for loc in found if loc is not None]

    @guarded(
        Ability.APPLICATION_HANDLING,
        "The request at each chosen location (providers: their own locations only).",
    )
    async def applications(self, info: Info) -> list[Application] | None:
        return await info.context.loaders.applications.load((uuid.UUID(self.id), self.grant))


@strawberry.enum(description="Why a request is in a location's inbox.")
class InboxReason(Enum):
    SELECTED = "SELECTED"
    EMERGENCY_LIST = "EMERGENCY_LIST"


@strawberry.type(
    description="Why a request ranks where it does in a location's inbox: the legal rule "
    "set picked by its submission date (or the provider's own policy only, for free-price "
    "locations), the priority tier, the score and the reasons in words."
)
class PriorityExplanation:
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    rule_set: str | None = guarded(
        Ability.PARENT_SITUATION, "Key of the rule set applied (e.g. IKT_2025_RESTORED)."
    )
    rule_set_name: str | None = guarded(Ability.PARENT_SITUATION, "Name of the rule set.")
    tier: int | None = guarded(
        Ability.PARENT_SITUATION, "0 for the absolute priority group, 1 for the others."
    )
    score: int | None = guarded(
        Ability.PARENT_SITUATION, "Points from legal priority groups and the own policy."
    )
    reasons: list[str] | None = guarded(
        Ability.PARENT_SITUATION,
        "The explanation, e.g. 'work situation: absolute priority', 'single parent', "
        "'requested 8 months ago'.",
    )


@strawberry.type(description="One request in a location's inbox.")
class InboxEntry:
    rank: int = public(
        "Position in the inbox under the priority rules (1 = first).",
        reason="inbox structure; says nothing about the family by itself",
    )
    priority: PriorityExplanation = public(
        "Why the request ranks here.",
        reason="inbox structure; the explanation's fields carry their own policy",
    )
    overdue: bool | None = guarded(
        Ability.APPLICATION_HANDLING,
        "Still pending past the answer deadline (LOKET_ANSWER_DAYS after it was made).",
    )
    reason: InboxReason = public(
        "Why the request is in this inbox.", reason="inbox structure; entries are scoped"
    )
    application: Application | None = public(
        "The application at this location (null for emergency-list requests not chosen here).",
        reason="inbox structure; the application's fields carry their own policy",
    )
    request: CareRequest = public(
        "The care request.", reason="inbox structure; the request's fields carry their own policy"
    )
    household: Household = public(
        "The dossier.", reason="inbox structure; the dossier's fields carry their own policy"
    )


@strawberry.input(description="Which inbox entries to show; every filter is optional.")
class InboxFilter:
    statuses: list[ApplicationStatus] | None = input_field(
        "Only applications in these statuses (leaves out emergency-list entries, which have "
        "no application here).",
        default=None,
    )
    reasons: list[InboxReason] | None = input_field("Only entries of these kinds.", default=None)
    start_month: datetime.date | None = input_field(
        "Only requests whose desired start falls in this month (any day of it).", default=None
    )
    min_age_months: int | None = input_field(
        "Only children at least this old (in months) at the desired start.", default=None
    )
    max_age_months: int | None = input_field(
        "Only children at most this old (in months) at the desired start.", default=None
    )
    overdue_only: bool = input_field(
        "Only applications pending past the answer deadline.", default=False
    )


@strawberry.input(description="One day of the wanted care pattern.")
class CareDayInput:
    day: Weekday = input_field("Day of the week.", Ability.REQUEST_DETAILS)
    part: DayPart = input_field("Full day or half day.", Ability.REQUEST_DETAILS)


@strawberry.input(description="File a care request for a child of a dossier one may write.")
class SubmitCareRequestInput:
    child_id: strawberry.ID = input_field("The child the request is for.")
    desired_start_date: datetime.date = input_field(
        "Date from which care is wanted (in the future).", Ability.REQUEST_DETAILS
    )
    care_pattern: list[CareDayInput] = input_field(
        "Days and parts of days (at least one).", Ability.REQUEST_DETAILS
    )
    location_ids: list[strawberry.ID] = input_field(
        "Chosen locations in order of preference (1 to the configured maximum, no repeats).",
        Ability.PREFERRED_PROVIDERS,
    )
    note: str = input_field("Free-text note.", Ability.REQUEST_DETAILS, default="")


@strawberry.type(description="Result of submitCareRequest.")
class SubmitCareRequestPayload:
    care_request: CareRequest | None = public(
        "The new request, null when there are errors.",
        reason="payload structure; the request's fields carry their own policy",
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason="the caller's own input"
    )


@strawberry.enum(description="What the family should do next.")
class NextStepKind(Enum):
    REPLY_TO_OFFER = "REPLY_TO_OFFER"
    OFFER_EXPIRED = "OFFER_EXPIRED"
    RECORD_BIRTH = "RECORD_BIRTH"
    FILE_REQUEST = "FILE_REQUEST"
    CHOOSE_MORE_LOCATIONS = "CHOOSE_MORE_LOCATIONS"
    WAIT_FOR_ANSWERS = "WAIT_FOR_ANSWERS"


_STEP = "part of nextSteps, which carries the policy"


@strawberry.type(description="One thing the family should do (or wait for), with its deadline.")
class NextStep:
    kind: NextStepKind = public("What to do.", reason=_STEP)
    message: str = public("The same, in words.", reason=_STEP)
    deadline: datetime.date | None = public("By when, if there is a deadline.", reason=_STEP)
    child_id: strawberry.ID | None = public("The child it is about.", reason=_STEP)
    request_id: strawberry.ID | None = public("The request it is about.", reason=_STEP)
    application_id: strawberry.ID | None = public(
        "The application (location) it is about.", reason=_STEP
    )


_PAYLOAD = "payload structure; the request's fields carry their own policy"


@strawberry.type(description="A care request after a change, or what was wrong.")
class CareRequestResult:
    care_request: CareRequest | None = public(
        "The request after the change, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason="the caller's own input"
    )


@strawberry.type(description="Result of withdrawCareRequest.")
class WithdrawCareRequestPayload(CareRequestResult):
    pass


@strawberry.type(description="Result of withdrawApplication.")
class WithdrawApplicationPayload(CareRequestResult):
    pass


@strawberry.type(description="Result of acceptOffer.")
class AcceptOfferPayload(CareRequestResult):
    pass


@strawberry.type(description="Result of declineOffer.")
class DeclineOfferPayload(CareRequestResult):
    pass


@strawberry.type(description="Result of updateCareRequest.")
class UpdateCareRequestPayload(CareRequestResult):
    pass


@strawberry.type(description="Result of addChosenLocations.")
class AddChosenLocationsPayload(CareRequestResult):
    pass


@strawberry.input(description="Withdraw a whole care request (all its locations).")
class WithdrawCareRequestInput:
    request_id: strawberry.ID = input_field("The request.")


@strawberry.input(description="Withdraw the request at one chosen location only.")
class WithdrawApplicationInput:
    application_id: strawberry.ID = input_field("The application (request at one location).")


@strawberry.input(description="Answer an offered place.")
class AnswerOfferInput:
    application_id: strawberry.ID = input_field("The application with the offer.")


@strawberry.input(description="Correct an open request: only the fields given change.")
class UpdateCareRequestInput:
    request_id: strawberry.ID = input_field("The request.")
    desired_start_date: datetime.date | None = input_field(
        "Date from which care is wanted (in the future).",
        Ability.REQUEST_DETAILS,
        default=strawberry.UNSET,
    )
    care_pattern: list[CareDayInput] | None = input_field(
        "Days and parts of days (at least one).", Ability.REQUEST_DETAILS, default=strawberry.UNSET
    )
    note: str | None = input_field(
        "Free-text note.", Ability.REQUEST_DETAILS, default=strawberry.UNSET
    )


@strawberry.input(description="Add locations to an open request, after the ones chosen before.")
class AddChosenLocationsInput:
    request_id: strawberry.ID = input_field("The request.")
    location_ids: list[strawberry.ID] = input_field(
        "Locations to add, in order of preference.", Ability.PREFERRED_PROVIDERS
    )
