"""Per-request DataLoaders: one scoped SQL statement per kind of object and request.

Every loader starts from the viewer's scope (`permissions.scopes`), so a nested list
never holds a row the viewer's grant does not reach.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import strawberry
from strawberry.dataloader import DataLoader

from loket.db import fetch
from loket.settings import settings
from models.households import InformationSource as SourceKind
from permissions.scopes import (
    Params,
    visible_applications_condition,
    visible_children_condition,
)
from permissions.viewer import Viewer
from schema.households import Child, InformationSource, Parent
from schema.providers import ProviderLocation
from schema.regions import Municipality
from schema.requests import (
    Application,
    CareDay,
    CareRequest,
    DayPart,
    FiledByKind,
    RequestOrigin,
    Weekday,
)

Key = tuple[uuid.UUID, str]
WEEKDAYS = [d.value for d in Weekday]

LOCATION_COLUMNS = """l.id, l.name, o.name AS organisation_name, l.street, l.postal_code,
    l.municipality_id, lm.name AS municipality_name, l.kind, l.capacity, l.tariff,
    l.subsidy_step, l.min_age_months, l.max_age_months, l.opening_hours, l.opening_days,
    l.priority_policy, (SELECT coalesce(sum(lm.places), 0) FROM last_minute_place lm
        WHERE lm.location_id = l.id AND lm.withdrawn_at IS NULL
          AND lm.period_end >= current_date)::int AS last_minute_places"""
LOCATION_JOINS = """JOIN provider_organisation o ON o.id = l.organisation_id
    JOIN municipality lm ON lm.nis_code = l.municipality_id"""


def location_from_row(r: Any) -> ProviderLocation:
    return ProviderLocation(
        id=strawberry.ID(str(r["id"])),
        name=r["name"],
        organisation_name=r["organisation_name"],
        street=r["street"],
        postal_code=r["postal_code"],
        municipality=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
        kind=r["kind"],
        capacity=r["capacity"],
        tariff=r["tariff"],
        subsidy_step=r["subsidy_step"],
        min_age_months=r["min_age_months"],
        max_age_months=r["max_age_months"],
        opening_hours=r["opening_hours"],
        opening_days=[Weekday(d) for d in r["opening_days"] or []],
        priority_policy=r["priority_policy"],
        last_minute_places=r["last_minute_places"],
    )


def source_from_row(r: Any) -> InformationSource:
    return InformationSource(
        kind=SourceKind(r["situation_source"]),
        named_organisation=r["situation_source_organisation"],
        organisation_id=r["situation_source_organisation_id"],
        recorded_at=r["situation_recorded_at"],
    )


def parent_from_row(r: Any, grant: str) -> Parent:
    return Parent(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        grant=grant,
        first_name=r["first_name"],
        last_name=r["last_name"],
        street=r["street"],
        postal_code=r["postal_code"],
        municipality=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
        phone=r["phone"],
        email=r["email"],
        nationality=r["nationality"],
        birthplace=r["birthplace"],
        home_language=r["home_language"],
        relation_to_child=r["relation_to_child"],
        is_applicant=r["is_applicant"],
        work_situation=r["work_situation"],
        work_share_percent=r["work_share_percent"],
        education_level=r["education_level"],
        situation_source=source_from_row(r),
        has_account=r["user_id"] is not None,
    )


def child_from_row(r: Any, grant: str) -> Child:
    return Child(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        grant=grant,
        first_name=r["first_name"],
        last_name=r["last_name"],
        nickname=r["nickname"],
        birth_date=r["birth_date"],
        expected_birth_date=r["expected_birth_date"],
        is_born=r["birth_date"] is not None,
    )


def request_from_row(r: Any, grant: str) -> CareRequest:
    pattern = r["care_pattern"] or {}
    if isinstance(pattern, str):
        pattern = orjson.loads(pattern)
    return CareRequest(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        grant=grant,
        child_id=r["child_id"],
        location_ids=list(r["location_ids"] or []),
        desired_start_date=r["desired_start_date"],
        care_pattern=[
            CareDay(household_id=r["household_id"], grant=grant, day=Weekday(d), part=DayPart(p))
            for d, p in sorted(pattern.items(), key=lambda item: WEEKDAYS.index(item[0]))
        ],
        note=r["note"],
        status=r["status"],
        submitted_at=r["submitted_at"],
        on_emergency_list=r["on_emergency_list"],
        filed_by=RequestOrigin(
            kind=FiledByKind(r["filed_by_kind"]),
            named_organisation=r["filed_by_organisation"],
            organisation_id=r["filed_by_organisation_id"],
        ),
        closed_at=r["closed_at"],
    )


def application_from_row(r: Any, grant: str) -> Application:
    return Application(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        grant=grant,
        location=location_from_row(
            {k.removeprefix("loc_"): v for k, v in r.items() if k.startswith("loc_")}
        ),
        preference=r["preference"],
        status=r["status"],
        offered_start_date=r["offered_start_date"],
        reply_deadline=r["reply_deadline"],
    )


PARENT_SQL = """SELECT p.id, p.household_id, p.first_name, p.last_name, p.street, p.postal_code,
    p.municipality_id, pm.name AS municipality_name, p.phone, p.email, p.nationality,
    p.birthplace, p.home_language, p.relation_to_child, p.is_applicant, p.work_situation,
    p.work_share_percent, p.education_level, p.user_id, p.situation_source,
    p.situation_recorded_at, (SELECT name FROM referral_organisation
        WHERE id = p.situation_source_organisation_id) AS situation_source_organisation,
    p.situation_source_organisation_id
