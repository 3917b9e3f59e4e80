"""Public provider data and search (locations, last-minute places) and publishing places."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import strawberry
from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from permissions.scopes import Params
from resolvers import validation
from resolvers.access import parse_id
from resolvers.loaders import LOCATION_COLUMNS, LOCATION_JOINS, location_from_row
from resolvers.validation import Errors
from schema.common import PageInfo, Weekday, decode_cursor, encode_cursor, page_size
from schema.directives import arg
from schema.providers import (
    LastMinutePlace,
    LastMinutePlaceConnection,
    LastMinutePlaceEdge,
    LastMinuteSearchInput,
    LocationConnection,
    LocationEdge,
    LocationSearchInput,
    NearInput,
    ProviderLocation,
    PublishLastMinutePlacesInput,
    PublishLastMinutePlacesPayload,
    WithdrawLastMinutePlacesInput,
    WithdrawLastMinutePlacesPayload,
)
from schema.regions import Municipality

MAX_KM = 100
MAX_AGE_MONTHS = 72
MAX_PLACES = 50
MAX_NOTE = 500
WEEKDAYS = [d.value for d in Weekday]
# Mean earth radius (IUGG), in km.
EARTH_KM = 6371.0088


async def locations(
    info: Info,
    municipality: Annotated[
        str | None, arg("NIS code to filter on.", reason="public search filter")
    ] = None,
    first: Annotated[
        int,
        arg("At most this many (1-100); searchLocations pages through all.", reason="pagination"),
    ] = 100,
) -> list[ProviderLocation]:
    """Provider locations, optionally of one municipality: the first `first` by
    municipality and name (bounded, so that the cost estimate holds)."""
    if municipality is not None and not validation.storable(municipality):
        return []
    rows = await fetch(
        f"SELECT {LOCATION_COLUMNS} FROM provider_location l {LOCATION_JOINS}"
        " WHERE ($1::text IS NULL OR l.municipality_id = $1) ORDER BY lm.name, l.name"
        " LIMIT $2",
        municipality,
        page_size(first),
    )
    return [location_from_row(r) for r in rows]


async def municipalities(info: Info) -> list[Municipality]:
    """Municipalities known to the platform."""
    rows = await fetch("SELECT nis_code, name FROM municipality ORDER BY name")
    return [Municipality(nis_code=r["nis_code"], name=r["name"]) for r in rows]


# Validated filters: the search and saved searches validate with the same functions.


@dataclass(frozen=True)
class Area:
    """Where to search: a municipality, a postal code and/or around a postal code's centre."""

    municipality: str | None = None
    postal_code: str | None = None
    near_postal_code: str | None = None
    max_km: float | None = None


@dataclass(frozen=True)
class LocationQuery:
    area: Area
    kinds: tuple[str, ...] = ()
    tariff: str | None = None
    age_months: int | None = None
    open_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class LastMinuteQuery:
    area: Area
    from_date: datetime.date | None = None
    to_date: datetime.date | None = None
    age_months: int | None = None
    days: tuple[str, ...] = ()


def _area(
    errors: Errors,
    path: list[str],
    municipality: str | None,
    postal_code: str | None,
    near: NearInput | None,
) -> Area:
    code = None
    if postal_code is not None:
        code = validation.postal_code(errors, [*path, "postalCode"], postal_code)
    near_code = max_km = None
    if near is not None:
        near_code = validation.postal_code(errors, [*path, "near", "postalCode"], near.postal_code)
        max_km = near.max_km
        if not 0 <= max_km <= MAX_KM:
            errors.add([*path, "near", "maxKm"], "OUT_OF_RANGE", f"Between 0 and {MAX_KM} km.")
    if municipality is not None and not validation.storable(municipality):
        errors.add(
            [*path, "municipalityNisCode"],
            "UNKNOWN_MUNICIPALITY",
            "No municipality has this NIS code.",
        )
    return Area(
        municipality=None if municipality is None else municipality.strip(),
        postal_code=code,
        near_postal_code=near_code,
        max_km=max_km,
    )


def _age(errors: Errors, path: list[str], value: int | None) -> None:
    if value is not None and not 0 <= value <= MAX_AGE_MONTHS:
        errors.add(path, "OUT_OF_RANGE", f"Between 0 and {MAX_AGE_MONTHS} months.")


