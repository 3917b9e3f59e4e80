"""The compiled plans' shortcuts in the row scope (`loket.planner`) agree with the scope
itself (`permissions.scopes`), for every dossier of a world built to reach each branch:

- a dossier by id for a provider or a sick-child service finds the dossier's grant and its
  visible children in one pass over its children (`permissions.scopes.child_grants`);
- an inbox entry's request has its child in scope by the candidate condition itself.

Both are also compared with strawberry by the differential check on every planned
request of the suite; here each branch, alone and combined, is checked directly."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise import connections

from loket import planner
from loket.settings import settings
from models.accounts import Role
from models.households import Child
from permissions.scopes import Params, visible_children_condition, visible_households
from permissions.viewer import Viewer, load_viewer
from tests import factories as f


async def _viewer(user: Any) -> Viewer:
    async with connections.get("default").acquire_connection() as conn:
        viewer = await load_viewer(conn, user.id, None)
    assert viewer is not None
    return viewer


async def _fetch(sql: str, values: list[Any]) -> list[Any]:
    async with connections.get("default").acquire_connection() as conn:
        return list(await conn.fetch(sql, *values))


async def _by_scope(viewer: Viewer, household_id: Any) -> tuple[str | None, set[Any]]:
    """The dossier's grant and visible children as the resolvers find them."""
    p = Params()
    visible = visible_households(viewer, p, emergency_days=settings.emergency_days)
    condition = visible_children_condition(viewer, p, "c", emergency_days=settings.emergency_days)
    hid = p.add(household_id)
    rows = await _fetch(
        f"SELECT v.grant_name, (SELECT array_agg(c.id) FROM child c "
        f"WHERE c.household_id = v.household_id AND {condition}) AS children "
        f"FROM ({visible}) v WHERE v.household_id = {hid}::uuid",
        p.values,
    )
    if not rows:
        return None, set()
    return rows[0]["grant_name"], set(rows[0]["children"] or ())


async def _by_children(viewer: Viewer, household_id: Any) -> tuple[str | None, set[Any]]:
    """The same as the compiled dossier plan finds them."""
    from permissions.scopes import child_grants

    rc = planner.Render(viewer, {})
    grants = child_grants(viewer, rc.p, "c0", emergency_days=settings.emergency_days)
    assert grants is not None
    ctes = planner._dossier_by_children(rc, "u0", "c0", household_id, grants)
    vc = rc._child_scopes[planner._households_of("u0")]
    rows = await _fetch(
        f"WITH {ctes} SELECT (SELECT grant_name FROM u0) AS grant_name, "
        f"(SELECT array_agg(id) FROM {vc} WHERE EXISTS (SELECT 1 FROM u0)) AS children",
        rc.p.values,
    )
    return rows[0]["grant_name"], set(rows[0]["children"] or ())


async def _provider_world() -> tuple[Any, list[Any]]:
    leuven = await f.municipality("24062", "Leuven")
    elsewhere = await f.municipality("11002", "Antwerpen")
    loc = await f.location(leuven)
    near = await f.location(leuven)  # same municipality: its requests can be on the list
    far = await f.location(elsewhere)
    dossiers = []

    async def family(muni: Any = leuven) -> tuple[Any, Any]:
        h, _ = await f.household(muni)
        dossiers.append(h)
        return h, await f.child(h, born=f.days(-200))

    # selected: an open application here, a sibling without one
    h, c = await family()
    await f.care_request(c, loc)
    await f.child(h, born=f.days(-900))
    # selected, but the request is closed / the application declined
    _, c = await family()
    await f.care_request(c, loc, status="WITHDRAWN")
    _, c = await family()
    await f.care_request(c, loc, application_status="DECLINED")
    # enrolled, and enrolled long ago (past retention)
    _, c = await family()
    await f.enrolment(c, loc)
    _, c = await family()
    await f.enrolment(c, loc, start=f.days(-4000), end_date=f.days(-3000))
    # on the emergency list: residence here, or a chosen location here; and too late
    _, c = await family()
    await f.care_request(c, far, start=f.days(20))
    _, c = await family(elsewhere)
    await f.care_request(c, near, start=f.days(20))
    _, c = await family(elsewhere)
    await f.care_request(c, far, start=f.days(20))
    _, c = await family()
    await f.care_request(c, far, start=f.days(200))
    # several grants at once: the first in Grant order is the dossier's
    h, c = await family()
    await f.enrolment(c, loc)
    c2 = await f.child(h, born=f.days(-300))
    await f.care_request(c2, loc)
    # an anonymised child: selected (the dossier stays reached), enrolled (it does not)
    h, c = await family()
    await f.care_request(c, loc)
    await Child.filter(id=c.id).update(anonymised_at=f.days(-1))
    h, c = await family()
    await f.enrolment(c, loc)
    await Child.filter(id=c.id).update(anonymised_at=f.days(-1))
    # an anonymised child on the list beside a live enrolled sibling
    h, c = await family()
    await f.care_request(c, far, start=f.days(20))
    await Child.filter(id=c.id).update(anonymised_at=f.days(-1))
    await f.enrolment(await f.child(h, born=f.days(-500)), loc)
    # nothing here; a family without children
    _, c = await family()
    await f.care_request(c, far)
    await family()
    return await f.user(Role.PROVIDER, provider_location=loc), dossiers


async def test_a_providers_dossier_grant_and_children_found_from_the_children(db) -> None:
    provider, dossiers = await _provider_world()
    viewer = await _viewer(provider)
    grants = set()
    for h in dossiers:
        expected = await _by_scope(viewer, h.id)
        assert await _by_children(viewer, h.id) == expected, h.id
        grants.add(expected[0])
    # the world reaches every branch, and also none
    assert grants == {None, "PROVIDER_SELECTED", "PROVIDER_ENROLLED", "PROVIDER_EMERGENCY"}


