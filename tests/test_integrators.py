"""Integrator clients, the token endpoint, manifests of registered operations, and the
lookup the request side uses; through the real ASGI app with real tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from graphql import parse, print_ast

from loket import integrators
from loket.auth import decode_token
from loket.integrators import registered_operation, sha256_hex
from loket.settings import settings
from models.accounts import Membership, Role, User
from models.integrators import IntegratorClient, Manifest, ManifestOperation, PersistedDocument
from models.integrators import ManifestFormat as Format
from models.privacy import Agreement, AgreementKind
from models.providers import ProviderOrganisation
from models.regions import Counter
from resolvers import integrators as service
from tests import factories as f

CREATE = """
mutation Create($i: CreateIntegratorClientInput!) {
  createIntegratorClient(input: $i) {
    clientId clientSecret
    client { id name actingAs actingFor providerOrganisationId counterId hasSecret hasKeys
             revokedAt }
    errors { field code message }
  }
}"""
ROTATE = """
mutation Rotate($i: RotateIntegratorSecretInput!) {
  rotateIntegratorSecret(input: $i) { clientSecret client { id } errors { field code } }
}"""
REVOKE = """
mutation Revoke($i: RevokeIntegratorClientInput!) {
  revokeIntegratorClient(input: $i) { client { id revokedAt } errors { field code } }
}"""
REGISTER = """
mutation Upload($i: RegisterManifestInput!) {
  registerManifest(input: $i) {
    manifest { id name format revokedAt operations { name type externalId sha256 } }
    errors { field code message operationId operationName path }
  }
}"""
REVOKE_MANIFEST = """
mutation RevokeManifest($i: RevokeManifestInput!) {
  revokeManifest(input: $i) { manifest { id revokedAt } errors { field code } }
}"""
CLIENTS = """
{ integratorClients { id name actingAs actingFor revokedAt
    manifests { name format revokedAt operationCount } } }"""

ME = "query Me { me { role actingAs } }"
TOKEN_URL = f"{settings.public_url}/oauth/token"
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}


@dataclass
class World:
    admin: User
    provider: User
    parent: User
    organisation: ProviderOrganisation
    counter: Counter


async def world() -> World:
    leuven = await f.municipality("24062", "Leuven")
    counter = await f.counter("Loket Leuven", leuven)
    organisation = await ProviderOrganisation.create(name="Kinderdagverblijf De Egel")
    loc = await f.location(leuven, organisation=organisation)
    return World(
        admin=await f.user(Role.ADMIN),
        provider=await f.user(Role.PROVIDER, provider_location=loc),
        parent=await f.user(Role.PARENT),
        organisation=organisation,
        counter=counter,
    )


async def provider_client(w: World, **kw: Any) -> tuple[str, str | None]:
    """A client acting for the world's provider organisation: (client id, secret)."""
    payload = await service.create_client(
        name=kw.pop("name", "Egel administratie"),
        provider_organisation_id=str(w.organisation.id),
        **kw,
    )
    assert payload.errors == [], payload.errors
    assert payload.client_id is not None
    return str(payload.client_id), payload.client_secret


async def counter_client(w: World) -> tuple[str, str | None]:
    payload = await service.create_client(name="Rapportering", counter_id=str(w.counter.id))
    assert payload.errors == []
    assert payload.client_id is not None
    return str(payload.client_id), payload.client_secret


async def counts() -> dict[str, int]:
    return {
        "user": await User.all().count(),
        "membership": await Membership.all().count(),
        "client": await IntegratorClient.all().count(),
        "manifest": await Manifest.all().count(),
        "operation": await ManifestOperation.all().count(),
        "document": await PersistedDocument.all().count(),
    }


