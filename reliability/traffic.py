"""The load: a realistic mix of Loket's traffic sent at a fixed rate (an open model: a
request leaves at its scheduled time whatever the earlier ones are doing), spread over
the servers in turn, with each request's latency, HTTP status and error code recorded,
and every write in a ledger (what was acknowledged, to check against the database).

The mix (weights out of 100, `MIX`):

| operation   | who           | what                                                      |
|-------------|---------------|-----------------------------------------------------------|
| dashboard   | parent        | `myHousehold` with next steps, children, requests         |
| inbox       | provider      | `inbox(first: 20)` of the staff member's location         |
| answer      | provider      | `offerPlace`, `waitlistApplication` or `refuseApplication` |
|             |               | on a pending application (each application once)          |
| accept      | parent        | `acceptOffer` of an offer (each offer once)               |
| dossiers    | counter staff | `dossiers(first: 20)`: the restricted field subset        |
| demand      | counter staff | `demandOverview` of the counter's region                  |
| last_minute | anonymous     | `lastMinutePlaces` of a municipality                      |
| search      | anonymous     | `searchLocations` of a municipality                       |

Latency runs from the scheduled send time to the end of the response, so a client that
falls behind shows as latency, not as a lower rate (no coordinated omission); the
client's own lag is recorded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loket.auth import mint_token
from reliability.data import Acceptance, Actors, Answer

DASHBOARD = (
    "query Dashboard { myHousehold { id nextSteps { kind deadline } children { firstName } "
    "requests { id status desiredStartDate applications { status offeredStartDate "
    "replyDeadline location { name } } } } }"
)
INBOX = (
    "query Inbox($loc: ID!) { inbox(locationId: $loc, first: 20) { edges { node { rank "
    "priority { reasons } application { id status } request { desiredStartDate "
    "child { firstName } } household { parents { firstName lastName } } } } } }"
)
DOSSIERS = (
    "query Dossiers { dossiers(first: 20) { edges { node { residence { name } "
    "parents { firstName lastName phone email } } } } }"
)
DEMAND = (
    "query Demand { demandOverview { emergencyListSize unansweredApplications "
    "openRequests { month count municipality { name } } } }"
)
LAST_MINUTE = (
    "query LastMinute($m: String) { lastMinutePlaces(filter: {municipalityNisCode: $m}, "
    "first: 10) { edges { node { places periodStart periodEnd location { name postalCode } } } } }"
)
SEARCH = (
    "query Search($m: String) { searchLocations(filter: {municipalityNisCode: $m}, first: 10) "
    "{ edges { node { name kind capacity tariff lastMinutePlaces } } } }"
)
OFFER = (
    "mutation Offer($i: OfferPlaceInput!) { offerPlace(input: $i) { application { id status } "
    "errors { code } } }"
)
WAITLIST = (
    "mutation Waitlist($i: WaitlistApplicationInput!) { waitlistApplication(input: $i) "
    "{ application { id status } errors { code } } }"
)
REFUSE = (
    "mutation Refuse($i: RefuseApplicationInput!) { refuseApplication(input: $i) "
    "{ application { id status } errors { code } } }"
)
ACCEPT = (
    "mutation Accept($i: AnswerOfferInput!) { acceptOffer(input: $i) { careRequest { id status } "
    "errors { code } } }"
)
REFUSAL_REASON = "Volzet in die maand (reliability harness)"

MIX = {
    "dashboard": 25,
    "inbox": 15,
    "answer": 12,
    "accept": 3,
    "dossiers": 10,
    "demand": 5,
    "last_minute": 15,
    "search": 15,
}
# Codes a write may legitimately answer with under this load: the place an offer or an
# acceptance needs was taken by an acceptance in the meantime.
EXPECTED = {"offerPlace": {"LOCATION_FULL"}, "acceptOffer": {"LOCATION_FULL"}}


@dataclass
class Call:
    """One request: its operation, body, caller and (for a write) what the ledger keeps."""

    op: str
    body: dict[str, Any]
    user: Any = None
    mutation: str | None = None  # the payload field of a write
    target: dict[str, Any] | None = None


@dataclass
class Outcome:
    op: str
    server: int
    at: float  # scheduled send, seconds since the load started
    latency: float  # seconds, from the scheduled send to the end of the response
    lag: float  # seconds the client started late
    status: int  # HTTP status; 0 when no response came (transport error)
    code: str  # "" success; an error code, "expected:<code>", "http <n>" or "transport <E>"
    traceback: bool = False  # the body holds a Python traceback

    @property
    def failed(self) -> bool:
        return self.code != "" and not self.code.startswith("expected:")


class Tokens:
    """Real JWTs (loket.auth.mint_token, the servers' signing settings), one per user."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl = ttl_seconds
        self._tokens: dict[Any, str] = {}

    def header(self, user: Any) -> dict[str, str]:
        if user is None:
            return {}
        token = self._tokens.get(user)
        if token is None:
            token = self._tokens[user] = mint_token(str(user), ttl_seconds=self.ttl)
        return {"Authorization": f"Bearer {token}"}


class Mix:
    """Picks the next request of the mix (seeded: the same run sends the same sequence).
    Writes take their targets in order, each once; when a kind runs out, a dashboard
    read goes instead."""

    def __init__(self, actors: Actors, seed: int = 9, weights: dict[str, int] | None = None):
        self.actors = actors
        self.random = random.Random(seed)  # noqa: S311 - a reproducible mix, no secret
        weights = weights or MIX
        self.ops = list(weights)
        self.weights = [weights[o] for o in self.ops]
        self._answers: Iterator[Answer] = iter(actors.answers)
        self._acceptances: Iterator[Acceptance] = iter(actors.acceptances)
        self._answer_kinds = itertools.cycle(["offer", "waitlist", "offer", "refuse", "waitlist"])

    def next(self) -> Call:
        op = self.random.choices(self.ops, self.weights)[0]
        a, r = self.actors, self.random
        if op == "answer":
            target = next(self._answers, None)
            if target is not None:
                return self._answer(target, next(self._answer_kinds))
            op = "dashboard"
        if op == "accept":
            offer = next(self._acceptances, None)
            if offer is not None:
                return self.accept(offer)
            op = "dashboard"
        if op == "dashboard":
            return Call(op, {"query": DASHBOARD}, r.choice(a.parents))
        if op == "inbox":
            user, location = r.choice(a.providers)
            return Call(op, {"query": INBOX, "variables": {"loc": str(location)}}, user)
        if op == "dossiers":
            return Call(op, {"query": DOSSIERS}, r.choice(a.counters))
        if op == "demand":
            return Call(op, {"query": DEMAND}, r.choice(a.counters))
        query = LAST_MINUTE if op == "last_minute" else SEARCH
        return Call(op, {"query": query, "variables": {"m": r.choice(a.municipalities)}})

    @staticmethod
    def _answer(t: Answer, kind: str) -> Call:
        target = {
            "kind": kind,
            "application": str(t.application),
            "request": str(t.request),
            "location": str(t.location),
        }
        if kind == "offer":
            variables = {"i": {"requestId": str(t.request), "locationId": str(t.location)}}
            return Call("answer", {"query": OFFER, "variables": variables}, t.provider,
                        "offerPlace", target)  # fmt: skip
        if kind == "waitlist":
            variables = {"i": {"applicationId": str(t.application)}}
            return Call("answer", {"query": WAITLIST, "variables": variables}, t.provider,
                        "waitlistApplication", target)  # fmt: skip
        variables = {"i": {"applicationId": str(t.application), "reason": REFUSAL_REASON}}
        return Call("answer", {"query": REFUSE, "variables": variables}, t.provider,
                    "refuseApplication", target)  # fmt: skip

    @staticmethod
    def accept(t: Acceptance) -> Call:
        target = {
            "kind": "accept",
            "application": str(t.application),
            "request": str(t.request),
            "location": str(t.location),
        }
        variables = {"i": {"applicationId": str(t.application)}}
        return Call("accept", {"query": ACCEPT, "variables": variables}, t.parent,
                    "acceptOffer", target)  # fmt: skip

    def samples(self) -> list[Call]:
        """One read of each kind, to check the documents before the load."""
        a = self.actors
        user, location = a.providers[0]
        return [
            Call("dashboard", {"query": DASHBOARD}, a.parents[0]),
            Call("inbox", {"query": INBOX, "variables": {"loc": str(location)}}, user),
            Call("dossiers", {"query": DOSSIERS}, a.counters[0]),
            Call("demand", {"query": DEMAND}, a.counters[0]),
            Call("last_minute", {"query": LAST_MINUTE, "variables": {"m": a.municipalities[0]}}),
            Call("search", {"query": SEARCH, "variables": {"m": a.municipalities[0]}}),
        ]


def classify(call: Call, status: int, text: str) -> str:
    """The outcome code of a response (see Outcome.code)."""
    try:
        payload = json.loads(text)
    except ValueError:
        return f"http {status}" if status != 200 else "http 200 not json"
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if errors:
        codes = sorted({str((e.get("extensions") or {}).get("code", "UNCODED")) for e in errors})
        return (f"http {status} " if status != 200 else "") + ",".join(codes)
    if status != 200:
        return f"http {status}"
    if call.mutation is not None:
        result = (payload.get("data") or {}).get(call.mutation) or {}
        user_errors = sorted({e["code"] for e in result.get("errors") or []})
        if user_errors:
            expected = EXPECTED.get(call.mutation, set())
            joined = ",".join(user_errors)
            return f"expected:{joined}" if set(user_errors) <= expected else joined
    return ""


class Ledger:
    """Every write sent, with its outcome, one JSON line each (flushed as written): the
    check afterwards compares the acknowledged ones with the database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self.entries: list[dict[str, Any]] = []

    def write(self, call: Call, outcome: Outcome, server: int) -> None:
        entry = {
            "op": call.mutation,
            **(call.target or {}),
            "outcome": "ok"
            if outcome.code == ""
            else outcome.code
            if outcome.code.startswith("expected:")
            else f"error:{outcome.code}",
            "server": server,
            "at": round(outcome.at, 3),
        }
        self.entries.append(entry)
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass
class Recorder:
    outcomes: list[Outcome] = field(default_factory=list)
    ready: list[tuple[float, int, int]] = field(default_factory=list)  # (at, server, status)
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (at, server, MiB)
    events: list[tuple[float, str]] = field(default_factory=list)

    def event(self, started: float, what: str) -> None:
        at = time.monotonic() - started
        self.events.append((at, what))
        print(f"[{at:7.1f} s] {what}", flush=True)


async def send(
    http: httpx.AsyncClient,
    server: int,
    call: Call,
    tokens: Tokens,
    scheduled: float,
    started: float,
) -> tuple[Outcome, str]:
    sent = time.monotonic()
    try:
        response = await http.post("/graphql", json=call.body, headers=tokens.header(call.user))
        status, text = response.status_code, response.text
        code = classify(call, status, text)
    except httpx.HTTPError as e:
        status, text, code = 0, "", f"transport {type(e).__name__}"
    done = time.monotonic()
    outcome = Outcome(
        call.op,
        server,
        scheduled - started,
        done - scheduled,
        max(0.0, sent - scheduled),
        status,
        code,
        "Traceback" in text,
    )
    return outcome, text


async def drive(
    clients: list[httpx.AsyncClient],
    mix: Mix,
    tokens: Tokens,
    *,
    rate: float,
    seconds: float,
    started: float,
    recorder: Recorder,
    ledger: Ledger,
    on_bad: Callable[[Outcome, str], None] | None = None,
) -> None:
    """Send `rate` requests a second for `seconds` from `started` (monotonic), round robin
    over `clients`, and wait for the last answers."""
    interval = 1.0 / rate
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int, call: Call, scheduled: float) -> None:
        server = i % len(clients)
        outcome, text = await send(clients[server], server, call, tokens, scheduled, started)
        recorder.outcomes.append(outcome)
        if call.mutation is not None:
            ledger.write(call, outcome, server)
        if on_bad is not None and (outcome.failed or outcome.traceback):
            on_bad(outcome, text)

    for i in itertools.count():
        scheduled = started + i * interval
        if scheduled - started >= seconds:
            break
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, mix.next(), scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)


async def watch_ready(
    urls: list[str], recorder: Recorder, started: float, stop: asyncio.Event, every: float = 0.25
) -> None:
    """GET /readyz of every server every `every` seconds until `stop`."""
    async with httpx.AsyncClient(timeout=2) as http:
        while not stop.is_set():
            for server, url in enumerate(urls):
                try:
                    status = (await http.get(f"{url}/readyz")).status_code
                except httpx.HTTPError:
                    status = 0
                recorder.ready.append((time.monotonic() - started, server, status))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


async def watch_rss(
    pids: list[int], recorder: Recorder, started: float, stop: asyncio.Event, every: float = 5
) -> None:
    """RSS of each server process (/proc/PID/status) every `every` seconds until `stop`."""
    from reliability.processes import rss_mib

    while not stop.is_set():
        for server, pid in enumerate(pids):
            recorder.rss.append((time.monotonic() - started, server, rss_mib(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


# --------------------------------------------------------------------------- summaries


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Summary:
    requests: int
    failed: int
    expected: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    codes: dict[str, int]

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


def summarise(outcomes: list[Outcome]) -> Summary:
    latencies = [o.latency for o in outcomes if not o.failed]
    codes = Counter(o.code for o in outcomes if o.code)
    return Summary(
        requests=len(outcomes),
        failed=sum(o.failed for o in outcomes),
        expected=sum(o.code.startswith("expected:") for o in outcomes),
        p50_ms=1000 * percentile(latencies, 0.5),
        p99_ms=1000 * percentile(latencies, 0.99),
        max_ms=1000 * max(latencies, default=float("nan")),
        codes=dict(codes.most_common()),
    )


def table(outcomes: list[Outcome], title: str) -> str:
    """Per operation and in total: requests, failures, p50/p99 of the successful ones."""
    by_op: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_op[o.op].append(o)
    lines = [
        title,
        f"  {'operation':<12}{'requests':>9}{'failed':>8}{'error %':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}  other outcomes",
    ]
    for op in [*MIX, "race"]:
        if op in by_op:
            lines.append(_row(op, summarise(by_op[op])))
    lines.append(_row("all", summarise(outcomes)))
    return "\n".join(lines)


def _row(name: str, s: Summary) -> str:
    codes = ", ".join(f"{c} x{n}" for c, n in s.codes.items())
    return (
        f"  {name:<12}{s.requests:>9}{s.failed:>8}{100 * s.error_rate:>8.2f}%"
        f"{s.p50_ms:>9.1f}{s.p99_ms:>9.1f}{s.max_ms:>9.1f}  {codes}"
    )


def rss_report(recorder: Recorder, names: list[str]) -> tuple[list[str], dict[str, float]]:
    """Lines with each server's RSS at the start, middle and end, and the growth over the
    second half (where a leak shows; the first half includes warming caches)."""
    lines, growth = [], {}
    for server, name in enumerate(names):
        samples = [(at, mib) for at, s, mib in recorder.rss if s == server and mib > 0]
        if len(samples) < 3:
            continue
        start, middle, end = samples[0], samples[len(samples) // 2], samples[-1]
        growth[name] = end[1] - middle[1]
        lines.append(
            f"  {name}: RSS {start[1]:.1f} MiB at {start[0]:.0f} s, {middle[1]:.1f} MiB at "
            f"{middle[0]:.0f} s, {end[1]:.1f} MiB at {end[0]:.0f} s "
            f"(second half {end[1] - middle[1]:+.1f} MiB, whole run {end[1] - start[1]:+.1f} MiB)"
        )
    return lines, growth


def write_results(path: Path, recorder: Recorder, extra: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(
            {
                **extra,
                "outcomes": [asdict(o) for o in recorder.outcomes],
                "ready": recorder.ready,
                "rss": recorder.rss,
                "events": recorder.events,
            },
            default=str,
        )
    )
