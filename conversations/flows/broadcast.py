"""/broadcast: an organiser writes to an audience (the pledgers of a challenge, every member who
accepts news, the groups following a challenge, or several), previews the message in every
language, sends it now or at a set local time, then follows or cancels its delivery.

Steps: the audience picker (toggles, and a challenge picker when pledgers or groups are chosen)
-> the text -> the preview, a draft broadcast -> send now, or the date and time to send it.

Its buttons are the `Broadcast*` types of `conversations.flows.actions`: the picker's carry
the audience bits and the challenge picked (0: none), the others the broadcast id, so its
panel keeps working after the flow ends.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta

from conversations.announcements import broadcast_text
from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    BroadcastCancel,
    BroadcastDrop,
    BroadcastEdit,
    BroadcastNext,
    BroadcastNow,
    BroadcastPick,
    BroadcastRefresh,
    BroadcastSchedule,
    BroadcastStop,
)
from conversations.flows.organiser_manage import short
from conversations.model import Choice, FormField, FormInput, StepInput, TextInput
from core.errors import Conflict, Invalid, KoomError, NotFound
from core.i18n import SUPPORTED_LOCALES, Translator
from core.models import Challenge
from core.services.broadcasts import (
    MAX_TEXT,
    Audience,
    Broadcast,
    BroadcastProgress,
    BroadcastStatus,
)

STEP_TEXT = "text"
STEP_WHEN = "when"
AUDIENCE_BITS = {Audience.PLEDGERS: 1, Audience.MEMBERS: 2, Audience.GROUPS: 4}
ALL_BITS = sum(AUDIENCE_BITS.values())
AUDIENCE_LABELS = {
    Audience.PLEDGERS: "broadcast.audience.pledgers",
    Audience.MEMBERS: "broadcast.audience.members",
    Audience.GROUPS: "broadcast.audience.groups",
}
NEEDS_CHALLENGE = frozenset({Audience.PLEDGERS, Audience.GROUPS})
STATUS_LABELS = {
    BroadcastStatus.DRAFT: "broadcast.status.draft",
    BroadcastStatus.SCHEDULED: "broadcast.status.scheduled",
    BroadcastStatus.SENDING: "broadcast.status.sending",
    BroadcastStatus.DONE: "broadcast.status.done",
    BroadcastStatus.CANCELLED: "broadcast.status.cancelled",
}
LIVE = (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)
"""A broadcast that can still be cancelled."""
PICKER_SIZE = 8
RECENT = 5
EXCERPT = 40

_TIME = r"(?P<hour>\d{1,2})(?: ?h ?(?P<hmin>\d{2})?|:(?P<min>\d{2}))?"
_WHEN = re.compile(
    r"^(?:(?:(?P<word>today|tomorrow|aujourd'hui|demain)"
    r"|(?P<iso>\d{4}-\d{1,2}-\d{1,2})"
    r"|(?P<day>\d{1,2})[/.](?P<month>\d{1,2})(?:[/.](?P<year>\d{4}))?)"
    r"(?:\s*(?:t|at|à)\s*|\s+))?" + _TIME + "$"
)
MAX_WHEN_TEXT = 40
_DAYS_AHEAD = {"today": 0, "aujourd'hui": 0, "tomorrow": 1, "demain": 1}


# --- The flow -----------------------------------------------------------------------------


class BroadcastFlow(Flow):
    """Write to pledgers, members or groups; preview, send or schedule, follow, cancel."""

    name = "bcast"
    commands = (CommandSpec("broadcast", Option.CHALLENGE, private_menu=True),)
    organiser_only = True
    private_only = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if args:
            challenge = await turn.services.challenges.by_slug(args)
            await _check_audience(turn, 0, challenge.id)
            await show_picker(turn, AUDIENCE_BITS[Audience.PLEDGERS], challenge)
            return
        await show_recent(turn)
        await show_picker(turn, 0, None)

    @on(BroadcastPick)
    async def press_pick(self, turn: Turn, button: BroadcastPick) -> None:
        picked = await _selection(turn, button.bits, button.challenge_id)
        await show_picker(turn, *picked, replaces=True)

    @on(BroadcastNext)
    async def press_next(self, turn: Turn, button: BroadcastNext) -> None:
        ask_first_text(turn, *await _selection(turn, button.bits, button.challenge_id))

    @on(BroadcastNow)
    async def press_now(self, turn: Turn, button: BroadcastNow) -> None:
        await send_now(turn, await _broadcast(turn, button.broadcast_id))

    @on(BroadcastSchedule)
    async def press_schedule(self, turn: Turn, button: BroadcastSchedule) -> None:
        await ask_when(turn, await _broadcast(turn, button.broadcast_id))

    @on(BroadcastEdit)
    async def press_edit(self, turn: Turn, button: BroadcastEdit) -> None:
        await edit_text(turn, await _broadcast(turn, button.broadcast_id))

    @on(BroadcastDrop)
    async def press_drop(self, turn: Turn, button: BroadcastDrop) -> None:
        await drop(turn, await _broadcast(turn, button.broadcast_id))

    @on(BroadcastRefresh)
    async def press_progress(self, turn: Turn, button: BroadcastRefresh) -> None:
        await refresh(turn, await _broadcast(turn, button.broadcast_id))

    @on(BroadcastStop)
    async def press_stop(self, turn: Turn, button: BroadcastStop) -> None:
        await ask_cancel(turn, await _broadcast(turn, button.broadcast_id))

    @on(BroadcastCancel)
    async def press_cancel(self, turn: Turn, button: BroadcastCancel) -> None:
        await cancel(turn, await _broadcast(turn, button.broadcast_id))

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        match value:
            case TextInput(text=text) if step == STEP_TEXT:
                await on_text(turn, text)
            case FormInput(values=values) if step == STEP_TEXT:
                await on_text(turn, values.get("text", ""))
            case TextInput(text=text) if step == STEP_WHEN:
                await on_when(turn, text)
            case _:
                turn.say("broadcast.type_answer")
                turn.step = step


# --- Audience -----------------------------------------------------------------------------


def audiences_of(bits: int) -> set[Audience]:
    """The audiences whose bits are set."""
    return {audience for audience, bit in AUDIENCE_BITS.items() if bits & bit}


async def _selection(turn: Turn, bits: int, challenge_id: int) -> tuple[int, Challenge | None]:
    """A picker choice's audience bits and challenge; stale when either is not one."""
    if not 0 <= bits <= ALL_BITS:
        raise KoomError("engine.stale_choice")
    try:
        found = await turn.services.challenges.get(challenge_id) if challenge_id else None
    except NotFound:
        raise KoomError("engine.stale_choice") from None
    await _check_audience(turn, bits, challenge_id)
    return bits, found


