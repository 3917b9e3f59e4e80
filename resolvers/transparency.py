"""Transparency resolvers: a family's access log, the legal disclosure register, and who
recorded each step of a mandate.

Who read a dossier is told as an organisation and a role, never as the staff member:
the organisation is the one the reader's membership of the logged role was for at the
time of the read. When that cannot be told for sure (the user held several such
memberships for different organisations, or the membership is gone), only the role is
shown. Admins act for the platform itself.

What the family sees of the access log: every entry about their dossier, uniqueness
checks included (also their own: a check on their child's number is theirs to know
about), except the entries linked to a secret disclosure. Entries without a dossier
(a check on a number that is not a child of the caller's dossiers) concern no dossier
the family holds and are shown to nobody here.

Reads for a secret disclosure must never show, not even for a moment: an admin records
the disclosure first (`recordDisclosure`, secret, no reads yet), then reads with the
header `X-Loket-Disclosure: <disclosure id>`. The request's access-log rows about the
disclosure's dossier are then written already linked to it, in the same statement
(`schema.root.AccessLogFlush`, `resolvers.uniqueness.count_check`). Rows about any other
dossier the same request read are written unlinked, as without the header: a disclosure
concerns one dossier, and hiding another family's rows would hide reads no disclosure
covers. The header is checked before anything runs (`disclosure_target`); a non-admin, an
unknown or malformed id, or a disclosure of an anonymised dossier is a 400, never ignored.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

import orjson
import strawberry
from tortoise.transactions import in_transaction

from loket.context import DisclosureTarget, Info
from loket.db import execute, fetch
from loket.errors import InvalidInput
from models.accounts import Role
from models.consents import ConsentAction
from permissions.policy import Ability, Grant
from permissions.scopes import Params, live
from permissions.viewer import Viewer
from resolvers import validation
from resolvers.access import lock, parse_id, write_grant
from resolvers.validation import Errors
from schema.common import Edge, PageInfo, decode_cursor, encode_cursor, page_size
from schema.directives import arg
from schema.transparency import (
    AccessLogConnection,
    AccessLogEntry,
    Disclosure,
    DisclosureRead,
    DisclosureReadConnection,
    MandateEvent,
    RecordDisclosureInput,
    RecordDisclosurePayload,
    UniquenessCheckOutcome,
    UpdateDisclosureInput,
    UpdateDisclosurePayload,
)

# How the family sees an admin: the platform's administration, never the person.
PLATFORM = "Platform beheer"
MAX_LINKED = 100

# The name of the organisation a reader acted for, from their memberships of the logged
# role that were in force at the time of the read: one name (a location's, or the
# organisation's), else one organisation (several locations of one provider), else null.
_ORGANISATION_SQL = """(SELECT CASE WHEN count(DISTINCT n.name) = 1 THEN min(n.name)
                 WHEN count(DISTINCT n.organisation) = 1 THEN min(n.organisation) END
        FROM membership ms
        LEFT JOIN provider_location pl ON pl.id = ms.provider_location_id
        LEFT JOIN provider_organisation po
               ON po.id = coalesce(ms.provider_organisation_id, pl.organisation_id)
        LEFT JOIN counter ct ON ct.id = ms.counter_id
        LEFT JOIN referral_organisation ro ON ro.id = ms.referral_organisation_id
        LEFT JOIN sick_child_service sc ON sc.id = ms.sick_child_service_id
        CROSS JOIN LATERAL (SELECT coalesce(pl.name, po.name, ct.name, ro.name, sc.name) AS name,
                                   coalesce(po.name, ct.name, ro.name, sc.name) AS organisation) n
        WHERE ms.user_id = a.viewer_id AND ms.role = a.role
          AND ms.created_at <= a.at AND (ms.revoked_at IS NULL OR ms.revoked_at > a.at))"""

DISCLOSURE_COLUMNS = """d.id, d.household_id, d.authority, d.legal_basis, d.data_disclosed,
    d.disclosed_on, d.secret, d.created_at"""
DISCLOSURE_ORDER = "ORDER BY d.disclosed_on DESC, d.created_at DESC, d.id"

# The family's view: reads linked to a secret disclosure are left out before paging.
ACCESS_LOG_SQL = """SELECT a.id, a.at, a.role, a.grant_name, a.fields_read, a.operation_name,
    a.outcome, a.household_id,
    CASE WHEN a.role = 'ADMIN' THEN {platform}::text ELSE {organisation} END AS organisation_name,
    d.id AS d_id, d.authority AS d_authority, d.legal_basis AS d_legal_basis,
    d.data_disclosed AS d_data_disclosed, d.disclosed_on AS d_disclosed_on
