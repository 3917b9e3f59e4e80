"""The processing register, computed from the schema's directives and the access policy.

`privacy_report("markdown" | "json")` answers the privacy policy's question "Wie heeft er
toegang tot mijn gegevens?" for every audience of MISSION.md section 1: under which
grant (which dossiers), which personal data it can read (GraphQL fields by type), which
mutations it can use, on which conditions, and how long each category is kept. Nothing
in the tables is written by hand: the fields come from the enforcement's own input,
`permissions.engine.build_field_policy` over the built schema (the per-role denied
sets the executor applies), walked from the root types so that a type the role cannot
reach is not counted; the grants and data categories come from `permissions.policy`;
the terms from `loket.settings`. The Dutch texts (labels, grant descriptions,
conditions, retention rules) are defined below, next to the code that uses them; a
test fails when a new grant, personal ability or personal type has none.

`docs/privacy-register.md` and `docs/privacy-register.json` are committed copies;
`tests/test_privacy_register.py` fails when they differ from what the code enforces.
Regenerate both with `python -m loket.privacy_report --write`.

JSON shape (keys sorted, two-space indent, lists in a fixed order):

    {
      "version": 1,
      "title": str,
      "settings": {"emergencyDays": int, "retentionYears": int},
      "audiences": [{                         # MISSION.md section 1, in its order
        "key": str,                           # e.g. "PARENT", "INTEGRATOR_PROVIDER"
        "role": str | null,                   # the Role (null: anonymous, operator)
        "actingAs": str | null,               # an integrator's acting role
        "name": str, "description": str,
        "conditions": [str],                  # agreements and other conditions
        "agreements": [str],                  # models.privacy.AgreementKind values
        "accessLogged": bool,                 # its reads go to the access log
        "queries": [str],                     # root query fields it may use
        "grants": [{
          "grant": str, "description": str,
          "writes": bool,                     # a WRITE_GRANT with a write it allows
          "categories": [str],                # personal data categories it can read
          "read": {TypeName: [fieldName]},    # personal fields it can read
          "actions": [{"ability": str, "description": str,
                       "mutations": [{"name": str, "onlyInputs": [str] | null}]}]
        }],
        "otherActions": [...]                 # like "actions", not decided by a grant
      }],
      "publicQueries": [str],                 # root query fields open to everyone
      "publicActions": [str],                 # mutations open to everyone
      "nationalRegisterNumbers": {"inputs": [str], "use": str, "readableBy": [str],
                                  "text": str},
      "retention": [{"key": str, "category": str, "types": [str],
                     "fields": {TypeName: [fieldName]}, "term": str, "rule": str}],
      "legalDisclosure": str
    }
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
)

from loket.settings import settings
from models.accounts import Role
from models.privacy import AgreementKind
from permissions.agreements import NEEDS
from permissions.engine import build_field_policy
from permissions.policy import (
    POLICY,
    ROLE_GRANTS,
    WRITE_GRANTS,
    Ability,
    Grant,
    allowed_for_role,
)
from permissions.viewer import Viewer
from schema.directives import NationalRegisterNumber, Policy

Format = Literal["markdown", "json"]
VERSION = 1
TITLE = "Wie heeft er toegang tot mijn gegevens?"
DOCS = Path(__file__).resolve().parent.parent / "docs"
FILES: dict[Format, Path] = {
    "markdown": DOCS / "privacy-register.md",
    "json": DOCS / "privacy-register.json",
}
REGENERATE = "python -m loket.privacy_report --write"

# Housekeeping terms (jobs/housekeeping.py writes them into its SQL; a test checks that
# they agree).
INVITATION_DAYS = 30
OUTBOX_DAYS = 90


@dataclass(frozen=True)
class Audience:
    """A row of MISSION.md section 1: who, and as which (effective) role. The agreements
    it needs come from `permissions.agreements.NEEDS`; `conditions` are the others."""

    key: str
    role: Role | None
    acting_as: Role | None
    name: str
    description: str
    conditions: tuple[str, ...] = ()

    @property
    def grants(self) -> tuple[Grant, ...]:
        effective = self.acting_as if self.role is Role.INTEGRATOR else self.role
        held = ROLE_GRANTS.get(effective, frozenset()) if effective else frozenset()
        return tuple(g for g in Grant if g in held)


_PERSISTED = "alleen met vooraf geregistreerde operaties (persisted queries)"

AUDIENCES: tuple[Audience, ...] = (
    Audience(
        "PARENT",
        Role.PARENT,
        None,
        "Ouder",
        "De (toekomstige) ouder en de partner, via hun eigen account.",
    ),
    Audience(
        "TOELEIDER",
        Role.TOELEIDER,
        None,
        "Toeleider",
        "Medewerker van een toeleidersorganisatie (OCMW, VDAB, Kind en Gezin, ...) die een "
        "gezin helpt de aanvraag in te dienen en op te volgen.",
        (
            "alleen met een uitdrukkelijk, actief en herroepbaar mandaat van de ouder",
            "geeft nooit informatie door zonder uitdrukkelijke toestemming van de ouders",
        ),
    ),
    Audience(
        "ADMIN",
        Role.ADMIN,
        None,
        "Beheerder van het digitaal loket",
        "Beheerders ondersteunen ouders in hun zoektocht naar kinderopvang.",
    ),
    Audience(
        "LOKET",
        Role.LOKET,
        None,
        "Loketmedewerker",
        "Medewerker van een lokaal loket kinderopvang, voor de gemeenten van het "
        "werkingsgebied van dat loket.",
    ),
    Audience(
        "PROVIDER",
        Role.PROVIDER,
        None,
        "Opvanginitiatief",
        "Medewerker van een opvanglocatie (groeps- of gezinsopvang).",
    ),
    Audience(
        "SICK_CHILD_SERVICE",
        Role.SICK_CHILD_SERVICE,
        None,
        "Dienst thuisopvang zieke kinderen",
        "Medewerker van een dienst thuisopvang van zieke kinderen (Leuven), om de facturen "
        "op te maken; de vertrouwelijkheidsovereenkomst is die met VZW Kinderopvang Leuven.",
    ),
    Audience(
        "INTEGRATOR_PROVIDER",
        Role.INTEGRATOR,
        Role.PROVIDER,
        "Integrator voor een opvanginitiatief",
        "Software van een opvanginitiatief die namens die organisatie werkt.",
        (_PERSISTED,),
    ),
    Audience(
        "INTEGRATOR_LOKET",
        Role.INTEGRATOR,
        Role.LOKET,
        "Integrator voor een loket",
        "Software (bv. gemeentelijke rapportering) die namens een lokaal loket werkt.",
        (_PERSISTED,),
    ),
    Audience(
        "ANONYMOUS",
        None,
        None,
        "Bezoeker (niet aangemeld)",
        "Iedereen: alleen publieke gegevens (opvanglocaties, last-minute plaatsen, "
        "geanonimiseerde statistieken); kan een datalek melden of klacht indienen.",
    ),
    Audience(
        "OPERATOR",
        None,
        None,
        "Softwareontwikkelaar en operator",
        "Bouwt, onderhoudt en beheert het platform (updates, patches, bugfixes). Heeft geen "
        "rol in het platform en dus via de toepassing geen toegang tot dossiers.",
        ("geen toegang tot persoonsgegevens via de toepassing",),
    ),
)

# Whose processing agreement a role's membership needs (permissions.agreements.NEEDS).
_PARTY: dict[Role, str] = {
    Role.PROVIDER: "de organisatie van de opvanglocatie",
    Role.TOELEIDER: "de toeleidersorganisatie",
    Role.LOKET: "het loket",
    Role.INTEGRATOR: "de organisatie of het loket waarvoor de integrator werkt",
    Role.SICK_CHILD_SERVICE: "de dienst",
}
_LOGGED = "elke inzage in persoonsgegevens komt in het toegangsregister"


def agreements(audience: Audience) -> list[AgreementKind]:
    """The agreements the audience's memberships need, as the viewer query checks them."""
    if audience.role is None:
        return []
    needs = NEEDS[audience.role]
    kinds = [AgreementKind.PROCESSING] if needs.processing else []
    return kinds + ([AgreementKind.CONFIDENTIALITY] if needs.confidentiality else [])


