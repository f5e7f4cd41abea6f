"""Each person in their own language, through the real clients and the fakes: a member who
never answered the language question hears their app's language in everything the bot sends
later (broadcasts with their STOP line, announcements, reminders), and the organiser's preview
counts them in it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from core.app import load_demo
from core.delivery.fanout import fan_out
from core.i18n import Translator
from core.identity import AccountRef, Platform
from core.models import Challenge
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests import fake_discord
from tests.factories import open_challenge
from tests.fake_discord import FakeDiscord, Where
from tests.fake_telegram import FakeTelegram, Person
from tests.test_delivery_e2e import Platforms, pledge
from tests.test_delivery_e2e import platforms as both_platforms
from tests.test_telegram_e2e import fake as fake_telegram
from tests.test_telegram_e2e import running, telegram_settings

platforms = both_platforms
fake = fake_telegram
"""Both fakes and both adapters (the fixture of the delivery tests)."""

EMMA = Person(7, "Emma", "en")
ALICE = Person(1, "Alice", "fr")
SAM = 77  # on Discord, whose client is in English
en, fr = Translator("en"), Translator("fr")


def button(message: dict[str, Any], label: str) -> str:
    return next(
        c["custom_id"]
        for row in message["components"]
        for c in row["components"]
        if c.get("label") == label
    )


async def pledge_on_discord(discord: FakeDiscord, platforms: Platforms, slug: str) -> Where:
    """Sam pledges with /pledge in DMs, from an English client, and never sees /start."""
    sam, dm = fake_discord.user_payload(SAM, "Sam"), discord.dm(SAM)
    step = await discord.slash(sam, dm, "pledge", locale="en-US", challenge=slug)
    await platforms.discord_adapter.idle()
    for label in ("pledge.button_yes", "pledge.button_skip", "pledge.reminder_daily"):
        message = discord.messages[(step.message_ids or step.edited_ids)[-1]]
        step = await discord.press(sam, dm, message, button(message, en(label)), locale="en-US")
        await platforms.discord_adapter.idle()
    return dm


async def deliver_all(platforms: Platforms) -> None:
    await fan_out(platforms.services)
    worker = platforms.worker()
    while await worker.run_once():
        pass


async def test_members_who_never_chose_hear_their_apps_language_in_everything_sent_later(
    platforms: Platforms,
) -> None:
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    bot = platforms.telegram_bot
    challenge = await open_challenge(services, slug="velo-lyon", goal=12, tiers=())

    await bot.say(EMMA, "/pledge velo-lyon")  # no /start, so no language question
    await bot.press(EMMA, en("pledge.button_yes"))
    await bot.press(EMMA, en("pledge.button_skip"))
    await bot.press(EMMA, en("pledge.reminder_daily"))
    dm = await pledge_on_discord(discord, platforms, "velo-lyon")
    await bot.say(ALICE, "/help")
    await pledge(services, AccountRef(Platform.TELEGRAM, str(ALICE.id)), "Alice", challenge)

    # In Discord DMs, typed words have no locale: the stored one answers them.
    sam = fake_discord.user_payload(SAM, "Sam")
    before = len(discord.messages_in(dm.channel_id))
    await discord.type(sam, "hello")
    for _ in range(500):  # the bot answers DMs on its own time
        await platforms.discord_adapter.idle()
        if len(discord.messages_in(dm.channel_id)) == before + 2:
            break
        await asyncio.sleep(0.01)
    [typed, answer] = discord.messages_in(dm.channel_id)[before:]
    assert (typed["content"], answer["content"]) == ("hello", en("engine.not_understood"))

    # 3 of 12 pledges: the 25 % milestone, announced to each pledger in their language.
    await deliver_all(platforms)
    emma_news = telegram.texts(EMMA.id)[-1]
    assert "25" in emma_news and emma_news == en(
        "announce.milestone", percent=25, title=challenge.title, count=3, goal=12
    )
    [sam_news] = [m["content"] for m in discord.messages_in(dm.channel_id) if "25" in m["content"]]
    assert sam_news == emma_news

    draft = await services.broadcasts.create(
        None, {Audience.PLEDGERS}, "See you Saturday!", challenge.id
    )
    assert await services.broadcasts.audience_size(draft.id) == {"en": 2, "fr": 1}
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()
    await deliver_all(platforms)
    for text in (telegram.texts(EMMA.id)[-1], discord.messages_in(dm.channel_id)[-1]["content"]):
        assert "See you Saturday!" in text and text.endswith(en("broadcast.footer_stop"))
    assert telegram.texts(ALICE.id)[-1].endswith(fr("broadcast.footer_stop"))

    platforms.clock.set(platforms.clock.now().replace(hour=17, minute=0))  # 18:00 in Paris
    assert await services.reminders.sweep() == 2
    await deliver_all(platforms)
    reminder = bot.last_with(EMMA.id, en("reminder.button_done"))
    assert reminder.text == en(
        "reminder.text_daily", title=challenge.title, action=challenge.action
    )
    [sam_reminder] = [
        m
        for m in discord.messages_in(dm.channel_id)
        if en("reminder.button_done") in str(m["components"])
    ]
    assert sam_reminder["content"] == reminder.text


async def test_a_pledge_is_made_at_yes_and_its_reminder_choice_is_its_own(
    platforms: Platforms,
) -> None:
    """Emma pledges twice on Telegram: daily reminders for the first, none for the second,
    which leaves the first one's alone; Sam stops on Discord at the place question and has
    pledged all the same."""
    services, discord, bot = platforms.services, platforms.discord, platforms.telegram_bot
    first = await open_challenge(services, slug="velo-lyon", goal=100, tiers=())
    second = await open_challenge(services, slug="tri-lyon", goal=100, tiers=())

    for challenge, reminder in ((first, "pledge.reminder_daily"), (second, "pledge.reminder_none")):
        await bot.say(EMMA, f"/pledge {challenge.slug}")
        await bot.press(EMMA, en("pledge.button_yes"))
        await bot.press(EMMA, en("pledge.button_skip"))
        await bot.press(EMMA, en(reminder))
    emma = await services.members.find(AccountRef(Platform.TELEGRAM, str(EMMA.id)))
    assert emma is not None
    assert await services.reminders.due_at(emma.id, first.id) is not None
    assert not await services.reminders.is_paused(emma.id, first.id)
    assert await services.reminders.is_paused(emma.id, second.id)
    assert await services.reminders.due_at(emma.id, second.id) is None

    sam, dm = fake_discord.user_payload(SAM, "Sam"), discord.dm(SAM)
    confirm = await discord.slash(sam, dm, "pledge", locale="en-US", challenge="velo-lyon")
    await platforms.discord_adapter.idle()
    message = discord.messages[confirm.message_ids[-1]]
    yes = await discord.press(sam, dm, message, button(message, en("pledge.button_yes")), "en-US")
    await platforms.discord_adapter.idle()
    assert en("pledge.location_consent") in [m["content"] for m in discord.answers(yes)]
    member = await services.members.find(AccountRef(Platform.DISCORD, str(SAM)))
    assert member is not None
    pledge_row = await services.pledges.get(member.id, first.id)
    assert pledge_row is not None and pledge_row.active  # no answer to the place question
    assert (await services.challenges.get(first.id)).pledge_count == 2


async def test_weekly_reminders_for_a_second_pledge_leave_the_first_one_daily(
    platforms: Platforms,
) -> None:
    """Emma picks daily reminders for her first pledge on Telegram and weekly ones for her
    second: over eight days the first reminds her every day, the second on Monday only."""
    services, telegram, bot = platforms.services, platforms.telegram, platforms.telegram_bot
    velo = await open_challenge(services, slug="velo-lyon", goal=100, tiers=(), days=60)
    tri = await open_challenge(services, slug="tri-lyon", goal=100, tiers=(), days=60)
    for challenge, reminder in ((velo, "pledge.reminder_daily"), (tri, "pledge.reminder_weekly")):
        await bot.say(EMMA, f"/pledge {challenge.slug}")
        await bot.press(EMMA, en("pledge.button_yes"))
        await bot.press(EMMA, en("pledge.button_skip"))
        await bot.press(EMMA, en(reminder))
    await bot.say(EMMA, "/mypledges")
    listing = telegram.texts(EMMA.id)[-1]
    assert en("rhythm.daily", time="6:00\u202fPM") in listing
    assert en("rhythm.weekly", day="Monday", time="6:00\u202fPM") in listing

    for _ in range(8):  # from Tuesday 10 March, at 18:00 in Paris
        platforms.clock.set(platforms.clock.now().replace(hour=17, minute=0))
        await services.reminders.sweep()
        await deliver_all(platforms)
        platforms.clock.advance(timedelta(days=1))

    def reminded(challenge: Challenge) -> int:
        text = en("reminder.text_daily", title=challenge.title, action=challenge.action)
        return telegram.texts(EMMA.id).count(text)

    assert (reminded(velo), reminded(tri)) == (8, 1)


async def test_announcements_come_once_and_in_order(platforms: Platforms) -> None:
    """Emma's pledge crosses 25 %: her thanks say it and no announcement repeats it, while
    Alice hears it. Then Dave crosses 50 % before the news went out, and Zoe pledges
    later still: she hears the 50 % alone, never the older 25 % after it."""
    services, telegram, bot = platforms.services, platforms.telegram, platforms.telegram_bot
    challenge = await open_challenge(services, slug="velo-lyon", goal=8, tiers=())
    zoe = Person(9, "Zoe", "en")
    for person in (ALICE, zoe):
        await bot.say(person, "/help")
    await pledge(services, AccountRef(Platform.TELEGRAM, str(ALICE.id)), "Alice", challenge)

    await bot.say(EMMA, "/pledge velo-lyon")
    thanks = await bot.press(EMMA, en("pledge.button_yes"))
    assert en("pledge.milestone", percent=25) in thanks
    told = len(telegram.sent(EMMA.id))
    platforms.clock.advance(timedelta(minutes=1))
    await pledge(services, AccountRef(Platform.TELEGRAM, "20"), "Dan", challenge)
    await pledge(services, AccountRef(Platform.TELEGRAM, "21"), "Dave", challenge)  # 4/8

    platforms.clock.advance(timedelta(minutes=1))
    await bot.say(zoe, "/pledge velo-lyon")
    await bot.press(zoe, en("pledge.button_yes"))
    heard_before = len(telegram.sent(zoe.id))
    await deliver_all(platforms)

    def milestone(percent: int, count: int, lang: Translator) -> str:
        return lang(
            "announce.milestone", percent=percent, title=challenge.title, count=count, goal=8
        )

    assert telegram.texts(zoe.id)[heard_before:] == [milestone(50, 4, en)]
    assert telegram.texts(EMMA.id)[told:] == [milestone(50, 4, en)]
    alice_news = telegram.texts(ALICE.id)[1:]  # after her /help answer
    assert alice_news == ["\n\n".join((milestone(25, 2, fr), milestone(50, 4, fr)))]


async def test_a_sticker_photo_file_or_contact_where_an_answer_is_awaited_gets_the_hint(
    platforms: Platforms,
) -> None:
    services, telegram, bot = platforms.services, platforms.telegram, platforms.telegram_bot
    await open_challenge(services, slug="velo-lyon", goal=100, tiers=())
    await bot.say(EMMA, "/pledge velo-lyon")
    await bot.press(EMMA, en("pledge.button_yes"))
    await bot.press(EMMA, en("pledge.button_give_location"))
    for kind in ("sticker", "photo", "document", "contact"):
        answer = await bot.send(telegram.attachment(EMMA, kind))
        assert answer[0].text == en("place.ask_again"), kind
        assert [b["text"] for b in answer[-1].buttons] == [en("pledge.button_skip")]
    emma = await services.members.find(AccountRef(Platform.TELEGRAM, str(EMMA.id)))
    assert emma is not None and emma.location is None  # nothing changed
    await bot.say(EMMA, "Villeurbanne")
    found = await services.members.get(emma.id)
    assert found.location is not None and found.location.name == "Villeurbanne"


async def test_a_sharer_hears_who_joined_through_their_link_at_most_daily(
    platforms: Platforms,
) -> None:
    services, telegram, bot = platforms.services, platforms.telegram, platforms.telegram_bot
    challenge = await open_challenge(services, slug="velo-lyon", goal=100, tiers=())
    await bot.say(EMMA, "/pledge velo-lyon")
    await bot.press(EMMA, en("pledge.button_yes"))
    emma = await services.members.find(AccountRef(Platform.TELEGRAM, str(EMMA.id)))
    assert emma is not None

    async def joins(external_id: str) -> None:
        joiner = await services.members.ensure(AccountRef(Platform.TELEGRAM, external_id), "J")
        await services.pledges.pledge(joiner.id, challenge.id, referrer_id=emma.id)

    async def news() -> list[str]:
        before = len(telegram.sent(EMMA.id))
        assert await services.referrals.sweep() in (0, 1)
        await deliver_all(platforms)
        return telegram.texts(EMMA.id)[before:]

    await joins("31")
    await joins("32")
    assert await news() == [en.plural("people.referral_joined", 2)]  # both in one message
    await joins("33")
    assert await news() == []  # told less than a day ago
    platforms.clock.advance(timedelta(days=1))
    assert await news() == [en.plural("people.referral_joined", 1)]
    assert await news() == []  # each joiner once

    await bot.say(EMMA, "/mypledges")
    assert en.plural("people.referrals_total", 3) in telegram.texts(EMMA.id)[-1]


async def test_new_survives_a_refresh_press_on_telegram(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    """An organiser on Telegram sends a broadcast, starts /new, answers the title, presses
    the broadcast panel's Refresh, and /new still takes the next answer."""
    orga = Person(999, "Orga", "fr")
    await load_demo(services, replace=False)
    async with running(services, telegram_settings(settings, fake), fake) as bot:
        demo = await services.challenges.by_slug("trier-dechets-lyon")
        await bot.say(orga, "/broadcast")
        await bot.press(orga, fr("broadcast.audience.pledgers"))
        await bot.press(orga, demo.title[:20])
        await bot.press(orga, fr("broadcast.button_next"))
        await bot.say(orga, "Rendez-vous samedi !")
        await bot.press(orga, fr("broadcast.button_now"))
        bot.last_with(orga.id, fr("broadcast.button_refresh"))

        await bot.say(orga, "/new")
        assert await bot.say(orga, "Lyon composte") == fr("organiser.label.action")
        refreshed = await bot.press(orga, fr("broadcast.button_refresh"))
        assert fr("engine.stale_choice") not in refreshed
        answer = await bot.say(orga, "composter mes biodéchets")
        assert fr("organiser.label.description") in answer  # /new went on
