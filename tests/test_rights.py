"""Data-subject rights over HTTP (`resolvers.rights`, `jobs.export`): a copy of one's own
dossier, made by a job and downloaded once through a short-lived link, holding every
personal field of the household and nothing of another; erasure decided against the
legal retention rules with the retention job's own statements; both denied, with nothing
changed, to everyone but the parent. Also the retention job's follow-ups (roles, mandates,
service dates, copies) and the re-checks of the writes that race with an anonymisation."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson
import pytest

from jobs import export as export_job
from jobs.runner import run_job
from loket import passwords, sessions
from loket.auth import mint_token
from loket.settings import settings
from models.access_log import AccessLogEntry
from models.accounts import Membership, Role, User
from models.consents import ConsentEvent
from models.households import Child, Household, Invitation, InvitationKind, Mandate, Parent
from models.privacy import DataExport, Disclosure, ErasureRequest, Report
from models.requests import Application, CareRequest
from models.searches import SavedSearch
from models.services import ServiceRecord
from resolvers import rights
from tests import factories as f
from tests.assertions import assert_forbidden
from tests.test_retention import ANNIVERSARY, dossier, place

UTC = datetime.UTC
PASSWORD = "correct horse battery staple"
ERRORS = "errors { field code message }"
EXPORT = "id status requestedAt readyAt expiresAt downloadedAt requestedByMe"
REQUEST_EXPORT = f"mutation {{ requestDataExport {{ export {{ {EXPORT} }} {ERRORS} }} }}"
DOWNLOAD = f"""mutation($i: DownloadDataExportInput!) {{
  downloadDataExport(input: $i) {{ downloadUrl expiresAt export {{ {EXPORT} }} {ERRORS} }}
}}"""
MY_EXPORTS = f"{{ myHousehold {{ exports {{ {EXPORT} }} }} }}"
DECISION = """id status requestedAt decidedAt requestedByMe
    decision { category data outcome until reason }"""
ERASE = f"""mutation($i: RequestErasureInput!) {{
  requestErasure(input: $i) {{ erasureRequest {{ {DECISION} }} signedOut {ERRORS} }}
}}"""
MY_ERASURES = f"{{ myHousehold {{ erasureRequests {{ {DECISION} }} }} }}"
ME = "{ me { email } }"
CONFIRM = {"i": {"confirm": True}}


# --- Data ------------------------------------------------------------------------------


@dataclass
class Family:
    household: Household
    applicant: Parent
    partner: Parent
    account: User
    partner_account: User
    born: Child
    unborn: Child
    request: CareRequest


async def account(email: str) -> User:
    user = await User.create(
        email=email,
        display_name=email.split("@")[0],
        password_hash=passwords.hash_password(PASSWORD),
    )
    await Membership.create(user=user, role=Role.PARENT)
    return user


async def family(
    muni: Any, loc: Any, other: Any, *, names: dict[str, str], request_status: str = "OPEN"
) -> Family:
    """A household with everything a dossier can hold: two parents with accounts, RRNs,
    a born and an unborn child, a request at two locations (one refused with a reason), an
    ended enrolment, a sick-child service record, consents, a mandate, saved searches,
    reports, an earlier erasure request, disclosures (one secret) and access-log rows.
    `names` gives every distinctive value, so that another family's can be searched for."""
    n = names
    org = await f.referral_organisation(n["organisation"])
    user = await account(n["email"])
    h, applicant = await f.household(
        muni,
        user,
        rrn=f.make_rrn(datetime.date(1990, 4, 2), int(n["serial"])),
        first_name=n["first"],
        last_name=n["last"],
        email=n["email"],
        phone=n["phone"],
        street=n["street"],
        birthplace=n["birthplace"],
        situation_source="REFERRAL_WORKER",
        situation_source_organisation=org,
    )
    partner_user = await account(n["partner_email"])
    partner = await Parent.create(
        household=h,
        user=partner_user,
        is_applicant=False,
        first_name=n["partner_first"],
        last_name=n["partner_last"],
        email=n["partner_email"],
        municipality=muni,
        **{**f.PARENT_DEFAULTS, "phone": n["partner_phone"], "street": n["street"]},
    )
    born = await f.child(
        h,
        born=datetime.date(2025, 1, 10),
        rrn=f.make_rrn(datetime.date(2025, 1, 10), int(n["serial"])),
        first_name=n["child"],
    )
    await Child.filter(id=born.id).update(last_name=n["last"], nickname=n["nickname"])
    unborn = await f.child(h, expected=f.days(90), first_name=n["unborn"])
    request = await f.care_request(born, loc, other, status=request_status)
    await CareRequest.filter(id=request.id).update(note=n["note"])
    await Application.filter(request_id=request.id, location_id=other.id).update(
        status="REFUSED", refusal_reason=n["refusal"]
    )
    await f.enrolment(born, loc, start=f.days(-400), end_date=f.days(-200))
    await f.service_record(await f.sick_child_service(), born)
    await ConsentEvent.create(
        household=h, parent=applicant, purpose="RESEARCH_CONTACT", action="GRANTED"
    )
    await ConsentEvent.create(
        household=h, parent=applicant, purpose="RESEARCH_CONTACT", action="REVOKED"
    )
    await ConsentEvent.create(
        household=h, parent=partner, purpose="CHILDCARE_NEWS", action="GRANTED"
    )
    await f.mandate(h, applicant, org, consent_note=n["mandate_note"])
    await SavedSearch.create(
        user=user, name=n["search"], kind="LOCATIONS", filters={"q": n["search"]}
    )
    await SavedSearch.create(
        user=partner_user, name=n["partner_search"], kind="LOCATIONS", filters={}
    )
    await Report.create(kind="COMPLAINT", reporter=user, text=n["report"], contact_email=n["email"])
    await Report.create(kind="COMPLAINT", reporter=partner_user, text=n["partner_report"])
    await ErasureRequest.create(
        household=h,
        parent=applicant,
        requested_by=user,
        status="REFUSED",
        decision=[
            {
                "category": "OPEN_REQUEST",
                "data": "x",
                "outcome": "RETAINED",
                "until": None,
                "reason": "y",
            }
        ],
        decided_at=datetime.datetime.now(UTC),
    )
    staff = await f.user(Role.PROVIDER, provider_location=loc)
    admin = await f.user(Role.ADMIN)
    public = await Disclosure.create(
        household=h,
        authority=n["authority"],
        legal_basis="Art. 46bis Sv.",
        data_disclosed="Adres",
        disclosed_on=f.days(-5),
    )
    secret = await Disclosure.create(
        household=h,
        authority=n["secret_authority"],
        legal_basis="Art. 322 WIB",
        data_disclosed="Inkomen",
        disclosed_on=f.days(-4),
        secret=True,
    )
    await AccessLogEntry.create(
        viewer=staff,
        role="PROVIDER",
        grant_name="PROVIDER_SELECTED",
        household=h,
        fields_read=["Parent.phone"],
        operation_name=n["operation"],
        request_id="r1",
    )
    await AccessLogEntry.create(
        viewer=admin,
        role="ADMIN",
        grant_name="ADMIN",
        household=h,
        fields_read=["Parent.street"],
        operation_name=n["public_operation"],
        request_id="r2",
        disclosure=public,
    )
    await AccessLogEntry.create(
        viewer=admin,
        role="ADMIN",
        grant_name="ADMIN",
        household=h,
        fields_read=["Parent.email"],
        operation_name=n["secret_operation"],
        request_id="r3",
        disclosure=secret,
    )
    return Family(h, applicant, partner, user, partner_user, born, unborn, request)


