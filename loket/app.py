"""The Starlette application: /graphql (with GraphiQL), /healthz and /readyz."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from tortoise.contrib.starlette import RegisterTortoise

from loket.auth import TokenError, bearer_token, decode_token
from loket.context import Context
from loket.db import tortoise_config
from loket.graphiql import ASSET_PREFIX, local_html
from loket.settings import settings
from permissions.engine import AccessAudit, FieldPolicy, build_field_policy
from permissions.viewer import ANONYMOUS, RoleSelectionError, Viewer, load_viewer
from resolvers.loaders import Loaders
from schema.root import LoketSchema
from schema.root import schema as default_schema

log = logging.getLogger("loket.app")

MAX_BODY_BYTES = 1_000_000


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


class BodyTooLarge(Exception):
    pass


def _limited(receive: Receive) -> Receive:
    """`receive` that stops a body (chunked or not) once it exceeds MAX_BODY_BYTES."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise BodyTooLarge()
        return message

    return wrapped


class Authenticate:
    """Resolve the bearer token to a Viewer before GraphQL runs; bad tokens get a 401.

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
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _error(413, "BODY_TOO_LARGE", "The request body is too large.")(
                scope, receive, send
            )
            return
        viewer: Viewer = ANONYMOUS
        try:
            token = bearer_token(headers.get("authorization"))
            if token is not None:
                user_id = decode_token(token)
                from tortoise import connections

                async with connections.get("default").acquire_connection() as conn:
                    found = await load_viewer(conn, user_id, headers.get("x-loket-role"))
                if found is None:
                    raise TokenError("INVALID_TOKEN", "The token names no active user.")
                viewer = found
        except TokenError as e:
            await _error(
                401, e.code, e.message, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )(scope, receive, send)
            return
        except RoleSelectionError as e:
            await _error(403 if e.code == "ROLE_NOT_HELD" else 400, e.code, str(e))(
                scope, receive, send
            )
            return
        scope.setdefault("state", {})["viewer"] = viewer
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _limited(receive), tracking_send)
        except BodyTooLarge:
            if not started:
                await _error(413, "BODY_TOO_LARGE", "The request body is too large.")(
                    scope, receive, send
                )


_ECHOES = (
    # graphql-core quotes offending input values in coercion errors; a value may be an
    # RRN or other personal data, so the message keeps the reason and drops the value.
    (re.compile(r"(cannot represent [^:]*): .*", re.S), r"\1."),
    (re.compile(r", found: .*", re.S), "."),
    (re.compile(r"(Expected value of type [^,]+), found .*", re.S), r"\1."),
)


def redact_input_echo(message: str) -> str:
    for pattern, replacement in _ECHOES:
        message = pattern.sub(replacement, message)
    return message


class LoketGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: LoketSchema, field_policy: FieldPolicy, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.field_policy = field_policy

    @property
    def graphql_ide_html(self) -> str:
        return local_html()

    def parse_json(self, data: str | bytes) -> Any:
        """JSON bodies must be UTF-8 objects (or lists, which batching refuses)."""
        try:
            parsed = self.decode_json(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return parsed

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        errors: Any = response.get("errors") or []
        for error in errors:
            error["message"] = redact_input_echo(str(error["message"]))
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
        )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    from tortoise import connections

    try:
        async with connections.get("default").acquire_connection() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as e:
        log.warning("database not reachable: %s", type(e).__name__)
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
            Route("/graphql", Authenticate(graphql_app)),
            Mount(
                ASSET_PREFIX.rstrip("/"),
                StaticFiles(
                    directory=graphiql_dir or settings.data_dir / "graphiql", check_dir=False
                ),
            ),
        ],
        lifespan=lifespan,
    )
    return app
