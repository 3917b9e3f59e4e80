"""GraphiQL is served with no third-party script or stylesheet."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from loket import graphiql
from loket.app import create_app


def test_page_loads_nothing_from_another_origin() -> None:
    html = graphiql.local_html()

    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)

    assert external == []
    assert "unpkg.com" not in html
    assert html.count(graphiql.ASSET_PREFIX) == len(graphiql.assets()) == 7


def test_every_asset_has_a_pinned_tarball() -> None:
    assert {package for package, _, _ in graphiql.assets()} == set(graphiql.TARBALLS)


async def test_assets_are_served_from_the_service(tmp_path: Path, database: str) -> None:
    package, path, _ = graphiql.assets()[0]
    (tmp_path / package / path).parent.mkdir(parents=True)
    (tmp_path / package / path).write_text("/* react */")
    app = create_app(database_url=database, manage_db=False, graphiql_dir=tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        asset = await client.get(f"{graphiql.ASSET_PREFIX}{package}/{path}")
        missing = await client.get(f"{graphiql.ASSET_PREFIX}../../pyproject.toml")

    assert page.status_code == 200
    assert f'src="{graphiql.ASSET_PREFIX}{package}/{path}"' in page.text
    assert asset.status_code == 200
    assert asset.text == "/* react */"
    assert missing.status_code == 404


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_file_not_matching_the_pages_sri_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = {path: b"alert('forged')" for _, path, _ in graphiql.assets()}

    def download(package: str) -> bytes:
        return _tarball(forged)

    monkeypatch.setattr(graphiql, "_download", download)

    assert graphiql.ensure_assets(tmp_path) is False
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_tarball_not_matching_its_pinned_integrity_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Response(io.BytesIO):
        def __enter__(self) -> Any:
            return self

        def __exit__(self, *args: Any) -> None:
            return None

    monkeypatch.setattr(graphiql.urllib.request, "urlopen", lambda *a, **k: Response(b"x"))

    with pytest.raises(ValueError, match="integrity mismatch"):
        graphiql._download("react@18.2.0")
