"""The consent ledger: a parent grants and revokes their own consents, a dossier shows its
ledger, and admins list the parents whose consent for a purpose is active right now.

The ledger is append-only; the current state of a purpose is its latest event. Handling
the care request is the legal basis of the platform and needs no consent.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import execute, fetch
from loket.settings import settings
from models.consents import ConsentAction, ConsentPurpose
from permissions.policy import Ability
from permissions.scopes import Params, visible_households
from resolvers.access import after_id, lock, viewer_parent, write_grant
from resolvers.loaders import PARENT_SQL, parent_from_row
from resolvers.validation import Errors
from schema.common import (
    Connection,
    Edge,
    connection,
    encode_cursor,
    page_size,
)
from schema.consents import (
    Consent,
    ConsentedContact,
    ConsentEntry,
    GrantConsentInput,
    GrantConsentPayload,
    RevokeConsentInput,
    RevokeConsentPayload,
)
from schema.directives import arg
from schema.households import Parent

Key = tuple[uuid.UUID, str]
PURPOSES = list(ConsentPurpose)

# Parents (all of them, with or without events) and their events, oldest first.
LEDGER_SQL = """SELECT pr.*, e.id AS event_id, e.purpose, e.action, e.at
FROM ({parents}) pr
LEFT JOIN consent_event e ON e.parent_id = pr.id{purpose}
ORDER BY pr.is_applicant DESC, pr.id, e.id"""


def _ledger(
    rows: list[Any], grants: dict[uuid.UUID, str]
) -> tuple[dict[uuid.UUID, Parent], list[Consent]]:
    """The parents of the rows, and one Consent per parent and purpose with any event
    (parents in row order, purposes in their declared order)."""
    parents: dict[uuid.UUID, Parent] = {}
    events: dict[tuple[uuid.UUID, str], list[Any]] = defaultdict(list)
    for r in rows:
        if r["id"] not in parents:
            parents[r["id"]] = parent_from_row(r, grants[r["household_id"]])
        if r["event_id"] is not None:
            events[(r["id"], r["purpose"])].append(r)
    rank = {pid: i for i, pid in enumerate(parents)}
    consents = []
    for parent_id, purpose in sorted(
        events, key=lambda k: (rank[k[0]], PURPOSES.index(ConsentPurpose(k[1])))
    ):
        parent = parents[parent_id]
        history = events[(parent_id, purpose)]
        latest = history[-1]
        consents.append(
            Consent(
                household_id=parent.household_id,
                grant=parent.grant,
                parent=parent,
                purpose=ConsentPurpose(purpose),
                active=latest["action"] == ConsentAction.GRANTED.value,
                since=latest["at"],
                history=[
                    ConsentEntry(
                        household_id=parent.household_id,
                        grant=parent.grant,
                        action=ConsentAction(e["action"]),
                        at=e["at"],
                    )
                    for e in history
                ],
            )
        )
    return parents, consents


async def consents_of_households(keys: Sequence[Key]) -> list[list[Consent]]:
    """The ledgers of reachable dossiers (the loader behind Household.consents)."""
    rows = await fetch(
        LEDGER_SQL.format(
            parents=f"{PARENT_SQL} WHERE p.household_id = ANY($1::uuid[])", purpose=""
        ),
        [k for k, _ in keys],
    )
    _, consents = _ledger(rows, dict(keys))
    grouped: dict[uuid.UUID, list[Consent]] = defaultdict(list)
    for c in consents:
        grouped[c.household_id].append(c)
    return [grouped.get(k, []) for k, _ in keys]


async def load_consent(
    parent_id: uuid.UUID, household_id: uuid.UUID, purpose: ConsentPurpose, grant: str
) -> Consent:
    """One parent's consent for one purpose; inactive with no history when never given."""
    rows = await fetch(
        LEDGER_SQL.format(parents=f"{PARENT_SQL} WHERE p.id = $1", purpose=" AND e.purpose = $2"),
        parent_id,
        purpose.value,
    )
    parents, consents = _ledger(rows, {household_id: grant})
    if consents:
        return consents[0]
    return Consent(
        household_id=household_id,
        grant=grant,
        parent=parents[parent_id],
        purpose=purpose,
        active=False,
        since=None,
        history=[],
    )


