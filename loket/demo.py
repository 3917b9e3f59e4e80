"""The demo data set (Leuven region, providers, staff, families) and a user listing."""

from __future__ import annotations

import datetime
from typing import Any

from tortoise.transactions import in_transaction

from loket.db import execute, fetch
from loket.passwords import hash_password
from models.accounts import (
    Membership,
    ReferralKind,
    ReferralOrganisation,
    Role,
    SickChildService,
    User,
)
from models.households import (
    Child,
    EducationLevel,
    FamilySituation,
    Household,
    Mandate,
    Parent,
    RelationToChild,
    WorkSituation,
)
from models.privacy import Agreement, AgreementKind
from models.providers import (
    LastMinutePlace,
    LocationKind,
    ProviderLocation,
    ProviderOrganisation,
    TariffKind,
)
from models.regions import Counter, Region
from models.requests import (
    Application,
    ApplicationStatus,
    CareRequest,
    Enrolment,
    RequestStatus,
)
from models.services import ServiceRecord
from permissions.rrn import Rrn
from resolvers import uniqueness

ADMIN_EMAIL = "admin@demo.loket.be"

REGION = "Leuven"
# Every demo user signs in with this password (demo data only; never in production).
DEMO_PASSWORD = "demo-loket-2026"  # noqa: S105
# (REFNIS code, name, in the Leuven region): the Interleuven municipalities, and Mechelen.
# Their postal codes (bpost) are in POSTAL_CODES.
MUNICIPALITIES = (
    ("24062", "Leuven", True),
    ("24009", "Bertem", True),
    ("24011", "Bierbeek", True),
    ("24016", "Boutersem", True),
    ("24038", "Herent", True),
    ("24043", "Holsbeek", True),
    ("24055", "Kortenberg", True),
    ("24066", "Lubbeek", True),
    ("24086", "Oud-Heverlee", True),
    ("24094", "Rotselaar", True),
    ("24104", "Tervuren", True),
    ("23038", "Kampenhout", True),
    ("24033", "Haacht", True),
    ("24045", "Huldenberg", True),
    ("24048", "Keerbergen", True),
    ("24109", "Tremelo", True),
    ("24007", "Begijnendijk", True),
    ("24014", "Boortmeerbeek", True),
    ("23094", "Zaventem", True),
    ("12025", "Mechelen", False),
)
# Postal codes per municipality (bpost) with the place and its approximate centre
# (latitude, longitude; within about a kilometre), for the distance search.
POSTAL_CODES: dict[str, list[tuple[str, str, float, float]]] = {
    "24062": [
        ("3000", "Leuven", 50.8798, 4.7005),
        ("3001", "Heverlee", 50.863, 4.696),
        ("3010", "Kessel-Lo", 50.888, 4.727),
        ("3012", "Wilsele", 50.902, 4.695),
        ("3018", "Wijgmaal", 50.927, 4.7),
    ],
    "24009": [
        ("3060", "Bertem", 50.865, 4.628),
        ("3061", "Leefdaal", 50.852, 4.6),
    ],
    "24011": [
        ("3360", "Bierbeek", 50.828, 4.759),
    ],
    "24016": [
        ("3370", "Boutersem", 50.835, 4.835),
    ],
    "24038": [
        ("3020", "Herent", 50.908, 4.672),
    ],
    "24043": [
        ("3220", "Holsbeek", 50.921, 4.757),
        ("3221", "Nieuwrode", 50.947, 4.797),
    ],
    "24055": [
        ("3070", "Kortenberg", 50.883, 4.543),
        ("3071", "Erps-Kwerps", 50.898, 4.565),
        ("3078", "Everberg", 50.873, 4.567),
    ],
    "24066": [
        ("3210", "Lubbeek", 50.883, 4.838),
        ("3211", "Binkom", 50.871, 4.883),
        ("3212", "Pellenberg", 50.877, 4.776),
    ],
    "24086": [
        ("3050", "Oud-Heverlee", 50.837, 4.662),
        ("3051", "Sint-Joris-Weert", 50.798, 4.656),
        ("3052", "Blanden", 50.82, 4.7),
        ("3053", "Haasrode", 50.828, 4.723),
        ("3054", "Vaalbeek", 50.823, 4.686),
    ],
    "24094": [
        ("3110", "Rotselaar", 50.953, 4.716),
        ("3111", "Wezemaal", 50.955, 4.75),
        ("3118", "Werchter", 50.97, 4.701),
    ],
    "24104": [
        ("3080", "Tervuren", 50.823, 4.515),
    ],
    "23038": [
        ("1910", "Kampenhout", 50.943, 4.553),
    ],
    "24033": [
        ("3150", "Haacht", 50.977, 4.638),
    ],
    "24045": [
        ("3040", "Huldenberg", 50.789, 4.583),
    ],
    "24048": [
        ("3140", "Keerbergen", 51.003, 4.632),
    ],
    "24109": [
        ("3120", "Tremelo", 50.992, 4.708),
        ("3128", "Baal", 51.0, 4.746),
    ],
    "24007": [
        ("3130", "Begijnendijk", 51.02, 4.784),
    ],
    "24014": [
        ("3190", "Boortmeerbeek", 50.979, 4.574),
        ("3191", "Hever", 50.998, 4.535),
    ],
    "23094": [
        ("1930", "Zaventem", 50.883, 4.472),
        ("1932", "Sint-Stevens-Woluwe", 50.866, 4.442),
        ("1933", "Sterrebeek", 50.855, 4.515),
    ],
    "12025": [
        ("2800", "Mechelen", 51.028, 4.48),
        ("2801", "Heffen", 51.05, 4.415),
        ("2811", "Hombeek", 51.008, 4.436),
        ("2812", "Muizen", 51.008, 4.513),
    ],
}

