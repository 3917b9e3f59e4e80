"""Copies of a household's data for its parents (right of access and portability, GDPR
articles 15 and 20): the document, the job that builds requested copies, and the
clean-up of copies nobody fetched.

Flow. A parent asks (`requestDataExport`, `resolvers.rights`): a `data_export` row
PENDING is written and, in the same transaction, a run of this job is queued on
procrastinate (task `loket.exports`, `QUEUE_SQL`), so a worker builds the copy seconds
after the request commits, and never before it does. The job also runs every minute
(`settings.job_schedules["exports"]`), which is what makes it robust: a queued run that
found the job already running (and past its claim), a failed task or a worker that was
down leaves a copy waiting a minute, not for good. Why not build small copies in the
mutation: one path is easier to trust than two, and the job keeps the web request short
whatever the size of the dossier's access log. Building claims PENDING rows with
`FOR UPDATE SKIP LOCKED`, a few per transaction, so several workers share the work and a
crash loses only the batch in flight (its rows stay PENDING). A built copy is READY and
waits `settings.export_ready_hours` for its download link; the parent then mints a
one-time link (`downloadDataExport`) that works for `settings.export_link_minutes`
(never past the copy's own expiry), and the first download deletes the content.

Rules of the job "exports":
- "built": PENDING copies of a live dossier, requested by an account that is still a
  parent of it, are built and become READY (`ready_at`, `expires_at`).
- "dropped": PENDING copies whose dossier was anonymised or whose requester left it
  become EXPIRED without being built.
- "expired": READY copies past `expires_at` become EXPIRED; their content and link go.
- "deleted": DOWNLOADED and EXPIRED rows (no content any more) are deleted 30 days after
  they ended; the access log keeps the record of the request and the download.

The document (JSON, UTF-8; `version` changes only when a key changes meaning or goes;
keys are added without a new version). Dates are ISO 8601 (`YYYY-MM-DD`), times RFC 3339
in UTC; enumerations are the GraphQL API's values; ids are the API's ids.

    {
      "version": 1,
      "generatedAt": time,
      "about": str,                          # what the document is, in one sentence
      "household": {"id", "familySituation", "incomeBelowThreshold", "situationSource",
                    "situationSourceOrganisation", "situationRecordedAt", "createdAt",
                    "municipality": {"nisCode", "name"}},
      "parents": [{"id", "isApplicant", "firstName", "lastName", "nationality",
                   "birthplace", "homeLanguage", "street", "postalCode",
                   "municipality": {"nisCode", "name"}, "phone", "email",
                   "workSituation", "workSharePercent", "educationLevel",
                   "relationToChild", "situationSource", "situationSourceOrganisation",
                   "situationRecordedAt",
                   "nationalRegisterNumber": str | null,   # says a keyed hash is held;
                                                           # the number is never stored
                   "account": {"email", "displayName", "createdAt"} | null}],
      "children": [{"id", "firstName", "nickname", "lastName", "birthDate",
                    "expectedBirthDate", "createdAt", "nationalRegisterNumber"}],
      "careRequests": [{"id", "childId", "desiredStartDate", "carePattern", "note",
                        "status", "submittedAt", "closedAt", "emergencySince",
                        "emergencyNotifiedAt",
                        "filedBy": "PARENT" | "REFERRAL_WORKER" | "OTHER",
                        "filedViaMandateId",
                        "applications": [{"id", "location": {"id", "name",
                                          "municipality"}, "preference", "status",
                                          "offeredStartDate", "replyDeadline",
                                          "byEmergencyOffer", "staffChild",
                                          "refusalReason", "answeredAt", "createdAt",
                                          "updatedAt"}]}],
      "enrolments": [{"id", "childId", "requestId", "location": {...}, "startDate",
                      "endDate"}],
      "serviceRecords": [{"id", "childId", "service", "serviceDate"}],
      "consents": [{"id", "parentId", "purpose", "action", "at"}],   # the ledger, in order
      "mandates": [{"id", "referralOrganisation": {"name", "kind"}, "grantedByParentId",
                    "grantedAt", "consentMethod", "consentGivenAt", "consentNote",
                    "revokedAt", "history": [{"action", "at", "role", "organisation"}]}],
      "accessLog": [{"at", "role", "organisation", "grant", "fields", "operation",
                     "outcome", "disclosure": {...} | null}],     # as Household.accessLog
      "disclosures": [{"id", "authority", "legalBasis", "dataDisclosed", "disclosedOn"}],
      "savedSearches": [{"id", "parentId", "name", "kind", "filters", "createdAt"}],
      "erasureRequests": [{"id", "parentId", "requestedAt", "status", "decidedAt",
                           "decision": [{"category", "data", "outcome", "until",
                                         "reason"}]}],
      "reports": [{"id", "kind", "status", "text", "contactEmail", "createdAt",
                   "closedAt"}]
    }

What it holds: every column of the household's rows (household, parents, children,
their requests, applications, enrolments, service records, consent ledger, mandates),
except internal links (replaced by what they point at: a municipality's name, an
organisation's name) and the identities of staff members (who answered an application,
who recorded a consent or a mandate: the access log and the mandate history name the
organisation and role instead, as the API does). The access log and the disclosures are
the family's view (`resolvers.transparency`: nothing linked to a secret disclosure).
Saved searches are those of the parents' accounts. Reports are only those the requester
filed: a complaint is its author's, and may concern the partner. Anonymised children,
with their requests, enrolments and service records, are left out: they are no longer
anyone's data.
"""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from typing import Any

