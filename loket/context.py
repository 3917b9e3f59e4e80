"""The per-request context every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry

from permissions.engine import AccessAudit, FieldPolicy
from permissions.viewer import Viewer

if TYPE_CHECKING:
    from resolvers.loaders import Loaders


@dataclass(frozen=True)
class DisclosureTarget:
    """The legal disclosure an admin's request reads for (header `X-Loket-Disclosure`):
    the request's access-log rows about its dossier are written linked to it, so a secret
    one hides them from the family from the start. Rows about other dossiers are not."""

    id: uuid.UUID
    household_id: uuid.UUID

    def for_household(self, household_id: uuid.UUID | None) -> uuid.UUID | None:
        """The disclosure a read of `household_id` is linked to, if any."""
        return self.id if household_id == self.household_id else None


@dataclass
class Context:
    viewer: Viewer
    field_policy: FieldPolicy
    loaders: Loaders
    request_id: str
    # None for parents: their reads of their own dossier are not logged.
    audit: AccessAudit | None
    request: Any = None
    response: Any = None
    # Set only for an admin's request naming a disclosure (checked before execution).
    disclosure: DisclosureTarget | None = None
    # A differential run beside a compiled plan (loket.planner): the access-log rows it
    # would write are collected here instead.
    shadow: list[dict[str, Any]] | None = None


Info = strawberry.Info[Context, None]
