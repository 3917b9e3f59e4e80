"""The processing register: the committed copies are what the code enforces, and the
register says what the enforcement does (counter staff's subset, no RRN for anyone,
every readable personal field), follows a changed policy or schema, and is admin-only."""

from __future__ import annotations

import argparse
import dataclasses
import json
import uuid
from typing import Any

import pytest
import strawberry

from jobs import housekeeping
from loket import privacy_report as report
from loket.settings import settings
from models.accounts import Role
from permissions.engine import build_field_policy
from permissions.policy import POLICY, ROLE_GRANTS, Ability, Grant, allowed_for_role
from permissions.viewer import Viewer
from schema.directives import guarded
from schema.root import schema
from tests import factories as f

SCHEMA = schema()
FIELD_POLICY = build_field_policy(SCHEMA)
HOW = f"the register is out of date: run `{report.REGENERATE}` and commit docs/"


def _audience(data: dict[str, Any], key: str) -> dict[str, Any]:
    [audience] = [a for a in data["audiences"] if a["key"] == key]
    return audience


def _grant(data: dict[str, Any], key: str, grant: Grant) -> dict[str, Any]:
    [g] = [g for g in _audience(data, key)["grants"] if g["grant"] == grant.value]
    return g


def _mutations(actions: list[dict[str, Any]]) -> dict[str, list[str] | None]:
    return {m["name"]: m["onlyInputs"] for a in actions for m in a["mutations"]}


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return report.register()


# The committed copies


@pytest.mark.parametrize("format", ["markdown", "json"])
def test_committed_copy_is_what_the_code_enforces(format: report.Format) -> None:
    committed = report.FILES[format].read_text(encoding="utf-8")
    assert report.privacy_report(format) == committed, HOW


def test_json_has_sorted_keys_and_the_documented_top_level_shape() -> None:
    text = report.privacy_report("json")
    data = json.loads(text)
    assert json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n" == text
    assert sorted(data) == [
        "audiences",
        "legalDisclosure",
        "nationalRegisterNumbers",
        "publicActions",
        "publicQueries",
        "retention",
        "settings",
        "title",
        "version",
    ]
    assert data["settings"] == {
        "emergencyDays": settings.emergency_days,
        "retentionYears": settings.retention_years,
    }


def test_every_role_and_the_roleless_audiences_of_the_mission_are_covered(
    data: dict[str, Any],
) -> None:
    keys = [a["key"] for a in data["audiences"]]
    assert keys == [
        "PARENT",
        "TOELEIDER",
        "ADMIN",
        "LOKET",
        "PROVIDER",
        "SICK_CHILD_SERVICE",
        "INTEGRATOR_PROVIDER",
        "INTEGRATOR_LOKET",
        "ANONYMOUS",
        "OPERATOR",
    ]
    assert {a["role"] for a in data["audiences"]} == {r.value for r in Role} | {None}
    for audience in data["audiences"]:
        role = Role(audience["role"]) if audience["role"] else None
        effective = Role(audience["actingAs"]) if audience["actingAs"] else role
        held = ROLE_GRANTS.get(effective, frozenset()) if effective else frozenset()
        assert {g["grant"] for g in audience["grants"]} == {g.value for g in held}


def test_every_grant_personal_ability_and_personal_type_has_its_text(data: dict[str, Any]) -> None:
    assert set(report.grant_texts()) == set(Grant)
    personal_abilities = {a for a in Ability if POLICY[a].personal}
    assert personal_abilities <= set(report.CATEGORY_LABELS), "give the category a Dutch label"
    categorised = {t for rule in report.retention_rules() for t in rule.types}
    uncategorised = set(FIELD_POLICY.personal) - categorised
    assert uncategorised == set(), "say in retention_rules() how long these types are kept"


# What the enforcement does, as the register says it


def test_counter_staff_read_only_name_address_contact_and_preferred_providers(
    data: dict[str, Any],
) -> None:
    for key in ("LOKET", "INTEGRATOR_LOKET"):
        grant = _grant(data, key, Grant.COUNTER_REGION)
        assert grant["read"] == {
            "CareRequest": ["preferredLocations"],
            "Household": ["residence"],
            "Parent": [
                "firstName",
                "lastName",
                "street",
                "postalCode",
                "municipality",
                "phone",
                "email",
            ],
        }
        assert grant["categories"] == [
            "naam van de ouders",
            "adres en woonplaats",
            "contactgegevens (telefoon, e-mail)",
            "lijst met voorkeurinitiatieven",
        ]


def test_counter_staff_correct_only_name_address_and_contact(data: dict[str, Any]) -> None:
    grant = _grant(data, "LOKET", Grant.COUNTER_REGION)
    writes = _mutations(grant["actions"])
    assert grant["writes"] is True
    assert writes["updateParent"] == [
        "UpdateParentInput.firstName",
        "UpdateParentInput.lastName",
        "UpdateParentInput.street",
        "UpdateParentInput.postalCode",
        "UpdateParentInput.municipalityNisCode",
        "UpdateParentInput.phone",
        "UpdateParentInput.email",
    ]
    assert "addChild" not in writes
    assert "submitCareRequest" not in writes


