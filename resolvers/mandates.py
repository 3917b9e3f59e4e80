"""Referral organisations and their workers, mandates, and dossiers a referral worker
starts for a family without an account (claimed by the parent later with a one-time code)."""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from tortoise.transactions import in_transaction

from jobs import outbox
from loket.context import Info
from loket.db import execute, fetch
from loket.settings import settings
from models.accounts import Membership, Role
from models.accounts import ReferralOrganisation as ReferralOrganisationModel
from models.households import Child as ChildModel
from models.households import ConsentMethod as ConsentMethodModel
from models.households import Household as HouseholdModel
from models.households import InformationSource, InvitationKind
from models.households import Invitation as InvitationModel
from models.households import Mandate as MandateModel
from models.households import Parent as ParentModel
from permissions.policy import Ability
from permissions.viewer import Viewer
from resolvers import uniqueness, validation
from resolvers.access import (
    denied_inputs,
    lock,
    parse_id,
    viewer_parent,
    writable,
    write_grant,
)
from resolvers.households import check_residence, load_household, validate_child, validate_parent
from resolvers.transparency import REVOKED_BY_SQL, mandate_history
from resolvers.validation import Errors
from schema.directives import arg
from schema.mandates import (
    AddReferralWorkerInput,
    AddReferralWorkerPayload,
    ClaimDossierInput,
    ClaimDossierPayload,
    CreateReferralOrganisationInput,
    CreateReferralOrganisationPayload,
    GrantMandateInput,
    GrantMandatePayload,
    Mandate,
    ReferralKind,
    ReferralOrganisation,
    ReferralWorker,
    RemoveReferralWorkerInput,
    RemoveReferralWorkerPayload,
    RevokeMandateInput,
    RevokeMandatePayload,
    StartDossierInput,
    StartDossierPayload,
)

Key = tuple[uuid.UUID, str]

# An ONLINE mandate's consent is given when the parent grants it, so an older row without
# `consent_given_at` reports its grant time.
MANDATE_SQL = f"""SELECT m.id, m.household_id, m.granted_at, m.consent_method,
    coalesce(m.consent_given_at, m.granted_at) AS consent_given_at, m.consent_note,
    m.revoked_at, o.id AS org_id, o.name AS org_name, o.kind AS org_kind,
    {REVOKED_BY_SQL}
FROM mandate m JOIN referral_organisation o ON o.id = m.referral_organisation_id"""

WORKER_SQL = """SELECT u.id, u.email, u.display_name, m.created_at AS added_at,
    m.revoked_at AS removed_at
FROM membership m JOIN app_user u ON u.id = m.user_id"""


def code_digest(code: str) -> str:
    """Only this digest of a claim code is stored."""
    # surrogatepass: a code with a lone surrogate (no UTF-8 form) is merely wrong.
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def organisation_from_row(r: Any, prefix: str = "") -> ReferralOrganisation:
    return ReferralOrganisation(
        id=strawberry.ID(str(r[f"{prefix}id"])),
        name=r[f"{prefix}name"],
        kind=ReferralKind(r[f"{prefix}kind"]),
    )


def mandate_from_row(r: Any, grant: str) -> Mandate:
    return Mandate(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        grant=grant,
        organisation=organisation_from_row(r, "org_"),
        granted_at=r["granted_at"],
        consent_method=ConsentMethodModel(r["consent_method"]),
        consent_given_at=r["consent_given_at"],
        consent_note=r["consent_note"],
        active=r["revoked_at"] is None,
        revoked_at=r["revoked_at"],
        history=mandate_history(r),
    )


def worker_from_row(r: Any) -> ReferralWorker:
    return ReferralWorker(
        id=strawberry.ID(str(r["id"])),
        email=r["email"],
        display_name=r["display_name"],
        added_at=r["added_at"],
        removed_at=r["removed_at"],
    )