import asyncpg
import orjson

from jobs.runner import JobContext, job, rows_affected
from loket.settings import settings

log = logging.getLogger("loket.jobs.export")

VERSION = 1
NAME = "exports"
TASK = f"loket.{NAME}"
RULES = ("built", "dropped", "expired", "deleted")
# Copies built per transaction: a document may be large.
BUILD_BATCH = 10
# Days a used-up copy's row stays (without content) before it is deleted.
KEEP_DAYS = 30

ABOUT = (
    "A copy of the personal data the digital childcare counter holds about this household, "
    "made at the request of one of its parents."
)
RRN_HELD = (
    "A keyed hash of the national register number is held, only to check that a child has "
    "one open request (and a parent one account); the number itself is not stored."
)


# --- Queueing --------------------------------------------------------------------------

# Queue one run of this job ($1: `jobs.app.QUEUE`, $2: `TASK`), in the caller's
# transaction. It is the row procrastinate's `procrastinate_defer_jobs_v1` inserts when
# the task is deferred without arguments, with the task's settings as `jobs.app`
# registers it (no lock, the task name as queueing lock; a test compares them); when a
# run is already waiting, none is added (that run sees the new copy too). The worker is
# woken (procrastinate's NOTIFY trigger) only when the transaction commits, and never for
# a rolled-back one.
QUEUE_SQL = """INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock,
    queueing_lock, args)
VALUES ($1::text, $2::text, 0, NULL, $2::text, '{}'::jsonb)
ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING"""


# --- The document ----------------------------------------------------------------------

_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _json(value: Any) -> Any:
    """A JSON column as asyncpg returns it (text without a codec)."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def _row(record: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of `record` under its camelCase name, except `drop`."""
    return {camel(k): v for k, v in record.items() if k not in drop}


def _rrn(record: Any) -> str | None:
    return RRN_HELD if record["rrn_hashes"] else None


def _municipality(nis_code: Any, name: Any) -> dict[str, Any]:
    return {"nisCode": nis_code, "name": name}


# Columns replaced by what they point at, or left out (see the module docstring).
_LINKS = ("household_id", "user_id", "situation_source_organisation_id", "municipality_id")
_RRN = ("rrn_hashes", "rrn_key_ids")

HOUSEHOLD_SQL = """SELECT h.*, m.name AS municipality_name,
    o.name AS situation_source_organisation
FROM household h JOIN municipality m ON m.nis_code = h.municipality_id
LEFT JOIN referral_organisation o ON o.id = h.situation_source_organisation_id
WHERE h.id = $1"""

PARENTS_SQL = """SELECT p.*, m.name AS municipality_name,
    o.name AS situation_source_organisation,
    u.email AS account_email, u.display_name AS account_display_name,
    u.created_at AS account_created_at
FROM parent p JOIN municipality m ON m.nis_code = p.municipality_id
LEFT JOIN referral_organisation o ON o.id = p.situation_source_organisation_id
LEFT JOIN app_user u ON u.id = p.user_id
WHERE p.household_id = $1 ORDER BY p.is_applicant DESC, p.id"""

CHILDREN_SQL = """SELECT c.* FROM child c
WHERE c.household_id = $1 AND c.anonymised_at IS NULL ORDER BY c.created_at, c.id"""