async def _set_consent(
    info: Info, purpose: ConsentPurpose, action: ConsentAction
) -> tuple[Consent | None, Errors]:
    """Record `action` for the viewer's own parent row unless it is already the current
    state (no duplicate events)."""
    viewer = info.context.viewer
    errors = Errors()
    parent = await viewer_parent(viewer)
    grant = None
    if parent is not None:
        grant = await write_grant(info, parent["household_id"], Ability.MANAGE_CONSENT)
    if parent is None or grant is None:
        errors.add(["input"], "NO_HOUSEHOLD", "Register your household first.")
        return None, errors
    parent_id, household_id = parent["id"], parent["household_id"]
    async with in_transaction():
        await lock(household_id)
        latest = await fetch(
            """SELECT action FROM consent_event WHERE parent_id = $1 AND purpose = $2
               ORDER BY id DESC LIMIT 1""",
            parent_id,
            purpose.value,
        )
        current = latest[0]["action"] if latest else ConsentAction.REVOKED.value
        if current != action.value:
            await execute(
                """INSERT INTO consent_event (household_id, parent_id, purpose, action, at,
                       recorded_by_id)
                   VALUES ($1, $2, $3, $4, clock_timestamp(), $5)""",
                household_id,
                parent_id,
                purpose.value,
                action.value,
                viewer.user_id,
            )
    return await load_consent(parent_id, household_id, purpose, grant), errors


async def grant_consent(
    info: Info, input: Annotated[GrantConsentInput, arg("The purpose to consent to.")]
) -> GrantConsentPayload:
    """Give one's own consent for a purpose; granting an active consent changes nothing."""
    consent, errors = await _set_consent(info, input.purpose, ConsentAction.GRANTED)
    return GrantConsentPayload(consent=consent, errors=errors.items)


async def revoke_consent(
    info: Info, input: Annotated[RevokeConsentInput, arg("The purpose to revoke.")]
) -> RevokeConsentPayload:
    """Revoke one's own consent for a purpose, effective at once; revoking an inactive
    consent changes nothing."""
    consent, errors = await _set_consent(info, input.purpose, ConsentAction.REVOKED)
    return RevokeConsentPayload(consent=consent, errors=errors.items)


CONTACTS_SQL = """SELECT p.id, p.household_id, p.first_name, p.last_name, p.email,
    c.at AS since, v.grant_name
FROM (SELECT DISTINCT ON (e.parent_id) e.parent_id, e.action, e.at
      FROM consent_event e WHERE e.purpose = {purpose}{after}
      ORDER BY e.parent_id, e.id DESC) c
JOIN parent p ON p.id = c.parent_id
JOIN ({visible}) v ON v.household_id = p.household_id
WHERE c.action = 'GRANTED'
ORDER BY p.id
LIMIT {limit}"""


async def consented_contacts(
    info: Info,
    purpose: Annotated[ConsentPurpose, arg("The purpose the contacts are wanted for.")],
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[ConsentedContact] | None:
    """Parents whose latest consent event for the purpose is a grant, decided at query
    time: a revoked consent leaves the list at once."""
    size = page_size(first)
    p = Params()
    visible = visible_households(info.context.viewer, p, emergency_days=settings.emergency_days)
    after_sql = after_id(p, after, "e.parent_id")
    rows = await fetch(
        CONTACTS_SQL.format(
            purpose=p.add(purpose.value), after=after_sql, visible=visible, limit=p.add(size + 1)
        ),
        *p.values,
    )
    edges = [
        Edge(
            cursor=encode_cursor(str(r["id"])),
            node=ConsentedContact(
                id=strawberry.ID(str(r["id"])),
                household_id=r["household_id"],
                grant=r["grant_name"],
                first_name=r["first_name"],
                last_name=r["last_name"],
                email=r["email"],
                since=r["since"],
            ),
        )
        for r in rows[:size]
    ]
    return connection(edges, len(rows) > size)