def test_sick_child_service_reads_what_invoicing_needs_and_writes_nothing(
    data: dict[str, Any],
) -> None:
    grant = _grant(data, "SICK_CHILD_SERVICE", Grant.SICK_CHILD_SERVICE)
    assert grant["read"]["ServiceChild"] == ["firstName", "lastName"]
    assert grant["read"]["ServiceParent"] == [
        "firstName",
        "lastName",
        "street",
        "postalCode",
        "municipality",
    ]
    assert "phone" not in grant["read"].get("Parent", [])
    assert grant["writes"] is False
    assert grant["actions"] == []


def test_providers_on_the_emergency_list_do_not_write_the_dossier(data: dict[str, Any]) -> None:
    emergency = _grant(data, "PROVIDER", Grant.PROVIDER_EMERGENCY)
    selected = _grant(data, "PROVIDER", Grant.PROVIDER_SELECTED)
    assert emergency["writes"] is False
    assert "offerPlace" in _mutations(emergency["actions"])
    assert "endEnrolment" not in _mutations(emergency["actions"])
    assert emergency["read"] == selected["read"]
    # their own location is theirs whichever grant they reach a dossier by
    assert "updateLocation" in _mutations(_audience(data, "PROVIDER")["otherActions"])


def test_no_audience_can_read_a_national_register_number(data: dict[str, Any]) -> None:
    rrn = data["nationalRegisterNumbers"]
    assert rrn["readableBy"] == []
    assert rrn["use"] == "UNIQUENESS_CHECK_ONLY"
    assert {"ParentInput.rrn", "ChildInput.rrn", "RecordBirthInput.rrn"} <= set(rrn["inputs"])
    for audience in data["audiences"]:
        for grant in audience["grants"]:
            for fields in grant["read"].values():
                assert not [f for f in fields if "rrn" in f.lower()], audience["key"]


def test_anonymous_and_operator_read_no_personal_data(data: dict[str, Any]) -> None:
    for key in ("ANONYMOUS", "OPERATOR"):
        audience = _audience(data, key)
        assert audience["grants"] == []
        assert audience["queries"] == []
    assert "locations" in data["publicQueries"]
    assert "signUp" in data["publicActions"]


def test_agreements_follow_the_access_conditions(data: dict[str, Any]) -> None:
    assert _audience(data, "ADMIN")["agreements"] == ["CONFIDENTIALITY"]
    assert _audience(data, "SICK_CHILD_SERVICE")["agreements"] == [
        "PROCESSING",
        "CONFIDENTIALITY",
    ]
    for key in ("TOELEIDER", "LOKET", "PROVIDER", "INTEGRATOR_PROVIDER", "INTEGRATOR_LOKET"):
        assert _audience(data, key)["agreements"] == ["PROCESSING"]
    assert _audience(data, "PARENT")["agreements"] == []
    assert _audience(data, "PARENT")["accessLogged"] is False
    assert _audience(data, "PROVIDER")["accessLogged"] is True


def _viewer(audience: dict[str, Any]) -> Viewer:
    return Viewer(
        role=Role(audience["role"]) if audience["role"] else None,
        acting_as=Role(audience["actingAs"]) if audience["actingAs"] else None,
    )


def test_every_field_in_the_register_is_one_the_enforcement_lets_that_role_read(
    data: dict[str, Any],
) -> None:
    for audience in data["audiences"]:
        denied = FIELD_POLICY.denied_for(_viewer(audience))
        for grant in audience["grants"]:
            for type_name, fields in grant["read"].items():
                for name in fields:
                    assert name not in denied.get(type_name, frozenset())
                    assert name in FIELD_POLICY.personal[type_name]
                    ability = FIELD_POLICY.abilities[(type_name, name)]
                    assert grant["grant"] in POLICY[ability].grants


def test_every_personal_field_some_role_may_read_is_in_the_register(data: dict[str, Any]) -> None:
    listed = {
        (a["key"], t, name)
        for a in data["audiences"]
        for g in a["grants"]
        for t, names in g["read"].items()
        for name in names
    }
    missing = []
    for type_name, fields in FIELD_POLICY.personal.items():
        for name in fields:
            ability = FIELD_POLICY.abilities[(type_name, name)]
            readers = [
                a["key"]
                for a in data["audiences"]
                if allowed_for_role(ability, _viewer(a).role, _viewer(a).acting_as)
            ]
            if readers and not any((key, type_name, name) in listed for key in readers):
                missing.append(f"{type_name}.{name}")
    assert missing == []


