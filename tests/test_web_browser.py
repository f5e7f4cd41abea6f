"""The challenge page in a real headless Chromium: the count changes live after a pledge made
through the console flow, the map shows the areas, the widget renders. Screenshots are saved
in `artifacts/`. Skipped, with the reason, where Chromium or its driver is missing."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bots.web import LiveConfig, WebServer
from conversations.testing import ChatHarness
from core.db.database import Database
from core.db.migrate import upgrade
from core.drafts import ChallengeDraft
from core.models import AreaKind, ChallengeStatus, Location
from core.services import Services
from tests.factories import member, open_challenge
from tests.test_flow_journey import onboard, pledge_by_buttons

CHROMIUM = os.environ.get("KOOM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KOOM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--lang=fr-FR",
)
LYON = Location("Lyon", 45.76, 4.83, "fr:69123")
T = TypeVar("T")


def _missing() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not found: install Debian's {package} (.ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: .venv/bin/pip install selenium"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite only: these tests are about the browser, the other suites cover the backends."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}")
    await upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium with a fresh profile, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="koom-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def server(services: Services) -> AsyncIterator[WebServer]:
    """The web app on 127.0.0.1 in the test's event loop."""
    web = WebServer(services, "127.0.0.1", 0, LiveConfig(poll_seconds=0.2, areas_min_seconds=0))
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


async def wait_for(driver: Any, condition: Callable[[Any], T], seconds: float = 15) -> T:
    """Wait, off the event loop (which serves the pages), until `condition` holds."""
    from selenium.webdriver.support.ui import WebDriverWait

    def wait() -> T:
        return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)

    return await asyncio.to_thread(wait)


def count_on_page(driver: Any) -> str:
    return str(driver.find_element("id", "count").text)


def js(script: str) -> Callable[[Any], Any]:
    return lambda driver: driver.execute_script(script)