async def mandates_of_households(viewer: Viewer, keys: Sequence[Key]) -> list[list[Mandate]]:
    """The mandates of reachable dossiers, newest first. A referral worker sees only their
    own organisations' mandates: which other services help a family is not theirs to know."""
    values: list[Any] = [[k for k, _ in keys]]
    condition = "true"
    if viewer.effective_role is Role.TOELEIDER:
        values.append(list(viewer.referral_organisation_ids))
        condition = "m.referral_organisation_id = ANY($2::uuid[])"
    rows = await fetch(
        f"{MANDATE_SQL} WHERE m.household_id = ANY($1::uuid[]) AND {condition}"
        " ORDER BY m.granted_at DESC, m.id",
        *values,
    )
    # Per key, with its own grant (one dossier may be reached under two grants).
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[r["household_id"]].append(r)
    return [[mandate_from_row(r, grant) for r in grouped.get(k, [])] for k, grant in keys]


async def load_mandate(mandate_id: uuid.UUID, grant: str) -> Mandate:
    rows = await fetch(f"{MANDATE_SQL} WHERE m.id = $1", mandate_id)
    return mandate_from_row(rows[0], grant)


async def load_worker(membership_id: uuid.UUID) -> ReferralWorker:
    rows = await fetch(f"{WORKER_SQL} WHERE m.id = $1", membership_id)
    return worker_from_row(rows[0])


async def organisation_exists(organisation_id: uuid.UUID | None) -> bool:
    if organisation_id is None:
        return False
    rows = await fetch("SELECT 1 FROM referral_organisation WHERE id = $1", organisation_id)
    return bool(rows)


# Queries.


async def referral_organisations(info: Info) -> list[ReferralOrganisation]:
    """Every referral organisation, by name: parents choose whom to give a mandate."""
    rows = await fetch("SELECT id, name, kind FROM referral_organisation ORDER BY name, id")
    return [organisation_from_row(r) for r in rows]


async def referral_workers(
    info: Info,
    organisation_id: Annotated[strawberry.ID, arg("The referral organisation.")],
) -> list[ReferralWorker] | None:
    """The organisation's current workers by email; null for an unknown organisation."""
    oid = parse_id(organisation_id)
    if oid is None:
        return None
    rows = await fetch(
        """SELECT o.id AS org_id, u.id, u.email, u.display_name, m.created_at AS added_at,
               m.revoked_at AS removed_at
           FROM referral_organisation o
           LEFT JOIN membership m ON m.referral_organisation_id = o.id
                AND m.role = 'TOELEIDER' AND m.revoked_at IS NULL
           LEFT JOIN app_user u ON u.id = m.user_id
           WHERE o.id = $1 ORDER BY u.email, u.id""",
        oid,
    )
    if not rows:
        return None
    return [worker_from_row(r) for r in rows if r["id"] is not None]


# Referral organisations and their staff (admins).


async def create_referral_organisation(
    info: Info,
    input: Annotated[CreateReferralOrganisationInput, arg("The organisation to create.")],
) -> CreateReferralOrganisationPayload:
    """Add a referral organisation; names are unique (ignoring case) so parents can tell
    organisations apart."""
    errors = Errors()
    name = validation.required_text(errors, ["input", "name"], input.name, 200)
    if errors:
        return CreateReferralOrganisationPayload(referral_organisation=None, errors=errors.items)
    async with in_transaction():
        await lock(f"referral-organisation:{name.lower()}")
        taken = await fetch(
            "SELECT 1 FROM referral_organisation WHERE lower(name) = lower($1)", name
        )
        if taken:
            errors.add(
                ["input", "name"], "NAME_TAKEN", "An organisation with this name already exists."
            )
            return CreateReferralOrganisationPayload(
                referral_organisation=None, errors=errors.items
            )
        created = await ReferralOrganisationModel.create(name=name, kind=input.kind.value)
    return CreateReferralOrganisationPayload(
        referral_organisation=ReferralOrganisation(
            id=strawberry.ID(str(created.id)), name=name, kind=input.kind
        ),
        errors=[],
    )


