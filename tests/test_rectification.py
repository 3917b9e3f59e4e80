"""updateParent and updateHousehold (rectification): who may correct what, validation,
and who is recorded as the source of priority information."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest

from loket.settings import settings
from models.access_log import AccessLogEntry
from models.accounts import Role
from models.households import Household, Parent
from permissions.rrn import Rrn
from tests import factories as f
from tests.assertions import assert_forbidden

CONTACT = "id firstName lastName street postalCode municipality { nisCode } phone email"
PARENT = f"""{CONTACT} nationality birthplace homeLanguage relationToChild workSituation
    workSharePercent educationLevel hasAccount situationSource {{ kind organisationName }}"""
UPDATE_PARENT = f"""
mutation UpdateParent($input: UpdateParentInput!) {{
  updateParent(input: $input) {{ parent {{ {PARENT} }} errors {{ field code message }} }}
}}"""
# What counter staff may read back (profile and situation fields are not theirs).
UPDATE_PARENT_CONTACT = f"""
mutation UpdateParent($input: UpdateParentInput!) {{
  updateParent(input: $input) {{ parent {{ {CONTACT} }} errors {{ field code message }} }}
}}"""
HOUSEHOLD = """id familySituation incomeBelowThreshold residence { nisCode }
    situationSource { kind organisationName }"""
UPDATE_HOUSEHOLD = f"""
mutation UpdateHousehold($input: UpdateHouseholdInput!) {{
  updateHousehold(input: $input) {{ household {{ {HOUSEHOLD} }} errors {{ field code message }} }}
}}"""
SOURCES = """
query($id: ID!) {
  household(id: $id) {
    viewerGrant situationSource { kind organisationName }
    parents { situationSource { kind organisationName } }
  }
}"""

PARENT_RRN = f.make_rrn(f.days(-33 * 365), 45)
FORBIDDEN_ROLES = ["anonymous", "provider", "sick_child_service"]
OUTSIDERS = ["other_parent", "toeleider_without_mandate", "revoked_mandate"]


@dataclass
class Family:
    """A household in Leuven with its signed-in applicant and a child."""

    muni: Any
    household: Any
    parent: Any
    user: Any
    child: Any


async def family(*, user: bool = True) -> Family:
    muni = await f.municipality(
        "24062",
        "Leuven",
        (
            "3000",
            "3001",
        ),
    )
    u = await f.user(Role.PARENT) if user else None
    h, p = await f.household(muni, u, first_name="An", last_name="Peeters")
    c = await f.child(h, expected=f.days(60))
    return Family(muni, h, p, u, c)


async def toeleider(fam: Family, *, revoked: bool = False) -> Any:
    org = await f.referral_organisation("OCMW Leuven")
    revoked_at = datetime.datetime.now(datetime.UTC) if revoked else None
    await f.mandate(fam.household, fam.parent, org, revoked_at=revoked_at)
    return await f.user(Role.TOELEIDER, referral_organisation=org)


async def provider(fam: Family) -> Any:
    """Provider staff of a location the family applied at (they reach the dossier)."""
    loc = await f.location(fam.muni)
    await f.care_request(fam.child, loc)
    return await f.user(Role.PROVIDER, provider_location=loc)


async def denied_user(role: str, fam: Family) -> Any:
    if role == "anonymous":
        return None
    if role == "provider":
        return await provider(fam)
    service = await f.sick_child_service()
    await f.service_record(service, fam.child)
    return await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)


async def outsider(who: str, fam: Family) -> Any:
    """A user whose role may correct dossiers, but not this one."""
    if who == "other_parent":
        other = await f.user(Role.PARENT)
        await f.household(fam.muni, other)
        return other
    if who == "toeleider_without_mandate":
        return await f.user(Role.TOELEIDER, referral_organisation=await f.referral_organisation())
    return await toeleider(fam, revoked=True)


async def loket(*munis: Any) -> Any:
    return await f.user(Role.LOKET, counter=await f.counter("Loket", *munis))


async def parent_row(parent: Any) -> dict[str, Any]:
    return dict((await Parent.filter(id=parent.id).values())[0])


async def household_row(household: Any) -> dict[str, Any]:
    return dict((await Household.filter(id=household.id).values())[0])


def parent_input(parent: Any, **changes: Any) -> dict[str, Any]:
    return {"input": {"parentId": str(parent.id), **changes}}


def household_input(household: Any, **changes: Any) -> dict[str, Any]:
    return {"input": {"householdId": str(household.id), **changes}}


def user_errors(result: dict[str, Any], field: str, node: str) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    payload = result["data"][field]
    assert payload[node] is None
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


def assert_recent(moment: datetime.datetime | None) -> None:
    assert moment is not None
    assert datetime.datetime.now(datetime.UTC) - moment < datetime.timedelta(minutes=1)


# updateParent: allowed


async def test_update_parent_as_parent_changes_only_the_given_fields(actor: Any) -> None:
    # given
    fam = await family()
    before = await parent_row(fam.parent)

    # when
    result = await actor(fam.user).gql(
        UPDATE_PARENT,
        parent_input(
            fam.parent,
            street=" Tiensestraat  5 ",
            postalCode="3001",
            phone="0499 11 22 33",
            email="an@example.be",
            homeLanguage="FR",
        ),
    )

    # then: the phone is stored in E.164; no priority information changed
    assert "errors" not in result, result
    assert result["data"]["updateParent"] == {
        "parent": {
            "id": str(fam.parent.id),
            "firstName": "An",
            "lastName": "Peeters",
            "street": "Tiensestraat 5",
            "postalCode": "3001",
            "municipality": {"nisCode": "24062"},
            "phone": "+32499112233",
            "email": "an@example.be",
            "nationality": "BE",
            "birthplace": "Leuven",
            "homeLanguage": "fr",
            "relationToChild": "PARENT",
            "workSituation": "WORKING",
            "workSharePercent": 80,
            "educationLevel": "HIGHER",
            "hasAccount": True,
            "situationSource": {"kind": "PARENT", "organisationName": None},
        },
        "errors": [],
    }
    assert await parent_row(fam.parent) == {
        **before,
        "street": "Tiensestraat 5",
        "postal_code": "3001",
        "phone": "+32499112233",
        "email": "an@example.be",
        "home_language": "fr",
    }


async def test_update_parent_as_parent_with_an_international_phone(actor: Any) -> None:
    fam = await family()

    result = await actor(fam.user).gql(
        UPDATE_PARENT, parent_input(fam.parent, phone="+31 6 12345678")
    )

    assert result["data"]["updateParent"]["errors"] == []
    assert result["data"]["updateParent"]["parent"]["phone"] == "+31612345678"
    assert (await parent_row(fam.parent))["phone"] == "+31612345678"


async def test_update_parent_as_parent_records_the_parent_as_source(actor: Any) -> None:
    # given: the situation was entered by a referral worker before
    fam = await family()
    await Parent.filter(id=fam.parent.id).update(situation_source="REFERRAL_WORKER")

    # when
    result = await actor(fam.user).gql(
        UPDATE_PARENT,
        parent_input(fam.parent, workSituation="JOB_SEEKING", workSharePercent=None),
    )

    # then
    parent = result["data"]["updateParent"]["parent"]
    assert (parent["workSituation"], parent["workSharePercent"]) == ("JOB_SEEKING", None)
    assert parent["situationSource"] == {"kind": "PARENT", "organisationName": None}
    stored = await parent_row(fam.parent)
    assert stored["situation_source"] == "PARENT"
    assert stored["situation_source_organisation_id"] is None
    assert_recent(stored["situation_recorded_at"])


async def test_update_parent_as_toeleider_with_active_mandate_records_the_organisation(
    actor: Any,
) -> None:
    # given
    fam = await family(user=False)
    worker = await toeleider(fam)

    # when
    result = await actor(worker).gql(
        UPDATE_PARENT, parent_input(fam.parent, educationLevel="SECONDARY")
    )

    # then
    parent = result["data"]["updateParent"]["parent"]
    assert parent["educationLevel"] == "SECONDARY"
    assert parent["hasAccount"] is False
    assert parent["situationSource"] == {
        "kind": "REFERRAL_WORKER",
        "organisationName": "OCMW Leuven",
    }
    assert_recent((await parent_row(fam.parent))["situation_recorded_at"])


async def test_update_parent_as_admin_records_the_admin(actor: Any) -> None:
    fam = await family()

    result = await actor(await f.user(Role.ADMIN)).gql(
        UPDATE_PARENT, parent_input(fam.parent, workSituation="IN_TRAINING", nationality="nl")
    )

    parent = result["data"]["updateParent"]["parent"]
    assert (parent["workSituation"], parent["nationality"]) == ("IN_TRAINING", "NL")
    assert parent["situationSource"] == {"kind": "ADMIN", "organisationName": None}


async def test_update_parent_source_is_shown_to_the_provider(actor: Any) -> None:
    # given: a referral worker corrected the work situation
    fam = await family()
    worker = await toeleider(fam)
    await actor(worker).gql(UPDATE_PARENT, parent_input(fam.parent, workSituation="NONE"))
    staff = await provider(fam)

    # when
    result = await actor(staff).gql(SOURCES, {"id": str(fam.household.id)})

    # then
    assert result == {
        "data": {
            "household": {
                "viewerGrant": "PROVIDER_SELECTED",
                "situationSource": {"kind": "PARENT", "organisationName": None},
                "parents": [
                    {
                        "situationSource": {
                            "kind": "REFERRAL_WORKER",
                            "organisationName": "OCMW Leuven",
                        }
                    }
                ],
            }
        }
    }


async def test_update_parent_as_applicant_moving_changes_the_residence(actor: Any) -> None:
    # given
    fam = await family()
    await f.municipality("24038", "Herent", ("3020",))

    # when
    result = await actor(fam.user).gql(
        UPDATE_PARENT,
        parent_input(
            fam.parent,
            street="Wijgmaalsesteenweg 1",
            postalCode="3020",
            municipalityNisCode="24038",
        ),
    )

    # then
    assert result["data"]["updateParent"]["parent"]["municipality"] == {"nisCode": "24038"}
    assert (await household_row(fam.household))["municipality_id"] == "24038"


async def test_update_parent_as_partner_moving_keeps_the_residence(actor: Any) -> None:
    # given: the partner (not the applicant) corrects their own address
    fam = await family()
    partner_user = await f.user(Role.PARENT)
    partner = await Parent.create(
        household=fam.household,
        user=partner_user,
        is_applicant=False,
        first_name="Bart",
        last_name="Peeters",
        email="bart@example.be",
        municipality=fam.muni,
        **f.PARENT_DEFAULTS,
    )
    await f.municipality("24038", "Herent", ("3020",))

    # when
    result = await actor(partner_user).gql(
        UPDATE_PARENT, parent_input(partner, postalCode="3020", municipalityNisCode="24038")
    )

    # then
    assert result["data"]["updateParent"]["errors"] == []
    assert (await parent_row(partner))["municipality_id"] == "24038"
    assert (await household_row(fam.household))["municipality_id"] == "24062"


async def test_update_parent_as_parent_adds_a_national_register_number(actor: Any) -> None:
    fam = await family()
    client = actor(fam.user)

    first = await client.gql(UPDATE_PARENT, parent_input(fam.parent, rrn=PARENT_RRN))
    again = await client.gql(UPDATE_PARENT, parent_input(fam.parent, rrn=PARENT_RRN))

    # then: stored as a hash only; giving it again is no conflict with oneself
    assert first["data"]["updateParent"]["errors"] == []
    assert again["data"]["updateParent"]["errors"] == []
    stored = await parent_row(fam.parent)
    assert stored["rrn_hashes"] == list(Rrn.parse(PARENT_RRN).hashes().values())


async def test_update_parent_as_loket_corrects_name_address_and_contact(actor: Any) -> None:
    # given: counter staff whose counter covers the family's municipality
    fam = await family()
    staff = await loket(fam.muni)
    before = await parent_row(fam.parent)

    # when
    result = await actor(staff).gql(
        UPDATE_PARENT_CONTACT,
        parent_input(
            fam.parent,
            firstName="Ann",
            street="Bondgenotenlaan 2",
            phone="016 12 34 56",
            email="ann@example.be",
        ),
    )

    # then: the situation source is untouched
    assert "errors" not in result, result
    assert result["data"]["updateParent"] == {
        "parent": {
            "id": str(fam.parent.id),
            "firstName": "Ann",
            "lastName": "Peeters",
            "street": "Bondgenotenlaan 2",
            "postalCode": "3000",
            "municipality": {"nisCode": "24062"},
            "phone": "+3216123456",
            "email": "ann@example.be",
        },
        "errors": [],
    }
    assert await parent_row(fam.parent) == {
        **before,
        "first_name": "Ann",
        "street": "Bondgenotenlaan 2",
        "phone": "+3216123456",
        "email": "ann@example.be",
    }


# updateParent: denied


async def test_update_parent_as_loket_with_fields_beyond_its_subset(actor: Any) -> None:
    # given
    fam = await family()
    staff = await loket(fam.muni)
    before = await parent_row(fam.parent)

    # when
    result = await actor(staff).gql(
        UPDATE_PARENT_CONTACT,
        parent_input(
            fam.parent, firstName="Ann", nationality="NL", workSituation="NONE", rrn=PARENT_RRN
        ),
    )

    # then: nothing changes, not even the allowed first name
    assert user_errors(result, "updateParent", "parent") == [
        (["input", "nationality"], "FORBIDDEN_FIELD"),
        (["input", "workSituation"], "FORBIDDEN_FIELD"),
        (["input", "rrn"], "FORBIDDEN_FIELD"),
    ]
    assert await parent_row(fam.parent) == before


async def test_update_parent_as_loket_clearing_fields_beyond_its_subset(actor: Any) -> None:
    # given: a null clears a field, so it needs the field's policy as much as a value
    fam = await family()
    staff = await loket(fam.muni)
    before = await parent_row(fam.parent)

    # when
    result = await actor(staff).gql(
        UPDATE_PARENT_CONTACT, parent_input(fam.parent, birthplace=None, workSharePercent=None)
    )

    # then
    assert user_errors(result, "updateParent", "parent") == [
        (["input", "birthplace"], "FORBIDDEN_FIELD"),
        (["input", "workSharePercent"], "FORBIDDEN_FIELD"),
    ]
    assert await parent_row(fam.parent) == before


async def test_update_parent_as_loket_of_another_region_is_not_found(actor: Any) -> None:
    fam = await family()
    staff = await loket(await f.municipality("11002", "Antwerpen"))
    before = await parent_row(fam.parent)

    result = await actor(staff).gql(UPDATE_PARENT_CONTACT, parent_input(fam.parent, firstName="X"))

    assert user_errors(result, "updateParent", "parent") == [(["input", "parentId"], "NOT_FOUND")]
    assert await parent_row(fam.parent) == before


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
async def test_update_parent_as_role_without_the_ability_is_forbidden(
    actor: Any, role: str
) -> None:
    fam = await family()
    client = actor(await denied_user(role, fam))
    before = await parent_row(fam.parent)

    result = await client.gql(UPDATE_PARENT, parent_input(fam.parent, firstName="X"))

    assert_forbidden(result, "updateParent")
    assert await parent_row(fam.parent) == before


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_update_parent_outside_the_grant_is_not_found(actor: Any, who: str) -> None:
    fam = await family()
    client = actor(await outsider(who, fam))
    before = await parent_row(fam.parent)

    result = await client.gql(UPDATE_PARENT, parent_input(fam.parent, workSituation="NONE"))

    assert user_errors(result, "updateParent", "parent") == [(["input", "parentId"], "NOT_FOUND")]
    assert await parent_row(fam.parent) == before


# updateParent: input errors (nothing is saved while any field is wrong)


async def parent_rejected(actor: Any, fam: Family, **changes: Any) -> Any:
    before = await parent_row(fam.parent)
    household_before = await household_row(fam.household)
    result = await actor(fam.user).gql(UPDATE_PARENT, parent_input(fam.parent, **changes))
    assert await parent_row(fam.parent) == before
    assert await household_row(fam.household) == household_before
    return user_errors(result, "updateParent", "parent")


async def test_update_parent_as_parent_with_invalid_fields(actor: Any) -> None:
    fam = await family()

    errors = await parent_rejected(
        actor,
        fam,
        firstName=None,
        street="Tiensestraat 5",
        postalCode="300",
        phone="12",
        email="an@",
        workSituation=None,
        workSharePercent=120,
    )

    assert errors == [
        (["input", "firstName"], "REQUIRED"),
        (["input", "postalCode"], "INVALID_POSTAL_CODE"),
        (["input", "phone"], "INVALID_PHONE"),
        (["input", "email"], "INVALID_EMAIL"),
        (["input", "workSituation"], "REQUIRED"),
        (["input", "workSharePercent"], "OUT_OF_RANGE"),
    ]


async def test_update_parent_as_parent_with_postal_code_of_another_municipality(
    actor: Any,
) -> None:
    fam = await family()

    errors = await parent_rejected(actor, fam, street="Elders 1", postalCode="3020")

    assert errors == [(["input", "postalCode"], "POSTAL_CODE_MISMATCH")]


async def test_update_parent_as_parent_moving_to_an_unknown_municipality(actor: Any) -> None:
    fam = await family()

    errors = await parent_rejected(actor, fam, municipalityNisCode="99999", firstName="Ann")

    assert errors == [(["input", "municipalityNisCode"], "UNKNOWN_MUNICIPALITY")]


async def test_update_parent_as_parent_with_invalid_rrn(actor: Any) -> None:
    fam = await family()

    errors = await parent_rejected(actor, fam, rrn="85073100199", firstName="Ann")

    assert errors == [(["input", "rrn"], "INVALID_RRN")]


async def test_update_parent_as_parent_with_rrn_of_another_parent(actor: Any) -> None:
    # given: another account was registered with this number
    fam = await family()
    await f.household(fam.muni, rrn=PARENT_RRN)

    errors = await parent_rejected(actor, fam, rrn=PARENT_RRN, firstName="Ann")

    assert errors == [(["input", "rrn"], "ALREADY_REGISTERED")]


# updateHousehold


async def test_update_household_as_parent(actor: Any) -> None:
    # given
    fam = await family()
    await Household.filter(id=fam.household.id).update(situation_source="ADMIN")

    # when
    result = await actor(fam.user).gql(
        UPDATE_HOUSEHOLD,
        household_input(fam.household, familySituation="SINGLE_PARENT", incomeBelowThreshold=None),
    )

    # then
    assert "errors" not in result, result
    assert result["data"]["updateHousehold"] == {
        "household": {
            "id": str(fam.household.id),
            "familySituation": "SINGLE_PARENT",
            "incomeBelowThreshold": None,
            "residence": {"nisCode": "24062"},
            "situationSource": {"kind": "PARENT", "organisationName": None},
        },
        "errors": [],
    }
    stored = await household_row(fam.household)
    assert (stored["family_situation"], stored["income_below_threshold"]) == ("SINGLE_PARENT", None)
    assert_recent(stored["situation_recorded_at"])


async def test_update_household_as_toeleider_with_active_mandate(actor: Any) -> None:
    fam = await family(user=False)
    worker = await toeleider(fam)

    result = await actor(worker).gql(
        UPDATE_HOUSEHOLD, household_input(fam.household, incomeBelowThreshold=False)
    )

    household = result["data"]["updateHousehold"]["household"]
    assert household["incomeBelowThreshold"] is False
    assert household["familySituation"] == "TWO_PARENTS"
    assert household["situationSource"] == {
        "kind": "REFERRAL_WORKER",
        "organisationName": "OCMW Leuven",
    }


async def test_update_household_as_admin(actor: Any) -> None:
    fam = await family()

    result = await actor(await f.user(Role.ADMIN)).gql(
        UPDATE_HOUSEHOLD, household_input(fam.household, familySituation="SINGLE_PARENT")
    )

    household = result["data"]["updateHousehold"]["household"]
    assert household["familySituation"] == "SINGLE_PARENT"
    assert household["situationSource"] == {"kind": "ADMIN", "organisationName": None}


async def test_update_household_as_parent_with_null_family_situation(actor: Any) -> None:
    fam = await family()
    before = await household_row(fam.household)

    result = await actor(fam.user).gql(
        UPDATE_HOUSEHOLD, household_input(fam.household, familySituation=None)
    )

    assert user_errors(result, "updateHousehold", "household") == [
        (["input", "familySituation"], "REQUIRED")
    ]
    assert await household_row(fam.household) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"familySituation": "SINGLE_PARENT", "incomeBelowThreshold": False},
        {"incomeBelowThreshold": None},
    ],
    ids=["values", "null"],
)
async def test_update_household_as_loket_is_a_forbidden_field(
    actor: Any, changes: dict[str, Any]
) -> None:
    # given: counter staff of the region may not touch priority information
    fam = await family()
    staff = await loket(fam.muni)
    before = await household_row(fam.household)

    # when
    result = await actor(staff).gql(UPDATE_HOUSEHOLD, household_input(fam.household, **changes))

    # then
    assert user_errors(result, "updateHousehold", "household") == [
        (["input", key], "FORBIDDEN_FIELD") for key in changes
    ]
    assert await household_row(fam.household) == before


@pytest.mark.parametrize("role", FORBIDDEN_ROLES)
async def test_update_household_as_role_without_the_ability_is_forbidden(
    actor: Any, role: str
) -> None:
    fam = await family()
    client = actor(await denied_user(role, fam))
    before = await household_row(fam.household)

    result = await client.gql(
        UPDATE_HOUSEHOLD, household_input(fam.household, familySituation="SINGLE_PARENT")
    )

    assert_forbidden(result, "updateHousehold")
    assert await household_row(fam.household) == before


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_update_household_outside_the_grant_is_not_found(actor: Any, who: str) -> None:
    fam = await family()
    client = actor(await outsider(who, fam))
    before = await household_row(fam.household)

    result = await client.gql(
        UPDATE_HOUSEHOLD, household_input(fam.household, familySituation="SINGLE_PARENT")
    )

    assert user_errors(result, "updateHousehold", "household") == [
        (["input", "householdId"], "NOT_FOUND")
    ]
    assert await household_row(fam.household) == before


async def test_update_parent_as_parent_cannot_set_the_rrn_of_a_partner_with_an_account(
    actor: Any,
) -> None:
    # given: a partner who signed in themselves; the number is theirs to give
    fam = await family()
    partner_user = await f.user(Role.PARENT)
    partner = await Parent.create(
        household=fam.household,
        user=partner_user,
        is_applicant=False,
        first_name="Bram",
        last_name="Janssens",
        email="bram@example.test",
        municipality=fam.muni,
        **f.PARENT_DEFAULTS,
    )
    before = await parent_row(partner)

    # when
    result = await actor(fam.user).gql(UPDATE_PARENT, parent_input(partner, rrn=PARENT_RRN))

    # then
    assert user_errors(result, "updateParent", "parent") == [(["input", "rrn"], "FORBIDDEN_FIELD")]
    assert await parent_row(partner) == before


async def test_update_parent_with_rrn_counts_against_the_uniqueness_limit(actor: Any) -> None:
    # given: two checks per hour; whether a number is registered is an answer too
    saved = settings.uniqueness_checks_per_hour
    object.__setattr__(settings, "uniqueness_checks_per_hour", 2)
    try:
        fam = await family()
        client = actor(fam.user)
        answers = []
        for n in range(3):
            rrn = f.make_rrn(f.days(-33 * 365), 50 + n)
            result = await client.gql(UPDATE_PARENT, parent_input(fam.parent, rrn=rrn))
            answers.append([e["code"] for e in result["data"]["updateParent"]["errors"]])
    finally:
        object.__setattr__(settings, "uniqueness_checks_per_hour", saved)

    # then: the third is refused, and every check is in the access log
    assert answers == [[], [], ["RATE_LIMITED"]]
    logged = await AccessLogEntry.filter(fields_read=["parent uniqueness check"]).values_list(
        "outcome", flat=True
    )
    assert sorted(logged) == ["ANSWERED", "ANSWERED", "RATE_LIMITED"]
