"""Bearer-token attacks and role selection, through the real ASGI app.

Every rejected token must give HTTP 401 with a stable code and a `WWW-Authenticate`
header, and must not run the operation: the attacks send `registerHousehold` for a
parent who could register (see the positive control) or `{ me { email } }`, and check
that no dossier was written and no data came back.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid
from functools import lru_cache
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from loket.auth import mint_token
from loket.settings import DEV_JWT_SECRET, settings
from models.accounts import Membership, Role, User
from models.households import Child, Household, Parent
from tests import factories as f
from tests.factories import REGISTER, REGISTER_INPUT

WWW_AUTHENTICATE = 'Bearer error="invalid_token"'


ME = "{ me { email } }"


# --- helpers -------------------------------------------------------------------------


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _claims(sub: Any, *, drop: tuple[str, ...] = (), **override: Any) -> dict[str, Any]:
    """The claims `mint_token` would write, as numbers, with some replaced or dropped."""
    now = int(_now().timestamp())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    claims.update(override)
    for name in drop:
        del claims[name]
    return claims


def _hs256(claims: dict[str, Any], secret: str = DEV_JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _hand_hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """HS256 built without pyjwt (pyjwt refuses a PEM public key as an HMAC secret)."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@lru_cache(maxsize=1)
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _rsa_public_pem() -> bytes:
    return (
        _rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _register(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": REGISTER_INPUT}},
        headers=headers,
    )


async def _me(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/graphql", json={"query": ME}, headers=headers)


async def _dossier_rows() -> tuple[int, int, int]:
    return (await Household.all().count(), await Parent.all().count(), await Child.all().count())


def _assert_rejected(response: httpx.Response, code: str) -> None:
    """401, the stable code, the challenge header, and no `data` at all."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == WWW_AUTHENTICATE
    body = response.json()
    assert "data" not in body
    assert len(body["errors"]) == 1
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": code}
    assert "Traceback" not in response.text


@pytest.fixture
async def parent(db: str) -> User:
    """A parent who has not registered yet, and the municipality the input names."""
    await f.municipality("24062", "Leuven")
    return await f.user(Role.PARENT, email="an.peeters@example.test")


@pytest.fixture
def client(actor: Any) -> httpx.AsyncClient:
    """An anonymous client; each request brings its own Authorization header."""
    return actor(None).http


# --- positive controls ---------------------------------------------------------------


async def test_parent_with_valid_token_sees_own_email(parent: User, actor: Any) -> None:
    # given a parent with a freshly minted token
    # when they ask who they are
    result = await actor(parent).gql(ME)
    # then their email comes back
    assert result == {"data": {"me": {"email": "an.peeters@example.test"}}}


async def test_parent_with_valid_token_registers_household(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a parent with a valid token (the control for every attack below)
    # when they register
    response = await _register(client, _bearer(mint_token(str(parent.id))))
    # then the dossier is written
    assert response.status_code == 200, response.text
    assert response.json()["data"]["registerHousehold"]["errors"] == []
    assert await _dossier_rows() == (1, 1, 1)


async def test_hand_built_hs256_with_the_right_secret_is_accepted(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a token built by hand (as the HS/RS confusion test does) with the real secret
    token = _hand_hs256(
        {"alg": "HS256", "typ": "JWT"}, _claims(str(parent.id)), DEV_JWT_SECRET.encode()
    )
    # when it is used
    response = await _me(client, _bearer(token))
    # then it works, so rejections below come from the key, not from the builder
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": "an.peeters@example.test"}}}


async def test_token_expired_within_the_30s_leeway_is_still_accepted(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a token that expired 10 seconds ago (the leeway is 30 s)
    token = mint_token(str(parent.id), ttl_seconds=60, now=_now() - datetime.timedelta(seconds=70))
    # when it is used
    response = await _me(client, _bearer(token))
    # then it is still accepted
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": "an.peeters@example.test"}}}


# --- forged signatures and algorithms -----------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_token_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, alg: str
) -> None:
    # given an unsigned token naming the parent
    token = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(_claims(str(parent.id)))}."
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_pyjwt_alg_none_token_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given an unsigned token made by pyjwt itself
    token = jwt.encode(_claims(str(parent.id)), None, algorithm="none")
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_valid_token_relabelled_alg_none_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a valid token whose header is swapped to alg none, signature kept
    _, payload, signature = mint_token(str(parent.id)).split(".")
    token = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}"
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_hs256_token_signed_with_wrong_secret_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a well-formed token signed with another secret
    token = _hs256(_claims(str(parent.id)), secret="an-attacker-secret-of-sufficient-length-0123")
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("alg", ["HS384", "HS512"])
async def test_token_with_the_right_secret_but_unlisted_hmac_alg_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, alg: str
) -> None:
    # given a token signed with the real secret, but with an algorithm not configured
    token = jwt.encode(_claims(str(parent.id)), DEV_JWT_SECRET, algorithm=alg)
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused: only the configured algorithms are accepted
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_rs256_token_signed_with_attacker_rsa_key_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given an RS256 token signed with a freshly generated RSA key
    token = jwt.encode(_claims(str(parent.id)), _rsa_key(), algorithm="RS256")
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_rs256_token_with_embedded_attacker_jwk_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given an RS256 token carrying its own public key in the header (jwk injection)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_rsa_key().public_key()))
    token = jwt.encode(
        _claims(str(parent.id)), _rsa_key(), algorithm="RS256", headers={"jwk": public_jwk}
    )
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then the embedded key is not trusted
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_es256_token_signed_with_attacker_ec_key_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given an ES256 token signed with a freshly generated EC key
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(_claims(str(parent.id)), key, algorithm="ES256")
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_hs256_token_signed_with_rsa_public_key_pem_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given the HS/RS confusion: HS256 keyed with an RSA public key PEM (built by hand,
    # since pyjwt refuses an asymmetric key as an HMAC secret)
    with pytest.raises(jwt.InvalidKeyError):
        jwt.encode(_claims(str(parent.id)), _rsa_public_pem(), algorithm="HS256")
    token = _hand_hs256({"alg": "HS256", "typ": "JWT"}, _claims(str(parent.id)), _rsa_public_pem())
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


# --- time claims ---------------------------------------------------------------------


async def test_expired_token_is_rejected_with_401(parent: User, client: httpx.AsyncClient) -> None:
    # given a token that expired an hour ago
    token = mint_token(str(parent.id), now=_now() - datetime.timedelta(hours=2))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused as expired and nothing is written
    _assert_rejected(response, "TOKEN_EXPIRED")
    assert await _dossier_rows() == (0, 0, 0)


async def test_token_expired_beyond_the_30s_leeway_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a token that expired 60 seconds ago
    token = mint_token(str(parent.id), ttl_seconds=60, now=_now() - datetime.timedelta(seconds=120))
    # when it is used to ask who this is
    response = await _me(client, _bearer(token))
    # then it is refused as expired
    _assert_rejected(response, "TOKEN_EXPIRED")


async def test_token_issued_in_the_future_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a token whose iat and nbf lie five minutes ahead (beyond the 30 s leeway)
    token = mint_token(str(parent.id), now=_now() + datetime.timedelta(minutes=5))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused as not yet valid and nothing is written
    _assert_rejected(response, "TOKEN_NOT_YET_VALID")
    assert await _dossier_rows() == (0, 0, 0)


async def test_token_with_only_nbf_in_the_future_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a token issued now but not valid before two minutes from now
    now = int(_now().timestamp())
    token = _hs256(_claims(str(parent.id), nbf=now + 120))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused as not yet valid and nothing is written
    _assert_rejected(response, "TOKEN_NOT_YET_VALID")
    assert await _dossier_rows() == (0, 0, 0)


async def test_token_with_only_iat_in_the_future_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a token without nbf whose iat lies two minutes ahead
    now = int(_now().timestamp())
    token = _hs256(_claims(str(parent.id), drop=("nbf",), iat=now + 120))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused as not yet valid and nothing is written
    _assert_rejected(response, "TOKEN_NOT_YET_VALID")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.parametrize(
    "override", [{"exp": "tomorrow"}, {"iat": "now"}, {"nbf": "now"}], ids=["exp", "iat", "nbf"]
)
async def test_token_with_non_numeric_time_claim_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, override: dict[str, Any]
) -> None:
    # given a correctly signed token with a time claim that is not a number
    token = _hs256(_claims(str(parent.id), **override))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


# --- issuer, audience, required claims, subject ---------------------------------------


@pytest.mark.parametrize("issuer", ["evil", "Loket", "", "loket "])
async def test_token_with_wrong_issuer_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, issuer: str
) -> None:
    # given a correctly signed token from another issuer
    token = _hs256(_claims(str(parent.id), iss=issuer))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.parametrize("audience", ["other-api", ["other-api"], "loket-api-admin", []])
async def test_token_with_wrong_audience_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, audience: Any
) -> None:
    # given a correctly signed token meant for another audience
    token = _hs256(_claims(str(parent.id), aud=audience))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
async def test_token_missing_a_required_claim_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, claim: str
) -> None:
    # given a correctly signed token without one of the required claims
    token = _hs256(_claims(str(parent.id), drop=(claim,)))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.parametrize(
    "sub",
    ["not-a-uuid", "", "1", "an.peeters@example.test", 42, ["x"], None],
    ids=["word", "empty", "digit", "email", "int", "list", "null"],
)
async def test_token_whose_sub_is_not_a_uuid_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, sub: Any
) -> None:
    # given a correctly signed token whose subject is not a user id
    token = _hs256(_claims(sub))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


# --- tampering and garbage -----------------------------------------------------------


async def test_token_with_sub_swapped_to_another_user_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given an admin, and the parent's valid token with its sub rewritten to the admin's
    admin = await f.user(Role.ADMIN, email="admin@example.test")
    header, payload, signature = mint_token(str(parent.id)).split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = str(admin.id)
    token = f"{header}.{_segment(claims)}.{signature}"
    # when it is used to ask who this is
    response = await _me(client, _bearer(token))
    # then it is refused and no email comes back
    _assert_rejected(response, "INVALID_TOKEN")
    assert "admin@example.test" not in response.text


@pytest.mark.parametrize("position", [0, 10, -5, -1])
async def test_token_with_one_payload_char_changed_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, position: int
) -> None:
    # given a valid token with one character of its payload segment changed
    header, payload, signature = mint_token(str(parent.id)).split(".")
    chars = list(payload)
    chars[position] = "A" if chars[position] != "A" else "B"
    token = f"{header}.{''.join(chars)}.{signature}"
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_token_with_signature_changed_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a valid token whose signature is replaced by another token's signature
    header, payload, _ = mint_token(str(parent.id)).split(".")
    other_signature = mint_token(str(uuid.uuid4())).split(".")[2]
    token = f"{header}.{payload}.{other_signature}"
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "...",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "x" * 4000,
        "Bearer abc",
        "%00%ff",
    ],
)
async def test_garbage_bearer_token_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, token: str
) -> None:
    # given a bearer token that is no JWT
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


@pytest.mark.parametrize(
    "scheme", ["Basic dXNlcjpwYXNzd29yZA==", "Bearer", "Bearer    ", "Token", "Digest", "RAW"]
)
async def test_authorization_header_without_bearer_token_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient, scheme: str
) -> None:
    # given an Authorization header that is not `Bearer <token>` (the bare schemes get
    # the parent's valid token appended; RAW is the token without any scheme)
    valid = mint_token(str(parent.id))
    authorization = {
        "Token": f"Token {valid}",
        "Digest": f"Digest {valid}",
        "RAW": valid,
    }.get(scheme, scheme)
    # when it is used to register
    response = await _register(client, {"Authorization": authorization})
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_bad_token_is_rejected_even_for_a_public_query(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a forged token, and a query anyone may run
    token = _hs256(_claims(str(parent.id)), secret="an-attacker-secret-of-sufficient-length-0123")
    # when it is used
    response = await client.post(
        "/graphql", json={"query": "{ municipalities { name } }"}, headers=_bearer(token)
    )
    # then it is refused rather than silently treated as anonymous
    _assert_rejected(response, "INVALID_TOKEN")
    assert "Leuven" not in response.text


async def test_bad_token_is_rejected_on_get_too(parent: User, client: httpx.AsyncClient) -> None:
    # given an expired token
    token = mint_token(str(parent.id), now=_now() - datetime.timedelta(hours=2))
    # when a query is sent with GET
    response = await client.get("/graphql", params={"query": ME}, headers=_bearer(token))
    # then it is refused the same way
    _assert_rejected(response, "TOKEN_EXPIRED")


# --- the user behind a valid signature ------------------------------------------------


async def test_token_for_a_user_that_does_not_exist_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a correctly signed token for an unknown user id
    token = mint_token(str(uuid.uuid4()))
    # when it is used to register
    response = await _register(client, _bearer(token))
    # then it is refused and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_token_of_a_deactivated_user_is_rejected_with_401(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a parent with a valid token whose account is then deactivated
    token = mint_token(str(parent.id))
    parent.is_active = False
    await parent.save()
    # when the token is used to register
    response = await _register(client, _bearer(token))
    # then it is refused at once and nothing is written
    _assert_rejected(response, "INVALID_TOKEN")
    assert await _dossier_rows() == (0, 0, 0)


async def test_token_of_a_deactivated_user_returns_no_email(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a deactivated parent with a valid token
    token = mint_token(str(parent.id))
    await User.filter(id=parent.id).update(is_active=False)
    # when they ask who they are
    response = await _me(client, _bearer(token))
    # then it is refused and their email does not come back
    _assert_rejected(response, "INVALID_TOKEN")
    assert "an.peeters@example.test" not in response.text


async def test_user_with_revoked_membership_is_forbidden_me(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a parent whose only membership is revoked after the token was minted
    token = mint_token(str(parent.id))
    await Membership.filter(user_id=parent.id).update(revoked_at=_now())
    # when they ask who they are
    response = await _me(client, _bearer(token))
    # then they still authenticate (no 401) but hold no role, so `me` is denied
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["me"], "FORBIDDEN")]
    assert "an.peeters@example.test" not in response.text


async def test_user_with_revoked_membership_cannot_register(
    parent: User, client: httpx.AsyncClient
) -> None:
    # given a parent whose PARENT membership is revoked
    token = mint_token(str(parent.id))
    await Membership.filter(user_id=parent.id).update(revoked_at=_now())
    # when they try to register
    response = await _register(client, _bearer(token))
    # then the mutation is denied and nothing is written
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["registerHousehold"], "FORBIDDEN")
    ]
    assert await _dossier_rows() == (0, 0, 0)


# --- role selection (X-Loket-Role) ----------------------------------------------------


@pytest.fixture
async def two_roles(parent: User) -> User:
    """The parent, who also holds ADMIN (with the confidentiality agreement it needs)."""
    await Membership.create(user=parent, role=Role.ADMIN)
    await f.confidentiality(parent)
    return parent


async def test_user_with_two_roles_and_no_role_header_gets_400_role_required(
    two_roles: User, client: httpx.AsyncClient
) -> None:
    # given a user holding PARENT and ADMIN, sending no X-Loket-Role
    # when they try to register
    response = await _register(client, _bearer(mint_token(str(two_roles.id))))
    # then the request is refused before anything runs
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["ROLE_REQUIRED"]
    assert await _dossier_rows() == (0, 0, 0)


async def test_user_with_two_roles_naming_a_role_not_held_gets_403_role_not_held(
    two_roles: User, client: httpx.AsyncClient
) -> None:
    # given a user holding PARENT and ADMIN who asks to act as LOKET
    headers = {**_bearer(mint_token(str(two_roles.id))), "X-Loket-Role": "LOKET"}
    # when they ask who they are
    response = await _me(client, headers)
    # then the request is refused and nothing comes back
    assert response.status_code == 403
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["ROLE_NOT_HELD"]
    assert "an.peeters@example.test" not in response.text


async def test_user_naming_a_revoked_role_gets_403_role_not_held(
    two_roles: User, client: httpx.AsyncClient
) -> None:
    # given a user whose ADMIN membership is revoked, asking to act as ADMIN
    await Membership.filter(user_id=two_roles.id, role=Role.ADMIN).update(revoked_at=_now())
    headers = {**_bearer(mint_token(str(two_roles.id))), "X-Loket-Role": "ADMIN"}
    # when they ask who they are
    response = await _me(client, headers)
    # then the revoked role is not granted
    assert response.status_code == 403
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["ROLE_NOT_HELD"]


@pytest.mark.parametrize("role", ["ROOT", "admin", "PARENT,ADMIN"])
async def test_user_naming_an_unknown_role_gets_400_unknown_role(
    two_roles: User, client: httpx.AsyncClient, role: str
) -> None:
    # given a user naming a role that does not exist
    headers = {**_bearer(mint_token(str(two_roles.id))), "X-Loket-Role": role}
    # when they ask who they are
    response = await _me(client, headers)
    # then the request is refused and nothing comes back
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNKNOWN_ROLE"]


@pytest.mark.parametrize("role", ["PARENT", "ADMIN"])
async def test_user_with_two_roles_naming_a_held_role_acts_in_it(
    two_roles: User, actor: Any, role: str
) -> None:
    # given a user holding PARENT and ADMIN who names one of them
    # when they ask who they are
    result = await actor(two_roles, role).gql("{ me { email role roles } }")
    # then they act in exactly that role
    assert result == {
        "data": {
            "me": {"email": "an.peeters@example.test", "role": role, "roles": ["ADMIN", "PARENT"]}
        }
    }


async def test_user_with_two_roles_acting_as_parent_can_register(
    two_roles: User, actor: Any
) -> None:
    # given a user holding PARENT and ADMIN, acting as PARENT
    # when they register
    result = await actor(two_roles, "PARENT").gql(REGISTER, {"input": REGISTER_INPUT})
    # then the dossier is written
    assert result["data"]["registerHousehold"]["errors"] == []
    assert await _dossier_rows() == (1, 1, 1)
