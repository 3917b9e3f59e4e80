"""The retention job (`jobs.retention`): who is anonymised when, what anonymised means,
idempotency, dry runs, a crash mid-batch, the run record, and that an anonymised dossier
or child exists for no viewer any more.

Dates are fixed: a reference date of 15 March 2020 makes 15 March 2025 the fifth
anniversary; the job runs with that day (and the days around it) as its reference date.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from jobs.runner import RunResult, run_job
from loket import passwords
from models.access_log import AccessLogEntry
from models.accounts import Membership, Role, User
from models.households import Child, Household, Invitation, InvitationKind, Mandate, Parent
from models.jobs import JobRun, OutboxMessage, OutboxStatus
from models.requests import Application, CareRequest, Enrolment
from models.searches import SavedSearch
from permissions.rrn import Rrn
from resolvers import uniqueness
from tests import factories as f
from tests import world as world_module

UTC = datetime.UTC
REFERENCE = datetime.date(2020, 3, 15)
ANNIVERSARY = datetime.date(2025, 3, 15)
LONG_AGO = datetime.datetime(2018, 1, 1, 9, tzinfo=UTC)
PASSWORD = "correct horse battery staple"

SIGN_IN = """mutation SignIn($input: SignInInput!) {
  signIn(input: $input) { token errors { code } } }"""
DOSSIER = "query($id: ID!) { household(id: $id) { id children { id } } }"
DOSSIERS = "{ dossiers(first: 100) { edges { node { id } } } }"
SERVICE_CHILDREN = "{ serviceChildren(first: 100) { edges { node { id firstName } } } }"


def day(d: datetime.date, offset: int = 0) -> datetime.date:
    return d + datetime.timedelta(days=offset)


def noon(d: datetime.date) -> datetime.datetime:
    """Midday in Brussels on day `d` (11:00 or 10:00 UTC): the same day everywhere."""
    return datetime.datetime(d.year, d.month, d.day, 10, tzinfo=UTC)


def years_after(d: datetime.date, years: int) -> datetime.date:
    """`d` plus whole years as PostgreSQL adds them (29 February becomes 28 February)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


async def run(pool: asyncpg.Pool, today: datetime.date, **kw: Any) -> RunResult:
    return await run_job("retention", pool, today=today, **kw)


async def place() -> tuple[Any, Any]:
    muni = await f.municipality("24062", "Leuven")
    return muni, await f.location(muni, "Kinderdagverblijf Leuven")


async def dossier(
    muni: Any,
    loc: Any,
    kind: str,
    *,
    user: Any = None,
    reference: datetime.date = REFERENCE,
    **parent: Any,
) -> tuple[Household, Parent, Child]:
    """A household, registered long ago, with one child whose reference date is
    `reference` through `kind`: "enrolment" (the enrolment ended then), "request" (a
    request without enrolment closed then) or "none" (no request; registered then)."""
    h, p = await f.household(muni, user, **parent)
    c = await f.child(h, born=datetime.date(2017, 11, 20))
    registered = noon(reference) if kind == "none" else LONG_AGO
    await Household.filter(id=h.id).update(created_at=registered)
    await Child.filter(id=c.id).update(created_at=registered)
    if kind == "enrolment":
        r = await f.care_request(
            c,
            loc,
            start=datetime.date(2018, 9, 1),
            status="FULFILLED",
            application_status="ENROLLED",
        )
        await CareRequest.filter(id=r.id).update(
            submitted_at=LONG_AGO, closed_at=noon(datetime.date(2018, 6, 1))
        )
        await f.enrolment(c, loc, start=datetime.date(2018, 9, 1), end_date=reference, request=r)
    elif kind == "request":
        r = await f.care_request(
            c,
            loc,
            start=datetime.date(2018, 9, 1),
            status="WITHDRAWN",
            application_status="WITHDRAWN",
        )
        await CareRequest.filter(id=r.id).update(submitted_at=LONG_AGO, closed_at=noon(reference))
    else:
        assert kind == "none"
    return h, p, c


async def is_anonymised(model: Any, row_id: Any) -> bool:
    return (await model.get(id=row_id)).anonymised_at is not None


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[Any]]:
    """Every row the job may change, for before/after comparisons."""
    async with pool.acquire() as conn:
        return {
            t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY id")]
            for t in CHANGED_TABLES
        }


