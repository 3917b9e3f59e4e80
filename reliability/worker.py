"""`loket worker` for the reliability harness: the same worker, with the notification
claim shortened from 600 s to RELIABILITY_CLAIM_SECONDS (default 10), so the messages a
killed sender had claimed are retried within a run, not ten minutes later. (The lease
is still at least 4 x LOKET_SMTP_TIMEOUT_SECONDS + 30 s; see jobs.notifications.)

    RELIABILITY_CLAIM_SECONDS=10 DATABASE_URL=... python -m reliability.worker
"""

from __future__ import annotations

import os
import sys

import jobs.notifications
from loket import cli

if __name__ == "__main__":
    jobs.notifications.CLAIM_SECONDS = int(os.environ.get("RELIABILITY_CLAIM_SECONDS") or "10")
    raise SystemExit(cli.main(["worker", *sys.argv[1:]]))
