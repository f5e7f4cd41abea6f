"""The organisers' command menu follows the roles on Telegram, through the real
python-telegram-bot client against the fake: set at start for administrators and every
organisation's staff, set when someone joins the staff (in the chat, by the CLI's service
calls, or when they first write to the bot), taken off when they leave, in each language
with the person's own by default, and right even when the roles change while it is set."""

from __future__ import annotations

from bots.telegram.app import Menus
from core.delivery.worker import DeliveryWorker
from core.identity import AccountRef, Platform
from core.services import Services
from core.services.organisations import Actor, OrganisationKind, Role
from core.settings import Settings
from tests.fake_telegram import FakeTelegram, Person
from tests.test_telegram_e2e import Bot, fake, running, telegram_settings

__all__ = ["fake"]  # the fixture of test_telegram_e2e

ALICE = Person(11, "Alice", "fr")
BOB = Person(12, "Bob", "en")
CAROL = Person(13, "Carol", "en")
OLGA = Person(999, "Olga", "en")  # telegram:999 is in KOOM_ORGANISERS
LANGUAGES = ("", "fr", "en")


def account(person: Person) -> AccountRef:
    return AccountRef(Platform.TELEGRAM, str(person.id))


def organiser_menu(bot: Bot) -> list[str]:
    return list(Menus.of(bot.adapter.engine.described()).organiser)


def menus_of(fake: FakeTelegram, person: Person) -> dict[str, list[str] | None]:
    return {language: fake.chat_menu(person.id, language) for language in LANGUAGES}


def descriptions(fake: FakeTelegram, person: Person, language: str) -> dict[str, str]:
    key = (f'{{"chat_id": {person.id}, "type": "chat"}}', language)
    return {c["command"]: c["description"] for c in fake.commands[key]}


async def organisation(services: Services, owner: Person, slug: str = "lyon") -> int:
    """An organisation whose owner is `owner` (known to the bot)."""
    found = await services.members.ensure(account(owner), owner.first_name)
    created = await services.organisations.create(
        Actor.administrator(), slug, slug.title(), OrganisationKind.CITY, found.id
    )
    return created.id


async def deliver(bot: Bot, services: Services) -> None:
    """What the delivery worker of `koom run` does next."""
    await DeliveryWorker(services, {Platform.TELEGRAM: bot.adapter}).run_once()


async def test_menus_are_set_at_start_for_administrators_and_staff(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    fake.know(ALICE, BOB, OLGA)
    await organisation(services, ALICE)
    bob = await services.members.ensure(account(BOB), "Bob")  # not staff
    await services.members.update(bob.id, language="en")
    async with running(services, telegram_settings(settings, fake), fake) as bot:
        wanted = organiser_menu(bot)
        assert {"new", "manage", "broadcast"} <= set(wanted)
        assert menus_of(fake, ALICE) == dict.fromkeys(LANGUAGES, wanted)
        assert menus_of(fake, OLGA) == dict.fromkeys(LANGUAGES, wanted)
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES)  # the private chats' menu
        assert (
            descriptions(fake, ALICE, "en")["manage"] != descriptions(fake, ALICE, "fr")["manage"]
        )
        assert descriptions(fake, ALICE, "") == descriptions(fake, ALICE, "fr")


async def test_menus_follow_staff_added_and_removed(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    fake.know(ALICE)
    lyon = await organisation(services, ALICE)
    async with running(services, telegram_settings(settings, fake), fake) as bot:
        wanted = organiser_menu(bot)
        await bot.say(BOB, "/help")
        await bot.say(CAROL, "/help")
        bob = await services.members.find(account(BOB))
        assert bob is not None
        await services.members.update(bob.id, language="en")
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES)

        # Alice invites Bob in the chat: his menu follows once he joined.
        await bot.say(ALICE, "/org")
        invite = await bot.press(ALICE, "Inviter un organisateur")
        code = invite.split("/org join ")[1].split()[0]
        assert "Lyon" in await bot.say(BOB, f"/org join {code}")
        await deliver(bot, services)
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES, wanted)
        assert descriptions(fake, BOB, "") == descriptions(fake, BOB, "en")

        # Carol is made an organiser by the owner's service call (koom org add does the same).
        carol = await services.members.find(account(CAROL))
        assert carol is not None
        admin = Actor.administrator()
        await services.organisations.set_role(admin, lyon, carol.id, Role.ORGANISER)
        await deliver(bot, services)
        assert menus_of(fake, CAROL) == dict.fromkeys(LANGUAGES, wanted)

        # Taken off the staff: their own menus go, they see the private chats' again.
        await services.organisations.remove(admin, lyon, bob.id)
        await services.organisations.remove(admin, lyon, carol.id)
        await deliver(bot, services)
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES)
        assert menus_of(fake, CAROL) == dict.fromkeys(LANGUAGES)
        assert menus_of(fake, ALICE) == dict.fromkeys(LANGUAGES, wanted)
        deleted = [
            c for c in fake.calls_of("deleteMyCommands") if c.params["scope"]["chat_id"] == BOB.id
        ]
        assert len(deleted) == len(LANGUAGES)


async def test_staff_added_before_writing_get_their_menu_when_they_write(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    fake.know(ALICE)
    lyon = await organisation(services, ALICE)
    async with running(services, telegram_settings(settings, fake), fake) as bot:
        dana = Person(14, "Dana", "fr")
        staff = await services.members.ensure(account(dana), "Dana")  # koom org add, unknown
        await services.organisations.set_role(Actor.administrator(), lyon, staff.id, Role.OWNER)
        await deliver(bot, services)  # Telegram does not know this chat yet
        assert menus_of(fake, dana) == dict.fromkeys(LANGUAGES)
        await bot.say(dana, "/start")
        await deliver(bot, services)
        assert menus_of(fake, dana) == dict.fromkeys(LANGUAGES, organiser_menu(bot))


async def test_a_role_changed_while_the_menu_is_set_ends_on_the_right_menu(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    """Another instance removes Bob while this one sets his menu from a stale read: the roles
    are read again after setting, and his menu is taken off."""
    fake.know(ALICE, BOB)
    lyon = await organisation(services, ALICE)
    bob = await services.members.ensure(account(BOB), "Bob")
    async with running(services, telegram_settings(settings, fake), fake) as bot:
        await services.organisations.set_role(Actor.administrator(), lyon, bob.id, Role.ORGANISER)
        reads = services.organisations.is_staff

        async def removed_meanwhile(who: AccountRef) -> bool:
            staff = await reads(who)
            if staff:
                await services.organisations.remove(Actor.administrator(), lyon, bob.id)
            return staff

        services.organisations.is_staff = removed_meanwhile  # type: ignore[method-assign]
        await deliver(bot, services)
        services.organisations.is_staff = reads  # type: ignore[method-assign]
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES)


async def test_staff_who_are_forgotten_lose_their_menu(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    fake.know(ALICE, BOB)
    lyon = await organisation(services, ALICE)
    bob = await services.members.ensure(account(BOB), "Bob")
    await services.organisations.set_role(Actor.administrator(), lyon, bob.id, Role.ORGANISER)
    async with running(services, telegram_settings(settings, fake), fake) as bot:
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES, organiser_menu(bot))
        await services.privacy.forget(bob.id)  # /forgetme: his roles and accounts go
        await deliver(bot, services)
        assert menus_of(fake, BOB) == dict.fromkeys(LANGUAGES)
        assert menus_of(fake, ALICE) == dict.fromkeys(LANGUAGES, organiser_menu(bot))
