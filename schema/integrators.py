"""Integrator clients and their manifests of registered operations (admins only).

An integrator client is a machine account of a provider's administration software or a
municipality's reporting tool: it acts for one provider organisation or one counter with
that role's grants, gets short-lived tokens at `POST /oauth/token`, and may run only the
operations of its unrevoked manifests.
"""

from __future__ import annotations

import datetime
from typing import Any

import strawberry

from models.accounts import Role
from models.integrators import ManifestFormat as ManifestFormatModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import guarded, input_field, public

strawberry.enum(
    ManifestFormatModel,
    name="ManifestFormat",
    description=(
        "The format of a manifest: APOLLO (`apollo-persisted-query-manifest` JSON), RELAY "
        '(relay-compiler\'s `{"<doc_id>": "<query text>"}` map) or GRAPHQL (the text of '
        "one or more .graphql documents)."
    ),
)
ManifestFormat = ManifestFormatModel

_ID = "opaque identifier, reveals nothing; the object itself is reached only by admins"
_PAYLOAD = "payload structure; the objects' fields carry their own policy"
_ERRORS = "the caller's own input"
_ONE_TIME = "a one-time secret returned only to the admin who made it (only a hash is kept)"


def _admin(description: str) -> Any:
    return guarded(Ability.MANAGE_INTEGRATORS, description)


@strawberry.type(description="One operation of a manifest.")
class ManifestOperation:
    name: str | None = _admin("The operation's name.")
    type: str | None = _admin("query or mutation.")
    external_id: str | None = _admin(
        "The id the client's own tooling gives it (Apollo manifest id, Relay doc_id; for "
        ".graphql files the SHA-256 of the printed operation)."
    )
    sha256: str | None = _admin(
        "Hex SHA-256 of the registered text (Apollo `persistedQuery.sha256Hash`, "
        "`documentId: sha256:<hex>`)."
    )


@strawberry.type(description="A set of operations registered for one integrator client.")
class Manifest:
    id: strawberry.ID = public("Opaque identifier (pass it to revokeManifest).", reason=_ID)
    name: str | None = _admin("Name given at upload.")
    format: ManifestFormat | None = _admin("The format it was uploaded in.")
    uploaded_at: datetime.datetime | None = _admin("When it was uploaded.")
    revoked_at: datetime.datetime | None = _admin(
        "When it was revoked (its operations stopped working); null while in force."
    )
    operation_count: int | None = _admin("How many operations it has.")
    operations: list[ManifestOperation] | None = _admin(
        "Its operations, in upload order (up to 500: in listings of many clients, ask for "
        "operationCount instead, within the cost limit)."
    )


@strawberry.type(
    description=(
        "A machine client acting for one provider organisation or one counter, with that "
        "role's grants; it runs only its registered operations."
    )
)
class IntegratorClient:
    id: strawberry.ID = public(
        "The client id (OAuth `client_id`; pass it to the other integrator mutations).",
        reason=_ID,
    )
    name: str | None = _admin("Name of the client (software, organisation).")
    acting_as: Role | None = _admin("The role whose grants it uses: PROVIDER or LOKET.")
    acting_for: str | None = _admin("Name of the provider organisation or counter.")
    provider_organisation_id: strawberry.ID | None = _admin(
        "The provider organisation it acts for, if any."
    )
    counter_id: strawberry.ID | None = _admin("The counter it acts for, if any.")
    has_secret: bool | None = _admin("Whether it can authenticate with a client secret.")
    has_keys: bool | None = _admin(
        "Whether it can authenticate with JWT assertions signed by its registered keys."
    )
    created_at: datetime.datetime | None = _admin("When it was created.")
    revoked_at: datetime.datetime | None = _admin(
        "When it was revoked (its tokens stopped working); null while active."
    )
    manifests: list[Manifest] | None = _admin("Its manifests, oldest first, revoked included.")


