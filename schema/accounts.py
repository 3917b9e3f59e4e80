"""The signed-in viewer."""

from __future__ import annotations

import strawberry

from models.accounts import Role
from schema.directives import public

_OWN = "the viewer's own account"


@strawberry.type(description="The signed-in user and the role this request acts in.")
class Viewer:
    id: strawberry.ID = public("User id.", reason=_OWN)
    email: str = public("Sign-in email.", reason=_OWN)
    role: Role | None = public("The role this request acts in.", reason=_OWN)
    acting_as: Role | None = public(
        "For an integrator, the role whose grants it uses.", reason=_OWN
    )
    roles: list[Role] = public(
        "All roles the user holds (choose one per request with X-Loket-Role).", reason=_OWN
    )
