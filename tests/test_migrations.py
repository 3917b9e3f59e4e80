"""The committed migrations build exactly the models' schema."""

from __future__ import annotations

from tortoise.context import require_context
from tortoise.migrations.autodetector import MigrationAutodetector

from loket.db import tortoise_config


async def test_models_and_migrations_agree(database: str) -> None:
    config = tortoise_config(database)
    ctx = require_context()
    writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert [w.name for w in writers] == []


async def test_migrations_applied_all(database: str) -> None:
    from tortoise import connections

    async with connections.get("default").acquire_connection() as conn:
        rows = await conn.fetch("SELECT name FROM tortoise_migrations ORDER BY name")
    assert [r["name"] for r in rows] == [
        "0001_initial",
        "0002_integrity",
        "0003_rrn_hashes_under_every_key",
        "0004_parent_journey",
        "0005_providers",
        "0006_integrators",
    ]