LEUVEN, BIERBEEK, HERENT, LUBBEEK, MECHELEN = "24062", "24011", "24038", "24066", "12025"

COUNTER = "Loket Kinderopvang Leuven-Oost"
COUNTER_MUNICIPALITIES = (LEUVEN, BIERBEEK, LUBBEEK, "24086", "24016")

ORGANISATIONS = {
    "speelboom": "vzw Kinderopvang De Speelboom",
    "dijleland": "Dienst voor Gezinsopvang Dijleland vzw",
    "maneblusser": "Kinderopvang De Maneblusser vzw",
}

GROUP, FAMILY = LocationKind.GROUP, LocationKind.FAMILY
INCOME, FREE = TariffKind.INCOME_RELATED, TariffKind.FREE_PRICE
_LOCATION_COLUMNS = (
    "name",
    "street",
    "postal_code",
    "municipality_id",
    "kind",
    "capacity",
    "tariff",
    "subsidy_step",
    "min_age_months",
    "max_age_months",
    "opening_hours",
    "opening_days",
    "priority_policy",
    "priority_criteria",
)
WEEK = ["MON", "TUE", "WED", "THU", "FRI"]
# key -> (organisation key, values in _LOCATION_COLUMNS order); the first is "the" Leuven one.
LOCATIONS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "speelboom": ("speelboom", (
        "Kinderdagverblijf De Speelboom", "Tiensestraat 112", "3000", LEUVEN, GROUP, 28,
        INCOME, 3, 0, 36, "ma-vr 7.00-18.30", WEEK,
        "Broers en zussen van kinderen in de opvang krijgen voorrang.",
        [{"criterion": "SIBLING", "weight": 50}],
    )),
    "kabouterhuis": ("speelboom", (
        "Kinderopvang Het Kabouterhuis", "Brusselsestraat 45", "3000", LEUVEN, GROUP, 14,
        FREE, None, 3, 36, "ma-vr 7.30-18.00", WEEK,
        "Eerst broers en zussen, dan kinderen van personeel.",
        [{"criterion": "SIBLING", "weight": 20}, {"criterion": "STAFF_CHILD", "weight": 10}],
    )),
    "rupsje": ("dijleland", (
        "Gezinsopvang 't Rupsje", "Wilsondreef 12", "3020", HERENT, FAMILY, 8,
        INCOME, 2, 0, 36, "ma-do 7.00-18.00", WEEK[:4],
        "Kinderen uit Herent krijgen voorrang binnen de wettelijke regels.",
        [{"criterion": "RESIDENT", "weight": 30}],
    )),
    "knuffelbeer": ("dijleland", (
        "Gezinsopvang De Knuffelbeer", "Gellenberg 5", "3210", LUBBEEK, FAMILY, 6,
        FREE, None, 0, 30, "ma-vr 7.30-17.30", WEEK, "", [],
    )),
    "maneblusser": ("maneblusser", (
        "Kinderdagverblijf De Maneblusser", "Leopoldstraat 40", "2800", MECHELEN, GROUP, 35,
        INCOME, 2, 0, 36, "ma-vr 6.30-18.30", WEEK, "", [],
    )),
}  # fmt: skip
# (location, first day, last day (days from today), days, ages in months, places)
LAST_MINUTE = (
    ("kabouterhuis", 7, 60, WEEK, 12, 36, 2),
    ("knuffelbeer", 3, 30, ["MON", "TUE", "THU"], 0, 30, 1),
)

