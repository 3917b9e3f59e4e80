"""Reports: anyone files a suspected data breach or a complaint; admins triage, annotate,
record the authority's notification and close them; a reporter follows their own.

Decisions:
- Text is plain text. It is stored as written, minus control characters (kept: newline
  and tab), unpaired surrogates and bidirectional overrides (which can make a text read
  differently from what it says). Markup is not rejected ("wachttijd < 3 maanden" is a
  fair complaint) and not escaped in storage: the API returns it only inside JSON
  strings, and every consumer must show it as text.
- The text (and notes, and the contact address) never reaches a log: rows are written
  with plain SQL, not through the ORM, whose statement log at DEBUG carries parameters;
  error messages never repeat input.
- A breach's deadline is 72 hours after the report was received (GDPR art. 33(1):
  "not later than 72 hours after having become aware of it"): the report is how the
  controller becomes aware of it, and triage cannot push the deadline back.
- Filing is limited per client IP (everyone) and per account (signed in), per hour, as
  sign-ups are; invalid input is refused before it is counted.
- A breach alerts the admins at once: in the transaction that stores it, every admin
  whose confidentiality agreement is in force gets an outbox notification saying only
  that a breach came in and its deadline (`jobs.outbox.breach_reported`); the text,
  which may quote other people's data, stays behind the sign-in.
- A reporter sees status and closing note of their own reports (signed in only), not the
  text nor the admins' other notes: a breach report may quote other people's data.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from typing import Annotated, Any

import strawberry
from tortoise.transactions import in_transaction

from jobs import outbox
from loket import limits, sessions
from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from loket.settings import settings
from models.privacy import ReportKind, ReportStatus
from permissions.scopes import Params
from resolvers import validation
from resolvers.access import parse_id
from resolvers.validation import Errors
from schema.common import Connection, Edge, connection, decode_cursor, encode_cursor, page_size
from schema.directives import arg
from schema.reports import (
    AddReportNoteInput,
    AddReportNotePayload,
    AuthorityNotification,
    CloseReportInput,
    CloseReportPayload,
    FiledReport,
    FileReportInput,
    FileReportPayload,
    RecordAuthorityNotificationInput,
    RecordAuthorityNotificationPayload,
    Report,
    ReportNote,
    ReportSeverity,
    TriageReportInput,
    TriageReportPayload,
)

TEXT_MIN_LENGTH = 10
TEXT_MAX_LENGTH = 5000
NOTE_MAX_LENGTH = 5000
# GDPR art. 33(1): notify the supervisory authority within 72 hours.
BREACH_NOTIFICATION_HOURS = 72
LIMIT_WINDOW_SECONDS = 3600
_PUBLIC_INPUT = "input of a public mutation: what the caller reports"

# Embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069).
_UNWANTED = validation.UNWANTED


def plain_text(value: str) -> str:
    """`value` as stored: line ends as \\n, without control characters (but newline and
    tab), unpaired surrogates (PostgreSQL cannot store them) or bidirectional controls,
    without surrounding white space."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED.sub("", text).strip()


def _text(
    errors: Errors, path: list[str], value: str, *, min_length: int = 1, max_length: int
) -> str:
    if len(value) > 2 * max_length:
        # Far too long whatever cleaning would remove: refused before any work on it.
        errors.add(path, "TOO_LONG", f"At most {max_length} characters.")
        return ""
    cleaned = plain_text(value)
    if not cleaned:
        errors.add(path, "REQUIRED", "This field is required.")
    elif len(cleaned) < min_length:
        errors.add(path, "TOO_SHORT", f"Use at least {min_length} characters.")
    elif len(cleaned) > max_length:
        errors.add(path, "TOO_LONG", f"At most {max_length} characters.")
    return cleaned


def _optional_note(errors: Errors, path: list[str], value: str | None) -> str | None:
    if value is None or not plain_text(value):
        return None
    return _text(errors, path, value, max_length=NOTE_MAX_LENGTH)


# Filing


async def _within_limits(info: Info) -> bool:
    """Count one report against the client's IP and, signed in, the account."""
    subject = sessions.limit_subject(sessions.client_ip(info.context.request))
    ip_ok = await limits.hit(
        limits.digest("report-ip", subject), settings.reports_per_ip_per_hour, LIMIT_WINDOW_SECONDS
    )
    user_id = info.context.viewer.user_id
    if not ip_ok or user_id is None:
        return ip_ok
    return await limits.hit(
        limits.digest("report-account", str(user_id)),
        settings.reports_per_account_per_hour,
        LIMIT_WINDOW_SECONDS,
    )


