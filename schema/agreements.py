"""Agreements that condition access (admins only): processor agreements with organisations
(verwerkersovereenkomst) and confidentiality agreements signed by admins and sick-child
service staff.

A membership gives its role only while the agreements it needs are in force (see
`permissions.agreements`): an organisation's staff need the organisation's processing
agreement; admins need their own confidentiality agreement; sick-child service staff
need both.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

import strawberry

from models.privacy import AgreementKind as AgreementKindModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import guarded, input_field, public

strawberry.enum(
    AgreementKindModel,
    name="AgreementKind",
    description=(
        "PROCESSING: a processor agreement (verwerkersovereenkomst) with an organisation; "
        "CONFIDENTIALITY: a confidentiality agreement signed by one person."
    ),
)
AgreementKind = AgreementKindModel


@strawberry.enum(description="What kind of party an agreement is made with.")
class AgreementPartyKind(Enum):
    PROVIDER_ORGANISATION = "PROVIDER_ORGANISATION"
    REFERRAL_ORGANISATION = "REFERRAL_ORGANISATION"
    SICK_CHILD_SERVICE = "SICK_CHILD_SERVICE"
    COUNTER = "COUNTER"
    USER = "USER"


_ID = "opaque identifier, reveals nothing; the object itself is reached only by admins"
_PAYLOAD = "payload structure; the objects' fields carry their own policy"
_ERRORS = "the caller's own input"


def _admin(description: str) -> Any:
    return guarded(Ability.MANAGE_AGREEMENTS, description)


@strawberry.type(description="The organisation or person an agreement is made with.")
class AgreementParty:
    kind: AgreementPartyKind | None = _admin("What kind of party it is.")
    id: strawberry.ID | None = _admin(
        "Its id (an organisation's, a counter's or a user's; pass it as the matching "
        "recordAgreement input)."
    )
    name: str | None = _admin("Its name (for a person: the display name).")


@strawberry.type(
    description=(
        "A signed agreement. It is in force from signedOn through endsOn (both included); "
        "the roles that need it give access only meanwhile."
    )
)
class Agreement:
    id: strawberry.ID = public("Opaque identifier (pass it to endAgreement).", reason=_ID)
    kind: AgreementKind | None = _admin("Processing or confidentiality agreement.")
    party: AgreementParty | None = _admin("Whom it is made with.")
    version: str | None = _admin("The version of the agreement's text that was signed.")
    signed_on: datetime.date | None = _admin("The day it was signed: its first day in force.")
    ends_on: datetime.date | None = _admin("Its last day in force; null while open-ended.")
    in_force: bool | None = _admin("Whether it is in force today.")
    days_to_end: int | None = _admin(
        "Days from today to its last day (0: it ends today; negative: it has ended); null "
        "while open-ended."
    )
    recorded_at: datetime.datetime | None = _admin("When it was recorded on the platform.")
    recorded_by: str | None = _admin(
        "Sign-in email of the admin who recorded it; null when it was recorded from the "
        "command line (or the account is gone)."
    )


@strawberry.type(
    description=(
        "An organisation or person whose staff (or who) hold active memberships, but without "
        "the agreement those need in force: the memberships give no access until one is "
        "recorded."
    )
)
class PartyWithoutAgreement:
    party: AgreementParty | None = _admin("The organisation or person.")
    needs: AgreementKind | None = _admin("The kind of agreement that is missing.")
    memberships: int | None = _admin("Active memberships that give no access for want of it.")
    last_ended_on: datetime.date | None = _admin(
        "The last day of its most recent ended agreement; null when it never had one."
    )
    next_signed_on: datetime.date | None = _admin(
        "The first day of an agreement recorded to start later, if any."
    )


@strawberry.input(
    description=(
        "A signed agreement to record: PROCESSING with exactly one organisation "
        "(providerOrganisationId, referralOrganisationId, sickChildServiceId or counterId), "
        "CONFIDENTIALITY with one person (userId)."
    )
)
class RecordAgreementInput:
    kind: AgreementKind = input_field("Processing or confidentiality agreement.")
    provider_organisation_id: strawberry.ID | None = input_field(
        "The provider organisation (PROCESSING).", default=None
    )
    referral_organisation_id: strawberry.ID | None = input_field(
        "The referral organisation (PROCESSING).", default=None
    )
    sick_child_service_id: strawberry.ID | None = input_field(
        "The sick-child service (PROCESSING).", default=None
    )
    counter_id: strawberry.ID | None = input_field("The counter (PROCESSING).", default=None)
    user_id: strawberry.ID | None = input_field(
        "The person who signed (CONFIDENTIALITY): an admin or sick-child service staff member.",
        default=None,
    )
    version: str = input_field("The version of the agreement's text (at most 40 characters).")
    signed_on: datetime.date = input_field(
        "The day it was signed: its first day in force (a later day for one that takes "
        "effect later)."
    )
    ends_on: datetime.date | None = input_field(
        "Its last day in force, not before signedOn; null for open-ended.", default=None
    )


@strawberry.type(description="Result of recordAgreement.")
class RecordAgreementPayload:
    agreement: Agreement | None = public(
        "The recorded agreement, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="Set the last day an agreement is in force.")
class EndAgreementInput:
    agreement_id: strawberry.ID = input_field("The agreement.")
    ends_on: datetime.date = input_field(
        "Its last day in force: yesterday ends the access it gives at once. Not later than "
        "a last day set before (record a new agreement to extend), and at the earliest the "
        "day before it was signed."
    )


@strawberry.type(description="Result of endAgreement.")
class EndAgreementPayload:
    agreement: Agreement | None = public(
        "The agreement with its new last day, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)