CHANGED_TABLES = (
    "household",
    "parent",
    "child",
    "app_user",
    "membership",
    "care_request",
    "application",
    "mandate",
    "invitation",
    "saved_search",
    "outbox",
    "access_log",
)


# When


@pytest.mark.parametrize("kind", ["enrolment", "request", "none"])
@pytest.mark.parametrize(("offset", "due"), [(-1, False), (0, True), (1, True)])
async def test_dossier_is_anonymised_from_the_fifth_anniversary_of_its_reference_date(
    db: str, job_pool: asyncpg.Pool, kind: str, offset: int, due: bool
) -> None:
    # given a dossier whose last use (enrolment end, closed request, registration) was
    # on 15 March 2020
    muni, loc = await place()
    h, p, c = await dossier(muni, loc, kind)
    # when the job runs the day before, on or the day after the fifth anniversary
    result = await run(job_pool, day(ANNIVERSARY, offset))
    # then parents and child are anonymised from the anniversary on, not a day earlier
    assert await is_anonymised(Household, h.id) is due
    assert await is_anonymised(Child, c.id) is due
    assert (await Parent.get(id=p.id)).first_name == ("" if due else p.first_name)
    assert result.counts == ({"children": 1, "households": 1, "parents": 1} if due else {})


async def test_closing_day_is_the_day_in_brussels(db: str, job_pool: asyncpg.Pool) -> None:
    # given a request withdrawn at 23:30 UTC on 15 March 2020: 00:30 on 16 March in Brussels
    muni, loc = await place()
    h, _, c = await dossier(muni, loc, "request")
    await CareRequest.filter(child_id=c.id).update(
        closed_at=datetime.datetime(2020, 3, 15, 23, 30, tzinfo=UTC)
    )
    # when the job runs on 15 March 2025, then on 16 March 2025
    await run(job_pool, ANNIVERSARY)
    kept = not await is_anonymised(Household, h.id)
    await run(job_pool, day(ANNIVERSARY, 1))
    # then the reference date was 16 March
    assert kept
    assert await is_anonymised(Household, h.id)


@pytest.mark.parametrize("keeps", ["open request", "current enrolment"])
async def test_open_request_or_current_enrolment_keeps_the_dossier(
    db: str, job_pool: asyncpg.Pool, keeps: str
) -> None:
    # given a dossier registered in 2010 whose child has an open request, or holds a
    # place without an end date
    muni, loc = await place()
    h, _, c = await dossier(muni, loc, "none", reference=datetime.date(2010, 1, 1))
    if keeps == "open request":
        r = await f.care_request(c, loc)
        await CareRequest.filter(id=r.id).update(submitted_at=noon(datetime.date(2010, 1, 1)))
    else:
        await f.enrolment(c, loc, start=datetime.date(2010, 9, 1))
    # when the job runs fifteen years later
    result = await run(job_pool, ANNIVERSARY)
    # then nothing is touched
    assert result.counts == {}
    assert not await is_anonymised(Household, h.id)
    assert not await is_anonymised(Child, c.id)


@pytest.mark.parametrize(("offset", "due"), [(-1, False), (0, True), (1, True)])
async def test_younger_sibling_still_enrolled_keeps_the_household_not_the_older_child(
    db: str, job_pool: asyncpg.Pool, offset: int, due: bool
) -> None:
    # given a household whose older child's enrolment ended on 15 March 2020 and whose
    # younger child still holds a place
    muni, loc = await place()
    h, p, older = await dossier(muni, loc, "enrolment")
    younger = await f.child(h, born=datetime.date(2023, 1, 10))
    await f.enrolment(younger, loc, start=datetime.date(2024, 1, 8))
    # when the job runs around the older child's fifth anniversary
    result = await run(job_pool, day(ANNIVERSARY, offset))
    # then the older child is anonymised from the anniversary on; the parents, the
    # household and the younger child are not touched
    assert await is_anonymised(Child, older.id) is due
    assert result.counts == ({"children": 1} if due else {})
    assert not await is_anonymised(Household, h.id)
    assert not await is_anonymised(Child, younger.id)
    parent = await Parent.get(id=p.id)
    assert (parent.first_name, parent.email, parent.user_id) == (p.first_name, p.email, None)


