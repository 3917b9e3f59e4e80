"""The counter's demand overview: exact counts for its region, by residence or chosen
location, the emergency list, unanswered applications, fulfilled requests; who may read
it; the window's bounds; a constant number of statements."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest

from models.accounts import Role
from models.requests import Application, CareRequest
from tests import factories as f

OVERVIEW = """query($from: Date, $to: Date) { demandOverview(fromMonth: $from, toMonth: $to) {
    fromMonth toMonth
    openRequests { month municipality { nisCode name } count }
    emergencyListSize unansweredApplications
    unansweredByLocation { location { id name } count }
    fulfilledRequests { month municipality { nisCode } count } } }"""
UTC = datetime.UTC


@dataclass
class Region:
    """Leuven and Herent form the counter's region; Brussel and Mechelen lie outside."""

    leuven: Any
    herent: Any
    brussel: Any
    mechelen: Any
    in_leuven: Any
    in_herent: Any
    in_brussel: Any
    loket: Any
    counter: Any


async def region() -> Region:
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    brussel = await f.municipality("21004", "Brussel")
    mechelen = await f.municipality("12025", "Mechelen")
    counter = await f.counter("Loket Leuven", leuven, herent)
    await f.counter("Loket Mechelen", mechelen)
    return Region(
        leuven,
        herent,
        brussel,
        mechelen,
        await f.location(leuven, "Kinderdagverblijf Leuven"),
        await f.location(herent, "Kinderdagverblijf Herent"),
        await f.location(brussel, "Crèche Brussel"),
        await f.user(Role.LOKET, counter=counter),
        counter,
    )


async def request(
    residence: Any,
    *locations: Any,
    start: datetime.date | None = None,
    status: str = "OPEN",
    closed_at: datetime.datetime | None = None,
) -> CareRequest:
    """A request of a new family living in `residence` (one open request per child)."""
    h, _ = await f.household(residence)
    c = await f.child(h, born=f.days(-100))
    r = await f.care_request(c, *locations, start=start, status=status)
    if closed_at is not None:
        await CareRequest.filter(id=r.id).update(closed_at=closed_at)
    return r


async def age(r: CareRequest, days: int) -> None:
    """Make the request's applications `days` days old."""
    stamp = datetime.datetime.now(UTC) - datetime.timedelta(days=days)
    await Application.filter(request_id=r.id).update(created_at=stamp)


