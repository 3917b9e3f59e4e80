"""Care requests, their per-location applications, and enrolments."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.households import Child, Household, Mandate
    from models.providers import ProviderLocation


class RequestStatus(StrEnum):
    OPEN = "OPEN"
    FULFILLED = "FULFILLED"
    WITHDRAWN = "WITHDRAWN"


class ApplicationStatus(StrEnum):
    PENDING = "PENDING"
    OFFERED = "OFFERED"
    WAITLISTED = "WAITLISTED"
    REFUSED = "REFUSED"
    DECLINED = "DECLINED"
    ENROLLED = "ENROLLED"
    WITHDRAWN = "WITHDRAWN"
    CLOSED = "CLOSED"


# Statuses in which a request is still open at a location (provider grant (a)).
OPEN_APPLICATION_STATUSES = (
    ApplicationStatus.PENDING,
    ApplicationStatus.OFFERED,
    ApplicationStatus.WAITLISTED,
)
OPEN_APPLICATION_STATUSES_SQL = (
    "(" + ",".join(f"'{s.value}'" for s in OPEN_APPLICATION_STATUSES) + ")"
)


class CareRequest(Model):
    """A request for childcare for one child; at most one OPEN per child (partial index)."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="requests", on_delete=fields.CASCADE
    )
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "models.Child", related_name="requests", on_delete=fields.CASCADE
    )
    desired_start_date = fields.DateField()
    # {"MON": "FULL", "TUE": "AM", ...}: days of the week with full or half days.
    care_pattern: Any = fields.JSONField(default=dict)
    note = fields.TextField(default="")
    status = fields.CharEnumField(RequestStatus, max_length=16, default=RequestStatus.OPEN)
    submitted_at = fields.DatetimeField(auto_now_add=True)
    filed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="filed_requests", null=True, on_delete=fields.SET_NULL
    )
    filed_via_mandate: fields.ForeignKeyNullableRelation[Mandate] = fields.ForeignKeyField(
        "models.Mandate", related_name="filed_requests", null=True, on_delete=fields.SET_NULL
    )
    # Since when the request is on the emergency list, stamped by the daily job (the
    # query-time rule stays the source of truth); providers are notified once.
    emergency_since = fields.DateField(null=True)
    emergency_notified_at = fields.DatetimeField(null=True)
    # The municipalities (NIS codes) whose providers were told about it.
    emergency_notified_municipalities: Any = ArrayField(element_type="varchar(5)", null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "care_request"
        indexes = (("status", "desired_start_date"),)


class Application(Model):
    """A care request as seen by one chosen location, in order of preference."""

    id = fields.UUIDField(primary_key=True)
    request: fields.ForeignKeyRelation[CareRequest] = fields.ForeignKeyField(
        "models.CareRequest", related_name="applications", on_delete=fields.CASCADE
    )
    location: fields.ForeignKeyRelation[ProviderLocation] = fields.ForeignKeyField(
        "models.ProviderLocation", related_name="applications", on_delete=fields.RESTRICT
    )
    preference = fields.SmallIntField()
    status = fields.CharEnumField(
        ApplicationStatus, max_length=16, default=ApplicationStatus.PENDING
    )
    offered_start_date = fields.DateField(null=True)
    reply_deadline = fields.DateField(null=True)
    # Chosen by the family, or made by a provider's offer to an emergency-list request;
    # only the family's own count toward the maximum and the preferred providers.
    by_emergency_offer = fields.BooleanField(default=False)
    # Set by the provider: the child of a staff member (own priority criterion).
    staff_child = fields.BooleanField(default=False)
    refusal_reason = fields.CharField(max_length=500, default="")
    answered_at = fields.DatetimeField(null=True)
    answered_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="answered_applications", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "application"
        unique_together = (("request", "location"), ("request", "preference"))
        indexes = (("location_id", "status"),)


class Enrolment(Model):
    """A child holding a place at a location; `end_date` starts the retention clock."""

    id = fields.UUIDField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "models.Child", related_name="enrolments", on_delete=fields.CASCADE
    )
    location: fields.ForeignKeyRelation[ProviderLocation] = fields.ForeignKeyField(
        "models.ProviderLocation", related_name="enrolments", on_delete=fields.RESTRICT
    )
    request: fields.ForeignKeyNullableRelation[CareRequest] = fields.ForeignKeyField(
        "models.CareRequest", related_name="enrolments", null=True, on_delete=fields.SET_NULL
    )
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)

    class Meta:
        table = "enrolment"
