"""The public web pages: the challenge page, the widget, the live state, the open data by
area (never under the minimum count, never personal data), /healthz, and bad input."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bots.web import LiveConfig, WebServer, create_app, web_server
from bots.web.app import HUB, accepted_languages
from core.clock import FakeClock
from core.db.database import Database
from core.db.tables import metadata
from core.drafts import ChallengeDraft, TierDraft
from core.models import AreaKind, ChallengeStatus, ConditionScope, Location, Visibility
from core.services import Services
from core.services.organisations import Actor, OrganisationKind
from core.settings import Settings
from tests.factories import member, open_challenge

FAST = LiveConfig(
    poll_seconds=0.02, areas_min_seconds=0, areas_max_seconds=0, keepalive_seconds=0.5
)
LYON = Location("Lyon", 45.76, 4.83, "fr:69123")
BRON = Location("Bron", 45.74, 4.91, "fr:69029")
VILLEURBANNE = Location("Villeurbanne", 45.77, 4.88, "fr:69266")
ANNECY = Location("Annecy", 45.90, 6.12, "fr:74010")
NAMES = ("Zoe", "Yan", "Xavier", "Walter", "Vera", "Ugo")
SLUG = "tri-lyon"
EVERY_PATH = (
    "/",
    f"/c/{SLUG}",
    f"/c/{SLUG}/widget",
    f"/c/{SLUG}/state.json",
    f"/c/{SLUG}/events",
    f"/c/{SLUG}/areas.csv",
    f"/c/{SLUG}/areas.geojson",
    "/outlines.geojson",
    "/healthz",
    "/static/style.css",
    "/nowhere",
)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    """The web app over the test services, on 127.0.0.1."""
    async with TestClient(TestServer(create_app(services, FAST))) as test_client:
        yield test_client


async def pledge_from(services: Services, name: str, place: Location | None, slug: str) -> int:
    """Someone pledges (through the services) from `place`; their member id."""
    someone = await member(services, name)
    if place is not None:
        await services.members.set_location(someone.id, place)
    challenge = await services.challenges.by_slug(slug)
    await services.pledges.pledge(someone.id, challenge.id)
    return someone.id


async def row_counts(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in metadata.sorted_tables
        }


async def next_event(response: aiohttp.ClientResponse) -> tuple[str, Any]:
    """The next server-sent event (name, JSON data), skipping comments and `retry`."""
    name, data = "message", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if not line:
            if data:
                return name, json.loads(data)
            continue
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


# --- the page ---------------------------------------------------------------------------


async def test_the_page_shows_the_challenge_in_french_by_default(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, tiers=((4, "Acme", "gives 1 000 € to Zero Waste Lyon"),))
    await pledge_from(services, "zoe", None, SLUG)
    response = await client.get(f"/c/{SLUG}")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert '<html lang="fr">' in page
    assert "<h1>Challenge tri-lyon</h1>" in page
    assert "sort my waste" in page  # the action
    assert "Acme" in page and "gives 1 000 € to Zero Waste Lyon" in page  # the tier
    assert 'id="count">1</strong>' in page and "personne engagée" in page
    assert 'data-bar-fill x="0" y="0" width="12.5%"' in page  # 1 of 8
    assert 'id="map"' in page and "/static/map.js?v=" in page
    assert "Dernières nouvelles" in page
    assert "t.me" not in page  # no bot configured: no bot button, but a way to join all the same
    assert 'data-button="telegram"' not in page and 'data-button="discord"' not in page
    assert "data-join" in page and "<code data-command>/start tri-lyon</code>" in page


async def test_the_page_shows_the_conditional_pledges_waiting(
    services: Services, client: TestClient[Any, Any]
) -> None:
    challenge = await open_challenge(services)
    waiter = await member(services, "waiter")
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.CHALLENGE, 3)
    await pledge_from(services, "zoe", None, SLUG)
    page = await (await client.get(f"/c/{SLUG}?lang=en")).text()
    assert (
        '<p class="waiting" data-bind="waiting_text">⏳ 1 conditional pledge waits for its '
        "condition. 2 more pledges unlock the nearest.</p>"
    ) in page
    state = await (await client.get(f"/c/{SLUG}/state.json?lang=fr")).json()
    assert state["waiting_text"].startswith("⏳ 1 engagement conditionnel attend")


async def test_the_language_comes_from_the_url_then_the_browser(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    english = await (await client.get(f"/c/{SLUG}?lang=en")).text()
    assert '<html lang="en">' in english and "Latest news" in english
    browser = await client.get(f"/c/{SLUG}", headers={"Accept-Language": "en-GB,fr;q=0.5"})
    assert '<html lang="en">' in await browser.text()
    preferred = await client.get(f"/c/{SLUG}", headers={"Accept-Language": "de, en;q=0.2, fr"})
    assert '<html lang="fr">' in await preferred.text()
    unknown = await client.get(f"/c/{SLUG}?lang=xx", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in await unknown.text()  # KOOM_DEFAULT_LOCALE


def test_accept_language_is_ranked_by_quality() -> None:
    assert accepted_languages("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == [
        "fr",
        "fr",
        "en",
        "de",
    ]
    assert accepted_languages("en;q=0.1, fr") == ["fr", "en"]
    assert accepted_languages("en;q=0, fr;q=oops") == ["fr"]  # a bad quality is ignored
    assert accepted_languages("") == []


async def test_buttons_open_the_bot_when_configured(db: Database, clock: FakeClock) -> None:
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        TELEGRAM_BOT_USERNAME="@koom_bot",
        DISCORD_INVITE_URL="https://discord.gg/koom",
    )
    services = Services(db=db, settings=settings, clock=clock)
    await open_challenge(services)
    async with TestClient(TestServer(create_app(services, FAST))) as test_client:
        page = await (await test_client.get(f"/c/{SLUG}?lang=en")).text()
    assert 'href="https://t.me/koom_bot?start=tri-lyon"' in page
    assert 'href="https://discord.gg/koom"' in page
    assert "Join on Telegram" in page and "Join on Discord" in page


async def test_user_text_is_escaped(services: Services, client: TestClient[Any, Any]) -> None:
    draft = ChallengeDraft(
        slug="xss",
        title="<script>alert('title')</script> & co",
        description='</p><img src=x onerror="alert(1)">',
        action='"><script>alert(2)</script>',
        goal=10,
        deadline=services.clock.now() + timedelta(days=10),
        tiers=[TierDraft(threshold=5, sponsor="<b>Evil</b>", reward="<i>gift</i>")],
        status=ChallengeStatus.OPEN,
    )
    await services.challenges.create(draft)
    for path in ("/c/xss", "/c/xss/widget", "/"):
        text = await (await client.get(path)).text()
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text and "<b>Evil" not in text, path
        assert "&lt;script&gt;alert(" in text, path
    state = await (await client.get("/c/xss/state.json")).json()
    assert state["title"] == "<script>alert('title')</script> & co"  # JSON, put in as text


async def test_the_widget_is_small_frameable_and_live(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    response = await client.get(f"/c/{SLUG}/widget?lang=en")
    assert response.status == 200
    page = await response.text()
    assert "data-bar" in page and 'id="count">0</strong>' in page
    assert 'href="/c/tri-lyon?lang=en" target="_blank"' in page
    assert "/static/live.js" in page and "map.js" not in page
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


async def test_security_headers(services: Services, client: TestClient[Any, Any]) -> None:
    await open_challenge(services)
    for path in ("/", f"/c/{SLUG}", f"/c/{SLUG}/state.json", "/c/nope", "/healthz"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path
    page = await (await client.get(f"/c/{SLUG}")).text()
    assert "<script>" not in page  # no inline script: every one has a src
    assert ' style="' not in page  # no inline style (the snippet's is shown escaped)


async def test_the_index_lists_open_challenges(
    services: Services, client: TestClient[Any, Any]
) -> None:
    empty = await (await client.get("/?lang=en")).text()
    assert "No challenge is open right now." in empty
    await open_challenge(services)
    await open_challenge(services, slug="velo-lyon")
    page = await (await client.get("/?lang=en")).text()
    assert 'href="/c/tri-lyon?lang=en"' in page and 'href="/c/velo-lyon?lang=en"' in page


async def test_drafts_are_not_public(services: Services, client: TestClient[Any, Any]) -> None:
    draft = ChallengeDraft(
        slug="secret",
        title="Secret draft",
        action="wait",
        goal=10,
        deadline=services.clock.now() + timedelta(days=10),
    )
    await services.challenges.create(draft)
    assert (await client.get("/c/secret")).status == 404
    assert (await client.get("/c/secret/areas.csv")).status == 404
    assert "secret" not in await (await client.get("/")).text()


# --- bad input ----------------------------------------------------------------------------


async def test_an_unknown_slug_gets_a_clear_answer_and_nothing_is_stored(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    before = await row_counts(services.db)
    response = await client.get("/c/nope")
    assert response.status == 404
    page = await response.text()
    assert "Aucun défi ne s&#x27;appelle « nope »" in page and '<html lang="fr">' in page
    english = await (await client.get("/c/nope?lang=en")).text()
    assert "There is no challenge called “nope”" in english
    data = await client.get("/c/nope/state.json?lang=en")
    assert data.status == 404 and data.content_type == "application/json"
    assert (await data.json())["error"] == "not_found"
    for path in ("widget", "events", "areas.csv", "areas.geojson"):
        assert (await client.get(f"/c/nope/{path}")).status == 404, path
    for odd in ("/c/NOPE", "/c/-x-", "/c/" + "a" * 50, "/c/%3Cscript%3E", "/c/a%20b"):
        response = await client.get(odd)
        assert response.status == 404, odd
        assert "<script>" not in await response.text()
    assert (await client.get("/nowhere")).status == 404
    assert (await client.get("/static/secrets.py")).status == 404
    assert (await client.get("/outlines.geojson?bbox=1,2,3")).status == 400
    assert (await client.get("/outlines.geojson?bbox=10,0,5,1")).status == 400
    assert await row_counts(services.db) == before
    assert client.server.app[HUB].watched() == []  # nothing kept for unknown slugs


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_only_get_and_head_are_answered(
    services: Services, client: TestClient[Any, Any], method: str
) -> None:
    await open_challenge(services)
    before = await row_counts(services.db)
    for path in EVERY_PATH:
        response = await client.request(method, path, data=b"x=1")
        assert response.status == 405, (method, path)
        assert response.headers["Allow"] == "GET, HEAD"
    assert await row_counts(services.db) == before


async def test_head_answers_like_get_without_a_body(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    for path in EVERY_PATH[:-1]:
        response = await client.head(path)
        assert response.status == 200, path
        assert await response.read() == b""


# --- open data and the map ---------------------------------------------------------------


async def test_open_data_never_shows_an_area_under_the_minimum(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=100)
    for name in NAMES[:3]:
        await pledge_from(services, name.lower(), LYON, SLUG)
    await pledge_from(services, "vera", ANNECY, SLUG)  # alone in Haute-Savoie
    response = await client.get(f"/c/{SLUG}/areas.csv")
    assert response.status == 200 and response.content_type == "text/csv"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["area"], r["label"], r["level"], r["pledgers"]) for r in rows] == [
        ("fr:69123", "Lyon", "0", "3")
    ]
    assert abs(float(rows[0]["latitude"]) - 45.76) < 0.05  # the place's centre
    assert abs(float(rows[0]["longitude"]) - 4.83) < 0.05
    geo = await client.get(f"/c/{SLUG}/areas.geojson")
    assert geo.status == 200 and geo.content_type == "application/geo+json"
    document = json.loads(await geo.read())
    assert document["type"] == "FeatureCollection" and document["min_count"] == 3
    assert [f["properties"] for f in document["features"]] == [
        {"label": "Lyon", "count": 3, "level": 0}
    ]
    assert document["features"][0]["geometry"]["type"] == "Point"
    assert "Annecy" not in await (await client.get(f"/c/{SLUG}")).text()


async def test_small_places_are_left_out_of_the_open_data(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=100)
    for name in NAMES[:2]:
        await pledge_from(services, name.lower(), VILLEURBANNE, SLUG)
    await pledge_from(services, "xavier", BRON, SLUG)
    document = json.loads(await (await client.get(f"/c/{SLUG}/areas.geojson")).read())
    assert document["features"] == []
    text = await (await client.get(f"/c/{SLUG}/areas.csv")).text()
    assert "Villeurbanne" not in text and "Bron" not in text and "Rhône" not in text


async def test_no_personal_data_in_any_answer(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=100)
    for name in NAMES:
        await pledge_from(services, name.lower(), LYON, SLUG)
    answers = []
    for path in EVERY_PATH[:-1]:
        if path.endswith("/events"):
            async with client.get(path) as stream:
                answers.append(json.dumps(await next_event(stream)))
            continue
        answers.append(await (await client.get(path)).text())
    answers.append(await (await client.get(f"/c/{SLUG}/widget?lang=en")).text())
    everything = "\n".join(answers)
    assert '"count":6' in everything
    for name in NAMES:
        assert name not in everything and f"console:{name.lower()}" not in everything, name
    state = await (await client.get(f"/c/{SLUG}/state.json")).json()
    assert "member" not in json.dumps(state)
    assert set(state) >= {"count", "goal", "percent", "tiers_unlocked", "announcements"}
    geo = json.loads(await (await client.get(f"/c/{SLUG}/areas.geojson")).read())
    assert set(geo["features"][0]["properties"]) == {"label", "count", "level"}
    assert geo["features"][0]["id"] == "fr:69123"  # the place's key, not a person's


async def test_open_data_is_cached_and_gzipped(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    first = await client.get(f"/c/{SLUG}/areas.geojson", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    again = await client.get(f"/c/{SLUG}/areas.geojson", headers={"If-None-Match": etag})
    assert again.status == 304
    await pledge_from(services, "zoe", LYON, SLUG)
    for name in ("yan", "xavier"):
        await pledge_from(services, name, LYON, SLUG)
    moved = await client.get(f"/c/{SLUG}/areas.geojson", headers={"If-None-Match": etag})
    assert moved.status == 200 and moved.headers["ETag"] != etag


async def test_outlines_for_the_map(client: TestClient[Any, Any]) -> None:
    world = await client.get("/outlines.geojson", headers={"Accept-Encoding": "gzip"})
    assert world.status == 200 and world.content_type == "application/geo+json"
    assert world.headers["Content-Encoding"] == "gzip"
    assert "max-age=86400" in world.headers["Cache-Control"]
    document = json.loads(await world.read())
    assert len(document["features"]) > 150
    assert world.content_length is not None and world.content_length < 250_000
    cached = await client.get("/outlines.geojson", headers={"If-None-Match": world.headers["ETag"]})
    assert cached.status == 304
    detail = json.loads(await (await client.get("/outlines.geojson?bbox=4.1,45.2,5.9,46.3")).read())
    assert detail["bbox"] == [0.0, 45.0, 10.0, 50.0]  # snapped to the 5° grid
    names = {f["properties"]["name"] for f in detail["features"]}
    assert "France" in names and "Brazil" not in names


async def test_place_names_for_the_map(client: TestClient[Any, Any]) -> None:
    """The largest places of the region in view, as the chat's map picture names them."""
    answer = await client.get("/places.json?bbox=4.1,45.2,5.9,46.3")
    assert answer.status == 200 and answer.content_type == "application/json"
    assert "max-age=86400" in answer.headers["Cache-Control"]
    found = (await answer.json())["places"]
    names = [place["name"] for place in found]
    # the view widened to whole degrees, 4-6° E, 45-47° N: Lyon first, no Paris
    assert names[0] == "Lyon" and "Grenoble" in names and "Paris" not in names
    populations = [place["population"] for place in found]
    assert populations == sorted(populations, reverse=True) and len(found) <= 60
    assert all(4 <= p["lon"] <= 6 and 45 <= p["lat"] <= 47 for p in found)
    again = await client.get(
        "/places.json?bbox=4.1,45.2,5.9,46.3", headers={"If-None-Match": answer.headers["ETag"]}
    )
    assert again.status == 304
    world = [p["name"] for p in (await (await client.get("/places.json")).json())["places"]]
    assert len(world) == 60 and "Lyon" not in world
    assert (await client.get("/places.json?bbox=9,9,1,1")).status == 400


