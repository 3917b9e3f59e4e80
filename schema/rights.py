"""Data-subject rights: copies of one's own dossier (exports) and requests to be
forgotten (erasure), with the decision and its reasons (`resolvers.rights`)."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry

from models.privacy import ErasureStatus as ErasureStatusModel
from models.privacy import ExportStatus as ExportStatusModel
from permissions.policy import Ability
from schema.common import UserError
from schema.directives import guarded, input_field, public

strawberry.enum(
    ExportStatusModel,
    name="ExportStatus",
    description=(
        "PENDING: asked for, being made by a job; READY: made, waiting for its download link "
        "(downloadDataExport); DOWNLOADED: fetched once, its content deleted; EXPIRED: not "
        "fetched in time (or no longer allowed), its content deleted."
    ),
)
ExportStatus = ExportStatusModel
strawberry.enum(
    ErasureStatusModel,
    name="ErasureStatus",
    description=(
        "DONE: the dossier is anonymised and the account closed; PARTIAL: what was not needed "
        "is erased, the rest is kept until a request or place ends; REFUSED: nothing could be "
        "erased yet. The decision's items say what and why."
    ),
)
ErasureStatus = ErasureStatusModel


@strawberry.enum(description="What became of one category of data on an erasure request.")
class ErasureOutcome(Enum):
    ERASED = strawberry.enum_value("ERASED", description="Erased (anonymised or deleted) now.")
    RETAINED = strawberry.enum_value(
        "RETAINED", description="Kept, for the reason given, until the date given (if any)."
    )


_ID = "opaque identifier, reveals nothing; the object itself is already scoped"
_PART = "part of a field that carries its own policy"
_PAYLOAD = "payload structure; the objects' fields carry their own policy"
_ERRORS = "the caller's own input"


@strawberry.type(
    description=(
        "A copy of the dossier one of its parents asked for (a JSON document, see "
        "jobs/export.py for its shape): made by a job, fetched once through a short-lived "
        "link that only the parent who asked can use."
    )
)
class DataExport:
    id: strawberry.ID = public("Opaque identifier (pass it to downloadDataExport).", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    status: ExportStatus | None = guarded(Ability.DATA_EXPORTS, "Where the copy stands.")
    requested_at: datetime.datetime | None = guarded(Ability.DATA_EXPORTS, "When it was asked for.")
    ready_at: datetime.datetime | None = guarded(
        Ability.DATA_EXPORTS, "When the job made it; null while PENDING."
    )
    expires_at: datetime.datetime | None = guarded(
        Ability.DATA_EXPORTS,
        "Until when it can be fetched: the copy waits this long for its link, and a link "
        "brings it closer (see downloadDataExport).",
    )
    downloaded_at: datetime.datetime | None = guarded(
        Ability.DATA_EXPORTS, "When it was fetched (its content was deleted then)."
    )
    requested_by_me: bool | None = guarded(
        Ability.DATA_EXPORTS,
        "Whether the signed-in parent asked for it (only they can fetch it; the partner asks "
        "for their own).",
    )


@strawberry.type(description="One category of data in an erasure decision.")
class ErasureDecisionItem:
    category: str | None = public(
        "Stable code of the category (e.g. PARENTS, CHILDREN, OPEN_REQUEST, CURRENT_PLACE, "
        "ACCESS_LOG, DISCLOSURES), for translations.",
        reason=_PART,
    )
    data: str | None = public("What data this is.", reason=_PART)
    outcome: ErasureOutcome | None = public("Erased now, or kept.", reason=_PART)
    until: datetime.date | None = public(
        "For kept data that may go later: the day the reason to keep it ends (ask again "
        "after it); null when that day is not known yet, or when the data is kept for good.",
        reason=_PART,
    )
    reason: str | None = public("Why it was erased or why it is kept.", reason=_PART)


@strawberry.type(
    description=(
        "A parent's request to be forgotten, decided at once against the legal retention "
        "rules. The decision names categories of data, never the data itself."
    )
)
class ErasureRequest:
    id: strawberry.ID = public(
        "Opaque identifier: the reference to quote when contacting the counter.", reason=_ID
    )
    status: ErasureStatus | None = guarded(Ability.ERASURE_REQUESTS, "The overall outcome.")
    requested_at: datetime.datetime | None = guarded(
        Ability.ERASURE_REQUESTS, "When it was asked for."
    )
    decided_at: datetime.datetime | None = guarded(Ability.ERASURE_REQUESTS, "When it was decided.")
    requested_by_me: bool | None = guarded(
        Ability.ERASURE_REQUESTS, "Whether the signed-in parent asked (else the partner)."
    )
    decision: list[ErasureDecisionItem] | None = guarded(
        Ability.ERASURE_REQUESTS,
        "What was erased and what is kept, until when and why, category by category.",
    )


@strawberry.type(description="Result of requestDataExport.")
class RequestDataExportPayload:
    export: DataExport | None = public(
        "The copy asked for (PENDING: a job makes it, usually within a minute); null when "
        "there are errors.",
        reason=_PAYLOAD,
    )
    errors: list[UserError] = public("Why nothing was asked for; empty on success.", reason=_ERRORS)


@strawberry.input(description="Make the one-time download link of a copy one asked for.")
class DownloadDataExportInput:
    export_id: strawberry.ID = input_field("The copy (READY, asked for by the signed-in parent).")


@strawberry.type(description="Result of downloadDataExport.")
class DownloadDataExportPayload:
    download_url: str | None = public(
        "The link: GET it, signed in as the same parent (bearer token or session cookie). It "
        "works once and only until expiresAt; it is shown only here (only a digest of it is "
        "kept), and asking again makes a new one that replaces it.",
        reason="the caller's own one-time link, returned only to the parent who asked for the "
        "copy (the mutation's policy)",
    )
    expires_at: datetime.datetime | None = public(
        "Until when the link works.", reason="describes the caller's own link"
    )
    export: DataExport | None = public("The copy.", reason=_PAYLOAD)
    errors: list[UserError] = public("Why no link was made; empty on success.", reason=_ERRORS)


@strawberry.input(description="Ask to be forgotten.")
class RequestErasureInput:
    confirm: bool = input_field(
        "Must be true: when nothing is being handled any more, the whole dossier (both parents "
        "and the children) is anonymised and the parents' accounts closed at once; this "
        "cannot be undone."
    )


@strawberry.type(description="Result of requestErasure: the decision, also the receipt.")
class RequestErasurePayload:
    erasure_request: ErasureRequest | None = public(
        "The decision with its reasons. When it is DONE the account is closed and this payload "
        "is the only time it is shown: keep it (its id is the reference to quote). Null when "
        "there are errors.",
        reason=_PAYLOAD,
    )
    signed_out: bool | None = public(
        "Whether the caller's account can no longer be used as a parent's (closed, or kept only "
        "for a staff role): later requests with the same token get 401, or no parent role.",
        reason="describes the caller's own account",
    )
    errors: list[UserError] = public("Why nothing was decided; empty on success.", reason=_ERRORS)
