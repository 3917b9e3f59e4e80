"""The counter's demand overview: aggregate counts for its region, no personal data.

A counter (lokaal loket kinderopvang) follows demand in its municipalities; the overview
is reached only through `Query.demandOverview`, whose policy decides who may read it.
Every number is computed by SQL aggregation; no row of a dossier leaves the database.
"""

from __future__ import annotations

import datetime
from typing import Any

import strawberry

from schema.directives import public
from schema.providers import ProviderLocation
from schema.regions import Municipality

_AGGREGATE = "aggregate count without personal data; demandOverview itself is guarded"
_WINDOW = "the window the caller asked for (or its default)"


@strawberry.type(description="A number of care requests in one month and one municipality.")
class MonthMunicipalityCount:
    month: datetime.date = public("The month (its first day).", reason=_AGGREGATE)
    municipality: Municipality = public(
        "The municipality where the families live (residence).", reason=_AGGREGATE
    )
    count: int = public("Number of care requests.", reason=_AGGREGATE)


@strawberry.type(description="A number of applications at one location.")
class LocationCount:
    location: ProviderLocation = public("The location.", reason="public provider data")
    count: int = public("Number of applications.", reason=_AGGREGATE)


@strawberry.type(
    description=(
        "Demand in the viewer's region (counter staff: the counter's municipalities; admins: "
        "all municipalities), as counts only. A care request belongs to the region when the "
        "family lives there or any chosen location lies there; it is counted once, under the "
        "municipality where the family lives."
    )
)
class DemandOverview:
    # NIS codes of the region; None for every municipality (admins).
    region: strawberry.Private[tuple[str, ...] | None]
    # Results shared by fields computed from the same statement (within one request).
    cache: strawberry.Private[dict[str, Any]]
    from_month: datetime.date = public("First month of the window (its first day).", reason=_WINDOW)
    to_month: datetime.date = public("Last month of the window (its first day).", reason=_WINDOW)

    @public(
        "Open care requests of the region by desired start month (within the window) and "
        "municipality of residence.",
        reason=_AGGREGATE,
    )
    async def open_requests(self) -> list[MonthMunicipalityCount]:
        from resolvers.counters import open_requests

        return await open_requests(self)

    @public(
        "Open care requests of the region on the emergency list now (desired start date at "
        "most the emergency period away), whatever their month.",
        reason=_AGGREGATE,
    )
    async def emergency_list_size(self) -> int:
        from resolvers.counters import emergency_list_size

        return await emergency_list_size(self)

    @public(
        "Applications at locations of the region still pending longer than the answer "
        "period: flagged to the counter.",
        reason=_AGGREGATE,
    )
    async def unanswered_applications(self) -> int:
        from resolvers.counters import unanswered_by_location

        return sum(c.count for c in await unanswered_by_location(self))

    @public(
        "The same unanswered applications per location, most first.",
        reason=_AGGREGATE,
    )
    async def unanswered_by_location(self) -> list[LocationCount]:
        from resolvers.counters import unanswered_by_location

        return await unanswered_by_location(self)

    @public(
        "Care requests of the region fulfilled (a place accepted) by month of fulfilment "
        "(within the window, Belgian time) and municipality of residence.",
        reason=_AGGREGATE,
    )
    async def fulfilled_requests(self) -> list[MonthMunicipalityCount]:
        from resolvers.counters import fulfilled_requests

        return await fulfilled_requests(self)
