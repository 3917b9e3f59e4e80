"""Media types of GraphQL over HTTP and the choice between them by the Accept header."""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header (GraphQL over HTTP): the new
    application/graphql-response+json when preferred (it wins a tie), application/json
    for it, a wildcard or no header (legacy clients), None when neither is acceptable."""
    if accept is None or not accept.strip():
        return JSON
    best: str | None = None
    best_q = 0.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            offered = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            offered = JSON
        else:
            continue
        if q > best_q or (q == best_q and q > 0 and offered == GRAPHQL_RESPONSE):
            best, best_q = offered, q
    return best