async def file_report(
    info: Info,
    input: Annotated[FileReportInput, arg("The report.", reason=_PUBLIC_INPUT)],
) -> FileReportPayload:
    """Store a report; a breach gets its notification deadline. Answers with the report's
    reference only."""
    errors = Errors()
    text = _text(
        errors,
        ["input", "text"],
        input.text,
        min_length=TEXT_MIN_LENGTH,
        max_length=TEXT_MAX_LENGTH,
    )
    contact = (input.contact_email or "").strip()
    if contact:
        contact = validation.email(errors, ["input", "contactEmail"], contact)
    if errors:
        return FileReportPayload(report_id=None, received_at=None, errors=errors.items)
    if not await _within_limits(info):
        errors.add(["input"], "RATE_LIMITED", "Too many reports from here; try again later.")
        return FileReportPayload(report_id=None, received_at=None, errors=errors.items)
    breach = input.kind is ReportKind.DATA_BREACH
    async with in_transaction():
        rows = await fetch(
            """INSERT INTO report (id, kind, status, reporter_id, contact_email, text,
                                   created_at, notification_deadline, severity)
               VALUES ($1, $2, $3, $4, $5, $6, now(), now() + make_interval(hours => $7), '')
               RETURNING id, created_at""",
            uuid.uuid4(),
            input.kind.value,
            ReportStatus.OPEN.value,
            info.context.viewer.user_id,
            contact,
            text,
            BREACH_NOTIFICATION_HOURS if breach else None,
        )
        if breach:
            await outbox.breach_reported(None, rows[0]["id"])
    return FileReportPayload(
        report_id=strawberry.ID(str(rows[0]["id"])), received_at=rows[0]["created_at"], errors=[]
    )


# Reading


_STATUS_RANK = "CASE r.status WHEN 'OPEN' THEN 0 WHEN 'TRIAGED' THEN 1 ELSE 2 END"

REPORTS_SQL = f"""SELECT r.id, r.kind, r.status, r.severity, r.text, r.contact_email,
       u.email AS reporter_email, r.created_at, r.notification_deadline,
       r.authority_notified_at, r.closed_at, {_STATUS_RANK} AS rank
FROM report r LEFT JOIN app_user u ON u.id = r.reporter_id
WHERE {{where}}
ORDER BY rank, r.created_at, r.id
LIMIT {{limit}}"""

NOTES_SQL = """SELECT n.report_id, n.text, n.at, u.display_name AS author
FROM report_note n LEFT JOIN app_user u ON u.id = n.author_id
WHERE n.report_id = ANY($1::uuid[])
ORDER BY n.at, n.id"""


def _notification(kind: str, notified_at: Any, closed_at: Any) -> AuthorityNotification:
    if kind != ReportKind.DATA_BREACH.value:
        return AuthorityNotification.NOT_APPLICABLE
    if notified_at is not None:
        return AuthorityNotification.NOTIFIED
    if closed_at is not None:
        return AuthorityNotification.NOT_NOTIFIABLE
    return AuthorityNotification.PENDING


def _report(r: Any, notes: list[ReportNote], now: datetime.datetime) -> Report:
    notification = _notification(r["kind"], r["authority_notified_at"], r["closed_at"])
    deadline = r["notification_deadline"]
    pending = notification is AuthorityNotification.PENDING and deadline is not None
    return Report(
        id=strawberry.ID(str(r["id"])),
        kind=ReportKind(r["kind"]),
        status=ReportStatus(r["status"]),
        severity=ReportSeverity(r["severity"]) if r["severity"] else None,
        text=r["text"],
        contact_email=r["contact_email"] or None,
        reporter_email=r["reporter_email"],
        created_at=r["created_at"],
        notification_deadline=deadline,
        authority_notified_at=r["authority_notified_at"],
        authority_notification=notification,
        overdue=pending and deadline < now,
        hours_left=int((deadline - now) / datetime.timedelta(hours=1)) if pending else None,
        closed_at=r["closed_at"],
        notes=notes,
    )


async def _reports(where: str, p: Params, limit: int) -> list[tuple[Any, Report]]:
    """(row, report with its notes): two statements whatever the page size."""
    rows = await fetch(REPORTS_SQL.format(where=where, limit=p.add(limit)), *p.values)
    notes: dict[uuid.UUID, list[ReportNote]] = defaultdict(list)
    if rows:
        for n in await fetch(NOTES_SQL, [r["id"] for r in rows]):
            notes[n["report_id"]].append(ReportNote(text=n["text"], author=n["author"], at=n["at"]))
    now = datetime.datetime.now(datetime.UTC)
    return [(r, _report(r, notes[r["id"]], now)) for r in rows]


