"""Households (dossiers): parents, children and referral-worker mandates.

RRNs are never stored: only `rrn_hashes`, the HMAC-SHA256 of the number under every
key configured when it was written (key ids in `rrn_key_ids`, same order), so a
rotated key still matches older rows. Only `permissions.rrn` computes them and only the uniqueness
check in `resolvers.uniqueness` compares.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import ReferralOrganisation, User
    from models.regions import Municipality


class WorkSituation(StrEnum):
    WORKING = "WORKING"
    JOB_SEEKING = "JOB_SEEKING"
    IN_TRAINING = "IN_TRAINING"
    INTEGRATION_COURSE = "INTEGRATION_COURSE"
    NONE = "NONE"


class EducationLevel(StrEnum):
    NO_SECONDARY_DIPLOMA = "NO_SECONDARY_DIPLOMA"
    SECONDARY = "SECONDARY"
    HIGHER = "HIGHER"


class FamilySituation(StrEnum):
    SINGLE_PARENT = "SINGLE_PARENT"
    TWO_PARENTS = "TWO_PARENTS"


class RelationToChild(StrEnum):
    PARENT = "PARENT"
    FOSTER_PARENT = "FOSTER_PARENT"
    OTHER = "OTHER"


class Household(Model):
    """A dossier: one or two parents with their children and care requests."""

    id = fields.UUIDField(primary_key=True)
    # Residence municipality: drives the counter-region and emergency-list grants.
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="households", on_delete=fields.RESTRICT
    )
    family_situation = fields.CharEnumField(FamilySituation, max_length=16)
    income_below_threshold = fields.BooleanField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "household"


class Parent(Model):
    """Applicant or partner of a household."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="parents", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="parents", null=True, on_delete=fields.SET_NULL
    )
    is_applicant = fields.BooleanField(default=True)
    first_name = fields.CharField(max_length=100)
    last_name = fields.CharField(max_length=100)
    nationality = fields.CharField(max_length=2)
    birthplace = fields.CharField(max_length=120, default="")
    home_language = fields.CharField(max_length=8)
    street = fields.CharField(max_length=200)
    postal_code = fields.CharField(max_length=4)
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="parents", on_delete=fields.RESTRICT
    )
    phone = fields.CharField(max_length=32)
    email = fields.CharField(max_length=254)
    work_situation = fields.CharEnumField(WorkSituation, max_length=24)
    work_share_percent = fields.SmallIntField(null=True)
    education_level = fields.CharEnumField(EducationLevel, max_length=24)
    relation_to_child = fields.CharEnumField(RelationToChild, max_length=16)
    rrn_hashes: Any = ArrayField(element_type="bytea", null=True)
    rrn_key_ids: Any = ArrayField(element_type="text", null=True)

    class Meta:
        table = "parent"


class Child(Model):
    """A child, possibly unborn (expected birth date, no RRN yet)."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="children", on_delete=fields.CASCADE
    )
    first_name = fields.CharField(max_length=100)
    nickname = fields.CharField(max_length=100, default="")
    last_name = fields.CharField(max_length=100)
    birth_date = fields.DateField(null=True)
    expected_birth_date = fields.DateField(null=True)
    rrn_hashes: Any = ArrayField(element_type="bytea", null=True)
    rrn_key_ids: Any = ArrayField(element_type="text", null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "child"


class Mandate(Model):
    """A parent's explicit, revocable consent that a referral organisation acts for them."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="mandates", on_delete=fields.CASCADE
    )
    referral_organisation: fields.ForeignKeyRelation[ReferralOrganisation] = fields.ForeignKeyField(
        "models.ReferralOrganisation", related_name="mandates", on_delete=fields.RESTRICT
    )
    granted_by: fields.ForeignKeyRelation[Parent] = fields.ForeignKeyField(
        "models.Parent", related_name="mandates_granted", on_delete=fields.CASCADE
    )
    granted_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mandate"