ANNELIESE = {
    "serial": "11",
    "organisation": "OCMW Leuven",
    "email": "anneliese.vandenbroucke@example.be",
    "first": "Anneliese",
    "last": "Vandenbroucke",
    "phone": "+32470111222",
    "street": "Tiensestraat 5",
    "birthplace": "Brugge",
    "partner_first": "Bartholomeus",
    "partner_last": "Claeys",
    "partner_email": "bartholomeus.claeys@example.be",
    "partner_phone": "+32470333444",
    "child": "Lotte",
    "nickname": "Lotje",
    "unborn": "Mats",
    "note": "Lotte heeft een notenallergie",
    "refusal": "Geen plaats voor Lotte",
    "mandate_note": "Getekend door Anneliese",
    "search": "Bij oma in Heverlee",
    "partner_search": "Dicht bij Bartholomeus' werk",
    "report": "Mijn klacht over de wachttijd",
    "partner_report": "Vertrouwelijke klacht van Bartholomeus",
    "authority": "Politie Leuven",
    "secret_authority": "Fiscus Brussel",
    "operation": "ReadForTheInbox",
    "public_operation": "ReadForThePolice",
    "secret_operation": "ReadForTheTaxman",
}
# Another family: every value distinct from the first's and from the world's names.
ZEBEDEUS = {
    "serial": "23",
    "organisation": "CAW Oost-Brabant",
    "email": "zebedeus.vanhoudenhove@example.org",
    "first": "Zebedeus",
    "last": "Vanhoudenhove",
    "phone": "+32499887766",
    "street": "Bondgenotenlaan 177",
    "birthplace": "Oostende",
    "partner_first": "Philomena",
    "partner_last": "Dewispelaere",
    "partner_email": "philomena.dewispelaere@example.org",
    "partner_phone": "+32488112233",
    "child": "Xaverius",
    "nickname": "Xavke",
    "unborn": "Quirina",
    "note": "Xaverius slaapt slecht",
    "refusal": "Wachtlijst vol voor Xaverius",
    "mandate_note": "Getekend door Zebedeus",
    "search": "Zoektocht Kessel-Lo",
    "partner_search": "Zoektocht Wilsele",
    "report": "Klacht van Zebedeus over de wachtlijst",
    "partner_report": "Klacht van Philomena",
    "authority": "Parket Halle-Vilvoorde",
    "secret_authority": "Douane Antwerpen",
    "operation": "ZebedeusInboxRead",
    "public_operation": "ZebedeusParketRead",
    "secret_operation": "ZebedeusDouaneRead",
}
# What must never appear in the first family's copy (the serial is not a value).
OTHER_VALUES = [v for k, v in ZEBEDEUS.items() if k != "serial"]


async def two_families() -> tuple[Family, Family, Any, Any]:
    muni, loc = await place()
    other = await f.location(muni, "Onthaal Elders")
    a = await family(muni, loc, other, names=ANNELIESE)
    b = await family(muni, loc, other, names=ZEBEDEUS)
    return a, b, loc, other


def payload(result: dict[str, Any], field: str) -> Any:
    assert "errors" not in result, result
    return result["data"][field]


async def request_and_build(client: Any, job_pool: asyncpg.Pool) -> dict[str, Any]:
    """Ask for a copy, run the job, make the link; the download payload."""
    asked = payload(await client.gql(REQUEST_EXPORT), "requestDataExport")
    assert asked["errors"] == []
    await run_job("exports", job_pool)
    made = payload(
        await client.gql(DOWNLOAD, {"i": {"exportId": asked["export"]["id"]}}), "downloadDataExport"
    )
    assert made["errors"] == [], made
    return made


def path_of(url: str) -> str:
    return urlsplit(url).path


async def document_of(f_: Family, job_pool: asyncpg.Pool) -> tuple[dict[str, Any], bytes]:
    """The copy of the family's dossier as the job builds it (document and bytes)."""
    async with job_pool.acquire() as conn:
        document = await export_job.build_document(conn, f_.household.id, f_.account.id)
    content = export_job.serialise(document)
    return orjson.loads(content), content


def js(value: Any) -> Any:
    """A value as the copy holds it (JSON)."""
    return orjson.loads(export_job.serialise({"v": value}))["v"]


def camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


async def rows(job_pool: asyncpg.Pool, sql: str, *args: Any) -> list[Any]:
    async with job_pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


def assert_columns(entry: dict[str, Any], row: Any, skip: set[str]) -> None:
    """Every column of `row` but `skip` is in `entry` under its camelCase name, with the
    row's value."""
    for column, value in row.items():
        if column in skip:
            continue
        assert camel(column) in entry, column
        assert entry[camel(column)] == js(value), column


# Tables an erasure or a denied request could change.
TABLES = (
    "household",
    "parent",
    "child",
    "app_user",
    "membership",
    "care_request",
    "application",
    "enrolment",
    "service_record",
    "mandate",
    "consent_event",
    "invitation",
    "saved_search",
    "outbox",
    "access_log",
    "data_export",
    "erasure_request",
    "report",
    "disclosure",
    "procrastinate_jobs",
)


async def snapshot(job_pool: asyncpg.Pool) -> dict[str, Any]:
    async with job_pool.acquire() as conn:
        return {
            t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1")] for t in TABLES
        }


# --- Copy of my data: end to end -------------------------------------------------------


