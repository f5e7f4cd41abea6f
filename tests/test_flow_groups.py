"""Groups and channels: introductions, following challenges, progress for everyone, and
personal flows sent to the private chat."""

from __future__ import annotations

import pytest

from conversations.model import Capabilities
from conversations.testing import ChatHarness, choices
from core.delivery.fanout import fan_out
from core.delivery.worker import DeliveryWorker
from core.i18n import Translator
from core.identity import ChatRef, Platform
from core.services import Services
from tests.factories import member, open_challenge
from tests.test_delivery import FakeDeliverer

GROUP = ChatRef(Platform.TELEGRAM, "-100123", is_group=True, title="Lyon Zéro Déchet")
TELEGRAM = Capabilities(share_link_template="https://t.me/koombot?start={payload}")


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_an_admin_follows_and_unfollows_with_buttons(services: Services, lang: str) -> None:
    t = Translator(lang)
    challenge = await open_challenge(services)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    admin = chat.person("telegram:1", name="Ana", lang=lang, chat=GROUP, admin=True)

    assert admin.last_replies() == []
    await admin.command("/start")
    assert admin.last_texts() == [t("group.intro")]
    group = await services.groups.find(GROUP)
    assert group is not None and (group.title, group.language) == ("Lyon Zéro Déchet", lang)

    await admin.command("/follow")
    await admin.press(challenge.title)
    assert admin.last_texts() == [t("group.followed", title=challenge.title)]
    assert [g.chat_id for g in await services.groups.followers(challenge.id)] == ["-100123"]
    await admin.command(f"/follow {challenge.slug}")
    assert admin.last_texts() == [t("group.already_following", title=challenge.title)]
    await admin.command("/follow")
    assert admin.last_texts() == [t("group.nothing_to_follow")]

    await admin.command("/unfollow")
    await admin.press(challenge.title)
    assert admin.last_texts() == [t("group.unfollowed", title=challenge.title)]
    assert await services.groups.followers(challenge.id) == []


async def test_a_member_who_is_not_admin_is_refused_and_nothing_changes(
    services: Services,
) -> None:
    t = Translator("fr")
    challenge = await open_challenge(services)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    admin = chat.person("telegram:1", chat=GROUP, admin=True)
    bob = chat.person("telegram:2", chat=GROUP)

    await admin.command("/follow")
    offered = choices(admin.last_replies())[0].id
    assert await bob.command(f"/follow {challenge.slug}") and bob.last_texts() == [
        t("group.admin_only")
    ]
    await bob.press_id(offered)  # a button shown to the admin, pressed by Bob
    assert bob.last_texts() in ([t("group.admin_only")], [t("engine.stale_choice")])
    assert await services.groups.followers(challenge.id) == []


async def test_progress_in_a_group_links_to_the_private_chat(services: Services) -> None:
    t = Translator("en")
    challenge = await open_challenge(services, goal=4)
    await services.pledges.pledge((await member(services, "a")).id, challenge.id)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    admin = chat.person("telegram:1", lang="en", chat=GROUP, admin=True)
    anyone = chat.person("telegram:2", lang="en", chat=GROUP)

    await anyone.command("/progress")
    assert anyone.last_texts() == [t("group.follows_nothing")]
    await admin.command(f"/follow {challenge.slug}")
    await anyone.command("/progress")
    [card] = anyone.last_replies()
    assert "1 / 4" in anyone.last_texts()[0]
    [link, where] = choices([card])
    assert link.url == f"https://t.me/koombot?start={challenge.slug}" and link.id == ""
    assert where.id == f"map:show:{challenge.id}"  # the map, for everyone in the group
    await anyone.command("/following")
    assert challenge.title in anyone.last_texts()[0]


async def test_personal_flows_are_refused_in_groups(services: Services) -> None:
    t = Translator("fr")
    challenge = await open_challenge(services)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    bob = chat.person("telegram:2", chat=GROUP)
    for command in (f"/pledge {challenge.slug}", "/mypledges", "/checkin", "/settings"):
        await bob.command(command)
        assert bob.last_texts() == [t("engine.private_only")], command
        [private] = choices(bob.last_replies())
        assert private.url == "https://t.me/koombot?start="
    assert (await services.challenges.get(challenge.id)).pledge_count == 0


async def test_group_commands_in_a_private_chat_explain_themselves(services: Services) -> None:
    t = Translator("fr")
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await chat.command("/follow")
    assert chat.last_texts() == [t("group.groups_only")]
    await chat.command("/progress")
    assert chat.last_texts() == [t("group.progress_which")]
    await chat.command(f"/progress {challenge.slug}")  # the personal card, with its buttons
    assert challenge.title in chat.last_texts()[0]
    assert t("browse.button_pledge") in [c.label for c in choices(chat.alice.last_replies())]


