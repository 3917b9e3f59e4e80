"""Loket with its permission checks off, to measure what they cost (bench/run.py only).

The same `loket serve`, the same compiled plans and the same SQL shape, except:

- no dossier scope: every live dossier is in reach (an admin's scope, instead of the union
  of the viewer's grant branches), but for a counter (below);
- no child scope: every live child of the dossier (instead of the provider's conditions);
- no access log, unless LOKET_BENCH_KEEP_LOG=1 (then only the row scope is off).

A provider's applications stay filtered to their own locations, and a counter's dossier
list stays the residents of its municipalities (one equality, what PostGraphile's
`condition` asks; the region's UNION with the applicants is what is switched off): without
these filters the answer has other rows, and the comparison would no longer be of the same
answer. The viewer is still authenticated and loaded per request, as with checks on; the
field policy costs nothing per request either way (plans apply it when they are compiled).
Public fields (the last-minute search) have no scope and no log: the same code either way.

    DATABASE_URL=... .venv/bin/python -m bench.unchecked serve --port 8001

Never serve this: it exists so `bench/run.py` can print checks on vs off side by side.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

from loket import app as loket_app
from loket import planner
from models.accounts import Role
from permissions.scopes import live

_run_plan = loket_app.run_plan
_visible_households = planner.visible_households


def _all_households(viewer: Any, p: Any, **kw: Any) -> str:
    if viewer.effective_role is Role.LOKET:
        munis = p.add(list(viewer.counter_municipalities))
        return (
            "SELECT h.id AS household_id, 'COUNTER_REGION'::text AS grant_name FROM household h"
            f" WHERE h.municipality_id = ANY({munis}::text[]) AND {live('h')}"
        )
    return _visible_households(dataclasses.replace(viewer, role=Role.ADMIN), p, **kw)


def _all_children(rc: Any, child: str) -> str:
    return live(child)


KEEP_LOG = os.environ.get("LOKET_BENCH_KEEP_LOG") == "1"


async def _unchecked(plan: Any, schema: Any, context: Any, variables: Any, **kw: Any) -> Any:
    if not KEEP_LOG:
        context = dataclasses.replace(context, audit=None)
    return await _run_plan(plan, schema, context, variables, **kw)


if __name__ == "__main__":
    from loket import cli

    planner.visible_households = _all_households  # type: ignore[assignment]
    planner.Render.visible_children = _all_children  # type: ignore[method-assign,assignment]
    loket_app.run_plan = _unchecked  # type: ignore[assignment]
    raise SystemExit(cli.main(sys.argv[1:]))
