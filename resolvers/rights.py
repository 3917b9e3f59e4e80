"""Data-subject rights of a parent: a copy of the dossier, and erasure ("being forgotten").

Only a parent, for their own dossier (grant OWN_HOUSEHOLD), may use either; for anyone
else the mutations are FORBIDDEN and change nothing.

Copy of my data. `requestDataExport` writes a `data_export` row (PENDING) and queues the
job that builds it in the same transaction (`jobs.export`: the document's shape, the job,
the clean-up). Once READY, `downloadDataExport` makes a one-time link: a random token of
32 bytes, of which only the SHA-256 digest is stored, valid for
`settings.export_link_minutes` (LOKET_EXPORT_LINK_MINUTES, 15) and never past the copy's
own expiry; making a new link replaces the old one and does not extend it. The link is
`EXPORT_PATH` (under /graphql, the path the session cookie is scoped to, so a browser
sends it): GET it signed in as the same parent (bearer token or session cookie) to get
the document (`application/json`, `Content-Disposition: attachment`, `Cache-Control:
no-store`); that first download deletes the content. Refused without leaking anything:
no sign-in 401; an unknown token 404; someone else's (another parent, the partner, staff,
admins) 403, and the copy stays fetchable by its owner; downloaded or expired 410.
Audit: the request and the download are each written to the access log as the parent's
own row (role PARENT, grant OWN_HOUSEHOLD, fields `DataExport.requested` /
`DataExport.downloaded`), so both parents see them in `Household.accessLog` and the
export itself; the `data_export` row keeps who asked and when it was made and fetched.
At most one copy per parent is PENDING or READY at a time, and `EXPORTS_PER_DAY` may be
asked for a day.

Erasure. `requestErasure` decides at once, under the dossier's locks (the household row,
then its children's rows, as the retention job takes them), against the legal retention
rules:

1. While a request is OPEN, or a child holds a place that has not ended (no end date, or
   one not yet past), the data needed to handle it is RETAINED: the parents' and the
   children's data, the requests and places, mandates, consents still given, the access
   log, the account (to follow the request). Reason: the decree on childcare for babies
   and toddlers of 20 April 2012 and the agreement with the family: the request or the
   enrolment is being handled. Until: the place's end date; for an open request none is
   known yet: withdraw it first to be forgotten. The dossier goes as one, so its other
   data is kept until the last of them ends.
2. What is not needed goes now even then: the requester's saved searches, the consent
   ledger entries of the purposes the requester has revoked, the household's partner
   invitations and used, revoked or expired codes, and the personal data of each child
   without an open request or a running place (anonymised by the retention job's own
   statement, `jobs.retention.ERASE_CHILDREN`).
3. The dossier is shared: while the other parent holds it with an active account and has
   not asked to be forgotten, it is RETAINED as a whole (one parent cannot close the
   other's account or erase the children's data they share); what is not needed (2)
   goes. When the other parent asks too, the earlier request counts and (4) applies.
4. Otherwise the household is anonymised now, by the retention job's statements with the
   erasure's condition instead of the five years (`ERASE_CHILDREN`, `ERASE_HOUSEHOLDS`,
   then `finish_households`): both parents' personal data, the children's, free text,
   invitations, copies, running mandates ended; the parents' accounts closed (signed out:
   the old token gets 401) unless an account serves a staff role, which then only loses
   its parent role.
5. Kept after an anonymisation, and said so in the decision: the requests, applications,
   enrolments and service dates without names (trend statistics: no longer personal
   data); mandates and the consent ledger, naming no one (proof of consent, GDPR art.
   7(1)); the access log in reduced form: for each read, when, the reader's account,
   role and grant, without the link to the dossier, the fields or the operation
   (accountability of who accessed the data); the register of disclosures to authorities
   as it was (authority, legal basis, categories of data, date, secrecy, and the reads
   made for it); the reports the parent filed; and the decision itself.

The decision (status DONE, PARTIAL when something was erased, REFUSED when nothing
could be) is a list of items {category, data, outcome ERASED|RETAINED, until, reason}
naming categories and dates, never the data: it stays true and harmless after the
dossier is anonymised. It is stored (`erasure_request`) and returned in the payload.
While the dossier lives, both parents see it in `Household.erasureRequests`. After a
DONE erasure no one can sign in as the parent any more: the payload is the receipt, shown
once; its id is the reference to quote to the counter, whose staff can find the row.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import strawberry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise import connections
from tortoise.transactions import in_transaction

from jobs import export as export_job
from jobs import retention
from jobs.app import QUEUE
from loket import limits, sessions
from loket.context import Info
from loket.db import execute, fetch
from loket.settings import TIME_ZONE, settings
from models.accounts import Role
from models.privacy import ErasureStatus, ExportStatus
from permissions.policy import Ability, Grant
from permissions.viewer import ANONYMOUS, Viewer
from resolvers.access import lock, parse_id, viewer_parent, write_grant
from resolvers.validation import Errors
from schema.directives import arg
from schema.rights import (
    DataExport,
    DownloadDataExportInput,
    DownloadDataExportPayload,
    ErasureDecisionItem,
    ErasureOutcome,
    ErasureRequest,
    RequestDataExportPayload,
    RequestErasureInput,
    RequestErasurePayload,
)

BRUSSELS = ZoneInfo(TIME_ZONE)
EXPORTS_PER_DAY = 5
EXPORT_PATH = "/graphql/exports/{token}"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")

# The access log's record of the parent's own requests and downloads.
REQUESTED = "DataExport.requested"
DOWNLOADED = "DataExport.downloaded"
AUDIT_SQL = """INSERT INTO access_log (at, viewer_id, role, grant_name, household_id,
    fields_read, operation_name, request_id)
