"""A sponsor's proof as a picture: checked with Pillow, re-encoded (no metadata), kept once,
carried by every pledger's message as a picture, shown on the web page; sent as a file path
in the console. The platforms' own ways in are tested end to end in test_organisations_e2e."""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from pypdf import PdfReader

from bots.console.render import Expect, Screen, parse_line
from bots.report import report_html
from bots.web import create_app
from conversations.announcements import announcement_replies
from conversations.model import Image as ImageReply
from conversations.model import Message, PictureInput
from conversations.testing import ChatHarness
from core.delivery.fanout import fan_out
from core.delivery.worker import DeliveryWorker
from core.errors import Forbidden, Invalid
from core.i18n import Translator
from core.identity import Platform
from core.models import Challenge, Member
from core.pictures import MAX_BYTES, clean_picture
from core.report_pdf import report_pdf
from core.services import Services
from core.services.organisations import Actor
from core.services.sponsors import SponsorState
from tests.factories import member, open_challenge
from tests.test_delivery import FakeDeliverer
from tests.test_report import pdf_text
from tests.test_web import FAST


def photo(width: int = 2400, height: int = 1200, exif: bool = True) -> bytes:
    """A JPEG as a phone makes it, with a GPS position in its metadata."""
    picture = Image.new("RGB", (width, height), (20, 120, 60))
    out = io.BytesIO()
    data = Image.Exif()
    if exif:
        data[0x8825] = {1: "N", 2: (45.0, 45.0, 0.0)}  # GPSInfo
        data[0x010F] = "PhoneMaker"
    picture.save(out, "JPEG", exif=data.tobytes())
    return out.getvalue()


def loader(data: bytes) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        return data

    return load


async def reached(services: Services) -> tuple[Challenge, Member, list[Member]]:
    """A tier reached by two Telegram pledgers, with its sponsor's account."""
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "gives 1 000 €"),))
    [tier] = challenge.tiers
    acme = await member(services, "50", "telegram")
    await services.members.update(acme.id, language="en")
    await services.sponsors.attach(Actor.administrator(), tier.id, acme.id)
    pledgers = [await member(services, name, "telegram") for name in ("1", "2")]
    for pledger in pledgers:
        await services.pledges.pledge(pledger.id, challenge.id)
    return challenge, acme, pledgers


def test_pictures_are_checked_shrunk_and_lose_their_metadata() -> None:
    cleaned = clean_picture(photo())
    with Image.open(io.BytesIO(cleaned)) as picture:
        assert picture.format == "JPEG" and max(picture.size) == 1600
        assert dict(picture.getexif()) == {}
    with pytest.raises(Invalid) as not_one:
        clean_picture(b"%PDF-1.4 not a picture")
    assert not_one.value.key == "error.picture.not_a_picture"
    with pytest.raises(Invalid) as large:
        clean_picture(b"\xff" * (MAX_BYTES + 1))
    assert large.value.key == "error.picture.too_large"
    bmp = io.BytesIO()
    Image.new("RGB", (4, 4)).save(bmp, "BMP")
    with pytest.raises(Invalid):
        clean_picture(bmp.getvalue())


async def test_a_picture_proof_reaches_every_pledger_once_as_a_picture(
    services: Services,
) -> None:
    challenge, acme, _ = await reached(services)
    [tier] = challenge.tiers
    outsider = await member(services, "7", "telegram")
    with pytest.raises(Forbidden):
        await services.sponsors.post_picture(outsider.id, tier.id, photo())
    with pytest.raises(Invalid):
        await services.sponsors.post_picture(acme.id, tier.id, b"not a picture")
    assert await services.sponsors.picture(tier.id) is None

    kept = await services.sponsors.post_picture(acme.id, tier.id, photo(), "Paid on 3 April")
    assert kept.proof == "Paid on 3 April"
    [status] = await services.sponsors.statuses(challenge.id)
    assert status.state is SponsorState.KEPT and status.picture
    stored = await services.sponsors.picture(tier.id)
    assert stored is not None and stored.startswith(b"\xff\xd8")

    telegram = FakeDeliverer(Platform.TELEGRAM)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram})
    for _ in range(2):  # a second round sends nothing again
        await fan_out(services)
        await worker.run_once()
    notices = [(c.chat_id, n) for c, ns in telegram.calls for n in ns if n.kind == "promise_kept"]
    assert Counter(chat for chat, _ in notices) == {"1": 1, "2": 1, "999": 1}
    assert all(n.payload["picture"] is True for _, n in notices)
    replies = await announcement_replies(services, [notices[0][1]])
    [words, picture] = replies
    assert isinstance(words, Message) and "Paid on 3 April" in words.text
    assert isinstance(picture, ImageReply) and picture.data == stored
    assert picture.filename == "proof.jpg" and "Acme" in picture.caption
    report = report_html(await services.reports.of(challenge.id), Translator("fr"))
    assert "<p>Preuve de Acme : Paid on 3 April</p>" in report and "data:image/jpeg" in report


