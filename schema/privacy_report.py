"""The processing register as the admin query `privacyReport` returns it.

The register (`loket.privacy_report`) is computed from the schema's policy directives
and `permissions.policy`: who may read and write which personal data under which grant,
on which conditions, and how long it is kept. It names fields and categories, never a
person's data; the root field `privacyReport` carries the policy. (Named "report", not "register":
no output field may have "register" in its name, the guard against a national register
number ever being returned, see tests/test_schema.py.)
"""

from __future__ import annotations

import strawberry

from schema.directives import public

_REGISTER = "describes the policy, holds no personal data; privacyReport itself is guarded"


@strawberry.type(
    description=(
        "The processing register: who can see which personal data under which grant, and "
        "how long it is kept, computed from the field policies the service enforces (the "
        "same documents as `loket privacy-report` and docs/privacy-register.*)."
    )
)
class PrivacyReport:
    markdown: str = public(
        "The register as Markdown, with Dutch headings (docs/privacy-register.md).",
        reason=_REGISTER,
    )
    json: str = public(
        "The register as a JSON document with sorted keys (docs/privacy-register.json); its "
        "shape is documented in loket/privacy_report.py.",
        reason=_REGISTER,
    )
