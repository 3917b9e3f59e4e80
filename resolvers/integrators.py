"""Integrator clients and manifests: the admin mutations and query, and the service
functions they share with `loket integrator ...` (which calls them without a request)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

import strawberry
from tortoise.transactions import in_transaction

from loket import integrators, passwords
from loket.context import Info
from loket.db import fetch
from models.accounts import Membership, Role, User
from models.integrators import IntegratorClient as IntegratorClientModel
from models.integrators import Manifest as ManifestModel
from models.integrators import ManifestFormat
from resolvers import validation
from resolvers.access import parse_id
from resolvers.mandates import lock
from resolvers.validation import Errors
from schema.directives import arg
from schema.integrators import (
    CreateIntegratorClientInput,
    CreateIntegratorClientPayload,
    IntegratorClient,
    Manifest,
    ManifestError,
    ManifestOperation,
    RegisterManifestInput,
    RegisterManifestPayload,
    RevokeIntegratorClientInput,
    RevokeIntegratorClientPayload,
    RevokeManifestInput,
    RevokeManifestPayload,
    RotateIntegratorSecretInput,
    RotateIntegratorSecretPayload,
)

CLIENT_EMAIL_DOMAIN = "clients.loket.invalid"

_CLIENTS_SQL = """
SELECT c.id, c.name, c.secret_hash IS NOT NULL AS has_secret,
       c.jwks IS NOT NULL AS has_keys, c.created_at, c.revoked_at,
       m.provider_organisation_id, m.counter_id, coalesce(po.name, co.name) AS acting_for
FROM integrator_client c
LEFT JOIN LATERAL (
    SELECT provider_organisation_id, counter_id FROM membership
    WHERE user_id = c.user_id AND role = 'INTEGRATOR' ORDER BY created_at DESC LIMIT 1
) m ON true
LEFT JOIN provider_organisation po ON po.id = m.provider_organisation_id
LEFT JOIN counter co ON co.id = m.counter_id
"""

_MANIFESTS_SQL = """
SELECT m.id, m.client_id, m.name, m.format, m.uploaded_at, m.revoked_at,
       coalesce(json_agg(json_build_array(o.operation_name, o.operation_type, o.external_id,
                                          o.document_id) ORDER BY o.id)
                FILTER (WHERE o.id IS NOT NULL), '[]') AS operations
