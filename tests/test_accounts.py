"""signUp, signIn, invitePartner and acceptPartnerInvitation, through the real ASGI app."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from tortoise import connections

from loket import limits, passwords
from loket.auth import decode_token
from loket.settings import settings
from models.accounts import Membership, RateLimitWindow, Role, User
from models.households import Household, Invitation, InvitationKind, Parent
from models.regions import Municipality
from resolvers import accounts
from tests import factories as f
from tests.assertions import assert_forbidden

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    token expiresAt viewer { id email role actingAs roles } errors { field code message }
  }
}"""

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) {
    token expiresAt viewer { id email role actingAs roles } errors { field code message }
  }
}"""

INVITE = "mutation { invitePartner { code expiresAt errors { field code message } } }"

ACCEPT = """
mutation Accept($input: AcceptPartnerInvitationInput!) {
  acceptPartnerInvitation(input: $input) {
    household { id parents { firstName isApplicant } }
    errors { field code message }
  }
}"""

ME = "{ me { email role } }"
MY_HOUSEHOLD = "{ myHousehold { id parents { firstName isApplicant } } }"

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
EMAIL = "an.peeters@example.be"
PARTNER_RRN = f.make_rrn(f.days(-35 * 365), 77)


def sign_up_input(**overrides: Any) -> dict[str, Any]:
    return {"input": {"email": EMAIL, "password": PASSWORD, "displayName": "An", **overrides}}


def sign_in_input(email: str = EMAIL, password: str = PASSWORD) -> dict[str, Any]:
    return {"input": {"email": email, "password": password}}


def partner(**overrides: Any) -> dict[str, Any]:
    return {
        "firstName": "Bram",
        "lastName": "Janssens",
        "nationality": "BE",
        "homeLanguage": "nl",
        "street": "Naamsestraat 10",
        "postalCode": "3000",
        "municipalityNisCode": "24062",
        "phone": "0470 65 43 21",
        "email": "bram.janssens@example.be",
        "workSituation": "WORKING",
        "educationLevel": "HIGHER",
        "relationToChild": "PARENT",
        **overrides,
    }


def acceptance(code: str, **overrides: Any) -> dict[str, Any]:
    return {"input": {"code": code, "partner": partner(**overrides)}}


async def row_counts() -> dict[str, int]:
    return {
        "user": await User.all().count(),
        "membership": await Membership.all().count(),
        "household": await Household.all().count(),
        "parent": await Parent.all().count(),
        "invitation": await Invitation.all().count(),
    }


def user_errors(result: dict[str, Any], field: str) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    payload = result["data"][field]
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


def with_token(actor: Any, token: str) -> Any:
    """A client presenting a token the API issued (not one the tests minted)."""
    client = actor(None)
    client.http.headers["Authorization"] = f"Bearer {token}"
    return client


async def account(email: str = EMAIL, password: str = PASSWORD, **kw: Any) -> User:
    """A parent account with a password, as signUp leaves it."""
    user = await User.create(
        email=email,
        display_name="Test",
        password_hash=passwords.hash_password(password),
        **kw,
    )
    await Membership.create(user=user, role=Role.PARENT)
    return user


async def leuven() -> Any:
    return await f.municipality("24062", "Leuven")


@pytest.fixture
def low_sign_in_limit() -> Iterator[int]:
    """Three failed sign-ins per window, away from a window boundary (fixed windows)."""
    left = accounts.SIGN_IN_WINDOW_SECONDS - time.time() % accounts.SIGN_IN_WINDOW_SECONDS
    if left < 20:
        time.sleep(left + 0.5)
    before = settings.sign_in_failures_per_window
    object.__setattr__(settings, "sign_in_failures_per_window", 3)
    yield 3
    object.__setattr__(settings, "sign_in_failures_per_window", before)


@pytest.fixture
def no_signing_key() -> Iterator[None]:
    before = settings.jwt_secret
    object.__setattr__(settings, "jwt_secret", None)
    yield
    object.__setattr__(settings, "jwt_secret", before)


@pytest.fixture
def argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 verifies a password against, in order."""
    seen: list[str] = []
    original = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        seen.append(hash if isinstance(hash, str) else hash.decode())
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    return seen


# passwords


def test_password_hash_is_argon2id_and_verifies() -> None:
    stored = passwords.hash_password(PASSWORD)

    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, PASSWORD) is True
    assert passwords.verify(stored, WRONG) is False
    assert passwords.needs_rehash(stored) is False


def test_password_verify_never_raises() -> None:
    assert passwords.verify(None, PASSWORD) is False
    assert passwords.verify("", PASSWORD) is False
    assert passwords.verify("not a hash", PASSWORD) is False
    assert passwords.verify("$argon2id$v=19$m=65536,t=3,p=4$broken", PASSWORD) is False
    assert passwords.needs_rehash("not a hash") is True