async def _check_audience(turn: Turn, bits: int, challenge_id: int) -> None:
    """Forbidden unless the person may write to this audience: every member for
    administrators alone, a challenge's pledgers and groups for those who manage it."""
    actor, organisations = await turn.actor(), turn.services.organisations
    if bits & AUDIENCE_BITS[Audience.MEMBERS]:
        await organisations.check_broadcast(actor, None)
    if challenge_id:
        await organisations.check_broadcast(actor, challenge_id)


def _mark(t: Translator, label: str, selected: bool) -> str:
    return t("broadcast.selected", label=label) if selected else label


async def show_picker(
    turn: Turn, bits: int, challenge: Challenge | None, replaces: bool = False
) -> None:
    """The audience toggles, the challenges when one is needed, and "Next"."""
    t, chosen = turn.t, audiences_of(bits)
    picked = challenge.id if challenge else 0
    offered = [a for a in Audience if a is not Audience.MEMBERS or await turn.is_organiser()]
    rows = [[_toggle(turn, audience, bits, picked)] for audience in offered]
    lines = [t("broadcast.picker_title")]
    if chosen & NEEDS_CHALLENGE:
        options = await _challenges(turn, challenge)
        lines.append(t("broadcast.picker_challenge" if options else "broadcast.no_challenge"))
        rows += [
            [turn.choice(_mark(t, short(c.title), c.id == picked), BroadcastPick(bits, c.id))]
            for c in options
        ]
    rows.append([turn.choice(t("broadcast.button_next"), BroadcastNext(bits, picked))])
    turn.send("\n\n".join(lines), rows, replaces)


def _toggle(turn: Turn, audience: Audience, bits: int, picked: int) -> Choice:
    """The button that adds or removes `audience`, marked when it is chosen."""
    label = _mark(turn.t, turn.t(AUDIENCE_LABELS[audience]), bool(bits & AUDIENCE_BITS[audience]))
    return turn.choice(label, BroadcastPick(bits ^ AUDIENCE_BITS[audience], picked))


