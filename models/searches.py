"""Search filters signed-in users save and re-run (public location search)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User


class SearchKind(StrEnum):
    LOCATIONS = "LOCATIONS"
    LAST_MINUTE = "LAST_MINUTE"


class SavedSearch(Model):
    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="saved_searches", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    kind = fields.CharEnumField(SearchKind, max_length=16)
    # The search's arguments as given (validated again on every run).
    filters: Any = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "saved_search"
