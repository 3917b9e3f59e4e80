"""Integrator clients: credentials, the OAuth token endpoint, manifests, registered lookups.

An integrator (a provider's administration software, a municipality's reporting tool)
authenticates with the client-credentials grant of RFC 6749 §4.4, by a secret or by a
signed JWT assertion (RFC 7523 `private_key_jwt`), and gets a short-lived bearer token.
It may run only the operations of its manifests; `check_manifest` decides at upload time
whether each operation parses, validates against the schema and selects only fields the
integrator's acting role may read, and `registered_operation` finds a registered
document for the request side.

A client whose organisation (or counter) has no processing agreement in force gets no
token: after it authenticated, the answer is `unauthorized_client` (RFC 6749 §5.2: "the
authenticated client is not authorized to use this authorization grant type"), not
`invalid_client`, which says authentication failed and would send its operators to check
a secret that is right. Only a client that proved its credentials learns this.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
    print_ast,
    validate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from loket import limits, passwords, sessions
from loket.auth import LEEWAY_SECONDS, mint_token
from loket.db import fetch
from loket.settings import settings
from models.accounts import Role
from models.integrators import ManifestFormat
from permissions.agreements import role_in_force

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS256", "ES256")
# An assertion may be valid for at most this long (RFC 7523 asks for a short expiry).
ASSERTION_MAX_SECONDS = 300
# Failed token requests per client id and window (a success resets the window).
TOKEN_FAILURES_PER_WINDOW = 10
TOKEN_WINDOW_SECONDS = 900
MAX_TOKEN_REQUEST_BYTES = 16_384
MAX_SECRET_LENGTH = 1024
MAX_CLIENT_ID_LENGTH = 200
MAX_JWKS_BYTES = 65_536

MAX_MANIFEST_BYTES = 1_000_000
MAX_MANIFEST_OPERATIONS = 500
MAX_EXTERNAL_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
APOLLO_FORMAT = "apollo-persisted-query-manifest"

# Members of a JWK that only a private (or symmetric) key has.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def new_secret() -> str:
    """A client secret: 256 random bits, shown once, stored only as an argon2id hash."""
    return secrets.token_urlsafe(32)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def acting_role(counter_id: Any) -> Role:
    """The role an integrator acts in: a counter's (LOKET) or else a provider's."""
    return Role.LOKET if counter_id is not None else Role.PROVIDER


# Public keys for signed assertions


def parse_jwks(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A JWKS document of public RSA (2048 bits or more) or P-256 keys, or the reason
    it is refused."""
    try:
        size = len(text.encode())
    except UnicodeEncodeError:  # a lone surrogate: not Unicode text, so not JSON
        return None, "Not valid JSON."
    if size > MAX_JWKS_BYTES:
        return None, f"At most {MAX_JWKS_BYTES} bytes."
    try:
        document = json.loads(text)
    except ValueError:
        return None, "Not valid JSON."
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        return None, 'A JWKS document: {"keys": [<public JWK>, ...]}.'
    kids = [k.get("kid") for k in keys]
    if len(keys) > 1 and (None in kids or len(set(kids)) != len(kids)):
        return None, "With several keys, each needs its own `kid`."
    for key in keys:
        if _PRIVATE_MEMBERS & key.keys():
            return None, "Give public keys only: a key holds private key material."
        try:
            parsed = jwt.PyJWK.from_dict(key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            return None, "A key is not a valid JWK."
        if parsed.key_type == "RSA":
            if parsed.key.key_size < 2048:
                return None, "RSA keys need at least 2048 bits."
        elif not (parsed.key_type == "EC" and key.get("crv") == "P-256"):
            return None, "Only RSA (RS256) and P-256 (ES256) keys are accepted."
        if key.get("alg") not in (None, *ASSERTION_ALGORITHMS):
            return None, "A key's `alg` must be RS256 or ES256."
    return {"keys": keys}, None


def _assertion_keys(jwks: Any, alg: str, kid: Any) -> list[Any]:
    """The client's keys that may have signed an assertion with this header."""
    wanted = "RSA" if alg == "RS256" else "EC"
    found = []
    for key in (jwks or {}).get("keys", []):
        if kid is not None and key.get("kid") != kid:
            continue
        if key.get("kty") != wanted or key.get("alg") not in (None, alg):
            continue
        try:
            found.append(jwt.PyJWK.from_dict(key, algorithm=alg).key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    return found


# The token endpoint (RFC 6749 §4.4 and §5)


class OAuthError(Exception):
    """An error answer of RFC 6749 §5.2; descriptions never say whether a client exists."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "Client authentication failed.", 401)


def _oauth_error(e: OAuthError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": e.error, "error_description": e.description},
        status_code=e.status,
        headers={**_NO_STORE, **(headers or {})},
    )


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_TOKEN_REQUEST_BYTES):
        raise OAuthError("invalid_request", "The request body is too large.")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_TOKEN_REQUEST_BYTES:
            raise OAuthError("invalid_request", "The request body is too large.")
    return bytes(chunks)


async def _parameters(request: Request) -> dict[str, str]:
    """The form-encoded (or JSON) parameters; a repeated parameter is an error (§3.2)."""
    body = await _body(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The body is not UTF-8.") from None
    if media_type == "application/json":
        try:
            parsed = json.loads(text)
        except ValueError:
            raise OAuthError("invalid_request", "The body is not valid JSON.") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise OAuthError("invalid_request", "Send a JSON object of string parameters.")
        return parsed
    if media_type not in ("application/x-www-form-urlencoded", "") or (media_type == "" and body):
        raise OAuthError(
            "invalid_request", "Send the parameters as application/x-www-form-urlencoded."
        )
    params: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in params:
            raise OAuthError("invalid_request", f"The parameter {name} is repeated.")
        params[name] = value
    return params


@dataclass(frozen=True)
class _Credentials:
    client_id: str
    secret: str | None = None
    assertion: str | None = None


def _credentials(request: Request, params: dict[str, str]) -> _Credentials:
    """The one client authentication method the request uses (§2.3: never several)."""
    authorization = request.headers.get("authorization")
    basic: tuple[str, str] | None = None
    if authorization is not None:
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise _invalid_client()
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid_client() from None
        client_id, colon, secret = decoded.partition(":")
        if not colon:
            raise _invalid_client()
        # §2.3.1: both are form-encoded before they are joined.
        basic = (unquote_plus(client_id), unquote_plus(secret))
    assertion = params.get("client_assertion")
    assertion_type = params.get("client_assertion_type")
    form_secret = params.get("client_secret")
    methods = sum(x is not None for x in (basic, form_secret, assertion))
    if methods > 1:
        raise OAuthError("invalid_request", "Use one client authentication method.")
    if (assertion is None) != (assertion_type is None):
        raise OAuthError(
            "invalid_request", "Send client_assertion together with client_assertion_type."
        )
    if basic is not None:
        if params.get("client_id") not in (None, basic[0]):
            raise OAuthError("invalid_request", "client_id differs from the authenticated one.")
        return _Credentials(client_id=basic[0], secret=basic[1])
    if assertion is not None:
        if assertion_type != ASSERTION_TYPE:
            raise _invalid_client()
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise _invalid_client() from None
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or params.get("client_id") not in (None, issuer):
            raise _invalid_client()
        return _Credentials(client_id=issuer, assertion=assertion)
    form_id = params.get("client_id")
    if form_id is None or form_secret is None:
        raise _invalid_client()
    return _Credentials(client_id=form_id, secret=form_secret)


def _canonical_id(client_id: str) -> str:
    """One spelling per client id (uuid.UUID accepts braces, urn: prefixes, missing
    hyphens ...): the failure limit must not get a fresh budget per spelling."""
    try:
        return str(uuid.UUID(client_id))
    except ValueError:
        return client_id.lower()


async def _client(client_id: str) -> Any | None:
    """The client with what authentication needs; None when the id names no client."""
    try:
        parsed = uuid.UUID(client_id)
    except ValueError:
        return None
    rows = await fetch(
        """SELECT c.id, c.user_id, c.secret_hash, c.jwks, c.revoked_at, u.is_active
           FROM integrator_client c JOIN app_user u ON u.id = c.user_id WHERE c.id = $1""",
        parsed,
    )
    return rows[0] if rows else None


def _usable(client: Any) -> bool:
    return client is not None and client["revoked_at"] is None and client["is_active"]


# The client's user acts for its organisation or counter through an INTEGRATOR
# membership; the membership counts only under a processing agreement in force today.
_AUTHORIZED_SQL = f"""SELECT EXISTS (
    SELECT 1 FROM membership m
    WHERE m.user_id = $1 AND m.role = 'INTEGRATOR' AND m.revoked_at IS NULL
      AND {role_in_force(Role.INTEGRATOR)})"""  # noqa: S608 - a constant SQL fragment


async def _check_agreement(client: Any) -> None:
    """unauthorized_client unless the organisation or counter the authenticated client
    acts for has a processing agreement in force today."""
    rows = await fetch(_AUTHORIZED_SQL, client["user_id"])
    if not rows or not rows[0]["exists"]:
        raise OAuthError(
            "unauthorized_client",
            "The organisation or counter this client acts for has no processing agreement "
            "in force.",
        )


async def _check_secret(client_id: str, secret: str) -> Any:
    client = await _client(client_id)
    stored = client["secret_hash"] if client is not None else None
    # Unknown client, no secret, wrong secret: the same argon2 work, the same answer.
    matches = len(secret) <= MAX_SECRET_LENGTH and await asyncio.to_thread(
        passwords.verify, stored, secret[:MAX_SECRET_LENGTH]
    )
    if not matches or not _usable(client):
        raise _invalid_client()
    return client


def _audiences(request: Request) -> list[str]:
    """What an assertion's `aud` may name: this endpoint's configured public URL or the
    token issuer. Never the URL the request names: its Host header is the client's to
    choose, and an assertion made for another server must not work here."""
    return [f"{settings.public_url.rstrip('/')}{TOKEN_PATH}", settings.jwt_issuer]


async def _check_assertion(request: Request, credentials: _Credentials) -> Any:
    assertion = credentials.assertion
    assert assertion is not None
    client_id = credentials.client_id
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise _invalid_client() from None
    alg = header.get("alg")
    client = await _client(client_id)
    if alg not in ASSERTION_ALGORITHMS or client is None or not _usable(client):
        raise _invalid_client()
    if not client["jwks"]:
        raise _invalid_client()
    jwks = client["jwks"]
    if isinstance(jwks, str):
        jwks = json.loads(jwks)
    claims: dict[str, Any] | None = None
    for key in _assertion_keys(jwks, alg, header.get("kid")):
        try:
            claims = jwt.decode(
                assertion,
                key=key,
                algorithms=[alg],
                audience=_audiences(request),
                issuer=client_id,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError:
            raise _invalid_client() from None
    if claims is None or claims.get("sub") != client_id:
        raise _invalid_client()
    expires = claims["exp"]
    jti = claims["jti"]
    if (
        not isinstance(expires, int | float)
        or expires > time.time() + ASSERTION_MAX_SECONDS + LEEWAY_SECONDS
        or not isinstance(jti, str)
        or not 0 < len(jti) <= MAX_CLIENT_ID_LENGTH
    ):
        raise _invalid_client()
    if not await _first_use(limits.digest("jti", client_id, jti), expires + LEEWAY_SECONDS):
        raise _invalid_client()
    return client


async def _first_use(key: str, until: float) -> bool:
    """Record a one-time value until it expires; False when it was recorded before.

    The rate-limit table keeps it, under the assertion's own expiry instead of a fixed
    window (`limits.hit`), so a replay just after a window boundary is caught as well.
    """
    rows = await fetch(
        """INSERT INTO rate_limit_window (key, window_start, hits)
           VALUES ($1, to_timestamp($2), 1)
           ON CONFLICT (key, window_start) DO NOTHING RETURNING hits""",
        key,
        float(until),
    )
    return bool(rows)


async def token_endpoint(request: Request) -> Response:
    """POST /oauth/token: the client-credentials grant, answered with a short-lived JWT."""
    try:
        params = await _parameters(request)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
        credentials = _credentials(request, params)
        if len(credentials.client_id) > MAX_CLIENT_ID_LENGTH:
            raise _invalid_client()
        key = limits.digest("oauth-token", _canonical_id(credentials.client_id))
        # Every request counts per IP (made-up client ids must not buy argon2 work);
        # per client id, counted before the check so parallel guesses cannot overrun the
        # limit, and a success resets it, so in effect failures are counted.
        subject = sessions.limit_subject(sessions.client_ip(request))
        per_ip = limits.digest("oauth-token-ip", subject)
        if not await limits.hit(
            per_ip, settings.token_requests_per_ip, TOKEN_WINDOW_SECONDS
        ) or not await limits.hit(key, TOKEN_FAILURES_PER_WINDOW, TOKEN_WINDOW_SECONDS):
            retry = int(TOKEN_WINDOW_SECONDS - time.time() % TOKEN_WINDOW_SECONDS) + 1
            return JSONResponse(
                {"error": "slow_down", "error_description": "Too many failed attempts."},
                status_code=429,
                headers={**_NO_STORE, "Retry-After": str(retry)},
            )
        if credentials.assertion is not None:
            client = await _check_assertion(request, credentials)
        else:
            assert credentials.secret is not None
            client = await _check_secret(credentials.client_id, credentials.secret)
        # The credentials were right: not a guess, whatever the agreement says.
        await limits.reset(key, TOKEN_WINDOW_SECONDS)
        await _check_agreement(client)
    except OAuthError as e:
        challenge = {"WWW-Authenticate": 'Basic realm="loket"'} if e.status == 401 else None
        return _oauth_error(e, challenge)
    ttl = settings.integrator_token_ttl_seconds
    token = mint_token(
        str(client["user_id"]), ttl_seconds=ttl, extra={"client_id": str(client["id"])}
    )
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": ttl},
        headers=_NO_STORE,
    )


# Manifests: parsing and checking operations before they are registered


@dataclass(frozen=True)
class Operation:
    """A checked operation of a manifest."""

    external_id: str
    name: str
    type: str
    body: str
    sha256: str


@dataclass(frozen=True)
class Problem:
    """Why a manifest (or one operation of it) is refused."""

    code: str
    message: str
    operation_id: str | None = None
    operation_name: str | None = None
    path: tuple[str, ...] | None = None


@dataclass
class _Candidate:
    """An operation as the manifest gives it, before checking."""

    external_id: str | None
    body: str
    name: str | None = None
    type: str | None = None
    hash_must_match: bool = False


@dataclass
class ManifestCheck:
    operations: list[Operation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _apollo(content: str, problems: list[Problem]) -> list[_Candidate]:
    try:
        document = json.loads(content)
    except ValueError:
        problems.append(Problem("INVALID_JSON", "The manifest is not valid JSON."))
        return []
    if (
        not isinstance(document, dict)
        or document.get("format") != APOLLO_FORMAT
        or document.get("version") != 1
        or not isinstance(document.get("operations"), list)
    ):
        problems.append(
            Problem(
                "INVALID_FORMAT",
                f'Expected {{"format": "{APOLLO_FORMAT}", "version": 1, "operations": [...]}}.',
            )
        )
        return []
    candidates = []
    for index, entry in enumerate(document["operations"]):
        fields = ("id", "name", "type", "body")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in fields):
            problems.append(
                Problem(
                    "INVALID_FORMAT",
                    f"Operation {index} needs the strings id, name, type and body.",
                    operation_id=entry.get("id") if isinstance(entry, dict) else None,
                )
            )
            continue
        candidates.append(
            _Candidate(
                external_id=entry["id"],
                body=entry["body"],
                name=entry["name"],
                type=entry["type"],
                hash_must_match=True,
            )
        )
    return candidates


def _relay(content: str, problems: list[Problem]) -> list[_Candidate]:
    try:
        document = json.loads(content, object_pairs_hook=_duplicate_keys)
    except _DuplicateKey as e:
        problems.append(Problem("DUPLICATE_ID", "The id is given twice.", operation_id=e.key))
        return []
    except ValueError:
        problems.append(Problem("INVALID_JSON", "The manifest is not valid JSON."))
        return []
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        problems.append(
            Problem("INVALID_FORMAT", 'Expected a JSON object {"<doc_id>": "<query text>"}.')
        )
        return []
    return [_Candidate(external_id=key, body=text) for key, text in document.items()]


def _used_fragments(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    """The fragments an operation uses, directly or through other fragments, by name."""
    used: dict[str, FragmentDefinitionNode] = {}
    pending: list[SelectionSetNode] = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in used and name in fragments:
                    used[name] = fragments[name]
                    pending.append(fragments[name].selection_set)
            elif (
                isinstance(selection, FieldNode | InlineFragmentNode)
                and selection.selection_set is not None
            ):
                pending.append(selection.selection_set)
    return [used[name] for name in sorted(used)]


def _graphql_files(content: str, problems: list[Problem]) -> list[_Candidate]:
    """Each operation of the documents, printed with the fragments it uses."""
    try:
        document = parse(content, no_location=True)
    except GraphQLError as e:
        problems.append(Problem("PARSE_ERROR", e.message))
        return []
    operations: list[OperationDefinitionNode] = []
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
        elif isinstance(definition, FragmentDefinitionNode):
            name = definition.name.value
            if name in fragments:
                problems.append(
                    Problem("VALIDATION_ERROR", f"There can be only one fragment named {name!r}.")
                )
            fragments[name] = definition
        else:
            problems.append(
                Problem("INVALID_FORMAT", "Only operations and fragments may be registered.")
            )
    candidates = []
    for operation in operations:
        single = DocumentNode(definitions=(operation, *_used_fragments(operation, fragments)))
        candidates.append(_Candidate(external_id=None, body=print_ast(single)))
    return candidates


def _read_manifest(
    format: ManifestFormat, content: str, problems: list[Problem]
) -> list[_Candidate]:
    if format is ManifestFormat.APOLLO:
        candidates = _apollo(content, problems)
    elif format is ManifestFormat.RELAY:
        candidates = _relay(content, problems)
    else:
        candidates = _graphql_files(content, problems)
    if not candidates and not problems:
        problems.append(Problem("INVALID_FORMAT", "The manifest holds no operations."))
    return candidates


def check_manifest(format: ManifestFormat, content: str, acting_as: Role) -> ManifestCheck:
    """Parse a manifest and check every operation for an integrator acting as `acting_as`;
    the manifest may be registered only when no problem is found. CPU-bound: callers run
    it in a thread."""
    result = ManifestCheck()
    problems = result.problems
    try:
        size = len(content.encode())
    except UnicodeEncodeError:
        problems.append(Problem("INVALID_FORMAT", "The manifest holds a lone surrogate."))
        return result
    if size > MAX_MANIFEST_BYTES:
        problems.append(Problem("TOO_LARGE", f"At most {MAX_MANIFEST_BYTES} bytes."))
        return result
    candidates = _read_manifest(format, content, problems)
    if len(candidates) > MAX_MANIFEST_OPERATIONS:
        problems.append(
            Problem("TOO_MANY_OPERATIONS", f"At most {MAX_MANIFEST_OPERATIONS} operations.")
        )
        return result
    gql, denied = _schema_and_denied(acting_as)
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for candidate in candidates:
        operation = _check_operation(candidate, gql, denied, acting_as, problems)
        if operation is None:
            continue
        if operation.external_id in seen_ids:
            problems.append(
                Problem(
                    "DUPLICATE_ID",
                    "Another operation of the manifest has this id.",
                    operation.external_id,
                    operation.name,
                )
            )
            continue
        if format is ManifestFormat.GRAPHQL and operation.name in seen_names:
            problems.append(
                Problem(
                    "VALIDATION_ERROR",
                    f"There can be only one operation named {operation.name!r}.",
                    operation.external_id,
                    operation.name,
                )
            )
            continue
        seen_ids.add(operation.external_id)
        seen_names.add(operation.name)
        result.operations.append(operation)
    return result


def _check_operation(
    candidate: _Candidate,
    gql: GraphQLSchema,
    denied: dict[str, frozenset[str]],
    acting_as: Role,
    problems: list[Problem],
) -> Operation | None:
    external_id = candidate.external_id
    name = candidate.name

    def problem(code: str, message: str, path: tuple[str, ...] | None = None) -> None:
        problems.append(Problem(code, message, external_id, name, path))

    if external_id is not None and not 0 < len(external_id) <= MAX_EXTERNAL_ID_LENGTH:
        problem("INVALID_FORMAT", f"An id has 1 to {MAX_EXTERNAL_ID_LENGTH} characters.")
        return None
    digest = sha256_hex(candidate.body)
    if candidate.hash_must_match and external_id != digest:
        problem("HASH_MISMATCH", "The id is not the SHA-256 of the body.")
        return None
    try:
        document = parse(candidate.body, no_location=True)
    except GraphQLError as e:
        problem("PARSE_ERROR", e.message)
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        problem("INVALID_FORMAT", "Each entry holds exactly one operation (and its fragments).")
        return None
    operation = operations[0]
    own_name = operation.name.value if operation.name is not None else None
    if own_name is None:
        problem("ANONYMOUS_OPERATION", "Operations must have a name.")
        return None
    if name is not None and name != own_name:
        problem("INVALID_FORMAT", f"The body's operation is named {own_name!r}.")
        return None
    name = own_name
    if external_id is None:
        external_id = digest
    kind = operation.operation.value
    if candidate.type is not None and candidate.type != kind:
        problem("INVALID_FORMAT", f"The body's operation is a {kind}.")
        return None
    if len(name) > MAX_NAME_LENGTH:
        problem("INVALID_FORMAT", f"Operation names have at most {MAX_NAME_LENGTH} characters.")
        return None
    errors = validate(gql, document)
    if errors:
        problem("VALIDATION_ERROR", " ".join(e.message for e in errors[:5]))
        return None
    forbidden = _forbidden_fields(gql, document, operation, denied)
    for path, qualified in forbidden:
        problem(
            "FORBIDDEN_FIELD",
            f"{qualified} may not be used by an integrator acting as {acting_as.value}.",
            path,
        )
    if forbidden:
        return None
    return Operation(
        external_id=external_id, name=name, type=kind, body=candidate.body, sha256=digest
    )


def _forbidden_fields(
    gql: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    denied: dict[str, frozenset[str]],
) -> list[tuple[tuple[str, ...], str]]:
    """Every selected field the role may not use, with its path from the operation's root
    (through fragments) and its qualified name. The document is valid: every field and
    fragment exists and fragments do not cycle."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = gql.get_root_type(operation.operation)
    assert root is not None
    found: list[tuple[tuple[str, ...], str]] = []

    def owners(parent: GraphQLNamedType) -> list[str]:
        """The object types whose policy applies to a field selected on `parent`."""
        if isinstance(parent, GraphQLInterfaceType):
            return [t.name for t in gql.get_possible_types(parent)]
        return [parent.name]

    def walk(
        selection_set: SelectionSetNode, parent: GraphQLNamedType, path: tuple[str, ...]
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue
                key = selection.alias.value if selection.alias is not None else name
                for owner in owners(parent):
                    if name in denied.get(owner, ()):
                        found.append(((*path, key), f"{owner}.{name}"))
                        break
                if selection.selection_set is not None:
                    assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                    child = get_named_type(parent.fields[name].type)
                    walk(selection.selection_set, child, (*path, key))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = gql.get_type(condition.name.value) if condition else parent
                assert target is not None
                walk(selection.selection_set, target, path)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                target = gql.get_type(fragment.type_condition.name.value)
                assert target is not None
                walk(fragment.selection_set, target, path)

    walk(operation.selection_set, root, ())
    return found


@lru_cache(maxsize=4)
def _schema_and_denied(acting_as: Role) -> tuple[GraphQLSchema, dict[str, frozenset[str]]]:
    """The GraphQL schema and, per type, the fields an integrator acting as `acting_as`
    may not use: root fields by their ability, the others by the field policy."""
    from permissions.engine import build_field_policy
    from permissions.viewer import Viewer
    from schema.root import schema

    the_schema = schema()
    policy = build_field_policy(the_schema)
    viewer = Viewer(role=Role.INTEGRATOR, acting_as=acting_as)
    return the_schema._schema, policy.denied_for(viewer)


# The request side: a registered document for an integrator


async def registered_operation(
    user_id: uuid.UUID, *, sha256: str | None = None, external_id: str | None = None
) -> str | None:
    """The text of an operation registered for the user's integrator client, by document
    hash or by the client's own id for it; None when the client is revoked or no
    unrevoked manifest of it has such an operation."""
    if sha256 is not None:
        condition, value = "o.document_id = $2", sha256
    elif external_id is not None:
        condition, value = "o.external_id = $2", external_id
    else:
        return None
    rows = await fetch(
        f"""SELECT d.body FROM integrator_client c
            JOIN manifest m ON m.client_id = c.id AND m.revoked_at IS NULL
            JOIN manifest_operation o ON o.manifest_id = m.id AND {condition}
            JOIN persisted_document d ON d.sha256 = o.document_id
            WHERE c.user_id = $1 AND c.revoked_at IS NULL
            LIMIT 1""",  # noqa: S608 - `condition` is one of two constants
        user_id,
        value,
    )
    return str(rows[0]["body"]) if rows else None
