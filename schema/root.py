"""The one GraphQL schema: root types, extensions, and the printed SDL."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from functools import lru_cache

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from permissions.engine import PolicyExecutor
from permissions.policy import Ability
from resolvers import accounts, households, providers, requests, uniqueness
from schema.directives import guarded, guarded_mutation, public

log = logging.getLogger("loket.graphql")

_PUBLIC = "public data (MISSION.md section 3.8)"


@strawberry.type(description="Entry points for reading.")
class Query:
    me = guarded(Ability.SIGNED_IN, "The signed-in user.", resolver=accounts.me)
    household = guarded(
        Ability.LIST_DOSSIERS,
        "A dossier by id; null outside the viewer's grants.",
        resolver=households.household,
    )
    my_household = guarded(
        Ability.OWN_DOSSIER,
        "The signed-in parent's dossier.",
        resolver=households.my_household,
    )
    dossiers = guarded(
        Ability.LIST_DOSSIERS,
        "Dossiers within the viewer's grants (for counter staff: their region).",
        resolver=households.dossiers,
    )
    inbox = guarded(
        Ability.PROVIDER_INBOX,
        "A location's inbox: open applications and emergency-list requests.",
        resolver=requests.inbox,
    )
    has_open_request = guarded(
        Ability.CHECK_REQUEST_UNIQUENESS,
        "The uniqueness check: is there an open request for this child?",
        resolver=uniqueness.has_open_request,
    )
    locations = public(
        "Childcare locations, optionally of one municipality.",
        reason=_PUBLIC,
        resolver=providers.locations,
    )
    municipalities = public(
        "Municipalities known to the platform.", reason=_PUBLIC, resolver=providers.municipalities
    )


@strawberry.type(description="Entry points for writing; each runs in one transaction.")
class Mutation:
    register_household = guarded_mutation(
        Ability.REGISTER_HOUSEHOLD,
        "Register the signed-in parent's household with a first child.",
        resolver=households.register_household,
    )
    submit_care_request = guarded_mutation(
        Ability.SUBMIT_CARE_REQUEST,
        "File a care request for a child to one or more locations.",
        resolver=requests.submit_care_request,
    )


def _is_expected(error: GraphQLError) -> bool:
    """Syntax, validation, coercion and our own coded errors are shown; the rest masked."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def should_mask_error(error: GraphQLError) -> bool:
    return not _is_expected(error)


class AccessLogFlush(SchemaExtension):
    """Writes the request's personal-data reads to the access log in one statement."""

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context.context
        audit = getattr(context, "audit", None)
        if audit is None or not audit.reads:
            return
        from loket.db import execute

        keys = list(audit.reads)
        await execute(
            """INSERT INTO access_log (at, viewer_id, role, grant_name, household_id,
                   fields_read, operation_name, request_id)
               SELECT now(), $1, $2, g, h, to_jsonb(f), $3, $4
               FROM unnest($5::text[], $6::uuid[]) WITH ORDINALITY AS t(g, h, i)
               CROSS JOIN LATERAL (SELECT ($7::text[])[i] AS fj) j
               CROSS JOIN LATERAL (SELECT string_to_array(j.fj, ',') AS f) k""",
            context.viewer.user_id,
            context.viewer.role.value if context.viewer.role else "ANONYMOUS",
            self.execution_context.operation_name,
            context.request_id,
            [g for _, g in keys],
            [h for h, _ in keys],
            [",".join(sorted(audit.reads[k])) for k in keys],
        )


class LoketSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors without their messages (they may hold data); never
        log expected denials or input errors."""
        for error in errors:
            if _is_expected(error):
                continue
            original = error.original_error
            frames = "".join(traceback.format_tb(original.__traceback__)) if original else ""
            log.error("unexpected %s at %s\n%s", type(original).__name__, error.path, frames)


def build_schema(*, enforce: bool = True) -> LoketSchema:
    """The schema; `enforce=False` only for measuring the policy's cost (benchmarks)."""
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    return LoketSchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=PolicyExecutor
        if enforce
        else StrawberryGraphQLCoreExecutionContext,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=12),
            lambda: MaxAliasesLimiter(max_alias_count=30),
            lambda: MaxTokensLimiter(max_token_count=4000),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: MaskErrors(should_mask_error=should_mask_error),
            AccessLogFlush,
        ],
    )


@lru_cache(maxsize=1)
def schema() -> LoketSchema:
    return build_schema()


def printed_sdl() -> str:
    return schema().as_str() + "\n"


__all__ = ["build_schema", "printed_sdl", "schema"]