async def add_referral_worker(
    info: Info, input: Annotated[AddReferralWorkerInput, arg("The worker to add.")]
) -> AddReferralWorkerPayload:
    """Give an existing user the TOELEIDER role for one organisation."""
    errors = Errors()
    organisation_id = parse_id(input.organisation_id)
    if not await organisation_exists(organisation_id):
        errors.add(["input", "organisationId"], "NOT_FOUND", "No such referral organisation.")
    email = input.email.strip()
    users = (
        await fetch("SELECT id FROM app_user WHERE lower(email) = lower($1) AND is_active", email)
        if validation.storable(email)
        else []
    )
    if not users:
        errors.add(["input", "email"], "UNKNOWN_USER", "No active user has this email address.")
    if errors:
        return AddReferralWorkerPayload(worker=None, errors=errors.items)
    user_id = users[0]["id"]
    async with in_transaction():
        await lock(f"referral-worker:{user_id}:{organisation_id}")
        if await Membership.exists(
            user_id=user_id,
            role=Role.TOELEIDER,
            referral_organisation_id=organisation_id,
            revoked_at__isnull=True,
        ):
            errors.add(["input", "email"], "ALREADY_MEMBER", "This user already works for it.")
            return AddReferralWorkerPayload(worker=None, errors=errors.items)
        membership = await Membership.create(
            user_id=user_id, role=Role.TOELEIDER, referral_organisation_id=organisation_id
        )
    return AddReferralWorkerPayload(worker=await load_worker(membership.id), errors=[])


async def remove_referral_worker(
    info: Info, input: Annotated[RemoveReferralWorkerInput, arg("The worker to remove.")]
) -> RemoveReferralWorkerPayload:
    """End a worker's membership; their access to every dossier ends with it (memberships
    are read on every request)."""
    errors = Errors()
    organisation_id = parse_id(input.organisation_id)
    user_id = parse_id(input.user_id)
    if not await organisation_exists(organisation_id):
        errors.add(["input", "organisationId"], "NOT_FOUND", "No such referral organisation.")
        return RemoveReferralWorkerPayload(worker=None, errors=errors.items)
    rows = []
    if user_id is not None:
        rows = await fetch(
            """UPDATE membership SET revoked_at = now()
               WHERE user_id = $1 AND referral_organisation_id = $2 AND role = 'TOELEIDER'
                 AND revoked_at IS NULL
               RETURNING id""",
            user_id,
            organisation_id,
        )
    if not rows:
        errors.add(["input", "userId"], "NOT_FOUND", "This user does not work for it.")
        return RemoveReferralWorkerPayload(worker=None, errors=errors.items)
    return RemoveReferralWorkerPayload(worker=await load_worker(rows[0]["id"]), errors=[])


# Mandates.


async def grant_mandate(
    info: Info, input: Annotated[GrantMandateInput, arg("The organisation to mandate.")]
) -> GrantMandatePayload:
    """The signed-in parent gives a referral organisation a mandate for their dossier."""
    viewer = info.context.viewer
    errors = Errors()
    parent = await viewer_parent(viewer)
    grant = None
    if parent is None:
        errors.add(["input"], "NO_HOUSEHOLD", "Register your household first.")
    else:
        grant = await write_grant(info, parent["household_id"], Ability.GRANT_MANDATE)
    organisation_id = parse_id(input.referral_organisation_id)
    if not await organisation_exists(organisation_id):
        errors.add(
            ["input", "referralOrganisationId"], "NOT_FOUND", "No such referral organisation."
        )
    if errors or parent is None or grant is None:
        return GrantMandatePayload(mandate=None, errors=errors.items)
    household_id = parent["household_id"]
    async with in_transaction():
        await lock(household_id)
        if await MandateModel.exists(
            household_id=household_id,
            referral_organisation_id=organisation_id,
            revoked_at__isnull=True,
        ):
            errors.add(
                ["input", "referralOrganisationId"],
                "MANDATE_EXISTS",
                "This organisation already has an active mandate.",
            )
            return GrantMandatePayload(mandate=None, errors=errors.items)
        mandate = await MandateModel.create(
            household_id=household_id,
            referral_organisation_id=organisation_id,
            granted_by_id=parent["id"],
            consent_method=ConsentMethodModel.ONLINE,
            consent_given_at=datetime.datetime.now(datetime.UTC),
            recorded_by_id=viewer.user_id,
        )
        await outbox.mandate_changed(None, mandate.id, outbox.Kind.MANDATE_GRANTED)
    return GrantMandatePayload(mandate=await load_mandate(mandate.id, grant), errors=[])


