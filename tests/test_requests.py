"""submitCareRequest, the uniqueness check (hasOpenRequest) and the provider inbox."""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from loket.settings import settings
from models.access_log import AccessLogEntry
from models.accounts import Role
from models.households import Child
from models.requests import Application, CareRequest
from permissions.rrn import Rrn
from resolvers import uniqueness
from tests import factories as f
from tests.assertions import assert_forbidden

SUBMIT = """
mutation Submit($input: SubmitCareRequestInput!) {
  submitCareRequest(input: $input) {
    careRequest {
      id status desiredStartDate note onEmergencyList
      carePattern { day part }
      child { id }
      preferredLocations { id }
      applications { preference status location { id } }
    }
    errors { field code message }
  }
}"""

REQUESTS_OF = """
query($id: ID!) {
  household(id: $id) {
    requests { id status applications { preference status location { id } } }
  }
}"""

HAS_OPEN = "query($child: ID!) { hasOpenRequest(childId: $child) }"

INBOX = """
query($loc: ID!, $first: Int!, $after: String) {
  inbox(locationId: $loc, first: $first, after: $after) {
    edges {
      cursor
      node {
        reason
        request { id onEmergencyList }
        application { preference status location { id } }
        household { id viewerGrant }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

BIRTH = f.days(-300)
RRN = f.make_rrn(BIRTH, 77)
PATTERN = [{"day": "MON", "part": "FULL"}, {"day": "WED", "part": "MORNING"}]


def request_input(
    child: Any,
    *locations: Any,
    start: datetime.date | None = None,
    pattern: list[dict[str, str]] | None = None,
    location_ids: list[str] | None = None,
    note: str = "",
) -> dict[str, Any]:
    return {
        "input": {
            "childId": str(child.id),
            "desiredStartDate": (start or f.days(120)).isoformat(),
            "carePattern": PATTERN if pattern is None else pattern,
            "locationIds": [str(loc.id) for loc in locations]
            if location_ids is None
            else location_ids,
            "note": note,
        }
    }


async def row_counts() -> dict[str, int]:
    return {
        "care_request": await CareRequest.all().count(),
        "application": await Application.all().count(),
    }


def user_errors(result: dict[str, Any]) -> list[tuple[list[str], str]]:
    assert "errors" not in result, result
    payload = result["data"]["submitCareRequest"]
    assert payload["careRequest"] is None
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


@pytest.fixture
def low_uniqueness_limit() -> Iterator[None]:
    """Three uniqueness checks per account and hour, for the limit tests."""
    saved = settings.uniqueness_checks_per_hour
    object.__setattr__(settings, "uniqueness_checks_per_hour", 3)
    yield
    object.__setattr__(settings, "uniqueness_checks_per_hour", saved)


@pytest.fixture
def slow_uniqueness_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between the uniqueness check and the insert, so that two
    concurrent submissions really overlap (the lock must serialise them)."""
    check = uniqueness.child_has_open_request_by_id

    async def slow(child_id: uuid.UUID) -> bool:
        found = await check(child_id)
        await asyncio.sleep(0.2)
        return found

    monkeypatch.setattr(uniqueness, "child_has_open_request_by_id", slow)


@dataclass
class Family:
    """A household with its parent (signed in, or not a user) and one child."""

    household: Any
    parent: Any
    child: Any
    user: Any


async def family(
    muni: Any, *, rrn: str | None = RRN, expected: datetime.date | None = None, user: bool = True
) -> Family:
    u = await f.user(Role.PARENT) if user else None
    h, p = await f.household(muni, u)
    if expected is not None:
        c = await f.child(h, expected=expected)
    else:
        c = await f.child(h, born=BIRTH, rrn=rrn)
    return Family(h, p, c, u)


async def setting() -> tuple[Any, list[Any]]:
    muni = await f.municipality("24062", "Leuven")
    locations = [await f.location(muni, f"Kinderdagverblijf {i}") for i in range(3)]
    return muni, locations


# submitCareRequest: allowed


