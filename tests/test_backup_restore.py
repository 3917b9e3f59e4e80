"""Backup and restore: a custom-format dump of a database with the demo data, restored into
a new database on the same server, is served by a real `loket serve` with the same answers,
rows and contents; `loket backup` / `loket restore` do the same from the command line."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from jobs.runner import run_job
from loket import backup, demo
from loket.auth import mint_token
from loket.db import fetch, to_asyncpg_dsn, with_database
from models.accounts import User
from models.providers import ProviderLocation
from tests.conftest import _server_url

ROOT = Path(__file__).resolve().parent.parent

ERRORS = "errors { field code message }"
EXPORT = "status requestedByMe"
REQUEST_EXPORT = f"mutation {{ requestDataExport {{ export {{ {EXPORT} }} {ERRORS} }} }}"
MY_HOUSEHOLD = f"""{{ myHousehold {{
  id familySituation residence {{ name }}
  parents {{ firstName lastName street phone email workSituation hasAccount }}
  children {{ id firstName nickname birthDate expectedBirthDate }}
  requests {{ id status desiredStartDate carePattern {{ day part }}
              applications {{ status location {{ name }} }} }}
  nextSteps {{ kind message deadline childId }}
  consents {{ purpose active since }}
  exports {{ {EXPORT} }}
  accessLog(first: 50) {{ edges {{ node {{ at role organisationName grant fields }} }} }}
}} }}"""
DOSSIERS = """{ dossiers(first: 50) { edges { cursor node {
  id viewerGrant residence { name }
  parents { firstName lastName phone workSituation }
  children { firstName }
} } } }"""
INBOX = """query($loc: ID!) { inbox(locationId: $loc, first: 20) {
  edges { cursor node {
    rank reason overdue
    priority { ruleSet tier score reasons }
    request { id desiredStartDate child { firstName } }
    application { status }
  } }
  pageInfo { hasNextPage endCursor }
} }"""


@pytest_asyncio.fixture
async def new_database(database: str) -> AsyncIterator[str]:
    """The URL of a database that does not exist yet on the test server; dropped at the end."""
    name = backup.database_name(database) + "_restored"
    server = to_asyncpg_dsn(_server_url())

    async def drop() -> None:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    await drop()  # left over by an interrupted run
    yield with_database(_server_url(), name)
    await drop()


async def _demo_in_use(actor: Any, job_pool: Any) -> dict[str, Any]:
    """The demo data, plus what using it leaves behind: an export a parent asked for (a
    queued procrastinate job), access-log rows, a recorded job run and its statistics."""
    await demo.load_demo()
    users = {u.email: u for u in await User.all()}
    asked = await actor(users["an@demo.loket.be"]).gql(REQUEST_EXPORT)
    assert asked["data"]["requestDataExport"]["errors"] == []
    read = await actor(users["loket@demo.loket.be"]).gql(DOSSIERS)
    assert read["data"]["dossiers"]["edges"]
    await run_job("statistics", job_pool)
    return users


async def _contents(url: str) -> dict[str, Any]:
    """Per table: row count and a digest of every row; sequences; schema objects (the
    constraints by name: PostgreSQL may print a restored CHECK's `IN (...)` otherwise)."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        rows = {}
        for table in tables:
            rows[table] = tuple(
                await conn.fetchrow(
                    f"""SELECT count(*),
                               md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))
                        FROM "{table}" t"""
                )
            )
        sequences = {
            r["sequencename"]: r["last_value"]
            for r in await conn.fetch(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            )
        }
        schema = sorted(
            r[0]
            for r in await conn.fetch(
                """SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
                   UNION ALL
                   SELECT conrelid::regclass || ' ' || conname || ' ' || contype::text
                   FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                   UNION ALL
                   SELECT tgrelid::regclass || ' ' || tgname FROM pg_trigger
                   WHERE NOT tgisinternal
                   UNION ALL
                   SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'public'::regnamespace"""
            )
        )
    finally:
        await conn.close()
    return {"rows": rows, "sequences": sequences, "schema": schema}


def _counts(contents: dict[str, Any]) -> dict[str, int]:
    return {table: count for table, (count, _) in contents["rows"].items()}


def _run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - PostgreSQL binaries and our own command line
        list(args), capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


def _loket(*args: str, url: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return _run(sys.executable, "-m", "loket.cli", *args, cwd=ROOT, env=env, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _serve(url: str, log: Path) -> tuple[asyncio.subprocess.Process, str]:
    """`loket serve` on the database at `url` (migrations first, as always), until /readyz
    says ready. GraphiQL off: its assets would come from the npm registry."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOKET_GRAPHIQL": "0"}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loket.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            if process.returncode is not None:
                pytest.fail(f"loket serve exited: {_tail(log)}")
            try:
                if (await probe.get(f"{base}/readyz")).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()
    await process.wait()
    pytest.fail(f"loket serve not ready after 30 s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=15)
    except TimeoutError:
        process.kill()
        await process.wait()


async def test_a_dump_restored_into_a_new_database_serves_the_same_data(
    db: str, database: str, new_database: str, actor: Any, job_pool: Any, tmp_path: Path
) -> None:
    # given: the demo data in use, dumped in custom format with a pg_dump fit for the server
    users = await _demo_in_use(actor, job_pool)
    original = await _contents(database)
    dump_file = tmp_path / "loket.dump"
    major = await backup.server_major(database)
    dsn, env = backup.libpq_target(database)
    pg_dump = backup.find_tool("pg_dump", major)
    dumped = _run(str(pg_dump.path), "--format=custom", f"--file={dump_file}", dsn, env=env)
    assert dumped.returncode == 0, dumped.stderr

    # when: it is restored into a new database on the same server
    admin = await asyncpg.connect(to_asyncpg_dsn(_server_url()))
    try:
        await admin.execute(f'CREATE DATABASE "{backup.database_name(new_database)}"')
    finally:
        await admin.close()
    pg_restore = backup.find_tool("pg_restore", max(major, pg_dump.major))
    restored_dsn, restored_env = backup.libpq_target(new_database)
    restored = _run(
        str(pg_restore.path), "--no-owner", "--single-transaction", f"--dbname={restored_dsn}",
        str(dump_file),
        env=restored_env,
    )  # fmt: skip

    # then: every table, row, sequence, index, constraint, trigger and function came back
    assert restored.returncode == 0, restored.stderr
    assert await _contents(new_database) == original
    counts = _counts(original)
    for table in ("procrastinate_jobs", "access_log", "job_run", "data_export", "child"):
        assert counts[table] > 0, table

    # when: `loket serve` runs on it (its migrations a no-op: their record came along)
    process, base = await _serve(new_database, tmp_path / "serve.log")
    try:
        assert await _contents(new_database) == original
        token = _loket("dev-token", "loket@demo.loket.be", url=new_database)
        assert token.returncode == 0, token.stderr
        headers = {
            "an@demo.loket.be": mint_token(str(users["an@demo.loket.be"].id)),
            "loket@demo.loket.be": token.stdout.strip(),
            "provider.leuven@demo.loket.be": mint_token(
                str(users["provider.leuven@demo.loket.be"].id)
            ),
        }
        speelboom = await ProviderLocation.get(name="Kinderdagverblijf De Speelboom")
        asked = [
            # the parent first: her access log is the same only before others read
            ("an@demo.loket.be", MY_HOUSEHOLD, {}),
            ("loket@demo.loket.be", DOSSIERS, {}),
            ("provider.leuven@demo.loket.be", INBOX, {"loc": str(speelboom.id)}),
        ]
        async with httpx.AsyncClient(base_url=base) as http:
            for email, query, variables in asked:
                expected = await actor(users[email]).gql(query, variables)
                response = await http.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {headers[email]}"},
                )

                # then: the restored service answers exactly as the original one
                assert response.status_code == 200, response.text
                assert response.json() == expected, email
                assert all(expected["data"].values()), (email, expected)
                # (only the counter's work situations are FORBIDDEN, on both)
                codes = {e["extensions"]["code"] for e in expected.get("errors", [])}
                assert codes == ({"FORBIDDEN"} if email.startswith("loket@") else set())

            # and the reads were logged alike on both databases
            assert _counts(await _contents(new_database)) == _counts(await _contents(database))

            # and it writes: another parent's export request, with its access-log row
            # numbered after the restored ones (the sequences came along)
            els = mint_token(str(users["els@demo.loket.be"].id))
            response = await http.post(
                "/graphql",
                json={"query": REQUEST_EXPORT},
                headers={"Authorization": f"Bearer {els}"},
            )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["requestDataExport"] == {
            "export": {"status": "PENDING", "requestedByMe": True},
            "errors": [],
        }
    finally:
        await _stop(process)
    after, untouched = _counts(await _contents(new_database)), _counts(await _contents(database))
    assert after["data_export"] == untouched["data_export"] + 1 == counts["data_export"] + 1
    assert after["access_log"] == untouched["access_log"] + 1
    # (one exports job waits at most: the restored one serves both requests)
    assert after["procrastinate_jobs"] == untouched["procrastinate_jobs"] == 1


async def test_loket_backup_and_restore_round_trip_on_the_command_line(
    db: str, database: str, new_database: str, tmp_path: Path
) -> None:
    # given: the demo data, where Lena's place ended six years ago: Els's dossier is due for
    # anonymisation today, as in a backup taken before the retention job got to it
    await demo.load_demo()
    await fetch(
        """UPDATE enrolment SET start_date = current_date - interval '7 years',
                                end_date = current_date - interval '6 years'
           WHERE child_id = (SELECT id FROM child WHERE first_name = 'Lena')"""
    )
    original = await _contents(database)
    dump_file = tmp_path / "loket.dump"

    # when: `loket backup` writes it to a file
    backed_up = _loket("backup", str(dump_file), url=database)

    # then: a custom-format archive readable by its owner only, named after the database
    assert backed_up.returncode == 0, backed_up.stderr
    assert "store it encrypted" in backed_up.stdout
    assert dump_file.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["loket.dump"]  # no partial file left
    header = backup.read_header(dump_file.read_bytes()[: backup.HEADER_BYTES])
    assert header.database == backup.database_name(database)
    listed = _run(
        str(backup.find_tool("pg_restore", header.dump_major).path), "--list", str(dump_file)
    )
    assert f"Dumped by pg_dump version: {header.dump_version}" in listed.stdout

    # when: `loket restore` reads it from standard input into a database not made yet
    with dump_file.open("rb") as stdin:
        restored = _loket("restore", "-", url=new_database, stdin=stdin)

    # then: the schema and every row came back, and the retention job ran: Els's dossier
    # is anonymised in the restored database, the others are as they were
    assert restored.returncode == 0, restored.stderr
    assert re.search(r"retention done.*\n\s+children\s+1\n\s+households\s+1\n", restored.stdout)
    contents = await _contents(new_database)
    assert contents["schema"] == original["schema"]
    counts, original_counts = _counts(contents), _counts(original)
    assert counts.pop("job_run") == original_counts.pop("job_run") + 1
    # the anonymised dossier lost its links (migration 0014): its residence and the
    # municipality of the location it chose
    links = counts.pop("household_municipality")
    assert links == original_counts.pop("household_municipality") - 2
    assert counts == original_counts
    names = """SELECT p.first_name AS parent, c.first_name AS child, h.anonymised_at IS NOT NULL
               FROM household h JOIN parent p ON p.household_id = h.id
               JOIN child c ON c.household_id = h.id
               WHERE p.first_name IN ('An', 'Els', '') ORDER BY 1, 2"""
    conn = await asyncpg.connect(to_asyncpg_dsn(new_database))
    try:
        run = await conn.fetchrow("SELECT job, trigger, status, dry_run FROM job_run")
        after = [tuple(r) for r in await conn.fetch(names)]
    finally:
        await conn.close()
    assert dict(run) == {
        "job": "retention",
        "trigger": "cli",
        "status": "SUCCEEDED",
        "dry_run": False,
    }
    assert after == [("", "", True), ("An", "Baby", False), ("An", "Noor", False)]
    assert [tuple(r) for r in await fetch(names)] == [
        ("An", "Baby", False),
        ("An", "Noor", False),
        ("Els", "Lena", False),
    ]


def _backup_piped_into_restore(source: str, target: str) -> tuple[int, int, str]:
    """`loket backup - | loket restore --no-retention -`, from database `source` to `target`."""
    cli = (sys.executable, "-m", "loket.cli")
    dumping = subprocess.Popen(  # noqa: S603 - our own command line
        [*cli, "backup", "-"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": source},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    restoring = _run(
        *cli, "restore", "--no-retention", "-",
        cwd=ROOT, env={**os.environ, "DATABASE_URL": target}, stdin=dumping.stdout,
    )  # fmt: skip
    assert dumping.stdout is not None
    dumping.stdout.close()
    return dumping.wait(timeout=60), restoring.returncode, restoring.stderr


async def test_loket_backup_piped_into_restore_then_a_second_restore_is_refused(
    db: str, database: str, new_database: str, tmp_path: Path
) -> None:
    # given: the demo data, piped from `loket backup -` into `loket restore -`
    await demo.load_demo()
    codes = await asyncio.to_thread(_backup_piped_into_restore, database, new_database)
    assert codes[:2] == (0, 0), codes[2]
    before = await _contents(new_database)
    assert before == await _contents(database)
    dump_file = tmp_path / "loket.dump"
    await asyncio.to_thread(backup.dump, database, str(dump_file))

    # when: a backup is restored into that database again
    again = _loket("restore", str(dump_file), url=new_database)

    # then: refused, and nothing changed
    assert again.returncode == 2
    assert "is not empty: restore into a new database" in again.stderr
    assert await _contents(new_database) == before


# pgserver's import falls back to /tmp for its lock when XDG_RUNTIME_DIR is unset, and says so.
@pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR is not set")
async def test_loket_backup_and_restore_with_the_embedded_server(
    db: str, database: str, tmp_path: Path
) -> None:
    """Without DATABASE_URL: the embedded PostgreSQL 16 of LOKET_DATA_DIR, reached on its
    unix socket, restored and dumped with pgserver's own version 16 binaries when the
    machine has older ones only."""
    import pgserver

    # given: a backup of the test database, and no embedded server yet
    await demo.load_demo()
    original = await _contents(database)
    dump_file, again_file = tmp_path / "test.dump", tmp_path / "embedded.dump"
    await asyncio.to_thread(backup.dump, database, str(dump_file))
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LOKET_DATA_DIR"] = str(data_dir)
    cli = (sys.executable, "-m", "loket.cli")

    # when: `loket restore` and `loket backup` run without DATABASE_URL
    restored = _run(*cli, "restore", "--no-retention", str(dump_file), cwd=ROOT, env=env)
    assert restored.returncode == 0, restored.stderr
    server = pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
    try:
        embedded = with_database(server.get_uri(), "loket")
        backed_up = _run(*cli, "backup", str(again_file), cwd=ROOT, env=env)
        assert backed_up.returncode == 0, backed_up.stderr

        # then: the embedded database holds what the test database held, and its backup
        # names it and its server
        assert "?host=" in embedded
        assert await backup.server_major(embedded) == 16
        assert (await _contents(embedded))["rows"] == original["rows"]
    finally:
        server.cleanup()
    header = backup.read_header(again_file.read_bytes()[: backup.HEADER_BYTES])
    assert (header.database, header.server_version.split(".")[0]) == ("loket", "16")
    assert header.dump_major >= 16


def test_loket_backup_refuses_to_overwrite_a_file(database: str, tmp_path: Path) -> None:
    existing = tmp_path / "loket.dump"
    existing.write_bytes(b"an older backup")

    result = _loket("backup", str(existing), url=database)

    assert result.returncode == 2
    assert "exists; choose a new file name" in result.stderr
    assert existing.read_bytes() == b"an older backup"
    assert os.listdir(tmp_path) == ["loket.dump"]


def test_loket_restore_refuses_a_file_that_is_no_custom_format_dump(
    new_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import dataclasses

    from loket import cli
    from loket import db as loket_db

    plain = tmp_path / "loket.sql"
    plain.write_text("-- PostgreSQL database dump\nCREATE TABLE t (id int);\n")
    configured = dataclasses.replace(loket_db.settings, database_url=new_database)
    monkeypatch.setattr(loket_db, "settings", configured)

    code = cli.main(["restore", str(plain)])

    assert code == 2
    assert "not a pg_dump archive in custom format" in capsys.readouterr().err
    assert not asyncio.run(_exists(new_database))


async def _exists(url: str) -> bool:
    conn = await asyncpg.connect(to_asyncpg_dsn(_server_url()))
    try:
        found: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            backup.database_name(url),
        )
        return found
    finally:
        await conn.close()


def _fake_tool(folder: Path, name: str, version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(0o755)


def test_the_oldest_binary_new_enough_for_the_server_is_chosen(tmp_path: Path) -> None:
    dirs = [
        tmp_path / "path",
        tmp_path / "debian-17",
        tmp_path / "debian-15",
        tmp_path / "pgserver",
    ]
    _fake_tool(dirs[0], "pg_dump", "14.11 (Debian 14.11-1)")
    _fake_tool(dirs[1], "pg_dump", "17.2")
    _fake_tool(dirs[2], "pg_dump", "15.20")
    _fake_tool(dirs[3], "pg_dump", "16.2")

    assert backup.find_tool("pg_dump", 15, dirs).path == dirs[2] / "pg_dump"
    assert backup.find_tool("pg_dump", 16, dirs).path == dirs[3] / "pg_dump"
    assert backup.find_tool("pg_dump", 14, dirs).version == "14.11"
    with pytest.raises(backup.BackupError, match=r"no pg_dump of PostgreSQL 18 or newer \(found: "):
        backup.find_tool("pg_dump", 18, dirs)


def test_the_password_goes_to_the_environment_not_the_command_line() -> None:
    dsn, env = backup.libpq_target("asyncpg://loket:s%40cret@db.example:5433/loket?maxsize=20")

    assert dsn == "postgresql://loket@db.example:5433/loket"
    assert env["PGPASSWORD"] == "s@cret"
    socket_dsn, socket_env = backup.libpq_target("postgresql://postgres:@/loket?host=/srv/pg")
    assert socket_dsn == "postgresql://postgres@/loket?host=/srv/pg"
    assert socket_env.get("PGPASSWORD") == os.environ.get("PGPASSWORD")
