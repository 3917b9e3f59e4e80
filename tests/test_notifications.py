"""Notifications: the outbox rows the mutations write (in their own transaction, once),
the job that sends them to a real SMTP server on loopback (aiosmtpd), its retries,
failures, claims under concurrency, the deadline reminders and the templates."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import email
import email.policy
import itertools
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tortoise.transactions import in_transaction

import jobs.notifications as notifications
from jobs import outbox
from jobs.outbox import HOUSEHOLD_PARENTS, Kind
from jobs.runner import JobContext, run_job
from loket.settings import settings
from models.accounts import Membership, Role, User
from models.households import Household, Parent
from models.jobs import OutboxMessage
from models.privacy import Agreement, AgreementKind
from models.requests import Application, CareRequest
from tests import factories as f

SUBMIT = """
mutation($input: SubmitCareRequestInput!) {
  submitCareRequest(input: $input) { careRequest { id } errors { field code } }
}"""
ADD = """
mutation($i: AddChosenLocationsInput!) {
  addChosenLocations(input: $i) { careRequest { id } errors { field code } }
}"""
OFFER = """
mutation($i: OfferPlaceInput!) {
  offerPlace(input: $i) { application { id status } errors { field code } }
}"""
WITHDRAW_OFFER = """
mutation($i: WithdrawOfferInput!) {
  withdrawOffer(input: $i) { application { id status } errors { field code } }
}"""
GRANT = """
mutation($input: GrantMandateInput!) {
  grantMandate(input: $input) { mandate { id } errors { field code } }
}"""
REVOKE = """
mutation($input: RevokeMandateInput!) {
  revokeMandate(input: $input) { mandate { id active } errors { field code } }
}"""
START = """
mutation($input: StartDossierInput!) {
  startDossier(input: $input) { household { id } errors { field code } }
}"""

PATTERN = [{"day": "MON", "part": "FULL"}]
_families = itertools.count(1)
START_DATE = f.days(120)


# --- A real SMTP server on loopback ---------------------------------------------------------


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage


@dataclass
class Relay:
    """aiosmtpd handler: keeps what it accepts; `replies` are given instead of accepting
    (one each, in order); `delay` makes each DATA slow."""

    received: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 2.0.0 Accepted"

    def subjects(self) -> list[str]:
        return sorted(str(r.message["Subject"]) for r in self.received)


class EphemeralController(Controller):
    """aiosmtpd's Controller on a port the OS picks (port 0): the real port is read from
    the bound socket before the controller's own start-up check connects to it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def use_settings(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    monkeypatch.setattr(
        "jobs.notifications.settings", dataclasses.replace(notifications.settings, **changes)
    )


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    handler = Relay()
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    use_settings(
        monkeypatch,
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_tls="none",
        smtp_timeout_seconds=5,
    )
    yield handler
    controller.stop()


# --- Data ----------------------------------------------------------------------------------


@dataclass
class Family:
    user: User
    partner_user: User
    household: Household
    parent: Parent
    child: Any


async def family(muni: Any) -> Family:
    """Two parents with an account and one child (names that must never travel in a
    message)."""
    n = next(_families)
    lotte, jonas = f"lotte.peeters.{n}@example.be", f"jonas.maes.{n}@example.be"
    user = await f.user(Role.PARENT, email=lotte)
    h, p = await f.household(muni, user, first_name="Lotte", last_name="Peeters", email=lotte)
    partner_user = await f.user(Role.PARENT, email=jonas)
    await Parent.create(
        household=h,
        user=partner_user,
        is_applicant=False,
        first_name="Jonas",
        last_name="Maes",
        email=jonas,
        municipality=muni,
        **f.PARENT_DEFAULTS,
    )
    c = await f.child(h, born=f.days(-200), first_name="Mila")
    return Family(user, partner_user, h, p, c)


async def location_with_staff(muni: Any, name: str) -> tuple[Any, User]:
    loc = await f.location(muni, name)
    return loc, await f.user(Role.PROVIDER, provider_location=loc)


async def rows() -> list[dict[str, Any]]:
    return list(
        await OutboxMessage.all()
        .order_by("id")
        .values(
            "id",
            "kind",
            "recipient_id",
            "language",
            "params",
            "dedup_key",
            "status",
            "attempts",
            "last_error",
            "sent_at",
        )
    )


def messages(found: list[dict[str, Any]]) -> set[tuple[str, Any, str]]:
    """(kind, recipient, dedup key) of outbox rows."""
    return {(r["kind"], r["recipient_id"], r["dedup_key"]) for r in found}


async def queue(user: User, kind: str = Kind.MANDATE_GRANTED, **params: Any) -> int:
    """One outbox message for `user` (as a job's batch would write it); its id."""
    async with in_transaction():
        await outbox.notify(
            None,
            "SELECT {user}::uuid",
            kind=kind,
            key=f"test:{kind}:{len(await OutboxMessage.all())}",
            params=params or {"organisation_name": "OCMW Leuven"},
            user=user.id,
        )
    message = await OutboxMessage.all().order_by("-id").first()
    assert message is not None
    return message.id


