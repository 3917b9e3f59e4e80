"""Children of a dossier: add one, record a birth (re-running the uniqueness check),
correct their data. Every mutation checks write access first and runs in one transaction."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from tortoise.transactions import in_transaction

from loket.context import Info
from loket.db import fetch
from models.households import Child as ChildModel
from permissions.policy import Ability
from resolvers import uniqueness, validation
from resolvers.access import denied_inputs, provided, writable
from resolvers.households import child_rrn, validate_child
from resolvers.validation import Errors
from schema.children import (
    AddChildInput,
    AddChildPayload,
    RecordBirthInput,
    RecordBirthPayload,
    UpdateChildInput,
    UpdateChildPayload,
)
from schema.directives import arg
from schema.households import Child

# An expected birth date further away than this is a typing error, not a pregnancy.
MAX_EXPECTED_DAYS = 300
_NOT_FOUND = "No such child in a dossier you may write."


async def _child(info: Info, child_id: Any, grant: str) -> Child | None:
    found: Child | None = await info.context.loaders.child.load((child_id, grant))
    return found


def _expected_date(
    errors: Errors, path: list[str], value: datetime.date, today: datetime.date
) -> None:
    if value > today + datetime.timedelta(days=MAX_EXPECTED_DAYS):
        errors.add(path, "DATE_TOO_FAR", f"At most {MAX_EXPECTED_DAYS} days ahead.")


async def add_child(
    info: Info, input: Annotated[AddChildInput, arg("The child to add.")]
) -> AddChildPayload:
    """Add a born or unborn child to a dossier the viewer may write."""
    today = datetime.date.today()
    errors = Errors()
    target = await writable(info, "household", input.household_id, Ability.MANAGE_CHILDREN)
    if target is None:
        errors.add(["input", "householdId"], "NOT_FOUND", "No such dossier you may write.")
    values, rrn = validate_child(errors, ["input", "child"], input.child, today)
    if input.child.expected_birth_date is not None and input.child.birth_date is None:
        _expected_date(
            errors, ["input", "child", "expectedBirthDate"], values["expected_birth_date"], today
        )
    if errors or target is None:
        return AddChildPayload(child=None, errors=errors.items)
    _, household_id, grant = target
    async with in_transaction():
        # The retention job or an erasure may have anonymised the dossier since the check
        # above. Both lock its row (FOR NO KEY UPDATE) before deciding: this share lock
        # waits for them and then sees their result, or keeps them out until we commit.
        if not await fetch(
            "SELECT 1 FROM household WHERE id = $1 AND anonymised_at IS NULL FOR SHARE",
            household_id,
        ):
            errors.add(["input", "householdId"], "NOT_FOUND", "No such dossier you may write.")
            return AddChildPayload(child=None, errors=errors.items)
        if rrn is not None:
            await uniqueness.lock_rrn(rrn)
            if await uniqueness.child_rrn_in_household(household_id, rrn):
                errors.add(
                    ["input", "child", "rrn"],
                    "DUPLICATE_CHILD",
                    "This child is already part of the dossier.",
                )
                return AddChildPayload(child=None, errors=errors.items)
        child = await ChildModel.create(household_id=household_id, **values)
        if rrn is not None:
            await uniqueness.store_child_rrn(child.id, rrn)
    return AddChildPayload(child=await _child(info, child.id, grant), errors=[])


async def record_birth(
    info: Info, input: Annotated[RecordBirthInput, arg("The birth to record.")]
) -> RecordBirthPayload:
    """Turn an unborn child into a born one; the one-open-request check runs again by
    the new number (a request for the same child elsewhere blocks it)."""
    today = datetime.date.today()
    errors = Errors()
    target = await writable(info, "child", input.child_id, Ability.MANAGE_CHILDREN)
    if target is None:
        errors.add(["input", "childId"], "NOT_FOUND", _NOT_FOUND)
    else:
        rows = await fetch("SELECT birth_date FROM child WHERE id = $1", target[0])
        if rows[0]["birth_date"] is not None:
            errors.add(["input", "childId"], "ALREADY_BORN", "This child's birth is recorded.")
    validation.not_in_future(errors, ["input", "birthDate"], input.birth_date, today)
    first_name = None
    if input.first_name is not None:
        first_name = validation.required_text(errors, ["input", "firstName"], input.first_name, 100)
    rrn = child_rrn(errors, ["input", "rrn"], input.rrn, input.birth_date)
    if errors or target is None or rrn is None:
        return RecordBirthPayload(child=None, errors=errors.items)
    child_id, household_id, grant = target
    if not await uniqueness.count_check(info, household_id, grant):
        errors.add(["input", "rrn"], "RATE_LIMITED", "Too many checks; try again later.")
        return RecordBirthPayload(child=None, errors=errors.items)
    async with in_transaction():
        await uniqueness.lock_child_identity(child_id)
        await uniqueness.lock_rrn(rrn)
        duplicate, open_elsewhere = await uniqueness.child_rrn_conflicts(child_id, rrn)
        if duplicate:
            errors.add(["input", "rrn"], "DUPLICATE_CHILD", "Another child of the dossier has it.")
        elif open_elsewhere:
            errors.add(
                ["input", "rrn"],
                "OPEN_REQUEST_EXISTS",
                "An open care request already exists for this child; withdraw one of them.",
            )
        if errors:
            return RecordBirthPayload(child=None, errors=errors.items)
        # Decided again under the locks: a birth recorded meanwhile wins, this one fails.
        born = await fetch(
            """UPDATE child SET birth_date = $2, expected_birth_date = NULL,
                   first_name = coalesce($3, first_name)
               WHERE id = $1 AND birth_date IS NULL RETURNING id""",
            child_id,
            input.birth_date,
            first_name,
        )
        if not born:
            errors.add(["input", "childId"], "ALREADY_BORN", "This child's birth is recorded.")
            return RecordBirthPayload(child=None, errors=errors.items)
        await uniqueness.store_child_rrn(child_id, rrn)
    return RecordBirthPayload(child=await _child(info, child_id, grant), errors=[])


async def update_child(
    info: Info, input: Annotated[UpdateChildInput, arg("The corrections.")]
) -> UpdateChildPayload:
    """Correct a child's names or expected birth date."""
    today = datetime.date.today()
    errors = Errors()
    target = await writable(info, "child", input.child_id, Ability.MANAGE_CHILDREN)
    if target is None:
        errors.add(["input", "childId"], "NOT_FOUND", _NOT_FOUND)
    denied_inputs(info, input, ["input"], errors)
    changes: dict[str, Any] = {}
    for name, key, required in (
        ("first_name", "firstName", True),
        ("last_name", "lastName", True),
        ("nickname", "nickname", False),
    ):
        value = getattr(input, name)
        if not provided(value):
            continue
        if value is None and required:
            errors.add(["input", key], "REQUIRED", "This field is required.")
        elif required:
            changes[name] = validation.required_text(errors, ["input", key], value, 100)
        else:
            changes[name] = " ".join(validation.storable_text(value or "").split())[:100]
    expected = input.expected_birth_date
    if provided(expected):
        if expected is None:
            errors.add(["input", "expectedBirthDate"], "REQUIRED", "Give the expected date.")
        else:
            _expected_date(errors, ["input", "expectedBirthDate"], expected, today)
            changes["expected_birth_date"] = expected
    if target is not None and "expected_birth_date" in changes:
        rows = await fetch("SELECT birth_date FROM child WHERE id = $1", target[0])
        if rows[0]["birth_date"] is not None:
            errors.add(
                ["input", "expectedBirthDate"],
                "NOT_ALLOWED",
                "The child is born; its birth date is recorded.",
            )
    if errors or target is None:
        return UpdateChildPayload(child=None, errors=errors.items)
    child_id, _, grant = target
    async with in_transaction():
        if "expected_birth_date" in changes:
            await uniqueness.lock_child_identity(child_id, changes["expected_birth_date"])
            if await uniqueness.unborn_request_clash(child_id, changes["expected_birth_date"]):
                errors.add(
                    ["input", "expectedBirthDate"],
                    "OPEN_REQUEST_EXISTS",
                    "Another unborn child of the dossier with this date has an open request.",
                )
                return UpdateChildPayload(child=None, errors=errors.items)
        if "expected_birth_date" in changes and await ChildModel.exists(
            id=child_id, birth_date__isnull=False
        ):
            # Born meanwhile (the child's row is locked now): no expected date any more.
            errors.add(
                ["input", "expectedBirthDate"],
                "NOT_ALLOWED",
                "The child is born; its birth date is recorded.",
            )
            return UpdateChildPayload(child=None, errors=errors.items)
        if changes:
            await ChildModel.filter(id=child_id).update(**changes)
    return UpdateChildPayload(child=await _child(info, child_id, grant), errors=[])
