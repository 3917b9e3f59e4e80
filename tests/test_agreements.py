"""Agreements as conditions of access: a membership gives its role only while the
processing agreement of its organisation (and, for admins and sick-child service staff,
their own confidentiality agreement) is in force today; admins record, end and list them."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from tortoise import connections

from loket import demo
from loket.db import fetch
from models.accounts import Membership, Role, User
from models.privacy import Agreement, AgreementKind
from models.providers import ProviderLocation
from permissions.viewer import load_viewer
from resolvers import agreements as agreement_resolvers
from tests import factories as f
from tests import world as world_module
from tests.assertions import assert_forbidden

DOSSIERS = "{ dossiers(first: 50) { edges { node { id viewerGrant } } } }"
ME = "{ me { role roles locations { id } } }"

RECORD = """mutation($i: RecordAgreementInput!) { recordAgreement(input: $i) {
    agreement { id kind version signedOn endsOn inForce daysToEnd recordedBy
                party { kind id name } }
    errors { field code } } }"""
END = """mutation($i: EndAgreementInput!) { endAgreement(input: $i) {
    agreement { id endsOn inForce daysToEnd } errors { field code } } }"""
AGREEMENTS = """query($days: Int, $inForce: Boolean, $first: Int!, $after: String,
    $org: ID, $user: ID) {
  agreements(expiringWithinDays: $days, inForce: $inForce, first: $first, after: $after,
             providerOrganisationId: $org, userId: $user) {
    edges { cursor node { id kind version endsOn inForce daysToEnd party { kind id name } } }
    pageInfo { hasNextPage endCursor } } }"""
WITHOUT = """{ partiesWithoutAgreement { party { kind id name } needs memberships lastEndedOn
    nextSignedOn } }"""


async def db_today() -> datetime.date:
    """Today as the database sees it (`current_date` decides what is in force)."""
    rows = await fetch("SELECT current_date AS today")
    today: datetime.date = rows[0]["today"]
    return today


def day(today: datetime.date, offset: int) -> str:
    return (today + datetime.timedelta(days=offset)).isoformat()


def grants(result: dict[str, Any]) -> dict[str, str]:
    assert "errors" not in result, result
    return {e["node"]["id"]: e["node"]["viewerGrant"] for e in result["data"]["dossiers"]["edges"]}


def assert_agreement_missing(result: dict[str, Any], field: str) -> None:
    """Denied because no role of the viewer has its agreement in force: FORBIDDEN, with
    the reason AGREEMENT_MISSING."""
    assert_forbidden(result, field)
    assert result["errors"][0]["extensions"]["reason"] == "AGREEMENT_MISSING", result


# --- every role, with the world of tests.world ---------------------------------------


async def _needed(user: User) -> list[dict[str, Any]]:
    """The parties whose agreements the user's one membership needs (written out here by
    hand: the organisation it acts for, and the user for admins and sick-child staff)."""
    m: Any = await Membership.get(user_id=user.id)
    parties: list[dict[str, Any]] = []
    if m.provider_location_id is not None:
        loc: Any = await ProviderLocation.get(id=m.provider_location_id)
        parties.append({"provider_organisation_id": loc.organisation_id})
    for column in (
        "provider_organisation_id",
        "referral_organisation_id",
        "sick_child_service_id",
        "counter_id",
    ):
        if getattr(m, column) is not None:
            parties.append({column: getattr(m, column)})
    if m.role in (Role.ADMIN, Role.SICK_CHILD_SERVICE):
        parties.append({"user_id": user.id})
    return parties


STAFF = [
    "toeleider",
    "admin",
    "loket",
    "provider_in",
    "sick_child",
    "integrator_provider",
    "integrator_loket",
]


def _expected(w: world_module.World, actor: str) -> dict[str, str]:
    return {
        str(w.households[key].id): grant.value
        for key, row in world_module.EXPECTED.items()
        if (grant := row.get(actor)) is not None
    }


@pytest.mark.parametrize("who", STAFF)
async def test_staff_reach_dossiers_only_while_their_agreement_is_in_force(
    actor: Callable[..., Any], who: str
) -> None:
    # given the world, where every organisation and person has its agreements
    w = await world_module.build()
    client = actor(w.users[who])
    today = await db_today()
    assert grants(await client.gql(DOSSIERS)) == _expected(w, who)

    # when each agreement the membership needs ended yesterday, one at a time
    for party in await _needed(w.users[who]):
        await Agreement.filter(**party).update(ends_on=today - datetime.timedelta(days=1))

        # then the very next request reaches nothing, and says why (a machine client is
        # refused whole)
        response = await client.post_gql(DOSSIERS)
        if who.startswith("integrator"):
            assert_client_refused(response)
        else:
            assert response.status_code == 200, response.text
            assert_agreement_missing(response.json(), "dossiers")

        # and a new agreement gives the access back at once
        kind = AgreementKind.CONFIDENTIALITY if "user_id" in party else AgreementKind.PROCESSING
        await f.agreement(kind, signed_on=today, version="renewed", **party)
        assert grants(await client.gql(DOSSIERS)) == _expected(w, who)


async def test_parent_needs_no_agreement(actor: Callable[..., Any]) -> None:
    # given the world with every agreement ended yesterday
    w = await world_module.build()
    today = await db_today()
    await Agreement.all().update(ends_on=today - datetime.timedelta(days=1))

    # when the parent lists their dossiers
    result = await actor(w.users["parent"]).gql(DOSSIERS)

    # then they still reach their own
    assert grants(result) == {str(w.households["own"].id): "OWN_HOUSEHOLD"}


# --- the day an agreement starts and ends --------------------------------------------


@pytest.mark.parametrize(
    ("signed", "ends", "allowed"),
    [
        (-30, 0, True),  # ends today: still in force
        (-30, -1, False),  # ended yesterday
        (0, None, True),  # signed today
        (1, None, False),  # not signed yet (tomorrow)
        (-30, 30, True),
    ],
    ids=["ends-today", "ended-yesterday", "signed-today", "signed-tomorrow", "in-force"],
)
async def test_provider_access_follows_the_days_of_the_processing_agreement(
    actor: Callable[..., Any], signed: int, ends: int | None, allowed: bool
) -> None:
    # given provider staff whose organisation's only agreement runs over these days
    today = await db_today()
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni, agreement=False)
    h, _ = await f.household(muni)
    await f.care_request(await f.child(h, expected=f.days(90)), loc)
    await f.agreement(
        signed_on=today + datetime.timedelta(days=signed),
        ends_on=None if ends is None else today + datetime.timedelta(days=ends),
        provider_organisation_id=loc.organisation_id,  # type: ignore[attr-defined]
    )
    staff = await f.user(Role.PROVIDER, provider_location=loc, agreement=False)

    # when they list their dossiers
    result = await actor(staff).gql(DOSSIERS)

    # then
    if allowed:
        assert grants(result) == {str(h.id): "PROVIDER_SELECTED"}
    else:
        assert_agreement_missing(result, "dossiers")


@pytest.mark.parametrize(
    ("signed", "ends", "allowed"),
    [(-30, 0, True), (-30, -1, False), (1, None, False), (-30, None, True)],
    ids=["ends-today", "ended-yesterday", "signed-tomorrow", "open-ended"],
)
async def test_admin_access_follows_the_days_of_the_confidentiality_agreement(
    actor: Callable[..., Any], signed: int, ends: int | None, allowed: bool
) -> None:
    # given an admin whose only confidentiality agreement runs over these days
    today = await db_today()
    muni = await f.municipality("24062", "Leuven")
    h, _ = await f.household(muni)
    admin = await f.user(Role.ADMIN, agreement=False)
    await f.confidentiality(
        admin,
        signed_on=today + datetime.timedelta(days=signed),
        ends_on=None if ends is None else today + datetime.timedelta(days=ends),
    )

    # when they list dossiers
    result = await actor(admin).gql(DOSSIERS)

    # then
    if allowed:
        assert grants(result) == {str(h.id): "ADMIN"}
    else:
        assert_agreement_missing(result, "dossiers")


async def test_processing_agreement_of_another_kind_or_party_does_not_count(
    actor: Callable[..., Any],
) -> None:
    # given provider staff whose organisation has no agreement, while another
    # organisation has one, and the staff member signed a confidentiality agreement
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni, agreement=False)
    await f.location(muni)
    staff = await f.user(Role.PROVIDER, provider_location=loc, agreement=False)
    await f.confidentiality(staff)

    # when they ask who they are
    result = await actor(staff).gql(ME)

    # then the role is not available
    assert_agreement_missing(result, "me")


# --- sick-child service staff need both agreements ------------------------------------

SERVICE_CHILDREN = "{ serviceChildren { edges { node { firstName } } } }"


@pytest.mark.parametrize(
    ("processing", "confidentiality", "allowed"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
    ids=["both", "no-confidentiality", "no-processing", "neither"],
)
async def test_sick_child_staff_need_the_service_agreement_and_their_own(
    actor: Callable[..., Any], processing: bool, confidentiality: bool, allowed: bool
) -> None:
    # given a child who used the service, and a staff member of it
    muni = await f.municipality("24062", "Leuven")
    service = await f.sick_child_service(agreement=processing)
    h, _ = await f.household(muni)
    await f.service_record(service, await f.child(h, born=f.days(-400), first_name="Lena"))
    staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service, agreement=False)
    if confidentiality:
        await f.confidentiality(staff)

    # when they look for the children who used the service
    result = await actor(staff).gql(SERVICE_CHILDREN)

    # then
    if allowed:
        assert result["data"]["serviceChildren"]["edges"] == [{"node": {"firstName": "Lena"}}]
    else:
        assert_agreement_missing(result, "serviceChildren")


# --- integrators ---------------------------------------------------------------------


async def test_integrator_of_an_organisation_without_agreement_is_denied(
    actor: Callable[..., Any],
) -> None:
    # given integrators of an organisation without agreement and of one with
    muni = await f.municipality("24062", "Leuven")
    without = await f.location(muni, agreement=False)
    with_agreement = await f.location(muni)
    for loc in (without, with_agreement):
        h, _ = await f.household(muni)
        await f.care_request(await f.child(h, expected=f.days(90)), loc)
    denied = await f.user(
        Role.INTEGRATOR, provider_organisation=await without.organisation, agreement=False
    )
    allowed = await f.user(Role.INTEGRATOR, provider_organisation=await with_agreement.organisation)

    # when both list their dossiers
    denied_response = await actor(denied).post_gql(DOSSIERS)
    allowed_result = await actor(allowed).gql(DOSSIERS)

    # then only the one whose organisation has an agreement reaches its dossier; the
    # other is refused whole (403), not served as an anonymous caller
    assert_client_refused(denied_response)
    assert list(grants(allowed_result).values()) == ["PROVIDER_SELECTED"]


async def test_integrator_of_a_counter_without_agreement_is_denied(
    actor: Callable[..., Any],
) -> None:
    muni = await f.municipality("24062", "Leuven")
    counter = await f.counter("Loket", muni, agreement=False)
    integrator = await f.user(Role.INTEGRATOR, counter=counter, agreement=False)

    response = await actor(integrator).post_gql(DOSSIERS)

    assert_client_refused(response)


async def test_integrator_without_agreement_cannot_even_read_public_data(
    actor: Callable[..., Any],
) -> None:
    """Falling back to an anonymous caller's view would also escape the rule that
    integrators run only registered operations."""
    muni = await f.municipality("24062", "Leuven")
    counter = await f.counter("Loket", muni, agreement=False)
    integrator = await f.user(Role.INTEGRATOR, counter=counter, agreement=False)

    response = await actor(integrator).post_gql("{ __typename }")

    assert_client_refused(response)


def assert_client_refused(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "AGREEMENT_MISSING"
    assert "data" not in response.json()


# --- a membership without agreement is absent ----------------------------------------


async def test_membership_of_an_organisation_without_agreement_gives_nothing_beside_another(
    actor: Callable[..., Any],
) -> None:
    # given provider staff of two locations, one of an organisation without agreement
    muni = await f.municipality("24062", "Leuven")
    covered = await f.location(muni)
    uncovered = await f.location(muni, agreement=False)
    for loc in (covered, uncovered):
        h, _ = await f.household(muni)
        await f.care_request(await f.child(h, expected=f.days(90)), loc)
    staff = await f.user(Role.PROVIDER, provider_location=covered)
    await Membership.create(user=staff, role=Role.PROVIDER, provider_location=uncovered)

    # when they ask who they are and which dossiers they reach
    me = await actor(staff).gql(ME)
    dossiers = await actor(staff).gql(DOSSIERS)

    # then only the covered location counts
    assert me["data"]["me"] == {
        "role": "PROVIDER",
        "roles": ["PROVIDER"],
        "locations": [{"id": str(covered.id)}],
    }
    assert len(grants(dossiers)) == 1


async def test_naming_a_role_whose_agreement_is_missing_gets_403_agreement_missing(
    actor: Callable[..., Any],
) -> None:
    # given a parent who is also provider staff of an organisation without agreement
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni, agreement=False)
    user = await f.user(Role.PARENT)
    await Membership.create(user=user, role=Role.PROVIDER, provider_location=loc)

    # when they ask to act as provider
    response = await actor(user, "PROVIDER").post_gql(ME)

    # then the request is refused, saying why
    assert response.status_code == 403
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AGREEMENT_MISSING"]

    # and without naming a role they act as the parent they are (no ROLE_REQUIRED)
    me = await actor(user).gql(ME)
    assert me["data"]["me"] == {"role": "PARENT", "roles": ["PARENT"], "locations": []}


async def test_viewer_with_agreements_is_still_one_statement(
    count_statements: Any, db: str
) -> None:
    # given sick-child service staff (the role that needs two agreements)
    service = await f.sick_child_service()
    staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)
    count_statements.statements.clear()

    # when the viewer is loaded
    async with connections.get("default").acquire_connection() as conn:
        viewer = await load_viewer(conn, staff.id, None)

    # then in one statement
    assert viewer is not None
    assert viewer.role is Role.SICK_CHILD_SERVICE
    assert len(count_statements) == 1


# --- the admin API -------------------------------------------------------------------


async def test_record_agreement_as_admin_gives_the_organisations_staff_access_at_once(
    actor: Callable[..., Any],
) -> None:
    # given provider staff of an organisation without agreement
    today = await db_today()
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni, agreement=False)
    h, _ = await f.household(muni)
    await f.care_request(await f.child(h, expected=f.days(90)), loc)
    staff = await f.user(Role.PROVIDER, provider_location=loc, agreement=False)
    admin = await f.user(Role.ADMIN, email="beheerder@example.test")
    org_id = str(loc.organisation_id)  # type: ignore[attr-defined]
    assert_agreement_missing(await actor(staff).gql(DOSSIERS), "dossiers")

    # when the admin records the organisation's processing agreement
    result = await actor(admin).gql(
        RECORD,
        {
            "i": {
                "kind": "PROCESSING",
                "providerOrganisationId": org_id,
                "version": " 2026-1 ",
                "signedOn": day(today, 0),
                "endsOn": day(today, 365),
            }
        },
    )

    # then it is recorded, in force, and the staff reach their dossier on the next request
    payload = result["data"]["recordAgreement"]
    assert payload["errors"] == []
    agreement = payload["agreement"]
    organisation = await loc.organisation
    assert {k: v for k, v in agreement.items() if k != "id"} == {
        "kind": "PROCESSING",
        "version": "2026-1",
        "signedOn": day(today, 0),
        "endsOn": day(today, 365),
        "inForce": True,
        "daysToEnd": 365,
        "recordedBy": "beheerder@example.test",
        "party": {"kind": "PROVIDER_ORGANISATION", "id": org_id, "name": organisation.name},
    }
    assert grants(await actor(staff).gql(DOSSIERS)) == {str(h.id): "PROVIDER_SELECTED"}


async def test_record_confidentiality_agreement_for_sick_child_staff(
    actor: Callable[..., Any],
) -> None:
    today = await db_today()
    service = await f.sick_child_service()
    staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service, agreement=False)
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(
        RECORD,
        {
            "i": {
                "kind": "CONFIDENTIALITY",
                "userId": str(staff.id),
                "version": "vzw-2026",
                "signedOn": day(today, -3),
            }
        },
    )

    payload = result["data"]["recordAgreement"]
    assert payload["errors"] == []
    assert payload["agreement"]["party"] == {
        "kind": "USER",
        "id": str(staff.id),
        "name": "Test user",
    }
    assert payload["agreement"]["daysToEnd"] is None
    assert "errors" not in await actor(staff).gql(SERVICE_CHILDREN)


NOWHERE = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        ({"kind": "PROCESSING"}, [(["input"], "EXACTLY_ONE_PARTY")]),
        (
            {"kind": "PROCESSING", "providerOrganisationId": "ORG", "counterId": "COUNTER"},
            [(["input"], "EXACTLY_ONE_PARTY")],
        ),
        ({"kind": "PROCESSING", "userId": "USER"}, [(["input", "userId"], "WRONG_PARTY")]),
        (
            {"kind": "CONFIDENTIALITY", "counterId": "COUNTER"},
            [(["input", "counterId"], "WRONG_PARTY")],
        ),
        (
            {"kind": "PROCESSING", "providerOrganisationId": NOWHERE},
            [(["input", "providerOrganisationId"], "NOT_FOUND")],
        ),
        ({"kind": "PROCESSING", "counterId": "x1"}, [(["input", "counterId"], "NOT_FOUND")]),
        (
            {"kind": "PROCESSING", "counterId": "COUNTER", "version": "  "},
            [(["input", "version"], "REQUIRED")],
        ),
        (
            {"kind": "PROCESSING", "counterId": "COUNTER", "version": "v" * 41},
            [(["input", "version"], "TOO_LONG")],
        ),
        (
            {"kind": "PROCESSING", "counterId": "COUNTER", "endsOn": "2020-01-01"},
            [(["input", "endsOn"], "ENDS_BEFORE_SIGNED")],
        ),
        (
            {"kind": "PROCESSING", "counterId": "COUNTER", "version": "test-1"},
            [(["input", "version"], "ALREADY_RECORDED")],
        ),
        (
            {"kind": "PROCESSING", "counterId": "COUNTER", "signedOn": "0001-01-01"},
            [(["input", "signedOn"], "OUT_OF_RANGE")],
        ),
        (
            {"kind": "PROCESSING", "counterId": "COUNTER", "version": "\u0000"},
            [(["input", "version"], "REQUIRED")],
        ),
    ],
    ids=[
        "no-party",
        "two-parties",
        "processing-with-person",
        "confidentiality-with-organisation",
        "unknown-organisation",
        "malformed-counter",
        "blank-version",
        "long-version",
        "ends-before-signed",
        "already-recorded",
        "year-one",
        "only-a-nul-character",
    ],
)
async def test_record_agreement_with_bad_input_changes_nothing(
    actor: Callable[..., Any], given: dict[str, Any], errors: list[tuple[list[str], str]]
) -> None:
    # given an admin, an organisation, a counter (with the factory's agreement)
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni)
    counter = await f.counter("Loket", muni)
    admin = await f.user(Role.ADMIN)
    ids = {
        "ORG": str(loc.organisation_id),  # type: ignore[attr-defined]
        "COUNTER": str(counter.id),
        "USER": str(admin.id),
    }
    signed = (await Agreement.get(counter_id=counter.id)).signed_on.isoformat()
    value = {"version": "v2", "signedOn": signed, **given}
    value = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in value.items()}
    before = await Agreement.all().count()

    # when they record it
    result = await actor(admin).gql(RECORD, {"i": value})

    # then nothing is saved, and the errors name the input
    payload = result["data"]["recordAgreement"]
    assert payload["agreement"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == errors
    assert await Agreement.all().count() == before


async def test_end_agreement_yesterday_removes_access_at_once(actor: Callable[..., Any]) -> None:
    # given a counter's staff, reaching a dossier in its region
    today = await db_today()
    muni = await f.municipality("24062", "Leuven")
    counter = await f.counter("Loket", muni)
    await f.household(muni)
    staff = await f.user(Role.LOKET, counter=counter)
    admin = await f.user(Role.ADMIN)
    agreement = await Agreement.get(counter_id=counter.id)
    assert len(grants(await actor(staff).gql(DOSSIERS))) == 1

    # when the admin ends the counter's agreement yesterday
    result = await actor(admin).gql(
        END, {"i": {"agreementId": str(agreement.id), "endsOn": day(today, -1)}}
    )

    # then it is ended, and the staff's next request reaches nothing
    assert result["data"]["endAgreement"] == {
        "agreement": {
            "id": str(agreement.id),
            "endsOn": day(today, -1),
            "inForce": False,
            "daysToEnd": -1,
        },
        "errors": [],
    }
    assert_agreement_missing(await actor(staff).gql(DOSSIERS), "dossiers")


@pytest.mark.parametrize(
    ("agreement_id", "ends", "code"),
    [
        ("nope", 0, (["input", "agreementId"], "NOT_FOUND")),
        (NOWHERE, 0, (["input", "agreementId"], "NOT_FOUND")),
        ("AGREEMENT", 31, (["input", "endsOn"], "ENDS_EARLIER")),
        ("AGREEMENT", -12, (["input", "endsOn"], "ENDS_BEFORE_SIGNED")),
    ],
    ids=["malformed", "unknown", "later-than-its-end", "before-signed"],
)
async def test_end_agreement_with_bad_input_changes_nothing(
    actor: Callable[..., Any], agreement_id: str, ends: int, code: tuple[list[str], str]
) -> None:
    today = await db_today()
    counter = await f.counter("Loket", agreement=False)
    made = await f.agreement(
        counter_id=counter.id,
        signed_on=today - datetime.timedelta(days=10),
        ends_on=today + datetime.timedelta(days=30),
    )
    admin = await f.user(Role.ADMIN)
    target = str(made.id) if agreement_id == "AGREEMENT" else agreement_id

    result = await actor(admin).gql(END, {"i": {"agreementId": target, "endsOn": day(today, ends)}})

    payload = result["data"]["endAgreement"]
    assert payload["agreement"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [code]
    assert (await Agreement.get(id=made.id)).ends_on == today + datetime.timedelta(days=30)


async def test_end_agreement_the_day_before_it_was_signed_voids_it(
    actor: Callable[..., Any],
) -> None:
    today = await db_today()
    counter = await f.counter("Loket", agreement=False)
    made = await f.agreement(counter_id=counter.id, signed_on=today)
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(
        END, {"i": {"agreementId": str(made.id), "endsOn": day(today, -1)}}
    )

    assert result["data"]["endAgreement"]["errors"] == []
    assert result["data"]["endAgreement"]["agreement"]["inForce"] is False


async def test_agreements_expiring_soon_as_admin(actor: Callable[..., Any]) -> None:
    # given agreements ending at different times
    today = await db_today()
    admin = await f.user(Role.ADMIN)  # confidentiality agreement: open-ended
    names = ["Ends today", "Ends in 10", "Ends in 60", "Ends in 61", "Ended", "Later"]
    orgs = {n: await f.organisation(n, agreement=False) for n in names}
    for name, signed, ends in [
        ("Ends today", -100, 0),
        ("Ends in 10", -100, 10),
        ("Ends in 60", -100, 60),
        ("Ends in 61", -100, 61),
        ("Ended", -100, -1),
        ("Later", 5, 20),  # not in force yet
    ]:
        await f.agreement(
            provider_organisation=orgs[name],
            signed_on=today + datetime.timedelta(days=signed),
            ends_on=today + datetime.timedelta(days=ends),
        )

    # when the admin lists those expiring within 60 days
    result = await actor(admin).gql(AGREEMENTS, {"days": 60, "first": 50})

    # then the ones in force ending within 60 days, the soonest first
    edges = result["data"]["agreements"]["edges"]
    assert [(e["node"]["party"]["name"], e["node"]["daysToEnd"]) for e in edges] == [
        ("Ends today", 0),
        ("Ends in 10", 10),
        ("Ends in 60", 60),
    ]
    assert {e["node"]["inForce"] for e in edges} == {True}
    assert edges[0]["node"]["party"] == {
        "kind": "PROVIDER_ORGANISATION",
        "id": str(orgs["Ends today"].id),
        "name": "Ends today",
    }

    # and all of them, page by page: ended first, open-ended last
    seen: list[tuple[str, bool]] = []
    after = None
    while True:
        page = await actor(admin).gql(AGREEMENTS, {"first": 2, "after": after})
        connection = page["data"]["agreements"]
        seen += [(e["node"]["party"]["name"], e["node"]["inForce"]) for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [
        ("Ended", False),
        ("Ends today", True),
        ("Ends in 10", True),
        ("Later", False),
        ("Ends in 60", True),
        ("Ends in 61", True),
        ("Test user", True),
    ]

    # and filtered by party and state
    mine = await actor(admin).gql(AGREEMENTS, {"first": 5, "user": str(admin.id)})
    assert [e["node"]["kind"] for e in mine["data"]["agreements"]["edges"]] == ["CONFIDENTIALITY"]
    not_in_force = await actor(admin).gql(AGREEMENTS, {"first": 50, "inForce": False})
    assert [e["node"]["party"]["name"] for e in not_in_force["data"]["agreements"]["edges"]] == [
        "Ended",
        "Later",
    ]
    one = await actor(admin).gql(AGREEMENTS, {"first": 5, "org": str(orgs["Later"].id)})
    assert len(one["data"]["agreements"]["edges"]) == 1


async def test_agreements_expiring_within_a_negative_number_of_days_is_out_of_range(
    actor: Callable[..., Any],
) -> None:
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(AGREEMENTS, {"days": -1, "first": 5})

    assert result["data"] == {"agreements": None}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["OUT_OF_RANGE"]


async def test_parties_without_agreement_as_admin(actor: Callable[..., Any]) -> None:
    # given organisations and people with memberships, some without agreement in force
    today = await db_today()
    muni = await f.municipality("24062", "Leuven")
    covered = await f.location(muni, name="Gedekt")
    lapsed_org = await f.organisation("Verlopen", agreement=False)
    await f.agreement(
        provider_organisation=lapsed_org,
        signed_on=today - datetime.timedelta(days=400),
        ends_on=today - datetime.timedelta(days=3),
    )
    lapsed = await f.location(muni, organisation=lapsed_org)
    await f.user(Role.PROVIDER, provider_location=covered)
    await f.user(Role.PROVIDER, provider_location=lapsed, agreement=False)
    await f.user(Role.INTEGRATOR, provider_organisation=lapsed_org, agreement=False)
    future_service = await f.sick_child_service("Later", agreement=False)
    await f.agreement(
        sick_child_service=future_service, signed_on=today + datetime.timedelta(days=7)
    )
    staff = await f.user(
        Role.SICK_CHILD_SERVICE, sick_child_service=future_service, agreement=False
    )
    await f.confidentiality(staff)
    new_admin = await User.create(email="nieuw@example.test", display_name="Nieuwe beheerder")
    await Membership.create(user=new_admin, role=Role.ADMIN)
    unused = await f.referral_organisation("Zonder medewerkers", agreement=False)
    gone = await f.user(
        Role.TOELEIDER, referral_organisation=await f.referral_organisation("Weg", agreement=False)
    )
    await Membership.filter(user_id=gone.id).update(revoked_at=datetime.datetime.now(datetime.UTC))
    admin = await f.user(Role.ADMIN)

    # when the admin asks who lacks an agreement
    result = await actor(admin).gql(WITHOUT)

    # then the organisations and people whose memberships give no access, by kind and name
    assert result["data"]["partiesWithoutAgreement"] == [
        {
            "party": {
                "kind": "PROVIDER_ORGANISATION",
                "id": str(lapsed_org.id),
                "name": "Verlopen",
            },
            "needs": "PROCESSING",
            "memberships": 2,
            "lastEndedOn": day(today, -3),
            "nextSignedOn": None,
        },
        {
            "party": {"kind": "SICK_CHILD_SERVICE", "id": str(future_service.id), "name": "Later"},
            "needs": "PROCESSING",
            "memberships": 1,
            "lastEndedOn": None,
            "nextSignedOn": day(today, 7),
        },
        {
            "party": {"kind": "USER", "id": str(new_admin.id), "name": "Nieuwe beheerder"},
            "needs": "CONFIDENTIALITY",
            "memberships": 1,
            "lastEndedOn": None,
            "nextSignedOn": None,
        },
    ]
    assert str(unused.id) not in str(result)


def _admin_operations(counter_id: Any, agreement_id: Any) -> list[Any]:
    record = {"kind": "PROCESSING", "counterId": str(counter_id), "version": "x"}
    return [
        (AGREEMENTS, {"days": 60, "first": 5}, "agreements"),
        (WITHOUT, {}, "partiesWithoutAgreement"),
        (RECORD, {"i": {**record, "signedOn": "2026-01-01"}}, "recordAgreement"),
        (END, {"i": {"agreementId": str(agreement_id), "endsOn": "2000-01-01"}}, "endAgreement"),
    ]


@pytest.mark.parametrize(
    "who", ["parent", "toeleider", "loket", "provider_in", "sick_child", "integrator_provider"]
)
@pytest.mark.parametrize("operation", range(4), ids=[o[2] for o in _admin_operations(0, 0)])
async def test_agreement_api_is_forbidden_to_everyone_but_admins(
    actor: Callable[..., Any], who: str, operation: int
) -> None:
    # given the world, and the agreement of its counter
    w = await world_module.build()
    counter: Any = await Membership.get(user_id=w.users["loket"].id)
    agreement = await Agreement.get(counter_id=counter.counter_id)
    query, variables, field = _admin_operations(counter.counter_id, agreement.id)[operation]
    before = await _agreement_rows()

    # when someone other than an admin uses the admin API
    result = await actor(w.users[who]).gql(query, variables)

    # then it is forbidden, and nothing changed
    assert_forbidden(result, field)
    assert await _agreement_rows() == before


async def test_admin_without_confidentiality_agreement_cannot_record_one(
    actor: Callable[..., Any],
) -> None:
    # given an admin without a confidentiality agreement
    today = await db_today()
    admin = await f.user(Role.ADMIN, agreement=False)

    # when they try to record their own
    result = await actor(admin).gql(
        RECORD,
        {
            "i": {
                "kind": "CONFIDENTIALITY",
                "userId": str(admin.id),
                "version": "x",
                "signedOn": day(today, 0),
            }
        },
    )

    # then it is forbidden, with the reason, and nothing is saved
    assert_agreement_missing(result, "recordAgreement")
    assert await Agreement.all().count() == 0


async def _agreement_rows() -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await fetch("SELECT id, version, signed_on, ends_on FROM agreement ORDER BY id")
    ]


# --- the command line (bootstrapping the first admin) --------------------------------


def _args(**kw: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "kind": "confidentiality",
        "user": None,
        "provider_organisation": None,
        "referral_organisation": None,
        "sick_child_service": None,
        "counter": None,
        "version": "2026-1",
        "signed_on": None,
        "ends_on": None,
    }
    return argparse.Namespace(**{**values, **kw})


async def test_record_command_bootstraps_the_first_admin(
    actor: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # given the first admin, without a confidentiality agreement
    admin = await f.user(Role.ADMIN, email="eerste@example.test", agreement=False)
    assert_agreement_missing(await actor(admin).gql(WITHOUT), "partiesWithoutAgreement")

    # when the operator records it from the command line, naming the admin by email
    code = await agreement_resolvers.record_command(_args(user="EERSTE@example.test"))

    # then it is recorded (by no one) and the admin can act
    assert code == 0
    out = capsys.readouterr().out
    assert "CONFIDENTIALITY" in out
    assert "in force" in out
    recorded = await Agreement.get(user_id=admin.id)
    assert (recorded.version, recorded.recorded_by_id) == ("2026-1", None)  # type: ignore[attr-defined]
    assert (await actor(admin).gql(WITHOUT))["data"] == {"partiesWithoutAgreement": []}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"user": "nobody@example.test"}, "NOT_FOUND: input.userId"),
        ({"signed_on": "gisteren", "user": "x"}, "--signed-on: not a date"),
        ({"kind": "secret", "user": "x"}, "kind: PROCESSING or CONFIDENTIALITY"),
        ({"kind": "processing", "counter": "12", "user": None}, "NOT_FOUND: input.counterId"),
    ],
)
async def test_record_command_with_bad_input_fails(
    db: str, capsys: pytest.CaptureFixture[str], kw: dict[str, Any], message: str
) -> None:
    code = await agreement_resolvers.record_command(_args(**kw))

    assert code == 1
    assert message in capsys.readouterr().err
    assert await Agreement.all().count() == 0


async def test_list_command_shows_expiring_agreements_and_parties_without(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    today = await db_today()
    org = await f.organisation("Bijna op", agreement=False)
    await f.agreement(provider_organisation=org, ends_on=today + datetime.timedelta(days=5))
    await User.create(email="b@example.test", display_name="Beheerder zonder")
    await Membership.create(user=await User.get(email="b@example.test"), role=Role.ADMIN)

    code = await agreement_resolvers.list_command(argparse.Namespace(expiring_within=30))

    assert code == 0
    out = capsys.readouterr().out
    assert "Bijna op" in out
    assert "USER" in out
    assert "Beheerder zonder" in out


# --- the demo ------------------------------------------------------------------------


async def test_demo_has_every_agreement_its_staff_need_and_one_expiring(
    actor: Callable[..., Any],
) -> None:
    # given the demo data set
    await demo.load_demo()
    admin = await User.get(email=demo.ADMIN_EMAIL)

    # when the admin asks who lacks an agreement and what expires soon
    without = await actor(admin).gql(WITHOUT)
    expiring = await actor(admin).gql(AGREEMENTS, {"days": 60, "first": 10})

    # then no one lacks one, and the Mechelen organisation's expires within 60 days
    assert without["data"] == {"partiesWithoutAgreement": []}
    names = [e["node"]["party"]["name"] for e in expiring["data"]["agreements"]["edges"]]
    assert names == [demo.ORGANISATIONS["maneblusser"]]


async def test_demo_loaded_before_agreements_gets_them_on_the_next_load(db: str) -> None:
    # given a demo database from before agreements conditioned access
    await demo.load_demo()
    count = await Agreement.all().count()
    await Agreement.all().delete()

    # when the demo is loaded again
    assert await demo.load_demo() is False

    # then the agreements are back, once
    assert await Agreement.all().count() == count
    assert await demo.load_demo() is False
    assert await Agreement.all().count() == count


async def test_agreements_with_a_forged_cursor_is_a_clear_error(actor: Callable[..., Any]) -> None:
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).post_gql(AGREEMENTS, {"first": 5, "after": "bm90LWEtY3Vyc29y"})

    body = result.json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    assert body["data"] is None or body["data"]["agreements"] is None
