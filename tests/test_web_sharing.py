"""The challenge page spreads: link-preview tags (parsed) whose picture answers 200 image/png at
1200 x 630 and follows the count; a way to join whatever is configured; the organiser's footer;
progress words that encourage at any count; a shared page credits its sharer."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bots.web import LiveConfig, create_app
from bots.web.app import HUB
from bots.web.sharing import MAX_BASES
from conversations.deeplinks import make_payload
from core.clock import FakeClock
from core.services import Services
from core.settings import Settings
from core.sharing import SQUARE, WIDE
from tests.factories import member, open_challenge

FAST = LiveConfig(
    poll_seconds=0.02, areas_min_seconds=0, areas_max_seconds=0, keepalive_seconds=0.5
)
SLUG = "tri-lyon"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


class Head(HTMLParser):
    """The <meta> and <link> tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "meta":
            key = found.get("property") or found.get("name")
            if key:
                self.meta[key] = found.get("content", "")
        elif tag == "link" and "rel" in found:
            self.links[found["rel"]] = found.get("href", "")


def head_of(page: str) -> Head:
    head = Head()
    head.feed(page)
    return head


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(services, FAST))) as test_client:
        yield test_client


@pytest.fixture
async def configured(
    db: Any, settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Services, TestClient[Any, Any]]]:
    """A deployment with its public address, bots and footer configured."""
    configured = settings.model_copy(
        update={
            "public_url": "https://koom.example.org",
            "telegram_bot_username": "koombot",
            "web_operator": "Ville de Lyon",
            "web_contact": "contact@example.org",
            "web_privacy_url": "https://example.org/privacy",
        }
    )
    services = Services(db=db, settings=configured, clock=clock)
    async with TestClient(TestServer(create_app(services, FAST))) as test_client:
        yield services, test_client


async def pledgers(services: Services, count: int, start: int = 0) -> None:
    challenge = await services.challenges.by_slug(SLUG)
    for index in range(start, start + count):
        await services.pledges.pledge((await member(services, f"p{index}")).id, challenge.id)


def png(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    return image


async def test_the_page_head_has_valid_preview_tags_and_the_picture_answers(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=1000, tiers=((500, "Acme", "gives €1,000"),))
    await pledgers(services, 9)
    page = await (await client.get(f"/c/{SLUG}?lang=en")).text()
    meta = head_of(page).meta
    assert meta["og:type"] == "website" and meta["og:title"] == "Challenge tri-lyon"
    assert meta["og:description"].startswith("9 people act · 9 people have started — be the 10th")
    assert meta["twitter:card"] == "summary_large_image"
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    image = urlsplit(meta["og:image"])
    assert image.scheme == "http" and image.netloc == f"{client.host}:{client.port}"
    assert meta["twitter:image"] == meta["og:image"]
    assert urlsplit(meta["og:url"]).path == f"/c/{SLUG}"
    answer = await client.get(f"{image.path}?{image.query}")
    assert answer.status == 200 and answer.content_type == "image/png"
    assert answer.headers["Cache-Control"] == "public, max-age=300"
    body = await answer.read()
    assert png(body).size == WIDE
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "og-en.png").write_bytes(body)
    again = await client.get(
        f"{image.path}?{image.query}", headers={"If-None-Match": answer.headers["ETag"]}
    )
    assert again.status == 304


async def test_the_preview_follows_the_count(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=1000)
    await pledgers(services, 3)
    first = head_of(await (await client.get(f"/c/{SLUG}")).text()).meta
    before = await (await client.get(f"/c/{SLUG}/og.png")).read()
    await pledgers(services, 2, start=3)
    second = head_of(await (await client.get(f"/c/{SLUG}")).text()).meta
    assert first["og:image"] != second["og:image"]  # a new address when the count changes
    assert parse_qs(urlsplit(second["og:image"]).query)["lang"] == ["fr"]
    assert "5 personnes agissent" in second["og:description"]
    after = await (await client.get(f"/c/{SLUG}/og.png")).read()
    assert before != after and png(after).size == WIDE


