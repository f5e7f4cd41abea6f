"""The Discord bot end to end: the real discord.py client against the fake Discord of
`tests/fake_discord.py` on 127.0.0.1, over HTTP and the gateway websocket.

Members pledge by slash command, buttons and a select menu (in French and in English), an
organiser creates a challenge through modals, a server manager makes a channel follow a
challenge, buttons outlive a restart, forged ids and a slow database are handled, and
Discord's refusals (closed DMs, no access, rate limits, invalid bodies, interactions answered
elsewhere) are respected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from bots.discord import app
from bots.discord.app import DiscordAdapter
from bots.discord.commands import offered
from bots.discord.render import ANSWER, FORM, clip
from conversations.model import Message
from core.app import load_demo
from core.clock import FakeClock
from core.db.database import Database
from core.db.tables import groups as groups_table
from core.delivery.protocol import Outcome
from core.errors import Misconfigured
from core.i18n import Translator
from core.identity import AccountRef, ChatRef, Platform
from core.models import Challenge, Location
from core.services import Services
from core.settings import Settings
from tests.factories import open_challenge
from tests.fake_discord import (
    EPHEMERAL,
    MANAGE_GUILD,
    MEMBER,
    PRIVILEGED_INTENTS,
    TOKEN,
    FakeDiscord,
    Interaction,
    Where,
    user_payload,
)

ORGANISER_ID = 888
FR = Translator("fr")
LOCALES = {"fr": "fr", "en": "en-US"}


@dataclass
class Bot:
    """The fake Discord, the adapter connected to it, and the services behind it."""

    fake: FakeDiscord
    adapter: DiscordAdapter
    services: Services
    settings: Settings

    async def restart(self) -> None:
        """Stop the bot and start a new one on the same database (a new process would)."""
        await self.adapter.stop()
        self.adapter = DiscordAdapter(self.services, self.settings)
        await self.adapter.start()

    async def slash(
        self, user: dict[str, Any], where: Where, name: str, locale: str = "fr", **options: str
    ) -> Interaction:
        """Run a slash command and wait until the bot has answered it."""
        done = await self.fake.slash(user, where, name, locale, **options)
        await self.adapter.idle()
        return done

    async def press(
        self,
        user: dict[str, Any],
        where: Where,
        message: dict[str, Any],
        label: str,
        locale: str = "fr",
    ) -> Interaction:
        """Press the button labelled `label` (or with this custom_id) on `message`."""
        custom_id = button_id(message, label)
        done = await self.fake.press(user, where, message, custom_id, locale)
        await self.adapter.idle()
        return done

    async def choose(
        self,
        user: dict[str, Any],
        where: Where,
        message: dict[str, Any],
        label: str,
        locale: str = "fr",
    ) -> Interaction:
        """Pick the option labelled `label` in the select menu of `message`."""
        select = next(
            c for row in message["components"] for c in row["components"] if c["type"] == 3
        )
        value = next(o["value"] for o in select["options"] if o["label"] == label)
        done = await self.fake.choose(user, where, message, select["custom_id"], value, locale)
        await self.adapter.idle()
        return done

    async def submit(
        self, user: dict[str, Any], where: Where, custom_id: str, locale: str = "fr", **values: str
    ) -> Interaction:
        """Submit a modal."""
        done = await self.fake.submit(user, where, custom_id, values, locale)
        await self.adapter.idle()
        return done

    def last(self, interaction: Interaction) -> dict[str, Any]:
        """The last message the bot posted for an interaction (else the one it edited)."""
        return self.fake.messages[(interaction.message_ids or interaction.edited_ids)[-1]]

    def holding(self, interaction: Interaction, label: str) -> dict[str, Any]:
        """The message posted for an interaction that has the button `label`."""
        for message in self.fake.answers(interaction):
            if label in labels(message) or label in str(message["components"]):
                return message
        raise AssertionError(f"no button {label!r} in {self.texts(interaction)}")

    def texts(self, interaction: Interaction) -> list[str]:
        """The content of every message the bot posted or edited for an interaction."""
        ids = interaction.message_ids + interaction.edited_ids
        return [self.fake.messages[i]["content"] for i in ids if i in self.fake.messages]


def button_id(message: dict[str, Any], label: str) -> str:
    """The custom_id of the button with this label (or this custom_id) on a message."""
    for row in message["components"]:
        for component in row["components"]:
            if component["type"] == 2 and label in (
                component.get("label"),
                component.get("custom_id"),
            ):
                return str(component["custom_id"])
    raise AssertionError(f"no button {label!r} in {message['components']}")


def labels(message: dict[str, Any]) -> list[str]:
    """The labels of every button of a message."""
    return [
        c.get("label", "")
        for row in message["components"]
        for c in row["components"]
        if c["type"] == 2
    ]


def member(user_id: int, name: str) -> dict[str, Any]:
    return user_payload(user_id, name)


@pytest.fixture
async def bot(db: Database, clock: FakeClock) -> AsyncIterator[Bot]:
    """The adapter started against a fake Discord that knows one server, Lyon Climat."""
    fake = FakeDiscord()
    await fake.start()
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        KOOM_ORGANISERS=f"discord:{ORGANISER_ID}",
        KOOM_DEFAULT_LOCALE="fr",
    )
    services = Services(db=db, settings=settings, clock=clock)
    await load_demo(services, replace=False)
    bot = Bot(fake, DiscordAdapter(services, settings), services, settings)
    await bot.adapter.start()
    try:
        yield bot
    finally:
        await bot.adapter.stop()
        await fake.close()


@pytest.fixture
async def server(bot: Bot) -> Where:
    """The #general channel of a server, where members act without managing the server."""
    return await bot.fake.add_guild("Lyon Climat")


