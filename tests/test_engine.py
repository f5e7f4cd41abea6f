"""The conversation engine, driven with small test-only flows."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from conversations.buttons import Button
from conversations.engine import Engine, fit, split_text
from conversations.flow import CommandSpec, Flow, Turn, on
from conversations.model import (
    AskForm,
    AskText,
    Capabilities,
    Choice,
    Command,
    End,
    Envelope,
    FormField,
    FormInput,
    LocationInput,
    Message,
    Sender,
    TextInput,
)
from conversations.state import ConversationState, ConversationStore, PendingForm, SessionKey
from conversations.testing import ChatHarness, choices, texts
from core.clock import FakeClock
from core.errors import Invalid
from core.i18n import Translator
from core.identity import AccountRef, ChatRef
from core.services import Services

FR = Translator("fr")
EN = Translator("en")
ALICE = SessionKey("console", "alice", "alice")


class NoteShow(Button, flow="note", action="show"):
    pass


class MenuPick(Button, flow="menu", action="pick"):
    number: int


class NoteFlow(Flow):
    """Collects notes as text; "refuse" raises a KoomError, "boom" crashes."""

    name = "note"
    commands = (CommandSpec("note"),)

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        turn.data["notes"] = []
        turn.send("notes?", [[turn.choice("show", NoteShow())]])
        turn.ask_text("body", "note.prompt")

    @on(NoteShow)
    async def show(self, turn: Turn, button: NoteShow) -> None:
        turn.send(f"notes: {turn.recall('notes')}")

    async def on_input(
        self, turn: Turn, step: str, value: TextInput | LocationInput | FormInput
    ) -> None:
        assert isinstance(value, TextInput)
        turn.data["notes"].append(value.text)
        turn.send(f"noted {value.text}")
        if value.text == "refuse":
            raise Invalid("error.text_too_long", limit=12)
        if value.text == "boom":
            raise RuntimeError("flow bug")
        if value.text == "done":
            turn.end()
        else:
            turn.ask_text("body", "note.prompt")


class MenuFlow(Flow):
    """Offers choices; `/menu N` offers N numbered ones."""

    name = "menu"
    commands = (CommandSpec("menu"), CommandSpec("long"))

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        turn.data["seen"] = "menu"
        if command == "long":
            rows = [[turn.choice(f"c{i}", MenuPick(i)) for i in range(5)]]
            turn.send("\n".join(f"line {i} " + "x" * 50 for i in range(3)), rows)
            return
        count = int(args or 2)
        prefix = "ab" if count == 2 else "n"
        turn.send("menu", [[turn.choice(f"{prefix}{i}", MenuPick(i)) for i in range(count)]])

    @on(MenuPick)
    async def pick(self, turn: Turn, button: MenuPick) -> None:
        turn.send(f"picked {button.number} data={sorted(turn.data)}")
        turn.say("engine.form_skip")


class ProfileFlow(Flow):
    """Asks a form with one required and one optional short field."""

    name = "profile"
    commands = (CommandSpec("profile"),)
    fields = (
        FormField("city", "City"),
        FormField("motto", "Motto", required=False, max_length=10),
    )

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        turn.ask_form("profile", "profile.title", self.fields)

    async def on_input(
        self, turn: Turn, step: str, value: TextInput | LocationInput | FormInput
    ) -> None:
        assert isinstance(value, FormInput)
        turn.send(f"city={value.values['city']} motto={value.values['motto']}")
        turn.end()


class AdminFlow(Flow):
    name = "admin"
    commands = (CommandSpec("admin"),)
    organiser_only = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        turn.send("admin ok")


class LanguageFlow(Flow):
    name = "lang"
    commands = (CommandSpec("lang"),)

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        turn.set_member(await turn.services.members.update(turn.member.id, language=args))
        turn.set_locale(args)
        turn.say("engine.form_skip")


class SlowFlow(Flow):
    """Records the order it runs in; `/wait` blocks until `/release` from anyone."""

    name = "slow"
    commands = (CommandSpec("step"), CommandSpec("wait"), CommandSpec("release"))

    def __init__(self) -> None:
        self.log: list[str] = []
        self.released = asyncio.Event()

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "step":
            self.log.append(f"start {args}")
            for _ in range(3):
                await asyncio.sleep(0.001 * (5 - int(args)))
            self.log.append(f"end {args}")
        elif command == "wait":
            await self.released.wait()
            turn.send("released")
        else:
            self.released.set()


def flows() -> list[Flow]:
    return [NoteFlow(), MenuFlow(), ProfileFlow(), AdminFlow(), LanguageFlow()]


def envelope(value: Command | TextInput, account: str = "console:alice") -> Envelope:
    ref = AccountRef.parse(account)
    return Envelope(Sender(ref, "X", "fr"), ChatRef(ref.platform, ref.external_id), value)


async def state(services: Services, key: SessionKey = ALICE) -> ConversationState:
    return await ConversationStore(services.db).load(key)


# --- flows, steps and data --------------------------------------------------------------


async def test_awaited_text_goes_to_the_flow_with_its_data(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    assert isinstance(chat.alice.last_replies()[-1], AskText)
    assert await chat.text("one") == [Message("noted one"), AskText("note.prompt")]
    await chat.text("done")
    assert chat.alice.last_replies() == [Message("noted done"), End()]
    assert await chat.text("three") == [Message(FR("engine.not_understood"))]
    saved = await state(services)
    assert (saved.flow, saved.step, saved.data) == (None, None, {})


async def test_state_survives_a_restart(services: Services) -> None:
    await ChatHarness(services, flows()).command("/note")
    await ChatHarness(services, flows()).text("one")
    restarted = ChatHarness(services, flows())
    assert await restarted.text("two") == [Message("noted two"), AskText("note.prompt")]
    assert (await state(services)).data == {"notes": ["one", "two"]}


async def test_a_new_command_abandons_the_awaited_step(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    await chat.command("/menu")
    assert chat.last_texts() == ["menu"]
    assert await chat.text("hello") == [Message(FR("engine.not_understood"))]


async def test_choices_keep_data_in_their_flow_and_start_fresh_in_another(
    services: Services,
) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/menu")
    assert (await chat.press("ab1"))[0] == Message("picked 1 data=['seen']")
    await chat.command("/note")
    await chat.text("one")
    await chat.press_id("menu:pick:0")  # an older button of another flow still works
    assert chat.last_texts()[0] == "picked 0 data=[]"
    left = await state(services)
    assert (left.flow, left.data) == ("note", {"notes": ["one"]})  # the note still waits
    assert await chat.text("two") == [Message("noted two"), AskText("note.prompt")]


async def test_recall_after_cancel_explains_the_data_is_gone(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    await chat.text("one")
    await chat.press_id("note:show")
    assert chat.last_texts() == ["notes: ['one']"]
    await chat.command("/cancel")
    assert await chat.press_id("note:show") == [Message(FR("engine.data_lost"))]


async def test_unknown_command_text_and_location_outside_a_flow(services: Services) -> None:
    chat = ChatHarness(services, flows())
    assert await chat.command("/nope") == [Message(FR("engine.unknown_command", command="nope"))]
    assert "/nope" in chat.last_texts()[0] and "/help" in chat.last_texts()[0]
    assert await chat.text("bonjour") == [Message(FR("engine.not_understood"))]
    assert await chat.location(45.76, 4.83) == [Message(FR("engine.location_outside_flow"))]
    assert await state(services) == ConversationState()


# --- cancel and expiry ------------------------------------------------------------------


async def test_cancel_leaves_the_flow(services: Services) -> None:
    chat = ChatHarness(services, flows())
    assert await chat.command("/cancel") == [Message(FR("engine.nothing_to_cancel"))]
    await chat.command("/note")
    assert await chat.command("/cancel") == [Message(FR("engine.cancelled")), End()]
    assert await chat.text("one") == [Message(FR("engine.not_understood"))]
    assert await chat.command("/CANCEL") == [Message(FR("engine.nothing_to_cancel"))]


async def test_an_idle_flow_expires(services: Services, clock: FakeClock) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    clock.advance(timedelta(minutes=29))
    assert await chat.text("still") == [Message("noted still"), AskText("note.prompt")]
    clock.advance(timedelta(minutes=31))
    assert await chat.text("late") == [Message(FR("engine.expired")), End()]
    saved = await state(services)
    assert (saved.flow, saved.step, saved.data) == (None, None, {})
    assert "note:show" in saved.offered  # buttons outlive the expired flow
    assert await chat.text("again") == [Message(FR("engine.not_understood"))]


async def test_commands_work_normally_after_expiry(services: Services, clock: FakeClock) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    clock.advance(timedelta(hours=2))
    await chat.command("/note")
    assert await chat.text("fresh") == [Message("noted fresh"), AskText("note.prompt")]


# --- choices ----------------------------------------------------------------------------


async def test_a_forged_choice_changes_nothing(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    before = await state(services)
    assert await chat.press_id("note:show:x") == [Message(FR("engine.stale_choice"))]
    assert await chat.press_id("menu:pick:1") == [Message(FR("engine.stale_choice"))]
    assert await chat.press_id("garbage") == [Message(FR("engine.stale_choice"))]
    assert await state(services) == before


async def test_an_offered_button_whose_data_no_longer_fits_is_stale(services: Services) -> None:
    """Buttons shown by an older version (other arguments, an action since removed) are
    answered as stale and change nothing, though they were offered."""
    chat = ChatHarness(services, flows())
    await chat.command("/menu")
    old = ["menu:pick", "menu:pick:1:2", "menu:pick:one", "menu:gone:1", "gone:pick:1"]
    before = await state(services)
    offered = ConversationState(before.flow, before.step, before.data, offered=(*old,))
    await ConversationStore(services.db).save(ALICE, offered, at=services.clock.now())
    saved = await state(services)
    for choice_id in old:
        assert await chat.press_id(choice_id) == [Message(FR("engine.stale_choice"))], choice_id
    assert await state(services) == saved
    assert saved.data == before.data == {"seen": "menu"}


def test_a_flow_handles_only_its_own_buttons() -> None:
    with pytest.raises(TypeError):

        class Thief(Flow):
            name = "thief"

            @on(MenuPick)
            async def pick(self, turn: Turn, button: MenuPick) -> None:
                turn.send("stolen")


async def test_a_forged_choice_from_a_stranger_creates_nothing(services: Services) -> None:
    chat = ChatHarness(services, flows())
    mallory = chat.person("telegram:666", lang="en")
    assert await mallory.press_id("admin:publish:1") == [Message(EN("engine.stale_choice"))]
    assert await services.members.find(AccountRef.parse("telegram:666")) is None
    assert await state(services, SessionKey("telegram", "666", "666")) == ConversationState()


async def test_choices_are_per_session(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/menu")
    bob = chat.person("console:bob")
    assert await bob.press_id("menu:pick:0") == [Message(FR("engine.stale_choice"))]


async def test_the_last_200_offered_choices_stay_valid(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/menu")
    await chat.command("/menu 150")
    await chat.command("/menu 2")  # shown again: becomes the newest
    await chat.command("/menu 199")
    assert (await chat.press_id("menu:pick:1"))[0] == Message("picked 1 data=['seen']")
    await chat.command("/note")
    await chat.command("/menu 200")
    assert await chat.press_id("note:show") == [Message(FR("engine.stale_choice"))]
    assert len((await state(services)).offered) == 200


# --- refusals and failures --------------------------------------------------------------


async def test_a_koom_error_rolls_back_the_turn(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    await chat.text("one")
    before = await state(services)
    assert await chat.text("refuse") == [Message(FR("error.text_too_long", limit=12))]
    assert "12" in chat.last_texts()[0]
    assert await state(services) == before
    await chat.text("two")
    assert (await state(services)).data == {"notes": ["one", "two"]}


async def test_an_unexpected_error_apologises_and_the_engine_goes_on(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(services, flows())
    await engine.handle(envelope(Command("note")))
    before = await state(services)
    with caplog.at_level(logging.ERROR, logger="conversations.engine"):
        assert await engine.handle(envelope(TextInput("boom"))) == [
            Message(FR("engine.internal_error"))
        ]
    assert caplog.records[-1].exc_info is not None
    assert "boom" not in caplog.text  # what people type is not logged
    assert await state(services) == before
    assert await engine.handle(envelope(TextInput("fine"))) == [
        Message("noted fine"),
        AskText("note.prompt"),
    ]


async def test_the_harness_raises_unexpected_errors(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    with pytest.raises(RuntimeError, match="flow bug"):
        await chat.text("boom")


async def test_text_over_4000_characters_changes_nothing(services: Services) -> None:
    chat = ChatHarness(services, flows())
    await chat.command("/note")
    before = await state(services)
    assert await chat.text("x" * 4001) == [Message(FR("error.text_too_long", limit=4000))]
    assert "4\u202f000" in chat.last_texts()[0]
    assert await state(services) == before
    assert (await chat.text("x" * 4000))[0] == Message("noted " + "x" * 4000)


async def test_organiser_flows_refuse_everyone_else(services: Services) -> None:
    chat = ChatHarness(services, flows())
    assert await chat.command("/admin") == [Message(FR("error.not_organiser"))]
    assert await state(services) == ConversationState()
    orga = chat.person("console:orga")
    assert await orga.command("/admin") == [Message("admin ok")]


async def test_a_linked_account_is_no_organiser(services: Services) -> None:
    organiser = await services.members.ensure(AccountRef.parse("telegram:999"), "Orga")
    code = await services.links.create_code(organiser.id)
    await services.links.request(AccountRef.parse("console:bob"), code)
    await services.links.confirm(organiser.id, code)
    chat = ChatHarness(services, flows())
    assert await chat.person("console:bob").command("/admin") == [
        Message(FR("error.not_organiser"))
    ]
    assert await chat.person("telegram:999").command("/admin") == [Message("admin ok")]


def test_flow_names_and_commands_must_be_unique(services: Services) -> None:
    with pytest.raises(ValueError):
        Engine(services, [NoteFlow(), NoteFlow()])

    class Other(Flow):
        name = "other"
        commands = (CommandSpec("note"),)

    with pytest.raises(ValueError):
        Engine(services, [NoteFlow(), Other()])


# --- forms ------------------------------------------------------------------------------


async def test_a_form_becomes_one_question_per_field_without_modals(services: Services) -> None:
    chat = ChatHarness(services, flows())
    assert await chat.command("/profile") == [
        Message("profile.title"),
        AskText("City"),
    ]
    assert await chat.text("   ") == [
        Message(FR("engine.form_required", field="City")),
        AskText("City"),
    ]
    replies = await chat.text(" Lyon ")
    assert replies[0] == AskText("Motto")
    assert texts(replies[1:]) == [FR("engine.form_optional")]
    assert await chat.text("far too long") == [
        Message(FR.plural("engine.form_too_long", 10, field="Motto")),
        *replies,
    ]
    skip = choices(replies)[0].id
    assert await chat.press("Passer") == [Message("city=Lyon motto="), End()]
    assert await chat.press_id(skip) == [Message(FR("engine.stale_choice"))]


async def test_a_form_answered_one_field_at_a_time_in_english(services: Services) -> None:
    chat = ChatHarness(services, flows())
    bob = chat.person("console:bob", lang="en")
    await bob.command("/profile")
    await bob.text("Leeds")
    assert [c.label for c in choices(bob.last_replies())] == ["Skip"]
    assert await bob.text("Act now") == [Message("city=Leeds motto=Act now"), End()]


async def test_a_form_is_one_modal_where_the_platform_has_them(services: Services) -> None:
    chat = ChatHarness(services, flows(), Capabilities(forms=True))
    form = AskForm("profile.title", ProfileFlow.fields)
    assert await chat.command("/profile") == [form]
    assert await chat.form(city=" ", motto="x" * 11) == [
        Message(
            FR("engine.form_required", field="City")
            + "\n"
            + FR.plural("engine.form_too_long", 10, field="Motto")
        ),
        form,
    ]
    assert await chat.text("Lyon") == [form]
    assert await chat.form(city="Paris", extra="ignored") == [
        Message("city=Paris motto="),
        End(),
    ]


# --- fitting replies to the platform ----------------------------------------------------


async def test_long_messages_and_wide_rows_are_split(services: Services) -> None:
    chat = ChatHarness(services, flows(), Capabilities(max_text_length=120, max_buttons_per_row=2))
    first, second = await chat.command("/long")
    assert isinstance(first, Message) and isinstance(second, Message)
    assert first.text.splitlines() == [f"line {i} " + "x" * 50 for i in range(2)]
    assert (first.choices, second.text) == ((), "line 2 " + "x" * 50)
    assert [[c.label for c in row] for row in second.choices] == [
        ["c0", "c1"],
        ["c2", "c3"],
        ["c4"],
    ]
    await chat.press("c4")
    assert chat.last_texts()[0] == "picked 4 data=['seen']"


def test_split_text_cuts_long_lines_at_spaces() -> None:
    assert split_text("short", 10) == ["short"]
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("one\n\ntwo three", 6) == ["one", "two", "three"]


def test_fit_keeps_choices_on_the_last_part_and_replaces_with_the_first() -> None:
    choice = Choice("m:a", "A")
    fitted = fit([Message("aa\nbb", ((choice,),), replaces=True)], Capabilities(max_text_length=3))
    assert fitted == [Message("aa", (), True), Message("bb", ((choice,),), False)]


async def test_a_choice_id_too_long_for_the_platform_is_a_bug(services: Services) -> None:
    chat = ChatHarness(services, flows(), Capabilities(choice_id_max_bytes=10))
    with pytest.raises(ValueError, match="too long"):
        await chat.command("/menu")


# --- languages --------------------------------------------------------------------------


async def test_each_person_gets_their_language(services: Services) -> None:
    chat = ChatHarness(services, flows())
    alice, bob = chat.alice, chat.person("telegram:5", name="Bob", lang="en-GB")
    assert await alice.command("/cancel") == [Message("Il n’y a rien à annuler.")]
    assert await bob.command("/cancel") == [Message("There is nothing to cancel.")]
    carol = chat.person("console:carol", lang="de")  # unsupported: the default locale
    assert await carol.command("/cancel") == [Message("Il n’y a rien à annuler.")]


async def test_a_chosen_language_applies_at_once_and_after(services: Services) -> None:
    chat = ChatHarness(services, flows())
    assert await chat.command("/lang en") == [Message("Skip")]
    assert await chat.command("/cancel") == [Message("There is nothing to cancel.")]


async def test_the_apps_language_is_kept_until_the_member_chooses_one(
    services: Services,
) -> None:
    chat = ChatHarness(services, flows())
    bob = chat.person("telegram:5", name="Bob", lang="en-GB")
    await bob.command("/cancel")
    account = AccountRef.parse("telegram:5")

    async def stored() -> tuple[str | None, bool]:
        member = await services.members.find(account)
        assert member is not None
        return member.language, member.language_chosen

    assert await stored() == ("en", False)  # noted at first contact
    await chat.send(Command("cancel"), account="telegram:5", lang="fr-FR")
    assert await stored() == ("fr", False)  # the app changed: followed
    await chat.send(Command("cancel"), account="telegram:5", lang="")
    assert await stored() == ("fr", False)  # no language given (Discord DMs): kept
    await chat.send(Command("lang", "en"), account="telegram:5", lang="fr-FR")
    assert await stored() == ("en", True)
    replies = await chat.send(Command("cancel"), account="telegram:5", lang="fr-FR")
    assert replies == [Message("There is nothing to cancel.")]  # the choice wins
    assert await stored() == ("en", True)


# --- concurrency ------------------------------------------------------------------------


async def test_one_sessions_inputs_run_in_order(services: Services) -> None:
    slow = SlowFlow()
    engine = Engine(services, [slow])
    await asyncio.gather(*(engine.handle(envelope(Command("step", str(i)))) for i in range(5)))
    assert slow.log == [f"{edge} {i}" for i in range(5) for edge in ("start", "end")]
    assert len(engine._locks) == 0


async def test_different_sessions_run_concurrently(services: Services) -> None:
    engine = Engine(services, [SlowFlow()])
    waiting = engine.handle(envelope(Command("wait")))
    releasing = engine.handle(envelope(Command("release"), account="console:bob"))
    replies, _ = await asyncio.wait_for(asyncio.gather(waiting, releasing), timeout=10)
    assert replies == [Message("released")]
    assert len(engine._locks) == 0


# --- the store --------------------------------------------------------------------------


async def test_the_store_round_trips_and_clears(services: Services, clock: FakeClock) -> None:
    store = ConversationStore(services.db)
    saved = ConversationState(
        flow="profile",
        step="profile",
        data={"n": [1, "two"]},
        form=PendingForm("T", ProfileFlow.fields, {"city": "Lyon"}),
        offered=tuple(f"m:p:{i}" for i in range(250)),
    )
    await store.save(ALICE, saved, at=clock.now())
    await store.save(ALICE, saved, at=clock.now())  # saving again updates the row
    loaded = await store.load(ALICE)
    assert loaded.offered == saved.offered[-200:]
    assert loaded == ConversationState(
        flow="profile",
        step="profile",
        data={"n": [1, "two"]},
        form=saved.form,
        offered=saved.offered[-200:],
        updated_at=clock.now(),
    )
    await store.clear(ALICE)
    assert await store.load(ALICE) == ConversationState()


@pytest.mark.parametrize("pasted", ["x" * 4000, "🌍" * 3000])
async def test_a_refusal_never_says_back_a_whole_paste(services: Services, pasted: str) -> None:
    """A wrong name pasted into a command is named back cut short, and the refusal fits the
    platform (Discord's 2,000 characters), in the person's language, in a group too."""
    chat = ChatHarness(services, capabilities=Capabilities(max_text_length=2000))
    ben = chat.person("telegram:2", name="Ben", lang="en")
    for command in (f"/challenge {pasted}", f"/pledge {pasted}", f"/map {pasted}"):
        [answer] = await ben.command(command)
        assert isinstance(answer, Message) and answer.personal
        named = pasted[:119] + "…"
        assert answer.text == EN("error.challenge_not_found", slug=named)
    room = ChatRef(AccountRef.parse("telegram:2").platform, "-100", is_group=True)
    ana = chat.person("telegram:1", name="Ana", lang="fr", chat=room, admin=True)
    [answer] = await ana.command(f"/follow {pasted}")
    assert isinstance(answer, Message) and len(answer.text) < 300