FROM access_log a
LEFT JOIN disclosure d ON d.id = a.disclosure_id
WHERE a.household_id = {household} AND (d.id IS NULL OR NOT d.secret){after}
ORDER BY a.at DESC, a.id DESC
LIMIT {limit}"""

READS_SQL = """SELECT a.id, a.at, a.fields_read, a.operation_name, a.disclosure_id
FROM access_log a"""

# Who ended a mandate, as the family may know them (see `mandate_history`); a column of
# the mandate queries in `resolvers.mandates` (`m` the mandate).
REVOKED_BY_SQL = """CASE WHEN m.revoked_at IS NULL OR m.revoked_by_id IS NULL THEN NULL
        WHEN EXISTS (SELECT 1 FROM parent rp WHERE rp.household_id = m.household_id
                     AND rp.user_id = m.revoked_by_id) THEN 'PARENT'
        WHEN EXISTS (SELECT 1 FROM membership rm WHERE rm.user_id = m.revoked_by_id
                     AND rm.role = 'TOELEIDER'
                     AND rm.referral_organisation_id = m.referral_organisation_id)
            THEN 'TOELEIDER'
        WHEN EXISTS (SELECT 1 FROM membership rm WHERE rm.user_id = m.revoked_by_id
                     AND rm.role = 'ADMIN') THEN 'ADMIN'
    END AS revoked_by_role"""


def _fields(value: Any) -> list[str]:
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return [str(v) for v in value or []]


def _enum(kind: Any, value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        return None


def _cursor(at: datetime.datetime, entry_id: int) -> str:
    return encode_cursor(f"{at.isoformat()}|{entry_id}")


def _after(cursor: str | None) -> tuple[datetime.datetime, int] | None:
    """The (time, id) a page continues after; INVALID_CURSOR for anything else."""
    if cursor is None:
        return None
    raw = decode_cursor(cursor) or ""
    try:
        at_text, id_text = raw.split("|")
        at = datetime.datetime.fromisoformat(at_text)
        entry_id = int(id_text)
        if at.tzinfo is None:
            raise ValueError("a cursor's time carries its zone")
    except ValueError:
        raise InvalidInput("INVALID_CURSOR", "This cursor is not valid here.") from None
    return at, entry_id


def _after_sql(p: Params, cursor: str | None) -> str:
    after = _after(cursor)
    if after is None:
        return ""
    return f" AND (a.at, a.id) < ({p.add(after[0])}::timestamptz, {p.add(after[1])}::bigint)"


def _page_info(edges: list[Any], more: bool) -> PageInfo:
    return PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None)


def disclosure_from_row(
    r: Any, *, register: bool, reads: list[DisclosureRead] | None = None
) -> Disclosure:
    """A disclosure; the register's own fields (secrecy, reads) only for the register."""
    return Disclosure(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        authority=r["authority"],
        legal_basis=r["legal_basis"],
        data_disclosed=r["data_disclosed"],
        disclosed_on=r["disclosed_on"],
        secret=r["secret"] if register else None,
        recorded_at=r["created_at"] if register else None,
        reads=(reads or []) if register else None,
    )


def read_from_row(r: Any) -> DisclosureRead:
    return DisclosureRead(
        id=strawberry.ID(str(r["id"])),
        at=r["at"],
        fields=_fields(r["fields_read"]),
        operation_name=r["operation_name"],
    )


def _entry_from_row(r: Any) -> AccessLogEntry:
    disclosure = None
    if r["d_id"] is not None:
        disclosure = Disclosure(
            id=strawberry.ID(str(r["d_id"])),
            household_id=r["household_id"],
            authority=r["d_authority"],
            legal_basis=r["d_legal_basis"],
            data_disclosed=r["d_data_disclosed"],
            disclosed_on=r["d_disclosed_on"],
            secret=None,
            recorded_at=None,
            reads=None,
        )
    return AccessLogEntry(
        household_id=r["household_id"],
        at=r["at"],
        role=_enum(Role, r["role"]),
        organisation_name=r["organisation_name"],
        grant=_enum(Grant, r["grant_name"]),
        fields=_fields(r["fields_read"]),
        operation_name=r["operation_name"],
        outcome=_enum(UniquenessCheckOutcome, r["outcome"]),
        disclosure=disclosure,
    )


# The family's view.


