"""Compiled plans (loket.planner): which requests they serve, in how many statements, with
which access-log rows; and that the differential check (conftest's autouse fixture,
which compares every planned request with strawberry's answer) can fail."""

from __future__ import annotations

from typing import Any

import pytest

from loket import planner
from models.access_log import AccessLogEntry as AccessLog
from models.accounts import Role
from schema.common import encode_cursor
from tests import factories as f

DOSSIER = """query Dossier($id: ID!) { household(id: $id) { id familySituation
    parents { firstName lastName email phone municipality { name } }
    children { firstName birthDate isBorn }
    requests { id status submittedAt carePattern { day part }
               applications { status preference location { name } } child { firstName } } } }"""

INBOX = """query Inbox($loc: ID!, $first: Int!, $after: String) {
  inbox(locationId: $loc, first: $first, after: $after) {
    edges { cursor node { rank overdue reason priority { tier score reasons ruleSet }
      application { status } request { id desiredStartDate child { firstName } }
      household { familySituation parents { firstName } } } }
    pageInfo { hasNextPage endCursor } } }"""


async def _world() -> dict[str, Any]:
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    other = await f.location(leuven)
    households = []
    for i in range(3):
        h, _ = await f.household(leuven)
        c = await f.child(h, born=f.days(-100 - i))
        await f.care_request(c, loc, other)
        households.append(h)
    lonely, _ = await f.household(leuven)  # no request: outside the provider's grants
    return {
        "loc": loc,
        "households": households,
        "lonely": lonely,
        "provider": await f.user(Role.PROVIDER, provider_location=loc),
        "admin": await f.user(Role.ADMIN),
    }


def _served() -> int:
    return planner.STATS["planned"]


async def test_a_dossier_lookup_is_one_statement_after_the_viewer(
    actor, db, count_statements
) -> None:
    w = await _world()
    client = actor(w["provider"])
    before = _served()
    count_statements.statements.clear()
    result = await client.gql(DOSSIER, {"id": str(w["households"][0].id)})
    assert _served() == before + 1
    assert "errors" not in result
    household = result["data"]["household"]
    assert household["id"] == str(w["households"][0].id)
    assert len(household["requests"]) == 1
    assert household["requests"][0]["applications"] == [
        {"status": "PENDING", "preference": 1, "location": {"name": w["loc"].name}}
    ]
    # The viewer's memberships, then the plan's one statement (data and access log).
    assert len(count_statements) == 2, count_statements.statements
    rows = await AccessLog.filter(household_id=w["households"][0].id).all()
    assert len(rows) == 1
    assert rows[0].grant_name == "PROVIDER_SELECTED"
    assert rows[0].operation_name == "Dossier"
    assert "Parent.phone" in rows[0].fields_read
    assert "Child.firstName" in rows[0].fields_read


async def test_a_dossier_outside_the_grants_is_null_and_logs_nothing(actor, db) -> None:
    w = await _world()
    before = _served()
    result = await actor(w["provider"]).gql(DOSSIER, {"id": str(w["lonely"].id)})
    assert result == {"data": {"household": None}}
    assert _served() == before + 1
    assert await AccessLog.filter(household_id=w["lonely"].id).count() == 0
    # A malformed id is null too, as the resolver answers it.
    assert await actor(w["provider"]).gql(DOSSIER, {"id": "not-a-uuid"}) == {
        "data": {"household": None}
    }


async def test_fields_of_objects_that_do_not_exist_are_not_logged(actor, db) -> None:
    leuven = await f.municipality("24062", "Leuven")
    childless, _ = await f.household(leuven)
    admin = await f.user(Role.ADMIN)
    result = await actor(admin).gql(DOSSIER, {"id": str(childless.id)})
    assert result["data"]["household"]["children"] == []
    (row,) = await AccessLog.filter(household_id=childless.id).all()
    assert not any(name.startswith("Child.") for name in row.fields_read)
    assert "Parent.firstName" in row.fields_read
    assert row.fields_read == sorted(row.fields_read)


