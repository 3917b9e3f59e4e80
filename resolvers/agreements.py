"""Agreements that condition access: record and end them, list them (which expire soon),
and find who holds memberships without the agreement they need (admins; the command
line records the first admin's confidentiality agreement, which no one could otherwise)."""

from __future__ import annotations

import argparse
import datetime
import sys
import uuid
from typing import Annotated, Any

import strawberry
from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from models.privacy import Agreement as AgreementModel
from permissions.agreements import in_force as in_force_sql
from permissions.scopes import Params
from resolvers import validation
from resolvers.access import lock, parse_id
from resolvers.validation import Errors
from schema.agreements import (
    Agreement,
    AgreementKind,
    AgreementParty,
    AgreementPartyKind,
    EndAgreementInput,
    EndAgreementPayload,
    PartyWithoutAgreement,
    RecordAgreementInput,
    RecordAgreementPayload,
)
from schema.common import Connection, Edge, connection, decode_cursor, encode_cursor, page_size
from schema.directives import arg

MAX_DAYS = 3660
MAX_VERSION = 40
# Plausible dates of an agreement: a typo like 0025 must not grant access "forever".
EARLIEST = datetime.date(2000, 1, 1)
LATEST_AHEAD = datetime.timedelta(days=3653)

# The party columns of `agreement`, the input field naming each, and its kind of party.
_PARTIES: tuple[tuple[str, str, AgreementPartyKind], ...] = (
    (
        "provider_organisation_id",
        "providerOrganisationId",
        AgreementPartyKind.PROVIDER_ORGANISATION,
    ),
    (
        "referral_organisation_id",
        "referralOrganisationId",
        AgreementPartyKind.REFERRAL_ORGANISATION,
    ),
    ("sick_child_service_id", "sickChildServiceId", AgreementPartyKind.SICK_CHILD_SERVICE),
    ("counter_id", "counterId", AgreementPartyKind.COUNTER),
    ("user_id", "userId", AgreementPartyKind.USER),
)
# The table each party column points at.
_PARTY_TABLES = {
    "provider_organisation_id": "provider_organisation",
    "referral_organisation_id": "referral_organisation",
    "sick_child_service_id": "sick_child_service",
    "counter_id": "counter",
    "user_id": "app_user",
}

# SQL (on `x` with the five party columns): the party's kind, its id as text, its name.
_PARTY_KIND = """CASE WHEN x.provider_organisation_id IS NOT NULL THEN 'PROVIDER_ORGANISATION'
    WHEN x.referral_organisation_id IS NOT NULL THEN 'REFERRAL_ORGANISATION'
    WHEN x.sick_child_service_id IS NOT NULL THEN 'SICK_CHILD_SERVICE'
    WHEN x.counter_id IS NOT NULL THEN 'COUNTER' ELSE 'USER' END"""
_PARTY_ID = """coalesce(x.provider_organisation_id::text, x.referral_organisation_id::text,
    x.sick_child_service_id::text, x.counter_id::text, x.user_id::text)"""
_PARTY_NAMES = """
LEFT JOIN provider_organisation po ON po.id = x.provider_organisation_id
LEFT JOIN referral_organisation ro ON ro.id = x.referral_organisation_id
LEFT JOIN sick_child_service sc ON sc.id = x.sick_child_service_id
LEFT JOIN counter co ON co.id = x.counter_id
LEFT JOIN app_user pu ON pu.id = x.user_id"""
_PARTY_NAME = "coalesce(po.name, ro.name, sc.name, co.name, pu.display_name)"

_AGREEMENT_SQL = f"""
SELECT x.id, x.kind, x.version, x.signed_on, x.ends_on, x.created_at,
       {in_force_sql("x")} AS in_force, x.ends_on - current_date AS days_to_end,
       {_PARTY_KIND} AS party_kind, {_PARTY_ID} AS party_id, {_PARTY_NAME} AS party_name,
       rb.email AS recorded_by, coalesce(x.ends_on, 'infinity'::date)::text AS sort_end
FROM agreement x {_PARTY_NAMES}
LEFT JOIN app_user rb ON rb.id = x.recorded_by_id"""

