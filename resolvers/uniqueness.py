"""The uniqueness check: the only code that may use national register numbers.

It compares keyed hashes (every configured key, so a rotated key still matches) and
writes them; nothing here returns or logs a number or a hash.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from loket.context import Info
from loket.db import execute, fetch
from loket.errors import InvalidInput
from permissions.rrn import InvalidRrn, Rrn
from schema.directives import rrn_argument


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


async def parent_rrn_registered(rrn: Rrn) -> bool:
    """One account per parent: is a parent with this RRN already registered?"""
    rows = await fetch(
        "SELECT EXISTS (SELECT 1 FROM parent WHERE rrn_hashes && $1::bytea[]) AS found",
        list(rrn.hashes().values()),
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


async def lock_child_identity(child_id: uuid.UUID) -> None:
    """Serialise request submissions for one child (same RRN, or same unborn child),
    across households, until the transaction ends."""
    await fetch(
        """SELECT pg_advisory_xact_lock(k) FROM (
               SELECT DISTINCT hashtextextended(encode(d, 'hex'), 0) AS k
               FROM child, unnest(rrn_hashes) AS d WHERE id = $1
               UNION
               SELECT hashtextextended(household_id::text || ':' || expected_birth_date::text, 0)
               FROM child WHERE id = $1 AND rrn_hashes IS NULL
               ORDER BY 1) s""",
        child_id,
    )


async def has_open_request(
    info: Info,
    child_rrn: Annotated[
        str, rrn_argument("National register number of the child (never stored by this call).")
    ],
) -> bool | None:
    """Whether an open care request already exists for this child anywhere on the platform.
    Says nothing about who filed it."""
    try:
        rrn = Rrn.parse(child_rrn)
    except InvalidRrn:
        raise InvalidInput("INVALID_RRN", "Not a valid national register number.") from None
    return await child_has_open_request(rrn)
