"""National register numbers: validation, keyed hashing, and who may touch them."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest

from permissions.rrn import InvalidRrn, Rrn
from tests.factories import make_rrn

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("loket", "schema", "resolvers", "models", "permissions", "jobs")
# The only modules allowed to name the stored hash: its definition, its computation,
# and the uniqueness check (plus migrations, which create the column and its index).
ALLOWED = {
    Path("models/households.py"),
    Path("permissions/rrn.py"),
    Path("resolvers/uniqueness.py"),
    # Erases the hashes (sets them NULL) when a dossier is anonymised; never reads them.
    Path("jobs/retention.py"),
    # A parent's copy of their data says whether a hash is held, and leaves the columns out.
    Path("jobs/export.py"),
    # Benchmark data: fills the columns with digests of labels, of no number at all.
    Path("loket/synthetic.py"),
}


def test_valid_number_is_accepted_in_any_common_format() -> None:
    assert Rrn.parse("85.07.30-033.28") == Rrn.parse("85073003328")


def test_number_born_after_2000_uses_the_leading_two() -> None:
    number = make_rrn(datetime.date(2024, 3, 1), 5)
    Rrn.parse(number)
    wrong = number[:-2] + f"{(int(number[-2:]) + 1) % 97:02d}"
    with pytest.raises(InvalidRrn):
        Rrn.parse(wrong)


def test_bis_number_is_accepted() -> None:
    # BIS: month + 40 when the sex is known.
    base = "854730033"
    Rrn.parse(base + f"{97 - int(base) % 97:02d}")


@pytest.mark.parametrize(
    "raw", ["85073003327", "", "abc", "8507300332", "850730033281", "00000000000"]
)
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRrn) as excinfo:
        Rrn.parse(raw)
    assert raw not in str(excinfo.value) or raw == ""


def test_repr_and_str_never_show_the_number() -> None:
    rrn = Rrn.parse("85073003328")
    assert "85073003328" not in repr(rrn)
    assert "85073003328" not in str(rrn)
    assert "85073003328" not in f"{rrn}"


def test_hash_is_keyed_and_every_key_is_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from permissions import rrn as rrn_module

    rrn = Rrn.parse("85073003328")
    ((old_id, old_digest),) = rrn.hashes().items()
    rotated = {"k2": b"new-secret", **rrn_module.settings.rrn_keys}
    monkeypatch.setattr(
        rrn_module, "settings", dataclasses.replace(rrn_module.settings, rrn_keys=rotated)
    )
    assert list(rrn.hashes()) == ["k2", old_id]
    assert rrn.hashes()[old_id] == old_digest
    assert rrn.hashes()["k2"] != old_digest
    assert len(old_digest) == 32


def _names_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return names


def test_only_the_uniqueness_check_touches_the_stored_hash() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if relative in ALLOWED or relative.parts[:2] == ("models", "migrations"):
                continue
            if any("rrn_hash" in name or "rrn_key_id" in name for name in _names_in(path)):
                offenders.append(str(relative))
    assert offenders == []


def test_only_the_uniqueness_check_reads_the_clear_value() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if relative in ALLOWED:
                continue
            if "_value" in _names_in(path) and "Rrn" in path.read_text():
                offenders.append(str(relative))
    assert offenders == []
