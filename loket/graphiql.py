"""GraphiQL served without a CDN: its scripts come from this service, not unpkg.com.

Strawberry's GraphiQL page loads React, GraphiQL and its explorer plugin from
unpkg.com, which would tell a third party the IP address of every provider who opens
it. At set-up (`loket serve`) the same files are taken from the npm registry's
tarballs, checked against pinned sha512 integrities, and again against the page's
own sha384 SRI attributes, then kept in the data folder and served from
`/graphiql/assets/`. The page keeps its SRI attributes, so the browser checks them too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import tarfile
import urllib.request
from functools import lru_cache
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

log = logging.getLogger("loket.graphiql")

CDN = "https://unpkg.com/"
ASSET_PREFIX = "/graphiql/assets/"
REGISTRY = "https://registry.npmjs.org"

# npm package@version -> integrity of its registry tarball (dist.integrity).
TARBALLS = {
    "react@18.2.0": (
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbT"
        "JrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ=="
    ),
    "react-dom@18.2.0": (
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99"
        "wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g=="
    ),
    "js-cookie@3.0.5": (
        "sha512-cEiJEAEoIbWfCZYKWhVwFuvPX1gETRYPw6LlaTKoxD3s2AkXzkCjn"
        "p6h0V77ozyqj0jakteJ4YqDJT830+lVGw=="
    ),
    "graphiql@3.8.3": (
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7"
        "a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw=="
    ),
    "@graphiql/plugin-explorer@1.0.2": (
        "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF"
        "4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q=="
    ),
}

_ASSET = re.compile(
    r'(?:src|href)="https://unpkg\.com/(?P<package>(?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/(?P<path>[^"]+)"'
    r'\s+integrity="(?P<sri>sha384-[^"]+)"'
)


def upstream_html() -> str:
    return get_graphql_ide_html(graphql_ide="graphiql")


def assets(html: str | None = None) -> list[tuple[str, str, str]]:
    """(package@version, path inside the package, sha384 SRI) of every CDN file the page uses."""
    page = html if html is not None else upstream_html()
    return [(m["package"], m["path"], m["sri"]) for m in _ASSET.finditer(page)]


@lru_cache(maxsize=1)
def local_html() -> str:
    """The GraphiQL page with every CDN address replaced by this service's own."""
    return upstream_html().replace(CDN, ASSET_PREFIX)


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _tarball_url(package: str) -> str:
    name, _, version = package.rpartition("@")
    return f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def _download(package: str) -> bytes:
    with urllib.request.urlopen(_tarball_url(package), timeout=60) as response:  # noqa: S310
        data: bytes = response.read()
    algorithm, _, expected = TARBALLS[package].partition("-")
    if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != expected:
        raise ValueError(f"{package}: tarball integrity mismatch")
    return data


def ensure_assets(directory: Path) -> bool:
    """Fetch missing assets into `directory`; True when all are present and verified."""
    missing = [
        (package, path, sri)
        for package, path, sri in assets()
        if not (directory / package / path).is_file()
    ]
    tarballs: dict[str, bytes] = {}
    try:
        for package, path, sri in missing:
            if package not in tarballs:
                tarballs[package] = _download(package)
            with tarfile.open(fileobj=io.BytesIO(tarballs[package]), mode="r:gz") as tar:
                member = tar.extractfile(f"package/{path}")
                if member is None:
                    raise ValueError(f"{package}: no {path}")
                data = member.read()
            if _sri(data) != sri:
                raise ValueError(f"{package}/{path}: does not match the page's SRI hash")
            target = directory / package / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    except (OSError, ValueError, KeyError, tarfile.TarError) as e:
        log.warning("GraphiQL assets unavailable, the page will not load: %s", e)
        return False
    return True
