"""Anonymised trend statistics: the statistics job's exact figures, idempotency and dry
run; suppression of small counts (primary, secondary, rates); who may read them and
which municipalities; the record of job runs; a constant number of statements."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest

from jobs.runner import run_job
from models.accounts import Role
from models.households import Parent
from models.jobs import JobRun, RequestStatistic
from models.requests import CareRequest
from resolvers.statistics import suppress
from tests import factories as f

UTC = datetime.UTC
D = datetime.date
# The job's reference date: the emergency list of open requests is decided for this day.
TODAY = D(2026, 6, 15)

TRENDS = """query($m: [String!], $from: Date, $to: Date) {
    trendStatistics(municipalities: $m, fromMonth: $from, toMonth: $to) {
        month municipality { nisCode name } requests fulfilled withdrawn emergency
        fulfilmentRate medianWaitDays suppressed suppressedFigures computedAt } }"""
WINDOW = {"from": "2026-01-01", "to": "2026-02-28"}
JOB_RUNS = """query($job: String, $first: Int!) { jobRuns(job: $job, first: $first) {
    job startedAt finishedAt status dryRun referenceDate trigger batches
    counts { rule rows } error } }"""


def at(day: D, hour: int = 12, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass
class Places:
    """Leuven and Herent form the counter's region; Brussel lies outside it."""

    leuven: Any
    herent: Any
    brussel: Any
    location: Any
    counter: Any
    loket: Any


async def places() -> Places:
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    brussel = await f.municipality("21004", "Brussel")
    counter = await f.counter("Loket Leuven", leuven, herent)
    return Places(
        leuven,
        herent,
        brussel,
        await f.location(leuven, "Kinderdagverblijf Leuven"),
        counter,
        await f.user(Role.LOKET, counter=counter),
    )


async def request(
    p: Places,
    residence: Any,
    submitted: datetime.datetime,
    *,
    start: D,
    status: str = "OPEN",
    closed: D | None = None,
    enrolled: D | None = None,
    emergency_since: D | None = None,
) -> CareRequest:
    """A request of a new family living in `residence`, submitted at `submitted`, with
    desired start `start`; closed (fulfilled or withdrawn) on `closed`, with an enrolment
    starting on `enrolled`."""
    h, _ = await f.household(residence)
    c = await f.child(h, born=D(2025, 10, 1))
    r = await f.care_request(c, p.location, start=start, status=status)
    await CareRequest.filter(id=r.id).update(
        submitted_at=submitted,
        closed_at=at(closed) if closed is not None else None,
        emergency_since=emergency_since,
    )
    if enrolled is not None:
        await f.enrolment(c, p.location, start=enrolled, request=r)
    return r


