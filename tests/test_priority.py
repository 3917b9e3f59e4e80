"""The priority engine: rule set per submission date and tariff, inbox order and its
explanation per rule set, own-policy validation, and the priority-group quota."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from resolvers.priority import (
    CRITERIA,
    RULE_SETS,
    Candidate,
    counts_toward_quota,
    evaluate,
    quota_target,
    rank,
    rule_set_for,
    validate_criteria,
)

TODAY = datetime.date(2025, 6, 15)
INCOME, FREE = "INCOME_RELATED", "FREE_PRICE"
# Default submission days in the annulled and the restored rule set.
ANNULLED = "2024-10-10"
RESTORED = "2025-05-10"
NAMESPACE = uuid.UUID("6f6b6574-0000-4000-8000-000000000000")
# Candidate names by request id, so tests assert the order by name.
NAMES: dict[uuid.UUID, str] = {}
LOW_ID, HIGH_ID = uuid.UUID(int=1), uuid.UUID(int=2)


def cand(
    name: str,
    on: str = RESTORED,
    *,
    at: str = "10:00",
    family: str = "TWO_PARENTS",
    income: bool | None = False,
    work: tuple[str, ...] = ("WORKING", "WORKING"),
    shares: tuple[int | None, ...] | None = None,
    education: tuple[str, ...] = ("HIGHER", "HIGHER"),
    foster: bool = False,
    sibling: bool = False,
    staff: bool = False,
    resident: bool = False,
    request_id: uuid.UUID | None = None,
) -> Candidate:
    """A candidate named `name` (its id derives from the name), submitted on `on` at `at` UTC."""
    if shares is None:
        shares = tuple(100 if w == "WORKING" else None for w in work)
    request_id = request_id or uuid.uuid5(NAMESPACE, name)
    NAMES[request_id] = name
    return Candidate(
        request_id=request_id,
        submitted_at=datetime.datetime.fromisoformat(f"{on}T{at}+00:00"),
        family_situation=family,
        income_below_threshold=income,
        work_situations=work,
        work_shares=shares,
        education_levels=education,
        foster=foster,
        sibling_enrolled=sibling,
        staff_child=staff,
        resident=resident,
    )


def single(name: str, on: str = RESTORED, **kwargs: Any) -> Candidate:
    """A single-parent family (one parent listed, working full time unless told)."""
    kwargs.setdefault("work", ("WORKING",))
    kwargs.setdefault("education", ("SECONDARY",))
    return cand(name, on, family="SINGLE_PARENT", **kwargs)


def ordered(
    candidates: Sequence[Candidate],
    tariff: str = INCOME,
    criteria: Sequence[Mapping[str, Any]] = (),
    today: datetime.date = TODAY,
) -> list[tuple[str, tuple[str, ...]]]:
    """The inbox as (candidate name, explanation), best first (from any iterable)."""
    rankings = rank(iter(candidates), tariff=tariff, criteria=criteria, today=today)
    return [(NAMES[r.request_id], r.reasons) for r in rankings]


SIBLING_50 = [{"criterion": "SIBLING", "weight": 50}]
RESIDENT_60_STAFF_50 = [
    {"criterion": "RESIDENT", "weight": 60},
    {"criterion": "STAFF_CHILD", "weight": 50},
]


# -- which rule set applies ------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted_on", "tariff", "expected"),
    [
        ("2012-04-20", INCOME, "IKT_BEFORE_2024"),
        ("2024-03-31", INCOME, "IKT_BEFORE_2024"),
        ("2024-04-01", INCOME, "IKT_2024_ANNULLED"),
        ("2025-04-29", INCOME, "IKT_2024_ANNULLED"),
        ("2025-04-30", INCOME, "IKT_2025_RESTORED"),
        ("2031-01-01", INCOME, "IKT_2025_RESTORED"),
        ("2024-03-31", FREE, "OWN_POLICY"),
        ("2024-04-01", FREE, "OWN_POLICY"),
        ("2025-04-30", FREE, "OWN_POLICY"),
    ],
)
def test_rule_set_follows_tariff_and_submission_day(
    submitted_on: str, tariff: str, expected: str
) -> None:
    assert rule_set_for(datetime.date.fromisoformat(submitted_on), tariff).key == expected


def test_unknown_tariff_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown tariff 'SUBSIDISED'"):
        rule_set_for(TODAY, "SUBSIDISED")


def test_income_related_rule_sets_cover_every_day_without_overlap() -> None:
    keys = [r.key for r in RULE_SETS]
    assert keys == ["IKT_BEFORE_2024", "IKT_2024_ANNULLED", "IKT_2025_RESTORED", "OWN_POLICY"]
    before, annulled, restored, own = RULE_SETS
    assert before.effective_from is None
    assert before.effective_until == datetime.date(2024, 3, 31)
    assert annulled.effective_from == datetime.date(2024, 4, 1)
    assert annulled.effective_until == datetime.date(2025, 4, 29)
    assert restored.effective_from == datetime.date(2025, 4, 30)
    assert restored.effective_until is None
    assert (own.effective_from, own.effective_until) == (None, None)
    assert all(r.name and r.description for r in RULE_SETS)
    assert "10 %" in annulled.description
    assert "Constitutional Court" in restored.description


def test_submission_day_is_the_belgian_calendar_day() -> None:
    # 22:30 UTC on 31 March 2024 is 00:30 on 1 April in Leuven (summer time).
    late = cand("ann", "2024-03-31", at="22:30")
    early = cand("bob", "2024-03-31", at="21:30")
    assert evaluate(late, tariff=INCOME, criteria=[], today=TODAY).rule_set == "IKT_2024_ANNULLED"
    assert evaluate(early, tariff=INCOME, criteria=[], today=TODAY).rule_set == "IKT_BEFORE_2024"


# -- income-related tariff: before 2024 and restored (same logic) ----------------------

WORK_TABLE = [
    pytest.param(
        # bob filed earlier, but one of his parents has no work situation.
        [cand("bob", "2025-05-01", work=("WORKING", "NONE")), cand("ann", "2025-05-02")],
        [],
        [
            ("ann", ("work situation: absolute priority", "requested 1 month ago")),
            ("bob", ("requested 1 month ago",)),
        ],
        id="two-parent-family-with-one-parent-without-work-loses-absolute-priority",
    ),
    pytest.param(
        [
            cand("ann", work=("JOB_SEEKING", "IN_TRAINING")),
            cand("bob", "2025-05-11", work=("INTEGRATION_COURSE", "WORKING"), shares=(None, 20)),
            cand("cas", work=("NONE", "NONE")),
        ],
        [],
        [
            ("ann", ("work situation: absolute priority", "requested 1 month ago")),
            ("bob", ("work situation: absolute priority", "requested 1 month ago")),
            ("cas", ("requested 1 month ago",)),
        ],
        id="job-seeking-training-integration-and-part-time-work-all-count",
    ),
    pytest.param(
        [
            cand("ann", "2025-05-01", work=("NONE", "NONE"), income=True, foster=True),
            single("bob", "2025-06-01"),
        ],
        [],
        [
            ("bob", ("work situation: absolute priority", "single parent", "requested this month")),
            ("ann", ("low income", "foster child", "requested 1 month ago")),
        ],
        id="single-parent-needs-only-their-own-work-situation",
    ),
    pytest.param(
        [single("ann", work=("NONE",)), cand("bob", work=(), shares=())],
        [],
        [
            ("ann", ("single parent", "requested 1 month ago")),
            ("bob", ("requested 1 month ago",)),
        ],
        id="no-parent-listed-is-no-absolute-priority",
    ),
]


# The restored rules are the rules from before 2024: the same tables run two years earlier.
SAME_LOGIC = pytest.mark.parametrize(
    ("years_back", "rule_set"),
    [(0, "IKT_2025_RESTORED"), (2, "IKT_BEFORE_2024")],
    ids=["restored-2025", "before-2024"],
)


@SAME_LOGIC
@pytest.mark.parametrize(("candidates", "criteria", "expected"), WORK_TABLE)
def test_income_related_absolute_priority_for_work(
    years_back: int,
    rule_set: str,
    candidates: list[Candidate],
    criteria: list[Any],
    expected: list[Any],
) -> None:
    moved, today = _years_back(candidates, years_back)
    assert ordered(moved, criteria=criteria, today=today) == expected
    assert {r.rule_set for r in rank(moved, tariff=INCOME, criteria=criteria, today=today)} == {
        rule_set
    }


NONE = ("NONE", "NONE")
POINTS_TABLE = [
    pytest.param(
        [
            cand("ann", work=NONE),
            cand("bob", work=NONE, sibling=True),
            single("cas", work=("NONE",), income=True, foster=True),
            cand("dirk", "2025-05-11", work=NONE, income=True),
        ],
        [],
        [
            ("cas", ("single parent", "low income", "foster child", "requested 1 month ago")),
            ("bob", ("sibling already enrolled", "requested 1 month ago")),
            ("dirk", ("low income", "requested 1 month ago")),
            ("ann", ("requested 1 month ago",)),
        ],
        id="group-points-add-up",
    ),
    pytest.param(
        [cand("ann", work=NONE, income=None), cand("bob", "2025-05-20", work=NONE, income=True)],
        [],
        [
            ("bob", ("low income", "requested this month")),
            ("ann", ("requested 1 month ago",)),
        ],
        id="income-not-told-is-not-low-income",
    ),
    pytest.param(
        [
            single("ann", work=("NONE",), income=True, foster=True, sibling=True),
            cand("bob", "2025-06-01"),
        ],
        [],
        [
            ("bob", ("work situation: absolute priority", "requested this month")),
            (
                "ann",
                (
                    "single parent",
                    "low income",
                    "foster child",
                    "sibling already enrolled",
                    "requested 1 month ago",
                ),
            ),
        ],
        id="absolute-priority-beats-any-number-of-points",
    ),
    pytest.param(
        [
            cand("ann", work=NONE, sibling=True),
            cand("bob", work=NONE, resident=True, staff=True),
        ],
        RESIDENT_60_STAFF_50,
        [
            (
                "bob",
                (
                    "own policy: lives in the municipality (+60)",
                    "own policy: child of a staff member (+50)",
                    "requested 1 month ago",
                ),
            ),
            ("ann", ("sibling already enrolled", "requested 1 month ago")),
        ],
        id="own-weights-can-outweigh-a-priority-group",
    ),
    pytest.param(
        [cand("ann", work=NONE, income=True), cand("bob", work=NONE, sibling=True)],
        SIBLING_50,
        [
            (
                "bob",
                (
                    "sibling already enrolled",
                    "own policy: sibling already enrolled (+50)",
                    "requested 1 month ago",
                ),
            ),
            ("ann", ("low income", "requested 1 month ago")),
        ],
        id="sibling-counts-as-group-and-in-own-policy",
    ),
]


@SAME_LOGIC
@pytest.mark.parametrize(("candidates", "criteria", "expected"), POINTS_TABLE)
def test_income_related_priority_group_points(
    years_back: int,
    rule_set: str,
    candidates: list[Candidate],
    criteria: list[Any],
    expected: list[Any],
) -> None:
    moved, today = _years_back(candidates, years_back)
    assert ordered(moved, criteria=criteria, today=today) == expected
    assert {r.rule_set for r in rank(moved, tariff=INCOME, criteria=criteria, today=today)} == {
        rule_set
    }


def test_group_points_and_own_weights_make_the_score() -> None:
    c = single("ann", income=True, sibling=True, resident=True, staff=True)
    r = evaluate(c, tariff=INCOME, criteria=RESIDENT_60_STAFF_50 + SIBLING_50, today=TODAY)
    assert (r.rule_set, r.tier, r.score) == ("IKT_2025_RESTORED", 0, 300 + 60 + 50 + 50)
    assert r.reasons == (
        "work situation: absolute priority",
        "single parent",
        "low income",
        "sibling already enrolled",
        "own policy: lives in the municipality (+60)",
        "own policy: child of a staff member (+50)",
        "own policy: sibling already enrolled (+50)",
        "requested 1 month ago",
    )
    assert r.sort_key == (0, -460, c.submitted_at, c.request_id)


# -- income-related tariff: the annulled rules of 1 April 2024 -------------------------

ANNULLED_TABLE = [
    pytest.param(
        [
            cand("ann", ANNULLED, shares=(79, 100)),
            cand("bob", "2024-10-11", shares=(80, 100)),
        ],
        [],
        [
            ("bob", ("work at least 4/5: priority", "requested 8 months ago")),
            ("ann", ("requested 8 months ago",)),
        ],
        id="four-fifths-boundary-79-vs-80",
    ),
    pytest.param(
        [
            single("ann", ANNULLED, shares=(80,)),
            cand("bob", "2024-10-09", shares=(100, None)),
            cand("cas", "2024-10-08", work=("JOB_SEEKING", "IN_TRAINING")),
        ],
        [],
        [
            ("ann", ("work at least 4/5: priority", "requested 8 months ago")),
            ("cas", ("requested 8 months ago",)),
            ("bob", ("requested 8 months ago",)),
        ],
        id="unknown-share-and-job-seeking-get-no-priority",
    ),
    pytest.param(
        [
            single("ann", ANNULLED, work=("NONE",), income=True),
            cand("bob", "2024-10-12", work=NONE, sibling=True),
            cand("cas", "2024-10-13", work=NONE, foster=True),
        ],
        [],
        [
            ("bob", ("sibling already enrolled", "requested 8 months ago")),
            ("cas", ("foster child", "requested 8 months ago")),
            ("ann", ("requested 8 months ago",)),
        ],
        id="siblings-and-foster-children-have-priority-single-low-income-not",
    ),
    pytest.param(
        [
            cand("ann", ANNULLED, sibling=True, foster=True),
            cand("bob", "2024-10-09", shares=(50, 100), resident=True),
        ],
        [{"criterion": "RESIDENT", "weight": 100}],
        [
            (
                "ann",
                (
                    "work at least 4/5: priority",
                    "sibling already enrolled",
                    "foster child",
                    "requested 8 months ago",
                ),
            ),
            ("bob", ("own policy: lives in the municipality (+100)", "requested 8 months ago")),
        ],
        id="own-weights-do-not-beat-priority",
    ),
]


@pytest.mark.parametrize(("candidates", "criteria", "expected"), ANNULLED_TABLE)
def test_annulled_2024_rules(
    candidates: list[Candidate], criteria: list[Any], expected: list[Any]
) -> None:
    assert ordered(candidates, criteria=criteria) == expected
    assert {
        r.rule_set for r in rank(candidates, tariff=INCOME, criteria=criteria, today=TODAY)
    } == {"IKT_2024_ANNULLED"}


def test_annulled_rules_give_no_points() -> None:
    c = single("ann", ANNULLED, income=True, foster=True, sibling=True)
    r = evaluate(c, tariff=INCOME, criteria=[], today=TODAY)
    assert (r.tier, r.score) == (0, 0)


# -- free price: the provider's own policy only ----------------------------------------

OWN_TABLE = [
    pytest.param(
        [
            single("ann", "2023-01-01", income=True, foster=True),
            cand("bob", "2025-06-01", resident=True),
        ],
        [{"criterion": "RESIDENT", "weight": 30}],
        [
            ("bob", ("own policy: lives in the municipality (+30)", "requested this month")),
            ("ann", ("requested 29 months ago",)),
        ],
        id="legal-groups-and-work-do-not-count",
    ),
    pytest.param(
        [
            cand("ann", "2024-04-01", sibling=True),
            cand("bob", "2024-03-31", resident=True, staff=True),
            cand("cas", "2025-04-30", sibling=True, staff=True),
        ],
        [{"criterion": "SIBLING", "weight": 50}, {"criterion": "STAFF_CHILD", "weight": 20}],
        [
            (
                "cas",
                (
                    "own policy: sibling already enrolled (+50)",
                    "own policy: child of a staff member (+20)",
                    "requested 1 month ago",
                ),
            ),
            ("ann", ("own policy: sibling already enrolled (+50)", "requested 14 months ago")),
            ("bob", ("own policy: child of a staff member (+20)", "requested 14 months ago")),
        ],
        id="weights-order-at-any-submission-date",
    ),
    pytest.param(
        [cand("ann", "2025-06-02"), cand("bob", "2025-06-01")],
        [],
        [("bob", ("requested this month",)), ("ann", ("requested this month",))],
        id="no-policy-means-first-come-first-served",
    ),
]


@pytest.mark.parametrize(("candidates", "criteria", "expected"), OWN_TABLE)
def test_free_price_applies_own_policy_only(
    candidates: list[Candidate], criteria: list[Any], expected: list[Any]
) -> None:
    assert ordered(candidates, FREE, criteria) == expected
    rankings = rank(candidates, tariff=FREE, criteria=criteria, today=TODAY)
    assert {(r.rule_set, r.tier) for r in rankings} == {("OWN_POLICY", 1)}


# -- ties and waiting time -------------------------------------------------------------


def test_tie_goes_to_the_earlier_submission_then_the_lower_id() -> None:
    candidates = [
        cand("high", "2025-05-10", at="09:00", request_id=HIGH_ID),
        cand("ann", "2025-05-10", at="09:01"),
        cand("low", "2025-05-10", at="09:00", request_id=LOW_ID),
        cand("bob", "2025-05-10", at="08:59", work=("WORKING", "NONE"), resident=True),
    ]
    assert [name for name, _ in ordered(candidates)] == ["low", "high", "ann", "bob"]
    # free price without a policy: first come, first served
    assert [name for name, _ in ordered(candidates, FREE)] == ["bob", "low", "high", "ann"]


@pytest.mark.parametrize(
    ("submitted_on", "today", "text"),
    [
        ("2025-06-15", "2025-06-15", "requested this month"),
        ("2025-05-16", "2025-06-15", "requested this month"),
        ("2025-05-15", "2025-06-15", "requested 1 month ago"),
        ("2025-04-16", "2025-06-15", "requested 1 month ago"),
        ("2024-10-15", "2025-06-15", "requested 8 months ago"),
        ("2024-10-16", "2025-06-15", "requested 7 months ago"),
        ("2025-06-20", "2025-06-15", "requested this month"),
    ],
)
def test_waiting_time_counts_whole_months(submitted_on: str, today: str, text: str) -> None:
    c = cand("ann", submitted_on)
    r = evaluate(c, tariff=FREE, criteria=[], today=datetime.date.fromisoformat(today))
    assert r.reasons == (text,)


# -- the provider's own policy ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "messages"),
    [
        ([], []),
        (
            [
                {"criterion": "SIBLING", "weight": 1},
                {"criterion": "STAFF_CHILD", "weight": 100},
                {"criterion": "RESIDENT", "weight": 30},
            ],
            [],
        ),
        (
            {"criterion": "SIBLING", "weight": 50},
            ["Own priority criteria must be a list of {criterion, weight} entries."],
        ),
        (None, ["Own priority criteria must be a list of {criterion, weight} entries."]),
        (
            [{"criterion": "AGE", "weight": 10}],
            [
                "Criterion 1: unknown criterion 'AGE'"
                " (expected one of SIBLING, STAFF_CHILD, RESIDENT)."
            ],
        ),
        (
            [{"weight": 10}],
            [
                "Criterion 1: unknown criterion None"
                " (expected one of SIBLING, STAFF_CHILD, RESIDENT)."
            ],
        ),
        (
            [{"criterion": "SIBLING", "weight": 0}, {"criterion": "RESIDENT", "weight": 101}],
            [
                "Criterion 1: weight must be from 1 to 100, got 0.",
                "Criterion 2: weight must be from 1 to 100, got 101.",
            ],
        ),
        (
            [
                {"criterion": "SIBLING", "weight": "50"},
                {"criterion": "RESIDENT", "weight": 12.5},
                {"criterion": "STAFF_CHILD", "weight": True},
            ],
            [
                "Criterion 1: weight must be a whole number from 1 to 100.",
                "Criterion 2: weight must be a whole number from 1 to 100.",
                "Criterion 3: weight must be a whole number from 1 to 100.",
            ],
        ),
        (
            [{"criterion": "SIBLING", "weight": 50}, {"criterion": "SIBLING", "weight": 20}],
            ["Criterion 2: SIBLING is listed more than once."],
        ),
        (["SIBLING"], ["Criterion 1: must be an object with criterion and weight."]),
        (
            [{"criterion": "SIBLING", "weight": 50, "wieght": 5}],
            ["Criterion 1: unexpected field(s) wieght."],
        ),
    ],
    ids=[
        "empty",
        "every-criterion-at-the-bounds",
        "not-a-list",
        "null",
        "unknown-criterion",
        "missing-criterion",
        "weight-out-of-range",
        "weight-not-a-whole-number",
        "criterion-twice",
        "entry-not-an-object",
        "unexpected-field",
    ],
)
def test_validate_criteria(raw: Any, messages: list[str]) -> None:
    assert validate_criteria(raw) == messages


def test_more_than_ten_criteria_are_refused() -> None:
    raw = [{"criterion": CRITERIA[i % 3], "weight": 10} for i in range(11)]
    messages = validate_criteria(raw)
    assert messages[0] == "At most 10 own priority criteria are allowed, got 11."
    assert "Criterion 4: SIBLING is listed more than once." in messages


def test_ranking_with_a_bad_policy_fails_loudly() -> None:
    with pytest.raises(ValueError, match="Criterion 1: unknown criterion 'AGE'"):
        rank([cand("ann")], tariff=FREE, criteria=[{"criterion": "AGE", "weight": 5}], today=TODAY)


# -- the quota of priority groups and vulnerable families ------------------------------

NO_DIPLOMA = ("NO_SECONDARY_DIPLOMA", "NO_SECONDARY_DIPLOMA")


@pytest.mark.parametrize(
    ("candidate", "counts"),
    [
        (single("ann", education=("HIGHER",)), True),
        (cand("ann", income=True), True),
        (cand("ann", foster=True), True),
        (cand("ann", education=NO_DIPLOMA), True),
        (cand("ann", education=NO_DIPLOMA, work=("JOB_SEEKING", "INTEGRATION_COURSE")), True),
        (cand("ann", education=NO_DIPLOMA, work=("WORKING", "NONE")), False),
        (cand("ann", education=("NO_SECONDARY_DIPLOMA", "SECONDARY")), False),
        (cand("ann"), False),
        (cand("ann", income=None, work=NONE, education=NO_DIPLOMA), False),
        (cand("ann", sibling=True, staff=True, resident=True), False),
        (cand("ann", education=()), False),
    ],
    ids=[
        "single-parent",
        "low-income",
        "foster-child",
        "vulnerable-no-diploma-and-work",
        "vulnerable-no-diploma-and-job-seeking",
        "no-diploma-without-work-need",
        "one-parent-has-a-diploma",
        "work-need-alone",
        "income-not-told",
        "sibling-staff-resident-do-not-count",
        "no-education-listed",
    ],
)
def test_counts_toward_quota(candidate: Candidate, counts: bool) -> None:
    assert counts_toward_quota(candidate) is counts


@pytest.mark.parametrize(
    ("step", "target"), [(None, None), (1, None), (2, 0.20), (3, 0.30), (4, None)]
)
def test_quota_target_per_subsidy_step(step: int | None, target: float | None) -> None:
    assert quota_target(step) == target


# -- helpers ---------------------------------------------------------------------------


def _years_back(candidates: list[Candidate], years: int) -> tuple[list[Candidate], datetime.date]:
    """The same case `years` earlier (submissions and today), so waiting times read the same."""
    moved = [
        dataclasses.replace(
            c, submitted_at=c.submitted_at.replace(year=c.submitted_at.year - years)
        )
        for c in candidates
    ]
    return moved, TODAY.replace(year=TODAY.year - years)
