"""Saved searches: public search filters a signed-in user keeps and re-runs."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import strawberry

from loket.context import Info
from models.searches import SearchKind as SearchKindModel
from schema.common import UserError
from schema.directives import arg, input_field, public
from schema.providers import (
    LastMinutePlaceConnection,
    LastMinuteSearchInput,
    LocationConnection,
    LocationSearchInput,
)

strawberry.enum(
    SearchKindModel,
    name="SearchKind",
    description="Which search a saved filter belongs to: searchLocations or lastMinutePlaces.",
)
SearchKind = SearchKindModel

_OWN = "the viewer's own saved search, reached only through guarded entry points"
_SEARCH = "public search results (MISSION.md section 3.8)"
_ERRORS = "the caller's own input"

SearchResults = Annotated[
    LocationConnection | LastMinutePlaceConnection,
    strawberry.union(
        "SearchResults",
        description="A page of results of a saved search: locations or last-minute places.",
    ),
]


@strawberry.type(description="A search filter the signed-in user saved, to run again later.")
class SavedSearch:
    filters: strawberry.Private[dict[str, Any]]
    id: strawberry.ID = public("Opaque identifier.", reason=_OWN)
    name: str = public("The name the user gave the search.", reason=_OWN)
    kind: SearchKind = public("Which search the filter belongs to.", reason=_OWN)
    created_at: datetime.datetime = public("When the search was saved.", reason=_OWN)

    @public(
        "Runs the search again with the saved filter, now: a LocationConnection for "
        "LOCATIONS, a LastMinutePlaceConnection for LAST_MINUTE. Null with a coded error "
        "when the saved filter no longer holds (e.g. a postal code that is gone).",
        reason=_SEARCH,
    )
    async def results(
        self,
        info: Info,
        first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
        after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
    ) -> SearchResults | None:
        from resolvers.searches import saved_search_results

        return await saved_search_results(self, first, after)


@strawberry.input(
    description="Save a search filter: the filter of the kind's search, validated as that "
    "search validates it (FILTER_MISMATCH when it is missing or of the other kind). At most "
    "20 per user (LIMIT)."
)
class SaveSearchInput:
    name: str = input_field("A name for the search, at most 100 characters (REQUIRED, TOO_LONG).")
    kind: SearchKind = input_field("Which search the filter belongs to.")
    location_filter: LocationSearchInput | None = input_field(
        "The filter, for kind LOCATIONS.", default=None
    )
    last_minute_filter: LastMinuteSearchInput | None = input_field(
        "The filter, for kind LAST_MINUTE.", default=None
    )


@strawberry.type(description="Result of saveSearch.")
class SaveSearchPayload:
    saved_search: SavedSearch | None = public(
        "The saved search; null when there are errors.", reason=_OWN
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason=_ERRORS
    )


@strawberry.input(description="Delete one of the signed-in user's saved searches.")
class DeleteSavedSearchInput:
    id: strawberry.ID = input_field("The saved search (NOT_FOUND unless it is the user's own).")


@strawberry.type(description="Result of deleteSavedSearch.")
class DeleteSavedSearchPayload:
    deleted_id: strawberry.ID | None = public(
        "Id of the deleted search; null when there are errors.", reason=_OWN
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason=_ERRORS
    )
