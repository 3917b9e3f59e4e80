"""Dossier queries and registration, all starting from the viewer's scoped dossiers."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

import strawberry
from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import fetch
from loket.settings import settings
from models.households import Child as ChildModel
from models.households import Household as HouseholdModel
from models.households import Parent as ParentModel
from permissions.rrn import InvalidRrn, Rrn
from permissions.scopes import Params, visible_households
from resolvers import uniqueness, validation
from resolvers.validation import Errors
from schema.common import (
    Connection,
    Edge,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from schema.directives import arg
from schema.households import (
    ChildInput,
    Household,
    ParentInput,
    RegisterHouseholdInput,
    RegisterHouseholdPayload,
)
from schema.regions import Municipality

HOUSEHOLD_SQL = """SELECT h.id, v.grant_name, h.family_situation, h.income_below_threshold,
    h.municipality_id, m.name AS municipality_name
FROM ({visible}) v
JOIN household h ON h.id = v.household_id
JOIN municipality m ON m.nis_code = h.municipality_id"""


def household_from_row(r: Any) -> Household:
    return Household(
        id=strawberry.ID(str(r["id"])),
        household_id=r["id"],
        grant=r["grant_name"],
        family_situation=r["family_situation"],
        income_below_threshold=r["income_below_threshold"],
        residence=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
    )


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def load_household(info: Info, household_id: uuid.UUID) -> Household | None:
    p = Params()
    visible = visible_households(info.context.viewer, p, emergency_days=settings.emergency_days)
    rows = await fetch(
        HOUSEHOLD_SQL.format(visible=visible) + f" WHERE h.id = {p.add(household_id)}",
        *p.values,
    )
    return household_from_row(rows[0]) if rows else None


async def household(
    info: Info, id: Annotated[strawberry.ID, arg("Dossier id.")]
) -> Household | None:
    """A dossier by id; null when it does not exist or lies outside the viewer's grants."""
    household_id = parse_id(id)
    if household_id is None:
        return None
    return await load_household(info, household_id)


async def my_household(info: Info) -> Household | None:
    """The signed-in parent's own dossier."""
    p = Params()
    visible = visible_households(info.context.viewer, p, emergency_days=settings.emergency_days)
    rows = await fetch(HOUSEHOLD_SQL.format(visible=visible) + " LIMIT 1", *p.values)
    return household_from_row(rows[0]) if rows else None