async def test_a_channel_without_links_gets_the_command_to_pledge(services: Services) -> None:
    t = Translator("en")
    challenge = await open_challenge(services)
    channel = ChatRef(Platform.DISCORD, "55", is_group=True, title="#climate")
    chat = ChatHarness(services, capabilities=Capabilities(share_link_template="/start {payload}"))
    anyone = chat.person("discord:3", lang="en", chat=channel)
    await anyone.command(f"/progress {challenge.slug}")
    [text] = anyone.last_texts()
    assert text.endswith(t("group.pledge_hint", command=f"/start {challenge.slug}"))
    assert [c.id for c in choices(anyone.last_replies())] == [f"map:show:{challenge.id}"]


async def test_personal_flows_run_where_replies_are_private(services: Services) -> None:
    challenge = await open_challenge(services)
    channel = ChatRef(Platform.DISCORD, "55", is_group=True, title="#climate")
    private_replies = Capabilities(private_in_groups=True)
    bob = ChatHarness(services, capabilities=private_replies).person(
        "discord:3", lang="en", chat=channel
    )
    await bob.command(f"/pledge {challenge.slug}")
    assert Translator("en")("engine.private_only") not in bob.last_texts()
    assert challenge.action in "\n".join(bob.last_texts())


async def test_buttons_in_a_group_serve_every_admin_and_no_one_elsewhere(
    services: Services,
) -> None:
    t = Translator("fr")
    challenge = await open_challenge(services)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    ana = chat.person("telegram:1", chat=GROUP, admin=True)
    cyril = chat.person("telegram:3", chat=GROUP, admin=True)
    bob = chat.person("telegram:2", chat=GROUP)
    elsewhere = chat.person(
        "telegram:3", chat=ChatRef(Platform.TELEGRAM, "-999", is_group=True), admin=True
    )

    await ana.command("/follow")
    shown = choices(ana.last_replies())[0].id
    await bob.press_id(shown)  # everyone sees it, but Bob is no admin
    assert bob.last_texts() == [t("group.admin_only")]
    await elsewhere.press_id(shown)  # never shown in that other group
    assert elsewhere.last_texts() == [t("engine.stale_choice")]
    assert await services.groups.followers(challenge.id) == []
    await cyril.press_id(shown)  # another admin uses Ana's list
    assert cyril.last_texts() == [t("group.followed", title=challenge.title)]


async def test_a_groups_administrators_choose_the_language_it_hears(services: Services) -> None:
    """The group speaks the language of whoever added the bot until one of its administrators
    picks another with /language; anyone else is told where to choose their own. What the
    bot then says there on its own (a milestone) is in the group's new language, and /help in
    a Telegram group says what works there."""
    en = Translator("en")
    challenge = await open_challenge(services, goal=4)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    ana = chat.person("telegram:1", name="Ana", lang="fr", chat=GROUP, admin=True)
    ben = chat.person("telegram:2", name="Ben", lang="en", chat=GROUP)
    await ana.command("/start")
    await ana.command(f"/follow {challenge.slug}")
    assert (await services.groups.find(GROUP)).language == "fr"  # type: ignore[union-attr]

    await ben.command("/help")
    assert ben.last_texts() == [en("group.intro")]
    assert "/language" in en("group.intro")
    await ben.command("/language")
    assert ben.last_texts() == [en("group.language_admin_only")]
    refused = await ana.command("/language")
    offered = choices(refused)[1].id  # English
    await ben.press_id(offered)  # the administrator's button, pressed by Ben
    assert ben.last_texts() == [en("group.language_admin_only")]
    assert (await services.groups.find(GROUP)).language == "fr"  # type: ignore[union-attr]

    await ana.press("English")
    assert ana.last_texts() == [en("group.language_set")]
    assert (await services.groups.find(GROUP)).language == "en"  # type: ignore[union-attr]

    telegram = FakeDeliverer(Platform.TELEGRAM)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram})
    for name in ("a", "b"):  # half the goal: a milestone for the group
        await services.pledges.pledge((await member(services, name)).id, challenge.id)
    await fan_out(services)
    await worker.run_once()
    [notices] = [n for chat_ref, n in telegram.calls if chat_ref.chat_id == GROUP.chat_id]
    assert {n.locale for n in notices} == {"en"}
    assert notices[0].kind == "milestone"