def test_password_dummy_hash_costs_as_much_as_a_real_one() -> None:
    real = PasswordHasher().hash(PASSWORD)

    assert passwords.DUMMY_HASH.startswith("$argon2id$")
    assert passwords.DUMMY_HASH.split("$")[3] == real.split("$")[3]


# signUp


async def test_sign_up_as_anonymous_creates_a_parent_account(actor: Any) -> None:
    # when
    result = await actor(None).gql(SIGN_UP, sign_up_input(email="An.Peeters@Example.BE"))

    # then
    assert user_errors(result, "signUp") == []
    payload = result["data"]["signUp"]
    user = await User.get()
    assert payload["viewer"] == {
        "id": str(user.id),
        "email": EMAIL,
        "role": "PARENT",
        "actingAs": None,
        "roles": ["PARENT"],
    }
    assert user.email == EMAIL
    assert user.display_name == "An"
    assert user.is_active is True
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.verify(user.password_hash, PASSWORD)
    memberships = await Membership.all().values("user_id", "role", "revoked_at")
    assert memberships == [{"user_id": user.id, "role": Role.PARENT, "revoked_at": None}]
    assert decode_token(payload["token"]) == user.id
    claims = jwt.decode(payload["token"], options={"verify_signature": False})
    expires_at = datetime.datetime.fromisoformat(payload["expiresAt"])
    assert expires_at == datetime.datetime.fromtimestamp(claims["exp"], datetime.UTC)
    assert claims["exp"] - claims["iat"] == settings.jwt_ttl_seconds
    assert await row_counts() == {
        "user": 1,
        "membership": 1,
        "household": 0,
        "parent": 0,
        "invitation": 0,
    }


async def test_sign_up_token_works_on_graphql(actor: Any) -> None:
    # given
    signed_up = await actor(None).gql(SIGN_UP, sign_up_input())
    token = signed_up["data"]["signUp"]["token"]

    # when
    result = await with_token(actor, token).gql(ME)

    # then
    assert result == {"data": {"me": {"email": EMAIL, "role": "PARENT"}}}