FROM manifest m LEFT JOIN manifest_operation o ON o.manifest_id = m.id
WHERE {where}
GROUP BY m.id
ORDER BY m.uploaded_at, m.id
"""


def _manifest_from_row(r: Any) -> Manifest:
    operations = json.loads(r["operations"]) if isinstance(r["operations"], str) else []
    return Manifest(
        id=strawberry.ID(str(r["id"])),
        name=r["name"],
        format=ManifestFormat(r["format"]),
        uploaded_at=r["uploaded_at"],
        revoked_at=r["revoked_at"],
        operation_count=len(operations),
        operations=[
            ManifestOperation(name=name, type=kind, external_id=external_id, sha256=sha256)
            for name, kind, external_id, sha256 in operations
        ],
    )


async def load_manifests(
    *, client_ids: list[uuid.UUID] | None = None, manifest_id: uuid.UUID | None = None
) -> list[tuple[uuid.UUID, Manifest]]:
    """Manifests with their operations, by client or one by id, in one statement."""
    if manifest_id is not None:
        rows = await fetch(_MANIFESTS_SQL.format(where="m.id = $1"), manifest_id)
    else:
        rows = await fetch(
            _MANIFESTS_SQL.format(where="m.client_id = ANY($1::uuid[])"), client_ids or []
        )
    return [(r["client_id"], _manifest_from_row(r)) for r in rows]


async def load_clients(client_id: uuid.UUID | None = None) -> list[IntegratorClient]:
    """Clients (all, or one) with their manifests: two statements whatever the count."""
    where = "" if client_id is None else "WHERE c.id = $1"
    rows = await fetch(
        _CLIENTS_SQL + where + " ORDER BY c.created_at, c.id",
        *([] if client_id is None else [client_id]),
    )
    manifests: dict[uuid.UUID, list[Manifest]] = {r["id"]: [] for r in rows}
    for owner, manifest in await load_manifests(client_ids=list(manifests)):
        manifests[owner].append(manifest)
    return [
        IntegratorClient(
            id=strawberry.ID(str(r["id"])),
            name=r["name"],
            acting_as=integrators.acting_role(r["counter_id"]),
            acting_for=r["acting_for"],
            provider_organisation_id=_optional_id(r["provider_organisation_id"]),
            counter_id=_optional_id(r["counter_id"]),
            has_secret=r["has_secret"],
            has_keys=r["has_keys"],
            created_at=r["created_at"],
            revoked_at=r["revoked_at"],
            manifests=manifests[r["id"]],
        )
        for r in rows
    ]


def _counter_id(value: Any) -> int | None:
    """Counters have integer ids."""
    text = str(value).strip()
    # isascii: str.isdigit also holds for digits int() refuses (superscripts).
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _optional_id(value: Any) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


async def _load_client(client_id: uuid.UUID) -> IntegratorClient | None:
    found = await load_clients(client_id)
    return found[0] if found else None


async def _existing_client(errors: Errors, value: Any) -> IntegratorClientModel | None:
    client_id = parse_id(value)
    client = None if client_id is None else await IntegratorClientModel.get_or_none(id=client_id)
    if client is None:
        errors.add(["input", "clientId"], "NOT_FOUND", "No such integrator client.")
    return client


# Service functions (also used by the command line)


async def create_client(
    *,
    name: str,
    provider_organisation_id: Any = None,
    counter_id: Any = None,
    with_secret: bool = True,
    jwks: str | None = None,
) -> CreateIntegratorClientPayload:
    """A machine account acting for one provider organisation or one counter: its user,
    its INTEGRATOR membership and its credentials, all or nothing."""
    errors = Errors()
    clean_name = validation.required_text(errors, ["input", "name"], name, 200)
    scope: dict[str, Any] = {}
    if (provider_organisation_id is None) == (counter_id is None):
        errors.add(
            ["input"],
            "EXACTLY_ONE_SCOPE",
            "Give either providerOrganisationId or counterId, not both.",
        )
    elif provider_organisation_id is not None:
        organisation = parse_id(provider_organisation_id)
        if organisation is None or not await fetch(
            "SELECT 1 FROM provider_organisation WHERE id = $1", organisation
        ):
            errors.add(
                ["input", "providerOrganisationId"], "NOT_FOUND", "No such provider organisation."
            )
        else:
            scope["provider_organisation_id"] = organisation
    else:
        counter = _counter_id(counter_id)
        if counter is None or not await fetch("SELECT 1 FROM counter WHERE id = $1", counter):
            errors.add(["input", "counterId"], "NOT_FOUND", "No such counter.")
        else:
            scope["counter_id"] = counter
    keys: dict[str, Any] | None = None
    if jwks is not None and jwks.strip():
        keys, reason = integrators.parse_jwks(jwks)
        if keys is None:
            errors.add(["input", "jwks"], "INVALID_JWKS", reason or "Not a valid JWKS document.")
    elif not with_secret:
        errors.add(
            ["input", "jwks"], "REQUIRED", "A client without a secret needs public keys (jwks)."
        )
    if errors:
        return CreateIntegratorClientPayload(
            client=None, client_id=None, client_secret=None, errors=errors.items
        )
    secret = integrators.new_secret() if with_secret else None
    # argon2 takes tens of milliseconds of CPU: off the event loop, out of the transaction.
    secret_hash = await asyncio.to_thread(passwords.hash_password, secret) if secret else None
    async with in_transaction():
        user = await User.create(
            email=f"integrator+{uuid.uuid4()}@{CLIENT_EMAIL_DOMAIN}",
            display_name=clean_name,
            password_hash=None,
        )
        await Membership.create(user_id=user.id, role=Role.INTEGRATOR, **scope)
        client = await IntegratorClientModel.create(
            name=clean_name, user_id=user.id, secret_hash=secret_hash, jwks=keys
        )
    return CreateIntegratorClientPayload(
        client=await _load_client(client.id),
        client_id=strawberry.ID(str(client.id)),
        client_secret=secret,
        errors=[],
    )


async def rotate_secret(client_id: Any) -> RotateIntegratorSecretPayload:
    """A new secret for an active client; the old one stops working at once (tokens
    already issued run out within integrator_token_ttl_seconds)."""
    errors = Errors()
    client = await _existing_client(errors, client_id)
    if client is not None and client.revoked_at is not None:
        errors.add(["input", "clientId"], "REVOKED", "The client is revoked.")
    if errors or client is None:
        return RotateIntegratorSecretPayload(client=None, client_secret=None, errors=errors.items)
    secret = integrators.new_secret()
    secret_hash = await asyncio.to_thread(passwords.hash_password, secret)
    async with in_transaction():
        await lock(f"integrator-client:{client.id}")
        changed = await IntegratorClientModel.filter(id=client.id, revoked_at=None).update(
            secret_hash=secret_hash
        )
    if not changed:
        errors.add(["input", "clientId"], "REVOKED", "The client is revoked.")
        return RotateIntegratorSecretPayload(client=None, client_secret=None, errors=errors.items)
    return RotateIntegratorSecretPayload(
        client=await _load_client(client.id), client_secret=secret, errors=[]
    )


async def revoke_client(client_id: Any) -> RevokeIntegratorClientPayload:
    """Revoke a client, its membership and its account: its tokens stop working at once
    (memberships and accounts are read per request). Revoking twice changes nothing."""
    errors = Errors()
    client = await _existing_client(errors, client_id)
    if errors or client is None:
        return RevokeIntegratorClientPayload(client=None, errors=errors.items)
    now = integrators.utc_now()
    async with in_transaction():
        await lock(f"integrator-client:{client.id}")
        await IntegratorClientModel.filter(id=client.id, revoked_at=None).update(revoked_at=now)
        await Membership.filter(
            user_id=client.user_id,  # type: ignore[attr-defined]
            role=Role.INTEGRATOR,
            revoked_at=None,
        ).update(revoked_at=now)
        await User.filter(id=client.user_id).update(is_active=False)  # type: ignore[attr-defined]
    return RevokeIntegratorClientPayload(client=await _load_client(client.id), errors=[])


def _manifest_error(problem: integrators.Problem) -> ManifestError:
    return ManifestError(
        field=["input", "content"],
        code=problem.code,
        message=problem.message,
        operation_id=problem.operation_id,
        operation_name=problem.operation_name,
        path=list(problem.path) if problem.path is not None else None,
    )


def _input_error(path: list[str], code: str, message: str) -> ManifestError:
    return ManifestError(
        field=path, code=code, message=message, operation_id=None, operation_name=None, path=None
    )


async def register_manifest(
    *,
    client_id: Any,
    name: str,
    format: ManifestFormat,
    content: str,
    uploaded_by: uuid.UUID | None = None,
) -> RegisterManifestPayload:
    """Check every operation of a manifest for the client's role and register them all,
    or none: the documents (by SHA-256), the manifest and its operations."""
    errors = Errors()
    clean_name = validation.required_text(errors, ["input", "name"], name, 200)
    client = await _existing_client(errors, client_id)
    scope = None
    if client is not None:
        rows = await fetch(
            """SELECT counter_id FROM membership WHERE user_id = $1 AND role = 'INTEGRATOR'
               ORDER BY created_at DESC LIMIT 1""",
            client.user_id,  # type: ignore[attr-defined]
        )
        scope = rows[0] if rows else None
        if client.revoked_at is not None or scope is None:
            errors.add(["input", "clientId"], "REVOKED", "The client is revoked.")
    if not content.strip():
        errors.add(["input", "content"], "REQUIRED", "This field is required.")
    if errors or client is None or scope is None:
        return RegisterManifestPayload(
            manifest=None, errors=[_input_error(e.field, e.code, e.message) for e in errors.items]
        )
    acting_as = integrators.acting_role(scope["counter_id"])
    # Parsing and validating up to 500 operations is CPU work: off the event loop.
    check = await asyncio.to_thread(integrators.check_manifest, format, content, acting_as)
    if check.problems:
        return RegisterManifestPayload(
            manifest=None, errors=[_manifest_error(p) for p in check.problems]
        )
    operations = check.operations
    async with in_transaction():
        locked = await fetch(
            "SELECT revoked_at FROM integrator_client WHERE id = $1 FOR UPDATE", client.id
        )
        if locked[0]["revoked_at"] is not None:
            return RegisterManifestPayload(
                manifest=None,
                errors=[_input_error(["input", "clientId"], "REVOKED", "The client is revoked.")],
            )
        manifest = await ManifestModel.create(
            client_id=client.id, name=clean_name, format=format, uploaded_by_id=uploaded_by
        )
        # A document first sent by automatic persisted queries becomes a registered one.
        documents = {op.sha256: op.body for op in operations}
        await fetch(
            """INSERT INTO persisted_document (sha256, body, source, created_at)
               SELECT h, b, 'MANIFEST', now() FROM unnest($1::text[], $2::text[]) AS t(h, b)
               ON CONFLICT (sha256) DO UPDATE SET source = 'MANIFEST'""",
            list(documents),
            list(documents.values()),
        )
        await fetch(
            """INSERT INTO manifest_operation
                   (manifest_id, document_id, operation_name, operation_type, external_id)
               SELECT $1, d, n, t, e
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
                   WITH ORDINALITY AS x(d, n, t, e, i)
               ORDER BY i""",
            manifest.id,
            [op.sha256 for op in operations],
            [op.name for op in operations],
            [op.type for op in operations],
            [op.external_id for op in operations],
        )
    found = await load_manifests(manifest_id=manifest.id)
    return RegisterManifestPayload(manifest=found[0][1], errors=[])


async def revoke_manifest(manifest_id: Any) -> RevokeManifestPayload:
    """Revoke a manifest: its operations stop working for the client. Revoking twice
    changes nothing."""
    errors = Errors()
    parsed = parse_id(manifest_id)
    if parsed is None or not await ManifestModel.exists(id=parsed):
        errors.add(["input", "manifestId"], "NOT_FOUND", "No such manifest.")
        return RevokeManifestPayload(manifest=None, errors=errors.items)
    await ManifestModel.filter(id=parsed, revoked_at=None).update(revoked_at=integrators.utc_now())
    found = await load_manifests(manifest_id=parsed)
    return RevokeManifestPayload(manifest=found[0][1], errors=[])


# Resolvers


async def integrator_clients(info: Info) -> list[IntegratorClient] | None:
    """Every integrator client, oldest first, with its manifests."""
    return await load_clients()


async def create_integrator_client(
    info: Info, input: Annotated[CreateIntegratorClientInput, arg("The client to create.")]
) -> CreateIntegratorClientPayload:
    return await create_client(
        name=input.name,
        provider_organisation_id=input.provider_organisation_id,
        counter_id=input.counter_id,
        with_secret=input.with_secret,
        jwks=input.jwks,
    )


async def rotate_integrator_secret(
    info: Info, input: Annotated[RotateIntegratorSecretInput, arg("The client.")]
) -> RotateIntegratorSecretPayload:
    return await rotate_secret(input.client_id)


async def revoke_integrator_client(
    info: Info, input: Annotated[RevokeIntegratorClientInput, arg("The client to revoke.")]
) -> RevokeIntegratorClientPayload:
    return await revoke_client(input.client_id)


async def register_manifest_resolver(
    info: Info, input: Annotated[RegisterManifestInput, arg("The manifest.")]
) -> RegisterManifestPayload:
    return await register_manifest(
        client_id=input.client_id,
        name=input.name,
        format=input.format,
        content=input.content,
        uploaded_by=info.context.viewer.user_id,
    )


async def revoke_manifest_resolver(
    info: Info, input: Annotated[RevokeManifestInput, arg("The manifest to revoke.")]
) -> RevokeManifestPayload:
    return await revoke_manifest(input.manifest_id)
