"""The demo data set: idempotent, atomic, and every demo user reaches the dossiers it should."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from loket import demo
from loket.db import fetch
from models.accounts import Role, User
from models.households import Child, Household
from models.regions import Municipality
from models.services import ServiceRecord
from permissions.policy import Grant
from permissions.scopes import Params, visible_households
from permissions.viewer import Viewer
from resolvers import uniqueness

G = Grant
# Dossiers are named by their parents' first names.
ALL = {"An+Bram": G.ADMIN, "Chloé": G.ADMIN, "Dirk+Sanne": G.ADMIN, "Els": G.ADMIN}
COUNTER = {"An+Bram": G.COUNTER_REGION, "Chloé": G.COUNTER_REGION, "Els": G.COUNTER_REGION}
SPEELBOOM = {"An+Bram": G.PROVIDER_SELECTED, "Els": G.PROVIDER_ENROLLED}
EXPECTED: dict[str, dict[str, Grant]] = {
    "admin@demo.loket.be": ALL,
    "an@demo.loket.be": {"An+Bram": G.OWN_HOUSEHOLD},
    "bram@demo.loket.be": {"An+Bram": G.OWN_HOUSEHOLD},
    "chloe@demo.loket.be": {"Chloé": G.OWN_HOUSEHOLD},
    "dirk@demo.loket.be": {"Dirk+Sanne": G.OWN_HOUSEHOLD},
    "els@demo.loket.be": {"Els": G.OWN_HOUSEHOLD},
    "fien@demo.loket.be": {},
    "loket@demo.loket.be": COUNTER,
    "integrator.loket@demo.loket.be": COUNTER,
    "provider.leuven@demo.loket.be": SPEELBOOM,
    "integrator.provider@demo.loket.be": SPEELBOOM,
    "provider.herent@demo.loket.be": {"Chloé": G.PROVIDER_SELECTED},
    "provider.mechelen@demo.loket.be": {"Dirk+Sanne": G.PROVIDER_SELECTED},
    "toeleider@demo.loket.be": {"Chloé": G.ACTIVE_MANDATE},
    "ziekekind@demo.loket.be": {"Els": G.SICK_CHILD_SERVICE},
}

DOSSIERS = "{ dossiers(first: 50) { edges { node { viewerGrant parents { firstName } } } } }"


async def test_load_is_idempotent(db: str) -> None:
    assert await demo.load_demo() is True
    assert await demo.load_demo() is False
    assert await User.all().count() == len(demo.USERS)
    assert await Municipality.filter(region__name="Leuven").count() == 19
    assert await Household.all().count() == len(demo.HOUSEHOLDS)


async def test_load_is_atomic(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ServiceRecord, "create", fail)
    with pytest.raises(RuntimeError):
        await demo.load_demo()
    assert await User.all().count() == 0
    assert await Municipality.all().count() == 0


async def test_every_demo_user_reaches_the_expected_dossiers(db: str, actor: Any) -> None:
    await demo.load_demo()
    assert set(EXPECTED) == {u[0] for u in demo.USERS}
    for email, expected in EXPECTED.items():
        user = await User.get(email=email)
        result = await actor(user).gql(DOSSIERS)
        assert "errors" not in result, (email, result["errors"])
        seen = {
            "+".join(sorted(p["firstName"] for p in edge["node"]["parents"])): Grant(
                edge["node"]["viewerGrant"]
            )
            for edge in result["data"]["dossiers"]["edges"]
        }
        assert seen == expected, email


@pytest.mark.parametrize(
    ("municipalities", "expected"),
    [
        ((demo.HERENT,), {"Chloé"}),
        ((demo.LUBBEEK,), {"Chloé"}),
        ((demo.LEUVEN, demo.MECHELEN), set()),
    ],
)
async def test_only_chloes_request_is_on_the_emergency_list(
    db: str, municipalities: tuple[str, ...], expected: set[str]
) -> None:
    await demo.load_demo()
    viewer = Viewer(
        user_id=(await User.get(email="provider.mechelen@demo.loket.be")).id,
        role=Role.PROVIDER,
        location_municipalities=municipalities,
    )
    p = Params()
    rows = await fetch(
        f"""SELECT p.first_name FROM ({visible_households(viewer, p, emergency_days=60)}) v
            JOIN parent p ON p.household_id = v.household_id
            WHERE v.grant_name = 'PROVIDER_EMERGENCY'""",
        *p.values,
    )
    assert {r["first_name"] for r in rows} == expected


async def test_rrn_hashes_are_stored_for_born_children_and_some_parents(db: str) -> None:
    await demo.load_demo()
    noor = await Child.get(first_name="Noor")
    lena = await Child.get(first_name="Lena")
    assert noor.birth_date is not None
    assert lena.birth_date is not None
    assert await uniqueness.child_has_open_request(demo.demo_rrn(noor.birth_date, 126))
    assert not await uniqueness.child_has_open_request(demo.demo_rrn(lena.birth_date, 58))
    assert await uniqueness.parent_rrn_registered(demo.demo_rrn(datetime.date(1992, 4, 17), 214))
    assert await Child.filter(birth_date__isnull=False, rrn_hashes__isnull=True).count() == 0
    assert await Child.filter(birth_date__isnull=True, rrn_hashes__isnull=False).count() == 0


async def test_list_users_in_one_query(db: str, count_statements: Any) -> None:
    await demo.load_demo()
    await User.create(email="zonder.rol@demo.loket.be", display_name="Zonder rol")
    count_statements.statements.clear()
    rows = await demo.list_users()
    assert len(count_statements) == 1
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    listed = dict(rows)
    assert listed["loket@demo.loket.be"] == "LOKET (Loket Kinderopvang Leuven-Oost)"
    assert listed["fien@demo.loket.be"] == "PARENT (no household yet)"
    assert listed["zonder.rol@demo.loket.be"] == "-"
    assert listed["integrator.provider@demo.loket.be"].startswith("INTEGRATOR as PROVIDER")