@strawberry.input(description="A new integrator client: one provider organisation or one counter.")
class CreateIntegratorClientInput:
    name: str = input_field("Name of the client (software, organisation).")
    provider_organisation_id: strawberry.ID | None = input_field(
        "The provider organisation it acts for (as PROVIDER); give this or counterId.",
        default=None,
    )
    counter_id: strawberry.ID | None = input_field(
        "The counter it acts for (as LOKET); give this or providerOrganisationId.", default=None
    )
    with_secret: bool = input_field(
        "Whether to make a client secret (shown once in the payload).", default=True
    )
    jwks: str | None = input_field(
        'Public keys for signed JWT assertions, as a JWKS JSON document {"keys": [...]}: '
        "RSA (RS256, 2048 bits or more) or P-256 (ES256) keys, no private parts.",
        default=None,
    )


@strawberry.type(description="Result of createIntegratorClient.")
class CreateIntegratorClientPayload:
    client: IntegratorClient | None = public(
        "The new client, null when there are errors.", reason=_PAYLOAD
    )
    client_id: strawberry.ID | None = public(
        "The OAuth client_id; null when there are errors.", reason=_PAYLOAD
    )
    client_secret: str | None = public(
        "The client secret, shown only this once; null without a secret or with errors.",
        reason=_ONE_TIME,
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="Make a new secret for a client; the old one stops working.")
class RotateIntegratorSecretInput:
    client_id: strawberry.ID = input_field("The client.")


@strawberry.type(description="Result of rotateIntegratorSecret.")
class RotateIntegratorSecretPayload:
    client: IntegratorClient | None = public(
        "The client, null when there are errors.", reason=_PAYLOAD
    )
    client_secret: str | None = public(
        "The new secret, shown only this once; null when there are errors.", reason=_ONE_TIME
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="Revoke a client: its tokens stop working at once.")
class RevokeIntegratorClientInput:
    client_id: strawberry.ID = input_field("The client.")


@strawberry.type(description="Result of revokeIntegratorClient.")
class RevokeIntegratorClientPayload:
    client: IntegratorClient | None = public(
        "The revoked client, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="A manifest of operations for one client.")
class RegisterManifestInput:
    client_id: strawberry.ID = input_field("The client the operations are for.")
    name: str = input_field("A name for the manifest (e.g. the client's release).")
    format: ManifestFormat = input_field("The manifest's format.")
    content: str = input_field(
        "The manifest itself (at most 1 MB and 500 operations). Every operation must have a "
        "name, validate against the schema and use only fields the client's role may use."
    )


@strawberry.type(
    description=(
        "Why a manifest is refused: an input field, or one operation (by id and name) with "
        "a stable code: INVALID_JSON, INVALID_FORMAT, HASH_MISMATCH, PARSE_ERROR, "
        "VALIDATION_ERROR, FORBIDDEN_FIELD, ANONYMOUS_OPERATION, DUPLICATE_ID, TOO_LARGE, "
        "TOO_MANY_OPERATIONS."
    )
)
class ManifestError:
    field: list[str] = public("Path of the input field at fault.", reason=_ERRORS)
    code: str = public("Stable error code.", reason=_ERRORS)
    message: str = public("Human-readable explanation.", reason=_ERRORS)
    operation_id: str | None = public(
        "The operation's id in the manifest (for .graphql files: its SHA-256), if known.",
        reason=_ERRORS,
    )
    operation_name: str | None = public("The operation's name, if known.", reason=_ERRORS)
    path: list[str] | None = public(
        "For FORBIDDEN_FIELD: the field's path from the operation's root.", reason=_ERRORS
    )


@strawberry.type(description="Result of registerManifest.")
class RegisterManifestPayload:
    manifest: Manifest | None = public(
        "The manifest with its operations, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[ManifestError] = public(
        "Why the manifest is refused (nothing is saved); empty on success.", reason=_ERRORS
    )


@strawberry.input(description="Revoke a manifest: its operations stop working.")
class RevokeManifestInput:
    manifest_id: strawberry.ID = input_field("The manifest.")


@strawberry.type(description="Result of revokeManifest.")
class RevokeManifestPayload:
    manifest: Manifest | None = public(
        "The revoked manifest, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)
