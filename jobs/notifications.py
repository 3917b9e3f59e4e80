"""Notifications by e-mail: the outbox's due messages go out over SMTP, and families hear
of offers whose reply deadline is near.

Sending (job "notifications"). A sender claims a few due messages in a short committed
transaction (`FOR UPDATE SKIP LOCKED`, then `claimed_until` set), so concurrent senders
never take the same message, and a crashed sender's claim runs out by itself. It sends
each claimed message and marks it in its own transaction: SENT; for a temporary failure
(a dropped connection, a 4xx reply) PENDING again after an exponential backoff, FAILED
after `settings.mail_max_attempts`; FAILED at once for a permanent one (a 5xx reply, a
message that cannot be built). A relay that cannot be reached at all counts no attempt:
the messages wait and are given up only after MAX_PENDING_HOURS. The address is read
from the recipient's account when the message is claimed: no active account, no message
(DROPPED). A sender never starts a message unless its claim outlasts the message's
worst-case SMTP time, so a message is not sent by two senders because a claim ran out
under a slow one.

Delivery is at least once, not exactly once: a crash (or a lost database connection)
after the SMTP server accepted a message and before its SENT mark commits leaves it
PENDING, and it is sent again once the claim runs out. Every message carries a
Message-ID derived from its outbox id and the deployment (`message_id`), the same on every
attempt, so a receiving system that drops duplicate Message-IDs shows it once.

Only counts are logged: never an address, a name or a message's parameters.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import time
import zoneinfo
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import jinja2
import orjson

from jobs.outbox import HOUSEHOLD_PARENTS, Kind, insert_each_sql, recipients_of
from jobs.runner import JobContext, job
from loket.settings import TIME_ZONE, settings

log = logging.getLogger("loket.jobs")

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_LANGUAGE = "nl"
LANGUAGES = ("nl", "en")

# Messages one claim takes (at most; also bounded by the job's batch size), and how long
# the claim holds them: long enough for a batch on a healthy relay, short enough that a
# crashed sender's messages wait minutes, not hours.
SEND_BATCH = 50
CLAIM_SECONDS = 600
# A temporary failure waits 5 min, 10, 20, ... at most 6 h before the next attempt.
RETRY_BASE_SECONDS = 300
RETRY_MAX_SECONDS = 6 * 3600
# While the relay is unreachable messages wait; one still unsent after this long is
# given up (an offer's reply deadline is days away, not weeks).
MAX_PENDING_HOURS = 72


# --- Templates -----------------------------------------------------------------------------

_MONTHS = {
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


@jinja2.pass_context
def _long_date(context: Any, value: Any) -> str:
    """`2027-03-01` as "1 maart 2027" (or "1 March 2027" in an English template)."""
    if value is None:
        return ""
    day = value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))
    months = _MONTHS.get(context.get("language"), _MONTHS[DEFAULT_LANGUAGE])
    return f"{day.day} {months[day.month - 1]} {day.year}"


_BELGIUM = zoneinfo.ZoneInfo(TIME_ZONE)
_AT = {"nl": "om", "en": "at"}


@jinja2.pass_context
def _long_datetime(context: Any, value: Any) -> str:
    """`2027-01-08T13:30Z` as "8 januari 2027 om 14:30" (Belgian time; "8 January 2027
    at 14:30" in an English template)."""
    if value is None:
        return ""
    moment = datetime.datetime.fromisoformat(str(value)).astimezone(_BELGIUM)
    language = context.get("language")
    day = _long_date(context, moment.date())
    return f"{day} {_AT.get(language, _AT[DEFAULT_LANGUAGE])} {moment:%H:%M}"


# Plain-text mail: HTML escaping would only garble names such as "Kind & Zorg".
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_templates.filters["date"] = _long_date
_templates.filters["datetime"] = _long_datetime


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


class TemplateInvalid(Exception):
    """A template does not start with a `Subject:` line."""


def render(kind: str, language: str, params: dict[str, Any]) -> Mail:
    """The message of `kind` in `language` (Dutch when there is no template in it),
    from `jobs/templates/<language>/<kind>.txt`: its first line `Subject: ...`, the rest
    the body. A parameter the template needs and `params` lacks is an error."""
    chosen = language if language in LANGUAGES else DEFAULT_LANGUAGE
    try:
        template = _templates.get_template(f"{chosen}/{kind}.txt")
    except jinja2.TemplateNotFound:
        chosen = DEFAULT_LANGUAGE
        template = _templates.get_template(f"{chosen}/{kind}.txt")
    # Parameters are names, dates and counts: one line each, whatever a name holds, so
    # none can end the subject line early or start a header.
    values = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in params.items()}
    text = template.render({**values, "language": chosen, "public_url": settings.public_url})
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise TemplateInvalid(kind)
    return Mail(" ".join(first.removeprefix("Subject:").split()), body.lstrip("\n"))