def _days(values: list[Weekday] | None) -> tuple[str, ...]:
    return tuple(d for d in WEEKDAYS if d in {v.value for v in values or []})


def validate_location_filter(
    errors: Errors, path: list[str], data: LocationSearchInput | None
) -> LocationQuery:
    """Check a location search filter without the database (see `check_area` for that)."""
    if data is None:
        return LocationQuery(area=Area())
    _age(errors, [*path, "ageMonths"], data.age_months)
    return LocationQuery(
        area=_area(errors, path, data.municipality_nis_code, data.postal_code, data.near),
        kinds=tuple(sorted({k.value for k in data.kinds or []})),
        tariff=None if data.tariff is None else data.tariff.value,
        age_months=data.age_months,
        open_on=_days(data.open_on),
    )


def validate_last_minute_filter(
    errors: Errors, path: list[str], data: LastMinuteSearchInput | None
) -> LastMinuteQuery:
    """Check a last-minute search filter without the database (see `check_area`)."""
    if data is None:
        return LastMinuteQuery(area=Area())
    _age(errors, [*path, "ageMonths"], data.age_months)
    if data.from_date is not None and data.to_date is not None and data.to_date < data.from_date:
        errors.add([*path, "toDate"], "PERIOD_ORDER", "The end lies before the start.")
    return LastMinuteQuery(
        area=_area(errors, path, data.municipality_nis_code, data.postal_code, data.near),
        from_date=data.from_date,
        to_date=data.to_date,
        age_months=data.age_months,
        days=_days(data.days),
    )


def _area_checks(area: Area, p: Params) -> str:
    """SQL select list: do the area's municipality and postal codes exist, and the centre
    of the `near` postal code (the mean of its rows with coordinates)."""
    columns = ["true AS area_checked"]
    if area.municipality is not None:
        columns.append(
            f"EXISTS (SELECT 1 FROM municipality WHERE nis_code = {p.add(area.municipality)})"
            " AS municipality_known"
        )
    if area.postal_code is not None:
        columns.append(
            f"EXISTS (SELECT 1 FROM postal_code WHERE code = {p.add(area.postal_code)})"
            " AS postal_code_known"
        )
    if area.near_postal_code is not None:
        code = p.add(area.near_postal_code)
        located = "latitude IS NOT NULL AND longitude IS NOT NULL"
        columns += [
            f"EXISTS (SELECT 1 FROM postal_code WHERE code = {code}) AS origin_known",
            f"(SELECT avg(latitude) FROM postal_code WHERE code = {code} AND {located})"
            " AS origin_lat",
            f"(SELECT avg(longitude) FROM postal_code WHERE code = {code} AND {located})"
            " AS origin_lon",
        ]
    return ", ".join(columns)


def _area_errors(errors: Errors, path: list[str], area: Area, row: Any) -> None:
    if area.municipality is not None and not row["municipality_known"]:
        errors.add(
            [*path, "municipalityNisCode"],
            "UNKNOWN_MUNICIPALITY",
            "No municipality has this NIS code.",
        )
    if area.postal_code is not None and not row["postal_code_known"]:
        errors.add([*path, "postalCode"], "UNKNOWN_POSTAL_CODE", "No municipality has this code.")
    if area.near_postal_code is not None:
        if not row["origin_known"]:
            errors.add(
                [*path, "near", "postalCode"],
                "UNKNOWN_POSTAL_CODE",
                "No municipality has this postal code.",
            )
        elif row["origin_lat"] is None:
            errors.add(
                [*path, "near", "postalCode"],
                "POSTAL_CODE_NOT_LOCATED",
                "The centre of this postal code is not known; search by postal code instead.",
            )


async def check_area(errors: Errors, path: list[str], area: Area) -> None:
    """The database checks of a filter, on their own (for saving a search); the search
    itself makes them in its one statement."""
    p = Params()
    rows = await fetch(f"SELECT {_area_checks(area, p)}", *p.values)
    _area_errors(errors, path, area, rows[0])


def raise_first(errors: Errors) -> None:
    """A search answers bad input with a GraphQL error: the first problem, with its code."""
    if errors:
        first = errors.items[0]
        raise InvalidInput(first.code, f"{'.'.join(first.field)}: {first.message}")