def conditions(audience: Audience) -> list[str]:
    texts = []
    for kind in agreements(audience):
        if kind is AgreementKind.PROCESSING:
            party = _PARTY.get(audience.role, "de organisatie") if audience.role else ""
            texts.append(f"{party} heeft een verwerkersovereenkomst die nu van kracht is")
        else:
            texts.append("de medewerker heeft een vertrouwelijkheidsovereenkomst ondertekend "
                         "die nu van kracht is")  # fmt: skip
    texts += audience.conditions
    if audience.role not in (None, Role.PARENT):
        texts.append(_LOGGED)
    return texts


def grant_texts() -> dict[Grant, str]:
    """Which dossiers each grant reaches, in plain Dutch."""
    days = settings.emergency_days
    return {
        Grant.OWN_HOUSEHOLD: "het eigen gezin: beide partners en hun kinderen",
        Grant.ACTIVE_MANDATE: (
            "gezinnen die de organisatie van de toeleider een uitdrukkelijk, actief en "
            "herroepbaar mandaat gaven, zolang dat mandaat loopt"
        ),
        Grant.ADMIN: "alle dossiers",
        Grant.COUNTER_REGION: (
            "gezinnen van wie de woonplaats of de gemeente van een gekozen opvanglocatie in "
            "het werkingsgebied van het loket ligt"
        ),
        Grant.PROVIDER_SELECTED: (
            "aanvragen waarin de ouder de eigen locatie koos, zolang de aanvraag daar openstaat"
        ),
        Grant.PROVIDER_ENROLLED: (
            "kinderen die nu of vroeger bij de eigen locatie ingeschreven zijn of waren, "
            "binnen de bewaartermijn"
        ),
        Grant.PROVIDER_EMERGENCY: (
            f"aanvragen op de noodlijst (nog niet ingevuld {days} dagen voor de gewenste "
            "startdatum) van gezinnen die in de gemeente van de locatie wonen of daar een "
            "locatie kozen, tot een initiatief de aanvraag positief beantwoordt"
        ),
        Grant.SICK_CHILD_SERVICE: (
            "alleen kinderen die gebruikmaakten van de eigen dienst (dienstverleningen), "
            "voor de facturatie"
        ),
    }


