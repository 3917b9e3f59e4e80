"""Persisted operations: turns a reference to a stored document into a plain GraphQL request.

An ASGI middleware between `Authenticate` (which puts the Viewer in the scope) and the
GraphQL view. It recognises, in this order:

1. Apollo's `extensions.persistedQuery {version: 1, sha256Hash}`;
2. GraphQL-over-HTTP persisted documents: a top-level `documentId`, `"sha256:<hex>"`
   (any other value is a custom id, looked up like Relay's);
3. Relay's top-level `doc_id`: the id the client's tooling gave the operation,
   looked up only among operations registered for the caller;

in a JSON POST body or in the query string of a GET (`extensions` as JSON there, as
Apollo's `useGETForHashedQueries` and urql send it). A recognised reference is replaced
by the stored text as `query`, so the view sees a plain request, and its parser and
validation caches (keyed by the text) hit: a persisted operation is not parsed or
validated again.

- Integrators (role INTEGRATOR) run only the operations of their own unrevoked
  manifests: no reference is `PERSISTED_QUERY_REQUIRED`, a reference not registered for
  them `PERSISTED_QUERY_NOT_FOUND`, both HTTP 400. Text sent alongside a reference is
  never run: the registered text is.
- Everyone else may use automatic persisted queries (APQ) as Apollo Server answers them:
  an unknown hash alone gets HTTP 200 `PersistedQueryNotFound`, upon which Apollo Client
  and urql retry with the text; the text must hash to the given hash
  (`PERSISTED_QUERY_HASH_MISMATCH`), is stored only when it parses and validates against
  the schema, and new registrations are rate-limited per client IP (`RATE_LIMITED`,
  429). A `documentId` names any stored document (APQ or registered in a manifest).

Caching: documents by hash in an in-process LRU (`persisted_cache_size` entries); a
document is immutable (its key is the hash of its text), so these entries never expire,
and a cached hash costs no SQL. An integrator's (user, reference) → text entries share
the LRU but expire after `persisted_cache_ttl_seconds` (default 30 s): a revoked
manifest stops working at most that long after the revocation in every server process.
Misses are never cached, so a new upload works at once.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from graphql import GraphQLError, parse, specified_rules
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.schema import validate_document

from loket import limits, sessions
from loket.db import execute, fetch
from loket.media import JSON, negotiate
from loket.settings import settings
from models.accounts import Role
from permissions.viewer import ANONYMOUS, Viewer

_HEX64 = re.compile(r"[0-9a-f]{64}")
# Bytes whose absence means the request carries no reference. Only used to let other
# callers' plain requests through unparsed: an escaped key (`"\\u0064ocumentId"`) would
# slip past, but then the view runs the request's own text, which they may send anyway.
_MARKERS = (b"persistedQuery", b"documentId", b"doc_id")
_WINDOW = 3600


class PersistedError(Exception):
    """A request that is answered here, without running any operation."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _not_found_apq() -> PersistedError:
    # Exactly Apollo Server's answer: status 200, the message Apollo Client and urql look
    # for, and no caching by the browser or a proxy (the next GET must reach us again).
    return PersistedError(
        200,
        "PERSISTED_QUERY_NOT_FOUND",
        "PersistedQueryNotFound",
        {"Cache-Control": "private, no-cache, must-revalidate"},
    )


def _not_found() -> PersistedError:
    return PersistedError(
        400, "PERSISTED_QUERY_NOT_FOUND", "No persisted operation is known by this reference."
    )


def _mismatch() -> PersistedError:
    return PersistedError(
        400, "PERSISTED_QUERY_HASH_MISMATCH", "The query's SHA-256 hash is not the hash given."
    )


def _required() -> PersistedError:
    return PersistedError(
        400,
        "PERSISTED_QUERY_REQUIRED",
        "Integrator clients may run only their registered operations: send a persisted "
        "query hash, a documentId or a doc_id.",
    )


def _bad_request(message: str) -> PersistedError:
    return PersistedError(400, "BAD_REQUEST", message)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedCache:
    """An LRU of reference → document text; entries may carry an expiry (monotonic s).

    Bounded by entries and by characters held: a document may be up to the 1 MB body
    limit, so the entry count alone would not bound the memory."""

    def __init__(self, maxsize: int, max_chars: int = 32 * 2**20) -> None:
        self.maxsize = maxsize
        self.max_chars = max_chars
        self.chars = 0
        self._entries: OrderedDict[Hashable, tuple[str, float | None]] = OrderedDict()

    def get(self, key: Hashable) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        text, expires = entry
        if expires is not None and expires <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return text

    def put(self, key: Hashable, text: str, ttl: float | None = None) -> None:
        if self.maxsize <= 0 or (ttl is not None and ttl <= 0) or len(text) > self.max_chars:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (text, None if ttl is None else time.monotonic() + ttl)
        self.chars += len(text)
        while len(self._entries) > self.maxsize or self.chars > self.max_chars:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        text, _ = self._entries.pop(key)
        self.chars -= len(text)

    def clear(self) -> None:
        self._entries.clear()
        self.chars = 0

    def __len__(self) -> int:
        return len(self._entries)


