"""What a sick-child home care service sees: the children it cared for, for invoicing.

A sick-child service (thuisopvang van zieke kinderen) reaches a family only through its
own service records; it sees the child's name, the applicant's name and address, and
the dates of its own visits, nothing else. Reads are written to the access log.
"""

from __future__ import annotations

import datetime
import uuid

import strawberry

from permissions.policy import Ability
from schema.directives import guarded, public
from schema.regions import Municipality

_ID = "opaque identifier, reveals nothing; the list is already scoped to the service"


@strawberry.type(
    description="The applicant of a dossier as a sick-child service invoices them: name and "
    "address only."
)
class ServiceParent:
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    first_name: str | None = guarded(Ability.PARENT_NAME, "First name.")
    last_name: str | None = guarded(Ability.PARENT_NAME, "Family name.")
    street: str | None = guarded(Ability.PARENT_ADDRESS, "Street and number.")
    postal_code: str | None = guarded(Ability.PARENT_ADDRESS, "Postal code.")
    municipality: Municipality | None = guarded(Ability.PARENT_ADDRESS, "Municipality.")


@strawberry.type(
    description="A child who used the viewer's sick-child home care service, with what "
    "invoicing needs. Reads are written to the access log."
)
class ServiceChild:
    id: strawberry.ID = public("The child's opaque identifier.", reason=_ID)
    household_id: strawberry.Private[uuid.UUID]
    grant: strawberry.Private[str]
    first_name: str | None = guarded(Ability.CHILD_NAME, "First name.")
    last_name: str | None = guarded(Ability.CHILD_NAME, "Family name.")
    applicant: ServiceParent | None = guarded(
        Ability.HOUSEHOLD_PARENTS, "The applicant parent, to whom invoices go."
    )
    service_dates: list[datetime.date] = public(
        "Dates on which the viewer's service cared for the child, oldest first.",
        reason="the service's own records",
    )
