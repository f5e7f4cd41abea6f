"""/start (with an optional deep link), the language choice, and /help."""

from __future__ import annotations

from conversations.deeplinks import parse_join, parse_payload
from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import BrowsePage, StartHelp, StartLanguage, Then
from conversations.flows.browse import show_card, visible_challenge
from conversations.flows.groups import ask_language, introduce
from conversations.flows.organisations import join
from core.errors import KoomError, NotFound
from core.i18n import SUPPORTED_LOCALES, Translator


class StartFlow(Flow):
    """Onboarding and help: /start [PAYLOAD], /help, /language."""

    name = "start"
    commands = (
        CommandSpec("start", Option.CHALLENGE),
        CommandSpec("help", private_menu=True, group_menu=True),
        CommandSpec("language", private_menu=True),
    )

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "help":
            await _help(turn)
        elif command == "language" and turn.chat.is_group:
            ask_language(turn)
        elif command == "language":
            self._ask_language(turn, "start.language_prompt")
        elif turn.chat.is_group:
            await introduce(turn)
        elif not turn.member.language_chosen:
            turn.data["payload"] = args.strip()
            self._ask_language(turn, "start.choose_language", Then.WELCOME)
        else:
            await self._open(turn, args.strip())

    @on(StartHelp)
    async def help(self, turn: Turn, button: StartHelp) -> None:
        await _help(turn)

    @on(StartLanguage)
    async def language(self, turn: Turn, button: StartLanguage) -> None:
        if button.locale not in SUPPORTED_LOCALES:
            raise KoomError("engine.stale_choice")
        member = await turn.services.members.update(turn.member.id, language=button.locale)
        turn.set_member(member)
        turn.set_locale(button.locale)
        turn.say("start.language_set")
        if button.then is Then.WELCOME:
            await self._open(turn, str(turn.data.get("payload", "")))
        turn.end()

    def _ask_language(self, turn: Turn, key: str, then: Then | None = None) -> None:
        """Offer each language under its own name."""
        row = [
            turn.choice(Translator(locale)("common.language_name"), StartLanguage(locale, then))
            for locale in SUPPORTED_LOCALES
        ]
        turn.send(turn.t(key), [row])

    async def _open(self, turn: Turn, payload: str) -> None:
        """The challenge a deep link names (crediting who shared it), the organisation whose
        invitation it carries, else the welcome."""
        code = parse_join(payload) if payload else None
        if code is not None:
            await join(turn, code)
            return
        link = parse_payload(payload) if payload else None
        if link is None:
            await self._welcome(turn)
            return
        try:
            challenge = await visible_challenge(turn, link.slug)
        except NotFound as error:  # an old or mistyped link still gets a welcome
            turn.say(error.key, **error.params)
            await self._welcome(turn)
            return
        await show_card(turn, challenge, referrer_id=link.referrer_id)

    async def _welcome(self, turn: Turn) -> None:
        """What climat-koom is, how many act now, and where to go next."""
        t = turn.t
        open_count, pledged = await turn.services.progress.totals()
        if open_count:
            totals = t(
                "start.totals",
                challenges=t.plural("start.open_challenges", open_count),
                pledges=t.plural("start.pledges_taken", pledged),
            )
        else:
            totals = t("start.no_challenges")
        text = "\n\n".join((t("start.welcome", name=turn.member.display_name), totals))
        browse = turn.choice(t("start.button_browse"), BrowsePage(0))
        help_ = turn.choice(t("start.button_help"), StartHelp())
        turn.send(text, [[browse, help_]])


async def _help(turn: Turn) -> None:
    """The commands, with the organiser's own for organisers; in a group where personal
    commands cannot run (Telegram's), what works there."""
    if turn.chat.is_group and not turn.capabilities.private_in_groups:
        turn.say("group.intro")
        return
    turn.say("start.help")
    if await turn.may_organise():
        turn.say("start.help_organiser")