FROM parent p JOIN municipality pm ON pm.nis_code = p.municipality_id"""

CHILD_SQL = """SELECT c.id, c.household_id, c.first_name, c.last_name, c.nickname,
    c.birth_date, c.expected_birth_date FROM child c"""

REQUEST_SQL = """SELECT r.id, r.household_id, r.child_id, r.desired_start_date,
    r.care_pattern, r.note, r.status, r.submitted_at,
    (r.status = 'OPEN' AND r.desired_start_date <= current_date + {days}::int)
        AS on_emergency_list,
    ARRAY(SELECT a.location_id FROM application a WHERE a.request_id = r.id
          AND NOT a.by_emergency_offer ORDER BY a.preference, a.id) AS location_ids,
    r.closed_at,
    CASE WHEN r.filed_via_mandate_id IS NOT NULL THEN 'REFERRAL_WORKER'
         WHEN r.filed_by_id IS NULL OR EXISTS (SELECT 1 FROM parent fp
              WHERE fp.user_id = r.filed_by_id AND fp.household_id = r.household_id)
         THEN 'PARENT' ELSE 'ADMIN' END AS filed_by_kind,
    (SELECT ro.name FROM mandate fm
     JOIN referral_organisation ro ON ro.id = fm.referral_organisation_id
     WHERE fm.id = r.filed_via_mandate_id) AS filed_by_organisation,
    (SELECT fm.referral_organisation_id FROM mandate fm
     WHERE fm.id = r.filed_via_mandate_id) AS filed_by_organisation_id
FROM care_request r"""

APPLICATION_SQL = """SELECT a.id, a.request_id, r.household_id, a.preference, a.status,
    a.offered_start_date, a.reply_deadline,
    l.id AS loc_id, l.name AS loc_name, o.name AS loc_organisation_name,
    l.street AS loc_street, l.postal_code AS loc_postal_code,
    l.municipality_id AS loc_municipality_id, lm.name AS loc_municipality_name,
    l.kind AS loc_kind, l.capacity AS loc_capacity, l.tariff AS loc_tariff,
    l.subsidy_step AS loc_subsidy_step, l.min_age_months AS loc_min_age_months,
    l.max_age_months AS loc_max_age_months, l.opening_hours AS loc_opening_hours,
    l.opening_days AS loc_opening_days, l.priority_policy AS loc_priority_policy,
    (SELECT coalesce(sum(lm.places), 0) FROM last_minute_place lm
     WHERE lm.location_id = l.id AND lm.withdrawn_at IS NULL
       AND lm.period_end >= current_date)::int AS loc_last_minute_places
