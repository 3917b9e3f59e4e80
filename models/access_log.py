"""The access log: every non-parent read of personal data, one row per dossier per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.households import Household
    from models.privacy import Disclosure


class AccessLogEntry(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    viewer: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="access_log_entries", null=True, on_delete=fields.SET_NULL
    )
    role = fields.CharField(max_length=24)
    grant_name = fields.CharField(max_length=32)
    # Null only for a uniqueness check about a child outside the caller's dossiers.
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="access_log_entries", null=True, on_delete=fields.CASCADE
    )
    # Qualified GraphQL field names, e.g. "Parent.phone".
    fields_read: Any = fields.JSONField()
    operation_name = fields.CharField(max_length=200, null=True)
    request_id = fields.CharField(max_length=36)
    # For uniqueness checks: ANSWERED, NOT_FOUND or RATE_LIMITED (null for plain reads).
    outcome = fields.CharField(max_length=16, null=True)
    # Reads made for a legal disclosure; hidden from the parent while it is secret.
    disclosure: fields.ForeignKeyNullableRelation[Disclosure] = fields.ForeignKeyField(
        "models.Disclosure", related_name="access_log_entries", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "access_log"
