"""Saved searches: own rows only, validated as the search validates, run again on demand."""

from __future__ import annotations

from typing import Any

import pytest

from models.accounts import Role
from models.regions import PostalCode
from models.searches import SavedSearch
from tests import factories as f
from tests.test_providers import error_codes, world

SAVE = """mutation($i: SaveSearchInput!) {
  saveSearch(input: $i) { savedSearch { id name kind createdAt } errors { field code message } }
}"""
DELETE = """mutation($i: DeleteSavedSearchInput!) {
  deleteSavedSearch(input: $i) { deletedId errors { field code message } }
}"""
MINE = """query($first: Int, $after: String) {
  mySavedSearches { id name kind createdAt results(first: $first, after: $after) {
    __typename
    ... on LocationConnection { edges { distanceKm node { id } }
                                pageInfo { hasNextPage endCursor } }
    ... on LastMinutePlaceConnection { edges { node { id location { id } } }
                                       pageInfo { hasNextPage endCursor } }
  } }
}"""
NAMES = "{ mySavedSearches { id name kind } }"


def payload(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in result, result
    value: dict[str, Any] = result["data"][name]
    return value


def codes(result: dict[str, Any], name: str) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload(result, name)["errors"]]


def locations_search(name: str = "Dichtbij", **filter: Any) -> dict[str, Any]:
    return {"name": name, "kind": "LOCATIONS", "locationFilter": filter}


def ids(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in connection["edges"]]


# saveSearch and mySavedSearches


async def test_save_search_as_parent_and_run_it_again(actor: Any) -> None:
    w = await world()
    client = actor(await f.user(Role.PARENT))
    near = {"near": {"postalCode": "3000", "maxKm": 30}, "tariff": "INCOME_RELATED"}

    saved = await client.gql(SAVE, {"i": locations_search("Werk en thuis", **near)})
    last_minute = await client.gql(
        SAVE,
        {
            "i": {
                "name": "Last minute op maandag",
                "kind": "LAST_MINUTE",
                "lastMinuteFilter": {"days": ["MON"], "ageMonths": 6},
            }
        },
    )

    first = payload(saved, "saveSearch")
    assert first["errors"] == []
    assert first["savedSearch"]["name"] == "Werk en thuis"
    assert first["savedSearch"]["kind"] == "LOCATIONS"
    assert payload(last_minute, "saveSearch")["errors"] == []
    stored = await SavedSearch.get(id=first["savedSearch"]["id"])
    assert stored.filters == {
        "near": {"postalCode": "3000", "maxKm": 30.0},
        "tariff": "INCOME_RELATED",
    }

    mine = payload(await client.gql(MINE), "mySavedSearches")
    assert [(s["name"], s["kind"]) for s in mine] == [
        ("Werk en thuis", "LOCATIONS"),
        ("Last minute op maandag", "LAST_MINUTE"),
    ]
    assert mine[0]["results"]["__typename"] == "LocationConnection"
    assert ids(mine[0]["results"]) == w.ids("A", "D")
    assert mine[0]["results"]["edges"][0]["distanceKm"] == pytest.approx(0.37, abs=0.01)
    assert mine[1]["results"]["__typename"] == "LastMinutePlaceConnection"
    # P6 was published without days: it matches any
    assert ids(mine[1]["results"]) == w.place_ids("P3", "P6", "P1")


async def test_saved_search_results_follow_the_data_and_paginate(actor: Any) -> None:
    w = await world()
    client = actor(await f.user(Role.PARENT))
    await client.gql(SAVE, {"i": locations_search(municipalityNisCode="24062")})
    extra = await f.location(w.munis["leuven"], "Appel")

    seen: list[str] = []
    after = None
    while True:
        result = await client.gql(MINE, {"first": 2, "after": after})
        page = payload(result, "mySavedSearches")[0]["results"]
        seen += ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [w.ids("A")[0], str(extra.id), w.ids("B")[0]]


async def test_saved_search_whose_filter_no_longer_holds_gets_a_code(actor: Any) -> None:
    await world()
    client = actor(await f.user(Role.PARENT))
    await client.gql(SAVE, {"i": locations_search(postalCode="3020")})
    await PostalCode.filter(code="3020").delete()

    result = await client.gql(MINE)

    assert result["data"]["mySavedSearches"][0]["results"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["mySavedSearches", 0, "results"], "UNKNOWN_POSTAL_CODE")
    ]