class _Reference:
    """What a request names: a document by hash, or an operation by its client's id."""

    __slots__ = ("apollo", "external_id", "sha256")

    def __init__(
        self, *, sha256: str | None = None, external_id: str | None = None, apollo: bool = False
    ) -> None:
        self.sha256 = sha256
        self.external_id = external_id
        self.apollo = apollo


def _hash_of(value: Any) -> str:
    """A well-formed lower-case hex hash, or '' (which matches nothing)."""
    if not isinstance(value, str):
        return ""
    value = value.lower()
    return value if _HEX64.fullmatch(value) else ""


def _reference(item: dict[str, Any]) -> _Reference | None:
    extensions = item.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedError(400, "PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
        return _Reference(sha256=_hash_of(persisted.get("sha256Hash")), apollo=True)
    document_id = item.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str) or not document_id:
            raise _bad_request("documentId must be a non-empty string.")
        if document_id.startswith("sha256:"):
            return _Reference(sha256=_hash_of(document_id[len("sha256:") :]))
        return _Reference(external_id=document_id)
    doc_id = item.get("doc_id")
    if doc_id is not None:
        if not isinstance(doc_id, str) or not doc_id:
            raise _bad_request("doc_id must be a non-empty string.")
        return _Reference(external_id=doc_id)
    return None


def _plain(item: dict[str, Any], text: str) -> dict[str, Any]:
    """`item` as a plain request for `text`: the reference fields removed."""
    plain = {k: v for k, v in item.items() if k not in ("documentId", "doc_id")}
    plain["query"] = text
    extensions = item.get("extensions")
    if isinstance(extensions, dict) and "persistedQuery" in extensions:
        rest = {k: v for k, v in extensions.items() if k != "persistedQuery"}
        if rest:
            plain["extensions"] = rest
        else:
            plain.pop("extensions", None)
    return plain


def _media_type(headers: Headers) -> str:
    """application/graphql-response+json when the Accept header prefers it."""
    return negotiate(headers.get("accept")) or JSON


def _error_response(error: PersistedError, headers: Headers) -> Response:
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        headers=error.headers,
        media_type=_media_type(headers),
    )