OCMW, SICK_SERVICE = "OCMW Leuven", "Thuisopvang Zieke Kinderen Leuven"

# (email, display name, role, membership scope column or None, key of the scoped object)
USERS = (
    (ADMIN_EMAIL, "Sofie Mertens", Role.ADMIN, None, None),
    ("loket@demo.loket.be", "Tom Jacobs", Role.LOKET, "counter", COUNTER),
    ("provider.leuven@demo.loket.be", "Katrien Willems", Role.PROVIDER,
     "provider_location", "speelboom"),
    ("provider.herent@demo.loket.be", "Marleen Goossens", Role.PROVIDER,
     "provider_organisation", "dijleland"),
    ("provider.mechelen@demo.loket.be", "Pieter De Smet", Role.PROVIDER,
     "provider_location", "maneblusser"),
    ("toeleider@demo.loket.be", "Hanne Vermeiren", Role.TOELEIDER,
     "referral_organisation", OCMW),
    ("ziekekind@demo.loket.be", "Ilse Wuyts", Role.SICK_CHILD_SERVICE,
     "sick_child_service", SICK_SERVICE),
    ("integrator.provider@demo.loket.be", "Koppeling De Speelboom", Role.INTEGRATOR,
     "provider_organisation", "speelboom"),
    ("integrator.loket@demo.loket.be", "Rapportering Leuven-Oost", Role.INTEGRATOR,
     "counter", COUNTER),
    ("an@demo.loket.be", "An Peeters", Role.PARENT, None, None),
    ("bram@demo.loket.be", "Bram Janssens", Role.PARENT, None, None),
    ("chloe@demo.loket.be", "Chloé Dubois", Role.PARENT, None, None),
    ("dirk@demo.loket.be", "Dirk Wouters", Role.PARENT, None, None),
    ("els@demo.loket.be", "Els Claes", Role.PARENT, None, None),
    ("fien@demo.loket.be", "Fien Maes", Role.PARENT, None, None),
)  # fmt: skip

W, JS, NO = WorkSituation.WORKING, WorkSituation.JOB_SEEKING, WorkSituation.NONE
HIGHER, SECONDARY = EducationLevel.HIGHER, EducationLevel.SECONDARY
_PARENT_COLUMNS = (
    "is_applicant",
    "first_name",
    "last_name",
    "nationality",
    "birthplace",
    "home_language",
    "phone",
    "work_situation",
    "work_share_percent",
    "education_level",
)
# key -> (residence, street, postal code, family situation, income below threshold,
#         parents: (email, values in _PARENT_COLUMNS order, RRN (birth date, serial) or None))
# A parent whose email is not in USERS (Dirk's partner) has no account.
HOUSEHOLDS: dict[str, tuple[Any, ...]] = {
    "an": (LEUVEN, "Parkstraat 87", "3000", FamilySituation.TWO_PARENTS, False, (
        ("an@demo.loket.be", (True, "An", "Peeters", "BE", "Leuven", "nl", "+32470123456",
                              W, 80, HIGHER), (datetime.date(1992, 4, 17), 214)),
        ("bram@demo.loket.be", (False, "Bram", "Janssens", "BE", "Tienen", "nl", "+32470123457",
                                W, 100, SECONDARY), (datetime.date(1990, 11, 3), 157)),
    )),
    "chloe": (HERENT, "Kloosterstraat 9", "3020", FamilySituation.SINGLE_PARENT, True, (
        ("chloe@demo.loket.be", (True, "Chloé", "Dubois", "BE", "Vilvoorde", "fr",
                                 "+32470123458", JS, None, SECONDARY),
         (datetime.date(1997, 6, 21), 82)),
    )),
    "dirk": (MECHELEN, "Hanswijkstraat 23", "2800", FamilySituation.TWO_PARENTS, False, (
        ("dirk@demo.loket.be", (True, "Dirk", "Wouters", "NL", "Breda", "nl", "+32470123459",
                                W, 100, HIGHER), None),
        ("sanne.vermeulen@example.com", (False, "Sanne", "Vermeulen", "BE", "Mechelen", "nl",
                                         "+32470123461", W, 80, HIGHER), None),
    )),
    "els": (BIERBEEK, "Dorpsstraat 31", "3360", FamilySituation.SINGLE_PARENT, True, (
        ("els@demo.loket.be", (True, "Els", "Claes", "BE", "Leuven", "nl", "+32470123460",
                               W, 50, SECONDARY), (datetime.date(1989, 2, 8), 46)),
    )),
}  # fmt: skip

