"""The schema as a contract: SDL snapshot, a policy on everything, RRN only as input."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLNonNull, GraphQLObjectType

from schema.directives import NationalRegisterNumber, Policy, Public
from schema.root import printed_sdl, schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = schema()


def _definitions():
    for name, gtype in SCHEMA._schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(gtype, GraphQLObjectType | GraphQLInputObjectType):
            definition = SCHEMA.get_type_by_name(name)
            assert definition is not None, name
            yield name, gtype, definition


def _graphql_name(field) -> str:
    return SCHEMA.config.name_converter.get_graphql_name(field)


def _fields(gtype, definition):
    """The strawberry fields that are in the GraphQL schema (not Private attributes)."""
    return [f for f in definition.fields if _graphql_name(f) in gtype.fields]


def test_schema_snapshot_is_committed() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert printed_sdl() == committed, "schema changed: run `loket schema > schema.graphql`"


def test_every_field_argument_and_input_field_declares_a_policy() -> None:
    undeclared = []
    for type_name, gtype, definition in _definitions():
        for field in _fields(gtype, definition):
            kinds = [d for d in field.directives if isinstance(d, Policy | Public)]
            rrn = [d for d in field.directives if isinstance(d, NationalRegisterNumber)]
            if len(kinds) + len(rrn) != 1:
                undeclared.append(f"{type_name}.{_graphql_name(field)}")
            for argument in getattr(field, "arguments", []):
                declared = [
                    d
                    for d in argument.directives
                    if isinstance(d, Policy | Public | NationalRegisterNumber)
                ]
                if len(declared) != 1:
                    undeclared.append(f"{type_name}.{_graphql_name(field)}({argument.python_name})")
    assert undeclared == []


def test_public_fields_give_a_reason() -> None:
    for _, gtype, definition in _definitions():
        for field in _fields(gtype, definition):
            for d in field.directives:
                if isinstance(d, Public):
                    assert len(d.reason) >= 10


def test_guarded_output_fields_are_nullable_so_denial_cannot_null_the_parent() -> None:
    for type_name, gtype, definition in _definitions():
        if not isinstance(gtype, GraphQLObjectType) or type_name == "Mutation":
            continue
        for field in _fields(gtype, definition):
            if any(isinstance(d, Policy) for d in field.directives):
                name = _graphql_name(field)
                assert not isinstance(gtype.fields[name].type, GraphQLNonNull), (type_name, name)


def test_no_output_type_has_a_national_register_number_field() -> None:
    for type_name, gtype, _ in _definitions():
        if isinstance(gtype, GraphQLObjectType):
            for name in gtype.fields:
                assert "rrn" not in name.lower(), (type_name, name)
                assert "register" not in name.lower() or type_name == "Mutation", (type_name, name)


def test_rrn_inputs_carry_the_national_register_number_directive() -> None:
    rrn_inputs = []
    for _, gtype, definition in _definitions():
        for field in _fields(gtype, definition):
            for argument in getattr(field, "arguments", []):
                if "rrn" in argument.python_name.lower():
                    rrn_inputs.append(argument)
                    assert any(isinstance(d, NationalRegisterNumber) for d in argument.directives)
            if "rrn" in field.python_name.lower():
                rrn_inputs.append(field)
                assert any(isinstance(d, NationalRegisterNumber) for d in field.directives)
    # ParentInput, ChildInput, UpdateParentInput, RecordBirthInput
    assert len(rrn_inputs) == 4


def test_sdl_shows_directives_with_arguments() -> None:
    sdl = printed_sdl()
    assert "phone: String @policy(ability: PARENT_CONTACT" in sdl
    assert "rrn: String! @nationalRegisterNumber(use: UNIQUENESS_CHECK_ONLY)" in sdl
    assert "@public(reason:" in sdl


def test_descriptions_repeat_the_policy_for_graphiql() -> None:
    household = SCHEMA._schema.type_map["Parent"]
    assert isinstance(household, GraphQLObjectType)
    description = household.fields["workSituation"].description or ""
    assert "Policy PARENT_SITUATION" in description
    assert "LOKET" not in description


def test_every_field_has_a_description() -> None:
    missing = []
    for type_name, gtype, _ in _definitions():
        for name, field in gtype.fields.items():
            if not field.description:
                missing.append(f"{type_name}.{name}")
            for arg_name, argument in getattr(field, "args", {}).items():
                if not argument.description:
                    missing.append(f"{type_name}.{name}({arg_name})")
    assert missing == []


def test_types_with_personal_fields_carry_their_dossier_and_grant_for_the_access_log() -> None:
    from permissions.engine import build_field_policy

    personal = build_field_policy(SCHEMA).personal
    assert personal
    for type_name in personal:
        definition = SCHEMA.get_type_by_name(type_name)
        names = {f.python_name for f in definition.fields} | set(
            getattr(definition.origin, "__annotations__", {})
        )
        assert {"household_id", "grant"} <= names, type_name
