#!/usr/bin/env python3
"""Set-up and entry point for developers: `python3 dev.py serve` or `python3 dev.py test`.

Creates `.venv` with the pinned dependencies when missing or when pyproject.toml
changed, then runs the service (embedded PostgreSQL unless DATABASE_URL is set) or
the whole test suite (format, lint, types, tests). Needs only Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".loket-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Loket needs Python 3.11 or newer")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing dependencies ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def ensure_node_modules() -> None:
    """Install tests/js (the Apollo Client and urql runs of tests/test_persisted.py) when
    node and npm exist and its package-lock.json changed. Never fails the test run:
    without node, npm or the modules those tests skip and say why."""
    js = ROOT / "tests" / "js"
    lock = js / "package-lock.json"
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None or not lock.exists():
        return
    stamp = js / "node_modules" / ".loket-installed"
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("installing tests/js node modules ...", flush=True)
    quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            [npm, "ci", "--prefix", str(js), *quiet],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"npm ci did not run ({type(e).__name__}); the real-client tests will skip")
        return
    if done.returncode != 0:
        print("npm ci failed; the real-client tests will skip:", done.stderr[-2000:], flush=True)
        return
    stamp.write_text(wanted)


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, cwd=ROOT, check=True)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command not in ("serve", "test"):
        sys.exit(
            "usage: python3 dev.py serve [loket serve options] | python3 dev.py test [pytest args]"
        )
    ensure_venv()
    os.chdir(ROOT)
    if command == "serve":
        loket = str(BIN / "loket")
        os.execv(loket, [loket, "serve", "--demo", "--worker", *sys.argv[2:]])
    ensure_node_modules()
    try:
        run(str(BIN / "ruff"), "format", "--check", ".")
        run(str(BIN / "ruff"), "check", ".")
        run(str(BIN / "mypy"))
        run(str(BIN / "pytest"), "-n", "2", "--dist", "loadfile", *sys.argv[2:])
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode)


if __name__ == "__main__":
    main()
