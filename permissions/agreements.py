"""Agreements as conditions of access, as data: which agreement each role's membership needs.

The privacy policy promises that organisations process parents' data only under a
processor agreement (verwerkersovereenkomst) and that admins and sick-child service
staff have signed a confidentiality agreement. A membership gives its role only while
the agreements it needs are in force today; `membership_in_force` turns `NEEDS` into the
SQL the viewer query (`permissions.viewer`) evaluates once per request, so an agreement
that ends, or was never recorded, removes the access at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.accounts import Role

AGREEMENT_MISSING = "AGREEMENT_MISSING"


def in_force(agreement: str) -> str:
    """SQL: the agreement `agreement` is in force today (its first and last day included)."""
    return (
        f"{agreement}.signed_on <= current_date"
        f" AND ({agreement}.ends_on IS NULL OR {agreement}.ends_on >= current_date)"
    )


# The organisation a membership `m` acts for, as (agreement party column, SQL of its id):
# provider staff of one location act for the location's organisation.
_PROVIDER_ORGANISATION = (
    "provider_organisation_id",
    "coalesce(m.provider_organisation_id, (SELECT pl.organisation_id FROM provider_location pl"
    " WHERE pl.id = m.provider_location_id))",
)
_REFERRAL_ORGANISATION = ("referral_organisation_id", "m.referral_organisation_id")
_SICK_CHILD_SERVICE = ("sick_child_service_id", "m.sick_child_service_id")
_COUNTER = ("counter_id", "m.counter_id")


@dataclass(frozen=True)
class Needs:
    """What a membership of a role needs: a processing agreement of the organisation it
    acts for (any one of `processing`: an integrator acts for an organisation or a
    counter), and whether the user's own confidentiality agreement."""

    processing: tuple[tuple[str, str], ...]
    confidentiality: bool
    text: str


NEEDS: dict[Role, Needs] = {
    Role.PARENT: Needs((), False, "none: parents act for themselves"),
    Role.PROVIDER: Needs(
        (_PROVIDER_ORGANISATION,),
        False,
        "a processing agreement of the provider organisation (of the location)",
    ),
    Role.TOELEIDER: Needs(
        (_REFERRAL_ORGANISATION,), False, "a processing agreement of the referral organisation"
    ),
    Role.LOKET: Needs((_COUNTER,), False, "a processing agreement of the counter"),
    Role.INTEGRATOR: Needs(
        (_PROVIDER_ORGANISATION, _COUNTER),
        False,
        "a processing agreement of the provider organisation or counter it acts for",
    ),
    Role.SICK_CHILD_SERVICE: Needs(
        (_SICK_CHILD_SERVICE,),
        True,
        "a processing agreement of the service and the staff member's own confidentiality "
        "agreement",
    ),
    Role.ADMIN: Needs((), True, "the admin's own confidentiality agreement"),
}

assert set(NEEDS) == set(Role), "every role needs an agreement rule"


def _processing(column: str, party: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM agreement a WHERE a.kind = 'PROCESSING'"
        f" AND a.{column} = {party} AND {in_force('a')})"
    )


_CONFIDENTIALITY = (
    "EXISTS (SELECT 1 FROM agreement a WHERE a.kind = 'CONFIDENTIALITY'"
    f" AND a.user_id = m.user_id AND {in_force('a')})"
)


def role_in_force(role: Role) -> str:
    """SQL (on a membership `m` known to be of `role`): whether the agreements `role`
    needs are in force today. For queries that fix the role themselves, e.g. the
    recipients of a notification (`jobs.outbox`): whoever may not reach the data may not
    be told about it either."""
    needs = NEEDS[role]
    conditions = []
    if needs.processing:
        alternatives = [_processing(column, party) for column, party in needs.processing]
        conditions.append("(" + " OR ".join(alternatives) + ")")
    if needs.confidentiality:
        conditions.append(_CONFIDENTIALITY)
    return " AND ".join(conditions) or "true"


def membership_in_force() -> str:
    """SQL (on a membership `m`): whether the agreements its role needs are in force
    today. An unknown role needs what cannot be had."""
    branches = [f"WHEN '{role.value}' THEN {role_in_force(role)}" for role in NEEDS]
    return "CASE m.role\n         " + "\n         ".join(branches) + "\n         ELSE false END"
