"""What every benchmark needs: its own migrated, empty database, opened with Tortoise.

TEST_DATABASE_URL's server when set, else the embedded test server; database loket_bench.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tortoise import Tortoise

from loket.db import (
    embedded_server_uri,
    ensure_database,
    fetch,
    migrate,
    tortoise_config,
    with_database,
)
from loket.settings import settings


async def open_empty_database() -> str:
    """Migrate and open the benchmark database, emptied; returns its URL."""
    from tests.conftest import TABLES

    base = settings.test_database_url or embedded_server_uri(
        settings.data_dir / "test-pgdata", "postgres"
    )
    url = with_database(base, "loket_bench")
    await ensure_database(url)
    await migrate(url)
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    await fetch(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return url