async def status_of(message_id: int) -> dict[str, Any]:
    found = await OutboxMessage.filter(id=message_id).values(
        "status", "attempts", "last_error", "sent_at", "next_attempt_at", "claimed_until"
    )
    return found[0]


def submit_input(child: Any, *locations: Any) -> dict[str, Any]:
    return {
        "input": {
            "childId": str(child.id),
            "desiredStartDate": START_DATE.isoformat(),
            "carePattern": PATTERN,
            "locationIds": [str(loc.id) for loc in locations],
            "note": "",
        }
    }


# --- The mutations write their outbox rows --------------------------------------------------


async def test_submit_care_request_as_parent_notifies_the_staff_of_each_chosen_location(
    actor: Any,
) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, appel_staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    peer, peer_staff = await location_with_staff(muni, "Onthaal Het Peertje")
    organisation_staff = await f.user(Role.PROVIDER, provider_organisation=await appel.organisation)
    left = await f.user(Role.PROVIDER, provider_location=appel)
    await left.memberships.all().update(revoked_at=datetime.datetime.now(datetime.UTC))
    inactive = await f.user(Role.PROVIDER, provider_location=peer)
    await User.filter(id=inactive.id).update(is_active=False)
    await f.user(Role.INTEGRATOR, provider_organisation=await appel.organisation)
    both = await f.user(Role.PROVIDER, provider_location=appel)
    await Membership.create(
        user=both, role=Role.PROVIDER, provider_organisation=await appel.organisation
    )
    await location_with_staff(muni, "Kinderdagverblijf Elders")

    # when
    result = await actor(fam.user).gql(SUBMIT, submit_input(fam.child, appel, peer))

    # then
    assert result["data"]["submitCareRequest"]["errors"] == []
    apps = {a.location_id: a.id for a in await Application.all()}  # type: ignore[attr-defined]
    found = await rows()
    assert messages(found) == {
        ("new_application", appel_staff.id, f"new_application:{apps[appel.id]}:{appel_staff.id}"),
        (
            "new_application",
            organisation_staff.id,
            f"new_application:{apps[appel.id]}:{organisation_staff.id}",
        ),
        ("new_application", both.id, f"new_application:{apps[appel.id]}:{both.id}"),
        ("new_application", peer_staff.id, f"new_application:{apps[peer.id]}:{peer_staff.id}"),
    }
    assert len(found) == 4
    by_user = {r["recipient_id"]: r for r in found}
    assert by_user[appel_staff.id]["params"] == {
        "location_name": "Kinderdagverblijf De Appel",
        "desired_start_date": START_DATE.isoformat(),
    }
    assert by_user[peer_staff.id]["params"]["location_name"] == "Onthaal Het Peertje"
    assert {(r["status"], r["language"], r["attempts"]) for r in found} == {("PENDING", "nl", 0)}


async def test_add_chosen_locations_as_parent_notifies_only_the_added_location(
    actor: Any,
) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    peer, peer_staff = await location_with_staff(muni, "Onthaal Het Peertje")
    request = await f.care_request(fam.child, appel)

    # when
    result = await actor(fam.user).gql(
        ADD, {"i": {"requestId": str(request.id), "locationIds": [str(peer.id)]}}
    )

    # then
    assert result["data"]["addChosenLocations"]["errors"] == []
    added = await Application.get(request_id=request.id, location_id=peer.id)
    assert messages(await rows()) == {
        ("new_application", peer_staff.id, f"new_application:{added.id}:{peer_staff.id}")
    }


async def test_offer_place_as_provider_notifies_the_parents_with_an_account(actor: Any) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    request = await f.care_request(fam.child, appel)
    deadline = f.days(10)

    # when
    result = await actor(staff).gql(
        OFFER,
        {
            "i": {
                "requestId": str(request.id),
                "locationId": str(appel.id),
                "startDate": START_DATE.isoformat(),
                "replyDeadline": deadline.isoformat(),
            }
        },
    )

    # then
    assert result["data"]["offerPlace"]["errors"] == []
    app = await Application.get(request_id=request.id)
    found = await rows()
    assert {(r["kind"], r["recipient_id"]) for r in found} == {
        ("offer", fam.user.id),
        ("offer", fam.partner_user.id),
    }
    assert all(r["dedup_key"].startswith(f"offer:{app.id}:") for r in found)
    assert [r["params"] for r in found] == [
        {
            "location_name": "Kinderdagverblijf De Appel",
            "start_date": START_DATE.isoformat(),
            "reply_deadline": deadline.isoformat(),
        }
    ] * 2


async def test_offer_place_twice_at_once_as_provider_tells_the_family_once(actor: Any) -> None:
    """A doubled or retried offer (the same dates, e.g. on two servers at once) changes
    nothing the second time, so the family is not told twice (reliability harness)."""
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    request = await f.care_request(fam.child, appel)
    offer_input = {"i": {"requestId": str(request.id), "locationId": str(appel.id)}}

    # when: twice at once, then once more
    both = await asyncio.gather(
        actor(staff).gql(OFFER, offer_input), actor(staff).gql(OFFER, offer_input)
    )
    again = await actor(staff).gql(OFFER, offer_input)

    # then: three successful answers about one offer, one message per parent
    app = await Application.get(request_id=request.id)
    assert [r["data"]["offerPlace"] for r in [*both, again]] == [
        {"application": {"id": str(app.id), "status": "OFFERED"}, "errors": []}
    ] * 3
    found = await rows()
    assert sorted((r["kind"], r["recipient_id"]) for r in found) == sorted(
        [("offer", fam.user.id), ("offer", fam.partner_user.id)]
    )


