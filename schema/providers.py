"""Public provider data: childcare locations, last-minute places and the search over both."""

from __future__ import annotations

import datetime

import strawberry

from models.providers import LocationKind as LocationKindModel
from models.providers import TariffKind as TariffKindModel
from schema.common import PageInfo, UserError, Weekday
from schema.directives import input_field, public
from schema.regions import Municipality

strawberry.enum(LocationKindModel, name="LocationKind", description="Group care or family care.")
LocationKind = LocationKindModel
strawberry.enum(
    TariffKindModel, name="TariffKind", description="Income-related tariff or free price."
)
TariffKind = TariffKindModel

_PUBLIC = "public provider data (MISSION.md section 3.8)"


@strawberry.type(description="A childcare location (opvanglocatie) of a provider organisation.")
class ProviderLocation:
    id: strawberry.ID = public("Opaque identifier.", reason=_PUBLIC)
    name: str = public("Name of the location.", reason=_PUBLIC)
    organisation_name: str = public("Name of the provider organisation.", reason=_PUBLIC)
    street: str = public("Street and number.", reason=_PUBLIC)
    postal_code: str = public("Postal code.", reason=_PUBLIC)
    municipality: Municipality = public("Municipality of the location.", reason=_PUBLIC)
    kind: LocationKind = public("Group or family care.", reason=_PUBLIC)
    capacity: int = public("Licensed number of places.", reason=_PUBLIC)
    tariff: TariffKind = public("Income-related tariff or free price.", reason=_PUBLIC)
    subsidy_step: int | None = public("Subsidy step (1-3) if income-related.", reason=_PUBLIC)
    min_age_months: int = public("Youngest age accepted, in months.", reason=_PUBLIC)
    max_age_months: int = public("Oldest age accepted, in months.", reason=_PUBLIC)
    opening_hours: str = public("Opening hours.", reason=_PUBLIC)
    opening_days: list[Weekday] = public("Days of the week the location is open.", reason=_PUBLIC)
    priority_policy: str = public(
        "The provider's own priority policy, in words (applied within the legal rules).",
        reason=_PUBLIC,
    )
    last_minute_places: int = public(
        "Free places published at short notice and not yet past.", reason=_PUBLIC
    )


_SEARCH = "public search filter (MISSION.md section 3.8)"
_STRUCTURE = "pagination structure; the nodes carry their own policy"
_PAYLOAD = "payload structure; the place's fields are public provider data"
_ERRORS = "the caller's own input"


@strawberry.type(
    description="Free places a location publishes at short notice, for a period, on some days "
    "of the week and for an age group."
)
class LastMinutePlace:
    id: strawberry.ID = public("Opaque identifier.", reason=_PUBLIC)
    location: ProviderLocation = public("The location offering the places.", reason=_PUBLIC)
    period_start: datetime.date = public("First day of the period.", reason=_PUBLIC)
    period_end: datetime.date = public("Last day of the period.", reason=_PUBLIC)
    days: list[Weekday] = public(
        "Days of the week the places are free (empty only for places published before days "
        "were recorded).",
        reason=_PUBLIC,
    )
    min_age_months: int = public("Youngest age accepted, in months.", reason=_PUBLIC)
    max_age_months: int = public("Oldest age accepted, in months.", reason=_PUBLIC)
    places: int = public("Number of free places.", reason=_PUBLIC)
    note: str = public("The provider's note, e.g. how to ask for the place.", reason=_PUBLIC)
    withdrawn_at: datetime.datetime | None = public(
        "When the provider withdrew the places; null while published.", reason=_PUBLIC
    )


@strawberry.type(description="One location found by a search, with its cursor.")
class LocationEdge:
    cursor: str = public("Opaque cursor of this item.", reason=_STRUCTURE)
    node: ProviderLocation = public("The location.", reason=_STRUCTURE)
    distance_km: float | None = public(
        "Distance in km from the centre of `near.postalCode` (to 10 m); null without `near`.",
        reason=_PUBLIC,
    )


@strawberry.type(description="A page of locations found by a search (Relay connection).")
class LocationConnection:
    edges: list[LocationEdge] = public("The locations of this page.", reason=_STRUCTURE)
    page_info: PageInfo = public("Pagination state.", reason=_STRUCTURE)


@strawberry.type(description="One last-minute offer found by a search, with its cursor.")
class LastMinutePlaceEdge:
    cursor: str = public("Opaque cursor of this item.", reason=_STRUCTURE)
    node: LastMinutePlace = public("The offer.", reason=_STRUCTURE)
    distance_km: float | None = public(
        "Distance in km from the centre of `near.postalCode` to the offer's location (to "
        "10 m); null without `near`.",
        reason=_PUBLIC,
    )