async def test_the_map_marks_the_challenge_own_area(
    services: Services, client: TestClient[Any, Any]
) -> None:
    """The page's map carries the challenge's own area as the chat picture marks it: a
    commune by its centre, a département with its outline's key; none for a country."""
    for slug, name, kind in (
        ("tri-lyon", "Lyon", AreaKind.COMMUNE),
        ("tri-rhone", "Rhône", AreaKind.REGION),
        ("tri-france", "France", AreaKind.COUNTRY),
    ):
        draft = ChallengeDraft(
            slug=slug, title=f"Trier ({name})", action="trier", goal=100,
            deadline=services.clock.now() + timedelta(days=9), area_name=name, area_kind=kind,
            status=ChallengeStatus.OPEN,
        )  # fmt: skip
        await services.challenges.create(draft)
    lyon = await (await client.get("/c/tri-lyon")).text()
    assert 'data-own-name="Lyon" data-own-lat="45.7' in lyon and "data-own-key" not in lyon
    assert 'data-places-url="/places.json"' in lyon
    rhone = await (await client.get("/c/tri-rhone")).text()
    assert 'data-own-name="Rhône"' in rhone and 'data-own-key="fr-dep:69"' in rhone
    assert "data-own-" not in await (await client.get("/c/tri-france")).text()


