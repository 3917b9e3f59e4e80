"""Limits on what one GraphQL request may ask, each refused before execution with a
stable `extensions.code`: nesting depth, aliases, parser tokens, directive uses, an
estimated number of objects (list sizes from `first`), and introspection, which only
signed-in providers, admins and integrators may use.

Depth, aliases and directives are validation rules built once from the settings, so the
validation cache (keyed by the rule classes) keeps working; they measure each fragment
once (strawberry's own limiters re-walk a fragment at every spread, which a small
document can make exponential). Introspection depends on the viewer and the cost on the
variables, so `OperationLimits` checks them per request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast, value_from_ast_untyped
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from loket.settings import settings
from models.accounts import Role
from schema.common import MAX_PAGE, page_size

DEPTH_LIMIT_EXCEEDED = "DEPTH_LIMIT_EXCEEDED"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
TOO_MANY_DIRECTIVES = "TOO_MANY_DIRECTIVES"
COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
INTROSPECTION_LIMIT = "INTROSPECTION_LIMIT"
OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

INTROSPECTION_ROLES = frozenset({Role.PROVIDER, Role.ADMIN, Role.INTEGRATOR})
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def with_code(error: GraphQLError, code: str, **extra: Any) -> GraphQLError:
    """`error` with `code` (and `extra`) in its extensions; returns the same error."""
    error.extensions = {**(error.extensions or {}), "code": code, **extra}
    return error


def has_code(error: GraphQLError) -> bool:
    return bool((error.extensions or {}).get("code"))


# --- validation rules (cached with the document) ---------------------------------------


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _name(operation: OperationDefinitionNode) -> str:
    return operation.name.value if operation.name else "anonymous"


class _Fold:
    """A measure of selection sets with each fragment measured once (strawberry's
    limiters re-walk a fragment at every spread: fragments that spread the next one
    twice make a few hundred bytes take minutes)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = _fragments(document)
        self.memo: dict[str, int] = {}

    def fragment(self, name: str) -> int:
        if name not in self.memo:
            self.memo[name] = 0  # a cycle (refused by graphql-core's rules) adds nothing
            fragment = self.fragments.get(name)
            if fragment is not None:
                self.memo[name] = self.own(fragment) + self.selections(fragment.selection_set)
        return self.memo[name]

    def own(self, node: Any) -> int:
        """What one node (field, fragment, operation) adds by itself."""
        raise NotImplementedError

    def selections(self, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            total += self.own(selection)
            if isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode):
                total += self.selections(selection.selection_set)
        return total


class _Aliases(_Fold):
    def own(self, node: Any) -> int:
        return 1 if isinstance(node, FieldNode) and node.alias else 0


class _Introspections(_Fold):
    def own(self, node: Any) -> int:
        return 1 if isinstance(node, FieldNode) and node.name.value in _INTROSPECTION_FIELDS else 0


def introspection_count(document: DocumentNode) -> int:
    """`__schema` and `__type` selections of the document, a fragment's at every spread:
    one full introspection is what GraphiQL needs; thirty aliased ones are an attack."""
    counter = _Introspections(document)
    return sum(counter.selections(o.selection_set) for o in _operations(document))


class _Directives(_Fold):
    def own(self, node: Any) -> int:
        count = len(node.directives or ())
        if isinstance(node, OperationDefinitionNode):
            count += sum(len(v.directives or ()) for v in node.variable_definitions or ())
        return count


