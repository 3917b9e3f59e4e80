"""The admin query `privacyReport`: the register as the running service enforces it."""

from __future__ import annotations

from functools import cache

from loket.context import Info
from loket.privacy_report import privacy_report
from schema.privacy_report import PrivacyReport


@cache
def _documents() -> tuple[str, str]:
    # The schema and the policy are fixed for the life of the process: compute once.
    return privacy_report("markdown"), privacy_report("json")


def privacy_report_resolver(info: Info) -> PrivacyReport | None:
    """Never null when allowed; nullable so that a denial nulls only this field."""
    markdown, json = _documents()
    return PrivacyReport(markdown=markdown, json=json)