# SQL shared by both searches: where a location is (its own coordinates, else its postal
# code's centre) and its great-circle distance (haversine) to the origin `c`.
POINT_JOINS = """
LEFT JOIN LATERAL (SELECT avg(pc.latitude) AS latitude, avg(pc.longitude) AS longitude
    FROM postal_code pc
    WHERE (l.latitude IS NULL OR l.longitude IS NULL) AND pc.code = l.postal_code
      AND pc.latitude IS NOT NULL AND pc.longitude IS NOT NULL) lpc ON true
CROSS JOIN LATERAL (SELECT
    CASE WHEN l.latitude IS NOT NULL AND l.longitude IS NOT NULL
         THEN l.latitude ELSE lpc.latitude END AS lat,
    CASE WHEN l.latitude IS NOT NULL AND l.longitude IS NOT NULL
         THEN l.longitude ELSE lpc.longitude END AS lon) pt
CROSS JOIN LATERAL (SELECT 2 * {earth}::float8 * asin(least(1::float8, sqrt(
    power(sin(radians(pt.lat - c.origin_lat) / 2), 2)
    + cos(radians(c.origin_lat)) * cos(radians(pt.lat))
      * power(sin(radians(pt.lon - c.origin_lon) / 2), 2)))) AS km) dist"""

SEARCH_SQL = """WITH c AS (SELECT {checks})
SELECT c.*, x.* FROM c LEFT JOIN LATERAL (
    SELECT {columns}, {distance} AS distance_km
    FROM {source}{points}
    WHERE {where}
    ORDER BY {order}
    LIMIT {limit}
) x ON true
ORDER BY {outer_order}"""


def _area_conditions(area: Area, p: Params) -> list[str]:
    conditions = []
    if area.municipality is not None:
        conditions.append(f"l.municipality_id = {p.add(area.municipality)}")
    if area.postal_code is not None:
        conditions.append(f"l.postal_code = {p.add(area.postal_code)}")
    if area.max_km is not None:
        conditions.append(f"dist.km <= {p.add(float(area.max_km))}::float8")
    return conditions


@dataclass(frozen=True)
class Sort:
    """A keyset order: its name (kept in cursors), SQL key expression and key type."""

    name: str
    key: str
    key_type: str
    output: str


BY_NAME = Sort("name", "l.name", "text", "name")
BY_DISTANCE = Sort("km", "dist.km", "float8", "distance_km")
BY_START = Sort("start", "p.period_start", "date", "place_period_start")


_KEY_TYPES: dict[str, Callable[[Any], Any]] = {
    "text": str,
    "float8": float,
    "date": datetime.date.fromisoformat,
}


def _after(sort: Sort, after: str | None, id_column: str, p: Params) -> str | None:
    """The keyset condition for `after`; INVALID_CURSOR when it is not one of this sort."""
    if after is None:
        return None
    try:
        name, key, last_id = orjson.loads(decode_cursor(after) or "")
        row_id = uuid.UUID(str(last_id))
        if name != sort.name:
            raise ValueError(name)
        value = _KEY_TYPES[sort.key_type](key)
        if isinstance(value, str) and not validation.storable(value):
            raise ValueError(name)  # no name holds it; PostgreSQL could not compare it
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput("INVALID_CURSOR", "after: not a cursor of this search.") from None
    return f"({sort.key}, {id_column}) > ({p.add(value)}::{sort.key_type}, {p.add(row_id)}::uuid)"


def _cursor(sort: Sort, key: Any, row_id: uuid.UUID) -> str:
    value = key.isoformat() if isinstance(key, datetime.date) else key
    return encode_cursor(orjson.dumps([sort.name, value, str(row_id)]).decode())


