"""Saved searches: save, list, delete one's own search filters and run them again."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import orjson
import strawberry
from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from models.searches import SearchKind
from resolvers import providers, validation
from resolvers.access import lock, parse_id
from resolvers.validation import Errors
from schema.common import Weekday
from schema.directives import arg
from schema.providers import (
    LastMinutePlaceConnection,
    LastMinuteSearchInput,
    LocationConnection,
    LocationKind,
    LocationSearchInput,
    NearInput,
    TariffKind,
)
from schema.searches import (
    DeleteSavedSearchInput,
    DeleteSavedSearchPayload,
    SavedSearch,
    SaveSearchInput,
    SaveSearchPayload,
)

MAX_SAVED = 20
MAX_NAME = 100

# The filters are stored as given, in the shape of the GraphQL input (camelCase keys),
# and validated again on every run.


def _near_json(near: NearInput | None) -> dict[str, Any] | None:
    return None if near is None else {"postalCode": near.postal_code, "maxKm": near.max_km}


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def location_filter_json(f: LocationSearchInput) -> dict[str, Any]:
    return _compact(
        {
            "municipalityNisCode": f.municipality_nis_code,
            "postalCode": f.postal_code,
            "near": _near_json(f.near),
            "kinds": None if f.kinds is None else [k.value for k in f.kinds],
            "tariff": None if f.tariff is None else f.tariff.value,
            "ageMonths": f.age_months,
            "openOn": None if f.open_on is None else [d.value for d in f.open_on],
        }
    )


def last_minute_filter_json(f: LastMinuteSearchInput) -> dict[str, Any]:
    return _compact(
        {
            "municipalityNisCode": f.municipality_nis_code,
            "postalCode": f.postal_code,
            "near": _near_json(f.near),
            "fromDate": None if f.from_date is None else f.from_date.isoformat(),
            "toDate": None if f.to_date is None else f.to_date.isoformat(),
            "ageMonths": f.age_months,
            "days": None if f.days is None else [d.value for d in f.days],
        }
    )


def _near(value: Any) -> NearInput | None:
    return (
        None if value is None else NearInput(postal_code=value["postalCode"], max_km=value["maxKm"])
    )


def _date(value: Any) -> datetime.date | None:
    return None if value is None else datetime.date.fromisoformat(value)


def _location_filter(d: dict[str, Any]) -> LocationSearchInput:
    return LocationSearchInput(
        municipality_nis_code=d.get("municipalityNisCode"),
        postal_code=d.get("postalCode"),
        near=_near(d.get("near")),
        kinds=None if d.get("kinds") is None else [LocationKind(k) for k in d["kinds"]],
        tariff=None if d.get("tariff") is None else TariffKind(d["tariff"]),
        age_months=d.get("ageMonths"),
        open_on=None if d.get("openOn") is None else [Weekday(x) for x in d["openOn"]],
    )


def _last_minute_filter(d: dict[str, Any]) -> LastMinuteSearchInput:
    return LastMinuteSearchInput(
        municipality_nis_code=d.get("municipalityNisCode"),
        postal_code=d.get("postalCode"),
        near=_near(d.get("near")),
        from_date=_date(d.get("fromDate")),
        to_date=_date(d.get("toDate")),
        age_months=d.get("ageMonths"),
        days=None if d.get("days") is None else [Weekday(x) for x in d["days"]],
    )


def _saved_search(r: Any) -> SavedSearch:
    filters = r["filters"]
    if isinstance(filters, str):
        filters = orjson.loads(filters)
    return SavedSearch(
        filters=filters,
        id=strawberry.ID(str(r["id"])),
        name=r["name"],
        kind=SearchKind(r["kind"]),
        created_at=r["created_at"],
    )


async def my_saved_searches(info: Info) -> list[SavedSearch] | None:
    """The signed-in user's saved searches, oldest first."""
    rows = await fetch(
        "SELECT id, name, kind, filters, created_at FROM saved_search WHERE user_id = $1"
        " ORDER BY created_at, id",
        info.context.viewer.user_id,
    )
    return [_saved_search(r) for r in rows]