def payload_of(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"][field]
    return data


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def root_field(query: str) -> str:
    operation: Any = parse(query).definitions[0]
    name: str = operation.selection_set.selections[0].name.value
    return name


def apollo(*bodies: str, **overrides: Any) -> str:
    """A manifest as @apollo/generate-persisted-query-manifest writes it."""
    operations = []
    for body in bodies:
        definition = parse(body).definitions[0]
        operations.append(
            {
                "id": sha256_hex(body),
                "name": definition.name.value,  # type: ignore[attr-defined]
                "type": definition.operation.value,  # type: ignore[attr-defined]
                "body": body,
            }
        )
    return json.dumps(
        {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": operations,
            **overrides,
        }
    )


async def upload(
    admin: Any, client_id: str, content: str, fmt: str = "APOLLO", name: str = "release 1"
) -> dict[str, Any]:
    variables = {"i": {"clientId": client_id, "name": name, "format": fmt, "content": content}}
    return payload_of(await admin.gql(REGISTER, variables), "registerManifest")


# Clients: creation, rotation, revocation


async def test_create_integrator_client_as_admin_for_a_provider_organisation(actor: Any) -> None:
    w = await world()

    result = await actor(w.admin).gql(
        CREATE,
        {"i": {"name": " Egel  administratie ", "providerOrganisationId": str(w.organisation.id)}},
    )

    payload = payload_of(result, "createIntegratorClient")
    assert payload["errors"] == []
    client_id, secret = payload["clientId"], payload["clientSecret"]
    assert payload["client"] == {
        "id": client_id,
        "name": "Egel administratie",
        "actingAs": "PROVIDER",
        "actingFor": "Kinderdagverblijf De Egel",
        "providerOrganisationId": str(w.organisation.id),
        "counterId": None,
        "hasSecret": True,
        "hasKeys": False,
        "revokedAt": None,
    }
    assert len(secret) >= 43
    client = await IntegratorClient.get(id=client_id).prefetch_related("user")
    assert client.secret_hash is not None
    assert client.secret_hash.startswith("$argon2id$")
    assert secret not in client.secret_hash
    assert client.user.email.startswith("integrator+")
    assert client.user.email.endswith("@clients.loket.invalid")
    assert client.user.password_hash is None
    memberships = await Membership.filter(user_id=client.user.id).values(
        "role", "provider_organisation_id", "counter_id", "revoked_at"
    )
    assert memberships == [
        {
            "role": Role.INTEGRATOR,
            "provider_organisation_id": w.organisation.id,
            "counter_id": None,
            "revoked_at": None,
        }
    ]


async def test_create_integrator_client_as_admin_for_a_counter_with_keys_only(actor: Any) -> None:
    w = await world()
    jwk = public_jwk(rsa_key(), "k1")

    result = await actor(w.admin).gql(
        CREATE,
        {
            "i": {
                "name": "Rapportering",
                "counterId": str(w.counter.id),
                "withSecret": False,
                "jwks": json.dumps({"keys": [jwk]}),
            }
        },
    )

    payload = payload_of(result, "createIntegratorClient")
    assert payload["errors"] == []
    assert payload["clientSecret"] is None
    client = payload["client"]
    assert (client["actingAs"], client["actingFor"], client["counterId"]) == (
        "LOKET",
        "Loket Leuven",
        str(w.counter.id),
    )
    assert (client["hasSecret"], client["hasKeys"]) == (False, True)
    stored = await IntegratorClient.get(id=payload["clientId"])
    assert stored.secret_hash is None
    assert stored.jwks == {"keys": [jwk]}


PRIVATE_JWK = json.dumps(
    {
        "keys": [
            json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048)))
        ]
    }
)


@pytest.mark.parametrize(
    ("scope", "extra", "expected"),
    [
        ("org", {"name": "  "}, [(["input", "name"], "REQUIRED")]),
        ("both", {}, [(["input"], "EXACTLY_ONE_SCOPE")]),
        ("none", {}, [(["input"], "EXACTLY_ONE_SCOPE")]),
        ("unknown-org", {}, [(["input", "providerOrganisationId"], "NOT_FOUND")]),
        ("unknown-counter", {}, [(["input", "counterId"], "NOT_FOUND")]),
        ("org", {"jwks": "{not json"}, [(["input", "jwks"], "INVALID_JWKS")]),
        ("org", {"jwks": '{"keys": []}'}, [(["input", "jwks"], "INVALID_JWKS")]),
        ("org", {"jwks": PRIVATE_JWK}, [(["input", "jwks"], "INVALID_JWKS")]),
        ("org", {"withSecret": False}, [(["input", "jwks"], "REQUIRED")]),
    ],
)
async def test_create_integrator_client_as_admin_with_bad_input_creates_nothing(
    actor: Any, scope: str, extra: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    w = await world()
    nowhere = str(uuid.uuid4())
    scopes = {
        "org": {"providerOrganisationId": str(w.organisation.id)},
        "both": {"providerOrganisationId": str(w.organisation.id), "counterId": str(w.counter.id)},
        "none": {},
        "unknown-org": {"providerOrganisationId": nowhere},
        "unknown-counter": {"counterId": nowhere},
    }
    before = await counts()

    result = await actor(w.admin).gql(CREATE, {"i": {"name": "X", **scopes[scope], **extra}})

    payload = payload_of(result, "createIntegratorClient")
    assert codes(payload) == expected
    assert (payload["clientId"], payload["clientSecret"], payload["client"]) == (None, None, None)
    assert await counts() == before


@pytest.mark.parametrize("who", ["provider", "parent", "anonymous"])
async def test_integrator_administration_as_non_admin_is_forbidden_and_changes_nothing(
    actor: Any, who: str
) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    manifest = await service.register_manifest(
        client_id=client_id, name="r1", format=Format.APOLLO, content=apollo(ME)
    )
    assert manifest.manifest is not None
    secret_hash = (await IntegratorClient.get(id=client_id)).secret_hash
    before = await counts()
    caller = actor({"provider": w.provider, "parent": w.parent, "anonymous": None}[who])
    attempts = [
        (CREATE, {"i": {"name": "X", "providerOrganisationId": str(w.organisation.id)}}),
        (ROTATE, {"i": {"clientId": client_id}}),
        (REVOKE, {"i": {"clientId": client_id}}),
        (
            REGISTER,
            {
                "i": {
                    "clientId": client_id,
                    "name": "x",
                    "format": "APOLLO",
                    "content": apollo("query Other { me { id } }"),
                }
            },
        ),
        (REVOKE_MANIFEST, {"i": {"manifestId": manifest.manifest.id}}),
        (CLIENTS, {}),
    ]

    for query, variables in attempts:
        result = await caller.gql(query, variables)
        field = root_field(query)
        assert result["data"] in (None, {field: None})
        assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
            ([field], "FORBIDDEN")
        ]

    assert await counts() == before
    client = await IntegratorClient.get(id=client_id)
    assert (client.secret_hash, client.revoked_at) == (secret_hash, None)
    assert (await Manifest.get(id=manifest.manifest.id)).revoked_at is None


