"""SQL statements per request do not grow with the number of rows returned."""

from __future__ import annotations

from typing import Any

import pytest

from models.accounts import Role
from tests import factories as f

DOSSIERS = """{ dossiers(first: 100) { edges { node { id residence { name }
    parents { firstName lastName phone email street municipality { name } }
    children { firstName }
    requests { desiredStartDate carePattern { day part } preferredLocations { name }
               applications { status location { name } } child { firstName } } } } } }"""

INBOX = """query($loc: ID!) { inbox(locationId: $loc, first: 100) { edges { node { reason
    application { status preference }
    request { desiredStartDate child { firstName birthDate } carePattern { day } }
    household { familySituation parents { firstName workSituation } children { firstName } }
} } } }"""


async def _world(n: int) -> dict[str, Any]:
    leuven = await f.municipality("24062", "Leuven")
    counter = await f.counter("Loket", leuven)
    loc = await f.location(leuven)
    other = await f.location(leuven)
    for _ in range(n):
        h, _ = await f.household(leuven)
        c = await f.child(h, born=f.days(-100))
        await f.child(h, expected=f.days(60))
        await f.care_request(c, loc, other)
    return {
        "admin": await f.user(Role.ADMIN),
        "loket": await f.user(Role.LOKET, counter=counter),
        "provider": await f.user(Role.PROVIDER, provider_location=loc),
        "loc": loc,
    }


async def _count(actor, count_statements, n: int, who: str, query: str) -> int:
    w = await _world(n)
    client = actor(w[who])
    count_statements.statements.clear()
    result = await client.gql(query, {"loc": str(w["loc"].id)} if "$loc" in query else None)
    assert "errors" not in result or all(
        e["extensions"]["code"] == "FORBIDDEN" for e in result["errors"]
    ), result
    data = result["data"]
    edges = (data.get("dossiers") or data.get("inbox"))["edges"]
    assert len(edges) == n
    return len(count_statements)


@pytest.mark.parametrize("who", ["admin", "loket"])
async def test_dossier_list_statements_do_not_grow_with_rows(
    actor, db, count_statements, who: str
) -> None:
    from tests.conftest import truncate

    small = await _count(actor, count_statements, 2, who, DOSSIERS)
    await truncate()
    large = await _count(actor, count_statements, 12, who, DOSSIERS)
    print(f"statements: {small} for 2 rows, {large} for 12 rows")
    assert small == large
    assert large <= 10


async def test_inbox_statements_do_not_grow_with_rows(actor, db, count_statements) -> None:
    from tests.conftest import truncate

    small = await _count(actor, count_statements, 2, "provider", INBOX)
    await truncate()
    large = await _count(actor, count_statements, 12, "provider", INBOX)
    print(f"statements: {small} for 2 rows, {large} for 12 rows")
    assert small == large
    assert large <= 10