async def test_sign_up_then_register_household_as_the_new_parent(actor: Any) -> None:
    # given
    await leuven()
    signed_up = await actor(None).gql(SIGN_UP, sign_up_input())
    client = with_token(actor, signed_up["data"]["signUp"]["token"])

    # when
    result = await client.gql(f.REGISTER, {"input": f.REGISTER_INPUT})

    # then
    assert result["data"]["registerHousehold"]["errors"] == []
    assert (await Parent.get()).user_id == (await User.get()).id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"email": "  "}, [(["input", "email"], "REQUIRED")]),
        ({"email": "not-an-address"}, [(["input", "email"], "INVALID_EMAIL")]),
        ({"email": "an@localhost"}, [(["input", "email"], "INVALID_EMAIL")]),
        ({"password": ""}, [(["input", "password"], "REQUIRED")]),
        ({"password": "x" * 11}, [(["input", "password"], "PASSWORD_TOO_SHORT")]),
        ({"password": "x" * 1025}, [(["input", "password"], "PASSWORD_TOO_LONG")]),
        ({"password": EMAIL}, [(["input", "password"], "PASSWORD_IS_EMAIL")]),
        ({"password": "AN.Peeters@example.BE"}, [(["input", "password"], "PASSWORD_IS_EMAIL")]),
        ({"displayName": " "}, [(["input", "displayName"], "REQUIRED")]),
        ({"displayName": "x" * 201}, [(["input", "displayName"], "TOO_LONG")]),
        (
            {"email": "nope", "password": "short", "displayName": ""},
            [
                (["input", "email"], "INVALID_EMAIL"),
                (["input", "displayName"], "REQUIRED"),
                (["input", "password"], "PASSWORD_TOO_SHORT"),
            ],
        ),
    ],
    ids=[
        "blank_email",
        "invalid_email",
        "email_without_domain",
        "empty_password",
        "short_password",
        "long_password",
        "password_is_email",
        "password_is_email_in_other_case",
        "blank_name",
        "long_name",
        "several",
    ],
)
async def test_sign_up_as_anonymous_with_invalid_input(
    actor: Any, overrides: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    # when
    result = await actor(None).gql(SIGN_UP, sign_up_input(**overrides))

    # then
    assert user_errors(result, "signUp") == expected
    assert result["data"]["signUp"]["token"] is None
    assert result["data"]["signUp"]["viewer"] is None
    assert result["data"]["signUp"]["expiresAt"] is None
    assert await row_counts() == {
        "user": 0,
        "membership": 0,
        "household": 0,
        "parent": 0,
        "invitation": 0,
    }


async def test_sign_up_with_password_of_exactly_minimum_length(actor: Any) -> None:
    result = await actor(None).gql(SIGN_UP, sign_up_input(password="x" * 12))

    assert user_errors(result, "signUp") == []


async def test_sign_up_as_anonymous_with_taken_email_in_other_case(actor: Any) -> None:
    # given
    existing = await account()
    before = await row_counts()

    # when
    result = await actor(None).gql(SIGN_UP, sign_up_input(email="AN.PEETERS@example.be"))

    # then
    assert user_errors(result, "signUp") == [(["input", "email"], "EMAIL_TAKEN")]
    assert result["data"]["signUp"]["token"] is None
    assert await row_counts() == before
    assert (await User.get()).password_hash == existing.password_hash


async def test_sign_up_concurrently_with_the_same_email_creates_one_account(
    actor: Any,
) -> None:
    # when
    results = await asyncio.gather(
        actor(None).gql(SIGN_UP, sign_up_input(displayName="First")),
        actor(None).gql(SIGN_UP, sign_up_input(email="AN.PEETERS@EXAMPLE.BE")),
    )

    # then
    codes = sorted(user_errors(r, "signUp") for r in results)
    assert codes == [[], [(["input", "email"], "EMAIL_TAKEN")]]
    assert await User.all().count() == 1
    assert await Membership.all().count() == 1


async def test_sign_up_when_no_token_can_be_signed_saves_nothing(
    actor: Any, no_signing_key: None
) -> None:
    result = await actor(None).gql(SIGN_UP, sign_up_input())

    assert user_errors(result, "signUp") == [([], "SIGN_IN_UNAVAILABLE")]
    assert await User.all().count() == 0


async def test_sign_up_and_sign_in_never_show_or_log_the_password(
    actor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    client = actor(None)

    # when
    responses = [
        await client.http.post("/graphql", json={"query": SIGN_UP, "variables": v})
        for v in (sign_up_input(), sign_up_input(), sign_up_input(password=PASSWORD[:8]))
    ] + [
        await client.http.post("/graphql", json={"query": SIGN_IN, "variables": v})
        for v in (sign_in_input(), sign_in_input(password=WRONG + "!"))
    ]

    # then
    assert [r.status_code for r in responses] == [200] * 5
    for response in responses:
        assert PASSWORD not in response.text
        assert PASSWORD[:8] not in response.text
        assert WRONG not in response.text
    assert PASSWORD not in caplog.text
    assert PASSWORD[:8] not in caplog.text
    assert WRONG not in caplog.text
    async with connections.get("default").acquire_connection() as conn:
        rows = await conn.fetch("SELECT row_to_json(u)::text AS j FROM app_user u")
    assert len(rows) == 1
    assert PASSWORD not in rows[0]["j"]


async def test_sign_up_as_signed_in_user_is_allowed(actor: Any) -> None:
    # given: a public mutation; a token does not get in the way
    client = actor(await f.user(Role.LOKET, counter=await f.counter("Loket", await leuven())))

    # when
    result = await client.gql(SIGN_UP, sign_up_input())

    # then
    assert user_errors(result, "signUp") == []
    assert await User.filter(email=EMAIL).count() == 1


# signIn


async def test_sign_in_as_anonymous_with_the_right_password(actor: Any) -> None:
    # given
    user = await account()

    # when
    result = await actor(None).gql(SIGN_IN, sign_in_input(email=" An.Peeters@EXAMPLE.be "))

    # then
    assert user_errors(result, "signIn") == []
    payload = result["data"]["signIn"]
    assert payload["viewer"] == {
        "id": str(user.id),
        "email": EMAIL,
        "role": "PARENT",
        "actingAs": None,
        "roles": ["PARENT"],
    }
    assert decode_token(payload["token"]) == user.id
    claims = jwt.decode(payload["token"], options={"verify_signature": False})
    expires_at = datetime.datetime.fromisoformat(payload["expiresAt"])
    assert expires_at == datetime.datetime.fromtimestamp(claims["exp"], datetime.UTC)


async def test_sign_in_token_works_on_graphql(actor: Any) -> None:
    # given
    await account()
    signed_in = await actor(None).gql(SIGN_IN, sign_in_input())

    # when
    result = await with_token(actor, signed_in["data"]["signIn"]["token"]).gql(ME)

    # then
    assert result == {"data": {"me": {"email": EMAIL, "role": "PARENT"}}}


async def test_sign_in_as_user_with_several_roles_chooses_none(actor: Any) -> None:
    # given
    user = await account()
    await Membership.create(user=user, role=Role.ADMIN)
    await f.confidentiality(user)

    # when
    result = await actor(None).gql(SIGN_IN, sign_in_input())

    # then
    assert result["data"]["signIn"]["viewer"] == {
        "id": str(user.id),
        "email": EMAIL,
        "role": None,
        "actingAs": None,
        "roles": ["ADMIN", "PARENT"],
    }


async def test_sign_in_as_integrator_shows_the_role_it_acts_as(actor: Any) -> None:
    # given
    loc = await f.location(await leuven())
    user = await User.create(
        email=EMAIL, display_name="Koppeling", password_hash=passwords.hash_password(PASSWORD)
    )
    await Membership.create(
        user=user, role=Role.INTEGRATOR, provider_organisation=await loc.organisation
    )

    # when
    result = await actor(None).gql(SIGN_IN, sign_in_input())

    # then
    viewer = result["data"]["signIn"]["viewer"]
    assert (viewer["role"], viewer["actingAs"], viewer["roles"]) == (
        "INTEGRATOR",
        "PROVIDER",
        ["INTEGRATOR"],
    )


async def sign_in_fails(actor: Any, variables: dict[str, Any]) -> dict[str, Any]:
    result = await actor(None).gql(SIGN_IN, variables)
    payload: dict[str, Any] = result["data"]["signIn"]
    assert (payload["token"], payload["expiresAt"], payload["viewer"]) == (None, None, None)
    return payload


INVALID_CREDENTIALS = [
    {
        "field": ["input"],
        "code": "INVALID_CREDENTIALS",
        "message": "Wrong email address or password.",
    }
]


async def test_sign_in_with_a_wrong_password(actor: Any) -> None:
    await account()

    payload = await sign_in_fails(actor, sign_in_input(password=WRONG))

    assert payload["errors"] == INVALID_CREDENTIALS


async def test_sign_in_with_an_unknown_email_verifies_against_the_dummy_hash(
    actor: Any, argon2_verifications: list[str]
) -> None:
    await account()

    payload = await sign_in_fails(actor, sign_in_input(email="nobody@example.be"))

    assert payload["errors"] == INVALID_CREDENTIALS
    assert argon2_verifications == [passwords.DUMMY_HASH]


async def test_sign_in_with_an_invalid_email_answers_alike(actor: Any) -> None:
    payload = await sign_in_fails(actor, sign_in_input(email="not an address"))

    assert payload["errors"] == INVALID_CREDENTIALS


async def test_sign_in_as_inactive_user_with_the_right_password(
    actor: Any, argon2_verifications: list[str]
) -> None:
    user = await account(is_active=False)

    payload = await sign_in_fails(actor, sign_in_input())

    assert payload["errors"] == INVALID_CREDENTIALS
    assert argon2_verifications == [user.password_hash]


async def test_sign_in_as_user_without_password(
    actor: Any, argon2_verifications: list[str]
) -> None:
    await f.user(Role.PARENT, email=EMAIL)

    payload = await sign_in_fails(actor, sign_in_input(password=""))

    assert payload["errors"] == INVALID_CREDENTIALS
    assert argon2_verifications == [passwords.DUMMY_HASH]


async def test_sign_in_with_an_overlong_password(actor: Any) -> None:
    await account(password="x" * 1025)

    payload = await sign_in_fails(actor, sign_in_input(password="x" * 1025))

    assert payload["errors"] == INVALID_CREDENTIALS


async def test_sign_in_when_no_token_can_be_signed(
    actor: Any, no_signing_key: None, argon2_verifications: list[str]
) -> None:
    await account()

    payload = await sign_in_fails(actor, sign_in_input())

    assert [(e["field"], e["code"]) for e in payload["errors"]] == [([], "SIGN_IN_UNAVAILABLE")]
    assert argon2_verifications == []


async def test_sign_in_rehashes_a_password_hashed_under_old_parameters(actor: Any) -> None:
    # given
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user = await account()
    await User.filter(id=user.id).update(password_hash=old)

    # when
    result = await actor(None).gql(SIGN_IN, sign_in_input())

    # then
    assert user_errors(result, "signIn") == []
    stored = (await User.get(id=user.id)).password_hash
    assert stored is not None
    assert stored != old
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify(stored, PASSWORD)


async def test_sign_in_keeps_a_current_hash(actor: Any) -> None:
    user = await account()

    await actor(None).gql(SIGN_IN, sign_in_input())

    assert (await User.get(id=user.id)).password_hash == user.password_hash


async def test_sign_in_over_the_limit_refuses_even_the_right_password(
    actor: Any, low_sign_in_limit: int, argon2_verifications: list[str]
) -> None:
    # given: as many failures as allowed
    await account()
    for _ in range(low_sign_in_limit):
        payload = await sign_in_fails(actor, sign_in_input(password=WRONG))
        assert payload["errors"] == INVALID_CREDENTIALS
    verified = len(argon2_verifications)

    # when
    payload = await sign_in_fails(actor, sign_in_input(email="AN.PEETERS@example.be"))

    # then: refused without looking at the password
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "email"], "TOO_MANY_ATTEMPTS")
    ]
    assert len(argon2_verifications) == verified == low_sign_in_limit