async def access_log(
    info: Info, household_id: uuid.UUID, grant: str, first: int, after: str | None
) -> AccessLogConnection | None:
    """One page of the dossier's access log, newest first, in one statement. Only under
    the parents' own grant (the field's policy says so too)."""
    if grant != Grant.OWN_HOUSEHOLD.value:
        return None
    size = page_size(first)
    p = Params()
    sql = ACCESS_LOG_SQL.format(
        platform=p.add(PLATFORM),
        organisation=_ORGANISATION_SQL,
        household=p.add(household_id),
        after=_after_sql(p, after),
        limit=p.add(size + 1),
    )
    rows = await fetch(sql, *p.values)
    edges = [Edge(cursor=_cursor(r["at"], r["id"]), node=_entry_from_row(r)) for r in rows[:size]]
    return AccessLogConnection(edges=edges, page_info=_page_info(edges, len(rows) > size))


async def household_disclosures(
    info: Info, household_id: uuid.UUID, grant: str
) -> list[Disclosure] | None:
    """The dossier's disclosures the family may know of (not secret), newest first."""
    if grant != Grant.OWN_HOUSEHOLD.value:
        return None
    rows = await fetch(
        f"SELECT {DISCLOSURE_COLUMNS} FROM disclosure d"
        f" WHERE d.household_id = $1 AND NOT d.secret {DISCLOSURE_ORDER}",
        household_id,
    )
    return [disclosure_from_row(r, register=False) for r in rows]


def mandate_history(r: Any) -> list[MandateEvent]:
    """A mandate's grant and revocation with who recorded them. An ONLINE mandate was
    granted by a signed-in parent; any other was recorded by a worker of the mandated
    organisation (`startDossier`). A revocation names the parent, a worker of the mandated
    organisation or an admin, as `REVOKED_BY_SQL` found them."""
    online = r["consent_method"] == "ONLINE"
    events = [
        MandateEvent(
            action=ConsentAction.GRANTED,
            at=r["granted_at"],
            role=Role.PARENT if online else Role.TOELEIDER,
            organisation_name=None if online else r["org_name"],
        )
    ]
    if r["revoked_at"] is not None:
        role = _enum(Role, r["revoked_by_role"]) if r["revoked_by_role"] else None
        names = {Role.TOELEIDER: r["org_name"], Role.ADMIN: PLATFORM}
        events.append(
            MandateEvent(
                action=ConsentAction.REVOKED,
                at=r["revoked_at"],
                role=role,
                organisation_name=names.get(role) if role is not None else None,
            )
        )
    return events


# The register (admins).


async def _register(
    household_id: uuid.UUID, disclosure_id: uuid.UUID | None = None
) -> list[Disclosure]:
    """A dossier's disclosures (or one), secret ones included, each with its linked reads:
    two statements whatever their number."""
    p = Params()
    where = f"d.household_id = {p.add(household_id)}"
    if disclosure_id is not None:
        where += f" AND d.id = {p.add(disclosure_id)}"
    rows = await fetch(
        f"SELECT {DISCLOSURE_COLUMNS} FROM disclosure d WHERE {where} {DISCLOSURE_ORDER}",
        *p.values,
    )
    if not rows:
        return []
    linked = await fetch(
        f"{READS_SQL} WHERE a.disclosure_id = ANY($1::uuid[]) ORDER BY a.at, a.id",
        [r["id"] for r in rows],
    )
    reads: dict[uuid.UUID, list[DisclosureRead]] = {r["id"]: [] for r in rows}
    for r in linked:
        reads[r["disclosure_id"]].append(read_from_row(r))
    return [disclosure_from_row(r, register=True, reads=reads[r["id"]]) for r in rows]


async def disclosures(
    info: Info, household_id: Annotated[strawberry.ID, arg("The dossier.")]
) -> list[Disclosure] | None:
    """Every disclosure of a dossier, secret ones included, newest first; null for a
    dossier that does not exist (or was anonymised)."""
    hid = parse_id(household_id)
    if hid is None or await write_grant(info, hid, Ability.DISCLOSURE_REGISTER) is None:
        return None
    return await _register(hid)