async def test_submit_care_request_as_parent(actor: Any) -> None:
    # given
    muni, (l1, l2, l3) = await setting()
    fam = await family(muni)
    client = actor(fam.user)

    # when
    result = await client.gql(
        SUBMIT, request_input(fam.child, l3, l1, l2, start=f.days(120), note=" graag vroeg ")
    )

    # then
    assert "errors" not in result, result
    payload = result["data"]["submitCareRequest"]
    assert payload["errors"] == []
    stored = await CareRequest.get()
    request = payload["careRequest"]
    assert sorted(request.pop("carePattern"), key=lambda d: d["day"]) == PATTERN
    assert request == {
        "id": str(stored.id),
        "status": "OPEN",
        "desiredStartDate": f.days(120).isoformat(),
        "note": "graag vroeg",
        "onEmergencyList": False,
        "child": {"id": str(fam.child.id)},
        "preferredLocations": [{"id": str(loc.id)} for loc in (l3, l1, l2)],
        "applications": [
            {"preference": i, "status": "PENDING", "location": {"id": str(loc.id)}}
            for i, loc in enumerate((l3, l1, l2), start=1)
        ],
    }
    assert stored.filed_by_id == fam.user.id  # type: ignore[attr-defined]
    assert stored.filed_via_mandate_id is None  # type: ignore[attr-defined]

    dossier = await client.gql(REQUESTS_OF, {"id": str(fam.household.id)})
    assert dossier == {
        "data": {
            "household": {
                "requests": [
                    {
                        "id": str(stored.id),
                        "status": "OPEN",
                        "applications": [
                            {"preference": i, "status": "PENDING", "location": {"id": str(loc.id)}}
                            for i, loc in enumerate((l3, l1, l2), start=1)
                        ],
                    }
                ]
            }
        }
    }


async def test_submit_care_request_as_parent_returns_care_pattern_in_weekday_order(
    actor: Any,
) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    pattern = [
        {"day": "MON", "part": "FULL"},
        {"day": "TUE", "part": "MORNING"},
        {"day": "FRI", "part": "AFTERNOON"},
    ]

    result = await actor(fam.user).gql(SUBMIT, request_input(fam.child, l1, pattern=pattern))

    assert result["data"]["submitCareRequest"]["careRequest"]["carePattern"] == pattern


async def test_submit_care_request_as_parent_for_unborn_child(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni, expected=f.days(100))

    result = await actor(fam.user).gql(SUBMIT, request_input(fam.child, l1, start=f.days(200)))

    assert result["data"]["submitCareRequest"]["errors"] == []
    assert await row_counts() == {"care_request": 1, "application": 1}


async def test_submit_care_request_as_toeleider_with_active_mandate(actor: Any) -> None:
    # given
    muni, (l1, l2, _) = await setting()
    fam = await family(muni, user=False)
    ocmw = await f.referral_organisation("OCMW Leuven")
    mandate = await f.mandate(fam.household, fam.parent, ocmw)
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)

    # when
    result = await actor(worker).gql(SUBMIT, request_input(fam.child, l2, l1))

    # then
    payload = result["data"]["submitCareRequest"]
    assert payload["errors"] == []
    assert payload["careRequest"]["applications"] == [
        {"preference": 1, "status": "PENDING", "location": {"id": str(l2.id)}},
        {"preference": 2, "status": "PENDING", "location": {"id": str(l1.id)}},
    ]
    stored = await CareRequest.get()
    assert stored.filed_by_id == worker.id  # type: ignore[attr-defined]
    assert stored.filed_via_mandate_id == mandate.id  # type: ignore[attr-defined]


async def test_submit_care_request_as_toeleider_with_revoked_mandate_is_not_found(
    actor: Any,
) -> None:
    # given
    muni, (l1, _, _) = await setting()
    fam = await family(muni, user=False)
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.mandate(fam.household, fam.parent, ocmw, revoked_at=datetime.datetime.now(datetime.UTC))
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)

    # when
    result = await actor(worker).gql(SUBMIT, request_input(fam.child, l1))

    # then
    assert user_errors(result) == [(["input", "childId"], "NOT_FOUND")]
    assert await row_counts() == {"care_request": 0, "application": 0}


async def test_submit_care_request_as_toeleider_without_mandate_is_not_found(
    actor: Any,
) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni, user=False)
    worker = await f.user(Role.TOELEIDER, referral_organisation=await f.referral_organisation())

    result = await actor(worker).gql(SUBMIT, request_input(fam.child, l1))

    assert user_errors(result) == [(["input", "childId"], "NOT_FOUND")]
    assert await row_counts() == {"care_request": 0, "application": 0}


