"""The signed-in viewer."""

from __future__ import annotations

import strawberry

from loket.context import Info
from schema.accounts import Viewer


def me(info: Info) -> Viewer | None:
    """The signed-in user and the role this request acts in."""
    v = info.context.viewer
    if v.user_id is None or v.email is None:
        return None
    return Viewer(
        id=strawberry.ID(str(v.user_id)),
        email=v.email,
        role=v.role,
        acting_as=v.acting_as,
        roles=list(v.roles),
    )
