"""Test fixtures: a real PostgreSQL per xdist worker, migrated with the committed
migrations, the real ASGI app, and one HTTP client per actor with a real JWT."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from tortoise import Tortoise, connections

from loket.auth import mint_token
from loket.db import (
    embedded_server_uri,
    migrate,
    to_asyncpg_dsn,
    tortoise_config,
    with_database,
)
from loket.planner import MISMATCHES, SHADOW, STATS
from loket.settings import settings


def _server_url() -> str:
    """TEST_DATABASE_URL when given, else a bundled PostgreSQL in .loket/test-pgdata."""
    if settings.test_database_url:
        return settings.test_database_url
    return embedded_server_uri(settings.data_dir / "test-pgdata", "postgres")


@pytest.fixture(scope="session")
def database_url() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return with_database(_server_url(), f"loket_test_{worker}")


@pytest_asyncio.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[str]:
    """A fresh database, migrated once per session; Tortoise open on it."""
    server = to_asyncpg_dsn(_server_url())
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(database_url)
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
    yield database_url
    await Tortoise.close_connections()


TABLES = (
    "job_run, outbox, request_statistic, procrastinate_events, procrastinate_periodic_defers, "
    "procrastinate_jobs, procrastinate_workers, "
    "agreement, disclosure, report_note, report, erasure_request, data_export, "
    "manifest_operation, manifest, persisted_document, integrator_client, "
    "saved_search, last_minute_place, postal_code, rate_limit_window, invitation, "
    "consent_event, access_log, service_record, enrolment, application, care_request, "
    "mandate, child, parent, household, membership, app_user, sick_child_service, "
    "referral_organisation, provider_location, provider_organisation, counter_municipality, "
    "counter, municipality, region"
)


async def truncate() -> None:
    async with connections.get("default").acquire_connection() as conn:
        await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")


@pytest_asyncio.fixture
async def db(database: str) -> AsyncIterator[str]:
    """An empty database for one test; afterwards, no stored inbox key is out of date
    (the triggers of migration 0010 followed every write the test made), and every
    municipality a live dossier is linked to has its row (migration 0014)."""
    await truncate()
    yield database
    async with connections.get("default").acquire_connection() as conn:
        stale = await conn.fetch(STALE_RANKS)
        missing = await conn.fetch(MISSING_MUNICIPALITIES)
    assert not stale, f"stored inbox keys out of date: {[dict(r) for r in stale]}"
    assert not missing, f"dossier links missing: {[dict(r) for r in missing]}"


STALE_RANKS = """
SELECT a.id, a.rank_tier, a.rank_score, k.tier, k.score
FROM application a CROSS JOIN LATERAL loket_rank_of(a.request_id, a.location_id, a.staff_child) k
WHERE (a.rank_tier, a.rank_score) IS DISTINCT FROM (k.tier, k.score)
LIMIT 5"""

MISSING_MUNICIPALITIES = """
SELECT x.municipality_id, x.household_id FROM (
    SELECT h.municipality_id, h.id AS household_id FROM household h
    WHERE h.anonymised_at IS NULL
    UNION
    SELECT l.municipality_id, r.household_id FROM application a
    JOIN care_request r ON r.id = a.request_id
    JOIN provider_location l ON l.id = a.location_id
    JOIN household h ON h.id = r.household_id AND h.anonymised_at IS NULL) x
WHERE NOT EXISTS (SELECT 1 FROM household_municipality m
                  WHERE m.municipality_id = x.municipality_id
                    AND m.household_id = x.household_id)
LIMIT 5"""


@pytest_asyncio.fixture(scope="session")
async def job_pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on the test database, as the job worker has one."""
    from jobs.runner import open_pool

    pool = await open_pool(database)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def app(database: str) -> Any:
    from loket.app import create_app

    return create_app(database_url=database, manage_db=False)