async def test_sign_in_limit_counts_per_email_and_stores_no_address(
    actor: Any, low_sign_in_limit: int
) -> None:
    # given
    await account()
    await account(email="other@example.be")
    for _ in range(low_sign_in_limit + 1):
        await sign_in_fails(actor, sign_in_input(password=WRONG))

    # when
    result = await actor(None).gql(SIGN_IN, sign_in_input(email="other@example.be"))

    # then: the other address is let in; what is kept are keyed digests of the first
    # address and of the client IP (its attempts, its successes), never either in clear
    assert user_errors(result, "signIn") == []
    keys = await RateLimitWindow.all().values_list("key", flat=True)
    assert sorted(keys) == sorted(
        [
            limits.digest("sign-in", EMAIL),
            limits.digest("sign-in-ip", "127.0.0.1"),
            limits.digest("sign-in-ip-ok", "127.0.0.1"),
        ]
    )
    assert not [k for k in keys if "peeters" in k or "127.0.0.1" in k]


async def test_sign_in_success_before_the_limit_resets_the_count(
    actor: Any, low_sign_in_limit: int
) -> None:
    # given: one failure short of the limit, then a success
    await account()
    for _ in range(low_sign_in_limit - 1):
        await sign_in_fails(actor, sign_in_input(password=WRONG))
    assert user_errors(await actor(None).gql(SIGN_IN, sign_in_input()), "signIn") == []

    # when: a full allowance of failures again
    payloads = [
        await sign_in_fails(actor, sign_in_input(password=WRONG)) for _ in range(low_sign_in_limit)
    ]

    # then: none is refused for too many attempts, the next one is
    assert [p["errors"] for p in payloads] == [INVALID_CREDENTIALS] * low_sign_in_limit
    blocked = await sign_in_fails(actor, sign_in_input())
    assert [e["code"] for e in blocked["errors"]] == ["TOO_MANY_ATTEMPTS"]