def _km(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _search(
    area: Area,
    conditions: list[str],
    p: Params,
    *,
    columns: str,
    source: str,
    id_column: str,
    id_output: str,
    sort: Sort,
    first: int,
    after: str | None,
    path: list[str],
) -> tuple[list[Any], bool]:
    """Run one page of a search in one statement: the area checks, then the page."""
    size = page_size(first)
    checks = _area_checks(area, p)
    near = area.near_postal_code is not None
    conditions = [*conditions, *_area_conditions(area, p)]
    keyset = _after(sort, after, id_column, p)
    if keyset is not None:
        conditions.append(keyset)
    sql = SEARCH_SQL.format(
        checks=checks,
        columns=columns,
        distance="dist.km" if near else "NULL::float8",
        source=source,
        points=POINT_JOINS.format(earth=EARTH_KM) if near else "",
        where=" AND ".join(conditions) or "true",
        order=f"{sort.key}, {id_column}",
        limit=p.add(size + 1),
        outer_order=f"x.{sort.output}, x.{id_output}",
    )
    rows = await fetch(sql, *p.values)
    errors = Errors()
    _area_errors(errors, path, area, rows[0])
    raise_first(errors)
    # No match leaves one row of checks with an empty page.
    rows = [r for r in rows if r[id_output] is not None]
    return rows[:size], len(rows) > size


async def search_location_page(
    query: LocationQuery, first: int, after: str | None, path: list[str]
) -> LocationConnection:
    """One page of a validated location search."""
    p = Params()
    conditions = []
    if query.kinds:
        conditions.append(f"l.kind = ANY({p.add(list(query.kinds))}::text[])")
    if query.tariff is not None:
        conditions.append(f"l.tariff = {p.add(query.tariff)}")
    if query.age_months is not None:
        age = p.add(query.age_months)
        conditions.append(f"l.min_age_months <= {age}::int AND {age}::int <= l.max_age_months")
    if query.open_on:
        conditions.append(f"l.opening_days @> {p.add(list(query.open_on))}::text[]")
    sort = BY_DISTANCE if query.area.near_postal_code is not None else BY_NAME
    rows, more = await _search(
        query.area,
        conditions,
        p,
        columns=LOCATION_COLUMNS,
        source=f"provider_location l {LOCATION_JOINS}",
        id_column="l.id",
        id_output="id",
        sort=sort,
        first=first,
        after=after,
        path=path,
    )
    edges = [
        LocationEdge(
            cursor=_cursor(sort, r[sort.output], r["id"]),
            node=location_from_row(r),
            distance_km=_km(r["distance_km"]),
        )
        for r in rows
    ]
    return LocationConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
    )


_PAGE_ARGS = "pagination"


async def search_locations(
    info: Info,
    filter: Annotated[
        LocationSearchInput | None,
        arg("What to look for; every filter given must hold.", reason="public search filter"),
    ] = None,
    first: Annotated[int, arg("Page size (1-100).", reason=_PAGE_ARGS)] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason=_PAGE_ARGS)] = None,
) -> LocationConnection | None:
    """Public location search; bad input raises a coded error, never a partial result."""
    errors = Errors()
    query = validate_location_filter(errors, ["filter"], filter)
    raise_first(errors)
    return await search_location_page(query, first, after, ["filter"])


PLACE_COLUMNS = """p.id AS place_id, p.period_start AS place_period_start,
    p.period_end AS place_period_end, p.days AS place_days,
    p.min_age_months AS place_min_age_months, p.max_age_months AS place_max_age_months,
    p.places AS place_places, p.note AS place_note, p.withdrawn_at AS place_withdrawn_at"""
PLACE_SOURCE = (
    f"last_minute_place p JOIN provider_location l ON l.id = p.location_id {LOCATION_JOINS}"
)


def place_from_row(r: Any) -> LastMinutePlace:
    return LastMinutePlace(
        id=strawberry.ID(str(r["place_id"])),
        location=location_from_row(r),
        period_start=r["place_period_start"],
        period_end=r["place_period_end"],
        days=[Weekday(d) for d in r["place_days"] or []],
        min_age_months=r["place_min_age_months"],
        max_age_months=r["place_max_age_months"],
        places=r["place_places"],
        note=r["place_note"],
        withdrawn_at=r["place_withdrawn_at"],
    )