FROM application a JOIN care_request r ON r.id = a.request_id
JOIN provider_location l ON l.id = a.location_id
JOIN provider_organisation o ON o.id = l.organisation_id
JOIN municipality lm ON lm.nis_code = l.municipality_id"""


def _group(keys: Sequence[Key], rows: list[Any], column: str, build: Any) -> list[list[Any]]:
    # One dossier may be reached under two grants in one request (an inbox with a
    # selected and an emergency-list entry of one family): each key gets its own
    # objects, carrying its own grant, so the access log names the grant of each read.
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[r[column]].append(r)
    return [[build(r, grant) for r in grouped.get(k, [])] for k, grant in keys]


class Loaders:
    """The DataLoaders of one request, all bound to its viewer."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        days = settings.emergency_days
        self.days = days

        async def load_parents(keys: Sequence[Key]) -> list[list[Parent]]:
            rows = await fetch(
                f"{PARENT_SQL} WHERE p.household_id = ANY($1::uuid[])"
                " ORDER BY p.is_applicant DESC, p.id",
                [k for k, _ in keys],
            )
            return _group(keys, rows, "household_id", parent_from_row)

        async def load_children(keys: Sequence[Key]) -> list[list[Child]]:
            p = Params([[k for k, _ in keys]])
            cond = visible_children_condition(viewer, p, "c", emergency_days=days)
            rows = await fetch(
                f"{CHILD_SQL} WHERE c.household_id = ANY($1::uuid[]) AND {cond}"
                " ORDER BY c.created_at, c.id",
                *p.values,
            )
            return _group(keys, rows, "household_id", child_from_row)

        async def load_child(keys: Sequence[Key]) -> list[Child | None]:
            p = Params([[k for k, _ in keys]])
            cond = visible_children_condition(viewer, p, "c", emergency_days=days)
            rows = await fetch(f"{CHILD_SQL} WHERE c.id = ANY($1::uuid[]) AND {cond}", *p.values)
            found = {r["id"]: r for r in rows}
            return [child_from_row(found[k], grant) if k in found else None for k, grant in keys]

        async def load_requests(keys: Sequence[Key]) -> list[list[CareRequest]]:
            p = Params([[k for k, _ in keys]])
            cond = visible_children_condition(viewer, p, "c", emergency_days=days)
            rows = await fetch(
                REQUEST_SQL.format(days=p.add(days)) + f" JOIN child c ON c.id = r.child_id"
                f" WHERE r.household_id = ANY($1::uuid[]) AND {cond}"
                " ORDER BY r.submitted_at, r.id",
                *p.values,
            )
            return _group(keys, rows, "household_id", request_from_row)

        async def load_applications(keys: Sequence[Key]) -> list[list[Application]]:
            p = Params([[k for k, _ in keys]])
            cond = visible_applications_condition(viewer, p, "a")
            rows = await fetch(
                f"{APPLICATION_SQL} WHERE a.request_id = ANY($1::uuid[]) AND {cond}"
                " ORDER BY a.preference, a.id",
                *p.values,
            )
            return _group(keys, rows, "request_id", application_from_row)

        async def load_locations(keys: Sequence[uuid.UUID]) -> list[ProviderLocation | None]:
            rows = await fetch(
                f"SELECT {LOCATION_COLUMNS} FROM provider_location l {LOCATION_JOINS}"
                " WHERE l.id = ANY($1::uuid[])",
                list(keys),
            )
            found = {r["id"]: location_from_row(r) for r in rows}
            return [found.get(k) for k in keys]

        self.parents = DataLoader(load_fn=load_parents)
        self.children = DataLoader(load_fn=load_children)
        self.child = DataLoader(load_fn=load_child)
        self.requests = DataLoader(load_fn=load_requests)
        self.applications = DataLoader(load_fn=load_applications)
        self.locations = DataLoader(load_fn=load_locations)

        # Mandates and consent ledgers are built in their own modules, imported late
        # because those modules import this one.
        async def load_mandates(keys: Sequence[Key]) -> list[list[Any]]:
            from resolvers.mandates import mandates_of_households

            return await mandates_of_households(viewer, keys)

        async def load_consents(keys: Sequence[Key]) -> list[list[Any]]:
            from resolvers.consents import consents_of_households

            return await consents_of_households(keys)

        self.mandates = DataLoader(load_fn=load_mandates)
        self.consents = DataLoader(load_fn=load_consents)