async def test_export_end_to_end_for_a_parent_over_http(
    actor: Callable[..., Any], job_pool: asyncpg.Pool, live_server: str
) -> None:
    # given a parent of a full dossier
    a, _, _, _ = await two_families()
    parent = actor(a.account)
    # when they ask for a copy
    asked = payload(await parent.gql(REQUEST_EXPORT), "requestDataExport")
    # then it is PENDING, a run of the job is queued in the same transaction, and the
    # request is in the access log as the parent's own
    assert asked["errors"] == []
    assert asked["export"]["status"] == "PENDING"
    assert asked["export"]["requestedByMe"] is True
    queued = await rows(
        job_pool, "SELECT task_name, queue_name, queueing_lock, status FROM procrastinate_jobs"
    )
    assert [tuple(r) for r in queued] == [("loket.exports", "loket-jobs", "loket.exports", "todo")]
    requested = await AccessLogEntry.filter(
        household_id=a.household.id, fields_read=[rights.REQUESTED]
    )
    assert [(e.viewer_id, e.role, e.grant_name) for e in requested] == [
        (a.account.id, "PARENT", "OWN_HOUSEHOLD")
    ]
    # a link cannot be made before the job ran
    early = payload(
        await parent.gql(DOWNLOAD, {"i": {"exportId": asked["export"]["id"]}}), "downloadDataExport"
    )
    assert [e["code"] for e in early["errors"]] == ["NOT_READY"]

    # when the job runs
    result = await run_job("exports", job_pool)
    # then the copy is READY and waits for its link
    assert result.counts == {"built": 1}
    [listed] = payload(await parent.gql(MY_EXPORTS), "myHousehold")["exports"]
    assert listed["status"] == "READY"
    ready_at = datetime.datetime.fromisoformat(listed["readyAt"])
    expires_at = datetime.datetime.fromisoformat(listed["expiresAt"])
    assert expires_at - ready_at == datetime.timedelta(hours=settings.export_ready_hours)

    # when the parent makes the link
    made = payload(
        await parent.gql(DOWNLOAD, {"i": {"exportId": listed["id"]}}), "downloadDataExport"
    )
    # then it is a one-time link of 15 minutes, only its digest kept
    assert made["errors"] == []
    url = made["downloadUrl"]
    token = url.rsplit("/", 1)[1]
    assert url == f"{settings.public_url}/graphql/exports/{token}"
    link_expiry = datetime.datetime.fromisoformat(made["expiresAt"])
    now = datetime.datetime.now(UTC)
    assert datetime.timedelta(minutes=14) < link_expiry - now <= datetime.timedelta(minutes=15)
    stored = await DataExport.get(id=listed["id"])
    assert stored.token_digest == rights.token_digest(token)
    assert token not in str(await rows(job_pool, "SELECT * FROM data_export"))

    # when the parent fetches it over real HTTP
    headers = {"Authorization": f"Bearer {mint_token(str(a.account.id))}"}
    async with httpx.AsyncClient(base_url=live_server, headers=headers) as http:
        first = await http.get(path_of(url))
        second = await http.get(path_of(url))
    # then they get the document once, as an attachment nobody may cache
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    assert first.headers["content-disposition"].startswith('attachment; filename="loket-gegevens-')
    assert "no-store" in first.headers["cache-control"]
    document = first.json()
    assert document["version"] == 1
    assert document["household"]["id"] == str(a.household.id)
    # and the second time the link is used up
    assert second.status_code == 410
    assert second.json()["errors"][0]["extensions"]["code"] == "GONE"
    assert "Anneliese" not in second.text
    stored = await DataExport.get(id=listed["id"])
    assert (stored.status, stored.content, stored.downloaded_at is not None) == (
        "DOWNLOADED",
        None,
        True,
    )
    downloaded = await AccessLogEntry.filter(
        household_id=a.household.id, fields_read=[rights.DOWNLOADED]
    )
    assert [(e.viewer_id, e.role) for e in downloaded] == [(a.account.id, "PARENT")]
    [listed] = payload(await parent.gql(MY_EXPORTS), "myHousehold")["exports"]
    assert listed["status"] == "DOWNLOADED"
    # and a new link cannot be made for it
    again = payload(
        await parent.gql(DOWNLOAD, {"i": {"exportId": listed["id"]}}), "downloadDataExport"
    )
    assert [e["code"] for e in again["errors"]] == ["GONE"]


