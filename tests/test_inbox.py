"""A location's inbox ranked by the priority rules: order, explanations, filters, the
overdue flag, pagination by rank, and the statement count on a 1,000-request inbox."""

from __future__ import annotations

import datetime
from typing import Any

from loket import synthetic
from models.access_log import AccessLogEntry
from models.accounts import Role
from models.households import Parent
from models.requests import Application, CareRequest
from tests import factories as f

INBOX = """
query($loc: ID!, $first: Int!, $after: String, $filter: InboxFilter) {
  inbox(locationId: $loc, first: $first, after: $after, filter: $filter) {
    edges { cursor node {
      rank reason overdue
      priority { ruleSet ruleSetName tier score reasons }
      request { id }
      application { status }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

NOW = datetime.datetime.now(datetime.UTC)


def months_ago(n: int) -> datetime.datetime:
    return NOW - datetime.timedelta(days=31 * n + 2)


async def family(
    muni: Any,
    loc: Any,
    *,
    situations: tuple[str, ...],
    single: bool = False,
    low_income: bool = False,
    submitted: datetime.datetime | None = None,
    start: int = 120,
    status: str = "PENDING",
    born: int = -200,
) -> Any:
    """A family with one parent per work situation, a child and a request for `loc`."""
    h, _ = await f.household(
        muni,
        family_situation="SINGLE_PARENT" if single else "TWO_PARENTS",
        income_below_threshold=low_income,
        work_situation=situations[0],
    )
    for situation in situations[1:]:
        await Parent.create(
            household=h,
            is_applicant=False,
            first_name="Partner",
            last_name="X",
            email="partner@example.test",
            municipality=muni,
            **{**f.PARENT_DEFAULTS, "work_situation": situation},
        )
    c = await f.child(h, born=f.days(born))
    r = await f.care_request(c, loc, start=f.days(start), application_status=status)
    await CareRequest.filter(id=r.id).update(submitted_at=submitted or months_ago(1))
    await Application.filter(request_id=r.id).update(created_at=submitted or months_ago(1))
    return r


async def world(**location: Any) -> tuple[Any, Any, Any]:
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni, **location)
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    return muni, loc, provider


async def read(client: Any, loc: Any, first: int = 50, **variables: Any) -> dict[str, Any]:
    result = await client.gql(INBOX, {"loc": str(loc.id), "first": first, **variables})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["inbox"]
    return data


def order(data: dict[str, Any]) -> list[str]:
    return [e["node"]["request"]["id"] for e in data["edges"]]


async def test_inbox_as_provider_ranks_by_the_restored_rules_with_explanations(
    actor: Any,
) -> None:
    # given: four families at an income-related location, all filed after 30 April 2025
    muni, loc, provider = await world()
    working = await family(muni, loc, situations=("WORKING", "WORKING"), submitted=months_ago(8))
    single = await family(
        muni, loc, situations=("WORKING",), single=True, low_income=True, submitted=months_ago(2)
    )
    half = await family(
        muni, loc, situations=("WORKING", "NONE"), low_income=True, submitted=months_ago(5)
    )
    none = await family(muni, loc, situations=("NONE", "NONE"), submitted=months_ago(9))

    # when
    data = await read(actor(provider), loc)

    # then: absolute priority first, then points, then waiting time
    assert order(data) == [str(single.id), str(working.id), str(half.id), str(none.id)]
    assert [e["node"]["rank"] for e in data["edges"]] == [1, 2, 3, 4]
    explained = [
        (p["ruleSet"], p["tier"], p["score"], p["reasons"])
        for p in (e["node"]["priority"] for e in data["edges"])
    ]
    assert explained == [
        (
            "IKT_2025_RESTORED",
            0,
            200,
            ["work situation: absolute priority", "single parent", "low income",
             "requested 2 months ago"],
        ),
        ("IKT_2025_RESTORED", 0, 0,
         ["work situation: absolute priority", "requested 8 months ago"]),
        ("IKT_2025_RESTORED", 1, 100, ["low income", "requested 5 months ago"]),
        ("IKT_2025_RESTORED", 1, 0, ["requested 9 months ago"]),
    ]  # fmt: skip
    assert data["edges"][0]["node"]["priority"]["ruleSetName"]


async def test_inbox_as_provider_applies_the_own_policy_within_the_legal_rules(
    actor: Any,
) -> None:
    # given: a location that gives residents 100 points (as much as one legal group)
    muni, loc, provider = await world()
    await loc.__class__.filter(id=loc.id).update(
        priority_criteria=[{"criterion": "RESIDENT", "weight": 100}]
    )
    elsewhere = await f.municipality("24038", "Herent")
    resident = await family(muni, loc, situations=("NONE",), single=False, submitted=months_ago(1))
    outsider = await family(elsewhere, loc, situations=("NONE",), submitted=months_ago(6))

    data = await read(actor(provider), loc)

    assert order(data) == [str(resident.id), str(outsider.id)]
    assert data["edges"][0]["node"]["priority"]["reasons"] == [
        "own policy: lives in the municipality (+100)",
        "requested 1 month ago",
    ]


async def test_inbox_as_provider_of_a_free_price_location_uses_only_its_own_policy(
    actor: Any,
) -> None:
    muni, loc, provider = await world(tariff="FREE_PRICE", subsidy_step=None)
    first_come = await family(muni, loc, situations=("NONE",), submitted=months_ago(7))
    priority_group = await family(
        muni, loc, situations=("WORKING",), single=True, low_income=True, submitted=months_ago(1)
    )

    data = await read(actor(provider), loc)

    assert order(data) == [str(first_come.id), str(priority_group.id)]
    assert {e["node"]["priority"]["ruleSet"] for e in data["edges"]} == {"OWN_POLICY"}


async def test_inbox_as_provider_uses_the_annulled_2024_rules_for_requests_filed_then(
    actor: Any,
) -> None:
    muni, loc, provider = await world()
    filed = datetime.datetime(2024, 10, 1, 12, tzinfo=datetime.UTC)
    request = await family(muni, loc, situations=("WORKING", "WORKING"), submitted=filed)

    data = await read(actor(provider), loc)

    assert order(data) == [str(request.id)]
    node = data["edges"][0]["node"]["priority"]
    assert node["ruleSet"] == "IKT_2024_ANNULLED"
    assert node["reasons"][0] == "work at least 4/5: priority"


async def test_inbox_as_provider_flags_applications_unanswered_past_the_deadline(
    actor: Any,
) -> None:
    muni, loc, provider = await world()
    old = await family(muni, loc, situations=("NONE",), submitted=months_ago(3))
    new = await family(muni, loc, situations=("NONE",), submitted=NOW)
    waiting = await family(
        muni, loc, situations=("NONE",), submitted=months_ago(4), status="WAITLISTED"
    )
    client = actor(provider)

    data = await read(client, loc)
    overdue = await read(client, loc, filter={"overdueOnly": True})

    flags = {e["node"]["request"]["id"]: e["node"]["overdue"] for e in data["edges"]}
    assert flags == {str(old.id): True, str(new.id): False, str(waiting.id): False}
    assert order(overdue) == [str(old.id)]


async def test_inbox_as_provider_filters_by_status_reason_month_and_age(actor: Any) -> None:
    # given: a waitlisted request, a pending one starting next month-ish for a baby, and
    # an emergency-list request of the municipality that did not choose this location
    muni, loc, provider = await world()
    other_loc = await f.location(muni)
    waitlisted = await family(muni, loc, situations=("NONE",), status="WAITLISTED", born=-700)
    baby = await family(muni, loc, situations=("NONE",), start=150, born=-30)
    h, _ = await f.household(muni)
    urgent_child = await f.child(h, born=f.days(-400))
    urgent = await f.care_request(urgent_child, other_loc, start=f.days(20))
    client = actor(provider)
    month = f.days(150).replace(day=15).isoformat()

    by_status = await read(client, loc, filter={"statuses": ["WAITLISTED"]})
    by_reason = await read(client, loc, filter={"reasons": ["EMERGENCY_LIST"]})
    by_month = await read(client, loc, filter={"startMonth": month})
    young = await read(client, loc, filter={"maxAgeMonths": 12})
    older = await read(client, loc, filter={"minAgeMonths": 12})

    assert order(by_status) == [str(waitlisted.id)]
    assert order(by_reason) == [str(urgent.id)]
    assert order(by_month) == [str(baby.id)]
    assert order(young) == [str(baby.id)]
    assert set(order(older)) == {str(waitlisted.id), str(urgent.id)}


async def test_inbox_as_provider_with_an_out_of_range_age_filter_is_an_input_error(
    actor: Any,
) -> None:
    _, loc, provider = await world()

    result = await actor(provider).gql(
        INBOX, {"loc": str(loc.id), "first": 5, "filter": {"minAgeMonths": -1}}
    )

    assert [e["extensions"]["code"] for e in result["errors"]] == ["OUT_OF_RANGE"]


async def test_inbox_as_provider_paginates_in_rank_order_every_entry_once(actor: Any) -> None:
    muni, loc, provider = await world()
    await synthetic.inbox_dossiers(loc.id, muni.nis_code, 45)
    client = actor(provider)
    whole = order(await read(client, loc, first=100))

    seen: list[str] = []
    after = None
    for _ in range(20):
        page = await read(client, loc, first=7, after=after)
        seen.extend(order(page))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == whole
    assert len(set(seen)) == len(seen) == 45


async def test_inbox_as_provider_of_1000_requests_statements_do_not_grow_with_page_size(
    actor: Any, count_statements: Any
) -> None:
    # given: a location with 1,000 open applications
    muni, loc, provider = await world()
    await synthetic.inbox_dossiers(loc.id, muni.nis_code, 1000)
    client = actor(provider)

    # when
    count_statements.statements.clear()
    small = await read(client, loc, first=5)
    statements_small = len(count_statements)
    count_statements.statements.clear()
    large = await read(client, loc, first=100)
    statements_large = len(count_statements)

    # then
    assert len(small["edges"]) == 5
    assert len(large["edges"]) == 100
    assert order(large)[:5] == order(small)
    assert statements_small == statements_large


async def test_inbox_as_provider_writes_the_explanation_read_to_the_access_log(
    actor: Any,
) -> None:
    muni, loc, provider = await world()
    r = await family(muni, loc, situations=("WORKING",), single=True)

    await read(actor(provider), loc)

    entries = await AccessLogEntry.filter(household_id=r.household_id).values(
        "grant_name", "fields_read"
    )
    assert len(entries) == 1
    assert entries[0]["grant_name"] == "PROVIDER_SELECTED"
    assert "PriorityExplanation.reasons" in entries[0]["fields_read"]


async def test_me_as_provider_lists_the_locations_to_open_inboxes(actor: Any) -> None:
    _, loc, provider = await world()

    result = await actor(provider).gql("{ me { role locations { id name } } }")

    assert result == {
        "data": {"me": {"role": "PROVIDER", "locations": [{"id": str(loc.id), "name": loc.name}]}}
    }


async def test_inbox_as_provider_with_a_tampered_cursor_is_an_input_error(actor: Any) -> None:
    from schema.common import encode_cursor

    _, loc, provider = await world()
    naive = encode_cursor(f"0|0|2025-06-01T10:00:00|{loc.id}")

    result = await actor(provider).gql(INBOX, {"loc": str(loc.id), "first": 5, "after": naive})

    assert [e["extensions"]["code"] for e in result["errors"]] == ["INVALID_CURSOR"]
