"""Private challenges end to end, through the real python-telegram-bot and discord.py
clients against the fakes: two organisations in one deployment cannot see each other's
private challenges (browse, deep link, Telegram inline search, Discord autocomplete); a
member joining by invitation sees and pledges; people in a Telegram group (getChatMember) or a
Discord server (its member list) the organisation owns are members, the others are not."""

from __future__ import annotations

import re

from core.i18n import Translator
from core.identity import AccountRef, ChatRef, Platform
from core.models import Visibility
from core.services import Services
from core.services.organisations import Actor, Organisation, OrganisationKind, Role
from tests.factories import open_challenge
from tests.fake_discord import user_payload
from tests.test_delivery_e2e import ALICE, BOB, CAROL, CLUB, Platforms, platforms
from tests.test_discord_e2e import button_id

__all__ = ["platforms"]  # the fixture of test_delivery_e2e
ADMIN = Actor.administrator()
FR, EN = Translator("fr"), Translator("en")


async def two_organisations(services: Services) -> tuple[Organisation, Organisation]:
    """Lyon and Acme, each with a private challenge, and one public challenge."""
    owner = await services.members.ensure(AccountRef(Platform.CONSOLE, "owner"), "Owner")
    lyon = await services.organisations.create(
        ADMIN, "lyon", "Ville de Lyon", OrganisationKind.CITY, owner.id
    )
    acme = await services.organisations.create(
        ADMIN, "acme", "Acme", OrganisationKind.COMPANY, owner.id
    )
    for organisation, slug in ((lyon, "agents-lyon"), (acme, "staff-acme")):
        challenge = await open_challenge(services, slug=slug)
        await services.organisations.attach_challenge(ADMIN, organisation.id, challenge.id)
        await services.organisations.set_visibility(ADMIN, challenge.id, Visibility.MEMBERS)
    await open_challenge(services, slug="tri-public")
    return lyon, acme


def found_slugs(answer: dict) -> list[str]:  # type: ignore[type-arg]
    """The challenges an inline answer offers, by their deep link."""
    links = [r["reply_markup"]["inline_keyboard"][0][0]["url"] for r in answer["results"]]
    return sorted(re.sub(r".*start=([a-z-]+).*", r"\1", link) for link in links)


async def test_telegram_members_see_their_own_private_challenges_only(
    platforms: Platforms,
) -> None:
    services, fake, bot = platforms.services, platforms.telegram, platforms.telegram_bot
    lyon, acme = await two_organisations(services)
    code = await services.organisations.invite(ADMIN, lyon.id, Role.MEMBER)

    # Alice joins Lyon with its deep link, sees and pledges to its private challenge.
    await bot.say(ALICE, f"/start join_{code}")
    joined = await bot.press(ALICE, "Français")
    assert FR("org.joined_member", name="Ville de Lyon") in joined
    listing = await bot.say(ALICE, "/challenges")
    assert "Challenge agents-lyon" in listing and "staff-acme" not in listing
    confirm = await bot.say(ALICE, "/pledge agents-lyon")
    assert "Challenge agents-lyon" in confirm
    await bot.press(ALICE, FR("pledge.button_yes"))
    alice = await services.members.find(AccountRef(Platform.TELEGRAM, str(ALICE.id)))
    agents = await services.challenges.by_slug("agents-lyon")
    assert alice is not None
    pledge = await services.pledges.get(alice.id, agents.id)
    assert pledge is not None and pledge.active
    assert FR("error.challenge_not_found", slug="staff-acme") in await bot.say(
        ALICE, "/start staff-acme"
    )

    # Bob, in no organisation: "not found" exactly as for a challenge that does not exist.
    await bot.say(BOB, "/start")
    await bot.press(BOB, "English")
    listing = await bot.say(BOB, "/challenges")
    assert "Challenge tri-public" in listing and "agents" not in listing
    missing = await bot.say(BOB, "/start agents-lyon")
    unknown = await bot.say(BOB, "/start no-such-one")
    assert missing == unknown.replace("no-such-one", "agents-lyon")
    assert EN("error.challenge_not_found", slug="agents-lyon") in missing

    # Inline search never offers a private challenge: its card would go to any chat.
    await bot.send(fake.inline(ALICE, "challenge"))
    assert found_slugs(list(fake.inline_answers.values())[-1]) == ["tri-public"]
    await bot.send(fake.inline(BOB, "agents"))
    assert list(fake.inline_answers.values())[-1]["results"] == []

    # Lyon owns the club's group: whoever Telegram says is in it is a member.
    await bot.say(CAROL, "/help", CLUB)
    club = await services.groups.register(ChatRef(Platform.TELEGRAM, str(CLUB["id"]), True), "Club")
    await services.organisations.add_group(ADMIN, lyon.id, club.id)
    fake.set_status(CLUB["id"], BOB.id, "left")
    await bot.say(CAROL, "/start")
    await bot.press(CAROL, "English")
    assert "Challenge agents-lyon" in await bot.say(CAROL, "/challenges")
    assert "agents" not in await bot.say(BOB, "/challenges")
    assert acme.id != lyon.id