async def _challenges(turn: Turn, chosen: Challenge | None) -> list[Challenge]:
    """The open challenges the person manages, with the chosen one first when it is not
    among them."""
    actor = await turn.actor()
    found = (await turn.services.organisations.manageable(actor, open_only=True))[:PICKER_SIZE]
    if chosen is not None and all(c.id != chosen.id for c in found):
        found.insert(0, chosen)
    return found


# --- Text and preview ---------------------------------------------------------------------


def ask_first_text(turn: Turn, bits: int, challenge: Challenge | None) -> None:
    """Keep the audience and ask for the message; refused without a complete audience."""
    chosen = audiences_of(bits)
    if not chosen:
        raise Invalid("broadcast.error_no_audience")
    needs = bool(chosen & NEEDS_CHALLENGE)
    if needs and challenge is None:
        raise Invalid("broadcast.error_needs_challenge")
    turn.data.clear()
    turn.data.update(
        audiences=sorted(a.value for a in chosen),
        challenge=challenge.id if needs and challenge else None,
    )
    ask_text(turn)


def ask_text(turn: Turn) -> None:
    """Ask for the message: a form where the platform has them, else a text."""
    if turn.capabilities.forms:
        t = turn.t
        label, placeholder = t("broadcast.text_label"), t("broadcast.text_placeholder")
        field = FormField("text", label, placeholder, long=True, max_length=MAX_TEXT)
        turn.ask_form(STEP_TEXT, "broadcast.text_title", [field])
    else:
        turn.ask_text(STEP_TEXT, "broadcast.text_prompt", limit=MAX_TEXT)


async def on_text(turn: Turn, text: str) -> None:
    """Write the draft (the service checks the text) and show its preview."""
    audiences = {Audience(value) for value in turn.recall("audiences")}
    replaced = turn.data.get("replaces")
    try:
        if replaced is not None:
            broadcast = await turn.services.broadcasts.edit_text(int(replaced), text)
        else:
            broadcast = await turn.services.broadcasts.create(
                turn.member.id, audiences, text, turn.data.get("challenge")
            )
    except Invalid as error:
        turn.say(error.key, **error.params)
        ask_text(turn)
        return
    await show_preview(turn, broadcast)
    turn.end()


async def challenge_title(turn: Turn, broadcast: Broadcast) -> str:
    """The title recipients see in the header, or "" for a message from the organisers."""
    if broadcast.challenge_id is None:
        return ""
    return (await turn.services.challenges.get(broadcast.challenge_id)).title


def preview_texts(
    t: Translator, broadcast: Broadcast, title: str, sizes: dict[str, int]
) -> list[str]:
    """For each language, its recipients and the exact message they read."""
    payload = {"text": broadcast.text, "group": False}
    texts = []
    for locale in SUPPORTED_LOCALES:
        language = t.babel_locale.languages[locale]
        head = t.plural("broadcast.preview_in", sizes.get(locale, 0), language=language)
        texts.append(f"{head}\n\n{broadcast_text(Translator(locale), payload, title)}")
    return texts


async def show_preview(turn: Turn, broadcast: Broadcast) -> None:
    """The message in every language, the recipients, and what to do with the draft."""
    t, bid = turn.t, broadcast.id
    sizes = await turn.services.broadcasts.audience_size(bid)
    for text in preview_texts(t, broadcast, await challenge_title(turn, broadcast), sizes):
        turn.send(text)
    rows = [
        [
            turn.choice(t("broadcast.button_now"), BroadcastNow(bid)),
            turn.choice(t("broadcast.button_schedule"), BroadcastSchedule(bid)),
        ],
        [
            turn.choice(t("broadcast.button_edit"), BroadcastEdit(bid)),
            turn.choice(t("broadcast.button_drop"), BroadcastDrop(bid)),
        ],
    ]
    turn.send(t.plural("broadcast.preview_total", sum(sizes.values())), rows)


def _draft_only(broadcast: Broadcast) -> None:
    if broadcast.status is not BroadcastStatus.DRAFT:
        raise Conflict("broadcast.error_not_draft")


