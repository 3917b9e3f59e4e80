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


class InformationSource(StrEnum):
    """Who entered priority information (work situation, income, ...): providers see it."""

    PARENT = "PARENT"
    REFERRAL_WORKER = "REFERRAL_WORKER"
    ADMIN = "ADMIN"


class ConsentMethod(StrEnum):
    """How a parent's consent (a mandate) was given."""

    ONLINE = "ONLINE"
    SIGNED_FORM = "SIGNED_FORM"
    IN_PERSON = "IN_PERSON"
    PHONE = "PHONE"


class InvitationKind(StrEnum):
    PARTNER = "PARTNER"
    CLAIM = "CLAIM"


class Household(Model):
    """A dossier: one or two parents with their children and care requests."""

    id = fields.UUIDField(primary_key=True)
    # Residence municipality: drives the counter-region and emergency-list grants.
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="households", on_delete=fields.RESTRICT
    )
    family_situation = fields.CharEnumField(FamilySituation, max_length=16)
    income_below_threshold = fields.BooleanField(null=True)
    # Who last entered the priority information above (and for which organisation).
    situation_source = fields.CharEnumField(
        InformationSource, max_length=16, default=InformationSource.PARENT
    )
    situation_source_organisation: fields.ForeignKeyNullableRelation[ReferralOrganisation] = (
        fields.ForeignKeyField(
            "models.ReferralOrganisation",
            related_name="sourced_households",
            null=True,
            on_delete=fields.SET_NULL,
        )
    )
    situation_recorded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Set by the retention job: the parents' personal data is gone and the dossier exists
    # for nobody any more; what remains feeds the trend statistics.
    anonymised_at = fields.DatetimeField(null=True)

    class Meta:
        table = "household"


class Parent(Model):
    """Applicant or partner of a household. Nationality, home language, work situation,
    education and relation are null only once the retention job anonymised the parent."""

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
    nationality = fields.CharField(max_length=2, null=True)
    birthplace = fields.CharField(max_length=120, default="")
    home_language = fields.CharField(max_length=8, null=True)
    street = fields.CharField(max_length=200)
    postal_code = fields.CharField(max_length=4)
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="parents", on_delete=fields.RESTRICT
    )
    phone = fields.CharField(max_length=32)
    email = fields.CharField(max_length=254)
    work_situation = fields.CharEnumField(WorkSituation, max_length=24, null=True)
    work_share_percent = fields.SmallIntField(null=True)
    education_level = fields.CharEnumField(EducationLevel, max_length=24, null=True)
    relation_to_child = fields.CharEnumField(RelationToChild, max_length=16, null=True)
    # Who last entered the priority information above (and for which organisation).
    situation_source = fields.CharEnumField(
        InformationSource, max_length=16, default=InformationSource.PARENT
    )
    situation_source_organisation: fields.ForeignKeyNullableRelation[ReferralOrganisation] = (
        fields.ForeignKeyField(
            "models.ReferralOrganisation",
            related_name="sourced_parents",
            null=True,
            on_delete=fields.SET_NULL,
        )
    )
    situation_recorded_at = fields.DatetimeField(null=True)
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
    # Set by the retention job: names and number gone, birth dates cut to the month.
    anonymised_at = fields.DatetimeField(null=True)

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
    # How and when the parent consented, and who recorded it (a worker starting a dossier
    # for a family without an account records a consent given on paper or in person).
    consent_method = fields.CharEnumField(
        ConsentMethod, max_length=16, default=ConsentMethod.ONLINE
    )
    consent_given_at = fields.DatetimeField(null=True)
    consent_note = fields.CharField(max_length=500, default="")
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="mandates_recorded", null=True, on_delete=fields.SET_NULL
    )
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="mandates_revoked", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "mandate"


class Invitation(Model):
    """A one-time code: a partner joining a household (PARTNER), or a parent claiming a
    dossier a referral worker started for them (CLAIM). Only a digest of the code is kept."""

    id = fields.UUIDField(primary_key=True)
    kind = fields.CharEnumField(InvitationKind, max_length=8)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="invitations", on_delete=fields.CASCADE
    )
    # CLAIM: the parent record the claimant becomes.
    parent: fields.ForeignKeyNullableRelation[Parent] = fields.ForeignKeyField(
        "models.Parent", related_name="invitations", null=True, on_delete=fields.CASCADE
    )
    code_digest = fields.CharField(max_length=64, unique=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invitations_made", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invitations_used", null=True, on_delete=fields.SET_NULL
    )
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "invitation"
