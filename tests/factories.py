"""Small factory functions for test data (through the models, RRNs through permissions.rrn)."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from tortoise.expressions import Q

from models.accounts import Membership, ReferralOrganisation, Role, SickChildService, User
from models.households import Child, Household, Mandate, Parent
from models.privacy import Agreement, AgreementKind
from models.providers import ProviderLocation, ProviderOrganisation
from models.regions import Counter, Municipality, PostalCode
from models.requests import Application, CareRequest, Enrolment
from models.services import ServiceRecord
from permissions.rrn import Rrn
from resolvers import uniqueness

_seq = itertools.count(1)

REGISTER = (
    "mutation Register($input: RegisterHouseholdInput!) "
    "{ registerHousehold(input: $input) { household { id } errors { code } } }"
)
TODAY = datetime.date.today()


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def make_rrn(birth: datetime.date, serial: int = 1) -> str:
    """A valid national register number for a birth date (checksum rule of NOTES.md)."""
    base = f"{birth:%y%m%d}{serial:03d}"
    number = int(("2" if birth.year >= 2000 else "") + base)
    return f"{base}{97 - number % 97:02d}"


async def municipality(nis: str, name: str, postal_codes: tuple[str, ...] = ()) -> Municipality:
    m = await Municipality.create(nis_code=nis, name=name)
    for code in postal_codes:
        await PostalCode.create(code=code, municipality=m)
    return m


# Agreements: every organisation a factory makes, and every user it gives a role, has the
# agreements that role needs in force (a membership without them gives no access); pass
# agreement=False to make one without.
AGREEMENT_VERSION = "test-1"


async def agreement(
    kind: AgreementKind = AgreementKind.PROCESSING,
    *,
    signed_on: datetime.date | None = None,
    ends_on: datetime.date | None = None,
    version: str = AGREEMENT_VERSION,
    **party: Any,
) -> Agreement:
    """An agreement with one party (an organisation, or `user=` for CONFIDENTIALITY),
    in force since a year ago and open-ended unless told otherwise."""
    return await Agreement.create(
        kind=kind, version=version, signed_on=signed_on or days(-365), ends_on=ends_on, **party
    )


async def confidentiality(u: User, **kw: Any) -> Agreement:
    """A confidentiality agreement signed by `u` (admins, sick-child service staff)."""
    return await agreement(AgreementKind.CONFIDENTIALITY, user=u, **kw)


async def _ensure_agreement(kind: AgreementKind, **party: Any) -> None:
    """An agreement in force today for the party, unless it has one already."""
    in_force = Q(ends_on__isnull=True) | Q(ends_on__gte=TODAY)
    if not await Agreement.filter(in_force, kind=kind, signed_on__lte=TODAY, **party).exists():
        await agreement(kind, **party)


async def _organisation_of(scope: dict[str, Any]) -> dict[str, Any] | None:
    """The agreement party (column with id) a membership scope acts for."""
    for key, value in scope.items():
        column = key.removesuffix("_id")
        party = getattr(value, "id", value)
        if column == "provider_location":
            loc = await ProviderLocation.get(id=party)
            return {"provider_organisation_id": loc.organisation_id}  # type: ignore[attr-defined]
        if column in ("provider_organisation", "referral_organisation", "sick_child_service"):
            return {f"{column}_id": party}
        if column == "counter":
            return {"counter_id": party}
    return None


async def agreements_for(u: User, role: Role, **scope: Any) -> None:
    """The agreements a membership of `role` with `scope` needs, in force today."""
    party = await _organisation_of(scope)
    if party is not None:
        await _ensure_agreement(AgreementKind.PROCESSING, **party)
    if role in (Role.ADMIN, Role.SICK_CHILD_SERVICE):
        await _ensure_agreement(AgreementKind.CONFIDENTIALITY, user_id=u.id)


async def counter(name: str, *munis: Municipality, agreement: bool = True) -> Counter:
    c = await Counter.create(name=name)
    await c.municipalities.add(*munis)
    if agreement:
        await _ensure_agreement(AgreementKind.PROCESSING, counter_id=c.id)
    return c


async def organisation(name: str | None = None, *, agreement: bool = True) -> ProviderOrganisation:
    org = await ProviderOrganisation.create(name=name or f"Organisation {next(_seq)}")
    if agreement:
        await _ensure_agreement(AgreementKind.PROCESSING, provider_organisation_id=org.id)
    return org


async def location(
    muni: Municipality, name: str | None = None, *, agreement: bool = True, **kw: Any
) -> ProviderLocation:
    org = kw.pop("organisation", None) or await organisation(agreement=agreement)
    return await ProviderLocation.create(
        organisation=org,
        name=name or f"Location {next(_seq)}",
        street="Kerkstraat 1",
        postal_code="3000",
        municipality=muni,
        kind=kw.pop("kind", "GROUP"),
        capacity=kw.pop("capacity", 18),
        tariff=kw.pop("tariff", "INCOME_RELATED"),
        subsidy_step=kw.pop("subsidy_step", 2),
        **kw,
    )


async def user(
    role: Role | None, email: str | None = None, *, agreement: bool = True, **scope: Any
) -> User:
    """A user with one membership; with `agreement` (the default) also the agreements its
    role needs in force (the organisation's processing agreement, the user's own
    confidentiality agreement for ADMIN and SICK_CHILD_SERVICE)."""
    u = await User.create(email=email or f"user{next(_seq)}@example.test", display_name="Test user")
    if role is not None:
        await Membership.create(user=u, role=role, **scope)
        if agreement:
            await agreements_for(u, role, **scope)
    return u


async def referral_organisation(
    name: str = "OCMW", *, agreement: bool = True
) -> ReferralOrganisation:
    org = await ReferralOrganisation.create(name=name)
    if agreement:
        await _ensure_agreement(AgreementKind.PROCESSING, referral_organisation_id=org.id)
    return org


async def sick_child_service(
    name: str = "Thuisopvang", *, agreement: bool = True
) -> SickChildService:
    service = await SickChildService.create(name=name)
    if agreement:
        await _ensure_agreement(AgreementKind.PROCESSING, sick_child_service_id=service.id)
    return service


PARENT_DEFAULTS: dict[str, Any] = {
    "nationality": "BE",
    "birthplace": "Leuven",
    "home_language": "nl",
    "street": "Naamsestraat 10",
    "postal_code": "3000",
    "phone": "+32470123456",
    "work_situation": "WORKING",
    "work_share_percent": 80,
    "education_level": "HIGHER",
    "relation_to_child": "PARENT",
}


async def household(
    muni: Municipality, parent_user: User | None = None, *, rrn: str | None = None, **kw: Any
) -> tuple[Household, Parent]:
    h = await Household.create(
        municipality=muni,
        family_situation=kw.pop("family_situation", "TWO_PARENTS"),
        income_below_threshold=kw.pop("income_below_threshold", True),
    )
    n = next(_seq)
    p = await Parent.create(
        household=h,
        user=parent_user,
        first_name=kw.pop("first_name", f"Ouder{n}"),
        last_name=kw.pop("last_name", f"Familie{n}"),
        email=kw.pop("email", f"ouder{n}@example.test"),
        municipality=muni,
        **{**PARENT_DEFAULTS, **kw},
    )
    if rrn is not None:
        await uniqueness.store_parent_rrn(p.id, Rrn.parse(rrn))
    return h, p


async def child(
    h: Household,
    *,
    born: datetime.date | None = None,
    expected: datetime.date | None = None,
    rrn: str | None = None,
    first_name: str | None = None,
) -> Child:
    n = next(_seq)
    c = await Child.create(
        household=h,
        first_name=first_name or f"Kind{n}",
        nickname=f"K{n}",
        last_name=f"Familie{n}",
        birth_date=born,
        expected_birth_date=expected if born is None else None,
    )
    if rrn is not None:
        await uniqueness.store_child_rrn(c.id, Rrn.parse(rrn))
    return c


async def care_request(
    c: Child,
    *locations: ProviderLocation,
    start: datetime.date | None = None,
    status: str = "OPEN",
    application_status: str = "PENDING",
) -> CareRequest:
    r = await CareRequest.create(
        household_id=c.household_id,  # type: ignore[attr-defined]
        child=c,
        desired_start_date=start or days(120),
        care_pattern={"MON": "FULL", "TUE": "MORNING"},
        status=status,
    )
    for i, loc in enumerate(locations, start=1):
        await Application.create(request=r, location=loc, preference=i, status=application_status)
    return r


async def enrolment(c: Child, loc: ProviderLocation, **kw: Any) -> Enrolment:
    return await Enrolment.create(
        child=c, location=loc, start_date=kw.pop("start", days(-30)), **kw
    )


async def mandate(
    h: Household, granted_by: Parent, org: ReferralOrganisation, **kw: Any
) -> Mandate:
    return await Mandate.create(household=h, granted_by=granted_by, referral_organisation=org, **kw)


async def service_record(service: SickChildService, c: Child) -> ServiceRecord:
    return await ServiceRecord.create(service=service, child=c, service_date=days(-10))


# A valid registerHousehold input (Leuven, unborn child): the municipality must exist.
REGISTER_INPUT: dict[str, Any] = {
    "applicant": {
        "firstName": "An",
        "lastName": "Peeters",
        "nationality": "BE",
        "homeLanguage": "nl",
        "street": "Naamsestraat 10",
        "postalCode": "3000",
        "municipalityNisCode": "24062",
        "phone": "+32470123456",
        "email": "an.peeters@example.be",
        "workSituation": "WORKING",
        "educationLevel": "HIGHER",
        "relationToChild": "PARENT",
    },
    "familySituation": "SINGLE_PARENT",
    "child": {"firstName": "Lotte", "lastName": "Peeters", "expectedBirthDate": str(days(90))},
}