# --- live --------------------------------------------------------------------------------


async def test_the_live_stream_sends_the_new_count_after_a_pledge(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    async with client.get(f"/c/{SLUG}/events?lang=en") as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        name, first = await next_event(stream)
        assert (
            name == "state"
            and first["count"] == 0
            and first["count_label"] == "people have pledged"
        )
        await pledge_from(services, "zoe", None, SLUG)
        name, second = await next_event(stream)
        assert name == "state" and second["count"] == 1 and second["count_text"] == "1"
        assert second["version"] > first["version"]
    polled = await (await client.get(f"/c/{SLUG}/state.json")).json()
    assert polled["count"] == 1 and polled["percent"] == 12


async def test_live_viewers_share_one_poller(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    streams = [await client.get(f"/c/{SLUG}/events") for _ in range(5)]
    try:
        for stream in streams:
            assert (await next_event(stream))[1]["count"] == 0
        hub = client.server.app[HUB]
        assert hub.watched() == [SLUG]
        watch, _ = await hub.watch(SLUG)
        assert watch._viewers == 5
        await pledge_from(services, "zoe", None, SLUG)
        for stream in streams:
            assert (await next_event(stream))[1]["count"] == 1
    finally:
        for stream in streams:
            stream.close()


async def test_announcements_and_tiers_follow_the_pledges(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, goal=8, tiers=((4, "Acme", "plants 10 trees"),))
    empty = await (await client.get(f"/c/{SLUG}/state.json?lang=en")).json()
    assert empty["announcements"] == [] and empty["tiers_unlocked"] == 0
    for name in NAMES[:4]:
        await pledge_from(services, name.lower(), None, SLUG)
    state = await (await client.get(f"/c/{SLUG}/state.json?lang=en")).json()
    assert state["tiers_unlocked"] == 1 and state["tiers"][0]["status"] == "unlocked"
    texts = [a["text"] for a in state["announcements"]]
    assert any("Acme" in text for text in texts)  # the tier unlocked
    assert len(texts) >= 2  # and the 25% and 50% milestones
    page = await (await client.get(f"/c/{SLUG}?lang=en")).text()
    assert 'class="tier unlocked"' in page and "Unlocked" in page


# --- health and serving ------------------------------------------------------------------


async def test_healthz(client: TestClient[Any, Any], tmp_path: Path, clock: FakeClock) -> None:
    response = await client.get("/healthz")
    assert response.status == 200 and await response.json() == {
        "status": "ok",
        "database": "ok",
    }
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'koom.db'}")
    settings = Settings(_env_file=None, DATABASE_URL=broken.url)
    services = Services(db=broken, settings=settings, clock=clock)
    async with TestClient(TestServer(create_app(services, FAST))) as test_client:
        down = await test_client.get("/healthz")
        assert down.status == 503 and (await down.json())["status"] == "unavailable"
    await broken.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_run_serves_the_pages_when_a_port_is_set(db: Database, clock: FakeClock) -> None:
    port = free_port()
    settings = Settings(_env_file=None, DATABASE_URL=db.url, KOOM_WEB_PORT=str(port))
    services = Services(db=db, settings=settings, clock=clock)
    async with web_server(services) as server, aiohttp.ClientSession() as http:
        assert server is not None and server.port == port
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/"):
            pass
    quiet = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=db.url), clock=clock)
    async with web_server(quiet) as none:
        assert none is None