async def _discard(turn: Turn, broadcast: Broadcast) -> None:
    """Delete a draft dropped before anyone read it."""
    if broadcast.status is BroadcastStatus.DRAFT:
        await turn.services.broadcasts.discard(broadcast.id)


async def edit_text(turn: Turn, broadcast: Broadcast) -> None:
    """Ask for a new text for the same draft."""
    _draft_only(broadcast)
    turn.data.clear()
    turn.data.update(
        audiences=sorted(a.value for a in broadcast.audiences),
        challenge=broadcast.challenge_id,
        replaces=broadcast.id,
    )
    ask_text(turn)


async def drop(turn: Turn, broadcast: Broadcast) -> None:
    """Give up the draft: nothing is sent."""
    _draft_only(broadcast)
    await _discard(turn, broadcast)
    turn.say("broadcast.dropped")
    turn.end()


# --- Sending ------------------------------------------------------------------------------


async def send_now(turn: Turn, broadcast: Broadcast) -> None:
    """Confirm the draft and write its delivery rows at once."""
    await turn.services.broadcasts.confirm(broadcast.id)
    await turn.services.broadcasts.launch_due()
    turn.say("broadcast.launched")
    await show_progress(turn, broadcast)
    turn.end()


async def ask_when(turn: Turn, broadcast: Broadcast) -> None:
    """Ask the local date and time to send the draft."""
    _draft_only(broadcast)
    turn.data.clear()
    turn.data["id"] = broadcast.id
    turn.ask_text(STEP_WHEN, "broadcast.when_prompt", timezone=turn.member.timezone)


async def on_when(turn: Turn, text: str) -> None:
    """Schedule the draft, or say why not and ask again."""
    broadcast_id = int(turn.recall("id"))
    timezone = turn.member.timezone
    try:
        when = parse_when(text, timezone, turn.clock.now())
        broadcast = await turn.services.broadcasts.confirm(broadcast_id, send_at=when)
    except Invalid as error:
        turn.say(error.key, **error.params)
        turn.ask_text(STEP_WHEN, "broadcast.when_prompt", timezone=timezone)
        return
    except KoomError as error:  # confirmed or gone meanwhile
        turn.say(error.key, **error.params)
        turn.end()
        return
    turn.say("broadcast.scheduled", when=local_time(when, timezone))
    await show_progress(turn, broadcast)
    turn.end()


def parse_when(text: str, timezone: str, now: datetime) -> datetime:
    """A local moment typed as "2026-12-01 18:00", "01/12/2026 18h30", "01/12 18h",
    "tomorrow 9:00", "demain 9h" or "18h" (today), in UTC.

    A day and month without a year that already passed this year mean next year. Raises
    Invalid with "broadcast.when_format" or "broadcast.error_in_past".
    """
    cleaned = " ".join(text.strip().lower().replace("’", "'").split())
    match = _WHEN.match(cleaned) if len(cleaned) <= MAX_WHEN_TEXT else None
    if match is None:
        raise Invalid("broadcast.when_format")
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    parts = match.groupdict()
    try:
        day = _day(parts, today)
        moment = time(int(parts["hour"]), int(parts["hmin"] or parts["min"] or 0))
    except ValueError:
        raise Invalid("broadcast.when_format") from None
    when = datetime.combine(day, moment, zone).astimezone(UTC)
    if when <= now:
        raise Invalid("broadcast.error_in_past")
    return when


def _day(parts: dict[str, str | None], today: date) -> date:
    """The day of a `_WHEN` match (ValueError when there is no such day)."""
    if parts["word"]:
        return today + timedelta(days=_DAYS_AHEAD[parts["word"]])
    if parts["iso"]:
        return date.fromisoformat("-".join(f"{int(p):02}" for p in parts["iso"].split("-")))
    if parts["day"] is None or parts["month"] is None:
        return today
    day, month = int(parts["day"]), int(parts["month"])
    if parts["year"]:
        return date(int(parts["year"]), month, day)
    found = date(today.year, month, day)
    return found if found >= today else date(today.year + 1, month, day)


def local_time(moment: datetime, timezone: str) -> datetime:
    """`moment` on the organiser's clock."""
    return moment.astimezone(ZoneInfo(timezone))


# --- Progress -----------------------------------------------------------------------------


def eta_words(t: Translator, eta: timedelta) -> str:
    """ "3 minutes", "1 hour" in `t`'s language."""
    return str(format_timedelta(eta, locale=t.locale))