class PersistedOperations:
    """ASGI middleware: see the module docstring. Must run after `Authenticate`."""

    def __init__(self, app: ASGIApp, schema: Any, *, cache_size: int | None = None) -> None:
        self.app = app
        self.schema = schema
        self.cache = PersistedCache(
            settings.persisted_cache_size if cache_size is None else cache_size
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        viewer: Viewer = scope.get("state", {}).get("viewer", ANONYMOUS)
        try:
            if scope["method"] == "GET":
                scope = await self._get(scope, viewer)
            else:
                replaced = await self._post(scope, receive, viewer)
                if replaced is None:
                    return  # the client went away while sending its body
                scope, receive = replaced
        except PersistedError as e:
            await _error_response(e, Headers(scope=scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    # -- transports ---------------------------------------------------------------------

    async def _get(self, scope: Scope, viewer: Viewer) -> Scope:
        raw: bytes = scope.get("query_string", b"")
        integrator = viewer.role is Role.INTEGRATOR
        if not integrator and not any(marker in raw for marker in _MARKERS):
            return scope
        # The same decoding as the view's (starlette's QueryParams): the last value wins.
        params: dict[str, Any] = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
        if params.get("extensions"):
            try:
                params["extensions"] = orjson.loads(params["extensions"])
            except orjson.JSONDecodeError:
                if integrator:
                    raise _bad_request("extensions must be JSON.") from None
                return scope  # the view reports it
        resolved = await self._resolve(params, viewer, scope)
        if resolved is None:
            return scope
        if isinstance(resolved.get("extensions"), dict):
            resolved["extensions"] = orjson.dumps(resolved["extensions"]).decode()
        return {**scope, "query_string": urlencode(resolved).encode("latin-1")}

    async def _post(
        self, scope: Scope, receive: Receive, viewer: Viewer
    ) -> tuple[Scope, Receive] | None:
        headers = Headers(scope=scope)
        integrator = viewer.role is Role.INTEGRATOR
        content_type, _ = parse_content_type(headers.get("content-type", ""))
        if "application/json" not in content_type:
            if integrator:
                raise _required()
            return scope, receive
        body = await _read_body(receive)
        if body is None:
            return None
        replay = _replay(body, receive)
        if not integrator and not any(marker in body for marker in _MARKERS):
            return scope, replay
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            if integrator:
                raise _bad_request("Unable to parse request body as JSON") from None
            return scope, replay
        if isinstance(data, dict):
            resolved: Any = await self._resolve(data, viewer, scope)
            if resolved is None:
                return scope, replay
        elif isinstance(data, list):
            # A batch (the view refuses them unless batching is on): every item passes here.
            if integrator and not all(isinstance(i, dict) for i in data):
                raise _bad_request("Every operation of a batch must be a JSON object")
            items = [
                await self._resolve(i, viewer, scope) if isinstance(i, dict) else None for i in data
            ]
            if all(i is None for i in items):
                return scope, replay
            resolved = [
                new if new is not None else old for new, old in zip(items, data, strict=True)
            ]
        else:
            if integrator:
                raise _bad_request("The request body must be a JSON object")
            return scope, replay
        new_body = orjson.dumps(resolved)
        new_headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        new_headers.append((b"content-length", str(len(new_body)).encode()))
        return {**scope, "headers": new_headers}, _replay(new_body, receive)

    # -- resolution -----------------------------------------------------------------------

    async def _resolve(
        self, item: dict[str, Any], viewer: Viewer, scope: Scope
    ) -> dict[str, Any] | None:
        """The plain request `item` stands for, or None when it names no stored document."""
        reference = _reference(item)
        query = item.get("query")
        if viewer.role is Role.INTEGRATOR:
            if reference is None:
                raise _required()
            if (
                reference.sha256 is not None
                and isinstance(query, str)
                and sha256_hex(query) != reference.sha256
            ):
                raise _mismatch()
            assert viewer.user_id is not None
            text = await self._registered(viewer.user_id, reference)
            if text is None:
                raise _not_found()
            return _plain(item, text)
        if reference is None:
            return None
        if reference.sha256 is None:
            raise _not_found()  # a client's own id means something only for integrators
        if isinstance(query, str):
            if sha256_hex(query) != reference.sha256:
                raise _mismatch()
            if reference.apollo:
                await self._register(reference.sha256, query, scope)
                return _plain(item, query)
        text = await self._document(reference.sha256)
        if text is None:
            raise _not_found_apq() if reference.apollo else _not_found()
        return _plain(item, text)

    async def _document(self, sha256: str) -> str | None:
        """A stored document (APQ or registered) by hash; a cached one costs no SQL."""
        if not sha256:
            return None
        text = self.cache.get(sha256)
        if text is not None:
            return text
        rows = await fetch("SELECT body FROM persisted_document WHERE sha256 = $1", sha256)
        if not rows:
            return None
        text = str(rows[0]["body"])
        self.cache.put(sha256, text)
        return text

    async def _registered(self, user_id: uuid.UUID, reference: _Reference) -> str | None:
        """An operation registered for this integrator user, cached for a short TTL."""
        if not (reference.sha256 or reference.external_id):
            return None
        key = (user_id, reference.sha256, reference.external_id)
        text = self.cache.get(key)
        if text is not None:
            return text
        from loket.integrators import registered_operation

        found = await registered_operation(
            user_id, sha256=reference.sha256, external_id=reference.external_id
        )
        if found is not None:
            self.cache.put(key, found, ttl=settings.persisted_cache_ttl_seconds)
        return found

    async def _register(self, sha256: str, text: str, scope: Scope) -> None:
        """Store `text` as an automatic persisted query when it is new and valid."""
        if self.cache.get(sha256) is not None:
            return
        if await fetch("SELECT 1 FROM persisted_document WHERE sha256 = $1", sha256):
            self.cache.put(sha256, text)
            return
        # (NUL, e.g. in a comment, is valid GraphQL that PostgreSQL cannot store; orjson
        # has already refused lone surrogates.)
        if len(text) > settings.max_document_bytes or "\x00" in text or not self._valid(text):
            return  # not stored; the view runs it (or refuses it) and reports its errors
        # The client's address as every other per-IP limit sees it (trusted proxies,
        # IPv6 by /64).
        subject = sessions.limit_subject(sessions.client_ip(Request(scope)))
        if not await limits.hit(
            limits.digest("apq-registration", subject),
            settings.apq_registrations_per_hour,
            _WINDOW,
        ):
            raise PersistedError(
                429,
                "RATE_LIMITED",
                "Too many new persisted queries from this address; try again later.",
                {"Retry-After": str(_WINDOW - int(time.time()) % _WINDOW)},
            )
        await execute(
            """INSERT INTO persisted_document (sha256, body, source, created_at)
               VALUES ($1, $2, 'APQ', now()) ON CONFLICT (sha256) DO NOTHING""",
            sha256,
            text,
        )
        self.cache.put(sha256, text)

    def _valid(self, text: str) -> bool:
        """Whether the view would accept `text`: it parses within the token limit and
        passes the schema's validation rules (graphql-core's and the schema extensions')."""
        # Read per registration (rare): the limits come from settings when the schema's
        # extensions are made, as they are for each request the view runs.
        rules, max_tokens = validation_of(self.schema)
        try:
            document = parse(text, max_tokens=max_tokens)
        except GraphQLError:
            return False
        return not validate_document(self.schema._schema, document, rules)


def validation_of(schema: Any) -> tuple[tuple[Any, ...], int | None]:
    """The validation rules and token limit the schema's extensions add to every request."""
    rules: list[Any] = list(specified_rules)
    max_tokens: int | None = None
    for factory in getattr(schema, "extensions", ()):
        extension = factory() if callable(factory) else factory
        if isinstance(extension, AddValidationRules):
            rules.extend(extension.validation_rules)
        elif isinstance(extension, MaxTokensLimiter):
            max_tokens = extension.max_token_count
    return tuple(rules), max_tokens


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body (the 1 MB limit is enforced by `receive` itself); None when
    the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over `body` once, then waits on the real one (disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