async def test_an_inbox_page_is_two_statements_and_pages_like_the_resolver(
    actor, db, count_statements
) -> None:
    w = await _world()
    client = actor(w["provider"])
    count_statements.statements.clear()
    before = _served()
    first = await client.gql(INBOX, {"loc": str(w["loc"].id), "first": 2})
    # Viewer, candidates (with the location's rules), then the page with its access log.
    assert len(count_statements) == 3, count_statements.statements
    page = first["data"]["inbox"]
    assert [e["node"]["rank"] for e in page["edges"]] == [1, 2]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    rest = await client.gql(
        INBOX, {"loc": str(w["loc"].id), "first": 2, "after": page["pageInfo"]["endCursor"]}
    )
    assert [e["node"]["rank"] for e in rest["data"]["inbox"]["edges"]] == [3]
    assert rest["data"]["inbox"]["pageInfo"]["hasNextPage"] is False
    assert _served() == before + 2
    logged = await AccessLog.filter(operation_name="Inbox").count()
    assert logged == 3  # one row per dossier read, over both pages


async def test_requests_the_planner_does_not_cover_go_to_strawberry(actor, db) -> None:
    w = await _world()
    provider = actor(w["provider"])
    loc = str(w["loc"].id)
    before = _served()
    # A bad cursor: strawberry's error, not the plan's.
    bad = await provider.gql(INBOX, {"loc": loc, "first": 2, "after": encode_cursor("a|b")})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    # Variables that do not coerce.
    wrong = await provider.post_gql(INBOX, {"loc": loc, "first": "many"})
    assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", wrong.text
    # A filter (not planned).
    filtered = await provider.gql(
        "query($loc: ID!) { inbox(locationId: $loc, filter: {overdueOnly: true}) "
        "{ edges { node { rank } } } }",
        {"loc": loc},
    )
    assert filtered == {"data": {"inbox": {"edges": []}}}
    # A field the provider may not read: FORBIDDEN at its path, from strawberry.
    denied = await provider.gql(
        "query($id: ID!) { household(id: $id) { id mandates { id } } }",
        {"id": str(w["households"][0].id)},
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _served() == before


async def test_the_plan_cache_is_per_role(actor, db) -> None:
    w = await _world()
    text = "{ myHousehold { id parents { firstName } } }"
    parent_user = await f.user(Role.PARENT)
    h, _ = await f.household(await f.municipality("11002", "Antwerpen"), parent_user)
    before = _served()
    mine = await actor(parent_user).gql(text)
    assert mine["data"]["myHousehold"]["id"] == str(h.id)
    # The same text for a provider: myHousehold is not theirs (strawberry: FORBIDDEN).
    theirs = await actor(w["provider"]).gql(text)
    assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _served() == before + 1


async def test_the_differential_check_notices_a_wrong_plan(
    actor, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check the whole suite relies on is not vacuous: a plan that reads the wrong
    column is reported."""
    w = await _world()
    monkeypatch.setitem(planner.SPECS["Parent"], "firstName", planner.Col("{a}.last_name"))
    text = "query Wrong($id: ID!) { household(id: $id) { parents { firstName } } }"
    await actor(w["admin"]).gql(text, {"id": str(w["households"][0].id)})
    found = list(planner.MISMATCHES)
    planner.MISMATCHES.clear()
    assert len(found) == 1
    assert set(found[0]) >= {"data"}


async def test_apollo_style_documents_and_partial_page_info_are_planned(actor, db) -> None:
    """`__typename` beside and inside fragments (Apollo Client's addTypename) merges into
    one field; a pageInfo with only some of its fields selected is planned too."""
    w = await _world()
    before = _served()
    apollo = """query Q($id: ID!) { household(id: $id) { ...F __typename id }
        } fragment F on Household { id __typename parents { firstName __typename } }"""
    result = await actor(w["admin"]).gql(apollo, {"id": str(w["households"][0].id)})
    assert result["data"]["household"]["__typename"] == "Household"
    assert result["data"]["household"]["parents"][0]["__typename"] == "Parent"
    only_next = """query($l: ID!) { inbox(locationId: $l, first: 2) { edges { node { rank } }
        pageInfo { hasNextPage } } }"""
    paged = await actor(w["provider"]).gql(only_next, {"l": str(w["loc"].id)})
    assert paged["data"]["inbox"]["pageInfo"] == {"hasNextPage": True}
    names_only = "{ dossiers { __typename pageInfo { __typename } } }"
    listed = await actor(w["admin"]).gql(names_only)
    assert listed["data"]["dossiers"]["pageInfo"] == {"__typename": "PageInfo"}
    assert _served() == before + 3


async def test_a_family_in_the_inbox_under_two_grants_is_logged_per_grant(actor, db) -> None:
    """One child applied here (selected), a sibling on the emergency list of the
    municipality: the dossier is read under both grants, and each grant's access-log row
    names what was read under it — on the planned path and on strawberry's (the
    differential check compares them; the loaders once gave both reads the last grant)."""
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    other = await f.location(leuven)
    h, _ = await f.household(leuven)
    await f.care_request(await f.child(h, born=f.days(-300)), loc)
    await f.care_request(await f.child(h, born=f.days(-200)), other, start=f.days(30))
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    text = """query Two($l: ID!) { inbox(locationId: $l, first: 10) { edges { node { reason
        household { viewerGrant parents { firstName } } request { child { firstName } } } } } }"""
    before = _served()
    result = await actor(provider).gql(text, {"l": str(loc.id)})
    assert _served() == before + 1
    edges = result["data"]["inbox"]["edges"]
    assert sorted(e["node"]["household"]["viewerGrant"] for e in edges) == [
        "PROVIDER_EMERGENCY",
        "PROVIDER_SELECTED",
    ]
    rows = await AccessLog.filter(household_id=h.id).order_by("grant_name")
    assert [(r.grant_name, r.fields_read) for r in rows] == [
        ("PROVIDER_EMERGENCY", ["Child.firstName", "Parent.firstName"]),
        ("PROVIDER_SELECTED", ["Child.firstName", "Parent.firstName"]),
    ]


async def test_null_for_a_non_null_argument_is_left_to_strawberry(actor, db) -> None:
    w = await _world()
    before = planner.STATS["fallback"]
    response = await actor(w["admin"]).post_gql(
        'query Q($id: ID = "x") { household(id: $id) { id } }', {"id": None}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert planner.STATS["fallback"] == before + 1


ORDER = """query Order($loc: ID!, $first: Int!, $after: String) {
  inbox(locationId: $loc, first: $first, after: $after) {
    edges { cursor node { rank overdue reason request { id } household { familySituation } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_an_inbox_page_without_explanations_is_one_statement_in_the_engines_order(
    actor, db, count_statements
) -> None:
    """Without `priority`, the plan orders by the keys the database keeps (and computes
    for emergency-list requests): one statement, the order and cursors of the engine (the
    autouse differential check compares every page with the resolver, which ranks in
    Python), pages that join up."""
    leuven = await f.municipality("24062", "Leuven")
    gent = await f.municipality("44021", "Gent")
    loc = await f.location(
        gent,
        priority_criteria=[
            {"criterion": "RESIDENT", "weight": 30},
            {"criterion": "SIBLING", "weight": 5},
        ],
    )
    elsewhere = await f.location(leuven)
    families = [
        ("SINGLE_PARENT", True, "WORKING", gent),
        ("TWO_PARENTS", False, "NONE", leuven),
        ("TWO_PARENTS", True, "JOB_SEEKING", leuven),
        ("SINGLE_PARENT", False, "NONE", gent),
        ("TWO_PARENTS", False, "WORKING", leuven),
    ]
    for situation, low_income, work, muni in families:
        h, _ = await f.household(
            muni,
            family_situation=situation,
            income_below_threshold=low_income,
            work_situation=work,
        )
        await f.care_request(await f.child(h, born=f.days(-200)), loc)
    h, _ = await f.household(leuven)  # a sibling already has a place here
    await f.enrolment(await f.child(h, born=f.days(-800)), loc)
    await f.care_request(await f.child(h, born=f.days(-100)), loc, elsewhere)
    # On the emergency list of Gent: starts within the list's horizon, lives in Gent, no
    # application at this location.
    h, _ = await f.household(gent, family_situation="SINGLE_PARENT")
    await f.care_request(await f.child(h, born=f.days(-300)), elsewhere, start=f.days(20))
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    client = actor(provider)

    count_statements.statements.clear()
    whole = await client.gql(ORDER, {"loc": str(loc.id), "first": 100})
    assert len(count_statements) == 2, count_statements.statements  # viewer, the page
    edges = whole["data"]["inbox"]["edges"]
    assert len(edges) == 7
    assert [e["node"]["rank"] for e in edges] == list(range(1, 8))
    assert [e["node"]["reason"] for e in edges].count("EMERGENCY_LIST") == 1
    assert whole["data"]["inbox"]["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": edges[-1]["cursor"],
    }

    paged, after = [], None
    for _ in range(3):  # 3 + 3 + 1
        reply = await client.gql(ORDER, {"loc": str(loc.id), "first": 3, "after": after})
        page = reply["data"]["inbox"]
        paged.extend(page["edges"])
        after = page["pageInfo"]["endCursor"]
    assert page["pageInfo"]["hasNextPage"] is False
    assert paged == edges


@pytest.mark.parametrize(
    "raw",
    [
        "2147483648|0|2026-01-01T00:00:00+00:00|00000000-0000-0000-0000-000000000001",
        "0|9223372036854775808|2026-01-01T00:00:00+00:00|00000000-0000-0000-0000-000000000001",
        "0|0|9999-12-31T23:59:59-14:00|00000000-0000-0000-0000-000000000001",
        "0|0|0001-01-01T00:00:00+14:00|00000000-0000-0000-0000-000000000001",
    ],
)
async def test_a_crafted_inbox_cursor_is_invalid_on_both_paths(actor, db, raw: str) -> None:
    """Numbers and times no cursor of ours holds are INVALID_CURSOR before any statement,
    so the plan does not fail on them (the autouse check counts failed plans)."""
    w = await _world()
    result = await actor(w["provider"]).gql(
        ORDER, {"loc": str(w["loc"].id), "first": 2, "after": encode_cursor(raw)}
    )
    assert result["data"] == {"inbox": None}
    assert result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_the_last_minute_search_is_planned_and_hands_back_what_it_does_not_cover(
    actor, db, count_statements
) -> None:
    """Served by a plan (compared with strawberry by the differential check): without a
    filter, by municipality and days, page by page; strawberry answers a search by
    distance, an invalid filter and an unknown municipality (found by the statement)."""
    from tests.test_providers import PLACES, world

    w = await world()
    client = actor(None)
    before = _served()
    count_statements.statements.clear()
    result = await client.gql(PLACES, {"first": 2})
    assert "errors" not in result
    page = result["data"]["lastMinutePlaces"]
    assert len(page["edges"]) == 2
    assert page["pageInfo"]["hasNextPage"]
    assert _served() == before + 1
    assert len(count_statements) == 1
    rest = await client.gql(PLACES, {"first": 10, "after": page["pageInfo"]["endCursor"]})
    assert len(rest["data"]["lastMinutePlaces"]["edges"]) == 2  # (4 current places)
    nis = next(iter(w.munis.values())).nis_code
    await client.gql(PLACES, {"filter": {"municipalityNisCode": nis, "days": ["MON"]}})
    assert _served() == before + 3

    unknown = await client.gql(PLACES, {"filter": {"municipalityNisCode": "99999"}})
    assert unknown["errors"][0]["extensions"]["code"] == "UNKNOWN_MUNICIPALITY"
    invalid = await client.gql(PLACES, {"filter": {"ageMonths": 500}})
    assert invalid["errors"][0]["extensions"]["code"] == "OUT_OF_RANGE"
    near = await client.gql(PLACES, {"filter": {"near": {"postalCode": "3000", "maxKm": 20}}})
    assert "errors" not in near
    assert _served() == before + 3