async def revoke_mandate(
    info: Info, input: Annotated[RevokeMandateInput, arg("The mandate to end.")]
) -> RevokeMandatePayload:
    """End a mandate: the parent, a worker of the mandated organisation, or an admin.
    The organisation's workers lose the dossier at once. Revoking a revoked mandate
    changes nothing."""
    viewer = info.context.viewer
    errors = Errors()
    target = await writable(info, "mandate", input.mandate_id, Ability.REVOKE_MANDATE)
    if target is not None and viewer.effective_role is Role.TOELEIDER:
        rows = await fetch("SELECT referral_organisation_id FROM mandate WHERE id = $1", target[0])
        if rows[0]["referral_organisation_id"] not in viewer.referral_organisation_ids:
            target = None
    if target is None:
        errors.add(["input", "mandateId"], "NOT_FOUND", "No such mandate you may end.")
        return RevokeMandatePayload(mandate=None, errors=errors.items)
    mandate_id, _, grant = target
    async with in_transaction():
        revoked = await execute(
            """UPDATE mandate SET revoked_at = now(), revoked_by_id = $2
               WHERE id = $1 AND revoked_at IS NULL""",
            mandate_id,
            viewer.user_id,
        )
        if revoked == "UPDATE 1":
            await outbox.mandate_changed(None, mandate_id, outbox.Kind.MANDATE_REVOKED)
    return RevokeMandatePayload(mandate=await load_mandate(mandate_id, grant), errors=[])


# Dossiers started by a referral worker.


def _organisation_for(
    errors: Errors, viewer: Viewer, requested: strawberry.ID | None
) -> uuid.UUID | None:
    """The organisation the worker acts for: the one given (theirs), or their only one."""
    path = ["input", "referralOrganisationId"]
    own = viewer.referral_organisation_ids
    if requested is None:
        if len(own) == 1:
            return own[0]
        errors.add(path, "REQUIRED", "You work for several organisations: choose one.")
        return None
    chosen = parse_id(requested)
    if chosen is None or chosen not in own:
        errors.add(path, "NOT_FOUND", "You do not work for this organisation.")
        return None
    return chosen


async def start_dossier(
    info: Info, input: Annotated[StartDossierInput, arg("The dossier to start.")]
) -> StartDossierPayload:
    """A referral worker starts a dossier for a family without an account, recording the
    parent's consent to the mandate; the parent claims it later with the one-time code."""
    viewer = info.context.viewer
    today = datetime.date.today()
    now = datetime.datetime.now(datetime.UTC)
    errors = Errors()
    organisation_id = _organisation_for(errors, viewer, input.referral_organisation_id)
    denied_inputs(info, input.applicant, ["input", "applicant"], errors)
    denied_inputs(info, input.child, ["input", "child"], errors)
    parent_values = validate_parent(errors, ["input", "applicant"], input.applicant)
    child_values, child_rrn = validate_child(errors, ["input", "child"], input.child, today)
    parent_rrn = validation.rrn(errors, ["input", "applicant", "rrn"], input.applicant.rrn)
    consent = input.consent
    if consent.method is ConsentMethodModel.ONLINE:
        errors.add(
            ["input", "consent", "method"],
            "INVALID_METHOD",
            "ONLINE consent is given by the parent; record how they consented to you.",
        )
    given_at = consent.given_at
    if given_at.tzinfo is None:
        given_at = given_at.replace(tzinfo=datetime.UTC)
    if given_at > now:
        errors.add(
            ["input", "consent", "givenAt"], "DATE_IN_FUTURE", "This date cannot be in the future."
        )
    note = validation.storable_text(consent.note).strip()
    if len(note) > 500:
        errors.add(["input", "consent", "note"], "TOO_LONG", "At most 500 characters.")
    if not errors:
        await check_residence(errors, ["input", "applicant"], parent_values)
    if errors or organisation_id is None:
        return StartDossierPayload(
            household=None, claim_code=None, claim_expires_at=None, errors=errors.items
        )

    code = secrets.token_urlsafe(24)
    expires_at = now + datetime.timedelta(days=settings.invitation_days)
    source: dict[str, Any] = {
        "situation_source": InformationSource.REFERRAL_WORKER,
        "situation_source_organisation_id": organisation_id,
        "situation_recorded_at": now,
    }
    if parent_rrn is not None and not await uniqueness.count_parent_check(
        info, errors, ["input", "applicant", "rrn"]
    ):
        return StartDossierPayload(
            household=None, claim_code=None, claim_expires_at=None, errors=errors.items
        )
    async with in_transaction():
        # One account (and one dossier) per person: serialise with registrations of the
        # same national register number.
        if parent_rrn is not None:
            await uniqueness.lock_parent_identity(parent_rrn)
            if await uniqueness.parent_rrn_registered(parent_rrn):
                errors.add(
                    ["input", "applicant", "rrn"],
                    "ALREADY_REGISTERED",
                    "This parent already has a dossier.",
                )
                return StartDossierPayload(
                    household=None, claim_code=None, claim_expires_at=None, errors=errors.items
                )
        new = await HouseholdModel.create(
            municipality_id=parent_values["municipality_id"],
            family_situation=input.family_situation.value,
            income_below_threshold=input.income_below_threshold,
            **source,
        )
        parent = await ParentModel.create(
            household_id=new.id, user_id=None, is_applicant=True, **parent_values, **source
        )
        child = await ChildModel.create(household_id=new.id, **child_values)
        if parent_rrn is not None:
            await uniqueness.store_parent_rrn(parent.id, parent_rrn)
        if child_rrn is not None:
            await uniqueness.store_child_rrn(child.id, child_rrn)
        mandate = await MandateModel.create(
            household_id=new.id,
            referral_organisation_id=organisation_id,
            granted_by_id=parent.id,
            consent_method=consent.method,
            consent_given_at=given_at,
            consent_note=note,
            recorded_by_id=viewer.user_id,
        )
        await outbox.mandate_changed(None, mandate.id, outbox.Kind.MANDATE_GRANTED)
        await InvitationModel.create(
            kind=InvitationKind.CLAIM,
            household_id=new.id,
            parent_id=parent.id,
            code_digest=code_digest(code),
            created_by_id=viewer.user_id,
            expires_at=expires_at,
        )
    return StartDossierPayload(
        household=await load_household(info, new.id),
        claim_code=code,
        claim_expires_at=expires_at,
        errors=[],
    )


