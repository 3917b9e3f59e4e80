"""What the permission engine costs: the same query with the policy on and off.

Runs the dossier list (100 dossiers with parents, children and requests) through the
schema in-process, once with `PolicyExecutor` + access log, once with strawberry's
plain executor and no access log, interleaved, and prints medians and the ratio.
Also prints the floor: the same SQL statements for the same data, without GraphQL.

    .venv/bin/python benchmarks/permission_cost.py [--rounds 30] [--dossiers 100]

Uses TEST_DATABASE_URL when set, else the embedded test server, database loket_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tortoise import Tortoise

from benchmarks.common import open_empty_database
from loket.context import Context
from loket.db import (
    fetch,
)
from models.accounts import Role
from permissions.engine import AccessAudit, build_field_policy
from permissions.scopes import Params, visible_households
from permissions.viewer import load_viewer
from resolvers.households import HOUSEHOLD_SQL
from resolvers.loaders import APPLICATION_SQL, CHILD_SQL, PARENT_SQL, REQUEST_SQL, Loaders
from schema.root import build_schema
from tests import factories as f

QUERY = """query Bench { dossiers(first: 100) { edges { node { id familySituation
    parents { firstName lastName phone email street workSituation educationLevel }
    children { firstName birthDate }
    requests { desiredStartDate status applications { status preference } } } } } }"""


async def seed(n: int) -> uuid.UUID:
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    for _ in range(n):
        h, _ = await f.household(leuven)
        c = await f.child(h, born=f.days(-100))
        await f.care_request(c, loc)
    admin = await f.user(Role.ADMIN)
    return admin.id


async def main(rounds: int, dossiers: int) -> None:
    await open_empty_database()
    admin_id = await seed(dossiers)
    from tortoise import connections

    async with connections.get("default").acquire_connection() as conn:
        viewer = await load_viewer(conn, admin_id, None)
    assert viewer is not None
    on, off = build_schema(enforce=True), build_schema(enforce=False)
    policy = build_field_policy(on)

    async def run(schema, audit: bool) -> float:
        context = Context(
            viewer=viewer,
            field_policy=policy,
            loaders=Loaders(viewer),
            request_id=str(uuid.uuid4()),
            audit=AccessAudit() if audit else None,
        )
        start = time.perf_counter()
        result = await schema.execute(QUERY, context_value=context)
        elapsed = time.perf_counter() - start
        assert result.errors is None, result.errors
        assert len(result.data["dossiers"]["edges"]) == dossiers
        return elapsed

    async def floor() -> float:
        """The same data by the same statements, without GraphQL: the I/O floor."""
        p = Params()
        visible = visible_households(viewer, p, emergency_days=60)
        start = time.perf_counter()
        rows = await fetch(
            HOUSEHOLD_SQL.format(visible=visible) + f" ORDER BY h.id LIMIT {p.add(101)}",
            *p.values,
        )
        ids = [r["id"] for r in rows[:100]]
        await fetch(f"{PARENT_SQL} WHERE p.household_id = ANY($1::uuid[])", ids)
        await fetch(f"{CHILD_SQL} WHERE c.household_id = ANY($1::uuid[])", ids)
        requests = await fetch(
            REQUEST_SQL.format(days="$2") + " WHERE r.household_id = ANY($1::uuid[])", ids, 60
        )
        await fetch(
            f"{APPLICATION_SQL} WHERE a.request_id = ANY($1::uuid[])", [r["id"] for r in requests]
        )
        return time.perf_counter() - start

    for _ in range(3):  # warm caches
        await run(on, True)
        await run(off, False)
    timings: dict[str, list[float]] = {"on": [], "policy": [], "off": [], "floor": []}
    for _ in range(rounds):
        timings["on"].append(await run(on, True))
        timings["policy"].append(await run(on, False))
        timings["off"].append(await run(off, False))
        timings["floor"].append(await floor())
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    print(f"dossier list as admin, {dossiers} dossiers, {rounds} interleaved rounds (median ms):")
    print(f"  field policy + access log : {med['on']:.2f}")
    print(f"  field policy only         : {med['policy']:.2f}")
    print(f"  no policy, no access log  : {med['off']:.2f}")
    print(f"  same SQL, no GraphQL      : {med['floor']:.2f}")
    print(f"  ratio policy+log / off: {med['on'] / med['off']:.3f}")
    print(f"  ratio policy only / off: {med['policy'] / med['off']:.3f}")
    await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--dossiers", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.dossiers))
