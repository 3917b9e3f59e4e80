"""The policy directives every field, argument and input field carries in the SDL.

`guarded(...)` and `public(...)` are the one place a field declares its policy: the
directive they attach is what `permissions.engine` reads to enforce it, and what the
printed SDL and the field description show to readers and GraphiQL users.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.schema_directive import Location

from models.accounts import Role as RoleModel
from permissions.policy import POLICY
from permissions.policy import Ability as AbilityModel
from permissions.policy import Grant as GrantModel

strawberry.enum(RoleModel, name="Role", description="A role of MISSION.md section 1.")
RoleEnum = RoleModel
strawberry.enum(GrantModel, name="Grant", description="How a viewer reaches a dossier.")
GrantEnum = GrantModel
strawberry.enum(AbilityModel, name="Ability", description="What a guarded field or mutation needs.")
AbilityEnum = AbilityModel


class RrnUse(Enum):
    UNIQUENESS_CHECK_ONLY = "UNIQUENESS_CHECK_ONLY"


strawberry.enum(
    RrnUse, name="RrnUse", description="The only use a national register number may have."
)
RrnUseEnum = RrnUse

_FIELD_LOCATIONS = [
    Location.FIELD_DEFINITION,
    Location.ARGUMENT_DEFINITION,
    Location.INPUT_FIELD_DEFINITION,
]


@strawberry.schema_directive(
    locations=_FIELD_LOCATIONS,
    name="policy",
    description="Guarded: readable (or usable) only by these roles, under these grants.",
)
class Policy:
    ability: AbilityModel  # "What the field needs."
    roles: list[RoleModel]  # "Roles that may use it."
    # Grants on the dossier under which it may be used; empty: decided by role alone.
    grants: list[GrantModel]
    # Personal data: reads by anyone but the parent are written to the access log.
    personal: bool


@strawberry.schema_directive(
    locations=_FIELD_LOCATIONS,
    name="public",
    description="Not guarded, on purpose; the reason says why.",
)
class Public:
    reason: str  # "Why no policy is needed."


@strawberry.schema_directive(
    locations=[Location.ARGUMENT_DEFINITION, Location.INPUT_FIELD_DEFINITION],
    name="nationalRegisterNumber",
    description=(
        "A national register (or BIS) number: validated, stored only as a keyed hash, never "
        "returned or logged, used only by the uniqueness check."
    ),
)
class NationalRegisterNumber:
    use: RrnUse  # "The only permitted use."


def policy_directive(ability: AbilityModel) -> Policy:
    rule = POLICY[ability]
    return Policy(
        ability=ability,
        roles=sorted(rule.roles),
        grants=sorted(rule.grants, key=list(GrantModel).index),
        personal=rule.personal,
    )


def policy_text(ability: AbilityModel) -> str:
    rule = POLICY[ability]
    roles = ", ".join(sorted(rule.roles))
    grants = ", ".join(g.value for g in GrantModel if g in rule.grants)
    text = f"Policy {ability.value}: roles {roles}"
    if grants:
        text += f"; grants {grants}"
    return text + "."


def guarded(ability: AbilityModel, description: str, **kwargs: Any) -> Any:
    """A field readable only under `ability`'s rule; the description repeats the rule."""
    return strawberry.field(
        description=f"{description} {policy_text(ability)}",
        directives=[policy_directive(ability)],
        **kwargs,
    )


def guarded_mutation(ability: AbilityModel, description: str, **kwargs: Any) -> Any:
    return strawberry.mutation(
        description=f"{description} {policy_text(ability)}",
        directives=[policy_directive(ability)],
        **kwargs,
    )


def public_mutation(description: str, reason: str, **kwargs: Any) -> Any:
    """A mutation open to everyone, anonymous included (sign-up, sign-in, reports)."""
    return strawberry.mutation(
        description=description, directives=[Public(reason=reason)], **kwargs
    )


def public(description: str, reason: str, **kwargs: Any) -> Any:
    return strawberry.field(description=description, directives=[Public(reason=reason)], **kwargs)


def arg(description: str, reason: str = "input to a field whose policy applies") -> Any:
    """An argument: its field's policy governs it; say so explicitly."""
    return strawberry.argument(description=description, directives=[Public(reason=reason)])


def input_field(description: str, ability: AbilityModel | None = None, **kwargs: Any) -> Any:
    """An input field: personal inputs name the ability of the data they write."""
    directive: Any = (
        policy_directive(ability) if ability is not None else Public(reason="not personal data")
    )
    return strawberry.field(description=description, directives=[directive], **kwargs)


def rrn_input_field(description: str, **kwargs: Any) -> Any:
    return strawberry.field(
        description=description,
        directives=[NationalRegisterNumber(use=RrnUse.UNIQUENESS_CHECK_ONLY)],
        **kwargs,
    )


def rrn_argument(description: str) -> Any:
    return strawberry.argument(
        description=description,
        directives=[NationalRegisterNumber(use=RrnUse.UNIQUENESS_CHECK_ONLY)],
    )
