"""The access matrix: every guarded field of a dossier, for every role x grant.

Queries are generated from the schema (every field of Household and what hangs below
it), expectations from the policy table and the hand-written grants of `tests.world`.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_asyncio
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type

from permissions.engine import build_field_policy
from permissions.policy import POLICY
from schema.root import schema
from tests import world as world_module
from tests.conftest import truncate

SCHEMA = schema()
FIELD_POLICY = build_field_policy(SCHEMA)

# Fields that may legitimately be null even when readable (absent in the data).
NULLABLE = {
    ("Child", "birthDate"),
    ("Child", "expectedBirthDate"),
    ("Parent", "workSharePercent"),
    ("Application", "offeredStartDate"),
    ("Application", "replyDeadline"),
    ("Household", "incomeBelowThreshold"),
    ("CareRequest", "closedAt"),
    ("Mandate", "revokedAt"),
    ("ProviderLocation", "subsidyStep"),
}


def selection(type_name: str, seen: frozenset[str] = frozenset()) -> str:
    gtype = SCHEMA._schema.type_map[type_name]
    assert isinstance(gtype, GraphQLObjectType)
    parts = []
    for name, fdef in gtype.fields.items():
        if fdef.args and any(isinstance(a.type, GraphQLNonNull) for a in fdef.args.values()):
            continue
        named = get_named_type(fdef.type)
        if isinstance(named, GraphQLObjectType):
            if named.name in seen:
                continue
            parts.append(f"{name} {{ {selection(named.name, seen | {type_name})} }}")
        else:
            parts.append(name)
    return " ".join(parts)


QUERY = f"query Dossier($id: ID!) {{ household(id: $id) {{ {selection('Household')} }} }}"


def walk(type_name: str, value: Any, path: list[Any], out: list[tuple[str, str, list[Any], Any]]):
    """Every (type, field, path, value) in a response object."""
    gtype = SCHEMA._schema.type_map[type_name]
    for name, fdef in gtype.fields.items():
        if name not in value:
            continue
        v = value[name]
        out.append((type_name, name, [*path, name], v))
        named = get_named_type(fdef.type)
        if isinstance(named, GraphQLObjectType) and v is not None:
            inner = fdef.type.of_type if isinstance(fdef.type, GraphQLNonNull) else fdef.type
            if isinstance(inner, GraphQLList):
                for i, item in enumerate(v):
                    walk(named.name, item, [*path, name, i], out)
            else:
                walk(named.name, v, [*path, name], out)


@pytest_asyncio.fixture(scope="module")
async def world(database: str) -> world_module.World:
    await truncate()
    return await world_module.build()


CASES = [
    (actor_name, dossier) for actor_name in world_module.ACTORS for dossier in world_module.EXPECTED
]


@pytest.mark.parametrize(("actor_name", "dossier"), CASES)
async def test_dossier_fields_follow_policy(
    world: world_module.World, actors: Any, actor_name: str, dossier: str, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    user_key, role = world_module.ACTORS[actor_name]
    client = actors(world.users.get(user_key), role)
    expected_grant = world_module.EXPECTED[dossier].get(actor_name)
    household = world.households[dossier]

    response = await client.post_gql(QUERY, {"id": str(household.id)})

    assert response.status_code == 200
    body = response.json()
    for rrn in [world_module.PARENT_RRN, *world_module.CHILD_RRNS]:
        assert rrn not in response.text
        assert rrn not in caplog.text
    errors = body.get("errors", [])
    if actor_name == "anonymous":
        assert body["data"] == {"household": None}
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
        return
    if expected_grant is None:
        assert body == {"data": {"household": None}}
        return
    data = body["data"]["household"]
    assert data is not None, body
    assert data["viewerGrant"] == expected_grant.value
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in errors), errors
    forbidden_paths = {tuple(e["path"]) for e in errors}
    occurrences: list[tuple[str, str, list[Any], Any]] = []
    walk("Household", data, ["household"], occurrences)
    checked = 0
    for type_name, field_name, path, value in occurrences:
        ability = FIELD_POLICY.abilities.get((type_name, field_name))
        if ability is None:
            assert tuple(path) not in forbidden_paths
            continue
        checked += 1
        if expected_grant in POLICY[ability].grants:
            assert tuple(path) not in forbidden_paths, path
            if (type_name, field_name) not in NULLABLE:
                assert value is not None, path
        else:
            assert value is None, path
            assert tuple(path) in forbidden_paths, path
    assert checked > 0
    assert len(forbidden_paths) == sum(
        1
        for t, n, p, _ in occurrences
        if (t, n) in FIELD_POLICY.abilities
        and expected_grant not in POLICY[FIELD_POLICY.abilities[(t, n)]].grants
    )


@pytest.mark.parametrize(
    ("actor_name", "dossier", "children"),
    [
        ("parent", "own", 2),
        ("admin", "own", 2),
        # A provider sees only the child its grant is about, not the unborn sibling.
        ("provider_in", "own", 1),
        ("integrator_provider", "own", 1),
        ("sick_child", "sick", 1),
    ],
)
async def test_children_are_scoped_to_the_grant(
    world: world_module.World, actors: Any, actor_name: str, dossier: str, children: int
) -> None:
    user_key, role = world_module.ACTORS[actor_name]
    result = await actors(world.users[user_key], role).gql(
        "query($id: ID!) { household(id: $id) { children { id } } }",
        {"id": str(world.households[dossier].id)},
    )
    assert len(result["data"]["household"]["children"]) == children


async def test_provider_sees_only_own_applications(world: world_module.World, actors: Any) -> None:
    result = await actors(world.users["provider_in"]).gql(
        "query($id: ID!) { household(id: $id) {"
        " requests { applications { location { name } } } } }",
        {"id": str(world.households["preferred"].id)},
    )
    apps = result["data"]["household"]["requests"][0]["applications"]
    assert apps == [{"location": {"name": "Kinderdagverblijf Leuven"}}]
