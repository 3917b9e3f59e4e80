"""Transparency for the family: who saw their data (the access log of their own dossier),
the legal disclosure register with its secrecy, and the consent and mandate history."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from models.access_log import AccessLogEntry
from models.accounts import Membership, Role, User
from models.households import Household, Mandate, Parent
from models.privacy import Disclosure
from models.providers import ProviderOrganisation
from tests import factories as f
from tests.assertions import assert_forbidden

ENTRY = "at role organisationName grant fields operationName outcome"
MY_LOG = f"""
query MyLog($first: Int!, $after: String) {{
  myHousehold {{
    accessLog(first: $first, after: $after) {{
      edges {{ cursor node {{ {ENTRY} disclosure {{ authority }} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""
MY_DISCLOSURES = """{ myHousehold { disclosures { authority legalBasis dataDisclosed
    disclosedOn } } }"""
# A real read of the dossier's personal data, as staff make them.
READ = """query ReadDossier($id: ID!) {
  household(id: $id) { parents { firstName phone } children { firstName } }
}"""
FOR_POLICE = """query ForPolice($id: ID!) { household(id: $id) { parents { firstName street } } }"""
THEIR_LOG = f"""query($id: ID!) {{
  household(id: $id) {{ id accessLog {{ edges {{ node {{ {ENTRY} }} }} }}
    disclosures {{ authority }} }}
}}"""
HAS_OPEN = "query Check($child: ID!) { hasOpenRequest(childId: $child) }"
DISCLOSURE = "id authority legalBasis dataDisclosed disclosedOn secret reads { id fields }"
ERRORS = "errors { field code message }"
RECORD = f"""
mutation($input: RecordDisclosureInput!) {{
  recordDisclosure(input: $input) {{ disclosure {{ {DISCLOSURE} }} {ERRORS} }}
}}"""
UPDATE = f"""
mutation($input: UpdateDisclosureInput!) {{
  updateDisclosure(input: $input) {{ disclosure {{ {DISCLOSURE} }} {ERRORS} }}
}}"""
REGISTER = f"query($id: ID!) {{ disclosures(householdId: $id) {{ {DISCLOSURE} }} }}"
DISCLOSABLE = """query($id: ID!) { disclosableReads(householdId: $id) {
    edges { node { id at fields operationName } } } }"""


@dataclass
class Family:
    muni: Any
    location: Any
    household: Household
    applicant: Parent
    child: Any
    parent: User
    partner: User
    provider: User
    other_parent: User
    other_household: Household


async def family() -> Family:
    """A two-parent dossier with a request at De Bolleboos, its provider, and another
    family elsewhere."""
    leuven = await f.municipality("24062", "Leuven")
    organisation = await ProviderOrganisation.create(name="Bolleboos vzw")
    location = await f.location(leuven, "Kinderdagverblijf De Bolleboos", organisation=organisation)
    provider = await f.user(Role.PROVIDER, provider_location=location)
    parent = await f.user(Role.PARENT)
    partner = await f.user(Role.PARENT)
    h, applicant = await f.household(leuven, parent, first_name="An")
    await Parent.create(
        household=h,
        user=partner,
        is_applicant=False,
        first_name="Bert",
        last_name="Peeters",
        email="bert@example.test",
        municipality=leuven,
        **f.PARENT_DEFAULTS,
    )
    child = await f.child(h, born=f.days(-100), first_name="Lotte")
    await f.care_request(child, location)
    other_parent = await f.user(Role.PARENT)
    other, _ = await f.household(leuven, other_parent)
    return Family(
        leuven, location, h, applicant, child, parent, partner, provider, other_parent, other
    )


async def my_log(client: Any, first: int = 20, after: str | None = None) -> dict[str, Any]:
    result = await client.gql(MY_LOG, {"first": first, "after": after})
    assert "errors" not in result, result
    return result["data"]["myHousehold"]["accessLog"]


def nodes(log: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in log["edges"]]


def iso(value: Any) -> str:
    return str(value.isoformat())


async def log_rows() -> list[AccessLogEntry]:
    return await AccessLogEntry.all().order_by("id")


# Who saw my data


async def test_access_log_as_parent_shows_a_provider_read_with_organisation_and_fields(
    actor: Any,
) -> None:
    # given: the provider reads the dossier over GraphQL
    w = await family()
    read = await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    assert read["data"]["household"]["children"] == [{"firstName": "Lotte"}]
    [row] = await log_rows()

    # when
    log = await my_log(actor(w.parent))

    # then
    assert log == {
        "edges": [
            {
                "cursor": log["edges"][0]["cursor"],
                "node": {
                    "at": iso(row.at),
                    "role": "PROVIDER",
                    "organisationName": "Kinderdagverblijf De Bolleboos",
                    "grant": "PROVIDER_SELECTED",
                    "fields": ["Child.firstName", "Parent.firstName", "Parent.phone"],
                    "operationName": "ReadDossier",
                    "outcome": None,
                    "disclosure": None,
                },
            }
        ],
        "pageInfo": {"hasNextPage": False, "endCursor": log["edges"][0]["cursor"]},
    }


async def test_access_log_as_partner_shows_the_same_entries(actor: Any) -> None:
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})

    from_parent = await my_log(actor(w.parent))
    from_partner = await my_log(actor(w.partner))

    assert from_partner == from_parent
    assert [n["organisationName"] for n in nodes(from_partner)] == [
        "Kinderdagverblijf De Bolleboos"
    ]


async def test_access_log_as_another_parent_shows_nothing_of_the_dossier(actor: Any) -> None:
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    other = actor(w.other_parent)

    own = await my_log(other)
    theirs = await other.gql(THEIR_LOG, {"id": str(w.household.id)})

    assert own == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert theirs == {"data": {"household": None}}


@pytest.mark.parametrize("who", ["provider", "loket", "toeleider", "admin", "sick_child"])
async def test_access_log_as_staff_reaching_the_dossier_is_forbidden(actor: Any, who: str) -> None:
    # given: a read that the family would see, and staff of every kind who reach the dossier
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    if who == "provider":
        user = w.provider
    elif who == "loket":
        user = await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", w.muni))
    elif who == "toeleider":
        ocmw = await f.referral_organisation("OCMW Leuven")
        await f.mandate(w.household, w.applicant, ocmw)
        user = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    elif who == "admin":
        user = await f.user(Role.ADMIN)
    else:
        service = await f.sick_child_service("Thuisopvang Leuven")
        await f.service_record(service, w.child)
        user = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)
    before = len(await log_rows())

    # when
    response = await actor(user).post_gql(THEIR_LOG, {"id": str(w.household.id)})

    # then: the dossier is reached, both fields are denied, nothing of the log leaks
    body = response.json()
    assert body["data"] == {
        "household": {"id": str(w.household.id), "accessLog": None, "disclosures": None}
    }
    assert sorted((tuple(e["path"]), e["extensions"]["code"]) for e in body["errors"]) == [
        (("household", "accessLog"), "FORBIDDEN"),
        (("household", "disclosures"), "FORBIDDEN"),
    ]
    assert "ReadDossier" not in response.text
    assert "Bolleboos" not in response.text
    # asking for the log read no personal data: nothing more was logged
    assert len(await log_rows()) == before


async def test_access_log_as_anonymous_is_forbidden(actor: Any) -> None:
    w = await family()

    result = await actor(None).gql(THEIR_LOG, {"id": str(w.household.id)})
    mine = await actor(None).gql(MY_LOG, {"first": 5})

    assert_forbidden(result, "household")
    assert_forbidden(mine, "myHousehold")


async def test_access_log_names_organisation_and_role_never_the_staff_member(
    actor: Any,
) -> None:
    # given: a counter, a referral worker (mandate) and an admin each read the dossier
    w = await family()
    counter = await f.counter("Loket Leuven", w.muni)
    loket = await f.user(Role.LOKET, counter=counter, email="els.loket@example.test")
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.mandate(w.household, w.applicant, ocmw)
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw, email="jan@ocmw.test")
    admin = await f.user(Role.ADMIN, email="beheerder@loket.test")
    for reader in (loket, worker, admin):
        await actor(reader).gql(
            "query Look($id: ID!) { household(id: $id) { parents { lastName } } }",
            {"id": str(w.household.id)},
        )

    # when
    response = await actor(w.parent).post_gql(MY_LOG, {"first": 10})

    # then: newest first, organisation and role only
    log = response.json()["data"]["myHousehold"]["accessLog"]
    assert [(n["organisationName"], n["role"], n["grant"], n["fields"]) for n in nodes(log)] == [
        ("Platform beheer", "ADMIN", "ADMIN", ["Parent.lastName"]),
        ("OCMW Leuven", "TOELEIDER", "ACTIVE_MANDATE", ["Parent.lastName"]),
        ("Loket Leuven", "LOKET", "COUNTER_REGION", ["Parent.lastName"]),
    ]
    for private in ("els.loket", "jan@ocmw", "beheerder@", "Test user"):
        assert private not in response.text


async def test_access_log_organisation_is_the_membership_in_force_at_the_read(
    actor: Any,
) -> None:
    # given: the provider reads, then leaves De Bolleboos for another organisation
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    await Membership.filter(user_id=w.provider.id).update(
        revoked_at=datetime.datetime.now(datetime.UTC)
    )
    elsewhere = await f.location(w.muni, "Kinderopvang Elders")
    await Membership.create(user=w.provider, role=Role.PROVIDER, provider_location=elsewhere)

    # when
    [entry] = nodes(await my_log(actor(w.parent)))

    # then: still the organisation it read for
    assert entry["organisationName"] == "Kinderdagverblijf De Bolleboos"


async def test_access_log_shows_the_role_only_when_the_organisation_is_ambiguous_or_gone(
    actor: Any,
) -> None:
    # given: a provider working at two organisations' locations reads; another reader's
    # membership is deleted afterwards
    w = await family()
    second = await f.location(w.muni, "Kinderopvang Tweede")
    both = await f.user(Role.PROVIDER, provider_location=w.location)
    await Membership.create(user=both, role=Role.PROVIDER, provider_location=second)
    await actor(both).gql(READ, {"id": str(w.household.id)})
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    await Membership.filter(user_id=w.provider.id).delete()

    # when
    entries = nodes(await my_log(actor(w.parent)))

    # then
    assert [(n["role"], n["organisationName"]) for n in entries] == [
        ("PROVIDER", None),
        ("PROVIDER", None),
    ]


async def test_access_log_shows_two_locations_of_one_organisation_as_the_organisation(
    actor: Any,
) -> None:
    w = await family()
    sibling = await f.location(
        w.muni, "Bolleboos Tweede", organisation=await w.location.organisation
    )
    reader = await f.user(Role.PROVIDER, provider_location=w.location)
    await Membership.create(user=reader, role=Role.PROVIDER, provider_location=sibling)
    await actor(reader).gql(READ, {"id": str(w.household.id)})

    [entry] = nodes(await my_log(actor(w.parent)))

    assert entry["organisationName"] == "Bolleboos vzw"


async def test_access_log_shows_uniqueness_checks_about_the_family(actor: Any) -> None:
    # given: the applicant checks their child; another parent tries the same child
    w = await family()
    mine = await actor(w.parent).gql(HAS_OPEN, {"child": str(w.child.id)})
    assert mine == {"data": {"hasOpenRequest": True}}
    theirs = await actor(w.other_parent).gql(HAS_OPEN, {"child": str(w.child.id)})
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # when
    entries = nodes(await my_log(actor(w.partner)))

    # then: the family's own check is shown; the refused one names no dossier (the
    # caller reached none), so it is in nobody's log
    assert [{k: v for k, v in n.items() if k != "at"} for n in entries] == [
        {
            "role": "PARENT",
            "organisationName": None,
            "grant": "OWN_HOUSEHOLD",
            "fields": ["uniqueness check"],
            "operationName": "Check",
            "outcome": "ANSWERED",
            "disclosure": None,
        }
    ]
    assert len(await log_rows()) == 2
    assert nodes(await my_log(actor(w.other_parent))) == []


async def _entries(w: Family, n: int) -> None:
    """`n` access-log rows about the dossier by its provider, as the flush writes them."""
    for i in range(n):
        await AccessLogEntry.create(
            viewer=w.provider,
            role="PROVIDER",
            grant_name="PROVIDER_SELECTED",
            household=w.household,
            fields_read=["Parent.firstName"],
            operation_name=f"Read{i}",
            request_id=f"r{i}",
        )


async def test_access_log_pages_newest_first_without_gaps(actor: Any) -> None:
    w = await family()
    await _entries(w, 7)
    client = actor(w.parent)

    seen: list[str] = []
    after = None
    while True:
        page = await my_log(client, 3, after)
        seen += [n["operationName"] for n in nodes(page)]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [f"Read{i}" for i in reversed(range(7))]


async def test_access_log_with_a_bad_cursor_is_an_input_error(actor: Any) -> None:
    w = await family()

    result = await actor(w.parent).gql(MY_LOG, {"first": 3, "after": "bm9wZQ=="})

    assert result["data"] == {"myHousehold": {"accessLog": None}}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["INVALID_CURSOR"]


async def test_access_log_statements_do_not_grow_with_the_page_size(
    actor: Any, count_statements: Any
) -> None:
    w = await family()
    await _entries(w, 40)
    client = actor(w.parent)
    counts = []
    for size in (2, 10, 40):
        count_statements.statements.clear()
        log = await my_log(client, size)
        assert len(log["edges"]) == size
        counts.append(len(count_statements))
        # the page, names of organisations included, is one statement
        assert sum("FROM access_log" in s for s in count_statements.statements) == 1

    assert counts[0] == counts[1] == counts[2], counts


# Legal disclosure register


async def _admin_read(actor: Any, w: Family, admin: User) -> str:
    """The admin reads the dossier for an authority; the id of that access-log entry."""
    await actor(admin).gql(FOR_POLICE, {"id": str(w.household.id)})
    reads = await actor(admin).gql(DISCLOSABLE, {"id": str(w.household.id)})
    [edge] = reads["data"]["disclosableReads"]["edges"]
    assert edge["node"]["fields"] == ["Parent.firstName", "Parent.street"]
    assert edge["node"]["operationName"] == "ForPolice"
    return str(edge["node"]["id"])


def disclosure_input(w: Family, **kw: Any) -> dict[str, Any]:
    return {
        "householdId": str(w.household.id),
        "authority": "Politiezone Leuven",
        "legalBasis": "Art. 46bis Wetboek van Strafvordering",
        "dataDisclosed": "Naam en adres van de ouders",
        "disclosedOn": str(f.days(-1)),
        **kw,
    }


async def test_secret_disclosure_hides_itself_and_its_reads_until_lifted(actor: Any) -> None:
    # given: a provider read, and an admin's read for the police recorded as secret
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    admin = await f.user(Role.ADMIN)
    entry_id = await _admin_read(actor, w, admin)
    recorded = await actor(admin).gql(
        RECORD, {"input": disclosure_input(w, secret=True, accessLogEntryIds=[entry_id])}
    )
    payload = recorded["data"]["recordDisclosure"]
    assert payload["errors"] == []
    disclosure = payload["disclosure"]
    assert disclosure["secret"] is True
    assert disclosure["reads"] == [
        {"id": entry_id, "fields": ["Parent.firstName", "Parent.street"]}
    ]
    parent = actor(w.parent)

    # when / then: the family sees neither the disclosure nor the admin's read
    hidden = await parent.post_gql(MY_LOG, {"first": 20})
    assert [n["role"] for n in nodes(hidden.json()["data"]["myHousehold"]["accessLog"])] == [
        "PROVIDER"
    ]
    assert "Politie" not in hidden.text
    assert "ForPolice" not in hidden.text
    assert await parent.gql(MY_DISCLOSURES) == {"data": {"myHousehold": {"disclosures": []}}}
    # the admin's reading of the register is not itself logged as a read of the dossier
    await actor(admin).gql(REGISTER, {"id": str(w.household.id)})
    assert len(nodes(await my_log(parent))) == 1

    # when: the secrecy is lifted
    lifted = await actor(admin).gql(
        UPDATE, {"input": {"disclosureId": disclosure["id"], "secret": False}}
    )

    # then: both appear
    assert lifted["data"]["updateDisclosure"]["errors"] == []
    assert lifted["data"]["updateDisclosure"]["disclosure"]["secret"] is False
    entries = nodes(await my_log(parent))
    assert [(n["role"], n["operationName"], n["disclosure"]) for n in entries] == [
        ("ADMIN", "ForPolice", {"authority": "Politiezone Leuven"}),
        ("PROVIDER", "ReadDossier", None),
    ]
    assert await actor(w.partner).gql(MY_DISCLOSURES) == {
        "data": {
            "myHousehold": {
                "disclosures": [
                    {
                        "authority": "Politiezone Leuven",
                        "legalBasis": "Art. 46bis Wetboek van Strafvordering",
                        "dataDisclosed": "Naam en adres van de ouders",
                        "disclosedOn": str(f.days(-1)),
                    }
                ]
            }
        }
    }


async def test_non_secret_disclosure_is_shown_to_both_parents_only(actor: Any) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    await actor(admin).gql(RECORD, {"input": disclosure_input(w, authority="FOD Financiën")})

    for user in (w.parent, w.partner):
        result = await actor(user).gql(MY_DISCLOSURES)
        assert [d["authority"] for d in result["data"]["myHousehold"]["disclosures"]] == [
            "FOD Financiën"
        ]
    other = await actor(w.other_parent).gql(MY_DISCLOSURES)
    assert other == {"data": {"myHousehold": {"disclosures": []}}}


async def test_disclosure_secrecy_is_not_readable_by_the_parent(actor: Any) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    await actor(admin).gql(RECORD, {"input": disclosure_input(w)})

    result = await actor(w.parent).gql(
        "{ myHousehold { disclosures { authority secret reads { id } } } }"
    )

    assert result["data"] == {
        "myHousehold": {
            "disclosures": [{"authority": "Politiezone Leuven", "secret": None, "reads": None}]
        }
    }
    assert sorted(tuple(e["path"]) for e in result["errors"]) == [
        ("myHousehold", "disclosures", 0, "reads"),
        ("myHousehold", "disclosures", 0, "secret"),
    ]


async def test_disclosures_register_as_admin_lists_secret_ones_newest_first(actor: Any) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    client = actor(admin)
    await client.gql(RECORD, {"input": disclosure_input(w, disclosedOn=str(f.days(-10)))})
    await client.gql(
        RECORD,
        {"input": disclosure_input(w, authority="Parket Leuven", secret=True)},
    )

    result = await client.gql(REGISTER, {"id": str(w.household.id)})
    unknown = await client.gql(REGISTER, {"id": "00000000-0000-0000-0000-000000000000"})

    assert [(d["authority"], d["secret"]) for d in result["data"]["disclosures"]] == [
        ("Parket Leuven", True),
        ("Politiezone Leuven", False),
    ]
    assert unknown == {"data": {"disclosures": None}}


@pytest.mark.parametrize("who", ["anonymous", "parent", "provider", "loket", "toeleider"])
async def test_record_disclosure_as_non_admin_is_forbidden_and_changes_nothing(
    actor: Any, who: str
) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    entry_id = await _admin_read(actor, w, admin)
    users: dict[str, Any] = {
        "anonymous": None,
        "parent": w.parent,
        "provider": w.provider,
        "loket": await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", w.muni)),
        "toeleider": await f.user(
            Role.TOELEIDER, referral_organisation=await f.referral_organisation()
        ),
    }
    client = actor(users[who])

    recorded = await client.gql(
        RECORD, {"input": disclosure_input(w, secret=True, accessLogEntryIds=[entry_id])}
    )
    listed = await client.gql(REGISTER, {"id": str(w.household.id)})
    reads = await client.gql(DISCLOSABLE, {"id": str(w.household.id)})

    assert_forbidden(recorded, "recordDisclosure")
    assert_forbidden(listed, "disclosures")
    assert_forbidden(reads, "disclosableReads")
    assert await Disclosure.all().count() == 0
    assert await AccessLogEntry.filter(disclosure_id__isnull=False).count() == 0


async def test_update_disclosure_as_non_admin_is_forbidden_and_keeps_the_secret(
    actor: Any,
) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    recorded = await actor(admin).gql(RECORD, {"input": disclosure_input(w, secret=True)})
    disclosure_id = recorded["data"]["recordDisclosure"]["disclosure"]["id"]

    result = await actor(w.parent).gql(
        UPDATE, {"input": {"disclosureId": disclosure_id, "secret": False}}
    )

    assert_forbidden(result, "updateDisclosure")
    assert (await Disclosure.get(id=disclosure_id)).secret is True


async def test_record_disclosure_as_admin_refuses_reads_of_another_dossier(actor: Any) -> None:
    # given: the admin's read of another family
    w = await family()
    admin = await f.user(Role.ADMIN)
    own = await _admin_read(actor, w, admin)
    await actor(admin).gql(FOR_POLICE, {"id": str(w.other_household.id)})
    other = await AccessLogEntry.get(household_id=w.other_household.id)

    # when
    result = await actor(admin).gql(
        RECORD, {"input": disclosure_input(w, accessLogEntryIds=[own, str(other.id)])}
    )

    # then
    assert result["data"]["recordDisclosure"] == {
        "disclosure": None,
        "errors": [
            {
                "field": ["input", "accessLogEntryIds", "1"],
                "code": "OTHER_DOSSIER",
                "message": "This read is of another dossier.",
            }
        ],
    }
    assert await Disclosure.all().count() == 0
    assert await AccessLogEntry.filter(disclosure_id__isnull=False).count() == 0


async def test_record_disclosure_as_admin_refuses_reads_that_are_not_their_own(
    actor: Any,
) -> None:
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    [provider_read] = await log_rows()
    colleague = await f.user(Role.ADMIN)
    theirs = await _admin_read(actor, w, colleague)
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(
        RECORD,
        {"input": disclosure_input(w, accessLogEntryIds=[str(provider_read.id), theirs, "x"])},
    )

    assert [(e["field"], e["code"]) for e in result["data"]["recordDisclosure"]["errors"]] == [
        (["input", "accessLogEntryIds", "2"], "NOT_FOUND"),
    ]
    result = await actor(admin).gql(
        RECORD, {"input": disclosure_input(w, accessLogEntryIds=[str(provider_read.id), theirs])}
    )
    assert [(e["field"], e["code"]) for e in result["data"]["recordDisclosure"]["errors"]] == [
        (["input", "accessLogEntryIds", "0"], "NOT_FOUND"),
        (["input", "accessLogEntryIds", "1"], "NOT_FOUND"),
    ]
    assert await Disclosure.all().count() == 0


async def test_record_disclosure_as_admin_validates_the_input(actor: Any) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(
        RECORD,
        {
            "input": disclosure_input(
                w,
                householdId="00000000-0000-0000-0000-000000000000",
                authority=" ",
                legalBasis="x" * 501,
                dataDisclosed="Adres",
                disclosedOn=str(f.days(1)),
            )
        },
    )

    assert [(e["field"], e["code"]) for e in result["data"]["recordDisclosure"]["errors"]] == [
        (["input", "householdId"], "NOT_FOUND"),
        (["input", "authority"], "REQUIRED"),
        (["input", "legalBasis"], "TOO_LONG"),
        (["input", "disclosedOn"], "DATE_IN_FUTURE"),
    ]
    assert await Disclosure.all().count() == 0


async def test_record_disclosure_as_admin_refuses_a_read_linked_elsewhere(actor: Any) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    entry_id = await _admin_read(actor, w, admin)
    first = await actor(admin).gql(
        RECORD, {"input": disclosure_input(w, accessLogEntryIds=[entry_id])}
    )
    assert first["data"]["recordDisclosure"]["errors"] == []

    second = await actor(admin).gql(
        RECORD, {"input": disclosure_input(w, accessLogEntryIds=[entry_id])}
    )

    assert [(e["field"], e["code"]) for e in second["data"]["recordDisclosure"]["errors"]] == [
        (["input", "accessLogEntryIds", "0"], "ALREADY_LINKED"),
    ]
    assert await Disclosure.all().count() == 1


async def test_update_disclosure_as_admin_cannot_make_a_lifted_secret_again(actor: Any) -> None:
    w = await family()
    admin = await f.user(Role.ADMIN)
    recorded = await actor(admin).gql(RECORD, {"input": disclosure_input(w)})
    disclosure_id = recorded["data"]["recordDisclosure"]["disclosure"]["id"]

    result = await actor(admin).gql(
        UPDATE, {"input": {"disclosureId": disclosure_id, "secret": True}}
    )

    assert [(e["field"], e["code"]) for e in result["data"]["updateDisclosure"]["errors"]] == [
        (["input", "secret"], "SECRECY_LIFTED")
    ]
    assert (await Disclosure.get(id=disclosure_id)).secret is False


async def test_update_disclosure_as_admin_links_later_reads(actor: Any) -> None:
    # given: a secret disclosure recorded before the admin read the data for it
    w = await family()
    admin = await f.user(Role.ADMIN)
    recorded = await actor(admin).gql(RECORD, {"input": disclosure_input(w, secret=True)})
    disclosure_id = recorded["data"]["recordDisclosure"]["disclosure"]["id"]
    entry_id = await _admin_read(actor, w, admin)

    # when
    result = await actor(admin).gql(
        UPDATE, {"input": {"disclosureId": disclosure_id, "accessLogEntryIds": [entry_id]}}
    )

    # then: linked, still secret, and gone from the family's log
    assert result["data"]["updateDisclosure"]["disclosure"]["reads"] == [
        {"id": entry_id, "fields": ["Parent.firstName", "Parent.street"]}
    ]
    assert result["data"]["updateDisclosure"]["disclosure"]["secret"] is True
    assert nodes(await my_log(actor(w.parent))) == []
    assert (await actor(admin).gql(DISCLOSABLE, {"id": str(w.household.id)}))["data"] == {
        "disclosableReads": {"edges": []}
    }


# Reading for a disclosure: the X-Loket-Disclosure header

BOTH = """query ForPoliceAndMore($a: ID!, $b: ID!) {
  a: household(id: $a) { parents { firstName street } }
  b: household(id: $b) { parents { firstName } }
}"""


async def read_for(
    client: Any, named: str | list[str], query: str, variables: dict[str, Any]
) -> Any:
    """POST `query` naming the disclosure(s) `named` in X-Loket-Disclosure."""
    values = [named] if isinstance(named, str) else named
    return await client.http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=[("X-Loket-Disclosure", value) for value in values],
    )


async def secret_disclosure(actor: Any, w: Family, admin: User) -> str:
    """A secret disclosure recorded before any read for it; its id."""
    recorded = await actor(admin).gql(RECORD, {"input": disclosure_input(w, secret=True)})
    assert recorded["data"]["recordDisclosure"]["errors"] == []
    return str(recorded["data"]["recordDisclosure"]["disclosure"]["id"])


async def log_values() -> list[dict[str, Any]]:
    return list(
        await AccessLogEntry.all()
        .order_by("id")
        .values("id", "role", "household_id", "disclosure_id", "outcome")
    )


async def test_reads_with_the_disclosure_header_as_admin_are_never_in_the_family_log(
    actor: Any,
) -> None:
    # given: a provider read the family may see, and a secret disclosure with no reads yet
    w = await family()
    await actor(w.provider).gql(READ, {"id": str(w.household.id)})
    admin = await f.user(Role.ADMIN)
    disclosure_id = await secret_disclosure(actor, w, admin)

    # when: the admin reads the dossier for it, naming it
    response = await read_for(actor(admin), disclosure_id, FOR_POLICE, {"id": str(w.household.id)})

    # then: the read is written linked to the disclosure (no moment without the link)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    assert {p["firstName"] for p in response.json()["data"]["household"]["parents"]} == {
        "An",
        "Bert",
    }
    rows = await log_values()
    assert [(r["role"], str(r["disclosure_id"])) for r in rows] == [
        ("PROVIDER", "None"),
        ("ADMIN", disclosure_id),
    ]
    # and neither parent sees it; the register has it; nothing is left to link
    for user in (w.parent, w.partner):
        assert [n["role"] for n in nodes(await my_log(actor(user)))] == ["PROVIDER"]
    register = await actor(admin).gql(REGISTER, {"id": str(w.household.id)})
    assert register["data"]["disclosures"][0]["reads"] == [
        {"id": str(rows[1]["id"]), "fields": ["Parent.firstName", "Parent.street"]}
    ]
    disclosable = await actor(admin).gql(DISCLOSABLE, {"id": str(w.household.id)})
    assert disclosable["data"] == {"disclosableReads": {"edges": []}}

    # when: the secrecy is lifted
    lifted = await actor(admin).gql(
        UPDATE, {"input": {"disclosureId": disclosure_id, "secret": False}}
    )

    # then: the read shows, with the disclosure it was made for
    assert lifted["data"]["updateDisclosure"]["errors"] == []
    entries = nodes(await my_log(actor(w.parent)))
    assert [(n["role"], n["operationName"], n["disclosure"]) for n in entries] == [
        ("ADMIN", "ForPolice", {"authority": "Politiezone Leuven"}),
        ("PROVIDER", "ReadDossier", None),
    ]


async def test_disclosure_header_links_only_the_reads_of_the_disclosure_dossier(
    actor: Any,
) -> None:
    # given: a secret disclosure of one family
    w = await family()
    admin = await f.user(Role.ADMIN)
    disclosure_id = await secret_disclosure(actor, w, admin)

    # when: one request reads that family and another one
    response = await read_for(
        actor(admin),
        disclosure_id,
        BOTH,
        {"a": str(w.household.id), "b": str(w.other_household.id)},
    )

    # then: only the disclosure's dossier's row is linked; the other family sees its read
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    linked = {r["household_id"]: r["disclosure_id"] for r in await log_values()}
    assert linked == {w.household.id: uuid.UUID(disclosure_id), w.other_household.id: None}
    assert nodes(await my_log(actor(w.parent))) == []
    assert [
        (n["role"], n["fields"], n["operationName"], n["disclosure"])
        for n in nodes(await my_log(actor(w.other_parent)))
    ] == [("ADMIN", ["Parent.firstName"], "ForPoliceAndMore", None)]


async def test_disclosure_header_links_every_operation_of_a_batch_and_uniqueness_checks(
    actor: Any,
) -> None:
    # given: a secret disclosure
    w = await family()
    admin = await f.user(Role.ADMIN)
    disclosure_id = await secret_disclosure(actor, w, admin)

    # when: a batch reads the dossier and checks its child, naming the disclosure
    response = await actor(admin).http.post(
        "/graphql",
        json=[
            {"query": FOR_POLICE, "variables": {"id": str(w.household.id)}},
            {"query": HAS_OPEN, "variables": {"child": str(w.child.id)}},
        ],
        headers={"X-Loket-Disclosure": disclosure_id},
    )

    # then: both rows are linked and the family sees neither
    assert response.status_code == 200, response.text
    assert response.json()[1] == {"data": {"hasOpenRequest": True}}
    # (the operations run concurrently: their rows come in either order)
    assert sorted((str(r["outcome"]), str(r["disclosure_id"])) for r in await log_values()) == [
        ("ANSWERED", disclosure_id),
        ("None", disclosure_id),
    ]
    assert nodes(await my_log(actor(w.parent))) == []


@pytest.mark.parametrize(
    "who", ["anonymous", "parent", "provider", "loket", "admin_without_agreement"]
)
async def test_disclosure_header_from_a_non_admin_is_refused_before_anything_runs(
    actor: Any, who: str
) -> None:
    # given: a disclosure, and viewers who are not admins (in force)
    w = await family()
    disclosure_id = await secret_disclosure(actor, w, await f.user(Role.ADMIN))
    users: dict[str, Any] = {
        "anonymous": None,
        "parent": w.parent,
        "provider": w.provider,
        "loket": await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", w.muni)),
        "admin_without_agreement": await f.user(Role.ADMIN, agreement=False),
    }

    # when
    response = await read_for(actor(users[who]), disclosure_id, READ, {"id": str(w.household.id)})

    # then: 400 with its code, and nothing read, nothing logged
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Only admins may name a legal disclosure (X-Loket-Disclosure) for "
                "their reads.",
                "extensions": {"code": "DISCLOSURE_ADMIN_ONLY"},
            }
        ]
    }
    assert await log_rows() == []


@pytest.mark.parametrize("case", ["unknown", "malformed", "empty", "twice", "anonymised"])
async def test_disclosure_header_as_admin_naming_no_usable_disclosure_is_refused(
    actor: Any, case: str
) -> None:
    # given: an admin, a disclosure of a family, and a header that names it badly
    w = await family()
    admin = await f.user(Role.ADMIN)
    disclosure_id = await secret_disclosure(actor, w, admin)
    other = await actor(admin).gql(
        RECORD, {"input": disclosure_input(w, householdId=str(w.other_household.id))}
    )
    other_id = other["data"]["recordDisclosure"]["disclosure"]["id"]
    named: dict[str, str | list[str]] = {
        "unknown": str(uuid.uuid4()),
        "malformed": "Politiezone Leuven",
        "empty": "",
        "twice": [disclosure_id, other_id],
        "anonymised": other_id,
    }
    if case == "anonymised":
        await Household.filter(id=w.other_household.id).update(
            anonymised_at=datetime.datetime.now(datetime.UTC)
        )

    # when
    response = await read_for(actor(admin), named[case], READ, {"id": str(w.household.id)})

    # then: refused, never ignored: the read would otherwise show to the family
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "DISCLOSURE_UNKNOWN"}
    assert "recordDisclosure" in error["message"]
    assert await log_rows() == []


