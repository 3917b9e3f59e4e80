"""First end-to-end checks of the app through HTTP."""

from __future__ import annotations

from models.accounts import Role
from tests import factories as f


async def test_me_as_parent(actor) -> None:
    u = await f.user(Role.PARENT, email="a@example.test")
    result = await actor(u).gql("{ me { email role roles } }")
    assert result == {
        "data": {"me": {"email": "a@example.test", "role": "PARENT", "roles": ["PARENT"]}}
    }