# The personal-data categories: the personal read abilities of permissions.policy.
CATEGORY_LABELS: dict[Ability, str] = {
    Ability.PARENT_NAME: "naam van de ouders",
    Ability.PARENT_ADDRESS: "adres en woonplaats",
    Ability.PARENT_CONTACT: "contactgegevens (telefoon, e-mail)",
    Ability.PARENT_PROFILE: "nationaliteit, geboorteplaats, thuistaal, relatie met het kind",
    Ability.PARENT_SITUATION: (
        "werksituatie, opleidingsniveau, inkomen en gezinssituatie (voorrangsregels)"
    ),
    Ability.CHILD_NAME: "naam van het kind",
    Ability.CHILD_DETAILS: "roepnaam en (vermoedelijke) geboortedatum van het kind",
    Ability.REQUEST_DETAILS: (
        "gewenste startdatum, opvangpatroon, notitie en status van de aanvraag"
    ),
    Ability.PREFERRED_PROVIDERS: "lijst met voorkeurinitiatieven",
    Ability.DOSSIER_GUIDANCE: "volgende stappen en termijnen van het dossier",
    Ability.MANDATES: "mandaten aan toeleidersorganisaties",
    Ability.CONSENTS: "toestemmingen van de ouder",
    Ability.ACCESS_LOG: "wie het dossier inzag (toegangsregister)",
}


@dataclass(frozen=True)
class RetentionRule:
    key: str
    category: str
    # GraphQL types whose personal fields fall under this rule.
    types: tuple[str, ...]
    term: str
    rule: str


