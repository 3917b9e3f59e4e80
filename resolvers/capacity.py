"""How many places a location has free for a child starting in a given month.

A new enrolment has no end date: it holds its place from the start month on, so the
count that matters is the highest number of children holding a place in any month from
the start month onwards (it can only rise where another enrolment starts). Callers lock
the location row first (in its own statement) and call this after, so the count sees
every enrolment committed before the lock was granted.
"""

from __future__ import annotations

import datetime
import uuid

from loket.db import fetch

PLACES_SQL = """
WITH months AS (
    SELECT date_trunc('month', $2::date) AS m
    UNION
    SELECT date_trunc('month', start_date) FROM enrolment
    WHERE location_id = $1 AND start_date > $2::date
)
SELECT l.capacity,
       coalesce((SELECT max((SELECT count(*) FROM enrolment e
                             WHERE e.location_id = $1
                               AND e.start_date < months.m + interval '1 month'
                               AND (e.end_date IS NULL OR e.end_date >= months.m)))
                 FROM months), 0) AS taken
FROM provider_location l WHERE l.id = $1"""


async def places_taken(location_id: uuid.UUID, start: datetime.date) -> tuple[int, int]:
    """(capacity, most children holding a place in any month from `start`'s month on)."""
    rows = await fetch(PLACES_SQL, location_id, start)
    return int(rows[0]["capacity"]), int(rows[0]["taken"])