VALUES (now(), $1, 'PARENT', 'OWN_HOUSEHOLD', $2, jsonb_build_array($3::text), $4, $5)"""


def today() -> datetime.date:
    """Today on a Belgian calendar (as the retention job counts days)."""
    return datetime.datetime.now(BRUSSELS).date()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Reads: the dossier's copies and erasure requests ---------------------------------

EXPORT_COLUMNS = """x.id, x.household_id, x.requested_by_id, x.requested_at, x.ready_at,
    x.expires_at, x.downloaded_at,
    CASE WHEN x.status = 'READY' AND x.expires_at <= now() THEN 'EXPIRED'
         ELSE x.status END AS status"""


def export_from_row(r: Any, viewer: Viewer) -> DataExport:
    return DataExport(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        status=ExportStatus(r["status"]),
        requested_at=r["requested_at"],
        ready_at=r["ready_at"],
        expires_at=r["expires_at"],
        downloaded_at=r["downloaded_at"],
        requested_by_me=r["requested_by_id"] == viewer.user_id,
    )


def erasure_from_row(r: Any, viewer: Viewer) -> ErasureRequest:
    decision = r["decision"]
    if isinstance(decision, str | bytes):
        decision = orjson.loads(decision)
    return ErasureRequest(
        id=strawberry.ID(str(r["id"])),
        status=ErasureStatus(r["status"]),
        requested_at=r["requested_at"],
        decided_at=r["decided_at"],
        requested_by_me=r["requested_by_id"] == viewer.user_id,
        decision=[
            ErasureDecisionItem(
                category=item.get("category"),
                data=item.get("data"),
                outcome=ErasureOutcome(item["outcome"]),
                until=datetime.date.fromisoformat(item["until"]) if item.get("until") else None,
                reason=item.get("reason"),
            )
            for item in decision or []
        ],
    )


async def household_exports(
    info: Info, household_id: uuid.UUID, grant: str
) -> list[DataExport] | None:
    """The dossier's copies, newest first (only under the parents' own grant)."""
    if grant != Grant.OWN_HOUSEHOLD.value:
        return None
    rows = await fetch(
        f"""SELECT {EXPORT_COLUMNS} FROM data_export x WHERE x.household_id = $1
            ORDER BY x.requested_at DESC, x.id""",
        household_id,
    )
    return [export_from_row(r, info.context.viewer) for r in rows]


async def household_erasure_requests(
    info: Info, household_id: uuid.UUID, grant: str
) -> list[ErasureRequest] | None:
    """The dossier's erasure requests, newest first (only under the parents' own grant)."""
    if grant != Grant.OWN_HOUSEHOLD.value:
        return None
    rows = await fetch(
        """SELECT id, requested_by_id, requested_at, status, decision, decided_at
           FROM erasure_request WHERE household_id = $1 ORDER BY requested_at DESC, id""",
        household_id,
    )
    return [erasure_from_row(r, info.context.viewer) for r in rows]


async def _own_household(info: Info, ability: Ability) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(parent id, dossier id) of the signed-in parent, when they may use `ability` on it."""
    parent = await viewer_parent(info.context.viewer)
    if parent is None or await write_grant(info, parent["household_id"], ability) is None:
        return None
    return parent["id"], parent["household_id"]


