"""The priority engine: versioned legal rule sets plus a provider's own policy, as data and
small pure functions that rank one location's requests and explain each place (no I/O)."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loket.settings import TIME_ZONE

CRITERIA = ("SIBLING", "STAFF_CHILD", "RESIDENT")  # a provider's own criteria

# What each own criterion means in an explanation, e.g. "own policy: ... (+50)".
_CRITERION_LABELS = {
    "SIBLING": "sibling already enrolled",
    "STAFF_CHILD": "child of a staff member",
    "RESIDENT": "lives in the municipality",
}
MAX_CRITERIA = 10
MIN_WEIGHT, MAX_WEIGHT = 1, 100

TARIFFS = ("INCOME_RELATED", "FREE_PRICE")

# Work situations that mean the family needs care for work, job seeking, training or an
# integration course (absolute priority under the income-related rules before 2024 / restored).
_NEEDS_CARE_FOR_WORK = frozenset({"WORKING", "JOB_SEEKING", "IN_TRAINING", "INTEGRATION_COURSE"})
# The annulled 2024 rules: at least 4/5 of a full-time job.
_FOUR_FIFTHS = 80
# Points per priority group (single parent, low income, foster child, sibling).
GROUP_POINTS = 100

# Submission dates are Belgian calendar days: a request filed at 00:30 in Leuven on 1 April
# 2024 is 31 March in UTC, but falls under the rules in force that Belgian day.
_BELGIUM = zoneinfo.ZoneInfo(TIME_ZONE)


@dataclass(frozen=True)
class Candidate:
    """One request at one location, with the facts the priority rules look at."""

    request_id: uuid.UUID
    submitted_at: datetime.datetime  # picks the rule set
    family_situation: str  # "SINGLE_PARENT" | "TWO_PARENTS"
    income_below_threshold: bool | None  # None: not told
    work_situations: tuple[str, ...]  # per parent
    work_shares: tuple[int | None, ...]  # per parent, percent of full time when WORKING
    education_levels: tuple[str, ...]  # per parent
    foster: bool  # a parent's relation to the child is FOSTER_PARENT
    sibling_enrolled: bool  # a brother/sister holds a place at this location now
    staff_child: bool  # marked by the provider
    resident: bool  # the family lives in the location's municipality


@dataclass(frozen=True)
class RuleSet:
    """One version of the priority rules, with the days it applies to (by submission date)."""

    key: str
    name: str
    effective_from: datetime.date | None
    effective_until: datetime.date | None  # inclusive last day, None = open
    description: str


IKT_BEFORE_2024 = RuleSet(
    key="IKT_BEFORE_2024",
    name="Income-related tariff: priority rules before 1 April 2024",
    effective_from=None,
    effective_until=datetime.date(2024, 3, 31),
    description=(
        "Providers with the income-related tariff, under the Flemish decree of 20 April 2012 "
        "on the organisation of childcare for babies and toddlers and the Flemish Government's "
        "subsidy rules for that tariff, give absolute priority to families who need childcare "
        "for work, job seeking, training or an integration course (every parent in one of "
        "those situations). Within that group and among the others, single parents, families "
        "with a low income and foster children have priority, as do brothers and sisters of "
        "children already enrolled (common practice). Locations in subsidy step 2 or 3 keep at "
        "least 20 % or 30 % of their places for children from priority groups or vulnerable "
        "families."
    ),
)
IKT_2024_ANNULLED = RuleSet(
    key="IKT_2024_ANNULLED",
    name="Income-related tariff: rules of 1 April 2024 (annulled)",
    effective_from=datetime.date(2024, 4, 1),
    effective_until=datetime.date(2025, 4, 29),
    description=(
        "From 1 April 2024 a Flemish decree change gave providers with the income-related "
        "tariff absolute priority to families where every parent works at least 4/5 of a "
        "full-time job (or follows equally intensive training leading to work), to brothers "
        "and sisters of enrolled children and to foster children; a provider could deviate "
        "from these rules for up to 10 % of its places (not part of the ranking here). The "
        "Constitutional Court annulled this change on 30 April 2025 as a breach of equality "
        "and non-discrimination; it is kept as history for requests submitted while it was "
        "in force."
    ),
)
IKT_2025_RESTORED = RuleSet(
    key="IKT_2025_RESTORED",
    name="Income-related tariff: earlier rules restored on 30 April 2025",
    effective_from=datetime.date(2025, 4, 30),
    effective_until=None,
    description=(
        "Since the Constitutional Court's judgment of 30 April 2025 annulled the 1 April 2024 "
        "change, the earlier rules under the decree of 20 April 2012 apply again to providers "
        "with the income-related tariff: absolute priority to families who need childcare for "
        "work, job seeking, training or an integration course; then single parents, low "
        "income, foster children and brothers and sisters of enrolled children; and at least "
        "20 % (subsidy step 2) or 30 % (step 3) of children from priority groups or "
        "vulnerable families."
    ),
)
OWN_POLICY = RuleSet(
    key="OWN_POLICY",
    name="Free price: the provider's own policy",
    effective_from=None,
    effective_until=None,
    description=(
        "Providers that set their own price (free price) are not bound by the legal priority "
        "groups of the income-related tariff; they rank requests by their own published "
        "criteria only, applied here as weights, and then by waiting time."
    ),
)

RULE_SETS: tuple[RuleSet, ...] = (IKT_BEFORE_2024, IKT_2024_ANNULLED, IKT_2025_RESTORED, OWN_POLICY)
_INCOME_RELATED_SETS = (IKT_BEFORE_2024, IKT_2024_ANNULLED, IKT_2025_RESTORED)


@dataclass(frozen=True)
class Ranking:
    """Where one request ranks and why; ascending `sort_key` is the inbox order."""

    request_id: uuid.UUID
    rule_set: str  # RuleSet.key
    tier: int  # 0 = absolute priority group, 1 = others
    score: int  # priority-group points + own-policy weights
    reasons: tuple[str, ...]  # legal reasons, own-policy reasons, waiting time
    sort_key: tuple[Any, ...]  # (tier, -score, submitted_at, request_id)


def rule_set_for(submitted_on: datetime.date, tariff: str) -> RuleSet:
    """The rule set a request falls under, by the location's tariff and its submission day.

    The choice is by submission day (a Belgian calendar day), as the rules changed twice in
    13 months. An annulment by the Constitutional Court in principle works back in time, so
    requests filed under the 2024 rules and still open could arguably move to the restored
    rules; this engine keeps them under the version they were filed under, as specified.
    """
    if tariff == "FREE_PRICE":
        return OWN_POLICY
    if tariff != "INCOME_RELATED":
        raise ValueError(f"Unknown tariff {tariff!r} (expected one of {', '.join(TARIFFS)}).")
    for rule_set in _INCOME_RELATED_SETS:
        starts, ends = rule_set.effective_from, rule_set.effective_until
        if (starts is None or starts <= submitted_on) and (ends is None or submitted_on <= ends):
            return rule_set
    raise AssertionError("the income-related rule sets cover every day")  # pragma: no cover


def validate_criteria(raw: Any) -> list[str]:
    """Messages for a badly formed own policy (stored as JSON); [] when it is fine."""
    if not isinstance(raw, list):
        return ["Own priority criteria must be a list of {criterion, weight} entries."]
    messages: list[str] = []
    if len(raw) > MAX_CRITERIA:
        messages.append(
            f"At most {MAX_CRITERIA} own priority criteria are allowed, got {len(raw)}."
        )
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, Mapping):
            messages.append(f"Criterion {number}: must be an object with criterion and weight.")
            continue
        extra = sorted(str(k) for k in entry if k not in ("criterion", "weight"))
        if extra:
            messages.append(f"Criterion {number}: unexpected field(s) {', '.join(extra)}.")
        criterion = entry.get("criterion")
        if not isinstance(criterion, str) or criterion not in CRITERIA:
            messages.append(
                f"Criterion {number}: unknown criterion {criterion!r}"
                f" (expected one of {', '.join(CRITERIA)})."
            )
        elif criterion in seen:
            messages.append(f"Criterion {number}: {criterion} is listed more than once.")
        else:
            seen.add(criterion)
        weight = entry.get("weight")
        # bool is an int in Python, but `true` is not a weight.
        if isinstance(weight, bool) or not isinstance(weight, int):
            messages.append(
                f"Criterion {number}: weight must be a whole number from {MIN_WEIGHT}"
                f" to {MAX_WEIGHT}."
            )
        elif not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            messages.append(
                f"Criterion {number}: weight must be from {MIN_WEIGHT} to {MAX_WEIGHT},"
                f" got {weight}."
            )
    return messages


def evaluate(
    c: Candidate,
    *,
    tariff: str,
    criteria: Sequence[Mapping[str, Any]],
    today: datetime.date,
) -> Ranking:
    """Rank one candidate: tier, score and the explanation of both, under its rule set.

    A sibling can count twice, as a legal priority group and again in the provider's own
    policy (a SIBLING weight): that is intended, the provider chose to stress it.
    Own-policy reasons follow the order of the provider's criteria.
    Raises ValueError when `criteria` is not a valid own policy (see `validate_criteria`).
    """
    _check_criteria(criteria)
    return _evaluate(c, tariff=tariff, criteria=criteria, today=today)


def _check_criteria(criteria: Any) -> None:
    problems = validate_criteria(list(criteria) if isinstance(criteria, Sequence) else criteria)
    if problems:
        raise ValueError(" ".join(problems))


def _evaluate(
    c: Candidate,
    *,
    tariff: str,
    criteria: Sequence[Mapping[str, Any]],
    today: datetime.date,
) -> Ranking:
    """`evaluate` for criteria already checked."""
    submitted_on = _local_date(c.submitted_at)
    rule_set = rule_set_for(submitted_on, tariff)

    if rule_set.key == IKT_2024_ANNULLED.key:
        tier, score, reasons = _annulled_2024(c)
    elif rule_set.key == OWN_POLICY.key:
        tier, score, reasons = 1, 0, []
    else:
        tier, score, reasons = _income_related(c)

    for entry in criteria:
        criterion, weight = entry["criterion"], entry["weight"]
        if _meets(c, criterion):
            score += weight
            reasons.append(f"own policy: {_CRITERION_LABELS[criterion]} (+{weight})")

    reasons.append(_waiting_time(submitted_on, today))
    return Ranking(
        request_id=c.request_id,
        rule_set=rule_set.key,
        tier=tier,
        score=score,
        reasons=tuple(reasons),
        sort_key=(tier, -score, c.submitted_at, c.request_id),
    )


def rank(
    candidates: Iterable[Candidate],
    *,
    tariff: str,
    criteria: Sequence[Mapping[str, Any]],
    today: datetime.date,
) -> list[Ranking]:
    """A location's requests in inbox order, best first, each with its explanation."""
    _check_criteria(criteria)  # once, not per candidate
    rankings = [_evaluate(c, tariff=tariff, criteria=criteria, today=today) for c in candidates]
    return sorted(rankings, key=lambda r: r.sort_key)


