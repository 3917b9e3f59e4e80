"""The access policy of MISSION.md section 1, as data: grants, abilities and who holds them.

A *grant* is the relation between a viewer and a dossier (household). Each role reaches
dossiers through its own grants only; an *ability* is what a schema field needs, and it
names the grants under which it may be used. Fields declare an ability once (see
`schema.directives`); the SDL directive, the enforcement and the privacy tables are all
derived from these declarations and the tables below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.accounts import Role


class Grant(StrEnum):
    """How a viewer reaches a dossier."""

    OWN_HOUSEHOLD = "OWN_HOUSEHOLD"
    ACTIVE_MANDATE = "ACTIVE_MANDATE"
    ADMIN = "ADMIN"
    COUNTER_REGION = "COUNTER_REGION"
    PROVIDER_SELECTED = "PROVIDER_SELECTED"
    PROVIDER_ENROLLED = "PROVIDER_ENROLLED"
    PROVIDER_EMERGENCY = "PROVIDER_EMERGENCY"
    SICK_CHILD_SERVICE = "SICK_CHILD_SERVICE"


# The grants each (effective) role can hold. An INTEGRATOR acts as PROVIDER or LOKET.
ROLE_GRANTS: dict[Role, frozenset[Grant]] = {
    Role.PARENT: frozenset({Grant.OWN_HOUSEHOLD}),
    Role.TOELEIDER: frozenset({Grant.ACTIVE_MANDATE}),
    Role.ADMIN: frozenset({Grant.ADMIN}),
    Role.LOKET: frozenset({Grant.COUNTER_REGION}),
    Role.PROVIDER: frozenset(
        {Grant.PROVIDER_SELECTED, Grant.PROVIDER_ENROLLED, Grant.PROVIDER_EMERGENCY}
    ),
    Role.SICK_CHILD_SERVICE: frozenset({Grant.SICK_CHILD_SERVICE}),
    Role.INTEGRATOR: frozenset(),
}

# Grants that allow writing the dossier (MISSION.md section 1, column "Write"); each
# write ability narrows them further, and counter staff write only their field subset
# (the input fields' own policies, see `resolvers.access.denied_inputs`).
WRITE_GRANTS = frozenset(
    {
        Grant.OWN_HOUSEHOLD,
        Grant.ACTIVE_MANDATE,
        Grant.ADMIN,
        Grant.COUNTER_REGION,
        Grant.PROVIDER_SELECTED,
        Grant.PROVIDER_ENROLLED,
    }
)

_PROVIDER = (Grant.PROVIDER_SELECTED, Grant.PROVIDER_ENROLLED, Grant.PROVIDER_EMERGENCY)
_HANDLERS = (Grant.OWN_HOUSEHOLD, Grant.ACTIVE_MANDATE, Grant.ADMIN, *_PROVIDER)
# The family's side of a dossier: the parents, their referral workers, admins.
_FAMILY = (Grant.OWN_HOUSEHOLD, Grant.ACTIVE_MANDATE, Grant.ADMIN)
_FAMILY_ROLES = (Role.PARENT, Role.TOELEIDER, Role.ADMIN)


class Ability(StrEnum):
    """What a guarded field or mutation needs."""

    # Reads of dossier data.
    PARENT_NAME = "PARENT_NAME"
    PARENT_ADDRESS = "PARENT_ADDRESS"
    PARENT_CONTACT = "PARENT_CONTACT"
    PARENT_PROFILE = "PARENT_PROFILE"
    PARENT_SITUATION = "PARENT_SITUATION"
    HOUSEHOLD_PARENTS = "HOUSEHOLD_PARENTS"
    HOUSEHOLD_CHILDREN = "HOUSEHOLD_CHILDREN"
    HOUSEHOLD_REQUESTS = "HOUSEHOLD_REQUESTS"
    CHILD_NAME = "CHILD_NAME"
    CHILD_DETAILS = "CHILD_DETAILS"
    REQUEST_DETAILS = "REQUEST_DETAILS"
    PREFERRED_PROVIDERS = "PREFERRED_PROVIDERS"
    APPLICATION_HANDLING = "APPLICATION_HANDLING"
    DOSSIER_GUIDANCE = "DOSSIER_GUIDANCE"
    MANDATES = "MANDATES"
    CONSENTS = "CONSENTS"
    ACCESS_LOG = "ACCESS_LOG"
    DISCLOSURES = "DISCLOSURES"
    DISCLOSURE_NOTICES = "DISCLOSURE_NOTICES"
    DISCLOSURE_REGISTER = "DISCLOSURE_REGISTER"
    DATA_EXPORTS = "DATA_EXPORTS"
    ERASURE_REQUESTS = "ERASURE_REQUESTS"
    # Entry points and actions.
    SIGNED_IN = "SIGNED_IN"
    OWN_DOSSIER = "OWN_DOSSIER"
    LIST_DOSSIERS = "LIST_DOSSIERS"
    PROVIDER_INBOX = "PROVIDER_INBOX"
    REGISTER_HOUSEHOLD = "REGISTER_HOUSEHOLD"
    SUBMIT_CARE_REQUEST = "SUBMIT_CARE_REQUEST"
    CHECK_REQUEST_UNIQUENESS = "CHECK_REQUEST_UNIQUENESS"
    INVITE_PARTNER = "INVITE_PARTNER"
    JOIN_HOUSEHOLD = "JOIN_HOUSEHOLD"
    EDIT_DOSSIER = "EDIT_DOSSIER"
    MANAGE_CHILDREN = "MANAGE_CHILDREN"
    WITHDRAW_REQUEST = "WITHDRAW_REQUEST"
    ANSWER_OFFER = "ANSWER_OFFER"
    MANAGE_CONSENT = "MANAGE_CONSENT"
    GRANT_MANDATE = "GRANT_MANDATE"
    REVOKE_MANDATE = "REVOKE_MANDATE"
    START_DOSSIER = "START_DOSSIER"
    MANAGE_REFERRAL_ORGANISATIONS = "MANAGE_REFERRAL_ORGANISATIONS"
    CONSENTED_CONTACTS = "CONSENTED_CONTACTS"
    ANSWER_APPLICATION = "ANSWER_APPLICATION"
    CHOOSE_LOCATIONS = "CHOOSE_LOCATIONS"
    END_ENROLMENT = "END_ENROLMENT"
    MANAGE_LOCATION = "MANAGE_LOCATION"
    LOCATION_QUOTA = "LOCATION_QUOTA"
    PUBLISH_LAST_MINUTE = "PUBLISH_LAST_MINUTE"
    SAVE_SEARCH = "SAVE_SEARCH"
    DEMAND_OVERVIEW = "DEMAND_OVERVIEW"
    SERVICE_CHILDREN = "SERVICE_CHILDREN"
    MANAGE_INTEGRATORS = "MANAGE_INTEGRATORS"
    TREND_STATISTICS = "TREND_STATISTICS"
    JOB_RUNS = "JOB_RUNS"
    PRIVACY_REPORT = "PRIVACY_REPORT"
    MANAGE_AGREEMENTS = "MANAGE_AGREEMENTS"
    MANAGE_REPORTS = "MANAGE_REPORTS"
    OWN_REPORTS = "OWN_REPORTS"
    EXPORT_OWN_DATA = "EXPORT_OWN_DATA"
    ERASE_OWN_DATA = "ERASE_OWN_DATA"


@dataclass(frozen=True)
class Rule:
    """Who may use an ability: roles, and for dossier data the grants it is read under."""

    grants: frozenset[Grant]
    roles: frozenset[Role]
    personal: bool
    text: str


def _read(text: str, *grants: Grant, personal: bool = True) -> Rule:
    gs = frozenset(grants)
    roles = frozenset(r for r, held in ROLE_GRANTS.items() if held & gs)
    # Integrators act as providers or counters; they may read what that role may.
    if roles & {Role.PROVIDER, Role.LOKET}:
        roles |= {Role.INTEGRATOR}
    return Rule(grants=gs, roles=roles, personal=personal, text=text)


def _act(text: str, *roles: Role, grants: tuple[Grant, ...] = ()) -> Rule:
    return Rule(grants=frozenset(grants), roles=frozenset(roles), personal=False, text=text)


ALL_DOSSIER_GRANTS = tuple(Grant)

POLICY: dict[Ability, Rule] = {
    Ability.PARENT_NAME: _read("parent's name", *ALL_DOSSIER_GRANTS),
    Ability.PARENT_ADDRESS: _read("parent's address", *ALL_DOSSIER_GRANTS),
    Ability.PARENT_CONTACT: _read("parent's phone and email", *_HANDLERS, Grant.COUNTER_REGION),
    Ability.PARENT_PROFILE: _read(
        "nationality, birthplace, home language, relation to the child", *_HANDLERS
    ),
    Ability.PARENT_SITUATION: _read(
        "work situation, education, income, family situation (priority rules)", *_HANDLERS
    ),
    Ability.HOUSEHOLD_PARENTS: _read(
        "the parents of a dossier", *ALL_DOSSIER_GRANTS, personal=False
    ),
    Ability.HOUSEHOLD_CHILDREN: _read(
        "the children of a dossier", *_HANDLERS, Grant.SICK_CHILD_SERVICE, personal=False
    ),
    Ability.HOUSEHOLD_REQUESTS: _read(
        "the care requests of a dossier", *_HANDLERS, Grant.COUNTER_REGION, personal=False
    ),
    Ability.CHILD_NAME: _read("child's name", *_HANDLERS, Grant.SICK_CHILD_SERVICE),
    Ability.CHILD_DETAILS: _read("child's nickname and (expected) birth date", *_HANDLERS),
    Ability.REQUEST_DETAILS: _read(
        "desired start, care pattern, note and status of a request", *_HANDLERS
    ),
    Ability.PREFERRED_PROVIDERS: _read(
        "the list of preferred providers",
        Grant.OWN_HOUSEHOLD,
        Grant.ACTIVE_MANDATE,
        Grant.ADMIN,
        Grant.COUNTER_REGION,
    ),
    Ability.APPLICATION_HANDLING: _read(
        "status and offer of an application at a location", *_HANDLERS, personal=False
    ),
    # Personal: the steps name the children and the locations they concern.
    Ability.DOSSIER_GUIDANCE: _read("next steps and deadlines of a dossier", *_FAMILY),
    Ability.MANDATES: _read("the mandates given to referral organisations", *_FAMILY),
    Ability.CONSENTS: _read("a parent's consent ledger", Grant.OWN_HOUSEHOLD, Grant.ADMIN),
    # The family's own view of who read their dossier; nobody else reads it.
    Ability.ACCESS_LOG: _read(
        "who read the dossier's personal data: organisation and role (never the staff "
        "member), when, which fields, under which grant; reads for a secret legal disclosure "
        "left out",
        Grant.OWN_HOUSEHOLD,
    ),
    # Not personal: the register names categories of data, not the data, and logging an
    # admin's read of it would tell the family of a secret disclosure.
    Ability.DISCLOSURES: _read(
        "a legal disclosure to an authority: which authority, legal basis, what, when",
        Grant.OWN_HOUSEHOLD,
        Grant.ADMIN,
        personal=False,
    ),
    Ability.DISCLOSURE_NOTICES: _read(
        "the legal disclosures of one's own dossier that are not (or no longer) secret",
        Grant.OWN_HOUSEHOLD,
        personal=False,
    ),
    Ability.DISCLOSURE_REGISTER: _act(
        "the legal disclosure register: record disclosures with the admin's reads made for "
        "them, lift their secrecy, list them with their secrecy flag",
        Role.ADMIN,
        grants=(Grant.ADMIN,),
    ),
    # Not personal: states and dates of the family's own requests (resolvers.rights); the
    # copy itself is fetched over HTTP, and an erasure decision names categories only.
    Ability.DATA_EXPORTS: _read(
        "the copies of the dossier its parents asked for: status and dates",
        Grant.OWN_HOUSEHOLD,
        personal=False,
    ),
    Ability.ERASURE_REQUESTS: _read(
        "the parents' erasure requests, each with what was erased, what is kept until when, "
        "and why",
        Grant.OWN_HOUSEHOLD,
        personal=False,
    ),
    Ability.SIGNED_IN: _act("any signed-in user", *Role),
    Ability.OWN_DOSSIER: _act("the signed-in parent's own dossier", Role.PARENT),
    Ability.LIST_DOSSIERS: _act(
        "dossiers within the viewer's grants",
        Role.PARENT,
        Role.TOELEIDER,
        Role.ADMIN,
        Role.LOKET,
        Role.PROVIDER,
        Role.SICK_CHILD_SERVICE,
        Role.INTEGRATOR,
    ),
    Ability.PROVIDER_INBOX: _act(
        "a location's inbox", Role.PROVIDER, Role.INTEGRATOR, Role.ADMIN, grants=_PROVIDER
    ),
    Ability.REGISTER_HOUSEHOLD: _act("register one's own household", Role.PARENT),
    Ability.SUBMIT_CARE_REQUEST: _act(
        "file a care request for a child of a dossier one may write",
        Role.PARENT,
        Role.TOELEIDER,
        Role.ADMIN,
        grants=(Grant.OWN_HOUSEHOLD, Grant.ACTIVE_MANDATE, Grant.ADMIN),
    ),
    Ability.CHECK_REQUEST_UNIQUENESS: _act(
        "check whether one's own child already has an open request (rate-limited, logged)",
        *_FAMILY_ROLES,
        grants=_FAMILY,
    ),
    Ability.INVITE_PARTNER: _act(
        "invite a partner into one's own household", Role.PARENT, grants=(Grant.OWN_HOUSEHOLD,)
    ),
    Ability.JOIN_HOUSEHOLD: _act("join a household with an invitation or claim code", Role.PARENT),
    Ability.EDIT_DOSSIER: _act(
        "correct a dossier's data (counter staff: name, address and contact only)",
        *_FAMILY_ROLES,
        Role.LOKET,
        grants=(*_FAMILY, Grant.COUNTER_REGION),
    ),
    Ability.MANAGE_CHILDREN: _act(
        "add children and record a birth", *_FAMILY_ROLES, grants=_FAMILY
    ),
    Ability.WITHDRAW_REQUEST: _act(
        "withdraw a request or one chosen location", *_FAMILY_ROLES, grants=_FAMILY
    ),
    Ability.ANSWER_OFFER: _act(
        "accept or decline an offered place", *_FAMILY_ROLES, grants=_FAMILY
    ),
    Ability.MANAGE_CONSENT: _act(
        "grant or revoke one's own consents", Role.PARENT, grants=(Grant.OWN_HOUSEHOLD,)
    ),
    Ability.GRANT_MANDATE: _act(
        "give a referral organisation a mandate", Role.PARENT, grants=(Grant.OWN_HOUSEHOLD,)
    ),
    Ability.REVOKE_MANDATE: _act(
        "end a mandate (the parent, the organisation itself, or an admin)",
        *_FAMILY_ROLES,
        grants=_FAMILY,
    ),
    Ability.START_DOSSIER: _act(
        "start a dossier for a family without an account, with their recorded consent",
        Role.TOELEIDER,
    ),
    Ability.MANAGE_REFERRAL_ORGANISATIONS: _act(
        "manage referral organisations and their staff", Role.ADMIN
    ),
    Ability.CONSENTED_CONTACTS: _act(
        "contact details of parents whose consent for a purpose is active now", Role.ADMIN
    ),
    Ability.CHOOSE_LOCATIONS: _act(
        "add chosen locations to an open request (counter staff help families choose)",
        *_FAMILY_ROLES,
        Role.LOKET,
        grants=(*_FAMILY, Grant.COUNTER_REGION),
    ),
    Ability.ANSWER_APPLICATION: _act(
        "answer a request at one's own location: offer, waitlist, refuse, withdraw an offer "
        "(emergency-list requests: offer only)",
        Role.PROVIDER,
        Role.INTEGRATOR,
        grants=(Grant.PROVIDER_SELECTED, Grant.PROVIDER_EMERGENCY),
    ),
    Ability.END_ENROLMENT: _act(
        "end an enrolment at one's own location (starts the retention clock)",
        Role.PROVIDER,
        Role.INTEGRATOR,
        grants=(Grant.PROVIDER_ENROLLED,),
    ),
    Ability.MANAGE_LOCATION: _act(
        "edit one's own location: capacity, ages, opening hours, own priority policy",
        Role.PROVIDER,
        Role.INTEGRATOR,
        grants=_PROVIDER,
    ),
    Ability.LOCATION_QUOTA: _act(
        "a location's share of children from priority groups against its target",
        Role.PROVIDER,
        Role.INTEGRATOR,
        Role.ADMIN,
        grants=(*_PROVIDER, Grant.ADMIN),
    ),
    Ability.PUBLISH_LAST_MINUTE: _act(
        "publish or withdraw last-minute places of one's own location",
        Role.PROVIDER,
        Role.INTEGRATOR,
        grants=_PROVIDER,
    ),
    Ability.SAVE_SEARCH: _act("save, list and delete one's own search filters", *Role),
    Ability.DEMAND_OVERVIEW: _act(
        "aggregate demand in the counter's region (no personal data)",
        Role.LOKET,
        Role.INTEGRATOR,
        Role.ADMIN,
        grants=(Grant.COUNTER_REGION, Grant.ADMIN),
    ),
    Ability.SERVICE_CHILDREN: _act(
        "children who used the sick-child service, with what invoicing needs",
        Role.SICK_CHILD_SERVICE,
        grants=(Grant.SICK_CHILD_SERVICE,),
    ),
    Ability.MANAGE_INTEGRATORS: _act(
        "register integrator clients, their credentials and manifests of operations",
        Role.ADMIN,
    ),
    Ability.TREND_STATISTICS: _act(
        "anonymised trend statistics by municipality and month, small counts suppressed "
        "(counter staff: the municipalities of their region)",
        Role.LOKET,
        Role.INTEGRATOR,
        Role.ADMIN,
        grants=(Grant.COUNTER_REGION, Grant.ADMIN),
    ),
    Ability.JOB_RUNS: _act(
        "the recorded runs of the jobs: when, which rule, how many rows", Role.ADMIN
    ),
    Ability.PRIVACY_REPORT: _act(
        "the processing register computed from this policy: who may see which personal data "
        "under which grant, and how long it is kept",
        Role.ADMIN,
    ),
    Ability.MANAGE_AGREEMENTS: _act(
        "record, end and list the processing and confidentiality agreements that condition "
        "access, and see who lacks one",
        Role.ADMIN,
    ),
    # Filing a report is public (anyone, anonymous included): see Mutation.fileReport.
    Ability.MANAGE_REPORTS: _act(
        "data-breach reports and complaints: read them with their notes, triage, annotate, "
        "record the notification of the supervisory authority, close",
        Role.ADMIN,
    ),
    Ability.OWN_REPORTS: _act(
        "the status and closing note of the reports one filed oneself while signed in", *Role
    ),
    Ability.EXPORT_OWN_DATA: _act(
        "ask for a machine-readable copy of one's own dossier (made by a job) and download it "
        "once through a short-lived link",
        Role.PARENT,
        grants=(Grant.OWN_HOUSEHOLD,),
    ),
    Ability.ERASE_OWN_DATA: _act(
        "ask to be forgotten: decided at once against the legal retention rules; what may go "
        "is anonymised as the retention job does, and the account is closed",
        Role.PARENT,
        grants=(Grant.OWN_HOUSEHOLD,),
    ),
}

assert set(POLICY) == set(Ability), "every ability needs a rule"


def allowed_for_role(ability: Ability, role: Role | None, acting_as: Role | None) -> bool:
    """Decide an ability for a role alone (no row needed): done once per operation."""
    if role is None:
        return False
    rule = POLICY[ability]
    if role not in rule.roles:
        return False
    if not rule.grants:
        return True
    effective = acting_as if role is Role.INTEGRATOR else role
    if effective is None:
        return False
    return bool(ROLE_GRANTS[effective] & rule.grants)