class _Depth(_Fold):
    """Nesting of fields with selections (strawberry's QueryDepthLimiter's measure:
    a leaf adds nothing, introspection fields are not counted)."""

    def fragment(self, name: str) -> int:
        if name not in self.memo:
            self.memo[name] = 0
            fragment = self.fragments.get(name)
            if fragment is not None:
                self.memo[name] = self.selections(fragment.selection_set)
        return self.memo[name]

    def selections(self, selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.selection_set and not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + self.selections(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.selections(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self.fragment(selection.name.value))
        return deepest


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """Refuses an operation nested deeper than `max_depth` (DEPTH_LIMIT_EXCEEDED)."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            depth = _Depth(context.document)
            for operation in _operations(context.document):
                if depth.selections(operation.selection_set) > max_depth:
                    context.report_error(
                        GraphQLError(
                            f"'{_name(operation)}' exceeds maximum operation depth of {max_depth}",
                            operation,
                            extensions={"code": DEPTH_LIMIT_EXCEEDED},
                        )
                    )

    return DepthLimit


def alias_rule(max_aliases: int) -> type[ValidationRule]:
    """Refuses a document with more than `max_aliases` aliases, those of a fragment
    counted at every spread (TOO_MANY_ALIASES)."""

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            aliases = _Aliases(context.document)
            total = sum(aliases.selections(o.selection_set) for o in _operations(context.document))
            if total > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"{total} aliases found. Allowed: {max_aliases}",
                        extensions={"code": TOO_MANY_ALIASES},
                    )
                )

    return AliasLimit


def directive_rule(max_directives: int) -> type[ValidationRule]:
    """Refuses an operation with more than `max_directives` directive uses, those of a
    fragment counted at every spread (TOO_MANY_DIRECTIVES)."""

    class DirectiveLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            directives = _Directives(context.document)
            for operation in _operations(context.document):
                count = directives.own(operation) + directives.selections(operation.selection_set)
                if count > max_directives:
                    context.report_error(
                        GraphQLError(
                            f"'{_name(operation)}' uses {count} directives. "
                            f"Allowed: {max_directives}",
                            operation,
                            extensions={"code": TOO_MANY_DIRECTIVES},
                        )
                    )

    return DirectiveLimit


def limit_rules(
    *, max_depth: int, max_aliases: int, max_directives: int
) -> list[type[ASTValidationRule]]:
    return [depth_rule(max_depth), alias_rule(max_aliases), directive_rule(max_directives)]


# Built once: the validation cache is keyed by the rule classes.
RULES = limit_rules(
    max_depth=settings.max_depth,
    max_aliases=settings.max_aliases,
    max_directives=settings.max_directives,
)


class ValidationLimits(AddValidationRules):
    """Depth, aliases and directives (settings `max_depth`, `max_aliases`,
    `max_directives`)."""

    def __init__(self) -> None:
        super().__init__(RULES)


class TokenLimit(MaxTokensLimiter):
    """The parser stops after `settings.max_tokens` tokens; its syntax error is coded
    TOO_MANY_TOKENS by `is_token_limit_error` (in Schema.process_errors: ParserCache
    raises it from its own hook, past every other extension)."""

    def __init__(self) -> None:
        super().__init__(max_token_count=settings.max_tokens)


def is_token_limit_error(error: GraphQLError) -> bool:
    return isinstance(error, GraphQLSyntaxError) and "tokens. Parsing aborted" in error.message


# --- per request: introspection by role, cost by variables -----------------------------


def uses_introspection(document: DocumentNode) -> bool:
    """Whether any selection in the document is `__schema` or `__type` (`__typename` is
    not introspection of the schema and stays allowed)."""
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode) and selection.name.value in _INTROSPECTION_FIELDS:
                return True
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return False


class CostEstimate:
    """The number of objects an operation may fetch, estimated before it runs.

    Every object (a value of an object, interface or union type) costs 1; scalar and
    enum fields cost nothing, they come with their object's row. A list multiplies its
    objects by its `first` argument, or by the `first` of the connection field it belongs
    to (`dossiers(first: 10) { edges { ... } }`), the argument's default when not given,
    capped at the largest page (MAX_PAGE). A list without `first` counts as
    `list_estimate` items at the root of the operation (a collection: municipalities,
    locations) and as `nested_list_estimate` items elsewhere (an object's own items: a
    household's children, a request's applications, a payload's errors). Introspection
    costs nothing here (it has its own rules).

    Why not every field, and not 50 for every list: a page of 100 dossiers with their
    parents, children, requests and each request's care days, chosen locations and
    applications (tests/test_n_plus_one.py) would be about 1,000,000 objects, and every
    field of one dossier (tests/test_access_matrix.py) about 120,000 fields.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        *,
        list_estimate: int,
        nested_list_estimate: int,
    ) -> None:
        self.schema = schema
        self.roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
        self.fragments = _fragments(document)
        self.given = dict(variables or {})
        self.variables: dict[str, Any] = {}
        self.list_estimate = list_estimate
        self.nested_list_estimate = nested_list_estimate
        self._memo: dict[tuple[str, int | None], int] = {}

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        defaults = {
            v.variable.name.value: value_from_ast_untyped(v.default_value)
            for v in operation.variable_definitions or ()
            if v.default_value is not None
        }
        self.variables = {**defaults, **self.given}
        self._memo.clear()
        return self._selections(operation.selection_set, root, None)

    def _selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        page: int | None,
    ) -> int:
        """Cost of `selection_set` for one `parent` object; `page` is the `first` of
        the connection field whose selections these are."""
        cost = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                cost += self._field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                cost += self._selections(selection.selection_set, target, page)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self._fragment(selection.name.value, page)
        return cost

    def _fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key not in self._memo:
            self._memo[key] = 0  # a cycle (refused by validation) costs nothing more
            fragment = self.fragments.get(name)
            if fragment is not None:
                target = self.schema.get_type(fragment.type_condition.name.value)
                self._memo[key] = self._selections(fragment.selection_set, target, page)
        return self._memo[key]

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> int:
        name = node.name.value
        if name in _INTROSPECTION_FIELDS:
            return 0
        definition = (
            parent.fields.get(name)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None or node.selection_set is None:
            return 0  # a scalar or enum (or `__typename`)
        first = self._first(node, definition)
        child = get_named_type(definition.type)
        if is_list_type(get_nullable_type(definition.type)):  # type: ignore[arg-type]
            size = first if first is not None else page
            if size is None:
                root = parent in self.roots
                size = self.list_estimate if root else self.nested_list_estimate
            return size * (1 + self._selections(node.selection_set, child, None))
        return 1 + self._selections(node.selection_set, child, first)

    def _first(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size a field's `first` argument asks for; None without the argument."""
        argument = definition.args.get("first")
        if argument is None:
            return None
        value: Any = Undefined
        for given in node.arguments or ():
            if given.name.value == "first":
                value = value_from_ast(given.value, argument.type, self.variables)
        if value is Undefined or value is None:
            value = argument.default_value
        if isinstance(value, int) and not isinstance(value, bool):
            return page_size(value)
        return MAX_PAGE  # not a number: coercion will refuse it; assume the worst meanwhile


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    list_estimate: int | None = None,
    nested_list_estimate: int | None = None,
) -> int:
    """The estimate for the operation that will run (the most costly one when the name
    does not pick one: execution then refuses the document anyway); list sizes default
    to the settings `max_list_estimate` and `max_nested_list_estimate`."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    estimate = CostEstimate(
        schema,
        document,
        variables,
        list_estimate=settings.max_list_estimate if list_estimate is None else list_estimate,
        nested_list_estimate=(
            settings.max_nested_list_estimate
            if nested_list_estimate is None
            else nested_list_estimate
        ),
    )
    return max((estimate.operation(o) for o in operations), default=0)


class OperationLimits(SchemaExtension):
    """Per request, before execution: introspection only for INTROSPECTION_ROLES, and
    the cost estimate against `settings.max_cost`. Also codes validation errors
    GRAPHQL_VALIDATION_FAILED.

    Must come after ValidationCache: this reads the validation errors its `on_validate`
    sets, and sets errors it would otherwise overwrite.
    """

    def __init__(self) -> None:
        self.max_cost = settings.max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            if context.pre_execution_errors is None:
                context.pre_execution_errors = validate_document(
                    context.schema._schema, document, context.validation_rules
                )
            refusal = self._refusal(document, valid=not context.pre_execution_errors)
            if refusal is not None:
                # A new list: the validation cache holds the old one.
                context.pre_execution_errors = [refusal]
        yield
        for error in context.pre_execution_errors or ():
            if not has_code(error):
                with_code(error, GRAPHQL_VALIDATION_FAILED)

    def _refusal(self, document: DocumentNode, *, valid: bool) -> GraphQLError | None:
        context = self.execution_context
        # (strawberry's `operation_name` falls back to the first operation's name.)
        if len(_operations(document)) > 1 and not context._provided_operation_name:
            # GraphQL over HTTP: which operation to run must be named, not guessed.
            return GraphQLError(
                "The document holds several operations: name the one to run in operationName.",
                extensions={"code": OPERATION_NAME_REQUIRED},
            )
        if uses_introspection(document):
            viewer = getattr(context.context, "viewer", None)
            if getattr(viewer, "role", None) not in INTROSPECTION_ROLES:
                return GraphQLError(
                    "Introspection is available to signed-in providers, administrators "
                    "and integrators only.",
                    extensions={"code": INTROSPECTION_DISABLED},
                )
            count = introspection_count(document)
            if count > settings.max_introspections:
                return GraphQLError(
                    f"{count} introspection fields found. Allowed: {settings.max_introspections}",
                    extensions={"code": INTROSPECTION_LIMIT},
                )
        if not valid:
            return None
        cost = estimate_cost(
            context.schema._schema, document, context.operation_name, context.variables
        )
        if cost > self.max_cost:
            return GraphQLError(
                f"The operation may fetch about {cost} objects. Allowed: {self.max_cost}",
                extensions={"code": COST_LIMIT_EXCEEDED, "cost": cost, "maxCost": self.max_cost},
            )
        return None


__all__ = [
    "COST_LIMIT_EXCEEDED",
    "DEPTH_LIMIT_EXCEEDED",
    "GRAPHQL_VALIDATION_FAILED",
    "INTROSPECTION_DISABLED",
    "TOO_MANY_ALIASES",
    "TOO_MANY_DIRECTIVES",
    "TOO_MANY_TOKENS",
    "OperationLimits",
    "TokenLimit",
    "ValidationLimits",
    "estimate_cost",
    "has_code",
    "is_token_limit_error",
    "with_code",
]