# invitePartner


async def test_invite_partner_as_parent_with_household(actor: Any) -> None:
    # given
    user = await f.user(Role.PARENT)
    household, _ = await f.household(await leuven(), user)
    started = datetime.datetime.now(datetime.UTC)

    # when
    result = await actor(user).gql(INVITE)

    # then
    assert user_errors(result, "invitePartner") == []
    payload = result["data"]["invitePartner"]
    code = payload["code"]
    assert len(code) == 32
    invitation = await Invitation.get()
    assert invitation.kind is InvitationKind.PARTNER
    assert invitation.household_id == household.id  # type: ignore[attr-defined]
    assert invitation.created_by_id == user.id  # type: ignore[attr-defined]
    assert invitation.code_digest == hashlib.sha256(code.encode()).hexdigest()
    assert (invitation.used_at, invitation.used_by_id, invitation.revoked_at) == (  # type: ignore[attr-defined]
        None,
        None,
        None,
    )
    expires_at = datetime.datetime.fromisoformat(payload["expiresAt"])
    assert expires_at == invitation.expires_at
    days = datetime.timedelta(days=settings.invitation_days)
    assert started + days <= expires_at <= datetime.datetime.now(datetime.UTC) + days
    async with connections.get("default").acquire_connection() as conn:
        rows = await conn.fetch("SELECT row_to_json(i)::text AS j FROM invitation i")
    assert code not in rows[0]["j"]


async def test_invite_partner_again_revokes_the_earlier_unused_code(actor: Any) -> None:
    # given
    user = await f.user(Role.PARENT)
    await f.household(await leuven(), user)
    client = actor(user)
    first = (await client.gql(INVITE))["data"]["invitePartner"]["code"]

    # when
    second = (await client.gql(INVITE))["data"]["invitePartner"]["code"]

    # then
    assert first != second
    rows = await Invitation.all().order_by("created_at").values("code_digest", "revoked_at")
    assert [r["code_digest"] for r in rows] == [
        hashlib.sha256(c.encode()).hexdigest() for c in (first, second)
    ]
    assert rows[0]["revoked_at"] is not None
    assert rows[1]["revoked_at"] is None
    partner_user = await f.user(Role.PARENT)
    result = await actor(partner_user).gql(ACCEPT, acceptance(first))
    assert user_errors(result, "acceptPartnerInvitation") == [(["input", "code"], "INVALID_CODE")]


async def test_invite_partner_as_parent_without_household(actor: Any) -> None:
    # given
    user = await f.user(Role.PARENT)

    # when
    result = await actor(user).gql(INVITE)

    # then
    assert user_errors(result, "invitePartner") == [([], "NO_HOUSEHOLD")]
    assert result["data"]["invitePartner"]["code"] is None
    assert await Invitation.all().count() == 0


async def test_invite_partner_as_parent_of_a_two_parent_household(actor: Any) -> None:
    # given
    user = await f.user(Role.PARENT)
    muni = await leuven()
    household, _ = await f.household(muni, user)
    await Parent.create(
        household=household,
        is_applicant=False,
        first_name="Bram",
        last_name="Janssens",
        email="bram@example.be",
        municipality=muni,
        **f.PARENT_DEFAULTS,
    )

    # when
    result = await actor(user).gql(INVITE)

    # then
    assert user_errors(result, "invitePartner") == [([], "HOUSEHOLD_FULL")]
    assert result["data"]["invitePartner"]["code"] is None
    assert await Invitation.all().count() == 0


