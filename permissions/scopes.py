"""Row scoping: the dossiers, children and applications a viewer's grants reach, as SQL.

Resolvers start every read of dossier data from these sets ("load only what the
viewer may see first"); rows outside them do not exist for the viewer. Each grant is
one indexed branch of a UNION, labelled with the grant it stands for, so the access
log can say which grant a read used.

A dossier the retention job anonymised (`household.anonymised_at`) exists for no one:
every branch requires it live, and an anonymised child is left out of every child
condition (also inside a live dossier: a younger sibling may keep it open).
"""

from __future__ import annotations

from typing import Any

from loket.settings import settings
from models.accounts import Role
from models.requests import OPEN_APPLICATION_STATUSES_SQL
from permissions.policy import ROLE_GRANTS, WRITE_GRANTS, Grant
from permissions.viewer import Viewer


class Params:
    """Positional parameters for asyncpg (`$1`, `$2`, ...)."""

    def __init__(self, values: list[Any] | None = None) -> None:
        self.values: list[Any] = values if values is not None else []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def emergency_condition(request: str, household: str, municipalities: str, days: str) -> str:
    """SQL: the request is on the emergency list for providers in `municipalities`.

    Still open (no positive answer) and its desired start is `days` days away or closer,
    and the residence or any chosen location lies in one of the municipalities.
    """
    return f"""{request}.status = 'OPEN'
        AND {request}.desired_start_date <= current_date + {days}::int
        AND ({household}.municipality_id = ANY({municipalities})
             OR EXISTS (SELECT 1 FROM application ea
                        JOIN provider_location el ON el.id = ea.location_id
                        WHERE ea.request_id = {request}.id
                          AND el.municipality_id = ANY({municipalities})))"""


def selected_condition(application: str, request: str, locations: str) -> str:
    """SQL: the request is still open at one of `locations` (provider grant (a))."""
    return f"""{application}.location_id = ANY({locations}::uuid[])
        AND {application}.status IN {OPEN_APPLICATION_STATUSES_SQL} AND {request}.status = 'OPEN'"""


def live(table: str) -> str:
    """SQL: the household or child `table` is not anonymised."""
    return f"{table}.anonymised_at IS NULL"


def _enrolled(enrolment: str, locations: str, retention_years: str) -> str:
    """SQL: the child is or was enrolled at one of `locations`, within retention (b)."""
    return f"""{enrolment}.location_id = ANY({locations}::uuid[])
        AND ({enrolment}.end_date IS NULL
             OR {enrolment}.end_date > current_date - make_interval(years => {retention_years}))"""


def _branches(
    viewer: Viewer, p: Params, emergency_days: int, write: bool
) -> list[tuple[Grant, str]]:
    """(grant, SQL selecting `household_id`) for every grant the viewer's role holds
    (with `write`, only grants that allow writing). Parameters are added only for the
    branches returned: an unused `$n` would leave PostgreSQL without its type."""
    role = viewer.effective_role
    if role is None or (write and not ROLE_GRANTS[role] & WRITE_GRANTS):
        return []
    if role is Role.PARENT:
        uid = p.add(viewer.user_id)
        return [
            (
                Grant.OWN_HOUSEHOLD,
                f"""SELECT p.household_id FROM parent p
                    JOIN household h ON h.id = p.household_id
                    WHERE p.user_id = {uid} AND {live("h")}""",
            )
        ]
    if role is Role.ADMIN:
        return [(Grant.ADMIN, f"SELECT id AS household_id FROM household h WHERE {live('h')}")]
    if role is Role.TOELEIDER:
        orgs = p.add(list(viewer.referral_organisation_ids))
        return [
            (
                Grant.ACTIVE_MANDATE,
                f"""SELECT md.household_id FROM mandate md
                    JOIN household h ON h.id = md.household_id
                    WHERE md.referral_organisation_id = ANY({orgs}::uuid[])
                      AND md.revoked_at IS NULL AND {live("h")}""",
            )
        ]
    if role is Role.LOKET:
        munis = p.add(list(viewer.counter_municipalities))
        return [
            (
                Grant.COUNTER_REGION,
                # The region's dossiers in dossier order from the links the database
                # keeps (migration 0014: a superset), each then held to the region's
                # exact condition: a page of a counter's list reads a page of links.
                # (the links in dossier order first: a page stops after its last one)
                f"""SELECT h.id AS household_id FROM (
                        SELECT DISTINCT m.household_id FROM household_municipality m
                        WHERE m.municipality_id = ANY({munis}::text[])
                        ORDER BY m.household_id OFFSET 0) hm
                    JOIN household h ON h.id = hm.household_id
                    WHERE {live("h")}
                      AND (h.municipality_id = ANY({munis}::text[])
                           OR EXISTS (SELECT 1 FROM care_request r
                                      JOIN application a ON a.request_id = r.id
                                      JOIN provider_location l ON l.id = a.location_id
                                      WHERE r.household_id = h.id
                                        AND l.municipality_id = ANY({munis}::text[])))""",
            )
        ]
    if role is Role.PROVIDER:
        locs = p.add(list(viewer.location_ids))
        retention = p.add(settings.retention_years)
        branches = [
            (
                Grant.PROVIDER_SELECTED,
                f"""SELECT r.household_id FROM application a
                    JOIN care_request r ON r.id = a.request_id
                    JOIN household h ON h.id = r.household_id
                    WHERE {selected_condition("a", "r", locs)} AND {live("h")}""",
            ),
            (
                Grant.PROVIDER_ENROLLED,
                f"""SELECT c.household_id FROM enrolment e JOIN child c ON c.id = e.child_id
                    JOIN household h ON h.id = c.household_id
                    WHERE {_enrolled("e", locs, retention)} AND {live("c")}
                      AND {live("h")}""",
            ),
        ]
        if not write:
            munis = p.add(list(viewer.location_municipalities))
            days = p.add(emergency_days)
            branches.append(
                (
                    Grant.PROVIDER_EMERGENCY,
                    f"""SELECT r.household_id FROM care_request r
                        JOIN household eh ON eh.id = r.household_id
                        WHERE {emergency_condition("r", "eh", f"{munis}::text[]", days)}
                          AND {live("eh")}""",
                )
            )
        return branches
    if role is Role.SICK_CHILD_SERVICE:
        services = p.add(list(viewer.sick_child_service_ids))
        return [
            (
                Grant.SICK_CHILD_SERVICE,
                f"""SELECT c.household_id FROM service_record s JOIN child c ON c.id = s.child_id
                    JOIN household h ON h.id = c.household_id
                    WHERE s.service_id = ANY({services}::uuid[]) AND {live("c")}
                      AND {live("h")}""",
            )
        ]
    return []


