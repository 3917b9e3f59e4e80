"""Use of a sick-child home care service by a child (the service's only grant)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import SickChildService
    from models.households import Child


class ServiceRecord(Model):
    id = fields.UUIDField(primary_key=True)
    service: fields.ForeignKeyRelation[SickChildService] = fields.ForeignKeyField(
        "models.SickChildService", related_name="records", on_delete=fields.RESTRICT
    )
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "models.Child", related_name="service_records", on_delete=fields.CASCADE
    )
    service_date = fields.DateField()

    class Meta:
        table = "service_record"
