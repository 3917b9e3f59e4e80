"""What must hold after a run, checked against the database: every acknowledged write is
there (the ledger), no child or request holds two places, no location is over capacity,
no notification is queued or sent twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

from jobs.notifications import message_id
from reliability.traffic import REFUSAL_REASON


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"  [{'ok' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


_STATE = """
SELECT a.id, a.status, a.refusal_reason,
       EXISTS (SELECT 1 FROM enrolment e
               WHERE e.request_id = a.request_id AND e.location_id = a.location_id) AS enrolled,
       EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'offer'
               AND o.dedup_key LIKE 'offer:' || a.id || ':%') AS offer_message
FROM application a WHERE a.id = ANY($1::uuid[])"""


def _took_effect(kind: str, row: Any) -> bool:
    if row is None:
        return False
    if kind == "offer":
        return bool(row["status"] == "OFFERED" and row["offer_message"])
    if kind == "waitlist":
        return bool(row["status"] == "WAITLISTED")
    if kind == "refuse":
        return bool(row["status"] == "REFUSED" and row["refusal_reason"] == REFUSAL_REASON)
    return bool(row["status"] == "ENROLLED" and row["enrolled"])


async def ledger(conn: asyncpg.Connection, entries: list[dict[str, Any]]) -> list[Check]:
    """Each acknowledged write took effect (its row, and for an offer its notification);
    each write refused with an expected code changed nothing; unacknowledged writes
    (errors, timeouts) are counted by whether they took effect (ambiguous, not lost)."""
    rows = {
        str(r["id"]): r for r in await conn.fetch(_STATE, list({e["application"] for e in entries}))
    }
    acknowledged = [e for e in entries if e["outcome"] == "ok"]
    lost = [e for e in acknowledged if not _took_effect(e["kind"], rows.get(e["application"]))]
    refused = [e for e in entries if e["outcome"].startswith("expected:")]
    changed = [e for e in refused if _took_effect(e["kind"], rows.get(e["application"]))]
    unacknowledged = [e for e in entries if e["outcome"].startswith("error:")]
    applied = sum(_took_effect(e["kind"], rows.get(e["application"])) for e in unacknowledged)
    kinds = Counter(e["kind"] for e in acknowledged)
    return [
        Check(
            "acknowledged writes are in the database",
            not lost,
            f"{len(acknowledged) - len(lost)} of {len(acknowledged)} "
            f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
            + (f"; LOST: {lost[:5]}" if lost else ""),
        ),
        Check(
            "writes refused with an expected code changed nothing",
            not changed,
            f"{len(refused) - len(changed)} of {len(refused)}"
            + (f"; CHANGED: {changed[:5]}" if changed else ""),
        ),
        Check(
            "unacknowledged writes (errors, timeouts): informational",
            True,
            f"{len(unacknowledged)}, of which {applied} took effect (the client cannot know: "
            "a retry must be idempotent)",
        ),
    ]


_INVARIANTS = {
    "no child holds two places": """
        SELECT count(*) FROM (SELECT child_id FROM enrolment WHERE end_date IS NULL
                              GROUP BY child_id HAVING count(*) > 1) x""",
    "no request is enrolled twice": """
        SELECT count(*) FROM (SELECT request_id FROM enrolment WHERE request_id IS NOT NULL
                              GROUP BY request_id HAVING count(*) > 1) x""",
    "no location over capacity in any month": """
        SELECT count(*) FROM (
            SELECT l.id, m.month FROM provider_location l
            JOIN LATERAL (SELECT DISTINCT date_trunc('month', start_date) AS month
                          FROM enrolment WHERE location_id = l.id) m ON true
            WHERE (SELECT count(*) FROM enrolment e WHERE e.location_id = l.id
                   AND e.start_date < m.month + interval '1 month'
                   AND (e.end_date IS NULL OR e.end_date >= m.month)) > l.capacity) x""",
    "no notification queued twice for one offer": """
        SELECT count(*) FROM (
            SELECT recipient_id, split_part(dedup_key, ':', 2), params FROM outbox
            WHERE kind = 'offer' GROUP BY 1, 2, 3 HAVING count(*) > 1) x""",
}


async def invariants(conn: asyncpg.Connection) -> list[Check]:
    checks = []
    for name, sql in _INVARIANTS.items():
        bad = int(await conn.fetchval(sql))
        checks.append(Check(name, bad == 0, f"{bad} violations"))
    enrolments = await conn.fetchval("SELECT count(*) FROM enrolment")
    checks.append(Check("enrolments in the database: informational", True, str(enrolments)))
    return checks


async def notifications(conn: asyncpg.Connection, received: Counter[str]) -> list[Check]:
    """Every message the relay accepted was sent once; every SENT row reached it once;
    nothing is left due."""
    rows = await conn.fetch("SELECT id, status FROM outbox")
    sent = {message_id(r["id"]) for r in rows if r["status"] == "SENT"}
    status = Counter(r["status"] for r in rows)
    twice = {m: n for m, n in received.items() if n > 1}
    unmarked = set(received) - sent
    missing = sent - set(received)
    due = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= now()"
    )
    return [
        Check(
            "no message sent twice",
            not twice,
            f"{sum(received.values())} messages received, {len(received)} distinct Message-IDs"
            + (f"; TWICE: {list(twice.items())[:5]}" if twice else ""),
        ),
        Check(
            "every SENT message reached the relay, every received one is SENT",
            not unmarked and not missing,
            f"outbox {dict(status)}; received but not SENT {len(unmarked)}, SENT but not "
            f"received {len(missing)}",
        ),
        Check("nothing left due in the outbox", due == 0, f"{due} due"),
    ]