async def data_set(p: Places) -> None:
    """Figures (by hand) per municipality and month of submission:

    Leuven, January: 9 requests, 3 fulfilled, 2 withdrawn, 5 on the emergency list,
    no median (3 waits). Leuven, February: 1 open. Herent, February: 7 fulfilled, 4 on
    the list, median of the waits 10, 20, 30, 40, 100, 200 = 35. Brussel, January: 1 open.
    """
    jan, feb = D(2026, 1, 10), D(2026, 2, 2)
    # Leuven, January. Fulfilled, closed before the desired start came within 60 days:
    # waits 234 days, not on the list.
    await request(
        p, p.leuven, at(jan), start=D(2026, 9, 1), status="FULFILLED",
        closed=D(2026, 3, 1), enrolled=D(2026, 9, 1),
    )  # fmt: skip
    # Fulfilled 15 days after the desired start came within 60 days (31 January): on the
    # list; wait 71 days.
    await request(
        p, p.leuven, at(D(2026, 1, 20)), start=D(2026, 4, 1), status="FULFILLED",
        closed=D(2026, 2, 15), enrolled=D(2026, 4, 1),
    )  # fmt: skip
    # Submitted 55 days before the desired start (on the list from the start); wait 55.
    await request(
        p, p.leuven, at(D(2026, 1, 5)), start=D(2026, 3, 1), status="FULFILLED",
        closed=D(2026, 1, 6), enrolled=D(2026, 3, 1),
    )  # fmt: skip
    # Withdrawn the day before the desired start came within 60 days (2 June): not on it.
    await request(
        p, p.leuven, at(jan), start=D(2026, 8, 1), status="WITHDRAWN", closed=D(2026, 6, 1)
    )
    # Withdrawn on that day: on the list.
    await request(
        p, p.leuven, at(jan), start=D(2026, 8, 1), status="WITHDRAWN", closed=D(2026, 6, 2)
    )
    # Open, desired start exactly 60 days after the reference date: on the list (not
    # stamped yet); one day later: not.
    await request(p, p.leuven, at(jan), start=D(2026, 8, 14))
    await request(p, p.leuven, at(jan), start=D(2026, 8, 15))
    # Open, stamped by the emergency-list job: on the list.
    await request(p, p.leuven, at(jan), start=D(2026, 12, 1), emergency_since=D(2026, 5, 1))
    # Open, of an anonymised family (no parent left): still counted.
    anonymised = await request(p, p.leuven, at(jan), start=D(2027, 1, 1))
    await Parent.filter(household_id=anonymised.household_id).delete()  # type: ignore[attr-defined]
    # 23:30 UTC on 31 January is February in Belgium.
    await request(p, p.leuven, at(D(2026, 1, 31), 23, 30), start=D(2027, 1, 1))

    # Herent, February: seven fulfilled. Closed the next day; waits of 10 to 40 days are
    # within 60 days of the desired start (on the list), 100 and 200 are not; the last has
    # no enrolment (no wait known) and a distant start.
    for wait in (10, 20, 30, 40, 100, 200):
        start = feb + datetime.timedelta(days=wait)
        await request(
            p, p.herent, at(feb), start=start, status="FULFILLED",
            closed=feb + datetime.timedelta(days=1), enrolled=start,
        )  # fmt: skip
    await request(
        p, p.herent, at(feb), start=D(2026, 12, 1), status="FULFILLED", closed=D(2026, 2, 3)
    )

    # Brussel, January: one open request.
    await request(p, p.brussel, at(jan), start=D(2027, 1, 1))


EXPECTED = [
    ("21004", D(2026, 1, 1), 1, 0, 0, 0, None),
    ("24038", D(2026, 2, 1), 7, 7, 0, 4, 35.0),
    ("24062", D(2026, 1, 1), 9, 3, 2, 5, None),
    ("24062", D(2026, 2, 1), 1, 0, 0, 0, None),
]


async def table() -> list[tuple[Any, ...]]:
    rows = await RequestStatistic.all().order_by("municipality_id", "month").values_list(
        "municipality_id", "month", "requests", "fulfilled", "withdrawn", "emergency",
        "median_wait_days",
    )  # fmt: skip
    return [tuple(r) for r in rows]


# The job


async def test_statistics_job_computes_exact_figures(db: str, job_pool: Any) -> None:
    # given
    p = await places()
    await data_set(p)

    # when
    result = await run_job("statistics", job_pool, today=TODAY)

    # then
    assert result.counts == {"rows": 4}
    assert await table() == EXPECTED
    stamps = await RequestStatistic.all().values_list("computed_at", flat=True)
    assert len(set(stamps)) == 1


async def test_statistics_job_run_twice_gives_the_same_table(db: str, job_pool: Any) -> None:
    p = await places()
    await data_set(p)
    await run_job("statistics", job_pool, today=TODAY)

    again = await run_job("statistics", job_pool, today=TODAY)

    assert again.counts == {"rows": 4}
    assert await table() == EXPECTED


