"""The command line: schema output and the dev-token guard."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from loket import cli
from schema.root import printed_sdl


def test_schema_command_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    assert capsys.readouterr().out == printed_sdl()


def test_dev_token_refuses_without_the_development_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    production = dataclasses.replace(cli.settings, jwt_secret="a-real-production-secret")
    monkeypatch.setattr(cli, "settings", production)

    code = cli.main(["dev-token", "loket@demo.loket.be"])

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refusing" in captured.err


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["frobnicate"])
    assert excinfo.value.code == 2


async def test_unexpected_errors_are_masked_and_logged_without_their_message(
    actor: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from resolvers import providers

    rrn = "85073003328"

    async def broken(*args: Any, **kwargs: Any) -> Any:
        # The log shows the source line, so the value must come from a variable.
        raise RuntimeError(f"secret detail {rrn}")

    monkeypatch.setattr(providers, "fetch", broken)

    result = await actor(None).gql("{ municipalities { name } }")

    assert result["data"] is None
    assert [e["message"] for e in result["errors"]] == ["Unexpected error."]
    assert rrn not in caplog.text
    assert "unexpected RuntimeError" in caplog.text


def test_handles_of_dead_processes_are_forgotten(tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    from loket.db import _forget_dead_handles

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(finished.stdout)
    (tmp_path / ".handle_pids.json").write_text(json.dumps([dead, os.getpid()]))

    _forget_dead_handles(tmp_path)

    assert json.loads((tmp_path / ".handle_pids.json").read_text()) == [os.getpid()]