# --- Copy of my data -------------------------------------------------------------------


async def request_data_export(info: Info) -> RequestDataExportPayload:
    """Ask for a copy of one's own dossier: PENDING, built by the exports job (queued in
    this transaction, see `jobs.export`)."""
    viewer = info.context.viewer
    errors = Errors()
    own = await _own_household(info, Ability.EXPORT_OWN_DATA)
    if own is None:
        errors.add([], "NO_HOUSEHOLD", "You have no dossier to copy.")
        return RequestDataExportPayload(export=None, errors=errors.items)
    _, household_id = own
    if not await limits.hit(
        limits.digest("data-export", str(viewer.user_id)), EXPORTS_PER_DAY, 86400
    ):
        errors.add([], "RATE_LIMITED", f"At most {EXPORTS_PER_DAY} copies a day.")
        return RequestDataExportPayload(export=None, errors=errors.items)
    async with in_transaction():
        await lock(f"data-export:{viewer.user_id}")
        busy = await fetch(
            """SELECT 1 FROM data_export WHERE requested_by_id = $1
               AND (status = 'PENDING' OR (status = 'READY' AND expires_at > now()))""",
            viewer.user_id,
        )
        if busy:
            errors.add(
                [],
                "EXPORT_IN_PROGRESS",
                "A copy you asked for is being made or waits to be downloaded.",
            )
            return RequestDataExportPayload(export=None, errors=errors.items)
        rows = await fetch(
            f"""INSERT INTO data_export AS x (id, household_id, requested_by_id, requested_at,
                    status)
                VALUES ($1, $2, $3, now(), 'PENDING') RETURNING {EXPORT_COLUMNS}""",
            uuid.uuid4(),
            household_id,
            viewer.user_id,
        )
        await execute(
            AUDIT_SQL,
            viewer.user_id,
            household_id,
            REQUESTED,
            "requestDataExport",
            info.context.request_id,
        )
        await execute(export_job.QUEUE_SQL, QUEUE, export_job.TASK)
    return RequestDataExportPayload(export=export_from_row(rows[0], viewer), errors=[])


async def download_data_export(
    info: Info, input: Annotated[DownloadDataExportInput, arg("The copy to fetch.")]
) -> DownloadDataExportPayload:
    """Make the one-time link of a READY copy the signed-in parent asked for (see the
    module docstring): it replaces any earlier link and never extends the copy's life."""
    viewer = info.context.viewer
    errors = Errors()
    path = ["input", "exportId"]
    export_id = parse_id(input.export_id)
    own = await _own_household(info, Ability.EXPORT_OWN_DATA)
    rows = []
    if own is not None and export_id is not None:
        rows = await fetch(
            f"""SELECT {EXPORT_COLUMNS} FROM data_export x
                WHERE x.id = $1 AND x.household_id = $2 AND x.requested_by_id = $3""",
            export_id,
            own[1],
            viewer.user_id,
        )
    if not rows:
        errors.add(path, "NOT_FOUND", "No copy you asked for has this id.")
    elif rows[0]["status"] == ExportStatus.PENDING:
        errors.add(path, "NOT_READY", "The copy is being made; try again in a minute.")
    elif rows[0]["status"] != ExportStatus.READY:
        errors.add(path, "GONE", "The copy was downloaded or has expired; ask for a new one.")
    if errors or export_id is None:
        return DownloadDataExportPayload(
            download_url=None, expires_at=None, export=None, errors=errors.items
        )
    token = secrets.token_urlsafe(32)
    minted = await fetch(
        f"""UPDATE data_export x SET token_digest = $2,
                expires_at = least(x.expires_at, now() + make_interval(mins => $3))
            WHERE x.id = $1 AND x.status = 'READY' AND x.expires_at > now()
            RETURNING {EXPORT_COLUMNS}""",
        export_id,
        token_digest(token),
        settings.export_link_minutes,
    )
    if not minted:
        errors.add(path, "GONE", "The copy was downloaded or has expired; ask for a new one.")
        return DownloadDataExportPayload(
            download_url=None, expires_at=None, export=None, errors=errors.items
        )
    url = settings.public_url.rstrip("/") + EXPORT_PATH.format(token=token)
    return DownloadDataExportPayload(
        download_url=url,
        expires_at=minted[0]["expires_at"],
        export=export_from_row(minted[0], viewer),
        errors=[],
    )


