"""The family's answers on a request: withdraw it or one location, accept or decline an
offer (enrolment, closing the other applications, capacity under concurrency), correct
it, choose more locations; and the dashboard's next steps."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass
from typing import Any

from models.access_log import AccessLogEntry
from models.accounts import Role
from models.requests import Application, CareRequest, Enrolment
from tests import factories as f
from tests.assertions import assert_forbidden

FIELDS = """careRequest { id status closedAt onEmergencyList
      applications { id preference status offeredStartDate replyDeadline location { id } } }
    errors { field code message }"""


def mutation(name: str, input_type: str) -> str:
    return f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {FIELDS} }} }}"


WITHDRAW = mutation("withdrawCareRequest", "WithdrawCareRequestInput")
WITHDRAW_ONE = mutation("withdrawApplication", "WithdrawApplicationInput")
ACCEPT = mutation("acceptOffer", "AnswerOfferInput")
DECLINE = mutation("declineOffer", "AnswerOfferInput")
UPDATE = mutation("updateCareRequest", "UpdateCareRequestInput")
ADD = mutation("addChosenLocations", "AddChosenLocationsInput")
NEXT_STEPS = """{ myHousehold { nextSteps { kind message deadline childId requestId
    applicationId } } }"""


@dataclass
class Dossier:
    household: Any
    parent: Any
    child: Any
    user: Any
    request: Any
    locations: list[Any]
    applications: list[Any]


async def dossier(
    muni: Any = None, *, locations: int = 3, start: datetime.date | None = None, capacity: int = 18
) -> Dossier:
    muni = muni or await f.municipality("24062", "Leuven")
    user = await f.user(Role.PARENT)
    h, p = await f.household(muni, user)
    c = await f.child(h, born=f.days(-200), rrn=f.make_rrn(f.days(-200), 40 + len(str(h.id)) % 7))
    locs = [await f.location(muni, capacity=capacity) for _ in range(locations)]
    r = await f.care_request(c, *locs, start=start)
    apps = list(await Application.filter(request=r).order_by("preference"))
    return Dossier(h, p, c, user, r, locs, apps)


async def offer(application: Any, *, start: int = 100, deadline: int | None = 7) -> None:
    """A provider's offer, set in the data (the provider answer API is the providers issue's)."""
    application.status = "OFFERED"
    application.offered_start_date = f.days(start)
    application.reply_deadline = None if deadline is None else f.days(deadline)
    await application.save()


def payload(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"][name]
    return data


def codes(result: dict[str, Any], name: str) -> list[tuple[list[str], str]]:
    data = payload(result, name)
    assert data["careRequest"] is None
    return [(e["field"], e["code"]) for e in data["errors"]]


async def statuses(d: Dossier) -> tuple[str, list[str]]:
    r = await CareRequest.get(id=d.request.id)
    apps = await Application.filter(request_id=d.request.id).order_by("preference")
    return r.status, [a.status for a in apps]


# withdrawCareRequest


async def test_withdraw_care_request_as_parent(actor: Any) -> None:
    # given: an open request on the emergency list, one location already refused
    d = await dossier(start=f.days(20))
    d.applications[2].status = "REFUSED"
    await d.applications[2].save()

    # when
    result = await actor(d.user).gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    # then: the open applications are withdrawn, the refusal stays, the list is left
    data = payload(result, "withdrawCareRequest")["careRequest"]
    assert data["status"] == "WITHDRAWN"
    assert data["closedAt"] is not None
    assert data["onEmergencyList"] is False
    assert [a["status"] for a in data["applications"]] == ["WITHDRAWN", "WITHDRAWN", "REFUSED"]


async def test_withdraw_care_request_as_parent_twice_is_not_open(actor: Any) -> None:
    d = await dossier()
    client = actor(d.user)
    await client.gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    result = await client.gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    assert codes(result, "withdrawCareRequest") == [(["input", "requestId"], "NOT_OPEN")]


async def test_withdraw_care_request_as_toeleider_with_mandate(actor: Any) -> None:
    d = await dossier()
    org = await f.referral_organisation()
    await f.mandate(d.household, d.parent, org)
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)

    result = await actor(worker).gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    assert payload(result, "withdrawCareRequest")["careRequest"]["status"] == "WITHDRAWN"


async def test_withdraw_care_request_as_other_parent_is_not_found(actor: Any) -> None:
    d = await dossier()
    other = await dossier(d.household.municipality)

    result = await actor(other.user).gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    assert codes(result, "withdrawCareRequest") == [(["input", "requestId"], "NOT_FOUND")]
    assert await statuses(d) == ("OPEN", ["PENDING"] * 3)


async def test_withdraw_care_request_as_toeleider_with_revoked_mandate_is_not_found(
    actor: Any,
) -> None:
    d = await dossier()
    org = await f.referral_organisation()
    await f.mandate(d.household, d.parent, org, revoked_at=datetime.datetime.now(datetime.UTC))
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)

    result = await actor(worker).gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    assert codes(result, "withdrawCareRequest") == [(["input", "requestId"], "NOT_FOUND")]
    assert await statuses(d) == ("OPEN", ["PENDING"] * 3)


async def test_withdraw_care_request_as_provider_is_forbidden(actor: Any) -> None:
    d = await dossier()
    provider = await f.user(Role.PROVIDER, provider_location=d.locations[0])

    result = await actor(provider).gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    assert_forbidden(result, "withdrawCareRequest")
    assert await statuses(d) == ("OPEN", ["PENDING"] * 3)


async def test_withdraw_care_request_as_anonymous_is_forbidden(actor: Any) -> None:
    d = await dossier()

    result = await actor(None).gql(WITHDRAW, {"i": {"requestId": str(d.request.id)}})

    assert_forbidden(result, "withdrawCareRequest")
    assert await statuses(d) == ("OPEN", ["PENDING"] * 3)


async def test_withdraw_care_request_as_parent_with_malformed_id_is_not_found(actor: Any) -> None:
    d = await dossier()

    result = await actor(d.user).gql(WITHDRAW, {"i": {"requestId": "not-a-uuid"}})

    assert codes(result, "withdrawCareRequest") == [(["input", "requestId"], "NOT_FOUND")]


# withdrawApplication


async def test_withdraw_application_as_parent(actor: Any) -> None:
    d = await dossier()

    result = await actor(d.user).gql(
        WITHDRAW_ONE, {"i": {"applicationId": str(d.applications[1].id)}}
    )

    data = payload(result, "withdrawApplication")["careRequest"]
    assert data["status"] == "OPEN"
    assert [a["status"] for a in data["applications"]] == ["PENDING", "WITHDRAWN", "PENDING"]


async def test_withdraw_application_as_parent_last_open_location_is_refused(actor: Any) -> None:
    # given: two of three locations already answered no
    d = await dossier()
    for a in d.applications[1:]:
        a.status = "REFUSED"
        await a.save()

    result = await actor(d.user).gql(
        WITHDRAW_ONE, {"i": {"applicationId": str(d.applications[0].id)}}
    )

    assert codes(result, "withdrawApplication") == [
        (["input", "applicationId"], "LAST_OPEN_LOCATION")
    ]
    assert await statuses(d) == ("OPEN", ["PENDING", "REFUSED", "REFUSED"])


async def test_withdraw_application_as_parent_not_open_there(actor: Any) -> None:
    d = await dossier()
    d.applications[0].status = "REFUSED"
    await d.applications[0].save()

    result = await actor(d.user).gql(
        WITHDRAW_ONE, {"i": {"applicationId": str(d.applications[0].id)}}
    )

    assert codes(result, "withdrawApplication") == [(["input", "applicationId"], "NOT_OPEN")]


async def test_withdraw_application_as_loket_is_forbidden(actor: Any) -> None:
    d = await dossier()
    counter = await f.counter("Loket Leuven", d.household.municipality)
    staff = await f.user(Role.LOKET, counter=counter)

    result = await actor(staff).gql(
        WITHDRAW_ONE, {"i": {"applicationId": str(d.applications[0].id)}}
    )

    assert_forbidden(result, "withdrawApplication")
    assert await statuses(d) == ("OPEN", ["PENDING"] * 3)


# acceptOffer


async def test_accept_offer_as_parent_enrols_and_closes_the_other_applications(
    actor: Any,
) -> None:
    # given: the second location offers a place; the third waitlisted, the first refused
    d = await dossier(start=f.days(30))
    await offer(d.applications[1], start=40)
    d.applications[0].status = "REFUSED"
    await d.applications[0].save()
    d.applications[2].status = "WAITLISTED"
    await d.applications[2].save()
    other_provider = await f.user(Role.PROVIDER, provider_location=d.locations[2])
    assert (
        await actor(other_provider).gql(
            "query($id: ID!) { household(id: $id) { id } }", {"id": str(d.household.id)}
        )
    )["data"]["household"] is not None

    # when
    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[1].id)}})

    # then
    data = payload(result, "acceptOffer")["careRequest"]
    assert data["status"] == "FULFILLED"
    assert data["onEmergencyList"] is False
    assert [a["status"] for a in data["applications"]] == ["REFUSED", "ENROLLED", "CLOSED"]
    enrolments = await Enrolment.all().values("child_id", "location_id", "start_date", "request_id")
    assert enrolments == [
        {
            "child_id": d.child.id,
            "location_id": d.locations[1].id,
            "start_date": f.days(40),
            "request_id": d.request.id,
        }
    ]
    # only the enrolling location keeps access
    other = await actor(other_provider).gql(
        "query($id: ID!) { household(id: $id) { id } }", {"id": str(d.household.id)}
    )
    assert other == {"data": {"household": None}}
    enrolling = await f.user(Role.PROVIDER, provider_location=d.locations[1])
    seen = await actor(enrolling).gql(
        "query($id: ID!) { household(id: $id) { viewerGrant } }", {"id": str(d.household.id)}
    )
    assert seen == {"data": {"household": {"viewerGrant": "PROVIDER_ENROLLED"}}}


async def test_accept_offer_as_parent_without_offer_is_not_offered(actor: Any) -> None:
    d = await dossier()

    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}})

    assert codes(result, "acceptOffer") == [(["input", "applicationId"], "NOT_OFFERED")]
    assert await Enrolment.all().count() == 0
    assert await statuses(d) == ("OPEN", ["PENDING"] * 3)


async def test_accept_offer_as_parent_after_the_deadline_is_expired(actor: Any) -> None:
    d = await dossier()
    await offer(d.applications[0], deadline=-1)

    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}})

    assert codes(result, "acceptOffer") == [(["input", "applicationId"], "OFFER_EXPIRED")]
    assert await Enrolment.all().count() == 0


async def test_accept_offer_as_parent_at_a_full_location_is_refused(actor: Any) -> None:
    # given: capacity 1, taken in the start month by another child
    d = await dossier(capacity=1)
    await offer(d.applications[0], start=100)
    h2, _ = await f.household(d.household.municipality)
    other_child = await f.child(h2, born=f.days(-100))
    await f.enrolment(other_child, d.locations[0], start=f.days(-10))

    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}})

    assert codes(result, "acceptOffer") == [(["input", "applicationId"], "LOCATION_FULL")]
    assert await Enrolment.filter(child_id=d.child.id).count() == 0
    assert await statuses(d) == ("OPEN", ["OFFERED", "PENDING", "PENDING"])


async def test_accept_offer_as_parent_when_a_place_ended_before_the_month_is_allowed(
    actor: Any,
) -> None:
    # given: capacity 1, but the other child left before the start month
    d = await dossier(capacity=1)
    await offer(d.applications[0], start=100)
    h2, _ = await f.household(d.household.municipality)
    other_child = await f.child(h2, born=f.days(-400))
    await f.enrolment(other_child, d.locations[0], start=f.days(-300), end_date=f.days(-5))

    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}})

    assert payload(result, "acceptOffer")["careRequest"]["status"] == "FULFILLED"


async def test_accept_offer_concurrently_never_exceeds_capacity(actor: Any) -> None:
    # given: six families offered a place at one location with two places
    muni = await f.municipality("24062", "Leuven")
    loc = await f.location(muni, capacity=2)
    families = []
    for i in range(6):
        user = await f.user(Role.PARENT)
        h, _ = await f.household(muni, user)
        c = await f.child(h, born=f.days(-100 - i))
        r = await f.care_request(c, loc)
        a = await Application.get(request=r)
        await offer(a, start=60)
        families.append((user, a))

    # when: all accept at the same time
    results = await asyncio.gather(
        *(actor(u).gql(ACCEPT, {"i": {"applicationId": str(a.id)}}) for u, a in families)
    )

    # then: exactly two enrolled, the others told the location is full
    outcomes = sorted(
        "OK"
        if r["data"]["acceptOffer"]["careRequest"]
        else r["data"]["acceptOffer"]["errors"][0]["code"]
        for r in results
    )
    assert outcomes == ["LOCATION_FULL"] * 4 + ["OK"] * 2
    assert await Enrolment.filter(location_id=loc.id).count() == 2


async def test_accept_offer_as_provider_is_forbidden(actor: Any) -> None:
    d = await dossier()
    await offer(d.applications[0])
    provider = await f.user(Role.PROVIDER, provider_location=d.locations[0])

    result = await actor(provider).gql(ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}})

    assert_forbidden(result, "acceptOffer")
    assert await Enrolment.all().count() == 0


async def test_accept_offer_as_other_parent_is_not_found(actor: Any) -> None:
    d = await dossier()
    await offer(d.applications[0])
    other = await dossier(d.household.municipality)

    result = await actor(other.user).gql(
        ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}}
    )

    assert codes(result, "acceptOffer") == [(["input", "applicationId"], "NOT_FOUND")]
    assert await Enrolment.all().count() == 0


# declineOffer


async def test_decline_offer_as_parent(actor: Any) -> None:
    d = await dossier()
    await offer(d.applications[0])

    result = await actor(d.user).gql(DECLINE, {"i": {"applicationId": str(d.applications[0].id)}})

    data = payload(result, "declineOffer")["careRequest"]
    assert data["status"] == "OPEN"
    assert [a["status"] for a in data["applications"]] == ["DECLINED", "PENDING", "PENDING"]


async def test_decline_offer_as_parent_without_offer(actor: Any) -> None:
    d = await dossier()

    result = await actor(d.user).gql(DECLINE, {"i": {"applicationId": str(d.applications[0].id)}})

    assert codes(result, "declineOffer") == [(["input", "applicationId"], "NOT_OFFERED")]


async def test_decline_offer_as_sick_child_service_is_forbidden(actor: Any) -> None:
    d = await dossier()
    await offer(d.applications[0])
    service = await f.sick_child_service()
    await f.service_record(service, d.child)
    staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)

    result = await actor(staff).gql(DECLINE, {"i": {"applicationId": str(d.applications[0].id)}})

    assert_forbidden(result, "declineOffer")
    assert await statuses(d) == ("OPEN", ["OFFERED", "PENDING", "PENDING"])


# updateCareRequest


async def test_update_care_request_as_parent(actor: Any) -> None:
    d = await dossier()
    new_start = f.days(200)

    result = await actor(d.user).gql(
        UPDATE,
        {
            "i": {
                "requestId": str(d.request.id),
                "desiredStartDate": new_start.isoformat(),
                "carePattern": [{"day": "FRI", "part": "AFTERNOON"}],
            }
        },
    )

    assert payload(result, "updateCareRequest")["errors"] == []
    r = await CareRequest.get(id=d.request.id)
    assert (r.desired_start_date, r.care_pattern, r.note) == (new_start, {"FRI": "AFTERNOON"}, "")


async def test_update_care_request_as_parent_with_invalid_input(actor: Any) -> None:
    d = await dossier()

    result = await actor(d.user).gql(
        UPDATE,
        {
            "i": {
                "requestId": str(d.request.id),
                "desiredStartDate": f.days(-1).isoformat(),
                "carePattern": [],
                "note": "x" * 2001,
            }
        },
    )

    assert codes(result, "updateCareRequest") == [
        (["input", "desiredStartDate"], "DATE_NOT_IN_FUTURE"),
        (["input", "carePattern"], "REQUIRED"),
        (["input", "note"], "TOO_LONG"),
    ]
    r = await CareRequest.get(id=d.request.id)
    assert r.desired_start_date == d.request.desired_start_date


async def test_update_care_request_as_parent_when_fulfilled_is_not_open(actor: Any) -> None:
    d = await dossier()
    await CareRequest.filter(id=d.request.id).update(status="FULFILLED")

    result = await actor(d.user).gql(UPDATE, {"i": {"requestId": str(d.request.id), "note": "x"}})

    assert codes(result, "updateCareRequest") == [(["input", "requestId"], "NOT_OPEN")]


# addChosenLocations


async def test_add_chosen_locations_as_parent(actor: Any) -> None:
    d = await dossier(locations=2)
    extra = await f.location(d.household.municipality)

    result = await actor(d.user).gql(
        ADD, {"i": {"requestId": str(d.request.id), "locationIds": [str(extra.id)]}}
    )

    apps = payload(result, "addChosenLocations")["careRequest"]["applications"]
    assert [(a["preference"], a["location"]["id"], a["status"]) for a in apps] == [
        (1, str(d.locations[0].id), "PENDING"),
        (2, str(d.locations[1].id), "PENDING"),
        (3, str(extra.id), "PENDING"),
    ]


async def test_add_chosen_locations_as_parent_already_chosen_or_too_many(actor: Any) -> None:
    d = await dossier(locations=2)
    client = actor(d.user)
    too_many = [str((await f.location(d.household.municipality)).id) for _ in range(9)]

    chosen = await client.gql(
        ADD, {"i": {"requestId": str(d.request.id), "locationIds": [str(d.locations[0].id)]}}
    )
    over = await client.gql(ADD, {"i": {"requestId": str(d.request.id), "locationIds": too_many}})

    assert codes(chosen, "addChosenLocations") == [(["input", "locationIds"], "ALREADY_CHOSEN")]
    assert codes(over, "addChosenLocations") == [(["input", "locationIds"], "COUNT")]
    assert await Application.filter(request_id=d.request.id).count() == 2


# nextSteps (the dashboard)


async def test_next_steps_as_parent(actor: Any) -> None:
    # given: an offer with a deadline, an unborn child past its expected date without a
    # request, and an open request elsewhere still waiting
    d = await dossier()
    await offer(d.applications[0], start=100, deadline=5)
    late = await f.child(d.household, expected=f.days(-2), first_name="Mila")

    result = await actor(d.user).gql(NEXT_STEPS)

    steps = result["data"]["myHousehold"]["nextSteps"]
    assert [(s["kind"], s["deadline"], s["childId"], s["applicationId"]) for s in steps] == [
        ("REPLY_TO_OFFER", f.days(5).isoformat(), str(d.child.id), str(d.applications[0].id)),
        ("RECORD_BIRTH", None, str(late.id), None),
        ("FILE_REQUEST", None, str(late.id), None),
        ("WAIT_FOR_ANSWERS", None, str(d.child.id), None),
    ]
    assert "accept or decline by" in steps[0]["message"]
    assert "Mila" in steps[1]["message"]


async def test_next_steps_as_parent_when_every_location_said_no(actor: Any) -> None:
    d = await dossier(locations=2)
    for a in d.applications:
        a.status = "REFUSED"
        await a.save()

    result = await actor(d.user).gql(NEXT_STEPS)

    kinds = [s["kind"] for s in result["data"]["myHousehold"]["nextSteps"]]
    assert kinds == ["CHOOSE_MORE_LOCATIONS"]


async def test_next_steps_as_provider_is_forbidden(actor: Any) -> None:
    d = await dossier()
    provider = await f.user(Role.PROVIDER, provider_location=d.locations[0])

    result = await actor(provider).gql(
        "query($id: ID!) { household(id: $id) { nextSteps { kind } } }",
        {"id": str(d.household.id)},
    )

    assert result["data"] == {"household": {"nextSteps": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["household", "nextSteps"], "FORBIDDEN")
    ]


async def test_withdraw_application_concurrently_keeps_one_location_open(actor: Any) -> None:
    # given: two open locations, both withdrawn at the same time
    d = await dossier(locations=2)
    client = actor(d.user)

    results = await asyncio.gather(
        *(client.gql(WITHDRAW_ONE, {"i": {"applicationId": str(a.id)}}) for a in d.applications)
    )

    outcomes = sorted(
        [e["code"] for e in r["data"]["withdrawApplication"]["errors"]] for r in results
    )
    assert outcomes == [[], ["LAST_OPEN_LOCATION"]]
    assert sorted((await statuses(d))[1]) == ["PENDING", "WITHDRAWN"]


async def test_update_care_request_as_provider_is_forbidden(actor: Any) -> None:
    d = await dossier()
    provider = await f.user(Role.PROVIDER, provider_location=d.locations[0])

    result = await actor(provider).gql(UPDATE, {"i": {"requestId": str(d.request.id), "note": "x"}})

    assert_forbidden(result, "updateCareRequest")
    assert (await CareRequest.get(id=d.request.id)).note == ""


async def test_update_care_request_as_other_parent_is_not_found(actor: Any) -> None:
    d = await dossier()
    other = await dossier(d.household.municipality)

    result = await actor(other.user).gql(
        UPDATE, {"i": {"requestId": str(d.request.id), "note": "x"}}
    )

    assert codes(result, "updateCareRequest") == [(["input", "requestId"], "NOT_FOUND")]
    assert (await CareRequest.get(id=d.request.id)).note == ""


async def test_add_chosen_locations_as_parent_with_unknown_or_repeated_location(
    actor: Any,
) -> None:
    d = await dossier(locations=1)
    extra = await f.location(d.household.municipality)
    client = actor(d.user)
    rid = str(d.request.id)

    unknown = await client.gql(ADD, {"i": {"requestId": rid, "locationIds": [str(d.household.id)]}})
    repeated = await client.gql(ADD, {"i": {"requestId": rid, "locationIds": [str(extra.id)] * 2}})
    malformed = await client.gql(ADD, {"i": {"requestId": rid, "locationIds": ["nope"]}})

    assert codes(unknown, "addChosenLocations") == [(["input", "locationIds"], "NOT_FOUND")]
    assert codes(repeated, "addChosenLocations") == [
        (["input", "locationIds"], "DUPLICATE_LOCATION")
    ]
    assert codes(malformed, "addChosenLocations") == [(["input", "locationIds"], "NOT_FOUND")]
    assert await Application.filter(request_id=d.request.id).count() == 1


async def test_add_chosen_locations_as_loket_of_the_region_helps_the_family(
    actor: Any,
) -> None:
    # given: counter staff of the family's region; another counter elsewhere
    d = await dossier(locations=1)
    extra = await f.location(d.household.municipality)
    counter = await f.counter("Loket Leuven", d.household.municipality)
    staff = await f.user(Role.LOKET, counter=counter)
    elsewhere = await f.counter("Loket Mechelen", await f.municipality("12025", "Mechelen"))
    other = await f.user(Role.LOKET, counter=elsewhere)
    variables = {"i": {"requestId": str(d.request.id), "locationIds": [str(extra.id)]}}

    # when
    subset = (
        "mutation($i: AddChosenLocationsInput!) { addChosenLocations(input: $i) {"
        " careRequest { preferredLocations { id } } errors { field code } } }"
    )
    outside = await actor(other).gql(subset, variables)
    helped = await actor(staff).gql(subset, variables)

    # then: the counter sees the list of preferred providers, its own subset
    assert outside["data"]["addChosenLocations"]["errors"] == [
        {"field": ["input", "requestId"], "code": "NOT_FOUND"}
    ]
    assert payload(helped, "addChosenLocations")["careRequest"]["preferredLocations"] == [
        {"id": str(d.locations[0].id)},
        {"id": str(extra.id)},
    ]


async def test_add_chosen_locations_as_toeleider_with_mandate(actor: Any) -> None:
    d = await dossier(locations=1)
    extra = await f.location(d.household.municipality)
    org = await f.referral_organisation()
    await f.mandate(d.household, d.parent, org)
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)

    result = await actor(worker).gql(
        ADD, {"i": {"requestId": str(d.request.id), "locationIds": [str(extra.id)]}}
    )

    assert [
        a["preference"]
        for a in payload(result, "addChosenLocations")["careRequest"]["applications"]
    ] == [1, 2]


async def test_accept_offer_as_parent_when_a_later_enrolment_takes_the_place_is_refused(
    actor: Any,
) -> None:
    # given: one place, already promised from a later month on; a new open-ended place
    # starting earlier would overlap it from that month
    d = await dossier(capacity=1)
    await offer(d.applications[0], start=60)
    h2, _ = await f.household(d.household.municipality)
    later = await f.child(h2, born=f.days(-100))
    await f.enrolment(later, d.locations[0], start=f.days(200))

    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[0].id)}})

    assert codes(result, "acceptOffer") == [(["input", "applicationId"], "LOCATION_FULL")]
    assert await Enrolment.filter(child_id=d.child.id).count() == 0


async def test_add_chosen_locations_concurrently_never_exceeds_the_maximum(actor: Any) -> None:
    # given: 3 chosen, 3 parallel calls adding 7 different locations each (maximum 10)
    d = await dossier(locations=3)
    extra = [await f.location(d.household.municipality) for _ in range(21)]
    client = actor(d.user)

    results = await asyncio.gather(
        *(
            client.gql(
                ADD,
                {
                    "i": {
                        "requestId": str(d.request.id),
                        "locationIds": [str(x.id) for x in extra[7 * n : 7 * n + 7]],
                    }
                },
            )
            for n in range(3)
        )
    )

    # then: one call fits, the others are told the count is over
    outcomes = sorted(
        [e["code"] for e in r["data"]["addChosenLocations"]["errors"]] for r in results
    )
    assert outcomes == [[], ["COUNT"], ["COUNT"]]
    assert await Application.filter(request_id=d.request.id).count() == 10


async def test_add_chosen_locations_as_parent_when_every_location_said_no(actor: Any) -> None:
    # given: the maximum reached, but every location refused
    d = await dossier(locations=10)
    await Application.filter(request_id=d.request.id).update(status="REFUSED")
    extra = await f.location(d.household.municipality)

    result = await actor(d.user).gql(
        ADD, {"i": {"requestId": str(d.request.id), "locationIds": [str(extra.id)]}}
    )

    # then: the refusals leave room for a new choice
    assert payload(result, "addChosenLocations")["errors"] == []
    assert await Application.filter(request_id=d.request.id, status="PENDING").count() == 1


async def test_accept_offer_as_parent_while_holding_a_place_that_ends_later_is_refused(
    actor: Any,
) -> None:
    # given: the child holds a place until day 200; another location offers from day 100
    d = await dossier(locations=2)
    await f.enrolment(d.child, d.locations[0], start=f.days(-100), end_date=f.days(200))
    await offer(d.applications[1], start=100)

    result = await actor(d.user).gql(ACCEPT, {"i": {"applicationId": str(d.applications[1].id)}})

    assert codes(result, "acceptOffer") == [(["input", "applicationId"], "ALREADY_ENROLLED")]
    assert await Enrolment.filter(child_id=d.child.id).count() == 1


async def test_withdrawn_emergency_list_offer_does_not_become_a_chosen_location(
    actor: Any,
) -> None:
    # given: an emergency-list request; a location it did not choose offers, then withdraws
    d = await dossier(locations=1, start=f.days(20))
    other = await f.location(d.household.municipality)
    provider = actor(await f.user(Role.PROVIDER, provider_location=other))
    offered = await provider.gql(
        "mutation($i: OfferPlaceInput!) { offerPlace(input: $i) {"
        " application { id status } errors { code } } }",
        {"i": {"requestId": str(d.request.id), "locationId": str(other.id)}},
    )
    application = offered["data"]["offerPlace"]["application"]

    withdrawn = await provider.gql(
        "mutation($i: WithdrawOfferInput!) { withdrawOffer(input: $i) {"
        " application { status } errors { code } } }",
        {"i": {"applicationId": application["id"]}},
    )

    # then: the application ends, and the family's choices are unchanged
    assert withdrawn["data"]["withdrawOffer"]["application"]["status"] == "CLOSED"
    mine = await actor(d.user).gql("{ myHousehold { requests { preferredLocations { id } } } }")
    assert mine["data"]["myHousehold"]["requests"][0]["preferredLocations"] == [
        {"id": str(d.locations[0].id)}
    ]


async def test_responses_to_signed_in_callers_are_never_stored_by_shared_caches(
    actor: Any,
) -> None:
    d = await dossier(locations=1)

    mine = await actor(d.user).http.get("/graphql", params={"query": "{ me { email } }"})
    public = await actor(None).http.get("/graphql", params={"query": "{ municipalities { name } }"})

    assert mine.headers["cache-control"] == "private, no-store"
    assert "Authorization" in mine.headers["vary"]
    assert "cache-control" not in public.headers


async def test_next_steps_read_by_a_referral_worker_are_in_the_access_log(actor: Any) -> None:
    # given: the steps name the child
    d = await dossier(locations=1)
    org = await f.referral_organisation()
    await f.mandate(d.household, d.parent, org)
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)

    await actor(worker).gql(
        "query($id: ID!) { household(id: $id) { nextSteps { kind message } } }",
        {"id": str(d.household.id)},
    )

    logged = await AccessLogEntry.filter(household_id=d.household.id).values_list(
        "grant_name", "fields_read"
    )
    assert logged == [("ACTIVE_MANDATE", ["Household.nextSteps"])]
