"""Data-subject rights and accountability: agreements that condition access, the legal
disclosure register, breach and complaint reports, erasure requests and data exports."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import ReferralOrganisation, SickChildService, User
    from models.households import Household, Parent
    from models.providers import ProviderOrganisation
    from models.regions import Counter


class AgreementKind(StrEnum):
    # A processor agreement (verwerkersovereenkomst) with an organisation.
    PROCESSING = "PROCESSING"
    # A confidentiality agreement signed by one person (admins, sick-child service staff).
    CONFIDENTIALITY = "CONFIDENTIALITY"


class Agreement(Model):
    """A signed agreement; exactly one party column is set (CHECK in the migration).

    Access depends on it: an organisation's staff get their grants only while a
    processing agreement is in force for the organisation (signed_on <= today and no
    ends_on before today); admins and sick-child service staff also need their own
    confidentiality agreement.
    """

    id = fields.UUIDField(primary_key=True)
    kind = fields.CharEnumField(AgreementKind, max_length=16)
    provider_organisation: fields.ForeignKeyNullableRelation[ProviderOrganisation] = (
        fields.ForeignKeyField(
            "models.ProviderOrganisation",
            related_name="agreements",
            null=True,
            on_delete=fields.CASCADE,
        )
    )
    referral_organisation: fields.ForeignKeyNullableRelation[ReferralOrganisation] = (
        fields.ForeignKeyField(
            "models.ReferralOrganisation",
            related_name="agreements",
            null=True,
            on_delete=fields.CASCADE,
        )
    )
    sick_child_service: fields.ForeignKeyNullableRelation[SickChildService] = (
        fields.ForeignKeyField(
            "models.SickChildService",
            related_name="agreements",
            null=True,
            on_delete=fields.CASCADE,
        )
    )
    counter: fields.ForeignKeyNullableRelation[Counter] = fields.ForeignKeyField(
        "models.Counter", related_name="agreements", null=True, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="agreements", null=True, on_delete=fields.CASCADE
    )
    version = fields.CharField(max_length=40)
    signed_on = fields.DateField()
    ends_on = fields.DateField(null=True)
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="agreements_recorded", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "agreement"


class Disclosure(Model):
    """A disclosure of a household's data to an authority (police, justice, tax), recorded
    by an admin. A secret one is hidden from the parent, with the access-log entries
    linked to it."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="disclosures", on_delete=fields.CASCADE
    )
    authority = fields.CharField(max_length=200)
    legal_basis = fields.CharField(max_length=500)
    # What was disclosed (categories of data, free text without the data itself).
    data_disclosed = fields.CharField(max_length=1000)
    disclosed_on = fields.DateField()
    secret = fields.BooleanField(default=False)
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="disclosures_recorded", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "disclosure"


class ReportKind(StrEnum):
    DATA_BREACH = "DATA_BREACH"
    COMPLAINT = "COMPLAINT"


class ReportStatus(StrEnum):
    OPEN = "OPEN"
    TRIAGED = "TRIAGED"
    CLOSED = "CLOSED"


class Report(Model):
    """A suspected data breach or a complaint, from anyone; admins triage and close it.
    A breach carries the deadline for notifying the supervisory authority (72 hours
    after it became known)."""

    id = fields.UUIDField(primary_key=True)
    kind = fields.CharEnumField(ReportKind, max_length=16)
    status = fields.CharEnumField(ReportStatus, max_length=16, default=ReportStatus.OPEN)
    reporter: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    # Plain text, never rendered as HTML.
    contact_email = fields.CharField(max_length=254, default="")
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    notification_deadline = fields.DatetimeField(null=True)
    authority_notified_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    severity = fields.CharField(max_length=16, default="")

    class Meta:
        table = "report"
        indexes = (("status", "created_at"),)


class ReportNote(Model):
    """An admin's note on a report (triage, decisions, closing)."""

    id = fields.BigIntField(primary_key=True)
    report: fields.ForeignKeyRelation[Report] = fields.ForeignKeyField(
        "models.Report", related_name="notes", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="report_notes", null=True, on_delete=fields.SET_NULL
    )
    text = fields.TextField()
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "report_note"


class ErasureStatus(StrEnum):
    # Decided: what could go is gone; the rest waits until `retained_until`.
    DONE = "DONE"
    PARTIAL = "PARTIAL"
    REFUSED = "REFUSED"


class ErasureRequest(Model):
    """A parent's request to be forgotten, and the decision with its reasons."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="erasure_requests", null=True, on_delete=fields.SET_NULL
    )
    parent: fields.ForeignKeyNullableRelation[Parent] = fields.ForeignKeyField(
        "models.Parent", related_name="erasure_requests", null=True, on_delete=fields.SET_NULL
    )
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="erasure_requests", null=True, on_delete=fields.SET_NULL
    )
    requested_at = fields.DatetimeField(auto_now_add=True)
    status = fields.CharEnumField(ErasureStatus, max_length=16)
    # [{"data": ..., "outcome": "ERASED" | "RETAINED", "until": date|None, "reason": ...}]
    decision: Any = fields.JSONField(default=list)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "erasure_request"


class ExportStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    DOWNLOADED = "DOWNLOADED"
    EXPIRED = "EXPIRED"


class DataExport(Model):
    """A machine-readable copy of a household's data for a parent, made by a job and
    downloadable once through a short-lived link (only the link's digest is kept)."""

    id = fields.UUIDField(primary_key=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="exports", on_delete=fields.CASCADE
    )
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="exports", null=True, on_delete=fields.SET_NULL
    )
    requested_at = fields.DatetimeField(auto_now_add=True)
    status = fields.CharEnumField(ExportStatus, max_length=16, default=ExportStatus.PENDING)
    # The document, kept only until it is downloaded or expires.
    content = fields.BinaryField(null=True)
    token_digest = fields.CharField(max_length=64, null=True, unique=True)
    ready_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    downloaded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "data_export"