async def more_challenges(services: Services, count: int) -> list[Challenge]:
    return [await open_challenge(services, slug=f"defi-{n}", days=90) for n in range(count)]


# --- connecting -----------------------------------------------------------------------------


async def test_connects_without_privileged_intents_and_syncs_every_command(bot: Bot) -> None:
    [identify] = bot.fake.identify
    assert identify["intents"] & PRIVILEGED_INTENTS == 0
    assert bot.fake.heartbeats >= 1
    synced = {c["name"]: c for c in bot.fake.commands[None]}
    assert list(synced) == [s.name for s in offered(bot.adapter.engine.described())]
    pledge = synced["pledge"]
    assert pledge["description_localizations"]["fr"] == Translator("fr")("discord.command.pledge")
    [option] = pledge["options"]
    assert option["autocomplete"] and not option["required"]
    assert option["name_localizations"]["fr"] == "defi"
    assert synced["follow"]["default_member_permissions"] == str(MANAGE_GUILD)
    assert synced["follow"]["dm_permission"] is False
    # discord.py connects to DISCORD_GATEWAY_URL without asking; a sharded client would ask.
    _, url, _ = await bot.adapter.client.http.get_bot_gateway()
    assert url == bot.fake.gateway_url == str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_commands_go_to_one_server_when_configured(db: Database, clock: FakeClock) -> None:
    fake = FakeDiscord()
    await fake.start()
    guild = await fake.add_guild("Dev")
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DISCORD_GUILD_ID=str(guild.guild_id),
    )
    adapter = DiscordAdapter(Services(db=db, settings=settings, clock=clock), settings)
    try:
        await adapter.start()
        assert list(fake.commands) == [guild.guild_id]
    finally:
        await adapter.stop()
        await fake.close()


async def test_a_wrong_token_is_refused_at_start(db: Database, clock: FakeClock) -> None:
    fake = FakeDiscord(token="the-real-one")
    await fake.start()
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
    )
    adapter = DiscordAdapter(Services(db=db, settings=settings, clock=clock), settings)
    try:
        with pytest.raises(Misconfigured) as refused:
            await adapter.start()
        assert refused.value.key == "operations.error.discord_token"
    finally:
        await fake.close()


async def test_the_bot_resumes_when_the_gateway_drops_it(bot: Bot) -> None:
    assert bot.fake.socket is not None
    await bot.fake.socket.close(code=4000)  # "unknown error": discord.py resumes
    for _ in range(500):
        if bot.fake.resumes:
            break
        await asyncio.sleep(0.01)
    assert bot.fake.resumes == 1 and len(bot.fake.identify) == 1
    helped = await bot.slash(member(42, "Alice"), bot.fake.dm(42), "help")
    assert Translator("fr")("start.help") in bot.texts(helped)