async def test_statistics_job_recomputes_the_table_whole(db: str, job_pool: Any) -> None:
    # given: a computed table, then Brussel's only request is gone
    p = await places()
    await data_set(p)
    await run_job("statistics", job_pool, today=TODAY)
    gone = await CareRequest.filter(household__municipality_id="21004").values_list("id", flat=True)
    await CareRequest.filter(id__in=gone).delete()

    # when
    result = await run_job("statistics", job_pool, today=TODAY)

    # then: no row is left over from the last run
    assert result.counts == {"rows": 3}
    assert await table() == EXPECTED[1:]


async def test_statistics_job_dry_run_counts_and_writes_nothing(db: str, job_pool: Any) -> None:
    # given: the table of an earlier run, and new data since
    p = await places()
    await request(p, p.brussel, at(D(2025, 12, 1)), start=D(2027, 1, 1))
    await run_job("statistics", job_pool, today=TODAY)
    before = await table()
    await data_set(p)

    # when
    result = await run_job("statistics", job_pool, today=TODAY, dry_run=True)

    # then: the rows it would write are counted; the table and the run record are unchanged
    assert (result.dry_run, result.run_id, result.counts) == (True, None, {"rows": 5})
    assert await table() == before == [("21004", D(2025, 12, 1), 1, 0, 0, 0, None)]
    assert await JobRun.all().count() == 1


async def test_statistics_job_on_no_requests_writes_no_rows(db: str, job_pool: Any) -> None:
    result = await run_job("statistics", job_pool, today=TODAY)

    assert result.counts == {}
    assert await table() == []
    run = await JobRun.get(job="statistics")
    assert (run.status, run.counts) == ("SUCCEEDED", {})


# Suppression


def shown(requests: int, fulfilled: int, withdrawn: int, emergency: int, median: float | None):
    s = suppress(requests, fulfilled, withdrawn, emergency, median)
    figures = (s.requests, s.fulfilled, s.withdrawn, s.emergency, s.fulfilment_rate)
    return (*figures, s.median_wait_days, sorted(h.value for h in s.hidden))


def test_suppress_a_count_of_4_is_null_and_5_is_shown() -> None:
    # 20 requests: 5 fulfilled, 4 withdrawn, 11 open; 10 on the emergency list
    assert shown(20, 5, 4, 10, 12.5) == (20, 5, None, 10, 0.25, 12.5, ["WITHDRAWN"])


def test_suppress_fewer_than_5_requests_hides_everything() -> None:
    assert shown(4, 4, 0, 4, None) == (
        None, None, None, None, None, None,
        ["EMERGENCY", "FULFILLED", "FULFILMENT_RATE", "MEDIAN_WAIT_DAYS", "REQUESTS",
         "WITHDRAWN"],
    )  # fmt: skip


def test_suppress_a_small_open_remainder_hides_withdrawn_too() -> None:
    # 20 = 10 fulfilled + 8 withdrawn + 2 open: showing both would give away the 2
    assert shown(20, 10, 8, 10, 30.0) == (20, 10, None, 10, 0.5, 30.0, ["WITHDRAWN"])


def test_suppress_a_closed_month_hides_withdrawn_as_open_is_zero() -> None:
    # 40 = 30 fulfilled + 10 withdrawn + 0 open
    assert shown(40, 30, 10, 10, 20.0) == (40, 30, None, 10, 0.75, 20.0, ["WITHDRAWN"])


def test_suppress_a_small_complement_of_fulfilled_hides_fulfilled_and_the_rate() -> None:
    # 12 = 9 fulfilled + 3 withdrawn + 0 open: fulfilled would give away the 3 not fulfilled
    assert shown(12, 9, 3, 5, 40.0) == (
        12, None, None, 5, None, 40.0, ["FULFILLED", "FULFILMENT_RATE", "WITHDRAWN"],
    )  # fmt: skip