def overview(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["demandOverview"]
    return data


def counts(rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(r["month"], r["municipality"]["nisCode"], r["count"]) for r in rows]


def month(n: int) -> str:
    """The first day of the month `n` months from now."""
    index = f.TODAY.year * 12 + f.TODAY.month - 1 + n
    return str(datetime.date(index // 12, index % 12 + 1, 1))


# openRequests


async def open_requests_world(r: Region) -> None:
    # in the region by residence (Leuven), whatever the chosen location
    await request(r.leuven, r.in_leuven, start=datetime.date(2030, 3, 10))
    await request(r.leuven, r.in_brussel, start=datetime.date(2030, 3, 31))
    # in the region only by a chosen location, counted under the residence (Brussel)
    await request(r.brussel, r.in_herent, start=datetime.date(2030, 3, 1))
    # two chosen locations in the region: counted once
    await request(r.herent, r.in_leuven, r.in_herent, start=datetime.date(2030, 4, 15))
    await request(r.brussel, r.in_brussel, r.in_leuven, start=datetime.date(2030, 4, 2))
    # outside the region: residence and every location elsewhere
    await request(r.brussel, r.in_brussel, start=datetime.date(2030, 3, 10))
    await request(r.mechelen, start=datetime.date(2030, 4, 10))
    # not open
    await request(r.leuven, r.in_leuven, start=datetime.date(2030, 3, 10), status="WITHDRAWN")
    await request(r.leuven, r.in_leuven, start=datetime.date(2030, 4, 10), status="FULFILLED")
    # outside the window
    await request(r.leuven, r.in_leuven, start=datetime.date(2030, 2, 28))
    await request(r.leuven, r.in_leuven, start=datetime.date(2030, 5, 1))


async def test_open_requests_as_loket_by_residence_or_chosen_location(actor: Any) -> None:
    # given
    r = await region()
    await open_requests_world(r)

    # when
    result = await actor(r.loket).gql(OVERVIEW, {"from": "2030-03-01", "to": "2030-04-30"})

    # then: each request once, under the municipality where the family lives
    data = overview(result)
    assert (data["fromMonth"], data["toMonth"]) == ("2030-03-01", "2030-04-01")
    assert counts(data["openRequests"]) == [
        ("2030-03-01", "21004", 1),
        ("2030-03-01", "24062", 2),
        ("2030-04-01", "21004", 1),
        ("2030-04-01", "24038", 1),
    ]
    assert data["openRequests"][0]["municipality"]["name"] == "Brussel"


async def test_open_requests_as_admin_cover_every_municipality(actor: Any) -> None:
    r = await region()
    await open_requests_world(r)
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(OVERVIEW, {"from": "2030-03-01", "to": "2030-04-01"})

    assert counts(overview(result)["openRequests"]) == [
        ("2030-03-01", "21004", 2),
        ("2030-03-01", "24062", 2),
        ("2030-04-01", "21004", 1),
        ("2030-04-01", "24038", 1),
        ("2030-04-01", "12025", 1),
    ]


async def test_open_requests_as_integrator_acting_as_counter(actor: Any) -> None:
    r = await region()
    await open_requests_world(r)
    integrator = await f.user(Role.INTEGRATOR, counter=r.counter)

    result = await actor(integrator).gql(OVERVIEW, {"from": "2030-03-01", "to": "2030-04-01"})

    assert [c for *_, c in counts(overview(result)["openRequests"])] == [1, 2, 1, 1]


async def test_demand_overview_as_loket_of_another_region_sees_none_of_it(actor: Any) -> None:
    r = await region()
    await open_requests_world(r)
    mechelen = await f.counter("Loket Elders", await f.municipality("11002", "Antwerpen"))
    other = await f.user(Role.LOKET, counter=mechelen)

    result = await actor(other).gql(OVERVIEW, {"from": "2030-03-01", "to": "2030-04-01"})

    data = overview(result)
    assert data["openRequests"] == []
    assert data["fulfilledRequests"] == []
    assert (data["emergencyListSize"], data["unansweredApplications"]) == (0, 0)
    assert data["unansweredByLocation"] == []


# emergencyListSize


async def test_emergency_list_size_as_loket(actor: Any) -> None:
    # given
    r = await region()
    await request(r.leuven, r.in_leuven, start=f.days(20))  # on the list
    await request(r.leuven, start=f.days(0))  # on the list, no location chosen yet
    await request(r.brussel, r.in_herent, start=f.days(60))  # on the list (via location)
    await request(r.brussel, r.in_brussel, start=f.days(10))  # outside the region
    await request(r.leuven, r.in_leuven, start=f.days(61))  # not yet
    await request(r.leuven, r.in_leuven, start=f.days(10), status="FULFILLED")  # left it
    await request(r.herent, r.in_herent, start=f.days(5), status="WITHDRAWN")  # left it

    # when
    result = await actor(r.loket).gql("{ demandOverview { emergencyListSize } }")

    # then
    assert overview(result) == {"emergencyListSize": 3}


# unansweredApplications, unansweredByLocation


async def test_unanswered_applications_as_loket(actor: Any) -> None:
    # given: applications pending more than 30 days at locations of the region
    r = await region()
    await age(await request(r.leuven, r.in_leuven), 31)
    await age(await request(r.brussel, r.in_brussel, r.in_leuven), 45)  # one in the region
    await age(await request(r.herent, r.in_herent), 31)
    await age(await request(r.leuven, r.in_leuven), 29)  # not yet late
    await request(r.leuven, r.in_herent)  # new
    offered = await request(r.leuven, r.in_herent)  # answered: an offer
    await Application.filter(request_id=offered.id).update(status="OFFERED")
    await age(offered, 60)
    await age(await request(r.brussel, r.in_brussel), 60)  # location outside the region

    # when
    result = await actor(r.loket).gql(
        "{ demandOverview { unansweredApplications"
        " unansweredByLocation { location { id name } count } } }"
    )

    # then: the total and the breakdown agree
    data = overview(result)
    assert data["unansweredApplications"] == 3
    assert [(u["location"]["name"], u["count"]) for u in data["unansweredByLocation"]] == [
        ("Kinderdagverblijf Leuven", 2),
        ("Kinderdagverblijf Herent", 1),
    ]
    assert data["unansweredByLocation"][0]["location"]["id"] == str(r.in_leuven.id)


# fulfilledRequests


async def test_fulfilled_requests_as_loket_by_belgian_month(actor: Any) -> None:
    # given
    r = await region()

    async def fulfilled(residence: Any, loc: Any, at: datetime.datetime) -> None:
        await request(residence, loc, status="FULFILLED", closed_at=at)

    await fulfilled(r.leuven, r.in_leuven, datetime.datetime(2026, 3, 15, 12, tzinfo=UTC))
    await fulfilled(r.leuven, r.in_brussel, datetime.datetime(2026, 3, 2, 9, tzinfo=UTC))
    await fulfilled(r.brussel, r.in_herent, datetime.datetime(2026, 5, 20, 9, tzinfo=UTC))
    # 00:30 on 1 January in Brussels: January
    await fulfilled(r.herent, r.in_herent, datetime.datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
    # 01:30 on 1 July in Brussels: after the window
    await fulfilled(r.leuven, r.in_leuven, datetime.datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    await fulfilled(r.leuven, r.in_leuven, datetime.datetime(2025, 12, 15, 12, tzinfo=UTC))
    await fulfilled(r.brussel, r.in_brussel, datetime.datetime(2026, 3, 15, 12, tzinfo=UTC))
    await request(
        r.leuven,
        r.in_leuven,
        status="WITHDRAWN",
        closed_at=datetime.datetime(2026, 3, 15, 12, tzinfo=UTC),
    )

    # when
    result = await actor(r.loket).gql(
        "query($from: Date, $to: Date) { demandOverview(fromMonth: $from, toMonth: $to) {"
        " fulfilledRequests { month municipality { nisCode } count } } }",
        {"from": "2026-01-20", "to": "2026-06-05"},
    )

    # then
    assert counts(overview(result)["fulfilledRequests"]) == [
        ("2026-01-01", "24038", 1),
        ("2026-03-01", "24062", 2),
        ("2026-05-01", "21004", 1),
    ]


# The window


async def test_demand_overview_default_window_is_a_year_back_and_ahead(actor: Any) -> None:
    r = await region()

    result = await actor(r.loket).gql("{ demandOverview { fromMonth toMonth } }")

    assert overview(result) == {"fromMonth": month(-12), "toMonth": month(12)}


async def test_demand_overview_with_one_bound_spans_twelve_months(actor: Any) -> None:
    r = await region()
    client = actor(r.loket)

    after = await client.gql(OVERVIEW, {"from": "2030-03-31"})
    before = await client.gql(OVERVIEW, {"to": "2030-03-01"})

    assert (overview(after)["fromMonth"], overview(after)["toMonth"]) == (
        "2030-03-01",
        "2031-02-01",
    )
    assert (overview(before)["fromMonth"], overview(before)["toMonth"]) == (
        "2029-04-01",
        "2030-03-01",
    )


async def test_demand_overview_of_36_months_is_allowed(actor: Any) -> None:
    r = await region()

    result = await actor(r.loket).gql(OVERVIEW, {"from": "2030-01-01", "to": "2032-12-31"})

    assert overview(result)["toMonth"] == "2032-12-01"


@pytest.mark.parametrize(
    ("window", "code"),
    [
        ({"from": "2030-01-01", "to": "2033-01-01"}, "OUT_OF_RANGE"),
        ({"from": "2030-05-01", "to": "2030-04-30"}, "PERIOD_ORDER"),
        ({"from": "9999-06-01"}, "OUT_OF_RANGE"),
        ({"to": "0001-03-01"}, "OUT_OF_RANGE"),
    ],
    ids=["37-months", "reversed", "after-the-calendar", "before-the-calendar"],
)
async def test_demand_overview_with_invalid_window_is_refused(
    actor: Any, window: dict[str, str], code: str
) -> None:
    r = await region()

    result = await actor(r.loket).gql(OVERVIEW, window)

    assert result["data"] == {"demandOverview": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["demandOverview"], code)
    ]


# Who may read it


@pytest.mark.parametrize(
    "who", ["anonymous", "parent", "provider", "toeleider", "sick_child", "integrator_provider"]
)
async def test_demand_overview_as_other_roles_is_forbidden(actor: Any, who: str) -> None:
    r = await region()
    await open_requests_world(r)
    scopes: dict[str, Any] = {
        "anonymous": None,
        "parent": await f.user(Role.PARENT),
        "provider": await f.user(Role.PROVIDER, provider_location=r.in_leuven),
        "toeleider": await f.user(
            Role.TOELEIDER, referral_organisation=await f.referral_organisation()
        ),
        "sick_child": await f.user(
            Role.SICK_CHILD_SERVICE, sick_child_service=await f.sick_child_service()
        ),
        "integrator_provider": await f.user(
            Role.INTEGRATOR, provider_organisation=await r.in_leuven.organisation
        ),
    }

    result = await actor(scopes[who]).gql(OVERVIEW, {"from": "2030-03-01"})

    assert result["data"] is None or result["data"] == {"demandOverview": None}, result
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["demandOverview"], "FORBIDDEN")
    ]


# Statements


async def test_demand_overview_statements_do_not_grow_with_the_data(
    actor: Any, count_statements: Any
) -> None:
    # given
    r = await region()
    client = actor(r.loket)
    await age(await request(r.leuven, r.in_leuven, start=datetime.date(2030, 3, 1)), 40)
    count_statements.statements.clear()
    await client.gql(OVERVIEW, {"from": "2030-03-01"})
    few = len(count_statements)
    for i in range(8):
        residence = (r.leuven, r.herent, r.brussel)[i % 3]
        await age(
            await request(residence, r.in_leuven, r.in_herent, start=datetime.date(2030, 3 + i, 1)),
            40,
        )
        await request(
            residence,
            r.in_herent,
            status="FULFILLED",
            closed_at=datetime.datetime(2030, 3 + i, 2, tzinfo=UTC),
        )
        await request(residence, r.in_leuven, start=f.days(i))

    # when
    count_statements.statements.clear()
    result = await client.gql(OVERVIEW, {"from": "2030-03-01"})

    # then: one statement per figure, whatever the data
    data = overview(result)
    assert len(data["openRequests"]) == 8
    assert data["emergencyListSize"] == 8
    assert data["unansweredApplications"] == 17
    assert len(count_statements) == few
    aggregates = [
        s for s in count_statements.statements if "care_request" in s or "application" in s
    ]
    assert len(aggregates) == 4
