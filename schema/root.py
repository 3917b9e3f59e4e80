"""The one GraphQL schema: root types, extensions, and the printed SDL."""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import (
    MaskErrors,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from loket.settings import settings
from permissions.engine import PolicyExecutor
from permissions.policy import Ability
from resolvers import (
    accounts,
    applications,
    children,
    consents,
    counters,
    households,
    inbox,
    integrators,
    mandates,
    providers,
    reports,
    requests,
    searches,
    services,
    statistics,
    uniqueness,
)
from resolvers import agreements as agreement_resolvers
from resolvers import rights as rights_resolvers
from resolvers import transparency as transparency_resolvers
from resolvers.privacy_report import privacy_report_resolver
from schema.directives import guarded, guarded_mutation, public, public_mutation
from schema.limits import (
    TOO_MANY_TOKENS,
    OperationLimits,
    TokenLimit,
    ValidationLimits,
    has_code,
    is_token_limit_error,
    with_code,
)

log = logging.getLogger("loket.graphql")

_PUBLIC = "public data (MISSION.md section 3.8)"


@strawberry.type(description="Entry points for reading.")
class Query:
    me = guarded(Ability.SIGNED_IN, "The signed-in user.", resolver=accounts.me)
    household = guarded(
        Ability.LIST_DOSSIERS,
        "A dossier by id; null outside the viewer's grants.",
        resolver=households.household,
    )
    my_household = guarded(
        Ability.OWN_DOSSIER,
        "The signed-in parent's dossier.",
        resolver=households.my_household,
    )
    dossiers = guarded(
        Ability.LIST_DOSSIERS,
        "Dossiers within the viewer's grants (for counter staff: their region).",
        resolver=households.dossiers,
    )
    inbox = guarded(
        Ability.PROVIDER_INBOX,
        "A location's inbox: open applications and emergency-list requests, ranked by the "
        "legal priority rules and the provider's own policy, each with its explanation.",
        resolver=inbox.inbox,
    )
    location_quota = guarded(
        Ability.LOCATION_QUOTA,
        "A location's share of children from priority groups or vulnerable families in a "
        "year, against its 20 % / 30 % target.",
        resolver=applications.location_quota,
    )
    has_open_request = guarded(
        Ability.CHECK_REQUEST_UNIQUENESS,
        "The uniqueness check for one of the caller's own children: is there an open request "
        "for it anywhere? Rate-limited per account and written to the access log.",
        resolver=uniqueness.has_open_request,
    )
    locations = public(
        "Childcare locations, optionally of one municipality.",
        reason=_PUBLIC,
        resolver=providers.locations,
    )
    municipalities = public(
        "Municipalities known to the platform.", reason=_PUBLIC, resolver=providers.municipalities
    )
    search_locations = public(
        "Search childcare locations by municipality, postal code, distance, kind, tariff, age "
        "and opening days; sorted by name, or by distance with `near`. Bad input gives an "
        "error with a stable code (e.g. UNKNOWN_POSTAL_CODE, OUT_OF_RANGE, INVALID_CURSOR).",
        reason=_PUBLIC,
        resolver=providers.search_locations,
    )
    last_minute_places = public(
        "Search last-minute free places that are published, not withdrawn and not past, by "
        "area, dates, age and days; sorted by start, or by distance with `near`.",
        reason=_PUBLIC,
        resolver=providers.last_minute_places,
    )
    my_saved_searches = guarded(
        Ability.SAVE_SEARCH,
        "The signed-in user's saved searches, oldest first.",
        resolver=searches.my_saved_searches,
    )
    referral_organisations = public(
        "Referral organisations (OCMW, VDAB, Kind en Gezin, ...), by name: whom a parent may "
        "give a mandate.",
        reason="public directory of organisations, no personal data",
        resolver=mandates.referral_organisations,
    )
    referral_workers = guarded(
        Ability.MANAGE_REFERRAL_ORGANISATIONS,
        "The current workers of a referral organisation; null for an unknown organisation.",
        resolver=mandates.referral_workers,
    )
    consented_contacts = guarded(
        Ability.CONSENTED_CONTACTS,
        "Parents whose consent for a purpose is active now (decided at query time), with "
        "their contact details; every read is written to the access log.",
        resolver=consents.consented_contacts,
    )
    demand_overview = guarded(
        Ability.DEMAND_OVERVIEW,
        "Aggregate demand in the viewer's region by month and municipality: open and "
        "fulfilled requests, the emergency list, unanswered applications. Counts only.",
        resolver=counters.demand_overview,
    )
    service_children = guarded(
        Ability.SERVICE_CHILDREN,
        "Children who used the viewer's sick-child service, with what invoicing needs; "
        "every read is written to the access log.",
        resolver=services.service_children,
    )
    integrator_clients = guarded(
        Ability.MANAGE_INTEGRATORS,
        "Integrator clients, oldest first, with what they act for and their manifests.",
        resolver=integrators.integrator_clients,
    )
    trend_statistics = guarded(
        Ability.TREND_STATISTICS,
        "Anonymised trend statistics of care requests by municipality of residence and month "
        "of submission (requests, fulfilled, withdrawn, emergency list, fulfilment rate, "
        "median wait), as the statistics job last computed them. Counts below 5, and what "
        "would reveal one by subtraction, are null. Aggregates only.",
        resolver=statistics.trend_statistics,
    )
    job_runs = guarded(
        Ability.JOB_RUNS,
        "The recorded runs of the jobs, newest first: when, how it went, rows per rule.",
        resolver=statistics.job_runs,
    )
    disclosures = guarded(
        Ability.DISCLOSURE_REGISTER,
        "The legal disclosure register of a dossier: every disclosure to an authority, secret "
        "ones included, newest first, with the reads linked to it; null for an unknown dossier.",
        resolver=transparency_resolvers.disclosures,
    )
    disclosable_reads = guarded(
        Ability.DISCLOSURE_REGISTER,
        "The signed-in admin's own reads of a dossier not yet linked to a disclosure, newest "
        "first: what recordDisclosure can link. Null for an unknown dossier.",
        resolver=transparency_resolvers.disclosable_reads,
    )
    agreements = guarded(
        Ability.MANAGE_AGREEMENTS,
        "Processing and confidentiality agreements, the soonest-ending first (open-ended "
        "ones last), with their party's name and whether they are in force today; "
        "`expiringWithinDays` lists those in force that expire soon.",
        resolver=agreement_resolvers.agreements,
    )
    parties_without_agreement = guarded(
        Ability.MANAGE_AGREEMENTS,
        "Organisations and people holding active memberships without the agreement those "
        "need in force: their memberships give no access until one is recorded.",
        resolver=agreement_resolvers.parties_without_agreement,
    )
    privacy_report = guarded(
        Ability.PRIVACY_REPORT,
        "The processing register: who can see which personal data under which grant, and how "
        "long it is kept, computed from the policies this service enforces.",
        resolver=privacy_report_resolver,
    )
    my_reports = guarded(
        Ability.OWN_REPORTS,
        "The reports the signed-in user filed, newest first: status and closing note only.",
        resolver=reports.my_reports,
    )
    # Last of the class: below it, `reports` in this class body names this field, not the module.
    reports = guarded(
        Ability.MANAGE_REPORTS,
        "Data-breach reports and complaints with their notes: open ones first, then triaged, "
        "then closed, oldest first within each. A breach shows its 72-hour notification "
        "deadline, whether it is overdue and the hours left. Texts are plain text: show "
        "them as text, never as HTML.",
        resolver=reports.reports,
    )


@strawberry.type(description="Entry points for writing; each runs in one transaction.")
class Mutation:
    sign_up = public_mutation(
        "Create a parent account and sign in to it.",
        reason="authentication: the caller has no account or token yet",
        resolver=accounts.sign_up,
    )
    sign_in = public_mutation(
        "Sign in with email address and password; returns a bearer token, or sets the "
        "session cookie (session: COOKIE).",
        reason="authentication: the caller has no token yet (attempts are rate-limited)",
        resolver=accounts.sign_in,
    )
    sign_out = public_mutation(
        "Sign out: clears the session cookie. A bearer token stays valid until it "
        "expires; discard it.",
        reason="ends the caller's own session, if any; anyone may ask",
        resolver=accounts.sign_out,
    )
    invite_partner = guarded_mutation(
        Ability.INVITE_PARTNER,
        "Make a one-time code with which a partner joins the signed-in parent's household.",
        resolver=accounts.invite_partner,
    )
    accept_partner_invitation = guarded_mutation(
        Ability.JOIN_HOUSEHOLD,
        "Join a household as its second parent with a partner invitation code.",
        resolver=accounts.accept_partner_invitation,
    )
    create_referral_organisation = guarded_mutation(
        Ability.MANAGE_REFERRAL_ORGANISATIONS,
        "Add a referral organisation.",
        resolver=mandates.create_referral_organisation,
    )
    add_referral_worker = guarded_mutation(
        Ability.MANAGE_REFERRAL_ORGANISATIONS,
        "Make an existing user a referral worker (TOELEIDER) of an organisation.",
        resolver=mandates.add_referral_worker,
    )
    remove_referral_worker = guarded_mutation(
        Ability.MANAGE_REFERRAL_ORGANISATIONS,
        "End a referral worker's membership; their access ends at once.",
        resolver=mandates.remove_referral_worker,
    )
    grant_mandate = guarded_mutation(
        Ability.GRANT_MANDATE,
        "Give a referral organisation a mandate for the signed-in parent's dossier.",
        resolver=mandates.grant_mandate,
    )
    revoke_mandate = guarded_mutation(
        Ability.REVOKE_MANDATE,
        "End a mandate (the parent, the mandated organisation, or an admin); the "
        "organisation's access ends at once.",
        resolver=mandates.revoke_mandate,
    )
    start_dossier = guarded_mutation(
        Ability.START_DOSSIER,
        "Start a dossier for a family without an account, with their recorded consent to "
        "the mandate; returns a one-time claim code for the parent.",
        resolver=mandates.start_dossier,
    )
    claim_dossier = guarded_mutation(
        Ability.JOIN_HOUSEHOLD,
        "Become the parent of a dossier a referral worker started for you, with its claim code.",
        resolver=mandates.claim_dossier,
    )
    grant_consent = guarded_mutation(
        Ability.MANAGE_CONSENT,
        "Give one's own consent for a use beyond handling the request.",
        resolver=consents.grant_consent,
    )
    revoke_consent = guarded_mutation(
        Ability.MANAGE_CONSENT,
        "Revoke one's own consent for a purpose, effective at once.",
        resolver=consents.revoke_consent,
    )
    publish_last_minute_places = guarded_mutation(
        Ability.PUBLISH_LAST_MINUTE,
        "Publish free places of one's own location for a period, days and age group.",
        resolver=providers.publish_last_minute_places,
    )
    withdraw_last_minute_places = guarded_mutation(
        Ability.PUBLISH_LAST_MINUTE,
        "Withdraw published last-minute places of one's own location.",
        resolver=providers.withdraw_last_minute_places,
    )
    save_search = guarded_mutation(
        Ability.SAVE_SEARCH,
        "Save a search filter (validated as the search validates it) to run again later.",
        resolver=searches.save_search,
    )
    delete_saved_search = guarded_mutation(
        Ability.SAVE_SEARCH,
        "Delete one of one's own saved searches.",
        resolver=searches.delete_saved_search,
    )
    register_household = guarded_mutation(
        Ability.REGISTER_HOUSEHOLD,
        "Register the signed-in parent's household with a first child.",
        resolver=households.register_household,
    )
    submit_care_request = guarded_mutation(
        Ability.SUBMIT_CARE_REQUEST,
        "File a care request for a child to one or more locations.",
        resolver=requests.submit_care_request,
    )
    update_parent = guarded_mutation(
        Ability.EDIT_DOSSIER,
        "Correct a parent's data (rectification); only the fields given change.",
        resolver=households.update_parent,
    )
    update_household = guarded_mutation(
        Ability.EDIT_DOSSIER,
        "Correct a dossier's family situation and income.",
        resolver=households.update_household,
    )
    add_child = guarded_mutation(
        Ability.MANAGE_CHILDREN,
        "Add a born or unborn child to a dossier.",
        resolver=children.add_child,
    )
    record_birth = guarded_mutation(
        Ability.MANAGE_CHILDREN,
        "Record the birth date and national register number of an unborn child.",
        resolver=children.record_birth,
    )
    update_child = guarded_mutation(
        Ability.MANAGE_CHILDREN,
        "Correct a child's names or expected birth date.",
        resolver=children.update_child,
    )
    update_care_request = guarded_mutation(
        Ability.SUBMIT_CARE_REQUEST,
        "Correct an open request's start date, care pattern or note.",
        resolver=requests.update_care_request,
    )
    add_chosen_locations = guarded_mutation(
        Ability.CHOOSE_LOCATIONS,
        "Choose more locations for an open request.",
        resolver=requests.add_chosen_locations,
    )
    withdraw_care_request = guarded_mutation(
        Ability.WITHDRAW_REQUEST,
        "Withdraw an open request at every location.",
        resolver=requests.withdraw_care_request,
    )
    withdraw_application = guarded_mutation(
        Ability.WITHDRAW_REQUEST,
        "Withdraw an open request at one location.",
        resolver=requests.withdraw_application,
    )
    accept_offer = guarded_mutation(
        Ability.ANSWER_OFFER,
        "Accept an offered place: enrols the child and closes the other applications.",
        resolver=requests.accept_offer,
    )
    decline_offer = guarded_mutation(
        Ability.ANSWER_OFFER,
        "Decline an offered place.",
        resolver=requests.decline_offer,
    )
    offer_place = guarded_mutation(
        Ability.ANSWER_APPLICATION,
        "Offer a place at one's own location (also to an emergency-list request there).",
        resolver=applications.offer_place,
    )
    waitlist_application = guarded_mutation(
        Ability.ANSWER_APPLICATION,
        "Put a pending application on the waiting list.",
        resolver=applications.waitlist_application,
    )
    refuse_application = guarded_mutation(
        Ability.ANSWER_APPLICATION,
        "Refuse an application, with a reason the family sees.",
        resolver=applications.refuse_application,
    )
    withdraw_offer = guarded_mutation(
        Ability.ANSWER_APPLICATION,
        "Withdraw an offer the family has not answered yet.",
        resolver=applications.withdraw_offer,
    )
    mark_staff_child = guarded_mutation(
        Ability.ANSWER_APPLICATION,
        "Mark the child of an application as a staff member's child (own priority policy).",
        resolver=applications.mark_staff_child,
    )
    end_enrolment = guarded_mutation(
        Ability.END_ENROLMENT,
        "End an enrolment at one's own location (starts the retention clock).",
        resolver=applications.end_enrolment,
    )
    update_location = guarded_mutation(
        Ability.MANAGE_LOCATION,
        "Change one's own location: capacity, ages, opening times, own priority policy.",
        resolver=applications.update_location,
    )
    create_integrator_client = guarded_mutation(
        Ability.MANAGE_INTEGRATORS,
        "Create an integrator client acting for one provider organisation or one counter; "
        "returns its client id and, once, its secret.",
        resolver=integrators.create_integrator_client,
    )
    rotate_integrator_secret = guarded_mutation(
        Ability.MANAGE_INTEGRATORS,
        "Give an integrator client a new secret (returned once); the old one stops working.",
        resolver=integrators.rotate_integrator_secret,
    )
    revoke_integrator_client = guarded_mutation(
        Ability.MANAGE_INTEGRATORS,
        "Revoke an integrator client: its tokens stop working at once.",
        resolver=integrators.revoke_integrator_client,
    )
    register_manifest = guarded_mutation(
        Ability.MANAGE_INTEGRATORS,
        "Register a manifest of operations (Apollo, Relay or .graphql) for an integrator "
        "client, all or nothing: each operation is validated against the schema and the "
        "client's role at upload.",
        resolver=integrators.register_manifest_resolver,
    )
    revoke_manifest = guarded_mutation(
        Ability.MANAGE_INTEGRATORS,
        "Revoke a manifest: its operations stop working for the client.",
        resolver=integrators.revoke_manifest_resolver,
    )
    record_disclosure = guarded_mutation(
        Ability.DISCLOSURE_REGISTER,
        "Record a disclosure of a dossier's data to an authority (police, justice, tax) in the "
        "register, with the admin's own reads of the dossier made for it. A secret one is "
        "hidden from the family, with those reads, until its secrecy is lifted. So that "
        "such reads are never visible, record it first and then read with the HTTP header "
        "`X-Loket-Disclosure: <its id>`: the reads of its dossier are logged linked to it.",
        resolver=transparency_resolvers.record_disclosure,
    )
    update_disclosure = guarded_mutation(
        Ability.DISCLOSURE_REGISTER,
        "Lift a disclosure's secrecy (the family then sees it and its reads), or link more of "
        "the admin's own reads of the dossier to it.",
        resolver=transparency_resolvers.update_disclosure,
    )
    record_agreement = guarded_mutation(
        Ability.MANAGE_AGREEMENTS,
        "Record a signed processing agreement (with an organisation) or confidentiality "
        "agreement (with a person); the roles that need it give access from its first day.",
        resolver=agreement_resolvers.record_agreement_resolver,
    )
    end_agreement = guarded_mutation(
        Ability.MANAGE_AGREEMENTS,
        "Set the last day an agreement is in force; a day before today removes the access "
        "it gives at once.",
        resolver=agreement_resolvers.end_agreement,
    )
    request_data_export = guarded_mutation(
        Ability.EXPORT_OWN_DATA,
        "Ask for a machine-readable copy (JSON) of everything held about one's own dossier. A "
        "job makes it, usually within a minute (Household.exports shows when it is READY); "
        "then get its one-time link with downloadDataExport. One copy at a time per parent.",
        resolver=rights_resolvers.request_data_export,
    )
    download_data_export = guarded_mutation(
        Ability.EXPORT_OWN_DATA,
        "Make the one-time download link of a READY copy one asked for: GET it, signed in "
        "as the same parent, within settings' LOKET_EXPORT_LINK_MINUTES (15). The first "
        "download deletes the copy; a new link replaces the previous one.",
        resolver=rights_resolvers.download_data_export,
    )
    request_erasure = guarded_mutation(
        Ability.ERASE_OWN_DATA,
        "Ask to be forgotten, decided at once against the legal retention rules: while a "
        "request is open or a place runs, what they need is kept (with the reason and until "
        "when) and only the rest goes; otherwise the whole dossier is anonymised as the "
        "retention job does and the parents' accounts are closed. The payload is the "
        "decision, and after a DONE erasure the only copy the parent gets.",
        resolver=rights_resolvers.request_erasure,
    )
    file_report = public_mutation(
        "Report a suspected data breach or file a complaint, signed in or anonymously. "
        "Limited per client IP and per account per hour (RATE_LIMITED); the text is plain "
        "text of 10 to 5000 characters. Answers with the report's reference only.",
        reason="anyone may report a data breach or complain (MISSION.md section 1, anonymous)",
        resolver=reports.file_report,
    )
    triage_report = guarded_mutation(
        Ability.MANAGE_REPORTS,
        "Assess a report that is not closed: its severity, and a note. OPEN becomes TRIAGED.",
        resolver=reports.triage_report,
    )
    add_report_note = guarded_mutation(
        Ability.MANAGE_REPORTS,
        "Add a note to a report that is not closed.",
        resolver=reports.add_report_note,
    )
    record_authority_notification = guarded_mutation(
        Ability.MANAGE_REPORTS,
        "Record when the supervisory authority was notified of a breach (once).",
        resolver=reports.record_authority_notification,
    )
    close_report = guarded_mutation(
        Ability.MANAGE_REPORTS,
        "Close a report with a closing note the reporter sees. A breach closes only once the "
        "authority's notification is recorded, or as not notifiable (notifiable: false) with "
        "the reason in the note.",
        resolver=reports.close_report,
    )


GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
UNEXPECTED_MESSAGE = "Unexpected error."

# graphql-core suggests names of fields, arguments, types and enum values; they tell an
# anonymous caller what the schema holds, which introspection would not.
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.S)
# graphql-core's refusal of an argument value during execution (e.g. null, through a
# variable's default, for a non-null argument): the caller's input, not a bug.
_ARGUMENT_REFUSED = re.compile(r"Argument '\w+' (?:of non-null type|has invalid value)")