async def claim_dossier(
    info: Info, input: Annotated[ClaimDossierInput, arg("The claim code.")]
) -> ClaimDossierPayload:
    """The signed-in user becomes the parent of a dossier a referral worker started for
    them. The code works once, until it expires."""
    viewer = info.context.viewer
    errors = Errors()
    code = input.code.strip()
    async with in_transaction():
        # The same lock as registration and partner invitations: one dossier per user.
        await lock(viewer.user_id)
        invitation = await fetch(
            "SELECT household_id FROM invitation WHERE code_digest = $1 AND kind = $2",
            code_digest(code),
            InvitationKind.CLAIM.value,
        )
        if invitation:
            await lock(invitation[0]["household_id"])
        rows = await fetch(
            """SELECT i.id, i.household_id, i.parent_id, i.used_at, i.revoked_at,
                      i.expires_at <= now() AS expired, p.user_id
               FROM invitation i JOIN parent p ON p.id = i.parent_id
               WHERE i.code_digest = $1 AND i.kind = $2 FOR UPDATE OF i""",
            code_digest(code),
            InvitationKind.CLAIM.value,
        )
        found = rows[0] if rows else None
        if await ParentModel.exists(user_id=viewer.user_id):
            errors.add(["input"], "ALREADY_REGISTERED", "You already have a household.")
        elif (
            found is None
            or found["used_at"] is not None
            or found["revoked_at"] is not None
            or found["user_id"] is not None
        ):
            errors.add(["input", "code"], "INVALID_CODE", "This code is not valid.")
        elif found["expired"]:
            errors.add(
                ["input", "code"], "CODE_EXPIRED", "This code has expired; ask for a new one."
            )
        if errors or found is None:
            return ClaimDossierPayload(household=None, errors=errors.items)
        await execute(
            "UPDATE parent SET user_id = $2 WHERE id = $1", found["parent_id"], viewer.user_id
        )
        await execute(
            "UPDATE invitation SET used_at = now(), used_by_id = $2 WHERE id = $1",
            found["id"],
            viewer.user_id,
        )
    return ClaimDossierPayload(
        household=await load_household(info, found["household_id"]), errors=[]
    )
