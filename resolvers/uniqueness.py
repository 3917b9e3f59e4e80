"""The uniqueness check: the only code that may use national register numbers.

It compares keyed hashes (every configured key, so a rotated key still matches) and
writes them; nothing here returns or logs a number or a hash.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import strawberry

from loket import limits, sessions
from loket.context import Info
from loket.db import execute, fetch
from loket.errors import InvalidInput
from loket.settings import settings
from permissions.policy import Ability
from permissions.rrn import Rrn
from resolvers.validation import Errors
from schema.directives import arg


async def child_has_open_request(rrn: Rrn) -> bool:
    """Is there an open care request, anywhere on the platform, for the child with this RRN?"""
    rows = await fetch(
        """SELECT EXISTS (SELECT 1 FROM child c JOIN care_request r ON r.child_id = c.id
                          WHERE c.rrn_hashes && $1::bytea[] AND r.status = 'OPEN') AS found""",
        list(rrn.hashes().values()),
    )
    return bool(rows[0]["found"])


async def child_has_open_request_by_id(child_id: uuid.UUID) -> bool:
    """The check for a child already stored: by its RRN hash when born, else by the
    household and expected birth date (unborn children have no RRN yet)."""
    rows = await fetch(
        """SELECT EXISTS (
             SELECT 1 FROM child me
             JOIN child other ON
                  (me.rrn_hashes IS NOT NULL AND other.rrn_hashes && me.rrn_hashes)
               OR (me.rrn_hashes IS NULL AND other.household_id = me.household_id
                   AND other.birth_date IS NULL
                   AND other.expected_birth_date = me.expected_birth_date)
               OR other.id = me.id
             JOIN care_request r ON r.child_id = other.id AND r.status = 'OPEN'
             WHERE me.id = $1) AS found""",
        child_id,
    )
    return bool(rows[0]["found"])


async def parent_rrn_registered(rrn: Rrn, excluding: uuid.UUID | None = None) -> bool:
    """One account per parent: is a parent with this RRN already registered (other than
    `excluding`, the parent being corrected)?"""
    rows = await fetch(
        """SELECT EXISTS (SELECT 1 FROM parent WHERE rrn_hashes && $1::bytea[]
                          AND id IS DISTINCT FROM $2::uuid) AS found""",
        list(rrn.hashes().values()),
        excluding,
    )
    return bool(rows[0]["found"])


async def store_parent_rrn(parent_id: uuid.UUID, rrn: Rrn) -> None:
    digests = rrn.hashes()
    await execute(
        "UPDATE parent SET rrn_hashes = $2, rrn_key_ids = $3 WHERE id = $1",
        parent_id,
        list(digests.values()),
        list(digests),
    )


async def store_child_rrn(child_id: uuid.UUID, rrn: Rrn) -> None:
    digests = rrn.hashes()
    await execute(
        "UPDATE child SET rrn_hashes = $2, rrn_key_ids = $3 WHERE id = $1",
        child_id,
        list(digests.values()),
        list(digests),
    )


async def lock_parent_identity(rrn: Rrn) -> None:
    """Serialise registrations of one person (any of their digests) until the transaction
    ends. Locks are taken in a global order, so two holders cannot deadlock."""
    await lock_rrn(rrn)


async def lock_rrn(rrn: Rrn) -> None:
    """Serialise every write involving this number until the transaction ends."""
    await fetch(
        """SELECT pg_advisory_xact_lock(k) FROM (
               SELECT DISTINCT hashtextextended(encode(d, 'hex'), 0) AS k
               FROM unnest($1::bytea[]) AS d ORDER BY 1) s""",
        list(rrn.hashes().values()),
    )


def birth_date_matches(rrn: Rrn, birth_date: datetime.date) -> bool:
    """A national register number encodes the birth date; BIS numbers may not."""
    from stdnum.be import nn

    try:
        encoded = nn.get_birth_date(rrn._value)
    except Exception:
        return True
    return encoded is None or encoded == birth_date


async def lock_child_identity(
    child_id: uuid.UUID, new_expected: datetime.date | None = None
) -> None:
    """Serialise request submissions for one child (same RRN, or same unborn child),
    across households, until the transaction ends. With `new_expected`, also the unborn
    key the child is about to move to (all locks in one sorted statement: no deadlock).

    The child's row is locked first, in its own statement: its keys are read after, so a
    birth recorded meanwhile (a new RRN) is seen and its key locked."""
    await fetch("SELECT 1 FROM child WHERE id = $1 FOR UPDATE", child_id)
    await fetch(
        """SELECT pg_advisory_xact_lock(k) FROM (
               SELECT DISTINCT hashtextextended(encode(d, 'hex'), 0) AS k
               FROM child, unnest(rrn_hashes) AS d WHERE id = $1
               UNION
               SELECT hashtextextended(household_id::text || ':' || expected_birth_date::text, 0)
               FROM child WHERE id = $1 AND rrn_hashes IS NULL
               UNION
               SELECT hashtextextended(household_id::text || ':' || $2::date::text, 0)
               FROM child WHERE id = $1 AND $2::date IS NOT NULL
               ORDER BY 1) s""",
        child_id,
        new_expected,
    )


async def child_rrn_conflicts(child_id: uuid.UUID, rrn: Rrn) -> tuple[bool, bool]:
    """For recording a birth: (another child of the same household already has this
    number, both this child and another child with this number have open requests)."""
    rows = await fetch(
        """SELECT
             EXISTS (SELECT 1 FROM child o JOIN child me ON me.id = $1
                     WHERE o.household_id = me.household_id AND o.id <> me.id
                       AND o.rrn_hashes && $2::bytea[]) AS duplicate,
             EXISTS (SELECT 1 FROM care_request r WHERE r.child_id = $1 AND r.status = 'OPEN')
             AND EXISTS (SELECT 1 FROM child o JOIN care_request r ON r.child_id = o.id
                         WHERE o.id <> $1 AND o.rrn_hashes && $2::bytea[]
                           AND r.status = 'OPEN') AS open_elsewhere""",
        child_id,
        list(rrn.hashes().values()),
    )
    return bool(rows[0]["duplicate"]), bool(rows[0]["open_elsewhere"])


CHILD_CHECK = "uniqueness check"
PARENT_CHECK = "parent uniqueness check"


async def count_check(
    info: Info, household_id: uuid.UUID | None, grant: str | None, *, what: str = CHILD_CHECK
) -> bool:
    """Every uniqueness decision goes through here: it counts against the caller's hourly
    limit and their IP's (so the check cannot be used as an oracle, not even with many
    accounts) and is written to the access log, parents' own calls included. False when
    a limit is reached."""
    viewer = info.context.viewer
    allowed = await limits.hit(
        limits.digest("uniqueness", str(viewer.user_id)), settings.uniqueness_checks_per_hour, 3600
    )
    if allowed:
        # Only checks the account may still make count for the IP: one account stuck at
        # its own limit does not use up the allowance of others behind the same address.
        subject = sessions.limit_subject(sessions.client_ip(info.context.request))
        allowed = await limits.hit(
            limits.digest("uniqueness-ip", subject),
            settings.uniqueness_checks_per_ip_per_hour,
            3600,
        )
    answered = household_id is not None or what == PARENT_CHECK
    outcome = "RATE_LIMITED" if not allowed else "ANSWERED" if answered else "NOT_FOUND"
    # An admin checking for a disclosure of this dossier (X-Loket-Disclosure): linked
    # from the start, as the request's reads are (see resolvers.transparency).
    disclosure = info.context.disclosure
    await execute(
        """INSERT INTO access_log (at, viewer_id, role, grant_name, household_id, fields_read,
               operation_name, request_id, outcome, disclosure_id)
           VALUES (now(), $1, $2, $3, $4, jsonb_build_array($8::text), $5, $6, $7, $9)""",
        viewer.user_id,
        viewer.role.value if viewer.role else "ANONYMOUS",
        grant or "NONE",
        household_id,
        info.operation.name.value if info.operation.name else None,
        info.context.request_id,
        outcome,
        what,
        disclosure.for_household(household_id) if disclosure is not None else None,
    )
    return allowed


async def count_parent_check(
    info: Info,
    errors: Errors,
    path: list[str],
    household_id: uuid.UUID | None = None,
    grant: str | None = None,
) -> bool:
    """A parent's number is about to be checked for one account per person: whether it is
    registered is an answer too, so it counts and is logged like the child check. False
    (with a RATE_LIMITED error at `path`) when a limit is reached."""
    if await count_check(info, household_id, grant, what=PARENT_CHECK):
        return True
    errors.add(path, "RATE_LIMITED", "Too many checks; try again later.")
    return False


async def has_open_request(
    info: Info, child_id: Annotated[strawberry.ID, arg("One of your own children.")]
) -> bool | None:
    """Whether an open care request already exists, anywhere on the platform, for one of
    the caller's own children (by its RRN hash, or for an unborn child by household and
    expected date). Says nothing about who filed it; rate-limited and logged."""
    from resolvers.access import writable

    target = await writable(info, "child", child_id, Ability.CHECK_REQUEST_UNIQUENESS)
    household_id, grant = (target[1], target[2]) if target else (None, None)
    if not await count_check(info, household_id, grant):
        raise InvalidInput("RATE_LIMITED", "Too many uniqueness checks; try again later.")
    if target is None:
        raise InvalidInput("NOT_FOUND", "No such child in a dossier you may write.")
    return await child_has_open_request_by_id(target[0])


async def child_rrn_in_household(household_id: uuid.UUID, rrn: Rrn) -> bool:
    """Does the dossier already hold a child with this number (the same child twice)?"""
    rows = await fetch(
        """SELECT EXISTS (SELECT 1 FROM child WHERE household_id = $1
                          AND rrn_hashes && $2::bytea[]) AS found""",
        household_id,
        list(rrn.hashes().values()),
    )
    return bool(rows[0]["found"])


async def unborn_request_clash(child_id: uuid.UUID, expected: datetime.date) -> bool:
    """Would moving an unborn child with an open request to `expected` make it look like
    another unborn child of the household that has one (the unborn uniqueness key)?"""
    rows = await fetch(
        """SELECT EXISTS (SELECT 1 FROM care_request r WHERE r.child_id = $1
                          AND r.status = 'OPEN')
              AND EXISTS (SELECT 1 FROM child me JOIN child o
                            ON o.household_id = me.household_id AND o.id <> me.id
                          JOIN care_request r ON r.child_id = o.id AND r.status = 'OPEN'
                          WHERE me.id = $1 AND o.birth_date IS NULL
                            AND o.expected_birth_date = $2) AS found""",
        child_id,
        expected,
    )
    return bool(rows[0]["found"])