def errors_in(driver: Any) -> list[str]:
    """Console errors (a blocked script or style, a failed request...)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


async def test_the_page_follows_a_pledge_made_in_the_console(
    services: Services, server: WebServer, browser: Any
) -> None:
    await open_challenge(services, goal=8, tiers=((5, "Acme", "plants 10 trees"),))
    for name in ("zoe", "yan", "xavier"):
        someone = await member(services, name)
        await services.members.set_location(someone.id, LYON)
        challenge = await services.challenges.by_slug("tri-lyon")
        await services.pledges.pledge(someone.id, challenge.id)

    url = f"{server.url}/c/tri-lyon"
    await asyncio.to_thread(browser.get, url)
    assert await wait_for(browser, lambda d: count_on_page(d) == "3")
    # the map: the world's outlines, then the Lyon circle
    await wait_for(browser, js("return Number(document.getElementById('map').dataset.outlines)"))
    lyon = "#map circle.area[data-label='Lyon']"
    circle = await wait_for(browser, js(f'return document.querySelector("{lyon}")'))
    assert circle.get_attribute("data-count") == "3"
    assert float(circle.get_attribute("r")) > 0
    await wait_for(browser, js("return document.querySelector('[data-live]').hidden === false"))
    await asyncio.to_thread(browser.execute_script, "window.notReloaded = true")

    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await pledge_by_buttons(chat.alice, "tri-lyon", place="Lyon")
    assert "Merci, Alice" in chat.all_text()

    assert await wait_for(browser, lambda d: count_on_page(d) == "4")
    assert await asyncio.to_thread(browser.execute_script, "return window.notReloaded === true")
    await wait_for(
        browser, js(f"""return document.querySelector("{lyon}").dataset.count === '4'""")
    )
    fill = await asyncio.to_thread(
        browser.execute_script,
        "return document.querySelector('[data-bar-fill]').getAttribute('width')",
    )
    assert float(fill.rstrip("%")) == 50
    # zoom with the wheel: the view box shrinks
    before = await asyncio.to_thread(
        browser.execute_script, "return document.getElementById('map').getAttribute('viewBox')"
    )
    await asyncio.to_thread(
        browser.execute_script,
        "document.getElementById('map').dispatchEvent(new WheelEvent('wheel',"
        " {deltaY: -300, clientX: 400, clientY: 300, bubbles: true, cancelable: true}))",
    )
    after = await wait_for(
        browser,
        js("return document.getElementById('map').getAttribute('viewBox')"),
    )
    assert float(after.split()[2]) < float(before.split()[2])
    await asyncio.to_thread(
        browser.execute_script, "document.querySelector('[data-zoom=reset]').click()"
    )
    assert errors_in(browser) == []

    ARTIFACTS.mkdir(exist_ok=True)
    await asyncio.sleep(1)  # the bar's transition and the detailed outlines
    height = await asyncio.to_thread(
        browser.execute_script, "return document.documentElement.scrollHeight"
    )
    await asyncio.to_thread(browser.set_window_size, 1280, min(int(height) + 40, 4000))
    await asyncio.sleep(0.5)
    assert await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "web-page.png"))


async def test_the_map_names_the_largest_places_and_marks_the_challenge_own_area(
    services: Services, server: WebServer, browser: Any
) -> None:
    """As the chat's map picture: the challenge's own area (the Rhône) tinted and named, the
    most populous places in view named beside their dot, never over another label."""
    draft = ChallengeDraft(
        slug="tri-rhone", title="Trier dans le Rhône", action="trier", goal=100,
        deadline=services.clock.now() + timedelta(days=9), area_name="Rhône",
        area_kind=AreaKind.REGION, status=ChallengeStatus.OPEN,
    )  # fmt: skip
    challenge = await services.challenges.create(draft)
    for index in range(3):
        someone = await member(services, f"p{index}")
        await services.members.set_location(someone.id, LYON)
        await services.pledges.pledge(someone.id, challenge.id)
    await asyncio.to_thread(browser.get, f"{server.url}/c/tri-rhone")
    own = "#map path.departement.own[data-country='fr-dep:69']"
    await wait_for(browser, js(f'return document.querySelector("{own}")'))
    assert await wait_for(
        browser, js("return Number(document.getElementById('map').dataset.places)")
    )
    label = await asyncio.to_thread(
        browser.execute_script,
        "const t = document.querySelector('#map text.own');"
        " return t && t.getAttribute('visibility') !== 'hidden' && t.textContent",
    )
    assert label == "Rhône"
    names = await asyncio.to_thread(
        browser.execute_script,
        "return [...document.querySelectorAll('#map .places text')]"
        ".filter(t => t.getAttribute('visibility') !== 'hidden').map(t => t.textContent)",
    )
    assert names and "Lyon" not in names  # Lyon is the pledgers' label, named once
    assert {"Saint-Étienne", "Grenoble", "Villeurbanne"} & set(names), names
    boxes = await asyncio.to_thread(
        browser.execute_script,
        "return [...document.querySelectorAll('#map text')]"
        ".filter(t => t.getAttribute('visibility') !== 'hidden' && t.textContent)"
        ".map(t => { const b = t.getBoundingClientRect();"
        " return [b.left, b.top, b.right, b.bottom]; })",
    )
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        for a0, b0, a1, b1 in boxes[index + 1 :]:
            assert not (x0 < a1 - 1 and a0 < x1 - 1 and y0 < b1 - 1 and b0 < y1 - 1), boxes
    assert errors_in(browser) == []
    ARTIFACTS.mkdir(exist_ok=True)
    await asyncio.sleep(0.5)
    map_frame = await asyncio.to_thread(browser.find_element, "css selector", ".map-frame")
    assert await asyncio.to_thread(map_frame.screenshot, str(ARTIFACTS / "web-map-places.png"))


async def test_the_widget_renders_framed_by_another_site(
    services: Services, server: WebServer, browser: Any
) -> None:
    await open_challenge(services, goal=8)
    someone = await member(services, "zoe")
    await services.pledges.pledge(someone.id, (await services.challenges.by_slug("tri-lyon")).id)
    # A partner's page on another origin, holding the snippet the challenge page offers.
    await asyncio.to_thread(browser.get, f"{server.url}/c/tri-lyon?lang=en")
    snippet = await wait_for(
        browser, js("return document.querySelector('[data-embed]').textContent")
    )
    assert snippet.startswith(f'<iframe src="{server.url}/c/tri-lyon/widget?lang=en"')
    partner = web.Application()

    async def home(request: web.Request) -> web.Response:
        head = "<!doctype html><link rel='icon' href='data:,'>"
        body = f"{head}<body style='margin:24px;background:#eef'>{snippet}</body>"
        return web.Response(text=body, content_type="text/html")

    partner.router.add_get("/", home)
    async with TestServer(partner, host="127.0.0.1") as other:
        await asyncio.to_thread(browser.get, str(other.make_url("/")))
        frame = await wait_for(browser, js("return document.querySelector('iframe')"))
        await asyncio.to_thread(browser.switch_to.frame, frame)
        assert await wait_for(browser, lambda d: count_on_page(d) == "1")
        title = await asyncio.to_thread(browser.find_element, "css selector", ".widget-title a")
        assert title.text == "Challenge tri-lyon"
        fill = await asyncio.to_thread(
            browser.execute_script,
            "return document.querySelector('[data-bar-fill]').getBoundingClientRect().width",
        )
        assert fill > 0
        await wait_for(browser, js("return document.documentElement.scrollHeight <= 200"))
        await asyncio.to_thread(browser.switch_to.default_content)
        assert errors_in(browser) == []
        ARTIFACTS.mkdir(exist_ok=True)
        await asyncio.sleep(0.5)
        assert await asyncio.to_thread(frame.screenshot, str(ARTIFACTS / "web-widget.png"))


async def test_screenshots_of_the_page_with_its_join_section_and_of_the_share_picture(
    services: Services, server: WebServer, browser: Any
) -> None:
    await open_challenge(services, goal=1000, tiers=((500, "Acme", "plants 100 trees"),))
    challenge = await services.challenges.by_slug("tri-lyon")
    for index in range(9):
        someone = await member(services, f"p{index}")
        await services.members.set_location(someone.id, LYON)
        await services.pledges.pledge(someone.id, challenge.id)
    await asyncio.to_thread(browser.get, f"{server.url}/c/tri-lyon?lang=en")
    assert await wait_for(browser, lambda d: count_on_page(d) == "9")
    summary = await asyncio.to_thread(
        browser.execute_script, "return document.querySelector('[data-bind=summary]').textContent"
    )
    assert summary == "9 people have started — be the 10th"
    qr = await wait_for(
        browser, js("const i = document.querySelector('img.qr'); return i && i.complete && i")
    )
    assert int(qr.get_attribute("naturalWidth")) > 0  # the QR code's data URI passed the CSP
    image = await asyncio.to_thread(
        browser.execute_script,
        "return document.querySelector('meta[property=\"og:image\"]').content",
    )
    assert errors_in(browser) == []
    ARTIFACTS.mkdir(exist_ok=True)
    await asyncio.sleep(1)
    height = await asyncio.to_thread(
        browser.execute_script, "return document.documentElement.scrollHeight"
    )
    await asyncio.to_thread(browser.set_window_size, 1280, min(int(height) + 40, 4000))
    await asyncio.sleep(0.5)
    assert await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "web-join.png"))
    for url, name in (
        (image, "web-og.png"),
        (f"{server.url}/c/tri-lyon/share.png", "web-share.png"),
    ):
        await asyncio.to_thread(browser.set_window_size, 1280, 1200)
        await asyncio.to_thread(browser.get, url)
        size = await wait_for(
            browser,
            js("const i = document.querySelector('img'); return i && i.complete && i.naturalWidth"),
        )
        assert size in (1200, 1080)
        assert await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / name))


async def test_a_viewer_refused_a_live_stream_polls_the_state_instead(
    services: Services, browser: Any
) -> None:
    """With every live place taken (none at all here), the page still follows the count."""
    full = services.settings.model_copy(update={"web_max_streams": 0})
    services = Services(db=services.db, settings=full, clock=services.clock)
    await open_challenge(services, goal=8)
    web = WebServer(services, "127.0.0.1", 0, LiveConfig(poll_seconds=0.2))
    await web.start()
    try:
        await asyncio.to_thread(browser.get, f"{web.url}/c/tri-lyon")
        assert await wait_for(browser, lambda d: count_on_page(d) == "0")
        someone = await member(services, "zoe")
        challenge = await services.challenges.by_slug("tri-lyon")
        await services.pledges.pledge(someone.id, challenge.id)
        assert await wait_for(browser, lambda d: count_on_page(d) == "1", seconds=20)
        live = await asyncio.to_thread(
            browser.execute_script, "return document.querySelector('[data-live]').hidden"
        )
        assert live is True  # not shown as live: it is polled
    finally:
        await web.stop()