async def test_expired_link_is_refused_and_the_job_deletes_the_content(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a copy whose link has run out
    a, _, _, _ = await two_families()
    parent = actor(a.account)
    made = await request_and_build(parent, job_pool)
    export_id = made["export"]["id"]
    await DataExport.filter(id=export_id).update(
        expires_at=datetime.datetime.now(UTC) - datetime.timedelta(seconds=1)
    )
    # when the parent uses it
    response = await parent.http.get(path_of(made["downloadUrl"]))
    # then it is gone, and shown as EXPIRED
    assert response.status_code == 410
    [listed] = payload(await parent.gql(MY_EXPORTS), "myHousehold")["exports"]
    assert listed["status"] == "EXPIRED"
    # and the job's clean-up deletes the content
    result = await run_job("exports", job_pool)
    assert result.counts == {"expired": 1}
    stored = await DataExport.get(id=export_id)
    assert (stored.status, stored.content) == ("EXPIRED", None)
    # and 30 days later the row itself
    await DataExport.filter(id=export_id).update(
        expires_at=datetime.datetime.now(UTC) - datetime.timedelta(days=31)
    )
    assert (await run_job("exports", job_pool)).counts == {"deleted": 1}
    assert await DataExport.filter(id=export_id).count() == 0


async def test_a_new_link_replaces_the_old_one_and_never_extends_the_copy(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    a, _, _, _ = await two_families()
    parent = actor(a.account)
    first = await request_and_build(parent, job_pool)
    second = payload(
        await parent.gql(DOWNLOAD, {"i": {"exportId": first["export"]["id"]}}), "downloadDataExport"
    )
    assert second["downloadUrl"] != first["downloadUrl"]
    assert second["expiresAt"] == first["expiresAt"]
    assert (await parent.http.get(path_of(first["downloadUrl"]))).status_code == 404
    assert (await parent.http.get(path_of(second["downloadUrl"]))).status_code == 200


@pytest.mark.parametrize("who", ["other_parent", "partner", "provider", "admin", "anonymous"])
async def test_link_is_refused_to_anyone_but_the_parent_who_asked(
    actor: Callable[..., Any], job_pool: asyncpg.Pool, who: str
) -> None:
    # given a link made by a parent
    a, b, loc, _ = await two_families()
    made = await request_and_build(actor(a.account), job_pool)
    users = {
        "other_parent": b.account,
        "partner": a.partner_account,
        "provider": await f.user(Role.PROVIDER, provider_location=loc),
        "admin": await f.user(Role.ADMIN),
        "anonymous": None,
    }
    # when someone else uses it
    response = await actor(users[who]).http.get(path_of(made["downloadUrl"]))
    # then they are refused without a byte of the copy, and the copy stays the parent's
    assert response.status_code == (401 if who == "anonymous" else 403)
    assert "Anneliese" not in response.text
    assert (await DataExport.get(id=made["export"]["id"])).status == "READY"
    assert (await actor(a.account).http.get(path_of(made["downloadUrl"]))).status_code == 200


async def test_link_works_with_the_session_cookie_under_its_path(
    app: Any, actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a link, and a browser signed in with the session cookie (scoped to /graphql)
    a, _, _, _ = await two_families()
    made = await request_and_build(actor(a.account), job_pool)
    assert rights.EXPORT_PATH.startswith(sessions.COOKIE_PATH + "/")
    cookie = {"Cookie": f"{sessions.COOKIE_NAME}={mint_token(str(a.account.id))}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
        # when it follows the link (a GET: no CSRF header needed), after a HEAD
        head = await actor(a.account).http.head(path_of(made["downloadUrl"]))
        response = await browser.get(path_of(made["downloadUrl"]), headers=cookie)
    # then HEAD did not use the link up, and GET gets the copy
    assert head.status_code == 405
    assert response.status_code == 200
    assert response.json()["household"]["id"] == str(a.household.id)


@pytest.mark.parametrize("token", ["x" * 43, "short", "../../etc/passwd", "%00" * 20])
async def test_unknown_or_malformed_link_is_not_found(
    actor: Callable[..., Any], token: str
) -> None:
    a, _, _, _ = await two_families()
    response = await actor(a.account).http.get(f"/graphql/exports/{token}")
    assert response.status_code == 404


async def test_one_copy_at_a_time_per_parent_and_one_queued_run(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a parent with a copy on its way
    a, b, _, _ = await two_families()
    first = payload(await actor(a.account).gql(REQUEST_EXPORT), "requestDataExport")
    # when they ask again, and the partner and another parent ask too
    again = payload(await actor(a.account).gql(REQUEST_EXPORT), "requestDataExport")
    partner = payload(await actor(a.partner_account).gql(REQUEST_EXPORT), "requestDataExport")
    other = payload(await actor(b.account).gql(REQUEST_EXPORT), "requestDataExport")
    # then the second is refused, the others are made, and one run of the job waits
    assert first["errors"] == []
    assert partner["errors"] == []
    assert other["errors"] == []
    assert [e["code"] for e in again["errors"]] == ["EXPORT_IN_PROGRESS"]
    assert await DataExport.filter(household_id=a.household.id).count() == 2
    assert len(await rows(job_pool, "SELECT 1 FROM procrastinate_jobs WHERE status = 'todo'")) == 1
    # and each parent sees the dossier's copies, knowing which one is theirs
    listed = payload(await actor(a.partner_account).gql(MY_EXPORTS), "myHousehold")["exports"]
    assert sorted(e["requestedByMe"] for e in listed) == [False, True]
    # and only the one who asked can make its link (not the partner, nor another parent)
    for other_parent in (a.partner_account, b.account):
        refused = payload(
            await actor(other_parent).gql(DOWNLOAD, {"i": {"exportId": first["export"]["id"]}}),
            "downloadDataExport",
        )
        assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]


async def test_the_queued_run_is_the_exports_task_as_the_worker_registers_it(
    actor: Callable[..., Any], job_pool: asyncpg.Pool, database: str
) -> None:
    from jobs.app import create_app

    a, _, _, _ = await two_families()
    payload(await actor(a.account).gql(REQUEST_EXPORT), "requestDataExport")
    [queued] = await rows(
        job_pool, "SELECT task_name, queue_name, lock, queueing_lock, args FROM procrastinate_jobs"
    )
    task = create_app(database).tasks[queued["task_name"]]
    assert (queued["queue_name"], queued["lock"], queued["queueing_lock"]) == (
        task.queue,
        task.lock,
        task.queueing_lock,
    )
    assert (task.name, orjson.loads(queued["args"])) == (export_job.TASK, {})
    assert settings.job_schedules[export_job.NAME] == "* * * * *"


async def test_copy_of_an_anonymised_dossier_is_dropped_unbuilt(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    a, _, _, _ = await two_families()
    asked = payload(await actor(a.account).gql(REQUEST_EXPORT), "requestDataExport")
    await Household.filter(id=a.household.id).update(anonymised_at=datetime.datetime.now(UTC))
    dry = await run_job("exports", job_pool, dry_run=True)
    result = await run_job("exports", job_pool)
    assert dry.counts == result.counts == {"dropped": 1}
    stored = await DataExport.get(id=asked["export"]["id"])
    assert (stored.status, stored.content) == ("EXPIRED", None)


# --- Copy of my data: what it holds -----------------------------------------------------


async def test_copy_holds_every_personal_field_of_the_household(
    db: str, job_pool: asyncpg.Pool
) -> None:
    # given a full dossier (and another family beside it)
    a, _, _, _ = await two_families()
    # when its copy is made
    doc, _ = await document_of(a, job_pool)
    h = a.household.id
    # then every column of the household, parents and children is there with its value,
    # except the internal links (replaced by what they name) and the RRN digests
    [household] = await rows(job_pool, "SELECT * FROM household WHERE id = $1", h)
    assert_columns(
        doc["household"],
        household,
        {"municipality_id", "situation_source_organisation_id", "anonymised_at"},
    )
    assert doc["household"]["municipality"] == {"nisCode": "24062", "name": "Leuven"}
    links = {
        "household_id",
        "user_id",
        "municipality_id",
        "situation_source_organisation_id",
        "rrn_hashes",
        "rrn_key_ids",
    }
    parents = await rows(
        job_pool, "SELECT * FROM parent WHERE household_id = $1 ORDER BY is_applicant DESC", h
    )
    assert [p["id"] for p in doc["parents"]] == [str(p["id"]) for p in parents]
    for entry, row in zip(doc["parents"], parents, strict=True):
        assert_columns(entry, row, links)
        assert entry["municipality"]["nisCode"] == row["municipality_id"]
    applicant, partner = doc["parents"]
    assert applicant["situationSourceOrganisation"] == "OCMW Leuven"
    # the RRN: that a keyed hash is held, never the number
    assert applicant["nationalRegisterNumber"] == export_job.RRN_HELD
    assert partner["nationalRegisterNumber"] is None
    assert applicant["account"]["email"] == ANNELIESE["email"]
    children = await rows(
        job_pool, "SELECT * FROM child WHERE household_id = $1 ORDER BY created_at, id", h
    )
    for entry, row in zip(doc["children"], children, strict=True):
        assert_columns(entry, row, {"household_id", "anonymised_at", "rrn_hashes", "rrn_key_ids"})
    assert [c["nationalRegisterNumber"] for c in doc["children"]] == [export_job.RRN_HELD, None]
    # the requests with their applications (per location), enrolments and service records
    [request] = await rows(job_pool, "SELECT * FROM care_request WHERE household_id = $1", h)
    [entry] = doc["careRequests"]
    assert_columns(entry, request, {"household_id", "filed_by_id", "care_pattern"})
    assert entry["carePattern"] == {"MON": "FULL", "TUE": "MORNING"}
    applications = await rows(
        job_pool,
        "SELECT * FROM application WHERE request_id = $1 ORDER BY preference",
        request["id"],
    )
    for app_entry, row in zip(entry["applications"], applications, strict=True):
        assert_columns(app_entry, row, {"request_id", "location_id", "answered_by_id"})
        assert app_entry["location"]["id"] == str(row["location_id"])
    assert [x["location"]["name"] for x in entry["applications"]] == [
        "Kinderdagverblijf Leuven",
        "Onthaal Elders",
    ]
    assert entry["applications"][1]["refusalReason"] == ANNELIESE["refusal"]
    [enrolment] = doc["enrolments"]
    assert (enrolment["childId"], enrolment["endDate"]) == (
        str(a.born.id),
        f.days(-200).isoformat(),
    )
    [service] = doc["serviceRecords"]
    [service_row] = await ServiceRecord.filter(child_id=a.born.id)
    assert (service["childId"], service["serviceDate"]) == (
        str(a.born.id),
        service_row.service_date.isoformat(),
    )
    # the consent ledger in order, the mandate with its history
    assert [(c["parentId"], c["purpose"], c["action"]) for c in doc["consents"]] == [
        (str(a.applicant.id), "RESEARCH_CONTACT", "GRANTED"),
        (str(a.applicant.id), "RESEARCH_CONTACT", "REVOKED"),
        (str(a.partner.id), "CHILDCARE_NEWS", "GRANTED"),
    ]
    [mandate] = doc["mandates"]
    assert (mandate["referralOrganisation"]["name"], mandate["consentNote"]) == (
        "OCMW Leuven",
        ANNELIESE["mandate_note"],
    )
    assert [(e["action"], e["role"]) for e in mandate["history"]] == [("GRANTED", "PARENT")]
    # the access log and the disclosures as the family sees them: nothing secret
    assert [e["operation"] for e in doc["accessLog"]] == [
        ANNELIESE["public_operation"],
        ANNELIESE["operation"],
    ]
    assert doc["accessLog"][0]["disclosure"]["authority"] == ANNELIESE["authority"]
    assert [d["authority"] for d in doc["disclosures"]] == [ANNELIESE["authority"]]
    # saved searches of both parents' accounts, the requester's own reports, erasures
    assert sorted((s["parentId"], s["name"]) for s in doc["savedSearches"]) == sorted(
        [
            (str(a.applicant.id), ANNELIESE["search"]),
            (str(a.partner.id), ANNELIESE["partner_search"]),
        ]
    )
    assert [r["text"] for r in doc["reports"]] == [ANNELIESE["report"]]
    assert [e["status"] for e in doc["erasureRequests"]] == ["REFUSED"]
    text = export_job.serialise(doc).decode()
    for hidden in (
        ANNELIESE["secret_authority"],
        ANNELIESE["secret_operation"],
        ANNELIESE["partner_report"],
    ):
        assert hidden not in text


async def test_copy_holds_nothing_of_another_household(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given two families of the same municipality, at the same locations, with the same
    # organisations' staff reading both
    a, b, _, _ = await two_families()
    # when the first family's copy is made and downloaded over HTTP
    made = await request_and_build(actor(a.account), job_pool)
    response = await actor(a.account).http.get(path_of(made["downloadUrl"]))
    # then none of the other family's values is in it, anywhere
    assert response.status_code == 200
    text = response.text
    assert ANNELIESE["first"] in text
    assert ANNELIESE["partner_phone"] in text
    for value in OTHER_VALUES:
        assert value not in text, value
    for other_id in (
        b.household.id,
        b.applicant.id,
        b.partner.id,
        b.born.id,
        b.unborn.id,
        b.request.id,
    ):
        assert str(other_id) not in text


# --- Copy of my data: denied -----------------------------------------------------------


@pytest.mark.parametrize("who", ["toeleider", "provider", "counter", "admin", "anonymous"])
async def test_export_is_denied_to_everyone_but_the_parent_and_changes_nothing(
    actor: Callable[..., Any], job_pool: asyncpg.Pool, who: str
) -> None:
    # given a dossier and staff with a grant on it (a mandate, an application, the region)
    a, _, loc, _ = await two_families()
    org = (await Mandate.get(household_id=a.household.id)).referral_organisation_id  # type: ignore[attr-defined]
    counter = await f.counter("Loket Leuven", await a.household.municipality)
    users = {
        "toeleider": await f.user(Role.TOELEIDER, referral_organisation_id=org),
        "provider": await f.user(Role.PROVIDER, provider_location=loc),
        "counter": await f.user(Role.LOKET, counter=counter),
        "admin": await f.user(Role.ADMIN),
        "anonymous": None,
    }
    client = actor(users[who])
    before = await snapshot(job_pool)
    # when they ask for a copy, or a link
    asked = await client.gql(REQUEST_EXPORT)
    link = await client.gql(DOWNLOAD, {"i": {"exportId": str(uuid.uuid4())}})
    # then both are forbidden and nothing changed
    assert_forbidden(asked, "requestDataExport")
    assert_forbidden(link, "downloadDataExport")
    assert await snapshot(job_pool) == before


# --- Erasure ---------------------------------------------------------------------------


def by_category(decision: list[dict[str, Any]]) -> dict[str, tuple[str, str | None]]:
    return {i["category"]: (i["outcome"], i["until"]) for i in decision}


async def partner_asked_first(actor: Callable[..., Any], fam: Family) -> None:
    """The partner, who shares the dossier, asks to be forgotten first (the applicant's
    earlier request of the fixture set aside): that alone keeps the shared dossier."""
    await ErasureRequest.filter(parent_id=fam.applicant.id).delete()
    shared = payload(await actor(fam.partner_account).gql(ERASE, CONFIRM), "requestErasure")
    assert shared["erasureRequest"]["status"] in ("PARTIAL", "REFUSED")
    assert by_category(shared["erasureRequest"]["decision"])["DOSSIER"][0] == "RETAINED"
    assert (await Household.get(id=fam.household.id)).anonymised_at is None
    assert (
        await Child.filter(household_id=fam.household.id, anonymised_at__isnull=False).count() == 0
    )


async def ended(fam: Family) -> None:
    """The family's request fulfilled (its place ended 200 days ago): nothing open."""
    await CareRequest.filter(household_id=fam.household.id).update(
        status="FULFILLED", closed_at=datetime.datetime.now(UTC) - datetime.timedelta(days=200)
    )


async def test_erasure_with_nothing_open_anonymises_everything_and_closes_the_account(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a dossier with nothing open (an ended place, a fulfilled request), with a copy
    # waiting, a running mandate, an invitation, and another family beside it
    a, b, _, _ = await two_families()
    await ended(a)
    parent = actor(a.account)
    await request_and_build(parent, job_pool)
    await Invitation.create(
        kind=InvitationKind.PARTNER,
        household=a.household,
        code_digest="c" * 64,
        expires_at=datetime.datetime.now(UTC) + datetime.timedelta(days=3),
    )
    other_before = await rows(
        job_pool, "SELECT * FROM parent WHERE household_id = $1 ORDER BY id", b.household.id
    )
    other_children = await rows(
        job_pool, "SELECT * FROM child WHERE household_id = $1 ORDER BY id", b.household.id
    )
    assert payload(await parent.gql(ME), "me") == {"email": ANNELIESE["email"]}

    await partner_asked_first(actor, a)

    # when the parent asks to be forgotten too
    result = await parent.gql(ERASE, CONFIRM)

    # then the decision is DONE, returned in the payload, and the parent is signed out
    erased = payload(result, "requestErasure")
    assert erased["errors"] == []
    assert erased["signedOut"] is True
    decision = erased["erasureRequest"]
    assert decision["status"] == "DONE"
    outcomes = by_category(decision["decision"])
    for category in (
        "PARENTS",
        "CHILDREN",
        "FREE_TEXT",
        "ACCOUNTS",
        "COPIES_AND_INVITATIONS",
        "SAVED_SEARCHES",
        "REVOKED_CONSENTS",
    ):
        assert outcomes[category] == ("ERASED", None), category
    for category in (
        "STATISTICS",
        "CONSENTS_AND_MANDATES",
        "ACCESS_LOG",
        "DISCLOSURES",
        "REPORTS",
        "ERASURE_DECISION",
    ):
        assert outcomes[category] == ("RETAINED", None), category
    access = next(i for i in decision["decision"] if i["category"] == "ACCESS_LOG")
    assert "accountability of who accessed the data" in access["reason"].lower()
    # and the decision names no one
    for key, value in ANNELIESE.items():
        assert key == "serial" or value not in str(decision), value
    # and it is stored as given
    [stored] = await ErasureRequest.filter(household_id=a.household.id, status="DONE")
    assert stored.decision == decision["decision"]
    assert (stored.parent_id, stored.requested_by_id) == (a.applicant.id, a.account.id)  # type: ignore[attr-defined]
    # the dossier is anonymised by the retention job's statements
    household = await Household.get(id=a.household.id)
    assert household.anonymised_at is not None
    assert household.income_below_threshold is None
    for p in await Parent.filter(household_id=a.household.id):
        assert (p.first_name, p.last_name, p.email, p.phone, p.street, p.user_id, p.rrn_hashes) == (
            "",
            "",
            "",
            "",
            "",
            None,
            None,
        )
    for c in await Child.filter(household_id=a.household.id):
        assert (c.first_name, c.nickname, c.last_name, c.rrn_hashes) == ("", "", "", None)
        assert c.anonymised_at is not None
    assert (await Child.get(id=a.born.id)).birth_date == datetime.date(2025, 1, 1)
    assert [r.note for r in await CareRequest.filter(household_id=a.household.id)] == [""]
    # both accounts closed, searches, copies and invitations gone, the mandate ended
    for user in (a.account, a.partner_account):
        closed = await User.get(id=user.id)
        assert (closed.is_active, closed.password_hash, closed.email) == (
            False,
            None,
            f"anonymised-{user.id}@invalid",
        )
        assert await Membership.filter(user_id=user.id, revoked_at=None).count() == 0
        assert await SavedSearch.filter(user_id=user.id).count() == 0
    assert await DataExport.filter(household_id=a.household.id).count() == 0
    assert await Invitation.filter(household_id=a.household.id).count() == 0
    [mandate] = await Mandate.filter(household_id=a.household.id)
    assert (mandate.consent_note, mandate.revoked_at is not None) == ("", True)
    # the access log is kept in reduced form, the disclosure register as it was
    assert await AccessLogEntry.filter(household_id=a.household.id).count() == 0
    reduced = await AccessLogEntry.filter(request_id="", household_id=None)
    assert len(reduced) >= 3
    assert all(e.fields_read == [] and e.operation_name is None for e in reduced)
    assert await Disclosure.filter(household_id=a.household.id).count() == 2
    # the revoked consent is gone, the ledger otherwise kept naming no one
    assert await ConsentEvent.filter(household_id=a.household.id).values_list(
        "purpose", flat=True
    ) == ["CHILDCARE_NEWS"]
    # the old token no longer works
    refused = await parent.post_gql(ME)
    assert refused.status_code == 401
    # the other family is untouched
    assert (
        await rows(
            job_pool, "SELECT * FROM parent WHERE household_id = $1 ORDER BY id", b.household.id
        )
        == other_before
    )
    assert (
        await rows(
            job_pool, "SELECT * FROM child WHERE household_id = $1 ORDER BY id", b.household.id
        )
        == other_children
    )
    assert (await User.get(id=b.account.id)).is_active
    # and the retention job finds nothing left to do in it
    assert (await run_job("retention", job_pool, today=ANNIVERSARY)).counts.get(
        "households", 0
    ) == 0


# The rows an open request of child $2 needs: the household, the parents, the child, its
# requests and applications, the mandates, the requester's account $3.
CORE = """SELECT 'h', to_jsonb(h)::text FROM household h WHERE id = $1 UNION ALL
SELECT 'p', to_jsonb(p)::text FROM parent p WHERE household_id = $1 UNION ALL
SELECT 'c', to_jsonb(c)::text FROM child c WHERE id = $2 UNION ALL
SELECT 'r', to_jsonb(r)::text FROM care_request r WHERE child_id = $2 UNION ALL
SELECT 'a', to_jsonb(a)::text FROM application a JOIN care_request r ON r.id = a.request_id
    WHERE r.child_id = $2 UNION ALL
SELECT 'm', to_jsonb(m)::text FROM mandate m WHERE household_id = $1 UNION ALL
SELECT 'u', to_jsonb(u)::text FROM app_user u WHERE id = $3 ORDER BY 1, 2"""


async def test_erasure_with_an_open_request_keeps_what_it_needs_and_erases_the_rest(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a dossier whose younger child has an open request, and whose older child's
    # place ended long ago
    a, _, loc, _ = await two_families()
    await CareRequest.filter(id=a.request.id).update(
        status="WITHDRAWN", closed_at=datetime.datetime.now(UTC)
    )
    open_request = await f.care_request(a.unborn, loc)
    parent = actor(a.account)
    kept = await rows(
        job_pool,
        CORE,
        a.household.id,
        a.unborn.id,
        a.account.id,
    )

    await partner_asked_first(actor, a)
    # when the parent asks to be forgotten
    erased = payload(await parent.gql(ERASE, CONFIRM), "requestErasure")

    # then the open request and what it needs are kept, with the decree as reason and no
    # end known yet; the older child, the searches and the revoked consent go
    decision = erased["erasureRequest"]
    assert (decision["status"], erased["signedOut"]) == ("PARTIAL", False)
    items = {i["category"]: i for i in decision["decision"]}
    assert items["OPEN_REQUEST"]["outcome"] == "RETAINED"
    assert items["OPEN_REQUEST"]["until"] is None
    assert "20 April 2012" in items["OPEN_REQUEST"]["reason"]
    assert "Withdraw it first" in items["OPEN_REQUEST"]["reason"]
    assert (items["DOSSIER"]["outcome"], items["DOSSIER"]["until"]) == ("RETAINED", None)
    for category in ("CHILDREN", "SAVED_SEARCHES", "REVOKED_CONSENTS"):
        assert items[category]["outcome"] == "ERASED", category
    assert "PARENTS" not in items
    # the core data is unchanged
    assert (
        await rows(
            job_pool,
            CORE,
            a.household.id,
            a.unborn.id,
            a.account.id,
        )
        == kept
    )
    assert (await Child.get(id=a.born.id)).anonymised_at is not None
    assert await SavedSearch.filter(user_id=a.account.id).count() == 0
    # (the partner's own searches went with the partner's own request)
    assert await SavedSearch.filter(user_id=a.partner_account.id).count() == 0
    assert await ConsentEvent.filter(parent_id=a.applicant.id).count() == 0
    assert await ConsentEvent.filter(parent_id=a.partner.id).count() == 1
    # and the parent (and the partner) see the decision on the dossier
    [seen] = payload(await parent.gql(MY_ERASURES), "myHousehold")["erasureRequests"][:1]
    assert seen == {**decision}
    by_partner = payload(await actor(a.partner_account).gql(MY_ERASURES), "myHousehold")[
        "erasureRequests"
    ]
    assert by_partner[0]["requestedByMe"] is False

    # when the parent withdraws the request and asks again
    withdrawn = await parent.gql(
        """mutation($i: WithdrawCareRequestInput!) {
             withdrawCareRequest(input: $i) { errors { code } } }""",
        {"i": {"requestId": str(open_request.id)}},
    )
    assert payload(withdrawn, "withdrawCareRequest")["errors"] == []
    again = payload(await parent.gql(ERASE, CONFIRM), "requestErasure")
    # then the dossier goes
    assert again["erasureRequest"]["status"] == "DONE"
    assert (await Household.get(id=a.household.id)).anonymised_at is not None


async def test_erasure_during_a_running_place_is_refused_until_it_ends(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a dossier with nothing left to erase but a place ending in two months
    a, _, loc, _ = await two_families()
    await ended(a)
    end = f.days(60)
    await f.enrolment(a.unborn, loc, start=f.days(-30), end_date=end)
    await SavedSearch.filter(user_id=a.account.id).delete()
    await ConsentEvent.filter(parent_id=a.applicant.id).delete()
    await Child.filter(id=a.born.id).update(anonymised_at=datetime.datetime.now(UTC))
    before = await snapshot(job_pool)
    # when the parent asks to be forgotten
    erased = payload(await actor(a.account).gql(ERASE, CONFIRM), "requestErasure")
    # then it is refused until the place ends, and only the decision was written
    decision = erased["erasureRequest"]
    assert decision["status"] == "REFUSED"
    assert by_category(decision["decision"]) == {
        "CURRENT_PLACE": ("RETAINED", end.isoformat()),
        "DOSSIER": ("RETAINED", end.isoformat()),
    }
    after = await snapshot(job_pool)
    assert {t: rows_ for t, rows_ in after.items() if t != "erasure_request"} == {
        t: rows_ for t, rows_ in before.items() if t != "erasure_request"
    }
    assert len(after["erasure_request"]) == len(before["erasure_request"]) + 1


async def test_erasure_needs_confirmation(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    a, _, _, _ = await two_families()
    await ended(a)
    before = await snapshot(job_pool)
    result = payload(await actor(a.account).gql(ERASE, {"i": {"confirm": False}}), "requestErasure")
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        (["input", "confirm"], "CONFIRMATION_REQUIRED")
    ]
    assert await snapshot(job_pool) == before


async def test_a_staff_member_who_is_a_parent_keeps_the_staff_role(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a parent who also works as an admin
    a, _, _, _ = await two_families()
    await ended(a)
    await Membership.create(user=a.account, role=Role.ADMIN)
    await f.confidentiality(a.account)
    await partner_asked_first(actor, a)
    # when they erase their dossier as a parent
    erased = payload(await actor(a.account, "PARENT").gql(ERASE, CONFIRM), "requestErasure")
    # then the dossier goes, the account stays for work, without its parent role
    assert (erased["erasureRequest"]["status"], erased["signedOut"]) == ("DONE", True)
    user = await User.get(id=a.account.id)
    assert (user.is_active, user.email) == (True, ANNELIESE["email"])
    assert await Membership.filter(user_id=user.id, revoked_at=None).values_list(
        "role", flat=True
    ) == [Role.ADMIN]
    assert payload(await actor(a.account).gql(ME), "me") == {"email": ANNELIESE["email"]}
    assert (await actor(a.account, "PARENT").post_gql(ME)).status_code == 403


@pytest.mark.parametrize("who", ["toeleider", "provider", "counter", "admin", "anonymous"])
async def test_erasure_is_denied_to_everyone_but_the_parent_and_changes_nothing(
    actor: Callable[..., Any], job_pool: asyncpg.Pool, who: str
) -> None:
    a, _, loc, _ = await two_families()
    await ended(a)
    org = (await Mandate.get(household_id=a.household.id)).referral_organisation_id  # type: ignore[attr-defined]
    counter = await f.counter("Loket Leuven", await a.household.municipality)
    users = {
        "toeleider": await f.user(Role.TOELEIDER, referral_organisation_id=org),
        "provider": await f.user(Role.PROVIDER, provider_location=loc),
        "counter": await f.user(Role.LOKET, counter=counter),
        "admin": await f.user(Role.ADMIN),
        "anonymous": None,
    }
    before = await snapshot(job_pool)
    result = await actor(users[who]).gql(ERASE, CONFIRM)
    assert_forbidden(result, "requestErasure")
    assert await snapshot(job_pool) == before


# --- Retention follow-ups --------------------------------------------------------------


async def test_retention_ends_mandates_cuts_service_dates_and_deletes_copies(
    db: str, job_pool: asyncpg.Pool
) -> None:
    # given a due dossier with a running mandate, a sick-child service day and a copy
    muni, loc = await place()
    h, p, c = await dossier(muni, loc, "request")
    org = await f.referral_organisation("OCMW Leuven")
    await f.mandate(h, p, org)
    service = await f.sick_child_service()
    await ServiceRecord.create(service=service, child=c, service_date=datetime.date(2019, 11, 14))
    await DataExport.create(
        household=h, status="READY", content=b"{}", expires_at=datetime.datetime.now(UTC)
    )
    # when the retention job runs
    await run_job("retention", job_pool, today=ANNIVERSARY)
    # then the mandate is ended, the service day cut to its month, the copy deleted
    [mandate] = await Mandate.filter(household_id=h.id)
    assert mandate.revoked_at is not None
    assert [r.service_date for r in await ServiceRecord.filter(child_id=c.id)] == [
        datetime.date(2019, 11, 1)
    ]
    assert await DataExport.filter(household_id=h.id).count() == 0


async def test_submitting_a_request_as_the_dossier_is_anonymised_is_refused(
    actor: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, job_pool: asyncpg.Pool
) -> None:
    # given a parent filing a request while the dossier is anonymised between the check
    # and the child's lock
    from resolvers import requests as requests_resolvers

    a, _, loc, _ = await two_families()
    await ended(a)
    original = requests_resolvers.uniqueness.lock_child_identity

    async def anonymised_meanwhile(child_id: Any, *args: Any) -> None:
        async with job_pool.acquire() as conn:
            await conn.execute(
                "UPDATE household SET anonymised_at = now() WHERE id = $1", a.household.id
            )
        await original(child_id, *args)

    monkeypatch.setattr(requests_resolvers.uniqueness, "lock_child_identity", anonymised_meanwhile)
    # when the request is submitted
    result = await actor(a.account).gql(
        """mutation($i: SubmitCareRequestInput!) { submitCareRequest(input: $i) {
             careRequest { id } errors { field code } } }""",
        {
            "i": {
                "childId": str(a.unborn.id),
                "desiredStartDate": str(f.days(200)),
                "carePattern": [{"day": "MON", "part": "FULL"}],
                "locationIds": [str(loc.id)],
            }
        },
    )
    # then it is refused and nothing is filed
    assert payload(result, "submitCareRequest") == {
        "careRequest": None,
        "errors": [{"field": ["input", "childId"], "code": "NOT_FOUND"}],
    }
    assert await CareRequest.filter(child_id=a.unborn.id).count() == 0


async def test_adding_a_child_as_the_dossier_is_anonymised_is_refused(
    actor: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, job_pool: asyncpg.Pool
) -> None:
    from resolvers import children as children_resolvers

    a, _, _, _ = await two_families()
    original = children_resolvers.writable

    async def anonymised_meanwhile(*args: Any) -> Any:
        found = await original(*args)
        async with job_pool.acquire() as conn:
            await conn.execute(
                "UPDATE household SET anonymised_at = now() WHERE id = $1", a.household.id
            )
        return found

    monkeypatch.setattr(children_resolvers, "writable", anonymised_meanwhile)
    before = await Child.filter(household_id=a.household.id).count()
    result = await actor(a.account).gql(
        """mutation($i: AddChildInput!) {
             addChild(input: $i) { child { id } errors { field code } } }""",
        {"i": {"householdId": str(a.household.id), "child": f.REGISTER_INPUT["child"]}},
    )
    assert payload(result, "addChild") == {
        "child": None,
        "errors": [{"field": ["input", "householdId"], "code": "NOT_FOUND"}],
    }
    assert await Child.filter(household_id=a.household.id).count() == before


async def test_erasure_by_one_parent_keeps_the_dossier_the_partner_still_holds(
    actor: Callable[..., Any], job_pool: asyncpg.Pool
) -> None:
    # given a dossier with nothing open, held by two parents with accounts
    a, _, _, _ = await two_families()
    await ended(a)
    await ErasureRequest.filter(parent_id=a.partner.id).delete()
    # when one parent asks to be forgotten
    erased = payload(await actor(a.account).gql(ERASE, CONFIRM), "requestErasure")
    # then the shared dossier, the children's data and both accounts stay, with the reason
    decision = erased["erasureRequest"]
    assert decision["status"] in ("PARTIAL", "REFUSED")
    dossier = next(i for i in decision["decision"] if i["category"] == "DOSSIER")
    assert (dossier["outcome"], dossier["until"]) == ("RETAINED", None)
    assert "partner" in dossier["reason"]
    assert erased["signedOut"] is False
    assert (await Household.get(id=a.household.id)).anonymised_at is None
    assert await Child.filter(household_id=a.household.id, anonymised_at__isnull=False).count() == 0
    partner = await User.get(id=a.partner_account.id)
    assert partner.is_active
    assert (await User.get(id=a.account.id)).is_active
