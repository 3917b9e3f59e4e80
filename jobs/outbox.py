"""Writing notifications: one outbox row per recipient, in the caller's transaction.

Call these inside the transaction of the change being announced (a resolver's
`in_transaction()`, or a job's batch connection): the message exists exactly when the
change does. Each row's `dedup_key` is `<key>:<user id>`, so writing the same
notification twice (a retried mutation, a job run again) adds nothing. Recipients are
users, never addresses: the address is looked up when the message is sent.

`params` must not identify a child or a parent: the templates say what happened and
where to look (a location's name, a date, a count), and the person reads the details
after signing in.
"""

from __future__ import annotations

from typing import Any

import orjson

from permissions.scopes import Params


class Kind:
    """Notification kinds; each has templates `jobs/templates/<language>/<kind>.txt`."""

    NEW_APPLICATION = "new_application"
    OFFER = "offer"
    DEADLINE_NEAR = "deadline_near"
    EMERGENCY_LIST = "emergency_list"
    MANDATE_GRANTED = "mandate_granted"
    MANDATE_REVOKED = "mandate_revoked"


# Recipient sets as SQL selecting `user_id`; `{x}` placeholders take a bound parameter.
LOCATION_STAFF = """
    SELECT m.user_id FROM membership m
    JOIN provider_location l
      ON l.id = m.provider_location_id
      OR (m.provider_location_id IS NULL AND l.organisation_id = m.provider_organisation_id)
    WHERE m.role = 'PROVIDER' AND m.revoked_at IS NULL AND l.id = {location}::uuid"""

HOUSEHOLD_PARENTS = """
    SELECT p.user_id FROM parent p
    WHERE p.household_id = {household}::uuid AND p.user_id IS NOT NULL"""

ORGANISATION_WORKERS = """
    SELECT m.user_id FROM membership m
    WHERE m.role = 'TOELEIDER' AND m.revoked_at IS NULL
      AND m.referral_organisation_id = {organisation}::uuid"""


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
    sql = insert_sql(filled, p, kind, key, params)
    if conn is None:
        from loket.db import execute

        status = await execute(sql, *p.values)
    else:
        status = await conn.execute(sql, *p.values)
    return int(status.rsplit(" ", 1)[-1])