def last_minute_conditions(query: LastMinuteQuery, p: Params) -> list[str]:
    """SQL conditions on a place `p`: published, not withdrawn, not past, and the query's
    own filters (the area's are `_area_conditions`). Shared with the compiled plan of
    `lastMinutePlaces` (`loket.planner`)."""
    # "Not past" by the database's date, as `ProviderLocation.lastMinutePlaces` counts.
    conditions = ["p.withdrawn_at IS NULL", "p.period_end >= current_date"]
    if query.from_date is not None:
        conditions.append(f"p.period_end >= {p.add(query.from_date)}::date")
    if query.to_date is not None:
        conditions.append(f"p.period_start <= {p.add(query.to_date)}::date")
    if query.age_months is not None:
        age = p.add(query.age_months)
        conditions.append(f"p.min_age_months <= {age}::int AND {age}::int <= p.max_age_months")
    if query.days:
        # Places migrated from a bare count have no days: they stand for every day.
        conditions.append(
            f"(p.days @> {p.add(list(query.days))}::text[] OR cardinality(p.days) = 0)"
        )
    return conditions


async def search_last_minute_page(
    query: LastMinuteQuery, first: int, after: str | None, path: list[str]
) -> LastMinutePlaceConnection:
    """One page of a validated last-minute search: published, not withdrawn, not past."""
    p = Params()
    conditions = last_minute_conditions(query, p)
    sort = BY_DISTANCE if query.area.near_postal_code is not None else BY_START
    rows, more = await _search(
        query.area,
        conditions,
        p,
        columns=f"{PLACE_COLUMNS}, {LOCATION_COLUMNS}",
        source=PLACE_SOURCE,
        id_column="p.id",
        id_output="place_id",
        sort=sort,
        first=first,
        after=after,
        path=path,
    )
    edges = [
        LastMinutePlaceEdge(
            cursor=_cursor(sort, r[sort.output], r["place_id"]),
            node=place_from_row(r),
            distance_km=_km(r["distance_km"]),
        )
        for r in rows
    ]
    return LastMinutePlaceConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
    )


async def last_minute_places(
    info: Info,
    filter: Annotated[
        LastMinuteSearchInput | None,
        arg("What to look for; every filter given must hold.", reason="public search filter"),
    ] = None,
    first: Annotated[int, arg("Page size (1-100).", reason=_PAGE_ARGS)] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason=_PAGE_ARGS)] = None,
) -> LastMinutePlaceConnection | None:
    """Public search of last-minute places; bad input raises a coded error."""
    errors = Errors()
    query = validate_last_minute_filter(errors, ["filter"], filter)
    raise_first(errors)
    return await search_last_minute_page(query, first, after, ["filter"])


# Providers publish and withdraw last-minute places of their own locations.


async def load_place(place_id: uuid.UUID) -> LastMinutePlace | None:
    rows = await fetch(
        f"SELECT {PLACE_COLUMNS}, {LOCATION_COLUMNS} FROM {PLACE_SOURCE} WHERE p.id = $1",
        place_id,
    )
    return place_from_row(rows[0]) if rows else None


def _validate_publication(
    errors: Errors, data: PublishLastMinutePlacesInput, today: datetime.date
) -> dict[str, Any]:
    path = ["input"]
    if data.period_end < data.period_start:
        errors.add([*path, "periodEnd"], "PERIOD_ORDER", "The end lies before the start.")
    if data.period_end < today:
        errors.add([*path, "periodEnd"], "DATE_IN_PAST", "The period has already ended.")
    if not data.days:
        errors.add([*path, "days"], "REQUIRED", "Give at least one day.")
    seen: set[Weekday] = set()
    for i, day in enumerate(data.days):
        if day in seen:
            errors.add([*path, "days", str(i)], "DUPLICATE_DAY", "Each day only once.")
        seen.add(day)
    for key, value in (
        ("minAgeMonths", data.min_age_months),
        ("maxAgeMonths", data.max_age_months),
    ):
        _age(errors, [*path, key], value)
    if data.min_age_months > data.max_age_months:
        errors.add([*path, "maxAgeMonths"], "AGE_ORDER", "The oldest age lies below the youngest.")
    if not 1 <= data.places <= MAX_PLACES:
        errors.add([*path, "places"], "OUT_OF_RANGE", f"Between 1 and {MAX_PLACES} places.")
    note = validation.storable_text(data.note).strip()
    if len(note) > MAX_NOTE:
        errors.add([*path, "note"], "TOO_LONG", f"At most {MAX_NOTE} characters.")
    return {
        "period_start": data.period_start,
        "period_end": data.period_end,
        "days": _days(data.days),
        "min_age_months": data.min_age_months,
        "max_age_months": data.max_age_months,
        "places": data.places,
        "note": note,
    }


