"""Use of a sick-child home care service by a child (the service's only grant)."""

from tortoise import fields
from tortoise.models import Model


class ServiceRecord(Model):
    id = fields.UUIDField(primary_key=True)
    service = fields.ForeignKeyField(
        "models.SickChildService", related_name="records", on_delete=fields.RESTRICT
    )
    child = fields.ForeignKeyField(
        "models.Child", related_name="service_records", on_delete=fields.CASCADE
    )
    service_date = fields.DateField()

    class Meta:
        table = "service_record"
