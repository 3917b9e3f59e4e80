"""Public reference data: municipalities."""

from __future__ import annotations

import strawberry

from schema.directives import public

_PUBLIC = "public reference data"


@strawberry.type(description="A Belgian municipality, identified by its NIS code.")
class Municipality:
    nis_code: str = public("NIS (REFNIS) code, e.g. 24062 for Leuven.", reason=_PUBLIC)
    name: str = public("Official name.", reason=_PUBLIC)
