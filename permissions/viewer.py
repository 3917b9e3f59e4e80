"""Who is asking: the user behind a token, the role they act in, and their scope ids.

Memberships are read from the database on every request, so revoking one takes effect
at once. A membership counts only while the agreements its role needs are in force today
(`permissions.agreements`): without them it is treated as absent, so an agreement that
ends removes the access on the next request. A user holding several roles chooses one
per request (`X-Loket-Role`); the grants of one role never mix with another's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from models.accounts import Role
from permissions.agreements import AGREEMENT_MISSING, membership_in_force


class RoleSelectionError(Exception):
    """The request names a role the user does not hold (403), or whose agreement is not
    in force (403, AGREEMENT_MISSING), or an unknown role, or must name one (400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = 403 if code in ("ROLE_NOT_HELD", AGREEMENT_MISSING) else 400


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID | None = None
    email: str | None = None
    role: Role | None = None
    # For an INTEGRATOR: the role it acts as (PROVIDER or LOKET).
    acting_as: Role | None = None
    roles: tuple[Role, ...] = ()
    counter_municipalities: tuple[str, ...] = ()
    location_ids: tuple[uuid.UUID, ...] = ()
    location_municipalities: tuple[str, ...] = ()
    referral_organisation_ids: tuple[uuid.UUID, ...] = ()
    sick_child_service_ids: tuple[uuid.UUID, ...] = ()
    # Roles the user holds only through memberships whose agreement is not in force:
    # they give nothing; denials say AGREEMENT_MISSING when no other role is in force.
    roles_without_agreement: tuple[Role, ...] = ()

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def effective_role(self) -> Role | None:
        """The role whose grants apply: an integrator's acting role, else the role."""
        return self.acting_as if self.role is Role.INTEGRATOR else self.role


ANONYMOUS = Viewer()

_VIEWER_SQL = f"""
SELECT u.id, u.email, m.role, m.counter_id, m.referral_organisation_id,
       m.sick_child_service_id, {membership_in_force()} AS in_force,
       ARRAY(SELECT cm.municipality_id FROM counter_municipality cm
             WHERE cm.counter_id = m.counter_id) AS counter_munis,
       ARRAY(SELECT l.id FROM provider_location l
             WHERE l.id = m.provider_location_id
                OR l.organisation_id = m.provider_organisation_id) AS locs,
       ARRAY(SELECT DISTINCT l.municipality_id FROM provider_location l
             WHERE l.id = m.provider_location_id
                OR l.organisation_id = m.provider_organisation_id) AS loc_munis
FROM app_user u
LEFT JOIN membership m ON m.user_id = u.id AND m.revoked_at IS NULL
WHERE u.id = $1 AND u.is_active
"""


async def load_viewer(conn: Any, user_id: uuid.UUID, requested_role: str | None) -> Viewer | None:
    """One query: the active user and the memberships of the role they act in, each
    with whether its agreements are in force today (those not in force count as absent)."""
    rows = await conn.fetch(_VIEWER_SQL, user_id)
    if not rows:
        return None
    held = [r for r in rows if r["role"] is not None and r["in_force"]]
    roles = tuple(sorted({Role(r["role"]) for r in held}))
    without_agreement = tuple(
        sorted({Role(r["role"]) for r in rows if r["role"] is not None} - set(roles))
    )
    if requested_role:
        try:
            role: Role | None = Role(requested_role)
        except ValueError:
            raise RoleSelectionError("UNKNOWN_ROLE", "X-Loket-Role names no known role") from None
        if role in without_agreement:
            raise RoleSelectionError(
                AGREEMENT_MISSING,
                "the agreement the requested role needs (processing agreement of the "
                "organisation, or the user's confidentiality agreement) is not in force",
            )
        if role not in roles:
            raise RoleSelectionError("ROLE_NOT_HELD", "the user does not hold the requested role")
    elif len(roles) > 1:
        raise RoleSelectionError(
            "ROLE_REQUIRED", "the user holds several roles: choose one with X-Loket-Role"
        )
    else:
        role = roles[0] if roles else None
    if role is None and Role.INTEGRATOR in without_agreement:
        # A machine client exists only to act for its organisation: without that
        # organisation's agreement it gets nothing, not an anonymous caller's public view
        # (which would also escape the registered-operations rule).
        raise RoleSelectionError(
            AGREEMENT_MISSING,
            "the processing agreement of the organisation this client acts for is not in force",
        )
    mine = [r for r in held if r["role"] == role]
    acting_as: Role | None = None
    if role is Role.INTEGRATOR:
        acting_as = Role.LOKET if any(r["counter_id"] for r in mine) else Role.PROVIDER
    return Viewer(
        user_id=rows[0]["id"],
        email=rows[0]["email"],
        role=role,
        acting_as=acting_as,
        roles=roles,
        counter_municipalities=tuple(sorted({m for r in mine for m in r["counter_munis"]})),
        location_ids=tuple(sorted({loc for r in mine for loc in r["locs"]})),
        location_municipalities=tuple(sorted({m for r in mine for m in r["loc_munis"]})),
        referral_organisation_ids=tuple(
            sorted({r["referral_organisation_id"] for r in mine if r["referral_organisation_id"]})
        ),
        sick_child_service_ids=tuple(
            sorted({r["sick_child_service_id"] for r in mine if r["sick_child_service_id"]})
        ),
        roles_without_agreement=without_agreement,
    )
