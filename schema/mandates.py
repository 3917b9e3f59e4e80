"""Referral organisations, their workers, mandates, and dossiers workers start for families.

A referral worker ("toeleider") of an OCMW, VDAB, Kind en Gezin, CAW, ... helps a family
file its request. The worker reaches a dossier only while the family's mandate to the
worker's organisation is active; a mandate is a consent the parent can revoke at any time.
"""

from __future__ import annotations

import datetime
import uuid

import strawberry

from models.accounts import ReferralKind as ReferralKindModel
from models.households import ConsentMethod as ConsentMethodModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import guarded, input_field, public
from schema.households import ChildInput, FamilySituation, Household, ParentInput
from schema.transparency import MandateEvent

strawberry.enum(
    ReferralKindModel,
    name="ReferralKind",
    description="The kind of a referral organisation (OCMW, VDAB, Kind en Gezin, CAW, other).",
)
ReferralKind = ReferralKindModel
strawberry.enum(
    ConsentMethodModel,
    name="ConsentMethod",
    description=(
        "How a parent gave a mandate: ONLINE (the parent, signed in), or recorded by a "
        "referral worker from a SIGNED_FORM, IN_PERSON or by PHONE."
    ),
)
ConsentMethod = ConsentMethodModel

_ID = "opaque identifier, reveals nothing; the object itself is already scoped"
_PUBLIC_ORG = "public directory: parents choose whom to give a mandate"
_PAYLOAD = "payload structure; the objects' fields carry their own policy"
_ERRORS = "the caller's own input"


@strawberry.type(
    description="An organisation of referral workers (toeleiders): OCMW, VDAB, Kind en Gezin, ..."
)
class ReferralOrganisation:
    id: strawberry.ID = public("Opaque identifier.", reason=_PUBLIC_ORG)
    name: str = public("Name of the organisation.", reason=_PUBLIC_ORG)
    kind: ReferralKind = public("Kind of organisation.", reason=_PUBLIC_ORG)


@strawberry.type(description="A user who works for a referral organisation (role TOELEIDER).")
class ReferralWorker:
    id: strawberry.ID = public(
        "The worker's user id (pass it to removeReferralWorker).", reason=_ID
    )
    email: str | None = guarded(Ability.MANAGE_REFERRAL_ORGANISATIONS, "Sign-in email.")
    display_name: str | None = guarded(Ability.MANAGE_REFERRAL_ORGANISATIONS, "Display name.")
    added_at: datetime.datetime | None = guarded(
        Ability.MANAGE_REFERRAL_ORGANISATIONS, "When the membership began."
    )
    removed_at: datetime.datetime | None = guarded(
        Ability.MANAGE_REFERRAL_ORGANISATIONS,
        "When the membership ended (access ended at that moment); null while active.",
    )


