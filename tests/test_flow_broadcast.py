"""/broadcast through the real engine, in French and English: the audience picker, the text,
the preview in every language, sending now with progress and cancelling, scheduling at a local
time, editing and dropping a draft, and the refusal of everyone and everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from conversations.announcements import broadcast_text
from conversations.flow import CommandSpec, Flow, Turn
from conversations.flows.broadcast import (
    AUDIENCE_LABELS,
    STATUS_LABELS,
    BroadcastFlow,
    eta_words,
    parse_when,
)
from conversations.model import AskForm, AskText, Capabilities, Choice, Message, Reply
from conversations.registry import default_flows
from conversations.testing import ChatHarness, Person, choices
from core.clock import FakeClock
from core.db.tables import deliveries
from core.delivery.worker import DeliveryWorker
from core.errors import Invalid
from core.i18n import SUPPORTED_LOCALES, Translator, catalogue
from core.identity import ChatRef, Platform
from core.models import Challenge
from core.services import Services
from core.services.broadcasts import MAX_TEXT, Audience, Broadcast, BroadcastStatus
from tests.factories import all_broadcasts, member, open_challenge
from tests.test_delivery import FakeDeliverer

LANGS = ["fr", "en"]
T = {lang: Translator(lang) for lang in LANGS}
LANGUAGE = {"fr": {"fr": "français", "en": "anglais"}, "en": {"fr": "French", "en": "English"}}
TEXT = "Rendez-vous samedi à 10 h devant la mairie !"
PARIS = ZoneInfo("Europe/Paris")  # the organiser's time zone (the default)


def harness(services: Services, capabilities: Capabilities | None = None) -> ChatHarness:
    if capabilities is None:
        return ChatHarness(services, [BroadcastFlow()])
    return ChatHarness(services, [BroadcastFlow()], capabilities)


def organiser(chat: ChatHarness, lang: str) -> Person:
    return chat.person("console:orga", name="Orga", lang=lang)


def labels(person: Person) -> list[str]:
    return [c.label for c in choices(person.last_replies())]


async def press_earlier(person: Person, replies: list[Reply], label: str) -> None:
    """Press a button of an earlier message, still on screen above the latest replies."""
    [found] = [c for c in choices(replies) if c.label == label]
    await person.press_id(found.id)


def prompts(person: Person) -> list[str]:
    return [r.prompt for r in person.last_replies() if isinstance(r, AskText)]


def joined(person: Person) -> str:
    return "\n".join(person.last_texts())


async def world(services: Services) -> Challenge:
    """A challenge with a French pledger on Telegram, an English one on Discord and a
    following Telegram group (French by default)."""
    challenge = await open_challenge(services, goal=100)
    fr = await member(services, "1", "telegram")
    en = await member(services, "2", "discord")
    await services.members.update(en.id, language="en")
    for person in (fr, en):
        await services.pledges.pledge(person.id, challenge.id)
    group = await services.groups.register(
        ChatRef(Platform.TELEGRAM, "-100", is_group=True), "Club"
    )
    await services.groups.follow(group.id, challenge.id)
    return challenge


async def only_broadcast(services: Services) -> Broadcast:
    [broadcast] = await all_broadcasts(services)
    return broadcast


async def statuses(services: Services, broadcast_id: int) -> dict[str, str]:
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.chat_id, deliveries.c.status).where(
                deliveries.c.broadcast_id == broadcast_id
            )
        )
        return {row.chat_id: row.status for row in rows}


async def up_to_preview(orga: Person, t: Translator, challenge: Challenge) -> None:
    """Pledgers and groups of `challenge`, then the text."""
    await orga.command("/broadcast")
    await orga.press(t("broadcast.audience.pledgers"))
    await orga.press(challenge.title)
    await orga.press(t("broadcast.audience.groups"))
    await orga.press(t("broadcast.button_next"))
    await orga.text(TEXT)


# --- The whole journey --------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_audience_text_preview_send_progress_cancel(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await world(services)
    orga = organiser(harness(services), lang)
    await orga.command("/broadcast")
    assert orga.last_texts() == [t("broadcast.picker_title")]  # no broadcast yet: no list
    assert labels(orga) == [
        t(AUDIENCE_LABELS[a]) for a in (Audience.PLEDGERS, Audience.MEMBERS, Audience.GROUPS)
    ] + [t("broadcast.button_next")]
    picker = orga.last_replies()
    await orga.press(t("broadcast.button_next"))
    assert orga.last_texts() == [t("broadcast.error_no_audience")]

    await press_earlier(orga, picker, t("broadcast.audience.pledgers"))
    [screen] = orga.last_replies()
    assert isinstance(screen, Message) and screen.replaces
    assert t("broadcast.picker_challenge") in screen.text
    pledgers = t("broadcast.selected", label=t("broadcast.audience.pledgers"))
    assert labels(orga)[0] == pledgers and challenge.title in labels(orga)
    picker = orga.last_replies()
    await orga.press(t("broadcast.button_next"))
    assert orga.last_texts() == [t("broadcast.error_needs_challenge")]
    await press_earlier(orga, picker, challenge.title)
    assert t("broadcast.selected", label=challenge.title) in labels(orga)
    await orga.press(t("broadcast.audience.groups"))
    assert t("broadcast.selected", label=t("broadcast.audience.groups")) in labels(orga)
    await orga.press(t("broadcast.button_next"))
    assert prompts(orga) == [t("broadcast.text_prompt", limit=MAX_TEXT)]
    assert await all_broadcasts(services) == []

    await orga.text(TEXT)
    draft = await only_broadcast(services)
    assert draft.status is BroadcastStatus.DRAFT
    assert (draft.audiences, draft.challenge_id) == (
        {Audience.PLEDGERS, Audience.GROUPS},
        challenge.id,
    )
    counts = {"fr": 2, "en": 1}  # the group reads French, the default
    for code in SUPPORTED_LOCALES:
        read = broadcast_text(Translator(code), {"text": TEXT, "group": False}, challenge.title)
        head = t.plural("broadcast.preview_in", counts[code], language=LANGUAGE[lang][code])
        assert f"{head}\n\n{read}" in orga.last_texts()
    assert orga.last_texts()[-1] == t.plural("broadcast.preview_total", 3)
    assert labels(orga) == [
        t(f"broadcast.button_{key}") for key in ("now", "schedule", "edit", "drop")
    ]
    assert await statuses(services, draft.id) == {}

    await orga.press(t("broadcast.button_now"))
    assert await statuses(services, draft.id) == {"1": "pending", "2": "pending", "-100": "pending"}
    text = joined(orga)
    assert t("broadcast.launched") in text
    status = t("broadcast.status.sending")
    assert t("broadcast.progress_title", id=str(draft.id), status=status) in text
    assert t.plural("broadcast.progress_counts", 3, sent=0, failed=0, cancelled=0, remaining=3) in (
        text
    )
    assert t("broadcast.eta_unknown") in text
    assert labels(orga) == [t("broadcast.button_refresh"), t("broadcast.button_stop")]

    await DeliveryWorker(
        services, {Platform.TELEGRAM: FakeDeliverer(Platform.TELEGRAM)}
    ).run_once()  # not Discord
    await orga.press(t("broadcast.button_refresh"))
    [screen] = orga.last_replies()
    assert isinstance(screen, Message) and screen.replaces
    assert t.plural("broadcast.progress_counts", 3, sent=2, failed=0, cancelled=0, remaining=1) in (
        screen.text
    )
    assert t("broadcast.eta", eta=eta_words(t, timedelta(seconds=30))) in screen.text

    await orga.press(t("broadcast.button_stop"))
    assert orga.last_texts() == [t("broadcast.cancel_confirm", id=str(draft.id))]
    await orga.press(t("broadcast.cancel_no"))
    assert (await services.broadcasts.get(draft.id)).status is BroadcastStatus.SENDING
    await orga.press(t("broadcast.button_stop"))
    await orga.press(t("broadcast.cancel_yes"))
    assert t.plural("broadcast.cancelled", 1, id=str(draft.id)) in orga.last_texts()
    assert await statuses(services, draft.id) == {"1": "sent", "2": "cancelled", "-100": "sent"}
    assert labels(orga) == [t("broadcast.button_refresh")]  # nothing left to cancel

    await orga.command("/broadcast")
    listing = orga.last_texts()[0]
    assert listing.startswith(t("broadcast.recent_title"))
    assert f"{draft.id}" in listing and t("broadcast.status.cancelled") in listing
    await orga.press(t("broadcast.recent_button", id=str(draft.id)))
    cancelled = t(STATUS_LABELS[BroadcastStatus.CANCELLED])
    assert t("broadcast.progress_title", id=str(draft.id), status=cancelled) in joined(orga)


@pytest.mark.parametrize("lang", LANGS)
async def test_schedule_after_a_bad_time(services: Services, clock: FakeClock, lang: str) -> None:
    t = T[lang]
    challenge = await world(services)
    orga = organiser(harness(services), lang)
    await up_to_preview(orga, t, challenge)
    await orga.press(t("broadcast.button_schedule"))
    prompt = t("broadcast.when_prompt", timezone="Europe/Paris")
    assert prompts(orga) == [prompt]
    for answer, key in [
        ("next week", "broadcast.when_format"),
        ("31/02 10h", "broadcast.when_format"),
        ("2026-03-10 09:30", "broadcast.error_in_past"),
    ]:
        await orga.text(answer)
        assert orga.last_texts() == [t(key), prompt], answer
    assert (await only_broadcast(services)).status is BroadcastStatus.DRAFT

    await orga.text("demain 9h" if lang == "fr" else "tomorrow 9:00")
    scheduled = await only_broadcast(services)
    assert scheduled.status is BroadcastStatus.SCHEDULED
    assert scheduled.send_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    shown = joined(orga)
    assert t("broadcast.scheduled", when=scheduled.send_at.astimezone(PARIS)) in shown
    assert t("broadcast.progress_scheduled", when=scheduled.send_at.astimezone(PARIS)) in shown
    assert labels(orga) == [t("broadcast.button_refresh"), t("broadcast.button_stop")]
    assert await services.broadcasts.launch_due() == 0

    clock.advance(timedelta(days=1))
    assert await services.broadcasts.launch_due() == 3
    await orga.press(t("broadcast.button_refresh"))
    assert t.plural("broadcast.progress_counts", 3, sent=0, failed=0, cancelled=0, remaining=3) in (
        joined(orga)
    )


async def test_scheduled_broadcast_cancelled_before_its_time(services: Services) -> None:
    t = T["en"]
    challenge = await world(services)
    orga = organiser(harness(services), "en")
    await up_to_preview(orga, t, challenge)
    await orga.press(t("broadcast.button_schedule"))
    await orga.text("2026-12-01 18:00")
    await orga.press(t("broadcast.button_stop"))
    await orga.press(t("broadcast.cancel_yes"))
    broadcast = await only_broadcast(services)
    assert t.plural("broadcast.cancelled", 0, id=str(broadcast.id)) in orga.last_texts()
    assert broadcast.status is BroadcastStatus.CANCELLED
    assert broadcast.send_at == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


# --- Texts refused, edited, dropped -------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_empty_or_long_text_is_refused_and_nothing_written(
    services: Services, lang: str
) -> None:
    t = T[lang]
    orga = organiser(harness(services), lang)
    await orga.command("/broadcast")
    await orga.press(t("broadcast.audience.members"))
    assert t("broadcast.picker_challenge") not in joined(orga)  # no challenge needed
    await orga.press(t("broadcast.button_next"))
    prompt = t("broadcast.text_prompt", limit=MAX_TEXT)
    await orga.text("   ")
    assert orga.last_texts() == [t("broadcast.error_empty"), prompt]
    await orga.text("x" * (MAX_TEXT + 1))
    assert orga.last_texts() == [t("broadcast.error_too_long", limit=MAX_TEXT), prompt]
    assert await all_broadcasts(services) == []
    await orga.text("Bonjour à tous")
    broadcast = await only_broadcast(services)
    assert (broadcast.audiences, broadcast.challenge_id) == ({Audience.MEMBERS}, None)
    read = broadcast_text(Translator(lang), {"text": "Bonjour à tous", "group": False}, "")
    assert any(read in text for text in orga.last_texts())


async def test_text_as_a_form(services: Services) -> None:
    t = T["en"]
    orga = organiser(harness(services, Capabilities(forms=True)), "en")
    await orga.command("/broadcast")
    await orga.press(t("broadcast.audience.members"))
    await orga.press(t("broadcast.button_next"))
    [form] = orga.last_replies()
    assert isinstance(form, AskForm) and form.title == t("broadcast.text_title")
    [field] = form.fields
    assert (field.name, field.long, field.max_length) == ("text", True, MAX_TEXT)
    assert len(form.title) <= 45 and len(field.label) <= 45  # a Discord modal's limits
    await orga.form(text="")
    assert t("engine.form_required", field=field.label) in orga.last_texts()
    assert await all_broadcasts(services) == []
    await orga.form(text="Hello everyone")
    assert (await only_broadcast(services)).text == "Hello everyone"


@pytest.mark.parametrize("lang", LANGS)
async def test_edit_replaces_the_draft(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await world(services)
    orga = organiser(harness(services), lang)
    await up_to_preview(orga, t, challenge)
    first = await only_broadcast(services)
    stale_send = next(
        c.id for c in choices(orga.last_replies()) if c.label == t("broadcast.button_now")
    )
    await orga.press(t("broadcast.button_edit"))
    assert prompts(orga) == [t("broadcast.text_prompt", limit=MAX_TEXT)]
    await orga.text("Changement : dimanche !")
    [second] = await all_broadcasts(services)
    assert second.id == first.id and second.status is BroadcastStatus.DRAFT
    assert (second.text, second.audiences, second.challenge_id) == (
        "Changement : dimanche !",
        first.audiences,
        first.challenge_id,
    )
    await orga.press_id(stale_send)  # the first preview's button sends the one, edited draft
    assert set(await statuses(services, second.id)) == {"1", "2", "-100"}
    [sent] = await all_broadcasts(services)
    assert sent.text == "Changement : dimanche !"


@pytest.mark.parametrize("lang", LANGS)
async def test_drop_sends_nothing(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await world(services)
    orga = organiser(harness(services), lang)
    await up_to_preview(orga, t, challenge)
    await orga.press(t("broadcast.button_drop"))
    assert t("broadcast.dropped") in orga.last_texts()
    assert await all_broadcasts(services) == []  # the draft is deleted
    assert await services.broadcasts.launch_due() == 0
    await orga.command("/broadcast")  # a draft never confirmed is not listed
    assert orga.last_texts() == [t("broadcast.picker_title")]


async def test_challenge_named_in_the_command_is_preselected(services: Services) -> None:
    t = T["en"]
    challenge = await world(services)
    orga = organiser(harness(services), "en")
    await orga.command(f"/broadcast {challenge.slug}")
    assert labels(orga) == [
        t("broadcast.selected", label=t("broadcast.audience.pledgers")),
        t("broadcast.audience.members"),
        t("broadcast.audience.groups"),
        t("broadcast.selected", label=challenge.title),
        t("broadcast.button_next"),
    ]
    await orga.press(t("broadcast.button_next"))
    await orga.text("Merci !")
    assert t.plural("broadcast.preview_total", 2) in orga.last_texts()
    await orga.command("/broadcast nope")
    assert orga.last_texts() == [t("error.challenge_not_found", slug="nope")]


async def test_no_open_challenge(services: Services) -> None:
    t = T["en"]
    orga = organiser(harness(services), "en")
    await orga.command("/broadcast")
    await orga.press(t("broadcast.audience.groups"))
    assert t("broadcast.no_challenge") in orga.last_texts()[0]
    await orga.press(t("broadcast.button_next"))
    assert orga.last_texts() == [t("broadcast.error_needs_challenge")]


# --- Refusals -----------------------------------------------------------------------------


class BaitFlow(Flow):
    """Offers any broadcast button (a test-only way past the offered list)."""

    name = "bait"
    commands = (CommandSpec("bait"),)

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        # the ids as they are, even malformed: typed buttons could not say them
        turn.send("bait", [[Choice(f"bcast:{choice_id}", choice_id)] for choice_id in self.ids])


@pytest.mark.parametrize("lang", LANGS)
async def test_non_organisers_are_refused(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await world(services)
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, "Hello")
    ids = [f"{action}:{draft.id}" for action in ("now", "sched", "edit", "drop", "prog", "stop")]
    ids += [f"kill:{draft.id}", f"pick:1:{challenge.id}", f"next:1:{challenge.id}"]
    chat = ChatHarness(services, [BroadcastFlow(), BaitFlow(ids)])
    bob = chat.person("telegram:1", name="Bob", lang=lang)
    for command in ("/broadcast", f"/broadcast {challenge.slug}"):
        await bob.command(command)
        assert bob.last_texts() == [t("error.not_organiser")], command
    for choice_id in ids:  # forged: never offered to Bob
        await bob.press_id(f"bcast:{choice_id}")
        assert bob.last_texts() == [t("engine.stale_choice")], choice_id
    await bob.command("/bait")
    for choice_id in ids:  # offered by another flow: still refused
        await bob.press(choice_id)
        assert bob.last_texts() == [t("error.not_organiser")], choice_id
        await bob.command("/bait")
    assert await all_broadcasts(services) == [draft]
    assert await statuses(services, draft.id) == {}


async def test_forged_choices_are_stale(services: Services) -> None:
    t = T["en"]
    challenge = await world(services)
    forged = ["now:999", "prog:abc", "kill:", "pick:8:0", "pick:1:999", "next:x:0", "what:1"]
    chat = ChatHarness(services, [BroadcastFlow(), BaitFlow(forged)])
    orga = organiser(chat, "en")
    await orga.press_id(f"bcast:pick:1:{challenge.id}")  # never offered
    assert orga.last_texts() == [t("engine.stale_choice")]
    await orga.command("/bait")
    for choice_id in forged:
        await orga.press(choice_id)
        assert orga.last_texts() == [t("engine.stale_choice")], choice_id
        await orga.command("/bait")
    assert await all_broadcasts(services) == []


# --- Times --------------------------------------------------------------------------------

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("2026-12-01 18:00", datetime(2026, 12, 1, 17, 0)),
        ("2026-12-01T18:00", datetime(2026, 12, 1, 17, 0)),
        ("2026-7-1 18h", datetime(2026, 7, 1, 16, 0)),  # summer time
        ("01/12/2026 18h30", datetime(2026, 12, 1, 17, 30)),
        ("01.12.2026 18H30", datetime(2026, 12, 1, 17, 30)),
        ("01/12 18h", datetime(2026, 12, 1, 17, 0)),
        ("05/03 9h", datetime(2027, 3, 5, 8, 0)),  # that day passed: next year
        ("tomorrow 9:00", datetime(2026, 3, 11, 8, 0)),
        ("Tomorrow at 9", datetime(2026, 3, 11, 8, 0)),
        ("demain 9h", datetime(2026, 3, 11, 8, 0)),
        ("demain à 9h05", datetime(2026, 3, 11, 8, 5)),
        ("demain 9 h", datetime(2026, 3, 11, 8, 0)),
        ("01/12 18 h 30", datetime(2026, 12, 1, 17, 30)),
        ("aujourd’hui 18h", datetime(2026, 3, 10, 17, 0)),
        ("today 18:00", datetime(2026, 3, 10, 17, 0)),
        ("  18h  ", datetime(2026, 3, 10, 17, 0)),
    ],
)
def test_parse_when(typed: str, expected: datetime) -> None:
    assert parse_when(typed, "Europe/Paris", NOW) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "typed,key",
    [
        ("", "broadcast.when_format"),
        ("demain", "broadcast.when_format"),
        ("31/02 10h", "broadcast.when_format"),
        ("2026-13-01 10:00", "broadcast.when_format"),
        ("25:00", "broadcast.when_format"),
        ("10h75", "broadcast.when_format"),
        ("next friday 9h", "broadcast.when_format"),
        ("10/03 10h", "broadcast.error_in_past"),  # exactly now
        ("today 9h", "broadcast.error_in_past"),
        ("2025-12-01 18:00", "broadcast.error_in_past"),
    ],
)
def test_parse_when_refusals(typed: str, key: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_when(typed, "Europe/Paris", NOW)
    assert refused.value.key == key


# --- Catalogues and registry --------------------------------------------------------------


def test_the_flow_is_registered() -> None:
    assert any(isinstance(flow, BroadcastFlow) for flow in default_flows())


def test_every_dynamic_key_exists() -> None:
    keys = [*AUDIENCE_LABELS.values(), *STATUS_LABELS.values()]
    for locale in SUPPORTED_LOCALES:
        missing = [key for key in keys if key not in catalogue(locale).messages]
        assert missing == [], locale
