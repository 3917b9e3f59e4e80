"""The Starlette application: /graphql (with GraphiQL), /healthz and /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, parse
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from tortoise.contrib.starlette import RegisterTortoise

from loket import sessions
from loket.auth import TokenError, bearer_token, decode_token
from loket.context import Context
from loket.db import database_unavailable, tortoise_config
from loket.graphiql import ASSET_PREFIX, local_html
from loket.integrators import TOKEN_PATH, token_endpoint
from loket.media import GRAPHQL_RESPONSE, JSON, negotiate
from loket.persisted import PersistedOperations
from loket.planner import STATS, Fallback, Planner, compare_with_strawberry, run_plan
from loket.settings import settings
from permissions.engine import AccessAudit, FieldPolicy, build_field_policy
from permissions.viewer import ANONYMOUS, RoleSelectionError, Viewer, load_viewer
from resolvers.loaders import Loaders
from resolvers.rights import EXPORT_PATH, download_export
from resolvers.transparency import DISCLOSURE_HEADER, DisclosureHeaderError, disclosure_target
from schema.limits import estimate_cost
from schema.root import INTERNAL_SERVER_ERROR, LoketSchema, masked
from schema.root import schema as default_schema

log = logging.getLogger("loket.app")


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> Response:
    extensions = {"code": code} if reason is None else {"code": code, "reason": reason}
    return JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]},
        status_code=status,
        headers=headers,
    )


def _private(start: Message) -> Message:
    """A signed-in caller's response is theirs alone: no shared cache may keep it (a
    hashed GET has the same URL for every user)."""
    kept = [
        (k, v) for k, v in start.get("headers", []) if k.lower() not in (b"cache-control", b"vary")
    ]
    vary = [v for k, v in start.get("headers", []) if k.lower() == b"vary"]
    varies = b", ".join([*vary, b"Authorization, Cookie"])
    return {
        **start,
        "headers": [*kept, (b"cache-control", b"private, no-store"), (b"vary", varies)],
    }


class BodyTooLarge(Exception):
    pass


def _limited(receive: Receive) -> Receive:
    """`receive` that stops a body (chunked or not) once it exceeds the size limit."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > settings.max_body_bytes:
                raise BodyTooLarge()
        return message

    return wrapped


class Authenticate:
    """Resolve the bearer token, else the session cookie, to a Viewer before GraphQL
    runs; bad tokens get a 401.

    A request the cookie authenticates must carry the CSRF header unless it is a GET
    (see loket.sessions); without it nothing runs and the answer is 403 CSRF_REQUIRED.
    An admin's `X-Loket-Disclosure` header is checked here too (400 when it names no
    disclosure this admin may read for; see resolvers.transparency).
    Memberships are read per request, so a revoked membership or a deactivated account
    stops working at once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            await _error(413, "BODY_TOO_LARGE", "The request body is too large.")(
                scope, receive, send
            )
            return
        viewer: Viewer = ANONYMOUS
        from_cookie = False
        try:
            token = bearer_token(headers.get("authorization"))
            if token is None:
                token = sessions.cookie_token(headers)
                from_cookie = token is not None
            if from_cookie and sessions.csrf_missing(scope["method"], headers):
                await _error(
                    403,
                    "CSRF_REQUIRED",
                    f"Requests signed in by the session cookie need the header "
                    f"'{sessions.CSRF_HEADER}: {sessions.CSRF_VALUE}'.",
                )(scope, receive, send)
                return
            if token is not None:
                user_id = decode_token(token)
                from tortoise import connections

                async with connections.get("default").acquire_connection() as conn:
                    found = await load_viewer(conn, user_id, headers.get("x-loket-role"))
                if found is None:
                    raise TokenError("INVALID_TOKEN", "The token names no active user.")
                viewer = found
        except TokenError as e:
            if from_cookie:
                # A stale cookie: say so and make the browser drop it.
                refused = _error(401, "UNAUTHENTICATED", e.message, reason=e.code)
                sessions.clear_session_cookie(refused)
            else:
                refused = _error(
                    401,
                    "UNAUTHENTICATED",
                    e.message,
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                    reason=e.code,
                )
            await refused(scope, receive, send)
            return
        except RoleSelectionError as e:
            await _error(e.status, e.code, str(e))(scope, receive, send)
            return
        named = headers.getlist(DISCLOSURE_HEADER)
        if named:
            try:
                scope.setdefault("state", {})["disclosure"] = await disclosure_target(viewer, named)
            except DisclosureHeaderError as e:
                await _error(400, e.code, str(e))(scope, receive, send)
                return
        scope.setdefault("state", {})["viewer"] = viewer
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if viewer.authenticated:
                    message = _private(message)
            await send(message)

        try:
            await self.app(scope, _limited(receive), tracking_send)
        except BodyTooLarge:
            if not started:
                await _error(413, "BODY_TOO_LARGE", "The request body is too large.")(
                    scope, receive, send
                )


# Seconds a client is asked to wait before retrying while the database is unreachable.
RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable:
    """A request that fails because the database cannot be reached (restarting, down,
    out of connection slots) gets 503 with the code SERVICE_UNAVAILABLE and Retry-After,
    like /readyz, instead of Starlette's uncoded 500 and a closed connection; the service
    recovers by itself once the database is back (the pools reconnect). Applies to what
    fails outside GraphQL execution (authentication, /oauth/token, downloads); errors
    inside an operation stay GraphQL errors. One warning line, without a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as e:
            # The exception names the outage, or it came while the database cannot be
            # reached (a connection cut in the middle of a statement can surface as
            # another asyncpg error): either way the request did not fail on its own.
            if started or not (database_unavailable(e) or not await database_reachable()):
                raise
            log.warning("database unavailable: %s", type(e).__name__)
            await _error(
                503,
                "SERVICE_UNAVAILABLE",
                "The service cannot reach its database; try again shortly.",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )(scope, receive, send)


