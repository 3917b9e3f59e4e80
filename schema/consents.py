"""The consent ledger: a parent's consents for uses of their data beyond the request.

Handling the care request itself is the legal basis of the platform and needs no
consent; every other use (research contact, surveys, news) needs one that is active at
the moment of use and that the parent can revoke at any time. The ledger only grows.
"""

from __future__ import annotations

import datetime
import uuid

import strawberry

from models.consents import ConsentAction as ConsentActionModel
from models.consents import ConsentPurpose as ConsentPurposeModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import guarded, input_field, public
from schema.households import Parent

strawberry.enum(
    ConsentPurposeModel,
    name="ConsentPurpose",
    description=(
        "A use of a parent's data beyond handling the care request (handling the request is "
        "the legal basis of the platform and needs no consent): RESEARCH_CONTACT, "
        "SATISFACTION_SURVEY, CHILDCARE_NEWS."
    ),
)
ConsentPurpose = ConsentPurposeModel
strawberry.enum(
    ConsentActionModel, name="ConsentAction", description="A consent was granted or revoked."
)
ConsentAction = ConsentActionModel

_PAYLOAD = "payload structure; the objects' fields carry their own policy"
_ERRORS = "the caller's own input"


@strawberry.type(description="One entry of the consent ledger.")
class ConsentEntry:
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    action: ConsentAction | None = guarded(Ability.CONSENTS, "Granted or revoked.")
    at: datetime.datetime | None = guarded(Ability.CONSENTS, "When.")


@strawberry.type(
    description=(
        "A parent's consent for one purpose beyond handling the request (the request itself "
        "needs none): its current state and its full history."
    )
)
class Consent:
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    parent: Parent | None = guarded(Ability.CONSENTS, "The parent whose consent this is.")
    purpose: ConsentPurpose | None = guarded(Ability.CONSENTS, "What the data may be used for.")
    active: bool | None = guarded(
        Ability.CONSENTS, "Whether the consent is in force now (its latest entry is GRANTED)."
    )
    since: datetime.datetime | None = guarded(
        Ability.CONSENTS, "Since when the current state holds; null when never given."
    )
    history: list[ConsentEntry] | None = guarded(
        Ability.CONSENTS, "Every grant and revocation, oldest first."
    )


@strawberry.type(
    description=(
        "A parent whose consent for a purpose is active now, with the contact details that "
        "purpose needs. Reads are written to the access log."
    )
)
class ConsentedContact:
    id: strawberry.ID = public(
        "The parent's opaque identifier.",
        reason="opaque identifier, reveals nothing; the list is already scoped",
    )
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    first_name: str | None = guarded(Ability.PARENT_NAME, "First name.")
    last_name: str | None = guarded(Ability.PARENT_NAME, "Family name.")
    email: str | None = guarded(Ability.PARENT_CONTACT, "Email address.")
    since: datetime.datetime | None = guarded(
        Ability.CONSENTS, "Since when the consent is in force."
    )


@strawberry.input(description="Give one's own consent for a purpose.")
class GrantConsentInput:
    purpose: ConsentPurpose = input_field("The purpose to consent to.")


@strawberry.type(description="Result of grantConsent.")
class GrantConsentPayload:
    consent: Consent | None = public(
        "The consent's state after the call (unchanged when it was already active).",
        reason=_PAYLOAD,
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(description="Revoke one's own consent for a purpose.")
class RevokeConsentInput:
    purpose: ConsentPurpose = input_field("The purpose to revoke.")


@strawberry.type(description="Result of revokeConsent.")
class RevokeConsentPayload:
    consent: Consent | None = public(
        "The consent's state after the call (unchanged when it was not active).",
        reason=_PAYLOAD,
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)
