"""The sponsor loop and conditional pledges on Discord, end to end through the real discord.py
client (and python-telegram-bot for the pledgers there) against the fakes: sponsors on Discord
are told, confirm with the button and post the proof (a text in the answer modal, a picture
sent in the DM without a caption); every pledger, in French or in English, on either platform,
hears each proof once in their language. `/pledgeif` runs through its modal and buttons, and
the person is told once when their condition holds, which a member speaking in the server's
channel makes happen at once."""

from __future__ import annotations

import asyncio
from typing import Any

from bots.discord.render import ANSWER
from core.delivery.fanout import fan_out
from core.i18n import Translator
from core.identity import AccountRef, Platform
from core.models import Challenge
from core.services import Services
from core.services.organisations import Actor
from tests.factories import open_challenge
from tests.fake_discord import MANAGE_GUILD, Where, user_payload
from tests.test_delivery_e2e import ALICE, CAROL, DANA, Platforms, platforms, telegram_account
from tests.test_organisations_e2e import discord_press, holding, picture

__all__ = ["platforms"]  # the fixture of test_delivery_e2e
EN, FR = Translator("en"), Translator("fr")
BETA = 43  # a French sponsor on Discord
ELISE, FRANK = 77, 78  # pledgers on Discord: Élise reads French, Frank English
PROOF = "Virement fait à Zéro Déchet Lyon : https://acme.example/recu.pdf"


async def language(services: Services, account: AccountRef, name: str, lang: str) -> int:
    """A member who chose `lang`; their id."""
    found = await services.members.ensure(account, name)
    await services.members.update(found.id, language=lang)
    return found.id


def discord_account(user_id: int) -> AccountRef:
    return AccountRef(Platform.DISCORD, str(user_id))


async def deliver(platforms: Platforms) -> None:
    """Two rounds of fan-out and sending: the second must send nothing new."""
    worker = platforms.worker()
    for _ in range(2):
        await fan_out(platforms.services)
        await worker.run_once()


async def dm_answer(platforms: Platforms, user_id: int, before: int) -> list[dict[str, Any]]:
    """The bot's messages in a member's DM after the `before` first (it answers a DM message
    on its own time)."""
    dm = platforms.discord.dm(user_id)
    for _ in range(500):
        await platforms.discord_adapter.idle()
        if len(platforms.discord.messages_in(dm.channel_id)) >= before + 2:
            break
        await asyncio.sleep(0.01)
    return platforms.discord.messages_in(dm.channel_id)[before + 1 :]


async def reached(platforms: Platforms) -> Challenge:
    """Two tiers reached by four pledgers (French and English, on Telegram and Discord),
    Acme's sponsor being Dana on Discord (English), Beta's a French account on Discord; both
    told by the worker."""
    services, bot = platforms.services, platforms.telegram_bot
    challenge = await open_challenge(
        services, goal=16, tiers=((3, "Acme", "gives 1 000 €"), (4, "Beta", "plants trees"))
    )
    acme_tier, beta_tier = challenge.tiers
    for person in (ALICE, CAROL):  # Telegram learns of their chats
        await bot.say(person, "/help")
    dana = await language(services, discord_account(DANA), "Dana", "en")
    beta = await language(services, discord_account(BETA), "Béatrice", "fr")
    await services.sponsors.attach(Actor.administrator(), acme_tier.id, dana)
    await services.sponsors.attach(Actor.administrator(), beta_tier.id, beta)
    pledgers = (
        (telegram_account(ALICE), "Alice", "fr"),
        (telegram_account(CAROL), "Carol", "en"),
        (discord_account(ELISE), "Élise", "fr"),
        (discord_account(FRANK), "Frank", "en"),
    )
    for account, name, lang in pledgers:
        pledger = await language(services, account, name, lang)
        await services.pledges.pledge(pledger, challenge.id)
    assert len(await services.sponsors.sweep()) == 2
    await deliver(platforms)
    return challenge


