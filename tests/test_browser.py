"""GraphiQL in a real headless Chromium (Debian's, driven by Playwright): the page loads
nothing from another origin, a provider's query runs and shows data, and the docs
explorer shows who may read a field."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
import pytest_asyncio

from loket.app import create_app
from loket.auth import mint_token
from loket.graphiql import ensure_assets
from loket.settings import settings
from models.accounts import Role
from tests import factories as f
from tests.conftest import serve_on_tcp

CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes prescribe: no sandbox as root, and no background traffic to
# Google's hosts (refused by this network, and not what the test is about).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCATION = "Kinderdagverblijf De Boomhut"
QUERY = "{ me { role locations { name } } }"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium); .ci/run installs it "
    "with `apt-get install chromium`, Playwright never downloads a browser",
)


@pytest_asyncio.fixture
async def graphiql_server(database: str, db: str) -> AsyncIterator[str]:
    """The real app with the GraphiQL assets `loket serve` fetches, on a TCP port."""
    assets = settings.data_dir / "graphiql"
    assert await asyncio.to_thread(ensure_assets, assets), "GraphiQL assets unavailable"
    app = create_app(database_url=database, manage_db=False, graphiql_dir=assets)
    async with serve_on_tcp(app) as url:
        yield url


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


async def test_graphiql_as_provider_runs_a_query_with_nothing_from_another_origin(
    graphiql_server: str, browser: Any
) -> None:
    from playwright.async_api import expect

    # given: a provider working for one location, with a token in GraphiQL's headers
    leuven = await f.municipality("24062", "Leuven")
    provider = await f.user(Role.PROVIDER, provider_location=await f.location(leuven, LOCATION))
    headers = json.dumps({"Authorization": f"Bearer {mint_token(str(provider.id))}"})
    context = await browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))

    # when: the page opens with the headers GraphiQL kept from the provider's last visit
    # (its local storage, so the token is not in a URL) and the query in its URL
    await context.add_init_script(
        f"window.localStorage.setItem('graphiql:headers', {json.dumps(headers)});"
    )
    await page.goto(f"{graphiql_server}/graphql?{urlencode({'q': QUERY}, quote_via=quote)}")
    await page.locator(".graphiql-execute-button").click()

    # then: the result pane shows the location's name
    result = page.locator(".result-window")
    await expect(result).to_contain_text(LOCATION, timeout=15_000)
    await expect(result).to_contain_text('"role": "PROVIDER"')

    # and: the docs explorer shows the policy in a field's description
    await page.locator('[aria-label="Show Documentation Explorer"]').click()
    search = page.locator(".graphiql-doc-explorer-search-input input")
    await search.fill("Parent")
    await page.locator(
        ".graphiql-doc-explorer-search [role=option]", has_text="Parent"
    ).first.click()
    explorer = page.locator(".graphiql-doc-explorer")
    await expect(explorer).to_contain_text("A parent (applicant or partner) of a dossier.")
    await expect(explorer).to_contain_text("Email address. Policy PARENT_CONTACT: roles ADMIN")

    # and: every request the page made went to the service itself
    origin = urlsplit(graphiql_server)
    others = [
        url for url in requests if urlsplit(url)[:2] != origin[:2] and not url.startswith("data:")
    ]
    assert others == []
    assert any("/graphiql/assets/graphiql@" in url for url in requests)
    assert not [url for url in requests if "Bearer" in url or "eyJ" in url]
    assert failures == []
    await context.close()
