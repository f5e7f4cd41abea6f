"""An organiser gives a challenge's texts in another language, from its panel: members who
speak it read them instead of the original."""

from __future__ import annotations

from conversations.flow import Turn
from conversations.flows.organiser_manage import show_panel
from conversations.model import FormField, FormInput
from core.errors import KoomError
from core.i18n import SUPPORTED_LOCALES, Translator

STEP_TRANSLATE = "translate"
LIMITS = {"title": 120, "action": 200, "description": 4000}
LABELS = {
    "title": "people.translate.title_field",
    "action": "people.translate.action",
    "description": "people.translate.description",
}


def language_name(locale: str) -> str:
    """A language named in itself ("English", "Français")."""
    return Translator(locale)("common.language_name")


async def ask(turn: Turn, challenge_id: int, locale: str) -> None:
    """The form of the texts in `locale` (each may stay empty: the original is read)."""
    if locale not in SUPPORTED_LOCALES:
        raise KoomError("engine.stale_choice")
    challenge = await turn.services.challenges.get(challenge_id)
    turn.data.update(translate=challenge_id, locale=locale)
    fields = [
        FormField(
            name,
            turn.t(LABELS[name], language=language_name(locale)),
            placeholder=getattr(challenge, name)[:100],
            long=name == "description",
            required=False,
            max_length=limit,
        )
        for name, limit in LIMITS.items()
    ]
    turn.ask_form(STEP_TRANSLATE, "people.translate.title", fields)


async def on_texts(turn: Turn, form: FormInput) -> None:
    """Keep the texts given, then show the panel again."""
    challenge_id, locale = int(turn.recall("translate")), str(turn.recall("locale"))
    texts = {name: form.values.get(name, "").strip() for name in LIMITS}
    challenge = await turn.services.challenges.translate(challenge_id, locale, texts)
    turn.say("people.translate.saved", language=language_name(locale))
    show_panel(turn, challenge)
    turn.end()
