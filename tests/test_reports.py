"""Reports: anyone files a breach report or a complaint (limited, plain text); admins
triage, annotate, record the authority's notification and close; a reporter follows
their own reports."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import jobs.notifications as notifications
from jobs import outbox
from loket.db import execute, fetch
from loket.settings import settings
from models.accounts import Role, User
from models.jobs import OutboxMessage
from models.privacy import Report, ReportNote
from tests import factories as f
from tests.assertions import assert_forbidden

FILE = """mutation File($i: FileReportInput!) {
  fileReport(input: $i) { reportId receivedAt errors { field code message } }
}"""

REPORT_FIELDS = """id kind status severity text contactEmail reporterEmail createdAt
  notificationDeadline authorityNotifiedAt authorityNotification overdue hoursLeft closedAt
  notes { text author at }"""

REPORTS = f"""query Reports($status: ReportStatus, $kind: ReportKind, $first: Int! = 20,
                            $after: String) {{
  reports(status: $status, kind: $kind, first: $first, after: $after) {{
    edges {{ cursor node {{ {REPORT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

MY_REPORTS = "{ myReports { id kind status createdAt closedAt closingNote } }"


def _admin_mutation(name: str, input_type: str) -> str:
    return (
        f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ "
        f"report {{ {REPORT_FIELDS} }} errors {{ field code message }} }} }}"
    )


TRIAGE = _admin_mutation("triageReport", "TriageReportInput")
NOTE = _admin_mutation("addReportNote", "AddReportNoteInput")
NOTIFIED = _admin_mutation("recordAuthorityNotification", "RecordAuthorityNotificationInput")
CLOSE = _admin_mutation("closeReport", "CloseReportInput")

BREACH_TEXT = "Ik kreeg een e-mail met de gegevens van een ander gezin erin."
COMPLAINT_TEXT = "De wachttijd < 3 maanden werd niet gerespecteerd."
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)"> bij de melding'


def report_input(kind: str = "COMPLAINT", text: str = COMPLAINT_TEXT, **more: Any) -> Any:
    return {"i": {"kind": kind, "text": text, **more}}


def payload(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"][field]
    return found


def codes(result: dict[str, Any], field: str) -> list[tuple[list[str], str]]:
    errors = payload(result, field)["errors"]
    assert all(e["message"] for e in errors)
    return [(e["field"], e["code"]) for e in errors]


async def file(
    client: Any, kind: str = "COMPLAINT", text: str = COMPLAINT_TEXT, **more: Any
) -> str:
    result = payload(await client.gql(FILE, report_input(kind, text, **more)), "fileReport")
    assert result["errors"] == [], result
    report_id: str = result["reportId"]
    return report_id


async def admin_client(actor: Any) -> Any:
    return actor(await f.user(Role.ADMIN))


async def listed(admin: Any, **variables: Any) -> list[dict[str, Any]]:
    result = await admin.gql(REPORTS, variables)
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["reports"]["edges"]]


@pytest.fixture
def limits_of() -> Iterator[Any]:
    """Set report limits for one test (restored afterwards)."""
    saved = (settings.reports_per_ip_per_hour, settings.reports_per_account_per_hour)

    def set_limits(per_ip: int, per_account: int) -> None:
        object.__setattr__(settings, "reports_per_ip_per_hour", per_ip)
        object.__setattr__(settings, "reports_per_account_per_hour", per_account)

    yield set_limits
    set_limits(*saved)


def client_at(app: Any, ip: str) -> httpx.AsyncClient:
    """An anonymous HTTP client whose requests come from `ip`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://test"
    )


# --- filing ---------------------------------------------------------------------------


async def test_file_report_as_anonymous_stores_a_complaint_without_reporter(actor: Any) -> None:
    # when
    result = payload(await actor(None).gql(FILE, report_input()), "fileReport")

    # then: an acknowledgement only
    assert result["errors"] == []
    assert set(result) == {"reportId", "receivedAt", "errors"}
    report = await Report.get(id=result["reportId"])
    assert (report.kind, report.status) == ("COMPLAINT", "OPEN")
    assert report.reporter_id is None  # type: ignore[attr-defined]
    assert report.text == COMPLAINT_TEXT
    assert report.contact_email == ""
    assert report.notification_deadline is None
    assert datetime.datetime.fromisoformat(result["receivedAt"]) == report.created_at


async def test_file_report_as_parent_links_the_account_and_keeps_the_contact(actor: Any) -> None:
    # given
    parent = await f.user(Role.PARENT)

    # when
    report_id = await file(actor(parent), contactEmail="  Ouder@Example.be ")

    # then
    report = await Report.get(id=report_id)
    assert report.reporter_id == parent.id  # type: ignore[attr-defined]
    assert report.contact_email == "Ouder@example.be"


async def test_file_breach_deadline_is_exactly_72_hours_after_receipt(actor: Any) -> None:
    # when
    report_id = await file(actor(None), "DATA_BREACH", BREACH_TEXT)

    # then: GDPR art. 33(1)
    report = await Report.get(id=report_id)
    assert report.kind == "DATA_BREACH"
    assert report.notification_deadline is not None
    assert report.notification_deadline - report.created_at == datetime.timedelta(hours=72)


async def outbox_rows() -> list[dict[str, Any]]:
    return list(
        await OutboxMessage.all()
        .order_by("id")
        .values("kind", "recipient_id", "language", "params", "dedup_key", "status")
    )


async def test_file_breach_as_anonymous_alerts_every_admin_in_force_with_the_deadline_only(
    actor: Any,
) -> None:
    # given: two admins in force, and admins and staff who must not hear of it
    admin = await f.user(Role.ADMIN)
    colleague = await f.user(Role.ADMIN)
    await f.user(Role.ADMIN, agreement=False)
    ended = await f.user(Role.ADMIN, agreement=False)
    await f.confidentiality(ended, ends_on=f.days(-1))
    revoked = await f.user(Role.ADMIN)
    await revoked.memberships.all().update(revoked_at=datetime.datetime.now(datetime.UTC))
    inactive = await f.user(Role.ADMIN)
    await User.filter(id=inactive.id).update(is_active=False)
    await f.user(Role.PARENT)
    await f.user(Role.LOKET, counter=await f.counter("Loket Leuven"))

    # when
    report_id = await file(
        actor(None), "DATA_BREACH", BREACH_TEXT, contactEmail="melder@example.be"
    )

    # then: one message per admin in force, in the report's transaction, with the deadline
    report = await Report.get(id=report_id)
    assert report.notification_deadline is not None
    deadline = report.notification_deadline.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")
    found = await outbox_rows()
    assert {(r["recipient_id"], r["dedup_key"]) for r in found} == {
        (u.id, f"breach_reported:{report_id}:{u.id}") for u in (admin, colleague)
    }
    assert [(r["kind"], r["language"], r["status"], r["params"]) for r in found] == [
        ("breach_reported", "nl", "PENDING", {"deadline": deadline})
    ] * 2
    # and the message says when, never what was reported or by whom
    mail = notifications.render(found[0]["kind"], found[0]["language"], found[0]["params"])
    assert mail.subject.startswith("Vermoedelijk datalek gemeld: beoordelen vóór ")
    for secret in ("gegevens van een ander gezin", "melder@example.be"):
        assert secret not in mail.subject + mail.body


async def test_file_complaint_or_refused_breach_alerts_nobody(actor: Any, limits_of: Any) -> None:
    # given: an admin, and one report per IP and hour
    await f.user(Role.ADMIN)
    limits_of(1, 100)
    anonymous = actor(None)

    # when: a complaint, a breach with bad input, a breach over the limit
    await file(anonymous)
    too_short = await anonymous.gql(FILE, report_input("DATA_BREACH", "kort"))
    limited = await anonymous.gql(FILE, report_input("DATA_BREACH", BREACH_TEXT))

    # then: no alert
    assert codes(too_short, "fileReport") == [(["input", "text"], "TOO_SHORT")]
    assert codes(limited, "fileReport") == [(["input"], "RATE_LIMITED")]
    assert await outbox_rows() == []


async def test_file_breach_that_fails_after_the_alert_keeps_neither(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an admin, and the transaction fails after the alert was written
    await f.user(Role.ADMIN)
    written = outbox.breach_reported

    async def write_then_fail(*args: Any) -> int:
        assert await written(*args) == 1
        raise RuntimeError("crash after the alert")

    monkeypatch.setattr(outbox, "breach_reported", write_then_fail)

    # when
    response = await actor(None).post_gql(FILE, report_input("DATA_BREACH", BREACH_TEXT))

    # then: neither the report nor its alert
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert await Report.all().count() == 0
    assert await outbox_rows() == []


async def test_file_report_as_anonymous_is_limited_per_ip(
    actor: Any, app: Any, limits_of: Any
) -> None:
    # given: two reports per IP and hour
    limits_of(2, 100)
    anonymous = actor(None)
    for _ in range(2):
        await file(anonymous)

    # when: a third from the same address, anonymous or signed in
    third = await anonymous.gql(FILE, report_input(text="Derde melding van hier."))
    signed_in = await actor(await f.user(Role.PARENT)).gql(FILE, report_input())
    async with client_at(app, "198.51.100.7") as elsewhere:
        other = await elsewhere.post("/graphql", json={"query": FILE, "variables": report_input()})

    # then: refused before anything is saved; another address is not affected
    assert codes(third, "fileReport") == [(["input"], "RATE_LIMITED")]
    assert codes(signed_in, "fileReport") == [(["input"], "RATE_LIMITED")]
    assert payload(third, "fileReport")["reportId"] is None
    assert payload(other.json(), "fileReport")["errors"] == []
    assert await Report.all().count() == 3
    assert await Report.filter(text="Derde melding van hier.").count() == 0


async def test_file_report_as_parent_is_limited_per_account_across_addresses(
    actor: Any, app: Any, limits_of: Any
) -> None:
    # given: one report per account and hour
    limits_of(100, 1)
    parent = actor(await f.user(Role.PARENT))
    await file(parent)

    # when: the same account again, from here and from elsewhere
    again = await parent.gql(FILE, report_input())
    async with client_at(app, "198.51.100.8") as elsewhere:
        elsewhere.headers.update(parent.http.headers)
        moved = await elsewhere.post("/graphql", json={"query": FILE, "variables": report_input()})
    anonymous = await actor(None).gql(FILE, report_input())

    # then
    assert codes(again, "fileReport") == [(["input"], "RATE_LIMITED")]
    assert codes(moved.json(), "fileReport") == [(["input"], "RATE_LIMITED")]
    assert codes(anonymous, "fileReport") == []
    assert await Report.all().count() == 2


async def test_file_report_invalid_input_is_not_counted_against_the_limit(
    actor: Any, limits_of: Any
) -> None:
    limits_of(1, 1)
    client = actor(None)
    for _ in range(3):
        assert codes(await client.gql(FILE, report_input(text="")), "fileReport") == [
            (["input", "text"], "REQUIRED")
        ]

    assert codes(await client.gql(FILE, report_input()), "fileReport") == []


@pytest.mark.parametrize(
    ("text", "contact", "expected"),
    [
        ("", None, [(["input", "text"], "REQUIRED")]),
        (" \n\t \x00\x07 \u202e ", None, [(["input", "text"], "REQUIRED")]),
        ("te kort", None, [(["input", "text"], "TOO_SHORT")]),
        ("x" * 5001, None, [(["input", "text"], "TOO_LONG")]),
        (COMPLAINT_TEXT, "geen-adres", [(["input", "contactEmail"], "INVALID_EMAIL")]),
        (
            "",
            "a@b",
            [(["input", "text"], "REQUIRED"), (["input", "contactEmail"], "INVALID_EMAIL")],
        ),
    ],
    ids=["empty", "only-controls", "too-short", "too-long", "bad-email", "both"],
)
async def test_file_report_with_bad_input_gets_field_errors_and_saves_nothing(
    actor: Any, text: str, contact: str | None, expected: list[Any]
) -> None:
    # when
    response = await actor(None).post_gql(FILE, report_input(text=text, contactEmail=contact))

    # then: a 200 with typed errors, the input never echoed
    assert response.status_code == 200
    assert codes(response.json(), "fileReport") == expected
    assert payload(response.json(), "fileReport")["reportId"] is None
    if len(text) > 20:
        assert text not in response.text
    assert await Report.all().count() == 0


@pytest.mark.parametrize("length", [10, 5000])
async def test_file_report_at_the_length_bounds_is_accepted(actor: Any, length: int) -> None:
    report_id = await file(actor(None), text="y" * length)

    assert len((await Report.get(id=report_id)).text) == length


async def test_file_report_with_a_body_over_the_limit_gets_413(actor: Any) -> None:
    # when
    response = await actor(None).post_gql(
        FILE, report_input(text="z" * (settings.max_body_bytes + 1))
    )

    # then
    assert response.status_code == 413
    assert await Report.all().count() == 0


async def test_file_report_with_an_unknown_kind_gets_a_400(actor: Any) -> None:
    response = await actor(None).http.post(
        "/graphql",
        json={"query": FILE, "variables": report_input(kind="<b>BREACH</b>")},
        headers={"Accept": "application/graphql-response+json"},
    )

    assert response.status_code == 400
    assert "<b>" not in response.text
    assert await Report.all().count() == 0


async def test_file_report_removes_control_characters_surrogates_and_bidi_overrides(
    actor: Any,
) -> None:
    # given: NUL (PostgreSQL cannot store it), a lone surrogate (nor that), a
    # right-to-left override, carriage returns
    text = "Melding\x00 over\u202e een \ud800datalek\r\nop\ttwee regels\x1b[31m "

    # when: sent as ASCII JSON (a lone surrogate has no UTF-8 form)
    response = await actor(None).http.post(
        "/graphql",
        content=json.dumps({"query": FILE, "variables": report_input("DATA_BREACH", text)}),
        headers={"Content-Type": "application/json"},
    )

    # then
    assert response.status_code == 200
    report_id = payload(response.json(), "fileReport")["reportId"]
    assert (await Report.get(id=report_id)).text == "Melding over een datalek\nop\ttwee regels[31m"


async def test_html_in_a_report_comes_back_only_as_an_inert_json_string(actor: Any) -> None:
    # given
    report_id = await file(actor(None), text=HTML, contactEmail="melder@example.be")
    admin = await admin_client(actor)

    # when: the admins read it as JSON, as GraphQL response JSON, and a browser asks for
    # the same query as a page
    plain = await admin.http.post("/graphql", json={"query": REPORTS})
    graphql_json = await admin.http.post(
        "/graphql", json={"query": REPORTS}, headers={"Accept": "application/graphql-response+json"}
    )
    navigated = await admin.http.get(
        "/graphql",
        params={"query": REPORTS},
        headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
    )
    page = await admin.http.get("/graphql", headers={"Accept": "text/html"})

    # then: stored and returned exactly as typed, inside a JSON string, never as HTML
    assert (await Report.get(id=report_id)).text == HTML
    for response in (plain, graphql_json, navigated):
        assert response.headers["content-type"].split(";")[0] in (
            "application/json",
            "application/graphql-response+json",
        )
        assert "errors" not in response.json(), response.text
        [node] = [e["node"] for e in response.json()["data"]["reports"]["edges"]]
        assert node["text"] == HTML
        assert json.dumps(HTML) in response.text
    # the only HTML the service serves is the static GraphiQL page, which carries no data
    # (GraphiQL shows results as text in its editor); a browser asking for the query as a
    # page gets JSON too (above)
    assert page.headers["content-type"].startswith("text/html")
    assert "alert(" not in page.text
    # and no e-mail carries a report
    assert (await fetch("SELECT count(*) AS n FROM outbox"))[0]["n"] == 0


async def test_report_texts_never_reach_the_logs(
    actor: Any, caplog: pytest.LogCaptureFixture, limits_of: Any
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    limits_of(2, 100)
    secret = "Geheim-datalek-3f9a2c"
    note = "Notitie-7b1e44 over het lek"
    anonymous = actor(None)
    admin = await admin_client(actor)

    # when: filed, refused as too long, rate-limited, read and annotated
    report_id = await file(
        anonymous, "DATA_BREACH", f"{secret} bij het loket", contactEmail="x@ex.be"
    )
    await anonymous.gql(FILE, report_input(text=secret * 500))
    await file(anonymous, text=f"Tweede {secret} melding")
    await anonymous.gql(FILE, report_input(text=f"Derde {secret} melding"))
    await listed(admin)
    await admin.gql(TRIAGE, {"i": {"reportId": report_id, "severity": "HIGH", "note": note}})
    await admin.gql(NOTE, {"i": {"reportId": report_id, "text": note}})
    await admin.gql(CLOSE, {"i": {"reportId": report_id, "note": note, "notifiable": False}})

    # then
    assert caplog.records, "DEBUG logging was on"
    assert secret not in caplog.text
    assert note not in caplog.text
    assert "x@ex.be" not in caplog.text


# --- admins ---------------------------------------------------------------------------


async def test_breach_workflow_as_admin_triage_notes_notification_close(actor: Any) -> None:
    # given: a parent reports a breach
    parent_user = await f.user(Role.PARENT)
    reporter = actor(parent_user)
    report_id = await file(reporter, "DATA_BREACH", BREACH_TEXT, contactEmail="melder@example.be")
    admin_user = await f.user(Role.ADMIN)
    admin = actor(admin_user)

    # when: listed
    [node] = await listed(admin)

    # then: open, pending, 72 hours to go
    assert node["id"] == report_id
    assert node["kind"] == "DATA_BREACH"
    assert node["status"] == "OPEN"
    assert node["severity"] is None
    assert node["text"] == BREACH_TEXT
    assert node["contactEmail"] == "melder@example.be"
    assert node["reporterEmail"] == parent_user.email
    assert node["authorityNotification"] == "PENDING"
    assert node["overdue"] is False
    assert node["hoursLeft"] == 71
    assert node["notes"] == []

    # when: triaged with a note, annotated
    triaged = await admin.gql(
        TRIAGE, {"i": {"reportId": report_id, "severity": "HIGH", "note": "Echt lek."}}
    )
    noted = await admin.gql(NOTE, {"i": {"reportId": report_id, "text": "GBA gebeld."}})

    # then
    assert codes(triaged, "triageReport") == []
    assert payload(triaged, "triageReport")["report"]["status"] == "TRIAGED"
    assert payload(triaged, "triageReport")["report"]["severity"] == "HIGH"
    assert [n["text"] for n in payload(noted, "addReportNote")["report"]["notes"]] == [
        "Echt lek.",
        "GBA gebeld.",
    ]
    assert {n["author"] for n in payload(noted, "addReportNote")["report"]["notes"]} == {
        admin_user.display_name
    }

    # when: closed before the notification is recorded
    early = await admin.gql(CLOSE, {"i": {"reportId": report_id, "note": "Afgehandeld."}})

    # then: refused, nothing changed
    assert codes(early, "closeReport") == [(["input", "notifiable"], "AUTHORITY_NOT_NOTIFIED")]
    assert (await Report.get(id=report_id)).status == "TRIAGED"

    # when: the notification recorded, then closed
    notified = await admin.gql(
        NOTIFIED, {"i": {"reportId": report_id, "note": "Referentie GBA-2026-1"}}
    )
    closed = await admin.gql(
        CLOSE, {"i": {"reportId": report_id, "note": "Gemeld bij de GBA; het gezin is ingelicht."}}
    )

    # then
    assert codes(notified, "recordAuthorityNotification") == []
    notified_report = payload(notified, "recordAuthorityNotification")["report"]
    assert notified_report["authorityNotification"] == "NOTIFIED"
    assert notified_report["authorityNotifiedAt"] is not None
    assert notified_report["hoursLeft"] is None
    report = payload(closed, "closeReport")["report"]
    assert report["status"] == "CLOSED"
    assert report["closedAt"] is not None
    assert report["overdue"] is False
    assert [n["text"] for n in report["notes"]] == [
        "Echt lek.",
        "GBA gebeld.",
        "Referentie GBA-2026-1",
        "Gemeld bij de GBA; het gezin is ingelicht.",
    ]

    # and: the reporter sees the status and the closing note, not the other notes nor the text
    mine = (await reporter.gql(MY_REPORTS))["data"]["myReports"]
    assert mine == [
        {
            "id": report_id,
            "kind": "DATA_BREACH",
            "status": "CLOSED",
            "createdAt": node["createdAt"],
            "closedAt": report["closedAt"],
            "closingNote": "Gemeld bij de GBA; het gezin is ingelicht.",
        }
    ]


async def test_close_breach_as_not_notifiable_with_the_reason(actor: Any) -> None:
    # given
    report_id = await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    admin = await admin_client(actor)

    # when
    closed = await admin.gql(
        CLOSE,
        {
            "i": {
                "reportId": report_id,
                "note": "Versleutelde schijf verloren, sleutel niet: geen risico.",
                "notifiable": False,
            }
        },
    )

    # then
    report = payload(closed, "closeReport")["report"]
    assert codes(closed, "closeReport") == []
    assert report["status"] == "CLOSED"
    assert report["authorityNotification"] == "NOT_NOTIFIABLE"
    assert report["authorityNotifiedAt"] is None
    assert (report["overdue"], report["hoursLeft"]) == (False, None)


async def test_close_notified_breach_as_not_notifiable_is_refused(actor: Any) -> None:
    report_id = await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    admin = await admin_client(actor)
    await admin.gql(NOTIFIED, {"i": {"reportId": report_id}})

    closed = await admin.gql(
        CLOSE, {"i": {"reportId": report_id, "note": "Toch niet.", "notifiable": False}}
    )

    assert codes(closed, "closeReport") == [(["input", "notifiable"], "NOTIFIED_ALREADY")]
    assert (await Report.get(id=report_id)).status == "OPEN"


async def test_close_complaint_needs_only_a_note(actor: Any) -> None:
    # given
    report_id = await file(actor(None))
    admin = await admin_client(actor)

    # when
    without_note = await admin.gql(CLOSE, {"i": {"reportId": report_id, "note": " \n "}})
    closed = await admin.gql(CLOSE, {"i": {"reportId": report_id, "note": "Beantwoord."}})

    # then
    assert codes(without_note, "closeReport") == [(["input", "note"], "REQUIRED")]
    report = payload(closed, "closeReport")["report"]
    assert (report["status"], report["authorityNotification"]) == ("CLOSED", "NOT_APPLICABLE")
    assert report["notificationDeadline"] is None


async def test_closed_report_does_not_change(actor: Any) -> None:
    # given
    report_id = await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    admin = await admin_client(actor)
    await admin.gql(CLOSE, {"i": {"reportId": report_id, "note": "Geen lek.", "notifiable": False}})
    before = await Report.get(id=report_id)

    # when
    results = [
        (
            "triageReport",
            await admin.gql(TRIAGE, {"i": {"reportId": report_id, "severity": "LOW"}}),
        ),
        (
            "addReportNote",
            await admin.gql(NOTE, {"i": {"reportId": report_id, "text": "Nog iets."}}),
        ),
        ("recordAuthorityNotification", await admin.gql(NOTIFIED, {"i": {"reportId": report_id}})),
        ("closeReport", await admin.gql(CLOSE, {"i": {"reportId": report_id, "note": "Opnieuw."}})),
    ]

    # then
    for field, result in results:
        assert codes(result, field) == [(["input", "reportId"], "REPORT_CLOSED")], field
    after = await Report.get(id=report_id)
    assert (after.status, after.severity, after.closed_at) == (
        before.status,
        before.severity,
        before.closed_at,
    )
    assert await ReportNote.filter(report_id=report_id).count() == 1


async def test_record_authority_notification_checks(actor: Any) -> None:
    # given
    complaint = await file(actor(None))
    breach = await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    admin = await admin_client(actor)
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()
    past = "2020-01-01T00:00:00+00:00"

    async def record(report_id: str, **more: Any) -> list[Any]:
        result = await admin.gql(NOTIFIED, {"i": {"reportId": report_id, **more}})
        return codes(result, "recordAuthorityNotification")

    # when / then
    assert await record(complaint) == [(["input", "reportId"], "NOT_A_BREACH")]
    assert await record(breach, notifiedAt=future) == [(["input", "notifiedAt"], "IN_FUTURE")]
    assert await record(breach, notifiedAt=past) == [(["input", "notifiedAt"], "BEFORE_REPORT")]
    assert await record(breach, notifiedAt="2026-01-01T10:00:00") == [
        (["input", "notifiedAt"], "TIME_ZONE_REQUIRED")
    ]
    assert await record("00000000-0000-0000-0000-000000000000") == [
        (["input", "reportId"], "NOT_FOUND")
    ]
    assert await record("not-an-id") == [(["input", "reportId"], "NOT_FOUND")]
    assert (await Report.get(id=breach)).authority_notified_at is None
    assert await record(breach) == []
    assert await record(breach) == [(["input", "reportId"], "NOTIFIED_ALREADY")]


async def test_overdue_breach_shows_negative_hours_left(actor: Any) -> None:
    # given: a breach received 73.5 hours ago, not notified
    report_id = await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    await execute(
        """UPDATE report SET created_at = now() - interval '73.5 hours',
                             notification_deadline = now() - interval '1.5 hours'
           WHERE id = $1""",
        report_id,
    )
    admin = await admin_client(actor)

    # when
    [node] = await listed(admin)

    # then
    assert (node["overdue"], node["hoursLeft"]) == (True, -1)

    # when: notified late, the breach is no longer overdue (the delay shows in the times)
    await admin.gql(NOTIFIED, {"i": {"reportId": report_id}})
    [node] = await listed(admin)

    # then
    assert (node["overdue"], node["hoursLeft"], node["authorityNotification"]) == (
        False,
        None,
        "NOTIFIED",
    )


async def test_reports_list_open_first_oldest_first_with_filters_and_pages(actor: Any) -> None:
    # given: reports received an hour apart, oldest first: c1, b2, c3, b4
    anonymous = actor(None)
    ids = [
        await file(anonymous, kind, text)
        for kind, text in [
            ("COMPLAINT", "Klacht nummer een."),
            ("DATA_BREACH", "Datalek nummer twee."),
            ("COMPLAINT", "Klacht nummer drie."),
            ("DATA_BREACH", "Datalek nummer vier."),
        ]
    ]
    for hours_ago, report_id in zip((4, 3, 2, 1), ids, strict=True):
        await execute(
            "UPDATE report SET created_at = now() - make_interval(hours => $2) WHERE id = $1",
            report_id,
            hours_ago,
        )
    c1, b2, c3, b4 = ids
    admin = await admin_client(actor)
    await admin.gql(TRIAGE, {"i": {"reportId": c1, "severity": "LOW"}})
    await admin.gql(CLOSE, {"i": {"reportId": b2, "note": "Geen lek.", "notifiable": False}})

    # when
    everything = [n["id"] for n in await listed(admin)]
    first_page = (await admin.gql(REPORTS, {"first": 2}))["data"]["reports"]
    second_page = (
        await admin.gql(REPORTS, {"first": 2, "after": first_page["pageInfo"]["endCursor"]})
    )["data"]["reports"]
    open_ones = [n["id"] for n in await listed(admin, status="OPEN")]
    breaches = [n["id"] for n in await listed(admin, kind="DATA_BREACH")]

    # then: open (oldest first), triaged, closed
    assert everything == [c3, b4, c1, b2]
    assert [e["node"]["id"] for e in first_page["edges"]] == [c3, b4]
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in second_page["edges"]] == [c1, b2]
    assert second_page["pageInfo"]["hasNextPage"] is False
    assert open_ones == [c3, b4]
    assert breaches == [b4, b2]


async def test_reports_with_an_invalid_cursor_is_an_input_error(actor: Any) -> None:
    admin = await admin_client(actor)

    result = await admin.gql(REPORTS, {"after": "bm90IGEgY3Vyc29y"})

    assert result["data"] == {"reports": None}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["INVALID_CURSOR"]


async def test_triage_with_an_oversized_note_saves_nothing(actor: Any) -> None:
    report_id = await file(actor(None))
    admin = await admin_client(actor)

    result = await admin.gql(
        TRIAGE, {"i": {"reportId": report_id, "severity": "LOW", "note": "n" * 5001}}
    )

    assert codes(result, "triageReport") == [(["input", "note"], "TOO_LONG")]
    report = await Report.get(id=report_id)
    assert (report.status, report.severity) == ("OPEN", "")
    assert await ReportNote.all().count() == 0


# --- everyone else ---------------------------------------------------------------------


async def _staff(role: str | None) -> Any:
    if role is None:
        return None
    if role == "LOKET":
        return await f.user(Role.LOKET, counter=await f.counter("Loket"))
    if role == "PROVIDER":
        leuven = await f.municipality("24062", "Leuven")
        return await f.user(Role.PROVIDER, provider_location=await f.location(leuven))
    if role == "TOELEIDER":
        return await f.user(Role.TOELEIDER, referral_organisation=await f.referral_organisation())
    return await f.user(Role(role))


DENIED = [None, "PARENT", "PROVIDER", "LOKET", "TOELEIDER"]


@pytest.mark.parametrize("role", DENIED, ids=lambda r: r or "anonymous")
async def test_reports_as_non_admin_is_forbidden(actor: Any, role: str | None) -> None:
    # given
    await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    client = actor(await _staff(role))

    # when
    result = await client.gql(REPORTS)

    # then
    assert_forbidden(result, "reports")
    assert BREACH_TEXT not in json.dumps(result)


@pytest.mark.parametrize("role", DENIED, ids=lambda r: r or "anonymous")
async def test_handling_reports_as_non_admin_is_forbidden_and_changes_nothing(
    actor: Any, role: str | None
) -> None:
    # given
    report_id = await file(actor(None), "DATA_BREACH", BREACH_TEXT)
    client = actor(await _staff(role))
    before = await Report.get(id=report_id)

    # when
    results = {
        "triageReport": await client.gql(
            TRIAGE, {"i": {"reportId": report_id, "severity": "LOW", "note": "Niets."}}
        ),
        "addReportNote": await client.gql(NOTE, {"i": {"reportId": report_id, "text": "Niets."}}),
        "recordAuthorityNotification": await client.gql(NOTIFIED, {"i": {"reportId": report_id}}),
        "closeReport": await client.gql(
            CLOSE, {"i": {"reportId": report_id, "note": "Niets.", "notifiable": False}}
        ),
    }

    # then
    for field, result in results.items():
        assert_forbidden(result, field)
    after = await Report.get(id=report_id)
    assert (after.status, after.severity, after.authority_notified_at, after.closed_at) == (
        before.status,
        before.severity,
        None,
        None,
    )
    assert await ReportNote.all().count() == 0


async def test_my_reports_shows_only_the_viewers_own(actor: Any) -> None:
    # given: two parents and an anonymous reporter
    alice, bob = await f.user(Role.PARENT), await f.user(Role.PARENT)
    mine = await file(actor(alice), "DATA_BREACH", BREACH_TEXT)
    await file(actor(bob))
    await file(actor(None))

    # when
    result = await actor(alice).gql(MY_REPORTS)

    # then
    assert [(r["id"], r["status"], r["closingNote"]) for r in result["data"]["myReports"]] == [
        (mine, "OPEN", None)
    ]


async def test_my_reports_as_anonymous_is_forbidden(actor: Any) -> None:
    assert_forbidden(await actor(None).gql(MY_REPORTS), "myReports")


async def test_my_reports_has_no_text_or_notes_fields(actor: Any) -> None:
    result = await actor(await f.user(Role.PARENT)).gql("{ myReports { text notes { text } } }")

    assert result.get("data") is None
    assert {e["extensions"]["code"] for e in result["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}


async def test_a_huge_text_is_refused_before_any_work_and_counts_nothing(actor: Any) -> None:
    """Thirty aliases of a 900 kB text: each refused TOO_LONG at once (no cleaning of it)."""
    text = "<" * 900_000
    aliases = " ".join(
        f"a{i}: fileReport(input: {{kind: COMPLAINT, text: $t}}) {{ errors {{ code }} }}"
        for i in range(30)
    )

    result = await actor(None).gql(f"mutation Huge($t: String!) {{ {aliases} }}", {"t": text})

    assert {e["code"] for i in range(30) for e in result["data"][f"a{i}"]["errors"]} == {"TOO_LONG"}
    assert await Report.all().count() == 0