async def test_rotate_integrator_secret_as_admin_replaces_the_secret(actor: Any) -> None:
    w = await world()
    client_id, old = await provider_client(w)

    result = await actor(w.admin).gql(ROTATE, {"i": {"clientId": client_id}})

    payload = payload_of(result, "rotateIntegratorSecret")
    assert payload["errors"] == []
    assert payload["client"] == {"id": client_id}
    new = payload["clientSecret"]
    assert new
    assert new != old
    http = actor(None).http
    assert (await http.post("/oauth/token", data=form(client_id, old))).status_code == 401
    assert (await http.post("/oauth/token", data=form(client_id, new))).status_code == 200


async def test_rotate_integrator_secret_as_admin_of_unknown_client_is_not_found(
    actor: Any,
) -> None:
    w = await world()

    result = await actor(w.admin).gql(ROTATE, {"i": {"clientId": str(uuid.uuid4())}})

    payload = payload_of(result, "rotateIntegratorSecret")
    assert (codes(payload), payload["clientSecret"]) == (
        [(["input", "clientId"], "NOT_FOUND")],
        None,
    )


async def test_revoke_integrator_client_as_admin_ends_its_membership_and_account(
    actor: Any,
) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    admin = actor(w.admin)

    result = await admin.gql(REVOKE, {"i": {"clientId": client_id}})

    payload = payload_of(result, "revokeIntegratorClient")
    assert payload["errors"] == []
    assert payload["client"]["revokedAt"] is not None
    client = await IntegratorClient.get(id=client_id).prefetch_related("user")
    assert client.revoked_at is not None
    assert client.user.is_active is False
    assert await Membership.filter(user_id=client.user.id, revoked_at=None).count() == 0
    again = payload_of(
        await admin.gql(REVOKE, {"i": {"clientId": client_id}}), "revokeIntegratorClient"
    )
    assert again["client"]["revokedAt"] == payload["client"]["revokedAt"]
    rotated = payload_of(
        await admin.gql(ROTATE, {"i": {"clientId": client_id}}), "rotateIntegratorSecret"
    )
    assert codes(rotated) == [(["input", "clientId"], "REVOKED")]
    uploaded = await upload(admin, client_id, apollo(ME))
    assert codes(uploaded) == [(["input", "clientId"], "REVOKED")]


async def test_integrator_clients_as_admin_lists_clients_with_their_manifests(
    actor: Any,
) -> None:
    w = await world()
    first, _ = await provider_client(w)
    second, _ = await counter_client(w)
    admin = actor(w.admin)
    await upload(admin, first, apollo(ME), name="r1")
    await admin.gql(REVOKE, {"i": {"clientId": second}})

    result = await admin.gql(CLIENTS)

    assert result == {
        "data": {
            "integratorClients": [
                {
                    "id": first,
                    "name": "Egel administratie",
                    "actingAs": "PROVIDER",
                    "actingFor": "Kinderdagverblijf De Egel",
                    "revokedAt": None,
                    "manifests": [
                        {
                            "name": "r1",
                            "format": "APOLLO",
                            "revokedAt": None,
                            "operationCount": 1,
                        }
                    ],
                },
                {
                    "id": second,
                    "name": "Rapportering",
                    "actingAs": "LOKET",
                    "actingFor": "Loket Leuven",
                    "revokedAt": result["data"]["integratorClients"][1]["revokedAt"],
                    "manifests": [],
                },
            ]
        }
    }
    assert result["data"]["integratorClients"][1]["revokedAt"] is not None


# The token endpoint


def form(client_id: str, secret: str | None, **extra: str) -> dict[str, str]:
    data = {"grant_type": "client_credentials", "client_id": client_id, **extra}
    if secret is not None:
        data["client_secret"] = secret
    return data


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def refusal(response: Any) -> tuple[int, dict[str, Any], str | None]:
    return response.status_code, response.json(), response.headers.get("www-authenticate")


async def test_token_with_secret_in_basic_authentication(actor: Any) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    assert secret is not None

    response = await actor(None).http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert response.headers["cache-control"] == "no-store"
    client = await IntegratorClient.get(id=client_id)
    assert decode_token(body["access_token"]) == client.user_id  # type: ignore[attr-defined]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == settings.integrator_token_ttl_seconds
    assert claims["client_id"] == client_id


async def test_token_with_secret_in_the_form_and_in_json(actor: Any) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    http = actor(None).http

    by_form = await http.post("/oauth/token", data=form(client_id, secret))
    by_json = await http.post("/oauth/token", json=form(client_id, secret))

    assert (by_form.status_code, by_json.status_code) == (200, 200)
    assert by_form.json()["token_type"] == by_json.json()["token_type"] == "Bearer"


async def test_token_with_wrong_secret_and_unknown_client_answer_alike(actor: Any) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    http = actor(None).http

    wrong = await http.post("/oauth/token", data=form(client_id, "not-the-secret"))
    unknown = await http.post("/oauth/token", data=form(str(uuid.uuid4()), secret))
    malformed = await http.post("/oauth/token", data=form("no-such-client", secret))
    wrong_basic = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, "not-the-secret"),
    )

    expected = (401, INVALID_CLIENT, 'Basic realm="loket"')
    assert refusal(wrong) == refusal(unknown) == refusal(malformed) == refusal(wrong_basic)
    assert refusal(wrong) == expected


