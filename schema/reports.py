"""Reports: suspected data breaches and complaints, filed by anyone, handled by admins.

A report's text is plain text: it is stored as written (control characters removed) and
only ever returned as a JSON string, never as HTML; whoever shows it must show it as
text. `Report` is the admins' view with the notes; `FiledReport` is what a signed-in
reporter sees of their own report (status and closing note, not the text or the notes).
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

import strawberry

from models.privacy import ReportKind as ReportKindModel
from models.privacy import ReportStatus as ReportStatusModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import Public, guarded, public

strawberry.enum(
    ReportKindModel,
    name="ReportKind",
    description=(
        "DATA_BREACH: a suspected personal data breach (the supervisory authority must be "
        "notified within 72 hours, GDPR art. 33); COMPLAINT: any other complaint."
    ),
)
ReportKind = ReportKindModel
strawberry.enum(
    ReportStatusModel,
    name="ReportStatus",
    description="OPEN: not yet looked at; TRIAGED: assessed by an admin; CLOSED: handled.",
)
ReportStatus = ReportStatusModel


@strawberry.enum(description="How serious an admin judges a report to be.")
class ReportSeverity(Enum):
    LOW = strawberry.enum_value("LOW", description="Little or no risk for the people concerned.")
    MEDIUM = strawberry.enum_value("MEDIUM", description="A risk for the people concerned.")
    HIGH = strawberry.enum_value(
        "HIGH",
        description="A high risk for the people concerned (a breach: inform them too, art. 34).",
    )


@strawberry.enum(description="Where a data breach stands with the supervisory authority.")
class AuthorityNotification(Enum):
    NOT_APPLICABLE = strawberry.enum_value("NOT_APPLICABLE", description="A complaint.")
    PENDING = strawberry.enum_value(
        "PENDING", description="A breach not yet notified, nor closed as not notifiable."
    )
    NOTIFIED = strawberry.enum_value(
        "NOTIFIED", description="The authority was notified (see authorityNotifiedAt)."
    )
    NOT_NOTIFIABLE = strawberry.enum_value(
        "NOT_NOTIFIABLE",
        description="Closed without notification: judged unlikely to result in a risk; the "
        "closing note says why.",
    )


_REPORTED = "what the caller reports; stored as plain text, never shown to other callers"
_OWN = "the viewer's own report: myReports is guarded and returns only reports the viewer filed"
_ADMIN_INPUT = "input of an admin-only mutation, whose policy applies"
_ERRORS = "the caller's own input"
_ID = "opaque identifier, reveals nothing; the report itself is reached only by admins"
_PAYLOAD = "payload structure; the report's fields carry their own policy"


def _reported(description: str, **kwargs: Any) -> Any:
    return strawberry.field(
        description=description, directives=[Public(reason=_REPORTED)], **kwargs
    )


def _admin_input(description: str, **kwargs: Any) -> Any:
    return strawberry.field(
        description=description, directives=[Public(reason=_ADMIN_INPUT)], **kwargs
    )


def _admin(description: str) -> Any:
    return guarded(Ability.MANAGE_REPORTS, description)


@strawberry.input(description="A suspected data breach or a complaint.")
class FileReportInput:
    kind: ReportKind = _reported("A suspected data breach, or another complaint.")
    text: str = _reported(
        "What happened, as plain text (10 to 5000 characters; control characters are removed, "
        "markup is kept as typed and never rendered). Errors REQUIRED, TOO_SHORT, TOO_LONG."
    )
    contact_email: str | None = _reported(
        "Where admins may reply (optional: a report may stay anonymous). INVALID_EMAIL when "
        "it is not an address.",
        default=None,
    )


@strawberry.type(description="Result of fileReport: an acknowledgement, nothing more.")
class FileReportPayload:
    report_id: strawberry.ID | None = public(
        "The report's reference, to quote in later contact; null when there are errors.",
        reason="the caller's own new report; reveals nothing about other reports",
    )
    received_at: datetime.datetime | None = public(
        "When the report was received; null when there are errors.",
        reason="the caller's own new report; reveals nothing about other reports",
    )
    errors: list[UserError] = public(
        "What is wrong with the input, or RATE_LIMITED; empty on success.", reason=_ERRORS
    )


@strawberry.type(description="An admin's note on a report.")
class ReportNote:
    text: str | None = _admin("The note, plain text.")
    author: str | None = _admin(
        "Display name of the admin who wrote it; null once that account is gone."
    )
    at: datetime.datetime | None = _admin("When it was written.")


@strawberry.type(
    description=(
        "A suspected data breach or a complaint, as admins handle it. The text is plain text "
        "written by the reporter: show it as text, never as HTML."
    )
)
class Report:
    id: strawberry.ID = public("The report's reference.", reason=_ID)
    kind: ReportKind | None = _admin("A data breach or a complaint.")
    status: ReportStatus | None = _admin("OPEN, TRIAGED or CLOSED.")
    severity: ReportSeverity | None = _admin("The admins' assessment; null until triaged.")
    text: str | None = _admin("What the reporter wrote (plain text).")
    contact_email: str | None = _admin("The address the reporter gave for a reply, if any.")
    reporter_email: str | None = _admin(
        "The sign-in address of the account that filed it; null for an anonymous report."
    )
    created_at: datetime.datetime | None = _admin("When it was received.")
    notification_deadline: datetime.datetime | None = _admin(
        "A breach: when the supervisory authority must have been notified, 72 hours after "
        "the report was received (GDPR art. 33); null for a complaint."
    )
    authority_notified_at: datetime.datetime | None = _admin(
        "When the supervisory authority was notified of the breach; null while not."
    )
    authority_notification: AuthorityNotification | None = _admin(
        "Where the breach stands with the supervisory authority."
    )
    overdue: bool | None = _admin(
        "Whether the notification deadline has passed while the breach is still PENDING "
        "(neither notified nor closed as not notifiable)."
    )
    hours_left: int | None = _admin(
        "A PENDING breach: whole hours left until the notification deadline; once overdue, "
        "minus the whole hours since it passed. Null otherwise."
    )
    closed_at: datetime.datetime | None = _admin("When it was closed; null while not.")
    notes: list[ReportNote] | None = _admin(
        "The admins' notes, oldest first; the last one of a closed report is its closing note, "
        "which the reporter sees."
    )


@strawberry.type(
    description=(
        "A report the signed-in viewer filed, as its reporter sees it: where it stands and "
        "the closing note, not the admins' other notes."
    )
)
class FiledReport:
    id: strawberry.ID = public("The report's reference.", reason=_OWN)
    kind: ReportKind = public("A data breach or a complaint.", reason=_OWN)
    status: ReportStatus = public("OPEN, TRIAGED or CLOSED.", reason=_OWN)
    created_at: datetime.datetime = public("When it was received.", reason=_OWN)
    closed_at: datetime.datetime | None = public("When it was closed; null while not.", reason=_OWN)
    closing_note: str | None = public(
        "The admins' answer when they closed it (plain text); null while not closed.",
        reason=_OWN,
    )


@strawberry.input(description="Assess a report: its severity, optionally with a note.")
class TriageReportInput:
    report_id: strawberry.ID = _admin_input("The report (OPEN or TRIAGED).")
    severity: ReportSeverity = _admin_input("How serious it is.")
    note: str | None = _admin_input("Why, as plain text (at most 5000 characters).", default=None)


@strawberry.type(description="Result of triageReport.")
class TriageReportPayload:
    report: Report | None = public("The report; null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.input(description="A note on a report that is not closed.")
class AddReportNoteInput:
    report_id: strawberry.ID = _admin_input("The report.")
    text: str = _admin_input("The note, plain text (at most 5000 characters).")


@strawberry.type(description="Result of addReportNote.")
class AddReportNotePayload:
    report: Report | None = public("The report; null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.input(description="Record that the supervisory authority was notified of a breach.")
class RecordAuthorityNotificationInput:
    report_id: strawberry.ID = _admin_input("The breach report (not closed).")
    notified_at: datetime.datetime | None = _admin_input(
        "When the authority was notified, with its time zone; default: now. Not in the "
        "future, not before the report was received.",
        default=None,
    )
    note: str | None = _admin_input(
        "E.g. the authority's reference, as plain text (at most 5000 characters).",
        default=None,
    )


@strawberry.type(description="Result of recordAuthorityNotification.")
class RecordAuthorityNotificationPayload:
    report: Report | None = public("The report; null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.input(description="Close a report with a note for the record and the reporter.")
class CloseReportInput:
    report_id: strawberry.ID = _admin_input("The report (not closed yet).")
    note: str = _admin_input(
        "The closing note, plain text (at most 5000 characters). The reporter sees it. For a "
        "breach closed with notifiable: false it must say why the breach is unlikely to "
        "result in a risk (GDPR art. 33(5))."
    )
    notifiable: bool | None = _admin_input(
        "A breach whose notification is not recorded can only be closed with false: the "
        "admins judged it not notifiable (else AUTHORITY_NOT_NOTIFIED). False contradicts a "
        "recorded notification (NOTIFIED_ALREADY). Ignored for complaints.",
        default=None,
    )


@strawberry.type(description="Result of closeReport.")
class CloseReportPayload:
    report: Report | None = public("The report; null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)