async def test_the_sponsor_sends_the_picture_in_the_chat(services: Services) -> None:
    challenge, _, _ = await reached(services)
    [tier] = challenge.tiers
    harness = ChatHarness(services)
    sponsor = harness.person("telegram:50", name="Acme", lang="en")
    await sponsor.command("/sponsor")
    await sponsor.press("I confirm")
    await sponsor.press("Post the proof")
    await sponsor.send(PictureInput("", loader(b"GIF89a broken")))
    assert sponsor.last_texts()[0] == (
        "This file is not a readable picture (JPEG, PNG, WebP or GIF)."
    )
    assert (await services.challenges.get(challenge.id)).tiers[0].kept_at is None
    await sponsor.send(PictureInput("", loader(photo())))  # still awaited: no caption needed
    assert "the proof is posted" in sponsor.all_text()
    kept = (await services.challenges.get(challenge.id)).tiers[0]
    assert kept.proof is None and kept.kept_at is not None  # no text: each reader's own line
    assert await services.sponsors.picture(tier.id) is not None

    other = harness.person("telegram:1", name="One", lang="en")  # a picture nobody asked for
    await other.send(PictureInput("", loader(photo())))
    assert other.last_texts() == [Translator("en")("engine.not_understood")]


async def test_the_web_page_shows_the_proof_picture(services: Services) -> None:
    challenge, acme, _ = await reached(services)
    [tier] = challenge.tiers
    async with TestClient(TestServer(create_app(services, FAST))) as client:
        path = f"/c/{challenge.slug}/proof/{tier.id}.jpg"
        assert (await client.get(path)).status == 404  # not kept yet
        await services.sponsors.post_picture(acme.id, tier.id, photo())
        state = await (await client.get(f"/c/{challenge.slug}/state.json?lang=en")).json()
        assert state["tiers"][0]["proof_picture"] == path
        page = await (await client.get(f"/c/{challenge.slug}?lang=en")).text()
        assert f'<img class="proof-picture" src="{path}" alt="The proof of Acme"' in page
        served = await client.get(path)
        assert served.status == 200 and served.content_type == "image/jpeg"
        assert await served.read() == await services.sponsors.picture(tier.id)
        assert (await client.get(f"/c/{challenge.slug}/proof/999.jpg")).status == 404


async def test_the_console_sends_a_picture_file_by_its_path(tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.JPG"
    receipt.write_bytes(photo(exif=False))
    screen = Screen(expect=Expect.TEXT)
    found: Any = parse_line(str(receipt), screen)
    assert isinstance(found, PictureInput)
    assert await found.load() == receipt.read_bytes()
    missing = parse_line(str(tmp_path / "none.jpg"), screen)
    assert not isinstance(missing, PictureInput)


async def test_a_picture_without_caption_gets_each_readers_line(services: Services) -> None:
    """No text is stored for it: the pledgers' message, the web page and the report each say,
    in the reader's language, that the proof is the picture, and show it."""
    challenge, acme, _ = await reached(services)
    [tier] = challenge.tiers
    await services.sponsors.post_picture(acme.id, tier.id, photo(), "  ")
    assert (await services.challenges.get(challenge.id)).tiers[0].proof is None
    stored = await services.sponsors.picture(tier.id)
    assert stored is not None

    telegram = FakeDeliverer(Platform.TELEGRAM)
    await fan_out(services)
    await DeliveryWorker(services, {Platform.TELEGRAM: telegram}).run_once()
    notice = next(n for _, ns in telegram.calls for n in ns if n.kind == "promise_kept")
    for locale, line in (
        ("en", "Proof: the picture below."),
        ("fr", "Preuve : la photo ci-dessous."),
    ):
        words, picture = await announcement_replies(services, [replace(notice, locale=locale)])
        assert isinstance(words, Message) and words.text.endswith(line)
        assert "None" not in words.text
        assert isinstance(picture, ImageReply) and picture.data == stored

    async with TestClient(TestServer(create_app(services, FAST))) as client:
        state = await (await client.get(f"/c/{challenge.slug}/state.json?lang=fr")).json()
        assert state["tiers"][0]["proof"] == "une photo envoyée par Acme"
        assert state["tiers"][0]["proof_url"] is None
        page = await (await client.get(f"/c/{challenge.slug}?lang=en")).text()
        assert "<span data-proof-text>a picture sent by Acme</span>" in page
        assert f'src="/c/{challenge.slug}/proof/{tier.id}.jpg"' in page

    made = await services.reports.of(challenge.id)
    assert made.pictures == {tier.id: stored}
    html = report_html(made, Translator("en"))
    assert "<p>Proof of Acme: the picture below.</p>" in html
    assert f'src="data:image/jpeg;base64,{base64.b64encode(stored).decode()}"' in html
    pdf = report_pdf(made, Translator("fr"))
    assert "Preuve de Acme : la photo ci-dessous." in pdf_text(pdf)
    assert sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages) == 1