def counts_toward_quota(c: Candidate) -> bool:
    """Whether the child counts toward the 20 %/30 % share of priority or vulnerable families.

    A family counts when it is in a priority group (single parent, low income, foster child)
    or is vulnerable: at least 2 of 5 criteria, one of them among the first three:
    low income; a health or care situation; no parent with a secondary diploma; care needed
    for work or training (the absolute-priority condition); single parent.
    The platform does not collect health data, so the health/care criterion is never met;
    the vulnerable path thus only adds families without a secondary diploma that need care
    for work or training.
    """
    single, low_income = _single_parent(c), c.income_below_threshold is True
    if single or low_income or c.foster:
        return True
    health_or_care = False  # not collected (see above)
    first_three = [low_income, health_or_care, _no_secondary_diploma(c)]
    others = [_needs_care_for_work(c), single]
    return any(first_three) and sum(first_three) + sum(others) >= 2


def quota_target(subsidy_step: int | None) -> float | None:
    """The minimum share of quota children for a subsidy step: 2 -> 20 %, 3 -> 30 %, else none."""
    return {2: 0.20, 3: 0.30}.get(subsidy_step) if subsidy_step is not None else None


def _income_related(c: Candidate) -> tuple[int, int, list[str]]:
    """The rules before 1 April 2024, restored on 30 April 2025: work need, then group points."""
    reasons: list[str] = []
    tier = 1
    if _needs_care_for_work(c):
        tier = 0
        reasons.append("work situation: absolute priority")
    groups = (
        (_single_parent(c), "single parent"),
        (c.income_below_threshold is True, "low income"),
        (c.foster, "foster child"),
        (c.sibling_enrolled, "sibling already enrolled"),
    )
    score = 0
    for met, reason in groups:
        if met:
            score += GROUP_POINTS
            reasons.append(reason)
    return tier, score, reasons