def kept_words(t: Translator, sponsor: str, reward: str, proof: str | None) -> str:
    title = "Challenge tri-lyon"
    if proof is None:
        return t("announce.promise_kept_picture", sponsor=sponsor, reward=reward, title=title)
    return t("announce.promise_kept", sponsor=sponsor, reward=reward, title=title, proof=proof)


async def test_discord_sponsors_confirm_and_post_proof_every_pledger_hears_it_once(
    platforms: Platforms,
) -> None:
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    challenge = await reached(platforms)
    acme_tier, beta_tier = challenge.tiers

    # Dana (English) is told, confirms with the button, answers the proof in the modal.
    dana, dm = user_payload(DANA, "Dana"), discord.dm(DANA)
    told = holding(discord.messages_in(dm.channel_id), EN("sponsor.button_confirm"))
    assert told["content"] == EN(
        "sponsor.reached",
        sponsor="Acme",
        reward="gives 1 000 €",
        title="Challenge tri-lyon",
        threshold=3,
    )
    confirmed = await discord_press(platforms, dana, dm, told, EN("sponsor.button_confirm"))
    assert confirmed[-1]["content"] == EN("sponsor.confirmed", reward="gives 1 000 €")
    asked = await discord_press(platforms, dana, dm, confirmed[-1], EN("sponsor.button_proof"))
    assert asked[-1]["content"] == EN("sponsor.ask_proof")
    opened = await discord.press(dana, dm, asked[-1], ANSWER, "en-GB")
    assert opened.modal is not None
    empty = await discord.submit(dana, dm, ANSWER, {"answer": "   "}, "en-GB")
    await platforms.discord_adapter.idle()
    assert EN("error.empty_text") in [m["content"] for m in discord.answers(empty)]
    assert (await services.challenges.get(challenge.id)).tiers[0].kept_at is None
    posted = await discord.submit(dana, dm, ANSWER, {"answer": PROOF}, "en-GB")
    await platforms.discord_adapter.idle()
    assert discord.answers(posted)[-1]["content"] == EN(
        "sponsor.proof_posted", reward="gives 1 000 €"
    )

    # Béatrice (French) confirms, then sends a picture alone in her DM.
    beta, beta_dm = user_payload(BETA, "Béatrice"), discord.dm(BETA)
    told = holding(discord.messages_in(beta_dm.channel_id), FR("sponsor.button_confirm"))
    confirmed = await discord_press(
        platforms, beta, beta_dm, told, FR("sponsor.button_confirm"), "fr"
    )
    asked = await discord_press(
        platforms, beta, beta_dm, confirmed[-1], FR("sponsor.button_proof"), "fr"
    )
    assert asked[-1]["content"] == FR("sponsor.ask_proof")
    before = len(discord.messages_in(beta_dm.channel_id))
    await discord.send_picture(beta, picture((30, 160, 60)))
    [answer] = await dm_answer(platforms, BETA, before)
    assert answer["content"] == FR("sponsor.proof_posted", reward="plants trees")
    kept = (await services.challenges.get(challenge.id)).tiers
    assert [t.proof for t in kept] == [PROOF, None] and all(t.kept_at for t in kept)
    stored = await services.sponsors.picture(beta_tier.id)
    assert stored is not None and await services.sponsors.picture(acme_tier.id) is None

    before_tg = {chat: len(telegram.sent(chat)) for chat in (ALICE.id, CAROL.id)}
    before_dc = {u: len(discord.messages_in(discord.dm(u).channel_id)) for u in (ELISE, FRANK)}
    await deliver(platforms)
    for chat, t in ((ALICE.id, FR), (CAROL.id, EN)):
        new = telegram.sent(chat)[before_tg[chat] :]
        [words] = [m.text for m in new if m.text]
        assert kept_words(t, "Acme", "gives 1 000 €", PROOF) in words
        assert kept_words(t, "Beta", "plants trees", None) in words
        [photo] = [m for m in new if m.photo is not None]
        assert photo.photo == stored
        assert photo.caption == t("announce.proof_picture", sponsor="Beta")
    for user, t in ((ELISE, FR), (FRANK, EN)):
        new = discord.messages_in(discord.dm(user).channel_id)[before_dc[user] :]
        [words] = [m["content"] for m in new if m["content"] and not m["attachments"]]
        assert kept_words(t, "Acme", "gives 1 000 €", PROOF) in words
        assert kept_words(t, "Beta", "plants trees", None) in words
        [sent] = [a for m in new for a in m["attachments"]]
        assert sent["size"] == len(stored)
    for sponsor in (DANA, BETA):  # sponsors are not pledgers: no promise kept for them
        assert not any(
            "🤝" in m["content"] for m in discord.messages_in(discord.dm(sponsor).channel_id)
        )