# The register follows the policy and the schema


def test_a_changed_policy_changes_the_register(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: counter staff lose the parents' phone and email
    rule = POLICY[Ability.PARENT_CONTACT]
    monkeypatch.setitem(
        POLICY,
        Ability.PARENT_CONTACT,
        dataclasses.replace(
            rule,
            grants=rule.grants - {Grant.COUNTER_REGION},
            roles=rule.roles - {Role.LOKET},
        ),
    )

    # when
    changed = report.register()

    # then
    read = _grant(changed, "LOKET", Grant.COUNTER_REGION)["read"]
    assert read["Parent"] == ["firstName", "lastName", "street", "postalCode", "municipality"]
    assert report.privacy_report("markdown") != report.FILES["markdown"].read_text("utf-8")


@strawberry.type(description="A made-up part of a dossier.")
class Secret:
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    shoe_size: int | None = guarded(Ability.PARENT_PROFILE, "Shoe size.")


def resolve_secret() -> Secret | None:
    return None


@strawberry.type(description="Entry points.")
class SecretQuery:
    secret: Secret | None = guarded(Ability.LIST_DOSSIERS, "A secret.", resolver=resolve_secret)


def test_a_new_personal_field_appears_in_the_register() -> None:
    # given: SecretQuery, a schema with one more personal field (Secret.shoeSize)

    # when
    data = report.register(strawberry.Schema(query=SecretQuery))

    # then
    assert _grant(data, "PROVIDER", Grant.PROVIDER_EMERGENCY)["read"] == {"Secret": ["shoeSize"]}
    assert _grant(data, "PARENT", Grant.OWN_HOUSEHOLD)["read"] == {"Secret": ["shoeSize"]}
    assert _grant(data, "LOKET", Grant.COUNTER_REGION)["read"] == {}
    assert _audience(data, "PROVIDER")["queries"] == ["secret"]


def test_terms_are_those_the_jobs_apply() -> None:
    years = settings.retention_years
    [applicant] = [r for r in report.retention_rules() if r.key == "applicant_and_partner"]
    assert applicant.term.startswith(f"{years} jaar na de einddatum")
    invitations = housekeeping.RULES["invitations"][1]
    outbox = housekeeping.RULES["outbox_messages"][1]
    assert f"$1::date - {report.INVITATION_DAYS}" in invitations
    assert f"$1::date - {report.OUTBOX_DAYS}" in outbox
    assert f"{settings.emergency_days} dagen" in report.grant_texts()[Grant.PROVIDER_EMERGENCY]


def test_command_prints_either_format(capsys: pytest.CaptureFixture[str]) -> None:
    for format in ("markdown", "json"):
        code = report.cmd_privacy_report(argparse.Namespace(format=format, write=False))
        assert code == 0
        assert capsys.readouterr().out == report.privacy_report(format)  # type: ignore[arg-type]


def test_command_line_defaults_to_markdown_and_writes_both_copies(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    assert parser.parse_args([]) == argparse.Namespace(format="markdown", write=False)
    files = {"markdown": tmp_path / "register.md", "json": tmp_path / "register.json"}
    monkeypatch.setattr(report, "DOCS", tmp_path)
    monkeypatch.setattr(report, "FILES", files)

    assert report.cmd_privacy_report(parser.parse_args(["--write"])) == 0

    assert files["markdown"].read_text("utf-8") == report.privacy_report("markdown")
    assert files["json"].read_text("utf-8") == report.privacy_report("json")
    assert "register.md" in capsys.readouterr().out


# The admin query

QUERY = "{ privacyReport { markdown json } }"


async def test_privacy_report_as_admin_is_the_committed_register(actor: Any) -> None:
    admin = await f.user(Role.ADMIN)

    result = await actor(admin).gql(QUERY)

    assert "errors" not in result, result
    register = result["data"]["privacyReport"]
    assert register["markdown"] == report.FILES["markdown"].read_text("utf-8"), HOW
    assert register["json"] == report.FILES["json"].read_text("utf-8"), HOW


@pytest.mark.parametrize("role", [None, Role.PARENT, Role.LOKET, Role.SICK_CHILD_SERVICE])
async def test_privacy_report_as_anyone_else_is_forbidden(actor: Any, role: Role | None) -> None:
    scope: dict[str, Any] = {}
    if role is Role.LOKET:
        scope["counter"] = await f.counter("Loket", await f.municipality("24062", "Leuven"))
    if role is Role.SICK_CHILD_SERVICE:
        scope["sick_child_service"] = await f.sick_child_service()
    user = None if role is None else await f.user(role, **scope)

    result = await actor(user).gql(QUERY)

    assert result["data"] == {"privacyReport": None}
    assert [(e["extensions"]["code"], e["path"]) for e in result["errors"]] == [
        ("FORBIDDEN", ["privacyReport"])
    ]
