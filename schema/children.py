"""Inputs and payloads for adding children, recording a birth and correcting a child."""

from __future__ import annotations

import datetime

import strawberry

from permissions.policy import Ability
from schema.common import UserError
from schema.directives import input_field, public, rrn_input_field
from schema.households import Child, ChildInput

_PAYLOAD = "payload structure; the child's fields carry their own policy"
_ERRORS = "the caller's own input"


@strawberry.input(description="Add a child (born or unborn) to a dossier.")
class AddChildInput:
    household_id: strawberry.ID = input_field("The dossier.")
    child: ChildInput = input_field("The child.")


@strawberry.type(description="Result of addChild.")
class AddChildPayload:
    child: Child | None = public("The new child, null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.input(
    description="Record the birth of an unborn child: birth date and national register "
    "number; the one-open-request check runs again."
)
class RecordBirthInput:
    child_id: strawberry.ID = input_field("The (until now unborn) child.")
    birth_date: datetime.date = input_field("Birth date.", Ability.CHILD_DETAILS)
    rrn: str = rrn_input_field(
        "National register number of the child: only for the one-open-request check."
    )
    first_name: str | None = input_field(
        "First name, if it changed.", Ability.CHILD_NAME, default=None
    )


@strawberry.type(description="Result of recordBirth.")
class RecordBirthPayload:
    child: Child | None = public("The child, null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)


@strawberry.input(description="Correct a child's data: only the fields given change.")
class UpdateChildInput:
    child_id: strawberry.ID = input_field("The child to correct.")
    first_name: str | None = input_field(
        "First name.", Ability.CHILD_NAME, default=strawberry.UNSET
    )
    last_name: str | None = input_field(
        "Family name.", Ability.CHILD_NAME, default=strawberry.UNSET
    )
    nickname: str | None = input_field("Roepnaam.", Ability.CHILD_DETAILS, default=strawberry.UNSET)
    expected_birth_date: datetime.date | None = input_field(
        "Expected birth date (unborn children only).",
        Ability.CHILD_DETAILS,
        default=strawberry.UNSET,
    )


@strawberry.type(description="Result of updateChild.")
class UpdateChildPayload:
    child: Child | None = public("The child, null when there are errors.", reason=_PAYLOAD)
    errors: list[UserError] = public("What is wrong; empty on success.", reason=_ERRORS)