# key -> (household, first name, nickname, last name, born (days from today) or None,
#         expected birth (days from today) or None, RRN serial or None)
CHILDREN: dict[str, tuple[Any, ...]] = {
    "noor": ("an", "Noor", "Noortje", "Janssens", -243, None, 126),
    "baby_janssens": ("an", "Baby", "", "Janssens", None, 122, None),
    "milan": ("chloe", "Milan", "", "Dubois", -150, None, 33),
    "finn": ("dirk", "Finn", "Finnie", "Wouters", -62, None, 97),
    "lena": ("els", "Lena", "", "Claes", -420, None, 58),
}

# (household, email of the granting parent, referral organisation)
MANDATES = (("chloe", "chloe@demo.loket.be", OCMW),)

# child -> (desired start, submitted (days from today), status, care pattern, filed by,
#           filed via the household's mandate, note, ((location, application status), ...))
REQUESTS: dict[str, tuple[Any, ...]] = {
    "noor": (91, -60, RequestStatus.OPEN, {"MON": "FULL", "TUE": "FULL", "THU": "FULL",
             "FRI": "MORNING"}, "an@demo.loket.be", False, "",
             (("speelboom", ApplicationStatus.PENDING),
              ("kabouterhuis", ApplicationStatus.PENDING))),
    "milan": (30, -20, RequestStatus.OPEN, {"MON": "FULL", "TUE": "FULL", "WED": "MORNING",
              "THU": "FULL", "FRI": "FULL"}, "toeleider@demo.loket.be", True,
              "Mama start binnenkort met een opleiding via VDAB.",
              (("rupsje", ApplicationStatus.PENDING),
               ("knuffelbeer", ApplicationStatus.WAITLISTED))),
    "finn": (152, -10, RequestStatus.OPEN, {"MON": "FULL", "WED": "AFTERNOON", "FRI": "FULL"},
             "dirk@demo.loket.be", False, "", (("maneblusser", ApplicationStatus.PENDING),)),
    "lena": (-150, -300, RequestStatus.FULFILLED, {"MON": "FULL", "TUE": "FULL",
             "WED": "FULL"}, "els@demo.loket.be", False, "",
             (("speelboom", ApplicationStatus.ENROLLED),)),
}  # fmt: skip

# (child, location, start (days from today)): children holding a place now.
ENROLMENTS = (("lena", "speelboom", -150),)
# (child, sick-child service, service date (days from today))
SERVICE_RECORDS = (("lena", SICK_SERVICE, -21),)

EMERGENCY_DAYS = 60
# The version of the demo's processor and confidentiality agreements.
AGREEMENT_VERSION = "2025-1"


def demo_rrn(birth: datetime.date, serial: int) -> Rrn:
    """A valid national register number for a birth date (97 - n mod 97, '2' from 2000)."""
    base = f"{birth:%y%m%d}{serial:03d}"
    number = int(("2" if birth.year >= 2000 else "") + base)
    return Rrn.parse(f"{base}{97 - number % 97:02d}")


async def load_reference_data() -> Region:
    """The Leuven region's municipalities and postal codes (upserted: safe to repeat)."""
    region, _ = await Region.get_or_create(name=REGION)
    await execute(
        """INSERT INTO municipality (nis_code, name, region_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
           ON CONFLICT (nis_code) DO UPDATE
           SET name = EXCLUDED.name, region_id = EXCLUDED.region_id""",
        [m[0] for m in MUNICIPALITIES],
        [m[1] for m in MUNICIPALITIES],
        [region.id if m[2] else None for m in MUNICIPALITIES],
    )
    codes = [(nis, *code) for nis, listed in POSTAL_CODES.items() for code in listed]
    await execute(
        """INSERT INTO postal_code (municipality_id, code, place_name, latitude, longitude)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[])
           ON CONFLICT (code, municipality_id) DO UPDATE
           SET place_name = EXCLUDED.place_name, latitude = EXCLUDED.latitude,
               longitude = EXCLUDED.longitude""",
        *(list(column) for column in zip(*codes, strict=True)),
    )
    return region