async def test_offer_place_again_after_withdraw_offer_is_a_new_message(actor: Any) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    request = await f.care_request(fam.child, appel)
    offer_input = {"i": {"requestId": str(request.id), "locationId": str(appel.id)}}
    client = actor(staff)
    first = await client.gql(OFFER, offer_input)
    app_id = first["data"]["offerPlace"]["application"]["id"]

    # when
    withdrawn = await client.gql(WITHDRAW_OFFER, {"i": {"applicationId": app_id}})
    again = await client.gql(OFFER, offer_input)

    # then
    assert withdrawn["data"]["withdrawOffer"]["errors"] == []
    assert again["data"]["offerPlace"]["errors"] == []
    found = await rows()
    assert sorted(r["recipient_id"] for r in found) == sorted(
        [fam.user.id, fam.user.id, fam.partner_user.id, fam.partner_user.id]
    )
    assert len({r["dedup_key"] for r in found}) == 4


async def test_offer_place_as_provider_to_the_emergency_list_notifies_only_the_family(
    actor: Any,
) -> None:
    # given: a request starting in 30 days that chose another location of the municipality
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    chosen, chosen_staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    neighbour, staff = await location_with_staff(muni, "Onthaal Het Peertje")
    request = await f.care_request(fam.child, chosen, start=f.days(30))

    # when
    result = await actor(staff).gql(
        OFFER, {"i": {"requestId": str(request.id), "locationId": str(neighbour.id)}}
    )

    # then: the family hears of the offer; no provider hears of the application it made
    assert result["data"]["offerPlace"]["errors"] == []
    found = await rows()
    assert {(r["kind"], r["recipient_id"]) for r in found} == {
        ("offer", fam.user.id),
        ("offer", fam.partner_user.id),
    }
    assert found[0]["params"]["location_name"] == "Onthaal Het Peertje"
    assert chosen_staff.id not in {r["recipient_id"] for r in found}


async def test_grant_mandate_as_parent_notifies_the_family_and_the_organisation_workers(
    actor: Any,
) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    colleague = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    former = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    await former.memberships.all().update(revoked_at=datetime.datetime.now(datetime.UTC))
    await f.user(Role.TOELEIDER, referral_organisation=await f.referral_organisation("CAW"))

    # when
    result = await actor(fam.user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})

    # then
    mandate_id = result["data"]["grantMandate"]["mandate"]["id"]
    found = await rows()
    assert messages(found) == {
        ("mandate_granted", u.id, f"mandate_granted:{mandate_id}:{u.id}")
        for u in (fam.user, fam.partner_user, worker, colleague)
    }
    assert {str(r["params"]) for r in found} == {str({"organisation_name": "OCMW Leuven"})}


async def test_revoke_mandate_as_worker_then_as_parent_notifies_once(actor: Any) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    mandate = await f.mandate(fam.household, fam.parent, ocmw)

    # when
    first = await actor(worker).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})
    second = await actor(fam.user).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then
    assert first["data"]["revokeMandate"]["mandate"]["active"] is False
    assert second["data"]["revokeMandate"]["errors"] == []
    assert messages(await rows()) == {
        ("mandate_revoked", u.id, f"mandate_revoked:{mandate.id}:{u.id}")
        for u in (fam.user, fam.partner_user, worker)
    }


async def test_start_dossier_as_worker_notifies_the_organisation_workers(actor: Any) -> None:
    # given: the family has no account yet, so only the workers hear of the mandate
    await f.municipality("24062", "Leuven")
    ocmw = await f.referral_organisation("OCMW Leuven")
    worker = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    colleague = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    applicant = {
        **f.REGISTER_INPUT["applicant"],
        "firstName": "Fatima",
        "lastName": "El Amrani",
        "email": "fatima@example.be",
    }

    # when
    result = await actor(worker).gql(
        START,
        {
            "input": {
                "applicant": applicant,
                "familySituation": "SINGLE_PARENT",
                "incomeBelowThreshold": True,
                "child": {
                    "firstName": "Amira",
                    "lastName": "El Amrani",
                    "expectedBirthDate": f.days(90).isoformat(),
                },
                "consent": {
                    "method": "SIGNED_FORM",
                    "givenAt": (
                        datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
                    ).isoformat(),
                },
            }
        },
    )

    # then
    assert result["data"]["startDossier"]["errors"] == []
    found = await rows()
    assert {(r["kind"], r["recipient_id"]) for r in found} == {
        ("mandate_granted", worker.id),
        ("mandate_granted", colleague.id),
    }
    assert found[0]["params"] == {"organisation_name": "OCMW Leuven"}