async def staff(role: Role) -> User:
    """A user of a non-parent role, scoped in Leuven (which the test has made)."""
    leuven_ = await Municipality.get(nis_code="24062")
    scope: dict[str, Any] = {}
    if role is Role.LOKET:
        scope["counter"] = await f.counter("Loket", leuven_)
    elif role is Role.PROVIDER:
        scope["provider_location"] = await f.location(leuven_)
    elif role is Role.TOELEIDER:
        scope["referral_organisation"] = await f.referral_organisation()
    return await f.user(role, **scope)


DENIED_ROLES = [None, Role.PROVIDER, Role.LOKET, Role.ADMIN, Role.TOELEIDER]
DENIED_IDS = ["anonymous", "provider", "loket", "admin", "toeleider"]


@pytest.mark.parametrize("role", DENIED_ROLES, ids=DENIED_IDS)
async def test_invite_partner_as_non_parent_is_forbidden(actor: Any, role: Role | None) -> None:
    # given: a household exists (its parent could invite)
    await f.household(await leuven(), await f.user(Role.PARENT))
    client = actor(None if role is None else await staff(role))
    before = await row_counts()

    # when
    result = await client.gql(INVITE)

    # then
    assert_forbidden(result, "invitePartner")
    assert await row_counts() == before
    assert before["invitation"] == 0


# acceptPartnerInvitation


async def test_accept_partner_invitation_between_two_signed_up_parents(actor: Any) -> None:
    # given: an applicant who signed up and registered, and a partner who signed up
    await leuven()
    anonymous = actor(None)
    first = await anonymous.gql(SIGN_UP, sign_up_input())
    applicant = with_token(actor, first["data"]["signUp"]["token"])
    registered = await applicant.gql(f.REGISTER, {"input": f.REGISTER_INPUT})
    household_id = registered["data"]["registerHousehold"]["household"]["id"]
    code = (await applicant.gql(INVITE))["data"]["invitePartner"]["code"]
    second = await anonymous.gql(
        SIGN_UP, sign_up_input(email="bram.janssens@example.be", displayName="Bram")
    )
    partner_client = with_token(actor, second["data"]["signUp"]["token"])

    # when
    result = await partner_client.gql(ACCEPT, acceptance(code))

    # then
    assert user_errors(result, "acceptPartnerInvitation") == []
    dossier = {
        "id": household_id,
        "parents": [
            {"firstName": "An", "isApplicant": True},
            {"firstName": "Bram", "isApplicant": False},
        ],
    }
    assert result["data"]["acceptPartnerInvitation"]["household"] == dossier
    assert await applicant.gql(MY_HOUSEHOLD) == {"data": {"myHousehold": dossier}}
    assert await partner_client.gql(MY_HOUSEHOLD) == {"data": {"myHousehold": dossier}}
    bram = await User.get(email="bram.janssens@example.be")
    partner_row = await Parent.get(is_applicant=False)
    assert partner_row.user_id == bram.id  # type: ignore[attr-defined]
    assert partner_row.phone == "+32470654321"
    assert partner_row.rrn_hashes is None
    invitation = await Invitation.get()
    assert invitation.used_at is not None
    assert invitation.used_by_id == bram.id  # type: ignore[attr-defined]
    assert invitation.revoked_at is None


async def invited(actor: Any) -> tuple[Household, str]:
    """A one-parent household in Leuven whose applicant made a partner code."""
    applicant = await f.user(Role.PARENT)
    household, _ = await f.household(await leuven(), applicant, first_name="An")
    result = await actor(applicant).gql(INVITE)
    return household, result["data"]["invitePartner"]["code"]