async def test_child_registered_later_keeps_the_household(db: str, job_pool: asyncpg.Pool) -> None:
    # given a household whose request closed on 15 March 2020, and a second child
    # registered (without a request yet) on 1 June 2022
    muni, loc = await place()
    h, _, _ = await dossier(muni, loc, "request")
    second = await f.child(h, expected=datetime.date(2022, 9, 1))
    await Child.filter(id=second.id).update(created_at=noon(datetime.date(2022, 6, 1)))
    # when the job runs on the first child's fifth anniversary
    result = await run(job_pool, ANNIVERSARY)
    # then only the first child is anonymised: the dossier was used again in 2022
    assert result.counts == {"children": 1}
    assert not await is_anonymised(Household, h.id)
    # and five years after the second registration the rest follows
    result = await run(job_pool, datetime.date(2027, 6, 1))
    assert result.counts["children"] == 1
    assert result.counts["households"] == 1
    assert await is_anonymised(Household, h.id)


# What


async def test_anonymisation_clears_every_personal_field_and_trace(
    db: str, job_pool: asyncpg.Pool
) -> None:
    # given a dossier due for anonymisation, with an account, a partner, RRNs, free
    # text, a mandate, an invitation, saved searches, messages and access-log rows
    muni, loc = await place()
    org = await f.referral_organisation("OCMW Leuven")
    admin = await f.user(Role.ADMIN)
    account = await User.create(
        email="anneliese.vandenbroucke@example.be",
        display_name="Anneliese Vandenbroucke",
        password_hash=passwords.hash_password(PASSWORD),
    )
    await Membership.create(user=account, role=Role.PARENT)
    h, applicant, c = await dossier(
        muni,
        loc,
        "request",
        user=account,
        rrn=f.make_rrn(datetime.date(1990, 4, 2), 11),
        first_name="Anneliese",
        last_name="Vandenbroucke",
        email="anneliese.vandenbroucke@example.be",
        birthplace="Brugge",
        situation_source="REFERRAL_WORKER",
        situation_source_organisation=org,
    )
    await Household.filter(id=h.id).update(situation_source_organisation_id=org.id)
    await Parent.create(
        household=h,
        is_applicant=False,
        first_name="Bartholomeus",
        last_name="Claeys",
        email="bartholomeus.claeys@example.be",
        municipality=muni,
        **f.PARENT_DEFAULTS,
    )
    await Child.filter(id=c.id).update(nickname="Lottje")
    await uniqueness.store_child_rrn(c.id, Rrn.parse(f.make_rrn(datetime.date(2017, 11, 20), 21)))
    twin = await f.child(h, expected=datetime.date(2018, 2, 23), rrn=None)
    await Child.filter(id=twin.id).update(created_at=LONG_AGO)
    await f.care_request(twin, loc, status="WITHDRAWN", application_status="REFUSED")
    await CareRequest.filter(household_id=h.id).update(
        note="Lotte heeft een notenallergie", submitted_at=LONG_AGO, closed_at=noon(REFERENCE)
    )
    await Application.filter(request__household_id=h.id).update(
        refusal_reason="Mevrouw Vandenbroucke belde af"
    )
    await f.mandate(h, applicant, org, consent_note="Getekend door Anneliese")
    await Invitation.create(
        kind=InvitationKind.PARTNER,
        household=h,
        code_digest="d" * 64,
        expires_at=noon(REFERENCE),
    )
    await SavedSearch.create(user=account, name="Bij oma", kind="LOCATIONS", filters={})
    await OutboxMessage.create(kind="OFFER", recipient=account, dedup_key="pending")
    await OutboxMessage.create(
        kind="OFFER", recipient=account, dedup_key="sent", status=OutboxStatus.SENT
    )
    for n in range(2):
        await AccessLogEntry.create(
            viewer=admin,
            role="ADMIN",
            grant_name="ADMIN",
            household=h,
            fields_read=["Parent.firstName", "Parent.phone"],
            operation_name="Dossier",
            request_id=f"request-{n}",
        )
    live, _ = await f.household(muni)
    await AccessLogEntry.create(
        viewer=admin,
        role="ADMIN",
        grant_name="ADMIN",
        household=live,
        fields_read=["Parent.firstName"],
        operation_name="Dossier",
        request_id="request-live",
    )

    # when the job runs on the fifth anniversary
    result = await run(job_pool, ANNIVERSARY)

    # then each rule counts what it touched
    assert result.counts == {
        "children": 2,
        "households": 1,
        "parents": 2,
        "accounts_closed": 1,
        "access_log_rows": 2,
    }
    async with job_pool.acquire() as conn:
        parents = await conn.fetch(
            "SELECT * FROM parent WHERE household_id = $1 ORDER BY is_applicant DESC", h.id
        )
        household = await conn.fetchrow("SELECT * FROM household WHERE id = $1", h.id)
        children = await conn.fetch(
            "SELECT * FROM child WHERE household_id = $1 ORDER BY birth_date NULLS LAST", h.id
        )
        user = await conn.fetchrow("SELECT * FROM app_user WHERE id = $1", account.id)
        log_rows = await conn.fetch(
            "SELECT * FROM access_log WHERE viewer_id = $1 ORDER BY id", admin.id
        )
        notes = await conn.fetch("SELECT note FROM care_request WHERE household_id = $1", h.id)
        request = await conn.fetchrow(
            "SELECT status, submitted_at FROM care_request WHERE child_id = $1", c.id
        )
        reasons = await conn.fetch(
            """SELECT a.refusal_reason FROM application a
               JOIN care_request r ON r.id = a.request_id WHERE r.household_id = $1""",
            h.id,
        )
    # the parents keep only what the statistics need
    for row in parents:
        assert {k: row[k] for k in CLEARED_PARENT} == CLEARED_PARENT
        assert row["municipality_id"] == muni.nis_code
    assert [r["is_applicant"] for r in parents] == [True, False]
    assert household["income_below_threshold"] is None
    assert household["situation_source_organisation_id"] is None
    assert household["anonymised_at"] is not None
    assert household["municipality_id"] == muni.nis_code
    assert household["family_situation"] == "TWO_PARENTS"
    # the children keep the month of birth only
    assert [
        (r["first_name"], r["nickname"], r["last_name"], r["rrn_hashes"], r["rrn_key_ids"])
        for r in children
    ] == [("", "", "", None, None)] * 2
    assert [(r["birth_date"], r["expected_birth_date"]) for r in children] == [
        (datetime.date(2017, 11, 1), None),
        (None, datetime.date(2018, 2, 1)),
    ]
    assert all(r["anonymised_at"] is not None for r in children)
    # the account is closed
    assert (user["is_active"], user["email"], user["display_name"], user["password_hash"]) == (
        False,
        f"anonymised-{account.id}@invalid",
        "",
        None,
    )
    assert await Membership.filter(user_id=account.id, revoked_at=None).count() == 0
    assert await SavedSearch.filter(user_id=account.id).count() == 0
    assert [m.dedup_key for m in await OutboxMessage.filter(recipient_id=account.id)] == ["sent"]
    # free text, invitations and the access log are reduced
    assert [r["note"] for r in notes] == ["", ""]
    assert [r["refusal_reason"] for r in reasons] == ["", ""]
    assert [m.consent_note for m in await Mandate.filter(household_id=h.id)] == [""]
    assert await Invitation.filter(household_id=h.id).count() == 0
    reduced = [
        (r["household_id"], r["fields_read"], r["operation_name"], r["request_id"])
        for r in log_rows
    ]
    assert reduced == [
        (None, "[]", None, ""),
        (None, "[]", None, ""),
        (live.id, '["Parent.firstName"]', "Dossier", "request-live"),
    ]
    assert all(
        (r["viewer_id"], r["role"], r["grant_name"], r["at"] is not None)
        == (admin.id, "ADMIN", "ADMIN", True)
        for r in log_rows
    )
    # the requests keep what the statistics need, their dates cut to the month
    assert (request["status"], request["submitted_at"]) == (
        "WITHDRAWN",
        LONG_AGO.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
    )