async def test_token_for_revoked_client_is_invalid_client(actor: Any) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    await service.revoke_client(client_id)

    response = await actor(None).http.post("/oauth/token", data=form(client_id, secret))

    assert refusal(response) == (401, INVALID_CLIENT, 'Basic realm="loket"')


UNAUTHORIZED_CLIENT = {
    "error": "unauthorized_client",
    "error_description": "The organisation or counter this client acts for has no processing "
    "agreement in force.",
}


@pytest.mark.parametrize("acts_for", ["organisation", "counter"])
async def test_token_for_a_client_without_agreement_in_force_is_unauthorized_client(
    actor: Any, acts_for: str
) -> None:
    # given: a client whose organisation's (or counter's) processing agreement ended
    w = await world()
    if acts_for == "organisation":
        client_id, secret = await provider_client(w)
        party: dict[str, Any] = {"provider_organisation_id": w.organisation.id}
    else:
        client_id, secret = await counter_client(w)
        party = {"counter_id": w.counter.id}
    assert secret is not None
    ended = await Agreement.filter(kind=AgreementKind.PROCESSING, **party).update(
        ends_on=f.days(-1)
    )
    assert ended == 1
    http = actor(None).http

    # when
    refused = await http.post("/oauth/token", data=form(client_id, secret))
    by_basic = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    wrong_secret = await http.post("/oauth/token", data=form(client_id, "not-the-secret"))

    # then: authenticated but not authorized (RFC 6749 §5.2); a wrong secret still fails
    # authentication and learns nothing about the agreement
    assert refusal(refused) == refusal(by_basic) == (400, UNAUTHORIZED_CLIENT, None)
    assert refused.headers["cache-control"] == "no-store"
    assert "access_token" not in refused.text
    assert refusal(wrong_secret) == (401, INVALID_CLIENT, 'Basic realm="loket"')

    # when: a new agreement is recorded, then tokens are issued again at once
    await f.agreement(signed_on=f.days(0), version="renewed", **party)
    renewed = await http.post("/oauth/token", data=form(client_id, secret))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["token_type"] == "Bearer"


async def test_token_for_a_client_with_signed_assertion_without_agreement_is_unauthorized(
    actor: Any,
) -> None:
    w = await world()
    key = rsa_key()
    client_id = await keyed_client(w, key)
    await Agreement.filter(provider_organisation_id=w.organisation.id).update(ends_on=f.days(-1))

    response = await actor(None).http.post(
        "/oauth/token", data=assertion_form(assertion(client_id, key))
    )

    assert refusal(response) == (400, UNAUTHORIZED_CLIENT, None)


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (
            {"grant_type": "password", "client_id": "c", "client_secret": "s"},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"client_id": "c", "client_secret": "s"}, 400, "invalid_request"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "c"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_assertion": "x.y.z"}, 400, "invalid_request"),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "c",
                "client_secret": "s",
                "client_assertion": "x.y.z",
                "client_assertion_type": integrators.ASSERTION_TYPE,
            },
            400,
            "invalid_request",
        ),
    ],
)
async def test_token_request_errors(
    actor: Any, data: dict[str, str], status: int, error: str
) -> None:
    await world()

    response = await actor(None).http.post("/oauth/token", data=data)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert (response.headers.get("www-authenticate") is not None) == (status == 401)


async def test_token_request_refuses_repeated_parameters_and_other_media_types(
    actor: Any,
) -> None:
    await world()
    http = actor(None).http

    repeated = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    text = await http.post(
        "/oauth/token", content=b"grant_type", headers={"Content-Type": "text/plain"}
    )
    huge = await http.post("/oauth/token", data={"grant_type": "x" * 20_000})
    get = await http.get("/oauth/token")

    assert [(r.status_code, r.json()["error"]) for r in (repeated, text, huge)] == [
        (400, "invalid_request")
    ] * 3
    assert get.status_code == 405


