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
from schema.common import UserError
from schema.directives import guarded, input_field, public
from schema.households import Child, Household
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


@strawberry.enum(description="A day of the week on which care is needed.")
class Weekday(Enum):
    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"


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


@strawberry.type(description="One request in a location's inbox.")
class InboxEntry:
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