# Requests of the household's children that are not anonymised.
REQUESTS_SQL = """SELECT r.* FROM care_request r JOIN child c ON c.id = r.child_id
WHERE r.household_id = $1 AND c.anonymised_at IS NULL ORDER BY r.submitted_at, r.id"""

_LOCATION = """l.name AS location_name, lm.name AS location_municipality
    FROM {table} JOIN provider_location l ON l.id = {alias}.location_id
    JOIN municipality lm ON lm.nis_code = l.municipality_id"""

APPLICATIONS_SQL = (
    "SELECT a.*, "
    + _LOCATION.format(table="application a", alias="a")
    + """
    WHERE a.request_id = ANY($1::uuid[]) ORDER BY a.request_id, a.preference"""
)

ENROLMENTS_SQL = (
    "SELECT e.*, "
    + _LOCATION.format(table="enrolment e JOIN child c ON c.id = e.child_id", alias="e")
    + """
    WHERE c.household_id = $1 AND c.anonymised_at IS NULL ORDER BY e.start_date, e.id"""
)

SERVICE_RECORDS_SQL = """SELECT s.id, s.child_id, s.service_date, sv.name AS service
FROM service_record s JOIN child c ON c.id = s.child_id
JOIN sick_child_service sv ON sv.id = s.service_id
WHERE c.household_id = $1 AND c.anonymised_at IS NULL ORDER BY s.service_date, s.id"""

CONSENTS_SQL = """SELECT e.id, e.parent_id, e.purpose, e.action, e.at FROM consent_event e
WHERE e.household_id = $1 ORDER BY e.id"""

SAVED_SEARCHES_SQL = """SELECT s.id, p.id AS parent_id, s.name, s.kind, s.filters, s.created_at
FROM saved_search s JOIN parent p ON p.user_id = s.user_id
WHERE p.household_id = $1 ORDER BY s.created_at, s.id"""

ERASURE_REQUESTS_SQL = """SELECT e.id, e.parent_id, e.requested_at, e.status, e.decided_at,
    e.decision
FROM erasure_request e WHERE e.household_id = $1 ORDER BY e.requested_at, e.id"""

REPORTS_SQL = """SELECT r.id, r.kind, r.status, r.text, r.contact_email, r.created_at,
    r.closed_at
FROM report r WHERE r.reporter_id = $1 ORDER BY r.created_at, r.id"""

DISCLOSURES_SQL = """SELECT d.id, d.authority, d.legal_basis, d.data_disclosed, d.disclosed_on
FROM disclosure d WHERE d.household_id = $1 AND NOT d.secret
ORDER BY d.disclosed_on DESC, d.created_at DESC, d.id"""

_ACCOUNT = ("account_email", "account_display_name", "account_created_at")
_APPLICATION_LINKS = (
    "request_id",
    "location_id",
    "answered_by_id",
    "location_name",
    "location_municipality",
)


def _location(r: Any) -> dict[str, Any]:
    return {
        "id": r["location_id"],
        "name": r["location_name"],
        "municipality": r["location_municipality"],
    }


