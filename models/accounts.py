"""User accounts, their role memberships, referral organisations and sick-child services."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.providers import ProviderLocation, ProviderOrganisation
    from models.regions import Counter


class Role(StrEnum):
    """Roles of MISSION.md section 1; a membership gives a user one of them."""

    PARENT = "PARENT"
    TOELEIDER = "TOELEIDER"
    ADMIN = "ADMIN"
    LOKET = "LOKET"
    PROVIDER = "PROVIDER"
    SICK_CHILD_SERVICE = "SICK_CHILD_SERVICE"
    INTEGRATOR = "INTEGRATOR"


class ReferralKind(StrEnum):
    """The kind of a referral organisation."""

    OCMW = "OCMW"
    VDAB = "VDAB"
    KIND_EN_GEZIN = "KIND_EN_GEZIN"
    CAW = "CAW"
    OTHER = "OTHER"


class ReferralOrganisation(Model):
    """An organisation of referral workers (toeleiders): OCMW, VDAB, Kind en Gezin, ..."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ReferralKind, max_length=16, default=ReferralKind.OTHER)

    class Meta:
        table = "referral_organisation"


class SickChildService(Model):
    """A 'thuisopvang zieke kinderen' service (Leuven)."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=200)

    class Meta:
        table = "sick_child_service"


class User(Model):
    id = fields.UUIDField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255, null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class Membership(Model):
    """A role held by a user, tied to the organisation the role acts for.

    Exactly the column matching the role is set (a CHECK constraint in the migration
    keeps it so); PARENT and ADMIN need none. An INTEGRATOR acts for one provider
    organisation or one counter, with that role's grant.
    """

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=24)
    counter: fields.ForeignKeyNullableRelation[Counter] = fields.ForeignKeyField(
        "models.Counter", related_name="memberships", null=True, on_delete=fields.CASCADE
    )
    provider_organisation: fields.ForeignKeyNullableRelation[ProviderOrganisation] = (
        fields.ForeignKeyField(
            "models.ProviderOrganisation",
            related_name="memberships",
            null=True,
            on_delete=fields.CASCADE,
        )
    )
    provider_location: fields.ForeignKeyNullableRelation[ProviderLocation] = fields.ForeignKeyField(
        "models.ProviderLocation", related_name="memberships", null=True, on_delete=fields.CASCADE
    )
    referral_organisation: fields.ForeignKeyNullableRelation[ReferralOrganisation] = (
        fields.ForeignKeyField(
            "models.ReferralOrganisation",
            related_name="memberships",
            null=True,
            on_delete=fields.CASCADE,
        )
    )
    sick_child_service: fields.ForeignKeyNullableRelation[SickChildService] = (
        fields.ForeignKeyField(
            "models.SickChildService",
            related_name="memberships",
            null=True,
            on_delete=fields.CASCADE,
        )
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "membership"


class RateLimitWindow(Model):
    """Fixed-window counters for abuse limits (uniqueness check, sign-in). `key` is a
    keyed digest, never an email or a number in the clear."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=96)
    window_start = fields.DatetimeField()
    hits = fields.IntField(default=0)

    class Meta:
        table = "rate_limit_window"
        unique_together = (("key", "window_start"),)