async def load_demo_agreements(today: datetime.date) -> None:
    """The agreements the demo staff need (a membership gives no access without them):
    a processor agreement for every demo organisation, a confidentiality agreement for the
    admin and the sick-child service staff. Only where the party has none yet, so a demo
    database loaded before agreements conditioned access gets them too. One ends soon:
    the admin sees it among the agreements that expire."""
    signed_on = today - datetime.timedelta(days=400)
    soon = ORGANISATIONS["maneblusser"]
    parties: list[tuple[str, Any]] = [
        ("provider_organisation", o)
        for o in await ProviderOrganisation.filter(name__in=list(ORGANISATIONS.values()))
    ]
    parties += [("referral_organisation", o) for o in await ReferralOrganisation.filter(name=OCMW)]
    parties += [("sick_child_service", s) for s in await SickChildService.filter(name=SICK_SERVICE)]
    parties += [("counter", c) for c in await Counter.filter(name=COUNTER)]
    for column, party in parties:
        if not await Agreement.exists(**{column: party}):
            await Agreement.create(
                kind=AgreementKind.PROCESSING,
                version=AGREEMENT_VERSION,
                signed_on=signed_on,
                ends_on=today + datetime.timedelta(days=45) if party.name == soon else None,
                **{column: party},
            )
    staff = [e for e, _, role, _, _ in USERS if role in (Role.ADMIN, Role.SICK_CHILD_SERVICE)]
    for user in await User.filter(email__in=staff):
        if not await Agreement.exists(user=user):
            await Agreement.create(
                kind=AgreementKind.CONFIDENTIALITY,
                version=AGREEMENT_VERSION,
                signed_on=signed_on,
                user=user,
            )