async def build_document(
    conn: asyncpg.Connection, household_id: uuid.UUID, requested_by: uuid.UUID | None
) -> dict[str, Any]:
    """The copy of household `household_id` for its parent with account `requested_by`
    (shape: module docstring). A fixed number of statements, whatever the dossier's size."""
    # The family's own view of its access log and mandates, as the API shows them.
    from resolvers.transparency import (
        _ORGANISATION_SQL,
        ACCESS_LOG_SQL,
        PLATFORM,
        REVOKED_BY_SQL,
        mandate_history,
    )

    household = await conn.fetchrow(HOUSEHOLD_SQL, household_id)
    parents = await conn.fetch(PARENTS_SQL, household_id)
    accounts = {p["user_id"] for p in parents if p["user_id"] is not None}

    def parent(p: Any) -> dict[str, Any]:
        out = _row(p, (*_LINKS, *_RRN, *_ACCOUNT, "municipality_name"))
        out["municipality"] = _municipality(p["municipality_id"], p["municipality_name"])
        out["nationalRegisterNumber"] = _rrn(p)
        out["account"] = (
            {
                "email": p["account_email"],
                "displayName": p["account_display_name"],
                "createdAt": p["account_created_at"],
            }
            if p["user_id"] is not None
            else None
        )
        return out

    children = await conn.fetch(CHILDREN_SQL, household_id)
    requests = await conn.fetch(REQUESTS_SQL, household_id)
    applications = await conn.fetch(APPLICATIONS_SQL, [r["id"] for r in requests])
    per_request: dict[uuid.UUID, list[dict[str, Any]]] = {r["id"]: [] for r in requests}
    for a in applications:
        entry = _row(a, _APPLICATION_LINKS)
        entry = {"id": entry.pop("id"), "location": _location(a), **entry}
        per_request[a["request_id"]].append(entry)

    def request(r: Any) -> dict[str, Any]:
        out = _row(r, ("household_id", "filed_by_id"))
        out["carePattern"] = _json(r["care_pattern"])
        if r["filed_by_id"] is not None and r["filed_by_id"] in accounts:
            out["filedBy"] = "PARENT"
        elif r["filed_via_mandate_id"] is not None:
            out["filedBy"] = "REFERRAL_WORKER"
        else:
            out["filedBy"] = "OTHER"
        out["applications"] = per_request[r["id"]]
        return out

    enrolments = await conn.fetch(ENROLMENTS_SQL, household_id)
    services = await conn.fetch(SERVICE_RECORDS_SQL, household_id)
    consents = await conn.fetch(CONSENTS_SQL, household_id)
    mandates = await conn.fetch(
        f"""SELECT m.*, o.name AS org_name, o.kind AS org_kind, {REVOKED_BY_SQL}
            FROM mandate m JOIN referral_organisation o ON o.id = m.referral_organisation_id
            WHERE m.household_id = $1 ORDER BY m.granted_at, m.id""",
        household_id,
    )
    access = await conn.fetch(
        ACCESS_LOG_SQL.format(
            platform="$2", organisation=_ORGANISATION_SQL, household="$1", after="", limit="ALL"
        ),
        household_id,
        PLATFORM,
    )
    disclosures = await conn.fetch(DISCLOSURES_SQL, household_id)
    searches = await conn.fetch(SAVED_SEARCHES_SQL, household_id)
    erasures = await conn.fetch(ERASURE_REQUESTS_SQL, household_id)
    reports = await conn.fetch(REPORTS_SQL, requested_by) if requested_by else []

    def mandate(m: Any) -> dict[str, Any]:
        return {
            "id": m["id"],
            "referralOrganisation": {"name": m["org_name"], "kind": m["org_kind"]},
            "grantedByParentId": m["granted_by_id"],
            "grantedAt": m["granted_at"],
            "consentMethod": m["consent_method"],
            # An ONLINE mandate's consent is given when it is granted.
            "consentGivenAt": m["consent_given_at"] or m["granted_at"],
            "consentNote": m["consent_note"],
            "revokedAt": m["revoked_at"],
            "history": [
                {
                    "action": e.action.value,
                    "at": e.at,
                    "role": e.role.value if e.role is not None else None,
                    "organisation": e.organisation_name,
                }
                for e in mandate_history(m)
            ],
        }

    def access_entry(a: Any) -> dict[str, Any]:
        disclosure = None
        if a["d_id"] is not None:
            disclosure = {
                "id": a["d_id"],
                "authority": a["d_authority"],
                "legalBasis": a["d_legal_basis"],
                "dataDisclosed": a["d_data_disclosed"],
                "disclosedOn": a["d_disclosed_on"],
            }
        return {
            "at": a["at"],
            "role": a["role"],
            "organisation": a["organisation_name"],
            "grant": a["grant_name"],
            "fields": _json(a["fields_read"]) or [],
            "operation": a["operation_name"],
            "outcome": a["outcome"],
            "disclosure": disclosure,
        }

    def search(s: Any) -> dict[str, Any]:
        return {**_row(s, ("filters",)), "filters": _json(s["filters"])}

    def erasure(e: Any) -> dict[str, Any]:
        return {**_row(e, ("decision",)), "decision": _json(e["decision"]) or []}

    def child(c: Any) -> dict[str, Any]:
        out = _row(c, ("household_id", "anonymised_at", *_RRN))
        return {**out, "nationalRegisterNumber": _rrn(c)}

    return {
        "version": VERSION,
        "generatedAt": datetime.datetime.now(datetime.UTC),
        "about": ABOUT,
        "household": {
            **_row(household, (*_LINKS, "municipality_name", "anonymised_at")),
            "municipality": _municipality(
                household["municipality_id"], household["municipality_name"]
            ),
        },
        "parents": [parent(p) for p in parents],
        "children": [child(c) for c in children],
        "careRequests": [request(r) for r in requests],
        "enrolments": [
            {
                "id": e["id"],
                "childId": e["child_id"],
                "requestId": e["request_id"],
                "location": _location(e),
                "startDate": e["start_date"],
                "endDate": e["end_date"],
            }
            for e in enrolments
        ],
        "serviceRecords": [_row(s) for s in services],
        "consents": [_row(c) for c in consents],
        "mandates": [mandate(m) for m in mandates],
        "accessLog": [access_entry(a) for a in access],
        "disclosures": [_row(d) for d in disclosures],
        "savedSearches": [search(s) for s in searches],
        "erasureRequests": [erasure(e) for e in erasures],
        "reports": [_row(r) for r in reports],
    }


