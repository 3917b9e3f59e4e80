"""Anonymised trend statistics and the record of job runs: aggregates only.

`TrendStatistic` is one row of the statistics job's table (`jobs.statistics`) as a
reader may see it: counts below five and whatever would let one be recovered are null
(the rules are in `resolvers.statistics`). `JobRun` is what a job run recorded: when,
which rules, how many rows. Neither holds a dossier id or any personal data; the root
fields `trendStatistics` and `jobRuns` carry the policies.
"""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from models.jobs import JobRunStatus as JobRunStatusModel
from schema.directives import public
from schema.regions import Municipality

_AGGREGATE = "anonymised aggregate, small counts suppressed; trendStatistics itself is guarded"
_RUN = "a job's bookkeeping, counts only; jobRuns itself is guarded"


@strawberry.enum(description="A figure of a trend statistic.")
class TrendFigure(Enum):
    REQUESTS = strawberry.enum_value("REQUESTS", description="The number of care requests.")
    FULFILLED = strawberry.enum_value("FULFILLED", description="The fulfilled requests.")
    WITHDRAWN = strawberry.enum_value("WITHDRAWN", description="The withdrawn requests.")
    EMERGENCY = strawberry.enum_value(
        "EMERGENCY", description="The requests that were on the emergency list."
    )
    FULFILMENT_RATE = strawberry.enum_value(
        "FULFILMENT_RATE", description="The share of fulfilled requests."
    )
    MEDIAN_WAIT_DAYS = strawberry.enum_value(
        "MEDIAN_WAIT_DAYS", description="The median wait for a place."
    )


@strawberry.type(
    description=(
        "Anonymised figures of the care requests submitted in one month by families living in "
        "one municipality, as the statistics job last computed them. A count below 5 is null, "
        "and so is any figure that would let such a count be worked out by subtraction (then "
        "`suppressed` is true and `suppressedFigures` names what was withheld)."
    )
)
class TrendStatistic:
    month: datetime.date = public("The month of submission (its first day).", reason=_AGGREGATE)
    municipality: Municipality = public(
        "The municipality where the families live (residence).", reason=_AGGREGATE
    )
    requests: int | None = public(
        "Care requests submitted in the month, whatever became of them; null below 5.",
        reason=_AGGREGATE,
    )
    fulfilled: int | None = public(
        "Of those, the requests fulfilled (a place accepted); null when suppressed.",
        reason=_AGGREGATE,
    )
    withdrawn: int | None = public(
        "Of those, the requests withdrawn by the family; null when suppressed.",
        reason=_AGGREGATE,
    )
    emergency: int | None = public(
        "Of those, the requests that are or were on the emergency list (still open 60 days "
        "before their desired start); null when suppressed.",
        reason=_AGGREGATE,
    )
    fulfilment_rate: float | None = public(
        "fulfilled / requests (0..1); shown only with at least 5 fulfilled and at least 5 "
        "not fulfilled, and when the fulfilled count itself is shown.",
        reason=_AGGREGATE,
    )
    median_wait_days: float | None = public(
        "Median days from submission to the start of the enrolment, over fulfilled requests; "
        "shown only with at least 5 fulfilled (null also when fewer than 5 have an enrolment).",
        reason=_AGGREGATE,
    )
    suppressed: bool = public(
        "Whether any figure of this row is withheld because of a small count.",
        reason=_AGGREGATE,
    )
    suppressed_figures: list[TrendFigure] = public(
        "The figures withheld (null) because of a small count: directly, or because they "
        "would reveal one by subtraction, or (median) because fewer than 5 waits are known.",
        reason=_AGGREGATE,
    )
    computed_at: datetime.datetime = public(
        "When the statistics job computed these figures.", reason=_AGGREGATE
    )


strawberry.enum(
    JobRunStatusModel,
    name="JobRunStatus",
    description="How a job run went: RUNNING, SUCCEEDED or FAILED.",
)
JobRunStatus = JobRunStatusModel


@strawberry.type(description="How many rows one rule of a job touched in a run.")
class JobRunCount:
    rule: str = public("The rule (e.g. 'rows', 'stamped').", reason=_RUN)
    rows: int = public("The rows it touched (counted, or would touch in a dry run).", reason=_RUN)


@strawberry.type(description="One recorded run of a job: when, with which outcome, how many rows.")
class JobRun:
    job: str = public("The job's name (as `loket jobs run` takes it).", reason=_RUN)
    started_at: datetime.datetime = public("When the run started.", reason=_RUN)
    finished_at: datetime.datetime | None = public(
        "When it finished; null while running (or if it died without a word).", reason=_RUN
    )
    status: JobRunStatus = public("How it went.", reason=_RUN)
    dry_run: bool = public("Whether it only counted.", reason=_RUN)
    reference_date: datetime.date = public(
        "The date the job's rules were evaluated for ('today' of the run).", reason=_RUN
    )
    trigger: str = public(
        "What started it: 'worker' (scheduled or deferred) or 'cli' (`loket jobs run`).",
        reason=_RUN,
    )
    batches: int = public("The transactions it committed.", reason=_RUN)
    counts: list[JobRunCount] = public(
        "Rows per rule, in the job's order of rules (committed batches only).", reason=_RUN
    )
    error: str | None = public(
        "The exception's class name of a failed run (never its message); null otherwise.",
        reason=_RUN,
    )