def retention_rules() -> tuple[RetentionRule, ...]:
    """How long each category is kept (jobs/retention.py, jobs/housekeeping.py)."""
    years = settings.retention_years
    return (
        RetentionRule(
            "applicant_and_partner",
            "Persoonsgebonden informatie van de aanvrager en de partner",
            ("Household", "Parent", "PriorityExplanation", "ServiceParent", "ConsentedContact"),
            f"{years} jaar na de einddatum van de inschrijving, of van de aanvraag als er geen "
            "inschrijving was",
            "Dan worden naam, geboorteplaats, nationaliteit, thuistaal, adres (de gemeente "
            "blijft voor de statistiek), telefoon, e-mail, werksituatie, opleiding, relatie "
            "met het kind, inkomen en rijksregisternummer gewist (geanonimiseerd), en wordt "
            "het account gesloten als het geen ander doel meer dient. Nooit zolang er een "
            "aanvraag openstaat of een kind ingeschreven is.",
        ),
        RetentionRule(
            "children",
            "Persoonsgebonden informatie van de kinderen",
            ("Child", "ServiceChild"),
            f"{years} jaar na de laatste inschrijving of aanvraag van het kind (of na de "
            "registratie, als er geen aanvraag was)",
            "Dan worden voornaam, roepnaam, familienaam en rijksregisternummer gewist; de "
            "geboortedatum wordt afgerond op de maand.",
        ),
        RetentionRule(
            "care_requests",
            "Opvangaanvragen",
            ("CareRequest", "CareDay"),
            "geanonimiseerd bewaard voor de trendstatistieken",
            "Datums, opvangpatroon en status blijven, zonder band met een persoon; de "
            "notities en weigeringsredenen worden gewist samen met de gegevens van het kind "
            "of het gezin.",
        ),
        RetentionRule(
            "consents_and_mandates",
            "Toestemmingen en mandaten",
            ("Consent", "ConsentEntry", "Mandate"),
            "bewaard als bewijs; na de anonimisering van het gezin verwijzen ze naar niemand meer",
            "De vrije tekst bij een mandaat wordt gewist samen met de gegevens van het gezin.",
        ),
        RetentionRule(
            "access_log",
            "Toegangsregister (wie zag welke gegevens)",
            ("AccessLogEntry",),
            "tot de anonimisering van het gezin",
            "Dan verliest elke regel de band met het dossier, de gelezen velden en de "
            "operatie; alleen wanneer, wie, welke rol en welke grant blijven, voor de "
            "statistiek.",
        ),
        RetentionRule(
            "invitations",
            "Uitnodigingen voor een partner en claimcodes",
            (),
            f"{INVITATION_DAYS} dagen na gebruik, intrekking of vervaldatum",
            "Alleen een digest van de code wordt bewaard; daarna wordt de rij verwijderd.",
        ),
        RetentionRule(
            "outbox",
            "Verstuurde meldingen (e-mail)",
            (),
            f"{OUTBOX_DAYS} dagen na verzending (of opgeven)",
            "Meldingen die nog wachten, worden verwijderd wanneer het account gesloten wordt.",
        ),
        RetentionRule(
            "data_exports",
            "Kopie van de eigen gegevens (export)",
            (),
            "tot ze gedownload is of de link vervalt",
            "De link kan één keer gebruikt worden; van de link wordt alleen een digest bewaard.",
        ),
        RetentionRule(
            "reports_and_disclosures",
            "Meldingen van datalekken, klachten en het register van afgiftes",
            (),
            "geen automatische termijn",
            "Ze worden bewaard als verantwoording van de verwerkingsverantwoordelijke; de "
            "code verwijdert ze niet vanzelf.",
        ),
        RetentionRule(
            "statistics",
            "Trendstatistieken",
            (),
            "onbeperkt",
            "Alleen geanonimiseerde aantallen per gemeente en maand; kleine aantallen worden "
            "onderdrukt.",
        ),
    )


RRN_TEXT = (
    "Het rijksregisternummer van ouders en (geboren) kinderen is voor niemand zichtbaar: "
    "geen enkele query geeft het terug, aan geen enkele rol. Het wordt alleen als invoer "
    "aanvaard, gecontroleerd, als sleutel-hash bewaard en enkel gebruikt om na te gaan dat "
    "er per kind maar één open opvangvraag is (en per ouder één account)."
)