async def disclosable_reads(
    info: Info,
    household_id: Annotated[strawberry.ID, arg("The dossier.")],
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> DisclosureReadConnection | None:
    """The signed-in admin's own reads of a dossier not yet linked to a disclosure,
    newest first: what recordDisclosure can link. Null for an unknown dossier."""
    viewer = info.context.viewer
    hid = parse_id(household_id)
    if hid is None or await write_grant(info, hid, Ability.DISCLOSURE_REGISTER) is None:
        return None
    size = page_size(first)
    p = Params()
    where = (
        f"a.household_id = {p.add(hid)} AND a.viewer_id = {p.add(viewer.user_id)}"
        " AND a.role = 'ADMIN' AND a.disclosure_id IS NULL"
    )
    rows = await fetch(
        f"{READS_SQL} WHERE {where}{_after_sql(p, after)}"
        f" ORDER BY a.at DESC, a.id DESC LIMIT {p.add(size + 1)}",
        *p.values,
    )
    edges = [Edge(cursor=_cursor(r["at"], r["id"]), node=read_from_row(r)) for r in rows[:size]]
    return DisclosureReadConnection(edges=edges, page_info=_page_info(edges, len(rows) > size))


def _entry_ids(errors: Errors, ids: list[strawberry.ID]) -> list[int]:
    """Access-log entry ids, in order and without repeats; errors for malformed ones."""
    path = ["input", "accessLogEntryIds"]
    if len(ids) > MAX_LINKED:
        errors.add(path, "TOO_MANY", f"At most {MAX_LINKED} reads at once.")
        return []
    parsed: list[int] = []
    for i, value in enumerate(ids):
        try:
            entry_id = int(str(value))
        except ValueError:
            entry_id = 0
        if not 0 < entry_id < 2**63:
            errors.add([*path, str(i)], "NOT_FOUND", "No read of yours has this id.")
        elif entry_id not in parsed:
            parsed.append(entry_id)
    return parsed


async def _check_links(
    info: Info,
    errors: Errors,
    ids: list[strawberry.ID],
    entry_ids: list[int],
    household_id: uuid.UUID,
    disclosure_id: uuid.UUID | None,
) -> None:
    """Each entry must be the caller's own admin read of this dossier, not linked to
    another disclosure. Run under the register's lock for the dossier."""
    if not entry_ids:
        return
    rows = await fetch(
        """SELECT id, household_id, disclosure_id FROM access_log
           WHERE id = ANY($1::bigint[]) AND viewer_id = $2 AND role = 'ADMIN'""",
        entry_ids,
        info.context.viewer.user_id,
    )
    found = {r["id"]: r for r in rows}
    for i, value in enumerate(ids):
        try:
            row = found.get(int(str(value)))
        except ValueError:
            continue  # reported by _entry_ids
        path = ["input", "accessLogEntryIds", str(i)]
        if row is None:
            errors.add(path, "NOT_FOUND", "No read of yours has this id.")
        elif row["household_id"] != household_id:
            errors.add(path, "OTHER_DOSSIER", "This read is of another dossier.")
        elif row["disclosure_id"] is not None and row["disclosure_id"] != disclosure_id:
            errors.add(path, "ALREADY_LINKED", "This read is linked to another disclosure.")


async def _link(entry_ids: list[int], disclosure_id: uuid.UUID) -> None:
    if entry_ids:
        await execute(
            "UPDATE access_log SET disclosure_id = $2 WHERE id = ANY($1::bigint[])",
            entry_ids,
            disclosure_id,
        )


async def record_disclosure(
    info: Info, input: Annotated[RecordDisclosureInput, arg("The disclosure to record.")]
) -> RecordDisclosurePayload:
    """Enter a disclosure of a dossier's data to an authority in the register, linking
    the admin's own reads of the dossier made for it. All or nothing."""
    errors = Errors()
    path = ["input"]
    household_id = parse_id(input.household_id)
    if household_id is None or (
        await write_grant(info, household_id, Ability.DISCLOSURE_REGISTER) is None
    ):
        errors.add([*path, "householdId"], "NOT_FOUND", "No such dossier.")
    authority = validation.required_text(errors, [*path, "authority"], input.authority, 200)
    legal_basis = validation.required_text(errors, [*path, "legalBasis"], input.legal_basis, 500)
    data_disclosed = validation.required_text(
        errors, [*path, "dataDisclosed"], input.data_disclosed, 1000
    )
    validation.not_in_future(
        errors, [*path, "disclosedOn"], input.disclosed_on, datetime.date.today()
    )
    entry_ids = _entry_ids(errors, input.access_log_entry_ids)
    if errors or household_id is None:
        return RecordDisclosurePayload(disclosure=None, errors=errors.items)
    async with in_transaction():
        await lock(f"disclosures:{household_id}")
        await _check_links(info, errors, input.access_log_entry_ids, entry_ids, household_id, None)
        if errors:
            return RecordDisclosurePayload(disclosure=None, errors=errors.items)
        rows = await fetch(
            """INSERT INTO disclosure (id, household_id, authority, legal_basis, data_disclosed,
                   disclosed_on, secret, recorded_by_id, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
               RETURNING id""",
            uuid.uuid4(),
            household_id,
            authority,
            legal_basis,
            data_disclosed,
            input.disclosed_on,
            input.secret,
            info.context.viewer.user_id,
        )
        disclosure_id = rows[0]["id"]
        await _link(entry_ids, disclosure_id)
    [disclosure] = await _register(household_id, disclosure_id)
    return RecordDisclosurePayload(disclosure=disclosure, errors=[])


async def update_disclosure(
    info: Info, input: Annotated[UpdateDisclosureInput, arg("The change.")]
) -> UpdateDisclosurePayload:
    """Lift a disclosure's secrecy, or link more of the admin's reads to it. Secrecy
    cannot return once lifted: the family may have seen the disclosure by then."""
    errors = Errors()
    path = ["input"]
    disclosure_id = parse_id(input.disclosure_id)
    rows = []
    if disclosure_id is not None:
        rows = await fetch("SELECT household_id FROM disclosure WHERE id = $1", disclosure_id)
    household_id = rows[0]["household_id"] if rows else None
    if household_id is None or (
        await write_grant(info, household_id, Ability.DISCLOSURE_REGISTER) is None
    ):
        errors.add([*path, "disclosureId"], "NOT_FOUND", "No such disclosure.")
    if input.secret is None:
        errors.add([*path, "secret"], "REQUIRED", "Give true or false, or leave it out.")
    ids = input.access_log_entry_ids
    if ids is None:
        errors.add([*path, "accessLogEntryIds"], "REQUIRED", "Give a list, or leave it out.")
    linking = isinstance(ids, list)
    entry_ids = _entry_ids(errors, ids) if isinstance(ids, list) else []
    if errors or household_id is None or disclosure_id is None:
        return UpdateDisclosurePayload(disclosure=None, errors=errors.items)
    async with in_transaction():
        await lock(f"disclosures:{household_id}")
        [current] = await fetch(
            "SELECT secret FROM disclosure WHERE id = $1 FOR UPDATE", disclosure_id
        )
        if input.secret is True and not current["secret"]:
            errors.add(
                [*path, "secret"],
                "SECRECY_LIFTED",
                "Its secrecy was lifted; the family may have seen it, so it cannot return.",
            )
        if linking and isinstance(ids, list):
            await _check_links(info, errors, ids, entry_ids, household_id, disclosure_id)
        if errors:
            return UpdateDisclosurePayload(disclosure=None, errors=errors.items)
        if input.secret is False and current["secret"]:
            await execute("UPDATE disclosure SET secret = false WHERE id = $1", disclosure_id)
        await _link(entry_ids, disclosure_id)
    [disclosure] = await _register(household_id, disclosure_id)
    return UpdateDisclosurePayload(disclosure=disclosure, errors=[])


# Reads made for a disclosure: the header X-Loket-Disclosure.

DISCLOSURE_HEADER = "X-Loket-Disclosure"
DISCLOSURE_UNKNOWN = "DISCLOSURE_UNKNOWN"
DISCLOSURE_ADMIN_ONLY = "DISCLOSURE_ADMIN_ONLY"

_TARGET_SQL = f"""SELECT d.id, d.household_id FROM disclosure d
JOIN household h ON h.id = d.household_id
WHERE d.id = $1 AND {live("h")}"""


class DisclosureHeaderError(Exception):
    """The request names a disclosure it may not read for; answered with 400 and `code`
    before anything runs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def disclosure_target(viewer: Viewer, values: list[str]) -> DisclosureTarget:
    """The disclosure the request's header values name, for an admin: exactly one value,
    the id of a recorded disclosure of a dossier that still exists. Anything else is
    refused, never ignored: an admin who meant to read for a secret disclosure must not
    have their reads shown to the family because of a typo. Other viewers are refused
    without a look-up, so the header tells them nothing about the register."""
    if viewer.role is not Role.ADMIN:
        raise DisclosureHeaderError(
            DISCLOSURE_ADMIN_ONLY,
            f"Only admins may name a legal disclosure ({DISCLOSURE_HEADER}) for their reads.",
        )
    disclosure_id = parse_id(values[0].strip()) if len(values) == 1 else None
    rows = await fetch(_TARGET_SQL, disclosure_id) if disclosure_id is not None else []
    if not rows:
        raise DisclosureHeaderError(
            DISCLOSURE_UNKNOWN,
            f"{DISCLOSURE_HEADER} must name one recorded disclosure of an existing dossier "
            "(record it first with recordDisclosure).",
        )
    return DisclosureTarget(id=rows[0]["id"], household_id=rows[0]["household_id"])
