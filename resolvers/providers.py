"""Public provider and municipality data."""

from __future__ import annotations

from typing import Annotated

from loket.context import Info
from loket.db import fetch
from resolvers.loaders import LOCATION_COLUMNS, LOCATION_JOINS, location_from_row
from schema.directives import arg
from schema.providers import ProviderLocation
from schema.regions import Municipality


async def locations(
    info: Info,
    municipality: Annotated[
        str | None, arg("NIS code to filter on.", reason="public search filter")
    ] = None,
) -> list[ProviderLocation]:
    """Provider locations, optionally of one municipality."""
    rows = await fetch(
        f"SELECT {LOCATION_COLUMNS} FROM provider_location l {LOCATION_JOINS}"
        " WHERE ($1::text IS NULL OR l.municipality_id = $1) ORDER BY lm.name, l.name",
        municipality,
    )
    return [location_from_row(r) for r in rows]


async def municipalities(info: Info) -> list[Municipality]:
    """Municipalities known to the platform."""
    rows = await fetch("SELECT nis_code, name FROM municipality ORDER BY name")
    return [Municipality(nis_code=r["nis_code"], name=r["name"]) for r in rows]
