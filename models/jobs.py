"""What the jobs of `jobs/` keep: their runs, the notification outbox, trend statistics.

The job queue itself (procrastinate's tables) is created by migration 0008 from the
pinned procrastinate package; these are Loket's own tables beside it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.regions import Municipality


class JobRunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class JobRun(Model):
    """One run of a job: when, which reference date, and how many rows each rule touched.

    A periodic run carries the schedule tick it was deferred for (`scheduled_for`, a unix
    timestamp); a partial unique index keeps one real run per job and tick, whichever
    worker picks it up. Counts only, never personal data.
    """

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=48)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(JobRunStatus, max_length=16, default=JobRunStatus.RUNNING)
    dry_run = fields.BooleanField(default=False)
    reference_date = fields.DateField()
    # "worker" (a periodic or deferred job) or "cli" (`loket jobs run`).
    trigger = fields.CharField(max_length=16)
    scheduled_for = fields.BigIntField(null=True)
    # {"rule": rows, ...}
    counts: Any = fields.JSONField(default=dict)
    batches = fields.IntField(default=0)
    # The exception's class name only: messages may quote data.
    error = fields.CharField(max_length=200, default="")

    class Meta:
        table = "job_run"
        indexes = (("job", "started_at"),)


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    # The recipient has no active account or address any more: nothing to send.
    DROPPED = "DROPPED"


class OutboxMessage(Model):
    """A notification a person must get, written in the same transaction as the change it
    announces; `jobs.notifications` sends it. `dedup_key` makes writing it twice a no-op.

    `params` holds what the template needs and nothing that identifies a child or parent
    (a location's name, a date, a count); the address is looked up when sending, so a
    closed account gets nothing.
    """

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    recipient: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="outbox_messages", null=True, on_delete=fields.SET_NULL
    )
    language = fields.CharField(max_length=8, default="nl")
    params: Any = fields.JSONField(default=dict)
    dedup_key = fields.CharField(max_length=200, unique=True)
    status = fields.CharEnumField(OutboxStatus, max_length=12, default=OutboxStatus.PENDING)
    attempts = fields.SmallIntField(default=0)
    next_attempt_at = fields.DatetimeField(auto_now_add=True)
    # A sender holds a message until then; a crashed sender's claim runs out.
    claimed_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, default="")

    class Meta:
        table = "outbox"
        indexes = (("status", "next_attempt_at"),)


class RequestStatistic(Model):
    """Anonymised trend figures per residence municipality and month of submission,
    recomputed whole by the statistics job. Small counts are suppressed when read."""

    id = fields.BigIntField(primary_key=True)
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="request_statistics", on_delete=fields.CASCADE
    )
    month = fields.DateField()
    requests = fields.IntField()
    fulfilled = fields.IntField()
    withdrawn = fields.IntField()
    emergency = fields.IntField()
    # Days from submission to the start of the enrolment, over fulfilled requests.
    median_wait_days = fields.FloatField(null=True)
    computed_at = fields.DatetimeField()

    class Meta:
        table = "request_statistic"
        unique_together = (("municipality", "month"),)
