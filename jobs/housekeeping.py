"""Housekeeping: delete what has served its purpose (data minimisation).

Rules, for reference date `today`:
- "rate_limit_windows": abuse-limit counters of windows that ended more than a day ago
  (the longest window is an hour).
- "invitations": partner invitations and claim codes used, revoked or expired more than
  30 days ago (only a digest of the code is kept, but the row links a household).
- "apq_documents": documents clients registered through automatic persisted queries
  more than 30 days ago that no integrator manifest uses; a client that sends the hash
  again gets PersistedQueryNotFound and re-registers the text, as the protocol says.
- "outbox_messages": notifications sent, dropped or given up more than 90 days ago.
- "orphaned_queue_jobs": queue jobs left running by a worker that died.

Each rule deletes in batches of `batch_size` rows; a dry run counts.
"""

from __future__ import annotations

from jobs.runner import JobContext, job, rows_affected

RULES: dict[str, tuple[str, str]] = {
    # rule: (table, condition with $1 = the reference date)
    "rate_limit_windows": (
        "rate_limit_window",
        "window_start < $1::date - 1",
    ),
    "invitations": (
        "invitation",
        "LEAST(expires_at, coalesce(used_at, expires_at), coalesce(revoked_at, expires_at))"
        " < $1::date - 30",
    ),
    "apq_documents": (
        "persisted_document",
        """source = 'APQ' AND created_at < $1::date - 30
           AND NOT EXISTS (SELECT 1 FROM manifest_operation mo
                           WHERE mo.document_id = persisted_document.sha256)""",
    ),
    "outbox_messages": (
        "outbox",
        "status IN ('SENT', 'DROPPED', 'FAILED') AND created_at < $1::date - 90",
    ),
    # A queue job left `doing` by a worker that died (procrastinate pruned the worker):
    # nothing will finish it; its tick is marked failed and retried by the runner.
    "orphaned_queue_jobs": (
        "procrastinate_jobs",
        "status = 'doing' AND worker_id IS NULL AND $1::date IS NOT NULL",
    ),
}


@job("housekeeping", "delete expired rate-limit windows, invitations, APQ documents, old mail",
     rules=tuple(RULES))  # fmt: skip
async def housekeeping(ctx: JobContext) -> None:
    for rule, (table, condition) in RULES.items():
        if ctx.dry_run:
            # A dry-run batch rolls back but reports its counts.
            async with ctx.batch() as conn:
                ctx.count(rule, await conn.fetchval(
                    f"SELECT count(*) FROM {table} WHERE {condition}", ctx.today
                ))  # fmt: skip
            continue
        while True:
            async with ctx.batch() as conn:
                status = await conn.execute(
                    f"""DELETE FROM {table} WHERE ctid = ANY(ARRAY(
                            SELECT ctid FROM {table} WHERE {condition}
                            LIMIT $2 FOR UPDATE SKIP LOCKED))""",
                    ctx.today,
                    ctx.batch_size,
                )
                rows = rows_affected(status)
                ctx.count(rule, rows)
            ctx.advance(rows)
            if rows < ctx.batch_size:
                break
