"""Writing notifications: one outbox row per recipient, in the caller's transaction.

Call these inside the transaction of the change being announced (a resolver's
`in_transaction()`, or a job's batch connection): the message exists exactly when the
change does. Each row's `dedup_key` is `<key>:<user id>`, so writing the same
notification twice (a retried mutation, a job run again) adds nothing. Recipients are
users, never addresses: the address is looked up when the message is sent.

`params` must not identify a child or a parent: the templates say what happened and
where to look (a location's name, a date, a count), and the person reads the details
after signing in.

Staff are told only while they could act on it: each staff recipient set requires the
agreements its role needs in force today (`permissions.agreements.role_in_force`), the
same rule that gives them access, so an organisation whose processing agreement ended
hears nothing more about dossiers it can no longer open.

`notify` writes one notification (its key and params given); `notify_each` writes one per
row of a query in a single statement (a request choosing five locations is one INSERT);
`new_applications`, `offer`, `mandate_changed` and `breach_reported` are the resolvers'
events on top of it.
"""

from __future__ import annotations

from typing import Any

import orjson

from jobs.runner import rows_affected
from models.accounts import Role
from permissions.agreements import role_in_force
from permissions.scopes import Params


class Kind:
    """Notification kinds; each has templates `jobs/templates/<language>/<kind>.txt`."""

    NEW_APPLICATION = "new_application"
    OFFER = "offer"
    DEADLINE_NEAR = "deadline_near"
    EMERGENCY_LIST = "emergency_list"
    MANDATE_GRANTED = "mandate_granted"
    MANDATE_REVOKED = "mandate_revoked"
    BREACH_REPORTED = "breach_reported"


# Recipient sets as SQL selecting `user_id`; `{x}` placeholders take a bound parameter.
# Staff sets hold only memberships whose agreements are in force (no braces in that SQL).
LOCATION_STAFF = f"""
    SELECT m.user_id FROM membership m
    JOIN provider_location l
      ON l.id = m.provider_location_id
      OR (m.provider_location_id IS NULL AND l.organisation_id = m.provider_organisation_id)
    WHERE m.role = 'PROVIDER' AND m.revoked_at IS NULL AND l.id = {{location}}::uuid
      AND {role_in_force(Role.PROVIDER)}"""

HOUSEHOLD_PARENTS = """
    SELECT p.user_id FROM parent p
    WHERE p.household_id = {household}::uuid AND p.user_id IS NOT NULL"""

ORGANISATION_WORKERS = f"""
    SELECT m.user_id FROM membership m
    WHERE m.role = 'TOELEIDER' AND m.revoked_at IS NULL
      AND m.referral_organisation_id = {{organisation}}::uuid
      AND {role_in_force(Role.TOELEIDER)}"""

# Admins whose confidentiality agreement is in force (no placeholders).
ADMINS = f"""
    SELECT m.user_id FROM membership m
    WHERE m.role = 'ADMIN' AND m.revoked_at IS NULL AND {role_in_force(Role.ADMIN)}"""


def insert_sql(recipients: str, p: Params, kind: str, key: str, params: dict[str, Any]) -> str:
    """The INSERT of one notification for every active user `recipients` selects.
    `recipients` must already carry its parameters in `p`."""
    kind_ref = p.add(kind)
    params_ref = p.add(orjson.dumps(params).decode())
    key_ref = p.add(key)
    return f"""
        INSERT INTO outbox (kind, recipient_id, language, params, dedup_key, status, attempts,
                            next_attempt_at, created_at, last_error)
        SELECT {kind_ref}, u.id, 'nl', {params_ref}::jsonb, {key_ref} || ':' || u.id::text,
               'PENDING', 0, now(), now(), ''
        FROM app_user u
        WHERE u.is_active AND u.id IN ({recipients})
        ON CONFLICT (dedup_key) DO NOTHING"""


async def _execute(conn: Any, sql: str, values: list[Any]) -> int:
    if conn is None:
        from loket.db import execute

        status = await execute(sql, *values)
    else:
        status = await conn.execute(sql, *values)
    return rows_affected(status)


async def notify(
    conn: Any,
    recipients: str,
    *,
    kind: str,
    key: str,
    params: dict[str, Any],
    **refs: Any,
) -> int:
    """Queue `kind` for the users of `recipients` (one of the SQL sets above, or another
    with `{name}` placeholders filled from `refs`). `conn` is an asyncpg connection in
    the caller's transaction, or None for the current Tortoise transaction's. Returns
    the number of messages written."""
    p = Params()
    filled = recipients.format(**{name: p.add(value) for name, value in refs.items()})
    return await _execute(conn, insert_sql(filled, p, kind, key, params), p.values)


def insert_each_sql(source: str, recipients: str, kind_ref: str) -> str:
    """The INSERT of one notification per row of `source` for every active user its
    recipient set selects. `source` selects `key` (text), `params` (jsonb) and the columns
    `recipients` refers to as `src.<column>`."""
    return f"""
        INSERT INTO outbox (kind, recipient_id, language, params, dedup_key, status, attempts,
                            next_attempt_at, created_at, last_error)
        SELECT {kind_ref}, u.id, 'nl', src.params, src.key || ':' || u.id::text,
               'PENDING', 0, now(), now(), ''
        FROM ({source}) src
        CROSS JOIN LATERAL ({recipients}) rcpt
        JOIN app_user u ON u.id = rcpt.user_id
        WHERE u.is_active
        ON CONFLICT (dedup_key) DO NOTHING"""


