"""The `loket` command line: serve, migrate, backup and restore, demo data, tokens, schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from loket.settings import settings


async def _with_orm(url: str, work: Callable[[], Awaitable[Any]]) -> Any:
    from tortoise import Tortoise

    from loket.db import tortoise_config

    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


def cmd_migrate(args: argparse.Namespace) -> int:
    from loket.db import migrate, service_database_url

    asyncio.run(migrate(service_database_url(), target=args.target))
    print("migrations applied" if args.target is None else f"migrated to {args.target}")
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    """Write a new migration for model changes (development only)."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    from loket.db import ensure_database, service_database_url, tortoise_config

    url = service_database_url()

    async def run() -> None:
        from tortoise import Tortoise

        await ensure_database(url)
        config = tortoise_config(url)
        ctx = await Tortoise.init(config=config, init_connections=False)
        assert ctx.apps is not None
        autodetector = MigrationAutodetector(ctx.apps, config["apps"])
        writers = await autodetector.changes()
        if not writers:
            print("No changes detected")
        for writer in writers:
            if args.name:
                number = int(writer.name.split("_", 1)[0])
                writer.name = f"{number:04d}_{args.name}"
            print("Created", writer.write())
        await Tortoise.close_connections()

    asyncio.run(run())
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Dump the service's database (custom format) to a new file, or to standard output."""
    from loket.backup import BackupError, ToolFailed, database_name, dump
    from loket.db import service_database_url

    url = service_database_url()
    try:
        tool, size = dump(url, args.file)
    except BackupError as e:
        print(f"backup failed: {e}", file=sys.stderr)
        return 1 if isinstance(e, ToolFailed) else 2
    # With "-" the dump is standard output: the summary goes to standard error.
    out = sys.stderr if args.file == "-" else sys.stdout
    where = "standard output" if args.file == "-" else f"{args.file} ({size} bytes)"
    print(f"database {database_name(url)} backed up to {where} by pg_dump {tool.version}", file=out)
    print("it holds personal data: store it encrypted, with restricted access", file=out)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Load a backup into the service's database (new and empty), apply the migrations the
    backup lacks, then run the retention job so that nothing anonymised since comes back."""
    from loket.backup import BackupError, ToolFailed, database_name, restore
    from loket.db import migrate, service_database_url

    url = service_database_url()
    try:
        tool, header = restore(url, args.file)
    except BackupError as e:
        print(f"restore failed: {e}", file=sys.stderr)
        return 1 if isinstance(e, ToolFailed) else 2
    print(
        f"restored the backup of database {header.database} taken {header.created:%Y-%m-%d %H:%M}"
        f" (PostgreSQL {header.server_version}) into {database_name(url)}"
        f" by pg_restore {tool.version}"
    )
    asyncio.run(migrate(url))
    print("migrations applied")
    if args.no_retention:
        print(
            "retention job not run: do not serve this database before `loket jobs run retention`",
            file=sys.stderr,
        )
        return 0
    return cmd_jobs_run(
        argparse.Namespace(name="retention", dry_run=False, today=None, batch_size=None, quiet=True)
    )


def cmd_schema(args: argparse.Namespace) -> int:
    from schema.root import printed_sdl

    sys.stdout.write(printed_sdl())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from loket.db import migrate, service_database_url
    from loket.demo import load_demo

    url = service_database_url()
    asyncio.run(migrate(url))
    created = asyncio.run(_with_orm(url, load_demo))
    print("demo data loaded" if created else "demo data already present")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from loket.db import service_database_url
    from loket.demo import list_users

    rows = asyncio.run(_with_orm(service_database_url(), list_users))
    width = max((len(r[0]) for r in rows), default=10)
    for email, roles in rows:
        print(f"{email:<{width}}  {roles}")
    return 0


def cmd_dev_token(args: argparse.Namespace) -> int:
    from loket.auth import mint_token
    from loket.db import service_database_url
    from models.accounts import User

    if not settings.dev_signing:
        print(
            "refusing: dev-token only works while the server uses the development signing key "
            "(LOKET_JWT_SECRET and asymmetric keys unset)",
            file=sys.stderr,
        )
        return 2

    async def lookup() -> Any:
        return await User.get_or_none(email=args.email.lower(), is_active=True)

    user = asyncio.run(_with_orm(service_database_url(), lookup))
    if user is None:
        print(f"no active user with email {args.email}", file=sys.stderr)
        return 1
    print(mint_token(str(user.id), ttl_seconds=args.ttl))
    return 0


def _print_errors(errors: Any) -> int:
    for e in errors:
        where = ".".join(e.field)
        operation = getattr(e, "operation_name", None) or getattr(e, "operation_id", None)
        if operation:
            where += f" [{operation}]"
        path = getattr(e, "path", None)
        if path:
            where += " at " + ".".join(path)
        print(f"{e.code}: {where}: {e.message}", file=sys.stderr)
    return 1


def cmd_integrator_create(args: argparse.Namespace) -> int:
    """Create an integrator client; prints its id and, this once, its secret."""
    from pathlib import Path

    from loket.db import service_database_url
    from resolvers.integrators import create_client

    jwks = Path(args.jwks).read_text() if args.jwks else None
    payload = asyncio.run(
        _with_orm(
            service_database_url(),
            lambda: create_client(
                name=args.name,
                provider_organisation_id=args.organisation,
                counter_id=args.counter,
                with_secret=not args.no_secret,
                jwks=jwks,
            ),
        )
    )
    if payload.errors:
        return _print_errors(payload.errors)
    print(f"client_id:     {payload.client_id}")
    if payload.client_secret is not None:
        print(f"client_secret: {payload.client_secret}")
        print("(the secret is shown only now; store it in the client's configuration)")
    return 0


def cmd_integrator_rotate(args: argparse.Namespace) -> int:
    """Give a client a new secret; prints it once."""
    from loket.db import service_database_url
    from resolvers.integrators import rotate_secret

    payload = asyncio.run(_with_orm(service_database_url(), lambda: rotate_secret(args.client_id)))
    if payload.errors:
        return _print_errors(payload.errors)
    print(f"client_secret: {payload.client_secret}")
    return 0


def cmd_integrator_manifest(args: argparse.Namespace) -> int:
    """Register a manifest file for a client; prints its operations."""
    from pathlib import Path

    from loket.db import service_database_url
    from models.integrators import ManifestFormat
    from resolvers.integrators import register_manifest

    path = Path(args.file)
    payload = asyncio.run(
        _with_orm(
            service_database_url(),
            lambda: register_manifest(
                client_id=args.client_id,
                name=args.name or path.name,
                format=ManifestFormat(args.format.upper()),
                content=path.read_text(encoding="utf-8"),
            ),
        )
    )
    if payload.errors:
        return _print_errors(payload.errors)
    manifest = payload.manifest
    assert manifest is not None
    print(f"manifest {manifest.id}: {len(manifest.operations or [])} operations")
    for op in manifest.operations or []:
        print(f"  {op.type:<8} {op.name}  id={op.external_id}  sha256={op.sha256}")
    return 0


def cmd_integrator_revoke(args: argparse.Namespace) -> int:
    """Revoke a client: its tokens stop working at once."""
    from loket.db import service_database_url
    from resolvers.integrators import revoke_client

    payload = asyncio.run(_with_orm(service_database_url(), lambda: revoke_client(args.client_id)))
    if payload.errors:
        return _print_errors(payload.errors)
    print(f"client {args.client_id} revoked")
    return 0


def cmd_integrator_list(args: argparse.Namespace) -> int:
    from loket.db import service_database_url
    from resolvers.integrators import load_clients

    clients = asyncio.run(_with_orm(service_database_url(), load_clients))
    for c in clients:
        state = "revoked" if c.revoked_at else "active"
        role = c.acting_as.value if c.acting_as else "?"
        manifests = sum(1 for m in c.manifests or [] if m.revoked_at is None)
        print(f"{c.id}  {state:<7}  {role:<8} {c.acting_for}  {c.name}  manifests={manifests}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from loket.db import migrate, service_database_url
    from loket.logs import configure as configure_json_logs

    configure_json_logs()
    if settings.dev_signing:
        logging.getLogger("loket").warning(
            "tokens are signed with the public development key: set LOKET_JWT_SECRET or "
            "LOKET_JWT_PUBLIC_KEY_FILE / LOKET_JWT_JWKS_FILE outside development"
        )
    if settings.graphiql:
        from loket.graphiql import ensure_assets

        ensure_assets(settings.data_dir / "graphiql")
    url = service_database_url()
    asyncio.run(migrate(url))
    if args.demo:
        from loket.demo import load_demo

        asyncio.run(_with_orm(url, load_demo))
    from loket.app import create_app
    from loket.db import use_server_pool

    if args.worker:
        _start_worker_beside(url)
    use_server_pool()
    app = create_app(database_url=url)
    _tune_gc()
    # uvicorn re-raises SIGTERM after its graceful shutdown; with Python's default
    # handler the process would die without running atexit, leaving the embedded
    # PostgreSQL running. Exit normally instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # loop and http stay "auto": uvloop and httptools (pinned dependencies) when they
    # are installed, asyncio and h11 where they are not (e.g. Windows has no uvloop).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        log_config=None,  # uvicorn's records go to the JSON handler too
        access_log=False,
    )
    return 0


# Container objects allocated (net) between two young-generation collections; Python's
# default is 700. With it, benchmarks/persisted.py's inbox request set off about four
# young collections, a third of a middle one, and every fifty requests a full one through
# the ~130,000 objects of modules, schema and field policy (0, 0, 0 with this and freeze).
GC_YOUNG_THRESHOLD = 50_000


def _tune_gc() -> None:
    """Once the app is built (modules, schema, field policy): move every object alive now
    to the collector's permanent generation, which it never scans again, and collect the
    young generation less often. On benchmarks/persisted.py this took about a fifth off
    the server's CPU time per request. The serving process only: the worker beside it is
    a process of its own."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a job worker: periodic jobs on their schedules, deferred jobs as they come."""
    from jobs.app import run_worker
    from loket.db import service_database_url
    from loket.logs import configure as configure_json_logs

    configure_json_logs()
    asyncio.run(run_worker(service_database_url(), concurrency=args.concurrency))
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    """Run one job now, with a progress bar and a summary."""
    import datetime as dt

    from tqdm import tqdm

    from jobs.runner import load_jobs, open_pool, run_job
    from loket.db import service_database_url

    jobs = load_jobs()
    if args.name not in jobs:
        print(f"no job {args.name!r}; jobs: {', '.join(sorted(jobs))}", file=sys.stderr)
        return 2
    try:
        today = dt.date.fromisoformat(args.today) if args.today else None
    except ValueError:
        print("--today takes a date YYYY-MM-DD", file=sys.stderr)
        return 2
    if today is not None and not args.dry_run:
        # A later reference date would anonymise or stamp dossiers before their time, an
        # earlier one remind families of deadlines long gone: real runs use today.
        print("--today only with --dry-run: a real run uses today's date", file=sys.stderr)
        return 2
    bar = tqdm(unit="rows", desc=args.name, disable=args.quiet, file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        if total is not None:
            bar.total = total
            bar.refresh()
        if done:
            bar.update(done)

    async def run() -> Any:
        pool = await open_pool(service_database_url())
        try:
            return await run_job(
                args.name,
                pool,
                today=today,
                dry_run=args.dry_run,
                trigger="cli",
                batch_size=args.batch_size,
                progress=progress,
            )
        finally:
            await pool.close()

    try:
        result = asyncio.run(run())
    finally:
        bar.close()
    if result.skipped:
        print(f"{args.name}: not run ({result.skipped})")
        return 1
    mode = "dry run: would touch" if result.dry_run else "done:"
    print(
        f"{args.name} {mode} (reference date {result.reference_date}, "
        f"{result.batches} batch(es), {result.seconds:.1f} s)"
    )
    rules = list(jobs[args.name].rules) + sorted(set(result.counts) - set(jobs[args.name].rules))
    for rule in rules:
        print(f"  {rule:<32} {result.counts.get(rule, 0):>10}")
    if result.run_id is not None:
        print(f"recorded as job run {result.run_id}")
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    """The jobs, their schedules and their last runs."""
    from jobs.runner import load_jobs
    from loket.db import fetch, service_database_url

    jobs = load_jobs()

    async def last_runs() -> Any:
        return await fetch(
            """SELECT DISTINCT ON (job) job, started_at, status, counts FROM job_run
               ORDER BY job, started_at DESC"""
        )

    async def workers() -> Any:
        return (await fetch("SELECT count(*) AS n FROM procrastinate_workers"))[0]["n"]

    url = service_database_url()
    rows = {r["job"]: r for r in asyncio.run(_with_orm(url, last_runs))}
    print(f"workers alive: {asyncio.run(_with_orm(url, workers))}")
    for name, spec in sorted(jobs.items()):
        cron = settings.job_schedules.get(name, "off")
        print(f"{name:<20} {cron:<14} {spec.description}")
        last = rows.get(name)
        if last is not None:
            print(f"{'':<20} last run {last['started_at']:%Y-%m-%d %H:%M} {last['status']}")
    return 0


def cmd_agreement_record(args: argparse.Namespace) -> int:
    """Record an agreement, e.g. the first admin's confidentiality agreement."""
    from loket.db import service_database_url
    from resolvers.agreements import record_command

    return int(asyncio.run(_with_orm(service_database_url(), lambda: record_command(args))))


def cmd_agreement_list(args: argparse.Namespace) -> int:
    from loket.db import service_database_url
    from resolvers.agreements import list_command

    return int(asyncio.run(_with_orm(service_database_url(), lambda: list_command(args))))


def cmd_privacy_report(args: argparse.Namespace) -> int:
    """Print (or write to docs/) the processing register generated from the policy."""
    from loket.privacy_report import cmd_privacy_report as run

    return run(args)


def _start_worker_beside(url: str) -> None:
    """`loket worker` as a child process of the service, stopped when the service stops."""
    import atexit
    import os
    import subprocess

    worker = subprocess.Popen(
        [sys.executable, "-m", "loket.cli", "worker"], env={**os.environ, "DATABASE_URL": url}
    )

    def stop() -> None:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()

    atexit.register(stop)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loket", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations and serve /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo data set first")
    serve.add_argument(
        "--worker", action="store_true", help="also run a job worker (loket worker) beside it"
    )
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply the committed migrations (or go to one)")
    mig.add_argument(
        "--target", default=None, help="e.g. models.0004_parent_journey: up or down to it"
    )
    mig.set_defaults(func=cmd_migrate)
    mk = sub.add_parser("makemigrations", help="write a migration for model changes")
    mk.add_argument("--name", default=None)
    mk.set_defaults(func=cmd_makemigrations)
    backup = sub.add_parser("backup", help="dump the database (pg_dump, custom format)")
    backup.add_argument("file", help="a new file (created readable by you only); - for stdout")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser(
        "restore", help="load a backup into a new, empty database; migrate; run retention"
    )
    restore.add_argument(
        "file", help="a file written by `loket backup` or pg_dump -Fc; - for stdin"
    )
    restore.add_argument(
        "--no-retention",
        action="store_true",
        help="skip the retention job (only for a copy that will never be served)",
    )
    restore.set_defaults(func=cmd_restore)
    sub.add_parser("schema", help="print the GraphQL SDL").set_defaults(func=cmd_schema)
    sub.add_parser("demo", help="load the demo data set (idempotent)").set_defaults(func=cmd_demo)
    sub.add_parser("users", help="list users with their roles").set_defaults(func=cmd_users)
    tok = sub.add_parser("dev-token", help="mint a development JWT for an existing user")
    tok.add_argument("email")
    tok.add_argument("--ttl", type=int, default=settings.jwt_ttl_seconds)
    tok.set_defaults(func=cmd_dev_token)

    integrator = sub.add_parser("integrator", help="manage integrator clients and manifests")
    isub = integrator.add_subparsers(dest="integrator_command", required=True)
    create = isub.add_parser("create", help="create a client; prints its id and secret once")
    create.add_argument("name")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--organisation", help="provider organisation id (acts as PROVIDER)")
    scope.add_argument("--counter", help="counter id (acts as LOKET)")
    create.add_argument("--jwks", help="file with public keys (JWKS) for signed assertions")
    create.add_argument(
        "--no-secret", action="store_true", help="no secret: signed assertions only (--jwks)"
    )
    create.set_defaults(func=cmd_integrator_create)
    manifest = isub.add_parser("manifest", help="register a manifest of operations")
    manifest.add_argument("client_id")
    manifest.add_argument("file")
    manifest.add_argument("--format", required=True, choices=["apollo", "relay", "graphql"])
    manifest.add_argument("--name", default=None, help="manifest name (default: file name)")
    manifest.set_defaults(func=cmd_integrator_manifest)
    revoke = isub.add_parser("revoke", help="revoke a client (its tokens stop working)")
    revoke.add_argument("client_id")
    revoke.set_defaults(func=cmd_integrator_revoke)
    rotate = isub.add_parser("rotate", help="give a client a new secret (printed once)")
    rotate.add_argument("client_id")
    rotate.set_defaults(func=cmd_integrator_rotate)
    isub.add_parser("list", help="list clients").set_defaults(func=cmd_integrator_list)

    worker = sub.add_parser("worker", help="run a job worker (periodic and deferred jobs)")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.set_defaults(func=cmd_worker)
    jobs = sub.add_parser("jobs", help="run or list jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    run = jsub.add_parser("run", help="run one job now (progress bar and summary)")
    run.add_argument("name")
    run.add_argument(
        "--dry-run", action="store_true", help="count what each rule would touch; change nothing"
    )
    run.add_argument(
        "--today", help="with --dry-run: reference date YYYY-MM-DD (default: the database's today)"
    )
    run.add_argument("--batch-size", type=int, default=None)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_jobs_run)
    jsub.add_parser("list", help="jobs, schedules, last runs").set_defaults(func=cmd_jobs_list)

    agreement = sub.add_parser("agreement", help="processing and confidentiality agreements")
    asub = agreement.add_subparsers(dest="agreement_command", required=True)
    record = asub.add_parser("record", help="record a signed agreement (e.g. the first admin's)")
    record.add_argument("kind", choices=["processing", "confidentiality"])
    party = record.add_mutually_exclusive_group(required=True)
    party.add_argument("--user", help="email or id of the person (CONFIDENTIALITY)")
    party.add_argument("--provider-organisation", help="provider organisation id")
    party.add_argument("--referral-organisation", help="referral organisation id")
    party.add_argument("--sick-child-service", help="sick-child service id")
    party.add_argument("--counter", help="counter id")
    record.add_argument("--version", required=True, help="version of the agreement's text")
    record.add_argument("--signed-on", help="YYYY-MM-DD: first day in force (default: today)")
    record.add_argument("--ends-on", help="YYYY-MM-DD: last day in force (default: open-ended)")
    record.set_defaults(func=cmd_agreement_record)
    alist = asub.add_parser("list", help="agreements, soonest-ending first, and who lacks one")
    alist.add_argument("--expiring-within", type=int, metavar="DAYS")
    alist.set_defaults(func=cmd_agreement_list)

    report = sub.add_parser(
        "privacy-report", help="print the processing register (who sees which data, how long)"
    )
    report.add_argument("--format", choices=["markdown", "json"], default="markdown")
    report.add_argument(
        "--write", action="store_true", help="write docs/privacy-register.md and .json instead"
    )
    report.set_defaults(func=cmd_privacy_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