async def publish_last_minute_places(
    info: Info,
    input: Annotated[PublishLastMinutePlacesInput, arg("The places to publish.")],
) -> PublishLastMinutePlacesPayload:
    """Publish free places of a location the viewer works for; they are public at once."""
    viewer = info.context.viewer
    errors = Errors()
    location_id = parse_id(input.location_id)
    if location_id is None or location_id not in viewer.location_ids:
        errors.add(["input", "locationId"], "NOT_FOUND", "No such location of yours.")
    values = _validate_publication(errors, input, datetime.date.today())
    if errors:
        return PublishLastMinutePlacesPayload(last_minute_place=None, errors=errors.items)
    async with in_transaction():
        # Against the location itself, under its lock: no more places than its capacity
        # over overlapping publications, and only days it is open.
        await fetch("SELECT 1 FROM provider_location WHERE id = $1 FOR UPDATE", location_id)
        place = await fetch(
            """SELECT l.capacity, l.opening_days,
                   (SELECT coalesce(sum(p.places), 0) FROM last_minute_place p
                    WHERE p.location_id = l.id AND p.withdrawn_at IS NULL
                      AND p.period_start <= $3 AND p.period_end >= $2) AS published
               FROM provider_location l WHERE l.id = $1""",
            location_id,
            values["period_start"],
            values["period_end"],
        )
        capacity, open_days, published = place[0]
        if open_days and not set(values["days"]) <= set(open_days):
            errors.add(["input", "days"], "CLOSED_DAY", "The location is not open on every day.")
        if published + values["places"] > capacity:
            errors.add(
                ["input", "places"],
                "OVER_CAPACITY",
                f"With places already published for that period, more than the capacity "
                f"({capacity}).",
            )
        if errors:
            return PublishLastMinutePlacesPayload(last_minute_place=None, errors=errors.items)
        rows = await fetch(
            """INSERT INTO last_minute_place (id, location_id, period_start, period_end, days,
                   min_age_months, max_age_months, places, note, created_at, created_by_id)
               VALUES (gen_random_uuid(), $1, $2, $3, $4::text[], $5, $6, $7, $8, now(), $9)
               RETURNING id""",
            location_id,
            values["period_start"],
            values["period_end"],
            list(values["days"]),
            values["min_age_months"],
            values["max_age_months"],
            values["places"],
            values["note"],
            viewer.user_id,
        )
    return PublishLastMinutePlacesPayload(
        last_minute_place=await load_place(rows[0]["id"]), errors=[]
    )


async def withdraw_last_minute_places(
    info: Info,
    input: Annotated[WithdrawLastMinutePlacesInput, arg("The places to withdraw.")],
) -> WithdrawLastMinutePlacesPayload:
    """Withdraw published places of a location the viewer works for."""
    viewer = info.context.viewer
    errors = Errors()
    place_id = parse_id(input.id)
    rows = []
    if place_id is not None:
        rows = await fetch(
            "SELECT withdrawn_at FROM last_minute_place WHERE id = $1"
            " AND location_id = ANY($2::uuid[])",
            place_id,
            list(viewer.location_ids),
        )
    if not rows:
        errors.add(["input", "id"], "NOT_FOUND", "No such places at a location of yours.")
    elif rows[0]["withdrawn_at"] is not None:
        errors.add(["input", "id"], "ALREADY_WITHDRAWN", "These places are already withdrawn.")
    if errors or place_id is None:
        return WithdrawLastMinutePlacesPayload(last_minute_place=None, errors=errors.items)
    async with in_transaction():
        done = await fetch(
            "UPDATE last_minute_place SET withdrawn_at = now()"
            " WHERE id = $1 AND withdrawn_at IS NULL RETURNING id",
            place_id,
        )
    if not done:
        # Withdrawn by a colleague in the meantime.
        errors.add(["input", "id"], "ALREADY_WITHDRAWN", "These places are already withdrawn.")
        return WithdrawLastMinutePlacesPayload(last_minute_place=None, errors=errors.items)
    return WithdrawLastMinutePlacesPayload(last_minute_place=await load_place(place_id), errors=[])