def test_suppress_a_small_fulfilled_count_hides_the_rate_and_the_median() -> None:
    # 30 = 4 fulfilled + 20 withdrawn + 6 open: withdrawn stays, fulfilled + open = 10
    assert shown(30, 4, 20, 10, None) == (
        30, None, 20, 10, None, None, ["FULFILLED", "FULFILMENT_RATE", "MEDIAN_WAIT_DAYS"],
    )  # fmt: skip


def test_suppress_an_emergency_count_with_a_small_complement() -> None:
    # 20 requests, 16 on the list: the 4 not on it would follow
    assert shown(20, 10, 5, 16, 30.0)[3] is None
    assert shown(20, 10, 5, 15, 30.0)[3] == 15


def test_suppress_the_median_needs_5_fulfilled() -> None:
    assert shown(20, 5, 10, 10, 7.0)[5] == 7.0
    assert shown(20, 4, 10, 10, 7.0)[5] is None


def test_suppress_never_lets_a_small_count_be_worked_out() -> None:
    """Every split of up to 18 requests: a count below 5 (open and not-on-the-list
    included) is never shown, and never follows from what is shown: another split with
    the same output gives it another value."""
    outputs: dict[tuple[Any, ...], list[tuple[int, ...]]] = defaultdict(list)
    cases = []
    for requests in range(1, 19):
        for fulfilled in range(requests + 1):
            for withdrawn in range(requests - fulfilled + 1):
                for emergency in range(requests + 1):
                    s = suppress(requests, fulfilled, withdrawn, emergency, None)
                    output = (s.requests, s.fulfilled, s.withdrawn, s.emergency, s.fulfilment_rate)
                    for value in (s.requests, s.fulfilled, s.withdrawn, s.emergency):
                        assert value is None or value >= 5
                    counts = (
                        requests, fulfilled, withdrawn, requests - fulfilled - withdrawn,
                        emergency, requests - emergency,
                    )  # fmt: skip
                    outputs[output].append(counts)
                    cases.append((output, counts))
    for output, counts in cases:
        for i, value in enumerate(counts):
            if value < 5:
                assert len({other[i] for other in outputs[output]}) > 1, (output, counts, i)


# Who may read them, and which municipalities


async def computed(p: Places, job_pool: Any) -> None:
    await data_set(p)
    await run_job("statistics", job_pool, today=TODAY)


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in result, result
    data: list[dict[str, Any]] = result["data"]["trendStatistics"]
    return data


async def test_trend_statistics_as_admin_cover_every_municipality(
    actor: Any, job_pool: Any
) -> None:
    # given
    p = await places()
    await computed(p, job_pool)
    admin = await f.user(Role.ADMIN)

    # when
    result = await actor(admin).gql(TRENDS, WINDOW)

    # then: by month, then municipality name
    data = rows(result)
    assert [(r["month"], r["municipality"]["name"]) for r in data] == [
        ("2026-01-01", "Brussel"),
        ("2026-01-01", "Leuven"),
        ("2026-02-01", "Herent"),
        ("2026-02-01", "Leuven"),
    ]
    brussel, leuven_jan, herent, leuven_feb = data
    computed_at = brussel.pop("computedAt")
    assert datetime.datetime.fromisoformat(computed_at) <= datetime.datetime.now(UTC)
    assert brussel == {
        "month": "2026-01-01",
        "municipality": {"nisCode": "21004", "name": "Brussel"},
        "requests": None,
        "fulfilled": None,
        "withdrawn": None,
        "emergency": None,
        "fulfilmentRate": None,
        "medianWaitDays": None,
        "suppressed": True,
        "suppressedFigures": [
            "REQUESTS", "FULFILLED", "WITHDRAWN", "EMERGENCY", "FULFILMENT_RATE",
            "MEDIAN_WAIT_DAYS",
        ],
    }  # fmt: skip
    # 9 = 3 fulfilled + 2 withdrawn + 4 open; 5 on the list, 4 not
    assert {k: leuven_jan[k] for k in ("requests", "fulfilled", "withdrawn", "emergency")} == {
        "requests": 9,
        "fulfilled": None,
        "withdrawn": None,
        "emergency": None,
    }
    # 7 fulfilled of 7: the 0 not fulfilled would follow from the count and the rate
    assert {k: herent[k] for k in herent if k not in ("month", "municipality", "computedAt")} == {
        "requests": 7,
        "fulfilled": None,
        "withdrawn": None,
        "emergency": None,
        "fulfilmentRate": None,
        "medianWaitDays": 35.0,
        "suppressed": True,
        "suppressedFigures": ["FULFILLED", "WITHDRAWN", "EMERGENCY", "FULFILMENT_RATE"],
    }
    assert leuven_feb["requests"] is None