async def test_a_sick_child_services_dossier_grant_and_children_from_the_children(db) -> None:
    leuven = await f.municipality("24062", "Leuven")
    service = await f.sick_child_service()
    staff = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)
    dossiers = []
    for used, anonymised in [(True, False), (True, True), (False, False)]:
        h, _ = await f.household(leuven)
        c = await f.child(h, born=f.days(-400))
        await f.child(h, born=f.days(-100))
        if used:
            await f.service_record(service, c)
        if anonymised:
            await Child.filter(id=c.id).update(anonymised_at=f.days(-1))
        dossiers.append(h)
    viewer = await _viewer(staff)
    found = [await _by_scope(viewer, h.id) for h in dossiers]
    assert [g for g, _ in found] == ["SICK_CHILD_SERVICE", None, None]
    assert len(found[0][1]) == 1
    for h, expected in zip(dossiers, found, strict=True):
        assert await _by_children(viewer, h.id) == expected


@pytest.mark.parametrize("role", [Role.PARENT, Role.ADMIN, Role.LOKET, Role.TOELEIDER])
async def test_roles_with_whole_dossier_grants_use_the_dossier_branches(db, role: Role) -> None:
    from permissions.scopes import child_grants

    viewer = Viewer(role=role)
    assert child_grants(viewer, Params(), "c", emergency_days=60) is None


async def test_an_inbox_entrys_child_is_in_the_providers_child_scope(db) -> None:
    """What `_inbox_request` relies on: every candidate of the inbox, selected or on the
    emergency list, has its child in the provider's child scope."""
    from resolvers.inbox import candidates_query

    provider, _ = await _provider_world()
    viewer = await _viewer(provider)
    (loc,) = viewer.location_ids
    sql, values = candidates_query(loc, None)
    candidates = await _fetch(sql, values)
    reasons = {r["reason"] for r in candidates}
    assert reasons == {"SELECTED", "EMERGENCY_LIST"}
    p = Params()
    condition = visible_children_condition(viewer, p, "c", emergency_days=settings.emergency_days)
    ids = p.add([r["request_id"] for r in candidates])
    rows = await _fetch(
        f"SELECT r.id, EXISTS (SELECT 1 FROM child c WHERE c.id = r.child_id AND {condition}) "
        f"AS visible FROM care_request r WHERE r.id = ANY({ids}::uuid[])",
        p.values,
    )
    assert len(rows) == len(candidates)
    assert all(r["visible"] for r in rows)


REGION_EXACT = """
SELECT h.id FROM household h WHERE h.anonymised_at IS NULL AND (
    h.municipality_id = ANY($1::text[])
    OR EXISTS (SELECT 1 FROM care_request r JOIN application a ON a.request_id = r.id
               JOIN provider_location l ON l.id = a.location_id
               WHERE r.household_id = h.id AND l.municipality_id = ANY($1::text[])))"""


async def _region(viewer: Viewer) -> tuple[set[Any], set[Any]]:
    """(what the scope gives a counter, the region by its definition)."""
    p = Params()
    visible = visible_households(viewer, p, emergency_days=settings.emergency_days)
    scoped = {r["household_id"] for r in await _fetch(visible, p.values)}
    munis = list(viewer.counter_municipalities)
    exact = {r["id"] for r in await _fetch(REGION_EXACT, [munis])}
    return scoped, exact


async def test_a_counters_region_follows_residence_applications_and_anonymisation(
    db,
) -> None:
    """The region scope reads the links migration 0014 keeps (a superset), then holds each
    dossier to the exact condition: the same set as the definition after each change,
    including those that leave a link without its reason."""
    from models.households import Household
    from models.providers import ProviderLocation
    from models.requests import Application

    leuven = await f.municipality("24062", "Leuven")
    elders = await f.municipality("11002", "Antwerpen")
    here = await f.location(leuven)
    there = await f.location(elders)
    counter = await f.counter("Loket Leuven", leuven)
    staff = await f.user(Role.LOKET, counter=counter)
    viewer = await _viewer(staff)

    resident, _ = await f.household(leuven)
    applicant, _ = await f.household(elders)
    request = await f.care_request(await f.child(applicant, born=f.days(-90)), here)
    stranger, _ = await f.household(elders)
    await f.care_request(await f.child(stranger, born=f.days(-90)), there)

    async def check(expected: set[Any]) -> None:
        scoped, exact = await _region(viewer)
        assert scoped == exact == expected

    await check({resident.id, applicant.id})
    # the application goes: its link stays, the dossier leaves the region
    await Application.filter(request_id=request.id).delete()
    await check({resident.id})
    # the family moves here, then away again
    await Household.filter(id=stranger.id).update(municipality_id=leuven.nis_code)
    await check({resident.id, stranger.id})
    await Household.filter(id=stranger.id).update(municipality_id=elders.nis_code)
    await check({resident.id})
    # the stranger's chosen location moves into the region
    await ProviderLocation.filter(id=there.id).update(municipality_id=leuven.nis_code)
    await check({resident.id, stranger.id})
    # an anonymised dossier is in no one's region, and loses its links
    await Household.filter(id=resident.id).update(anonymised_at=f.days(-1))
    await check({stranger.id})
    links = await _fetch(
        "SELECT count(*) AS n FROM household_municipality WHERE household_id = $1",
        [resident.id],
    )
    assert links[0]["n"] == 0
