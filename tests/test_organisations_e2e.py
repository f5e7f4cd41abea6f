"""Organisations and sponsors end to end, through the real python-telegram-bot and discord.py
clients against the fakes: a sponsor is told on Telegram, confirms and posts proof with the
buttons, and every pledger (Telegram and Discord) hears the proof once; two organisations'
owners each reach only their own staff and challenges."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from PIL import Image

from core.delivery.fanout import fan_out
from core.i18n import Translator
from core.identity import AccountRef, Platform
from core.services.organisations import Actor, OrganisationKind, Role
from tests.factories import open_challenge
from tests.fake_discord import Where, user_payload
from tests.test_delivery_e2e import (
    ALICE,
    BOB,
    CAROL,
    DANA,
    Platforms,
    platforms,
    pledge,
    telegram_account,
)
from tests.test_discord_e2e import button_id
from tests.test_report import pdf_text

__all__ = ["platforms"]  # the fixture of test_delivery_e2e
PROOF = "Paid to the Zero Waste association: https://acme.example/receipt.jpg"


async def test_a_sponsor_is_told_confirms_and_posts_proof_every_pledger_hears_once(
    platforms: Platforms,
) -> None:
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    bot = platforms.telegram_bot
    challenge = await open_challenge(services, goal=16, tiers=((3, "Acme", "gives 1 000 €"),))
    [tier] = challenge.tiers
    for person in (ALICE, BOB, CAROL):
        await bot.say(person, "/help")
    dm: Where = discord.dm(DANA)
    acme = await services.members.ensure(telegram_account(BOB), "Bob")
    await services.members.update(acme.id, language="en")
    await services.sponsors.attach(Actor.administrator(), tier.id, acme.id)
    await pledge(services, telegram_account(ALICE), "Alice", challenge)
    await pledge(services, telegram_account(CAROL), "Carol", challenge)
    await pledge(services, AccountRef(Platform.DISCORD, str(DANA)), "Dana", challenge)
    assert len(await services.sponsors.sweep()) == 1
    await fan_out(services)
    worker = platforms.worker()
    await worker.run_once()

    told = bot.last_with(BOB.id, "I confirm")
    assert told.text is not None and "the tier of Acme is reached" in told.text
    assert "confirmed" in await bot.press(BOB, "I confirm")
    assert "proof" in await bot.press(BOB, "Post the proof")
    assert "the proof is posted" in await bot.say(BOB, PROOF)

    before = {chat: len(telegram.texts(chat)) for chat in (ALICE.id, CAROL.id)}
    for _ in range(2):  # a second round sends nothing again
        await fan_out(services)
        await worker.run_once()
    for chat in (ALICE.id, CAROL.id):
        new = telegram.texts(chat)[before[chat] :]
        assert [PROOF in text for text in new] == [True]
    assert sum(PROOF in m["content"] for m in discord.messages_in(dm.channel_id)) == 1
    assert not any(PROOF in text for text in telegram.texts(BOB.id)[:-1])  # not a pledger


async def test_two_organisations_owners_reach_only_their_own(platforms: Platforms) -> None:
    services, bot = platforms.services, platforms.telegram_bot
    admin = Actor.administrator()
    alice = await services.members.ensure(telegram_account(ALICE), "Alice")
    carol = await services.members.ensure(telegram_account(CAROL), "Carol")
    city = await services.organisations.create(
        admin, "lyon", "Ville de Lyon", OrganisationKind.CITY, alice.id
    )
    company = await services.organisations.create(
        admin, "acme", "Acme", OrganisationKind.COMPANY, carol.id
    )
    lyon = await open_challenge(services, slug="tri-lyon")
    staff = await open_challenge(services, slug="velo-acme")
    await services.organisations.attach_challenge(admin, city.id, lyon.id)
    await services.organisations.attach_challenge(admin, company.id, staff.id)

    shown = await bot.say(ALICE, "/org")
    assert "Ville de Lyon" in shown and "Acme" not in shown
    challenges = await bot.press(ALICE, "Défis")
    assert "Challenge tri-lyon" in challenges and "velo-acme" not in challenges
    invite = await bot.press(ALICE, "Inviter un organisateur")
    code = invite.split("/org join ")[1].split()[0]

    shown = await bot.say(CAROL, "/org")
    assert "Acme" in shown and "Ville de Lyon" not in shown
    challenges = await bot.press(CAROL, "Challenges")
    assert "Challenge velo-acme" in challenges and "tri-lyon" not in challenges
    # Bob joins Lyon with Alice's code: Lyon's staff, still nothing of Acme's.
    assert "Ville de Lyon" in await bot.say(BOB, f"/org join {code}")
    staff_list = await bot.say(BOB, "/org")
    assert "Acme" not in staff_list
    assert [s.display_name for s in await services.organisations.staff(admin, company.id)] == [
        "Carol"
    ]


async def test_staff_manage_only_their_organisation_on_both_platforms(
    platforms: Platforms,
) -> None:
    services, bot = platforms.services, platforms.telegram_bot
    discord, adapter = platforms.discord, platforms.discord_adapter
    admin = Actor.administrator()
    alice = await services.members.ensure(telegram_account(ALICE), "Alice")
    dana = await services.members.ensure(AccountRef(Platform.DISCORD, str(DANA)), "Dana")
    city = await services.organisations.create(
        admin, "lyon", "Ville de Lyon", OrganisationKind.CITY, alice.id
    )
    company = await services.organisations.create(
        admin, "acme", "Acme", OrganisationKind.COMPANY, dana.id
    )
    lyon = await open_challenge(services, slug="tri-lyon")
    staff = await open_challenge(services, slug="velo-acme")
    await services.organisations.attach_challenge(admin, city.id, lyon.id)
    await services.organisations.attach_challenge(admin, company.id, staff.id)

    listed = await bot.say(ALICE, "/manage")
    assert "Challenge tri-lyon" in listed and "velo-acme" not in listed
    refused = await bot.say(ALICE, "/manage velo-acme")
    assert refused == Translator("fr")("error.org.not_allowed")
    assert "velo-acme" not in await bot.say(ALICE, "/broadcast")
    assert Translator("en")("error.not_organiser") in await bot.say(BOB, "/manage")

    dm = discord.dm(DANA)
    done = await discord.slash(user_payload(DANA, "Dana"), dm, "manage", "en-GB")
    await adapter.idle()
    shown = " ".join(m["content"] for m in discord.answers(done))
    buttons = [
        c.get("label", "")
        for m in discord.answers(done)
        for r in m["components"]
        for c in r["components"]
    ]
    assert "Challenge velo-acme" in shown + " ".join(buttons)
    assert "tri-lyon" not in shown + " ".join(buttons)
    done = await discord.slash(
        user_payload(DANA, "Dana"), dm, "manage", "en-GB", challenge="tri-lyon"
    )
    await adapter.idle()
    assert [m["content"] for m in discord.answers(done)] == [
        Translator("en")("error.org.not_allowed")
    ]


async def test_sponsors_post_a_picture_and_every_pledger_gets_it_once(
    platforms: Platforms,
) -> None:
    """A sponsor on Telegram sends a photo, another on Discord an attachment: each pledger,
    on either platform, receives each picture once, as a picture."""
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    bot, adapter = platforms.telegram_bot, platforms.discord_adapter
    challenge = await open_challenge(
        services, goal=16, tiers=((2, "Acme", "gives 1 000 €"), (3, "Beta", "plants trees"))
    )
    acme_tier, beta_tier = challenge.tiers
    for person in (ALICE, BOB, CAROL):
        await bot.say(person, "/help")
    dm: Where = discord.dm(DANA)
    acme = await services.members.ensure(telegram_account(BOB), "Bob")
    beta = await services.members.ensure(AccountRef(Platform.DISCORD, str(DANA)), "Dana")
    for sponsor in (acme, beta):
        await services.members.update(sponsor.id, language="en")
    await services.sponsors.attach(Actor.administrator(), acme_tier.id, acme.id)
    await services.sponsors.attach(Actor.administrator(), beta_tier.id, beta.id)
    await pledge(services, telegram_account(ALICE), "Alice", challenge)
    await pledge(services, telegram_account(CAROL), "Carol", challenge)
    await pledge(services, AccountRef(Platform.DISCORD, "77"), "Eve", challenge)
    await services.sponsors.sweep()
    await fan_out(services)
    worker = platforms.worker()
    await worker.run_once()

    await bot.press(BOB, "Post the proof")
    posted = await bot.send(telegram.photo(BOB, picture((200, 30, 30)), "Paid, receipt"))
    assert any("the proof is posted" in (m.text or "") for m in posted)

    told = [m for m in discord.messages_in(dm.channel_id) if m["components"]]
    pressed = await discord.press(
        user_payload(DANA, "Dana"), dm, told[-1], button_id(told[-1], "Post the proof"), "en-GB"
    )
    await adapter.idle()
    assert "proof" in " ".join(m["content"] for m in discord.answers(pressed))
    before = len(discord.messages_in(dm.channel_id))
    await discord.send_picture(user_payload(DANA, "Dana"), picture((30, 30, 200)))
    for _ in range(500):  # the bot answers DMs on its own time
        await adapter.idle()
        if len(discord.messages_in(dm.channel_id)) >= before + 2:
            break
        await asyncio.sleep(0.01)
    assert "the proof is posted" in discord.messages_in(dm.channel_id)[-1]["content"]

    stored = [await services.sponsors.picture(t.id) for t in challenge.tiers]
    assert all(stored)
    for _ in range(2):  # a second round sends nothing again
        await fan_out(services)
        await worker.run_once()
    for chat in (ALICE.id, CAROL.id):
        photos = [m.photo for m in telegram.sent(chat) if m.photo is not None]
        assert sorted(photos) == sorted(stored), chat
    eve = discord.dm(77)
    sizes = [a["size"] for m in discord.messages_in(eve.channel_id) for a in m["attachments"]]
    assert sorted(sizes) == sorted(len(s or b"") for s in stored)
    assert not any(m.photo for m in telegram.sent(BOB.id))  # the sponsor is not a pledger


def picture(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


async def discord_press(
    platforms: Platforms,
    user: dict[str, Any],
    where: Where,
    message: dict[str, Any],
    label: str,
    locale: str = "en-GB",
) -> list[dict[str, Any]]:
    """`user` presses `label` on a Discord message; the messages the bot posted for it."""
    custom_id = button_id(message, label)
    done = await platforms.discord.press(user, where, message, custom_id, locale)
    await platforms.discord_adapter.idle()
    return platforms.discord.answers(done)


def holding(messages: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """The message that shows the button `label`."""
    for message in messages:
        if label in str(message["components"]):
            return message
    raise AssertionError(f"no button {label!r} in {[m['content'] for m in messages]}")


async def test_organisers_get_the_pdf_report_as_a_document_on_both_platforms(
    platforms: Platforms,
) -> None:
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    bot = platforms.telegram_bot
    admin = Actor.administrator()
    challenge = await open_challenge(services, slug="tri-lyon", goal=10)
    alice = await services.members.ensure(telegram_account(ALICE), "Alice")
    dana = await services.members.ensure(AccountRef(Platform.DISCORD, str(DANA)), "Dana")
    city = await services.organisations.create(
        admin, "lyon", "Ville de Lyon", OrganisationKind.CITY, alice.id
    )
    await services.organisations.set_role(admin, city.id, dana.id, Role.ORGANISER)
    await services.organisations.attach_challenge(admin, city.id, challenge.id)

    await bot.say(ALICE, "/manage tri-lyon")
    await bot.press(ALICE, "Rapport (PDF)")
    sent = telegram.sent(ALICE.id)[-1]
    assert sent.document is not None and sent.caption is not None
    assert sent.caption.startswith("Rapport de « Challenge tri-lyon »")
    assert "0 engagements pour un objectif de 10" in pdf_text(sent.document)

    dm: Where = discord.dm(DANA)
    user = user_payload(DANA, "Dana")
    shown = await discord.slash(user, dm, "manage", locale="en-GB", challenge="tri-lyon")
    await platforms.discord_adapter.idle()
    panel = holding(discord.answers(shown), "Report (PDF)")
    answers = await discord_press(platforms, user, dm, panel, "Report (PDF)")
    files = [a for m in answers for a in m["attachments"]]
    assert [f["filename"] for f in files] == ["tri-lyon-report.pdf"]
    assert files[0]["size"] > 1000
    assert any(m["content"].startswith("Report of “Challenge tri-lyon”") for m in answers)