def _annulled_2024(c: Candidate) -> tuple[int, int, list[str]]:
    """The annulled 1 April 2024 rules: priority for 4/5 work, siblings, foster children."""
    groups = (
        (_works_four_fifths(c), "work at least 4/5: priority"),
        (c.sibling_enrolled, "sibling already enrolled"),
        (c.foster, "foster child"),
    )
    reasons = [reason for met, reason in groups if met]
    return (0 if reasons else 1), 0, reasons


def _meets(c: Candidate, criterion: str) -> bool:
    """Whether the candidate meets one of the provider's own criteria."""
    return {
        "SIBLING": c.sibling_enrolled,
        "STAFF_CHILD": c.staff_child,
        "RESIDENT": c.resident,
    }[criterion]


def _single_parent(c: Candidate) -> bool:
    return c.family_situation == "SINGLE_PARENT"


def _needs_care_for_work(c: Candidate) -> bool:
    """Every parent listed works, seeks a job, trains or follows an integration course."""
    return bool(c.work_situations) and all(w in _NEEDS_CARE_FOR_WORK for w in c.work_situations)


def _works_four_fifths(c: Candidate) -> bool:
    """Every parent listed works at least 80 % of a full-time job (an unknown share does not)."""
    if not c.work_situations or len(c.work_shares) != len(c.work_situations):
        return False
    return all(
        situation == "WORKING" and share is not None and share >= _FOUR_FIFTHS
        for situation, share in zip(c.work_situations, c.work_shares, strict=True)
    )


def _no_secondary_diploma(c: Candidate) -> bool:
    """No parent listed has a secondary diploma."""
    return bool(c.education_levels) and all(
        level == "NO_SECONDARY_DIPLOMA" for level in c.education_levels
    )


def _local_date(moment: datetime.datetime) -> datetime.date:
    """The Belgian calendar day of a moment; a naive moment is taken as Belgian time already."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(_BELGIUM).date()


def _waiting_time(submitted_on: datetime.date, today: datetime.date) -> str:
    """Whole months since submission, in words ("requested 3 months ago")."""
    months = (today.year - submitted_on.year) * 12 + today.month - submitted_on.month
    if today.day < submitted_on.day:
        months -= 1
    months = max(months, 0)
    if months == 0:
        return "requested this month"
    if months == 1:
        return "requested 1 month ago"
    return f"requested {months} months ago"
