"""Expected GraphQL errors with stable codes; everything else is masked."""

from __future__ import annotations

from graphql import GraphQLError


class InvalidInput(GraphQLError):
    """The caller's input is wrong; the message never repeats the input."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, extensions={"code": code})