LEGAL_DISCLOSURE = (
    "Onder bepaalde omstandigheden zijn wij verplicht gegevens door te geven aan "
    "overheidsinstanties (politie, justitie, fiscus). Dat gebeurt alleen wanneer het "
    "wettelijk verplicht is. Een beheerder registreert elke afgifte in het register van "
    "afgiftes (welke instantie, welke wettelijke grond, welke gegevens, wanneer). Het is "
    "ons niet altijd toegestaan je over een afgifte te informeren: een afgifte kan dan, "
    "met de bijhorende regels in het toegangsregister, voor de ouder verborgen blijven."
)


def _ability(directives: list[Any]) -> Ability | None:
    for directive in directives:
        if isinstance(directive, Policy):
            return Ability(directive.ability)
    return None


class _SchemaView:
    """The strawberry schema's types and directives, by GraphQL name."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.gql = schema._schema
        self.field_policy = build_field_policy(schema)

    def directives(self, type_name: str) -> dict[str, list[Any]]:
        definition = self.schema.get_type_by_name(type_name)
        convert = self.schema.config.name_converter.get_graphql_name
        return {convert(f): list(f.directives) for f in getattr(definition, "fields", [])}

    def argument_directives(self, type_name: str, field_name: str) -> dict[str, list[Any]]:
        definition = self.schema.get_type_by_name(type_name)
        convert = self.schema.config.name_converter.get_graphql_name
        for f in getattr(definition, "fields", []):
            if convert(f) == field_name:
                return {convert(a): list(a.directives) for a in f.arguments}
        return {}

    def personal_fields(self, type_name: str) -> list[str]:
        """The personal fields of a type, in schema order (none for an unknown type)."""
        gtype = self.gql.type_map.get(type_name)
        personal = self.field_policy.personal.get(type_name, {})
        if not isinstance(gtype, GraphQLObjectType):
            return []
        return [name for name in gtype.fields if name in personal]

    def reachable(self, viewer: Viewer) -> dict[str, list[str]]:
        """The fields `viewer` can resolve: walked from the root types through every field
        the enforcement lets the viewer's role read (its denied sets), in schema order."""
        denied = self.field_policy.denied_for(viewer)
        fields: dict[str, list[str]] = {}
        queue: list[GraphQLNamedType] = [
            t for t in (self.gql.query_type, self.gql.mutation_type) if t is not None
        ]
        seen: set[str] = set()
        while queue:
            gtype = queue.pop(0)
            if gtype.name in seen:
                continue
            seen.add(gtype.name)
            if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
                queue.extend(self.gql.get_possible_types(gtype))
                continue
            if not isinstance(gtype, GraphQLObjectType):
                continue
            blocked = denied.get(gtype.name, frozenset())
            allowed = [name for name in gtype.fields if name not in blocked]
            fields[gtype.name] = allowed
            for name in allowed:
                queue.append(get_named_type(gtype.fields[name].type))
        return fields

    def input_policies(self, type_name: str, field_name: str) -> list[tuple[str, Ability]]:
        """The `@policy` input fields a mutation's arguments carry, nested ones included."""
        found: list[tuple[str, Ability]] = []
        gfield = self.gql.type_map[type_name].fields[field_name]
        for arg_name, argument in gfield.args.items():
            ability = _ability(self.argument_directives(type_name, field_name).get(arg_name, []))
            if ability is not None:
                found.append((f"{type_name}.{field_name}({arg_name})", ability))
            self._inputs(get_named_type(argument.type), found, set())
        return found

    def _inputs(self, gtype: Any, found: list[tuple[str, Ability]], seen: set[str]) -> None:
        if not isinstance(gtype, GraphQLInputObjectType) or gtype.name in seen:
            return
        seen.add(gtype.name)
        directives = self.directives(gtype.name)
        for name, field in gtype.fields.items():
            ability = _ability(directives.get(name, []))
            if ability is not None:
                found.append((f"{gtype.name}.{name}", ability))
            self._inputs(get_named_type(field.type), found, seen)

    def rrn_inputs(self) -> list[str]:
        """Every argument and input field carrying `@nationalRegisterNumber`."""
        names: list[str] = []

        def marked(directives: list[Any]) -> bool:
            return any(isinstance(d, NationalRegisterNumber) for d in directives)

        for type_name in sorted(self.gql.type_map):
            gtype = self.gql.type_map[type_name]
            if type_name.startswith("__"):
                continue
            if isinstance(gtype, GraphQLInputObjectType):
                for name, directives in self.directives(type_name).items():
                    if marked(directives):
                        names.append(f"{type_name}.{name}")
            elif isinstance(gtype, GraphQLObjectType):
                for field_name in gtype.fields:
                    for arg_name, directives in self.argument_directives(
                        type_name, field_name
                    ).items():
                        if marked(directives):
                            names.append(f"{type_name}.{field_name}({arg_name})")
        return names


