"""Write access for mutations: which dossier an object belongs to, and whether the
viewer may write it under an ability's grants. Mutations check this before acting."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from loket.context import Info
from loket.db import fetch
from loket.settings import settings
from permissions.policy import POLICY, Ability, allowed_for_role
from permissions.scopes import Params, visible_households
from permissions.viewer import Viewer
from resolvers.validation import Errors
from schema.common import decode_cursor

# The dossier each kind of object belongs to (constant SQL, one parameter). An anonymised
# child, with its requests and their applications, belongs to none (an anonymised dossier
# is left out by the grants themselves).
_HOUSEHOLD_OF = {
    "household": "SELECT id AS household_id FROM household WHERE id = $1",
    "parent": "SELECT household_id FROM parent WHERE id = $1",
    "child": "SELECT household_id FROM child WHERE id = $1 AND anonymised_at IS NULL",
    "request": """SELECT r.household_id FROM care_request r JOIN child c ON c.id = r.child_id
                  WHERE r.id = $1 AND c.anonymised_at IS NULL""",
    "application": """SELECT r.household_id FROM application a
                      JOIN care_request r ON r.id = a.request_id
                      JOIN child c ON c.id = r.child_id
                      WHERE a.id = $1 AND c.anonymised_at IS NULL""",
    "mandate": "SELECT household_id FROM mandate WHERE id = $1",
}


def parse_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def after_id(p: Params, after: str | None, column: str, keyword: str = "AND") -> str:
    """SQL continuing a page ordered by `column` (an id) after the cursor's id; empty
    without a usable cursor."""
    last = parse_id(decode_cursor(after) or "") if after is not None else None
    return "" if last is None else f" {keyword} {column} > {p.add(last)}"


async def lock(key: Any) -> None:
    """A transaction-scoped advisory lock on one key (a user, a dossier, an address ...)."""
    await fetch("SELECT pg_advisory_xact_lock(hashtext($1::text))", str(key))


async def viewer_parent(viewer: Viewer) -> Any | None:
    """The signed-in user's own parent row (id, household_id), if they have one."""
    rows = await fetch("SELECT id, household_id FROM parent WHERE user_id = $1", viewer.user_id)
    return rows[0] if rows else None


async def write_grant(info: Info, household_id: uuid.UUID, ability: Ability) -> str | None:
    """The grant under which the viewer may use `ability` on the dossier, or None."""
    allowed = [g.value for g in POLICY[ability].grants]
    p = Params()
    visible = visible_households(
        info.context.viewer, p, emergency_days=settings.emergency_days, write=True
    )
    rows = await fetch(
        f"""SELECT v.grant_name FROM ({visible}) v
            WHERE v.household_id = {p.add(household_id)}
              AND v.grant_name = ANY({p.add(allowed)}::text[])""",
        *p.values,
    )
    return rows[0]["grant_name"] if rows else None


async def writable(
    info: Info, kind: str, object_id: Any, ability: Ability
) -> tuple[uuid.UUID, uuid.UUID, str] | None:
    """(object id, dossier id, grant) when the object exists inside a dossier the viewer
    may write under `ability`; None otherwise (absent and out-of-grant look the same)."""
    oid = parse_id(object_id)
    if oid is None:
        return None
    rows = await fetch(_HOUSEHOLD_OF[kind], oid)
    if not rows:
        return None
    household_id = rows[0]["household_id"]
    grant = await write_grant(info, household_id, ability)
    return None if grant is None else (oid, household_id, grant)


def provided(value: Any) -> bool:
    return value is not strawberry.UNSET


def denied_inputs(info: Info, data: Any, path: list[str], errors: Errors) -> None:
    """Input fields the viewer's role may not write, by each field's own `@policy`
    (counter staff may correct names, addresses and contact details only)."""
    from schema.directives import Policy

    viewer = info.context.viewer
    definition = data.__strawberry_definition__
    for sfield in definition.fields:
        value = getattr(data, sfield.python_name)
        # Omitted fields change nothing; on update inputs (default UNSET) an explicit
        # null clears the field, so it needs the field's policy as much as a value does.
        if not provided(value) or (value is None and sfield.default is None):
            continue
        for directive in sfield.directives:
            if isinstance(directive, Policy) and not allowed_for_role(
                directive.ability, viewer.role, viewer.acting_as
            ):
                name = info.schema.config.name_converter.get_graphql_name(sfield)
                errors.add([*path, name], "FORBIDDEN_FIELD", "You may not change this field.")
