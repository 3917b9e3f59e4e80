"""Assertions shared by the test modules."""

from __future__ import annotations

from typing import Any


def assert_forbidden(result: dict[str, Any], field: str) -> None:
    """The root field `field` was denied by policy: null (or no data at all) with exactly
    one FORBIDDEN error at its path."""
    assert result.get("data") in (None, {field: None}), result
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        ([field], "FORBIDDEN")
    ], result