async def load_demo() -> bool:
    """Load the demo data set in one transaction; False (and only the reference data and
    missing demo agreements refreshed) if it is present already."""
    if await User.exists(email=ADMIN_EMAIL):
        async with in_transaction():
            await load_reference_data()
            await load_demo_agreements(datetime.date.today())
        return False
    today = datetime.date.today()
    now = datetime.datetime.now(datetime.UTC)

    def day(offset: int) -> datetime.date:
        return today + datetime.timedelta(days=offset)

    async with in_transaction():
        await load_reference_data()
        counter, _ = await Counter.get_or_create(name=COUNTER)
        await execute(
            """INSERT INTO counter_municipality (counter_id, municipality_id)
               SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
            counter.id,
            list(COUNTER_MUNICIPALITIES),
        )
        orgs = {
            key: await ProviderOrganisation.create(name=name) for key, name in ORGANISATIONS.items()
        }
        locations = {
            key: await ProviderLocation.create(
                organisation=orgs[org], **dict(zip(_LOCATION_COLUMNS, values, strict=True))
            )
            for key, (org, values) in LOCATIONS.items()
        }
        for where, first, last, week_days, min_age, max_age, places in LAST_MINUTE:
            await LastMinutePlace.create(
                location=locations[where],
                period_start=day(first),
                period_end=day(last),
                days=week_days,
                min_age_months=min_age,
                max_age_months=max_age,
                places=places,
            )
        scopes: dict[str, dict[str, Any]] = {
            "counter": {COUNTER: counter},
            "provider_location": locations,
            "provider_organisation": orgs,
            "referral_organisation": {
                OCMW: await ReferralOrganisation.create(name=OCMW, kind=ReferralKind.OCMW)
            },
            "sick_child_service": {SICK_SERVICE: await SickChildService.create(name=SICK_SERVICE)},
        }

        users: dict[str, User] = {}
        demo_hash = hash_password(DEMO_PASSWORD)
        for email, display_name, role, column, key in USERS:
            users[email] = await User.create(
                email=email, display_name=display_name, password_hash=demo_hash
            )
            scope = {column: scopes[column][key]} if column and key else {}
            await Membership.create(user=users.get(email), role=role, **scope)

        await load_demo_agreements(today)

        households: dict[str, Household] = {}
        parents: dict[str, Parent] = {}
        for key, (muni, street, postal, situation, low_income, members) in HOUSEHOLDS.items():
            households[key] = household = await Household.create(
                municipality_id=muni, family_situation=situation, income_below_threshold=low_income
            )
            for email, values, rrn in members:
                parents[email] = parent = await Parent.create(
                    household=household,
                    user=users.get(email),
                    street=street,
                    postal_code=postal,
                    municipality_id=muni,
                    email=email,
                    relation_to_child=RelationToChild.PARENT,
                    **dict(zip(_PARENT_COLUMNS, values, strict=True)),
                )
                if rrn is not None:
                    await uniqueness.store_parent_rrn(parent.id, demo_rrn(*rrn))

        children: dict[str, Child] = {}
        for key, (hh, first, nick, last, born, expected, serial) in CHILDREN.items():
            birth = None if born is None else day(born)
            children[key] = child = await Child.create(
                household=households[hh],
                first_name=first,
                nickname=nick,
                last_name=last,
                birth_date=birth,
                expected_birth_date=None if expected is None else day(expected),
            )
            if birth is not None and serial is not None:
                await uniqueness.store_child_rrn(child.id, demo_rrn(birth, serial))

        mandates: dict[str, Mandate] = {}
        for hh, granted_by, org in MANDATES:
            mandates[hh] = await Mandate.create(
                household=households[hh],
                referral_organisation=scopes["referral_organisation"][org],
                granted_by=parents[granted_by],
                granted_at=now - datetime.timedelta(days=30),
            )

        requests: dict[str, CareRequest] = {}
        for key, row in REQUESTS.items():
            start, submitted, status, pattern, filed_by, via_mandate, note, apps = row
            child = children[key]
            start_date, submitted_at = day(start), now + datetime.timedelta(days=submitted)
            emergency = start_date - datetime.timedelta(days=EMERGENCY_DAYS)
            requests[key] = request = await CareRequest.create(
                household=households[CHILDREN[key][0]],
                child=child,
                desired_start_date=start_date,
                care_pattern=pattern,
                note=note,
                status=status,
                submitted_at=submitted_at,
                filed_by=users[filed_by],
                filed_via_mandate=mandates[CHILDREN[key][0]] if via_mandate else None,
                emergency_since=(
                    max(emergency, submitted_at.date())
                    if status is RequestStatus.OPEN and emergency <= today
                    else None
                ),
            )
            for preference, (location, app_status) in enumerate(apps, start=1):
                await Application.create(
                    request=request,
                    location=locations[location],
                    preference=preference,
                    status=app_status,
                    offered_start_date=(
                        start_date if app_status is ApplicationStatus.ENROLLED else None
                    ),
                )

        for key, location, start in ENROLMENTS:
            await Enrolment.create(
                child=children[key],
                location=locations[location],
                request=requests.get(key),
                start_date=day(start),
            )
        for key, service, offset in SERVICE_RECORDS:
            await ServiceRecord.create(
                service=scopes["sick_child_service"][service],
                child=children[key],
                service_date=day(offset),
            )
    return True


_USERS_SQL = """
SELECT u.email,
       coalesce(string_agg(
           m.role
           || CASE WHEN m.role = 'INTEGRATOR' AND m.counter_id IS NOT NULL THEN ' as LOKET'
                   WHEN m.role = 'INTEGRATOR' THEN ' as PROVIDER' ELSE '' END
           || coalesce(' (' || coalesce(
                  c.name, 'organisation ' || po.name, 'location ' || pl.name || ', ' || plm.name,
                  ro.name,
                  s.name, 'household in ' || hm.name,
                  CASE WHEN m.role = 'PARENT' THEN 'no household yet' END) || ')', ''),
           ', ' ORDER BY m.role, m.created_at), '-')
       || CASE WHEN u.is_active THEN '' ELSE ' [inactive]' END AS roles
FROM app_user u
LEFT JOIN membership m ON m.user_id = u.id AND m.revoked_at IS NULL
LEFT JOIN counter c ON c.id = m.counter_id
LEFT JOIN provider_organisation po ON po.id = m.provider_organisation_id
LEFT JOIN provider_location pl ON pl.id = m.provider_location_id
LEFT JOIN municipality plm ON plm.nis_code = pl.municipality_id
LEFT JOIN referral_organisation ro ON ro.id = m.referral_organisation_id
LEFT JOIN sick_child_service s ON s.id = m.sick_child_service_id
LEFT JOIN parent p ON m.role = 'PARENT' AND p.user_id = u.id
LEFT JOIN household h ON h.id = p.household_id
LEFT JOIN municipality hm ON hm.nis_code = h.municipality_id
GROUP BY u.id
ORDER BY u.email
"""


async def list_users() -> list[tuple[str, str]]:
    """Every user's email with their active memberships, in one query, sorted by email."""
    return [(row["email"], row["roles"]) for row in await fetch(_USERS_SQL)]
