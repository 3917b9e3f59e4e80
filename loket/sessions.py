"""First-party browser sessions: the session cookie, its CSRF rule, and the client's IP.

A browser frontend may hold its session in an HttpOnly cookie instead of keeping a
bearer token in script-readable storage. The cookie is SameSite=Strict and scoped to
/graphql; on top of that, every request it authenticates must carry `X-Loket-CSRF: 1`
(GET queries excepted). A page on another origin cannot add that header without a CORS
preflight, which only the configured origins pass, and a plain HTML form cannot add it
at all. GET never runs a mutation (strawberry refuses them), so exempting GET is safe.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response

from loket.settings import settings

COOKIE_NAME = "loket_session"
COOKIE_PATH = "/graphql"
CSRF_HEADER = "X-Loket-CSRF"
CSRF_VALUE = "1"


def cookie_token(headers: Headers) -> str | None:
    """The session token the browser sent in the cookie, if any."""
    token = cookie_parser(headers.get("cookie", "")).get(COOKIE_NAME, "").strip()
    return token or None


def has_csrf_header(headers: Headers) -> bool:
    return headers.get(CSRF_HEADER) == CSRF_VALUE


def csrf_missing(method: str, headers: Headers) -> bool:
    """Would a request authenticated by the cookie be refused for lack of the header?"""
    return method != "GET" and not has_csrf_header(headers)


def set_session_cookie(response: Response, token: str) -> None:
    """Hand the browser its session; it lives exactly as long as the token."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.jwt_ttl_seconds,
        path=COOKIE_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget the session cookie (same name, path and flags)."""
    response.set_cookie(
        COOKIE_NAME,
        "",
        max_age=0,
        path=COOKIE_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: Address | None) -> bool:
    return address is not None and any(address in net for net in settings.trusted_proxies)


def client_ip(request: Any) -> str:
    """The caller's address: the peer's, or behind a trusted proxy the right-most address
    in X-Forwarded-For that no trusted proxy added (anything left of it the client could
    have written itself)."""
    peer = request.client.host if request.client is not None else ""
    address = _address(peer)
    if not _trusted(address):
        return str(address) if address is not None else peer or "unknown"
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
    hops = [hop.strip() for hop in forwarded if hop.strip()]
    for hop in reversed(hops):
        found = _address(hop)
        if not _trusted(found):
            # A trusted proxy wrote this entry; garbage here is its fault, not the
            # client's, and still names one client consistently.
            return str(found) if found is not None else hop
    # Only proxies in the chain (or no header): the left-most is as close as we get.
    return hops[0] if hops else str(address)


def limit_subject(ip: str) -> str:
    """What a per-IP limit counts: the address, or for IPv6 its /64 (one subscriber
    usually holds a whole /64 and could otherwise rotate through it)."""
    address = _address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return ip
