"""Childcare provider organisations (opvanginitiatieven) and their locations."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.regions import Municipality


class LocationKind(StrEnum):
    GROUP = "GROUP"
    FAMILY = "FAMILY"


class TariffKind(StrEnum):
    INCOME_RELATED = "INCOME_RELATED"
    FREE_PRICE = "FREE_PRICE"


class ProviderOrganisation(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "provider_organisation"


class ProviderLocation(Model):
    id = fields.UUIDField(primary_key=True)
    organisation: fields.ForeignKeyRelation[ProviderOrganisation] = fields.ForeignKeyField(
        "models.ProviderOrganisation", related_name="locations", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    street = fields.CharField(max_length=200)
    postal_code = fields.CharField(max_length=4)
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="locations", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(LocationKind, max_length=16)
    capacity = fields.IntField()
    tariff = fields.CharEnumField(TariffKind, max_length=16)
    subsidy_step = fields.SmallIntField(null=True)
    min_age_months = fields.SmallIntField(default=0)
    max_age_months = fields.SmallIntField(default=36)
    opening_hours = fields.CharField(max_length=200, default="")
    # Days of the week the location is open ("MON" ... "SUN").
    opening_days: Any = ArrayField(element_type="text", default=list)
    # The provider's own priority policy: in words, and as criteria with weights that the
    # priority engine applies (`resolvers.priority`), e.g. [{"criterion": "SIBLING", "weight": 40}].
    priority_policy = fields.TextField(default="")
    priority_criteria: Any = fields.JSONField(default=list)
    # Where the location is; without coordinates its postal code's centre is used.
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)

    class Meta:
        table = "provider_location"


class LastMinutePlace(Model):
    """Free places a location publishes at short notice (for a period, days, age group)."""

    id = fields.UUIDField(primary_key=True)
    location: fields.ForeignKeyRelation[ProviderLocation] = fields.ForeignKeyField(
        "models.ProviderLocation", related_name="last_minute", on_delete=fields.CASCADE
    )
    period_start = fields.DateField()
    period_end = fields.DateField()
    days: Any = ArrayField(element_type="text", default=list)
    min_age_months = fields.SmallIntField(default=0)
    max_age_months = fields.SmallIntField(default=36)
    places = fields.SmallIntField()
    note = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="last_minute_places", null=True, on_delete=fields.SET_NULL
    )
    withdrawn_at = fields.DatetimeField(null=True)

    class Meta:
        table = "last_minute_place"
        indexes = (("period_end", "period_start"),)
