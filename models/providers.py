"""Childcare provider organisations (opvanginitiatieven) and their locations."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
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
    priority_policy = fields.TextField(default="")
    last_minute_places = fields.IntField(default=0)

    class Meta:
        table = "provider_location"