def _is_rrn(name: str) -> bool:
    lowered = name.lower()
    return "rrn" in lowered or "nationalregister" in lowered


def _viewer(audience: Audience) -> Viewer | None:
    """The viewer the enforcement sees; None for the operator, who has no account."""
    if audience.key == "OPERATOR":
        return None
    return Viewer(role=audience.role, acting_as=audience.acting_as)


def _dossier_bound(ability: Ability, held: tuple[Grant, ...]) -> bool:
    """Whether the grant decides the ability for a role holding `held`: not when the rule
    names no grant, nor when it allows every grant of a role that holds several (a
    provider edits its own location whichever way it reaches a dossier)."""
    grants = POLICY[ability].grants
    return bool(grants) and not (len(held) > 1 and grants >= set(held))


def _actions(
    view: _SchemaView,
    viewer: Viewer,
    reachable: dict[str, list[str]],
    held: tuple[Grant, ...],
    grant: Grant | None,
) -> list[dict[str, Any]]:
    """The guarded mutations the viewer may use under `grant` (None: those the grant does
    not decide, see `_dossier_bound`), grouped by ability, with the input fields a
    restricted role may write when it may not write them all."""
    mutation = view.gql.mutation_type
    if mutation is None:
        return []
    groups: dict[Ability, list[dict[str, Any]]] = defaultdict(list)
    for name in reachable.get(mutation.name, []):
        ability = view.field_policy.abilities.get((mutation.name, name))
        if ability is None:
            continue
        if grant is None:
            if _dossier_bound(ability, held):
                continue
        elif grant not in POLICY[ability].grants or not _dossier_bound(ability, held):
            continue
        inputs = view.input_policies(mutation.name, name)
        allowed = [
            field
            for field, needed in inputs
            if allowed_for_role(needed, viewer.role, viewer.acting_as)
        ]
        only = allowed if len(allowed) < len(inputs) else None
        groups[ability].append({"name": name, "onlyInputs": only})
    return [
        {"ability": a.value, "description": POLICY[a].text, "mutations": groups[a]}
        for a in Ability
        if a in groups
    ]


def _audience(view: _SchemaView, audience: Audience, texts: dict[Grant, str]) -> dict[str, Any]:
    viewer = _viewer(audience)
    entry: dict[str, Any] = {
        "key": audience.key,
        "role": audience.role.value if audience.role else None,
        "actingAs": audience.acting_as.value if audience.acting_as else None,
        "name": audience.name,
        "description": audience.description,
        "conditions": conditions(audience),
        "agreements": [a.value for a in agreements(audience)],
        "accessLogged": audience.role not in (None, Role.PARENT),
        "queries": [],
        "grants": [],
        "otherActions": [],
    }
    if viewer is None:
        return entry
    reachable = view.reachable(viewer)
    root = view.gql.query_type.name if view.gql.query_type else ""
    entry["queries"] = [
        name for name in reachable.get(root, []) if (root, name) in view.field_policy.abilities
    ]
    personal = view.field_policy.personal
    for grant in audience.grants:
        read: dict[str, list[str]] = {}
        categories: set[Ability] = set()
        for type_name in sorted(reachable):
            names = []
            for name in reachable[type_name]:
                ability = view.field_policy.abilities.get((type_name, name))
                if ability is None or name not in personal.get(type_name, {}):
                    continue
                if grant in POLICY[ability].grants:
                    names.append(name)
                    categories.add(ability)
            if names:
                read[type_name] = names
        actions = _actions(view, viewer, reachable, audience.grants, grant)
        entry["grants"].append(
            {
                "grant": grant.value,
                "description": texts.get(grant, grant.value),
                # Writing needs a write grant and a write the role may use under it.
                "writes": grant in WRITE_GRANTS and bool(actions),
                "categories": [
                    CATEGORY_LABELS.get(a, POLICY[a].text) for a in Ability if a in categories
                ],
                "read": read,
                "actions": actions,
            }
        )
    entry["otherActions"] = _actions(view, viewer, reachable, audience.grants, None)
    return entry


