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
from models.accounts import Role
from models.households import Child as ChildModel
from models.households import Household as HouseholdModel
from models.households import InformationSource
from models.households import Parent as ParentModel
from permissions.policy import Ability
from permissions.rrn import Rrn
from permissions.scopes import Params, visible_households
from resolvers import uniqueness, validation
from resolvers.access import after_id, denied_inputs, lock, parse_id, provided, writable
from resolvers.loaders import source_from_row
from resolvers.validation import Errors
from schema.common import (
    Connection,
    Edge,
    connection,
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
    UpdateHouseholdInput,
    UpdateHouseholdPayload,
    UpdateParentInput,
    UpdateParentPayload,
)
from schema.regions import Municipality

HOUSEHOLD_COLUMNS = """h.id, h.family_situation, h.income_below_threshold,
    h.municipality_id, m.name AS municipality_name, h.situation_source,
    h.situation_recorded_at, (SELECT name FROM referral_organisation
        WHERE id = h.situation_source_organisation_id) AS situation_source_organisation,
    h.situation_source_organisation_id"""

HOUSEHOLD_SQL = (
    "SELECT v.grant_name, "
    + HOUSEHOLD_COLUMNS
    + """
FROM ({visible}) v
JOIN household h ON h.id = v.household_id
JOIN municipality m ON m.nis_code = h.municipality_id"""
)


def household_from_row(r: Any) -> Household:
    return Household(
        id=strawberry.ID(str(r["id"])),
        household_id=r["id"],
        grant=r["grant_name"],
        family_situation=r["family_situation"],
        income_below_threshold=r["income_below_threshold"],
        residence=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
        situation_source=source_from_row(r),
    )


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
    where = after_id(p, after, "h.id", "WHERE")
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
        "birthplace": " ".join(validation.storable_text(data.birthplace).split())[:120],
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


def child_rrn(errors: Errors, path: list[str], value: str, birth_date: datetime.date) -> Rrn | None:
    """A born child's number: valid, and encoding the given birth date."""
    rrn = validation.rrn(errors, path, value)
    if rrn is not None and not uniqueness.birth_date_matches(rrn, birth_date):
        errors.add(
            path,
            "RRN_BIRTH_DATE_MISMATCH",
            "The national register number does not match the birth date.",
        )
        return None
    return rrn


