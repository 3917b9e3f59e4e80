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
        "0007_application_origin",
        "0008_jobs",
        "0009_privacy",
        "0010_inbox_rank",
        "0011_access_log_references",
        "0012_request_child_household",
        "0013_access_log_at_brin",
        "0014_household_municipality",
    ]


LANDED = "models.0003_rrn_hashes_under_every_key"


async def test_migrations_upgrade_a_filled_database_and_go_back_down(database: str) -> None:
    """From the landed schema with data to the latest and back: NOT NULL columns added to
    filled tables get their values, the data moved (postal codes, last-minute places)
    comes back on the way down."""
    import asyncio
    import os
    import sys
    from urllib.parse import urlsplit

    import asyncpg

    from loket.db import to_asyncpg_dsn, with_database
    from tests.conftest import _server_url

    server = _server_url()
    name = urlsplit(database).path.lstrip("/") + "_roundtrip"
    url = with_database(server, name)
    admin = await asyncpg.connect(to_asyncpg_dsn(server))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def loket_migrate(*target: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loket.cli", "migrate", *target,
            env={**os.environ, "DATABASE_URL": url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await process.communicate()
        assert process.returncode == 0, out.decode()[-3000:]

    await loket_migrate("--target", LANDED)
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        await conn.execute(
            """INSERT INTO municipality (nis_code, name) VALUES ('24062', 'Leuven');
               INSERT INTO provider_organisation (id, name, created_at)
                   VALUES ('00000000-0000-0000-0000-00000000000a', 'Org', now());
               INSERT INTO provider_location (id, organisation_id, name, street, postal_code,
                   municipality_id, kind, capacity, tariff, subsidy_step, min_age_months,
                   max_age_months, opening_hours, priority_policy, last_minute_places)
                   VALUES ('00000000-0000-0000-0000-00000000000b',
                   '00000000-0000-0000-0000-00000000000a', 'Loc', 'Straat 1', '3000', '24062',
                   'GROUP', 10, 'INCOME_RELATED', 2, 0, 36, '', '', 2);
               INSERT INTO household (id, municipality_id, family_situation, created_at)
                   VALUES ('00000000-0000-0000-0000-00000000000c', '24062', 'TWO_PARENTS',
                   now());
               INSERT INTO parent (id, household_id, is_applicant, first_name, last_name,
                   nationality, birthplace, home_language, street, postal_code,
                   municipality_id, phone, email, work_situation, education_level,
                   relation_to_child)
                   VALUES ('00000000-0000-0000-0000-00000000000d',
                   '00000000-0000-0000-0000-00000000000c', true, 'An', 'P', 'BE', '', 'nl',
                   'Straat 2', '3000', '24062', '+32470123456', 'an@example.be', 'WORKING',
                   'HIGHER', 'PARENT');
               INSERT INTO child (id, household_id, first_name, nickname, last_name,
                   expected_birth_date, created_at)
                   VALUES ('00000000-0000-0000-0000-00000000000e',
                   '00000000-0000-0000-0000-00000000000c', 'Kind', '', 'P', current_date + 30,
                   now());
               INSERT INTO care_request (id, household_id, child_id, desired_start_date,
                   care_pattern, note, status, submitted_at)
                   VALUES ('00000000-0000-0000-0000-00000000000f',
                   '00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-00000000000e',
                   current_date + 200, '{}', '', 'OPEN', '2026-01-02T10:00:00Z');
               INSERT INTO application (id, request_id, location_id, preference, status,
                   updated_at)
                   VALUES ('00000000-0000-0000-0000-000000000010',
                   '00000000-0000-0000-0000-00000000000f',
                   '00000000-0000-0000-0000-00000000000b', 1, 'PENDING', now());"""
        )
    finally:
        await conn.close()

    # up: every new NOT NULL column is filled
    await loket_migrate()
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT situation_source FROM parent") == "PARENT"
        assert await conn.fetchval("SELECT situation_source FROM household") == "PARENT"
        app = await conn.fetchrow(
            "SELECT created_at, staff_child, by_emergency_offer, refusal_reason FROM application"
        )
        assert app["created_at"].isoformat() == "2026-01-02T10:00:00+00:00"
        assert (app["staff_child"], app["by_emergency_offer"], app["refusal_reason"]) == (
            False, False, "",
        )  # fmt: skip
        assert await conn.fetchval("SELECT sum(places) FROM last_minute_place") == 2
        assert await conn.fetchval("SELECT opening_days FROM provider_location") == []
        await conn.execute(
            "INSERT INTO postal_code (code, municipality_id, place_name) "
            "VALUES ('3000', '24062', 'Leuven')"
        )
    finally:
        await conn.close()

    # down to 0004: the postal codes go back into the municipality's array
    await loket_migrate("--target", "models.0004_parent_journey")
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT postal_codes FROM municipality") == ["3000"]
    finally:
        await conn.close()

    # down to the landed state: the moved data comes back
    await loket_migrate("--target", LANDED)
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT last_minute_places FROM provider_location") == 2
        assert await conn.fetchval("SELECT to_regclass('postal_code')") is None
        assert await conn.fetchval("SELECT count(*) FROM parent") == 1
    finally:
        await conn.close()

    # and up again
    await loket_migrate()


def test_the_job_engine_schema_is_the_pinned_release() -> None:
    """Migration 0008 creates procrastinate's schema from the copy in models/sql; the
    installed procrastinate must be that release (an upgrade needs a migration with its
    delta files)."""
    from importlib.metadata import version
    from pathlib import Path

    from procrastinate.schema import SchemaManager

    pinned = version("procrastinate")
    copy = Path(__file__).resolve().parent.parent / "models" / "sql" / f"procrastinate-{pinned}.sql"
    assert copy.exists(), f"no schema copy for procrastinate {pinned}: add a migration"
    assert copy.read_text(encoding="utf-8") == SchemaManager.get_schema()
