"""Dossiers: households, their parents and children.

Objects of these types exist only for dossiers inside the viewer's grants (see
`permissions.scopes`); each carries the dossier id and the grant it was reached by,
which the access log records.
"""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry

from loket.context import Info
from models.accounts import Role
from models.households import EducationLevel as EducationLevelModel
from models.households import FamilySituation as FamilySituationModel
from models.households import InformationSource as InformationSourceModel
from models.households import RelationToChild as RelationToChildModel
from models.households import WorkSituation as WorkSituationModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import arg, guarded, input_field, public, rrn_input_field
from schema.regions import Municipality

if TYPE_CHECKING:
    from schema.consents import Consent
    from schema.mandates import Mandate
    from schema.requests import CareRequest, NextStep
    from schema.rights import DataExport, ErasureRequest
    from schema.transparency import AccessLogConnection, Disclosure

strawberry.enum(
    WorkSituationModel, name="WorkSituation", description="What a parent does (priority rules)."
)
WorkSituation = WorkSituationModel
strawberry.enum(EducationLevelModel, name="EducationLevel", description="Highest education level.")
EducationLevel = EducationLevelModel
strawberry.enum(
    FamilySituationModel, name="FamilySituation", description="One- or two-parent family."
)
FamilySituation = FamilySituationModel
strawberry.enum(
    RelationToChildModel, name="RelationToChild", description="Parent, foster parent or other."
)
RelationToChild = RelationToChildModel

strawberry.enum(
    InformationSourceModel,
    name="InformationSourceKind",
    description="Who entered priority information: the parent, a referral worker, an admin.",
)
InformationSourceKind = InformationSourceModel

_ID = "opaque identifier, reveals nothing; the object itself is already scoped"


def organisation_seen_by(
    info: Info, organisation_id: uuid.UUID | None, name: str | None
) -> str | None:
    """A referral organisation's name as the viewer may see it: a referral worker sees
    only their own organisations' names (as with mandates); other roles see it."""
    viewer = info.context.viewer
    if viewer.role is Role.TOELEIDER and organisation_id not in viewer.referral_organisation_ids:
        return None
    return name


_PART = "part of a field that carries its own policy"


@strawberry.type(description="Where priority information came from, so providers know its source.")
class InformationSource:
    kind: InformationSourceKind = public("Who entered it.", reason=_PART)
    named_organisation: strawberry.Private[str | None]
    organisation_id: strawberry.Private[uuid.UUID | None]
    recorded_at: datetime.datetime | None = public("When it was last entered.", reason=_PART)

    @public(
        "The referral organisation, when a referral worker entered it (for another "
        "organisation's worker: null, which services help a family is not theirs to know).",
        reason=_PART,
    )
    def organisation_name(self, info: Info) -> str | None:
        return organisation_seen_by(info, self.organisation_id, self.named_organisation)


