"""Transparency for the family: who read their dossier, legal disclosures, mandate history.

A parent sees the access log of their own dossier (`Household.accessLog`): every read of
its personal data by someone else, as the organisation and role that read it, never the
staff member's name or e-mail. Legal disclosures to authorities (police, justice, tax)
are recorded by admins in a register (`recordDisclosure`); one kept secret is hidden
from the family together with the reads made for it, until an admin lifts the secrecy.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry

from models.accounts import Role
from permissions.policy import Ability, Grant
from schema.common import Edge, PageInfo, UserError
from schema.consents import ConsentAction
from schema.directives import guarded, input_field, public

_ID = "opaque identifier, reveals nothing; the object itself is already scoped"
_PART = "part of a field that carries its own policy"
_PAYLOAD = "payload structure; the objects' fields carry their own policy"
_ERRORS = "the caller's own input"
_STRUCTURE = "pagination structure; the nodes carry their own policy"


@strawberry.enum(description="The answer a uniqueness check gave (it never says more).")
class UniquenessCheckOutcome(Enum):
    ANSWERED = strawberry.enum_value(
        "ANSWERED", description="The check was about a child of this dossier and was answered."
    )
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="The child was not in a dossier the caller may write."
    )
    RATE_LIMITED = strawberry.enum_value(
        "RATE_LIMITED", description="Refused: the caller had made too many checks."
    )


@strawberry.type(
    description=(
        "A legal disclosure of the dossier's data to an authority (police, justice, tax), "
        "recorded by an admin. The family sees it unless it is kept secret."
    )
)
class Disclosure:
    id: strawberry.ID = public("Opaque identifier.", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    authority: str | None = guarded(Ability.DISCLOSURES, "The authority the data went to.")
    legal_basis: str | None = guarded(
        Ability.DISCLOSURES, "The legal obligation that required the disclosure."
    )
    data_disclosed: str | None = guarded(
        Ability.DISCLOSURES, "What was disclosed (categories of data, not the data itself)."
    )
    disclosed_on: datetime.date | None = guarded(Ability.DISCLOSURES, "When it was disclosed.")
    secret: bool | None = guarded(
        Ability.DISCLOSURE_REGISTER,
        "Whether it is hidden from the family, with the reads linked to it.",
    )
    recorded_at: datetime.datetime | None = guarded(
        Ability.DISCLOSURE_REGISTER, "When it was entered in the register."
    )
    reads: list[DisclosureRead] | None = guarded(
        Ability.DISCLOSURE_REGISTER,
        "The admins' reads of the dossier made for it (access-log entries), oldest first.",
    )


@strawberry.type(
    description=(
        "An admin's own read of a dossier, as the access log holds it: what recordDisclosure "
        "links to a disclosure (hidden from the family while the disclosure is secret)."
    )
)
class DisclosureRead:
    id: strawberry.ID = public(
        "The access-log entry's identifier (pass it in accessLogEntryIds).", reason=_ID
    )
    at: datetime.datetime | None = guarded(Ability.DISCLOSURE_REGISTER, "When it was read.")
    fields: list[str] | None = guarded(
        Ability.DISCLOSURE_REGISTER, "The fields read, e.g. 'Parent.phone'."
    )
    operation_name: str | None = guarded(
        Ability.DISCLOSURE_REGISTER, "The name of the GraphQL operation that read them."
    )


@strawberry.type(
    description=(
        "One read of the dossier's personal data by someone other than its parents, or one "
        "uniqueness check about one of its children: who (organisation and role, never the "
        "staff member), when, which fields, under which grant."
    )
)
class AccessLogEntry:
    household_id: strawberry.Private[uuid.UUID]
    at: datetime.datetime | None = guarded(Ability.ACCESS_LOG, "When.")
    role: Role | None = guarded(
        Ability.ACCESS_LOG, "The role the reader acted in (PARENT: a check by a parent)."
    )
    organisation_name: str | None = guarded(
        Ability.ACCESS_LOG,
        "The organisation the reader acted for (a location, provider organisation, counter, "
        "referral organisation or sick-child service; for admins the platform itself); null "
        "when it cannot be told for sure (several memberships, or one since deleted).",
    )
    grant: Grant | None = guarded(
        Ability.ACCESS_LOG,
        "The grant under which the dossier was reached; null for a uniqueness check made "
        "without one.",
    )
    fields: list[str] | None = guarded(
        Ability.ACCESS_LOG,
        "The fields read, e.g. 'Parent.phone' (for a uniqueness check: which check).",
    )
    operation_name: str | None = guarded(
        Ability.ACCESS_LOG, "The name of the reader's GraphQL operation, when it had one."
    )
    outcome: UniquenessCheckOutcome | None = guarded(
        Ability.ACCESS_LOG, "For a uniqueness check: its answer; null for a read."
    )
    disclosure: Disclosure | None = guarded(
        Ability.ACCESS_LOG,
        "The legal disclosure the read was made for (shown once it is not secret).",
    )


@strawberry.type(description="A page of access-log entries, newest first.")
class AccessLogConnection:
    edges: list[Edge[AccessLogEntry]] = public("The entries of this page.", reason=_STRUCTURE)
    page_info: PageInfo = public("Pagination state.", reason=_STRUCTURE)


@strawberry.type(description="A page of an admin's own reads of a dossier, newest first.")
class DisclosureReadConnection:
    edges: list[Edge[DisclosureRead]] = public("The reads of this page.", reason=_STRUCTURE)
    page_info: PageInfo = public("Pagination state.", reason=_STRUCTURE)


@strawberry.type(
    description=(
        "One step of a mandate's history, its grant or its revocation: when, and who recorded "
        "it as the family may know them (role and organisation, never a staff member)."
    )
)
class MandateEvent:
    action: ConsentAction = public("GRANTED or REVOKED.", reason=_PART)
    at: datetime.datetime = public("When it took effect on the platform.", reason=_PART)
    role: Role | None = public(
        "Who recorded it: PARENT (a parent, signed in), TOELEIDER (a worker of the mandated "
        "organisation, recording a consent given on paper, in person or by phone, or ending "
        "the mandate) or ADMIN; null when it can no longer be told.",
        reason=_PART,
    )
    organisation_name: str | None = public(
        "The organisation they acted for: the mandated organisation for a referral worker, "
        "the platform for an admin; null for a parent.",
        reason=_PART,
    )


# Admin mutations of the register.


@strawberry.input(description="Record a disclosure of a dossier's data to an authority.")
class RecordDisclosureInput:
    household_id: strawberry.ID = input_field("The dossier whose data was disclosed.")
    authority: str = input_field("The authority (at most 200 characters).")
    legal_basis: str = input_field(
        "The legal obligation that required it (at most 500 characters)."
    )
    data_disclosed: str = input_field(
        "What was disclosed: categories of data, never the data itself (at most 1000 characters)."
    )
    disclosed_on: datetime.date = input_field("When it was disclosed (not in the future).")
    secret: bool = input_field(
        "Hide it, and the reads linked to it, from the family (when the law forbids telling them).",
        default=False,
    )
    access_log_entry_ids: list[strawberry.ID] = input_field(
        "The caller's own reads of this dossier made for the disclosure (see "
        "disclosableReads; at most 100).",
        default_factory=list,
    )


@strawberry.type(description="Result of recordDisclosure.")
class RecordDisclosurePayload:
    disclosure: Disclosure | None = public(
        "The recorded disclosure, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)


@strawberry.input(
    description=(
        "Lift a disclosure's secrecy (the family then sees it and its reads), or link more "
        "of the caller's reads to it. Secrecy once lifted cannot return."
    )
)
class UpdateDisclosureInput:
    disclosure_id: strawberry.ID = input_field("The disclosure.")
    secret: bool | None = input_field(
        "false: lift the secrecy. (true is accepted only while it is still secret.)",
        default=strawberry.UNSET,
    )
    access_log_entry_ids: list[strawberry.ID] | None = input_field(
        "More of the caller's own reads of the dossier to link (at most 100).",
        default=strawberry.UNSET,
    )


@strawberry.type(description="Result of updateDisclosure.")
class UpdateDisclosurePayload:
    disclosure: Disclosure | None = public(
        "The disclosure after the change, null when there are errors.", reason=_PAYLOAD
    )
    errors: list[UserError] = public("What is wrong with the input.", reason=_ERRORS)