def _refusal(status: int, code: str, message: str) -> Response:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


_FIND_SQL = """SELECT x.id, x.household_id, x.requested_by_id, x.status,
    x.expires_at > now() AS live,
    EXISTS (SELECT 1 FROM parent p JOIN household h ON h.id = p.household_id
            WHERE p.household_id = x.household_id AND p.user_id = $2
              AND h.anonymised_at IS NULL) AS member
FROM data_export x WHERE x.token_digest = $1 FOR UPDATE OF x"""


async def download_export(request: Request) -> Response:
    """GET `EXPORT_PATH`: the copy, once, for the parent who asked for it (behind
    `loket.app.Authenticate`, which resolved the bearer token or session cookie)."""
    if request.method != "GET":
        # HEAD would use the link up without sending the copy.
        return Response(status_code=405, headers={"Allow": "GET"})
    viewer: Viewer = request.scope.get("state", {}).get("viewer", ANONYMOUS)
    if not viewer.authenticated:
        return _refusal(401, "UNAUTHENTICATED", "Sign in as the parent who asked for the copy.")
    token = str(request.path_params.get("token", ""))
    if not _TOKEN.fullmatch(token):
        return _refusal(404, "NOT_FOUND", "No such link.")
    async with in_transaction():
        rows = await fetch(_FIND_SQL, token_digest(token), viewer.user_id)
        if not rows:
            return _refusal(404, "NOT_FOUND", "No such link.")
        found = rows[0]
        if (
            viewer.role is not Role.PARENT
            or found["requested_by_id"] != viewer.user_id
            or not found["member"]
        ):
            return _refusal(
                403, "FORBIDDEN", "Only the parent who asked for the copy can fetch it."
            )
        if found["status"] != ExportStatus.READY or not found["live"]:
            return _refusal(410, "GONE", "This link was used or has expired; ask for a new copy.")
        content = (await fetch("SELECT content FROM data_export WHERE id = $1", found["id"]))[0][
            "content"
        ]
        await execute(
            """UPDATE data_export SET status = 'DOWNLOADED', downloaded_at = now(), content = NULL
               WHERE id = $1""",
            found["id"],
        )
        await execute(
            AUDIT_SQL,
            viewer.user_id,
            found["household_id"],
            DOWNLOADED,
            "dataExportDownload",
            str(uuid.uuid4()),
        )
    filename = f"loket-gegevens-{today().isoformat()}.json"
    return Response(
        bytes(content),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- Erasure ---------------------------------------------------------------------------

DECREE = (
    "The decree on childcare for babies and toddlers of 20 April 2012 and the agreement "
    "with your family"
)

OPEN_REQUESTS_SQL = """SELECT r.desired_start_date,
    (r.submitted_at AT TIME ZONE 'Europe/Brussels')::date AS submitted_on
FROM care_request r WHERE r.household_id = $1 AND r.status = 'OPEN'
ORDER BY r.submitted_at, r.id"""

# Places not ended by $2 (today) of the household's named children.
RUNNING_PLACES_SQL = """SELECT e.start_date, e.end_date FROM enrolment e
JOIN child c ON c.id = e.child_id
WHERE c.household_id = $1 AND c.anonymised_at IS NULL
  AND (e.end_date IS NULL OR e.end_date >= $2)
ORDER BY e.start_date, e.id"""

# What no request or place needs: $1 the dossier, $2 the requester's parent row, $3 their
# account. Consent events of a purpose whose latest event is a revocation go; partner
# invitations and codes that can no longer be used go (a partner's unused claim code
# stays: it is their way into the dossier).
NOT_NEEDED_SQL = """
WITH searches AS (
    DELETE FROM saved_search s WHERE s.user_id = $3 RETURNING s.id),
consents AS (
    DELETE FROM consent_event e WHERE e.parent_id = $2
      AND (SELECT l.action FROM consent_event l WHERE l.parent_id = e.parent_id
           AND l.purpose = e.purpose ORDER BY l.id DESC LIMIT 1) = 'REVOKED'
    RETURNING e.id),
invitations AS (
    DELETE FROM invitation i WHERE i.household_id = $1
      AND (i.kind = 'PARTNER' OR i.used_at IS NOT NULL OR i.revoked_at IS NOT NULL
           OR i.expires_at <= now())
    RETURNING i.id)
SELECT (SELECT count(*) FROM searches)::int AS saved_searches,
       (SELECT count(*) FROM consents)::int AS revoked_consents,
       (SELECT count(*) FROM invitations)::int AS invitations"""


def _item(
    category: str,
    data: str,
    outcome: ErasureOutcome,
    reason: str,
    until: datetime.date | None = None,
) -> dict[str, Any]:
    return {
        "category": category,
        "data": data,
        "outcome": outcome.value,
        "until": until.isoformat() if until else None,
        "reason": reason,
    }


ERASED = ErasureOutcome.ERASED
RETAINED = ErasureOutcome.RETAINED
_YOU_ASKED = "You asked to be forgotten."
_NOT_NEEDED = "Not needed to handle a request or a place."


def _children_item(count: int) -> dict[str, Any]:
    return _item(
        "CHILDREN",
        f"The personal data of {count} child(ren) without an open request or a running "
        "place: names, nickname and the national register number hash; birth dates cut to "
        "the month.",
        ERASED,
        _NOT_NEEDED,
    )


def _not_needed_items(counts: Any) -> list[dict[str, Any]]:
    items = []
    if counts["saved_searches"]:
        items.append(_item("SAVED_SEARCHES", "Your saved searches.", ERASED, _NOT_NEEDED))
    if counts["revoked_consents"]:
        items.append(
            _item(
                "REVOKED_CONSENTS",
                "The record of the consents you gave and then revoked.",
                ERASED,
                "You revoked them: they no longer allow any use of your data.",
            )
        )
    if counts["invitations"]:
        items.append(
            _item(
                "INVITATIONS",
                "Partner invitations, and codes that were used or expired.",
                ERASED,
                _NOT_NEEDED,
            )
        )
    return items


# Kept whenever the dossier is anonymised (module docstring, point 4). Listed whether or
# not the dossier has such data: the list must not tell of a secret disclosure.
KEPT_AFTER_ANONYMISATION = (
    _item(
        "STATISTICS",
        "Care requests, applications, places and sick-child service dates without names: "
        "dates (birth and service dates cut to the month), care pattern, status, the "
        "locations, the municipality and the family situation.",
        RETAINED,
        "No longer personal data: kept for the trend statistics of childcare; the link to "
        "your family is gone for good.",
    ),
    _item(
        "CONSENTS_AND_MANDATES",
        "Mandates and consents: organisation, purpose, how and when given or revoked, naming "
        "no one; running mandates are ended.",
        RETAINED,
        "Proof that consents were given and respected (GDPR article 7(1)).",
    ),
    _item(
        "ACCESS_LOG",
        "The access log in reduced form: for each read of your dossier, when, by which "
        "account, in which role and under which grant. The link to your dossier, the fields "
        "read and the operation are removed.",
        RETAINED,
        "Accountability of who accessed the data (GDPR article 5(2)).",
    ),
    _item(
        "DISCLOSURES",
        "The register of disclosures to authorities (police, justice, tax), if it holds "
        "entries about your dossier: authority, legal basis, categories of data, date, and "
        "the reads made for them.",
        RETAINED,
        "Accountability for disclosures made under a legal obligation.",
    ),
    _item(
        "REPORTS",
        "Data-breach reports and complaints you filed, with how they were handled.",
        RETAINED,
        "Accountability for their handling (GDPR article 5(2)).",
    ),
    _item(
        "ERASURE_DECISION",
        "This decision: when you asked, and what was erased and kept, without your name.",
        RETAINED,
        "Proof that your request was handled (GDPR articles 12 and 17).",
    ),
)


def _done_items(not_needed: Any) -> list[dict[str, Any]]:
    return [
        _item(
            "PARENTS",
            "The parents' personal data: names, place of birth, nationality, home language, "
            "street and postal code, phone, email, work situation, education, relation to "
            "the child, the income indicator and the national register number hash (the "
            "municipality stays, naming no one, for the statistics).",
            ERASED,
            _YOU_ASKED,
        ),
        _item(
            "CHILDREN",
            "The children's names, nickname and national register number hash; birth dates "
            "cut to the month.",
            ERASED,
            _YOU_ASKED,
        ),
        _item(
            "FREE_TEXT",
            "Notes on care requests, reasons given for refusals and notes on mandates.",
            ERASED,
            _YOU_ASKED,
        ),
        _item(
            "ACCOUNTS",
            "The parents' accounts: closed (signed out, no password, no address), their saved "
            "searches and unsent notifications deleted; an account also used for work on the "
            "platform only stops being a parent's.",
            ERASED,
            _YOU_ASKED,
        ),
        _item(
            "COPIES_AND_INVITATIONS",
            "Copies of the dossier not yet downloaded, partner invitations and claim codes.",
            ERASED,
            _YOU_ASKED,
        ),
        *_not_needed_items(not_needed),
        *KEPT_AFTER_ANONYMISATION,
    ]


# The other parent still holds the dossier with an active account and has not asked to
# be forgotten: the shared dossier (their data, the children's, the account) stays.
PARTNER_HOLDS_SQL = """SELECT EXISTS (
    SELECT 1 FROM parent p JOIN app_user u ON u.id = p.user_id AND u.is_active
    WHERE p.household_id = $1 AND p.id <> $2
      AND NOT EXISTS (SELECT 1 FROM erasure_request e WHERE e.parent_id = p.id))"""


def _shared_item() -> dict[str, Any]:
    return _item(
        "DOSSIER",
        "The dossier you share with your partner: both parents' data, the children's, the "
        "requests and places, mandates, consents, the access log and your account.",
        RETAINED,
        "Your partner holds this dossier too and has not asked to be forgotten: one parent "
        "cannot erase the other's account or the children's data. It is erased as a whole "
        "when your partner asks as well (or when the retention period ends).",
    )


def _partial_items(
    open_requests: list[Any], places: list[Any], children: int, not_needed: Any
) -> list[dict[str, Any]]:
    items = [
        _item(
            "OPEN_REQUEST",
            f"The open care request submitted on {r['submitted_on'].isoformat()} (desired "
            f"start {r['desired_start_date'].isoformat()}), with the parents' and the child's "
            "data needed to handle it.",
            RETAINED,
            f"{DECREE}: the request is being handled. Withdraw it first to be forgotten.",
        )
        for r in open_requests
    ]
    items += [
        _item(
            "CURRENT_PLACE",
            f"The place that started on {p['start_date'].isoformat()}, with the parents' and "
            "the child's data needed for it.",
            RETAINED,
            f"{DECREE}: the enrolment is being handled until it ends. Ask again after.",
            p["end_date"],
        )
        for p in places
    ]
    ends = [p["end_date"] for p in places]
    last = None if open_requests or None in ends else max(ends)
    items.append(
        _item(
            "DOSSIER",
            "The rest of the dossier: the parents' data, the other requests and places, "
            "mandates, the consents you have not revoked, the access log, the register of "
            "disclosures if it holds entries, and your account (to follow the request).",
            RETAINED,
            "The dossier is erased as a whole once no request or place needs it: ask again then.",
            last,
        )
    )
    if children:
        items.append(_children_item(children))
    return items + _not_needed_items(not_needed)


async def _erase(
    conn: Any, household_id: uuid.UUID, parent_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[ErasureStatus, list[dict[str, Any]]] | None:
    """Decide and carry out an erasure in `conn`'s transaction; None when the dossier is
    gone or the requester is no longer its parent (a concurrent erasure or retention)."""
    day = today()
    await conn.execute("SET LOCAL jit = off")
    # The retention job's lock order: the household, then its children. A request being
    # submitted, an offer accepted or a child added waits, or is waited for.
    live = await conn.fetch(
        """SELECT h.id FROM household h JOIN parent p ON p.household_id = h.id
           WHERE h.id = $1 AND h.anonymised_at IS NULL AND p.id = $2 AND p.user_id = $3
           FOR NO KEY UPDATE OF h""",
        household_id,
        parent_id,
        user_id,
    )
    if not live:
        return None
    await conn.execute(retention.LOCK_CHILDREN, [household_id])
    open_requests = await conn.fetch(OPEN_REQUESTS_SQL, household_id)
    places = await conn.fetch(RUNNING_PLACES_SQL, household_id, day)
    not_needed = await conn.fetchrow(NOT_NEEDED_SQL, household_id, parent_id, user_id)
    children = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM child WHERE household_id = $1 AND anonymised_at IS NULL",
            household_id,
        )
    ]
    # One holder cannot close the other's account or erase the children's data they
    # share: while the partner holds the dossier, only what is not needed goes.
    shared = await conn.fetchval(PARTNER_HOLDS_SQL, household_id, parent_id)
    if shared and not open_requests and not places:
        items = [_shared_item(), *_not_needed_items(not_needed)]
        shared_status = (
            ErasureStatus.PARTIAL
            if any(i["outcome"] == ERASED.value for i in items)
            else ErasureStatus.REFUSED
        )
        return shared_status, items
    erased = 0 if shared else await conn.fetchval(retention.ERASE_CHILDREN, children, day)
    done = (
        []
        if shared
        else [r["id"] for r in await conn.fetch(retention.ERASE_HOUSEHOLDS, [household_id])]
    )
    if done:
        await retention.finish_households(conn, done)
        return ErasureStatus.DONE, _done_items(not_needed)
    items = _partial_items(list(open_requests), list(places), erased, not_needed)
    status = (
        ErasureStatus.PARTIAL
        if any(i["outcome"] == ERASED.value for i in items)
        else ErasureStatus.REFUSED
    )
    return status, items


