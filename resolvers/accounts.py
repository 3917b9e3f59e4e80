"""Accounts: the viewer, signing up and in, and inviting a partner into a household."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import secrets
import sys
import uuid
from typing import Annotated, Any

import strawberry
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from loket import limits, passwords, sessions
from loket.auth import mint_token
from loket.context import Info
from loket.db import fetch
from loket.settings import settings
from models.accounts import Membership as MembershipModel
from models.accounts import Role
from models.accounts import User as UserModel
from models.households import Invitation as InvitationModel
from models.households import InvitationKind
from models.households import Parent as ParentModel
from permissions.policy import Ability
from permissions.viewer import RoleSelectionError, load_viewer
from permissions.viewer import Viewer as ViewerModel
from resolvers import uniqueness, validation
from resolvers.access import lock, viewer_parent, write_grant
from resolvers.households import check_residence, load_household, validate_parent
from resolvers.validation import Errors
from schema.accounts import (
    AcceptPartnerInvitationInput,
    AcceptPartnerInvitationPayload,
    InvitePartnerPayload,
    SessionKind,
    SignInInput,
    SignInPayload,
    SignOutPayload,
    SignUpInput,
    SignUpPayload,
    Viewer,
)
from schema.common import UserError
from schema.directives import arg

PASSWORD_MAX_LENGTH = 1024
SIGN_IN_WINDOW_SECONDS = 900
# The longest address an account can have (the column's length).
_EMAIL_MAX_LENGTH: int = UserModel._meta.fields_map["email"].max_length  # type: ignore[attr-defined]
MAX_PARENTS = 2
_PUBLIC_INPUT = "input of a public mutation: the caller's own credentials"


def viewer_type(v: ViewerModel) -> Viewer | None:
    if v.user_id is None or v.email is None:
        return None
    return Viewer(
        id=strawberry.ID(str(v.user_id)),
        email=v.email,
        role=v.role,
        acting_as=v.acting_as,
        roles=list(v.roles),
        location_ids=list(v.location_ids),
    )


def me(info: Info) -> Viewer | None:
    """The signed-in user and the role this request acts in."""
    return viewer_type(info.context.viewer)


# Signing up and in


def can_sign_tokens() -> bool:
    return settings.jwt_secret is not None or settings.jwt_private_key_file is not None


def _session(user_id: uuid.UUID) -> tuple[str, datetime.datetime]:
    """A token for the user and when it expires (whole seconds, as in its `exp` claim)."""
    issued = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    token = mint_token(str(user_id), now=issued)
    return token, issued + datetime.timedelta(seconds=settings.jwt_ttl_seconds)


def _unavailable() -> list[UserError]:
    errors = Errors()
    errors.add([], "SIGN_IN_UNAVAILABLE", "Signing in is not available right now.")
    return errors.items


def normalized_email(errors: Errors, path: list[str], value: str) -> str:
    """The address as accounts store it: validated, normalised, lower-cased (so the
    uniqueness of accounts ignores case)."""
    if not value.strip():
        errors.add(path, "REQUIRED", "This field is required.")
        return ""
    return validation.email(errors, path, value.strip()).lower()


def _check_password(errors: Errors, path: list[str], password: str, emails: set[str]) -> None:
    if not password:
        errors.add(path, "REQUIRED", "This field is required.")
    elif len(password) < settings.password_min_length:
        errors.add(
            path,
            "PASSWORD_TOO_SHORT",
            f"Use at least {settings.password_min_length} characters.",
        )
    elif len(password) > PASSWORD_MAX_LENGTH:
        errors.add(path, "PASSWORD_TOO_LONG", f"Use at most {PASSWORD_MAX_LENGTH} characters.")
    elif password.strip().lower() in emails - {""}:
        errors.add(path, "PASSWORD_IS_EMAIL", "Do not use your email address as password.")


async def sign_up(
    info: Info, input: Annotated[SignUpInput, arg("The new account.", reason=_PUBLIC_INPUT)]
) -> SignUpPayload:
    """Create a parent account and open a session for it, all or nothing."""
    if not can_sign_tokens():
        return SignUpPayload(token=None, expires_at=None, viewer=None, errors=_unavailable())
    errors = Errors()
    email = normalized_email(errors, ["input", "email"], input.email)
    display_name = validation.required_text(
        errors, ["input", "displayName"], input.display_name, 200
    )
    _check_password(
        errors, ["input", "password"], input.password, {email, input.email.strip().lower()}
    )
    if errors:
        return SignUpPayload(token=None, expires_at=None, viewer=None, errors=errors.items)
    # Sign-ups per IP are limited: EMAIL_TAKEN tells whether an address has an account,
    # so the form must not become a way to test many addresses.
    subject = sessions.limit_subject(sessions.client_ip(info.context.request))
    if not await limits.hit(
        limits.digest("sign-up-ip", subject), settings.sign_ups_per_ip_per_hour, 3600
    ):
        errors.add(["input"], "RATE_LIMITED", "Too many sign-ups from here; try again later.")
        return SignUpPayload(token=None, expires_at=None, viewer=None, errors=errors.items)

    # argon2 takes tens of milliseconds of CPU: keep it off the event loop and out of
    # the transaction.
    password_hash = await asyncio.to_thread(passwords.hash_password, input.password)
    user: UserModel | None = None
    try:
        async with in_transaction():
            # Serialise sign-ups of one address; the unique index is the last word.
            await lock(f"sign-up:{email}")
            if not await UserModel.exists(email=email):
                user = await UserModel.create(
                    email=email, display_name=display_name, password_hash=password_hash
                )
                await MembershipModel.create(user_id=user.id, role=Role.PARENT)
    except IntegrityError:
        user = None
    if user is None:
        errors.add(["input", "email"], "EMAIL_TAKEN", "An account with this email exists.")
        return SignUpPayload(token=None, expires_at=None, viewer=None, errors=errors.items)
    token, expires_at = _session(user.id)
    viewer = Viewer(
        id=strawberry.ID(str(user.id)),
        email=email,
        role=Role.PARENT,
        acting_as=None,
        roles=[Role.PARENT],
        location_ids=[],
    )
    return SignUpPayload(token=token, expires_at=expires_at, viewer=viewer, errors=[])


async def _account_viewer(user: UserModel) -> Viewer:
    """The account as `me` would show it without X-Loket-Role: with several roles, none
    is chosen yet (the client names one per request)."""
    async with connections.get("default").acquire_connection() as conn:
        try:
            found = await load_viewer(conn, user.id, None)
        except RoleSelectionError:
            found = None
        if found is None:
            rows = await conn.fetch(
                """SELECT DISTINCT role FROM membership
                   WHERE user_id = $1 AND revoked_at IS NULL""",
                user.id,
            )
            found = ViewerModel(
                user_id=user.id, email=user.email, roles=tuple(sorted(Role(r[0]) for r in rows))
            )
    shown = viewer_type(found)
    assert shown is not None
    return shown


async def _ip_allows_sign_in(info: Info) -> tuple[bool, str]:
    """Count a sign-in attempt against the caller's IP; False once the IP's failures in
    this window exceed the limit. (The IP's key for the success count, to record on
    success.)

    Attempts are counted before the password is checked, so parallel guesses cannot
    overrun the limit; a success is counted too, and subtracts exactly its own attempt,
    so only failures add up and an attacker's own good sign-ins buy no extra guesses.
    """
    subject = sessions.limit_subject(sessions.client_ip(info.context.request))
    succeeded = limits.digest("sign-in-ip-ok", subject)
    allowance = settings.sign_in_failures_per_ip + await limits.used(
        succeeded, SIGN_IN_WINDOW_SECONDS
    )
    attempts = limits.digest("sign-in-ip", subject)
    return await limits.hit(attempts, allowance, SIGN_IN_WINDOW_SECONDS), succeeded


async def sign_in(
    info: Info, input: Annotated[SignInInput, arg("The credentials.", reason=_PUBLIC_INPUT)]
) -> SignInPayload:
    """Open a session for an account. Unknown address, wrong password and closed account
    answer alike, after the same work; failures are limited per address and per client
    IP, per window. A COOKIE session is set as the session cookie, not returned."""
    if not can_sign_tokens():
        return SignInPayload(token=None, expires_at=None, viewer=None, errors=_unavailable())
    errors = Errors()
    cookie = input.session is SessionKind.COOKIE
    if cookie and not sessions.has_csrf_header(info.context.request.headers):
        # Else a page on another site could sign the browser in to the attacker's account.
        errors.add(
            [],
            "CSRF_REQUIRED",
            f"A COOKIE session needs the header '{sessions.CSRF_HEADER}: {sessions.CSRF_VALUE}'.",
        )
        return SignInPayload(token=None, expires_at=None, viewer=None, errors=errors.items)
    ip_allowed, ip_succeeded = await _ip_allows_sign_in(info)
    if not ip_allowed:
        errors.add(
            [],
            "RATE_LIMITED",
            "Too many failed sign-ins from your network; try again in 15 minutes.",
        )
        return SignInPayload(token=None, expires_at=None, viewer=None, errors=errors.items)
    email = validation.email(Errors(), ["input", "email"], input.email.strip()).lower()
    key = limits.digest("sign-in", email)
    # Count the attempt before checking it, so parallel guesses cannot overrun the
    # limit; a success resets the window, so in effect failures are counted.
    if not await limits.hit(key, settings.sign_in_failures_per_window, SIGN_IN_WINDOW_SECONDS):
        errors.add(
            ["input", "email"],
            "TOO_MANY_ATTEMPTS",
            "Too many failed sign-ins for this address; try again in 15 minutes.",
        )
        return SignInPayload(token=None, expires_at=None, viewer=None, errors=errors.items)
    # An address no account can have (too long for the column, or text PostgreSQL
    # cannot hold) finds no user, after the same work.
    user = (
        await UserModel.get_or_none(email=email)
        if email and len(email) <= _EMAIL_MAX_LENGTH and validation.storable(email)
        else None
    )
    matches = len(input.password) <= PASSWORD_MAX_LENGTH and await asyncio.to_thread(
        passwords.verify, user.password_hash if user is not None else None, input.password
    )
    if user is None or not user.is_active or not matches or user.password_hash is None:
        errors.add(["input"], "INVALID_CREDENTIALS", "Wrong email address or password.")
        return SignInPayload(token=None, expires_at=None, viewer=None, errors=errors.items)
    await limits.reset(key, SIGN_IN_WINDOW_SECONDS)
    await limits.hit(ip_succeeded, sys.maxsize, SIGN_IN_WINDOW_SECONDS)
    if passwords.needs_rehash(user.password_hash):
        rehashed = await asyncio.to_thread(passwords.hash_password, input.password)
        await UserModel.filter(id=user.id).update(password_hash=rehashed)
    token, expires_at = _session(user.id)
    if cookie:
        sessions.set_session_cookie(info.context.response, token)
    return SignInPayload(
        token=None if cookie else token,
        expires_at=expires_at,
        viewer=await _account_viewer(user),
        errors=[],
    )


def sign_out(info: Info) -> SignOutPayload:
    """End a cookie session: the browser is told to drop the cookie. A bearer token is
    stateless and stays valid until it expires; its client simply discards it."""
    had_cookie = sessions.cookie_token(info.context.request.headers) is not None
    if had_cookie:
        sessions.clear_session_cookie(info.context.response)
    return SignOutPayload(cookie_cleared=had_cookie)


# Partner invitations


def code_digest(code: str) -> str:
    # surrogatepass: a code with a lone surrogate (no UTF-8 form) is merely wrong.
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


async def invite_partner(info: Info) -> InvitePartnerPayload:
    """A one-time code with which a second parent joins the viewer's household; earlier
    unused partner codes of the household stop working."""
    viewer = info.context.viewer
    errors = Errors()
    parent = await viewer_parent(viewer)
    household_id = parent["household_id"] if parent else None
    if household_id is None or (
        await write_grant(info, household_id, Ability.INVITE_PARTNER) is None
    ):
        errors.add([], "NO_HOUSEHOLD", "You have no household to invite a partner into.")
        return InvitePartnerPayload(code=None, expires_at=None, errors=errors.items)

    code = secrets.token_urlsafe(24)
    now = datetime.datetime.now(datetime.UTC)
    expires_at = now + datetime.timedelta(days=settings.invitation_days)
    async with in_transaction():
        # Serialise with partners joining, so the parent count below stays true.
        await lock(household_id)
        if await ParentModel.filter(household_id=household_id).count() >= MAX_PARENTS:
            errors.add([], "HOUSEHOLD_FULL", "Your household already has two parents.")
        else:
            await InvitationModel.filter(
                household_id=household_id,
                kind=InvitationKind.PARTNER,
                used_at=None,
                revoked_at=None,
            ).update(revoked_at=now)
            await InvitationModel.create(
                kind=InvitationKind.PARTNER,
                household_id=household_id,
                code_digest=code_digest(code),
                created_by_id=viewer.user_id,
                expires_at=expires_at,
            )
    if errors:
        return InvitePartnerPayload(code=None, expires_at=None, errors=errors.items)
    return InvitePartnerPayload(code=code, expires_at=expires_at, errors=[])


async def accept_partner_invitation(
    info: Info,
    input: Annotated[AcceptPartnerInvitationInput, arg("The code and the partner's data.")],
) -> AcceptPartnerInvitationPayload:
    """Join the household of an invitation as its second parent, all or nothing."""
    viewer = info.context.viewer
    errors = Errors()
    code = input.code.strip()
    if not code:
        errors.add(["input", "code"], "REQUIRED", "This field is required.")
    values = validate_parent(errors, ["input", "partner"], input.partner)
    rrn = validation.rrn(errors, ["input", "partner", "rrn"], input.partner.rrn)
    if not errors:
        await check_residence(errors, ["input", "partner"], values)
    if errors:
        return AcceptPartnerInvitationPayload(household=None, errors=errors.items)
    if rrn is not None and not await uniqueness.count_parent_check(
        info, errors, ["input", "partner", "rrn"]
    ):
        return AcceptPartnerInvitationPayload(household=None, errors=errors.items)

    now = datetime.datetime.now(datetime.UTC)
    async with in_transaction():
        # Locks in the order registerHousehold takes them (user, then person), then the
        # household, as invitePartner does: no two holders can wait on each other.
        await lock(viewer.user_id)
        if rrn is not None:
            await uniqueness.lock_parent_identity(rrn)
        found = await fetch(
            "SELECT household_id FROM invitation WHERE code_digest = $1 AND kind = $2",
            code_digest(code),
            InvitationKind.PARTNER.value,
        )
        invitation: Any = None
        if found:
            household_id = found[0]["household_id"]
            await lock(household_id)
            rows = await fetch(
                """SELECT id, used_at, revoked_at, expires_at FROM invitation
                   WHERE code_digest = $1 FOR UPDATE""",
                code_digest(code),
            )
            invitation = rows[0]
        if await ParentModel.exists(user_id=viewer.user_id):
            errors.add(["input"], "ALREADY_REGISTERED", "You already have a household.")
        elif invitation is None or invitation["used_at"] or invitation["revoked_at"]:
            errors.add(["input", "code"], "INVALID_CODE", "This code is not valid.")
        elif invitation["expires_at"] <= now:
            errors.add(
                ["input", "code"], "CODE_EXPIRED", "This code has expired; ask for a new one."
            )
        elif await ParentModel.filter(household_id=household_id).count() >= MAX_PARENTS:
            errors.add(
                ["input", "code"], "HOUSEHOLD_FULL", "This household already has two parents."
            )
        elif rrn is not None and await uniqueness.parent_rrn_registered(rrn):
            errors.add(
                ["input", "partner", "rrn"],
                "ALREADY_REGISTERED",
                "An account already exists for this person; sign in instead.",
            )
        if errors:
            return AcceptPartnerInvitationPayload(household=None, errors=errors.items)
        parent = await ParentModel.create(
            household_id=household_id, user_id=viewer.user_id, is_applicant=False, **values
        )
        if rrn is not None:
            await uniqueness.store_parent_rrn(parent.id, rrn)
        await InvitationModel.filter(id=invitation["id"]).update(
            used_at=now, used_by_id=viewer.user_id
        )
    return AcceptPartnerInvitationPayload(
        household=await load_household(info, household_id), errors=[]
    )