async def test_trend_statistics_as_admin_shows_what_is_large_enough(actor: Any) -> None:
    # given: a row of the table as the job would have written it
    p = await places()
    await RequestStatistic.create(
        municipality=p.leuven, month=D(2025, 3, 1), requests=20, fulfilled=5, withdrawn=4,
        emergency=10, median_wait_days=12.5, computed_at=at(D(2026, 6, 15), 4),
    )  # fmt: skip
    admin = await f.user(Role.ADMIN)

    # when
    result = await actor(admin).gql(TRENDS, {"from": "2025-03-01", "to": "2025-03-01"})

    # then
    assert rows(result) == [
        {
            "month": "2025-03-01",
            "municipality": {"nisCode": "24062", "name": "Leuven"},
            "requests": 20,
            "fulfilled": 5,
            "withdrawn": None,
            "emergency": 10,
            "fulfilmentRate": 0.25,
            "medianWaitDays": 12.5,
            "suppressed": True,
            "suppressedFigures": ["WITHDRAWN"],
            "computedAt": "2026-06-15T04:00:00+00:00",
        }
    ]


async def test_trend_statistics_as_loket_only_their_region(actor: Any, job_pool: Any) -> None:
    p = await places()
    await computed(p, job_pool)

    result = await actor(p.loket).gql(TRENDS, WINDOW)

    assert [(r["month"], r["municipality"]["nisCode"]) for r in rows(result)] == [
        ("2026-01-01", "24062"),
        ("2026-02-01", "24038"),
        ("2026-02-01", "24062"),
    ]


async def test_trend_statistics_as_loket_asking_outside_their_region_get_no_rows(
    actor: Any, job_pool: Any
) -> None:
    p = await places()
    await computed(p, job_pool)
    client = actor(p.loket)

    outside = await client.gql(TRENDS, {**WINDOW, "m": ["21004"]})
    mixed = await client.gql(TRENDS, {**WINDOW, "m": ["21004", "24038"]})

    assert rows(outside) == []
    assert [r["municipality"]["nisCode"] for r in rows(mixed)] == ["24038"]


async def test_trend_statistics_as_loket_of_another_region_see_none(
    actor: Any, job_pool: Any
) -> None:
    p = await places()
    await computed(p, job_pool)
    elsewhere = await f.counter("Loket Antwerpen", await f.municipality("11002", "Antwerpen"))

    result = await actor(await f.user(Role.LOKET, counter=elsewhere)).gql(TRENDS, WINDOW)

    assert rows(result) == []


async def test_trend_statistics_as_integrator_acting_as_counter(actor: Any, job_pool: Any) -> None:
    p = await places()
    await computed(p, job_pool)
    integrator = await f.user(Role.INTEGRATOR, counter=p.counter)

    result = await actor(integrator).gql(TRENDS, WINDOW)

    assert [r["municipality"]["nisCode"] for r in rows(result)] == ["24062", "24038", "24062"]


async def test_trend_statistics_as_admin_for_some_municipalities_and_months(
    actor: Any, job_pool: Any
) -> None:
    p = await places()
    await computed(p, job_pool)
    client = actor(await f.user(Role.ADMIN))

    result = await client.gql(TRENDS, {"m": ["24062", "21004"], "from": "2026-02-14"})

    assert [(r["month"], r["municipality"]["nisCode"]) for r in rows(result)] == [
        ("2026-02-01", "24062")
    ]