def message_id(outbox_id: int) -> str:
    """The Message-ID of outbox message `outbox_id`, the same on every attempt. The
    deployment's public URL is in it, so two deployments sharing a sender domain do not
    make each other's messages look like duplicates."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "loket.invalid"
    deployment = hashlib.sha256(settings.public_url.encode()).hexdigest()[:12]
    return f"<outbox.{outbox_id}.{deployment}@{domain}>"


def build_message(outbox_id: int, to: str, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.datetime.now(datetime.UTC))
    message["Message-ID"] = message_id(outbox_id)
    # RFC 3834: no auto-replies (out of office) to this address.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


# --- Sending -------------------------------------------------------------------------------

_CLAIM = """
    UPDATE outbox o SET claimed_until = now() + make_interval(secs => $2)
    FROM (SELECT d.id, u.email
          FROM outbox d LEFT JOIN app_user u ON u.id = d.recipient_id AND u.is_active
          WHERE d.status = 'PENDING' AND d.next_attempt_at <= now()
            AND (d.claimed_until IS NULL OR d.claimed_until <= now())
          ORDER BY d.next_attempt_at, d.id
          LIMIT $1
          FOR UPDATE OF d SKIP LOCKED) due
    WHERE o.id = due.id
    RETURNING o.id, o.kind, o.language, o.params, o.attempts, o.claimed_until, due.email"""

_SENT = """UPDATE outbox SET status = 'SENT', sent_at = now(), attempts = attempts + 1,
    claimed_until = NULL, last_error = '' WHERE id = $1"""

_DROPPED = """UPDATE outbox SET status = 'DROPPED', claimed_until = NULL,
    last_error = 'no active recipient' WHERE id = ANY($1::bigint[])"""

# $2: permanent; $3: the error; $4, $5: the retry delay's base and cap (seconds); $6: the
# attempts allowed. Returns whether the message is given up.
_FAILED = """UPDATE outbox SET attempts = attempts + 1, claimed_until = NULL, last_error = $3,
    status = CASE WHEN $2 OR attempts + 1 >= $6 THEN 'FAILED' ELSE 'PENDING' END,
    next_attempt_at = CASE WHEN $2 OR attempts + 1 >= $6 THEN next_attempt_at
        ELSE now() + make_interval(secs => least($5::float8, $4::float8 * 2 ^ attempts)) END
    WHERE id = ANY($1::bigint[])
    RETURNING status = 'FAILED' AS given_up"""

# The relay could not be reached: not the messages' fault, so no attempt is counted
# (a long outage must not use up every message's attempts); they wait RETRY_BASE and are
# given up only once older than MAX_PENDING_HOURS. $2: the error; $3: the wait (seconds);
# $4: the age limit (hours).
_POSTPONED = """UPDATE outbox SET claimed_until = NULL, last_error = $2,
    status = CASE WHEN created_at < now() - make_interval(hours => $4) THEN 'FAILED'
                  ELSE 'PENDING' END,
    next_attempt_at = now() + make_interval(secs => $3::float8)
    WHERE id = ANY($1::bigint[])
    RETURNING status = 'FAILED' AS given_up"""

# Gives back what a sender claimed but did not start, unless another sender holds it.
_RELEASE = """UPDATE outbox SET claimed_until = NULL
    WHERE id = ANY($1::bigint[]) AND status = 'PENDING' AND claimed_until = $2"""

_DUE = """SELECT count(*) FILTER (WHERE u.id IS NOT NULL) AS sendable,
                 count(*) FILTER (WHERE u.id IS NULL) AS droppable
          FROM outbox o LEFT JOIN app_user u ON u.id = o.recipient_id AND u.is_active
          WHERE o.status = 'PENDING' AND o.next_attempt_at <= now()"""


def _failure(error: BaseException) -> tuple[bool, str]:
    """(permanent?, what `last_error` keeps): the exception's class and the SMTP reply
    code, never its text (it may quote an address)."""
    name = type(error).__name__
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        code = min(codes) if codes else 550
        return code >= 500, f"{name} {code}"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return error.code >= 500, f"{name} {error.code}"
    if isinstance(error, (aiosmtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)):
        return False, name
    if isinstance(error, OSError):
        return False, name
    # A message that cannot be built or that the relay cannot take (SMTPNotSupported, a
    # template error): trying again changes nothing.
    return True, name


def _client() -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
    )


async def _claim(pool: asyncpg.Pool, limit: int, lease: float) -> list[Any]:
    async with pool.acquire() as conn, conn.transaction():
        rows: list[Any] = await conn.fetch(_CLAIM, limit, lease)
    # Oldest first, as selected (RETURNING does not keep the subquery's order).
    return sorted(rows, key=lambda r: r["id"])


async def _mark_failed(ctx: JobContext, ids: list[int], permanent: bool, error: str) -> None:
    async with ctx.batch() as conn:
        rows = await conn.fetch(
            _FAILED,
            ids,
            permanent,
            error[:200],
            float(RETRY_BASE_SECONDS),
            float(RETRY_MAX_SECONDS),
            settings.mail_max_attempts,
        )
        given_up = sum(1 for r in rows if r["given_up"])
        ctx.count("failed", given_up)
        ctx.count("retried", len(rows) - given_up)


async def _postpone(ctx: JobContext, ids: list[int], error: str) -> None:
    async with ctx.batch() as conn:
        rows = await conn.fetch(
            _POSTPONED, ids, error[:200], float(RETRY_BASE_SECONDS), MAX_PENDING_HOURS
        )
        given_up = sum(1 for r in rows if r["given_up"])
        ctx.count("failed", given_up)
        ctx.count("retried", len(rows) - given_up)


async def _deliver(
    ctx: JobContext, rows: list[Any], claimed: float, lease: float
) -> tuple[int, bool]:
    """Send the claimed `rows` (claimed at monotonic time `claimed` for `lease` seconds).
    Returns (messages dealt with, relay unreachable). Messages left when the claim runs
    low are given back; messages left when the relay cannot be reached are retried later."""
    dropped = [r["id"] for r in rows if r["email"] is None]
    if dropped:
        async with ctx.batch() as conn:
            ctx.count("dropped", int((await conn.execute(_DROPPED, dropped)).split()[-1]))
        ctx.advance(len(dropped))
    todo = [r for r in rows if r["email"] is not None]
    # The worst case of one message: connecting and sending, each within the timeout.
    margin = 2 * settings.smtp_timeout_seconds + 5
    smtp: aiosmtplib.SMTP | None = None
    try:
        for i, row in enumerate(todo):
            if time.monotonic() - claimed + margin > lease:
                async with ctx.pool.acquire() as conn:
                    await conn.execute(_RELEASE, [r["id"] for r in todo[i:]], row["claimed_until"])
                return len(dropped) + i, False
            ctx.advance(1)
            try:
                params = row["params"]
                mail = render(
                    row["kind"],
                    row["language"],
                    orjson.loads(params) if isinstance(params, str) else params,
                )
                message = build_message(row["id"], row["email"], mail)
            except Exception as e:
                await _mark_failed(ctx, [row["id"]], True, type(e).__name__)
                continue
            if smtp is None or not smtp.is_connected:
                smtp = _client()
                try:
                    await smtp.connect()
                except (aiosmtplib.SMTPException, OSError) as e:
                    # Unreachable, or refusing us (even with a 5xx): not this message's
                    # fault, so every message left waits for the next attempt.
                    smtp = None
                    await _postpone(ctx, [r["id"] for r in todo[i:]], _failure(e)[1])
                    ctx.advance(len(todo) - i - 1)
                    return len(rows), True
            try:
                await smtp.send_message(message)
            except (aiosmtplib.SMTPException, OSError) as e:
                permanent, error = _failure(e)
                await _mark_failed(ctx, [row["id"]], permanent, error)
            else:
                async with ctx.batch() as conn:
                    await conn.execute(_SENT, row["id"])
                    ctx.count("sent", 1)
        return len(rows), False
    finally:
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()


async def send_due(ctx: JobContext) -> None:
    """Send every due message, a claim at a time, until none is left or the relay is
    unreachable. Safe to run in several processes at once."""
    limit = max(1, min(ctx.batch_size, SEND_BATCH))
    lease = max(float(CLAIM_SECONDS), 4 * settings.smtp_timeout_seconds + 30)
    while True:
        claimed = time.monotonic()
        rows = await _claim(ctx.pool, limit, lease)
        if not rows:
            return
        done, unreachable = await _deliver(ctx, rows, claimed, lease)
        # A claim that ran low on a slow relay is claimed again; a full claim may have
        # more behind it.
        if unreachable or (done == len(rows) and len(rows) < limit):
            return


@job(
    "notifications",
    "send due notifications by e-mail (SMTP), with retries",
    rules=("sent", "retried", "failed", "dropped"),
)
async def notifications(ctx: JobContext) -> None:
    if ctx.dry_run:
        async with ctx.pool.acquire() as conn:
            due = await conn.fetchrow(_DUE)
        ctx.expect(due["sendable"] + due["droppable"])
        async with ctx.batch():
            ctx.count("sent", due["sendable"])
            ctx.count("dropped", due["droppable"])
        return
    if not settings.smtp_host:
        log.info("notifications: SMTP not configured (LOKET_SMTP_HOST); messages stay queued")
        return
    async with ctx.pool.acquire() as conn:
        due = await conn.fetchrow(_DUE)
    ctx.expect(due["sendable"] + due["droppable"])
    await send_due(ctx)


# --- Deadline reminders --------------------------------------------------------------------

# One batch of offers (keyset on the application id) whose reply deadline lies between
# $1 (the reference date) and $1 + $2 days: one reminder per offer and parent, keyed by
# the deadline (a new deadline is a new reminder; the same one never twice).
_REMINDERS = f"""
    WITH due AS (
        SELECT a.id, r.household_id,
               'deadline_near:' || a.id || ':' || a.reply_deadline::text AS key,
               jsonb_build_object('location_name', l.name,
                                  'start_date', coalesce(a.offered_start_date,
                                                         r.desired_start_date),
                                  'reply_deadline', a.reply_deadline) AS params
        FROM application a
        JOIN care_request r ON r.id = a.request_id
        JOIN provider_location l ON l.id = a.location_id
        WHERE a.status = 'OFFERED' AND r.status = 'OPEN'
          AND a.reply_deadline BETWEEN $1::date AND $1::date + $2::int
          AND ($3::uuid IS NULL OR a.id > $3::uuid)
        ORDER BY a.id
        LIMIT $4),
    written AS ({
    insert_each_sql(
        "SELECT household_id, key, params FROM due",
        recipients_of(HOUSEHOLD_PARENTS, household="household_id"),
        "$5",
    )
}
        RETURNING 1)
    SELECT (SELECT count(*) FROM due) AS offers,
           (SELECT id FROM due ORDER BY id DESC LIMIT 1) AS last_id,
           (SELECT count(*) FROM written) AS written"""


@job(
    "deadline_reminders",
    "remind families of offers whose reply deadline is near",
    rules=("reminders",),
)
async def deadline_reminders(ctx: JobContext) -> None:
    last = None
    while True:
        async with ctx.batch() as conn:
            row = await conn.fetchrow(
                _REMINDERS,
                ctx.today,
                settings.deadline_reminder_days,
                last,
                ctx.batch_size,
                Kind.DEADLINE_NEAR,
            )
            ctx.count("reminders", row["written"])
        ctx.advance(row["offers"])
        if row["offers"] < ctx.batch_size:
            return
        last = row["last_id"]