class Actor:
    """An HTTP client acting as one user (or anonymous), through the real ASGI app."""

    def __init__(self, app: Any, user_id: str | None, role: str | None = None) -> None:
        headers = {}
        if user_id is not None:
            headers["Authorization"] = f"Bearer {mint_token(user_id)}"
        if role is not None:
            headers["X-Loket-Role"] = role
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
        )
        self.user_id = user_id

    async def post_gql(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        """POST an operation; an integrator runs only registered operations
        (loket.persisted), so for one the text is registered for its client and sent by
        documentId, as a real integrator would."""
        body = {"query": query, "variables": variables or {}}
        response = await self.http.post("/graphql", json=body)
        if (
            response.status_code == 400
            and self.user_id is not None
            and response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
        ):
            document_id = await register_operation(self.user_id, query)
            response = await self.http.post(
                "/graphql", json={"documentId": document_id, "variables": variables or {}}
            )
        return response

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post_gql(query, variables)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def register_operation(user_id: Any, text: str) -> str:
    """Register `text` in a test manifest of the integrator user's client (made on first
    use); returns its documentId (`sha256:<hex>`)."""
    import hashlib

    from models.integrators import (
        DocumentSource,
        IntegratorClient,
        Manifest,
        ManifestFormat,
        ManifestOperation,
        PersistedDocument,
    )

    digest = hashlib.sha256(text.encode()).hexdigest()
    client, _ = await IntegratorClient.get_or_create(
        user_id=user_id, defaults={"name": "test client"}
    )
    manifest = await Manifest.filter(client=client, name="tests", revoked_at=None).first()
    if manifest is None:
        manifest = await Manifest.create(client=client, name="tests", format=ManifestFormat.GRAPHQL)
    document, _ = await PersistedDocument.get_or_create(
        sha256=digest, defaults={"body": text, "source": DocumentSource.MANIFEST}
    )
    await ManifestOperation.get_or_create(
        manifest=manifest,
        external_id=digest,
        defaults={"document": document, "operation_name": "", "operation_type": "query"},
    )
    return f"sha256:{digest}"


async def _actor_factory(app: Any) -> AsyncIterator[Callable[..., Actor]]:
    made: list[Actor] = []

    def make(user: Any, role: str | None = None) -> Actor:
        a = Actor(app, None if user is None else str(user.id), role)
        made.append(a)
        return a

    yield make
    for a in made:
        await a.http.aclose()


@pytest_asyncio.fixture
async def actor(app: Any, db: str) -> AsyncIterator[Callable[..., Actor]]:
    """Factory: `actor(user)` gives a client with that user's real JWT; `actor(None)` anonymous."""
    async for make in _actor_factory(app):
        yield make


@pytest_asyncio.fixture(scope="module")
async def actors(app: Any) -> AsyncIterator[Callable[..., Actor]]:
    """Like `actor`, for module-scoped data (the module builds its data once)."""
    async for make in _actor_factory(app):
        yield make


class StatementCounter:
    """Counts SQL statements sent to PostgreSQL (pool reset statements excluded)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(monkeypatch: pytest.MonkeyPatch) -> StatementCounter:
    counter = StatementCounter()
    original_execute = asyncpg.connection.Connection._execute
    original_plain = asyncpg.connection.Connection.execute

    # Statements of a differential run (strawberry alongside a plan) are not the
    # request's: the client got the plan's answer.
    async def _execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not SHADOW.get():
            counter.statements.append(query)
        return await original_execute(self, query, *args, **kwargs)

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args and "RESET ALL" not in query and not SHADOW.get():
            counter.statements.append(query)
        return await original_plain(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_execute", _execute)
    monkeypatch.setattr(asyncpg.connection.Connection, "execute", execute)
    return counter


@contextlib.asynccontextmanager
async def serve_on_tcp(app: Any) -> AsyncIterator[str]:
    """`app` served by uvicorn on an ephemeral TCP port, in this event loop: real HTTP.
    Yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn's Server exposes only a flag
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture
async def live_server(app: Any, db: str) -> AsyncIterator[str]:
    """The session's app over real HTTP (base URL)."""
    async with serve_on_tcp(app) as url:
        yield url


def pytest_configure(config: Any) -> None:
    """Every planned request is also run through strawberry and compared (loket.planner).
    Set here, not in the environment: benchmarks import this module and pass their
    environment to the servers they start."""
    object.__setattr__(settings, "plan_differential", True)


@pytest.fixture(autouse=True)
def plan_matches_strawberry() -> Any:
    """Differential test: every request a compiled plan served in this test gave the same
    data, errors and access-log reads as strawberry's execution of it."""
    MISMATCHES.clear()
    failed = STATS["failed"]
    yield
    found = list(MISMATCHES)
    MISMATCHES.clear()
    assert not found, f"plan and strawberry differ: {found[0]}"
    assert STATS["failed"] == failed, "a compiled plan failed (see the log)"


_WORKER_STATS: Counter[str] = Counter()


def pytest_sessionfinish(session: Any) -> None:
    """An xdist worker sends its count of planned requests to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["plan_stats"] = dict(STATS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _WORKER_STATS.update(getattr(node, "workeroutput", {}).get("plan_stats", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    total = _WORKER_STATS + STATS
    if total:
        terminalreporter.write_line(
            f"compiled plans: {total['planned']} requests served by a plan and compared with "
            f"strawberry; {total['fallback'] + total['failed']} handed back to strawberry by "
            f"a plan; {total['not covered']} POSTed requests not covered by any plan"
        )
