"""The inbox key the database keeps (`application.rank_tier`/`rank_score`, migration
0010): the rules in SQL give the Python engine's tier and score on generated families, and
every fact a key is made of, when it changes, changes the stored key. (The `db` fixture
also checks after every test of the suite that no stored key is out of date.)"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections

from models.households import Parent, WorkSituation
from models.requests import Application
from resolvers import priority
from tests import factories as f

pytestmark = pytest.mark.usefixtures("db")

UTC = datetime.UTC
# Instants around the rule-set boundaries (Belgian days), and anywhere in 2023-2026.
_EDGES = [
    datetime.datetime(2024, 3, 31, 21, 30, tzinfo=UTC),  # 31 March 23:30 in Belgium
    datetime.datetime(2024, 3, 31, 22, 30, tzinfo=UTC),  # 1 April 00:30 in Belgium
    datetime.datetime(2025, 4, 29, 21, 59, 59, tzinfo=UTC),
    datetime.datetime(2025, 4, 29, 22, 0, 0, tzinfo=UTC),
]
instants = st.one_of(
    st.sampled_from(_EDGES),
    st.datetimes(
        min_value=datetime.datetime(2023, 1, 1),
        max_value=datetime.datetime(2026, 12, 31),
        timezones=st.just(UTC),
    ),
)
situations = st.sampled_from([*(w.value for w in WorkSituation), None])
shares = st.one_of(st.none(), st.integers(min_value=0, max_value=100))
criteria = st.lists(
    st.fixed_dictionaries(
        {
            "criterion": st.sampled_from(priority.CRITERIA),
            "weight": st.integers(min_value=priority.MIN_WEIGHT, max_value=priority.MAX_WEIGHT),
        }
    ),
    max_size=3,
    unique_by=lambda e: e["criterion"],
)


@st.composite
def families(draw: Any) -> tuple[str, list[dict[str, Any]], priority.Candidate]:
    parents = draw(st.integers(min_value=0, max_value=3))
    work = tuple(draw(situations) for _ in range(parents))
    share = tuple(draw(shares) for _ in range(parents))
    candidate = priority.Candidate(
        request_id=uuid.uuid4(),
        submitted_at=draw(instants),
        family_situation=draw(st.sampled_from(["SINGLE_PARENT", "TWO_PARENTS", None])),
        income_below_threshold=draw(st.sampled_from([True, False, None])),
        work_situations=work,
        work_shares=share,
        education_levels=(),
        foster=draw(st.booleans()),
        sibling_enrolled=draw(st.booleans()),
        staff_child=draw(st.booleans()),
        resident=draw(st.booleans()),
    )
    return draw(st.sampled_from(priority.TARIFFS)), draw(criteria), candidate


async def _sql_rank(tariff: str, rules: list[dict[str, Any]], c: priority.Candidate) -> Any:
    async with connections.get("default").acquire_connection() as conn:
        return await conn.fetchrow(
            "SELECT tier, score FROM loket_rank($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10,"
            " $11)",
            tariff,
            orjson.dumps(rules).decode(),
            c.submitted_at,
            c.family_situation,
            c.income_below_threshold,
            list(c.work_situations),
            list(c.work_shares),
            c.foster,
            c.sibling_enrolled,
            c.staff_child,
            c.resident,
        )


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(family=families())
async def test_sql_rules_give_the_engines_tier_and_score(family: Any) -> None:
    tariff, rules, candidate = family
    expected = priority.evaluate(
        candidate, tariff=tariff, criteria=rules, today=datetime.date.today()
    )
    row = await _sql_rank(tariff, rules, candidate)
    assert (row["tier"], row["score"]) == (expected.tier, expected.score), (
        expected.rule_set,
        expected.reasons,
    )


async def _key(application_id: uuid.UUID) -> tuple[int, int]:
    async with connections.get("default").acquire_connection() as conn:
        row = await conn.fetchrow(
            "SELECT rank_tier, rank_score FROM application WHERE id = $1", application_id
        )
    return row["rank_tier"], row["rank_score"]


async def _execute(sql: str, *args: Any) -> None:
    async with connections.get("default").acquire_connection() as conn:
        await conn.execute(sql, *args)


async def test_each_fact_of_a_key_changes_the_stored_key() -> None:
    """One family at an income-related location that weighs all three own criteria: each
    fact changed in the database moves the stored key as the engine says."""
    here = await f.municipality("24062", "Leuven")
    there = await f.municipality("44021", "Gent")
    location = await f.location(
        here,
        tariff="INCOME_RELATED",
        priority_criteria=[
            {"criterion": "SIBLING", "weight": 7},
            {"criterion": "STAFF_CHILD", "weight": 3},
            {"criterion": "RESIDENT", "weight": 1},
        ],
    )
    elsewhere = await f.location(there, tariff="INCOME_RELATED")
    household, _ = await f.household(
        there,
        family_situation="TWO_PARENTS",
        income_below_threshold=False,
        work_share_percent=100,
    )
    unemployed = await Parent.create(
        household=household,
        first_name="Tweede",
        last_name="Ouder",
        email="tweede@example.test",
        is_applicant=False,
        municipality=there,
        **{**f.PARENT_DEFAULTS, "work_situation": "NONE"},
    )
    child = await f.child(household, born=f.days(-300))
    sibling = await f.child(household, born=f.days(-900))
    request = await f.care_request(child, location)
    await _execute(
        "UPDATE care_request SET submitted_at = $1 WHERE id = $2", _at(2025, 6, 1), request.id
    )
    application = await Application.get(request_id=request.id)
    assert await _key(application.id) == (1, 0)

    await _execute("UPDATE parent SET work_situation = 'JOB_SEEKING' WHERE id = $1", unemployed.id)
    assert await _key(application.id) == (0, 0)  # every parent needs care for work
    await _execute(
        "UPDATE household SET family_situation = 'SINGLE_PARENT' WHERE id = $1", household.id
    )
    assert await _key(application.id) == (0, 100)
    await _execute("UPDATE household SET income_below_threshold = true WHERE id = $1", household.id)
    assert await _key(application.id) == (0, 200)
    await _execute(
        "UPDATE parent SET relation_to_child = 'FOSTER_PARENT' WHERE id = $1", unemployed.id
    )
    assert await _key(application.id) == (0, 300)
    enrolment = await f.enrolment(sibling, location)
    assert await _key(application.id) == (0, 407)  # sibling: group points and own weight
    await _execute("UPDATE enrolment SET end_date = current_date WHERE id = $1", enrolment.id)
    assert await _key(application.id) == (0, 300)
    await _execute("UPDATE application SET staff_child = true WHERE id = $1", application.id)
    assert await _key(application.id) == (0, 303)
    await _execute("UPDATE household SET municipality_id = $1 WHERE id = $2", "24062", household.id)
    assert await _key(application.id) == (0, 304)
    await _execute("DELETE FROM parent WHERE id = $1", unemployed.id)
    assert await _key(application.id) == (0, 204)  # no foster parent left; the other works
    await _execute(  # filed under the annulled rules: a full-time worker has priority
        "UPDATE care_request SET submitted_at = $1 WHERE id = $2", _at(2024, 10, 1), request.id
    )
    assert await _key(application.id) == (0, 4)
    await _execute(
        "UPDATE provider_location SET tariff = 'FREE_PRICE', priority_criteria = '[]'"
        " WHERE id = $1",
        location.id,
    )
    assert await _key(application.id) == (1, 0)
    await _execute(
        "UPDATE application SET location_id = $1 WHERE id = $2", elsewhere.id, application.id
    )
    assert await _key(application.id) == (0, 0)


def _at(year: int, month: int, day: int) -> datetime.datetime:
    return datetime.datetime(year, month, day, 10, tzinfo=UTC)