def visible_households(
    viewer: Viewer, p: Params, *, emergency_days: int, write: bool = False
) -> str:
    """SQL of (household_id, grant) for every dossier the viewer reaches, one row each.

    With several grants on one dossier the first in `Grant` order is reported.
    With `write`, only grants that allow writing count.
    """
    branches = _branches(viewer, p, emergency_days, write)
    assert not write or all(grant in WRITE_GRANTS for grant, _ in branches)
    if not branches:
        return "SELECT NULL::uuid AS household_id, NULL::text AS grant_name WHERE false"
    if len(branches) == 1:
        grant, sql = branches[0]
        return f"SELECT DISTINCT household_id, '{grant.value}'::text AS grant_name FROM ({sql}) b"
    order = {g: i for i, g in enumerate(Grant)}
    union = " UNION ALL ".join(
        f"SELECT household_id, {order[g]} AS rank, '{g.value}'::text AS grant_name FROM ({sql}) b"
        for g, sql in branches
    )
    return (
        "SELECT DISTINCT ON (household_id) household_id, grant_name "
        f"FROM ({union}) u ORDER BY household_id, rank"
    )


def scopes_children(viewer: Viewer) -> bool:
    """Whether the viewer's grants are about particular children (`child_grants`); for
    every other role a reachable dossier's live children are all visible."""
    return viewer.effective_role in (Role.PROVIDER, Role.SICK_CHILD_SERVICE)


def child_grants(
    viewer: Viewer, p: Params, child: str, *, emergency_days: int
) -> list[tuple[Grant, bool, str]] | None:
    """For roles whose every grant is about particular children (providers, sick-child
    services): per grant, in `Grant` order, (grant, whether it needs the child live, SQL
    condition on `child`). None for the other roles, whose grants cover whole dossiers.

    A child is visible when live and any condition holds; a dossier is reached by a grant
    when one of its children (live, where the grant needs it) meets its condition: each
    condition is the grant's branch of `visible_households` seen from the child (a
    request's household is its child's: migration 0012), so the compiled plans can find
    a dossier's grant and its visible children in one pass over its children
    (`loket.planner`; `tests/test_planner.py` compares the two for every dossier)."""
    role = viewer.effective_role
    if role is Role.PROVIDER:
        locs = p.add(list(viewer.location_ids))
        retention = p.add(settings.retention_years)
        munis = p.add(list(viewer.location_municipalities))
        days = p.add(emergency_days)
        return [
            (
                Grant.PROVIDER_SELECTED,
                False,
                f"""EXISTS (SELECT 1 FROM care_request r
                           JOIN application a ON a.request_id = r.id
                           WHERE r.child_id = {child}.id
                             AND {selected_condition("a", "r", locs)})""",
            ),
            (
                Grant.PROVIDER_ENROLLED,
                True,
                f"""EXISTS (SELECT 1 FROM enrolment e WHERE e.child_id = {child}.id
                            AND {_enrolled("e", locs, retention)})""",
            ),
            (
                Grant.PROVIDER_EMERGENCY,
                False,
                f"""EXISTS (SELECT 1 FROM care_request r JOIN household eh
                              ON eh.id = r.household_id
                            WHERE r.child_id = {child}.id AND
                            {emergency_condition("r", "eh", f"{munis}::text[]", days)})""",
            ),
        ]
    if role is Role.SICK_CHILD_SERVICE:
        services = p.add(list(viewer.sick_child_service_ids))
        return [
            (
                Grant.SICK_CHILD_SERVICE,
                True,
                f"""EXISTS (SELECT 1 FROM service_record s
                           WHERE s.child_id = {child}.id
                           AND s.service_id = ANY({services}::uuid[]))""",
            )
        ]
    return None


def visible_children_condition(
    viewer: Viewer, p: Params, child: str, *, emergency_days: int
) -> str:
    """SQL condition on `child`: which children of a reachable dossier the viewer sees.

    Providers see only the children their grant is about; sick-child services only the
    children who used the service; every other grant covers the whole dossier. An
    anonymised child exists for no one.
    """
    grants = child_grants(viewer, p, child, emergency_days=emergency_days)
    if grants is None:
        return live(child)
    return f"({live(child)} AND ({' OR '.join(condition for _, _, condition in grants)}))"


def visible_applications_condition(viewer: Viewer, p: Params, application: str) -> str:
    """SQL condition on `application`: providers see only their own locations' applications."""
    if viewer.effective_role is Role.PROVIDER:
        locs = p.add(list(viewer.location_ids))
        return f"{application}.location_id = ANY({locs}::uuid[])"
    return "true"