_ECHOES = (
    # graphql-core quotes offending input values in coercion errors; a value may be an
    # RRN or other personal data, so the message keeps the reason and drops the value.
    (re.compile(r"(cannot represent [^:]*): .*", re.S), r"\1."),
    (re.compile(r"(?:[.,] )?(?:Did you mean .*?\? )?[Ff]ound: .*", re.S), "."),
    (re.compile(r"(Expected value of type [^,]+), found .*", re.S), r"\1."),
    (
        re.compile(r"Value '.*' does not exist in ('[^']*' enum)", re.S),
        r"The value is not in the \1",
    ),
    # An unknown field's name helps the developer; a key that is not a name may be data.
    (re.compile(r"(not to include unknown field) '(?![A-Za-z_]\w{0,63}').*'", re.S), r"\1"),
)


def redact_input_echo(message: str) -> str:
    for pattern, replacement in _ECHOES:
        message = pattern.sub(replacement, message)
    return message


_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class RequestError(HTTPException):
    """A request refused at the HTTP level with a stable code; answered as a GraphQL
    error body (with `headers`, e.g. `Allow`)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message)
        self.code = code
        self.headers = headers or {}


def _batch_item_problem(item: Any) -> str | None:
    """Why one operation of a batch is no proper request (strawberry checks only the
    fields of a single request)."""
    if not isinstance(item, dict):
        return "Each operation of a batch must be a JSON object."
    for key, kind, name in (
        ("query", str, "a string"),
        ("operationName", str, "a string"),
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
    ):
        if item.get(key) is not None and not isinstance(item[key], kind):
            return f"The GraphQL operation's `{key}` must be {name} or null, if provided."
    return None


class LoketGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view with GraphQL-over-HTTP status codes and media types.

    `Accept: application/graphql-response+json` gets that media type, 400 for parse,
    validation and variable errors (no `data`), 500 for an unexpected error before
    execution, 200 once execution started; `application/json`, a wildcard or no Accept
    get the legacy answers (200 with `data: null`). Other Accept values get 406, a POST
    that is not application/json 415, a mutation over GET 405 with `Allow: POST`.
    Batches (a JSON list) of at most `settings.max_batch` operations are answered with
    a list and status 200.
    """

    def __init__(self, schema: LoketSchema, field_policy: FieldPolicy, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.field_policy = field_policy
        self.planner = Planner(schema, field_policy) if settings.plans else None

    async def _planned(self, request: Request, media: str | None) -> Response | None:
        """The response of a compiled plan (loket.planner), or None when strawberry serves
        the request: anything but a single JSON POST of a query the planner covers, and
        any request the plan does not take (it raised before writing anything)."""
        assert self.planner is not None
        if request.method != "POST" or media is None:
            return None
        content_type, _ = parse_content_type(request.headers.get("content-type") or "")
        if content_type != JSON:
            return None
        try:
            item = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(item, dict) or _batch_item_problem(item) is not None:
            return None
        text, variables = item.get("query"), item.get("variables")
        if not isinstance(text, str) or len(text) > settings.max_document_bytes:
            return None
        context = await self.get_context(request, None)
        plan = self.planner.plan_for(context.viewer, text, item.get("operationName"))
        if plan is None:
            STATS["not covered"] += 1
            return None
        differential = settings.plan_differential
        try:
            outcome = await run_plan(
                plan, self.schema, context, variables, returning_reads=differential
            )
        except Fallback:
            STATS["fallback"] += 1
            return None
        except Exception as e:
            # The plan's one statement failed as a whole (nothing written): strawberry
            # serves the request and reports whatever is wrong in its own way.
            log.warning("plan failed (%s); served by strawberry", type(e).__name__)
            STATS["failed"] += 1
            self.planner.forget(context.viewer, text, item.get("operationName"))
            return None
        STATS["planned"] += 1
        if differential:
            await compare_with_strawberry(self.schema, context, plan, text, variables, outcome)
        return Response(outcome.body, media_type=JSON)

    @property
    def graphql_ide_html(self) -> str:
        return local_html()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        media = negotiate(request.headers.get("accept"))
        request.state.media_type = media
        try:
            response = await self._planned(request, media) if self.planner is not None else None
            if response is None:
                response = await self.run(request)
        except HTTPException as e:
            response = self._refusal(e, media)
        else:
            if media == GRAPHQL_RESPONSE and response.media_type == JSON:
                response.headers["content-type"] = GRAPHQL_RESPONSE
                status = getattr(request.state, "graphql_status", None)
                if status is not None and response.status_code == 200:
                    response.status_code = status
        await response(scope, receive, send)

    def _refusal(self, error: HTTPException, media: str | None) -> Response:
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:
            headers.setdefault("Allow", "GET, POST")
        # A reason may repeat the request (an unknown operation's name), with a lone
        # surrogate that has no UTF-8 form: escaped, so that the refusal can be sent.
        reason = error.reason.encode("utf-8", "backslashreplace").decode()
        if not isinstance(error, RequestError) and media != GRAPHQL_RESPONSE:
            # strawberry's own refusals stay plain text for legacy clients.
            return PlainTextResponse(reason, status_code=error.status_code, headers=headers)
        code = (
            error.code
            if isinstance(error, RequestError)
            else _HTTP_CODES.get(error.status_code, "BAD_REQUEST")
        )
        response = _error(error.status_code, code, reason, headers)
        if media == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if negotiate(request.headers.get("accept")) is None:
            raise RequestError(
                406,
                "NOT_ACCEPTABLE",
                f"Responses are available as {GRAPHQL_RESPONSE} or {JSON} only.",
            )
        if request.method == "POST":
            content_type, _ = parse_content_type(request.content_type or "")
            if content_type != JSON:
                raise RequestError(
                    415, "UNSUPPORTED_MEDIA_TYPE", "Send the request body as application/json."
                )
        parsed = await super().parse_http_body(request)
        # Comments and strings are free for the token limit but fill the parser cache.
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if item.query is not None and len(item.query) > settings.max_document_bytes:
                raise RequestError(
                    413,
                    "DOCUMENT_TOO_LARGE",
                    f"A GraphQL document may have at most {settings.max_document_bytes} "
                    "characters.",
                )
        return parsed

    def encode_json(self, data: object) -> str | bytes:
        """Responses by orjson instead of strawberry's `json.dumps`: the same JSON values
        (non-ASCII as UTF-8 instead of `\\u` escapes), several times faster. Anything
        orjson would serialize that `json.dumps` refuses (datetimes, dataclasses) or
        cannot take (integers beyond 64 bits, non-string keys) goes to `json.dumps`, as
        before."""
        import orjson

        try:
            return orjson.dumps(
                data, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
            )
        except TypeError:  # orjson.JSONEncodeError
            return super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        """JSON too deeply nested to decode is malformed JSON, not a server error (GET
        variables and extensions are decoded here too)."""
        try:
            return super().decode_json(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        """JSON bodies must be UTF-8 objects (or lists: batches)."""
        try:
            parsed = self.decode_json(data)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return parsed

    def _validate_batch_request(self, request_data: list[Any], protocol: Any) -> None:
        if not request_data:
            raise RequestError(400, "BAD_REQUEST", "A batch must hold at least one operation.")
        if len(request_data) > settings.max_batch:
            raise RequestError(
                400,
                "BATCH_TOO_LARGE",
                f"A batch may hold at most {settings.max_batch} operations.",
            )
        for item in request_data:
            problem = _batch_item_problem(item)
            if problem is not None:
                raise RequestError(400, "BAD_REQUEST", problem)
        # The cost limit is per request: a batch must not get it once per operation.
        total = sum(self._estimate(item) for item in request_data)
        if total > settings.max_cost:
            raise RequestError(
                400,
                "COST_LIMIT_EXCEEDED",
                f"The batch may fetch about {total} objects. Allowed: {settings.max_cost}",
            )
        super()._validate_batch_request(request_data, protocol)

    def _estimate(self, item: dict[str, Any]) -> int:
        """One batch operation's cost estimate (0 for text that does not parse: running
        it reports the syntax error)."""
        query = item.get("query")
        if not isinstance(query, str):
            return 0
        try:
            document = parse(query, max_tokens=settings.max_tokens)
        except GraphQLError:
            return 0
        return estimate_cost(
            self.schema._schema,  # type: ignore[attr-defined]
            document,
            item.get("operationName"),
            item.get("variables"),
        )

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if not isinstance(request_data, list):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        request.state.batch = True
        # The operations run concurrently: each gets its own loaders and access log.
        return list(
            await asyncio.gather(
                *(
                    self.execute_single(
                        request=request,
                        request_adapter=request_adapter,
                        sub_response=sub_response,
                        context=dataclasses.replace(
                            context,
                            loaders=Loaders(context.viewer),
                            audit=AccessAudit() if context.audit is not None else None,
                        ),
                        root_value=root_value,
                        request_data=data,
                    )
                    for data in request_data
                )
            )
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as e:
            cause = e.__cause__
            if (
                isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type is OperationType.MUTATION
                and request_adapter.method == "GET"
            ):
                raise RequestError(405, "METHOD_NOT_ALLOWED", e.reason, {"Allow": "POST"}) from e
            raise

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        errors = list(result.errors or ())
        # Parse, validation and variable errors: the operation did not start.
        request_error = result.data is None and bool(errors) and all(e.path is None for e in errors)
        if errors:
            # Errors raised outside the operation hooks (e.g. by an extension) passed no
            # MaskUnexpected; process_errors has logged them.
            result.errors = [masked(e) for e in errors]
        response = await super().process_result(request, result)
        for error in response.get("errors") or []:
            error["message"] = redact_input_echo(str(error["message"]))  # type: ignore[index]
        state = request.state
        if (
            request_error
            and getattr(state, "media_type", None) == GRAPHQL_RESPONSE
            and not getattr(state, "batch", False)
        ):
            response.pop("data", None)
            internal = any(
                (e.extensions or {}).get("code") == INTERNAL_SERVER_ERROR
                for e in result.errors or ()
            )
            state.graphql_status = 500 if internal else 400
        return response

    async def get_context(self, request: Any, response: Any) -> Context:
        viewer: Viewer = request.scope.get("state", {}).get("viewer", ANONYMOUS)
        from models.accounts import Role

        return Context(
            viewer=viewer,
            field_policy=self.field_policy,
            loaders=Loaders(viewer),
            request_id=str(uuid.uuid4()),
            audit=AccessAudit() if viewer.role not in (Role.PARENT, None) else None,
            request=request,
            response=response,
            disclosure=request.scope.get("state", {}).get("disclosure"),
        )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


# How long /readyz (and the check after a failed request) waits for `SELECT 1`.
READY_TIMEOUT_SECONDS = 2.0


async def database_reachable() -> bool:
    """Whether a connection of the pool answers `SELECT 1` within READY_TIMEOUT_SECONDS."""
    from tortoise import connections

    async def select_one() -> None:
        async with connections.get("default").acquire_connection() as conn:
            await conn.fetchval("SELECT 1")

    try:
        await asyncio.wait_for(select_one(), READY_TIMEOUT_SECONDS)
    except Exception as e:
        log.warning("database not reachable: %s", type(e).__name__)
        return False
    return True


async def readyz(request: Request) -> Response:
    if not await database_reachable():
        return PlainTextResponse("database unavailable", status_code=503)
    return PlainTextResponse("ready")


def create_app(
    *,
    database_url: str,
    schema: LoketSchema | None = None,
    manage_db: bool = True,
    graphiql_dir: Path | None = None,
) -> Starlette:
    """The ASGI app. With `manage_db`, Tortoise is opened and closed by the lifespan."""
    the_schema = schema or default_schema()
    graphql_app = LoketGraphQL(
        the_schema,
        build_field_policy(the_schema),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_db:
            yield
            return
        async with RegisterTortoise(app, config=tortoise_config(database_url)):
            yield

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route(TOKEN_PATH, token_endpoint, methods=["POST"]),
            Route("/graphql", Authenticate(PersistedOperations(graphql_app, the_schema))),
            # A parent's one-time download of a copy of their dossier (resolvers.rights).
            Route(
                EXPORT_PATH, download_export, methods=["GET"], middleware=[Middleware(Authenticate)]
            ),
            Mount(
                ASSET_PREFIX.rstrip("/"),
                StaticFiles(
                    directory=graphiql_dir or settings.data_dir / "graphiql", check_dir=False
                ),
            ),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(DatabaseUnavailable),
            # Only configured origins may call with credentials; preflights are answered
            # here, before authentication. The CSRF header is on the list so a first-party
            # frontend on another configured origin can send it.
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_credentials=True,
                allow_methods=["GET", "POST"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-Loket-Role",
                    DISCLOSURE_HEADER,
                    sessions.CSRF_HEADER,
                ],
            ),
        ],
    )
    return app