def register(schema: Any | None = None) -> dict[str, Any]:
    """The register as data (the JSON document); `schema` defaults to the service's."""
    if schema is None:
        from schema.root import schema as service_schema

        schema = service_schema()
    view = _SchemaView(schema)
    texts = grant_texts()
    audiences = [_audience(view, a, texts) for a in AUDIENCES]

    def public_fields(root: GraphQLObjectType | None) -> list[str]:
        if root is None:
            return []
        return [n for n in root.fields if (root.name, n) not in view.field_policy.abilities]

    readable_rrn = sorted(
        {
            a.key
            for a in AUDIENCES
            if (viewer := _viewer(a)) is not None
            and any(_is_rrn(f) for fs in view.reachable(viewer).values() for f in fs)
        }
    )
    retention = [
        {
            "key": r.key,
            "category": r.category,
            "types": list(r.types),
            "fields": {t: fs for t in r.types if (fs := view.personal_fields(t))},
            "term": r.term,
            "rule": r.rule,
        }
        for r in retention_rules()
    ]
    return {
        "version": VERSION,
        "title": TITLE,
        "settings": {
            "emergencyDays": settings.emergency_days,
            "retentionYears": settings.retention_years,
        },
        "audiences": audiences,
        "publicQueries": public_fields(view.gql.query_type),
        "publicActions": public_fields(view.gql.mutation_type),
        "nationalRegisterNumbers": {
            "inputs": view.rrn_inputs(),
            "use": "UNIQUENESS_CHECK_ONLY",
            "readableBy": readable_rrn,
            "text": RRN_TEXT,
        },
        "retention": retention,
        "legalDisclosure": LEGAL_DISCLOSURE,
    }


# Markdown.


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _mutations(actions: list[dict[str, Any]]) -> str:
    parts = []
    for action in actions:
        for m in action["mutations"]:
            text = f"`{m['name']}`"
            if m["onlyInputs"] is not None:
                fields = [f.rsplit(".", 1)[-1] for f in m["onlyInputs"]]
                text += " (alleen " + (", ".join(fields) or "niet-persoonlijke velden") + ")"
            parts.append(text)
    return ", ".join(parts)