CLEARED_PARENT: dict[str, Any] = {
    "first_name": "",
    "last_name": "",
    "birthplace": "",
    "nationality": None,
    "home_language": None,
    "street": "",
    "postal_code": "",
    "phone": "",
    "email": "",
    "work_situation": None,
    "work_share_percent": None,
    "education_level": None,
    "relation_to_child": None,
    "situation_source_organisation_id": None,
    "rrn_hashes": None,
    "rrn_key_ids": None,
    "user_id": None,
}


async def test_parent_who_is_also_staff_keeps_the_account_unlinked(
    db: str, job_pool: asyncpg.Pool
) -> None:
    # given a due dossier whose parent also works as an admin
    muni, loc = await place()
    staff = await f.user(Role.ADMIN, email="staff@example.be")
    await Membership.create(user=staff, role=Role.PARENT)
    _, p, _ = await dossier(muni, loc, "enrolment", user=staff)
    # when the job runs
    result = await run(job_pool, ANNIVERSARY)
    # then the link between parent row and account goes, and with it the parent role;
    # the staff role stays
    assert result.counts["accounts_unlinked"] == 1
    assert "accounts_closed" not in result.counts
    user = await User.get(id=staff.id)
    assert (user.is_active, user.email, user.display_name) == (
        True,
        "staff@example.be",
        "Test user",
    )
    active = await Membership.filter(user_id=staff.id, revoked_at=None).values_list(
        "role", flat=True
    )
    assert active == [Role.ADMIN]
    assert (await Parent.get(id=p.id)).user_id is None


