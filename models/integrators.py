"""Integrator clients and the GraphQL documents the service runs by reference.

An integrator client is a machine account (a provider's administration software, a
municipality's reporting tool): a `User` with an INTEGRATOR membership for one provider
organisation or one counter (that role's grants), plus credentials to obtain short-lived
tokens: a secret (stored as an argon2id hash) or public keys for signed JWT assertions.
It may run only the operations of its unrevoked manifests.

Persisted documents are stored by the SHA-256 of their text, whether registered in a
manifest or sent by a first-party frontend through automatic persisted queries.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User


class IntegratorClient(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=200)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="integrator_client", on_delete=fields.CASCADE
    )
    # argon2id hash of the client secret; null when the client uses signed assertions only.
    secret_hash = fields.CharField(max_length=255, null=True)
    # Public keys (a JWKS document) for private_key_jwt client assertions.
    jwks: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "integrator_client"


class DocumentSource(StrEnum):
    MANIFEST = "MANIFEST"
    APQ = "APQ"


class PersistedDocument(Model):
    """A GraphQL document by the hex SHA-256 of its exact text."""

    sha256 = fields.CharField(max_length=64, primary_key=True)
    body = fields.TextField()
    source = fields.CharEnumField(DocumentSource, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "persisted_document"


class ManifestFormat(StrEnum):
    APOLLO = "APOLLO"
    RELAY = "RELAY"
    GRAPHQL = "GRAPHQL"


class Manifest(Model):
    """A set of operations registered for one integrator client, revocable as a whole."""

    id = fields.UUIDField(primary_key=True)
    client: fields.ForeignKeyRelation[IntegratorClient] = fields.ForeignKeyField(
        "models.IntegratorClient", related_name="manifests", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    format = fields.CharEnumField(ManifestFormat, max_length=16)
    uploaded_at = fields.DatetimeField(auto_now_add=True)
    uploaded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="manifests_uploaded", null=True, on_delete=fields.SET_NULL
    )
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "manifest"


class ManifestOperation(Model):
    """One operation of a manifest: its document, its name, and the id the client's own
    tooling gives it (Apollo manifest id, Relay doc_id; for .graphql files the hash)."""

    id = fields.BigIntField(primary_key=True)
    manifest: fields.ForeignKeyRelation[Manifest] = fields.ForeignKeyField(
        "models.Manifest", related_name="operations", on_delete=fields.CASCADE
    )
    document: fields.ForeignKeyRelation[PersistedDocument] = fields.ForeignKeyField(
        "models.PersistedDocument", related_name="operations", on_delete=fields.RESTRICT
    )
    operation_name = fields.CharField(max_length=200)
    operation_type = fields.CharField(max_length=16)
    external_id = fields.CharField(max_length=200)

    class Meta:
        table = "manifest_operation"
        unique_together = (("manifest", "external_id"),)
        indexes = (("document_id", "manifest_id"),)