def recipients_of(recipients: str, **columns: str) -> str:
    """A recipient set whose `{name}` placeholders read the source row's `columns`."""
    return recipients.format(**{name: f"src.{column}" for name, column in columns.items()})


async def notify_each(
    conn: Any, source: str, *args: Any, kind: str, recipients: str, **columns: str
) -> int:
    """Set-based `notify`: one notification per row of `source` (SQL with `$1..$n` taking
    `args`, selecting `key`, `params` and the recipients' columns), in one statement.
    `columns` maps the recipient set's placeholders to source columns, e.g.
    `location="location_id"`. Returns the number of messages written."""
    p = Params(list(args))
    sql = insert_each_sql(source, recipients_of(recipients, **columns), p.add(kind))
    return await _execute(conn, sql, p.values)


# The events of the resolvers, each one statement reading what it announces from the rows
# the caller's transaction just wrote (so the message says what was committed).

_NEW_APPLICATIONS = """
    SELECT a.location_id, 'new_application:' || a.id AS key,
           jsonb_build_object('location_name', l.name,
                              'desired_start_date', r.desired_start_date) AS params
    FROM application a
    JOIN care_request r ON r.id = a.request_id
    JOIN provider_location l ON l.id = a.location_id
    WHERE a.request_id = $1 AND a.location_id = ANY($2::uuid[])"""

# Keyed by the offer's time (the row's `updated_at`, the transaction's `now()`), so an
# offer made again after it was withdrawn is a new message.
_OFFER = """
    SELECT r.household_id,
           'offer:' || a.id || ':' || extract(epoch FROM a.updated_at)::text AS key,
           jsonb_build_object('location_name', l.name, 'start_date', a.offered_start_date,
                              'reply_deadline', a.reply_deadline) AS params
    FROM application a
    JOIN care_request r ON r.id = a.request_id
    JOIN provider_location l ON l.id = a.location_id
    WHERE a.id = $1 AND a.status = 'OFFERED'"""

_MANDATE = """
    SELECT m.household_id, m.referral_organisation_id, $2::text || ':' || m.id AS key,
           jsonb_build_object('organisation_name', o.name) AS params
    FROM mandate m JOIN referral_organisation o ON o.id = m.referral_organisation_id
    -- "granted" only while the mandate is active, "revoked" only once it is revoked
    WHERE m.id = $1 AND (m.revoked_at IS NULL) = ($2::text = 'mandate_granted')"""

# The family and the mandated organisation's workers both hear of a mandate.
MANDATE_PARTIES = f"{HOUSEHOLD_PARENTS}\n    UNION\n{ORGANISATION_WORKERS}"


async def new_applications(conn: Any, request_id: Any, location_ids: list[Any]) -> int:
    """Tell the staff of each of `location_ids` that request `request_id` chose it."""
    return await notify_each(
        conn,
        _NEW_APPLICATIONS,
        request_id,
        list(location_ids),
        kind=Kind.NEW_APPLICATION,
        recipients=LOCATION_STAFF,
        location="location_id",
    )


async def offer(conn: Any, application_id: Any) -> int:
    """Tell the family (its parents with an account) of the offer on `application_id`."""
    return await notify_each(
        conn,
        _OFFER,
        application_id,
        kind=Kind.OFFER,
        recipients=HOUSEHOLD_PARENTS,
        household="household_id",
    )


async def mandate_changed(conn: Any, mandate_id: Any, kind: str) -> int:
    """Tell the family and the organisation's workers that mandate `mandate_id` was
    granted (`Kind.MANDATE_GRANTED`, while active) or revoked (`Kind.MANDATE_REVOKED`)."""
    return await notify_each(
        conn,
        _MANDATE,
        mandate_id,
        kind,
        kind=kind,
        recipients=MANDATE_PARTIES,
        household="household_id",
        organisation="referral_organisation_id",
    )


# The deadline only (UTC, to the minute, rounded down so it never reads later than it
# is): never the report's text, its contact address or who filed it.
_BREACH = """
    SELECT 'breach_reported:' || r.id AS key,
           jsonb_build_object('deadline', to_char(r.notification_deadline AT TIME ZONE 'UTC',
                                                  'YYYY-MM-DD"T"HH24:MI"Z"')) AS params
    FROM report r
    WHERE r.id = $1 AND r.kind = 'DATA_BREACH' AND r.notification_deadline IS NOT NULL"""


async def breach_reported(conn: Any, report_id: Any) -> int:
    """Tell every admin (confidentiality agreement in force) that data-breach report
    `report_id` came in, with its notification deadline."""
    return await notify_each(conn, _BREACH, report_id, kind=Kind.BREACH_REPORTED, recipients=ADMINS)
