"""The share picture: made after a pledge, in both sizes and languages, carrying the sharer's
referral link as text and as a QR code; and progress wording that encourages at any count."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from PIL import Image

from conversations.deeplinks import make_payload, parse_payload
from conversations.model import Capabilities
from conversations.model import Image as ImageReply
from conversations.testing import ChatHarness, choices
from core.clock import FakeClock
from core.i18n import Translator
from core.identity import AccountRef
from core.services import Services
from core.settings import Settings
from core.sharing import SQUARE, WIDE, encouragement, qr_matrix, render_share, share_card
from core.sharing.picture import ShareCard, _Frame
from tests.factories import member, open_challenge

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TELEGRAM = Capabilities(share_link_template="https://t.me/koombot?start={payload}")
EN, FR = Translator("en"), Translator("fr")


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def qr_in(image: Image.Image, link: str) -> bool:
    """Whether the picture's QR code, where the layout puts it, is the code of `link`."""
    frame = _Frame(*image.size)
    matrix = qr_matrix(link)
    modules = len(matrix)
    scale = max(1, frame.qr // modules)
    x0 = frame.width - frame.pad - modules * scale
    y0 = frame.height - frame.pad - modules * scale
    grey = image.convert("L")
    for row, line in enumerate(matrix):
        for column, dark in enumerate(line):
            value = grey.getpixel((x0 + column * scale + scale // 2, y0 + row * scale + scale // 2))
            assert isinstance(value, int)
            if (value < 128) != dark:
                return False
    return True


def images(replies: object) -> list[ImageReply]:
    assert isinstance(replies, list)
    return [reply for reply in replies if isinstance(reply, ImageReply)]


async def test_after_pledging_a_button_sends_the_share_picture_with_the_referral(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=1000, tiers=((500, "Acme", "gives €1,000"),))
    for name in ("yan", "zoe", "xavier"):
        await services.pledges.pledge((await member(services, name)).id, challenge.id)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    bob = chat.person("telegram:7", name="Bob", lang="en")
    await bob.command("/start")
    await bob.press("English")
    await bob.command("/pledge tri-lyon")
    await bob.press("Yes, I commit")
    await bob.press("Skip")
    await bob.press("No reminder")
    assert "🖼 Picture to share" in [c.label for c in choices(bob.last_replies())]
    replies = await bob.press("🖼 Picture to share")
    bob_images = images(replies)
    assert len(bob_images) == 1
    bob_member = await services.members.find(AccountRef.parse("telegram:7"))
    assert bob_member is not None
    link = f"https://t.me/koombot?start={make_payload('tri-lyon', bob_member.id)}"
    assert link in bob_images[0].caption
    square = decode(bob_images[0].data)
    assert square.size == SQUARE
    assert qr_in(square, link)
    ARTIFACTS.mkdir(exist_ok=True)
    square.save(ARTIFACTS / "share-square-en.png")
    assert parse_payload(link.rpartition("=")[2]) is not None
    wide_replies = await bob.press("Wide picture (1200×630)")
    wide = decode(images(wide_replies)[0].data)
    assert wide.size == WIDE
    assert qr_in(wide, link)
    wide.save(ARTIFACTS / "share-wide-en.png")


async def test_the_share_link_is_the_web_page_where_the_platform_has_no_link(
    db: object, settings: Settings, clock: FakeClock
) -> None:
    public = settings.model_copy(update={"public_url": "https://koom.example.org"})
    services = Services(db=db, settings=public, clock=clock)  # type: ignore[arg-type]
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    chat = ChatHarness(services)
    await chat.command("/challenge tri-lyon")
    await chat.press("Partager")
    replies = await chat.press("🖼 Image à partager")
    found = images(replies)
    link = f"https://koom.example.org/c/tri-lyon?start={make_payload('tri-lyon', alice.id)}"
    assert found and link in found[0].caption and "Publiez cette image" in found[0].caption
    assert qr_in(decode(found[0].data), link)


async def test_without_any_address_the_picture_carries_the_start_command(
    services: Services,
) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    chat = ChatHarness(services)
    await chat.command("/challenge tri-lyon")
    await chat.press("Partager")
    found = images(await chat.press("🖼 Image à partager"))
    command = f"/start {make_payload('tri-lyon', alice.id)}"
    assert command in found[0].caption
    assert qr_in(decode(found[0].data), command)


async def test_the_picture_says_who_acts_where_in_both_languages(services: Services) -> None:
    challenge = await open_challenge(services, goal=1000, tiers=((500, "Acme", "gives €1,000"),))
    for index in range(12):
        await services.pledges.pledge((await member(services, f"p{index}")).id, challenge.id)
    progress = await services.progress.of(challenge.id)
    progress = replace(progress, challenge=replace(progress.challenge, area_name="Lyon"))
    card = share_card(EN, progress, "https://t.me/koombot?start=tri-lyon", personal=True)
    assert card.headline == "I'm one of 12 acting in Lyon"
    assert card.summary == "12 people have started — be the 13th"
    assert card.next_text == "488 more and Acme gives €1,000."
    assert card.ticks == (0.5,)
    french = share_card(FR, progress, "x", personal=False)
    assert french.headline == "12 personnes agissent à Lyon"
    assert french.summary == "12 personnes ont commencé — soyez la 13ᵉ personne"
    image = decode(render_share(card, SQUARE))
    assert image.size == SQUARE and qr_in(image, card.link)


def test_encouraging_words_at_any_count() -> None:
    assert encouragement(EN, 0) == "Nobody yet: be the first!"
    assert encouragement(EN, 1) == "1 person has started — be the 2nd"
    assert encouragement(EN, 9) == "9 people have started — be the 10th"
    assert encouragement(EN, 21) == "21 people have started — be the 22nd"
    assert encouragement(EN, 12) == "12 people have started — be the 13th"
    assert encouragement(FR, 1) == "1 personne a commencé — soyez la 2ᵉ personne"
    assert encouragement(FR, 9) == "9 personnes ont commencé — soyez la 10ᵉ personne"


def test_long_titles_and_links_stay_inside_the_picture() -> None:
    card = ShareCard(
        title="Un titre vraiment très long 🚲 " * 8,
        headline="Je fais partie des 100 000 qui agissent à Saint-Rémy-en-Bouzemont",
        fraction=1.4,
        ticks=(0.25, 0.5, 0.75),
        progress_text="100 000 sur 50 000",
        summary="200 %",
        next_text="Objectif atteint : merci à toutes et à tous ! " * 4,
        link="https://koom.example.org/c/" + "a" * 40 + "?start=" + "b" * 50,
        call="Scannez pour participer",
        brand="🌱 climat-koom",
    )
    for size in (SQUARE, WIDE):
        image = decode(render_share(card, size))
        assert image.size == size and qr_in(image, card.link)