# Consent and mandate history


HISTORY = """{ myHousehold {
  consents { parent { firstName } purpose active history { action at } }
  mandates { organisation { name } active consentMethod revokedAt
    history { action at role organisationName } }
} }"""


async def test_consent_and_mandate_history_as_partner_shows_every_grant_and_revocation(
    actor: Any,
) -> None:
    # given: the applicant grants and revokes a consent and a mandate; a worker records a
    # mandate on paper and an admin ends it
    w = await family()
    parent = actor(w.parent)
    ocmw = await f.referral_organisation("OCMW Leuven")
    vdab = await f.referral_organisation("VDAB")
    await parent.gql(
        "mutation { grantConsent(input: {purpose: RESEARCH_CONTACT}) { errors { code } } }"
    )
    await parent.gql(
        "mutation { revokeConsent(input: {purpose: RESEARCH_CONTACT}) { errors { code } } }"
    )
    granted = await parent.gql(
        "mutation($o: ID!) { grantMandate(input: {referralOrganisationId: $o}) {"
        " mandate { id } errors { code } } }",
        {"o": str(ocmw.id)},
    )
    online_id = granted["data"]["grantMandate"]["mandate"]["id"]
    await parent.gql(
        "mutation($m: ID!) { revokeMandate(input: {mandateId: $m}) { errors { code } } }",
        {"m": online_id},
    )
    worker = await f.user(Role.TOELEIDER, referral_organisation=vdab)
    paper = await f.mandate(
        w.household,
        w.applicant,
        vdab,
        consent_method="SIGNED_FORM",
        consent_given_at=datetime.datetime.now(datetime.UTC),
        recorded_by=worker,
    )
    admin = await f.user(Role.ADMIN)
    ended = await actor(admin).gql(
        "mutation($m: ID!) { revokeMandate(input: {mandateId: $m}) { errors { code } } }",
        {"m": str(paper.id)},
    )
    assert ended["data"]["revokeMandate"]["errors"] == []

    # when
    result = await actor(w.partner).gql(HISTORY)

    # then
    household = result["data"]["myHousehold"]
    [consent] = household["consents"]
    assert (consent["parent"], consent["purpose"], consent["active"]) == (
        {"firstName": "An"},
        "RESEARCH_CONTACT",
        False,
    )
    assert [e["action"] for e in consent["history"]] == ["GRANTED", "REVOKED"]
    online = await Mandate.get(id=online_id)
    paper = await Mandate.get(id=paper.id)
    assert household["mandates"] == [
        {
            "organisation": {"name": "VDAB"},
            "active": False,
            "consentMethod": "SIGNED_FORM",
            "revokedAt": iso(paper.revoked_at),
            "history": [
                {
                    "action": "GRANTED",
                    "at": iso(paper.granted_at),
                    "role": "TOELEIDER",
                    "organisationName": "VDAB",
                },
                {
                    "action": "REVOKED",
                    "at": iso(paper.revoked_at),
                    "role": "ADMIN",
                    "organisationName": "Platform beheer",
                },
            ],
        },
        {
            "organisation": {"name": "OCMW Leuven"},
            "active": False,
            "consentMethod": "ONLINE",
            "revokedAt": iso(online.revoked_at),
            "history": [
                {
                    "action": "GRANTED",
                    "at": iso(online.granted_at),
                    "role": "PARENT",
                    "organisationName": None,
                },
                {
                    "action": "REVOKED",
                    "at": iso(online.revoked_at),
                    "role": "PARENT",
                    "organisationName": None,
                },
            ],
        },
    ]


async def test_mandate_history_names_the_worker_organisation_that_ended_it(actor: Any) -> None:
    w = await family()
    ocmw = await f.referral_organisation("OCMW Leuven")
    mandate = await f.mandate(w.household, w.applicant, ocmw)
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    await actor(worker).gql(
        "mutation($m: ID!) { revokeMandate(input: {mandateId: $m}) { errors { code } } }",
        {"m": str(mandate.id)},
    )

    result = await actor(w.parent).gql(HISTORY)

    [entry] = result["data"]["myHousehold"]["mandates"]
    assert [(e["action"], e["role"], e["organisationName"]) for e in entry["history"]] == [
        ("GRANTED", "PARENT", None),
        ("REVOKED", "TOELEIDER", "OCMW Leuven"),
    ]