async def test_the_fake_refuses_what_discord_refuses(bot: Bot, server: Where) -> None:
    channel = bot.adapter.client.get_partial_messageable(server.channel_id)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    view = discord.ui.View()
    for label in ("a", "b"):
        view.add_item(discord.ui.Button(label=label, custom_id="same"))
    with pytest.raises(discord.HTTPException) as twice:
        await channel.send("rows", view=view)
    assert twice.value.code == 50035


# --- a member's journey ---------------------------------------------------------------------


DEMO_TEXTS = {
    "fr": ("Trier mes déchets à Lyon", "trier mes déchets"),
    "en": ("Sort my waste in Lyon", "sort my waste"),
}
"""The demo challenge's title and action in each language."""


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_full_pledge_by_command_select_and_buttons(bot: Bot, lang: str) -> None:
    t, locale = Translator(lang), LOCALES[lang]
    await more_challenges(bot.services, 5)
    alice = member(42, "Alice")
    dm = bot.fake.dm(42)

    listing = await bot.slash(alice, dm, "challenges", locale)
    [page] = bot.fake.answers(listing)
    assert page["content"].startswith(t("browse.title", page=1, pages=2))
    [select_row, nav_row] = page["components"]
    [select] = select_row["components"]
    assert select["type"] == 3 and len(select["options"]) == 5
    assert nav_row["components"][0]["type"] == 2  # the next page stays a button

    title, action = DEMO_TEXTS[lang]
    card = await bot.choose(alice, dm, page, title, locale)
    card_message = bot.last(card)
    assert title in card_message["content"]
    confirm = await bot.press(alice, dm, card_message, t("browse.button_pledge"), locale)
    assert bot.texts(confirm) == [t("pledge.confirm", action=action, title=title)]
    consent = await bot.press(alice, dm, bot.last(confirm), t("pledge.button_yes"), locale)
    thanks = t("pledge.thanks", name="Alice", action=action)
    assert bot.texts(consent) == [thanks, t("pledge.location_consent")]
    reminder = await bot.press(alice, dm, bot.last(consent), t("pledge.button_skip"), locale)
    assert bot.texts(reminder) == [t("pledge.ask_reminder")]
    share = await bot.press(alice, dm, bot.last(reminder), t("pledge.reminder_none"), locale)
    [text] = bot.texts(share)
    assert "/start trier-dechets-lyon_" in text  # what to type in the bot's DMs to join

    demo = await bot.services.challenges.by_slug("trier-dechets-lyon")
    assert demo.pledge_count == 1
    account = AccountRef(Platform.DISCORD, "42")
    alice_member = await bot.services.members.find(account)
    assert alice_member is not None and alice_member.display_name == "Alice"


async def test_autocomplete_offers_matching_challenges(bot: Bot) -> None:
    await more_challenges(bot.services, 30)
    alice = member(42, "Alice")
    everything = await bot.fake.autocomplete(alice, bot.fake.dm(42), "pledge", "challenge", "")
    assert len(everything) == 25
    found = await bot.fake.autocomplete(alice, bot.fake.dm(42), "pledge", "challenge", "TRIER")
    assert found == [{"name": "Trier mes déchets à Lyon", "value": "trier-dechets-lyon"}]


async def test_paging_replaces_the_message_in_place(bot: Bot) -> None:
    await more_challenges(bot.services, 5)
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    listing = await bot.slash(alice, dm, "challenges")
    [page] = bot.fake.answers(listing)
    following = await bot.press(alice, dm, page, "browse:page:1")
    assert following.ack_type == 6
    assert following.edited_ids == [int(page["id"])]
    assert bot.fake.messages[int(page["id"])]["content"].startswith(
        Translator("fr")("browse.title", page=2, pages=2)
    )