@pytest.fixture
def low_token_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Three failed token requests per window, away from a window boundary."""
    window = integrators.TOKEN_WINDOW_SECONDS
    left = window - time.time() % window
    if left < 20:
        time.sleep(left + 0.5)
    monkeypatch.setattr(integrators, "TOKEN_FAILURES_PER_WINDOW", 3)
    return 3


async def test_token_failures_are_limited_per_client_with_slow_down(
    actor: Any, low_token_limit: int
) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    other_id, other_secret = await provider_client(w, name="Other")
    http = actor(None).http

    failures = [
        (await http.post("/oauth/token", data=form(client_id, "wrong"))).status_code
        for _ in range(low_token_limit)
    ]
    blocked = await http.post("/oauth/token", data=form(client_id, secret))
    unknown = str(uuid.uuid4())
    unknown_codes = [
        (await http.post("/oauth/token", data=form(unknown, "wrong"))).status_code
        for _ in range(low_token_limit + 1)
    ]
    other = await http.post("/oauth/token", data=form(other_id, other_secret))

    assert failures == [401] * low_token_limit
    assert (blocked.status_code, blocked.json()["error"]) == (429, "slow_down")
    assert int(blocked.headers["retry-after"]) > 0
    assert unknown_codes == [401] * low_token_limit + [429]
    assert other.status_code == 200


async def test_token_success_resets_the_failure_count(actor: Any, low_token_limit: int) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    http = actor(None).http
    statuses = []

    for _ in range(2):
        for _ in range(low_token_limit - 1):
            statuses.append(
                (await http.post("/oauth/token", data=form(client_id, "x"))).status_code
            )
        statuses.append((await http.post("/oauth/token", data=form(client_id, secret))).status_code)

    assert statuses == ([401] * (low_token_limit - 1) + [200]) * 2


# Signed JWT assertions (private_key_jwt)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "RS256"
    else:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "ES256"
    return {**jwk, "kid": kid, "use": "sig"}


def assertion(client_id: str, key: Any, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def assertion_form(signed: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": integrators.ASSERTION_TYPE,
        "client_assertion": signed,
        **extra,
    }


async def keyed_client(w: World, *keys: Any) -> str:
    jwks = {"keys": [public_jwk(k, f"k{i}") for i, k in enumerate(keys, start=1)]}
    client_id, secret = await provider_client(w, with_secret=False, jwks=json.dumps(jwks))
    assert secret is None
    return client_id


async def test_token_with_signed_assertions_is_accepted(actor: Any) -> None:
    w = await world()
    rsa_private, ec_private = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    client_id = await keyed_client(w, rsa_private, ec_private)
    http = actor(None).http

    by_rsa = await http.post(
        "/oauth/token", data=assertion_form(assertion(client_id, rsa_private), client_id=client_id)
    )
    by_ec = await http.post(
        "/oauth/token", data=assertion_form(assertion(client_id, ec_private, kid="k2"))
    )
    to_issuer = await http.post(
        "/oauth/token",
        data=assertion_form(assertion(client_id, rsa_private, aud=settings.jwt_issuer)),
    )

    assert [r.status_code for r in (by_rsa, by_ec, to_issuer)] == [200, 200, 200], by_rsa.text
    client = await IntegratorClient.get(id=client_id)
    user_id = client.user_id  # type: ignore[attr-defined]
    assert decode_token(by_rsa.json()["access_token"]) == user_id


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong_audience",
        "wrong_key",
        "replayed",
        "too_long",
        "issuer_not_subject",
        "other_client_id",
        "hs256",
        "no_jti",
        "revoked",
    ],
)
async def test_token_with_bad_assertion_is_invalid_client(actor: Any, case: str) -> None:
    w = await world()
    key = rsa_key()
    client_id = await keyed_client(w, key)
    http = actor(None).http
    now = int(time.time())
    signed = {
        "expired": lambda: assertion(client_id, key, iat=now - 600, exp=now - 300),
        "wrong_audience": lambda: assertion(client_id, key, aud="https://elsewhere.example"),
        "wrong_key": lambda: assertion(client_id, rsa_key()),
        "replayed": lambda: assertion(client_id, key, jti="once"),
        "too_long": lambda: assertion(client_id, key, exp=now + 3600),
        "issuer_not_subject": lambda: assertion(client_id, key, sub=str(uuid.uuid4())),
        "other_client_id": lambda: assertion(client_id, key),
        "hs256": lambda: jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "j"},
            "a-shared-secret-of-sufficient-length-0123456789",
            algorithm="HS256",
        ),
        "no_jti": lambda: assertion(client_id, key, jti=None),
        "revoked": lambda: assertion(client_id, key),
    }[case]()
    extra = {"client_id": str(uuid.uuid4())} if case == "other_client_id" else {}
    if case == "replayed":
        first = await http.post("/oauth/token", data=assertion_form(signed))
        assert first.status_code == 200
    if case == "revoked":
        await service.revoke_client(client_id)

    response = await http.post("/oauth/token", data=assertion_form(signed, **extra))

    assert refusal(response) == (401, INVALID_CLIENT, 'Basic realm="loket"')


# The access token on /graphql


async def test_integrator_token_runs_registered_operations_until_the_client_is_revoked(
    actor: Any,
) -> None:
    w = await world()
    client_id, secret = await provider_client(w)
    await upload(actor(w.admin), client_id, apollo(ME))
    http = actor(None).http
    token = (await http.post("/oauth/token", data=form(client_id, secret))).json()["access_token"]
    request = {
        "query": ME,
        "operationName": "Me",
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(ME)}},
    }
    auth = {"Authorization": f"Bearer {token}"}

    before = await http.post("/graphql", json=request, headers=auth)
    await actor(w.admin).gql(REVOKE, {"i": {"clientId": client_id}})
    after = await http.post("/graphql", json=request, headers=auth)

    assert before.status_code == 200, before.text
    assert before.json() == {"data": {"me": {"role": "INTEGRATOR", "actingAs": "PROVIDER"}}}
    assert after.status_code == 401
    assert after.json()["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": "INVALID_TOKEN",
    }


# Manifests


async def test_register_apollo_manifest_as_admin(actor: Any) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    # As Apollo's generator prints them: the operation, then the fragments it uses.
    inbox = (
        "query Inbox($location: ID!) {\n  inbox(locationId: $location) {\n    edges {\n"
        "      node {\n        ...Entry\n      }\n    }\n  }\n}\n\n"
        "fragment Entry on InboxEntry {\n  rank\n  overdue\n}"
    )
    offer = (
        "mutation Offer($i: OfferPlaceInput!) {\n  offerPlace(input: $i) {\n    errors {\n"
        "      code\n    }\n  }\n}"
    )
    content = apollo(ME, inbox, offer)

    payload = await upload(actor(w.admin), client_id, content)

    assert payload["errors"] == []
    manifest = payload["manifest"]
    expected_bodies = [op["body"] for op in json.loads(content)["operations"]]
    assert (manifest["name"], manifest["format"], manifest["revokedAt"]) == (
        "release 1",
        "APOLLO",
        None,
    )
    assert manifest["operations"] == [
        {
            "name": parse(body).definitions[0].name.value,  # type: ignore[attr-defined]
            "type": parse(body).definitions[0].operation.value,  # type: ignore[attr-defined]
            "externalId": sha256_hex(body),
            "sha256": sha256_hex(body),
        }
        for body in expected_bodies
    ]
    documents = (
        await PersistedDocument.all().order_by("created_at").values("sha256", "body", "source")
    )
    assert {d["sha256"]: (d["body"], d["source"]) for d in documents} == {
        sha256_hex(b): (b, "MANIFEST") for b in expected_bodies
    }
    stored = await Manifest.get(id=manifest["id"])
    assert stored.uploaded_by_id == w.admin.id  # type: ignore[attr-defined]


async def test_register_relay_map_as_admin(actor: Any) -> None:
    w = await world()
    client_id, _ = await counter_client(w)
    relay = {
        "3a9f6c1b2d4e5f60718293a4b5c6d7e8": "query MeQuery {\n  me {\n    role\n  }\n}\n",
        "9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e": (
            "query DemandQuery {\n  demandOverview {\n    emergencyListSize\n  }\n}\n"
        ),
    }

    payload = await upload(actor(w.admin), client_id, json.dumps(relay), fmt="RELAY")

    assert payload["errors"] == []
    assert payload["manifest"]["operations"] == [
        {"name": name, "type": "query", "externalId": doc_id, "sha256": sha256_hex(text)}
        for name, (doc_id, text) in zip(["MeQuery", "DemandQuery"], relay.items(), strict=True)
    ]
    for doc_id, text in relay.items():
        assert (await PersistedDocument.get(sha256=sha256_hex(text))).body == text
        assert (
            await registered_operation(
                (await IntegratorClient.get(id=client_id)).user_id,  # type: ignore[attr-defined]
                external_id=doc_id,
            )
            == text
        )


GRAPHQL_FILE = """
# dossiers.graphql
query Dossiers($first: Int = 20) {
  dossiers(first: $first) { edges { node { id parents { ...ParentName } } } }
}