async def test_a_stopped_server_ends_the_live_streams(services: Services) -> None:
    await open_challenge(services)
    server = WebServer(services, "127.0.0.1", 0, LiveConfig(poll_seconds=0.02))
    await server.start()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/c/{SLUG}/events") as stream,
    ):
        assert (await next_event(stream))[1]["count"] == 0
        await asyncio.wait_for(server.stop(), 5)  # does not wait for the stream to end


def test_koom_web_serves_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}",
        "KOOM_LOAD_DEMO": "true",
        "LANG": "en_US.UTF-8",
    }
    env["PYTHONPATH"] = str(Path(__file__).parent.parent)
    demo = [sys.executable, "-m", "bots.cli", "demo"]  # only `koom demo` and the chat load it
    subprocess.run(demo, cwd=tmp_path, env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "web", "--port", str(port), "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert f"http://127.0.0.1:{port}" in line, line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/c/trier-dechets-lyon") as page:
            assert "Trier mes déchets à Lyon" in page.read().decode()
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_no_answer_names_the_server_software_version(
    client: TestClient[Any, Any], services: Services
) -> None:
    await open_challenge(services, slug=SLUG)
    for path in EVERY_PATH:
        response = await client.get(path)
        assert "aiohttp" not in response.headers.get("Server", "").lower(), path
        assert "python" not in response.headers.get("Server", "").lower(), path


async def test_live_streams_are_capped_per_client_and_in_all_and_the_rest_still_answers(
    services: Services, settings: Settings
) -> None:
    """A thousand held streams made /healthz time out and starved the bots of files: past
    the caps a stream is refused at once (503, Retry-After, "poll state.json"), and the
    page, the state JSON and /healthz keep answering."""
    capped = settings.model_copy(update={"web_max_streams": 3, "web_max_streams_per_client": 2})
    services = Services(db=services.db, settings=capped, clock=services.clock)
    await open_challenge(services)
    server = WebServer(services, "127.0.0.1", 0, FAST)
    await server.start()
    events = f"{server.url}/c/{SLUG}/events"
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    try:
        async with aiohttp.ClientSession() as one, aiohttp.ClientSession(connector=other) as two:
            held = [await one.get(events) for _ in range(2)]
            for stream in held:
                assert (await next_event(stream))[1]["count"] == 0
            refused = await one.get(events)  # a third from the same address
            assert refused.status == 503
            assert int(refused.headers["Retry-After"]) > 0
            assert (await refused.json())["error"] == "busy"
            held.append(await two.get(events))  # another address: the last free place
            assert (await next_event(held[-1]))[1]["count"] == 0
            assert (await two.get(events)).status == 503  # all places taken
            for path in (f"/c/{SLUG}/state.json", "/healthz", f"/c/{SLUG}"):
                async with one.get(server.url + path) as response:
                    assert response.status == 200, path
            held[0].close()  # a viewer leaves: their place is free again
            for _ in range(100):
                again = await one.get(events)
                if again.status == 200:
                    break
                await asyncio.sleep(0.02)
            assert again.status == 200
            again.close()
            for stream in held[1:]:
                stream.close()
    finally:
        await server.stop()


async def test_private_challenges_are_never_on_the_web(
    services: Services, client: TestClient[Any, Any]
) -> None:
    admin = Actor.administrator()
    owner = await member(services, "carla")
    acme = await services.organisations.create(
        admin, "acme", "Acme", OrganisationKind.COMPANY, owner.id
    )
    staff = await open_challenge(services, slug="staff-acme")
    public = await open_challenge(services, slug="velo-acme")
    for challenge in (staff, public):
        await services.organisations.attach_challenge(admin, acme.id, challenge.id)
    await services.organisations.set_visibility(admin, staff.id, Visibility.MEMBERS)
    for name in NAMES[:4]:
        await pledge_from(services, name, LYON, "staff-acme")
    for path in ("", "/widget", "/state.json", "/events", "/areas.csv", "/areas.geojson"):
        assert (await client.get(f"/c/staff-acme{path}")).status == 404, path
    assert (await client.get("/c/staff-acme/og.png")).status == 404
    assert (await client.get("/c/staff-acme/share.png")).status == 404
    unknown = await (await client.get("/c/no-such-one?lang=en")).text()
    private = await (await client.get("/c/staff-acme?lang=en")).text()
    assert private.replace("staff-acme", "no-such-one") == unknown
    for path in ("/?lang=en", "/o/acme?lang=en"):
        page = await (await client.get(path)).text()
        assert "staff-acme" not in page and "velo-acme" in page, path
    assert "Challenges of Acme" in await (await client.get("/o/acme?lang=en")).text()
    assert (await client.get("/o/nobody")).status == 404