async def dossiers(
    info: Info,
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[Household] | None:
    """The dossiers the viewer's grants reach, in a stable order, one page at a time."""
    size = page_size(first)
    p = Params()
    visible = visible_households(info.context.viewer, p, emergency_days=settings.emergency_days)
    where = ""
    if after is not None:
        after_id = parse_id(decode_cursor(after) or "")
        if after_id is not None:
            where = f" WHERE h.id > {p.add(after_id)}"
    rows = await fetch(
        HOUSEHOLD_SQL.format(visible=visible) + where + f" ORDER BY h.id LIMIT {p.add(size + 1)}",
        *p.values,
    )
    nodes = [household_from_row(r) for r in rows[:size]]
    return connection([Edge(cursor=encode_cursor(n.id), node=n) for n in nodes], len(rows) > size)


def validate_parent(errors: Errors, path: list[str], data: ParentInput) -> dict[str, Any]:
    values: dict[str, Any] = {
        "first_name": validation.required_text(errors, [*path, "firstName"], data.first_name, 100),
        "last_name": validation.required_text(errors, [*path, "lastName"], data.last_name, 100),
        "nationality": validation.iso_code(errors, [*path, "nationality"], data.nationality),
        "birthplace": " ".join(data.birthplace.split())[:120],
        "home_language": validation.iso_code(
            errors, [*path, "homeLanguage"], data.home_language
        ).lower(),
        "street": validation.required_text(errors, [*path, "street"], data.street, 200),
        "postal_code": validation.postal_code(errors, [*path, "postalCode"], data.postal_code),
        "municipality_id": data.municipality_nis_code.strip(),
        "phone": validation.phone(errors, [*path, "phone"], data.phone),
        "email": validation.email(errors, [*path, "email"], data.email),
        "work_situation": data.work_situation.value,
        "work_share_percent": data.work_share_percent,
        "education_level": data.education_level.value,
        "relation_to_child": data.relation_to_child.value,
    }
    share = data.work_share_percent
    if share is not None and not 1 <= share <= 100:
        errors.add([*path, "workSharePercent"], "OUT_OF_RANGE", "Between 1 and 100.")
    return values


def validate_child(
    errors: Errors, path: list[str], data: ChildInput, today: datetime.date
) -> tuple[dict[str, Any], Rrn | None]:
    values: dict[str, Any] = {
        "first_name": validation.required_text(errors, [*path, "firstName"], data.first_name, 100),
        "last_name": validation.required_text(errors, [*path, "lastName"], data.last_name, 100),
        "nickname": " ".join(data.nickname.split())[:100],
        "birth_date": data.birth_date,
        "expected_birth_date": data.expected_birth_date if data.birth_date is None else None,
    }
    rrn: Rrn | None = None
    if data.birth_date is None and data.expected_birth_date is None:
        errors.add([*path, "birthDate"], "REQUIRED", "Give a birth date or an expected date.")
    if data.birth_date is not None:
        validation.not_in_future(errors, [*path, "birthDate"], data.birth_date, today)
        if data.rrn is None:
            errors.add([*path, "rrn"], "REQUIRED", "A born child needs a national register number.")
    elif data.rrn is not None:
        errors.add(
            [*path, "rrn"], "NOT_ALLOWED", "An unborn child has no national register number."
        )
    if data.rrn is not None and data.birth_date is not None:
        try:
            rrn = Rrn.parse(data.rrn)
        except InvalidRrn:
            errors.add([*path, "rrn"], "INVALID_RRN", "Not a valid national register number.")
        else:
            if not uniqueness.birth_date_matches(rrn, data.birth_date):
                errors.add(
                    [*path, "rrn"],
                    "RRN_BIRTH_DATE_MISMATCH",
                    "The national register number does not match the birth date.",
                )
    return values, rrn


async def check_residence(errors: Errors, path: list[str], values: dict[str, Any]) -> None:
    """The municipality exists and the postal code lies in it (when its codes are known)."""
    rows = await fetch(
        "SELECT postal_codes FROM municipality WHERE nis_code = $1", values["municipality_id"]
    )
    if not rows:
        errors.add(
            [*path, "municipalityNisCode"],
            "UNKNOWN_MUNICIPALITY",
            "No municipality has this NIS code.",
        )
    elif rows[0]["postal_codes"] and values["postal_code"] not in rows[0]["postal_codes"]:
        errors.add(
            [*path, "postalCode"],
            "POSTAL_CODE_MISMATCH",
            "This postal code does not belong to the chosen municipality.",
        )


async def register_household(
    info: Info, input: Annotated[RegisterHouseholdInput, arg("The household to register.")]
) -> RegisterHouseholdPayload:
    """Create the signed-in parent's dossier with its first child, all or nothing."""
    viewer = info.context.viewer
    today = datetime.date.today()
    errors = Errors()
    parent_values = validate_parent(errors, ["input", "applicant"], input.applicant)
    child_values, child_rrn = validate_child(errors, ["input", "child"], input.child, today)
    parent_rrn: Rrn | None = None
    if input.applicant.rrn is not None:
        try:
            parent_rrn = Rrn.parse(input.applicant.rrn)
        except InvalidRrn:
            errors.add(
                ["input", "applicant", "rrn"],
                "INVALID_RRN",
                "Not a valid national register number.",
            )
    if not errors:
        await check_residence(errors, ["input", "applicant"], parent_values)
    if errors:
        return RegisterHouseholdPayload(household=None, errors=errors.items)

    async with in_transaction():
        # Serialise registrations of one user and of one person (RRN), so two concurrent
        # calls cannot both pass the checks below.
        await fetch("SELECT pg_advisory_xact_lock(hashtext($1::text))", str(viewer.user_id))
        if parent_rrn is not None:
            await uniqueness.lock_parent_identity(parent_rrn)
        if await ParentModel.exists(user_id=viewer.user_id):
            errors.add(["input"], "ALREADY_REGISTERED", "You already have a household.")
        elif parent_rrn is not None and await uniqueness.parent_rrn_registered(parent_rrn):
            errors.add(
                ["input", "applicant", "rrn"],
                "ALREADY_REGISTERED",
                "An account already exists for this person; sign in instead.",
            )
        if errors:
            return RegisterHouseholdPayload(household=None, errors=errors.items)
        new = await HouseholdModel.create(
            municipality_id=parent_values["municipality_id"],
            family_situation=input.family_situation.value,
            income_below_threshold=input.income_below_threshold,
        )
        parent = await ParentModel.create(
            household_id=new.id, user_id=viewer.user_id, is_applicant=True, **parent_values
        )
        child = await ChildModel.create(household_id=new.id, **child_values)
        if parent_rrn is not None:
            await uniqueness.store_parent_rrn(parent.id, parent_rrn)
        if child_rrn is not None:
            await uniqueness.store_child_rrn(child.id, child_rrn)
    return RegisterHouseholdPayload(household=await load_household(info, new.id), errors=[])
