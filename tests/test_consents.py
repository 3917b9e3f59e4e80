"""The consent ledger: granting and revoking one's own consents, the dossier's ledger, and
the admin list of parents whose consent for a purpose is active now."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.access_log import AccessLogEntry
from models.accounts import Role, User
from models.consents import ConsentEvent
from models.households import Household, Parent
from tests import factories as f
from tests.assertions import assert_forbidden

CONSENT_FIELDS = "parent { id firstName } purpose active since history { action at }"
GRANT = f"""
mutation($input: GrantConsentInput!) {{
  grantConsent(input: $input) {{ consent {{ {CONSENT_FIELDS} }} errors {{ field code message }} }}
}}"""
REVOKE = f"""
mutation($input: RevokeConsentInput!) {{
  revokeConsent(input: $input) {{ consent {{ {CONSENT_FIELDS} }} errors {{ field code message }} }}
}}"""
CONSENTS = f"query($id: ID!) {{ household(id: $id) {{ consents {{ {CONSENT_FIELDS} }} }} }}"
CONTACTS = """
query Contacts($purpose: ConsentPurpose!, $first: Int!, $after: String) {
  consentedContacts(purpose: $purpose, first: $first, after: $after) {
    edges { cursor node { id firstName lastName email since } }
    pageInfo { hasNextPage endCursor }
  }
}"""

DENIED = ["anonymous", "toeleider", "admin", "loket", "provider"]


async def leuven() -> Any:
    return await f.municipality("24062", "Leuven")


async def parent_with_household(muni: Any, **kw: Any) -> tuple[User, Household, Parent]:
    user = await f.user(Role.PARENT)
    h, p = await f.household(muni, user, **kw)
    return user, h, p


async def outsider(who: str, muni: Any) -> User | None:
    if who == "anonymous":
        return None
    if who == "parent":
        return (await parent_with_household(muni))[0]
    if who == "toeleider":
        return await f.user(Role.TOELEIDER, referral_organisation=await f.referral_organisation())
    if who == "admin":
        return await f.user(Role.ADMIN)
    if who == "loket":
        return await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", muni))
    return await f.user(Role.PROVIDER, provider_location=await f.location(muni))


def errors_of(result: dict[str, Any], field: str) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    return [(e["field"], e["code"]) for e in result["data"][field]["errors"]]


async def events() -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await ConsentEvent.all()
        .order_by("id")
        .values_list("parent_id", "purpose", "action", "recorded_by_id")
    ]


def iso(value: Any) -> str:
    return str(value.isoformat())


async def event_times(parent: Parent, purpose: str) -> list[str]:
    rows = await ConsentEvent.filter(parent_id=parent.id, purpose=purpose).order_by("id")
    return [iso(r.at) for r in rows]


# grantConsent / revokeConsent


async def test_grant_consent_as_parent(actor: Any) -> None:
    # given
    user, _, parent = await parent_with_household(await leuven(), first_name="An")

    # when
    result = await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})

    # then
    [at] = await event_times(parent, "RESEARCH_CONTACT")
    assert result["data"]["grantConsent"] == {
        "consent": {
            "parent": {"id": str(parent.id), "firstName": "An"},
            "purpose": "RESEARCH_CONTACT",
            "active": True,
            "since": at,
            "history": [{"action": "GRANTED", "at": at}],
        },
        "errors": [],
    }
    assert await events() == [(parent.id, "RESEARCH_CONTACT", "GRANTED", user.id)]


async def test_grant_consent_as_parent_when_active_adds_no_event(actor: Any) -> None:
    # given
    user, _, parent = await parent_with_household(await leuven())
    client = actor(user)
    await client.gql(GRANT, {"input": {"purpose": "CHILDCARE_NEWS"}})
    before = await events()

    # when
    result = await client.gql(GRANT, {"input": {"purpose": "CHILDCARE_NEWS"}})

    # then
    [at] = await event_times(parent, "CHILDCARE_NEWS")
    consent = result["data"]["grantConsent"]["consent"]
    assert (consent["active"], consent["since"], consent["history"]) == (
        True,
        at,
        [{"action": "GRANTED", "at": at}],
    )
    assert await events() == before


async def test_revoke_consent_as_parent(actor: Any) -> None:
    # given
    user, _, parent = await parent_with_household(await leuven(), first_name="An")
    client = actor(user)
    await client.gql(GRANT, {"input": {"purpose": "SATISFACTION_SURVEY"}})

    # when
    result = await client.gql(REVOKE, {"input": {"purpose": "SATISFACTION_SURVEY"}})

    # then
    granted, revoked = await event_times(parent, "SATISFACTION_SURVEY")
    assert result["data"]["revokeConsent"] == {
        "consent": {
            "parent": {"id": str(parent.id), "firstName": "An"},
            "purpose": "SATISFACTION_SURVEY",
            "active": False,
            "since": revoked,
            "history": [
                {"action": "GRANTED", "at": granted},
                {"action": "REVOKED", "at": revoked},
            ],
        },
        "errors": [],
    }
    assert [e[2] for e in await events()] == ["GRANTED", "REVOKED"]


async def test_revoke_consent_as_parent_when_never_given_adds_no_event(actor: Any) -> None:
    user, _, parent = await parent_with_household(await leuven(), first_name="An")

    result = await actor(user).gql(REVOKE, {"input": {"purpose": "RESEARCH_CONTACT"}})

    assert result["data"]["revokeConsent"] == {
        "consent": {
            "parent": {"id": str(parent.id), "firstName": "An"},
            "purpose": "RESEARCH_CONTACT",
            "active": False,
            "since": None,
            "history": [],
        },
        "errors": [],
    }
    assert await events() == []


async def test_grant_consent_again_after_revoking(actor: Any) -> None:
    user, _, _ = await parent_with_household(await leuven())
    client = actor(user)
    for mutation in (GRANT, REVOKE, REVOKE, GRANT):
        await client.gql(mutation, {"input": {"purpose": "RESEARCH_CONTACT"}})

    assert [e[2] for e in await events()] == ["GRANTED", "REVOKED", "GRANTED"]


async def test_grant_consent_as_parent_without_household(actor: Any) -> None:
    user = await f.user(Role.PARENT)

    result = await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})

    assert errors_of(result, "grantConsent") == [(["input"], "NO_HOUSEHOLD")]
    assert result["data"]["grantConsent"]["consent"] is None
    assert await events() == []


async def test_grant_consent_with_unknown_purpose_is_a_graphql_error(actor: Any) -> None:
    user, _, _ = await parent_with_household(await leuven())

    result = await actor(user).gql(GRANT, {"input": {"purpose": "MARKETING"}})

    assert result["data"] is None
    assert len(result["errors"]) == 1
    assert await events() == []


@pytest.mark.parametrize("who", DENIED)
@pytest.mark.parametrize("mutation", ["grantConsent", "revokeConsent"])
async def test_consent_mutations_as_non_parent_are_forbidden(
    actor: Any, who: str, mutation: str
) -> None:
    # given: a parent with an active consent, and someone else
    muni = await leuven()
    owner, _, _ = await parent_with_household(muni)
    await actor(owner).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    user = await outsider(who, muni)
    before = await events()

    # when
    result = await actor(user).gql(
        GRANT if mutation == "grantConsent" else REVOKE,
        {"input": {"purpose": "RESEARCH_CONTACT"}},
    )

    # then
    assert_forbidden(result, mutation)
    assert await events() == before


# Household.consents


async def test_household_consents_as_parent_one_entry_per_parent_and_purpose(actor: Any) -> None:
    # given: both partners of a dossier, each with their own ledger
    muni = await leuven()
    user, household, applicant = await parent_with_household(muni, first_name="An")
    partner_user = await f.user(Role.PARENT)
    partner = await Parent.create(
        household=household,
        user=partner_user,
        is_applicant=False,
        first_name="Bart",
        last_name="Peeters",
        email="bart@example.test",
        municipality=muni,
        **f.PARENT_DEFAULTS,
    )
    await actor(partner_user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    client = actor(user)
    await client.gql(GRANT, {"input": {"purpose": "CHILDCARE_NEWS"}})
    await client.gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    await client.gql(REVOKE, {"input": {"purpose": "CHILDCARE_NEWS"}})

    # when
    result = await client.gql(CONSENTS, {"id": str(household.id)})

    # then: applicant first, purposes in declared order, history oldest first
    research = await event_times(applicant, "RESEARCH_CONTACT")
    news = await event_times(applicant, "CHILDCARE_NEWS")
    partner_research = await event_times(partner, "RESEARCH_CONTACT")
    assert result == {
        "data": {
            "household": {
                "consents": [
                    {
                        "parent": {"id": str(applicant.id), "firstName": "An"},
                        "purpose": "RESEARCH_CONTACT",
                        "active": True,
                        "since": research[0],
                        "history": [{"action": "GRANTED", "at": research[0]}],
                    },
                    {
                        "parent": {"id": str(applicant.id), "firstName": "An"},
                        "purpose": "CHILDCARE_NEWS",
                        "active": False,
                        "since": news[1],
                        "history": [
                            {"action": "GRANTED", "at": news[0]},
                            {"action": "REVOKED", "at": news[1]},
                        ],
                    },
                    {
                        "parent": {"id": str(partner.id), "firstName": "Bart"},
                        "purpose": "RESEARCH_CONTACT",
                        "active": True,
                        "since": partner_research[0],
                        "history": [{"action": "GRANTED", "at": partner_research[0]}],
                    },
                ]
            }
        }
    }


async def test_household_consents_as_admin(actor: Any) -> None:
    user, household, parent = await parent_with_household(await leuven())
    await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})

    result = await actor(await f.user(Role.ADMIN)).gql(CONSENTS, {"id": str(household.id)})

    consents = result["data"]["household"]["consents"]
    assert [(c["parent"]["id"], c["purpose"], c["active"]) for c in consents] == [
        (str(parent.id), "RESEARCH_CONTACT", True)
    ]


async def test_household_consents_without_events_is_empty(actor: Any) -> None:
    user, household, _ = await parent_with_household(await leuven())

    result = await actor(user).gql(CONSENTS, {"id": str(household.id)})

    assert result == {"data": {"household": {"consents": []}}}


async def test_household_consents_as_mandated_worker_is_forbidden(actor: Any) -> None:
    # given: the worker reaches the dossier, but the ledger is not part of their grant
    user, household, parent = await parent_with_household(await leuven())
    await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    ocmw = await f.referral_organisation()
    await f.mandate(household, parent, ocmw)
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)

    # when
    result = await actor(worker).gql(CONSENTS, {"id": str(household.id)})

    # then
    assert result["data"] == {"household": {"consents": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["household", "consents"], "FORBIDDEN")
    ]


async def test_household_consents_as_loket_is_forbidden(actor: Any) -> None:
    muni = await leuven()
    _, household, _ = await parent_with_household(muni)
    loket = await outsider("loket", muni)

    result = await actor(loket).gql(CONSENTS, {"id": str(household.id)})

    assert result["data"] == {"household": {"consents": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["household", "consents"], "FORBIDDEN")
    ]


async def test_household_consents_as_another_parent_is_null(actor: Any) -> None:
    muni = await leuven()
    user, household, _ = await parent_with_household(muni)
    await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    other = await outsider("parent", muni)

    result = await actor(other).gql(CONSENTS, {"id": str(household.id)})

    assert result == {"data": {"household": None}}


# consentedContacts


async def consenting_parents(muni: Any, actor: Any, n: int) -> list[Parent]:
    parents = []
    for i in range(n):
        user, _, parent = await parent_with_household(
            muni, first_name=f"Ouder{i}", last_name=f"Familie{i}", email=f"ouder{i}@example.test"
        )
        await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
        parents.append(parent)
    return sorted(parents, key=lambda p: str(p.id))


async def test_consented_contacts_as_admin_lists_active_consents_and_logs_the_read(
    actor: Any,
) -> None:
    # given: one parent consented, one revoked, one consented to another purpose only
    muni = await leuven()
    [consenting] = await consenting_parents(muni, actor, 1)
    revoked_user, _, _ = await parent_with_household(muni)
    await actor(revoked_user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    await actor(revoked_user).gql(REVOKE, {"input": {"purpose": "RESEARCH_CONTACT"}})
    news_user, _, _ = await parent_with_household(muni)
    await actor(news_user).gql(GRANT, {"input": {"purpose": "CHILDCARE_NEWS"}})
    admin = await f.user(Role.ADMIN)

    # when
    result = await actor(admin).gql(
        CONTACTS, {"purpose": "RESEARCH_CONTACT", "first": 10, "after": None}
    )

    # then
    [since] = await event_times(consenting, "RESEARCH_CONTACT")
    cursor = result["data"]["consentedContacts"]["edges"][0]["cursor"]
    assert result == {
        "data": {
            "consentedContacts": {
                "edges": [
                    {
                        "cursor": cursor,
                        "node": {
                            "id": str(consenting.id),
                            "firstName": "Ouder0",
                            "lastName": "Familie0",
                            "email": "ouder0@example.test",
                            "since": since,
                        },
                    }
                ],
                "pageInfo": {"hasNextPage": False, "endCursor": cursor},
            }
        }
    }
    row = await AccessLogEntry.get()
    assert (row.viewer_id, row.role, row.grant_name, row.household_id, row.operation_name) == (  # type: ignore[attr-defined]
        admin.id,
        "ADMIN",
        "ADMIN",
        consenting.household_id,  # type: ignore[attr-defined]
        "Contacts",
    )
    fields = row.fields_read if isinstance(row.fields_read, list) else json.loads(row.fields_read)
    assert sorted(fields) == [
        "ConsentedContact.email",
        "ConsentedContact.firstName",
        "ConsentedContact.lastName",
        "ConsentedContact.since",
    ]


async def test_consented_contacts_as_admin_drops_a_parent_as_soon_as_they_revoke(
    actor: Any,
) -> None:
    # given
    muni = await leuven()
    user, _, parent = await parent_with_household(muni)
    await actor(user).gql(GRANT, {"input": {"purpose": "RESEARCH_CONTACT"}})
    admin = actor(await f.user(Role.ADMIN))
    variables = {"purpose": "RESEARCH_CONTACT", "first": 10, "after": None}
    before = await admin.gql(CONTACTS, variables)

    # when
    await actor(user).gql(REVOKE, {"input": {"purpose": "RESEARCH_CONTACT"}})

    # then
    after = await admin.gql(CONTACTS, variables)
    assert [e["node"]["id"] for e in before["data"]["consentedContacts"]["edges"]] == [
        str(parent.id)
    ]
    assert after["data"]["consentedContacts"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_consented_contacts_as_admin_pages_through_all(actor: Any) -> None:
    # given
    parents = await consenting_parents(await leuven(), actor, 3)
    admin = actor(await f.user(Role.ADMIN))

    # when
    first = await admin.gql(CONTACTS, {"purpose": "RESEARCH_CONTACT", "first": 2, "after": None})
    page = first["data"]["consentedContacts"]
    second = await admin.gql(
        CONTACTS,
        {"purpose": "RESEARCH_CONTACT", "first": 2, "after": page["pageInfo"]["endCursor"]},
    )

    # then
    assert [e["node"]["id"] for e in page["edges"]] == [str(p.id) for p in parents[:2]]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = second["data"]["consentedContacts"]
    assert [e["node"]["id"] for e in rest["edges"]] == [str(parents[2].id)]
    assert rest["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("who", ["anonymous", "parent", "toeleider", "loket", "provider"])
async def test_consented_contacts_as_non_admin_is_forbidden(actor: Any, who: str) -> None:
    # given
    muni = await leuven()
    await consenting_parents(muni, actor, 1)
    user = await outsider(who, muni)

    # when
    result = await actor(user).gql(
        CONTACTS, {"purpose": "RESEARCH_CONTACT", "first": 10, "after": None}
    )

    # then
    assert_forbidden(result, "consentedContacts")
    assert await AccessLogEntry.all().count() == 0


async def test_consent_state_follows_the_ledger_order_not_the_clock(actor: Any) -> None:
    # given: a revocation written after a grant, stamped earlier (a transaction that
    # began first but reached the lock last)
    import datetime

    muni = await leuven()
    user, household, parent = await parent_with_household(muni)
    now = datetime.datetime.now(datetime.UTC)
    for action, at in (("GRANTED", now), ("REVOKED", now - datetime.timedelta(seconds=1))):
        await ConsentEvent.create(
            household=household, parent=parent, purpose="RESEARCH_CONTACT", action=action, at=at
        )
    admin = await f.user(Role.ADMIN)

    # when
    mine = await actor(user).gql(CONSENTS, {"id": str(household.id)})
    listed = await actor(admin).gql(CONTACTS, {"purpose": "RESEARCH_CONTACT", "first": 10})

    # then: the last written event decides
    assert [c["active"] for c in mine["data"]["household"]["consents"]] == [False]
    assert listed["data"]["consentedContacts"]["edges"] == []
