"""Accounts: the signed-in viewer, signing up and in, and a partner joining a household."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from loket.context import Info
from models.accounts import Role
from schema.common import UserError
from schema.directives import Public, input_field, public
from schema.households import Household, ParentInput

if TYPE_CHECKING:
    from schema.providers import ProviderLocation

_OWN = "the viewer's own account"
_CREDENTIALS = "the caller's own credentials, sent to create or open their account"
_SESSION = "the caller's own new session, returned only to them"
_STRUCTURE = "payload structure; the dossier's fields carry their own policy"
_ERRORS = "the caller's own input"


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
    location_ids: strawberry.Private[list[uuid.UUID]]

    @public(
        "The locations the viewer works for in this role (provider staff and integrators), "
        "e.g. to open their inboxes.",
        reason=_OWN,
    )
    async def locations(
        self, info: Info
    ) -> list[Annotated[ProviderLocation, strawberry.lazy("schema.providers")]]:
        found = await info.context.loaders.locations.load_many(self.location_ids)
        return [loc for loc in found if loc is not None]


def _credential(description: str) -> Any:
    return strawberry.field(description=description, directives=[Public(reason=_CREDENTIALS)])


@strawberry.input(description="A new parent account.")
class SignUpInput:
    email: str = _credential("Email address to sign in with (compared case-insensitively).")
    password: str = _credential(
        "Password: long enough (PASSWORD_TOO_SHORT tells the minimum), at most 1024 "
        "characters, not the email address. Never stored, logged or returned."
    )
    display_name: str = _credential("Name to greet the user by.")


@strawberry.enum(description="Where a new session is kept.")
class SessionKind(Enum):
    TOKEN = strawberry.enum_value(
        "TOKEN",
        description="Returned as a bearer token, for `Authorization: Bearer <token>`.",
    )
    COOKIE = strawberry.enum_value(
        "COOKIE",
        description=(
            "Set as the HttpOnly, Secure, SameSite=Strict cookie `loket_session` (path "
            "/graphql) for a first-party browser frontend; no token is returned. Requests "
            "it signs in, and this signIn itself, must send the header `X-Loket-CSRF: 1` "
            "(GET queries excepted)."
        ),
    )


@strawberry.input(description="Email address and password of an existing account.")
class SignInInput:
    email: str = _credential("Email address of the account.")
    password: str = _credential("Password of the account. Never stored, logged or returned.")
    session: SessionKind = strawberry.field(
        default=SessionKind.TOKEN,
        description="Where to keep the session: a bearer token (default) or a cookie.",
        directives=[Public(reason=_CREDENTIALS)],
    )


@strawberry.type(description="Result of signUp: a session for the new account.")
class SignUpPayload:
    token: str | None = public(
        "Bearer token for `Authorization: Bearer <token>`; null when there are errors.",
        reason=_SESSION,
    )
    expires_at: datetime.datetime | None = public(
        "When the token stops working; null when there are errors.", reason=_SESSION
    )
    viewer: Viewer | None = public("The new account; null when there are errors.", reason=_OWN)
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason=_ERRORS
    )


@strawberry.type(description="Result of signIn: a session for the account.")
class SignInPayload:
    token: str | None = public(
        "Bearer token for `Authorization: Bearer <token>`; null when there are errors and "
        "for a COOKIE session (the cookie holds it).",
        reason=_SESSION,
    )
    expires_at: datetime.datetime | None = public(
        "When the session stops working; null when there are errors.", reason=_SESSION
    )
    viewer: Viewer | None = public(
        "The signed-in account; null when there are errors.", reason=_OWN
    )
    errors: list[UserError] = public(
        "What went wrong; empty on success. The same code for an unknown email, a wrong "
        "password and a closed account.",
        reason=_ERRORS,
    )


@strawberry.type(description="Result of signOut.")
class SignOutPayload:
    cookie_cleared: bool = public(
        "Whether the request came with the session cookie, now cleared. A bearer token "
        "cannot be recalled: the client discards it, and it stops working when it expires.",
        reason="describes the caller's own request",
    )


@strawberry.type(description="Result of invitePartner: a one-time code for the partner.")
class InvitePartnerPayload:
    code: str | None = public(
        "The invitation code, shown only this once (only a digest is kept); give it to "
        "the partner. Null when there are errors.",
        reason="a one-time secret returned only to the parent who made it",
    )
    expires_at: datetime.datetime | None = public(
        "Until when the code can be used; null when there are errors.",
        reason="describes the caller's own invitation",
    )
    errors: list[UserError] = public("What went wrong; empty on success.", reason=_ERRORS)


@strawberry.input(description="Join a household as its second parent, with an invitation code.")
class AcceptPartnerInvitationInput:
    code: str = input_field("The invitation code the other parent received.")
    partner: ParentInput = input_field("The partner (the signed-in parent).")


@strawberry.type(description="Result of acceptPartnerInvitation.")
class AcceptPartnerInvitationPayload:
    household: Household | None = public(
        "The joined dossier, null when there are errors.", reason=_STRUCTURE
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason=_ERRORS
    )