async def _load(report_id: uuid.UUID) -> Report:
    p = Params()
    found = await _reports(f"r.id = {p.add(report_id)}", p, 1)
    return found[0][1]


def _cursor(r: Any) -> str:
    return encode_cursor(f"{r['rank']}|{r['created_at'].isoformat()}|{r['id']}")


def _after(cursor: str) -> tuple[int, datetime.datetime, uuid.UUID]:
    raw = decode_cursor(cursor)
    try:
        if not raw:
            raise ValueError("not a cursor")
        rank, created, report_id = raw.split("|")
        stamp = datetime.datetime.fromisoformat(created)
        if stamp.tzinfo is None:
            raise ValueError("a cursor's time carries its zone")
        return int(rank), stamp, uuid.UUID(report_id)
    except ValueError:
        raise InvalidInput("INVALID_CURSOR", "This cursor is not valid here.") from None


async def reports(
    info: Info,
    status: Annotated[ReportStatus | None, arg("Only reports with this status.")] = None,
    kind: Annotated[ReportKind | None, arg("Only reports of this kind.")] = None,
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[Report] | None:
    """Reports with their notes: open ones first, then triaged, then closed; oldest first
    within each."""
    size = page_size(first)
    p = Params()
    where = ["true"]
    if status is not None:
        where.append(f"r.status = {p.add(status.value)}")
    if kind is not None:
        where.append(f"r.kind = {p.add(kind.value)}")
    if after is not None:
        rank, created, last = _after(after)
        where.append(
            f"({_STATUS_RANK}, r.created_at, r.id) > "
            f"({p.add(rank)}::int, {p.add(created)}::timestamptz, {p.add(last)}::uuid)"
        )
    found = await _reports(" AND ".join(where), p, size + 1)
    edges = [Edge(cursor=_cursor(r), node=report) for r, report in found[:size]]
    return connection(edges, len(found) > size)


async def my_reports(
    info: Info,
    first: Annotated[int, arg("How many, newest first (1-100).", reason="pagination")] = 20,
) -> list[FiledReport] | None:
    """The viewer's own reports, newest first (reports filed anonymously cannot be
    followed: nothing ties them to anyone)."""
    rows = await fetch(
        """SELECT r.id, r.kind, r.status, r.created_at, r.closed_at,
                  (SELECT n.text FROM report_note n
                   WHERE n.report_id = r.id AND n.at = r.closed_at
                   ORDER BY n.id DESC LIMIT 1) AS closing_note
           FROM report r WHERE r.reporter_id = $1
           ORDER BY r.created_at DESC, r.id DESC LIMIT $2""",
        info.context.viewer.user_id,
        page_size(first),
    )
    return [
        FiledReport(
            id=strawberry.ID(str(r["id"])),
            kind=ReportKind(r["kind"]),
            status=ReportStatus(r["status"]),
            created_at=r["created_at"],
            closed_at=r["closed_at"],
            closing_note=r["closing_note"],
        )
        for r in rows
    ]


# Handling (admins)


async def _locked(errors: Errors, value: Any) -> Any | None:
    """The report row, locked for the transaction; NOT_FOUND when there is none, and
    REPORT_CLOSED when it is closed (a closed report does not change)."""
    report_id = parse_id(value)
    rows = (
        await fetch(
            """SELECT id, kind, status, created_at, authority_notified_at FROM report
               WHERE id = $1 FOR UPDATE""",
            report_id,
        )
        if report_id is not None
        else []
    )
    if not rows:
        errors.add(["input", "reportId"], "NOT_FOUND", "No such report.")
        return None
    if rows[0]["status"] == ReportStatus.CLOSED.value:
        errors.add(["input", "reportId"], "REPORT_CLOSED", "This report is closed.")
        return None
    return rows[0]


async def _add_note(info: Info, report_id: uuid.UUID, text: str) -> None:
    await fetch(
        "INSERT INTO report_note (report_id, author_id, text, at) VALUES ($1, $2, $3, now())",
        report_id,
        info.context.viewer.user_id,
        text,
    )


async def triage_report(
    info: Info, input: Annotated[TriageReportInput, arg("The assessment.")]
) -> TriageReportPayload:
    """OPEN -> TRIAGED with a severity; a triaged report may be assessed again as facts
    come in."""
    errors = Errors()
    note = _optional_note(errors, ["input", "note"], input.note)
    if errors:
        return TriageReportPayload(report=None, errors=errors.items)
    async with in_transaction():
        row = await _locked(errors, input.report_id)
        if row is None:
            return TriageReportPayload(report=None, errors=errors.items)
        await fetch(
            "UPDATE report SET status = $2, severity = $3 WHERE id = $1",
            row["id"],
            ReportStatus.TRIAGED.value,
            input.severity.value,
        )
        if note is not None:
            await _add_note(info, row["id"], note)
    return TriageReportPayload(report=await _load(row["id"]), errors=[])


async def add_report_note(
    info: Info, input: Annotated[AddReportNoteInput, arg("The note.")]
) -> AddReportNotePayload:
    """A note on a report that is not closed."""
    errors = Errors()
    text = _text(errors, ["input", "text"], input.text, max_length=NOTE_MAX_LENGTH)
    if errors:
        return AddReportNotePayload(report=None, errors=errors.items)
    async with in_transaction():
        row = await _locked(errors, input.report_id)
        if row is None:
            return AddReportNotePayload(report=None, errors=errors.items)
        await _add_note(info, row["id"], text)
    return AddReportNotePayload(report=await _load(row["id"]), errors=[])


def _check_notification(errors: Errors, row: Any, notified_at: datetime.datetime) -> None:
    if row["kind"] != ReportKind.DATA_BREACH.value:
        errors.add(["input", "reportId"], "NOT_A_BREACH", "Only a breach is notified.")
    elif row["authority_notified_at"] is not None:
        errors.add(
            ["input", "reportId"], "NOTIFIED_ALREADY", "The notification is recorded already."
        )
    elif notified_at < row["created_at"]:
        errors.add(
            ["input", "notifiedAt"], "BEFORE_REPORT", "This time is before the report was received."
        )


async def record_authority_notification(
    info: Info,
    input: Annotated[RecordAuthorityNotificationInput, arg("The notification.")],
) -> RecordAuthorityNotificationPayload:
    """Record once when the supervisory authority was notified of a breach."""
    errors = Errors()
    note = _optional_note(errors, ["input", "note"], input.note)
    now = datetime.datetime.now(datetime.UTC)
    notified_at = input.notified_at if input.notified_at is not None else now
    if notified_at.tzinfo is None:
        errors.add(["input", "notifiedAt"], "TIME_ZONE_REQUIRED", "Give the time with its zone.")
    elif notified_at > now:
        errors.add(["input", "notifiedAt"], "IN_FUTURE", "This time cannot be in the future.")
    if errors:
        return RecordAuthorityNotificationPayload(report=None, errors=errors.items)
    async with in_transaction():
        row = await _locked(errors, input.report_id)
        if row is not None:
            _check_notification(errors, row, notified_at)
        if errors or row is None:
            return RecordAuthorityNotificationPayload(report=None, errors=errors.items)
        await fetch(
            "UPDATE report SET authority_notified_at = $2 WHERE id = $1", row["id"], notified_at
        )
        if note is not None:
            await _add_note(info, row["id"], note)
    return RecordAuthorityNotificationPayload(report=await _load(row["id"]), errors=[])


async def close_report(
    info: Info, input: Annotated[CloseReportInput, arg("The closing note.")]
) -> CloseReportPayload:
    """Close a report with a note (the reporter sees it). A breach closes only once its
    notification is recorded, or with notifiable: false (judged not notifiable, the
    note saying why)."""
    errors = Errors()
    note = _text(errors, ["input", "note"], input.note, max_length=NOTE_MAX_LENGTH)
    if errors:
        return CloseReportPayload(report=None, errors=errors.items)
    async with in_transaction():
        row = await _locked(errors, input.report_id)
        if row is not None and row["kind"] == ReportKind.DATA_BREACH.value:
            notified = row["authority_notified_at"] is not None
            if not notified and input.notifiable is not False:
                errors.add(
                    ["input", "notifiable"],
                    "AUTHORITY_NOT_NOTIFIED",
                    "Record the authority's notification first, or close with notifiable: "
                    "false and the reason in the note.",
                )
            elif notified and input.notifiable is False:
                errors.add(
                    ["input", "notifiable"],
                    "NOTIFIED_ALREADY",
                    "The authority was notified of this breach.",
                )
        if errors or row is None:
            return CloseReportPayload(report=None, errors=errors.items)
        # The closing note and closed_at share the transaction's now(): that equality is
        # how the reporter's view finds the closing note.
        await fetch(
            "UPDATE report SET status = $2, closed_at = now() WHERE id = $1",
            row["id"],
            ReportStatus.CLOSED.value,
        )
        await _add_note(info, row["id"], note)
    return CloseReportPayload(report=await _load(row["id"]), errors=[])
