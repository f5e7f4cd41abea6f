"""The web page of an organisation's challenge: the organisation's header (name, logo served
only from KOOM_ORG_LOGO_DIR, colour as a CSS variable, contact, privacy link) instead of the
deployment's footer; each tier's sponsor status (promised, reached, confirmed, kept, with the
proof), on the page, in the live state and its stream. Checked by parsing the HTML."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bots.web import create_app
from bots.web.logos import MAX_BYTES
from bots.web.views import organisation_site, theme_css
from core.services import Services
from core.services.organisations import Actor, Organisation, OrganisationKind
from core.settings import Settings
from tests.factories import member, open_challenge
from tests.test_web import FAST, next_event, pledge_from

SLUG = "tri-lyon"


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.text = tag, attrs, ""


class Page(HTMLParser):
    """Every element with its attributes and the text directly inside it, in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in ("img", "link", "meta", "br", "input", "line", "rect"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str, **attrs: str | None) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag
            and all(e.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def having(self, attribute: str) -> list[Element]:
        return [e for e in self.elements if attribute in e.attrs]


def png(size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def logos(tmp_path: Path) -> Path:
    folder = tmp_path / "logos"
    folder.mkdir()
    (folder / "lyon.png").write_bytes(png())
    (tmp_path / "secret.png").write_bytes(png())
    (folder / "notes.png").write_text("not a picture")
    (folder / "huge.png").write_bytes(png() + b"\0" * MAX_BYTES)
    (folder / "out.png").symlink_to(tmp_path / "secret.png")
    return folder


@pytest.fixture
async def client(
    services: Services, settings: Settings, logos: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    """The web app with a deployment footer and a logo folder."""
    configured = settings.model_copy(
        update={
            "org_logo_dir": logos,
            "web_operator": "Koom Deployment",
            "web_contact": "ops@koom.example",
        }
    )
    web_services = dataclasses.replace(services, settings=configured)
    async with TestClient(TestServer(create_app(web_services, FAST))) as test_client:
        yield test_client


async def lyon(services: Services, **header: str | None) -> Organisation:
    admin = Actor.administrator()
    owner = await member(services, "carla")
    organisation = await services.organisations.create(
        admin, "lyon", "Ville de Lyon", OrganisationKind.CITY, owner.id, **header
    )
    challenge = await services.challenges.by_slug(SLUG)
    await services.organisations.attach_challenge(admin, organisation.id, challenge.id)
    return organisation


async def test_an_organisations_page_shows_its_header_instead_of_the_deployments(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services, slug="public")
    await open_challenge(services)
    await lyon(
        services,
        logo_file="lyon.png",
        colour="#12AB34",
        contact="mairie@lyon.example",
        privacy_url="https://lyon.example/privacy",
    )
    page = Page(await (await client.get(f"/c/{SLUG}?lang=en")).text())
    [header] = page.find("section", class_="org-header")
    assert header.attrs["data-org"] == "lyon"
    assert "A challenge of Ville de Lyon" in header.text
    [logo] = page.find("img", class_="org-logo")
    assert logo.attrs["src"] == "/org/lyon/logo" and logo.attrs["alt"] == "Logo of Ville de Lyon"
    [theme] = [e for e in page.find("link", rel="stylesheet") if "/org/" in (e.attrs["href"] or "")]
    assert theme.attrs["href"] == "/org/lyon/theme.css?v=12ab34"
    [footer] = page.find("footer", class_="footer")
    assert "Run by Ville de Lyon" in footer.text and "Koom Deployment" not in footer.text
    links = {e.text: e.attrs["href"] for e in page.find("a") if e.attrs.get("rel") == "noopener"}
    assert links["Contact"] == "mailto:mairie@lyon.example"
    assert links["Privacy"] == "https://lyon.example/privacy"
    [body] = page.find("body")
    assert body.attrs["class"] == "org-page"

    css = await client.get(theme.attrs["href"] or "")
    assert css.status == 200 and css.content_type == "text/css"
    assert await css.text() == ":root { --org-colour: #12ab34; }\n"
    served = await client.get("/org/lyon/logo")
    assert served.status == 200 and served.content_type == "image/png"
    assert await served.read() == png()

    other = Page(await (await client.get("/c/public?lang=en")).text())
    assert other.find("section", class_="org-header") == []
    [footer] = other.find("footer", class_="footer")
    assert "Run by Koom Deployment" in footer.text


@pytest.mark.parametrize("name", ["../secret.png", "out.png", "notes.png", "huge.png", "none.png"])
async def test_a_logo_outside_the_folder_or_not_a_picture_is_never_served(
    services: Services, client: TestClient[Any, Any], logos: Path, name: str
) -> None:
    await open_challenge(services)
    await lyon(services, logo_file=name)
    assert (logos.parent / "secret.png").exists()
    response = await client.get("/org/lyon/logo")
    assert response.status == 404
    assert (await response.read()) != png()


async def test_unknown_or_malformed_organisations_have_no_logo_or_theme(
    services: Services, client: TestClient[Any, Any]
) -> None:
    await open_challenge(services)
    await lyon(services)  # neither logo nor colour
    for path in ("/org/lyon/logo", "/org/lyon/theme.css", "/org/nobody/logo", "/org/..%2F/logo"):
        assert (await client.get(path)).status == 404, path


def test_colour_and_privacy_link_cannot_inject() -> None:
    forged = Organisation(
        1,
        "x",
        "X",
        OrganisationKind.CITY,
        colour="#fff;}body{display:none",
        privacy_url="javascript:alert(1)",
    )
    assert theme_css(forged) == b""
    assert organisation_site(forged).privacy_url is None
    assert theme_css(dataclasses.replace(forged, colour="#A1b2C3")) == (
        b":root { --org-colour: #a1b2c3; }\n"
    )


async def test_each_sponsor_shows_its_status_and_the_proof_live(
    services: Services, client: TestClient[Any, Any]
) -> None:
    challenge = await open_challenge(
        services,
        goal=20,
        tiers=(
            (2, "Acme", "gives 1 000 €"),
            (3, "Beta", "plants trees"),
            (4, "Gamma", "offers bikes"),
            (6, "Delta", "pays a party"),
        ),
    )
    acme, beta, gamma, _ = challenge.tiers
    admin = Actor.administrator()
    sponsors = {}
    for tier, name in ((acme, "acme"), (beta, "beta"), (gamma, "gamma")):
        sponsors[name] = await member(services, name)
        await services.sponsors.attach(admin, tier.id, sponsors[name].id)
    for name in ("zoe", "yan", "xavier", "walter"):
        await pledge_from(services, name, None, SLUG)
    await services.sponsors.confirm(sponsors["beta"].id, beta.id)

    async with client.get(f"/c/{SLUG}/events?lang=en") as stream:
        _, first = await next_event(stream)
        states = [(t["sponsor"], t["sponsor_state"]) for t in first["tiers"]]
        assert states == [
            ("Acme", "reached"),
            ("Beta", "confirmed"),
            ("Gamma", "reached"),
            ("Delta", "promised"),
        ]
        assert first["tiers"][0]["proof"] is None
        proof = "Paid to Zero Waste: https://acme.example/receipt."
        await services.sponsors.post_proof(sponsors["acme"].id, acme.id, proof)
        _, second = await next_event(stream)
        kept = second["tiers"][0]
        assert kept["sponsor_state"] == "kept"
        assert kept["sponsor_state_text"] == "Acme: promise kept"
        assert (kept["proof"], kept["proof_url"]) == (proof, "https://acme.example/receipt")

    page = Page(await (await client.get(f"/c/{SLUG}?lang=fr")).text())
    shown = {
        e.attrs["data-tier"]: e.attrs["class"] for e in page.having("data-tier") if e.tag == "li"
    }
    assert len(shown) == 4
    words = [e.text for e in page.having("data-sponsor-state")]
    assert words == [
        "Acme : promesse tenue",
        "Beta : engagement confirmé",
        "Gamma : palier atteint, confirmation attendue",
        "Delta : promis",
    ]
    classes = [e.attrs["class"] for e in page.having("data-sponsor-state")]
    assert classes == [
        "sponsor-state kept",
        "sponsor-state confirmed",
        "sponsor-state reached",
        "sponsor-state promised",
    ]
    proofs = page.having("data-proof")
    assert ["hidden" in p.attrs for p in proofs] == [False, True, True, True]
    assert "Paid to Zero Waste" in proofs[0].text
    [link] = page.having("data-proof-link")
    assert link.attrs["href"] == "https://acme.example/receipt"
