"""The access log: every non-parent read of personal data, one row per dossier per request.

Its references (viewer, household, disclosure) have no foreign-key constraints: a
constraint checks each inserted row by locking the referenced row (FOR KEY SHARE), and
every read of a viewer locks that viewer's user row, so concurrent requests of one user
contend on it (multixacts) and an inbox page of 100 families takes 100 locks on household
rows: it made the access log most of the cost of a read. The log only ever names rows
the same statement has just read. What the constraints did on delete, triggers do
(migration 0011): a deleted household takes its log rows with it; a deleted user or
disclosure leaves its rows with the reference cleared. (A read that logs a household in
the very moment it is erased can leave a row naming a household that no longer exists:
the constraint would have made that read fail instead.)"""

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
    # Indexed by a BRIN index (migration 0013): rows arrive in time order, and a btree
    # on `at` cost every logged read an insert into it.
    at = fields.DatetimeField(auto_now_add=True)
    viewer: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="access_log_entries",
        null=True,
        on_delete=fields.SET_NULL,
        db_constraint=False,  # see the module docstring
    )
    role = fields.CharField(max_length=24)
    grant_name = fields.CharField(max_length=32)
    # Null only for a uniqueness check about a child outside the caller's dossiers.
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "models.Household",
        related_name="access_log_entries",
        null=True,
        on_delete=fields.CASCADE,
        db_constraint=False,  # see the module docstring
    )
    # Qualified GraphQL field names, e.g. "Parent.phone".
    fields_read: Any = fields.JSONField()
    operation_name = fields.CharField(max_length=200, null=True)
    request_id = fields.CharField(max_length=36)
    # For uniqueness checks: ANSWERED, NOT_FOUND or RATE_LIMITED (null for plain reads).
    outcome = fields.CharField(max_length=16, null=True)
    # Reads made for a legal disclosure; hidden from the parent while it is secret.
    disclosure: fields.ForeignKeyNullableRelation[Disclosure] = fields.ForeignKeyField(
        "models.Disclosure",
        related_name="access_log_entries",
        null=True,
        on_delete=fields.SET_NULL,
        db_constraint=False,  # see the module docstring
    )

    class Meta:
        table = "access_log"