def _other(value: Any) -> Any:
    # asyncpg's own UUID type is not a `uuid.UUID` to orjson.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def serialise(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, default=_other, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z)


# --- The job ---------------------------------------------------------------------------

# Copies waiting to be built, oldest first, with whether they may be: the dossier is live
# and the requester still one of its parents.
PENDING_SQL = """SELECT x.id, x.household_id, x.requested_by_id,
    h.anonymised_at IS NULL AND EXISTS (
        SELECT 1 FROM parent p WHERE p.household_id = x.household_id
        AND p.user_id = x.requested_by_id) AS buildable
FROM data_export x JOIN household h ON h.id = x.household_id
WHERE x.status = 'PENDING'
ORDER BY x.requested_at, x.id"""
# $1: how many; rows another worker is building are skipped.
CLAIM_SQL = PENDING_SQL + " LIMIT $1 FOR UPDATE OF x SKIP LOCKED"

READY_SQL = """UPDATE data_export SET status = 'READY', content = $2, ready_at = now(),
    expires_at = now() + make_interval(hours => $3)
WHERE id = $1"""

DROP_SQL = """UPDATE data_export SET status = 'EXPIRED', expires_at = now()
WHERE id = ANY($1::uuid[])"""

EXPIRE_CONDITION = "status = 'READY' AND expires_at <= now()"
EXPIRE_SQL = f"""UPDATE data_export SET status = 'EXPIRED', content = NULL
WHERE {EXPIRE_CONDITION}"""

DELETE_CONDITION = f"""status IN ('DOWNLOADED', 'EXPIRED')
  AND coalesce(downloaded_at, expires_at, requested_at) < now() - interval '{KEEP_DAYS} days'"""
DELETE_SQL = f"DELETE FROM data_export WHERE {DELETE_CONDITION}"


@job(NAME, "build the copies of their data parents asked for; expire and delete unused ones",
     rules=RULES)  # fmt: skip
async def exports(ctx: JobContext) -> None:
    if ctx.dry_run:
        async with ctx.batch() as conn:
            for rule, condition in (("expired", EXPIRE_CONDITION), ("deleted", DELETE_CONDITION)):
                sql = f"SELECT count(*) FROM data_export WHERE {condition}"
                ctx.count(rule, await conn.fetchval(sql))
            pending = await conn.fetch(PENDING_SQL)
            ctx.count("built", sum(1 for r in pending if r["buildable"]))
            ctx.count("dropped", sum(1 for r in pending if not r["buildable"]))
        return
    async with ctx.batch() as conn:
        ctx.count("expired", rows_affected(await conn.execute(EXPIRE_SQL)))
        ctx.count("deleted", rows_affected(await conn.execute(DELETE_SQL)))
    size = max(1, min(BUILD_BATCH, ctx.batch_size))
    while True:
        async with ctx.batch() as conn:
            claimed = await conn.fetch(CLAIM_SQL, size)
            dropped = [r["id"] for r in claimed if not r["buildable"]]
            if dropped:
                await conn.execute(DROP_SQL, dropped)
                ctx.count("dropped", len(dropped))
            for r in claimed:
                if not r["buildable"]:
                    continue
                document = await build_document(conn, r["household_id"], r["requested_by_id"])
                content = serialise(document)
                await conn.execute(READY_SQL, r["id"], content, settings.export_ready_hours)
                ctx.count("built", 1)
        ctx.advance(len(claimed))
        if len(claimed) < size:
            return
