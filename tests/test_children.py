"""addChild, recordBirth and updateChild: who may use them, and what they refuse."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from loket.settings import settings
from models.access_log import AccessLogEntry
from models.accounts import Role
from models.households import Child
from permissions.rrn import Rrn
from tests import factories as f
from tests.assertions import assert_forbidden

CHILD = "child { id firstName lastName nickname birthDate expectedBirthDate isBorn }"
ADD = f"""
mutation Add($input: AddChildInput!) {{
  addChild(input: $input) {{ {CHILD} errors {{ field code message }} }}
}}"""
BIRTH = f"""
mutation Birth($input: RecordBirthInput!) {{
  recordBirth(input: $input) {{ {CHILD} errors {{ field code message }} }}
}}"""
UPDATE = f"""
mutation Update($input: UpdateChildInput!) {{
  updateChild(input: $input) {{ {CHILD} errors {{ field code message }} }}
}}"""

BORN = f.days(-200)
RRN = f.make_rrn(BORN, 123)
# A national register number with a wrong check digit (valid: 24050100746).
BAD_RRN = "24050100700"
# Each denied role, by how it reaches the dossier (if at all).
FORBIDDEN_ROLES = ["anonymous", "loket", "provider", "sick_child_service"]


@dataclass
class Family:
    """A household with its signed-in applicant and an unborn child."""

    muni: Any
    household: Any
    parent: Any
    user: Any
    unborn: Any


async def family(*, user: bool = True) -> Family:
    muni = await f.municipality("24062", "Leuven")
    u = await f.user(Role.PARENT) if user else None
    h, p = await f.household(muni, u)
    unborn = await f.child(h, expected=f.days(60), first_name="Baby")
    return Family(muni, h, p, u, unborn)


async def toeleider(fam: Family, *, revoked: bool = False) -> Any:
    """A referral worker whose organisation has (or had) a mandate for the family."""
    org = await f.referral_organisation("OCMW Leuven")
    revoked_at = datetime.datetime.now(datetime.UTC) if revoked else None
    await f.mandate(fam.household, fam.parent, org, revoked_at=revoked_at)
    return await f.user(Role.TOELEIDER, referral_organisation=org)


async def denied_user(role: str, fam: Family) -> Any:
    """A user of `role` that reaches the dossier through its own grant where it can."""
    if role == "anonymous":
        return None
    if role == "loket":
        return await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", fam.muni))
    if role == "provider":
        loc = await f.location(fam.muni)
        await f.care_request(fam.unborn, loc)
        return await f.user(Role.PROVIDER, provider_location=loc)
    service = await f.sick_child_service()
    await f.service_record(service, fam.unborn)
    return await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)


async def children() -> list[tuple[Any, ...]]:
    """Every child row, for asserting that nothing changed."""
    rows = await Child.all().order_by("created_at", "id")
    return [
        (
            c.id,
            c.household_id,  # type: ignore[attr-defined]
            c.first_name,
            c.last_name,
            c.nickname,
            c.birth_date,
            c.expected_birth_date,
            c.rrn_hashes,
        )
        for c in rows
    ]


def user_errors(result: dict[str, Any], field: str) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    payload = result["data"][field]
    assert payload["child"] is None
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


def add_input(household: Any, **child: Any) -> dict[str, Any]:
    given = {"firstName": "Lotte", "lastName": "Peeters", "nickname": "Lotje", **child}
    return {"input": {"householdId": str(household.id), "child": given}}


def born_child(**overrides: Any) -> dict[str, Any]:
    return {"birthDate": BORN.isoformat(), "rrn": RRN, **overrides}


def birth_input(child: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "input": {"childId": str(child.id), "birthDate": BORN.isoformat(), "rrn": RRN, **overrides}
    }


def update_input(child: Any, **changes: Any) -> dict[str, Any]:
    return {"input": {"childId": str(child.id), **changes}}


async def uniqueness_log() -> list[tuple[Any, str, str | None]]:
    rows = await AccessLogEntry.filter(fields_read=["uniqueness check"]).order_by("id")
    return [(r.household_id, r.grant_name, r.outcome) for r in rows]  # type: ignore[attr-defined]


@pytest.fixture
def low_uniqueness_limit() -> Iterator[None]:
    """Two uniqueness checks per account and hour, for the limit test."""
    saved = settings.uniqueness_checks_per_hour
    object.__setattr__(settings, "uniqueness_checks_per_hour", 2)
    yield
    object.__setattr__(settings, "uniqueness_checks_per_hour", saved)


# addChild: allowed


async def test_add_child_as_parent_born(actor: Any) -> None:
    # given
    fam = await family()

    # when
    result = await actor(fam.user).gql(ADD, add_input(fam.household, **born_child()))

    # then
    assert "errors" not in result, result
    payload = result["data"]["addChild"]
    assert payload["errors"] == []
    stored = await Child.get(first_name="Lotte")
    assert payload["child"] == {
        "id": str(stored.id),
        "firstName": "Lotte",
        "lastName": "Peeters",
        "nickname": "Lotje",
        "birthDate": BORN.isoformat(),
        "expectedBirthDate": None,
        "isBorn": True,
    }
    assert stored.household_id == fam.household.id  # type: ignore[attr-defined]
    assert stored.rrn_hashes == list(Rrn.parse(RRN).hashes().values())


async def test_add_child_as_parent_unborn_at_the_furthest_expected_date(actor: Any) -> None:
    # given: 300 days ahead is still a pregnancy
    fam = await family()
    expected = f.days(300)

    # when
    result = await actor(fam.user).gql(
        ADD, add_input(fam.household, expectedBirthDate=expected.isoformat())
    )

    # then
    payload = result["data"]["addChild"]
    assert payload["errors"] == []
    assert {k: v for k, v in payload["child"].items() if k != "id"} == {
        "firstName": "Lotte",
        "lastName": "Peeters",
        "nickname": "Lotje",
        "birthDate": None,
        "expectedBirthDate": expected.isoformat(),
        "isBorn": False,
    }
    stored = await Child.get(id=payload["child"]["id"])
    assert stored.rrn_hashes is None


async def test_add_child_as_toeleider_with_active_mandate(actor: Any) -> None:
    fam = await family(user=False)
    worker = await toeleider(fam)

    result = await actor(worker).gql(ADD, add_input(fam.household, **born_child()))

    payload = result["data"]["addChild"]
    assert payload["errors"] == []
    assert payload["child"]["birthDate"] == BORN.isoformat()
    assert await Child.filter(household_id=fam.household.id).count() == 2


async def test_add_child_as_admin(actor: Any) -> None:
    fam = await family()

    result = await actor(await f.user(Role.ADMIN)).gql(
        ADD, add_input(fam.household, **born_child())
    )

    assert result["data"]["addChild"]["errors"] == []
    assert await Child.filter(household_id=fam.household.id).count() == 2


# addChild: denied


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
async def test_add_child_as_role_without_the_ability_is_forbidden(actor: Any, role: str) -> None:
    # given
    fam = await family()
    client = actor(await denied_user(role, fam))
    before = await children()

    # when
    result = await client.gql(ADD, add_input(fam.household, **born_child()))

    # then
    assert_forbidden(result, "addChild")
    assert await children() == before


@pytest.mark.parametrize("who", ["other_parent", "toeleider_without_mandate", "revoked_mandate"])
async def test_add_child_outside_the_grant_is_not_found(actor: Any, who: str) -> None:
    # given: a role that may add children, but not to this dossier
    fam = await family()
    if who == "other_parent":
        outsider = await f.user(Role.PARENT)
        await f.household(fam.muni, outsider)
    elif who == "toeleider_without_mandate":
        org = await f.referral_organisation("VDAB")
        outsider = await f.user(Role.TOELEIDER, referral_organisation=org)
    else:
        outsider = await toeleider(fam, revoked=True)
    before = await children()

    # when
    result = await actor(outsider).gql(ADD, add_input(fam.household, **born_child()))

    # then
    assert user_errors(result, "addChild") == [(["input", "householdId"], "NOT_FOUND")]
    assert await children() == before


# addChild: input errors


TOMORROW = f.days(1)


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        ({}, [(["input", "child", "birthDate"], "REQUIRED")]),
        ({"birthDate": BORN.isoformat()}, [(["input", "child", "rrn"], "REQUIRED")]),
        (
            {"birthDate": TOMORROW.isoformat(), "rrn": f.make_rrn(TOMORROW)},
            [(["input", "child", "birthDate"], "DATE_IN_FUTURE")],
        ),
        (born_child(rrn=BAD_RRN), [(["input", "child", "rrn"], "INVALID_RRN")]),
        (
            born_child(rrn=f.make_rrn(f.days(-199))),
            [(["input", "child", "rrn"], "RRN_BIRTH_DATE_MISMATCH")],
        ),
        (
            {"expectedBirthDate": f.days(60).isoformat(), "rrn": RRN},
            [(["input", "child", "rrn"], "NOT_ALLOWED")],
        ),
        (
            {"expectedBirthDate": f.days(301).isoformat()},
            [(["input", "child", "expectedBirthDate"], "DATE_TOO_FAR")],
        ),
    ],
    ids=[
        "no_date",
        "born_without_rrn",
        "born_tomorrow",
        "invalid_rrn",
        "rrn_of_another_birth_date",
        "unborn_with_rrn",
        "expected_too_far_ahead",
    ],
)
async def test_add_child_as_parent_with_invalid_child(
    actor: Any, child: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    # given
    fam = await family()
    before = await children()

    # when
    result = await actor(fam.user).gql(ADD, add_input(fam.household, **child))

    # then
    assert user_errors(result, "addChild") == expected
    assert await children() == before


async def test_add_child_as_parent_twice_with_the_same_rrn(actor: Any) -> None:
    # given: the child is already in the dossier
    fam = await family()
    await f.child(fam.household, born=BORN, rrn=RRN)
    before = await children()

    # when
    result = await actor(fam.user).gql(ADD, add_input(fam.household, **born_child()))

    # then
    assert user_errors(result, "addChild") == [(["input", "child", "rrn"], "DUPLICATE_CHILD")]
    assert await children() == before


async def test_add_child_as_parent_with_rrn_of_a_child_in_another_dossier(actor: Any) -> None:
    # given: another household (e.g. the other parent after a separation) has the child
    fam = await family()
    other, _ = await f.household(fam.muni)
    await f.child(other, born=BORN, rrn=RRN)

    result = await actor(fam.user).gql(ADD, add_input(fam.household, **born_child()))

    assert result["data"]["addChild"]["errors"] == []
    assert await Child.filter(household_id=fam.household.id).count() == 2


# recordBirth: allowed


async def test_record_birth_as_parent(actor: Any) -> None:
    # given
    fam = await family()

    # when
    result = await actor(fam.user).gql(BIRTH, birth_input(fam.unborn, firstName=" Lotte "))

    # then: born, renamed, hashed, and the uniqueness check is in the access log
    assert "errors" not in result, result
    payload = result["data"]["recordBirth"]
    assert payload == {
        "child": {
            "id": str(fam.unborn.id),
            "firstName": "Lotte",
            "lastName": fam.unborn.last_name,
            "nickname": fam.unborn.nickname,
            "birthDate": BORN.isoformat(),
            "expectedBirthDate": None,
            "isBorn": True,
        },
        "errors": [],
    }
    stored = await Child.get(id=fam.unborn.id)
    assert stored.rrn_hashes == list(Rrn.parse(RRN).hashes().values())
    assert await uniqueness_log() == [(fam.household.id, "OWN_HOUSEHOLD", "ANSWERED")]


async def test_record_birth_as_toeleider_with_active_mandate(actor: Any) -> None:
    fam = await family(user=False)
    worker = await toeleider(fam)

    result = await actor(worker).gql(BIRTH, birth_input(fam.unborn))

    payload = result["data"]["recordBirth"]
    assert payload["errors"] == []
    assert payload["child"]["firstName"] == "Baby"
    assert payload["child"]["isBorn"] is True
    assert await uniqueness_log() == [(fam.household.id, "ACTIVE_MANDATE", "ANSWERED")]


async def test_record_birth_as_admin(actor: Any) -> None:
    fam = await family()

    result = await actor(await f.user(Role.ADMIN)).gql(BIRTH, birth_input(fam.unborn))

    assert result["data"]["recordBirth"]["errors"] == []
    assert (await Child.get(id=fam.unborn.id)).birth_date == BORN
    assert await uniqueness_log() == [(fam.household.id, "ADMIN", "ANSWERED")]


async def test_record_birth_as_parent_when_only_the_other_record_has_an_open_request(
    actor: Any,
) -> None:
    # given: the same child has an open request elsewhere, this record has none
    fam = await family()
    loc = await f.location(fam.muni)
    other, _ = await f.household(fam.muni)
    await f.care_request(await f.child(other, born=BORN, rrn=RRN), loc)

    result = await actor(fam.user).gql(BIRTH, birth_input(fam.unborn))

    assert result["data"]["recordBirth"]["errors"] == []
    assert (await Child.get(id=fam.unborn.id)).birth_date == BORN


# recordBirth: denied


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
async def test_record_birth_as_role_without_the_ability_is_forbidden(actor: Any, role: str) -> None:
    fam = await family()
    client = actor(await denied_user(role, fam))
    before = await children()

    result = await client.gql(BIRTH, birth_input(fam.unborn))

    assert_forbidden(result, "recordBirth")
    assert await children() == before
    assert await uniqueness_log() == []


@pytest.mark.parametrize("who", ["other_parent", "revoked_mandate"])
async def test_record_birth_outside_the_grant_is_not_found(actor: Any, who: str) -> None:
    # given
    fam = await family()
    if who == "other_parent":
        outsider = await f.user(Role.PARENT)
        await f.household(fam.muni, outsider)
    else:
        outsider = await toeleider(fam, revoked=True)
    before = await children()

    # when
    result = await actor(outsider).gql(BIRTH, birth_input(fam.unborn))

    # then: no check ran either
    assert user_errors(result, "recordBirth") == [(["input", "childId"], "NOT_FOUND")]
    assert await children() == before
    assert await uniqueness_log() == []


# recordBirth: input errors and the re-run uniqueness check


async def birth_rejected(actor: Any, fam: Family, child: Any, **overrides: Any) -> Any:
    before = await children()
    result = await actor(fam.user).gql(BIRTH, birth_input(child, **overrides))
    assert await children() == before
    return user_errors(result, "recordBirth")


async def test_record_birth_as_parent_of_a_born_child(actor: Any) -> None:
    fam = await family()
    born = await f.child(fam.household, born=BORN, rrn=RRN)

    errors = await birth_rejected(actor, fam, born)

    assert errors == [(["input", "childId"], "ALREADY_BORN")]


async def test_record_birth_as_parent_with_invalid_input(actor: Any) -> None:
    # given: every field wrong at once
    fam = await family()
    tomorrow = f.days(1)

    errors = await birth_rejected(
        actor, fam, fam.unborn, birthDate=tomorrow.isoformat(), rrn=BAD_RRN, firstName="  "
    )

    assert errors == [
        (["input", "birthDate"], "DATE_IN_FUTURE"),
        (["input", "firstName"], "REQUIRED"),
        (["input", "rrn"], "INVALID_RRN"),
    ]
    assert await uniqueness_log() == []


async def test_record_birth_as_parent_with_rrn_of_another_birth_date(actor: Any) -> None:
    fam = await family()

    errors = await birth_rejected(actor, fam, fam.unborn, rrn=f.make_rrn(f.days(-199)))

    assert errors == [(["input", "rrn"], "RRN_BIRTH_DATE_MISMATCH")]


async def test_record_birth_as_parent_with_rrn_of_a_sibling(actor: Any) -> None:
    # given: another child of the dossier already has this number
    fam = await family()
    await f.child(fam.household, born=BORN, rrn=RRN)

    errors = await birth_rejected(actor, fam, fam.unborn)

    assert errors == [(["input", "rrn"], "DUPLICATE_CHILD")]
    assert await uniqueness_log() == [(fam.household.id, "OWN_HOUSEHOLD", "ANSWERED")]


async def test_record_birth_as_parent_when_both_records_have_open_requests(actor: Any) -> None:
    # given: the unborn child has an open request here, and the same child (by number)
    # one in another household
    fam = await family()
    loc = await f.location(fam.muni)
    await f.care_request(fam.unborn, loc)
    other, _ = await f.household(fam.muni)
    await f.care_request(await f.child(other, born=BORN, rrn=RRN), loc)

    errors = await birth_rejected(actor, fam, fam.unborn)

    assert errors == [(["input", "rrn"], "OPEN_REQUEST_EXISTS")]
    assert (await Child.get(id=fam.unborn.id)).rrn_hashes is None


async def test_record_birth_as_parent_over_the_limit_is_rate_limited(
    actor: Any, low_uniqueness_limit: None
) -> None:
    # given: two births recorded use up the limit of two checks
    fam = await family()
    client = actor(fam.user)
    for serial in (1, 2):
        twin = await f.child(fam.household, expected=f.days(60))
        done = await client.gql(BIRTH, birth_input(twin, rrn=f.make_rrn(BORN, serial)))
        assert done["data"]["recordBirth"]["errors"] == []
    before = await children()

    # when
    result = await client.gql(BIRTH, birth_input(fam.unborn))

    # then: refused, and the refused check is logged too
    assert user_errors(result, "recordBirth") == [(["input", "rrn"], "RATE_LIMITED")]
    assert await children() == before
    assert [o for _, _, o in await uniqueness_log()] == ["ANSWERED", "ANSWERED", "RATE_LIMITED"]


# updateChild


async def test_update_child_as_parent_changes_only_the_given_fields(actor: Any) -> None:
    # given
    fam = await family()
    expected = f.days(75)

    # when
    result = await actor(fam.user).gql(
        UPDATE, update_input(fam.unborn, nickname=" Kleintje ", expectedBirthDate=str(expected))
    )

    # then
    assert "errors" not in result, result
    assert result["data"]["updateChild"] == {
        "child": {
            "id": str(fam.unborn.id),
            "firstName": "Baby",
            "lastName": fam.unborn.last_name,
            "nickname": "Kleintje",
            "birthDate": None,
            "expectedBirthDate": expected.isoformat(),
            "isBorn": False,
        },
        "errors": [],
    }
    stored = await Child.get(id=fam.unborn.id)
    assert (stored.first_name, stored.nickname, stored.expected_birth_date) == (
        "Baby",
        "Kleintje",
        expected,
    )


async def test_update_child_as_toeleider_with_active_mandate(actor: Any) -> None:
    fam = await family(user=False)
    worker = await toeleider(fam)

    result = await actor(worker).gql(UPDATE, update_input(fam.unborn, firstName="Mila"))

    assert result["data"]["updateChild"]["errors"] == []
    assert (await Child.get(id=fam.unborn.id)).first_name == "Mila"


async def test_update_child_as_admin_clears_the_nickname(actor: Any) -> None:
    fam = await family()

    result = await actor(await f.user(Role.ADMIN)).gql(
        UPDATE, update_input(fam.unborn, nickname=None)
    )

    assert result["data"]["updateChild"]["errors"] == []
    assert (await Child.get(id=fam.unborn.id)).nickname == ""


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
async def test_update_child_as_role_without_the_ability_is_forbidden(actor: Any, role: str) -> None:
    fam = await family()
    client = actor(await denied_user(role, fam))
    before = await children()

    result = await client.gql(UPDATE, update_input(fam.unborn, firstName="Mila"))

    assert_forbidden(result, "updateChild")
    assert await children() == before


@pytest.mark.parametrize("who", ["other_parent", "revoked_mandate"])
async def test_update_child_outside_the_grant_is_not_found(actor: Any, who: str) -> None:
    fam = await family()
    if who == "other_parent":
        outsider = await f.user(Role.PARENT)
        await f.household(fam.muni, outsider)
    else:
        outsider = await toeleider(fam, revoked=True)
    before = await children()

    result = await actor(outsider).gql(UPDATE, update_input(fam.unborn, firstName="Mila"))

    assert user_errors(result, "updateChild") == [(["input", "childId"], "NOT_FOUND")]
    assert await children() == before


async def update_rejected(actor: Any, fam: Family, child: Any, **changes: Any) -> Any:
    before = await children()
    result = await actor(fam.user).gql(UPDATE, update_input(child, **changes))
    assert await children() == before
    return user_errors(result, "updateChild")


async def test_update_child_as_parent_with_null_names(actor: Any) -> None:
    fam = await family()

    errors = await update_rejected(
        actor, fam, fam.unborn, firstName=None, lastName=None, nickname="Mimi"
    )

    assert errors == [(["input", "firstName"], "REQUIRED"), (["input", "lastName"], "REQUIRED")]


async def test_update_child_as_parent_expected_date_of_a_born_child(actor: Any) -> None:
    fam = await family()
    born = await f.child(fam.household, born=BORN, rrn=RRN)

    errors = await update_rejected(
        actor, fam, born, firstName="Mila", expectedBirthDate=str(f.days(30))
    )

    assert errors == [(["input", "expectedBirthDate"], "NOT_ALLOWED")]


async def test_update_child_as_parent_expected_date_too_far_ahead(actor: Any) -> None:
    fam = await family()

    errors = await update_rejected(actor, fam, fam.unborn, expectedBirthDate=str(f.days(301)))

    assert errors == [(["input", "expectedBirthDate"], "DATE_TOO_FAR")]


async def test_update_child_as_parent_onto_another_unborn_child_with_a_request(
    actor: Any,
) -> None:
    # given: two unborn records with open requests, on different expected dates
    fam = await family()
    loc = await f.location(fam.muni)
    await f.care_request(fam.unborn, loc)
    other = await f.child(fam.household, expected=f.days(90))
    await f.care_request(other, loc)

    # when: the first moves to the second's date (they would look like one child)
    errors = await update_rejected(actor, fam, fam.unborn, expectedBirthDate=str(f.days(90)))

    # then
    assert errors == [(["input", "expectedBirthDate"], "OPEN_REQUEST_EXISTS")]


async def test_update_child_as_parent_onto_an_unborn_child_without_a_request(
    actor: Any,
) -> None:
    # given: only the moving record has an open request
    fam = await family()
    await f.care_request(fam.unborn, await f.location(fam.muni))
    await f.child(fam.household, expected=f.days(90))

    result = await actor(fam.user).gql(
        UPDATE, update_input(fam.unborn, expectedBirthDate=str(f.days(90)))
    )

    assert result["data"]["updateChild"]["errors"] == []
    assert (await Child.get(id=fam.unborn.id)).expected_birth_date == f.days(90)


async def test_record_birth_twice_at_once_records_one_birth(actor: Any) -> None:
    # given: two calls for the same unborn child with different numbers, at once
    fam = await family()
    client = actor(fam.user)
    other = f.make_rrn(BORN, 124)

    results = await asyncio.gather(
        *(
            client.gql(
                BIRTH,
                {"input": {"childId": str(fam.unborn.id), "birthDate": str(BORN), "rrn": rrn}},
            )
            for rrn in (RRN, other)
        )
    )

    # then: one wins, the other is told the birth is recorded
    outcomes = sorted(tuple(e["code"] for e in r["data"]["recordBirth"]["errors"]) for r in results)
    assert outcomes == [(), ("ALREADY_BORN",)]