def should_mask_error(error: GraphQLError) -> bool:
    """A Python exception, or an uncoded error during execution (e.g. graphql-core's
    null for a non-null field): a bug, shown only as INTERNAL_SERVER_ERROR. Syntax,
    validation and coercion errors (no path) and coded errors are shown."""
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return (
        error.path is not None
        and not has_code(error)
        and not _ARGUMENT_REFUSED.match(error.message)
    )


def code_expected(error: GraphQLError) -> None:
    """Give an expected error without a code its code; drop graphql-core's suggestions.
    (Validation errors are coded by OperationLimits, which knows they are.)"""
    if error.path is None:
        error.message = _SUGGESTION.sub("", error.message)
    if has_code(error):
        return
    if isinstance(error, GraphQLSyntaxError):
        with_code(error, TOO_MANY_TOKENS if is_token_limit_error(error) else GRAPHQL_PARSE_FAILED)
    elif error.path is None or _ARGUMENT_REFUSED.match(error.message):
        with_code(error, BAD_USER_INPUT)  # variable or argument values that do not coerce


def report_unexpected(error: GraphQLError, execution_context: ExecutionContext | None) -> str:
    """Log an unexpected error once, in one structured line, and give it an errorId.

    The line has the exception's type and traceback frames (file, line, function, source
    line), never its message or the variables: either may hold personal data.
    """
    error_id = (error.extensions or {}).get("errorId")
    if isinstance(error_id, str):
        return error_id
    error_id = str(uuid.uuid4())
    error.extensions = {**(error.extensions or {}), "errorId": error_id}
    exception: BaseException = error.original_error or error
    kind = type(exception)
    context: Any = getattr(execution_context, "context", None)
    log.error(
        "unexpected %s (errorId %s)",
        kind.__name__,
        error_id,
        extra={
            "fields": {
                "errorId": error_id,
                "exceptionType": f"{kind.__module__}.{kind.__qualname__}",
                "path": error.path,
                "operationName": execution_context.operation_name if execution_context else None,
                "requestId": getattr(context, "request_id", None),
                "frames": [
                    {"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line}
                    for f in traceback.extract_tb(exception.__traceback__)
                ],
            }
        },
    )
    return error_id


def masked(error: GraphQLError, execution_context: ExecutionContext | None = None) -> GraphQLError:
    """`error` as the client may see it: unexpected errors become INTERNAL_SERVER_ERROR
    with the errorId of their log line."""
    if not should_mask_error(error):
        return error
    return GraphQLError(
        UNEXPECTED_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={
            "code": INTERNAL_SERVER_ERROR,
            "errorId": report_unexpected(error, execution_context),
        },
    )


class MaskUnexpected(MaskErrors):
    """Masks unexpected errors (see `masked`); expected ones pass with their codes."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=UNEXPECTED_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, self.execution_context)


class AccessLogFlush(SchemaExtension):
    """Writes the request's personal-data reads to the access log in one statement."""

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context.context
        audit = getattr(context, "audit", None)
        if audit is None or not audit.reads:
            return
        from loket.db import execute

        keys = list(audit.reads)
        # An admin reading for a disclosure (X-Loket-Disclosure): the rows of its dossier
        # are born linked to it, so a secret one never shows them to the family.
        disclosure = getattr(context, "disclosure", None)
        shadow = getattr(context, "shadow", None)
        if shadow is not None:
            # A differential run beside a compiled plan (loket.planner): the rows it
            # would write, for comparison; the plan wrote the real ones.
            for household_id, grant in keys:
                shadow.append(
                    {
                        "viewer_id": context.viewer.user_id,
                        "role": context.viewer.role.value if context.viewer.role else "ANONYMOUS",
                        "grant_name": grant,
                        "household_id": household_id,
                        "fields_read": sorted(audit.reads[(household_id, grant)]),
                        "operation_name": self.execution_context.operation_name,
                        "request_id": context.request_id,
                        "disclosure_id": disclosure.for_household(household_id)
                        if disclosure is not None
                        else None,
                    }
                )
            return
        await execute(
            """INSERT INTO access_log (at, viewer_id, role, grant_name, household_id,
                   fields_read, operation_name, request_id, disclosure_id)
               SELECT now(), $1, $2, g, h, to_jsonb(f), $3, $4,
                      CASE WHEN h = $8::uuid THEN $9::uuid END
               FROM unnest($5::text[], $6::uuid[]) WITH ORDINALITY AS t(g, h, i)
               CROSS JOIN LATERAL (SELECT ($7::text[])[i] AS fj) j
               CROSS JOIN LATERAL (SELECT string_to_array(j.fj, ',') AS f) k""",
            context.viewer.user_id,
            context.viewer.role.value if context.viewer.role else "ANONYMOUS",
            self.execution_context.operation_name,
            context.request_id,
            [g for _, g in keys],
            [h for h, _ in keys],
            [",".join(sorted(audit.reads[k])) for k in keys],
            disclosure.household_id if disclosure is not None else None,
            disclosure.id if disclosure is not None else None,
        )


class LoketSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Every error passes here once, before MaskUnexpected: unexpected ones are
        logged with an errorId (`report_unexpected`), expected ones get their code and
        are not logged (denials and input errors are not server problems)."""
        for error in errors:
            if should_mask_error(error):
                report_unexpected(error, execution_context)
            else:
                code_expected(error)


def build_schema(*, enforce: bool = True) -> LoketSchema:
    """The schema; `enforce=False` only for measuring the policy's cost (benchmarks)."""
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    return LoketSchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=PolicyExecutor
        if enforce
        else StrawberryGraphQLCoreExecutionContext,
        config=StrawberryConfig(
            disable_field_suggestions=True,
            batching_config={"max_operations": settings.max_batch},
        ),
        # Order matters: OperationLimits after ValidationCache (see its docstring).
        extensions=[
            TokenLimit,
            ValidationLimits,
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            OperationLimits,
            MaskUnexpected,
            AccessLogFlush,
        ],
    )


@lru_cache(maxsize=1)
def schema() -> LoketSchema:
    return build_schema()


def printed_sdl() -> str:
    return schema().as_str() + "\n"


__all__ = ["build_schema", "printed_sdl", "schema"]