def progress_text(t: Translator, progress: BroadcastProgress, timezone: str) -> str:
    """Where a broadcast stands: status, counts (or when it goes out) and time left."""
    broadcast = progress.broadcast
    status = t(STATUS_LABELS[broadcast.status])
    lines = [t("broadcast.progress_title", id=str(broadcast.id), status=status)]
    if broadcast.status is BroadcastStatus.SCHEDULED and broadcast.send_at is not None:
        when = local_time(broadcast.send_at, timezone)
        lines.append(t("broadcast.progress_scheduled", when=when))
        return "\n".join(lines)
    lines.append(
        t.plural(
            "broadcast.progress_counts",
            progress.total,
            sent=progress.sent,
            failed=progress.failed,
            cancelled=progress.cancelled,
            remaining=progress.remaining,
        )
    )
    if progress.remaining and broadcast.status is BroadcastStatus.SENDING:
        if progress.eta is None:
            lines.append(t("broadcast.eta_unknown"))
        else:
            lines.append(t("broadcast.eta", eta=eta_words(t, progress.eta)))
    return "\n".join(lines)


async def show_progress(turn: Turn, broadcast: Broadcast, replaces: bool = False) -> None:
    """The progress, with Refresh and, while it can be stopped, Cancel."""
    t = turn.t
    progress = await turn.services.broadcasts.progress(broadcast.id)
    rows = [[turn.choice(t("broadcast.button_refresh"), BroadcastRefresh(broadcast.id))]]
    if progress.broadcast.status in LIVE:
        rows.append([turn.choice(t("broadcast.button_stop"), BroadcastStop(broadcast.id))])
    turn.send(progress_text(t, progress, turn.member.timezone), rows, replaces)


async def refresh(turn: Turn, broadcast: Broadcast) -> None:
    """The progress again, in place."""
    await show_progress(turn, broadcast, replaces=True)


async def ask_cancel(turn: Turn, broadcast: Broadcast) -> None:
    """Ask before stopping a broadcast."""
    if broadcast.status not in LIVE:
        raise Conflict("broadcast.error_finished")
    yes = turn.choice(turn.t("broadcast.cancel_yes"), BroadcastCancel(broadcast.id))
    no = turn.choice(turn.t("broadcast.cancel_no"), BroadcastRefresh(broadcast.id))
    turn.send(turn.t("broadcast.cancel_confirm", id=str(broadcast.id)), [[yes, no]])


async def cancel(turn: Turn, broadcast: Broadcast) -> None:
    """Stop the broadcast: what is not sent yet never will be."""
    cancelled = await turn.services.broadcasts.cancel(broadcast.id)
    turn.say_plural("broadcast.cancelled", cancelled, id=str(broadcast.id))
    await show_progress(turn, broadcast)


async def show_recent(turn: Turn) -> None:
    """The latest confirmed broadcasts, with a button to follow each (nothing when none)."""
    t, timezone = turn.t, turn.member.timezone
    actor = await turn.actor()
    mine = None
    if not actor.is_admin:
        mine = [c.id for c in await turn.services.organisations.manageable(actor)]
    shown = [
        (b, b.send_at)
        for b in await turn.services.broadcasts.recent(RECENT, mine)
        if b.send_at is not None
    ]
    if not shown:
        return
    lines = [t("broadcast.recent_title")]
    lines += [
        t(
            "broadcast.recent_line",
            id=str(b.id),
            status=t(STATUS_LABELS[b.status]),
            when=local_time(send_at, timezone),
            text=short(" ".join(b.text.split()), EXCERPT),
        )
        for b, send_at in shown
    ]
    row = [
        turn.choice(t("broadcast.recent_button", id=str(b.id)), BroadcastRefresh(b.id))
        for b, _ in shown
    ]
    turn.send("\n".join(lines), [row])


async def _broadcast(turn: Turn, broadcast_id: int) -> Broadcast:
    """The broadcast a choice names; stale when there is none, Forbidden when it is not to
    an audience the person may write to."""
    try:
        found = await turn.services.broadcasts.get(broadcast_id)
    except NotFound:
        raise KoomError("engine.stale_choice") from None
    members = AUDIENCE_BITS[Audience.MEMBERS] if Audience.MEMBERS in found.audiences else 0
    await _check_audience(turn, members, found.challenge_id or 0)
    return found
