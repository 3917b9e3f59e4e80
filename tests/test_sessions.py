"""First-party browser sessions (cookie + CSRF header), CORS, and the per-IP limits on
sign-in and the uniqueness check, including across two real server processes."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Headers

from loket import sessions
from loket.auth import decode_token, mint_token
from loket.settings import settings
from models.accounts import Role
from models.households import Child, Household, Parent
from resolvers import accounts
from tests import factories as f
from tests.factories import REGISTER, REGISTER_INPUT
from tests.test_accounts import account

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
EMAIL = "an.peeters@example.be"
CSRF = {"X-Loket-CSRF": "1"}

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) { token expiresAt viewer { email } errors { field code message } }
}"""
SIGN_OUT = "mutation { signOut { cookieCleared } }"
ME = "{ me { email role } }"
HAS_OPEN = "query($child: ID!) { hasOpenRequest(childId: $child) }"


def app_from_environment() -> Starlette:
    """`uvicorn --factory` entry point for the two-process test: the app on DATABASE_URL."""
    from loket.app import create_app

    return create_app(database_url=os.environ["DATABASE_URL"])


@pytest.fixture
async def client(app: Any, db: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client without a token; its address is 127.0.0.1."""
    await f.municipality("24062", "Leuven")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@contextlib.contextmanager
def setting(name: str, value: Any) -> Iterator[None]:
    before = getattr(settings, name)
    object.__setattr__(settings, name, value)
    try:
        yield
    finally:
        object.__setattr__(settings, name, before)


def _away_from_window_edge(seconds: int) -> None:
    """Fixed windows: keep a test that fills one from straddling two."""
    left = seconds - time.time() % seconds
    if left < 30:
        time.sleep(left + 0.5)


@pytest.fixture
def ip_sign_in_limit() -> Iterator[int]:
    """Three failed sign-ins per IP and window; the per-address limit out of the way."""
    _away_from_window_edge(accounts.SIGN_IN_WINDOW_SECONDS)
    with setting("sign_in_failures_per_window", 100), setting("sign_in_failures_per_ip", 3):
        yield 3


@pytest.fixture
def ip_uniqueness_limit() -> Iterator[int]:
    """Two uniqueness checks per IP and hour; the per-account limit out of the way."""
    _away_from_window_edge(3600)
    with (
        setting("uniqueness_checks_per_hour", 100),
        setting("uniqueness_checks_per_ip_per_hour", 2),
    ):
        yield 2


@pytest.fixture
def trusting_proxy() -> Iterator[None]:
    """A reverse proxy at 10.0.0.0/24 in front of the service."""
    with setting("trusted_proxies", (ipaddress.ip_network("10.0.0.0/24"),)):
        yield


async def _sign_in(
    client: httpx.AsyncClient,
    email: str = EMAIL,
    password: str = PASSWORD,
    session: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    variables: dict[str, Any] = {"email": email, "password": password}
    if session is not None:
        variables["session"] = session
    return await client.post(
        "/graphql",
        json={"query": SIGN_IN, "variables": {"input": variables}},
        headers=headers or {},
    )


def _payload(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["signIn"]
    return payload


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _cookie_of(response: httpx.Response) -> str:
    """The session token a Set-Cookie header carries."""
    (header,) = response.headers.get_list("set-cookie")
    name, _, rest = header.partition("=")
    assert name == sessions.COOKIE_NAME
    return rest.split(";", 1)[0]


def _with_cookie(token: str, **extra: str) -> dict[str, str]:
    return {"Cookie": f"{sessions.COOKIE_NAME}={token}", **extra}


async def _dossier_rows() -> tuple[int, int, int]:
    return (await Household.all().count(), await Parent.all().count(), await Child.all().count())


async def _register(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": REGISTER_INPUT}},
        headers=headers,
    )


# --- signing in with a cookie --------------------------------------------------------


async def test_sign_in_with_cookie_session_sets_the_cookie_and_returns_no_token(
    client: httpx.AsyncClient,
) -> None:
    # given
    user = await account()

    # when
    response = await _sign_in(client, session="COOKIE", headers=CSRF)

    # then: the session is in an HttpOnly, Secure, SameSite=Strict cookie on /graphql
    payload = _payload(response)
    assert payload["errors"] == []
    assert payload["token"] is None
    assert payload["expiresAt"] is not None
    assert payload["viewer"] == {"email": EMAIL}
    token = _cookie_of(response)
    assert decode_token(token) == user.id
    assert response.headers["set-cookie"] == (
        f"loket_session={token}; HttpOnly; Max-Age={settings.jwt_ttl_seconds}; "
        "Path=/graphql; SameSite=strict; Secure"
    )


async def test_sign_in_with_cookie_session_without_the_csrf_header_sets_nothing(
    client: httpx.AsyncClient,
) -> None:
    await account()

    response = await _sign_in(client, session="COOKIE")

    payload = _payload(response)
    assert (payload["token"], payload["viewer"]) == (None, None)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [([], "CSRF_REQUIRED")]
    assert "set-cookie" not in response.headers


async def test_sign_in_with_token_session_sets_no_cookie(client: httpx.AsyncClient) -> None:
    user = await account()

    response = await _sign_in(client)

    payload = _payload(response)
    assert decode_token(payload["token"]) == user.id
    assert "set-cookie" not in response.headers


async def test_sign_in_with_cookie_session_over_plain_http_setting_drops_secure(
    client: httpx.AsyncClient,
) -> None:
    # given: a deployment for tests over plain http
    await account()
    with setting("session_cookie_secure", False):
        # when
        response = await _sign_in(client, session="COOKIE", headers=CSRF)

    # then
    assert "Secure" not in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]


# --- requests signed in by the cookie ------------------------------------------------


async def test_cookie_query_with_csrf_header_acts_as_the_user(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)

    response = await client.post(
        "/graphql", json={"query": ME}, headers=_with_cookie(mint_token(str(user.id)), **CSRF)
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": EMAIL, "role": "PARENT"}}}


async def test_cookie_mutation_with_csrf_header_runs(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)

    response = await _register(client, _with_cookie(mint_token(str(user.id)), **CSRF))

    assert response.json()["data"]["registerHousehold"]["errors"] == []
    assert await _dossier_rows() == (1, 1, 1)


@pytest.mark.parametrize("csrf", [None, "0", "true"])
async def test_cookie_mutation_without_csrf_header_gets_403_and_changes_nothing(
    client: httpx.AsyncClient, csrf: str | None
) -> None:
    # given a parent who could register (see the control above)
    user = await f.user(Role.PARENT, email=EMAIL)
    headers = _with_cookie(mint_token(str(user.id)))
    if csrf is not None:
        headers["X-Loket-CSRF"] = csrf

    # when the mutation comes with the cookie but not the header
    response = await _register(client, headers)

    # then it is refused before anything runs
    assert response.status_code == 403
    assert response.json() == {
        "errors": [
            {
                "message": "Requests signed in by the session cookie need the header "
                "'X-Loket-CSRF: 1'.",
                "extensions": {"code": "CSRF_REQUIRED"},
            }
        ]
    }
    assert await _dossier_rows() == (0, 0, 0)


async def test_cookie_query_via_post_without_csrf_header_gets_403(
    client: httpx.AsyncClient,
) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)

    response = await client.post(
        "/graphql", json={"query": ME}, headers=_with_cookie(mint_token(str(user.id)))
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_REQUIRED"


async def test_cookie_query_via_get_needs_no_csrf_header(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)

    response = await client.get(
        "/graphql", params={"query": ME}, headers=_with_cookie(mint_token(str(user.id)))
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": EMAIL, "role": "PARENT"}}}


async def test_cookie_mutation_via_get_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    # given: GET is exempt from the CSRF header because it never runs a mutation
    user = await f.user(Role.PARENT, email=EMAIL)

    # when
    response = await client.get(
        "/graphql",
        params={"query": REGISTER, "variables": json.dumps({"input": REGISTER_INPUT})},
        headers=_with_cookie(mint_token(str(user.id))),
    )

    # then: refused as a method not allowed (GraphQL over HTTP) and nothing written
    assert response.status_code == 405, response.text
    assert await _dossier_rows() == (0, 0, 0)


async def test_bearer_mutation_needs_no_csrf_header(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)

    response = await _register(client, {"Authorization": f"Bearer {mint_token(str(user.id))}"})

    assert response.json()["data"]["registerHousehold"]["errors"] == []
    assert await _dossier_rows() == (1, 1, 1)


async def test_bearer_token_wins_over_a_cookie_and_needs_no_csrf_header(
    client: httpx.AsyncClient,
) -> None:
    # given: a bearer client whose browser also holds another user's (stale) cookie
    user = await f.user(Role.PARENT, email=EMAIL)
    headers = _with_cookie("not-a-token", Authorization=f"Bearer {mint_token(str(user.id))}")

    response = await client.post("/graphql", json={"query": ME}, headers=headers)

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": EMAIL, "role": "PARENT"}}}


async def test_expired_cookie_gets_401_and_is_cleared(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)
    stale = mint_token(str(user.id), ttl_seconds=-120)

    response = await client.post(
        "/graphql", json={"query": ME}, headers=_with_cookie(stale, **CSRF)
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": "TOKEN_EXPIRED",
    }
    assert response.headers["set-cookie"] == (
        'loket_session=""; HttpOnly; Max-Age=0; Path=/graphql; SameSite=strict; Secure'
    )


async def test_whole_cookie_session_sign_in_query_sign_out(client: httpx.AsyncClient) -> None:
    # given: a browser signed in with a cookie
    await account()
    token = _cookie_of(await _sign_in(client, session="COOKIE", headers=CSRF))
    me = await client.post("/graphql", json={"query": ME}, headers=_with_cookie(token, **CSRF))
    assert me.json() == {"data": {"me": {"email": EMAIL, "role": "PARENT"}}}

    # when it signs out
    response = await client.post(
        "/graphql", json={"query": SIGN_OUT}, headers=_with_cookie(token, **CSRF)
    )

    # then the cookie is cleared with the same name, path and flags
    assert response.json() == {"data": {"signOut": {"cookieCleared": True}}}
    assert response.headers["set-cookie"] == (
        'loket_session=""; HttpOnly; Max-Age=0; Path=/graphql; SameSite=strict; Secure'
    )


async def test_sign_out_without_csrf_header_gets_403(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)

    response = await client.post(
        "/graphql", json={"query": SIGN_OUT}, headers=_with_cookie(mint_token(str(user.id)))
    )

    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_sign_out_as_bearer_client_does_nothing(client: httpx.AsyncClient) -> None:
    user = await f.user(Role.PARENT, email=EMAIL)
    bearer = {"Authorization": f"Bearer {mint_token(str(user.id))}"}

    response = await client.post("/graphql", json={"query": SIGN_OUT}, headers=bearer)

    assert response.json() == {"data": {"signOut": {"cookieCleared": False}}}
    assert "set-cookie" not in response.headers
    me = await client.post("/graphql", json={"query": ME}, headers=bearer)
    assert me.json()["data"]["me"]["email"] == EMAIL


# --- CORS ----------------------------------------------------------------------------

FRONTEND = "https://loket.example.be"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, x-loket-csrf",
}


@pytest.fixture
async def cors_client(database: str, db: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app as configured with one allowed frontend origin."""
    from loket.app import create_app

    with setting("cors_origins", (FRONTEND,)):
        app = create_app(database_url=database, manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_preflight_from_the_allowed_origin_gets_200_with_the_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options("/graphql", headers={"Origin": FRONTEND, **PREFLIGHT})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "x-loket-role", "x-loket-csrf"} <= allowed


async def test_preflight_from_another_origin_is_refused(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.options(
        "/graphql", headers={"Origin": "https://evil.example", **PREFLIGHT}
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_request_from_the_allowed_origin_may_read_the_answer(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql", json={"query": "{ municipalities { name } }"}, headers={"Origin": FRONTEND}
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_request_from_another_origin_gets_no_cors_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql",
        json={"query": "{ municipalities { name } }"},
        headers={"Origin": "https://evil.example"},
    )

    assert "access-control-allow-origin" not in response.headers


async def test_by_default_no_origin_is_allowed(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/graphql", headers={"Origin": FRONTEND, **PREFLIGHT})
    post = await client.post(
        "/graphql", json={"query": "{ municipalities { name } }"}, headers={"Origin": FRONTEND}
    )

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in post.headers


# --- the client's address ------------------------------------------------------------


def _request(peer: str | None, *forwarded: str) -> Any:
    headers = Headers(raw=[(b"x-forwarded-for", f.encode()) for f in forwarded])
    client = None if peer is None else SimpleNamespace(host=peer)
    return SimpleNamespace(client=client, headers=headers)


def test_client_ip_is_the_peer_without_trusted_proxies() -> None:
    assert sessions.client_ip(_request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_client_ip_ignores_forwarded_for_from_an_untrusted_peer(trusting_proxy: None) -> None:
    assert sessions.client_ip(_request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_client_ip_behind_a_trusted_proxy_is_the_rightmost_untrusted_hop(
    trusting_proxy: None,
) -> None:
    # the client wrote "1.2.3.4" itself; the proxy appended the address it saw
    request = _request("10.0.0.2", "1.2.3.4, 198.51.100.1", "10.0.0.3")

    assert sessions.client_ip(request) == "198.51.100.1"


def test_client_ip_when_every_hop_is_trusted_is_the_leftmost(trusting_proxy: None) -> None:
    assert sessions.client_ip(_request("10.0.0.2", "10.0.0.9, 10.0.0.3")) == "10.0.0.9"
    assert sessions.client_ip(_request("10.0.0.2")) == "10.0.0.2"


def test_client_ip_without_a_peer() -> None:
    assert sessions.client_ip(_request(None)) == "unknown"


def test_ipv6_clients_are_limited_per_64() -> None:
    assert sessions.limit_subject("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert sessions.limit_subject("::ffff:198.51.100.1") == "198.51.100.1"
    assert sessions.limit_subject("198.51.100.1") == "198.51.100.1"


# --- per-IP limits -------------------------------------------------------------------


async def test_sign_in_failures_over_the_ip_limit_are_rate_limited_across_addresses(
    client: httpx.AsyncClient, ip_sign_in_limit: int
) -> None:
    # given: three failures from one address, each for another account
    await account()
    failures = [
        _codes(_payload(await _sign_in(client, email=f"nobody{i}@example.be", password=WRONG)))
        for i in range(ip_sign_in_limit)
    ]
    assert failures == [["INVALID_CREDENTIALS"]] * ip_sign_in_limit

    # when: the right password for a fourth account
    payload = _payload(await _sign_in(client))

    # then
    assert payload["token"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [([], "RATE_LIMITED")]


async def test_sign_in_successes_do_not_count_against_the_ip_limit(
    client: httpx.AsyncClient, ip_sign_in_limit: int
) -> None:
    # given: successes between failures, one short of the limit
    await account()
    for i in range(ip_sign_in_limit - 1):
        assert _codes(_payload(await _sign_in(client))) == []
        failed = _payload(await _sign_in(client, email=f"x{i}@example.be", password=WRONG))
        assert _codes(failed) == ["INVALID_CREDENTIALS"]

    # when
    results = [_codes(_payload(await _sign_in(client))) for _ in range(3)]
    last_failure = _payload(await _sign_in(client, email="y@example.be", password=WRONG))
    over = _payload(await _sign_in(client, email="z@example.be", password=WRONG))

    # then: successes keep working; the limit-th failure is answered, the next refused
    assert results == [[], [], []]
    assert _codes(last_failure) == ["INVALID_CREDENTIALS"]
    assert _codes(over) == ["RATE_LIMITED"]


async def test_sign_in_limit_counts_each_client_behind_a_trusted_proxy(
    app: Any, db: str, ip_sign_in_limit: int, trusting_proxy: None
) -> None:
    # given: the proxy forwards one client that used up its failures
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as proxy:
        await account()
        first = {"X-Forwarded-For": "198.51.100.1"}
        for i in range(ip_sign_in_limit):
            await _sign_in(proxy, email=f"n{i}@example.be", password=WRONG, headers=first)
        blocked = _payload(await _sign_in(proxy, headers=first))
        # a spoofed left-most entry does not get the blocked client out
        spoofed = _payload(
            await _sign_in(proxy, headers={"X-Forwarded-For": "7.7.7.7, 198.51.100.1"})
        )

        # when: another client comes through the same proxy
        other = _payload(await _sign_in(proxy, headers={"X-Forwarded-For": "198.51.100.2"}))

    # then
    assert _codes(blocked) == ["RATE_LIMITED"]
    assert _codes(spoofed) == ["RATE_LIMITED"]
    assert _codes(other) == []


async def test_uniqueness_checks_over_the_ip_limit_are_rate_limited_across_accounts(
    actor: Any, ip_uniqueness_limit: int
) -> None:
    # given: two parents behind one address, each with a child
    muni = await f.municipality("24062", "Leuven")
    parents = []
    for _ in range(2):
        user = await f.user(Role.PARENT)
        household, _ = await f.household(muni, user)
        parents.append((actor(user), await f.child(household, born=f.days(-200))))
    (an, an_child), (bo, bo_child) = parents
    assert await an.gql(HAS_OPEN, {"child": str(an_child.id)}) == {
        "data": {"hasOpenRequest": False}
    }
    assert await bo.gql(HAS_OPEN, {"child": str(bo_child.id)}) == {
        "data": {"hasOpenRequest": False}
    }

    # when: the first parent checks again, well within her own hourly limit
    result = await an.gql(HAS_OPEN, {"child": str(an_child.id)})

    # then: the address has used its two checks
    assert result["data"] == {"hasOpenRequest": None}
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["hasOpenRequest"], "RATE_LIMITED")
    ]


# --- two server processes ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def two_servers(database: str, db: str, tmp_path: Path) -> AsyncIterator[list[str]]:
    """Two uvicorn processes on the test database, with five failed sign-ins per IP."""
    _away_from_window_edge(accounts.SIGN_IN_WINDOW_SECONDS)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "LOKET_SIGN_IN_FAILURES_PER_IP": "5",
        "LOKET_SIGN_IN_FAILURES": "100",
    }
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / f"server{i}.log" for i in range(2)]
    processes = []
    for port, log in zip(ports, logs, strict=True):
        with log.open("wb") as out:
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    *("-m", "uvicorn", "--factory", "tests.test_sessions:app_from_environment"),
                    *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                )
            )
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient() as probe:
            for base, process, log in zip(bases, processes, logs, strict=True):
                for _ in range(300):
                    assert process.returncode is None, log.read_text()
                    try:
                        if (await probe.get(f"{base}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail(f"server at {base} not ready after 30 s: {log.read_text()}")
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _sign_in_at(
    http: httpx.AsyncClient, base: str, email: str, password: str
) -> httpx.Response:
    return await http.post(
        f"{base}/graphql",
        json={"query": SIGN_IN, "variables": {"input": {"email": email, "password": password}}},
    )


async def test_ip_sign_in_limit_is_shared_by_two_server_processes(
    two_servers: list[str],
) -> None:
    # given: two processes, each of which would allow five failures on its own
    await account()
    answers: list[tuple[int, list[str]]] = []
    async with httpx.AsyncClient() as http:
        # when: eight failed sign-ins alternate between them, then the right password
        for i in range(8):
            response = await _sign_in_at(http, two_servers[i % 2], f"guess{i}@example.be", WRONG)
            answers.append((i % 2, _codes(_payload(response))))
        right = [_payload(await _sign_in_at(http, base, EMAIL, PASSWORD)) for base in two_servers]

    # then: five failures in all were answered, not five per process
    print("two-process sign-in answers (process, codes):", answers)
    assert answers == [
        (0, ["INVALID_CREDENTIALS"]),
        (1, ["INVALID_CREDENTIALS"]),
        (0, ["INVALID_CREDENTIALS"]),
        (1, ["INVALID_CREDENTIALS"]),
        (0, ["INVALID_CREDENTIALS"]),
        (1, ["RATE_LIMITED"]),
        (0, ["RATE_LIMITED"]),
        (1, ["RATE_LIMITED"]),
    ]
    assert [_codes(p) for p in right] == [["RATE_LIMITED"], ["RATE_LIMITED"]]