def validate_child(
    errors: Errors, path: list[str], data: ChildInput, today: datetime.date
) -> tuple[dict[str, Any], Rrn | None]:
    values: dict[str, Any] = {
        "first_name": validation.required_text(errors, [*path, "firstName"], data.first_name, 100),
        "last_name": validation.required_text(errors, [*path, "lastName"], data.last_name, 100),
        "nickname": " ".join(validation.storable_text(data.nickname).split())[:100],
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
        rrn = child_rrn(errors, [*path, "rrn"], data.rrn, data.birth_date)
    return values, rrn


async def check_residence(errors: Errors, path: list[str], values: dict[str, Any]) -> None:
    """The municipality exists and the postal code lies in it (when its codes are known)."""
    # (A NIS code PostgreSQL cannot store names no municipality.)
    rows = (
        await fetch(
            """SELECT ARRAY(SELECT code FROM postal_code WHERE municipality_id = m.nis_code)
                   AS postal_codes
               FROM municipality m WHERE m.nis_code = $1""",
            values["municipality_id"],
        )
        if validation.storable(values["municipality_id"])
        else []
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
    parent_rrn = validation.rrn(errors, ["input", "applicant", "rrn"], input.applicant.rrn)
    if not errors:
        await check_residence(errors, ["input", "applicant"], parent_values)
    if errors:
        return RegisterHouseholdPayload(household=None, errors=errors.items)
    if parent_rrn is not None and not await uniqueness.count_parent_check(
        info, errors, ["input", "applicant", "rrn"]
    ):
        return RegisterHouseholdPayload(household=None, errors=errors.items)

    async with in_transaction():
        # Serialise registrations of one user and of one person (RRN), so two concurrent
        # calls cannot both pass the checks below.
        await lock(viewer.user_id)
        if parent_rrn is not None:
            await uniqueness.lock_parent_identity(parent_rrn)
        if await ParentModel.exists(user_id=viewer.user_id):
            errors.add(["input"], "ALREADY_REGISTERED", "You already have a household.")
        elif parent_rrn is not None and await uniqueness.parent_rrn_registered(parent_rrn):
            errors.add(
                ["input", "applicant", "rrn"],
                "ALREADY_REGISTERED",
                "This person is already registered: sign in, or claim the dossier your "
                "referral worker started with its claim code.",
            )
        if errors:
            return RegisterHouseholdPayload(household=None, errors=errors.items)
        now = datetime.datetime.now(datetime.UTC)
        new = await HouseholdModel.create(
            municipality_id=parent_values["municipality_id"],
            family_situation=input.family_situation.value,
            income_below_threshold=input.income_below_threshold,
            situation_recorded_at=now,
        )
        parent = await ParentModel.create(
            household_id=new.id,
            user_id=viewer.user_id,
            is_applicant=True,
            situation_recorded_at=now,
            **parent_values,
        )
        child = await ChildModel.create(household_id=new.id, **child_values)
        if parent_rrn is not None:
            await uniqueness.store_parent_rrn(parent.id, parent_rrn)
        if child_rrn is not None:
            await uniqueness.store_child_rrn(child.id, child_rrn)
    return RegisterHouseholdPayload(household=await load_household(info, new.id), errors=[])


async def information_source(info: Info, household_id: uuid.UUID) -> tuple[str, uuid.UUID | None]:
    """Who is entering priority information now: the parent, a referral worker (with the
    organisation whose mandate they act under) or an admin."""
    viewer = info.context.viewer
    if viewer.role is Role.TOELEIDER:
        rows = await fetch(
            """SELECT referral_organisation_id FROM mandate WHERE household_id = $1
               AND revoked_at IS NULL AND referral_organisation_id = ANY($2::uuid[])
               ORDER BY granted_at LIMIT 1""",
            household_id,
            list(viewer.referral_organisation_ids),
        )
        return InformationSource.REFERRAL_WORKER.value, (
            rows[0]["referral_organisation_id"] if rows else None
        )
    if viewer.role is Role.ADMIN:
        return InformationSource.ADMIN.value, None
    return InformationSource.PARENT.value, None


# The priority information whose source is recorded.
_SITUATION = frozenset({"work_situation", "work_share_percent", "education_level"})
_TEXT = {
    "first_name": ("firstName", 100),
    "last_name": ("lastName", 100),
    "street": ("street", 200),
}


def _parent_changes(errors: Errors, data: UpdateParentInput) -> dict[str, Any]:
    """Validate the fields given; return the column changes."""
    path = ["input"]
    changes: dict[str, Any] = {}
    for column, (key, size) in _TEXT.items():
        value = getattr(data, column)
        if provided(value):
            changes[column] = validation.required_text(errors, [*path, key], value or "", size)
    if provided(data.nationality):
        changes["nationality"] = validation.iso_code(
            errors, [*path, "nationality"], data.nationality or ""
        )
    if provided(data.home_language):
        changes["home_language"] = validation.iso_code(
            errors, [*path, "homeLanguage"], data.home_language or ""
        ).lower()
    if provided(data.birthplace):
        birthplace = validation.storable_text(data.birthplace or "")
        changes["birthplace"] = " ".join(birthplace.split())[:120]
    if provided(data.postal_code):
        changes["postal_code"] = validation.postal_code(
            errors, [*path, "postalCode"], data.postal_code or ""
        )
    if provided(data.municipality_nis_code):
        changes["municipality_id"] = (data.municipality_nis_code or "").strip()
    if provided(data.phone):
        changes["phone"] = validation.phone(errors, [*path, "phone"], data.phone or "")
    if provided(data.email):
        changes["email"] = validation.email(errors, [*path, "email"], data.email or "")
    for column, key in (
        ("work_situation", "workSituation"),
        ("education_level", "educationLevel"),
        ("relation_to_child", "relationToChild"),
    ):
        value = getattr(data, column)
        if not provided(value):
            continue
        if value is None:
            errors.add([*path, key], "REQUIRED", "This field is required.")
        else:
            changes[column] = value.value
    if provided(data.work_share_percent):
        share = data.work_share_percent
        if share is not None and not 1 <= share <= 100:
            errors.add([*path, "workSharePercent"], "OUT_OF_RANGE", "Between 1 and 100.")
        changes["work_share_percent"] = share
    return changes


async def _may_set_rrn(info: Info, parent_id: uuid.UUID) -> bool:
    """A national register number is the person's own: a parent sets only their own (or
    that of a partner without an account yet); referral workers and admins may set it for
    the family; counter staff never."""
    viewer = info.context.viewer
    if viewer.role in (Role.TOELEIDER, Role.ADMIN):
        return True
    if viewer.role is not Role.PARENT:
        return False
    rows = await fetch("SELECT user_id FROM parent WHERE id = $1", parent_id)
    return rows[0]["user_id"] in (None, viewer.user_id)


async def update_parent(
    info: Info, input: Annotated[UpdateParentInput, arg("The corrections.")]
) -> UpdateParentPayload:
    """Rectification: correct a parent's data at any time. Only the fields given change;
    an applicant's new municipality becomes the dossier's residence."""
    errors = Errors()
    target = await writable(info, "parent", input.parent_id, Ability.EDIT_DOSSIER)
    if target is None:
        errors.add(["input", "parentId"], "NOT_FOUND", "No such parent in a dossier you may write.")
    denied_inputs(info, input, ["input"], errors)
    wants_rrn = provided(input.rrn) and input.rrn is not None
    if wants_rrn and target is not None and not await _may_set_rrn(info, target[0]):
        errors.add(["input", "rrn"], "FORBIDDEN_FIELD", "You may not change this field.")
    changes = _parent_changes(errors, input)
    rrn = validation.rrn(errors, ["input", "rrn"], input.rrn if provided(input.rrn) else None)
    current = None
    if target is not None and not errors:
        rows = await fetch(
            "SELECT postal_code, municipality_id, is_applicant FROM parent WHERE id = $1",
            target[0],
        )
        current = rows[0]
        if {"postal_code", "municipality_id"} & changes.keys():
            address = {
                "postal_code": changes.get("postal_code", current["postal_code"]),
                "municipality_id": changes.get("municipality_id", current["municipality_id"]),
            }
            await check_residence(errors, ["input"], address)
    if errors or target is None or current is None:
        return UpdateParentPayload(parent=None, errors=errors.items)
    parent_id, household_id, grant = target
    if _SITUATION & changes.keys():
        source, organisation = await information_source(info, household_id)
        changes["situation_source"] = source
        changes["situation_source_organisation_id"] = organisation
        changes["situation_recorded_at"] = datetime.datetime.now(datetime.UTC)
    if rrn is not None and not await uniqueness.count_parent_check(
        info, errors, ["input", "rrn"], household_id, grant
    ):
        return UpdateParentPayload(parent=None, errors=errors.items)
    async with in_transaction():
        if rrn is not None:
            await uniqueness.lock_parent_identity(rrn)
            if await uniqueness.parent_rrn_registered(rrn, excluding=parent_id):
                errors.add(
                    ["input", "rrn"],
                    "ALREADY_REGISTERED",
                    "An account already exists for this person.",
                )
                return UpdateParentPayload(parent=None, errors=errors.items)
            await uniqueness.store_parent_rrn(parent_id, rrn)
        if changes:
            await ParentModel.filter(id=parent_id).update(**changes)
        if current["is_applicant"] and "municipality_id" in changes:
            await HouseholdModel.filter(id=household_id).update(
                municipality_id=changes["municipality_id"]
            )
    parents = await info.context.loaders.parents.load((household_id, grant))
    return UpdateParentPayload(
        parent=next((p for p in parents if p.id == str(parent_id)), None), errors=[]
    )


async def update_household(
    info: Info, input: Annotated[UpdateHouseholdInput, arg("The corrections.")]
) -> UpdateHouseholdPayload:
    """Rectification of the dossier's family situation and income (priority rules)."""
    errors = Errors()
    target = await writable(info, "household", input.household_id, Ability.EDIT_DOSSIER)
    if target is None:
        errors.add(["input", "householdId"], "NOT_FOUND", "No such dossier you may write.")
    denied_inputs(info, input, ["input"], errors)
    changes: dict[str, Any] = {}
    if provided(input.family_situation):
        if input.family_situation is None:
            errors.add(["input", "familySituation"], "REQUIRED", "This field is required.")
        else:
            changes["family_situation"] = input.family_situation.value
    if provided(input.income_below_threshold):
        changes["income_below_threshold"] = input.income_below_threshold
    if errors or target is None:
        return UpdateHouseholdPayload(household=None, errors=errors.items)
    _, household_id, _ = target
    if changes:
        source, organisation = await information_source(info, household_id)
        await HouseholdModel.filter(id=household_id).update(
            **changes,
            situation_source=source,
            situation_source_organisation_id=organisation,
            situation_recorded_at=datetime.datetime.now(datetime.UTC),
        )
    return UpdateHouseholdPayload(household=await load_household(info, household_id), errors=[])