async def test_trend_statistics_default_window_is_the_last_twelve_months(actor: Any) -> None:
    p = await places()
    this_month = datetime.date.today().replace(day=1)
    index = this_month.year * 12 + this_month.month - 1
    for months_back in (0, 11, 12):
        i = index - months_back
        await RequestStatistic.create(
            municipality=p.leuven, month=D(i // 12, i % 12 + 1, 1), requests=5, fulfilled=0,
            withdrawn=0, emergency=0, median_wait_days=None, computed_at=at(TODAY),
        )  # fmt: skip

    result = await actor(p.loket).gql(TRENDS)

    i = index - 11
    assert [r["month"] for r in rows(result)] == [
        str(D(i // 12, i % 12 + 1, 1)),
        str(this_month),
    ]


@pytest.mark.parametrize(
    ("window", "code"),
    [
        ({"from": "2024-01-01", "to": "2027-01-01"}, "OUT_OF_RANGE"),
        ({"from": "2026-05-01", "to": "2026-04-30"}, "PERIOD_ORDER"),
    ],
    ids=["37-months", "reversed"],
)
async def test_trend_statistics_with_invalid_window_is_refused(
    actor: Any, window: dict[str, str], code: str
) -> None:
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(TRENDS, window)

    assert result["data"] == {"trendStatistics": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["trendStatistics"], code)
    ]


@pytest.mark.parametrize(
    "who", ["anonymous", "parent", "provider", "toeleider", "sick_child", "integrator_provider"]
)
async def test_trend_statistics_as_other_roles_is_forbidden(
    actor: Any, job_pool: Any, who: str
) -> None:
    # given
    p = await places()
    await computed(p, job_pool)
    parent = await f.user(Role.PARENT)
    await f.household(p.leuven, parent)
    users: dict[str, Any] = {
        "anonymous": None,
        "parent": parent,
        "provider": await f.user(Role.PROVIDER, provider_location=p.location),
        "toeleider": await f.user(
            Role.TOELEIDER, referral_organisation=await f.referral_organisation()
        ),
        "sick_child": await f.user(
            Role.SICK_CHILD_SERVICE, sick_child_service=await f.sick_child_service()
        ),
        "integrator_provider": await f.user(
            Role.INTEGRATOR, provider_organisation=await p.location.organisation
        ),
    }

    # when
    result = await actor(users[who]).gql(TRENDS, WINDOW)

    # then: nothing but the denial
    assert result["data"] in (None, {"trendStatistics": None}), result
    assert set(result) == {"data", "errors"}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["trendStatistics"], "FORBIDDEN")
    ]


# Job runs


async def test_job_runs_as_admin_show_a_run_made_by_run_job(actor: Any, job_pool: Any) -> None:
    # given: a real run and a dry run (not recorded)
    p = await places()
    await data_set(p)
    await run_job("statistics", job_pool, today=TODAY)
    await run_job("statistics", job_pool, today=TODAY, dry_run=True)
    admin = await f.user(Role.ADMIN)

    # when
    result = await actor(admin).gql(JOB_RUNS, {"job": "statistics", "first": 5})

    # then
    assert "errors" not in result, result
    [run] = result["data"]["jobRuns"]
    started, finished = run.pop("startedAt"), run.pop("finishedAt")
    assert started <= finished
    assert run == {
        "job": "statistics",
        "status": "SUCCEEDED",
        "dryRun": False,
        "referenceDate": "2026-06-15",
        "trigger": "cli",
        "batches": 1,
        "counts": [{"rule": "rows", "rows": 4}],
        "error": None,
    }