async def test_submit_care_request_as_admin(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(SUBMIT, request_input(fam.child, l1))

    payload = result["data"]["submitCareRequest"]
    assert payload["errors"] == []
    assert payload["careRequest"]["status"] == "OPEN"
    stored = await CareRequest.get()
    assert stored.filed_by_id == admin.id  # type: ignore[attr-defined]
    assert await row_counts() == {"care_request": 1, "application": 1}


# submitCareRequest: denied


async def assert_submit_forbidden(client: Any, child: Any, location: Any) -> None:
    before = await row_counts()

    result = await client.gql(SUBMIT, request_input(child, location))

    assert_forbidden(result, "submitCareRequest")
    assert await row_counts() == before == {"care_request": 0, "application": 0}


async def test_submit_care_request_as_loket_is_forbidden(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    counter = await f.counter("Loket Leuven", muni)
    await assert_submit_forbidden(actor(await f.user(Role.LOKET, counter=counter)), fam.child, l1)


async def test_submit_care_request_as_provider_is_forbidden(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    await assert_submit_forbidden(
        actor(await f.user(Role.PROVIDER, provider_location=l1)), fam.child, l1
    )


async def test_submit_care_request_as_sick_child_service_is_forbidden(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    service = await f.sick_child_service()
    await f.service_record(service, fam.child)
    await assert_submit_forbidden(
        actor(await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)), fam.child, l1
    )


async def test_submit_care_request_as_anonymous_is_forbidden(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    await assert_submit_forbidden(actor(None), fam.child, l1)


async def test_submit_care_request_as_other_parent_is_not_found(actor: Any) -> None:
    # given
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    other = await family(muni, rrn=f.make_rrn(BIRTH, 79))

    # when
    result = await actor(other.user).gql(SUBMIT, request_input(fam.child, l1))

    # then
    assert user_errors(result) == [(["input", "childId"], "NOT_FOUND")]
    assert await row_counts() == {"care_request": 0, "application": 0}


# submitCareRequest: input errors


async def submit_rejected(actor: Any, make_input: Any) -> list[tuple[list[str], str]]:
    muni, locations = await setting()
    fam = await family(muni)
    result = await actor(fam.user).gql(SUBMIT, make_input(fam.child, locations))
    errors = user_errors(result)
    assert await row_counts() == {"care_request": 0, "application": 0}
    return errors


async def test_submit_care_request_as_parent_with_start_in_the_past(actor: Any) -> None:
    errors = await submit_rejected(
        actor, lambda c, locs: request_input(c, locs[0], start=f.days(-1))
    )
    assert errors == [(["input", "desiredStartDate"], "DATE_NOT_IN_FUTURE")]


async def test_submit_care_request_as_parent_with_start_today(actor: Any) -> None:
    errors = await submit_rejected(actor, lambda c, locs: request_input(c, locs[0], start=f.TODAY))
    assert errors == [(["input", "desiredStartDate"], "DATE_NOT_IN_FUTURE")]


async def test_submit_care_request_as_parent_with_empty_pattern(actor: Any) -> None:
    errors = await submit_rejected(actor, lambda c, locs: request_input(c, locs[0], pattern=[]))
    assert errors == [(["input", "carePattern"], "REQUIRED")]


async def test_submit_care_request_as_parent_with_duplicate_day(actor: Any) -> None:
    pattern = [{"day": "MON", "part": "MORNING"}, {"day": "MON", "part": "AFTERNOON"}]
    errors = await submit_rejected(
        actor, lambda c, locs: request_input(c, locs[0], pattern=pattern)
    )
    assert errors == [(["input", "carePattern"], "DUPLICATE_DAY")]


async def test_submit_care_request_as_parent_with_zero_locations(actor: Any) -> None:
    errors = await submit_rejected(actor, lambda c, locs: request_input(c))
    assert errors == [(["input", "locationIds"], "COUNT")]


async def test_submit_care_request_as_parent_with_too_many_locations(actor: Any) -> None:
    # given
    maximum = settings.max_chosen_locations
    assert maximum == 10
    muni, first_three = await setting()
    fam = await family(muni)
    locations = [*first_three, *[await f.location(muni) for _ in range(maximum + 1 - 3)]]
    client = actor(fam.user)

    # when
    too_many = await client.gql(SUBMIT, request_input(fam.child, *locations))

    # then
    assert user_errors(too_many) == [(["input", "locationIds"], "COUNT")]
    assert await row_counts() == {"care_request": 0, "application": 0}

    # and the maximum itself is accepted
    at_max = await client.gql(SUBMIT, request_input(fam.child, *locations[:maximum]))
    assert at_max["data"]["submitCareRequest"]["errors"] == []
    assert await row_counts() == {"care_request": 1, "application": maximum}


async def test_submit_care_request_as_parent_with_duplicate_location(actor: Any) -> None:
    errors = await submit_rejected(
        actor, lambda c, locs: request_input(c, locs[0], locs[1], locs[0])
    )
    assert errors == [(["input", "locationIds"], "DUPLICATE_LOCATION")]


async def test_submit_care_request_as_parent_with_unknown_location(actor: Any) -> None:
    errors = await submit_rejected(
        actor,
        lambda c, locs: request_input(c, location_ids=[str(locs[0].id), str(uuid.uuid4())]),
    )
    assert errors == [(["input", "locationIds"], "NOT_FOUND")]


async def test_submit_care_request_as_parent_with_malformed_location_id(actor: Any) -> None:
    errors = await submit_rejected(
        actor, lambda c, locs: request_input(c, location_ids=[str(locs[0].id), "nope"])
    )
    assert errors == [(["input", "locationIds"], "NOT_FOUND")]


async def test_submit_care_request_as_parent_with_unknown_child(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)

    result = await actor(fam.user).gql(
        SUBMIT,
        {"input": {**request_input(fam.child, l1)["input"], "childId": str(uuid.uuid4())}},
    )

    assert user_errors(result) == [(["input", "childId"], "NOT_FOUND")]
    assert await row_counts() == {"care_request": 0, "application": 0}


# One open request per child


async def test_submit_care_request_as_parent_twice_for_same_child(actor: Any) -> None:
    # given
    muni, (l1, l2, _) = await setting()
    fam = await family(muni)
    client = actor(fam.user)
    first = await client.gql(SUBMIT, request_input(fam.child, l1))
    assert first["data"]["submitCareRequest"]["errors"] == []

    # when
    second = await client.gql(SUBMIT, request_input(fam.child, l2, start=f.days(150)))

    # then
    assert user_errors(second) == [(["input", "childId"], "OPEN_REQUEST_EXISTS")]
    assert await row_counts() == {"care_request": 1, "application": 1}


async def test_submit_care_request_as_parent_for_child_with_open_request_in_other_household(
    actor: Any, caplog: Any
) -> None:
    # given: the same child (same RRN) registered by another household, with an open request
    caplog.set_level(logging.DEBUG)
    muni, (l1, l2, _) = await setting()
    other = await family(muni, user=False)
    await f.care_request(other.child, l1)
    fam = await family(muni)
    before = await row_counts()

    # when
    response = await actor(fam.user).http.post(
        "/graphql", json={"query": SUBMIT, "variables": request_input(fam.child, l2)}
    )

    # then
    result = response.json()
    assert user_errors(result) == [(["input", "childId"], "OPEN_REQUEST_EXISTS")]
    message = result["data"]["submitCareRequest"]["errors"][0]["message"]
    assert message == "An open care request already exists for this child."
    for revealing in (
        other.parent.first_name,
        other.parent.last_name,
        other.parent.email,
        str(other.household.id),
        str(other.child.id),
        str(l1.id),
        l1.name,
    ):
        assert revealing not in response.text
    assert RRN not in response.text
    assert RRN not in caplog.text
    assert await row_counts() == before


async def test_submit_care_request_as_parent_for_second_unborn_child_with_same_expected_date(
    actor: Any,
) -> None:
    # given: the unborn child was entered twice with the same expected date
    muni, (l1, l2, _) = await setting()
    expected = f.days(100)
    fam = await family(muni, expected=expected)
    duplicate = await f.child(fam.household, expected=expected)
    client = actor(fam.user)
    first = await client.gql(SUBMIT, request_input(fam.child, l1, start=f.days(200)))
    assert first["data"]["submitCareRequest"]["errors"] == []

    # when
    second = await client.gql(SUBMIT, request_input(duplicate, l2, start=f.days(200)))

    # then
    assert user_errors(second) == [(["input", "childId"], "OPEN_REQUEST_EXISTS")]
    assert await row_counts() == {"care_request": 1, "application": 1}


async def test_submit_care_request_as_parent_for_unborn_twin_with_other_expected_date(
    actor: Any,
) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni, expected=f.days(100))
    sibling = await f.child(fam.household, expected=f.days(400))
    await f.care_request(fam.child, l1)

    result = await actor(fam.user).gql(SUBMIT, request_input(sibling, l1, start=f.days(500)))

    assert result["data"]["submitCareRequest"]["errors"] == []


async def test_submit_care_request_as_parent_after_withdrawing_the_first(actor: Any) -> None:
    # given
    muni, (l1, l2, _) = await setting()
    fam = await family(muni)
    client = actor(fam.user)
    first = await client.gql(SUBMIT, request_input(fam.child, l1))
    first_id = first["data"]["submitCareRequest"]["careRequest"]["id"]
    await CareRequest.filter(id=first_id).update(status="WITHDRAWN")

    # when
    second = await client.gql(SUBMIT, request_input(fam.child, l2))

    # then
    assert second["data"]["submitCareRequest"]["errors"] == []
    statuses = sorted(await CareRequest.all().values_list("status", flat=True))
    assert statuses == ["OPEN", "WITHDRAWN"]


async def test_submit_care_request_as_parent_concurrently_for_same_child(
    actor: Any, slow_uniqueness_check: None
) -> None:
    # given
    muni, (l1, l2, _) = await setting()
    fam = await family(muni)
    client = actor(fam.user)

    # when
    results = await asyncio.gather(
        client.gql(SUBMIT, request_input(fam.child, l1)),
        client.gql(SUBMIT, request_input(fam.child, l2)),
    )

    # then
    for r in results:
        assert "errors" not in r, r
    outcomes = sorted(
        [(e["field"], e["code"]) for e in r["data"]["submitCareRequest"]["errors"]] for r in results
    )
    assert outcomes == [[], [(["input", "childId"], "OPEN_REQUEST_EXISTS")]]
    assert await row_counts() == {"care_request": 1, "application": 1}


async def test_submit_care_request_concurrently_for_same_rrn_in_two_households(
    actor: Any, slow_uniqueness_check: None
) -> None:
    # given: two households registered the same child
    muni, (l1, l2, _) = await setting()
    first = await family(muni)
    second = await family(muni)

    # when
    results = await asyncio.gather(
        actor(first.user).gql(SUBMIT, request_input(first.child, l1)),
        actor(second.user).gql(SUBMIT, request_input(second.child, l2)),
    )

    # then
    outcomes = sorted(
        [(e["field"], e["code"]) for e in r["data"]["submitCareRequest"]["errors"]] for r in results
    )
    assert outcomes == [[], [(["input", "childId"], "OPEN_REQUEST_EXISTS")]]
    assert await CareRequest.filter(status="OPEN").count() == 1


@pytest.fixture
def rotated_rrn_key() -> Iterator[None]:
    """Put a new current RRN key in front of the old one (the old one still verifies)."""
    saved = dict(settings.rrn_keys)
    settings.rrn_keys.clear()
    settings.rrn_keys.update({"rotated2": b"a-new-rrn-hmac-key-for-the-rotation-test", **saved})
    yield
    settings.rrn_keys.clear()
    settings.rrn_keys.update(saved)


async def test_submit_care_request_after_rrn_key_rotation_still_finds_open_request(
    actor: Any, rotated_rrn_key: None
) -> None:
    # given: the other household's child was hashed under the old key, before rotation
    muni, (l1, l2, _) = await setting()
    other = await family(muni, rrn=None, user=False)
    old_key_id = next(k for k in settings.rrn_keys if k != "rotated2")
    old_hash = Rrn.parse(RRN).hashes()[old_key_id]
    await Child.filter(id=other.child.id).update(rrn_hashes=[old_hash], rrn_key_ids=[old_key_id])
    await f.care_request(other.child, l1)
    fam = await family(muni)  # hashed under the new, current key

    # when
    result = await actor(fam.user).gql(SUBMIT, request_input(fam.child, l2))

    # then
    assert user_errors(result) == [(["input", "childId"], "OPEN_REQUEST_EXISTS")]
    assert await CareRequest.filter(status="OPEN").count() == 1


# hasOpenRequest: only about the caller's own child, rate-limited, every call logged


async def uniqueness_log() -> list[tuple[Any, str, str | None]]:
    rows = await AccessLogEntry.filter(fields_read=["uniqueness check"]).order_by("id")
    return [(r.household_id, r.grant_name, r.outcome) for r in rows]  # type: ignore[attr-defined]


async def test_has_open_request_as_parent_for_own_child_filed_elsewhere(
    actor: Any, caplog: Any
) -> None:
    # given: the same child (same RRN) has an open request in another household
    caplog.set_level(logging.DEBUG)
    muni, (l1, _, _) = await setting()
    other = await family(muni, user=False)
    await f.care_request(other.child, l1)
    fam = await family(muni)

    # when
    response = await actor(fam.user).http.post(
        "/graphql", json={"query": HAS_OPEN, "variables": {"child": str(fam.child.id)}}
    )

    # then: yes, without saying where; the call is in the access log
    assert response.json() == {"data": {"hasOpenRequest": True}}
    assert str(other.household.id) not in response.text
    assert RRN not in caplog.text
    assert await uniqueness_log() == [(fam.household.id, "OWN_HOUSEHOLD", "ANSWERED")]


async def test_has_open_request_as_parent_without_request_is_false(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    other = await family(muni, user=False)
    await f.care_request(other.child, l1, status="WITHDRAWN", application_status="WITHDRAWN")
    await f.care_request(other.child, l1, status="FULFILLED", application_status="ENROLLED")
    fam = await family(muni)

    result = await actor(fam.user).gql(HAS_OPEN, {"child": str(fam.child.id)})

    assert result == {"data": {"hasOpenRequest": False}}


async def test_has_open_request_as_parent_for_unborn_child_by_expected_date(actor: Any) -> None:
    # given: an unborn child of the household with the same expected date has a request
    muni, (l1, _, _) = await setting()
    fam = await family(muni, expected=f.days(60))
    twin_record = await f.child(fam.household, expected=f.days(60))
    await f.care_request(twin_record, l1)

    result = await actor(fam.user).gql(HAS_OPEN, {"child": str(fam.child.id)})

    assert result == {"data": {"hasOpenRequest": True}}


async def test_has_open_request_as_parent_for_another_familys_child_is_not_found(
    actor: Any,
) -> None:
    # given: the check is not an oracle about other people's children
    muni, (l1, _, _) = await setting()
    other = await family(muni, user=False)
    await f.care_request(other.child, l1)
    fam = await family(muni, rrn=f.make_rrn(BIRTH, 81))

    result = await actor(fam.user).gql(HAS_OPEN, {"child": str(other.child.id)})

    assert result["data"] == {"hasOpenRequest": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["hasOpenRequest"], "NOT_FOUND")
    ]
    assert await uniqueness_log() == [(None, "NONE", "NOT_FOUND")]


async def test_has_open_request_as_parent_over_the_limit_is_rate_limited(
    actor: Any, low_uniqueness_limit: None
) -> None:
    # given: the limit is 3 checks per hour
    muni, _ = await setting()
    fam = await family(muni)
    client = actor(fam.user)
    for _ in range(3):
        assert await client.gql(HAS_OPEN, {"child": str(fam.child.id)}) == {
            "data": {"hasOpenRequest": False}
        }

    # when
    result = await client.gql(HAS_OPEN, {"child": str(fam.child.id)})

    # then: refused, and the refused call is logged too
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["hasOpenRequest"], "RATE_LIMITED")
    ]
    assert [o for _, _, o in await uniqueness_log()] == ["ANSWERED"] * 3 + ["RATE_LIMITED"]


async def test_submit_care_request_counts_against_the_uniqueness_limit(
    actor: Any, low_uniqueness_limit: None
) -> None:
    # given: the limit is used up by checks
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    client = actor(fam.user)
    for _ in range(3):
        await client.gql(HAS_OPEN, {"child": str(fam.child.id)})

    # when
    result = await client.gql(SUBMIT, request_input(fam.child, l1))

    # then
    assert user_errors(result) == [(["input", "childId"], "RATE_LIMITED")]
    assert await row_counts() == {"care_request": 0, "application": 0}


async def test_has_open_request_as_toeleider_with_mandate(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    other = await family(muni, user=False)
    await f.care_request(other.child, l1)
    fam = await family(muni)
    org = await f.referral_organisation()
    await f.mandate(fam.household, fam.parent, org)
    worker = await f.user(Role.TOELEIDER, referral_organisation=org)

    result = await actor(worker).gql(HAS_OPEN, {"child": str(fam.child.id)})

    assert result == {"data": {"hasOpenRequest": True}}
    assert await uniqueness_log() == [(fam.household.id, "ACTIVE_MANDATE", "ANSWERED")]


async def test_has_open_request_as_toeleider_without_mandate_is_not_found(actor: Any) -> None:
    muni, _ = await setting()
    fam = await family(muni)
    worker = await f.user(Role.TOELEIDER, referral_organisation=await f.referral_organisation())

    result = await actor(worker).gql(HAS_OPEN, {"child": str(fam.child.id)})

    assert [e["extensions"]["code"] for e in result["errors"]] == ["NOT_FOUND"]


async def test_has_open_request_as_loket_is_forbidden(actor: Any) -> None:
    muni, _ = await setting()
    fam = await family(muni)
    counter = await f.counter("Loket Leuven", muni)
    client = actor(await f.user(Role.LOKET, counter=counter))
    assert_forbidden(await client.gql(HAS_OPEN, {"child": str(fam.child.id)}), "hasOpenRequest")


async def test_has_open_request_as_provider_is_forbidden(actor: Any) -> None:
    muni, (l1, _, _) = await setting()
    fam = await family(muni)
    client = actor(await f.user(Role.PROVIDER, provider_location=l1))
    assert_forbidden(await client.gql(HAS_OPEN, {"child": str(fam.child.id)}), "hasOpenRequest")


async def test_has_open_request_as_anonymous_is_forbidden(actor: Any) -> None:
    muni, _ = await setting()
    fam = await family(muni)
    result = await actor(None).gql(HAS_OPEN, {"child": str(fam.child.id)})
    assert_forbidden(result, "hasOpenRequest")
    assert await uniqueness_log() == []


# inbox


async def inbox_world() -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Location HERE in Leuven; returns (here, other location, requests by key, expected).

    expected: request id -> (reason, application preference or None)
    """
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    mechelen = await f.municipality("12025", "Mechelen")
    here = await f.location(leuven, "Hier")
    neighbour = await f.location(leuven, "Buur")
    herent_loc = await f.location(herent, "Herent")
    far = await f.location(mechelen, "Ver")
    serial = iter(range(100, 200))

    async def req(muni: Any, *locs: Any, **kw: Any) -> Any:
        h, _ = await f.household(muni)
        c = await f.child(h, born=BIRTH, rrn=f.make_rrn(BIRTH, next(serial)))
        return await f.care_request(c, *locs, **kw)

    r: dict[str, Any] = {}
    # chosen here, open
    r["selected"] = await req(mechelen, far, here, start=f.days(120))
    r["waitlisted"] = await req(mechelen, here, start=f.days(150), application_status="WAITLISTED")
    r["selected_soon"] = await req(leuven, here, start=f.days(30))
    # emergency list of Leuven, not chosen here
    r["emergency_residence"] = await req(leuven, far, start=f.days(30))
    r["emergency_location"] = await req(herent, herent_loc, neighbour, start=f.days(60))
    r["emergency_location_soon"] = await req(mechelen, neighbour, start=f.days(10))
    # not in the inbox
    r["too_far_ahead"] = await req(leuven, neighbour, start=f.days(61))
    r["fulfilled"] = await req(leuven, neighbour, start=f.days(30), status="FULFILLED")
    r["fulfilled_here"] = await req(
        mechelen, here, start=f.days(120), status="FULFILLED", application_status="ENROLLED"
    )
    r["withdrawn_here"] = await req(
        mechelen, here, start=f.days(120), status="WITHDRAWN", application_status="WITHDRAWN"
    )
    r["refused_here"] = await req(mechelen, here, start=f.days(120), application_status="REFUSED")
    r["other_municipality"] = await req(herent, herent_loc, start=f.days(30))
    r["far_away"] = await req(mechelen, far, start=f.days(5))
    expected = {
        str(r["selected"].id): ("SELECTED", 2),
        str(r["waitlisted"].id): ("SELECTED", 1),
        str(r["selected_soon"].id): ("SELECTED", 1),
        str(r["emergency_residence"].id): ("EMERGENCY_LIST", None),
        str(r["emergency_location"].id): ("EMERGENCY_LIST", None),
        str(r["emergency_location_soon"].id): ("EMERGENCY_LIST", None),
    }
    return here, far, r, expected


async def inbox_pages(client: Any, location: Any, first: int) -> tuple[list[Any], int]:
    edges: list[Any] = []
    after = None
    pages = 0
    while True:
        result = await client.gql(INBOX, {"loc": str(location.id), "first": first, "after": after})
        assert "errors" not in result, result
        page = result["data"]["inbox"]
        pages += 1
        assert len(page["edges"]) <= first
        edges.extend(page["edges"])
        info = page["pageInfo"]
        assert info["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None)
        if not info["hasNextPage"]:
            return edges, pages
        after = info["endCursor"]
        assert pages < 50


async def test_inbox_as_provider_lists_selected_and_emergency_requests(actor: Any) -> None:
    # given
    here, _, requests, expected = await inbox_world()
    provider = await f.user(Role.PROVIDER, provider_location=here)

    # when
    result = await actor(provider).gql(INBOX, {"loc": str(here.id), "first": 100})

    # then
    assert "errors" not in result, result
    edges = result["data"]["inbox"]["edges"]
    assert result["data"]["inbox"]["pageInfo"]["hasNextPage"] is False
    got = {
        e["node"]["request"]["id"]: (
            e["node"]["reason"],
            e["node"]["application"]["preference"] if e["node"]["application"] else None,
        )
        for e in edges
    }
    assert len(edges) == len(got)
    assert got == expected
    for e in edges:
        node = e["node"]
        if node["reason"] == "SELECTED":
            assert node["application"]["location"] == {"id": str(here.id)}
            assert node["application"]["status"] in ("PENDING", "WAITLISTED")
            assert node["household"]["viewerGrant"] == "PROVIDER_SELECTED"
        else:
            assert node["application"] is None
            assert node["request"]["onEmergencyList"] is True
            assert node["household"]["viewerGrant"] == "PROVIDER_EMERGENCY"
    by_id = {e["node"]["request"]["id"]: e["node"] for e in edges}
    assert by_id[str(requests["selected"].id)]["household"]["id"] == str(
        requests["selected"].household_id
    )


async def test_inbox_as_provider_paginates_every_entry_once(actor: Any) -> None:
    # given
    here, _, _, expected = await inbox_world()
    client = actor(await f.user(Role.PROVIDER, provider_location=here))
    whole = await client.gql(INBOX, {"loc": str(here.id), "first": 100})
    order = [e["node"]["request"]["id"] for e in whole["data"]["inbox"]["edges"]]

    # when
    edges, pages = await inbox_pages(client, here, first=2)

    # then
    ids = [e["node"]["request"]["id"] for e in edges]
    assert ids == order
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == set(expected)
    assert pages == 3


async def test_inbox_as_provider_of_another_location_is_null(actor: Any) -> None:
    here, far, _, _ = await inbox_world()
    client = actor(await f.user(Role.PROVIDER, provider_location=far))

    result = await client.gql(INBOX, {"loc": str(here.id), "first": 20})

    assert result == {"data": {"inbox": None}}


async def test_inbox_as_loket_is_forbidden(actor: Any) -> None:
    here, _, _, _ = await inbox_world()
    leuven = await here.municipality
    counter = await f.counter("Loket Leuven", leuven)
    client = actor(await f.user(Role.LOKET, counter=counter))

    assert_forbidden(await client.gql(INBOX, {"loc": str(here.id), "first": 20}), "inbox")


async def test_inbox_as_parent_is_forbidden(actor: Any) -> None:
    here, _, requests, _ = await inbox_world()
    leuven = await here.municipality
    fam = await family(leuven, rrn=f.make_rrn(BIRTH, 99))
    await f.care_request(fam.child, here)

    result = await actor(fam.user).gql(INBOX, {"loc": str(here.id), "first": 20})

    assert_forbidden(result, "inbox")
    assert requests  # the world exists