@strawberry.type(description="A parent (applicant or partner) of a dossier.")
class Parent:
    id: strawberry.ID = public("Opaque identifier.", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    first_name: str | None = guarded(Ability.PARENT_NAME, "First name.")
    last_name: str | None = guarded(Ability.PARENT_NAME, "Family name.")
    street: str | None = guarded(Ability.PARENT_ADDRESS, "Street and number.")
    postal_code: str | None = guarded(Ability.PARENT_ADDRESS, "Postal code.")
    municipality: Municipality | None = guarded(Ability.PARENT_ADDRESS, "Municipality.")
    phone: str | None = guarded(Ability.PARENT_CONTACT, "Phone number.")
    email: str | None = guarded(Ability.PARENT_CONTACT, "Email address.")
    nationality: str | None = guarded(Ability.PARENT_PROFILE, "Nationality (ISO 3166 alpha-2).")
    birthplace: str | None = guarded(Ability.PARENT_PROFILE, "Place of birth.")
    home_language: str | None = guarded(Ability.PARENT_PROFILE, "Home language (ISO 639-1).")
    relation_to_child: RelationToChild | None = guarded(
        Ability.PARENT_PROFILE, "Relation to the children of the dossier."
    )
    is_applicant: bool | None = guarded(
        Ability.PARENT_PROFILE, "Whether this parent is the applicant (else the partner)."
    )
    work_situation: WorkSituation | None = guarded(Ability.PARENT_SITUATION, "Work situation.")
    work_share_percent: int | None = guarded(
        Ability.PARENT_SITUATION, "Share of a full-time job, when working."
    )
    education_level: EducationLevel | None = guarded(Ability.PARENT_SITUATION, "Education level.")
    situation_source: InformationSource | None = guarded(
        Ability.PARENT_SITUATION, "Who entered the work situation and education level."
    )
    has_account: bool | None = guarded(
        Ability.PARENT_PROFILE,
        "Whether the parent has an account (a dossier started by a referral worker may not).",
    )


@strawberry.type(description="A child of a dossier, possibly not born yet.")
class Child:
    id: strawberry.ID = public("Opaque identifier.", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    first_name: str | None = guarded(Ability.CHILD_NAME, "First name.")
    last_name: str | None = guarded(Ability.CHILD_NAME, "Family name.")
    nickname: str | None = guarded(Ability.CHILD_DETAILS, "Name the child is called by (roepnaam).")
    birth_date: datetime.date | None = guarded(Ability.CHILD_DETAILS, "Birth date, once born.")
    expected_birth_date: datetime.date | None = guarded(
        Ability.CHILD_DETAILS, "Expected birth date, for an unborn child."
    )
    is_born: bool | None = guarded(Ability.CHILD_DETAILS, "Whether the child is born.")


@strawberry.type(description="A dossier: a household with its parents, children and requests.")
class Household:
    id: strawberry.ID = public("Opaque identifier.", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    family_situation: FamilySituation | None = guarded(
        Ability.PARENT_SITUATION, "One- or two-parent family."
    )
    income_below_threshold: bool | None = guarded(
        Ability.PARENT_SITUATION, "Joint taxable income below the legal threshold."
    )
    residence: Municipality | None = guarded(
        Ability.PARENT_ADDRESS, "Municipality where the household lives."
    )
    situation_source: InformationSource | None = guarded(
        Ability.PARENT_SITUATION, "Who entered the family situation and income."
    )

    @public(
        "The grant under which the viewer reaches this dossier.",
        reason="describes the viewer's own access, not the dossier's data",
    )
    def viewer_grant(self) -> str:
        return self.grant

    @guarded(Ability.HOUSEHOLD_PARENTS, "Applicant and partner.")
    async def parents(self, info: Info) -> list[Parent] | None:
        return await info.context.loaders.parents.load((self.household_id, self.grant))

    @guarded(Ability.HOUSEHOLD_CHILDREN, "Children of the dossier (scoped to the grant).")
    async def children(self, info: Info) -> list[Child] | None:
        return await info.context.loaders.children.load((self.household_id, self.grant))

    @guarded(
        Ability.DOSSIER_GUIDANCE,
        "What the family should do next, most urgent first, with deadlines.",
    )
    async def next_steps(
        self, info: Info
    ) -> list[Annotated[NextStep, strawberry.lazy("schema.requests")]] | None:
        from resolvers.requests import next_steps

        return await next_steps(info, self.household_id, self.grant)

    @guarded(Ability.HOUSEHOLD_REQUESTS, "Care requests of the dossier (scoped to the grant).")
    async def requests(
        self, info: Info
    ) -> list[Annotated[CareRequest, strawberry.lazy("schema.requests")]] | None:
        return await info.context.loaders.requests.load((self.household_id, self.grant))

    @guarded(
        Ability.MANDATES,
        "Mandates the parents gave referral organisations, active and revoked, newest first "
        "(a referral worker sees only their own organisation's).",
    )
    async def mandates(
        self, info: Info
    ) -> list[Annotated[Mandate, strawberry.lazy("schema.mandates")]] | None:
        return await info.context.loaders.mandates.load((self.household_id, self.grant))

    @guarded(
        Ability.CONSENTS,
        "The parents' consents for uses beyond handling the request (which needs none): one "
        "entry per parent and purpose with any grant or revocation.",
    )
    async def consents(
        self, info: Info
    ) -> list[Annotated[Consent, strawberry.lazy("schema.consents")]] | None:
        return await info.context.loaders.consents.load((self.household_id, self.grant))

    # Only a parent reaches these, and only their own (one) dossier: one statement each,
    # whatever the page size, without a DataLoader.
    @guarded(
        Ability.ACCESS_LOG,
        "Who read this dossier's personal data, newest first: each read by someone other than "
        "its parents, and each uniqueness check about its children, with the organisation and "
        "role (never the staff member), the grant, the fields and when. Reads made for a "
        "secret legal disclosure are left out.",
    )
    async def access_log(
        self,
        info: Info,
        first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
        after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
    ) -> Annotated[AccessLogConnection, strawberry.lazy("schema.transparency")] | None:
        from resolvers.transparency import access_log

        return await access_log(info, self.household_id, self.grant, first, after)

    @guarded(
        Ability.DISCLOSURE_NOTICES,
        "Disclosures of this dossier's data to authorities (police, justice, tax) that are not "
        "kept secret, newest first.",
    )
    async def disclosures(
        self, info: Info
    ) -> list[Annotated[Disclosure, strawberry.lazy("schema.transparency")]] | None:
        from resolvers.transparency import household_disclosures

        return await household_disclosures(info, self.household_id, self.grant)

    @guarded(
        Ability.DATA_EXPORTS,
        "Copies of the dossier its parents asked for (requestDataExport), newest first; only "
        "the parent who asked can fetch one (downloadDataExport).",
    )
    async def exports(
        self, info: Info
    ) -> list[Annotated[DataExport, strawberry.lazy("schema.rights")]] | None:
        from resolvers.rights import household_exports

        return await household_exports(info, self.household_id, self.grant)

    @guarded(
        Ability.ERASURE_REQUESTS,
        "The parents' requests to be forgotten (requestErasure), newest first, each with what "
        "was erased, what is kept until when, and why.",
    )
    async def erasure_requests(
        self, info: Info
    ) -> list[Annotated[ErasureRequest, strawberry.lazy("schema.rights")]] | None:
        from resolvers.rights import household_erasure_requests

        return await household_erasure_requests(info, self.household_id, self.grant)


@strawberry.input(description="A parent's data, as entered by the parent.")
class ParentInput:
    first_name: str = input_field("First name.", Ability.PARENT_NAME)
    last_name: str = input_field("Family name.", Ability.PARENT_NAME)
    nationality: str = input_field("Nationality (ISO 3166 alpha-2).", Ability.PARENT_PROFILE)
    rrn: str | None = rrn_input_field(
        "National register number (Belgians): checked for one account per parent, kept only "
        "as a keyed hash, never shown.",
        default=None,
    )
    birthplace: str = input_field("Place of birth.", Ability.PARENT_PROFILE, default="")
    home_language: str = input_field("Home language (ISO 639-1).", Ability.PARENT_PROFILE)
    street: str = input_field("Street and number.", Ability.PARENT_ADDRESS)
    postal_code: str = input_field("Belgian postal code.", Ability.PARENT_ADDRESS)
    municipality_nis_code: str = input_field(
        "NIS code of the municipality of residence.", Ability.PARENT_ADDRESS
    )
    phone: str = input_field("Phone number.", Ability.PARENT_CONTACT)
    email: str = input_field("Email address.", Ability.PARENT_CONTACT)
    work_situation: WorkSituation = input_field("Work situation.", Ability.PARENT_SITUATION)
    work_share_percent: int | None = input_field(
        "Share of a full-time job (1-100), when working.", Ability.PARENT_SITUATION, default=None
    )
    education_level: EducationLevel = input_field("Education level.", Ability.PARENT_SITUATION)
    relation_to_child: RelationToChild = input_field(
        "Relation to the child.", Ability.PARENT_PROFILE
    )


@strawberry.input(description="A child, born (birth date and RRN) or unborn (expected date).")
class ChildInput:
    first_name: str = input_field("First name.", Ability.CHILD_NAME)
    last_name: str = input_field("Family name.", Ability.CHILD_NAME)
    nickname: str = input_field("Roepnaam.", Ability.CHILD_DETAILS, default="")
    birth_date: datetime.date | None = input_field(
        "Birth date, for a born child.", Ability.CHILD_DETAILS, default=None
    )
    expected_birth_date: datetime.date | None = input_field(
        "Expected birth date, for an unborn child.", Ability.CHILD_DETAILS, default=None
    )
    rrn: str | None = rrn_input_field(
        "National register number of a born child: only for the one-open-request check.",
        default=None,
    )


@strawberry.input(description="Register the signed-in parent's household with a first child.")
class RegisterHouseholdInput:
    applicant: ParentInput = input_field("The applicant (the signed-in parent).")
    family_situation: FamilySituation = input_field(
        "One- or two-parent family.", Ability.PARENT_SITUATION
    )
    income_below_threshold: bool | None = input_field(
        "Joint taxable income below the threshold.", Ability.PARENT_SITUATION, default=None
    )
    child: ChildInput = input_field("The first child.")


@strawberry.type(description="Result of registerHousehold.")
class RegisterHouseholdPayload:
    household: Household | None = public(
        "The new dossier, null when there are errors.",
        reason="payload structure; the dossier's fields carry their own policy",
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason="the caller's own input"
    )


@strawberry.input(
    description="Correct a parent's data: only the fields given change. Counter staff may "
    "change name, address and contact details only."
)
class UpdateParentInput:
    parent_id: strawberry.ID = input_field("The parent to correct.")
    first_name: str | None = input_field(
        "First name.", Ability.PARENT_NAME, default=strawberry.UNSET
    )
    last_name: str | None = input_field(
        "Family name.", Ability.PARENT_NAME, default=strawberry.UNSET
    )
    nationality: str | None = input_field(
        "Nationality (ISO 3166 alpha-2).", Ability.PARENT_PROFILE, default=strawberry.UNSET
    )
    birthplace: str | None = input_field(
        "Place of birth.", Ability.PARENT_PROFILE, default=strawberry.UNSET
    )
    home_language: str | None = input_field(
        "Home language (ISO 639-1).", Ability.PARENT_PROFILE, default=strawberry.UNSET
    )
    relation_to_child: RelationToChild | None = input_field(
        "Relation to the child.", Ability.PARENT_PROFILE, default=strawberry.UNSET
    )
    street: str | None = input_field(
        "Street and number.", Ability.PARENT_ADDRESS, default=strawberry.UNSET
    )
    postal_code: str | None = input_field(
        "Belgian postal code.", Ability.PARENT_ADDRESS, default=strawberry.UNSET
    )
    municipality_nis_code: str | None = input_field(
        "NIS code of the municipality of residence.",
        Ability.PARENT_ADDRESS,
        default=strawberry.UNSET,
    )
    phone: str | None = input_field(
        "Phone number.", Ability.PARENT_CONTACT, default=strawberry.UNSET
    )
    email: str | None = input_field(
        "Email address.", Ability.PARENT_CONTACT, default=strawberry.UNSET
    )
    work_situation: WorkSituation | None = input_field(
        "Work situation.", Ability.PARENT_SITUATION, default=strawberry.UNSET
    )
    work_share_percent: int | None = input_field(
        "Share of a full-time job (1-100), when working; null to clear.",
        Ability.PARENT_SITUATION,
        default=strawberry.UNSET,
    )
    education_level: EducationLevel | None = input_field(
        "Education level.", Ability.PARENT_SITUATION, default=strawberry.UNSET
    )
    rrn: str | None = rrn_input_field(
        "National register number, to add or correct it: checked for one account per parent, "
        "kept only as a keyed hash, never shown.",
        default=strawberry.UNSET,
    )


@strawberry.type(description="Result of updateParent.")
class UpdateParentPayload:
    parent: Parent | None = public(
        "The corrected parent, null when there are errors.",
        reason="payload structure; the parent's fields carry their own policy",
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason="the caller's own input"
    )


@strawberry.input(description="Correct a dossier's family situation and income.")
class UpdateHouseholdInput:
    household_id: strawberry.ID = input_field("The dossier to correct.")
    family_situation: FamilySituation | None = input_field(
        "One- or two-parent family.", Ability.PARENT_SITUATION, default=strawberry.UNSET
    )
    income_below_threshold: bool | None = input_field(
        "Joint taxable income below the threshold (null: not told).",
        Ability.PARENT_SITUATION,
        default=strawberry.UNSET,
    )


@strawberry.type(description="Result of updateHousehold.")
class UpdateHouseholdPayload:
    household: Household | None = public(
        "The corrected dossier, null when there are errors.",
        reason="payload structure; the dossier's fields carry their own policy",
    )
    errors: list[UserError] = public(
        "What is wrong with the input; empty on success.", reason="the caller's own input"
    )