async def test_a_typed_dm_answers_a_request_for_a_place(bot: Bot) -> None:
    t = Translator("fr")
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    confirm = await bot.slash(alice, dm, "pledge", challenge="trier-dechets-lyon")
    consent = await bot.press(alice, dm, bot.last(confirm), t("pledge.button_yes"))
    ask = await bot.press(alice, dm, bot.last(consent), t("pledge.button_give_location"))
    prompt = bot.last(ask)
    assert prompt["content"] == t("pledge.ask_place_typed")  # no position to share here
    assert labels(prompt) == [t("discord.answer"), t("pledge.button_skip")]
    before = len(bot.fake.messages_in(dm.channel_id))
    await bot.fake.type(alice, "Villeurbanne")
    await asyncio.sleep(0)  # the message reaches the bot through the gateway
    await wait_for_messages(bot, dm.channel_id, before + 3)  # the typed one, two answers
    texts = [m["content"] for m in bot.fake.messages_in(dm.channel_id)[before + 1 :]]
    assert texts == [t("pledge.place_saved", place="Villeurbanne"), t("pledge.ask_reminder")]


async def test_a_request_for_text_is_answered_in_a_modal(bot: Bot) -> None:
    t = Translator("fr")
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    confirm = await bot.slash(alice, dm, "pledge", challenge="trier-dechets-lyon")
    consent = await bot.press(alice, dm, bot.last(confirm), t("pledge.button_yes"))
    ask = await bot.press(alice, dm, bot.last(consent), t("pledge.button_give_location"))
    opened = await bot.press(alice, dm, bot.last(ask), ANSWER)
    assert opened.ack_type == 9 and opened.modal is not None
    assert opened.modal["title"] == t("discord.answer")
    [[field]] = [row["components"] for row in opened.modal["components"]]
    assert field["placeholder"] == clip(t("pledge.ask_place_typed").replace("\n", " "), 100)
    answered = await bot.submit(alice, dm, ANSWER, answer="Villeurbanne")
    assert bot.texts(answered) == [
        t("pledge.place_saved", place="Villeurbanne"),
        t("pledge.ask_reminder"),
    ]


