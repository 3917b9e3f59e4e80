"""Public location search, last-minute places (search, publish, withdraw)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

import pytest

from models.accounts import Role
from models.providers import LastMinutePlace
from models.regions import PostalCode
from tests import factories as f

LOCATIONS = """
query($filter: LocationSearchInput, $first: Int, $after: String) {
  searchLocations(filter: $filter, first: $first, after: $after) {
    edges { cursor distanceKm node { id name lastMinutePlaces municipality { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
PLACES = """
query($filter: LastMinuteSearchInput, $first: Int, $after: String) {
  lastMinutePlaces(filter: $filter, first: $first, after: $after) {
    edges { cursor distanceKm node { id periodStart periodEnd days minAgeMonths maxAgeMonths
                                     places note withdrawnAt location { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
PLACE_FIELDS = """lastMinutePlace { id periodStart periodEnd days minAgeMonths maxAgeMonths
    places note withdrawnAt location { id lastMinutePlaces } }
  errors { field code message }"""
PUBLISH = f"""mutation($i: PublishLastMinutePlacesInput!) {{
  publishLastMinutePlaces(input: $i) {{ {PLACE_FIELDS} }} }}"""
WITHDRAW = f"""mutation($i: WithdrawLastMinutePlacesInput!) {{
  withdrawLastMinutePlaces(input: $i) {{ {PLACE_FIELDS} }} }}"""

# Postal code centres (approximate, as bpost-based data sets give them).
LEUVEN = (50.8798, 4.7005)
HERENT = (50.908, 4.672)
MECHELEN = (51.028, 4.48)
OWN_POINT = (50.8775, 4.7044)  # location A's own coordinates, near Leuven's centre


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


async def town(nis: str, name: str, code: str, centre: tuple[float, float] | None) -> Any:
    muni = await f.municipality(nis, name)
    lat, lon = centre if centre else (None, None)
    await PostalCode.create(code=code, municipality=muni, latitude=lat, longitude=lon)
    return muni


async def location(muni: Any, name: str | None, postal_code: str, **kw: Any) -> Any:
    loc = await f.location(muni, name, **kw)
    loc.postal_code = postal_code
    await loc.save()
    return loc


@dataclass
class World:
    munis: dict[str, Any]
    locs: dict[str, Any]
    places: dict[str, Any]

    def ids(self, *names: str) -> list[str]:
        return [str(self.locs[n].id) for n in names]

    def place_ids(self, *names: str) -> list[str]:
        return [str(self.places[n].id) for n in names]


WEEK = ["MON", "TUE", "WED", "THU", "FRI"]


async def world(*, places: bool = True) -> World:
    """Five locations: A and B in Leuven (A with its own coordinates), C in Herent, D in
    Mechelen, E in Bertem, whose postal code has no known centre."""
    munis = {
        "leuven": await town("24062", "Leuven", "3000", LEUVEN),
        "herent": await town("24038", "Herent", "3020", HERENT),
        "mechelen": await town("12025", "Mechelen", "2800", MECHELEN),
        "bertem": await town("24009", "Bertem", "3060", None),
    }
    locs = {
        "A": await location(
            munis["leuven"],
            "Aardbei",
            "3000",
            latitude=OWN_POINT[0],
            longitude=OWN_POINT[1],
            kind="GROUP",
            tariff="INCOME_RELATED",
            min_age_months=0,
            max_age_months=36,
            opening_days=WEEK,
        ),
        "B": await location(
            munis["leuven"],
            "Bij de Bron",
            "3000",
            kind="FAMILY",
            tariff="FREE_PRICE",
            subsidy_step=None,
            min_age_months=6,
            max_age_months=36,
            opening_days=["MON", "TUE", "WED"],
        ),
        "C": await location(
            munis["herent"],
            "Circus",
            "3020",
            kind="GROUP",
            tariff="FREE_PRICE",
            subsidy_step=None,
            min_age_months=0,
            max_age_months=48,
            opening_days=WEEK,
        ),
        "D": await location(
            munis["mechelen"],
            "Dolfijn",
            "2800",
            kind="FAMILY",
            tariff="INCOME_RELATED",
            min_age_months=0,
            max_age_months=36,
            opening_days=[*WEEK, "SAT"],
        ),
        "E": await location(
            munis["bertem"],
            "Egel",
            "3060",
            kind="GROUP",
            tariff="INCOME_RELATED",
            min_age_months=0,
            max_age_months=36,
            opening_days=WEEK,
        ),
    }
    made: dict[str, Any] = {}
    if places:

        async def offer(loc: str, start: int, end: int, days: list[str], **kw: Any) -> Any:
            return await LastMinutePlace.create(
                location=locs[loc],
                period_start=f.days(start),
                period_end=f.days(end),
                days=days,
                min_age_months=kw.pop("min_age", 0),
                max_age_months=kw.pop("max_age", 36),
                places=kw.pop("places", 1),
                **kw,
            )

        made = {
            "P1": await offer("A", 1, 10, ["MON", "TUE"], max_age=12, places=2, note="Bel ons"),
            "P2": await offer("C", 5, 20, ["WED"], min_age=12),
            "P3": await offer("D", -5, 3, WEEK, places=3),
            "P4": await offer("B", 2, 9, WEEK, withdrawn_at=datetime.datetime.now(datetime.UTC)),
            "P5": await offer("A", -10, -1, WEEK),
            # migrated from a bare count: no days recorded
            "P6": await offer("E", 0, 30, []),
        }
    return World(munis, locs, made)


def data(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in result, result
    value: dict[str, Any] = result["data"][name]
    return value


async def search(client: Any, filter: dict[str, Any] | None = None, **kw: Any) -> list[str]:
    result = await client.gql(LOCATIONS, {"filter": filter, **kw})
    return [e["node"]["id"] for e in data(result, "searchLocations")["edges"]]


async def search_places(client: Any, filter: dict[str, Any] | None = None, **kw: Any) -> list[str]:
    result = await client.gql(PLACES, {"filter": filter, **kw})
    return [e["node"]["id"] for e in data(result, "lastMinutePlaces")["edges"]]


def error_codes(result: dict[str, Any], name: str) -> list[tuple[list[Any], str]]:
    assert result["data"] in (None, {name: None}), result
    return [(e["path"], e["extensions"]["code"]) for e in result["errors"]]


# searchLocations: each filter alone


async def test_search_locations_as_anonymous_without_filter_sorts_by_name(actor: Any) -> None:
    w = await world()

    result = await actor(None).gql(LOCATIONS, {})

    page = data(result, "searchLocations")
    assert [e["node"]["id"] for e in page["edges"]] == w.ids("A", "B", "C", "D", "E")
    assert [e["node"]["name"] for e in page["edges"]] == [
        "Aardbei",
        "Bij de Bron",
        "Circus",
        "Dolfijn",
        "Egel",
    ]
    assert [e["distanceKm"] for e in page["edges"]] == [None] * 5
    assert page["pageInfo"] == {"hasNextPage": False, "endCursor": page["edges"][-1]["cursor"]}
    # the published, current places of each location (P4 withdrawn, P5 past)
    assert [e["node"]["lastMinutePlaces"] for e in page["edges"]] == [2, 0, 1, 3, 1]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"municipalityNisCode": "24062"}, ["A", "B"]),
        ({"municipalityNisCode": "12025"}, ["D"]),
        ({"postalCode": "3020"}, ["C"]),
        ({"postalCode": " 3000 "}, ["A", "B"]),
        ({"kinds": ["FAMILY"]}, ["B", "D"]),
        ({"kinds": ["GROUP", "FAMILY"]}, ["A", "B", "C", "D", "E"]),
        ({"kinds": []}, ["A", "B", "C", "D", "E"]),
        ({"tariff": "FREE_PRICE"}, ["B", "C"]),
        ({"tariff": "INCOME_RELATED"}, ["A", "D", "E"]),
        ({"ageMonths": 40}, ["C"]),
        ({"ageMonths": 3}, ["A", "C", "D", "E"]),
        ({"ageMonths": 36}, ["A", "B", "C", "D", "E"]),
        ({"ageMonths": 0}, ["A", "C", "D", "E"]),
        ({"openOn": ["SAT"]}, ["D"]),
        ({"openOn": ["THU"]}, ["A", "C", "D", "E"]),
        ({"openOn": ["MON", "WED"]}, ["A", "B", "C", "D", "E"]),
        ({"openOn": ["WED", "THU"]}, ["A", "C", "D", "E"]),
        ({"openOn": ["SUN"]}, []),
        # the postal code exists, no location has it
        ({"municipalityNisCode": "24009", "kinds": ["FAMILY"]}, []),
    ],
)
async def test_search_locations_as_anonymous_by_one_filter(
    actor: Any, filter: dict[str, Any], expected: list[str]
) -> None:
    w = await world(places=False)

    assert await search(actor(None), filter) == w.ids(*expected)


async def test_search_locations_near_a_postal_code_sorts_by_distance(actor: Any) -> None:
    w = await world(places=False)

    result = await actor(None).gql(
        LOCATIONS, {"filter": {"near": {"postalCode": "3000", "maxKm": 10}}}
    )

    # B has no coordinates: its postal code's centre, the origin itself; A its own point
    edges = data(result, "searchLocations")["edges"]
    assert [e["node"]["id"] for e in edges] == w.ids("B", "A", "C")
    assert [e["distanceKm"] for e in edges] == [
        0.0,
        pytest.approx(haversine(LEUVEN, OWN_POINT), abs=0.01),
        pytest.approx(haversine(LEUVEN, HERENT), abs=0.01),
    ]
    assert 0.2 < edges[1]["distanceKm"] < 0.5
    assert 3 < edges[2]["distanceKm"] < 5


@pytest.mark.parametrize(
    ("near", "expected"),
    [
        ({"postalCode": "3000", "maxKm": 100}, ["B", "A", "C", "D"]),
        ({"postalCode": "3000", "maxKm": 0}, ["B"]),
        ({"postalCode": "3000", "maxKm": 3.5}, ["B", "A"]),
        ({"postalCode": "2800", "maxKm": 100}, ["D", "C", "B", "A"]),
        ({"postalCode": "2800", "maxKm": 19}, ["D", "C"]),
        ({"postalCode": "2800", "maxKm": 18.9}, ["D"]),
        ({"postalCode": "3020", "maxKm": 5}, ["C", "B", "A"]),
        ({"postalCode": "3020", "maxKm": 4}, ["C", "B"]),
    ],
)
async def test_search_locations_near_leaves_out_locations_without_a_known_place(
    actor: Any, near: dict[str, Any], expected: list[str]
) -> None:
    # E (postal code without centre, no own coordinates) is never found by distance
    w = await world(places=False)

    assert await search(actor(None), {"near": near}) == w.ids(*expected)


async def test_search_locations_as_parent_combines_filters(actor: Any) -> None:
    w = await world(places=False)
    client = actor(await f.user(Role.PARENT))

    near = {"near": {"postalCode": "3000", "maxKm": 30}}
    assert await search(
        client, {**near, "tariff": "INCOME_RELATED", "ageMonths": 3, "openOn": ["FRI"]}
    ) == w.ids("A", "D")
    assert await search(client, {**near, "kinds": ["FAMILY"], "ageMonths": 12}) == w.ids("B", "D")
    assert await search(client, {"municipalityNisCode": "24062", "kinds": ["GROUP"]}) == w.ids("A")
    assert await search(
        client, {"postalCode": "3000", "near": {"postalCode": "3020", "maxKm": 10}}
    ) == w.ids("B", "A")
    assert await search(client, {"municipalityNisCode": "24062", "postalCode": "3020"}) == []


async def test_search_locations_pagination_visits_every_row_once(actor: Any) -> None:
    # given: ties on the sort key (same name, same distance) are broken by id
    w = await world(places=False)
    same = [await location(w.munis["leuven"], "Bij de Bron", "3000") for _ in range(4)]
    client = actor(None)

    for filter, first in (
        (None, 1),
        (None, 2),
        (None, 3),
        ({"near": {"postalCode": "3000", "maxKm": 100}}, 2),
        ({"near": {"postalCode": "3000", "maxKm": 100}}, 3),
    ):
        seen: list[str] = []
        after = None
        while True:
            result = await client.gql(LOCATIONS, {"filter": filter, "first": first, "after": after})
            page = data(result, "searchLocations")
            assert len(page["edges"]) <= first
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        everything = await search(client, filter, first=100)
        assert seen == everything
        assert len(set(seen)) == len(seen) == (9 if filter is None else 8)
    assert set(await search(client, {"postalCode": "3000"})) == {
        *w.ids("A", "B"),
        *(str(s.id) for s in same),
    }


@pytest.mark.parametrize(
    ("filter", "code", "where"),
    [
        ({"near": {"postalCode": "3000", "maxKm": 101}}, "OUT_OF_RANGE", "filter.near.maxKm"),
        ({"near": {"postalCode": "3000", "maxKm": -1}}, "OUT_OF_RANGE", "filter.near.maxKm"),
        ({"ageMonths": -1}, "OUT_OF_RANGE", "filter.ageMonths"),
        ({"ageMonths": 73}, "OUT_OF_RANGE", "filter.ageMonths"),
        ({"ageMonths": 2_000_000_000}, "OUT_OF_RANGE", "filter.ageMonths"),
        ({"postalCode": "9999"}, "UNKNOWN_POSTAL_CODE", "filter.postalCode"),
        ({"postalCode": "30"}, "INVALID_POSTAL_CODE", "filter.postalCode"),
        ({"near": {"postalCode": "9999", "maxKm": 5}}, "UNKNOWN_POSTAL_CODE", "near.postalCode"),
        (
            {"near": {"postalCode": "3060", "maxKm": 5}},
            "POSTAL_CODE_NOT_LOCATED",
            "near.postalCode",
        ),
        ({"near": {"postalCode": "abcd", "maxKm": 5}}, "INVALID_POSTAL_CODE", "near.postalCode"),
        ({"municipalityNisCode": "99999"}, "UNKNOWN_MUNICIPALITY", "filter.municipalityNisCode"),
    ],
)
async def test_search_locations_as_anonymous_with_bad_input_gets_a_code(
    actor: Any, filter: dict[str, Any], code: str, where: str
) -> None:
    await world(places=False)

    result = await actor(None).gql(LOCATIONS, {"filter": filter})

    assert error_codes(result, "searchLocations") == [(["searchLocations"], code)]
    assert where in result["errors"][0]["message"]


async def test_search_locations_with_a_bad_cursor_gets_invalid_cursor(actor: Any) -> None:
    await world(places=False)
    client = actor(None)
    page = data(await client.gql(LOCATIONS, {"first": 1}), "searchLocations")
    by_name = page["pageInfo"]["endCursor"]

    for filter, after in (
        (None, "not a cursor"),
        (None, "WyJuYW1lIl0="),  # a JSON list of the wrong shape
        ({"near": {"postalCode": "3000", "maxKm": 10}}, by_name),  # another sort's cursor
    ):
        result = await client.gql(LOCATIONS, {"filter": filter, "after": after})
        assert error_codes(result, "searchLocations") == [(["searchLocations"], "INVALID_CURSOR")]


async def test_search_locations_statements_do_not_grow_with_page_size(
    actor: Any, count_statements: Any
) -> None:
    w = await world()
    for _ in range(6):
        await location(w.munis["leuven"], None, "3000")
    client = actor(None)
    counts = []
    for first in (1, 9):
        for filter in (None, {"near": {"postalCode": "3000", "maxKm": 50}, "ageMonths": 6}):
            count_statements.statements.clear()
            result = await client.gql(LOCATIONS, {"filter": filter, "first": first})
            assert len(data(result, "searchLocations")["edges"]) == first
            counts.append(len(count_statements))
    assert counts == [counts[0]] * 4
    assert counts[0] == 1


# lastMinutePlaces


async def test_last_minute_places_as_anonymous_without_filter(actor: Any) -> None:
    w = await world()

    result = await actor(None).gql(PLACES, {})

    # published, not withdrawn (P4), not past (P5); sorted by start of the period
    edges = data(result, "lastMinutePlaces")["edges"]
    assert [e["node"]["id"] for e in edges] == w.place_ids("P3", "P6", "P1", "P2")
    assert edges[2]["node"] == {
        "id": str(w.places["P1"].id),
        "periodStart": str(f.days(1)),
        "periodEnd": str(f.days(10)),
        "days": ["MON", "TUE"],
        "minAgeMonths": 0,
        "maxAgeMonths": 12,
        "places": 2,
        "note": "Bel ons",
        "withdrawnAt": None,
        "location": {"id": str(w.locs["A"].id), "name": "Aardbei"},
    }
    assert [e["distanceKm"] for e in edges] == [None] * 4


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"municipalityNisCode": "24062"}, ["P1"]),
        ({"postalCode": "3020"}, ["P2"]),
        ({"near": {"postalCode": "3000", "maxKm": 30}}, ["P1", "P2", "P3"]),
        ({"near": {"postalCode": "2800", "maxKm": 5}}, ["P3"]),
        ({"fromDate": str(f.days(11))}, ["P6", "P2"]),
        ({"toDate": str(f.days(0))}, ["P3", "P6"]),
        ({"fromDate": str(f.days(4)), "toDate": str(f.days(4))}, ["P6", "P1"]),
        ({"ageMonths": 24}, ["P3", "P6", "P2"]),
        ({"ageMonths": 12}, ["P3", "P6", "P1", "P2"]),
        ({"days": ["MON"]}, ["P3", "P6", "P1"]),
        ({"days": ["WED"]}, ["P3", "P6", "P2"]),
        ({"days": ["MON", "TUE"]}, ["P3", "P6", "P1"]),
        ({"days": ["SAT"]}, ["P6"]),
        (
            {"near": {"postalCode": "3000", "maxKm": 10}, "ageMonths": 6, "days": ["MON"]},
            ["P1"],
        ),
        ({"municipalityNisCode": "12025", "fromDate": str(f.days(4))}, []),
        ({"postalCode": "2800", "days": ["TUE"]}, ["P3"]),
    ],
)
async def test_last_minute_places_as_anonymous_by_filter(
    actor: Any, filter: dict[str, Any], expected: list[str]
) -> None:
    w = await world()

    assert await search_places(actor(None), filter) == w.place_ids(*expected)


async def test_last_minute_places_near_gives_distances(actor: Any) -> None:
    w = await world()

    result = await actor(None).gql(
        PLACES, {"filter": {"near": {"postalCode": "3000", "maxKm": 30}}}
    )

    edges = data(result, "lastMinutePlaces")["edges"]
    assert [e["node"]["location"]["id"] for e in edges] == w.ids("A", "C", "D")
    assert [e["distanceKm"] for e in edges] == [
        pytest.approx(haversine(LEUVEN, OWN_POINT), abs=0.01),
        pytest.approx(haversine(LEUVEN, HERENT), abs=0.01),
        pytest.approx(haversine(LEUVEN, MECHELEN), abs=0.01),
    ]


@pytest.mark.parametrize(
    ("filter", "code"),
    [
        ({"fromDate": str(f.days(5)), "toDate": str(f.days(4))}, "PERIOD_ORDER"),
        ({"ageMonths": 73}, "OUT_OF_RANGE"),
        ({"ageMonths": -3}, "OUT_OF_RANGE"),
        ({"near": {"postalCode": "3000", "maxKm": 500}}, "OUT_OF_RANGE"),
        ({"near": {"postalCode": "1234", "maxKm": 5}}, "UNKNOWN_POSTAL_CODE"),
        ({"postalCode": "1234"}, "UNKNOWN_POSTAL_CODE"),
        ({"municipalityNisCode": "1"}, "UNKNOWN_MUNICIPALITY"),
    ],
)
async def test_last_minute_places_with_bad_input_gets_a_code(
    actor: Any, filter: dict[str, Any], code: str
) -> None:
    await world()

    result = await actor(None).gql(PLACES, {"filter": filter})

    assert error_codes(result, "lastMinutePlaces") == [(["lastMinutePlaces"], code)]


async def test_last_minute_places_pagination_visits_every_row_once(actor: Any) -> None:
    w = await world()
    # ties on the start date
    extra = [
        await LastMinutePlace.create(
            location=w.locs["B"],
            period_start=f.days(1),
            period_end=f.days(2),
            days=["MON"],
            places=1,
        )
        for _ in range(3)
    ]
    client = actor(None)
    for filter, first in ((None, 1), (None, 3), ({"near": {"postalCode": "3020", "maxKm": 50}}, 2)):
        seen: list[str] = []
        after = None
        while True:
            result = await client.gql(PLACES, {"filter": filter, "first": first, "after": after})
            page = data(result, "lastMinutePlaces")
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == await search_places(client, filter, first=100)
        assert len(set(seen)) == len(seen) == (7 if filter is None else 6)
    assert {str(p.id) for p in extra} <= set(seen)


async def test_last_minute_places_statements_do_not_grow_with_page_size(
    actor: Any, count_statements: Any
) -> None:
    await world()
    client = actor(None)
    counts = []
    for first in (1, 4):
        count_statements.statements.clear()
        result = await client.gql(PLACES, {"first": first})
        assert len(data(result, "lastMinutePlaces")["edges"]) == first
        counts.append(len(count_statements))
    assert counts == [1, 1]


# publishLastMinutePlaces


def publish_input(loc: Any, **kw: Any) -> dict[str, Any]:
    return {
        "locationId": str(loc.id),
        "periodStart": str(f.days(2)),
        "periodEnd": str(f.days(12)),
        "days": ["TUE", "MON"],
        "minAgeMonths": 3,
        "maxAgeMonths": 30,
        "places": 2,
        "note": "  Bel de verantwoordelijke.  ",
        **kw,
    }


async def test_publish_last_minute_places_as_provider_of_the_location(actor: Any) -> None:
    w = await world(places=False)
    provider = await f.user(Role.PROVIDER, provider_location=w.locs["B"])

    result = await actor(provider).gql(PUBLISH, {"i": publish_input(w.locs["B"])})

    payload = data(result, "publishLastMinutePlaces")
    assert payload["errors"] == []
    place = payload["lastMinutePlace"]
    assert {k: v for k, v in place.items() if k != "id"} == {
        "periodStart": str(f.days(2)),
        "periodEnd": str(f.days(12)),
        "days": ["MON", "TUE"],
        "minAgeMonths": 3,
        "maxAgeMonths": 30,
        "places": 2,
        "note": "Bel de verantwoordelijke.",
        "withdrawnAt": None,
        "location": {"id": str(w.locs["B"].id), "lastMinutePlaces": 2},
    }
    stored = await LastMinutePlace.get(id=place["id"])
    assert stored.location_id == w.locs["B"].id  # type: ignore[attr-defined]
    assert stored.created_by_id == provider.id  # type: ignore[attr-defined]
    # public at once
    assert await search_places(actor(None), {"municipalityNisCode": "24062"}) == [place["id"]]


async def test_publish_last_minute_places_as_integrator_of_the_organisation(actor: Any) -> None:
    w = await world(places=False)
    integrator = await f.user(Role.INTEGRATOR, provider_organisation=await w.locs["C"].organisation)

    result = await actor(integrator).gql(PUBLISH, {"i": publish_input(w.locs["C"])})

    assert data(result, "publishLastMinutePlaces")["errors"] == []
    assert await LastMinutePlace.filter(location_id=w.locs["C"].id).count() == 1


async def test_publish_last_minute_places_as_provider_of_another_location(actor: Any) -> None:
    w = await world(places=False)
    provider = await f.user(Role.PROVIDER, provider_location=w.locs["A"])

    result = await actor(provider).gql(PUBLISH, {"i": publish_input(w.locs["B"])})

    payload = data(result, "publishLastMinutePlaces")
    assert payload["lastMinutePlace"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "locationId"], "NOT_FOUND")
    ]
    assert await LastMinutePlace.all().count() == 0


@pytest.mark.parametrize("who", ["anonymous", "parent", "loket", "admin"])
async def test_publish_last_minute_places_as_non_provider_is_forbidden(
    actor: Any, who: str
) -> None:
    w = await world(places=False)
    users = {
        "anonymous": None,
        "parent": await f.user(Role.PARENT),
        "loket": await f.user(Role.LOKET, counter=await f.counter("Loket", w.munis["leuven"])),
        "admin": await f.user(Role.ADMIN),
    }

    result = await actor(users[who]).gql(PUBLISH, {"i": publish_input(w.locs["A"])})

    assert error_codes(result, "publishLastMinutePlaces") == [
        (["publishLastMinutePlaces"], "FORBIDDEN")
    ]
    assert await LastMinutePlace.all().count() == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"periodStart": str(f.days(5)), "periodEnd": str(f.days(4))},
            [(["input", "periodEnd"], "PERIOD_ORDER")],
        ),
        (
            {"periodStart": str(f.days(-9)), "periodEnd": str(f.days(-1))},
            [(["input", "periodEnd"], "DATE_IN_PAST")],
        ),
        ({"days": []}, [(["input", "days"], "REQUIRED")]),
        ({"days": ["MON", "TUE", "MON"]}, [(["input", "days", "2"], "DUPLICATE_DAY")]),
        ({"places": 0}, [(["input", "places"], "OUT_OF_RANGE")]),
        ({"places": 51}, [(["input", "places"], "OUT_OF_RANGE")]),
        ({"minAgeMonths": -1}, [(["input", "minAgeMonths"], "OUT_OF_RANGE")]),
        ({"maxAgeMonths": 73}, [(["input", "maxAgeMonths"], "OUT_OF_RANGE")]),
        ({"minAgeMonths": 20, "maxAgeMonths": 10}, [(["input", "maxAgeMonths"], "AGE_ORDER")]),
        ({"note": "x" * 501}, [(["input", "note"], "TOO_LONG")]),
        (
            {
                "periodStart": str(f.days(-3)),
                "periodEnd": str(f.days(-4)),
                "days": [],
                "places": 99,
                "note": "x" * 600,
            },
            [
                (["input", "periodEnd"], "PERIOD_ORDER"),
                (["input", "periodEnd"], "DATE_IN_PAST"),
                (["input", "days"], "REQUIRED"),
                (["input", "places"], "OUT_OF_RANGE"),
                (["input", "note"], "TOO_LONG"),
            ],
        ),
    ],
)
async def test_publish_last_minute_places_as_provider_with_bad_input(
    actor: Any, changes: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    w = await world(places=False)
    provider = await f.user(Role.PROVIDER, provider_location=w.locs["A"])

    result = await actor(provider).gql(PUBLISH, {"i": publish_input(w.locs["A"], **changes)})

    payload = data(result, "publishLastMinutePlaces")
    assert payload["lastMinutePlace"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == expected
    assert await LastMinutePlace.all().count() == 0


async def test_publish_last_minute_places_ending_today_is_allowed(actor: Any) -> None:
    w = await world(places=False)
    provider = await f.user(Role.PROVIDER, provider_location=w.locs["A"])
    changes = {"periodStart": str(f.days(-2)), "periodEnd": str(f.days(0)), "note": ""}

    result = await actor(provider).gql(PUBLISH, {"i": publish_input(w.locs["A"], **changes)})

    assert data(result, "publishLastMinutePlaces")["errors"] == []


# withdrawLastMinutePlaces


async def test_withdraw_last_minute_places_as_provider_of_the_location(actor: Any) -> None:
    w = await world()
    client = actor(await f.user(Role.PROVIDER, provider_location=w.locs["A"]))
    place = str(w.places["P1"].id)

    result = await client.gql(WITHDRAW, {"i": {"id": place}})

    payload = data(result, "withdrawLastMinutePlaces")
    assert payload["errors"] == []
    assert payload["lastMinutePlace"]["id"] == place
    assert payload["lastMinutePlace"]["withdrawnAt"] is not None
    assert payload["lastMinutePlace"]["location"]["lastMinutePlaces"] == 0
    assert (await LastMinutePlace.get(id=place)).withdrawn_at is not None
    assert place not in await search_places(actor(None))

    again = await client.gql(WITHDRAW, {"i": {"id": place}})
    assert [(e["field"], e["code"]) for e in data(again, "withdrawLastMinutePlaces")["errors"]] == [
        (["input", "id"], "ALREADY_WITHDRAWN")
    ]


@pytest.mark.parametrize("target", ["P2", "no-uuid", "00000000-0000-0000-0000-000000000000"])
async def test_withdraw_last_minute_places_as_provider_of_another_location(
    actor: Any, target: str
) -> None:
    w = await world()
    client = actor(await f.user(Role.PROVIDER, provider_location=w.locs["A"]))
    place_id = str(w.places[target].id) if target in w.places else target

    result = await client.gql(WITHDRAW, {"i": {"id": place_id}})

    payload = data(result, "withdrawLastMinutePlaces")
    assert payload["lastMinutePlace"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["input", "id"], "NOT_FOUND")]
    assert (await LastMinutePlace.get(id=w.places["P2"].id)).withdrawn_at is None


@pytest.mark.parametrize("who", ["anonymous", "parent"])
async def test_withdraw_last_minute_places_as_non_provider_is_forbidden(
    actor: Any, who: str
) -> None:
    w = await world()
    user = None if who == "anonymous" else await f.user(Role.PARENT)

    result = await actor(user).gql(WITHDRAW, {"i": {"id": str(w.places["P1"].id)}})

    assert error_codes(result, "withdrawLastMinutePlaces") == [
        (["withdrawLastMinutePlaces"], "FORBIDDEN")
    ]
    assert (await LastMinutePlace.get(id=w.places["P1"].id)).withdrawn_at is None


async def test_publish_last_minute_places_beyond_capacity_or_on_closed_days_is_refused(
    actor: Any,
) -> None:
    # given: a location with 5 places, open Monday to Friday, 4 places published already
    w = await world(places=False)
    loc = w.locs["B"]
    await loc.__class__.filter(id=loc.id).update(
        capacity=5, opening_days=["MON", "TUE", "WED", "THU", "FRI"]
    )
    provider = actor(await f.user(Role.PROVIDER, provider_location=loc))
    first = await provider.gql(PUBLISH, {"i": publish_input(loc, places=4)})
    assert data(first, "publishLastMinutePlaces")["errors"] == []

    # when
    over = await provider.gql(PUBLISH, {"i": publish_input(loc, places=2)})
    weekend = await provider.gql(PUBLISH, {"i": publish_input(loc, places=1, days=["SAT"])})

    # then
    def refusals(result: dict[str, Any]) -> list[tuple[list[str], str]]:
        payload = data(result, "publishLastMinutePlaces")
        assert payload["lastMinutePlace"] is None
        return [(e["field"], e["code"]) for e in payload["errors"]]

    assert refusals(over) == [(["input", "places"], "OVER_CAPACITY")]
    assert refusals(weekend) == [(["input", "days"], "CLOSED_DAY")]


async def test_search_locations_with_a_cursor_of_the_wrong_shape_is_an_input_error(
    actor: Any,
) -> None:
    from schema.common import encode_cursor

    await world(places=False)
    bad = encode_cursor('["name", "A", 5]')

    result = await actor(None).gql(
        "query($a: String) { searchLocations(after: $a) { edges { cursor } } }", {"a": bad}
    )

    assert [e["extensions"]["code"] for e in result["errors"]] == ["INVALID_CURSOR"]


async def test_search_near_a_postal_code_shared_by_two_municipalities_finds_its_own(
    actor: Any,
) -> None:
    # given: postal code 2000 lies in two municipalities with different centres; a
    # location with that code and no coordinates of its own
    from models.regions import PostalCode

    a = await f.municipality("11001", "Aartselaar")
    b = await f.municipality("11002", "Antwerpen")
    await PostalCode.create(code="2000", municipality=a, latitude=51.20, longitude=4.40)
    await PostalCode.create(code="2000", municipality=b, latitude=51.22, longitude=4.42)
    loc = await f.location(a)
    await loc.__class__.filter(id=loc.id).update(postal_code="2000")

    result = await actor(None).gql(
        LOCATIONS, {"filter": {"near": {"postalCode": "2000", "maxKm": 1}}}
    )

    # then: the code's centre is the same for the search and for the location
    edges = result["data"]["searchLocations"]["edges"]
    assert [(e["node"]["id"], e["distanceKm"]) for e in edges] == [(str(loc.id), 0.0)]