async def test_accept_partner_invitation_with_rrn_stores_only_a_hash(
    actor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    _, code = await invited(actor)
    client = actor(await f.user(Role.PARENT))

    # when
    response = await client.http.post(
        "/graphql", json={"query": ACCEPT, "variables": acceptance(code, rrn=PARTNER_RRN)}
    )

    # then
    assert response.json()["data"]["acceptPartnerInvitation"]["errors"] == []
    assert PARTNER_RRN not in response.text
    assert PARTNER_RRN not in caplog.text
    partner_row = await Parent.get(is_applicant=False)
    assert len(partner_row.rrn_hashes) == len(partner_row.rrn_key_ids) == 1
    assert len(partner_row.rrn_hashes[0]) == 32


async def test_accept_partner_invitation_twice_with_the_same_code(actor: Any) -> None:
    # given: the partner joined; the household is full and the code used
    _, code = await invited(actor)
    partner_client = actor(await f.user(Role.PARENT))
    await partner_client.gql(ACCEPT, acceptance(code))
    third = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    by_partner = await partner_client.gql(ACCEPT, acceptance(code))
    by_third = await third.gql(ACCEPT, acceptance(code))

    # then
    assert user_errors(by_partner, "acceptPartnerInvitation") == [(["input"], "ALREADY_REGISTERED")]
    assert user_errors(by_third, "acceptPartnerInvitation") == [(["input", "code"], "INVALID_CODE")]
    assert await row_counts() == before
    assert before["parent"] == 2


async def test_invite_partner_after_the_partner_joined_is_household_full(actor: Any) -> None:
    # given
    applicant = await f.user(Role.PARENT)
    await f.household(await leuven(), applicant)
    code = (await actor(applicant).gql(INVITE))["data"]["invitePartner"]["code"]
    await actor(await f.user(Role.PARENT)).gql(ACCEPT, acceptance(code))

    # when
    result = await actor(applicant).gql(INVITE)

    # then
    assert user_errors(result, "invitePartner") == [([], "HOUSEHOLD_FULL")]
    assert await Invitation.all().count() == 1


async def test_accept_partner_invitation_as_third_parent_is_household_full(actor: Any) -> None:
    # given: a valid code, but a second parent (without account) was added meanwhile
    household, code = await invited(actor)
    await Parent.create(
        household=household,
        is_applicant=False,
        first_name="Dirk",
        last_name="Janssens",
        email="dirk@example.be",
        municipality_id="24062",
        **f.PARENT_DEFAULTS,
    )
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    result = await joiner.gql(ACCEPT, acceptance(code))

    # then
    assert user_errors(result, "acceptPartnerInvitation") == [(["input", "code"], "HOUSEHOLD_FULL")]
    assert result["data"]["acceptPartnerInvitation"]["household"] is None
    assert await row_counts() == before
    assert (await Invitation.get()).used_at is None


async def test_accept_partner_invitation_with_an_expired_code(actor: Any) -> None:
    # given
    _, code = await invited(actor)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    await Invitation.all().update(expires_at=past)
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    result = await joiner.gql(ACCEPT, acceptance(code))

    # then
    assert user_errors(result, "acceptPartnerInvitation") == [(["input", "code"], "CODE_EXPIRED")]
    assert await row_counts() == before
    assert (await Invitation.get()).used_at is None


async def test_accept_partner_invitation_with_a_revoked_code(actor: Any) -> None:
    _, code = await invited(actor)
    await Invitation.all().update(revoked_at=datetime.datetime.now(datetime.UTC))
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    result = await joiner.gql(ACCEPT, acceptance(code))

    assert user_errors(result, "acceptPartnerInvitation") == [(["input", "code"], "INVALID_CODE")]
    assert await row_counts() == before


async def test_accept_partner_invitation_with_an_unknown_code(actor: Any) -> None:
    _, code = await invited(actor)
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    result = await joiner.gql(ACCEPT, acceptance(code[:-1] + "?"))

    assert user_errors(result, "acceptPartnerInvitation") == [(["input", "code"], "INVALID_CODE")]
    assert await row_counts() == before


async def test_accept_partner_invitation_with_a_claim_code(actor: Any) -> None:
    # given: a code of the other kind (a dossier claim) is no partner invitation
    household, _ = await invited(actor)
    await Invitation.create(
        kind=InvitationKind.CLAIM,
        household=household,
        code_digest=hashlib.sha256(b"claim-code").hexdigest(),
        expires_at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1),
    )
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    result = await joiner.gql(ACCEPT, acceptance("claim-code"))

    # then
    assert user_errors(result, "acceptPartnerInvitation") == [(["input", "code"], "INVALID_CODE")]
    assert await row_counts() == before


async def test_accept_partner_invitation_with_a_padded_code(actor: Any) -> None:
    _, code = await invited(actor)

    result = await actor(await f.user(Role.PARENT)).gql(ACCEPT, acceptance(f"  {code}\n"))

    assert user_errors(result, "acceptPartnerInvitation") == []


async def test_accept_partner_invitation_as_parent_with_own_household(actor: Any) -> None:
    # given: the partner already registered a household of their own
    _, code = await invited(actor)
    other = await f.user(Role.PARENT)
    await f.household(await Municipality.get(nis_code="24062"), other)
    before = await row_counts()

    # when
    result = await actor(other).gql(ACCEPT, acceptance(code))

    # then
    assert user_errors(result, "acceptPartnerInvitation") == [(["input"], "ALREADY_REGISTERED")]
    assert await row_counts() == before
    assert (await Invitation.get()).used_at is None


async def test_accept_partner_invitation_as_the_inviting_parent(actor: Any) -> None:
    applicant = await f.user(Role.PARENT)
    await f.household(await leuven(), applicant)
    code = (await actor(applicant).gql(INVITE))["data"]["invitePartner"]["code"]
    before = await row_counts()

    result = await actor(applicant).gql(ACCEPT, acceptance(code))

    assert user_errors(result, "acceptPartnerInvitation") == [(["input"], "ALREADY_REGISTERED")]
    assert await row_counts() == before