async def wait_for_messages(bot: Bot, channel_id: int, count: int) -> None:
    """Wait until a channel holds `count` messages (the bot answers DMs on its own time)."""
    for _ in range(500):
        await bot.adapter.idle()
        if len(bot.fake.messages_in(channel_id)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{channel_id} has {len(bot.fake.messages_in(channel_id))} messages")


# --- servers ----------------------------------------------------------------------------------


async def test_personal_commands_answer_privately_in_a_server(bot: Bot, server: Where) -> None:
    alice = member(42, "Alice")
    asked = await bot.slash(alice, server, "pledge", challenge="trier-dechets-lyon")
    [answer] = bot.fake.answers(asked)
    assert answer["flags"] & EPHEMERAL  # seen by Alice alone, so the personal flow runs here
    demo = await bot.services.challenges.by_slug("trier-dechets-lyon")
    assert answer["content"] == Translator("fr")(
        "pledge.confirm", action=demo.action, title=demo.title
    )
    listing = await bot.slash(alice, server, "challenges")
    assert all(m["flags"] & EPHEMERAL for m in bot.fake.answers(listing))


async def test_a_server_manager_sets_the_channels_language(bot: Bot, server: Where) -> None:
    en = Translator("en")
    manager_here = Where(server.channel_id, server.guild_id, MEMBER | MANAGE_GUILD)
    bob, carol = member(7, "Bob"), member(8, "Carol")
    refused = await bot.slash(carol, server, "language", "en-GB")
    [refusal] = bot.fake.answers(refused)
    assert refusal["content"] == en("group.language_admin_only")
    assert refusal["flags"] & EPHEMERAL
    asked = await bot.slash(bob, manager_here, "language", "fr")
    chosen = await bot.press(bob, manager_here, bot.last(asked), "English")
    assert bot.texts(chosen) == [en("group.language_set")]
    channel = ChatRef(Platform.DISCORD, str(server.channel_id), is_group=True)
    found = await bot.services.groups.find(channel)
    assert found is not None and found.language == "en"


async def test_a_server_manager_makes_a_channel_follow_a_challenge(bot: Bot, server: Where) -> None:
    t = Translator("fr")
    manager_here = Where(server.channel_id, server.guild_id, MEMBER | MANAGE_GUILD)
    bob, carol = member(7, "Bob"), member(8, "Carol")
    demo = await bot.services.challenges.by_slug("trier-dechets-lyon")

    refused = await bot.slash(carol, server, "follow", challenge="trier-dechets-lyon")
    assert bot.texts(refused) == [t("group.admin_only")]
    [refusal] = bot.fake.answers(refused)
    assert refusal["flags"] & EPHEMERAL  # told to Carol alone, not to the channel
    assert await bot.services.groups.followers(demo.id) == []

    followed = await bot.slash(bob, manager_here, "follow", challenge="trier-dechets-lyon")
    [answer] = bot.fake.answers(followed)
    assert answer["content"] == t("group.followed", title=demo.title)
    assert not answer["flags"] & EPHEMERAL  # said to the channel
    [group] = await bot.services.groups.followers(demo.id)
    assert group.chat_id == str(server.channel_id)
    assert group.title == "Lyon Climat #general"

    progress = await bot.slash(carol, server, "progress", challenge="trier-dechets-lyon")
    [card] = bot.fake.answers(progress)
    assert not card["flags"] & EPHEMERAL and demo.title in card["content"]
    assert "/start" not in card["content"]  # no /start on Discord: /pledge works right here
    assert t("group.pledge_here", command="/pledge trier-dechets-lyon") in card["content"]

    channel = ChatRef(Platform.DISCORD, str(server.channel_id), is_group=True)
    sent = await bot.adapter.send(channel, [Message("🎉 @everyone 500 engagements !")], FR)
    assert sent.outcome is Outcome.SENT
    assert (
        bot.fake.messages_in(server.channel_id)[-1]["content"] == "🎉 @everyone 500 engagements !"
    )
    assert all(body["allowed_mentions"] == {"parse": []} for body in bot.fake.bodies)


async def unreachable(services: Services, chat: ChatRef) -> bool:
    """Whether a registered group is marked out of reach."""
    group = await services.groups.find(chat)
    assert group is not None
    async with services.db.read() as conn:
        query = groups_table.select().where(groups_table.c.id == group.id)
        return (await conn.execute(query)).one().unreachable_at is not None


async def test_a_followed_channel_out_of_reach_is_gone(bot: Bot, server: Where) -> None:
    manager_here = Where(server.channel_id, server.guild_id, MEMBER | MANAGE_GUILD)
    await bot.slash(member(7, "Bob"), manager_here, "follow", challenge="trier-dechets-lyon")
    bot.fake.forbidden_channels.add(server.channel_id)
    channel = ChatRef(Platform.DISCORD, str(server.channel_id), is_group=True)
    sent = await bot.adapter.send(channel, [Message("Étape franchie")], FR)
    assert sent.outcome is Outcome.GONE
    assert not await unreachable(bot.services, channel)  # the delivery worker marks it


async def test_leaving_a_server_marks_its_channels_out_of_reach(bot: Bot, server: Where) -> None:
    manager_here = Where(server.channel_id, server.guild_id, MEMBER | MANAGE_GUILD)
    await bot.slash(member(7, "Bob"), manager_here, "follow", challenge="trier-dechets-lyon")
    channel = ChatRef(Platform.DISCORD, str(server.channel_id), is_group=True)
    assert not await unreachable(bot.services, channel)
    await bot.fake.remove_guild(server)
    for _ in range(500):  # the event reaches the bot through the gateway
        await bot.adapter.idle()
        if await unreachable(bot.services, channel):
            break
        await asyncio.sleep(0.01)
    assert await unreachable(bot.services, channel)


# --- organisers -------------------------------------------------------------------------------


async def test_an_organiser_creates_a_challenge_through_modals(bot: Bot) -> None:
    t = Translator("fr")
    orga, dm = member(ORGANISER_ID, "Orga"), bot.fake.dm(ORGANISER_ID)
    new = await bot.slash(orga, dm, "new")
    invitation = bot.last(new)
    assert invitation["content"] == t("organiser.new.form_title")
    opened = await bot.press(orga, dm, invitation, FORM)
    assert opened.ack_type == 9 and opened.modal is not None
    fields = [row["components"][0]["custom_id"] for row in opened.modal["components"]]
    assert fields == ["title", "action", "description", "goal", "deadline"]

    details = await bot.submit(
        orga,
        dm,
        FORM,
        title="Lyon trie ses déchets",
        action="trier mes déchets",
        description="",
        goal="1000",
        deadline="30/06/2026",
    )
    area = bot.last(details)
    assert t("organiser.new.area_prompt") in bot.texts(details)
    frequency = await bot.press(orga, dm, area, t("engine.form_skip"))
    tier_prompt = await bot.press(orga, dm, bot.last(frequency), t("organiser.frequency.once"))
    assert t("organiser.new.tier_prompt") in bot.texts(tier_prompt)
    opened = await bot.press(orga, dm, bot.holding(tier_prompt, ANSWER), ANSWER)
    assert opened.ack_type == 9
    added = await bot.submit(orga, dm, ANSWER, answer="500 ; Acme ; donne 1 000 € à Zéro Déchet")
    done = t("organiser.new.tiers_done")
    impact = await bot.press(orga, dm, bot.holding(added, done), done)
    await bot.press(orga, dm, bot.last(impact), t("engine.form_skip"))

    [draft] = [
        c for c in await bot.services.challenges.list_all() if c.title.startswith("Lyon trie")
    ]
    assert draft.goal == 1000 and [tier.sponsor for tier in draft.tiers] == ["Acme"]


async def test_a_form_with_mistakes_is_offered_again(bot: Bot) -> None:
    t = Translator("fr")
    orga, dm = member(ORGANISER_ID, "Orga"), bot.fake.dm(ORGANISER_ID)
    await bot.slash(orga, dm, "new")
    wrong = await bot.submit(
        orga,
        dm,
        FORM,
        title="Lyon trie",
        action="trier",
        description="",
        goal="zéro",
        deadline="hier",
    )
    again = bot.last(wrong)
    assert again["content"] == t("organiser.new.fix_title")
    opened = await bot.press(orga, dm, again, FORM)
    assert opened.modal is not None
    assert [row["components"][0]["custom_id"] for row in opened.modal["components"]] == [
        "goal",
        "deadline",
    ]


async def test_someone_else_is_refused_the_organiser_commands(bot: Bot, server: Where) -> None:
    """Discord lists every command to everyone (no per-person menu as on Telegram): the
    organisers' commands refuse anyone else, in their language and to them alone, and /help
    names those commands to organisers only."""
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    refused = await bot.slash(alice, dm, "new")
    assert bot.texts(refused) == [Translator("fr")("error.not_organiser")]
    en = Translator("en")
    for name in ("new", "manage", "broadcast"):
        refused = await bot.slash(alice, server, name, "en-GB")
        [answer] = bot.fake.answers(refused)
        assert answer["content"] == en("error.not_organiser")
        assert answer["flags"] & EPHEMERAL  # not posted to the channel
    helped = "\n".join(bot.texts(await bot.slash(alice, dm, "help", "en-GB")))
    assert "/challenges" in helped and "/new" not in helped
    orga = member(ORGANISER_ID, "Orga")
    helped = "\n".join(bot.texts(await bot.slash(orga, bot.fake.dm(ORGANISER_ID), "help", "en-GB")))
    assert en("start.help_organiser") in helped


async def test_a_form_button_with_no_form_awaited_says_so(bot: Bot) -> None:
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    old = bot.fake.bot_message(dm.channel_id, "?", [button("Formulaire", FORM)])
    pressed = await bot.press(alice, dm, old, FORM)
    assert pressed.ack_type == 4  # answered at once, as a modal would have been
    assert bot.texts(pressed) == [Translator("fr")("engine.stale_choice")]


async def test_a_form_too_slow_to_read_is_not_risked(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    orga, dm = member(ORGANISER_ID, "Orga"), bot.fake.dm(ORGANISER_ID)
    invitation = bot.last(await bot.slash(orga, dm, "new"))
    load = bot.adapter.engine.store.load

    async def slow_load(key: Any) -> Any:
        await asyncio.sleep(1)
        return await load(key)

    monkeypatch.setattr(app, "FORM_BUDGET", 0.1)
    monkeypatch.setattr(bot.adapter.engine.store, "load", slow_load)
    pressed = await bot.press(orga, dm, invitation, FORM)
    assert pressed.ack_type == 4  # a note at once rather than a modal too late
    assert bot.texts(pressed) == [Translator("fr")("discord.busy")]


def button(label: str, custom_id: str) -> dict[str, Any]:
    """An action row with one button, as Discord sends it in a message."""
    return {
        "type": 1,
        "components": [{"type": 2, "style": 2, "label": label, "custom_id": custom_id}],
    }


# --- robustness -------------------------------------------------------------------------------


async def test_buttons_keep_working_after_a_restart(bot: Bot) -> None:
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    listing = await bot.slash(alice, dm, "challenges")
    [page] = bot.fake.answers(listing)
    await bot.restart()
    card = await bot.press(alice, dm, page, "Trier mes déchets à Lyon")
    assert "Trier mes déchets à Lyon" in bot.texts(card)[0]
    assert Translator("fr")("browse.button_pledge") in labels(bot.last(card))


async def test_forged_ids_change_nothing(bot: Bot) -> None:
    t = Translator("fr")
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    demo = await bot.services.challenges.by_slug("trier-dechets-lyon")
    forged = bot.fake.bot_message(
        dm.channel_id,
        "?",
        [
            button("a", f"pledge:remind:{demo.id}:none"),
            button("b", "x" * 100),
            button("c", "~nothing"),
            {
                "type": 1,
                "components": [
                    {
                        "type": 3,
                        "custom_id": "~pick.0",
                        "options": [{"label": "d", "value": f"pledge:yes:{demo.id}"}],
                    }
                ],
            },
        ],
    )
    for label in ("a", "b", "c"):
        pressed = await bot.press(alice, dm, forged, label)
        assert bot.texts(pressed) == [t("engine.stale_choice")]
    picked = await bot.choose(alice, dm, forged, "d")
    assert bot.texts(picked) == [t("engine.stale_choice")]
    assert (await bot.services.challenges.get(demo.id)).pledge_count == 0


class SlowMembers:
    """The member service, slowed down: every lookup takes longer than Discord waits."""

    def __init__(self, members: Any, delay: float) -> None:
        self._members = members
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._members, name)

    async def find(self, account: AccountRef) -> Any:
        await asyncio.sleep(self._delay)
        return await self._members.find(account)


async def test_a_slow_database_answer_is_still_acknowledged_in_time(bot: Bot) -> None:
    bot.services.members = SlowMembers(bot.services.members, 3.2)  # type: ignore[assignment]
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    slow = await bot.slash(alice, dm, "mypledges")
    assert slow.ack_seconds < 3.0  # Discord's limit: the fake refuses a later answer
    assert slow.ack_type == 5
    assert bot.texts(slow) == [Translator("fr")("mine.none")]


async def test_closed_dms_are_gone_and_not_retried(bot: Bot) -> None:
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    await bot.slash(alice, dm, "mypledges")
    bot.fake.closed_dms.add(42)
    private = ChatRef(Platform.DISCORD, "42")
    sent = await bot.adapter.send(private, [Message("⏰ C'est l'heure de trier !")], FR)
    assert sent.outcome is Outcome.GONE
    posts = [
        r for r in bot.fake.requests if r == ("POST", f"/api/v10/channels/{dm.channel_id}/messages")
    ]
    assert len(posts) == 1  # refused for good: not retried

    account = AccountRef(Platform.DISCORD, "42")
    await bot.services.members.set_reachable(account, False)  # as the delivery worker does
    bot.fake.closed_dms.clear()
    await bot.slash(alice, dm, "start")  # back in the bot's DMs
    assert await bot.services.members.is_reachable(account)


async def test_an_unknown_channel_is_gone_and_a_refused_body_retried(
    bot: Bot, server: Where
) -> None:
    channel = ChatRef(Platform.DISCORD, str(server.channel_id), is_group=True)
    path = f"/api/v10/channels/{server.channel_id}/messages"
    bot.fake.fail("POST", path, 400, 50035, "Invalid Form Body")
    refused = await bot.adapter.send(channel, [Message("x")], FR)
    assert refused.outcome is Outcome.FAILED  # tried again a few times, not as transient
    assert "Invalid Form Body" in refused.detail
    unknown = ChatRef(Platform.DISCORD, "123456789", is_group=True)
    assert (await bot.adapter.send(unknown, [Message("x")], FR)).outcome is Outcome.GONE


async def test_rate_limits_are_waited_out(bot: Bot, server: Where) -> None:
    path = f"/api/v10/channels/{server.channel_id}/messages"
    bot.fake.fail("POST", path, 429, 0, "You are being rate limited.", retry_after=0.05)
    channel = ChatRef(Platform.DISCORD, str(server.channel_id), is_group=True)
    sent = await bot.adapter.send(channel, [Message("x" * 4500)], FR)
    assert sent.outcome is Outcome.SENT
    sent_messages = bot.fake.messages_in(server.channel_id)
    assert [len(m["content"]) for m in sent_messages] == [2000, 2000, 500]
    assert bot.fake.requests.count(("POST", path)) == 4


async def test_a_dm_reply_refused_with_429s_is_waited_out_and_arrives(bot: Bot) -> None:
    """discord.py gives up on a 429 after 5 tries: the reply then waits as Discord asked and
    is tried again, instead of an apology."""
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    path = f"/api/v10/channels/{dm.channel_id}/messages"
    bot.fake.fail("POST", path, 429, 0, "You are being rate limited.", times=6, retry_after=0.05)
    await bot.fake.type(alice, "/help")
    await asyncio.sleep(0)  # the message reaches the bot through the gateway
    await wait_for_messages(bot, dm.channel_id, 2)  # the typed one, the answer
    [_, answer] = bot.fake.messages_in(dm.channel_id)
    assert answer["content"].startswith(FR("start.help").split("\n")[0])
    assert bot.fake.requests.count(("POST", path)) == 7  # 5 by discord.py, then 2 more


async def test_a_dm_reply_is_apologised_for_only_when_it_really_fails(bot: Bot) -> None:
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    path = f"/api/v10/channels/{dm.channel_id}/messages"
    sorry = FR("engine.internal_error")
    bot.fake.fail("POST", path, 400, 50035, "Invalid Form Body")
    await bot.fake.type(alice, "/help")
    await asyncio.sleep(0)
    await wait_for_messages(bot, dm.channel_id, 2)
    assert [m["content"] for m in bot.fake.messages_in(dm.channel_id)][1:] == [sorry]
    assert bot.fake.requests.count(("POST", path)) == 2  # refused for good: not retried

    bot.adapter.reply_deadline = 0.5  # shorter than the 1 s that Discord asks to wait
    bot.fake.fail("POST", path, 429, 0, "You are being rate limited.", times=5, retry_after=0.05)
    await bot.fake.type(alice, "/help")
    await asyncio.sleep(0)
    await wait_for_messages(bot, dm.channel_id, 4)
    assert [m["content"] for m in bot.fake.messages_in(dm.channel_id)][3:] == [sorry]
    assert bot.fake.requests.count(("POST", path)) == 2 + 5 + 1


async def test_an_error_is_logged_and_answered_with_an_apology(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    bot.fake.fail("POST", r"/webhooks/", 400, 50035, "Invalid Form Body")
    with caplog.at_level(logging.ERROR, logger="bots.discord"):
        failed = await bot.slash(alice, dm, "help", "en-GB")
    assert bot.texts(failed) == [Translator("en")("engine.internal_error")]
    assert "failed" in caplog.text
    working = await bot.slash(alice, dm, "help")
    assert Translator("fr")("start.help") in bot.texts(working)


async def test_an_interaction_acknowledged_elsewhere_is_left_alone(bot: Bot) -> None:
    alice, dm = member(42, "Alice"), bot.fake.dm(42)
    first = await bot.slash(alice, dm, "help")
    answered = list(first.message_ids)
    again = await bot.fake.interact(
        alice, dm, 2, first.payload["data"], interaction_id=first.id, token=first.token
    )
    await bot.adapter.idle()
    assert again.attempts == 2
    assert again.message_ids == answered  # 40060: another process answers it


async def test_map_is_a_picture_in_dms_and_in_a_channel(bot: Bot, server: Where) -> None:
    demo = await bot.services.challenges.by_slug("trier-dechets-lyon")
    for i in range(3):  # three pledgers in Lyon: enough to be shown
        pledger = await bot.services.members.ensure(AccountRef.parse(f"console:l{i}"), f"L{i}")
        lyon = Location("Lyon", 45.76, 4.83, "fr:69123")
        await bot.services.members.set_location(pledger.id, lyon)
        await bot.services.pledges.pledge(pledger.id, demo.id)
    alice = member(42, "Alice")
    for where in (bot.fake.dm(42), server):
        shown = await bot.slash(alice, where, "map", challenge="trier-dechets-lyon")
        files = [a for m in bot.fake.answers(shown) for a in m["attachments"]]
        assert files and files[0]["filename"].endswith(".png")