query Dossier($id: ID!) {
  household(id: $id) { id parents { ...ParentName phone } }
}

fragment ParentName on Parent { firstName lastName }

fragment Unused on Parent { email }
"""


async def test_register_graphql_documents_as_admin(actor: Any) -> None:
    w = await world()
    client_id, _ = await counter_client(w)
    document = parse(GRAPHQL_FILE)
    operations, fragments = document.definitions[:2], document.definitions[2]
    printed = [print_ast(type(document)(definitions=(op, fragments))) for op in operations]

    payload = await upload(actor(w.admin), client_id, GRAPHQL_FILE, fmt="GRAPHQL")

    assert payload["errors"] == []
    assert payload["manifest"]["operations"] == [
        {
            "name": "Dossiers",
            "type": "query",
            "externalId": sha256_hex(printed[0]),
            "sha256": sha256_hex(printed[0]),
        },
        {
            "name": "Dossier",
            "type": "query",
            "externalId": sha256_hex(printed[1]),
            "sha256": sha256_hex(printed[1]),
        },
    ]
    assert printed[0].startswith("query Dossiers(")
    assert printed[0].endswith("fragment ParentName on Parent {\n  firstName\n  lastName\n}")
    for text in printed:
        assert (await PersistedDocument.get(sha256=sha256_hex(text))).body == text


def relay_json(mapping: dict[str, str]) -> str:
    return json.dumps(mapping)


BAD_MANIFESTS: dict[str, tuple[str, str, list[tuple[str, str | None, str | None]]]] = {
    # case: (format, content, [(code, operation id, operation name)])
    "apollo_invalid_json": ("APOLLO", "{not json", [("INVALID_JSON", None, None)]),
    "relay_invalid_json": ("RELAY", "[1, 2", [("INVALID_JSON", None, None)]),
    "apollo_wrong_format": (
        "APOLLO",
        apollo(ME, format="something-else"),
        [("INVALID_FORMAT", None, None)],
    ),
    "apollo_missing_body": (
        "APOLLO",
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": "abc", "name": "Me", "type": "query"}],
            }
        ),
        [("INVALID_FORMAT", "abc", None)],
    ),
    "relay_not_a_map": ("RELAY", json.dumps({"a": 1}), [("INVALID_FORMAT", None, None)]),
    "empty": ("RELAY", "{}", [("INVALID_FORMAT", None, None)]),
    "hash_mismatch": (
        "APOLLO",
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {
                        "id": sha256_hex("query Me { me { id } }"),
                        "name": "Me",
                        "type": "query",
                        "body": ME,
                    }
                ],
            }
        ),
        [("HASH_MISMATCH", sha256_hex("query Me { me { id } }"), "Me")],
    ),
    "parse_error": (
        "RELAY",
        relay_json({"d1": "query Broken { me { "}),
        [("PARSE_ERROR", "d1", None)],
    ),
    "graphql_parse_error": ("GRAPHQL", "query Broken { me {", [("PARSE_ERROR", None, None)]),
    "validation_error": (
        "RELAY",
        relay_json({"d1": "query Wrong { me { nope } }"}),
        [("VALIDATION_ERROR", "d1", "Wrong")],
    ),
    "anonymous": (
        "RELAY",
        relay_json({"d1": "{ me { id } }"}),
        [("ANONYMOUS_OPERATION", "d1", None)],
    ),
    "graphql_anonymous": ("GRAPHQL", "{ me { id } }", [("ANONYMOUS_OPERATION", None, None)]),
    "apollo_duplicate_id": ("APOLLO", apollo(ME, ME), [("DUPLICATE_ID", sha256_hex(ME), "Me")]),
    "relay_duplicate_id": (
        "RELAY",
        '{"d1": "query A { me { id } }", "d1": "query B { me { id } }"}',
        [("DUPLICATE_ID", "d1", None)],
    ),
    "graphql_duplicate": (
        "GRAPHQL",
        "query A { me { id } }\nquery A { me { id } }",
        [("DUPLICATE_ID", sha256_hex(print_ast(parse("query A { me { id } }"))), "A")],
    ),
    "two_operations_in_one_entry": (
        "RELAY",
        relay_json({"d1": "query A { me { id } } query B { me { id } }"}),
        [("INVALID_FORMAT", "d1", None)],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
async def test_register_manifest_as_admin_refuses_bad_manifests_whole(
    actor: Any, case: str
) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    fmt, content, expected = BAD_MANIFESTS[case]
    before = await counts()

    payload = await upload(actor(w.admin), client_id, content, fmt=fmt)

    assert payload["manifest"] is None
    got = [(e["code"], e["operationId"], e["operationName"]) for e in payload["errors"]]
    assert got == expected
    assert all(e["field"] == ["input", "content"] and e["message"] for e in payload["errors"])
    assert await counts() == before


async def test_register_manifest_as_admin_lists_every_failing_operation(actor: Any) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    content = relay_json(
        {
            "good": ME,
            "bad1": "query Bad1 { me { nope } }",
            "bad2": "{ me { id } }",
        }
    )
    before = await counts()

    payload = await upload(actor(w.admin), client_id, content, fmt="RELAY")

    assert [(e["operationId"], e["code"]) for e in payload["errors"]] == [
        ("bad1", "VALIDATION_ERROR"),
        ("bad2", "ANONYMOUS_OPERATION"),
    ]
    assert await counts() == before


async def test_register_manifest_as_admin_refuses_too_large_and_too_many(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    admin = actor(w.admin)
    monkeypatch.setattr(integrators, "MAX_MANIFEST_OPERATIONS", 2)
    three = relay_json({f"d{i}": f"query Q{i} {{ me {{ id }} }}" for i in range(3)})
    monkeypatch.setattr(integrators, "MAX_MANIFEST_BYTES", 200)
    large = relay_json({"d1": "query Big { me { id } }" + " " * 300})

    too_many = await upload(admin, client_id, three, fmt="RELAY")
    too_large = await upload(admin, client_id, large, fmt="RELAY")

    assert codes(too_many) == [(["input", "content"], "TOO_MANY_OPERATIONS")]
    assert codes(too_large) == [(["input", "content"], "TOO_LARGE")]
    assert await Manifest.all().count() == 0


def test_manifest_limits_are_one_megabyte_and_500_operations() -> None:
    assert (integrators.MAX_MANIFEST_BYTES, integrators.MAX_MANIFEST_OPERATIONS) == (
        1_000_000,
        500,
    )


async def test_register_manifest_for_counter_integrator_refuses_fields_its_role_may_not_read(
    actor: Any,
) -> None:
    w = await world()
    counter_id, _ = await counter_client(w)
    provider_id, _ = await provider_client(w)
    admin = actor(w.admin)
    query = (
        "query Situations { dossiers { edges { node { parents { firstName workSituation } } } } }"
    )
    content = relay_json({"s1": query})

    refused = await upload(admin, counter_id, content, fmt="RELAY")
    accepted = await upload(admin, provider_id, content, fmt="RELAY")

    assert [
        (e["code"], e["operationId"], e["operationName"], e["path"]) for e in refused["errors"]
    ] == [
        (
            "FORBIDDEN_FIELD",
            "s1",
            "Situations",
            ["dossiers", "edges", "node", "parents", "workSituation"],
        )
    ]
    assert "Parent.workSituation" in refused["errors"][0]["message"]
    assert accepted["errors"] == []
    assert await Manifest.filter(client_id=counter_id).count() == 0


async def test_register_manifest_refuses_root_fields_the_role_may_not_use(actor: Any) -> None:
    w = await world()
    counter_id, _ = await counter_client(w)
    mutation = "mutation Offer($i: OfferPlaceInput!) { offerPlace(input: $i) { errors { code } } }"
    via_fragment = "query Mine { ...Root } fragment Root on Query { myHousehold { id } }"

    payload = await upload(
        actor(w.admin),
        counter_id,
        relay_json({"m1": mutation, "q1": via_fragment}),
        fmt="RELAY",
    )

    assert [(e["operationId"], e["code"], e["path"]) for e in payload["errors"]] == [
        ("m1", "FORBIDDEN_FIELD", ["offerPlace"]),
        ("q1", "FORBIDDEN_FIELD", ["myHousehold"]),
    ]


async def test_revoke_manifest_as_admin(actor: Any) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    admin = actor(w.admin)
    manifest = (await upload(admin, client_id, apollo(ME)))["manifest"]
    user_id = (await IntegratorClient.get(id=client_id)).user_id  # type: ignore[attr-defined]
    assert await registered_operation(user_id, sha256=sha256_hex(ME)) == ME

    result = await admin.gql(REVOKE_MANIFEST, {"i": {"manifestId": manifest["id"]}})
    unknown = await admin.gql(REVOKE_MANIFEST, {"i": {"manifestId": str(uuid.uuid4())}})

    payload = payload_of(result, "revokeManifest")
    assert payload["errors"] == []
    assert payload["manifest"]["id"] == manifest["id"]
    assert payload["manifest"]["revokedAt"] is not None
    assert codes(payload_of(unknown, "revokeManifest")) == [(["input", "manifestId"], "NOT_FOUND")]
    assert await registered_operation(user_id, sha256=sha256_hex(ME)) is None


# The lookup for the request side


async def test_registered_operation_only_for_the_own_unrevoked_client(
    actor: Any, count_statements: Any
) -> None:
    w = await world()
    mine, _ = await provider_client(w)
    theirs, _ = await counter_client(w)
    admin = actor(w.admin)
    other = "query Other { me { id } }"
    await upload(admin, mine, apollo(ME))
    await upload(admin, theirs, relay_json({"theirs-1": other}), fmt="RELAY")
    my_user = (await IntegratorClient.get(id=mine)).user_id  # type: ignore[attr-defined]
    their_user = (await IntegratorClient.get(id=theirs)).user_id  # type: ignore[attr-defined]
    count_statements.statements.clear()

    by_hash = await registered_operation(my_user, sha256=sha256_hex(ME))
    statements = len(count_statements)
    by_id = await registered_operation(my_user, external_id=sha256_hex(ME))
    others_hash = await registered_operation(my_user, sha256=sha256_hex(other))
    others_id = await registered_operation(my_user, external_id="theirs-1")
    nothing = await registered_operation(my_user)
    theirs_own = await registered_operation(their_user, external_id="theirs-1")
    await service.revoke_client(theirs)
    after_revocation = await registered_operation(their_user, external_id="theirs-1")

    assert (by_hash, by_id) == (ME, ME)
    assert statements == 1
    assert (others_hash, others_id, nothing) == (None, None, None)
    assert theirs_own == other
    assert after_revocation is None


# The command line


async def test_cli_creates_a_client_registers_a_manifest_and_revokes(
    database: str, db: str, tmp_path: Path
) -> None:
    w = await world()
    manifest_file = tmp_path / "operations.graphql"
    manifest_file.write_text(GRAPHQL_FILE)

    async def loket(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "loket.cli",
            *args,
            env={**os.environ, "DATABASE_URL": database},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    code, out, _ = await loket("integrator", "create", "Egel", "--counter", str(w.counter.id))
    assert code == 0, out
    lines = dict(line.split(":", 1) for line in out.splitlines() if line.startswith("client_"))
    client_id, secret = lines["client_id"].strip(), lines["client_secret"].strip()
    client = await IntegratorClient.get(id=client_id)
    assert client.secret_hash is not None

    code, out, _ = await loket(
        "integrator", "manifest", client_id, str(manifest_file), "--format", "graphql"
    )
    assert code == 0
    assert "2 operations" in out
    assert await Manifest.filter(client_id=client_id, name="operations.graphql").count() == 1

    code, _, err = await loket(
        "integrator", "manifest", client_id, str(manifest_file), "--format", "apollo"
    )
    assert code == 1
    assert "INVALID_JSON" in err

    code, out, _ = await loket("integrator", "revoke", client_id)
    assert code == 0
    assert (await IntegratorClient.get(id=client_id)).revoked_at is not None

    code, _, err = await loket("integrator", "create", "X", "--organisation", str(uuid.uuid4()))
    assert code == 1
    assert "NOT_FOUND" in err
    assert secret


async def test_token_requests_are_limited_per_ip_whatever_the_client_id(actor: Any) -> None:
    # given: three token requests per IP and window, each with a made-up client id
    saved = settings.token_requests_per_ip
    object.__setattr__(settings, "token_requests_per_ip", 3)
    try:
        client = actor(None).http
        answers = [
            (
                await client.post("/oauth/token", data=form(f"made-up-{n}", "guess"), headers={})
            ).status_code
            for n in range(4)
        ]
    finally:
        object.__setattr__(settings, "token_requests_per_ip", saved)

    # then: the fourth is refused before any secret is checked
    assert answers == [401, 401, 401, 429]


async def test_token_assertion_for_another_server_is_refused_whatever_the_host_header(
    actor: Any,
) -> None:
    # given: an assertion made for another authorisation server
    w = await world()
    key = rsa_key()
    client_id = await keyed_client(w, key)
    elsewhere = "https://other-as.example/oauth/token"
    signed = assertion(client_id, key, aud=elsewhere)

    # when: replayed here, with the Host header naming that server
    response = await actor(None).http.post(elsewhere, data=assertion_form(signed))

    # then
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_token_failure_limit_counts_every_spelling_of_a_client_id(actor: Any) -> None:
    w = await world()
    client_id, _ = await provider_client(w)
    http = actor(None).http
    spellings = [client_id, client_id.upper(), "{" + client_id + "}", client_id.replace("-", "")]

    answers = []
    for n in range(integrators.TOKEN_FAILURES_PER_WINDOW + 2):
        response = await http.post("/oauth/token", data=form(spellings[n % 4], "wrong"))
        answers.append(response.status_code)

    assert answers == [401] * integrators.TOKEN_FAILURES_PER_WINDOW + [429, 429]
