"""Fixed-window rate limits kept in PostgreSQL, so every server process shares them.

Keys are keyed digests (HMAC under the server's first RRN key): a limit on an account or
an email address never stores the address itself.
"""

from __future__ import annotations

import hashlib
import hmac

from loket.db import fetch
from loket.settings import settings


def digest(*parts: str) -> str:
    """A keyed, irreversible key for `parts` (e.g. ("sign-in", email))."""
    key = next(iter(settings.rrn_keys.values()))
    # surrogatepass: any text has a key, also one with a lone surrogate (no UTF-8 form).
    data = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(key, data, hashlib.sha256).hexdigest()


async def hit(key: str, limit: int, window_seconds: int) -> bool:
    """Count one use of `key` in the current window; False once `limit` is exceeded."""
    rows = await fetch(
        """INSERT INTO rate_limit_window (key, window_start, hits)
           VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
           ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_window.hits + 1
           RETURNING hits""",
        key,
        window_seconds,
    )
    return int(rows[0]["hits"]) <= limit


async def used(key: str, window_seconds: int) -> int:
    """How many uses `key` has in the current window (without counting one)."""
    rows = await fetch(
        """SELECT hits FROM rate_limit_window WHERE key = $1
           AND window_start = to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)""",
        key,
        window_seconds,
    )
    return int(rows[0]["hits"]) if rows else 0


async def reset(key: str, window_seconds: int) -> None:
    """Forget the current window of `key` (e.g. after a successful sign-in)."""
    await fetch(
        """DELETE FROM rate_limit_window WHERE key = $1
           AND window_start = to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)""",
        key,
        window_seconds,
    )