@strawberry.type(
    description=(
        "A parent's explicit, revocable consent that a referral organisation files and follows "
        "the dossier's requests for them. Its workers reach the dossier only while it is active."
    )
)
class Mandate:
    id: strawberry.ID = public("Opaque identifier.", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    organisation: ReferralOrganisation | None = guarded(
        Ability.MANDATES, "The organisation that holds the mandate."
    )
    granted_at: datetime.datetime | None = guarded(
        Ability.MANDATES, "When the mandate was entered on the platform."
    )
    consent_method: ConsentMethod | None = guarded(
        Ability.MANDATES, "How the parent gave the consent."
    )
    consent_given_at: datetime.datetime | None = guarded(
        Ability.MANDATES, "When the parent gave the consent (for ONLINE: when it was granted)."
    )
    consent_note: str | None = guarded(
        Ability.MANDATES, "What the referral worker noted about a recorded consent."
    )
    active: bool | None = guarded(Ability.MANDATES, "Whether the mandate is in force now.")
    revoked_at: datetime.datetime | None = guarded(
        Ability.MANDATES, "When the mandate was revoked; null while active."
    )
    history: list[MandateEvent] | None = guarded(
        Ability.MANDATES,
        "Its grant and, once ended, its revocation, oldest first, each with who recorded it "
        "(role and organisation, never a staff member's name).",
    )


# Referral organisations and their staff (admins).


@strawberry.input(description="A new referral organisation.")
class CreateReferralOrganisationInput:
    name: str = input_field("Name, as parents will see it.")
    kind: ReferralKind = input_field("Kind of organisation.")


@strawberry.type(description="Result of createReferralOrganisation.")
class CreateReferralOrganisationPayload:
    referral_organisation: ReferralOrganisation | None = public(
        "The new organisation, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="Give an existing user the TOELEIDER role for an organisation.")
class AddReferralWorkerInput:
    organisation_id: strawberry.ID = input_field("The referral organisation.")
    email: str = input_field("Sign-in email of an existing user.")


@strawberry.type(description="Result of addReferralWorker.")
class AddReferralWorkerPayload:
    worker: ReferralWorker | None = public(
        "The worker, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="End a worker's membership of a referral organisation.")
class RemoveReferralWorkerInput:
    organisation_id: strawberry.ID = input_field("The referral organisation.")
    user_id: strawberry.ID = input_field("The worker's user id.")


@strawberry.type(description="Result of removeReferralWorker.")
class RemoveReferralWorkerPayload:
    worker: ReferralWorker | None = public(
        "The removed worker, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


# Mandates.


@strawberry.input(description="Give a referral organisation a mandate for one's own dossier.")
class GrantMandateInput:
    referral_organisation_id: strawberry.ID = input_field("The organisation to mandate.")


@strawberry.type(description="Result of grantMandate.")
class GrantMandatePayload:
    mandate: Mandate | None = public(
        "The new mandate, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="End a mandate (ending an ended one changes nothing).")
class RevokeMandateInput:
    mandate_id: strawberry.ID = input_field("The mandate to end.")


@strawberry.type(description="Result of revokeMandate.")
class RevokeMandatePayload:
    mandate: Mandate | None = public(
        "The revoked mandate, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


# Dossiers started by a referral worker, and claimed by the parent later.


@strawberry.input(description="The parent's consent to the mandate, as the worker recorded it.")
class RecordedConsentInput:
    method: ConsentMethod = input_field(
        "How the parent consented: SIGNED_FORM, IN_PERSON or PHONE (ONLINE is for parents "
        "granting a mandate themselves)."
    )
    given_at: datetime.datetime = input_field(
        "When the parent consented (not in the future).", Ability.MANDATES
    )
    note: str = input_field(
        "Where the signed form is kept, who was present, ... (at most 500 characters).",
        Ability.MANDATES,
        default="",
    )


@strawberry.input(
    description="Start a dossier for a family without an account, with their recorded consent."
)
class StartDossierInput:
    referral_organisation_id: strawberry.ID | None = input_field(
        "The organisation the worker acts for; required when the worker belongs to several.",
        default=None,
    )
    applicant: ParentInput = input_field("The applicant (the parent who consented).")
    family_situation: FamilySituation = input_field(
        "One- or two-parent family.", Ability.PARENT_SITUATION
    )
    income_below_threshold: bool | None = input_field(
        "Joint taxable income below the threshold.", Ability.PARENT_SITUATION, default=None
    )
    child: ChildInput = input_field("The first child.")
    consent: RecordedConsentInput = input_field("The parent's consent to the mandate.")


@strawberry.type(description="Result of startDossier.")
class StartDossierPayload:
    household: Household | None = public(
        "The new dossier, null when there are errors.", reason=_PAYLOAD
    )
    claim_code: str | None = public(
        "One-time code the parent uses to claim the dossier with their own account "
        "(claimDossier). Shown only here, once: only a digest of it is kept.",
        reason="the secret the caller just created, for handing to the parent",
    )
    claim_expires_at: datetime.datetime | None = public(
        "Until when the claim code can be used.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="Claim a dossier a referral worker started for you.")
class ClaimDossierInput:
    code: str = input_field("The claim code the referral worker gave you.")


@strawberry.type(description="Result of claimDossier.")
class ClaimDossierPayload:
    household: Household | None = public(
        "The claimed dossier, now yours; null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)
