"""Sponsors in the loop: told when their tier is reached, reminded until they confirm, and
their proof heard once by every pledger; each tier reads promised, reached, confirmed, kept."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from conversations.announcements import announcement_replies
from conversations.model import Message, OtherInput
from conversations.testing import ChatHarness, choices
from core.clock import FakeClock
from core.delivery.fanout import fan_out
from core.delivery.protocol import Notice
from core.delivery.worker import DeliveryWorker
from core.errors import Forbidden
from core.i18n import Translator
from core.identity import Platform
from core.models import EventKind
from core.services import Services
from core.services.organisations import Actor, OrganisationKind
from core.services.sponsors import REMIND_AFTER, SponsorState
from tests.factories import member, open_challenge
from tests.test_delivery import FakeDeliverer


async def states(services: Services, challenge_id: int) -> list[SponsorState]:
    return [s.state for s in await services.sponsors.statuses(challenge_id)]


async def test_sponsor_is_told_confirms_posts_proof_and_every_pledger_hears_once(
    services: Services, clock: FakeClock
) -> None:
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "gives 1 000 €"),))
    [tier] = challenge.tiers
    acme = await member(services, "50", "telegram")
    await services.members.update(acme.id, language="en")
    await services.sponsors.attach(Actor.administrator(), tier.id, acme.id)
    assert await states(services, challenge.id) == [SponsorState.PROMISED]
    assert await services.sponsors.sweep() == []  # not reached: nothing to tell

    pledgers = [await member(services, name, "telegram") for name in ("1", "2", "3")]
    for pledger in pledgers[:2]:
        await services.pledges.pledge(pledger.id, challenge.id)
    [told] = await services.sponsors.sweep()
    assert told.kind is EventKind.SPONSOR_REACHED
    assert await services.sponsors.sweep() == []  # told once
    assert await states(services, challenge.id) == [SponsorState.REACHED]

    telegram = FakeDeliverer(Platform.TELEGRAM)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram})
    await fan_out(services)
    await worker.run_once()
    sponsor_notices = [n for chat, ns in telegram.calls if chat.chat_id == "50" for n in ns]
    assert [n.kind for n in sponsor_notices] == ["sponsor_reached"]
    [message] = await announcement_replies(services, sponsor_notices)
    assert isinstance(message, Message)
    assert "the tier of Acme is reached" in message.text and "gives 1 000 €" in message.text
    assert [c.label for c in choices([message])] == ["I confirm", "Post the proof"]
    assert "a picture alone is enough" in message.text  # no need to type anything

    # Unconfirmed: reminded after REMIND_AFTER, not before, and again later.
    clock.advance(REMIND_AFTER - timedelta(minutes=1))
    assert await services.sponsors.sweep() == []
    clock.advance(timedelta(minutes=1))
    [reminder] = await services.sponsors.sweep()
    assert reminder.kind is EventKind.SPONSOR_REMINDER
    assert await services.sponsors.sweep() == []
    clock.advance(REMIND_AFTER)
    assert [e.kind for e in await services.sponsors.sweep()] == [EventKind.SPONSOR_REMINDER]

    # Someone else pressing the sponsor's button is refused, and nothing changes.
    harness = ChatHarness(services)
    intruder = harness.person("telegram:1", name="One", lang="en")
    confirm_id = choices([message])[0].id
    await intruder.press_id(confirm_id)
    assert "not the sponsor" in intruder.all_text()
    assert await states(services, challenge.id) == [SponsorState.REACHED]

    sponsor = harness.person("telegram:50", name="Acme", lang="en")
    await sponsor.press_id(confirm_id)
    assert "your commitment (gives 1 000 €) is confirmed" in sponsor.all_text()
    assert await states(services, challenge.id) == [SponsorState.CONFIRMED]
    clock.advance(REMIND_AFTER * 2)
    assert await services.sponsors.sweep() == []  # confirmed: no more reminders

    await sponsor.press("Post the proof")
    await sponsor.send(OtherInput())  # a sticker: what counts as proof, a picture included
    assert sponsor.last_texts() == [Translator("en")("sponsor.type_proof")]
    assert "picture" in sponsor.last_texts()[0]
    await sponsor.text("Paid on 3 April: https://acme.example/receipt.jpg")
    assert "the proof is posted" in sponsor.all_text()
    assert await states(services, challenge.id) == [SponsorState.KEPT]

    await services.pledges.pledge(pledgers[2].id, challenge.id)  # before the proof goes out
    await fan_out(services)
    await worker.run_once()
    await fan_out(services)
    await worker.run_once()
    kept = Counter(
        chat.chat_id for chat, ns in telegram.calls for n in ns if n.kind == "promise_kept"
    )
    # Each pledger hears it once, the organiser too; the sponsor is not a pledger.
    assert kept == {"1": 1, "2": 1, "3": 1, "999": 1}
    [proof] = [
        n
        for chat, ns in telegram.calls
        if chat.chat_id == "1"
        for n in ns
        if n.kind == "promise_kept"
    ]
    assert proof.payload["proof"] == "Paid on 3 April: https://acme.example/receipt.jpg"


async def test_sponsor_list_and_refusals(services: Services) -> None:
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "gives 1 000 €"),))
    [tier] = challenge.tiers
    acme = await member(services, "acme")
    bob = await member(services, "bob")
    harness = ChatHarness(services)
    sponsor = harness.person("console:acme", name="Acme", lang="fr")
    await sponsor.command("/sponsor")
    assert "Vous ne parrainez aucun palier" in sponsor.all_text()

    # An organisation's staff cannot attach a sponsor to a challenge it does not run.
    company = await services.organisations.create(
        Actor.administrator(), "acme", "Acme", OrganisationKind.COMPANY, bob.id
    )
    with pytest.raises(Forbidden):
        await services.sponsors.attach(Actor(bob.id), tier.id, acme.id)
    await services.organisations.attach_challenge(Actor.administrator(), company.id, challenge.id)
    await services.sponsors.attach(Actor(bob.id), tier.id, acme.id)

    await sponsor.command("/sponsor")
    assert "Acme, à 2 personnes : gives 1 000 € — promis" in sponsor.last_texts()
    # Not reached yet: confirming is refused and changes nothing.
    with pytest.raises(Exception, match="tier_not_unlocked"):
        await services.sponsors.confirm(acme.id, tier.id)
    assert await states(services, challenge.id) == [SponsorState.PROMISED]


async def test_sponsor_hears_the_forecast_once_when_its_tier_nears(services: Services) -> None:
    challenge = await open_challenge(services, goal=20, tiers=((8, "Acme", "plants 50 trees"),))
    [tier] = challenge.tiers
    acme = await member(services, "50", "telegram")
    await services.sponsors.attach(Actor.administrator(), tier.id, acme.id)
    for name in ("1", "2", "3", "4", "5"):
        await services.pledges.pledge((await member(services, name, "telegram")).id, challenge.id)
    assert await services.sponsors.sweep() == []  # 5 of 8: not yet 3/4
    await services.pledges.pledge((await member(services, "6", "telegram")).id, challenge.id)
    [forecast] = await services.sponsors.sweep()
    assert forecast.kind is EventKind.SPONSOR_FORECAST
    assert forecast.payload["count"] == 6 and forecast.payload["reached_on"] is not None
    assert await services.sponsors.sweep() == []  # once
    notice = Notice(forecast.kind, challenge.id, "en", forecast.payload)
    [message] = await announcement_replies(services, [notice])
    assert isinstance(message, Message)
    assert "nearing your tier: 6 people out of 8" in message.text
    assert "reached around" in message.text and choices([message]) == []
