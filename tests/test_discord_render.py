"""The Discord adapter piece by piece: neutral replies rendered to the native payloads (checked
against the limits the fake Discord enforces), native events parsed back into inputs, and the
slash commands with their translations."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bots.discord.app import CAPABILITIES, Component
from bots.discord.commands import CatalogueTranslator, offered, text
from bots.discord.inbound import component_input, modal_input, typed_input
from bots.discord.render import (
    ANSWER,
    FORM,
    Outgoing,
    answer_modal,
    form_modal,
    render,
)
from conversations.engine import Engine, fit
from conversations.model import (
    AskForm,
    AskLocation,
    AskText,
    Choice,
    ChoiceInput,
    Command,
    End,
    FormField,
    FormInput,
    Image,
    Message,
    OtherInput,
    TextInput,
)
from conversations.registry import default_flows
from core.i18n import SUPPORTED_LOCALES, Translator, catalogue
from core.services import Services
from tests.fake_discord import check_message, check_modal

T = Translator("fr")


def payload(outgoing: Outgoing) -> dict[str, Any]:
    """What discord.py sends for one message (its components as Discord reads them)."""
    view = outgoing.view()
    components = view.to_components() if view is not None else []
    body = {"content": outgoing.content, "components": components}
    check_message(body, [{"id": "0"}] if outgoing.image else [])
    return body


def kinds(body: dict[str, Any]) -> list[list[int]]:
    """The component types of each row (2 button, 3 select)."""
    return [[c["type"] for c in row["components"]] for row in body["components"]]


def listing(count: int, nav: bool = True) -> Message:
    rows = [(Choice(f"browse:open:{i}:0", f"Défi n° {i}"),) for i in range(count)]
    if nav:
        rows.append((Choice("browse:page:0", "◀"), Choice("browse:page:2", "▶")))
    return Message("Défis", tuple(rows))


async def test_a_few_rows_stay_buttons_and_urls_become_links() -> None:
    rows = (
        (Choice("pledge:yes:1", "Oui"), Choice("pledge:no:1", "Non")),
        (Choice("", "Ouvrir", url="https://example.org/x"),),
    )
    [out] = render([Message("Vous confirmez ?", rows)], T, Component)
    body = payload(out)
    assert body["content"] == "Vous confirmez ?"
    yes, no = body["components"][0]["components"]
    assert (yes["custom_id"], yes["label"], no["custom_id"]) == (
        "pledge:yes:1",
        "Oui",
        "pledge:no:1",
    )
    [link] = body["components"][1]["components"]
    assert link["style"] == 5 and link["url"] == "https://example.org/x" and "custom_id" not in link


async def test_a_long_list_becomes_a_select_beside_its_navigation() -> None:
    [out] = render([listing(7)], T, Component)
    body = payload(out)
    assert kinds(body) == [[3], [2, 2]]
    select = body["components"][0]["components"][0]
    assert [o["value"] for o in select["options"]] == [f"browse:open:{i}:0" for i in range(7)]
    assert "placeholder" not in select or select["placeholder"] is None


async def test_more_than_25_options_are_numbered_selects() -> None:
    [out] = render([listing(30)], T, Component)
    body = payload(out)
    assert kinds(body) == [[3], [3], [2, 2]]
    first, second = (row["components"][0] for row in body["components"][:2])
    assert (first["placeholder"], second["placeholder"]) == ("1–25", "26–30")
    assert len(first["options"]) == 25 and len(second["options"]) == 5


async def test_beyond_five_rows_the_components_go_on_in_another_message() -> None:
    rows = tuple((Choice(f"a:x:{i}", f"x{i}"), Choice(f"a:y:{i}", f"y{i}")) for i in range(8))
    first, second = render([Message("Beaucoup", rows)], T, Component)
    assert kinds(payload(first)) == [[2, 2]] * 5
    assert second.content == "" and kinds(payload(second)) == [[2, 2]] * 3


async def test_long_text_is_split_with_the_choices_on_its_last_part() -> None:
    text = "\n".join(["ligne " * 60] * 12)
    fitted = fit([Message(text, ((Choice("a:b", "OK"),),), replaces=True)], CAPABILITIES)
    out = render(fitted, T, Component)
    assert len(out) > 1 and all(len(o.content) <= 2000 for o in out)
    assert [bool(o.rows) for o in out] == [False] * (len(out) - 1) + [True]
    assert [o.replaces for o in out] == [True] + [False] * (len(out) - 1)
    for outgoing in out:
        payload(outgoing)


async def test_requests_for_text_and_forms_become_buttons() -> None:
    skip = Choice("pledge:loc_skip:1", "Passer")
    out = render(
        [
            AskText("Votre heure ?"),
            AskLocation("Où êtes-vous ?", "Partager ma position", skip),
            AskForm("Nouveau défi", (FormField("title", "Titre"),)),
            End(),
        ],
        T,
        Component,
    )
    answer, place, form = (payload(o) for o in out)
    [[button]] = [row["components"] for row in answer["components"]]
    assert (button["custom_id"], button["label"], button["style"]) == (
        ANSWER,
        T("discord.answer"),
        1,
    )
    assert [c["custom_id"] for c in place["components"][0]["components"]] == [ANSWER, skip.id]
    assert form["content"] == "Nouveau défi"
    assert form["components"][0]["components"][0]["custom_id"] == FORM


async def test_a_picture_is_uploaded_with_its_caption() -> None:
    [out] = render([Image(b"\x89PNG...", "La carte", "carte.png")], T, Component)
    file = out.send_kwargs()["file"]
    assert isinstance(file, discord.File) and file.filename == "carte.png"
    assert out.content == "La carte"


async def test_modals_fit_discord_limits() -> None:
    fields = tuple(
        FormField(f"f{i}", "Un libellé bien trop long pour Discord " * 2, "x" * 300, long=i == 0)
        for i in range(6)
    )
    modal = form_modal("Un titre de formulaire bien trop long pour un modal", fields).to_dict()
    check_modal(modal)
    assert len(modal["components"]) == 5
    assert modal["components"][0]["components"][0]["style"] == 2
    assert modal["components"][1]["components"][0]["style"] == 1
    answer = answer_modal(T("discord.answer"), "Où êtes-vous ?\nTapez votre commune.").to_dict()
    check_modal(answer)
    field = answer["components"][0]["components"][0]
    assert field["placeholder"] == "Où êtes-vous ? Tapez votre commune."


def test_components_and_modals_come_back_as_inputs() -> None:
    assert component_input({"custom_id": "pledge:yes:1", "component_type": 2}) == ChoiceInput(
        "pledge:yes:1"
    )
    picked = {"custom_id": "~pick.0", "component_type": 3, "values": ["browse:open:4:0"]}
    assert component_input(picked) == ChoiceInput("browse:open:4:0")
    rows = {"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": "Lyon"}]}
    assert modal_input({"custom_id": ANSWER, "components": [rows]}) == TextInput("Lyon")
    labelled = {"type": 18, "component": {"type": 4, "custom_id": "goal", "value": "1000"}}
    title = {"type": 1, "components": [{"type": 4, "custom_id": "title", "value": "Tri"}]}
    submitted = modal_input({"custom_id": FORM, "components": [title, labelled]})
    assert submitted == FormInput({"title": "Tri", "goal": "1000"})


def test_typed_dm_messages() -> None:
    assert typed_input("/start trier-dechets-lyon_2s") == Command("start", "trier-dechets-lyon_2s")
    assert typed_input("  Villeurbanne ") == TextInput("Villeurbanne")
    assert typed_input("   ") is None
    assert typed_input("", attached=True) == OtherInput()  # a picture or sticker alone


def test_every_command_but_an_alias_is_a_slash_command(services: Services) -> None:
    described = Engine(services, default_flows()).described()
    names = [slash.name for slash in offered(described)]
    assert set(names) == {spec.name for spec, _ in described} - {"organiser"}
    assert names[-1] == "cancel" and len(names) == len(set(names))


def test_only_the_group_flow_speaks_to_a_whole_channel() -> None:
    assert [flow.name for flow in default_flows() if flow.public] == ["group"]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_slash_texts_fit_discord(locale: str) -> None:
    messages = catalogue(locale).messages
    for key, value in messages.items():
        if key.startswith("discord.command."):
            assert isinstance(value, str) and 1 <= len(value) <= 100, key
        if key.startswith("discord.option.") and not key.endswith(".hint"):
            assert isinstance(value, str) and value == value.lower() and " " not in value, key


async def test_the_translator_speaks_the_catalogues() -> None:
    translator = CatalogueTranslator()
    string = text("discord.command.pledge")
    context: Any = None
    assert await translator.translate(string, discord.Locale.french, context) == Translator("fr")(
        "discord.command.pledge"
    )
    assert await translator.translate(string, discord.Locale.british_english, context) == str(
        string
    )
    assert await translator.translate(string, discord.Locale.german, context) is None
