"""A real SMTP relay on loopback (aiosmtpd, as tests/test_notifications.py uses) that
records every message it accepts by Message-ID, and can hold a sender in the middle of a
batch: `hold_next_mail()` makes the next MAIL command wait (the sender has marked the
previous messages SENT and not started this one), so a worker can be killed at a known
point. Runs in a thread of its own (aiosmtpd's Controller).

`hold_next_mail(after=n)` lets `n` more messages through first, so the sender is killed
in the middle of its claimed batch, not at its start."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    message_id: str
    recipients: list[str]
    at: float


@dataclass
class Relay:
    """The aiosmtpd handler (see the module doc)."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Hold: armed by hold_next_mail(); `held` is set once a sender waits at MAIL, with
    # its peer address in `held_peer`; `release` lets it go on (with a 421: the held
    # sender is normally dead by then). `_armed` is None, or the MAIL commands to let
    # through before holding.
    _armed: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    held_peer: tuple[str, int] | None = None
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            hold = self._armed == 0
            if self._armed is not None:
                self._armed = None if hold else self._armed - 1
        if hold:
            self.held_peer = tuple(session.peer[:2])  # type: ignore[assignment]
            self.held.set()
            # A thread's wait (the release comes from the harness's thread), not the loop's.
            await asyncio.to_thread(self.release.wait, 300)
            return "421 4.3.0 Service closing (held by the reliability harness)"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                Received(str(message["Message-ID"]), list(envelope.rcpt_tos), time.time())
            )
        return "250 2.0.0 Accepted"

    def hold_next_mail(self, after: int = 0) -> None:
        """Hold the MAIL command after the next `after` ones."""
        self.held.clear()
        self.release.clear()
        self.held_peer = None
        with self.lock:
            self._armed = after

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(r.message_id for r in self.received)


class _Controller(Controller):
    """aiosmtpd's Controller on a port the OS picks (port 0), read from the bound socket
    before the controller's own start-up check connects to it."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class RunningRelay:
    """`with RunningRelay() as smtp:` a relay listening on 127.0.0.1:`smtp.port`, its
    handler (what it received, the hold) as `smtp.handler`."""

    def __init__(self) -> None:
        self.handler = Relay()
        self._controller = _Controller(self.handler, hostname="127.0.0.1", port=0)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> RunningRelay:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.handler.release.set()
        self._controller.stop()
