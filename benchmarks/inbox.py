"""What a ranked inbox costs: a location with 1,000 open requests, one page of the inbox
through the schema (priority engine, field policy and access log on), next to the floor
(the same SQL statements for the same rows, without ranking and GraphQL) and the ranking
alone.

    .venv/bin/python benchmarks/inbox.py [--rounds 30] [--requests 1000] [--page 20]

Uses TEST_DATABASE_URL when set, else the embedded test server, database loket_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tortoise import Tortoise

from benchmarks.common import open_empty_database
from loket import synthetic
from loket.context import Context
from loket.db import (
    fetch,
)
from models.accounts import Role
from permissions.engine import AccessAudit, build_field_policy
from permissions.viewer import load_viewer
from resolvers import priority
from resolvers.households import HOUSEHOLD_COLUMNS
from resolvers.inbox import candidate_from_row, candidates_query
from resolvers.loaders import APPLICATION_SQL, REQUEST_SQL, Loaders
from schema.root import build_schema
from tests import factories as f

QUERY = """query Bench($loc: ID!, $first: Int!) { inbox(locationId: $loc, first: $first) {
  edges { node { rank overdue priority { tier score reasons }
    request { id desiredStartDate carePattern { day part } onEmergencyList }
    application { status preference }
    household { familySituation parents { firstName lastName workSituation } } } } } }"""


async def seed(n: int) -> tuple[uuid.UUID, uuid.UUID]:
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven, capacity=40)
    await synthetic.inbox_dossiers(loc.id, leuven.nis_code, n)
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    await fetch("ANALYZE")  # as autovacuum would after a bulk load
    return provider.id, loc.id


async def main(rounds: int, requests: int, page: int) -> None:
    await open_empty_database()
    provider_id, location = await seed(requests)
    from tortoise import connections

    async with connections.get("default").acquire_connection() as conn:
        viewer = await load_viewer(conn, provider_id, None)
    assert viewer is not None
    schema = build_schema(enforce=True)
    policy = build_field_policy(schema)
    sql, values = candidates_query(location, None)
    today = datetime.date.today()

    async def run() -> float:
        context = Context(
            viewer=viewer,
            field_policy=policy,
            loaders=Loaders(viewer),
            request_id=str(uuid.uuid4()),
            audit=AccessAudit(),
        )
        start = time.perf_counter()
        result = await schema.execute(
            QUERY, variable_values={"loc": str(location), "first": page}, context_value=context
        )
        elapsed = time.perf_counter() - start
        assert result.errors is None, result.errors
        assert len(result.data["inbox"]["edges"]) == page
        return elapsed

    async def floor() -> float:
        """The same statements for the same rows, without ranking or GraphQL."""
        start = time.perf_counter()
        rows = await fetch(sql, *values)  # (with the location's tariff and criteria)
        chosen = rows[:page]
        ids = [r["request_id"] for r in chosen]
        await fetch(REQUEST_SQL.format(days="$2") + " WHERE r.id = ANY($1::uuid[])", ids, 60)
        await fetch(
            f"{APPLICATION_SQL} WHERE a.id = ANY($1::uuid[])", [r["application_id"] for r in chosen]
        )
        households = [r["household_id"] for r in chosen]
        await fetch(
            f"""SELECT {HOUSEHOLD_COLUMNS} FROM household h
                JOIN municipality m ON m.nis_code = h.municipality_id
                WHERE h.id = ANY($1::uuid[])""",
            households,
        )
        return time.perf_counter() - start

    async def candidates_only() -> float:
        start = time.perf_counter()
        await fetch(sql, *values)
        return time.perf_counter() - start

    rows = await fetch(sql, *values)
    candidates = [candidate_from_row(r) for r in rows]

    def ranking_only() -> float:
        start = time.perf_counter()
        priority.rank(candidates, tariff="INCOME_RELATED", criteria=[], today=today)
        return time.perf_counter() - start

    for _ in range(3):
        await run()
        await floor()
    timings: dict[str, list[float]] = {"inbox": [], "floor": [], "candidates": [], "rank": []}
    for _ in range(rounds):
        timings["inbox"].append(await run())
        timings["floor"].append(await floor())
        timings["candidates"].append(await candidates_only())
        timings["rank"].append(ranking_only())
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    print(
        f"inbox of one location, {len(rows)} open requests, page of {page}, "
        f"{rounds} interleaved rounds (median ms):"
    )
    print(f"  inbox through the schema (ranked, policy, access log): {med['inbox']:.2f}")
    print(f"  same SQL statements, no ranking, no GraphQL (floor)  : {med['floor']:.2f}")
    print(f"    of which the candidate statement                   : {med['candidates']:.2f}")
    print(f"  ranking {len(rows)} candidates in Python              : {med['rank']:.2f}")
    print(f"  ratio inbox / floor: {med['inbox'] / med['floor']:.2f}")
    await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--page", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests, args.page))