async def request_erasure(
    info: Info, input: Annotated[RequestErasureInput, arg("Confirmation.")]
) -> RequestErasurePayload:
    """Ask to be forgotten: decided and carried out at once (module docstring)."""
    viewer = info.context.viewer
    errors = Errors()
    if input.confirm is not True:
        errors.add(
            ["input", "confirm"],
            "CONFIRMATION_REQUIRED",
            "Confirm: this cannot be undone.",
        )
    own = await _own_household(info, Ability.ERASE_OWN_DATA)
    if own is None:
        errors.add([], "NO_HOUSEHOLD", "You have no dossier to erase.")
    if errors or own is None or viewer.user_id is None:
        return RequestErasurePayload(erasure_request=None, signed_out=None, errors=errors.items)
    parent_id, household_id = own
    erasure_id = uuid.uuid4()
    signed_out = False
    async with in_transaction(), connections.get("default").acquire_connection() as conn:
        decided = await _erase(conn, household_id, parent_id, viewer.user_id)
        if decided is None:
            row = None
        else:
            status, items = decided
            row = await conn.fetchrow(
                """INSERT INTO erasure_request (id, household_id, parent_id,
                           requested_by_id, requested_at, status, decision, decided_at)
                       VALUES ($1, $2, $3, $4, now(), $5, $6::jsonb, now())
                       RETURNING id, requested_by_id, requested_at, status, decision,
                                 decided_at""",
                erasure_id,
                household_id,
                parent_id,
                viewer.user_id,
                status.value,
                orjson.dumps(items).decode(),
            )
            signed_out = not await conn.fetchval(
                """SELECT EXISTS (SELECT 1 FROM app_user u JOIN membership m
                           ON m.user_id = u.id AND m.role = 'PARENT' AND m.revoked_at IS NULL
                           WHERE u.id = $1 AND u.is_active)""",
                viewer.user_id,
            )
    if row is None:
        errors.add([], "NO_HOUSEHOLD", "You have no dossier to erase.")
        return RequestErasurePayload(erasure_request=None, signed_out=None, errors=errors.items)
    if signed_out and sessions.cookie_token(info.context.request.headers) is not None:
        sessions.clear_session_cookie(info.context.response)
    return RequestErasurePayload(
        erasure_request=erasure_from_row(row, viewer), signed_out=signed_out, errors=[]
    )