def _markdown(data: dict[str, Any]) -> str:
    years = data["settings"]["retentionYears"]
    out: list[str] = [
        f"# {data['title']}",
        "",
        "Verwerkingsregister van het digitaal loket kinderopvang, berekend uit de "
        "toegangsregels die de toepassing afdwingt (de `@policy`-directieven van het "
        "GraphQL-schema en `permissions/policy.py`). Niet met de hand bewerken: "
        f"`{REGENERATE}`.",
        "",
        "Een *grant* is de weg waarlangs iemand een dossier (een gezin met zijn kinderen en "
        "opvangaanvragen) bereikt: de grant bepaalt welke dossiers, welke gegevens en of "
        "schrijven mag. Veldnamen zijn die van het GraphQL-schema.",
        "",
        "## Overzicht",
        "",
        "| Wie | Welke dossiers (grant) | Welke persoonsgegevens (lezen) | Schrijven | "
        "Voorwaarden |",
        "|---|---|---|---|---|",
    ]
    for a in data["audiences"]:
        who = f"{a['name']} (`{a['key']}`)"
        conditions = _cell("; ".join(a["conditions"]) or "—")
        if not a["grants"]:
            out.append(f"| {who} | geen dossiers | — | — | {conditions} |")
            continue
        for g in a["grants"]:
            writes = "ja" if g["writes"] else "nee"
            if g["actions"]:
                writes += (": " if g["writes"] else "; wel: ") + _mutations(g["actions"])
            categories = _cell(", ".join(g["categories"]) or "—")
            out.append(
                f"| {who} | {_cell(g['description'])} (`{g['grant']}`) | {categories} | "
                f"{_cell(writes)} | {conditions} |"
            )
    out += [
        "",
        "Iedereen, ook zonder account, leest de publieke gegevens ("
        + (_code(data["publicQueries"]) or "—")
        + ") en kan "
        + (_code(data["publicActions"]) or "—")
        + " gebruiken.",
        "",
        "## Rijksregisternummers",
        "",
        data["nationalRegisterNumbers"]["text"],
        "",
        "- Alleen als invoer, met `@nationalRegisterNumber(use: "
        f"{data['nationalRegisterNumbers']['use']})`: "
        + _code(data["nationalRegisterNumbers"]["inputs"])
        + ".",
        "- Leesbaar voor: "
        + (", ".join(data["nationalRegisterNumbers"]["readableBy"]) or "niemand")
        + ".",
        "",
        "## Per rol: welke velden",
        "",
    ]
    for a in data["audiences"]:
        out += [f"### {a['name']} (`{a['key']}`)", "", a["description"], ""]
        if a["conditions"]:
            out += ["Voorwaarden:", ""] + [f"- {c}" for c in a["conditions"]] + [""]
        if a["queries"]:
            out += [f"Toegangspunten: {_code(a['queries'])}.", ""]
        for g in a["grants"]:
            out += [f"#### Grant `{g['grant']}`: {g['description']}", ""]
            if g["read"]:
                out += ["| Type | Leesbare persoonsgegevens |", "|---|---|"]
                out += [f"| `{t}` | {', '.join(fs)} |" for t, fs in g["read"].items()]
                out.append("")
            else:
                out += ["Geen persoonsgegevens.", ""]
            write = "ja" if g["writes"] else "nee"
            out += [f"Schrijven in het dossier: {write}.", ""]
            out += _action_lines("Handelingen", g["actions"])
        out += _action_lines(
            "Andere handelingen (niet aan een dossier gebonden)", a["otherActions"]
        )
    out += [
        "## Hoelang worden mijn persoonsgegevens bijgehouden?",
        "",
        "We bewaren gegevens niet langer dan nodig voor het doel waarvoor we ze kregen. "
        "Daarna worden persoonsgegevens losgekoppeld van het dossier en geanonimiseerd, "
        f"zodat trends voor kinderopvang onderzocht kunnen worden (bewaartermijn: {years} "
        "jaar).",
        "",
        "| Categorie | Velden | Termijn | Wat er gebeurt |",
        "|---|---|---|---|",
    ]
    for r in data["retention"]:
        fields = "; ".join(f"`{t}`: {', '.join(fs)}" for t, fs in r["fields"].items()) or "—"
        out.append(
            f"| {_cell(r['category'])} | {fields} | {_cell(r['term'])} | {_cell(r['rule'])} |"
        )
    out += ["", "## Afgifte aan overheidsinstanties", "", data["legalDisclosure"], ""]
    return "\n".join(out)


def _action_lines(title: str, actions: list[dict[str, Any]]) -> list[str]:
    if not actions:
        return []
    lines = [f"{title}:", ""]
    for action in actions:
        lines.append(f"- {action['description']}: {_mutations([action])}")
    return [*lines, ""]


def privacy_report(format: Format = "markdown", schema: Any | None = None) -> str:
    """The register as Markdown or as JSON (sorted keys), each ending in a newline."""
    data = register(schema)
    if format == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if format == "markdown":
        return _markdown(data)
    raise ValueError(f"unknown format {format!r}: markdown or json")


def write_docs() -> list[Path]:
    """Write the committed copies (docs/privacy-register.md and .json)."""
    DOCS.mkdir(exist_ok=True)
    for format, path in FILES.items():
        path.write_text(privacy_report(format), encoding="utf-8")
    return list(FILES.values())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
    parser.add_argument(
        "--write",
        action="store_true",
        help="write docs/privacy-register.md and docs/privacy-register.json instead",
    )


def cmd_privacy_report(args: argparse.Namespace) -> int:
    """`loket privacy-report [--format markdown|json] [--write]`."""
    if getattr(args, "write", False):
        for path in write_docs():
            sys.stdout.write(f"wrote {path}\n")
        return 0
    sys.stdout.write(privacy_report(args.format))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loket.privacy_report", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return cmd_privacy_report(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