async def end_processing_agreement(**party: Any) -> None:
    """The party's processing agreement ended yesterday."""
    ended = await Agreement.filter(kind=AgreementKind.PROCESSING, **party).update(
        ends_on=f.days(-1)
    )
    assert ended == 1


async def test_submit_care_request_as_parent_notifies_no_staff_whose_agreement_ended(
    actor: Any,
) -> None:
    # given: two chosen locations; the organisation of one has no agreement in force
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    await f.user(Role.PROVIDER, provider_organisation=await appel.organisation)
    peer, peer_staff = await location_with_staff(muni, "Onthaal Het Peertje")
    await end_processing_agreement(provider_organisation_id=appel.organisation_id)  # type: ignore[attr-defined]

    # when
    result = await actor(fam.user).gql(SUBMIT, submit_input(fam.child, appel, peer))

    # then: the request reaches both, the message only the staff who may open it
    assert result["data"]["submitCareRequest"]["errors"] == []
    assert await Application.all().count() == 2
    added = await Application.get(location_id=peer.id)
    assert messages(await rows()) == {
        ("new_application", peer_staff.id, f"new_application:{added.id}:{peer_staff.id}")
    }


async def test_revoke_mandate_as_parent_tells_no_workers_of_an_organisation_without_agreement(
    actor: Any,
) -> None:
    # given: a mandate of an organisation whose processing agreement has ended
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    mandate = await f.mandate(fam.household, fam.parent, ocmw)
    await end_processing_agreement(referral_organisation_id=ocmw.id)

    # when
    result = await actor(fam.user).gql(REVOKE, {"input": {"mandateId": str(mandate.id)}})

    # then: the family hears of it, the workers (who lost access already) do not
    assert result["data"]["revokeMandate"]["errors"] == []
    assert messages(await rows()) == {
        ("mandate_revoked", u.id, f"mandate_revoked:{mandate.id}:{u.id}")
        for u in (fam.user, fam.partner_user)
    }


async def test_submit_care_request_that_fails_after_the_notification_writes_none(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the transaction fails after its outbox row was written
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    written = outbox.new_applications

    async def write_then_fail(*args: Any) -> int:
        assert await written(*args) == 1
        raise RuntimeError("crash after the notification")

    monkeypatch.setattr(outbox, "new_applications", write_then_fail)

    # when
    response = await actor(fam.user).post_gql(SUBMIT, submit_input(fam.child, appel))

    # then
    assert response.json()["data"] is None
    assert await Application.all().count() == 0
    assert await rows() == []


async def test_mutations_refused_with_user_errors_write_no_notification(actor: Any) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    full = await f.location(muni, "Kinderdagverblijf Vol", capacity=1)
    full_staff = await f.user(Role.PROVIDER, provider_location=full)
    await f.enrolment(await f.child(fam.household, born=f.days(-300)), full)
    request = await f.care_request(fam.child, appel, full)
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    await f.mandate(fam.household, fam.parent, ocmw)
    client = actor(fam.user)

    # when
    chosen = await client.gql(
        ADD, {"i": {"requestId": str(request.id), "locationIds": [str(appel.id)]}}
    )
    twice = await client.gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})
    again = await client.gql(SUBMIT, submit_input(fam.child, appel))
    no_place = await actor(full_staff).gql(
        OFFER, {"i": {"requestId": str(request.id), "locationId": str(full.id)}}
    )

    # then
    assert chosen["data"]["addChosenLocations"]["errors"][0]["code"] == "ALREADY_CHOSEN"
    assert twice["data"]["grantMandate"]["errors"][0]["code"] == "MANDATE_EXISTS"
    assert again["data"]["submitCareRequest"]["errors"][0]["code"] == "OPEN_REQUEST_EXISTS"
    assert no_place["data"]["offerPlace"]["errors"][0]["code"] == "LOCATION_FULL"
    assert await rows() == []


async def test_the_same_event_written_twice_is_one_message(db: str, job_pool: Any) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    request = await f.care_request(fam.child, appel)

    # when: a resolver's helper (Tortoise transaction) and `notify` (a job's connection)
    written = []
    for _ in range(2):
        async with in_transaction():
            written.append(await outbox.new_applications(None, request.id, [appel.id]))
        async with job_pool.acquire() as conn, conn.transaction():
            written.append(
                await outbox.notify(
                    conn,
                    HOUSEHOLD_PARENTS,
                    kind=Kind.EMERGENCY_LIST,
                    key=f"emergency_list:{appel.id}:2027-01-01",
                    params={
                        "locations": ["X"],
                        "more_locations": 0,
                        "count": 1,
                        "date": "2027-01-01",
                    },
                    household=fam.household.id,
                )
            )

    # then
    assert written == [1, 2, 0, 0]
    assert len(await rows()) == 3


# --- Sending --------------------------------------------------------------------------------


