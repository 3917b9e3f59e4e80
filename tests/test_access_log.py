"""The access log: non-parent reads of personal data, one write per request."""

from __future__ import annotations

import json
from typing import Any

from models.access_log import AccessLogEntry
from models.accounts import Role
from tests import factories as f

DOSSIERS = """query Region { dossiers(first: 50) { edges { node { id
    parents { firstName phone workSituation } } } } }"""


async def _region(n: int) -> tuple[Any, Any, list[Any]]:
    leuven = await f.municipality("24062", "Leuven")
    counter = await f.counter("Loket", leuven)
    loket = await f.user(Role.LOKET, counter=counter)
    parent_user = await f.user(Role.PARENT)
    households = []
    for i in range(n):
        h, _ = await f.household(leuven, parent_user if i == 0 else None)
        households.append(h)
    return loket, parent_user, households


async def test_counter_read_is_logged_once_per_dossier_in_one_statement(
    actor, count_statements
) -> None:
    loket, _, households = await _region(3)
    count_statements.statements.clear()

    result = await actor(loket).gql(DOSSIERS)

    assert len(result["data"]["dossiers"]["edges"]) == 3
    inserts = [s for s in count_statements.statements if "INSERT INTO access_log" in s]
    assert len(inserts) == 1
    rows = await AccessLogEntry.all().order_by("household_id")
    assert sorted(str(r.household_id) for r in rows) == sorted(str(h.id) for h in households)
    for row in rows:
        assert row.viewer_id == loket.id
        assert row.role == "LOKET"
        assert row.grant_name == "COUNTER_REGION"
        assert row.operation_name == "Region"
        fields = (
            row.fields_read if isinstance(row.fields_read, list) else json.loads(row.fields_read)
        )
        # workSituation was FORBIDDEN, so it was not read and is not logged.
        assert sorted(fields) == ["Parent.firstName", "Parent.phone"]
    assert len({r.request_id for r in rows}) == 1


async def test_parent_reading_own_dossier_is_not_logged(actor) -> None:
    _, parent_user, _ = await _region(1)

    result = await actor(parent_user).gql(DOSSIERS)

    assert (
        result["data"]["dossiers"]["edges"][0]["node"]["parents"][0]["workSituation"] == "WORKING"
    )
    assert await AccessLogEntry.all().count() == 0


async def test_reading_only_public_fields_writes_nothing(actor) -> None:
    loket, _, _ = await _region(2)

    await actor(loket).gql("{ dossiers { edges { node { id } } } }")

    assert await AccessLogEntry.all().count() == 0


async def test_provider_read_is_logged_with_its_grant(actor) -> None:
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    h, _ = await f.household(leuven)
    c = await f.child(h, born=f.days(-100))
    await f.care_request(c, loc)

    await actor(provider).gql(
        "query($id: ID!) { household(id: $id) { children { firstName birthDate } } }",
        {"id": str(h.id)},
    )

    row = await AccessLogEntry.get()
    assert (row.role, row.grant_name, str(row.household_id)) == (
        "PROVIDER",
        "PROVIDER_SELECTED",
        str(h.id),
    )
    fields = row.fields_read if isinstance(row.fields_read, list) else json.loads(row.fields_read)
    assert sorted(fields) == ["Child.birthDate", "Child.firstName"]


async def test_deletes_act_on_the_log_as_the_references_said(actor, db) -> None:
    """The log's references carry no constraints (migration 0011); triggers do on delete
    what the constraints did: a household's rows go with it, a user's and a disclosure's
    rows stay with the reference cleared."""
    import datetime

    from models.accounts import User
    from models.households import Household
    from models.privacy import Disclosure

    loket, _, (kept, erased) = await _region(2)
    disclosure = await Disclosure.create(
        household=kept,
        authority="Parket",
        legal_basis="Art. 1",
        data_disclosed="names",
        disclosed_on=datetime.date(2026, 1, 5),
    )
    await actor(loket).gql(DOSSIERS)
    await AccessLogEntry.filter(household_id=kept.id).update(disclosure_id=disclosure.id)
    assert await AccessLogEntry.filter(viewer_id=loket.id).count() == 2

    await Household.filter(id=erased.id).delete()
    assert await AccessLogEntry.filter(household_id=erased.id).count() == 0
    assert await AccessLogEntry.filter(household_id=kept.id).count() == 1

    await Disclosure.filter(id=disclosure.id).delete()
    (row,) = await AccessLogEntry.all()
    assert row.disclosure_id is None  # type: ignore[attr-defined]

    await User.filter(id=loket.id).delete()
    (row,) = await AccessLogEntry.all()
    assert row.viewer_id is None  # type: ignore[attr-defined]
    assert row.household_id == kept.id  # type: ignore[attr-defined]