async def test_job_runs_as_admin_newest_first_per_job_and_capped(actor: Any, job_pool: Any) -> None:
    # given: three runs of the statistics job, one failed run of another job
    for day in (D(2026, 6, 1), D(2026, 6, 2), D(2026, 6, 3)):
        await run_job("statistics", job_pool, today=day)
    # (a job no longer registered: its rules come in alphabetical order)
    old = await JobRun.create(
        job="retired_job", status="FAILED", reference_date=TODAY, trigger="worker",
        counts={"children": 3, "applicants": 2}, batches=1, error="DeadlockDetectedError",
    )  # fmt: skip
    await JobRun.filter(id=old.id).update(started_at=at(D(2020, 1, 1)))
    client = actor(await f.user(Role.ADMIN))

    # when
    statistics = await client.gql(JOB_RUNS, {"job": "statistics", "first": 2})
    everything = await client.gql(JOB_RUNS, {"first": 20})

    # then
    assert [r["referenceDate"] for r in statistics["data"]["jobRuns"]] == [
        "2026-06-03",
        "2026-06-02",
    ]
    runs = everything["data"]["jobRuns"]
    assert len(runs) == 4
    failed = runs[-1]
    assert (failed["job"], failed["status"], failed["error"], failed["finishedAt"]) == (
        "retired_job",
        "FAILED",
        "DeadlockDetectedError",
        None,
    )
    assert failed["counts"] == [{"rule": "applicants", "rows": 2}, {"rule": "children", "rows": 3}]


@pytest.mark.parametrize("who", ["anonymous", "parent", "loket", "provider", "integrator_loket"])
async def test_job_runs_as_anyone_but_admin_is_forbidden(
    actor: Any, job_pool: Any, who: str
) -> None:
    p = await places()
    await run_job("statistics", job_pool, today=TODAY)
    users: dict[str, Any] = {
        "anonymous": None,
        "parent": await f.user(Role.PARENT),
        "loket": p.loket,
        "provider": await f.user(Role.PROVIDER, provider_location=p.location),
        "integrator_loket": await f.user(Role.INTEGRATOR, counter=p.counter),
    }

    result = await actor(users[who]).gql(JOB_RUNS, {"first": 5})

    assert result["data"] in (None, {"jobRuns": None}), result
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["jobRuns"], "FORBIDDEN")
    ]


# Statements


async def test_trend_statistics_statements_do_not_grow_with_the_rows(
    actor: Any, count_statements: Any
) -> None:
    # given
    p = await places()
    client = actor(await f.user(Role.ADMIN))

    async def statements(months: int) -> int:
        await RequestStatistic.all().delete()
        for m in range(months):
            for muni in (p.leuven, p.herent, p.brussel):
                await RequestStatistic.create(
                    municipality=muni, month=D(2025, 1 + m, 1), requests=20 + m, fulfilled=8,
                    withdrawn=6, emergency=7, median_wait_days=30.0, computed_at=at(TODAY),
                )  # fmt: skip
        count_statements.statements.clear()
        result = await client.gql(TRENDS, {"from": "2025-01-01", "to": "2025-12-31"})
        assert len(rows(result)) == 3 * months
        return len(count_statements)

    # when
    few, many = await statements(1), await statements(12)

    # then: one statement reads the table, whatever its size
    assert few == many
    reads = [s for s in count_statements.statements if "request_statistic" in s]
    assert len(reads) == 1


async def test_job_runs_statements_do_not_grow_with_the_runs(
    actor: Any, job_pool: Any, count_statements: Any
) -> None:
    client = actor(await f.user(Role.ADMIN))
    await run_job("statistics", job_pool, today=TODAY)
    count_statements.statements.clear()
    await client.gql(JOB_RUNS, {"first": 20})
    few = len(count_statements)
    for _ in range(5):
        await run_job("statistics", job_pool, today=TODAY)

    count_statements.statements.clear()
    result = await client.gql(JOB_RUNS, {"first": 20})

    assert len(result["data"]["jobRuns"]) == 6
    assert len(count_statements) == few
