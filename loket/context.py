"""The per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry

from permissions.engine import AccessAudit, FieldPolicy
from permissions.viewer import Viewer

if TYPE_CHECKING:
    from resolvers.loaders import Loaders


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


Info = strawberry.Info[Context, None]