def _stored(parse: Any, filters: dict[str, Any]) -> Any:
    try:
        return parse(filters)
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "INVALID_SAVED_FILTER", "The saved filter can no longer be read."
        ) from None


async def saved_search_results(
    search: SavedSearch, first: int, after: str | None
) -> LocationConnection | LastMinutePlaceConnection:
    """Run a saved search again, validating its stored filter as the search does."""
    errors = Errors()
    path = ["filter"]
    if search.kind is SearchKind.LOCATIONS:
        query = providers.validate_location_filter(
            errors, path, _stored(_location_filter, search.filters)
        )
        providers.raise_first(errors)
        return await providers.search_location_page(query, first, after, path)
    last_minute = providers.validate_last_minute_filter(
        errors, path, _stored(_last_minute_filter, search.filters)
    )
    providers.raise_first(errors)
    return await providers.search_last_minute_page(last_minute, first, after, path)


async def save_search(
    info: Info, input: Annotated[SaveSearchInput, arg("The search to save.")]
) -> SaveSearchPayload:
    """Save a search filter for the signed-in user, validated as the search validates it."""
    viewer = info.context.viewer
    errors = Errors()
    name = validation.required_text(errors, ["input", "name"], input.name, MAX_NAME)
    locations = input.kind is SearchKind.LOCATIONS
    wanted, other = "locationFilter", "lastMinuteFilter"
    if not locations:
        wanted, other = other, wanted
    path = ["input", wanted]
    filters: dict[str, Any] = {}
    area: providers.Area | None = None
    if locations and input.location_filter is not None:
        area = providers.validate_location_filter(errors, path, input.location_filter).area
        filters = location_filter_json(input.location_filter)
    elif not locations and input.last_minute_filter is not None:
        area = providers.validate_last_minute_filter(errors, path, input.last_minute_filter).area
        filters = last_minute_filter_json(input.last_minute_filter)
    if area is None:
        errors.add(path, "FILTER_MISMATCH", f"Kind {input.kind.value} needs {wanted}.")
    if (input.last_minute_filter if locations else input.location_filter) is not None:
        errors.add(
            ["input", other], "FILTER_MISMATCH", f"Kind {input.kind.value} takes no {other}."
        )
    if not errors and area is not None:
        await providers.check_area(errors, path, area)
    if errors:
        return SaveSearchPayload(saved_search=None, errors=errors.items)

    async with in_transaction():
        # One user's saves one at a time, so two concurrent calls cannot pass the limit.
        await lock(f"saved:{viewer.user_id}")
        count = await fetch(
            "SELECT count(*) AS n FROM saved_search WHERE user_id = $1", viewer.user_id
        )
        if count[0]["n"] >= MAX_SAVED:
            errors.add(["input"], "LIMIT", f"At most {MAX_SAVED} saved searches: delete one first.")
            return SaveSearchPayload(saved_search=None, errors=errors.items)
        rows = await fetch(
            """INSERT INTO saved_search (id, user_id, name, kind, filters, created_at)
               VALUES (gen_random_uuid(), $1, $2, $3, $4::jsonb, now())
               RETURNING id, name, kind, filters, created_at""",
            viewer.user_id,
            name,
            input.kind.value,
            orjson.dumps(filters).decode(),
        )
    return SaveSearchPayload(saved_search=_saved_search(rows[0]), errors=[])


async def delete_saved_search(
    info: Info, input: Annotated[DeleteSavedSearchInput, arg("The search to delete.")]
) -> DeleteSavedSearchPayload:
    """Delete one of the signed-in user's own saved searches."""
    errors = Errors()
    search_id = parse_id(input.id)
    rows = []
    if search_id is not None:
        async with in_transaction():
            rows = await fetch(
                "DELETE FROM saved_search WHERE id = $1 AND user_id = $2 RETURNING id",
                search_id,
                info.context.viewer.user_id,
            )
    if not rows:
        errors.add(["input", "id"], "NOT_FOUND", "No such saved search of yours.")
        return DeleteSavedSearchPayload(deleted_id=None, errors=errors.items)
    return DeleteSavedSearchPayload(deleted_id=strawberry.ID(str(rows[0]["id"])), errors=[])
