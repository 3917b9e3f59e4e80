"""Public provider data: childcare locations."""

from __future__ import annotations

import strawberry

from models.providers import LocationKind as LocationKindModel
from models.providers import TariffKind as TariffKindModel
from schema.common import Weekday
from schema.directives import public
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