async def test_notifications_send_each_message_once_in_dutch(
    actor: Any, job_pool: Any, relay: Relay
) -> None:
    # given: two providers' staff hear of a new request
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, appel_staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    peer, peer_staff = await location_with_staff(muni, "Onthaal Het Peertje")
    await actor(fam.user).gql(SUBMIT, submit_input(fam.child, appel, peer))
    queued = {r["recipient_id"]: r["id"] for r in await rows()}

    # when
    first = await run_job("notifications", job_pool)
    second = await run_job("notifications", job_pool)

    # then
    assert first.counts == {"sent": 2}
    assert second.counts == {}
    assert relay.subjects() == [
        "Nieuwe aanvraag voor Kinderdagverblijf De Appel",
        "Nieuwe aanvraag voor Onthaal Het Peertje",
    ]
    by_address = {r.recipients[0]: r.message for r in relay.received}
    assert sorted(by_address) == sorted([appel_staff.email, peer_staff.email])
    message = by_address[appel_staff.email]
    assert message["To"] == appel_staff.email
    assert message["From"] == settings.mail_from
    assert message["Message-ID"] == notifications.message_id(queued[appel_staff.id])
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    months = notifications._MONTHS["nl"]
    assert f"{START_DATE.day} {months[START_DATE.month - 1]} {START_DATE.year}" in body
    assert settings.public_url in body
    assert {(r["status"], r["attempts"], r["last_error"]) for r in await rows()} == {
        ("SENT", 1, "")
    }
    assert all(r["sent_at"] is not None for r in await rows())