@pytest.mark.parametrize(
    ("role", "scope"),
    [(Role.PROVIDER, "location"), (Role.LOKET, "counter"), (Role.ADMIN, None)],
)
async def test_save_search_as_any_signed_in_role(actor: Any, role: Role, scope: str | None) -> None:
    w = await world(places=False)
    scopes = {
        "location": {"provider_location": w.locs["A"]},
        "counter": {"counter": await f.counter("Loket", w.munis["leuven"])},
    }
    user = await f.user(role, **scopes.get(scope or "", {}))

    result = await actor(user).gql(SAVE, {"i": locations_search()})

    assert payload(result, "saveSearch")["errors"] == []
    assert await SavedSearch.filter(user_id=user.id).count() == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (locations_search(name="   "), [(["input", "name"], "REQUIRED")]),
        (locations_search(name="x" * 101), [(["input", "name"], "TOO_LONG")]),
        (
            {"name": "Zonder filter", "kind": "LOCATIONS"},
            [(["input", "locationFilter"], "FILTER_MISMATCH")],
        ),
        (
            {"name": "Verkeerde filter", "kind": "LAST_MINUTE", "locationFilter": {}},
            [
                (["input", "lastMinuteFilter"], "FILTER_MISMATCH"),
                (["input", "locationFilter"], "FILTER_MISMATCH"),
            ],
        ),
        (
            locations_search(near={"postalCode": "3000", "maxKm": 250}),
            [(["input", "locationFilter", "near", "maxKm"], "OUT_OF_RANGE")],
        ),
        (
            locations_search(ageMonths=-2),
            [(["input", "locationFilter", "ageMonths"], "OUT_OF_RANGE")],
        ),
        (
            locations_search(postalCode="9999"),
            [(["input", "locationFilter", "postalCode"], "UNKNOWN_POSTAL_CODE")],
        ),
        (
            locations_search(near={"postalCode": "3060", "maxKm": 5}),
            [(["input", "locationFilter", "near", "postalCode"], "POSTAL_CODE_NOT_LOCATED")],
        ),
        (
            locations_search(municipalityNisCode="00000"),
            [(["input", "locationFilter", "municipalityNisCode"], "UNKNOWN_MUNICIPALITY")],
        ),
        (
            {
                "name": "Verkeerde periode",
                "kind": "LAST_MINUTE",
                "lastMinuteFilter": {"fromDate": "2030-01-02", "toDate": "2030-01-01"},
            },
            [(["input", "lastMinuteFilter", "toDate"], "PERIOD_ORDER")],
        ),
    ],
)
async def test_save_search_as_parent_with_bad_input(
    actor: Any, value: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    await world(places=False)
    client = actor(await f.user(Role.PARENT))

    result = await client.gql(SAVE, {"i": value})

    assert payload(result, "saveSearch")["savedSearch"] is None
    assert codes(result, "saveSearch") == expected
    assert await SavedSearch.all().count() == 0


async def test_save_search_as_parent_beyond_the_limit(actor: Any) -> None:
    await world(places=False)
    user = await f.user(Role.PARENT)
    client = actor(user)
    for i in range(20):
        result = await client.gql(SAVE, {"i": locations_search(f"Zoekopdracht {i}")})
        assert payload(result, "saveSearch")["errors"] == []

    result = await client.gql(SAVE, {"i": locations_search("Eén te veel")})

    assert codes(result, "saveSearch") == [(["input"], "LIMIT")]
    assert await SavedSearch.filter(user_id=user.id).count() == 20
    # another user has their own 20
    other = actor(await f.user(Role.PARENT))
    assert payload(await other.gql(SAVE, {"i": locations_search()}), "saveSearch")["errors"] == []


# own rows only


async def test_my_saved_searches_as_parent_shows_only_own(actor: Any) -> None:
    await world(places=False)
    mine, theirs = actor(await f.user(Role.PARENT)), actor(await f.user(Role.PARENT))
    await mine.gql(SAVE, {"i": locations_search("Van mij")})
    await theirs.gql(SAVE, {"i": locations_search("Van een ander")})

    assert [s["name"] for s in payload(await mine.gql(NAMES), "mySavedSearches")] == ["Van mij"]
    assert [s["name"] for s in payload(await theirs.gql(NAMES), "mySavedSearches")] == [
        "Van een ander"
    ]


async def test_delete_saved_search_as_owner(actor: Any) -> None:
    await world(places=False)
    client = actor(await f.user(Role.PARENT))
    saved = payload(await client.gql(SAVE, {"i": locations_search()}), "saveSearch")
    search_id = saved["savedSearch"]["id"]

    result = await client.gql(DELETE, {"i": {"id": search_id}})

    assert payload(result, "deleteSavedSearch") == {"deletedId": search_id, "errors": []}
    assert await SavedSearch.all().count() == 0
    again = await client.gql(DELETE, {"i": {"id": search_id}})
    assert codes(again, "deleteSavedSearch") == [(["input", "id"], "NOT_FOUND")]


@pytest.mark.parametrize("target", ["theirs", "not-an-id"])
async def test_delete_saved_search_of_another_user_is_not_found(actor: Any, target: str) -> None:
    await world(places=False)
    owner = actor(await f.user(Role.PARENT))
    saved = payload(await owner.gql(SAVE, {"i": locations_search()}), "saveSearch")
    search_id = saved["savedSearch"]["id"] if target == "theirs" else target

    result = await actor(await f.user(Role.PARENT)).gql(DELETE, {"i": {"id": search_id}})

    assert payload(result, "deleteSavedSearch")["deletedId"] is None
    assert codes(result, "deleteSavedSearch") == [(["input", "id"], "NOT_FOUND")]
    assert await SavedSearch.all().count() == 1


# anonymous


async def test_saved_searches_as_anonymous_are_forbidden(actor: Any) -> None:
    await world(places=False)
    owner = actor(await f.user(Role.PARENT))
    saved = payload(await owner.gql(SAVE, {"i": locations_search()}), "saveSearch")
    anonymous = actor(None)

    listed = await anonymous.gql(NAMES)
    save = await anonymous.gql(SAVE, {"i": locations_search("Anoniem")})
    delete = await anonymous.gql(DELETE, {"i": {"id": saved["savedSearch"]["id"]}})

    assert error_codes(listed, "mySavedSearches") == [(["mySavedSearches"], "FORBIDDEN")]
    assert error_codes(save, "saveSearch") == [(["saveSearch"], "FORBIDDEN")]
    assert error_codes(delete, "deleteSavedSearch") == [(["deleteSavedSearch"], "FORBIDDEN")]
    assert [s.name for s in await SavedSearch.all()] == ["Dichtbij"]
