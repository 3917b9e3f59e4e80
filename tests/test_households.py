"""registerHousehold and the dossier queries (household, myHousehold, dossiers)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from tortoise import connections

from models.accounts import Role
from models.households import Child, Household, Parent
from resolvers import uniqueness
from tests import factories as f

REGISTER = """
mutation Register($input: RegisterHouseholdInput!) {
  registerHousehold(input: $input) {
    household {
      id viewerGrant familySituation incomeBelowThreshold residence { nisCode name }
      parents {
        firstName lastName street postalCode municipality { nisCode } phone email
        nationality birthplace homeLanguage relationToChild isApplicant workSituation
        workSharePercent educationLevel
      }
      children { firstName lastName nickname birthDate expectedBirthDate isBorn }
    }
    errors { field code message }
  }
}"""

MY_HOUSEHOLD = "{ myHousehold { id viewerGrant } }"
HOUSEHOLD = "query($id: ID!) { household(id: $id) { id viewerGrant } }"
DOSSIERS = """
query($first: Int!, $after: String) {
  dossiers(first: $first, after: $after) {
    edges { cursor node { id viewerGrant } }
    pageInfo { hasNextPage endCursor }
  }
}"""

CHILD_BIRTH = f.days(-200)
CHILD_RRN = f.make_rrn(CHILD_BIRTH, 123)
PARENT_RRN = f.make_rrn(f.days(-33 * 365), 45)


def applicant(**overrides: Any) -> dict[str, Any]:
    return {
        "firstName": "An",
        "lastName": "Peeters",
        "nationality": "BE",
        "birthplace": "Leuven",
        "homeLanguage": "NL",
        "street": "Naamsestraat 10",
        "postalCode": "3000",
        "municipalityNisCode": "24062",
        "phone": "0470 12 34 56",
        "email": "an.peeters@example.be",
        "workSituation": "WORKING",
        "workSharePercent": 80,
        "educationLevel": "HIGHER",
        "relationToChild": "PARENT",
        **overrides,
    }


def born_child(**overrides: Any) -> dict[str, Any]:
    return {
        "firstName": "Lotte",
        "lastName": "Peeters",
        "nickname": "Lotje",
        "birthDate": CHILD_BIRTH.isoformat(),
        "rrn": CHILD_RRN,
        **overrides,
    }


def unborn_child(**overrides: Any) -> dict[str, Any]:
    return {
        "firstName": "Baby",
        "lastName": "Peeters",
        "expectedBirthDate": f.days(90).isoformat(),
        **overrides,
    }


def registration(
    parent: dict[str, Any] | None = None, child: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    return {
        "input": {
            "applicant": parent if parent is not None else applicant(),
            "familySituation": "TWO_PARENTS",
            "incomeBelowThreshold": False,
            "child": child if child is not None else born_child(),
            **overrides,
        }
    }


async def row_counts() -> dict[str, int]:
    return {
        "household": await Household.all().count(),
        "parent": await Parent.all().count(),
        "child": await Child.all().count(),
    }


async def leuven() -> Any:
    return await f.municipality("24062", "Leuven")


async def rejected(client: Any, variables: dict[str, Any]) -> list[tuple[list[str], str]]:
    """Run registerHousehold expecting user errors; return (field, code) pairs."""
    result = await client.gql(REGISTER, variables)
    assert "errors" not in result, result
    payload = result["data"]["registerHousehold"]
    assert payload["household"] is None
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


# registerHousehold: success


async def test_register_household_as_parent_with_born_child(actor: Any) -> None:
    # given
    await leuven()
    user = await f.user(Role.PARENT)

    # when
    result = await actor(user).gql(REGISTER, registration())

    # then
    assert "errors" not in result, result
    payload = result["data"]["registerHousehold"]
    assert payload["errors"] == []
    household = payload["household"]
    stored = await Household.get()
    assert household == {
        "id": str(stored.id),
        "viewerGrant": "OWN_HOUSEHOLD",
        "familySituation": "TWO_PARENTS",
        "incomeBelowThreshold": False,
        "residence": {"nisCode": "24062", "name": "Leuven"},
        "parents": [
            {
                "firstName": "An",
                "lastName": "Peeters",
                "street": "Naamsestraat 10",
                "postalCode": "3000",
                "municipality": {"nisCode": "24062"},
                "phone": "+32470123456",
                "email": "an.peeters@example.be",
                "nationality": "BE",
                "birthplace": "Leuven",
                "homeLanguage": "nl",
                "relationToChild": "PARENT",
                "isApplicant": True,
                "workSituation": "WORKING",
                "workSharePercent": 80,
                "educationLevel": "HIGHER",
            }
        ],
        "children": [
            {
                "firstName": "Lotte",
                "lastName": "Peeters",
                "nickname": "Lotje",
                "birthDate": CHILD_BIRTH.isoformat(),
                "expectedBirthDate": None,
                "isBorn": True,
            }
        ],
    }
    parent = await Parent.get()
    assert parent.user_id == user.id  # type: ignore[attr-defined]
    assert await row_counts() == {"household": 1, "parent": 1, "child": 1}


async def test_register_household_as_parent_with_unborn_child(actor: Any) -> None:
    # given
    await leuven()
    user = await f.user(Role.PARENT)
    expected = f.days(90)

    # when
    result = await actor(user).gql(
        REGISTER, registration(child=unborn_child(expectedBirthDate=expected.isoformat()))
    )

    # then
    payload = result["data"]["registerHousehold"]
    assert payload["errors"] == []
    assert payload["household"]["viewerGrant"] == "OWN_HOUSEHOLD"
    assert payload["household"]["children"] == [
        {
            "firstName": "Baby",
            "lastName": "Peeters",
            "nickname": "",
            "birthDate": None,
            "expectedBirthDate": expected.isoformat(),
            "isBorn": False,
        }
    ]
    child = await Child.get()
    assert child.birth_date is None
    assert child.expected_birth_date == expected
    assert child.rrn_hashes is None


async def test_register_household_as_parent_with_parent_rrn_stores_only_a_hash(
    actor: Any, caplog: Any
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    await leuven()
    user = await f.user(Role.PARENT)

    # when
    response = await actor(user).http.post(
        "/graphql",
        json={"query": REGISTER, "variables": registration(parent=applicant(rrn=PARENT_RRN))},
    )

    # then
    assert response.status_code == 200
    assert response.json()["data"]["registerHousehold"]["errors"] == []
    for rrn in (PARENT_RRN, CHILD_RRN):
        assert rrn not in response.text
        assert rrn not in caplog.text
    parent = await Parent.get()
    child = await Child.get()
    for row in (parent, child):
        assert len(row.rrn_hashes) == len(row.rrn_key_ids) == 1
        assert isinstance(row.rrn_hashes[0], bytes)
        assert len(row.rrn_hashes[0]) == 32
    async with connections.get("default").acquire_connection() as conn:
        children = await conn.fetch("SELECT row_to_json(c)::text AS j FROM child c")
        parents = await conn.fetch("SELECT row_to_json(p)::text AS j FROM parent p")
    assert len(children) == 1
    assert len(parents) == 1
    assert CHILD_RRN not in children[0]["j"]
    assert PARENT_RRN not in parents[0]["j"]


async def test_register_household_as_parent_with_formatted_rrn_is_accepted(actor: Any) -> None:
    # given
    muni = await leuven()
    user = await f.user(Role.PARENT)
    r = CHILD_RRN
    formatted = f"{r[0:2]}.{r[2:4]}.{r[4:6]}-{r[6:9]}.{r[9:11]}"

    # when
    result = await actor(user).gql(REGISTER, registration(child=born_child(rrn=formatted)))

    # then: stored under the same hash as the compact form
    assert result["data"]["registerHousehold"]["errors"] == []
    registered = await Child.get()
    other, _ = await f.household(muni)
    compact = await f.child(other, born=CHILD_BIRTH, rrn=CHILD_RRN)
    await compact.refresh_from_db()
    assert registered.rrn_hashes == compact.rrn_hashes


# registerHousehold: field errors, nothing half saved


async def test_register_household_as_parent_with_invalid_email(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(client, registration(parent=applicant(email="not-an-email")))

    assert errors == [(["input", "applicant", "email"], "INVALID_EMAIL")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_invalid_phone(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(client, registration(parent=applicant(phone="12345")))

    assert errors == [(["input", "applicant", "phone"], "INVALID_PHONE")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_bad_postal_code(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(client, registration(parent=applicant(postalCode="300")))

    assert errors == [(["input", "applicant", "postalCode"], "INVALID_POSTAL_CODE")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_unknown_municipality(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(client, registration(parent=applicant(municipalityNisCode="99999")))

    assert errors == [(["input", "applicant", "municipalityNisCode"], "UNKNOWN_MUNICIPALITY")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_several_bad_fields_reports_each(
    actor: Any,
) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(
        client,
        registration(
            parent=applicant(email="x@", phone="1", postalCode="ABCD"),
            child=born_child(rrn=None),
        ),
    )

    assert errors == [
        (["input", "applicant", "postalCode"], "INVALID_POSTAL_CODE"),
        (["input", "applicant", "phone"], "INVALID_PHONE"),
        (["input", "applicant", "email"], "INVALID_EMAIL"),
        (["input", "child", "rrn"], "REQUIRED"),
    ]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_invalid_child_rrn_checksum(
    actor: Any, caplog: Any
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    await leuven()
    client = actor(await f.user(Role.PARENT))
    bad = CHILD_RRN[:9] + f"{(int(CHILD_RRN[9:]) + 1) % 100:02d}"

    # when
    response = await client.http.post(
        "/graphql", json={"query": REGISTER, "variables": registration(child=born_child(rrn=bad))}
    )

    # then
    payload = response.json()["data"]["registerHousehold"]
    assert payload["household"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "child", "rrn"], "INVALID_RRN")
    ]
    assert bad not in response.text
    assert bad not in caplog.text
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_invalid_parent_rrn(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))
    bad = PARENT_RRN[:9] + f"{(int(PARENT_RRN[9:]) + 1) % 100:02d}"

    errors = await rejected(client, registration(parent=applicant(rrn=bad)))

    assert errors == [(["input", "applicant", "rrn"], "INVALID_RRN")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_rrn_not_matching_birth_date(
    actor: Any,
) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))
    other_day = f.make_rrn(f.days(-150), 7)

    errors = await rejected(client, registration(child=born_child(rrn=other_day)))

    assert errors == [(["input", "child", "rrn"], "RRN_BIRTH_DATE_MISMATCH")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_born_child_without_rrn(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(client, registration(child=born_child(rrn=None)))

    assert errors == [(["input", "child", "rrn"], "REQUIRED")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_unborn_child_with_rrn(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(client, registration(child=unborn_child(rrn=CHILD_RRN)))

    assert errors == [(["input", "child", "rrn"], "NOT_ALLOWED")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_without_birth_or_expected_date(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))

    errors = await rejected(
        client, registration(child={"firstName": "Baby", "lastName": "Peeters"})
    )

    assert errors == [(["input", "child", "birthDate"], "REQUIRED")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_with_birth_date_in_future(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))
    tomorrow = f.days(1)

    errors = await rejected(
        client,
        registration(child=born_child(birthDate=tomorrow.isoformat(), rrn=f.make_rrn(tomorrow, 3))),
    )

    assert errors == [(["input", "child", "birthDate"], "DATE_IN_FUTURE")]
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_parent_twice_is_already_registered(actor: Any) -> None:
    # given
    await leuven()
    client = actor(await f.user(Role.PARENT))
    first = await client.gql(REGISTER, registration())
    assert first["data"]["registerHousehold"]["errors"] == []
    before = await row_counts()

    # when
    errors = await rejected(
        client, registration(child=unborn_child(), parent=applicant(firstName="Bis"))
    )

    # then
    assert errors == [(["input"], "ALREADY_REGISTERED")]
    assert await row_counts() == before == {"household": 1, "parent": 1, "child": 1}


async def test_register_household_as_parent_with_rrn_of_another_parent(
    actor: Any, caplog: Any
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    muni = await leuven()
    await f.household(muni, await f.user(Role.PARENT), rrn=PARENT_RRN)
    client = actor(await f.user(Role.PARENT))
    before = await row_counts()

    # when
    response = await client.http.post(
        "/graphql",
        json={"query": REGISTER, "variables": registration(parent=applicant(rrn=PARENT_RRN))},
    )

    # then
    payload = response.json()["data"]["registerHousehold"]
    assert payload["household"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "applicant", "rrn"], "ALREADY_REGISTERED")
    ]
    assert PARENT_RRN not in response.text
    assert PARENT_RRN not in caplog.text
    assert await row_counts() == before == {"household": 1, "parent": 1, "child": 0}


async def test_register_household_concurrently_with_the_same_parent_rrn_registers_one(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two accounts of the same person register at the same moment (the window
    # between the check and the write is widened so that both really overlap)
    check = uniqueness.parent_rrn_registered

    async def slow(rrn: Any) -> bool:
        found = await check(rrn)
        await asyncio.sleep(0.2)
        return found

    monkeypatch.setattr(uniqueness, "parent_rrn_registered", slow)
    await leuven()
    first = actor(await f.user(Role.PARENT))
    second = actor(await f.user(Role.PARENT))

    # when
    results = await asyncio.gather(
        first.gql(REGISTER, registration(parent=applicant(rrn=PARENT_RRN))),
        second.gql(
            REGISTER,
            registration(
                parent=applicant(rrn=PARENT_RRN),
                child=unborn_child(),
                familySituation="SINGLE_PARENT",
            ),
        ),
    )

    # then: one account, the other gets the field error (not an unexpected error)
    for r in results:
        assert "errors" not in r, r
    codes = sorted(
        [(e["field"], e["code"]) for e in r["data"]["registerHousehold"]["errors"]] for r in results
    )
    assert codes == [[], [(["input", "applicant", "rrn"], "ALREADY_REGISTERED")]]
    assert await Parent.all().count() == 1


# registerHousehold: denied


async def assert_register_forbidden(client: Any) -> None:
    before = await row_counts()

    result = await client.gql(REGISTER, registration())

    assert result["data"] in (None, {"registerHousehold": None})
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["registerHousehold"], "FORBIDDEN")
    ]
    assert CHILD_RRN not in str(result)
    assert await row_counts() == before == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_as_loket_is_forbidden(actor: Any) -> None:
    muni = await leuven()
    counter = await f.counter("Loket Leuven", muni)
    await assert_register_forbidden(actor(await f.user(Role.LOKET, counter=counter)))


async def test_register_household_as_provider_is_forbidden(actor: Any) -> None:
    loc = await f.location(await leuven())
    await assert_register_forbidden(actor(await f.user(Role.PROVIDER, provider_location=loc)))


async def test_register_household_as_admin_is_forbidden(actor: Any) -> None:
    await leuven()
    await assert_register_forbidden(actor(await f.user(Role.ADMIN)))


async def test_register_household_as_anonymous_is_forbidden(actor: Any) -> None:
    await leuven()
    await assert_register_forbidden(actor(None))


# registerHousehold: bad GraphQL input must not echo the RRN


async def post_register(client: Any, variables: dict[str, Any]) -> Any:
    return await client.http.post("/graphql", json={"query": REGISTER, "variables": variables})


async def test_register_household_with_missing_child_field_does_not_echo_the_rrn(
    actor: Any, caplog: Any
) -> None:
    # given: a client that forgets the child's last name but sends its RRN
    caplog.set_level(logging.DEBUG)
    await leuven()
    client = actor(await f.user(Role.PARENT))
    child = born_child()
    del child["lastName"]

    # when
    response = await post_register(client, registration(child=child))

    # then: a clear error, without the RRN
    body = response.json()
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    assert "lastName" in body["errors"][0]["message"]
    assert CHILD_RRN not in response.text
    assert CHILD_RRN not in caplog.text
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


async def test_register_household_with_unknown_child_field_does_not_echo_the_rrn(
    actor: Any, caplog: Any
) -> None:
    # given: a client that sends a field the schema does not know, beside the RRN
    caplog.set_level(logging.DEBUG)
    await leuven()
    client = actor(await f.user(Role.PARENT))

    # when
    response = await post_register(client, registration(child={**born_child(), "roepnaam": "L"}))

    # then
    body = response.json()
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    assert "roepnaam" in body["errors"][0]["message"]
    assert CHILD_RRN not in response.text
    assert CHILD_RRN not in caplog.text
    assert await row_counts() == {"household": 0, "parent": 0, "child": 0}


# myHousehold and household


async def test_my_household_as_parent_after_registering(actor: Any) -> None:
    await leuven()
    client = actor(await f.user(Role.PARENT))
    registered = await client.gql(REGISTER, registration())
    household_id = registered["data"]["registerHousehold"]["household"]["id"]

    result = await client.gql(MY_HOUSEHOLD)

    assert result == {"data": {"myHousehold": {"id": household_id, "viewerGrant": "OWN_HOUSEHOLD"}}}


async def test_my_household_as_parent_without_household_is_null(actor: Any) -> None:
    await leuven()
    result = await actor(await f.user(Role.PARENT)).gql(MY_HOUSEHOLD)
    assert result == {"data": {"myHousehold": None}}


async def test_my_household_as_loket_is_forbidden(actor: Any) -> None:
    muni = await leuven()
    counter = await f.counter("Loket Leuven", muni)
    result = await actor(await f.user(Role.LOKET, counter=counter)).gql(MY_HOUSEHOLD)
    assert result["data"] == {"myHousehold": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["myHousehold"], "FORBIDDEN")
    ]


async def test_household_as_parent_own_and_other(actor: Any) -> None:
    muni = await leuven()
    user = await f.user(Role.PARENT)
    own, _ = await f.household(muni, user)
    other, _ = await f.household(muni, await f.user(Role.PARENT))
    client = actor(user)

    mine = await client.gql(HOUSEHOLD, {"id": str(own.id)})
    theirs = await client.gql(HOUSEHOLD, {"id": str(other.id)})
    garbage = await client.gql(HOUSEHOLD, {"id": "not-a-uuid"})

    assert mine == {"data": {"household": {"id": str(own.id), "viewerGrant": "OWN_HOUSEHOLD"}}}
    assert theirs == {"data": {"household": None}}
    assert garbage == {"data": {"household": None}}


# dossiers


async def all_pages(client: Any, first: int) -> tuple[list[dict[str, Any]], int]:
    """Every edge of `dossiers`, page by page; also the number of pages."""
    edges: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        result = await client.gql(DOSSIERS, {"first": first, "after": after})
        assert "errors" not in result, result
        page = result["data"]["dossiers"]
        pages += 1
        assert len(page["edges"]) <= first
        edges.extend(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            assert page["pageInfo"]["endCursor"] == (
                page["edges"][-1]["cursor"] if page["edges"] else None
            )
            return edges, pages
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
        assert pages < 50


async def test_dossiers_as_loket_lists_exactly_its_region_paginated(actor: Any) -> None:
    # given: IN is in the counter's region, OUT and FAR are not
    m_in = await f.municipality("24062", "Leuven")
    m_out = await f.municipality("24038", "Herent")
    m_far = await f.municipality("12025", "Mechelen")
    counter = await f.counter("Loket Leuven", m_in)
    l_in = await f.location(m_in)
    l_out = await f.location(m_out)
    expected = set()
    for _ in range(4):  # residence in the region
        h, _p = await f.household(m_in)
        expected.add(str(h.id))
    for _ in range(2):  # residence elsewhere, a chosen location in the region
        h, _p = await f.household(m_far)
        await f.care_request(await f.child(h, expected=f.days(60)), l_out, l_in)
        expected.add(str(h.id))
    # outside: residence elsewhere, locations elsewhere or none
    h, _p = await f.household(m_out)
    await f.care_request(await f.child(h, expected=f.days(60)), l_out)
    await f.household(m_far)
    client = actor(await f.user(Role.LOKET, counter=counter))

    # when
    edges, pages = await all_pages(client, first=2)

    # then
    ids = [e["node"]["id"] for e in edges]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert pages == 3
    assert {e["node"]["viewerGrant"] for e in edges} == {"COUNTER_REGION"}


async def test_dossiers_as_parent_lists_only_own(actor: Any) -> None:
    muni = await leuven()
    user = await f.user(Role.PARENT)
    own, _ = await f.household(muni, user)
    for _ in range(3):
        await f.household(muni, await f.user(Role.PARENT))

    result = await actor(user).gql(DOSSIERS, {"first": 20})

    assert result == {
        "data": {
            "dossiers": {
                "edges": [
                    {
                        "cursor": result["data"]["dossiers"]["edges"][0]["cursor"],
                        "node": {"id": str(own.id), "viewerGrant": "OWN_HOUSEHOLD"},
                    }
                ],
                "pageInfo": {
                    "hasNextPage": False,
                    "endCursor": result["data"]["dossiers"]["edges"][0]["cursor"],
                },
            }
        }
    }


async def test_dossiers_as_anonymous_is_forbidden(actor: Any) -> None:
    await leuven()
    result = await actor(None).gql(DOSSIERS, {"first": 5})
    assert result["data"] in (None, {"dossiers": None})
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["dossiers"], "FORBIDDEN")
    ]