# Active memberships (of active users) and the party whose agreement each needs
# (mirrors `permissions.agreements.NEEDS`), grouped by party; every party's agreements,
# grouped the same way; the parties none of whose agreements is in force today.
_ACTIVE = (
    "m.revoked_at IS NULL AND EXISTS "
    "(SELECT 1 FROM app_user mu WHERE mu.id = m.user_id AND mu.is_active)"
)
_WITHOUT_SQL = f"""
WITH needed AS (
    SELECT coalesce(m.provider_organisation_id, l.organisation_id) AS provider_organisation_id,
           NULL::uuid AS referral_organisation_id, NULL::uuid AS sick_child_service_id,
           NULL::int AS counter_id, NULL::uuid AS user_id
    FROM membership m LEFT JOIN provider_location l ON l.id = m.provider_location_id
    WHERE m.role IN ('PROVIDER', 'INTEGRATOR') AND m.counter_id IS NULL AND {_ACTIVE}
    UNION ALL
    SELECT NULL, m.referral_organisation_id, NULL, NULL, NULL FROM membership m
    WHERE m.role = 'TOELEIDER' AND {_ACTIVE}
    UNION ALL
    SELECT NULL, NULL, m.sick_child_service_id, NULL, NULL FROM membership m
    WHERE m.role = 'SICK_CHILD_SERVICE' AND {_ACTIVE}
    UNION ALL
    SELECT NULL, NULL, NULL, m.counter_id, NULL FROM membership m
    WHERE m.role IN ('LOKET', 'INTEGRATOR') AND m.counter_id IS NOT NULL AND {_ACTIVE}
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, m.user_id FROM membership m
    WHERE m.role IN ('ADMIN', 'SICK_CHILD_SERVICE') AND {_ACTIVE}
),
parties AS (
    SELECT x.*, {_PARTY_KIND} AS party_kind, {_PARTY_ID} AS party_id
    FROM (SELECT provider_organisation_id, referral_organisation_id, sick_child_service_id,
                 counter_id, user_id, count(*) AS memberships
          FROM needed GROUP BY 1, 2, 3, 4, 5) x
),
held AS (
    SELECT {_PARTY_KIND} AS party_kind, {_PARTY_ID} AS party_id,
           bool_or({in_force_sql("x")}) AS in_force,
           max(x.ends_on) FILTER (WHERE x.ends_on < current_date) AS last_ended_on,
           min(x.signed_on) FILTER (WHERE x.signed_on > current_date) AS next_signed_on
    FROM agreement x GROUP BY 1, 2
)
SELECT x.party_kind, x.party_id, {_PARTY_NAME} AS party_name, x.memberships,
       h.last_ended_on, h.next_signed_on
FROM parties x {_PARTY_NAMES}
LEFT JOIN held h ON h.party_kind = x.party_kind AND h.party_id = x.party_id
WHERE h.in_force IS NOT TRUE
ORDER BY x.party_kind, party_name, x.party_id"""


def _party(r: Any) -> AgreementParty:
    return AgreementParty(
        kind=AgreementPartyKind(r["party_kind"]),
        id=strawberry.ID(r["party_id"]),
        name=r["party_name"],
    )


def _agreement(r: Any) -> Agreement:
    return Agreement(
        id=strawberry.ID(str(r["id"])),
        kind=AgreementKind(r["kind"]),
        party=_party(r),
        version=r["version"],
        signed_on=r["signed_on"],
        ends_on=r["ends_on"],
        in_force=r["in_force"],
        days_to_end=r["days_to_end"],
        recorded_at=r["created_at"],
        recorded_by=r["recorded_by"],
    )


async def load_agreement(agreement_id: uuid.UUID) -> Agreement | None:
    rows = await fetch(f"{_AGREEMENT_SQL} WHERE x.id = $1", agreement_id)
    return _agreement(rows[0]) if rows else None


def _party_value(column: str, value: Any) -> Any:
    """A party id as its column stores it (counters have integer ids); None if malformed."""
    if column == "counter_id":
        text = str(value).strip()
        # isascii: str.isdigit also holds for digits int() refuses (superscripts).
        return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None
    return parse_id(value)


# Queries.