async def test_notifications_in_english_and_in_an_unknown_language_in_dutch(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given
    user = await f.user(None)
    english = await queue(user, Kind.MANDATE_REVOKED)
    french = await queue(user, Kind.MANDATE_REVOKED)
    await OutboxMessage.filter(id=english).update(language="en")
    await OutboxMessage.filter(id=french).update(language="fr")

    # when
    await run_job("notifications", job_pool)

    # then
    assert relay.subjects() == [
        "Mandaat van OCMW Leuven ingetrokken",
        "Mandate of OCMW Leuven revoked",
    ]


async def test_notifications_retry_a_temporary_failure_later(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given: the relay answers 451 once
    message_id = await queue(await f.user(None))
    relay.replies.append("451 4.3.0 Try again later")

    # when
    failed = await run_job("notifications", job_pool)
    state = await status_of(message_id)
    too_early = await run_job("notifications", job_pool)

    # then: waiting for the backoff, not sent
    assert failed.counts == {"retried": 1}
    assert too_early.counts == {}
    assert relay.received == []
    assert (state["status"], state["attempts"], state["last_error"]) == (
        "PENDING",
        1,
        "SMTPDataError 451",
    )
    assert state["claimed_until"] is None
    wait = state["next_attempt_at"] - datetime.datetime.now(datetime.UTC)
    assert (
        datetime.timedelta(seconds=notifications.RETRY_BASE_SECONDS - 30)
        < wait
        <= datetime.timedelta(seconds=notifications.RETRY_BASE_SECONDS)
    )

    # when: the backoff has passed
    await OutboxMessage.filter(id=message_id).update(
        next_attempt_at=datetime.datetime.now(datetime.UTC)
    )
    later = await run_job("notifications", job_pool)

    # then
    assert later.counts == {"sent": 1}
    assert len(relay.received) == 1
    state = await status_of(message_id)
    assert (state["status"], state["attempts"], state["last_error"]) == ("SENT", 2, "")


async def test_notifications_give_up_after_the_maximum_attempts(
    db: str, job_pool: Any, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    use_settings(monkeypatch, mail_max_attempts=2)
    message_id = await queue(await f.user(None))
    relay.replies.extend(["451 4.3.0 Try again later"] * 2)

    # when
    first = await run_job("notifications", job_pool)
    await OutboxMessage.filter(id=message_id).update(
        next_attempt_at=datetime.datetime.now(datetime.UTC)
    )
    second = await run_job("notifications", job_pool)

    # then
    assert (first.counts, second.counts) == ({"retried": 1}, {"failed": 1})
    state = await status_of(message_id)
    assert (state["status"], state["attempts"]) == ("FAILED", 2)
    assert relay.received == []


async def test_notifications_fail_a_permanent_failure_at_once(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given
    user = await f.user(None)
    rejected = await queue(user)
    accepted = await queue(user)
    relay.replies.append(f"550 5.1.1 <{user.email}>: no such user")

    # when
    result = await run_job("notifications", job_pool)

    # then: the next message on the same connection still goes out; no address is kept
    assert result.counts == {"failed": 1, "sent": 1}
    state = await status_of(rejected)
    assert (state["status"], state["attempts"], state["last_error"]) == (
        "FAILED",
        1,
        "SMTPDataError 550",
    )
    assert (await status_of(accepted))["status"] == "SENT"
    assert len(relay.received) == 1


async def test_notifications_drop_messages_of_a_deactivated_or_deleted_recipient(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given
    deactivated = await f.user(None)
    deleted = await f.user(None)
    active = await f.user(None)
    for_deactivated = await queue(deactivated)
    for_deleted = await queue(deleted)
    for_active = await queue(active)
    await User.filter(id=deactivated.id).update(is_active=False)
    await deleted.delete()

    # when
    result = await run_job("notifications", job_pool)

    # then
    assert result.counts == {"dropped": 2, "sent": 1}
    assert [r.recipients for r in relay.received] == [[active.email]]
    assert (await status_of(for_deactivated))["status"] == "DROPPED"
    assert (await status_of(for_deleted))["status"] == "DROPPED"
    assert (await status_of(for_active))["status"] == "SENT"


async def test_notifications_retry_when_the_relay_is_unreachable(
    db: str, job_pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: nothing listens on the port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_settings(monkeypatch, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=5)
    user = await f.user(None)
    ids = [await queue(user), await queue(user)]

    # when
    result = await run_job("notifications", job_pool)

    # then: no attempt is counted (an outage must not use up the attempts)
    assert result.counts == {"retried": 2}
    for message_id in ids:
        state = await status_of(message_id)
        assert (state["status"], state["attempts"], state["last_error"]) == (
            "PENDING",
            0,
            "SMTPConnectError",
        )


async def test_notifications_give_up_after_a_long_outage_only(
    db: str, job_pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: nothing listens; one message waits for 73 hours, one for 71
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_settings(monkeypatch, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=5)
    user = await f.user(None)
    old, recent = await queue(user), await queue(user)
    now = datetime.datetime.now(datetime.UTC)
    await OutboxMessage.filter(id=old).update(created_at=now - datetime.timedelta(hours=73))
    await OutboxMessage.filter(id=recent).update(created_at=now - datetime.timedelta(hours=71))

    # when
    result = await run_job("notifications", job_pool)

    # then
    assert result.counts == {"retried": 1, "failed": 1}
    assert (await status_of(old))["status"] == "FAILED"
    assert (await status_of(recent))["status"] == "PENDING"


async def test_notifications_without_smtp_send_nothing(
    db: str, job_pool: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    use_settings(monkeypatch, smtp_host=None)
    message_id = await queue(await f.user(None))
    caplog.set_level(logging.INFO, logger="loket")

    # when
    result = await run_job("notifications", job_pool)

    # then
    assert result.counts == {}
    assert (await status_of(message_id))["status"] == "PENDING"
    assert [r.getMessage() for r in caplog.records if "SMTP" in r.getMessage()] == [
        "notifications: SMTP not configured (LOKET_SMTP_HOST); messages stay queued"
    ]


async def test_notifications_dry_run_counts_what_is_due_and_sends_nothing(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given
    active = await f.user(None)
    inactive = await f.user(None)
    await queue(active)
    await queue(active)
    await queue(inactive)
    later = await queue(active)
    await User.filter(id=inactive.id).update(is_active=False)
    await OutboxMessage.filter(id=later).update(
        next_attempt_at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    )

    # when
    result = await run_job("notifications", job_pool, dry_run=True)

    # then
    assert result.counts == {"sent": 2, "dropped": 1}
    assert relay.received == []
    assert {r["status"] for r in await rows()} == {"PENDING"}


async def test_notifications_two_runs_at_once_send_each_message_once(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given: a slow relay, so the runs overlap
    user = await f.user(None)
    ids = [await queue(user) for _ in range(3)]
    relay.delay = 0.2

    # when
    results = await asyncio.gather(
        run_job("notifications", job_pool), run_job("notifications", job_pool)
    )

    # then: the job's lock lets one run; each message is sent once
    assert sorted(str(r.skipped) for r in results) == ["None", "already running"]
    assert sum(r.counts.get("sent", 0) for r in results) == 3
    assert sorted(str(r.message["Message-ID"]) for r in relay.received) == sorted(
        notifications.message_id(i) for i in ids
    )


async def test_notifications_two_senders_at_once_claim_different_messages(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given: two senders (as on two machines, without the job lock) and a slow relay
    user = await f.user(None)
    ids = [await queue(user) for _ in range(8)]
    relay.delay = 0.05
    senders = [
        JobContext(pool=job_pool, name="notifications", today=f.TODAY, batch_size=2)
        for _ in range(2)
    ]

    # when
    await asyncio.gather(*(notifications.send_due(ctx) for ctx in senders))

    # then: both sent, none twice
    assert [ctx.counts["sent"] > 0 for ctx in senders] == [True, True]
    assert sum(ctx.counts["sent"] for ctx in senders) == 8
    assert sorted(str(r.message["Message-ID"]) for r in relay.received) == sorted(
        notifications.message_id(i) for i in ids
    )
    assert {(r["status"], r["attempts"]) for r in await rows()} == {("SENT", 1)}


async def test_notifications_take_over_the_messages_of_a_crashed_sender_after_its_claim(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given: one message claimed by a live sender, one by a sender whose claim ran out
    user = await f.user(None)
    held = await queue(user)
    abandoned = await queue(user)
    now = datetime.datetime.now(datetime.UTC)
    await OutboxMessage.filter(id=held).update(claimed_until=now + datetime.timedelta(minutes=5))
    await OutboxMessage.filter(id=abandoned).update(
        claimed_until=now - datetime.timedelta(seconds=1)
    )

    # when
    result = await run_job("notifications", job_pool)

    # then
    assert result.counts == {"sent": 1}
    assert [str(r.message["Message-ID"]) for r in relay.received] == [
        notifications.message_id(abandoned)
    ]
    assert (await status_of(held))["status"] == "PENDING"


async def test_notifications_fail_a_message_its_template_cannot_render(
    db: str, job_pool: Any, relay: Relay
) -> None:
    # given: an offer without the parameters its template needs
    message_id = await queue(await f.user(None), Kind.OFFER, unexpected="x")

    # when
    result = await run_job("notifications", job_pool)

    # then
    assert result.counts == {"failed": 1}
    state = await status_of(message_id)
    assert (state["status"], state["last_error"]) == ("FAILED", "UndefinedError")
    assert relay.received == []


# --- Templates ------------------------------------------------------------------------------

SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    Kind.NEW_APPLICATION: {"location_name": "De Appel", "desired_start_date": "2027-03-01"},
    Kind.OFFER: {
        "location_name": "De Appel",
        "start_date": "2027-03-01",
        "reply_deadline": "2027-02-10",
    },
    Kind.DEADLINE_NEAR: {
        "location_name": "De Appel",
        "start_date": "2027-03-01",
        "reply_deadline": "2027-02-10",
    },
    Kind.EMERGENCY_LIST: {
        "locations": ["De Appel", "Het Peertje"],
        "more_locations": 2,
        "count": 3,
        "date": "2027-01-05",
    },
    Kind.MANDATE_GRANTED: {"organisation_name": "OCMW Leuven"},
    Kind.MANDATE_REVOKED: {"organisation_name": "OCMW Leuven"},
    Kind.BREACH_REPORTED: {"deadline": "2027-01-08T13:30Z"},
}
KINDS = [v for k, v in vars(Kind).items() if not k.startswith("_")]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_template_in_dutch_and_english(kind: str, language: str) -> None:
    mail = notifications.render(kind, language, SAMPLE_PARAMS[kind])

    assert mail.subject
    assert "\n" not in mail.subject
    # the subject names where (a location, an organisation) or, for a breach, by when
    assert any(hint in mail.subject for hint in ("De Appel", "OCMW Leuven", "2027"))
    assert settings.public_url in mail.body
    assert "None" not in mail.body
    assert (notifications.TEMPLATES / language / f"{kind}.txt").is_file()


def test_templates_say_dates_and_counts_in_words() -> None:
    one = notifications.render(
        Kind.EMERGENCY_LIST,
        "nl",
        {"locations": ["De Appel"], "more_locations": 0, "count": 1, "date": "2027-01-05"},
    )
    three = notifications.render(Kind.EMERGENCY_LIST, "nl", SAMPLE_PARAMS[Kind.EMERGENCY_LIST])
    offer = notifications.render(Kind.OFFER, "en", SAMPLE_PARAMS[Kind.OFFER])

    assert one.subject == "1 aanvraag op de noodlijst bij De Appel"
    assert "Op 5 januari 2027 kwam 1 aanvraag op de noodlijst uit de buurt van:\n- De Appel\n" in (
        one.body
    )
    assert "andere" not in one.body
    assert three.subject == "3 aanvragen op de noodlijst bij De Appel en andere locaties"
    assert "kwamen 3 aanvragen" in three.body
    assert "- De Appel\n- Het Peertje\n- en 2 andere locaties\n" in three.body
    assert offer.body.startswith("Hello,\n\nDe Appel offers a childcare place from 1 March 2027.")
    assert "Please reply by 10 February 2027." in offer.body


def test_breach_template_says_the_deadline_in_belgian_time() -> None:
    winter = notifications.render(Kind.BREACH_REPORTED, "nl", {"deadline": "2027-01-08T13:30Z"})
    summer = notifications.render(Kind.BREACH_REPORTED, "en", {"deadline": "2027-07-08T23:30Z"})

    assert winter.subject == "Vermoedelijk datalek gemeld: beoordelen vóór 8 januari 2027 om 14:30"
    assert "uiterlijk op 8 januari 2027 om 14:30 (Belgische tijd)" in winter.body
    assert summer.subject == "Suspected data breach reported: assess it before 9 July 2027 at 01:30"
    assert "must know by 9 July 2027 at 01:30 (Belgian time)" in summer.body


def test_templates_keep_a_subject_on_one_line() -> None:
    mail = notifications.render(
        Kind.MANDATE_GRANTED, "nl", {"organisation_name": "OCMW\r\nBcc: x@example.test"}
    )

    assert mail.subject == "Mandaat gegeven aan OCMW Bcc: x@example.test"
    assert mail.body.startswith("Goeiedag,\n\nEr is een mandaat gegeven aan OCMW Bcc:")


# --- Deadline reminders ---------------------------------------------------------------------


async def offered(
    fam: Family, loc: Any, deadline: datetime.date, status: str = "OFFERED"
) -> Application:
    request = await f.care_request(fam.child, loc, application_status=status)
    app = await Application.get(request_id=request.id)
    app.reply_deadline = deadline
    app.offered_start_date = START_DATE
    await app.save()
    return app


REMINDER_DAYS = settings.deadline_reminder_days


@pytest.mark.parametrize(
    ("days_before_deadline", "reminded"),
    [
        (REMINDER_DAYS + 1, False),  # the day before the window
        (REMINDER_DAYS, True),  # the window's first day
        (0, True),  # the deadline itself
        (-1, False),  # the day after the deadline
    ],
)
async def test_deadline_reminders_at_the_window_boundaries(
    db: str, job_pool: Any, days_before_deadline: int, reminded: bool
) -> None:
    # given
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    loc, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    deadline = f.days(20)
    app = await offered(fam, loc, deadline)
    today = deadline - datetime.timedelta(days=days_before_deadline)

    # when
    result = await run_job("deadline_reminders", job_pool, today=today)

    # then
    found = await rows()
    if reminded:
        assert result.counts == {"reminders": 2}
        assert messages(found) == {
            ("deadline_near", u.id, f"deadline_near:{app.id}:{deadline.isoformat()}:{u.id}")
            for u in (fam.user, fam.partner_user)
        }
        assert found[0]["params"] == {
            "location_name": "Kinderdagverblijf De Appel",
            "start_date": START_DATE.isoformat(),
            "reply_deadline": deadline.isoformat(),
        }
    else:
        assert result.counts == {}
        assert found == []


async def test_deadline_reminders_in_batches_once_per_deadline_and_only_for_open_offers(
    db: str, job_pool: Any
) -> None:
    # given: three open offers, one answered, one of a closed request
    muni = await f.municipality("24062", "Leuven")
    loc, _ = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    deadline = f.days(2)
    open_offers = []
    for _ in range(3):
        open_offers.append(await offered(await family(muni), loc, deadline))
    await offered(await family(muni), loc, deadline, status="DECLINED")
    closed = await offered(await family(muni), loc, deadline)
    await CareRequest.filter(id=closed.request_id).update(status="WITHDRAWN")  # type: ignore[attr-defined]

    # when
    dry = await run_job("deadline_reminders", job_pool, today=f.TODAY, dry_run=True)
    first = await run_job("deadline_reminders", job_pool, today=f.TODAY, batch_size=1)
    second = await run_job("deadline_reminders", job_pool, today=f.TODAY + datetime.timedelta(1))
    moved = open_offers[0]
    await Application.filter(id=moved.id).update(reply_deadline=f.days(3))
    third = await run_job("deadline_reminders", job_pool, today=f.TODAY)

    # then
    assert dry.counts == {"reminders": 6}
    assert first.counts == {"reminders": 6}
    assert first.batches == 4
    assert second.counts == {}
    assert third.counts == {"reminders": 2}
    found = await rows()
    assert len(found) == 8
    assert {r["dedup_key"].rsplit(":", 2)[0] for r in found} == {
        f"deadline_near:{a.id}" for a in open_offers
    }


# --- No personal data in messages or logs ---------------------------------------------------


async def test_sent_messages_and_logs_hold_no_personal_data(
    actor: Any, job_pool: Any, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    # given: every kind of event for a family whose names must not travel
    caplog.set_level(logging.DEBUG, logger="loket")
    muni = await f.municipality("24062", "Leuven")
    fam = await family(muni)
    appel, staff = await location_with_staff(muni, "Kinderdagverblijf De Appel")
    ocmw = await f.referral_organisation("OCMW Leuven")
    await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    await actor(fam.user).gql(SUBMIT, submit_input(fam.child, appel))
    request_id = (await Application.get()).request_id  # type: ignore[attr-defined]
    deadline = f.days(2)
    await actor(staff).gql(
        OFFER,
        {
            "i": {
                "requestId": str(request_id),
                "locationId": str(appel.id),
                "replyDeadline": deadline.isoformat(),
            }
        },
    )
    await actor(fam.user).gql(GRANT, {"input": {"referralOrganisationId": str(ocmw.id)}})
    await run_job("deadline_reminders", job_pool)
    async with job_pool.acquire() as conn, conn.transaction():
        await outbox.notify(
            conn,
            outbox.LOCATION_STAFF,
            kind=Kind.EMERGENCY_LIST,
            key=f"emergency_list:{appel.id}:{f.TODAY}",
            params={
                "locations": ["Kinderdagverblijf De Appel"],
                "more_locations": 0,
                "count": 1,
                "date": "2027-01-05",
            },
            location=appel.id,
        )

    # when
    result = await run_job("notifications", job_pool)

    # then
    assert {r["kind"] for r in await rows()} == {
        "new_application",
        "offer",
        "deadline_near",
        "mandate_granted",
        "emergency_list",
    }
    assert result.counts == {"sent": len(await rows())}
    personal = [
        "Lotte",
        "Peeters",
        "Jonas",
        "Maes",
        "Mila",
        fam.child.last_name,
        fam.child.nickname,
        "Naamsestraat",
        "+32470123456",
        "lotte.peeters",
        "jonas.maes",
    ]
    for r in relay.received:
        seen = f"{r.message['Subject']}\n{r.message['From']}\n{r.message.get_content()}"
        assert [p for p in personal if p in seen] == [], seen
    stored = str([r["params"] for r in await rows()])
    assert [p for p in personal if p in stored] == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert [p for p in personal if p in logged] == []
    assert "@" not in logged