@strawberry.type(description="A page of last-minute offers found by a search (Relay connection).")
class LastMinutePlaceConnection:
    edges: list[LastMinutePlaceEdge] = public("The offers of this page.", reason=_STRUCTURE)
    page_info: PageInfo = public("Pagination state.", reason=_STRUCTURE)


@strawberry.input(description="Around a postal code: within a distance of its centre.")
class NearInput:
    postal_code: str = input_field(
        "Postal code whose centre is the origin (UNKNOWN_POSTAL_CODE when no municipality has "
        "it, POSTAL_CODE_NOT_LOCATED when its centre is not known)."
    )
    max_km: float = input_field(
        "Largest distance in km, 0-100 (OUT_OF_RANGE otherwise). A location's own coordinates "
        "count, else the centre of its postal code; locations with neither are left out."
    )


@strawberry.input(
    description="Which locations to find; every filter given must hold. Without `near` the "
    "result is sorted by name, with `near` by distance."
)
class LocationSearchInput:
    municipality_nis_code: str | None = input_field(
        "Only locations in this municipality (UNKNOWN_MUNICIPALITY when there is none).",
        default=None,
    )
    postal_code: str | None = input_field(
        "Only locations with this postal code (INVALID_POSTAL_CODE, UNKNOWN_POSTAL_CODE).",
        default=None,
    )
    near: NearInput | None = input_field(
        "Only locations within a distance of a postal code's centre; sorts by distance.",
        default=None,
    )
    kinds: list[LocationKind] | None = input_field(
        "Only locations of one of these kinds (empty or null: any).", default=None
    )
    tariff: TariffKind | None = input_field("Only locations with this tariff.", default=None)
    age_months: int | None = input_field(
        "Only locations accepting a child of this age in months, 0-72 (OUT_OF_RANGE).",
        default=None,
    )
    open_on: list[Weekday] | None = input_field(
        "Only locations open on every one of these days.", default=None
    )


@strawberry.input(
    description="Which last-minute places to find: published, not withdrawn and not past; "
    "every filter given must hold. Without `near` sorted by start of the period, with `near` "
    "by distance."
)
class LastMinuteSearchInput:
    municipality_nis_code: str | None = input_field(
        "Only places at locations in this municipality (UNKNOWN_MUNICIPALITY).", default=None
    )
    postal_code: str | None = input_field(
        "Only places at locations with this postal code (INVALID_POSTAL_CODE, "
        "UNKNOWN_POSTAL_CODE).",
        default=None,
    )
    near: NearInput | None = input_field(
        "Only places at locations within a distance of a postal code's centre; sorts by distance.",
        default=None,
    )
    from_date: datetime.date | None = input_field(
        "Only places whose period ends on or after this day.", default=None
    )
    to_date: datetime.date | None = input_field(
        "Only places whose period starts on or before this day (PERIOD_ORDER when before "
        "`fromDate`).",
        default=None,
    )
    age_months: int | None = input_field(
        "Only places for a child of this age in months, 0-72 (OUT_OF_RANGE).", default=None
    )
    days: list[Weekday] | None = input_field(
        "Only places free on every one of these days (places published without days match).",
        default=None,
    )


@strawberry.input(description="Publish free places of one of the viewer's own locations.")
class PublishLastMinutePlacesInput:
    location_id: strawberry.ID = input_field(
        "The location (NOT_FOUND unless the viewer works for it)."
    )
    period_start: datetime.date = input_field("First day of the period.")
    period_end: datetime.date = input_field(
        "Last day of the period: not before the start (PERIOD_ORDER), not before today "
        "(DATE_IN_PAST)."
    )
    days: list[Weekday] = input_field(
        "Days of the week the places are free: at least one (REQUIRED), each once (DUPLICATE_DAY)."
    )
    min_age_months: int = input_field("Youngest age accepted, in months, 0-72 (OUT_OF_RANGE).")
    max_age_months: int = input_field(
        "Oldest age accepted, in months, 0-72 (OUT_OF_RANGE), not below the youngest (AGE_ORDER)."
    )
    places: int = input_field("Number of free places, 1-50 (OUT_OF_RANGE).")
    note: str = input_field("A note for parents, at most 500 characters (TOO_LONG).", default="")


@strawberry.type(description="Result of publishLastMinutePlaces.")
class PublishLastMinutePlacesPayload:
    last_minute_place: LastMinutePlace | None = public(
        "The published places; null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason=_ERRORS
    )


@strawberry.input(description="Withdraw published last-minute places of one's own location.")
class WithdrawLastMinutePlacesInput:
    id: strawberry.ID = input_field(
        "The published places (NOT_FOUND unless at a location the viewer works for; "
        "ALREADY_WITHDRAWN)."
    )


@strawberry.type(description="Result of withdrawLastMinutePlaces.")
class WithdrawLastMinutePlacesPayload:
    last_minute_place: LastMinutePlace | None = public(
        "The withdrawn places; null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason=_ERRORS
    )
