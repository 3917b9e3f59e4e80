"""Referral organisations and their workers, mandates (grant, revoke, who sees them),
dossiers a referral worker starts for a family, and claiming them with the code."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest

from models.accounts import Membership, ReferralOrganisation, Role, User
from models.households import Child, Household, Invitation, Mandate, Parent
from models.regions import Municipality
from models.requests import CareRequest
from permissions.rrn import Rrn
from resolvers import uniqueness
from tests import factories as f
from tests.assertions import assert_forbidden

ORGANISATIONS = "{ referralOrganisations { id name kind } }"
CREATE_ORGANISATION = """
mutation($input: CreateReferralOrganisationInput!) {
  createReferralOrganisation(input: $input) {
    referralOrganisation { id name kind }
    errors { field code message }
  }
}"""
ADD_WORKER = """
mutation($input: AddReferralWorkerInput!) {
  addReferralWorker(input: $input) {
    worker { id email displayName addedAt removedAt }
    errors { field code message }
  }
}"""
REMOVE_WORKER = """
mutation($input: RemoveReferralWorkerInput!) {
  removeReferralWorker(input: $input) {
    worker { id email removedAt }
    errors { field code message }
  }
}"""
WORKERS = "query($org: ID!) { referralWorkers(organisationId: $org) { id email } }"
MANDATE_FIELDS = """id organisation { id name kind } grantedAt consentMethod consentGivenAt
    consentNote active revokedAt"""
GRANT = f"""
mutation($input: GrantMandateInput!) {{
  grantMandate(input: $input) {{ mandate {{ {MANDATE_FIELDS} }} errors {{ field code message }} }}
}}"""
REVOKE = f"""
mutation($input: RevokeMandateInput!) {{
  revokeMandate(input: $input) {{ mandate {{ {MANDATE_FIELDS} }} errors {{ field code message }} }}
}}"""
MANDATES = "query($id: ID!) { household(id: $id) { mandates { id organisation { name } active } } }"
HOUSEHOLD = "query($id: ID!) { household(id: $id) { id viewerGrant } }"
MY_HOUSEHOLD = "{ myHousehold { id viewerGrant parents { firstName } } }"
START = """
mutation($input: StartDossierInput!) {
  startDossier(input: $input) {
    household {
      id viewerGrant familySituation incomeBelowThreshold
      parents { firstName lastName email workSituation }
      children { firstName lastName expectedBirthDate }
      mandates { organisation { name } consentMethod consentGivenAt consentNote active }
    }
    claimCode claimExpiresAt
    errors { field code message }
  }
}"""
CLAIM = """
mutation($input: ClaimDossierInput!) {
  claimDossier(input: $input) { household { id viewerGrant } errors { field code message } }
}"""
SUBMIT = """
mutation($input: SubmitCareRequestInput!) {
  submitCareRequest(input: $input) { careRequest { id } errors { field code } }
}"""

DENIED = ["anonymous", "parent", "toeleider", "admin", "loket", "provider"]
GIVEN_AT = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
PARENT_RRN = f.make_rrn(f.days(-31 * 365), 57)
CHILD_BIRTH = f.days(-150)
CHILD_RRN = f.make_rrn(CHILD_BIRTH, 61)


@dataclass
class Family:
    user: User | None
    household: Household
    parent: Parent
    child: Child


async def leuven() -> Any:
    return await f.municipality("24062", "Leuven")


async def family(muni: Any, *, account: bool = True) -> Family:
    user = await f.user(Role.PARENT) if account else None
    h, p = await f.household(muni, user)
    return Family(user, h, p, await f.child(h, expected=f.days(100)))


async def worker_of(org: ReferralOrganisation) -> User:
    return await f.user(Role.TOELEIDER, referral_organisation=org)


async def outsider(who: str, muni: Any) -> User | None:
    """A user of the given kind with no business with the dossiers of a test."""
    if who == "anonymous":
        return None
    if who == "parent":
        return (await family(muni)).user
    if who == "toeleider":
        return await worker_of(await f.referral_organisation("CAW Elders"))
    if who == "admin":
        return await f.user(Role.ADMIN)
    if who == "loket":
        return await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", muni))
    return await f.user(Role.PROVIDER, provider_location=await f.location(muni))


def errors_of(result: dict[str, Any], field: str) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    payload = result["data"][field]
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def mandate_rows() -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await Mandate.all()
        .order_by("granted_at")
        .values_list("id", "referral_organisation_id", "revoked_at", "revoked_by_id")
    ]


async def membership_rows() -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await Membership.all()
        .order_by("created_at")
        .values_list("id", "user_id", "role", "referral_organisation_id", "revoked_at")
    ]


async def dossier_counts() -> dict[str, int]:
    return {
        "household": await Household.all().count(),
        "parent": await Parent.all().count(),
        "child": await Child.all().count(),
        "mandate": await Mandate.all().count(),
        "invitation": await Invitation.all().count(),
    }


def iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# referralOrganisations


async def test_referral_organisations_as_anonymous(actor: Any) -> None:
    # given
    vdab = await ReferralOrganisation.create(name="VDAB Leuven", kind="VDAB")
    ocmw = await ReferralOrganisation.create(name="OCMW Leuven", kind="OCMW")

    # when
    result = await actor(None).gql(ORGANISATIONS)

    # then
    assert result == {
        "data": {
            "referralOrganisations": [
                {"id": str(ocmw.id), "name": "OCMW Leuven", "kind": "OCMW"},
                {"id": str(vdab.id), "name": "VDAB Leuven", "kind": "VDAB"},
            ]
        }
    }


# createReferralOrganisation


async def test_create_referral_organisation_as_admin(actor: Any) -> None:
    # given
    admin = await f.user(Role.ADMIN)

    # when
    result = await actor(admin).gql(
        CREATE_ORGANISATION, {"input": {"name": "  CAW   Oost-Brabant ", "kind": "CAW"}}
    )

    # then
    payload = result["data"]["createReferralOrganisation"]
    stored = await ReferralOrganisation.get()
    assert payload == {
        "referralOrganisation": {"id": str(stored.id), "name": "CAW Oost-Brabant", "kind": "CAW"},
        "errors": [],
    }
    assert (stored.name, stored.kind) == ("CAW Oost-Brabant", "CAW")


@pytest.mark.parametrize(
    ("name", "code"),
    [("   ", "REQUIRED"), ("x" * 201, "TOO_LONG"), ("ocmw leuven", "NAME_TAKEN")],
    ids=["blank", "too_long", "taken"],
)
async def test_create_referral_organisation_as_admin_with_invalid_name(
    actor: Any, name: str, code: str
) -> None:
    # given
    await f.referral_organisation("OCMW Leuven")
    admin = await f.user(Role.ADMIN)

    # when
    result = await actor(admin).gql(CREATE_ORGANISATION, {"input": {"name": name, "kind": "OCMW"}})

    # then
    assert errors_of(result, "createReferralOrganisation") == [(["input", "name"], code)]
    assert result["data"]["createReferralOrganisation"]["referralOrganisation"] is None
    assert await ReferralOrganisation.all().count() == 1


@pytest.mark.parametrize("who", [w for w in DENIED if w != "admin"])
async def test_create_referral_organisation_as_non_admin_is_forbidden(actor: Any, who: str) -> None:
    # given
    user = await outsider(who, await leuven())
    before = await ReferralOrganisation.all().count()

    # when
    result = await actor(user).gql(
        CREATE_ORGANISATION, {"input": {"name": "Nieuw", "kind": "OTHER"}}
    )

    # then
    assert_forbidden(result, "createReferralOrganisation")
    assert await ReferralOrganisation.all().count() == before


# addReferralWorker / removeReferralWorker / referralWorkers


async def test_add_referral_worker_as_admin_gives_access_to_mandated_dossiers(
    actor: Any,
) -> None:
    # given
    muni = await leuven()
    ocmw = await f.referral_organisation("OCMW Leuven")
    fam = await family(muni)
    await f.mandate(fam.household, fam.parent, ocmw)
    admin = await f.user(Role.ADMIN)
    newcomer = await f.user(None, email="Sofie.Claes@ocmw.example")

    # when
    result = await actor(admin).gql(
        ADD_WORKER, {"input": {"organisationId": str(ocmw.id), "email": "sofie.claes@OCMW.example"}}
    )

    # then
    payload = result["data"]["addReferralWorker"]
    membership = await Membership.get(user_id=newcomer.id)
    assert payload == {
        "worker": {
            "id": str(newcomer.id),
            "email": "Sofie.Claes@ocmw.example",
            "displayName": "Test user",
            "addedAt": iso(membership.created_at),
            "removedAt": None,
        },
        "errors": [],
    }
    assert (membership.role, membership.referral_organisation_id) == (  # type: ignore[attr-defined]
        Role.TOELEIDER,
        ocmw.id,
    )
    seen = await actor(newcomer).gql(HOUSEHOLD, {"id": str(fam.household.id)})
    assert seen == {
        "data": {"household": {"id": str(fam.household.id), "viewerGrant": "ACTIVE_MANDATE"}}
    }
    listed = await actor(admin).gql(WORKERS, {"org": str(ocmw.id)})
    assert listed == {
        "data": {"referralWorkers": [{"id": str(newcomer.id), "email": "Sofie.Claes@ocmw.example"}]}
    }


async def test_add_referral_worker_as_admin_with_unknown_user_and_organisation(
    actor: Any,
) -> None:
    # given
    admin = await f.user(Role.ADMIN)
    before = await membership_rows()

    # when
    result = await actor(admin).gql(
        ADD_WORKER,
        {
            "input": {
                "organisationId": "00000000-0000-0000-0000-000000000000",
                "email": "nobody@example.test",
            }
        },
    )

    # then
    assert errors_of(result, "addReferralWorker") == [
        (["input", "organisationId"], "NOT_FOUND"),
        (["input", "email"], "UNKNOWN_USER"),
    ]
    assert await membership_rows() == before


async def test_add_referral_worker_as_admin_twice_is_already_member(actor: Any) -> None:
    # given
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await worker_of(ocmw)
    admin = await f.user(Role.ADMIN)
    before = await membership_rows()

    # when
    result = await actor(admin).gql(
        ADD_WORKER, {"input": {"organisationId": str(ocmw.id), "email": worker.email}}
    )

    # then
    assert errors_of(result, "addReferralWorker") == [(["input", "email"], "ALREADY_MEMBER")]
    assert await membership_rows() == before


@pytest.mark.parametrize("who", [w for w in DENIED if w != "admin"])
async def test_add_referral_worker_as_non_admin_is_forbidden(actor: Any, who: str) -> None:
    # given
    user = await outsider(who, await leuven())
    ocmw = await f.referral_organisation("OCMW Leuven")
    target = await f.user(None)
    before = await membership_rows()

    # when
    result = await actor(user).gql(
        ADD_WORKER, {"input": {"organisationId": str(ocmw.id), "email": target.email}}
    )

    # then
    assert_forbidden(result, "addReferralWorker")
    assert await membership_rows() == before


async def test_remove_referral_worker_as_admin_ends_access_at_once(actor: Any) -> None:
    # given
    muni = await leuven()
    ocmw = await f.referral_organisation("OCMW Leuven")
    fam = await family(muni)
    await f.mandate(fam.household, fam.parent, ocmw)
    worker = await worker_of(ocmw)
    admin = await f.user(Role.ADMIN)
    before = await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)})

    # when
    result = await actor(admin).gql(
        REMOVE_WORKER, {"input": {"organisationId": str(ocmw.id), "userId": str(worker.id)}}
    )

    # then
    membership = await Membership.get(user_id=worker.id)
    assert membership.revoked_at is not None
    assert result["data"]["removeReferralWorker"] == {
        "worker": {
            "id": str(worker.id),
            "email": worker.email,
            "removedAt": iso(membership.revoked_at),
        },
        "errors": [],
    }
    assert before["data"]["household"] is not None
    after = await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)})
    assert after["data"]["household"] is None
    listed = await actor(admin).gql(WORKERS, {"org": str(ocmw.id)})
    assert listed == {"data": {"referralWorkers": []}}


async def test_remove_referral_worker_as_admin_for_a_non_member_is_not_found(
    actor: Any,
) -> None:
    # given
    ocmw = await f.referral_organisation("OCMW Leuven")
    vdab = await f.referral_organisation("VDAB Leuven")
    worker = await worker_of(vdab)
    admin = await f.user(Role.ADMIN)
    before = await membership_rows()

    # when
    result = await actor(admin).gql(
        REMOVE_WORKER, {"input": {"organisationId": str(ocmw.id), "userId": str(worker.id)}}
    )

    # then
    assert errors_of(result, "removeReferralWorker") == [(["input", "userId"], "NOT_FOUND")]
    assert await membership_rows() == before


async def test_remove_referral_worker_as_admin_with_unknown_organisation(actor: Any) -> None:
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(
        REMOVE_WORKER, {"input": {"organisationId": "not-an-id", "userId": str(admin.id)}}
    )

    assert errors_of(result, "removeReferralWorker") == [(["input", "organisationId"], "NOT_FOUND")]


@pytest.mark.parametrize("who", [w for w in DENIED if w != "admin"])
async def test_remove_referral_worker_as_non_admin_is_forbidden(actor: Any, who: str) -> None:
    # given
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await worker_of(ocmw)
    user = await outsider(who, await leuven())
    before = await membership_rows()

    # when
    result = await actor(user).gql(
        REMOVE_WORKER, {"input": {"organisationId": str(ocmw.id), "userId": str(worker.id)}}
    )

    # then
    assert_forbidden(result, "removeReferralWorker")
    assert await membership_rows() == before


async def test_referral_workers_as_admin_for_unknown_organisation_is_null(actor: Any) -> None:
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(WORKERS, {"org": "00000000-0000-0000-0000-000000000000"})

    assert result == {"data": {"referralWorkers": None}}


async def test_referral_workers_as_toeleider_is_forbidden(actor: Any) -> None:
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await worker_of(ocmw)

    result = await actor(worker).gql(WORKERS, {"org": str(ocmw.id)})

    assert_forbidden(result, "referralWorkers")


# grantMandate


async def test_grant_mandate_as_parent(actor: Any) -> None:
    # given
    muni = await leuven()
    fam = await family(muni)
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await worker_of(ocmw)
    assert (await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)}))["data"] == {
        "household": None
    }

    # when
    result = await actor(fam.user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})

    # then
    stored = await Mandate.get()
    assert result["data"]["grantMandate"] == {
        "mandate": {
            "id": str(stored.id),
            "organisation": {"id": str(ocmw.id), "name": "OCMW Leuven", "kind": "OTHER"},
            "grantedAt": iso(stored.granted_at),
            "consentMethod": "ONLINE",
            "consentGivenAt": iso(stored.consent_given_at),
            "consentNote": "",
            "active": True,
            "revokedAt": None,
        },
        "errors": [],
    }
    assert stored.consent_given_at is not None
    assert stored.household_id == fam.household.id  # type: ignore[attr-defined]
    assert stored.granted_by_id == fam.parent.id  # type: ignore[attr-defined]
    assert stored.recorded_by_id == fam.user.id  # type: ignore[attr-defined,union-attr]
    seen = await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)})
    assert seen["data"]["household"] == {
        "id": str(fam.household.id),
        "viewerGrant": "ACTIVE_MANDATE",
    }


async def test_grant_mandate_as_parent_when_one_is_active_is_mandate_exists(actor: Any) -> None:
    # given
    fam = await family(await leuven())
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.mandate(fam.household, fam.parent, ocmw)
    before = await mandate_rows()

    # when
    result = await actor(fam.user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})

    # then
    assert errors_of(result, "grantMandate") == [
        (["input", "referralOrganisationId"], "MANDATE_EXISTS")
    ]
    assert await mandate_rows() == before


async def test_grant_mandate_as_parent_after_a_revoked_one(actor: Any) -> None:
    fam = await family(await leuven())
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.mandate(fam.household, fam.parent, ocmw, revoked_at=datetime.datetime.now(datetime.UTC))

    result = await actor(fam.user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})

    assert errors_of(result, "grantMandate") == []
    assert await Mandate.filter(revoked_at__isnull=True).count() == 1


async def test_grant_mandate_as_parent_for_unknown_organisation_is_not_found(actor: Any) -> None:
    fam = await family(await leuven())

    result = await actor(fam.user).gql(
        GRANT, {"input": {"referralOrganisationId": "00000000-0000-0000-0000-000000000000"}}
    )

    assert errors_of(result, "grantMandate") == [(["input", "referralOrganisationId"], "NOT_FOUND")]
    assert await Mandate.all().count() == 0


async def test_grant_mandate_as_parent_without_household(actor: Any) -> None:
    ocmw = await f.referral_organisation("OCMW Leuven")
    user = await f.user(Role.PARENT)

    result = await actor(user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})

    assert errors_of(result, "grantMandate") == [(["input"], "NO_HOUSEHOLD")]
    assert await Mandate.all().count() == 0


@pytest.mark.parametrize("who", [w for w in DENIED if w != "parent"])
async def test_grant_mandate_as_non_parent_is_forbidden(actor: Any, who: str) -> None:
    # given
    muni = await leuven()
    await family(muni)
    ocmw = await f.referral_organisation("OCMW Leuven")
    user = await outsider(who, muni)

    # when
    result = await actor(user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})

    # then
    assert_forbidden(result, "grantMandate")
    assert await Mandate.all().count() == 0


async def test_grant_mandate_as_parent_concurrently_creates_one(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the window between the check and the write is widened
    fam = await family(await leuven())
    ocmw = await f.referral_organisation("OCMW Leuven")
    check = Mandate.exists

    async def slow(*args: Any, **kwargs: Any) -> bool:
        found = await check(*args, **kwargs)
        await asyncio.sleep(0.2)
        return found

    monkeypatch.setattr(Mandate, "exists", slow)
    client = actor(fam.user)

    # when
    results = await asyncio.gather(
        *[client.gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}}) for _ in range(2)]
    )

    # then
    assert sorted(errors_of(r, "grantMandate") for r in results) == [
        [],
        [(["input", "referralOrganisationId"], "MANDATE_EXISTS")],
    ]
    assert await Mandate.all().count() == 1


# revokeMandate


async def mandated(muni: Any) -> tuple[Family, ReferralOrganisation, Mandate, User]:
    fam = await family(muni)
    ocmw = await f.referral_organisation("OCMW Leuven")
    mandate = await f.mandate(fam.household, fam.parent, ocmw)
    return fam, ocmw, mandate, await worker_of(ocmw)


async def test_revoke_mandate_as_parent_ends_the_workers_access_at_once(actor: Any) -> None:
    # given
    muni = await leuven()
    fam, _, mandate, worker = await mandated(muni)
    loc = await f.location(muni)
    submit = {
        "input": {
            "childId": str(fam.child.id),
            "desiredStartDate": f.days(200).isoformat(),
            "carePattern": [{"day": "MON", "part": "FULL"}],
            "locationIds": [str(loc.id)],
        }
    }
    before = await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)})

    # when
    result = await actor(fam.user).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    stored = await Mandate.get()
    assert stored.revoked_at is not None
    assert stored.revoked_by_id == fam.user.id  # type: ignore[attr-defined,union-attr]
    payload = result["data"]["revokeMandate"]
    assert payload["errors"] == []
    assert (payload["mandate"]["active"], payload["mandate"]["revokedAt"]) == (
        False,
        iso(stored.revoked_at),
    )
    assert before["data"]["household"] == {
        "id": str(fam.household.id),
        "viewerGrant": "ACTIVE_MANDATE",
    }
    after = await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)})
    assert after == {"data": {"household": None}}
    filed = await actor(worker).gql(SUBMIT, submit)
    assert filed["data"]["submitCareRequest"] == {
        "careRequest": None,
        "errors": [{"field": ["input", "childId"], "code": "NOT_FOUND"}],
    }
    assert await CareRequest.all().count() == 0


async def test_revoke_mandate_as_worker_of_the_organisation(actor: Any) -> None:
    # given
    fam, _, mandate, worker = await mandated(await leuven())

    # when
    result = await actor(worker).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    assert errors_of(result, "revokeMandate") == []
    stored = await Mandate.get()
    assert stored.revoked_by_id == worker.id  # type: ignore[attr-defined]
    after = await actor(worker).gql(HOUSEHOLD, {"id": str(fam.household.id)})
    assert after == {"data": {"household": None}}


async def test_revoke_mandate_as_admin(actor: Any) -> None:
    _, _, mandate, _ = await mandated(await leuven())
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    assert errors_of(result, "revokeMandate") == []
    assert result["data"]["revokeMandate"]["mandate"]["active"] is False
    stored = await Mandate.get()
    assert stored.revoked_by_id == admin.id  # type: ignore[attr-defined]


async def test_revoke_mandate_as_parent_when_already_revoked_changes_nothing(actor: Any) -> None:
    # given
    fam = await family(await leuven())
    ocmw = await f.referral_organisation("OCMW Leuven")
    revoked_at = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=datetime.UTC)
    mandate = await f.mandate(fam.household, fam.parent, ocmw, revoked_at=revoked_at)
    before = await mandate_rows()

    # when
    result = await actor(fam.user).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    assert errors_of(result, "revokeMandate") == []
    assert result["data"]["revokeMandate"]["mandate"]["revokedAt"] == iso(revoked_at)
    assert await mandate_rows() == before


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("anonymous", "FORBIDDEN"),
        ("parent", "NOT_FOUND"),
        ("toeleider", "NOT_FOUND"),
        ("loket", "FORBIDDEN"),
        ("provider", "FORBIDDEN"),
    ],
)
async def test_revoke_mandate_as_outsider_changes_nothing(actor: Any, who: str, code: str) -> None:
    # given
    muni = await leuven()
    _, _, mandate, _ = await mandated(muni)
    user = await outsider(who, muni)
    before = await mandate_rows()

    # when
    result = await actor(user).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    if code == "FORBIDDEN":
        assert_forbidden(result, "revokeMandate")
    else:
        assert errors_of(result, "revokeMandate") == [(["input", "mandateId"], "NOT_FOUND")]
        assert result["data"]["revokeMandate"]["mandate"] is None
    assert await mandate_rows() == before


async def test_revoke_mandate_as_worker_of_another_organisation_with_its_own_mandate(
    actor: Any,
) -> None:
    # given: VDAB also holds a mandate for the family, so its worker reaches the dossier
    fam, _, mandate, _ = await mandated(await leuven())
    vdab = await f.referral_organisation("VDAB Leuven")
    await f.mandate(fam.household, fam.parent, vdab)
    vdab_worker = await worker_of(vdab)
    before = await mandate_rows()

    # when: it tries to end OCMW's mandate
    result = await actor(vdab_worker).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    assert errors_of(result, "revokeMandate") == [(["input", "mandateId"], "NOT_FOUND")]
    assert await mandate_rows() == before


async def test_revoke_mandate_with_malformed_id_is_not_found(actor: Any) -> None:
    fam = await family(await leuven())

    result = await actor(fam.user).gql(REVOKE, {"input": {"mandateId": "nope"}})

    assert errors_of(result, "revokeMandate") == [(["input", "mandateId"], "NOT_FOUND")]


# Household.mandates


async def test_household_mandates_as_parent_newest_first_active_and_revoked(actor: Any) -> None:
    # given
    fam = await family(await leuven())
    ocmw = await f.referral_organisation("OCMW Leuven")
    vdab = await f.referral_organisation("VDAB Leuven")
    old = await f.mandate(
        fam.household, fam.parent, ocmw, revoked_at=datetime.datetime.now(datetime.UTC)
    )
    new = await f.mandate(fam.household, fam.parent, vdab)

    # when
    result = await actor(fam.user).gql(MANDATES, {"id": str(fam.household.id)})

    # then
    assert result == {
        "data": {
            "household": {
                "mandates": [
                    {"id": str(new.id), "organisation": {"name": "VDAB Leuven"}, "active": True},
                    {"id": str(old.id), "organisation": {"name": "OCMW Leuven"}, "active": False},
                ]
            }
        }
    }


async def test_household_mandates_as_worker_shows_only_own_organisation(actor: Any) -> None:
    fam, _, mandate, worker = await mandated(await leuven())
    await f.mandate(fam.household, fam.parent, await f.referral_organisation("CAW"))

    result = await actor(worker).gql(MANDATES, {"id": str(fam.household.id)})

    assert result["data"]["household"]["mandates"] == [
        {"id": str(mandate.id), "organisation": {"name": "OCMW Leuven"}, "active": True}
    ]


async def test_household_mandates_as_admin(actor: Any) -> None:
    fam, _, mandate, _ = await mandated(await leuven())

    result = await actor(await f.user(Role.ADMIN)).gql(MANDATES, {"id": str(fam.household.id)})

    assert result["data"]["household"]["mandates"] == [
        {"id": str(mandate.id), "organisation": {"name": "OCMW Leuven"}, "active": True}
    ]


async def test_household_mandates_as_loket_is_forbidden(actor: Any) -> None:
    muni = await leuven()
    fam, _, _, _ = await mandated(muni)
    loket = await outsider("loket", muni)

    result = await actor(loket).gql(MANDATES, {"id": str(fam.household.id)})

    assert result["data"] == {"household": {"mandates": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["household", "mandates"], "FORBIDDEN")
    ]


async def test_household_mandates_as_another_parent_is_null(actor: Any) -> None:
    muni = await leuven()
    fam, _, _, _ = await mandated(muni)
    other = await outsider("parent", muni)

    result = await actor(other).gql(MANDATES, {"id": str(fam.household.id)})

    assert result == {"data": {"household": None}}


# startDossier


def applicant(**overrides: Any) -> dict[str, Any]:
    return {**f.REGISTER_INPUT["applicant"], "firstName": "Fatima", "lastName": "El Amrani",
            "email": "fatima@example.be", **overrides}  # fmt: skip


def start_input(**overrides: Any) -> dict[str, Any]:
    return {
        "input": {
            "applicant": applicant(),
            "familySituation": "SINGLE_PARENT",
            "incomeBelowThreshold": True,
            "child": {
                "firstName": "Amira",
                "lastName": "El Amrani",
                "expectedBirthDate": f.days(90).isoformat(),
            },
            "consent": {
                "method": "SIGNED_FORM",
                "givenAt": GIVEN_AT.isoformat(),
                "note": "Formulier in map 12",
            },
            **overrides,
        }
    }


async def test_start_dossier_as_worker(actor: Any) -> None:
    # given
    await leuven()
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await worker_of(ocmw)

    # when
    result = await actor(worker).gql(START, start_input())

    # then
    payload = result["data"]["startDossier"]
    assert payload["errors"] == []
    household = await Household.get()
    parent = await Parent.get()
    mandate = await Mandate.get()
    invitation = await Invitation.get()
    code = payload["claimCode"]
    assert payload["household"] == {
        "id": str(household.id),
        "viewerGrant": "ACTIVE_MANDATE",
        "familySituation": "SINGLE_PARENT",
        "incomeBelowThreshold": True,
        "parents": [
            {
                "firstName": "Fatima",
                "lastName": "El Amrani",
                "email": "fatima@example.be",
                "workSituation": "WORKING",
            }
        ],
        "children": [
            {
                "firstName": "Amira",
                "lastName": "El Amrani",
                "expectedBirthDate": f.days(90).isoformat(),
            }
        ],
        "mandates": [
            {
                "organisation": {"name": "OCMW Leuven"},
                "consentMethod": "SIGNED_FORM",
                "consentGivenAt": GIVEN_AT.isoformat(),
                "consentNote": "Formulier in map 12",
                "active": True,
            }
        ],
    }
    assert len(code) == 32
    assert payload["claimExpiresAt"] == iso(invitation.expires_at)
    expected_expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=14)
    assert abs(invitation.expires_at - expected_expiry) < datetime.timedelta(minutes=1)
    assert parent.user_id is None  # type: ignore[attr-defined]
    for table in (Parent, Household):
        assert await table.all().values_list(
            "situation_source", "situation_source_organisation_id"
        ) == [("REFERRAL_WORKER", ocmw.id)]
    assert parent.situation_recorded_at is not None
    assert household.situation_recorded_at is not None
    assert (mandate.granted_by_id, mandate.recorded_by_id, mandate.consent_method) == (  # type: ignore[attr-defined]
        parent.id,
        worker.id,
        "SIGNED_FORM",
    )
    assert (invitation.kind, invitation.parent_id, invitation.created_by_id) == (  # type: ignore[attr-defined]
        "CLAIM",
        parent.id,
        worker.id,
    )
    assert invitation.code_digest == hashlib.sha256(code.encode()).hexdigest()
    assert invitation.used_at is None


async def test_start_dossier_as_worker_with_born_child_and_parent_rrn(
    actor: Any, caplog: Any
) -> None:
    # given
    await leuven()
    worker = await worker_of(await f.referral_organisation("OCMW Leuven"))
    data = start_input(
        applicant=applicant(rrn=PARENT_RRN),
        child={
            "firstName": "Amira",
            "lastName": "El Amrani",
            "birthDate": CHILD_BIRTH.isoformat(),
            "rrn": CHILD_RRN,
        },
    )

    # when
    response = await actor(worker).http.post("/graphql", json={"query": START, "variables": data})

    # then
    assert response.json()["data"]["startDossier"]["errors"] == []
    assert await uniqueness.parent_rrn_registered(Rrn.parse(PARENT_RRN))
    child = await Child.get()
    assert child.rrn_hashes is not None
    assert PARENT_RRN not in response.text
    assert CHILD_RRN not in response.text
    assert PARENT_RRN not in caplog.text


async def test_start_dossier_as_worker_of_several_organisations(actor: Any) -> None:
    # given
    await leuven()
    ocmw = await f.referral_organisation("OCMW Leuven")
    vdab = await f.referral_organisation("VDAB Leuven")
    other = await f.referral_organisation("CAW")
    worker = await worker_of(ocmw)
    await Membership.create(user=worker, role=Role.TOELEIDER, referral_organisation=vdab)
    client = actor(worker)

    # when
    missing = await client.gql(START, start_input())
    foreign = await client.gql(START, start_input(referralOrganisationId=str(other.id)))
    chosen = await client.gql(START, start_input(referralOrganisationId=str(vdab.id)))

    # then
    assert errors_of(missing, "startDossier") == [(["input", "referralOrganisationId"], "REQUIRED")]
    assert errors_of(foreign, "startDossier") == [
        (["input", "referralOrganisationId"], "NOT_FOUND")
    ]
    assert errors_of(chosen, "startDossier") == []
    mandate = await Mandate.get()
    assert mandate.referral_organisation_id == vdab.id  # type: ignore[attr-defined]
    assert await dossier_counts() == {
        "household": 1,
        "parent": 1,
        "child": 1,
        "mandate": 1,
        "invitation": 1,
    }


FUTURE = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"consent": {"method": "ONLINE", "givenAt": GIVEN_AT.isoformat()}},
            [(["input", "consent", "method"], "INVALID_METHOD")],
        ),
        (
            {"consent": {"method": "PHONE", "givenAt": FUTURE}},
            [(["input", "consent", "givenAt"], "DATE_IN_FUTURE")],
        ),
        (
            {
                "consent": {
                    "method": "IN_PERSON",
                    "givenAt": GIVEN_AT.isoformat(),
                    "note": "x" * 501,
                }
            },
            [(["input", "consent", "note"], "TOO_LONG")],
        ),
        (
            {"applicant": applicant(email="not-an-email", postalCode="12")},
            [
                (["input", "applicant", "postalCode"], "INVALID_POSTAL_CODE"),
                (["input", "applicant", "email"], "INVALID_EMAIL"),
            ],
        ),
        (
            {"applicant": applicant(municipalityNisCode="99999")},
            [(["input", "applicant", "municipalityNisCode"], "UNKNOWN_MUNICIPALITY")],
        ),
        (
            {"applicant": applicant(rrn="12345678901")},
            [(["input", "applicant", "rrn"], "INVALID_RRN")],
        ),
        (
            {"child": {"firstName": "Amira", "lastName": "El Amrani"}},
            [(["input", "child", "birthDate"], "REQUIRED")],
        ),
    ],
    ids=[
        "online",
        "future",
        "long_note",
        "bad_contact",
        "unknown_municipality",
        "invalid_rrn",
        "no_birth_date",
    ],
)
async def test_start_dossier_as_worker_with_invalid_input_saves_nothing(
    actor: Any, overrides: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    # given
    await leuven()
    worker = await worker_of(await f.referral_organisation("OCMW Leuven"))

    # when
    result = await actor(worker).gql(START, start_input(**overrides))

    # then
    assert errors_of(result, "startDossier") == expected
    payload = result["data"]["startDossier"]
    assert (payload["household"], payload["claimCode"], payload["claimExpiresAt"]) == (
        None,
        None,
        None,
    )
    assert await dossier_counts() == dict.fromkeys(
        ("household", "parent", "child", "mandate", "invitation"), 0
    )


async def test_start_dossier_as_worker_for_a_registered_parent_is_already_registered(
    actor: Any,
) -> None:
    # given
    muni = await leuven()
    await f.household(muni, await f.user(Role.PARENT), rrn=PARENT_RRN)
    worker = await worker_of(await f.referral_organisation("OCMW Leuven"))
    before = await dossier_counts()

    # when
    result = await actor(worker).gql(START, start_input(applicant=applicant(rrn=PARENT_RRN)))

    # then
    assert errors_of(result, "startDossier") == [
        (["input", "applicant", "rrn"], "ALREADY_REGISTERED")
    ]
    assert await dossier_counts() == before


@pytest.mark.parametrize("who", [w for w in DENIED if w != "toeleider"])
async def test_start_dossier_as_non_worker_is_forbidden(actor: Any, who: str) -> None:
    # given
    muni = await leuven()
    user = await outsider(who, muni)
    before = await dossier_counts()

    # when
    result = await actor(user).gql(START, start_input())

    # then
    assert_forbidden(result, "startDossier")
    assert await dossier_counts() == before


# claimDossier


async def started(actor: Any) -> tuple[str, User, Household]:
    """A dossier a worker started; returns the claim code, the worker and the dossier."""
    await leuven()
    worker = await worker_of(await f.referral_organisation("OCMW Leuven"))
    result = await actor(worker).gql(START, start_input())
    return result["data"]["startDossier"]["claimCode"], worker, await Household.get()


async def claim_state() -> list[tuple[Any, ...]]:
    parents = [tuple(r) for r in await Parent.all().order_by("id").values_list("id", "user_id")]
    invitations = [
        tuple(r)
        for r in await Invitation.all().order_by("id").values_list("id", "used_at", "used_by_id")
    ]
    return parents + invitations


async def test_claim_dossier_as_parent(actor: Any) -> None:
    # given
    code, worker, household = await started(actor)
    claimant = await f.user(Role.PARENT)
    client = actor(claimant)

    # when
    result = await client.gql(CLAIM, {"input": {"code": code}})

    # then
    assert result["data"]["claimDossier"] == {
        "household": {"id": str(household.id), "viewerGrant": "OWN_HOUSEHOLD"},
        "errors": [],
    }
    parent = await Parent.get()
    invitation = await Invitation.get()
    assert parent.user_id == claimant.id  # type: ignore[attr-defined]
    assert invitation.used_at is not None
    assert invitation.used_by_id == claimant.id  # type: ignore[attr-defined]
    mine = await client.gql(MY_HOUSEHOLD)
    assert mine == {
        "data": {
            "myHousehold": {
                "id": str(household.id),
                "viewerGrant": "OWN_HOUSEHOLD",
                "parents": [{"firstName": "Fatima"}],
            }
        }
    }
    # the mandate stays until the parent ends it
    assert (await actor(worker).gql(HOUSEHOLD, {"id": str(household.id)}))["data"][
        "household"
    ] is not None


async def test_claim_dossier_then_revoke_mandate_as_parent(actor: Any) -> None:
    # given
    code, worker, household = await started(actor)
    claimant = await f.user(Role.PARENT)
    client = actor(claimant)
    await client.gql(CLAIM, {"input": {"code": code}})
    mandate = await Mandate.get()

    # when
    result = await client.gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    assert errors_of(result, "revokeMandate") == []
    seen = await actor(worker).gql(HOUSEHOLD, {"id": str(household.id)})
    assert seen == {"data": {"household": None}}


async def test_claim_dossier_as_parent_with_a_used_code_is_invalid(actor: Any) -> None:
    # given
    code, _, _ = await started(actor)
    await actor(await f.user(Role.PARENT)).gql(CLAIM, {"input": {"code": code}})
    before = await claim_state()

    # when
    result = await actor(await f.user(Role.PARENT)).gql(CLAIM, {"input": {"code": code}})

    # then
    assert errors_of(result, "claimDossier") == [(["input", "code"], "INVALID_CODE")]
    assert await claim_state() == before


async def test_claim_dossier_as_parent_with_a_wrong_code_is_invalid(actor: Any) -> None:
    code, _, _ = await started(actor)
    before = await claim_state()

    result = await actor(await f.user(Role.PARENT)).gql(CLAIM, {"input": {"code": code + "x"}})

    assert errors_of(result, "claimDossier") == [(["input", "code"], "INVALID_CODE")]
    assert result["data"]["claimDossier"]["household"] is None
    assert await claim_state() == before


async def test_claim_dossier_as_parent_with_an_expired_code(actor: Any) -> None:
    # given
    code, _, _ = await started(actor)
    await Invitation.all().update(
        expires_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    )
    before = await claim_state()

    # when
    result = await actor(await f.user(Role.PARENT)).gql(CLAIM, {"input": {"code": code}})

    # then
    assert errors_of(result, "claimDossier") == [(["input", "code"], "CODE_EXPIRED")]
    assert await claim_state() == before


async def test_claim_dossier_as_parent_who_already_has_a_household(actor: Any) -> None:
    # given
    code, _, _ = await started(actor)
    user = await f.user(Role.PARENT)
    await f.household(await f.municipality("24020", "Bertem"), user)
    before = await claim_state()

    # when
    result = await actor(user).gql(CLAIM, {"input": {"code": code}})

    # then
    assert errors_of(result, "claimDossier") == [(["input"], "ALREADY_REGISTERED")]
    assert await claim_state() == before


async def test_claim_dossier_concurrently_by_two_users_claims_once(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the window between reading the code and using it is widened
    code, _, _ = await started(actor)
    check = Parent.exists

    async def slow(*args: Any, **kwargs: Any) -> bool:
        found = await check(*args, **kwargs)
        await asyncio.sleep(0.2)
        return found

    monkeypatch.setattr(Parent, "exists", slow)
    first = actor(await f.user(Role.PARENT))
    second = actor(await f.user(Role.PARENT))

    # when
    results = await asyncio.gather(
        first.gql(CLAIM, {"input": {"code": code}}),
        second.gql(CLAIM, {"input": {"code": code}}),
    )

    # then
    assert sorted(errors_of(r, "claimDossier") for r in results) == [
        [],
        [(["input", "code"], "INVALID_CODE")],
    ]
    assert await Parent.filter(user_id__isnull=False).count() == 1


@pytest.mark.parametrize("who", [w for w in DENIED if w != "parent"])
async def test_claim_dossier_as_non_parent_is_forbidden(actor: Any, who: str) -> None:
    # given
    code, _, _ = await started(actor)
    user = await outsider(who, await Municipality.get(nis_code="24062"))
    before = await claim_state()

    # when
    result = await actor(user).gql(CLAIM, {"input": {"code": code}})

    # then
    assert_forbidden(result, "claimDossier")
    assert await claim_state() == before


async def test_worker_of_another_organisation_does_not_learn_who_else_helps(actor: Any) -> None:
    # given: CAW entered the family's situation and filed its request; OCMW has a mandate too
    muni = await f.municipality("24062", "Leuven")
    user = await f.user(Role.PARENT)
    h, p = await f.household(muni, user)
    caw = await f.referral_organisation("CAW Oost-Brabant")
    ocmw = await f.referral_organisation("OCMW Leuven")
    caw_mandate = await f.mandate(h, p, caw)
    await f.mandate(h, p, ocmw)
    await h.__class__.filter(id=h.id).update(
        situation_source="REFERRAL_WORKER", situation_source_organisation_id=caw.id
    )
    c = await f.child(h, born=f.days(-100))
    request = await f.care_request(c, await f.location(muni))
    await request.__class__.filter(id=request.id).update(filed_via_mandate_id=caw_mandate.id)
    query = """query($id: ID!) { household(id: $id) { situationSource { organisationName }
        requests { filedBy { kind organisationName } } } }"""

    # when
    ocmw_view = await actor(await f.user(Role.TOELEIDER, referral_organisation=ocmw)).gql(
        query, {"id": str(h.id)}
    )
    caw_view = await actor(await f.user(Role.TOELEIDER, referral_organisation=caw)).gql(
        query, {"id": str(h.id)}
    )

    # then
    assert ocmw_view["data"]["household"] == {
        "situationSource": {"organisationName": None},
        "requests": [{"filedBy": {"kind": "REFERRAL_WORKER", "organisationName": None}}],
    }
    assert caw_view["data"]["household"]["situationSource"] == {
        "organisationName": "CAW Oost-Brabant"
    }
