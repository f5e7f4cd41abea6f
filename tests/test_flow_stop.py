""" "STOP" sent alone in a private chat silences everything the bot sends on its own, queued
messages included, whatever the conversation awaited; its Undo button brings it all back, even
from a later session. Anywhere else, or inside a sentence, the word means nothing special."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select

from conversations.model import End, Message
from conversations.testing import ChatHarness, Person, choices
from core.clock import FakeClock
from core.db.tables import conversations, deliveries
from core.i18n import Translator
from core.identity import AccountRef, ChatRef, Platform
from core.models import Member
from core.services import Services
from tests.factories import open_challenge

LANGS = pytest.mark.parametrize("lang", ["fr", "en"])
BOB = AccountRef.parse("telegram:42")


async def me(services: Services, account: AccountRef = BOB) -> Member:
    found = await services.members.find(account)
    assert found is not None
    return found


async def bob_with_a_reminder(services: Services, chat: ChatHarness, lang: str) -> Person:
    """Telegram Bob, pledged with daily reminders, and one announcement queued for him."""
    bob = chat.person(str(BOB), name="Bob", lang=lang)
    await bob.command("/settings")
    member = await me(services)
    challenge = await open_challenge(services)
    await services.members.update(member.id, reminder="daily")
    await services.pledges.pledge(member.id, challenge.id)
    await services.reminders.schedule(member.id, challenge.id)
    now = services.clock.now()
    async with services.db.write() as conn:
        await conn.execute(
            insert(deliveries).values(
                platform="telegram",
                chat_id="42",
                member_id=member.id,
                locale=lang,
                kind="milestone",
                challenge_id=challenge.id,
                payload={},
                dedupe_key="test:milestone:42",
                status="pending",
                not_before=now,
                created_at=now,
            )
        )
    return bob


async def statuses(services: Services, member_id: int) -> dict[str, str]:
    """Each queued message of the member, by kind: its status."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.kind, deliveries.c.status).where(
                deliveries.c.member_id == member_id
            )
        )
        return {row.kind: row.status for row in rows}


async def due_dates(services: Services, member_id: int) -> list[datetime | None]:
    """When each of the member's pledges is next reminded."""
    pledged = await services.pledges.of_member(member_id)
    return [await services.reminders.due_at(member_id, c.id) for _, c in pledged]


@LANGS
async def test_stop_silences_news_queued_messages_and_reminders(
    services: Services, clock: FakeClock, lang: str
) -> None:
    t = Translator(lang)
    chat = ChatHarness(services)
    bob = await bob_with_a_reminder(services, chat, lang)
    member = await me(services)
    due = (await due_dates(services, member.id))[0]
    assert due is not None
    clock.set(due)
    assert await services.reminders.sweep() == 1  # a reminder waits to be sent, too
    assert await statuses(services, member.id) == {"milestone": "pending", "reminder": "pending"}

    replies = await bob.text("STOP")
    assert isinstance(replies[-1], End)
    stopped = replies[0]
    assert isinstance(stopped, Message) and stopped.text == t("settings.stopped")
    assert [c.label for c in choices([stopped])] == [t("settings.button_restart")]
    assert all(len(c.id.encode()) <= 64 for c in choices([stopped]))
    assert (await me(services)).news_opt_out
    assert await statuses(services, member.id) == {
        "milestone": "cancelled",
        "reminder": "cancelled",
    }
    assert (await me(services)).stopped
    clock.set(due + timedelta(days=1))
    assert await services.reminders.sweep() == 0  # stopped: no reminder is queued

    await bob.command("/settings")  # the menu says so, and offers news again
    menu = bob.last_texts()[0]
    assert t("settings.menu_news_off") in menu
    assert t("settings.button_news_on") in [c.label for c in choices(bob.last_replies())]


@LANGS
async def test_undo_brings_news_and_reminders_back(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = ChatHarness(services)
    bob = await bob_with_a_reminder(services, chat, lang)
    member = await me(services)
    await bob.text("Stop")
    assert (await me(services)).stopped

    await bob.press(t("settings.button_restart"))
    assert bob.last_replies() == [Message(t("settings.restarted"), replaces=True)]
    assert not (await me(services)).news_opt_out and not (await me(services)).stopped
    assert None not in await due_dates(services, member.id)


async def test_undo_leaves_a_reminder_paused_on_purpose_paused(services: Services) -> None:
    t = Translator("en")
    chat = ChatHarness(services)
    bob = await bob_with_a_reminder(services, chat, "en")
    member = await me(services)
    [(_, challenge)] = await services.pledges.of_member(member.id)
    await services.reminders.pause(member.id, challenge.id)
    await bob.text("STOP")
    await bob.press(t("settings.button_restart"))
    assert await services.reminders.is_paused(member.id, challenge.id)
    assert await due_dates(services, member.id) == [None]


async def test_undo_works_from_a_later_session_and_only_for_who_presses(
    services: Services,
) -> None:
    chat = ChatHarness(services)
    bob = await bob_with_a_reminder(services, chat, "en")
    member = await me(services)
    await bob.text("stop")
    undo = choices(bob.last_replies())[0].id
    carol = chat.person("telegram:7", name="Carol", lang="en")
    await carol.press_id(undo)  # a forwarded button: it restarts Carol, not Bob
    assert (await me(services)).news_opt_out

    async with services.db.write() as conn:  # the conversation is long gone
        await conn.execute(delete(conversations))
    later = ChatHarness(services).person(str(BOB), name="Bob", lang="en")
    await later.press_id(undo)
    assert later.last_texts() == [Translator("en")("settings.restarted")]
    assert not (await me(services)).news_opt_out
    assert None not in await due_dates(services, member.id)


async def test_stop_wins_over_a_question_in_progress(services: Services) -> None:
    t = Translator("fr")
    chat = ChatHarness(services)
    bob = await bob_with_a_reminder(services, chat, "fr")
    before = await me(services)
    await bob.command("/settings")
    await bob.press(t("settings.button_reminders"))
    await bob.press(t("settings.button_hour_other"))
    await bob.text(" STOP ")
    assert bob.last_texts() == [t("settings.stopped")]
    assert (await me(services)).news_opt_out
    assert await bob.text("19") == [Message(t("engine.not_understood"))]  # no longer asked
    assert (await me(services)).reminder_hour == before.reminder_hour


async def test_stop_inside_a_sentence_or_spelt_otherwise_is_no_stop(services: Services) -> None:
    t = Translator("en")
    chat = ChatHarness(services)
    bob = await bob_with_a_reminder(services, chat, "en")
    member = await me(services)
    for text in ("don't stop", "stop!", "sToP", "STOP please"):
        assert await bob.text(text) == [Message(t("engine.not_understood"))], text
    assert not (await me(services)).news_opt_out
    assert await statuses(services, member.id) == {"milestone": "pending"}
    assert None not in await due_dates(services, member.id)


async def test_stop_in_a_group_chat_does_nothing(services: Services) -> None:
    chat = ChatHarness(services)
    await bob_with_a_reminder(services, chat, "en")
    member = await me(services)
    group = ChatRef(Platform.TELEGRAM, "-100", is_group=True)
    in_group = chat.person(str(BOB), name="Bob", lang="en", chat=group)
    for text in ("STOP", "stop", "Stop"):
        await in_group.text(text)
        assert Translator("en")("settings.stopped") not in in_group.last_texts(), text
    assert not (await me(services)).news_opt_out
    assert await statuses(services, member.id) == {"milestone": "pending"}
    assert None not in await due_dates(services, member.id)