async def agreements(
    info: Info,
    kind: Annotated[AgreementKind | None, arg("Only agreements of this kind.")] = None,
    in_force: Annotated[
        bool | None, arg("Only agreements in force today (true), or only the others (false).")
    ] = None,
    expiring_within_days: Annotated[
        int | None,
        arg(
            f"Only agreements in force today whose last day is at most this many days away "
            f"(0-{MAX_DAYS}; 0: those ending today): which expire soon."
        ),
    ] = None,
    provider_organisation_id: Annotated[
        strawberry.ID | None, arg("Only the agreements of this provider organisation.")
    ] = None,
    referral_organisation_id: Annotated[
        strawberry.ID | None, arg("Only the agreements of this referral organisation.")
    ] = None,
    sick_child_service_id: Annotated[
        strawberry.ID | None, arg("Only the agreements of this sick-child service.")
    ] = None,
    counter_id: Annotated[strawberry.ID | None, arg("Only the agreements of this counter.")] = None,
    user_id: Annotated[strawberry.ID | None, arg("Only the agreements this person signed.")] = None,
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 50,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[Agreement] | None:
    """Agreements, the soonest-ending first (open-ended ones last), one page at a time."""
    p = Params()
    conditions = ["true"]
    if kind is not None:
        conditions.append(f"x.kind = {p.add(kind.value)}")
    if in_force is not None:
        conditions.append(f"({in_force_sql('x')}) = {p.add(in_force)}")
    if expiring_within_days is not None:
        if not 0 <= expiring_within_days <= MAX_DAYS:
            raise InvalidInput(
                "OUT_OF_RANGE", f"expiringWithinDays must be between 0 and {MAX_DAYS}."
            )
        days = p.add(expiring_within_days)
        conditions.append(f"{in_force_sql('x')} AND x.ends_on <= current_date + {days}::int")
    filters = {
        "provider_organisation_id": provider_organisation_id,
        "referral_organisation_id": referral_organisation_id,
        "sick_child_service_id": sick_child_service_id,
        "counter_id": counter_id,
        "user_id": user_id,
    }
    for column, value in filters.items():
        if value is None:
            continue
        party = _party_value(column, value)
        if party is None:
            return connection([], False)
        conditions.append(f"x.{column} = {p.add(party)}")
    if after is not None:
        end, _, last = (decode_cursor(after) or "").partition("|")
        last_id = parse_id(last)
        if last_id is None or (end != "infinity" and _iso_date(end) is None):
            raise InvalidInput("INVALID_CURSOR", "`after` is not a cursor of this list.")
        conditions.append(
            f"(coalesce(x.ends_on, 'infinity'::date), x.id)"
            f" > ({p.add(end)}::text::date, {p.add(last_id)}::uuid)"
        )
    size = page_size(first)
    rows = await fetch(
        f"{_AGREEMENT_SQL} WHERE {' AND '.join(conditions)}"
        f" ORDER BY coalesce(x.ends_on, 'infinity'::date), x.id LIMIT {p.add(size + 1)}",
        *p.values,
    )
    edges = [
        Edge(cursor=encode_cursor(f"{r['sort_end']}|{r['id']}"), node=_agreement(r))
        for r in rows[:size]
    ]
    return connection(edges, len(rows) > size)


def _iso_date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


async def parties_without_agreement(info: Info) -> list[PartyWithoutAgreement] | None:
    """Who holds active memberships without the agreement they need in force, by kind
    and name: their staff (or they) have no access until it is recorded."""
    return [
        PartyWithoutAgreement(
            party=_party(r),
            needs=AgreementKind.CONFIDENTIALITY
            if r["party_kind"] == AgreementPartyKind.USER.value
            else AgreementKind.PROCESSING,
            memberships=r["memberships"],
            last_ended_on=r["last_ended_on"],
            next_signed_on=r["next_signed_on"],
        )
        for r in await fetch(_WITHOUT_SQL)
    ]


# Service functions (also used by the command line).


async def record_agreement(
    *,
    kind: AgreementKind,
    version: str,
    signed_on: datetime.date,
    ends_on: datetime.date | None = None,
    provider_organisation_id: Any = None,
    referral_organisation_id: Any = None,
    sick_child_service_id: Any = None,
    counter_id: Any = None,
    user_id: Any = None,
    recorded_by: uuid.UUID | None = None,
) -> RecordAgreementPayload:
    """Record a signed agreement with exactly one party: an organisation for PROCESSING, a
    person for CONFIDENTIALITY. The same text version signed the same day for the same
    party is recorded once."""
    errors = Errors()
    given = {
        "provider_organisation_id": provider_organisation_id,
        "referral_organisation_id": referral_organisation_id,
        "sick_child_service_id": sick_child_service_id,
        "counter_id": counter_id,
        "user_id": user_id,
    }
    named = [(c, f) for c, f, _ in _PARTIES if given[c] is not None]
    party: tuple[str, Any] | None = None
    if len(named) != 1:
        errors.add(
            ["input"],
            "EXACTLY_ONE_PARTY",
            "Give exactly one of providerOrganisationId, referralOrganisationId, "
            "sickChildServiceId, counterId and userId.",
        )
    else:
        column, field = named[0]
        if (column == "user_id") != (kind is AgreementKind.CONFIDENTIALITY):
            errors.add(
                ["input", field],
                "WRONG_PARTY",
                "A processing agreement is made with an organisation; a confidentiality "
                "agreement is signed by a person (userId).",
            )
        else:
            value = _party_value(column, given[column])
            table = _PARTY_TABLES[column]
            if value is None or not await fetch(
                f"SELECT 1 FROM {table} WHERE id = $1",
                value,
            ):
                errors.add(["input", field], "NOT_FOUND", "No such organisation or person.")
            else:
                party = (column, value)
    clean_version = validation.required_text(errors, ["input", "version"], version, MAX_VERSION)
    for field, day in (("signedOn", signed_on), ("endsOn", ends_on)):
        if day is not None and not EARLIEST <= day <= datetime.date.today() + LATEST_AHEAD:
            errors.add(
                ["input", field],
                "OUT_OF_RANGE",
                f"Between {EARLIEST.isoformat()} and ten years from now.",
            )
    if ends_on is not None and ends_on < signed_on:
        errors.add(["input", "endsOn"], "ENDS_BEFORE_SIGNED", "It cannot end before it is signed.")
    if errors or party is None:
        return RecordAgreementPayload(agreement=None, errors=errors.items)
    column, value = party
    async with in_transaction():
        await lock(f"agreement:{column}:{value}")
        if await AgreementModel.exists(
            kind=kind, version=clean_version, signed_on=signed_on, **{column: value}
        ):
            errors.add(
                ["input", "version"],
                "ALREADY_RECORDED",
                "This version, signed that day, is recorded for this party already.",
            )
            return RecordAgreementPayload(agreement=None, errors=errors.items)
        created = await AgreementModel.create(
            kind=kind,
            version=clean_version,
            signed_on=signed_on,
            ends_on=ends_on,
            recorded_by_id=recorded_by,
            **{column: value},
        )
    return RecordAgreementPayload(agreement=await load_agreement(created.id), errors=[])


async def end_agreement_on(agreement_id: Any, ends_on: datetime.date) -> EndAgreementPayload:
    """Set an agreement's last day; a day before today ends the access it gives at once.
    It may only come earlier (an extension is a new agreement, with its own signature)."""
    errors = Errors()
    found = parse_id(agreement_id)
    async with in_transaction():
        if found is not None:
            await lock(f"agreement:{found}")
        current = None if found is None else await AgreementModel.get_or_none(id=found)
        if current is None:
            errors.add(["input", "agreementId"], "NOT_FOUND", "No such agreement.")
        elif ends_on + datetime.timedelta(days=1) < current.signed_on:
            errors.add(
                ["input", "endsOn"],
                "ENDS_BEFORE_SIGNED",
                "At the earliest the day before it was signed (then it was never in force).",
            )
        elif current.ends_on is not None and ends_on > current.ends_on:
            errors.add(
                ["input", "endsOn"],
                "ENDS_EARLIER",
                f"It ends on {current.ends_on.isoformat()} already; record a new agreement "
                "to extend it.",
            )
        if errors or current is None:
            return EndAgreementPayload(agreement=None, errors=errors.items)
        await AgreementModel.filter(id=current.id).update(ends_on=ends_on)
    return EndAgreementPayload(agreement=await load_agreement(current.id), errors=[])


# Mutations.


async def record_agreement_resolver(
    info: Info, input: Annotated[RecordAgreementInput, arg("The agreement to record.")]
) -> RecordAgreementPayload:
    """Record a signed agreement; the roles that need it give access from its first day."""
    return await record_agreement(
        kind=input.kind,
        version=input.version,
        signed_on=input.signed_on,
        ends_on=input.ends_on,
        provider_organisation_id=input.provider_organisation_id,
        referral_organisation_id=input.referral_organisation_id,
        sick_child_service_id=input.sick_child_service_id,
        counter_id=input.counter_id,
        user_id=input.user_id,
        recorded_by=info.context.viewer.user_id,
    )


async def end_agreement(
    info: Info, input: Annotated[EndAgreementInput, arg("The agreement and its last day.")]
) -> EndAgreementPayload:
    """Set the last day an agreement is in force."""
    return await end_agreement_on(input.agreement_id, input.ends_on)


# The command line (`loket agreement record` / `loket agreement list`; see loket.cli).


def _print_errors(errors: list[Any]) -> int:
    for e in errors:
        print(f"{e.code}: {'.'.join(e.field)}: {e.message}", file=sys.stderr)
    return 1


def _date_argument(value: Any, name: str, errors: list[str]) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    parsed = _iso_date(str(value))
    if parsed is None:
        errors.append(f"{name}: not a date (YYYY-MM-DD)")
    return parsed


async def record_command(args: argparse.Namespace) -> int:
    """`loket agreement record KIND --user EMAIL|ID | --provider-organisation ID | ...
    --version V [--signed-on DATE] [--ends-on DATE]`: record an agreement without an
    admin account (the first admin's confidentiality agreement). Prints the agreement;
    exit status 1 with the errors on stderr."""
    problems: list[str] = []
    signed_on = _date_argument(getattr(args, "signed_on", None), "--signed-on", problems)
    ends_on = _date_argument(getattr(args, "ends_on", None), "--ends-on", problems)
    try:
        kind = AgreementKind(str(args.kind).upper())
    except ValueError:
        problems.append("kind: PROCESSING or CONFIDENTIALITY")
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    user = getattr(args, "user", None)
    if user is not None and parse_id(user) is None:
        rows = await fetch("SELECT id FROM app_user WHERE lower(email) = lower($1)", user.strip())
        user = rows[0]["id"] if rows else user
    payload = await record_agreement(
        kind=kind,
        version=args.version,
        signed_on=signed_on or datetime.date.today(),
        ends_on=ends_on,
        provider_organisation_id=getattr(args, "provider_organisation", None),
        referral_organisation_id=getattr(args, "referral_organisation", None),
        sick_child_service_id=getattr(args, "sick_child_service", None),
        counter_id=getattr(args, "counter", None),
        user_id=user,
    )
    if payload.errors:
        return _print_errors(payload.errors)
    assert payload.agreement is not None
    print(_line(payload.agreement))
    return 0


def _line(a: Agreement) -> str:
    party = a.party
    assert party is not None
    assert party.kind is not None
    assert a.kind is not None
    until = a.ends_on.isoformat() if a.ends_on else "open-ended"
    state = "in force" if a.in_force else "not in force"
    signed = a.signed_on.isoformat() if a.signed_on else "?"
    return (
        f"{a.id}  {a.kind.value:<15} {party.kind.value} {party.id} ({party.name})  "
        f"version {a.version}  {signed} .. {until}  {state}"
    )


async def list_command(args: argparse.Namespace) -> int:
    """`loket agreement list [--expiring-within DAYS]`: the agreements (soonest-ending
    first), then who holds memberships without an agreement in force."""
    days = getattr(args, "expiring_within", None)
    if days is not None and not 0 <= int(days) <= MAX_DAYS:
        print(f"--expiring-within: between 0 and {MAX_DAYS}", file=sys.stderr)
        return 1
    condition = "true"
    values: list[Any] = []
    if days is not None:
        condition = f"{in_force_sql('x')} AND x.ends_on <= current_date + $1::int"
        values.append(int(days))
    rows = await fetch(
        f"{_AGREEMENT_SQL} WHERE {condition} ORDER BY coalesce(x.ends_on, 'infinity'::date), x.id",
        *values,
    )
    for r in rows:
        print(_line(_agreement(r)))
    missing = await fetch(_WITHOUT_SQL)
    if missing:
        print("without an agreement in force (their memberships give no access):")
    for r in missing:
        print(f"  {r['party_kind']} {r['party_id']} ({r['party_name']}): {r['memberships']}")
    return 0
