"""The sick-child service's search over the children it cared for, one scoped statement.

Rows start from the service records of the viewer's service(s): a child without one
does not exist here, nor does an anonymised child or dossier (`jobs.retention`). The
grant is always SICK_CHILD_SERVICE.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from permissions.policy import Grant
from permissions.scopes import Params
from resolvers.access import after_id
from resolvers.validation import storable
from schema.common import (
    Connection,
    Edge,
    connection,
    encode_cursor,
    page_size,
)
from schema.directives import arg
from schema.regions import Municipality
from schema.services import ServiceChild, ServiceParent

MAX_SEARCH = 100

SERVICE_CHILDREN_SQL = """SELECT c.id, c.household_id, c.first_name, c.last_name,
    p.id AS parent_id, p.first_name AS parent_first_name, p.last_name AS parent_last_name,
    p.street, p.postal_code, p.municipality_id, pm.name AS municipality_name,
    ARRAY(SELECT DISTINCT s.service_date FROM service_record s
          WHERE s.child_id = c.id AND s.service_id = ANY({services}::uuid[])
          ORDER BY s.service_date) AS service_dates
FROM child c
JOIN household h ON h.id = c.household_id AND h.anonymised_at IS NULL
LEFT JOIN LATERAL (SELECT ap.id, ap.first_name, ap.last_name, ap.street, ap.postal_code,
                          ap.municipality_id
                   FROM parent ap WHERE ap.household_id = c.household_id
                   ORDER BY ap.is_applicant DESC, ap.id LIMIT 1) p ON true
LEFT JOIN municipality pm ON pm.nis_code = p.municipality_id
WHERE c.id IN (SELECT s.child_id FROM service_record s
               WHERE s.service_id = ANY({services}::uuid[]))
  AND c.anonymised_at IS NULL
{search}{after}
ORDER BY c.id
LIMIT {limit}"""


def like_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(p: Params, search: str | None) -> str:
    words = " ".join((search or "").split())
    if not words:
        return ""
    if len(words) > MAX_SEARCH:
        raise InvalidInput("TOO_LONG", f"Search at most {MAX_SEARCH} characters.")
    if not storable(words):
        return " AND false"  # no stored name holds what PostgreSQL cannot store
    pattern = p.add(like_pattern(words))
    return f""" AND ((c.first_name || ' ' || c.last_name) ILIKE {pattern} ESCAPE '\\'
              OR (p.first_name || ' ' || p.last_name) ILIKE {pattern} ESCAPE '\\')"""


def _child(r: Any) -> ServiceChild:
    grant = Grant.SICK_CHILD_SERVICE.value
    applicant = None
    if r["parent_id"] is not None:
        applicant = ServiceParent(
            household_id=r["household_id"],
            grant=grant,
            first_name=r["parent_first_name"],
            last_name=r["parent_last_name"],
            street=r["street"],
            postal_code=r["postal_code"],
            municipality=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
        )
    return ServiceChild(
        id=strawberry.ID(str(r["id"])),
        household_id=r["household_id"],
        grant=grant,
        first_name=r["first_name"],
        last_name=r["last_name"],
        applicant=applicant,
        service_dates=list(r["service_dates"]),
    )


async def service_children(
    info: Info,
    search: Annotated[
        str | None,
        arg(
            "Part of the child's or the applicant's name (first and/or family name), any "
            "case; at most 100 characters."
        ),
    ] = None,
    first: Annotated[int, arg("Page size (1-100).", reason="pagination")] = 20,
    after: Annotated[str | None, arg("Cursor to continue after.", reason="pagination")] = None,
) -> Connection[ServiceChild] | None:
    """Children with a service record of the viewer's service(s), by id, one page at a
    time; error TOO_LONG for an overlong search."""
    size = page_size(first)
    p = Params()
    services = p.add(list(info.context.viewer.sick_child_service_ids))
    search_sql = _search(p, search)
    after_sql = after_id(p, after, "c.id")
    rows = await fetch(
        SERVICE_CHILDREN_SQL.format(
            services=services, search=search_sql, after=after_sql, limit=p.add(size + 1)
        ),
        *p.values,
    )
    edges = [Edge(cursor=encode_cursor(str(r["id"])), node=_child(r)) for r in rows[:size]]
    audit = info.context.audit
    if search_sql and audit is not None:
        # Matching on names reads them, even when only ids are selected: log it per dossier.
        for edge in edges:
            audit.record(edge.node, "ServiceChild.search (child and applicant names)")
    return connection(edges, len(rows) > size)