async def test_discord_members_see_their_own_private_challenges_only(
    platforms: Platforms,
) -> None:
    services, fake, adapter = platforms.services, platforms.discord, platforms.discord_adapter
    lyon, acme = await two_organisations(services)
    dana, dana_dm = user_payload(42, "Dana"), fake.dm(42)

    async def slash(user: dict, name: str, **options: str) -> list[str]:  # type: ignore[type-arg]
        done = await fake.slash(user, fake.dm(int(user["id"])), name, "en-GB", **options)
        await adapter.idle()
        return [m["content"] for m in fake.answers(done)]

    async def offered(user: dict, typed: str) -> list[str]:  # type: ignore[type-arg]
        where = fake.dm(int(user["id"]))
        return sorted(
            c["value"] for c in await fake.autocomplete(user, where, "pledge", "challenge", typed)
        )

    await slash(dana, "help")
    assert await offered(dana, "challenge") == ["tri-public"]
    assert "agents" not in " ".join(await slash(dana, "challenges"))
    missing = await slash(dana, "challenge", challenge="staff-acme")
    assert missing == [EN("error.challenge_not_found", slug="staff-acme")]

    # Dana joins Acme with its code, then sees and pledges to its private challenge.
    code = await services.organisations.invite(ADMIN, acme.id, Role.MEMBER)
    joined = await slash(dana, "org", code=code)
    assert EN("org.joined_member", name="Acme") in " ".join(joined)
    assert await offered(dana, "challenge") == ["staff-acme", "tri-public"]
    done = await fake.slash(dana, dana_dm, "pledge", "en-GB", challenge="staff-acme")
    await adapter.idle()
    confirm = fake.messages[done.message_ids[-1]]
    pressed = await fake.press(dana, dana_dm, confirm, button_id(confirm, EN("pledge.button_yes")))
    await adapter.idle()
    assert pressed.message_ids
    member = await services.members.find(AccountRef(Platform.DISCORD, "42"))
    staff = await services.challenges.by_slug("staff-acme")
    assert member is not None
    pledge = await services.pledges.get(member.id, staff.id)
    assert pledge is not None and pledge.active
    assert await offered(dana, "agents") == []

    # Lyon owns a channel of its server: the server's members (asked to Discord) are members.
    server = await fake.add_guild("Lyon agents")
    await adapter.idle()
    channel = await services.groups.register(
        ChatRef(Platform.DISCORD, str(server.channel_id), True), "agents"
    )
    await services.organisations.add_group(ADMIN, lyon.id, channel.id)
    eli, finn = user_payload(77, "Eli"), user_payload(78, "Finn")
    fake.join(server, 77)
    await slash(eli, "help")
    await slash(finn, "help")
    assert await offered(eli, "agents") == ["agents-lyon"]
    assert await offered(finn, "agents") == []
    assert "Challenge agents-lyon" in " ".join(await slash(eli, "challenges"))
    assert "agents" not in " ".join(await slash(finn, "challenges"))


async def test_telegram_members_pass_on_the_invitation_and_a_colleague_joins_through_it(
    platforms: Platforms,
) -> None:
    services, bot = platforms.services, platforms.telegram_bot
    lyon, _ = await two_organisations(services)
    code = await services.organisations.invite(ADMIN, lyon.id, Role.MEMBER)
    await bot.say(ALICE, f"/start join_{code}")
    await bot.press(ALICE, "Français")
    await bot.say(ALICE, "/challenge agents-lyon")
    shared = await bot.press(ALICE, FR("browse.button_share"))
    link = f"https://t.me/{bot.adapter.username}?start=join_{code}"
    expected = FR(
        "browse.share_private",
        title="Challenge agents-lyon",
        org="Ville de Lyon",
        link=link,
        code=code,
    )
    assert shared == expected
    assert bot.last(ALICE.id).buttons == []  # no picture, no link to the challenge

    # Bob opens the link Alice passed on: he joins Lyon and finds its challenge.
    await bot.say(BOB, "/start " + link.rpartition("=")[2])
    await bot.press(BOB, "English")
    assert "Challenge agents-lyon" in await bot.say(BOB, "/challenges")


async def test_discord_members_pass_on_the_invitation_as_a_command(platforms: Platforms) -> None:
    services, fake, adapter = platforms.services, platforms.discord, platforms.discord_adapter
    _, acme = await two_organisations(services)
    code = await services.organisations.invite(ADMIN, acme.id, Role.MEMBER)
    dana, finn = user_payload(42, "Dana"), user_payload(78, "Finn")
    joined = await fake.slash(dana, fake.dm(42), "org", "en-GB", code=code)
    await adapter.idle()
    assert EN("org.joined_member", name="Acme") in fake.answers(joined)[-1]["content"]
    done = await fake.slash(dana, fake.dm(42), "challenge", "en-GB", challenge="staff-acme")
    await adapter.idle()
    card = fake.messages[done.message_ids[-1]]
    share = button_id(card, EN("browse.button_share"))
    pressed = await fake.press(dana, fake.dm(42), card, share, "en-GB")
    await adapter.idle()
    [answer] = fake.answers(pressed)
    assert answer["content"] == EN(
        "browse.share_private",
        title="Challenge staff-acme",
        org="Acme",
        link=f"/start join_{code}",
        code=code,
    )
    assert answer["components"] == []

    done = await fake.slash(finn, fake.dm(78), "start", "en-GB", challenge=f"join_{code}")
    await adapter.idle()
    asked = fake.messages[done.message_ids[-1]]
    chosen = await fake.press(finn, fake.dm(78), asked, button_id(asked, "English"), "en-GB")
    await adapter.idle()
    assert EN("org.joined_member", name="Acme") in fake.answers(chosen)[-1]["content"]