async def test_parent_can_no_longer_sign_in_after_anonymisation(
    db: str, job_pool: asyncpg.Pool, actor: Callable[..., Any]
) -> None:
    # given a parent with a password whose dossier is due, signed in before
    muni, loc = await place()
    account = await User.create(
        email="anneliese@example.be",
        display_name="Anneliese",
        password_hash=passwords.hash_password(PASSWORD),
    )
    await Membership.create(user=account, role=Role.PARENT)
    await dossier(muni, loc, "request", user=account)
    credentials = {"input": {"email": "anneliese@example.be", "password": PASSWORD}}
    before = await actor(None).gql(SIGN_IN, credentials)
    assert before["data"]["signIn"]["token"] is not None
    # when the job runs
    await run(job_pool, ANNIVERSARY)
    # then the password opens nothing and the earlier token is refused
    after = await actor(None).gql(SIGN_IN, credentials)
    assert after["data"]["signIn"] == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}
    response = await actor(account).post_gql("{ me { email } }")
    assert response.status_code == 401
    assert "anneliese" not in response.text


# How


async def some_dossiers(muni: Any, loc: Any) -> list[Household]:
    """Five due dossiers of every kind (two with a partner and staff), one not due."""
    due = []
    for kind in ("enrolment", "request", "none", "enrolment", "request"):
        h, _, _ = await dossier(muni, loc, kind, user=await f.user(Role.PARENT))
        due.append(h)
    staff = await f.user(Role.PROVIDER, provider_location=loc)
    await Parent.create(
        household=due[0],
        user=staff,
        is_applicant=False,
        first_name="Partner",
        last_name="Staff",
        email="partner@example.be",
        municipality=muni,
        **f.PARENT_DEFAULTS,
    )
    for h in due[:2]:
        await AccessLogEntry.create(
            viewer=staff,
            role="PROVIDER",
            grant_name="PROVIDER_ENROLLED",
            household=h,
            fields_read=["Parent.phone"],
            request_id="r",
        )
    await dossier(muni, loc, "enrolment", reference=datetime.date(2021, 1, 1))
    return due


async def test_second_run_changes_nothing(db: str, job_pool: asyncpg.Pool) -> None:
    # given dossiers anonymised by a first run
    muni, loc = await place()
    await some_dossiers(muni, loc)
    first = await run(job_pool, ANNIVERSARY)
    before = await snapshot(job_pool)
    # when the job runs again (the same day and a day later)
    again = await run(job_pool, ANNIVERSARY)
    later = await run(job_pool, day(ANNIVERSARY, 1))
    # then it finds nothing to do and changes nothing
    assert first.counts["households"] == 5
    assert again.counts == {}
    assert later.counts == {}
    assert await snapshot(job_pool) == before


async def test_dry_run_counts_what_the_run_does_and_changes_nothing(
    db: str, job_pool: asyncpg.Pool
) -> None:
    # given due dossiers touching every rule
    muni, loc = await place()
    await some_dossiers(muni, loc)
    before = await snapshot(job_pool)
    # when the job runs dry, then for real
    dry = await run(job_pool, ANNIVERSARY, dry_run=True, batch_size=2)
    unchanged = await snapshot(job_pool) == before
    real = await run(job_pool, ANNIVERSARY, batch_size=2)
    # then the dry run changed nothing, left no run record, and counted what the real
    # run did
    assert unchanged
    assert dry.dry_run
    assert dry.run_id is None
    assert await JobRun.filter(dry_run=True).count() == 0
    assert (
        dry.counts
        == real.counts
        == {
            "children": 5,
            "households": 5,
            "parents": 6,
            "accounts_closed": 5,
            "accounts_unlinked": 1,
            "access_log_rows": 2,
        }
    )


