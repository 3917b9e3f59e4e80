"""Types shared by every domain: pagination and typed user errors."""

from __future__ import annotations

import base64
from enum import Enum
from typing import Generic, TypeVar

import strawberry

from schema.directives import public

T = TypeVar("T")

_STRUCTURE = "pagination structure; the nodes carry their own policy"


@strawberry.type(description="Pagination state of a connection (Relay).")
class PageInfo:
    has_next_page: bool = public("Whether more items follow.", reason=_STRUCTURE)
    end_cursor: str | None = public("Cursor of the last item of this page.", reason=_STRUCTURE)


@strawberry.type(description="One item of a connection with its cursor.")
class Edge(Generic[T]):
    cursor: str = public("Opaque cursor of this item.", reason=_STRUCTURE)
    node: T = public("The item.", reason=_STRUCTURE)


@strawberry.type(description="A page of items (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = public("The items of this page.", reason=_STRUCTURE)
    page_info: PageInfo = public("Pagination state.", reason=_STRUCTURE)


@strawberry.type(description="A problem with the input, for one input field; nothing was saved.")
class UserError:
    field: list[str] = public(
        "Path of the input field at fault, e.g. ['input', 'applicant', 'email'].",
        reason="describes the caller's own input, never stored data",
    )
    code: str = public("Stable error code.", reason="describes the caller's own input")
    message: str = public("Human-readable explanation.", reason="describes the caller's own input")


MAX_PAGE = 100


def page_size(first: int) -> int:
    """A requested page size clamped to 1..MAX_PAGE (fetch one more to know if more follow)."""
    return max(1, min(first, MAX_PAGE))


def connection(edges: list[Edge[T]], has_next_page: bool) -> Connection[T]:
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
    )


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


@strawberry.enum(description="A day of the week.")
class Weekday(Enum):
    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"
