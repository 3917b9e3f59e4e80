"""Enforcement of the field policy, decided per role once and applied in the executor.

At start-up the schema's `@policy` directives are turned into, for every role, the set
of fields that role may never read (`FieldPolicy`). Rows are already scoped to the
viewer's grants, and every grant a role holds has the same field subset, so a field
is allowed or not by role alone: the executor checks one set per field, no per-field
resolver wrapper. Denied fields resolve to null with a FORBIDDEN error at their path.

The same pass notes which fields are personal; reads of them by non-parents are
collected per dossier and written to the access log in one statement per request.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from models.accounts import Role
from permissions.agreements import AGREEMENT_MISSING
from permissions.policy import POLICY, Ability, allowed_for_role
from permissions.viewer import Viewer

FORBIDDEN = "FORBIDDEN"


class Forbidden(GraphQLError):
    """An expected denial: carries the stable code FORBIDDEN and never any data; `reason`
    (e.g. AGREEMENT_MISSING) says why when the viewer can do something about it."""

    def __init__(
        self, message: str = "not allowed for this viewer", reason: str | None = None
    ) -> None:
        extensions = (
            {"code": FORBIDDEN} if reason is None else {"code": FORBIDDEN, "reason": reason}
        )
        super().__init__(message, extensions=extensions)


def denial_reason(viewer: Viewer) -> str | None:
    """AGREEMENT_MISSING for a viewer whose roles all wait for an agreement in force."""
    if viewer.role is None and viewer.roles_without_agreement:
        return AGREEMENT_MISSING
    return None


@dataclass
class FieldPolicy:
    """The policy of every field of the schema, indexed for the executor."""

    # (type name, field name) -> ability, for guarded fields.
    abilities: dict[tuple[str, str], Ability]
    # type name -> personal field name -> qualified name ("Parent.phone").
    personal: dict[str, dict[str, str]]
    # (role, acting_as) -> type name -> denied field names.
    _denied: dict[tuple[Role | None, Role | None], dict[str, frozenset[str]]] = field(
        default_factory=dict
    )

    def denied_for(self, viewer: Viewer) -> dict[str, frozenset[str]]:
        key = (viewer.role, viewer.acting_as)
        denied = self._denied.get(key)
        if denied is None:
            per_type: dict[str, set[str]] = defaultdict(set)
            for (type_name, field_name), ability in self.abilities.items():
                if not allowed_for_role(ability, viewer.role, viewer.acting_as):
                    per_type[type_name].add(field_name)
            denied = {t: frozenset(f) for t, f in per_type.items()}
            self._denied[key] = denied
        return denied


def build_field_policy(schema: Any) -> FieldPolicy:
    """Read the `@policy` directives of a strawberry schema's object type fields."""
    from schema.directives import Policy

    abilities: dict[tuple[str, str], Ability] = {}
    personal: dict[str, set[str]] = defaultdict(set)
    gql: GraphQLSchema = schema._schema
    for type_name, gtype in gql.type_map.items():
        if not isinstance(gtype, GraphQLObjectType) or type_name.startswith("__"):
            continue
        definition = schema.get_type_by_name(type_name)
        if definition is None:
            continue
        for sfield in getattr(definition, "fields", []):
            name = schema.config.name_converter.get_graphql_name(sfield)
            for directive in sfield.directives:
                if isinstance(directive, Policy):
                    abilities[(type_name, name)] = directive.ability
                    if POLICY[directive.ability].personal:
                        personal[type_name].add(name)
    return FieldPolicy(
        abilities, {t: {f: f"{t}.{f}" for f in sorted(names)} for t, names in personal.items()}
    )


class AccessAudit:
    """Personal-data reads of one request, by dossier and grant (flushed once)."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        self.reads: dict[tuple[Any, str], set[str]] = {}

    def record(self, source: Any, qualified_name: str) -> None:
        key = (source.household_id, source.grant)
        fields = self.reads.get(key)
        if fields is None:
            fields = self.reads[key] = set()
        fields.add(qualified_name)


class PolicyExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core executor that applies the role's field policy and notes personal reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        context = self.context_value
        self._denied: dict[str, frozenset[str]] = context.field_policy.denied_for(context.viewer)
        self._personal: dict[str, dict[str, str]] = context.field_policy.personal
        self._audit: AccessAudit | None = context.audit
        self._reason = denial_reason(context.viewer)

    def execute_field(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        type_name = parent_type.name
        denied = self._denied.get(type_name)
        if denied is not None:
            field_name = field_details_list[0].node.name.value
            if field_name in denied:
                self.handle_field_error(
                    Forbidden(reason=self._reason),
                    parent_type.fields[field_name].type,
                    field_details_list,
                    path,
                )
                return None
        audit = self._audit
        if audit is not None:
            personal = self._personal.get(type_name)
            if personal is not None:
                qualified = personal.get(field_details_list[0].node.name.value)
                if qualified is not None and source is not None:
                    audit.record(source, qualified)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
