"""A provider's side of applications: offer a place (also to the emergency list), waitlist,
refuse, withdraw an offer, mark a staff member's child; the family's acceptance after it;
capacity under concurrent offers and acceptances; ending enrolments; the location's own
settings; and the yearly quota of priority and vulnerable families."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass
from typing import Any

from loket.settings import settings
from models.accounts import Role
from models.households import Parent
from models.providers import ProviderLocation
from models.requests import Application, CareRequest, Enrolment
from tests import factories as f
from tests.assertions import assert_forbidden

APPLICATION = """application { id preference status offeredStartDate replyDeadline
      location { id } }
    errors { field code }"""


def mutation(name: str, input_type: str, fields: str = APPLICATION) -> str:
    return f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {fields} }} }}"


OFFER = mutation("offerPlace", "OfferPlaceInput")
WAITLIST = mutation("waitlistApplication", "WaitlistApplicationInput")
REFUSE = mutation("refuseApplication", "RefuseApplicationInput")
WITHDRAW_OFFER = mutation("withdrawOffer", "WithdrawOfferInput")
MARK = mutation("markStaffChild", "MarkStaffChildInput")
END = mutation(
    "endEnrolment",
    "EndEnrolmentInput",
    "enrolment { id locationId startDate endDate } errors { field code }",
)
UPDATE_LOCATION = mutation(
    "updateLocation",
    "UpdateLocationInput",
    """location { id capacity minAgeMonths maxAgeMonths openingHours openingDays
      priorityPolicy priorityCriteria { criterion weight } }
    errors { field code message }""",
)
ACCEPT = mutation(
    "acceptOffer",
    "AnswerOfferInput",
    "careRequest { status applications { id status } } errors { field code }",
)
QUOTA = """query($loc: ID!, $year: Int!) {
  locationQuota(locationId: $loc, year: $year) { year enrolled counting share target met }
}"""
INBOX = """query($loc: ID!) { inbox(locationId: $loc, first: 100) {
  edges { node { rank reason request { id } application { id }
    priority { score reasons } } } } }"""
GRANT = "query($id: ID!) { household(id: $id) { viewerGrant } }"


@dataclass
class Family:
    user: Any
    household: Any
    parent: Any
    child: Any
    request: Any
    applications: list[Any]


async def family(
    muni: Any,
    *locations: Any,
    start: datetime.date | None = None,
    status: str = "OPEN",
    application_status: str = "PENDING",
    **household: Any,
) -> Family:
    """A parent with an account, one child and one request choosing `locations` in order."""
    user = await f.user(Role.PARENT)
    h, p = await f.household(muni, user, **household)
    c = await f.child(h, born=f.days(-200))
    r = await f.care_request(
        c, *locations, start=start, status=status, application_status=application_status
    )
    apps = list(await Application.filter(request=r).order_by("preference"))
    return Family(user, h, p, c, r, apps)


async def place(muni: Any, **kw: Any) -> tuple[Any, Any]:
    """A location and one staff member working there."""
    loc = await f.location(muni, **kw)
    return loc, await f.user(Role.PROVIDER, provider_location=loc)


async def partner(h: Any, muni: Any, **kw: Any) -> Parent:
    return await Parent.create(
        household=h,
        is_applicant=False,
        first_name="Partner",
        last_name="Familie",
        email=f"partner{h.id}@example.test",
        municipality=muni,
        **{**f.PARENT_DEFAULTS, **kw},
    )


async def snapshot() -> tuple[list[dict[str, Any]], ...]:
    """Every row an answer could touch, to show that a refused call changed nothing."""
    return (
        await CareRequest.all().order_by("id").values("id", "status", "closed_at"),
        await Application.all()
        .order_by("id")
        .values(
            "id",
            "request_id",
            "location_id",
            "preference",
            "status",
            "offered_start_date",
            "reply_deadline",
            "staff_child",
            "refusal_reason",
            "answered_at",
            "answered_by_id",
            "updated_at",
        ),
        await Enrolment.all()
        .order_by("id")
        .values("id", "child_id", "location_id", "start_date", "end_date"),
        await ProviderLocation.all()
        .order_by("id")
        .values(
            "id",
            "capacity",
            "min_age_months",
            "max_age_months",
            "opening_hours",
            "opening_days",
            "priority_policy",
            "priority_criteria",
        ),
    )


def payload(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"][name]
    assert data["errors"] == [], data
    return data


def codes(result: dict[str, Any], name: str) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    data = result["data"][name]
    assert [v for k, v in data.items() if k != "errors"] == [None]
    return [(e["field"], e["code"]) for e in data["errors"]]


def offered(
    app: Any, loc: Any, start: datetime.date, deadline: datetime.date, preference: int
) -> dict[str, Any]:
    return {
        "id": str(app.id),
        "preference": preference,
        "status": "OFFERED",
        "offeredStartDate": start.isoformat(),
        "replyDeadline": deadline.isoformat(),
        "location": {"id": str(loc.id)},
    }


def offer_input(r: Any, loc: Any, start: int | None = None, deadline: int | None = None) -> Any:
    i: dict[str, Any] = {"requestId": str(r.id), "locationId": str(loc.id)}
    if start is not None:
        i["startDate"] = f.days(start).isoformat()
    if deadline is not None:
        i["replyDeadline"] = f.days(deadline).isoformat()
    return {"i": i}


def app_input(app: Any, **extra: Any) -> dict[str, Any]:
    return {"i": {"applicationId": str(app.id), **extra}}


async def status_of(app: Any) -> str:
    return (await Application.get(id=app.id)).status


async def answer_of(app: Any) -> tuple[str, Any, str]:
    """(status, who answered, refusal reason) of an application; it must have been answered."""
    row = (
        await Application.filter(id=app.id).values(
            "status", "answered_by_id", "answered_at", "refusal_reason"
        )
    )[0]
    assert row["answered_at"] is not None
    return row["status"], row["answered_by_id"], row["refusal_reason"]


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


# offerPlace


async def test_offer_place_as_provider_of_a_chosen_location(actor: Any) -> None:
    # given: the family chose another location first, this one second
    muni = await f.municipality("24062", "Leuven")
    other = await f.location(muni)
    here, staff = await place(muni)
    fam = await family(muni, other, here)

    # when
    result = await actor(staff).gql(OFFER, offer_input(fam.request, here, 100, 10))

    # then
    data = payload(result, "offerPlace")
    assert data["application"] == offered(fam.applications[1], here, f.days(100), f.days(10), 2)
    assert await answer_of(fam.applications[1]) == ("OFFERED", staff.id, "")
    assert await status_of(fam.applications[0]) == "PENDING"
    assert (await CareRequest.get(id=fam.request.id)).status == "OPEN"


async def test_offer_place_as_provider_with_default_dates(actor: Any) -> None:
    # given: a desired start in 120 days
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here, start=f.days(120))

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here))

    # then: the desired start, and LOKET_OFFER_REPLY_DAYS to answer
    deadline = f.days(settings.offer_reply_days)
    assert payload(result, "offerPlace")["application"] == offered(
        fam.applications[0], here, f.days(120), deadline, 1
    )


async def test_offer_place_as_provider_with_default_dates_for_a_past_desired_start(
    actor: Any,
) -> None:
    # given: the desired start has passed; the place starts today, the family answers today
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here, start=f.days(-10))

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here))

    assert payload(result, "offerPlace")["application"] == offered(
        fam.applications[0], here, f.TODAY, f.TODAY, 1
    )


async def test_offer_place_as_provider_with_a_start_before_the_default_deadline(
    actor: Any,
) -> None:
    # given: a start sooner than the default reply time; the default deadline is the start
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here, start=f.days(120))

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here, start=5))

    assert payload(result, "offerPlace")["application"] == offered(
        fam.applications[0], here, f.days(5), f.days(5), 1
    )


async def test_offer_place_as_provider_again_changes_the_offer(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here)
    client = actor(staff)
    await client.gql(OFFER, offer_input(fam.request, here, 100, 10))

    result = await client.gql(OFFER, offer_input(fam.request, here, 110, 20))

    assert payload(result, "offerPlace")["application"] == offered(
        fam.applications[0], here, f.days(110), f.days(20), 1
    )
    assert await Application.filter(request_id=fam.request.id).count() == 1


async def test_offer_place_as_provider_to_an_emergency_request_living_here(actor: Any) -> None:
    # given: a Leuven family, start in 30 days, who chose only a location in Herent
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    elsewhere = await f.location(herent)
    here, staff = await place(leuven)
    fam = await family(leuven, elsewhere, start=f.days(30))
    client = actor(staff)
    before = await client.gql(GRANT, {"id": str(fam.household.id)})

    # when
    result = await client.gql(OFFER, offer_input(fam.request, here, 40, 7))

    # then: a new application with the next preference, offered
    app = await Application.get(request_id=fam.request.id, location_id=here.id)
    assert payload(result, "offerPlace")["application"] == offered(
        app, here, f.days(40), f.days(7), 2
    )
    assert await answer_of(app) == ("OFFERED", staff.id, "")
    assert app.staff_child is False
    assert await status_of(fam.applications[0]) == "PENDING"
    # the location now reaches the dossier through its own application
    assert before == {"data": {"household": {"viewerGrant": "PROVIDER_EMERGENCY"}}}
    after = await client.gql(GRANT, {"id": str(fam.household.id)})
    assert after == {"data": {"household": {"viewerGrant": "PROVIDER_SELECTED"}}}


async def test_offer_place_as_provider_to_an_emergency_request_choosing_this_municipality(
    actor: Any,
) -> None:
    # given: a Herent family who chose another Leuven location, start in 30 days
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    neighbour = await f.location(leuven)
    here, staff = await place(leuven)
    fam = await family(herent, neighbour, start=f.days(30))

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here))

    app = await Application.get(request_id=fam.request.id, location_id=here.id)
    assert payload(result, "offerPlace")["application"] == offered(
        app, here, f.days(30), f.days(settings.offer_reply_days), 2
    )


async def test_offer_place_as_provider_to_an_emergency_request_it_refused_before(
    actor: Any,
) -> None:
    # given: this location refused the request; it is now on the emergency list
    leuven = await f.municipality("24062", "Leuven")
    here, staff = await place(leuven)
    other = await f.location(leuven)
    fam = await family(leuven, here, other, start=f.days(30))
    fam.applications[0].status = "REFUSED"
    fam.applications[0].refusal_reason = "Vol"
    await fam.applications[0].save()

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here, 40, 7))

    # then: the same application is offered (no second one for this location)
    assert payload(result, "offerPlace")["application"] == offered(
        fam.applications[0], here, f.days(40), f.days(7), 1
    )
    assert await Application.filter(request_id=fam.request.id).count() == 2
    assert (await Application.get(id=fam.applications[0].id)).refusal_reason == ""


async def test_offer_place_as_provider_for_a_request_elsewhere_is_not_found(actor: Any) -> None:
    # given: one request not on the list yet (start in 120 days), one on the list but of
    # another municipality that chose no location here
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    here, staff = await place(leuven)
    neighbour = await f.location(leuven)
    elsewhere = await f.location(herent)
    later = await family(leuven, neighbour, start=f.days(120))
    far = await family(herent, elsewhere, start=f.days(30))
    client = actor(staff)
    before = await snapshot()

    results = [await client.gql(OFFER, offer_input(fam.request, here)) for fam in (later, far)]

    assert [codes(r, "offerPlace") for r in results] == [
        [(["input", "requestId"], "NOT_FOUND")]
    ] * 2
    assert await snapshot() == before


async def test_offer_place_as_provider_for_a_closed_request_is_not_found(actor: Any) -> None:
    # given: requests that chose this location but are fulfilled or withdrawn; both would
    # be on the emergency list by their dates if they were open
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fulfilled = await family(
        muni, here, start=f.days(10), status="FULFILLED", application_status="CLOSED"
    )
    withdrawn = await family(
        muni, here, start=f.days(10), status="WITHDRAWN", application_status="WITHDRAWN"
    )
    client = actor(staff)
    before = await snapshot()

    results = [
        await client.gql(OFFER, offer_input(fam.request, here)) for fam in (fulfilled, withdrawn)
    ]

    assert [codes(r, "offerPlace") for r in results] == [
        [(["input", "requestId"], "NOT_FOUND")]
    ] * 2
    assert await snapshot() == before


async def test_offer_place_as_provider_of_another_location_is_not_found(actor: Any) -> None:
    # given: the request chose `here`; the caller works for another location
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    _, stranger = await place(muni)
    fam = await family(muni, here, start=f.days(30))
    before = await snapshot()

    result = await actor(stranger).gql(OFFER, offer_input(fam.request, here))

    assert codes(result, "offerPlace") == [(["input", "locationId"], "NOT_FOUND")]
    assert await snapshot() == before


async def test_offer_place_as_provider_with_malformed_ids_is_not_found(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    client = actor(staff)

    bad_request = await client.gql(OFFER, {"i": {"requestId": "nope", "locationId": str(here.id)}})
    bad_location = await client.gql(OFFER, {"i": {"requestId": str(here.id), "locationId": "nope"}})

    assert codes(bad_request, "offerPlace") == [(["input", "requestId"], "NOT_FOUND")]
    assert codes(bad_location, "offerPlace") == [(["input", "locationId"], "NOT_FOUND")]
    assert await Application.all().count() == 0


async def test_offer_place_as_provider_with_dates_in_the_past(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here)
    client = actor(staff)
    before = await snapshot()

    both = await client.gql(OFFER, offer_input(fam.request, here, start=-1, deadline=-2))
    start = await client.gql(OFFER, offer_input(fam.request, here, start=-1))
    deadline = await client.gql(OFFER, offer_input(fam.request, here, deadline=-1))

    assert codes(both, "offerPlace") == [
        (["input", "startDate"], "DATE_IN_PAST"),
        (["input", "replyDeadline"], "DATE_IN_PAST"),
    ]
    assert codes(start, "offerPlace") == [(["input", "startDate"], "DATE_IN_PAST")]
    assert codes(deadline, "offerPlace") == [(["input", "replyDeadline"], "DATE_IN_PAST")]
    assert await snapshot() == before


async def test_offer_place_as_provider_with_deadline_after_start(actor: Any) -> None:
    # given: a desired start in 20 days
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here, start=f.days(20))
    client = actor(staff)
    before = await snapshot()

    # when: a deadline after the given start, and after the (default) desired start
    given = await client.gql(OFFER, offer_input(fam.request, here, start=10, deadline=11))
    default = await client.gql(OFFER, offer_input(fam.request, here, deadline=21))

    assert codes(given, "offerPlace") == [(["input", "replyDeadline"], "DEADLINE_AFTER_START")]
    assert codes(default, "offerPlace") == [(["input", "replyDeadline"], "DEADLINE_AFTER_START")]
    assert await snapshot() == before


async def test_offer_place_as_provider_at_a_full_location(actor: Any) -> None:
    # given: one place, held by a child through the start month (ending on its first day)
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, capacity=1)
    fam = await family(muni, here, start=f.days(120))
    h2, _ = await f.household(muni)
    await f.enrolment(
        await f.child(h2, born=f.days(-400)),
        here,
        start=f.days(-300),
        end_date=month_start(f.days(120)),
    )
    before = await snapshot()

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here))

    assert codes(result, "offerPlace") == [(["input", "startDate"], "LOCATION_FULL")]
    assert await snapshot() == before


async def test_offer_place_as_provider_when_a_place_ends_before_the_month(actor: Any) -> None:
    # given: one place, left the day before the start month
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, capacity=1)
    fam = await family(muni, here, start=f.days(120))
    h2, _ = await f.household(muni)
    await f.enrolment(
        await f.child(h2, born=f.days(-400)),
        here,
        start=f.days(-300),
        end_date=month_start(f.days(120)) - datetime.timedelta(days=1),
    )

    result = await actor(staff).gql(OFFER, offer_input(fam.request, here))

    assert payload(result, "offerPlace")["application"]["status"] == "OFFERED"


async def _offer_denied(actor: Any, who: Any, fam: Family, here: Any) -> None:
    before = await snapshot()

    result = await actor(who).gql(OFFER, offer_input(fam.request, here, 100, 10))

    assert_forbidden(result, "offerPlace")
    assert await snapshot() == before


async def test_offer_place_as_parent_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)

    await _offer_denied(actor, fam.user, fam, here)


async def test_offer_place_as_loket_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)
    staff = await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", muni))

    await _offer_denied(actor, staff, fam, here)


async def test_offer_place_as_toeleider_with_mandate_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)
    org = await f.referral_organisation()
    await f.mandate(fam.household, fam.parent, org)
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)

    await _offer_denied(actor, worker, fam, here)


async def test_offer_place_as_admin_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)

    await _offer_denied(actor, await f.user(Role.ADMIN), fam, here)


async def test_offer_place_as_anonymous_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)

    await _offer_denied(actor, None, fam, here)


# waitlistApplication


async def test_waitlist_application_as_provider(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here)

    result = await actor(staff).gql(WAITLIST, app_input(fam.applications[0]))

    assert payload(result, "waitlistApplication")["application"] == {
        "id": str(fam.applications[0].id),
        "preference": 1,
        "status": "WAITLISTED",
        "offeredStartDate": None,
        "replyDeadline": None,
        "location": {"id": str(here.id)},
    }
    assert await answer_of(fam.applications[0]) == ("WAITLISTED", staff.id, "")


async def test_waitlist_application_as_provider_when_not_pending(actor: Any) -> None:
    # given: one application already waitlisted, one with an offer out
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    waiting = await family(muni, here, application_status="WAITLISTED")
    offered_to = await family(muni, here, application_status="OFFERED")
    client = actor(staff)
    before = await snapshot()

    results = [
        await client.gql(WAITLIST, app_input(fam.applications[0])) for fam in (waiting, offered_to)
    ]

    assert [codes(r, "waitlistApplication") for r in results] == [
        [(["input", "applicationId"], "NOT_PENDING")]
    ] * 2
    assert await snapshot() == before


async def test_waitlist_application_as_provider_of_another_location_is_not_found(
    actor: Any,
) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    _, stranger = await place(muni)
    fam = await family(muni, here)
    before = await snapshot()

    result = await actor(stranger).gql(WAITLIST, app_input(fam.applications[0]))

    assert codes(result, "waitlistApplication") == [(["input", "applicationId"], "NOT_FOUND")]
    assert await snapshot() == before


async def test_waitlist_application_as_provider_when_closed_is_not_found(actor: Any) -> None:
    # given: an application refused here, and one of a fulfilled request still pending
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    refused = await family(muni, here, application_status="REFUSED")
    fulfilled = await family(muni, here, status="FULFILLED")
    client = actor(staff)
    before = await snapshot()

    results = [
        await client.gql(WAITLIST, app_input(fam.applications[0])) for fam in (refused, fulfilled)
    ]

    assert [codes(r, "waitlistApplication") for r in results] == [
        [(["input", "applicationId"], "NOT_FOUND")]
    ] * 2
    assert await snapshot() == before


async def test_waitlist_application_as_parent_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)
    before = await snapshot()

    result = await actor(fam.user).gql(WAITLIST, app_input(fam.applications[0]))

    assert_forbidden(result, "waitlistApplication")
    assert await snapshot() == before


# refuseApplication


async def test_refuse_application_as_provider(actor: Any) -> None:
    # given: one pending and one waitlisted application
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    pending = await family(muni, here)
    waiting = await family(muni, here, application_status="WAITLISTED")
    client = actor(staff)

    first = await client.gql(
        REFUSE, app_input(pending.applications[0], reason="  Geen plaats\n meer   vrij ")
    )
    second = await client.gql(REFUSE, app_input(waiting.applications[0], reason="x" * 500))

    assert payload(first, "refuseApplication")["application"]["status"] == "REFUSED"
    assert payload(second, "refuseApplication")["application"]["status"] == "REFUSED"
    assert await answer_of(pending.applications[0]) == (
        "REFUSED",
        staff.id,
        "Geen plaats meer vrij",
    )
    assert await answer_of(waiting.applications[0]) == ("REFUSED", staff.id, "x" * 500)
    assert (await CareRequest.get(id=pending.request.id)).status == "OPEN"


async def test_refuse_application_as_provider_without_or_with_too_long_reason(
    actor: Any,
) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here)
    client = actor(staff)
    before = await snapshot()

    empty = await client.gql(REFUSE, app_input(fam.applications[0], reason=" \n\t "))
    long = await client.gql(REFUSE, app_input(fam.applications[0], reason="x" * 501))

    assert codes(empty, "refuseApplication") == [(["input", "reason"], "REQUIRED")]
    assert codes(long, "refuseApplication") == [(["input", "reason"], "TOO_LONG")]
    assert await snapshot() == before


async def test_refuse_application_as_provider_with_offer_outstanding(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here)
    client = actor(staff)
    await client.gql(OFFER, offer_input(fam.request, here, 100, 10))
    before = await snapshot()

    result = await client.gql(REFUSE, app_input(fam.applications[0], reason="Vol"))

    assert codes(result, "refuseApplication") == [(["input", "applicationId"], "OFFER_OUTSTANDING")]
    assert await snapshot() == before


async def test_refuse_application_as_provider_of_another_location_or_closed_is_not_found(
    actor: Any,
) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    elsewhere = await f.location(muni)
    theirs = await family(muni, elsewhere)
    declined = await family(muni, here, application_status="DECLINED")
    client = actor(staff)
    before = await snapshot()

    results = [
        await client.gql(REFUSE, app_input(fam.applications[0], reason="Vol"))
        for fam in (theirs, declined)
    ]

    assert [codes(r, "refuseApplication") for r in results] == [
        [(["input", "applicationId"], "NOT_FOUND")]
    ] * 2
    assert await snapshot() == before


async def test_refuse_application_as_loket_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)
    staff = await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", muni))
    before = await snapshot()

    result = await actor(staff).gql(REFUSE, app_input(fam.applications[0], reason="Vol"))

    assert_forbidden(result, "refuseApplication")
    assert await snapshot() == before


# withdrawOffer


async def test_withdraw_offer_as_provider(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here)
    client = actor(staff)
    await client.gql(OFFER, offer_input(fam.request, here, 100, 10))

    result = await client.gql(WITHDRAW_OFFER, app_input(fam.applications[0]))

    assert payload(result, "withdrawOffer")["application"] == {
        "id": str(fam.applications[0].id),
        "preference": 1,
        "status": "PENDING",
        "offeredStartDate": None,
        "replyDeadline": None,
        "location": {"id": str(here.id)},
    }
    stored = await Application.get(id=fam.applications[0].id)
    assert (stored.status, stored.offered_start_date, stored.reply_deadline) == (
        "PENDING",
        None,
        None,
    )


async def test_withdraw_offer_as_provider_without_offer(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here, application_status="WAITLISTED")
    before = await snapshot()

    result = await actor(staff).gql(WITHDRAW_OFFER, app_input(fam.applications[0]))

    assert codes(result, "withdrawOffer") == [(["input", "applicationId"], "NOT_OFFERED")]
    assert await snapshot() == before


async def test_withdraw_offer_as_provider_of_another_location_or_closed_is_not_found(
    actor: Any,
) -> None:
    # given: an offer of another location, and an offer here of a withdrawn request
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    elsewhere = await f.location(muni)
    theirs = await family(muni, elsewhere, application_status="OFFERED")
    withdrawn = await family(muni, here, status="WITHDRAWN", application_status="OFFERED")
    client = actor(staff)
    before = await snapshot()

    results = [
        await client.gql(WITHDRAW_OFFER, app_input(fam.applications[0]))
        for fam in (theirs, withdrawn)
    ]

    assert [codes(r, "withdrawOffer") for r in results] == [
        [(["input", "applicationId"], "NOT_FOUND")]
    ] * 2
    assert await snapshot() == before


async def test_withdraw_offer_as_toeleider_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here, application_status="OFFERED")
    org = await f.referral_organisation()
    await f.mandate(fam.household, fam.parent, org)
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)
    before = await snapshot()

    result = await actor(worker).gql(WITHDRAW_OFFER, app_input(fam.applications[0]))

    assert_forbidden(result, "withdrawOffer")
    assert await snapshot() == before


# markStaffChild


async def test_mark_staff_child_as_provider_ranks_it_by_the_own_criterion(actor: Any) -> None:
    # given: a location whose own policy weighs staff children; two alike families, the
    # first one filed earlier
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    here.priority_criteria = [{"criterion": "STAFF_CHILD", "weight": 50}]
    await here.save()
    early = await family(muni, here)
    late = await family(muni, here)
    await CareRequest.filter(id=early.request.id).update(
        submitted_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    )
    client = actor(staff)
    ranked = await client.gql(INBOX, {"loc": str(here.id)})
    assert [e["node"]["request"]["id"] for e in ranked["data"]["inbox"]["edges"]] == [
        str(early.request.id),
        str(late.request.id),
    ]

    # when: the later family's child is marked
    result = await client.gql(MARK, app_input(late.applications[0], staffChild=True))

    # then
    assert payload(result, "markStaffChild")["application"]["status"] == "PENDING"
    assert (await Application.get(id=late.applications[0].id)).staff_child is True
    inbox = await client.gql(INBOX, {"loc": str(here.id)})
    nodes = [e["node"] for e in inbox["data"]["inbox"]["edges"]]
    assert [(n["rank"], n["request"]["id"], n["priority"]["score"]) for n in nodes] == [
        (1, str(late.request.id), 150),
        (2, str(early.request.id), 100),
    ]
    assert nodes[0]["priority"]["reasons"] == [
        "work situation: absolute priority",
        "low income",
        "own policy: child of a staff member (+50)",
        "requested this month",
    ]


async def test_mark_staff_child_as_provider_without_the_criterion_does_not_rank(
    actor: Any,
) -> None:
    # given: a location whose own policy does not weigh staff children
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    here.priority_criteria = [{"criterion": "SIBLING", "weight": 50}]
    await here.save()
    fam = await family(muni, here)
    client = actor(staff)

    result = await client.gql(MARK, app_input(fam.applications[0], staffChild=True))

    assert payload(result, "markStaffChild")["application"]["status"] == "PENDING"
    inbox = await client.gql(INBOX, {"loc": str(here.id)})
    assert [e["node"]["priority"] for e in inbox["data"]["inbox"]["edges"]] == [
        {
            "score": 100,
            "reasons": ["work situation: absolute priority", "low income", "requested this month"],
        }
    ]


async def test_mark_staff_child_as_provider_unmarks(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam = await family(muni, here, application_status="OFFERED")
    client = actor(staff)
    await client.gql(MARK, app_input(fam.applications[0], staffChild=True))

    result = await client.gql(MARK, app_input(fam.applications[0], staffChild=False))

    assert payload(result, "markStaffChild")["application"]["status"] == "OFFERED"
    assert (await Application.get(id=fam.applications[0].id)).staff_child is False


async def test_mark_staff_child_as_provider_of_another_location_or_closed_is_not_found(
    actor: Any,
) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    elsewhere = await f.location(muni)
    theirs = await family(muni, elsewhere)
    enrolled = await family(muni, here, status="FULFILLED", application_status="ENROLLED")
    client = actor(staff)
    before = await snapshot()

    results = [
        await client.gql(MARK, app_input(fam.applications[0], staffChild=True))
        for fam in (theirs, enrolled)
    ]

    assert [codes(r, "markStaffChild") for r in results] == [
        [(["input", "applicationId"], "NOT_FOUND")]
    ] * 2
    assert await snapshot() == before


async def test_mark_staff_child_as_anonymous_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)
    before = await snapshot()

    result = await actor(None).gql(MARK, app_input(fam.applications[0], staffChild=True))

    assert_forbidden(result, "markStaffChild")
    assert await snapshot() == before


# The family's acceptance after a provider's offer


async def test_offer_place_then_accept_offer_closes_the_other_location(actor: Any) -> None:
    # given: two chosen locations; the second offers a place through the API
    muni = await f.municipality("24062", "Leuven")
    first, first_staff = await place(muni)
    second, second_staff = await place(muni)
    fam = await family(muni, first, second, start=f.days(90))
    await actor(second_staff).gql(OFFER, offer_input(fam.request, second, 95, 10))

    # when: the family accepts
    result = await actor(fam.user).gql(ACCEPT, app_input(fam.applications[1]))

    # then: enrolled at the second, the first closed and no longer answerable there
    data = result["data"]["acceptOffer"]
    assert data == {
        "careRequest": {
            "status": "FULFILLED",
            "applications": [
                {"id": str(fam.applications[0].id), "status": "CLOSED"},
                {"id": str(fam.applications[1].id), "status": "ENROLLED"},
            ],
        },
        "errors": [],
    }
    assert await Enrolment.all().values("child_id", "location_id", "start_date") == [
        {"child_id": fam.child.id, "location_id": second.id, "start_date": f.days(95)}
    ]
    client = actor(first_staff)
    before = await snapshot()
    waitlist = await client.gql(WAITLIST, app_input(fam.applications[0]))
    offer = await client.gql(OFFER, offer_input(fam.request, first))
    assert codes(waitlist, "waitlistApplication") == [(["input", "applicationId"], "NOT_FOUND")]
    assert codes(offer, "offerPlace") == [(["input", "requestId"], "NOT_FOUND")]
    assert await snapshot() == before


# Concurrency: never more enrolments than places, never two places for one child


def outcome(result: dict[str, Any], name: str, key: str) -> str:
    assert "errors" not in result, result
    data = result["data"][name]
    return "OK" if data[key] is not None else data["errors"][0]["code"]


async def test_accept_offer_concurrently_after_offers_fills_one_place_once(actor: Any) -> None:
    # given: six families each offered the one free place of a location
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, capacity=1)
    families = [await family(muni, here, start=f.days(60)) for _ in range(6)]
    client = actor(staff)
    for fam in families:
        payload(await client.gql(OFFER, offer_input(fam.request, here)), "offerPlace")

    # when: all accept at the same time
    results = await asyncio.gather(
        *(actor(fam.user).gql(ACCEPT, app_input(fam.applications[0])) for fam in families)
    )

    # then
    outcomes = sorted(outcome(r, "acceptOffer", "careRequest") for r in results)
    assert outcomes == ["LOCATION_FULL"] * 5 + ["OK"]
    assert await Enrolment.filter(location_id=here.id).count() == 1
    statuses = sorted(await Application.all().values_list("status", flat=True))
    assert statuses == ["ENROLLED"] + ["OFFERED"] * 5


async def test_accept_offer_concurrently_at_two_locations_gives_one_place(actor: Any) -> None:
    # given: one child offered a place at both chosen locations
    muni = await f.municipality("24062", "Leuven")
    first, first_staff = await place(muni)
    second, second_staff = await place(muni)
    fam = await family(muni, first, second, start=f.days(60))
    await actor(first_staff).gql(OFFER, offer_input(fam.request, first))
    await actor(second_staff).gql(OFFER, offer_input(fam.request, second))
    parent = actor(fam.user)

    # when: both accepted at the same time
    results = await asyncio.gather(
        *(parent.gql(ACCEPT, app_input(app)) for app in fam.applications)
    )

    # then: one enrolment; the other answer says the request is no longer open
    outcomes = [outcome(r, "acceptOffer", "careRequest") for r in results]
    assert sorted(outcomes) == ["NOT_OPEN", "OK"]
    won = fam.applications[outcomes.index("OK")]
    lost = fam.applications[outcomes.index("NOT_OPEN")]
    assert await Enrolment.all().values("child_id", "location_id") == [
        {"child_id": fam.child.id, "location_id": won.location_id}
    ]
    assert (await status_of(won), await status_of(lost)) == ("ENROLLED", "CLOSED")
    assert (await CareRequest.get(id=fam.request.id)).status == "FULFILLED"


async def test_offer_place_and_accept_offer_interleaved_never_exceed_capacity(
    actor: Any,
) -> None:
    # given: one place; two families hold an offer, three wait; three staff members
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, capacity=1)
    colleagues = [staff] + [await f.user(Role.PROVIDER, provider_location=here) for _ in range(2)]
    holding = [await family(muni, here, start=f.days(60)) for _ in range(2)]
    waiting = [await family(muni, here, start=f.days(60)) for _ in range(3)]
    for fam in holding:
        payload(await actor(staff).gql(OFFER, offer_input(fam.request, here)), "offerPlace")

    # when: the holders accept while the staff offer the place to the others
    calls = [actor(fam.user).gql(ACCEPT, app_input(fam.applications[0])) for fam in holding]
    calls += [
        actor(who).gql(OFFER, offer_input(fam.request, here))
        for who, fam in zip(colleagues, waiting, strict=True)
    ]
    results = await asyncio.gather(*calls)

    # then: one enrolment; every offer either went out before it or found the place taken
    assert sorted(outcome(r, "acceptOffer", "careRequest") for r in results[:2]) == [
        "LOCATION_FULL",
        "OK",
    ]
    assert {outcome(r, "offerPlace", "application") for r in results[2:]} <= {
        "OK",
        "LOCATION_FULL",
    }
    assert await Enrolment.filter(location_id=here.id).count() == 1
    # and whoever still holds an offer cannot take a second place
    late = [
        await actor(fam.user).gql(ACCEPT, app_input(fam.applications[0]))
        for fam in holding + waiting
        if await status_of(fam.applications[0]) == "OFFERED"
    ]
    assert {outcome(r, "acceptOffer", "careRequest") for r in late} <= {"LOCATION_FULL"}
    assert await Enrolment.filter(location_id=here.id).count() == 1


# endEnrolment


async def enrolled(muni: Any, loc: Any, **kw: Any) -> tuple[Family, Any]:
    fam = await family(muni)
    return fam, await f.enrolment(fam.child, loc, **kw)


async def test_end_enrolment_as_provider_keeps_the_dossier_within_retention(
    actor: Any,
) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    fam, e = await enrolled(muni, here, start=f.days(-100))
    client = actor(staff)

    result = await client.gql(
        END, {"i": {"enrolmentId": str(e.id), "endDate": f.days(-1).isoformat()}}
    )

    assert payload(result, "endEnrolment")["enrolment"] == {
        "id": str(e.id),
        "locationId": str(here.id),
        "startDate": f.days(-100).isoformat(),
        "endDate": f.days(-1).isoformat(),
    }
    assert (await Enrolment.get(id=e.id)).end_date == f.days(-1)
    seen = await client.gql(GRANT, {"id": str(fam.household.id)})
    assert seen == {"data": {"household": {"viewerGrant": "PROVIDER_ENROLLED"}}}


async def test_end_enrolment_as_provider_on_its_first_day(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    _, e = await enrolled(muni, here, start=f.days(10))

    result = await actor(staff).gql(
        END, {"i": {"enrolmentId": str(e.id), "endDate": f.days(10).isoformat()}}
    )

    assert payload(result, "endEnrolment")["enrolment"]["endDate"] == f.days(10).isoformat()
    assert (await Enrolment.get(id=e.id)).end_date == f.days(10)


async def test_end_enrolment_as_provider_twice_or_before_start(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    _, ended = await enrolled(muni, here, start=f.days(-100), end_date=f.days(-10))
    _, current = await enrolled(muni, here, start=f.days(-100))
    client = actor(staff)
    before = await snapshot()

    again = await client.gql(
        END, {"i": {"enrolmentId": str(ended.id), "endDate": f.days(-1).isoformat()}}
    )
    early = await client.gql(
        END, {"i": {"enrolmentId": str(current.id), "endDate": f.days(-101).isoformat()}}
    )

    assert codes(again, "endEnrolment") == [(["input", "enrolmentId"], "ALREADY_ENDED")]
    assert codes(early, "endEnrolment") == [(["input", "endDate"], "END_BEFORE_START")]
    assert await snapshot() == before


async def test_end_enrolment_as_provider_of_another_location_is_not_found(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    elsewhere = await f.location(muni)
    _, stranger = await place(muni)
    _, e = await enrolled(muni, elsewhere, start=f.days(-100))
    client = actor(stranger)
    before = await snapshot()

    theirs = await client.gql(
        END, {"i": {"enrolmentId": str(e.id), "endDate": f.days(-1).isoformat()}}
    )
    malformed = await client.gql(
        END, {"i": {"enrolmentId": "nope", "endDate": f.days(-1).isoformat()}}
    )

    assert codes(theirs, "endEnrolment") == [(["input", "enrolmentId"], "NOT_FOUND")]
    assert codes(malformed, "endEnrolment") == [(["input", "enrolmentId"], "NOT_FOUND")]
    assert await snapshot() == before


async def test_end_enrolment_as_parent_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam, e = await enrolled(muni, here, start=f.days(-100))
    before = await snapshot()

    result = await actor(fam.user).gql(
        END, {"i": {"enrolmentId": str(e.id), "endDate": f.days(-1).isoformat()}}
    )

    assert_forbidden(result, "endEnrolment")
    assert await snapshot() == before


# updateLocation


def settings_of(loc: Any, **changes: Any) -> dict[str, Any]:
    """The location as updateLocation returns it, as the factory made it, with `changes`."""
    return {
        "id": str(loc.id),
        "capacity": 18,
        "minAgeMonths": 0,
        "maxAgeMonths": 36,
        "openingHours": "",
        "openingDays": [],
        "priorityPolicy": "",
        "priorityCriteria": [],
        **changes,
    }


async def test_update_location_as_provider_changes_only_what_is_given(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)

    result = await actor(staff).gql(
        UPDATE_LOCATION, {"i": {"locationId": str(here.id), "capacity": 24}}
    )

    assert payload(result, "updateLocation")["location"] == settings_of(here, capacity=24)
    stored = await ProviderLocation.get(id=here.id)
    assert (stored.capacity, stored.max_age_months, stored.priority_criteria) == (24, 36, [])


async def test_update_location_as_provider_with_every_field(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    criteria = [{"criterion": "SIBLING", "weight": 40}, {"criterion": "STAFF_CHILD", "weight": 1}]

    result = await actor(staff).gql(
        UPDATE_LOCATION,
        {
            "i": {
                "locationId": str(here.id),
                "capacity": 500,
                "minAgeMonths": 3,
                "maxAgeMonths": 72,
                "openingHours": "  ma-vr 7.00-18.00 ",
                "openingDays": ["MON", "TUE", "FRI"],
                "priorityPolicy": "Broers en zussen eerst.",
                "priorityCriteria": criteria,
            }
        },
    )

    assert payload(result, "updateLocation")["location"] == settings_of(
        here,
        capacity=500,
        minAgeMonths=3,
        maxAgeMonths=72,
        openingHours="ma-vr 7.00-18.00",
        openingDays=["MON", "TUE", "FRI"],
        priorityPolicy="Broers en zussen eerst.",
        priorityCriteria=criteria,
    )
    stored = await ProviderLocation.get(id=here.id)
    assert (stored.opening_days, stored.priority_criteria) == (["MON", "TUE", "FRI"], criteria)


async def test_update_location_as_provider_out_of_range(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    client = actor(staff)
    before = await snapshot()

    low = await client.gql(
        UPDATE_LOCATION,
        {"i": {"locationId": str(here.id), "capacity": 0, "minAgeMonths": -1}},
    )
    high = await client.gql(
        UPDATE_LOCATION,
        {"i": {"locationId": str(here.id), "capacity": 501, "maxAgeMonths": 73}},
    )

    assert codes(low, "updateLocation") == [
        (["input", "capacity"], "OUT_OF_RANGE"),
        (["input", "minAgeMonths"], "OUT_OF_RANGE"),
    ]
    assert codes(high, "updateLocation") == [
        (["input", "capacity"], "OUT_OF_RANGE"),
        (["input", "maxAgeMonths"], "OUT_OF_RANGE"),
    ]
    assert await snapshot() == before


async def test_update_location_as_provider_with_ages_in_the_wrong_order(actor: Any) -> None:
    # given: the stored oldest age is 36 months
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    client = actor(staff)
    before = await snapshot()

    both = await client.gql(
        UPDATE_LOCATION,
        {"i": {"locationId": str(here.id), "minAgeMonths": 24, "maxAgeMonths": 12}},
    )
    against_stored = await client.gql(
        UPDATE_LOCATION, {"i": {"locationId": str(here.id), "minAgeMonths": 40, "capacity": 20}}
    )

    assert codes(both, "updateLocation") == [(["input", "minAgeMonths"], "AGE_ORDER")]
    assert codes(against_stored, "updateLocation") == [(["input", "minAgeMonths"], "AGE_ORDER")]
    assert await snapshot() == before


async def test_update_location_as_provider_with_duplicate_days_or_too_long_texts(
    actor: Any,
) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    before = await snapshot()

    result = await actor(staff).gql(
        UPDATE_LOCATION,
        {
            "i": {
                "locationId": str(here.id),
                "openingHours": "x" * 201,
                "openingDays": ["MON", "TUE", "MON"],
                "priorityPolicy": "x" * 2001,
            }
        },
    )

    assert codes(result, "updateLocation") == [
        (["input", "openingHours"], "TOO_LONG"),
        (["input", "openingDays"], "DUPLICATE_DAY"),
        (["input", "priorityPolicy"], "TOO_LONG"),
    ]
    assert await snapshot() == before


async def test_update_location_as_provider_with_invalid_criteria(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    before = await snapshot()

    result = await actor(staff).gql(
        UPDATE_LOCATION,
        {
            "i": {
                "locationId": str(here.id),
                "capacity": 20,
                "priorityCriteria": [
                    {"criterion": "FRIEND", "weight": 10},
                    {"criterion": "SIBLING", "weight": 0},
                    {"criterion": "RESIDENT", "weight": 101},
                    {"criterion": "SIBLING", "weight": 5},
                ],
            }
        },
    )

    data = result["data"]["updateLocation"]
    assert data["location"] is None
    assert [(e["field"], e["code"], e["message"]) for e in data["errors"]] == [
        (
            ["input", "priorityCriteria"],
            "INVALID_CRITERIA",
            "Criterion 1: unknown criterion 'FRIEND' (expected one of SIBLING, STAFF_CHILD, "
            "RESIDENT).",
        ),
        (
            ["input", "priorityCriteria"],
            "INVALID_CRITERIA",
            "Criterion 2: weight must be from 1 to 100, got 0.",
        ),
        (
            ["input", "priorityCriteria"],
            "INVALID_CRITERIA",
            "Criterion 3: weight must be from 1 to 100, got 101.",
        ),
        (
            ["input", "priorityCriteria"],
            "INVALID_CRITERIA",
            "Criterion 4: SIBLING is listed more than once.",
        ),
    ]
    assert await snapshot() == before


async def test_update_location_as_provider_of_another_location_is_not_found(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    _, stranger = await place(muni)
    before = await snapshot()

    result = await actor(stranger).gql(
        UPDATE_LOCATION, {"i": {"locationId": str(here.id), "capacity": 1}}
    )

    assert codes(result, "updateLocation") == [(["input", "locationId"], "NOT_FOUND")]
    assert await snapshot() == before


async def test_update_location_as_parent_or_loket_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)
    staff = await f.user(Role.LOKET, counter=await f.counter("Loket Leuven", muni))
    before = await snapshot()

    results = [
        await actor(who).gql(UPDATE_LOCATION, {"i": {"locationId": str(here.id), "capacity": 1}})
        for who in (fam.user, staff)
    ]

    for result in results:
        assert_forbidden(result, "updateLocation")
    assert await snapshot() == before


# locationQuota

YEAR = 2024


def on(month: int, day: int = 1, year: int = YEAR) -> datetime.date:
    return datetime.date(year, month, day)


async def quota_child(muni: Any, loc: Any, start: datetime.date, **kw: Any) -> Any:
    """A child enrolled at `loc` from `start` (`end`: last day), of a family described by
    the household factory's arguments (`partner`: the second parent's situation)."""
    end = kw.pop("end", None)
    second = kw.pop("partner", None)
    h, _ = await f.household(muni, **kw)
    if second is not None:
        await partner(h, muni, **second)
    c = await f.child(h, born=start - datetime.timedelta(days=200))
    await f.enrolment(c, loc, start=start, end_date=end)
    return c


WELL_OFF = {"family_situation": "TWO_PARENTS", "income_below_threshold": False}
HIGHER_WORKING = {"work_situation": "WORKING", "education_level": "HIGHER"}
NO_DIPLOMA_WORKING = {"work_situation": "WORKING", "education_level": "NO_SECONDARY_DIPLOMA"}


async def test_location_quota_as_provider(actor: Any) -> None:
    # given: a subsidy step 2 location with children holding a place during the year
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, subsidy_step=2)
    # counting: a single parent (income above the threshold)
    single = await quota_child(
        muni,
        here,
        on(1),
        end=on(3, 31),
        family_situation="SINGLE_PARENT",
        income_below_threshold=False,
        **HIGHER_WORKING,
    )
    await f.enrolment(single, here, start=on(9))  # back later: still one child
    # counting: low income
    await quota_child(muni, here, on(2), family_situation="TWO_PARENTS", **HIGHER_WORKING)
    # counting: vulnerable, no secondary diploma and care needed for work
    await quota_child(
        muni, here, on(5), **WELL_OFF, **NO_DIPLOMA_WORKING, partner=NO_DIPLOMA_WORKING
    )
    # not counting: two working parents with higher education
    await quota_child(muni, here, on(6), **WELL_OFF, **HIGHER_WORKING, partner=HIGHER_WORKING)
    # not counting: no secondary diploma alone is one criterion of five
    not_working = {"work_situation": "NONE", "education_level": "NO_SECONDARY_DIPLOMA"}
    await quota_child(muni, here, on(7), **WELL_OFF, **not_working, partner=not_working)
    # outside the year: ended on the last day before it, starting the day after it
    await quota_child(
        muni, here, on(9, year=2022), end=on(12, 31, 2023), family_situation="SINGLE_PARENT"
    )
    await quota_child(muni, here, on(1, year=2025), family_situation="SINGLE_PARENT")
    # inside the year by one day at either end
    await quota_child(muni, here, on(9, year=2023), end=on(1, 1), **WELL_OFF, **HIGHER_WORKING)
    await quota_child(muni, here, on(12, 31), **WELL_OFF, **HIGHER_WORKING)

    result = await actor(staff).gql(QUOTA, {"loc": str(here.id), "year": YEAR})

    assert result == {
        "data": {
            "locationQuota": {
                "year": YEAR,
                "enrolled": 7,
                "counting": 3,
                "share": 3 / 7,
                "target": 0.2,
                "met": True,
            }
        }
    }


async def test_location_quota_as_provider_of_step_3_below_target(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, subsidy_step=3)
    await quota_child(muni, here, on(1), family_situation="SINGLE_PARENT")
    for month in (2, 3, 4):
        await quota_child(muni, here, on(month), **WELL_OFF, **HIGHER_WORKING)

    result = await actor(staff).gql(QUOTA, {"loc": str(here.id), "year": YEAR})

    assert result["data"]["locationQuota"] == {
        "year": YEAR,
        "enrolled": 4,
        "counting": 1,
        "share": 0.25,
        "target": 0.3,
        "met": False,
    }


async def test_location_quota_as_provider_at_free_price_has_no_target(actor: Any) -> None:
    # given: free-price locations, with and without a (meaningless) subsidy step
    muni = await f.municipality("24062", "Leuven")
    free, staff = await place(muni, tariff="FREE_PRICE", subsidy_step=None)
    stepped = await f.location(muni, tariff="FREE_PRICE", subsidy_step=2)
    await f.user(Role.PROVIDER, provider_location=stepped)
    for loc in (free, stepped):
        await quota_child(muni, loc, on(3), family_situation="SINGLE_PARENT")
        await quota_child(muni, loc, on(4), **WELL_OFF, **HIGHER_WORKING)
    admin = actor(await f.user(Role.ADMIN))

    results = [
        await actor(staff).gql(QUOTA, {"loc": str(free.id), "year": YEAR}),
        await admin.gql(QUOTA, {"loc": str(stepped.id), "year": YEAR}),
    ]

    expected = {"year": YEAR, "enrolled": 2, "counting": 1, "share": 0.5, "target": None}
    assert [r["data"]["locationQuota"] for r in results] == [{**expected, "met": None}] * 2


async def test_location_quota_as_provider_without_enrolments(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni, subsidy_step=2)

    result = await actor(staff).gql(QUOTA, {"loc": str(here.id), "year": YEAR})

    assert result["data"]["locationQuota"] == {
        "year": YEAR,
        "enrolled": 0,
        "counting": 0,
        "share": None,
        "target": 0.2,
        "met": None,
    }


async def test_location_quota_as_provider_of_another_location_is_null(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    _, stranger = await place(muni)
    await quota_child(muni, here, on(3), family_situation="SINGLE_PARENT")

    result = await actor(stranger).gql(QUOTA, {"loc": str(here.id), "year": YEAR})

    assert result == {"data": {"locationQuota": None}}


async def test_location_quota_as_admin(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni, subsidy_step=3)
    await quota_child(muni, here, on(3), family_situation="SINGLE_PARENT")
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(QUOTA, {"loc": str(here.id), "year": YEAR})

    assert result["data"]["locationQuota"] == {
        "year": YEAR,
        "enrolled": 1,
        "counting": 1,
        "share": 1.0,
        "target": 0.3,
        "met": True,
    }


async def test_location_quota_as_parent_is_forbidden(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here = await f.location(muni)
    fam = await family(muni, here)

    result = await actor(fam.user).gql(QUOTA, {"loc": str(here.id), "year": YEAR})

    assert_forbidden(result, "locationQuota")


async def test_location_quota_as_provider_with_year_out_of_range(actor: Any) -> None:
    muni = await f.municipality("24062", "Leuven")
    here, staff = await place(muni)
    client = actor(staff)

    results = [
        await client.gql(QUOTA, {"loc": str(here.id), "year": year}) for year in (1999, 2101)
    ]

    for result in results:
        assert result["data"] == {"locationQuota": None}
        assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
            (["locationQuota"], "OUT_OF_RANGE")
        ]