async def test_crash_mid_batch_resumes_without_double_work(
    db: str, job_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given five due dossiers, two per batch, and a statement of the second household
    # batch that fails after the household rows were already updated in it
    muni, loc = await place()
    due = await some_dossiers(muni, loc)
    original = asyncpg.connection.Connection._execute
    calls = 0

    async def failing(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if "UPDATE parent p SET" in query:
            calls += 1
            if calls == 2:
                raise RuntimeError("power cut")
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_execute", failing)
    # when the job runs and crashes
    with pytest.raises(RuntimeError):
        await run(job_pool, ANNIVERSARY, batch_size=2)
    monkeypatch.setattr(asyncpg.connection.Connection, "_execute", original)
    crashed = await JobRun.get(job="retention")
    first_done = {
        h.id: h.anonymised_at for h in await Household.filter(anonymised_at__not_isnull=True)
    }
    # then the crashed batch left nothing behind: its household updates rolled back
    done = len(first_done)
    assert crashed.status == "FAILED"
    assert crashed.error == "RuntimeError"
    assert crashed.counts["households"] == done
    assert 1 <= done <= 2
    assert await Parent.filter(first_name="", household_id__in=list(first_done)).count() == (
        await Parent.filter(household_id__in=list(first_done)).count()
    )
    assert await Parent.filter(first_name="").count() == (
        await Parent.filter(household_id__in=list(first_done)).count()
    )
    # when the job runs again
    resumed = await run(job_pool, ANNIVERSARY, batch_size=2)
    # then it finishes the rest, each dossier anonymised exactly once
    assert resumed.counts["households"] == len(due) - done
    assert crashed.counts["households"] + resumed.counts["households"] == len(due)
    after = {h.id: h.anonymised_at for h in await Household.filter(id__in=[d.id for d in due])}
    assert all(after.values())
    assert {k: after[k] for k in first_done} == first_done
    for rule, total in (("parents", 6), ("accounts_closed", 5), ("access_log_rows", 2)):
        assert resumed.counts.get(rule, 0) + crashed.counts.get(rule, 0) == total, rule
    assert "children" not in resumed.counts


async def test_request_submitted_while_the_household_is_locked_keeps_it(
    db: str, job_pool: asyncpg.Pool
) -> None:
    # given a due dossier whose child is already anonymised, and a request for that child
    # being submitted: its transaction holds the child's row and has not committed yet
    muni, loc = await place()
    h, _, c = await dossier(muni, loc, "request")
    await Child.filter(id=c.id).update(anonymised_at=datetime.datetime.now(UTC))
    async with job_pool.acquire() as submitter:
        submission = submitter.transaction()
        await submission.start()
        await submitter.execute("SELECT 1 FROM child WHERE id = $1 FOR UPDATE", c.id)
        await submitter.execute(
            """INSERT INTO care_request (id, household_id, child_id, desired_start_date,
                   care_pattern, note, status, submitted_at)
               VALUES (gen_random_uuid(), $1, $2, $3, '{}', '', 'OPEN', now())""",
            h.id,
            c.id,
            f.days(120),
        )
        # when the job runs meanwhile (it waits for the child's row), then the request
        # commits
        job = asyncio.create_task(run(job_pool, ANNIVERSARY))
        async with asyncio.timeout(10):
            while not await waiting_for_a_lock(job_pool):  # noqa: ASYNC110 - polls PostgreSQL
                await asyncio.sleep(0.05)
        await submission.commit()
        result = await job
    # then the job saw the request and left the dossier alone
    assert result.counts == {}
    assert not await is_anonymised(Household, h.id)


async def waiting_for_a_lock(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        waiting: bool = await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                              AND wait_event_type = 'Lock')"""
        )
        return waiting


async def test_run_is_recorded_with_its_counts(db: str, job_pool: asyncpg.Pool) -> None:
    # given due dossiers
    muni, loc = await place()
    await some_dossiers(muni, loc)
    # when the job runs
    result = await run(job_pool, ANNIVERSARY, batch_size=2)
    # then its record says when, for which day, how many per rule, and that it succeeded
    record = await JobRun.get(id=result.run_id)
    assert (record.job, record.status, record.dry_run, record.reference_date) == (
        "retention",
        "SUCCEEDED",
        False,
        ANNIVERSARY,
    )
    assert record.counts == result.counts
    assert record.counts["households"] == 5
    assert record.batches == result.batches
    assert record.finished_at is not None


async def test_statements_do_not_grow_with_the_number_of_dossiers(
    db: str, job_pool: asyncpg.Pool, count_statements: Any
) -> None:
    # given two due dossiers, counted, then six more
    muni, loc = await place()
    for kind in ("enrolment", "request"):
        await dossier(muni, loc, kind, user=await f.user(Role.PARENT))
    count_statements.statements.clear()
    await run(job_pool, ANNIVERSARY, dry_run=True)
    await run(job_pool, ANNIVERSARY)
    few = len(count_statements)
    for kind in ("enrolment", "request", "none") * 2:
        await dossier(muni, loc, kind, user=await f.user(Role.PARENT))
    count_statements.statements.clear()
    # when the job runs dry and for real over them, all in one batch
    await run(job_pool, ANNIVERSARY, dry_run=True)
    result = await run(job_pool, ANNIVERSARY)
    # then it sends as many statements as for two
    assert result.counts["households"] == 6
    assert len(count_statements) == few


async def test_log_carries_counts_only(
    db: str, job_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    # given a due dossier with distinctive personal data
    caplog.set_level(logging.DEBUG)
    muni, loc = await place()
    h, _, c = await dossier(
        muni,
        loc,
        "enrolment",
        user=await f.user(Role.PARENT, email="zoe.vermeulen@example.be"),
        first_name="Zoë",
        last_name="Vermeulen",
        email="zoe.vermeulen@example.be",
        phone="+32470999888",
        rrn=f.make_rrn(datetime.date(1991, 5, 6), 13),
    )
    caplog.clear()
    # when the job runs, dry and for real
    await run(job_pool, ANNIVERSARY, dry_run=True)
    await run(job_pool, ANNIVERSARY)
    # then the log says how many, never whom
    assert "retention" in caplog.text
    assert "'households': 1" in caplog.text
    for secret in ("Zoë", "Vermeulen", "zoe.vermeulen", "+32470999888", "Kind", str(h.id)):
        assert secret not in caplog.text
    assert str(c.id) not in caplog.text


# For whom


async def test_admin_no_longer_finds_an_anonymised_dossier(
    db: str, job_pool: asyncpg.Pool, actor: Callable[..., Any]
) -> None:
    # given an admin, a due dossier and a recent one
    muni, loc = await place()
    admin = actor(await f.user(Role.ADMIN))
    old, _, _ = await dossier(muni, loc, "enrolment")
    recent, _ = await f.household(muni)
    before = await admin.gql(DOSSIERS)
    # when the job runs
    await run(job_pool, ANNIVERSARY)
    # then the admin finds the anonymised dossier neither by id nor in the list
    assert {e["node"]["id"] for e in before["data"]["dossiers"]["edges"]} == {
        str(old.id),
        str(recent.id),
    }
    assert await admin.gql(DOSSIER, {"id": str(old.id)}) == {"data": {"household": None}}
    after = await admin.gql(DOSSIERS)
    assert [e["node"]["id"] for e in after["data"]["dossiers"]["edges"]] == [str(recent.id)]


async def test_no_grant_reaches_an_anonymised_dossier(db: str, actor: Callable[..., Any]) -> None:
    # given the world of every grant, every dossier and child of it then anonymised
    w = await world_module.build()
    inboxes_before = [await inbox(actor, w, key) for key in INBOX_READERS]
    service_before = await actor(w.users["sick_child"]).gql(SERVICE_CHILDREN)
    await Household.all().update(anonymised_at=datetime.datetime.now(UTC))
    await Child.all().update(anonymised_at=datetime.datetime.now(UTC))
    ids = [str(h.id) for h in w.households.values()]
    for name, (user_key, role) in world_module.ACTORS.items():
        client = actor(w.users.get(user_key), role)
        # when each actor lists its dossiers and asks for each by id
        listed = await client.post_gql(DOSSIERS)
        asked = [await client.post_gql(DOSSIER, {"id": i}) for i in ids]
        # then no dossier exists for it
        for response in (listed, *asked):
            assert response.status_code == 200, (name, response.text)
            assert not any(i in response.text for i in ids), (name, response.text)
    # nor in a provider's inbox or the sick-child service's list
    assert all(len(entries) == 2 for entries in inboxes_before)
    assert [await inbox(actor, w, key) for key in INBOX_READERS] == [[], []]
    assert len(service_before["data"]["serviceChildren"]["edges"]) == 1
    service = await actor(w.users["sick_child"]).gql(SERVICE_CHILDREN)
    assert service["data"]["serviceChildren"]["edges"] == []


INBOX_READERS = ("provider_in", "integrator_provider")


async def inbox(actor: Callable[..., Any], w: world_module.World, user_key: str) -> list[Any]:
    result = await actor(w.users[user_key]).gql(
        "query($l: ID!) { inbox(locationId: $l) { edges { node { rank } } } }",
        {"l": str(w.locations["in"].id)},
    )
    edges: list[Any] = result["data"]["inbox"]["edges"]
    return edges


async def test_anonymised_child_leaves_the_enrolled_and_sick_child_views(
    db: str, job_pool: asyncpg.Pool, actor: Callable[..., Any]
) -> None:
    # given a family whose older child left a provider two years ago and used the
    # sick-child service, and whose younger child has an open request elsewhere
    today = datetime.date.today()
    muni, loc = await place()
    elsewhere = await f.location(muni, "Onthaal Elders")
    provider = actor(await f.user(Role.PROVIDER, provider_location=loc))
    service = await f.sick_child_service()
    sick = actor(await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service))
    admin = actor(await f.user(Role.ADMIN))
    left = day(today, -730)
    h, _, older = await dossier(muni, loc, "enrolment", reference=left)
    await f.service_record(service, older)
    younger = await f.child(h, born=day(today, -100))
    await f.care_request(younger, elsewhere)
    seen_by_provider = await provider.gql(DOSSIER, {"id": str(h.id)})
    seen_by_service = await sick.gql(SERVICE_CHILDREN)
    # when the job runs on the older child's fifth anniversary
    result = await run(job_pool, years_after(left, 5))
    # then that child is gone for the provider that enrolled it and for the service,
    # and for the admin the dossier holds the younger child only
    assert result.counts == {"children": 1}
    assert seen_by_provider["data"]["household"]["children"] == [{"id": str(older.id)}]
    assert [e["node"]["id"] for e in seen_by_service["data"]["serviceChildren"]["edges"]] == [
        str(older.id)
    ]
    assert await provider.gql(DOSSIER, {"id": str(h.id)}) == {"data": {"household": None}}
    assert await sick.gql(SERVICE_CHILDREN) == {"data": {"serviceChildren": {"edges": []}}}
    assert await sick.gql(DOSSIER, {"id": str(h.id)}) == {"data": {"household": None}}
    by_admin = await admin.gql(DOSSIER, {"id": str(h.id)})
    assert by_admin["data"]["household"]["children"] == [{"id": str(younger.id)}]


async def test_anonymised_child_keeps_only_month_dates_of_its_requests_and_places(
    db: str, job_pool: asyncpg.Pool
) -> None:
    """A location with exact enrolment dates, or a municipality with an exact submission
    time, is as good as a name: what stays for the statistics is cut to the month."""
    muni, loc = await place()
    _, _, c = await dossier(muni, loc, "enrolment")
    await Enrolment.filter(child_id=c.id).update(start_date=datetime.date(2018, 9, 17))

    await run(job_pool, ANNIVERSARY)

    r = await CareRequest.get(child_id=c.id)
    e = await Enrolment.get(child_id=c.id)
    a = await Application.get(request_id=r.id)
    assert (r.submitted_at, r.closed_at) == (
        datetime.datetime(2018, 1, 1, tzinfo=UTC),
        datetime.datetime(2018, 6, 1, tzinfo=UTC),
    )
    assert (r.desired_start_date, r.care_pattern) == (datetime.date(2018, 9, 1), {})
    assert (e.start_date, e.end_date) == (datetime.date(2018, 9, 1), datetime.date(2020, 3, 1))
    assert a.created_at.day == 1
    assert (a.created_at.hour, a.created_at.minute) == (0, 0)