async def test_the_share_picture_of_the_page_in_both_sizes(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    square = await client.get(f"/c/{SLUG}/share.png?lang=en")
    assert square.status == 200 and square.content_type == "image/png"
    assert png(await square.read()).size == SQUARE
    wide = await client.get(f"/c/{SLUG}/share.png?size=wide")
    assert png(await wide.read()).size == WIDE
    bad = await client.get(f"/c/{SLUG}/share.png?size=huge&lang=en")
    assert bad.status == 400 and "square or wide" in await bad.text()
    missing = await client.get("/c/nothing-here/og.png")
    assert missing.status == 404


async def test_with_no_bot_configured_the_page_still_offers_a_way_to_join(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    page = await (await client.get(f"/c/{SLUG}?lang=en")).text()
    assert 'data-button="join"' in page and "How to join" in page
    assert "<code data-command>/start tri-lyon</code>" in page and "/pledge tri-lyon" in page
    assert 'class="qr" src="data:image/svg+xml' in page
    assert f'data-qr="http://{client.host}:{client.port}/c/{SLUG}"' in page
    assert "Run by" not in page  # no footer configured


async def test_a_configured_deployment_links_the_bot_and_shows_who_runs_it(
    configured: tuple[Services, TestClient[Any, Any]],
) -> None:
    services, client = configured
    await open_challenge(services)
    page = await (await client.get(f"/c/{SLUG}?lang=en")).text()
    meta = head_of(page).meta
    assert meta["og:url"] == f"https://koom.example.org/c/{SLUG}"
    assert meta["og:image"].startswith(f"https://koom.example.org/c/{SLUG}/og.png?lang=en&v=")
    assert (
        'data-button="telegram"' in page and 'data-qr="https://t.me/koombot?start=tri-lyon"' in page
    )
    assert "Run by Ville de Lyon" in page
    assert 'href="mailto:contact@example.org"' in page
    assert 'href="https://example.org/privacy"' in page and ">Privacy</a>" in page
    french = await (await client.get(f"/c/{SLUG}?lang=fr")).text()
    assert "Site tenu par Ville de Lyon" in french and ">Confidentialité</a>" in french


async def test_a_shared_page_credits_its_sharer(
    configured: tuple[Services, TestClient[Any, Any]],
) -> None:
    services, client = configured
    await open_challenge(services)
    alice = await member(services, "alice")
    payload = make_payload(SLUG, alice.id)
    page = await (await client.get(f"/c/{SLUG}?start={payload}")).text()
    assert f"https://t.me/koombot?start={payload}" in page
    assert f"<code data-command>/start {payload}</code>" in page
    made_up = await (await client.get(f"/c/{SLUG}?start=other-slug_1")).text()
    assert "start=other-slug_1" not in made_up and "/start tri-lyon</code>" in made_up


async def test_progress_words_encourage_at_any_count(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=1000)
    empty = await (await client.get(f"/c/{SLUG}/state.json?lang=en")).json()
    assert empty["summary"] == "Nobody yet: be the first!"
    await pledgers(services, 9)
    page = await (await client.get(f"/c/{SLUG}")).text()
    assert "9 personnes ont commencé — soyez la 10ᵉ personne" in page
    assert "0 % de l'objectif" not in page
    await pledgers(services, 91, start=9)
    state = await (await client.get(f"/c/{SLUG}/state.json?lang=en")).json()
    assert state["summary"] == "10% of the goal of 1,000"
    index = await (await client.get("/?lang=en")).text()
    assert "10% of the goal of 1,000" in index


async def test_made_up_host_names_are_answered_but_not_kept(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    for index in range(10):
        host = {"Host": f"site{index}.example"}
        page = await (await client.get(f"/c/{SLUG}", headers=host)).text()
        assert f'content="http://site{index}.example/c/{SLUG}"' in page
        answer = await client.get(f"/c/{SLUG}/og.png", headers=host)
        assert answer.status == 200 and png(await answer.read()).size == WIDE
    snapshot = await client.app[HUB].snapshot(SLUG)
    kept = [
        key for key in snapshot.cache if isinstance(key, tuple) and key[0] in ("page", "picture")
    ]
    assert len(kept) <= 2 * MAX_BASES