async def test_pledge_if_on_discord_is_activated_when_the_channel_gets_its_people(
    platforms: Platforms,
) -> None:
    """Élise (French) waits for 2 people of the server's channel: the modal refuses a word,
    the buttons offer her group, and a pledger speaking in the channel activates her pledge
    at once; she is told once, in French."""
    services, discord = platforms.services, platforms.discord
    challenge = await open_challenge(services, goal=50, tiers=())
    channel = await discord.add_guild("Lyon Climat")
    manager_where = Where(channel.channel_id, channel.guild_id, MANAGE_GUILD)
    manager, elise, frank = (
        user_payload(90, "Manon"),
        user_payload(ELISE, "Élise"),
        user_payload(FRANK, "Frank"),
    )
    await discord.slash(manager, manager_where, "follow", "fr", challenge=challenge.slug)
    await discord.slash(elise, channel, "progress", "fr", challenge=challenge.slug)
    await platforms.discord_adapter.idle()
    for user_id, name in ((90, "Manon"), (FRANK, "Frank")):
        pledger = await services.members.ensure(discord_account(user_id), name)
        await services.pledges.pledge(pledger.id, challenge.id)
    elise_id = (await services.members.ensure(discord_account(ELISE), "Élise")).id
    await services.members.update(elise_id, language="fr")

    dm = discord.dm(ELISE)
    asked = await discord.slash(elise, dm, "pledgeif", "fr", challenge=challenge.slug)
    await platforms.discord_adapter.idle()
    prompt = discord.answers(asked)[-1]
    assert prompt["content"] == FR("cond.ask_count", title="Challenge tri-lyon")
    opened = await discord.press(elise, dm, prompt, ANSWER, "fr")
    assert opened.modal is not None
    wrong = await discord.submit(elise, dm, ANSWER, {"answer": "beaucoup"}, "fr")
    await platforms.discord_adapter.idle()
    assert [m["content"] for m in discord.answers(wrong)] == [FR("cond.not_a_number")]
    scopes = await discord.submit(elise, dm, ANSWER, {"answer": "2"}, "fr")
    await platforms.discord_adapter.idle()
    offered = discord.answers(scopes)[-1]
    assert offered["content"] == FR("cond.ask_scope_among", n=2)
    group_label = FR("cond.button_group", group="Lyon Climat #general")
    labels = [c["label"] for row in offered["components"] for c in row["components"]]
    assert labels == [FR("cond.button_all"), group_label]
    noted = await discord_press(platforms, elise, dm, offered, group_label, "fr")
    texts = [m["content"] for m in noted]
    assert FR("cond.noted_among", n=2, name="Lyon Climat #general") in texts
    assert await services.pledges.get(elise_id, challenge.id) is None  # Manon: 1 of 2

    # Frank, who pledged, speaks in the channel: 2 of its people now, Élise counts at once.
    await discord.slash(frank, channel, "progress", "en-GB", challenge=challenge.slug)
    await platforms.discord_adapter.idle()
    assert await services.pledges.get(elise_id, challenge.id) is not None
    assert (await services.challenges.get(challenge.id)).pledge_count == 3

    before = len(discord.messages_in(dm.channel_id))
    await deliver(platforms)
    assert await services.conditional.sweep() == []
    await deliver(platforms)
    new = [m["content"] for m in discord.messages_in(dm.channel_id)[before:]]
    assert new == [FR("conditional.activated", title="Challenge tri-lyon")]
