"""Sharing a members-only challenge: neither a link to it nor a picture (either would tell
outsiders it exists and show them nothing, the web page answering 404); the organisation's
members' invitation instead, as each platform opens it: Telegram's link, else the
organisation's web page with KOOM_PUBLIC_URL (which shows that invitation), else the
`/start` command; or, with no valid invitation, who to ask for one."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.web import create_app
from conversations.model import Capabilities
from conversations.model import Image as ImageReply
from conversations.testing import ChatHarness, Person, choices
from core.i18n import Translator
from core.identity import ChatRef, Platform
from core.models import Group, Visibility
from core.services import Services
from core.services.organisations import Actor, Role
from core.settings import Settings
from tests.factories import member
from tests.test_private_challenges import two_organisations
from tests.test_web import FAST
from tests.test_web_organisations import Page

EN = Translator("en")
TELEGRAM = Capabilities(share_link_template="https://t.me/koombot?start={payload}")
PUBLIC = "https://koom.example.org"
ASK = EN("browse.share_private_ask", title="Challenge agents-lyon", org="Ville de Lyon")


def invitation(code: str, link: str) -> str:
    return EN(
        "browse.share_private",
        title="Challenge agents-lyon",
        org="Ville de Lyon",
        link=link,
        code=code,
    )


async def carla_on(services: Services, capabilities: Capabilities) -> Person:
    """Carla, owner of Lyon (so a member), in English, on a platform."""
    chat = ChatHarness(services, capabilities=capabilities)
    carla = chat.person("console:carla", name="Carla", lang="en")
    await carla.command("/start")
    await carla.press("English")
    return carla


async def shared(person: Person, slug: str = "agents-lyon") -> tuple[str, list[str]]:
    """What Share on the card answers: its text and its buttons."""
    await person.command(f"/challenge {slug}")
    await person.press(EN("browse.button_share"))
    return "\n".join(person.last_texts()), [c.label for c in choices(person.last_replies())]


@pytest.mark.parametrize(
    "capabilities,public,link",
    [
        (TELEGRAM, None, "https://t.me/koombot?start=join_{code}"),
        (Capabilities(), None, "/start join_{code}"),  # Discord, the console
        (Capabilities(), PUBLIC, PUBLIC + "/o/lyon?start=join_{code}"),
    ],
)
async def test_members_pass_on_the_invitation_never_the_challenge(
    db: object,
    settings: Settings,
    services: Services,
    capabilities: Capabilities,
    public: str | None,
    link: str,
) -> None:
    services = dataclasses.replace(
        services, settings=settings.model_copy(update={"public_url": public})
    )
    lyon, _ = await two_organisations(services)
    carla = await carla_on(services, capabilities)
    agents = await services.challenges.by_slug("agents-lyon")

    text, buttons = await shared(carla)  # no invitation yet: who to ask
    assert text == ASK and buttons == []

    owner = Actor((await member(services, "carla")).id)
    code = await services.organisations.invite(owner, lyon.id, Role.MEMBER)
    text, buttons = await shared(carla)
    assert text == invitation(code, link.format(code=code))
    assert "agents-lyon" not in text.replace("Challenge agents-lyon", "")  # no link to it
    assert buttons == []  # no picture to post

    # A picture button offered while it was public gets the same words and no picture.
    await services.organisations.set_visibility(owner, agents.id, Visibility.PUBLIC)
    assert (await shared(carla))[1] == [EN("sharing.button_picture")]
    await services.organisations.set_visibility(owner, agents.id, Visibility.MEMBERS)
    replies = await carla.press(EN("sharing.button_picture"))
    assert not any(isinstance(r, ImageReply) for r in replies)
    assert carla.last_texts() == [invitation(code, link.format(code=code))]

    # The thanks after a pledge offer the same instead of the link and the picture.
    await carla.command("/pledge agents-lyon")
    await carla.press("Yes, I commit")
    await carla.press("Skip")
    await carla.press("No reminder")
    assert invitation(code, link.format(code=code)) in "\n".join(carla.last_texts())
    assert EN("sharing.button_picture") not in [c.label for c in choices(carla.last_replies())]

    # A public challenge keeps its link and its picture.
    text, buttons = await shared(carla, "tri-public")
    assert "tri-public" in text and buttons == [EN("sharing.button_picture")]


async def test_an_expired_or_staff_invitation_is_never_passed_on(services: Services) -> None:
    lyon, acme = await two_organisations(services)
    admin = Actor.administrator()
    await services.organisations.invite(admin, lyon.id, Role.ORGANISER)  # one-time, for staff
    await services.organisations.invite(admin, acme.id, Role.MEMBER)  # another organisation's
    old = await services.organisations.invite(admin, lyon.id, Role.MEMBER)
    services.clock.advance(timedelta(days=91))  # type: ignore[attr-defined]
    carla = await carla_on(services, TELEGRAM)
    assert await shared(carla) == (ASK, [])
    fresh = await services.organisations.invite(admin, lyon.id, Role.MEMBER)
    assert fresh != old
    text, _ = await shared(carla)
    assert f"join_{fresh}" in text and old not in text


@pytest.fixture
async def client(services: Services, settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    configured = settings.model_copy(update={"telegram_bot_username": "koombot"})
    web_services = dataclasses.replace(services, settings=configured)
    async with TestClient(TestServer(create_app(web_services, FAST))) as test_client:
        yield test_client


async def test_the_organisation_page_shows_a_valid_members_invitation_only(
    services: Services, client: TestClient[Any, Any]
) -> None:
    lyon, acme = await two_organisations(services)
    admin = Actor.administrator()
    code = await services.organisations.invite(admin, lyon.id, Role.MEMBER)
    staff = await services.organisations.invite(admin, lyon.id, Role.ORGANISER)
    theirs = await services.organisations.invite(admin, acme.id, Role.MEMBER)

    answer = await client.get(f"/o/lyon?start=join_{code}&lang=en")
    assert answer.status == 200
    page = Page(await answer.text())
    [section] = page.having("data-invitation")
    assert EN("web.org.invitation_title") in section.text
    assert f"/org join {code}" in section.text and f"/start join_{code}" in section.text
    [qr] = [e for e in page.having("data-qr")]
    assert qr.attrs["data-qr"] == f"https://t.me/koombot?start=join_{code}"
    [button] = [e for e in page.find("a") if e.attrs.get("href") == qr.attrs["data-qr"]]
    assert button.text == EN("web.org.invitation_telegram")
    html = await answer.text()
    assert "agents-lyon" not in html  # its private challenge is still never on the web

    for other in (staff, theirs, "NOSUCHCODE", "bad code"):
        answer = await client.get(f"/o/lyon?start=join_{other}&lang=en")
        assert answer.status == 200
        assert Page(await answer.text()).having("data-invitation") == []
    assert (await client.get(f"/c/agents-lyon?start=join_{code}")).status == 404


async def test_the_invitation_is_for_the_people_let_in_and_never_posted_in_a_group(
    services: Services,
) -> None:
    """Someone who sees the challenge only while in a group the organisation owns gets who to
    ask, not the code: it would keep them (and anyone they give it to) in after they leave the
    group. Nor does a group chat get it, even from one of its members."""
    lyon, _ = await two_organisations(services)
    room = ChatRef(Platform.CONSOLE, "lyon-agents", True)
    group = await services.groups.register(room, "Agents")
    await services.organisations.add_group(Actor.administrator(), lyon.id, group.id)

    async def in_room(group: Group, external_id: str) -> bool | None:
        return external_id == "gus"

    services.membership.register("console", in_room)
    code = await services.organisations.invite(Actor.administrator(), lyon.id, Role.MEMBER)
    chat = ChatHarness(services, capabilities=TELEGRAM)
    gus = chat.person("console:gus", name="Gus", lang="en")
    await gus.command("/start")
    await gus.press("English")
    assert await shared(gus) == (ASK, [])  # sees it, through the group only
    assert code not in gus.all_text()

    carla = await carla_on(services, TELEGRAM)  # Lyon's owner, in the group
    in_group = chat.person("console:carla", name="Carla", lang="en", chat=room)
    await in_group.command("/challenge agents-lyon")
    await in_group.press(EN("browse.button_share"))
    assert in_group.last_texts() == [ASK]
    assert code in (await shared(carla))[0]  # in her private chat she has it to pass on
