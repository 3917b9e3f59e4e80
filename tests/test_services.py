"""The sick-child service's search: only children of its own service records, only what
invoicing needs, search by name with literal wildcards, keyset pages, every read in the
access log, and no one else may use it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import GraphQLObjectType

from models.access_log import AccessLogEntry
from models.accounts import Role
from models.households import Parent
from schema.root import schema
from tests import factories as f

SEARCH = """query Invoicing($search: String, $first: Int, $after: String) {
  serviceChildren(search: $search, first: $first, after: $after) {
    edges { cursor node { id firstName lastName serviceDates
      applicant { firstName lastName street postalCode municipality { nisCode name } } } }
    pageInfo { hasNextPage endCursor } } }"""


@dataclass
class Services:
    staff: Any
    lotte: Any
    de_smet: Any
    yasmine: Any
    peeters: Any
    leuven: Any
    own: Any
    other: Any


async def services() -> Services:
    """Two services in Leuven; the staff member works for the first."""
    leuven = await f.municipality("24062", "Leuven", ("3000", "3010"))
    own = await f.sick_child_service("Thuisopvang Leuven")
    other = await f.sick_child_service("Ziekenoppas Elders")
    staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=own)

    # the Peeters family: records of both services, a partner, a sibling never cared for
    peeters, _ = await f.household(
        leuven, first_name="An", last_name="Peeters", street="Naamsestraat 10"
    )
    await Parent.create(
        household=peeters,
        is_applicant=False,
        first_name="Jan",
        last_name="Janssens",
        email="jan@example.test",
        municipality=leuven,
        **f.PARENT_DEFAULTS,
    )
    lotte = await f.child(peeters, born=f.days(-400), first_name="Lotte")
    await f.child(peeters, born=f.days(-100), first_name="Mila")
    for service, day in ((own, -3), (own, -10), (own, -3), (other, -5)):
        record = await f.service_record(service, lotte)
        record.service_date = f.days(day)
        await record.save()

    # a family the own service cared for, with a literal underscore in the name
    smet, _ = await f.household(leuven, first_name="Els", last_name="De_Smet")
    de_smet = await f.child(smet, born=f.days(-300), first_name="Noor")
    await f.service_record(own, de_smet)

    # a family only the other service cared for
    amrani, _ = await f.household(leuven, first_name="Mohamed", last_name="El Amrani")
    yasmine = await f.child(amrani, born=f.days(-500), first_name="Yasmine")
    await f.service_record(other, yasmine)

    # a family no service cared for
    nobody, _ = await f.household(leuven, first_name="Sofie", last_name="Peeters")
    await f.child(nobody, born=f.days(-200), first_name="Sara")
    return Services(staff, lotte, de_smet, yasmine, peeters, leuven, own, other)


def nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["serviceChildren"]["edges"]]


def names(result: dict[str, Any]) -> list[str]:
    return sorted(n["firstName"] for n in nodes(result))


def fields_read(row: AccessLogEntry) -> list[str]:
    raw = row.fields_read if isinstance(row.fields_read, list) else json.loads(row.fields_read)
    return sorted(raw)


async def test_service_children_as_sick_child_service_sees_only_its_own_records(
    actor: Any,
) -> None:
    # given
    s = await services()

    # when
    result = await actor(s.staff).gql(SEARCH)

    # then: Lotte and Noor, not Yasmine (other service), not Mila or Sara (no record)
    found = {n["id"]: n for n in nodes(result)}
    assert set(found) == {str(s.lotte.id), str(s.de_smet.id)}
    lotte = found[str(s.lotte.id)]
    assert lotte == {
        "id": str(s.lotte.id),
        "firstName": "Lotte",
        "lastName": s.lotte.last_name,
        # the own service's dates only, each once, oldest first
        "serviceDates": [str(f.days(-10)), str(f.days(-3))],
        "applicant": {
            "firstName": "An",
            "lastName": "Peeters",
            "street": "Naamsestraat 10",
            "postalCode": "3000",
            "municipality": {"nisCode": "24062", "name": "Leuven"},
        },
    }


async def test_service_children_as_the_other_service_sees_its_own_child(actor: Any) -> None:
    s = await services()
    other_staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=s.other)

    result = await actor(other_staff).gql(SEARCH)

    found = {n["id"]: n["serviceDates"] for n in nodes(result)}
    assert found == {str(s.lotte.id): [str(f.days(-5))], str(s.yasmine.id): [str(f.days(-10))]}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("lotte", ["Lotte"]),
        ("PEETERS", ["Lotte"]),  # the child's or the applicant's family name, any case
        ("  an   peeters ", ["Lotte"]),  # the applicant's full name, spaces normalised
        ("els de_smet", ["Noor"]),
        ("e_s", ["Noor"]),  # `_` is a literal, not "any character" (would match "eeters")
        ("%", []),
        ("\\", []),
        ("yasmine", []),  # the other service's child
        ("sara", []),  # never cared for
        ("janssens", []),  # only the applicant's name is searched, as only it is shown
        ("", ["Lotte", "Noor"]),
    ],
)
async def test_service_children_search_as_sick_child_service(
    actor: Any, search: str, expected: list[str]
) -> None:
    s = await services()

    result = await actor(s.staff).gql(SEARCH, {"search": search})

    assert names(result) == expected


async def test_service_children_search_too_long_is_refused(actor: Any) -> None:
    s = await services()

    result = await actor(s.staff).gql(SEARCH, {"search": "x" * 101})

    assert result["data"] == {"serviceChildren": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["serviceChildren"], "TOO_LONG")
    ]


async def test_service_children_pages_by_child_id(actor: Any) -> None:
    # given: four children of the own service
    s = await services()
    for _ in range(2):
        h, _ = await f.household(s.leuven)
        await f.service_record(s.own, await f.child(h, born=f.days(-100)))
    client = actor(s.staff)

    # when
    first = await client.gql(SEARCH, {"first": 3})
    info = first["data"]["serviceChildren"]["pageInfo"]
    rest = await client.gql(SEARCH, {"first": 3, "after": info["endCursor"]})

    # then
    ids = [n["id"] for n in nodes(first)] + [n["id"] for n in nodes(rest)]
    assert info["hasNextPage"] is True
    assert rest["data"]["serviceChildren"]["pageInfo"]["hasNextPage"] is False
    assert len(ids) == 4
    assert ids == sorted(ids)


async def test_service_children_read_is_logged_with_its_grant(actor: Any) -> None:
    # given
    s = await services()

    # when
    await actor(s.staff).gql(
        """query Invoicing($search: String) { serviceChildren(search: $search) {
             edges { node { firstName serviceDates applicant { lastName street } } } } }""",
        {"search": "lotte"},
    )

    # then: one row for the one dossier read, with the grant and the fields read
    row = await AccessLogEntry.get()
    assert (row.viewer_id, row.role, row.grant_name, row.household_id, row.operation_name) == (
        s.staff.id,
        "SICK_CHILD_SERVICE",
        "SICK_CHILD_SERVICE",
        s.peeters.id,
        "Invoicing",
    )
    assert fields_read(row) == [
        "ServiceChild.firstName",
        "ServiceChild.search (child and applicant names)",
        "ServiceParent.lastName",
        "ServiceParent.street",
    ]


async def test_service_children_ids_and_dates_only_are_not_logged(actor: Any) -> None:
    s = await services()

    result = await actor(s.staff).gql("{ serviceChildren { edges { node { id serviceDates } } } }")

    assert len(nodes(result)) == 2
    assert await AccessLogEntry.all().count() == 0


def test_service_children_reach_nothing_else_about_the_family() -> None:
    types = schema()._schema.type_map
    child, parent = types["ServiceChild"], types["ServiceParent"]
    assert isinstance(child, GraphQLObjectType)
    assert isinstance(parent, GraphQLObjectType)
    assert sorted(child.fields) == [
        "applicant",
        "firstName",
        "id",
        "lastName",
        "serviceDates",
    ]
    assert sorted(parent.fields) == [
        "firstName",
        "lastName",
        "municipality",
        "postalCode",
        "street",
    ]


@pytest.mark.parametrize(
    "who", ["anonymous", "parent", "provider", "loket", "admin", "toeleider", "integrator"]
)
async def test_service_children_as_other_roles_is_forbidden(actor: Any, who: str) -> None:
    s = await services()
    loc = await f.location(s.leuven)
    users: dict[str, Any] = {
        "anonymous": None,
        "parent": await f.user(Role.PARENT),
        "provider": await f.user(Role.PROVIDER, provider_location=loc),
        "loket": await f.user(Role.LOKET, counter=await f.counter("Loket", s.leuven)),
        "admin": await f.user(Role.ADMIN),
        "toeleider": await f.user(
            Role.TOELEIDER, referral_organisation=await f.referral_organisation()
        ),
        "integrator": await f.user(Role.INTEGRATOR, provider_organisation=await loc.organisation),
    }

    result = await actor(users[who]).gql(SEARCH)

    assert result["data"] is None or result["data"] == {"serviceChildren": None}, result
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["serviceChildren"], "FORBIDDEN")
    ]
    assert await AccessLogEntry.all().count() == 0


async def test_service_children_statements_do_not_grow_with_the_page(
    actor: Any, count_statements: Any
) -> None:
    # given
    s = await services()
    client = actor(s.staff)
    count_statements.statements.clear()
    await client.gql(SEARCH)
    few = len(count_statements)
    for _ in range(10):
        h, _ = await f.household(s.leuven)
        c = await f.child(h, born=f.days(-100))
        await f.service_record(s.own, c)
        await f.service_record(s.own, c)

    # when
    count_statements.statements.clear()
    result = await client.gql(SEARCH, {"first": 50})

    # then: one search statement and one access-log write, whatever the page size
    assert len(nodes(result)) == 12
    assert len(count_statements) == few
    assert len([s for s in count_statements.statements if "INSERT INTO access_log" in s]) == 1


async def test_service_children_search_by_name_is_logged_even_when_only_ids_are_read(
    actor: Any,
) -> None:
    # given: a search on a name, selecting nothing personal
    s = await services()

    result = await actor(s.staff).gql(
        "query($q: String) { serviceChildren(search: $q) { edges { node { id } } } }",
        {"q": "Lotte"},
    )

    # then: matching read the names, so the dossier's access log says so
    assert [e["node"]["id"] for e in result["data"]["serviceChildren"]["edges"]] == [
        str(s.lotte.id)
    ]
    logged = await AccessLogEntry.filter(household_id=s.peeters.id).values_list(
        "grant_name", "fields_read"
    )
    assert logged == [("SICK_CHILD_SERVICE", ["ServiceChild.search (child and applicant names)"])]
