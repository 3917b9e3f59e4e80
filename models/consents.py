"""The consent ledger: per parent and purpose, every grant and revocation, never edited.

Handling the care request is the legal basis of the platform and needs no consent;
every other use of a parent's data needs a consent that is active at the moment of use.
The current state of a purpose is its latest event.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.households import Household, Parent


class ConsentPurpose(StrEnum):
    """A use of personal data beyond handling the request."""

    RESEARCH_CONTACT = "RESEARCH_CONTACT"
    SATISFACTION_SURVEY = "SATISFACTION_SURVEY"
    CHILDCARE_NEWS = "CHILDCARE_NEWS"


class ConsentAction(StrEnum):
    GRANTED = "GRANTED"
    REVOKED = "REVOKED"


class ConsentEvent(Model):
    """One entry of the ledger (append-only)."""

    id = fields.BigIntField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="consent_events", on_delete=fields.CASCADE
    )
    parent: fields.ForeignKeyRelation[Parent] = fields.ForeignKeyField(
        "models.Parent", related_name="consent_events", on_delete=fields.CASCADE
    )
    purpose = fields.CharEnumField(ConsentPurpose, max_length=24)
    action = fields.CharEnumField(ConsentAction, max_length=8)
    at = fields.DatetimeField(auto_now_add=True)
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="consent_events_recorded", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "consent_event"
        indexes = (("parent_id", "purpose", "at"),)