async def test_accept_partner_invitation_with_rrn_of_another_parent(
    actor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    household, code = await invited(actor)
    muni = await household.municipality
    await f.household(muni, await f.user(Role.PARENT), rrn=PARTNER_RRN)
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    response = await joiner.http.post(
        "/graphql", json={"query": ACCEPT, "variables": acceptance(code, rrn=PARTNER_RRN)}
    )

    # then
    payload = response.json()["data"]["acceptPartnerInvitation"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "partner", "rrn"], "ALREADY_REGISTERED")
    ]
    assert PARTNER_RRN not in response.text
    assert PARTNER_RRN not in caplog.text
    assert await row_counts() == before


@pytest.mark.parametrize(
    ("code", "overrides", "expected"),
    [
        (" ", {}, [(["input", "code"], "REQUIRED")]),
        (None, {"rrn": "12345678901"}, [(["input", "partner", "rrn"], "INVALID_RRN")]),
        (None, {"email": "bram@"}, [(["input", "partner", "email"], "INVALID_EMAIL")]),
        (None, {"phone": "12"}, [(["input", "partner", "phone"], "INVALID_PHONE")]),
        (None, {"firstName": ""}, [(["input", "partner", "firstName"], "REQUIRED")]),
        (
            None,
            {"municipalityNisCode": "99999"},
            [(["input", "partner", "municipalityNisCode"], "UNKNOWN_MUNICIPALITY")],
        ),
    ],
    ids=["blank_code", "invalid_rrn", "invalid_email", "invalid_phone", "no_name", "no_town"],
)
async def test_accept_partner_invitation_with_invalid_input(
    actor: Any,
    code: str | None,
    overrides: dict[str, Any],
    expected: list[tuple[list[str], str]],
) -> None:
    # given
    _, valid = await invited(actor)
    joiner = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    result = await joiner.gql(ACCEPT, acceptance(valid if code is None else code, **overrides))

    # then
    assert user_errors(result, "acceptPartnerInvitation") == expected
    assert result["data"]["acceptPartnerInvitation"]["household"] is None
    assert await row_counts() == before
    assert (await Invitation.get()).used_at is None


async def test_accept_partner_invitation_concurrently_lets_one_partner_in(actor: Any) -> None:
    # given
    _, code = await invited(actor)
    first = actor(await f.user(Role.PARENT))
    second = actor(await f.user(Role.PARENT))

    # when
    results = await asyncio.gather(
        first.gql(ACCEPT, acceptance(code)),
        second.gql(ACCEPT, acceptance(code, firstName="Cas")),
    )

    # then
    codes = sorted(user_errors(r, "acceptPartnerInvitation") for r in results)
    assert codes == [[], [(["input", "code"], "INVALID_CODE")]]
    assert await Parent.all().count() == 2


@pytest.mark.parametrize("role", DENIED_ROLES, ids=DENIED_IDS)
async def test_accept_partner_invitation_as_non_parent_is_forbidden(
    actor: Any, role: Role | None
) -> None:
    # given: a valid code, in the hands of someone who is no parent
    _, code = await invited(actor)
    client = actor(None if role is None else await staff(role))
    before = await row_counts()

    # when
    result = await client.gql(ACCEPT, acceptance(code))

    # then
    assert_forbidden(result, "acceptPartnerInvitation")
    assert await row_counts() == before
    assert (await Invitation.get()).used_at is None


async def test_sign_up_as_anonymous_is_limited_per_ip(actor: Any) -> None:
    # given: two sign-ups allowed per IP and hour
    saved = settings.sign_ups_per_ip_per_hour
    object.__setattr__(settings, "sign_ups_per_ip_per_hour", 2)
    try:
        client = actor(None)
        for n in range(2):
            ok = await client.gql(SIGN_UP, sign_up_input(email=f"ouder{n}@example.be"))
            assert ok["data"]["signUp"]["errors"] == []

        # when
        third = await client.gql(SIGN_UP, sign_up_input(email="ouder9@example.be"))
    finally:
        object.__setattr__(settings, "sign_ups_per_ip_per_hour", saved)

    # then: refused before anything is saved
    assert [(e["field"], e["code"]) for e in third["data"]["signUp"]["errors"]] == [
        (["input"], "RATE_LIMITED")
    ]
    assert await User.filter(email="ouder9@example.be").count() == 0


async def test_sign_up_with_a_misspelled_field_echoes_neither_values_nor_suggestions(
    actor: Any,
) -> None:
    response = await actor(None).http.post(
        "/graphql",
        json={
            "query": SIGN_UP,
            "variables": {
                "input": {
                    "emial": "someone@example.be",
                    "email": "a@example.be",
                    "password": "hunter2-secret-words",
                    "displayName": "x",
                }
            },
        },
    )

    assert "hunter2" not in response.text
    assert "someone@example.be" not in response.text
    assert "Did you mean" not in response.text
    assert response.json()["errors"]
