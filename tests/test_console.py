"""The console chat: replies as numbered text, typed lines as inputs, and a full pledge piped
through `python -m bots.cli chat`."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from bots.console.app import PROMPT, _image_folder, chat, save_image
from bots.console.render import Expect, Line, NoSuchChoice, Screen, Style, parse_line, render
from conversations.model import (
    AskLocation,
    AskText,
    Choice,
    ChoiceInput,
    Command,
    Document,
    End,
    Image,
    LocationInput,
    Message,
    TextInput,
)
from core.app import load_demo
from core.i18n import Translator
from core.services import Services

ROOT = Path(__file__).resolve().parent.parent
YES, NO, LATER = (
    Choice("p:yes", "Je m'engage"),
    Choice("p:no", "Non"),
    Choice("p:later", "Plus tard"),
)
SKIP = Choice("e:skip", "Passer")


@pytest.fixture
def t() -> Translator:
    return Translator("fr")


def test_choices_are_numbered_across_rows_and_messages(t: Translator) -> None:
    screen = render(
        [
            Message("Trier mes déchets à Lyon\n412 engagés", ((YES, NO),)),
            Message("Ou", ((LATER,),)),
        ],
        t,
    )
    assert [line.text for line in screen.lines] == [
        "Trier mes déchets à Lyon",
        "412 engagés",
        "  1. Je m'engage",
        "  2. Non",
        "",
        "Ou",
        "  3. Plus tard",
    ]
    assert screen.lines[2].style is Style.CHOICE
    assert screen.choices == (YES, NO, LATER)
    assert screen.expect is Expect.ANYTHING


def test_a_number_picks_a_shown_choice(t: Translator) -> None:
    screen = render([Message("?", ((YES, NO, LATER),))], t)
    assert parse_line("1", screen) == ChoiceInput("p:yes")
    assert parse_line(" 3 ", screen) == ChoiceInput("p:later")
    assert parse_line("#2", screen) == ChoiceInput("p:no")
    assert parse_line("4", screen) == NoSuchChoice(4, 3)
    assert parse_line("0", screen) == NoSuchChoice(0, 3)


def test_commands_text_and_blank_lines() -> None:
    screen = Screen((Line("?"),), (YES,))
    assert parse_line("/start trier-dechets-lyon", screen) == Command("start", "trier-dechets-lyon")
    assert parse_line("/Cancel", screen) == Command("cancel", "")
    assert parse_line("bonjour", screen) == TextInput("bonjour")
    assert parse_line("   ", screen) is None
    assert parse_line("/", screen) == TextInput("/")


def test_numbers_are_text_when_no_choice_is_shown(t: Translator) -> None:
    assert parse_line("3", render([Message("Bonjour")], t)) == TextInput("3")


def test_numbers_answer_a_text_question_and_choices_take_a_hash(t: Translator) -> None:
    screen = render(
        [AskText("Combien de personnes ?", "1000"), Message("Facultatif", ((SKIP,),))], t
    )
    assert screen.expect is Expect.TEXT
    assert "(par exemple : 1000)" in [line.text for line in screen.lines]
    assert "  #1. Passer" in [line.text for line in screen.lines]
    assert parse_line("1", screen) == TextInput("1")
    assert parse_line("#1", screen) == ChoiceInput("e:skip")


def test_location_request_takes_coordinates_a_commune_or_skip(t: Translator) -> None:
    screen = render([AskLocation("Où habitez-vous ?", "Partager ma position", SKIP)], t)
    texts = [line.text for line in screen.lines]
    assert texts[0] == "Où habitez-vous ?"
    assert "45.76,4.84" in texts[1]
    assert screen.lines[1].style is Style.HINT
    assert texts[2] == "  1. Passer"
    assert screen.expect is Expect.LOCATION
    assert parse_line("45.76,4.84", screen) == LocationInput(45.76, 4.84)
    assert parse_line("-33.9, 151.2", screen) == LocationInput(-33.9, 151.2)
    assert parse_line("Villeurbanne", screen) == TextInput("Villeurbanne")
    assert parse_line("95,4", screen) == TextInput("95,4")
    assert parse_line("1", screen) == ChoiceInput("e:skip")


def test_coordinates_are_text_when_no_location_was_asked(t: Translator) -> None:
    assert parse_line("45.76,4.84", render([Message("?")], t)) == TextInput("45.76,4.84")


def test_images_show_their_caption_and_where_they_are(t: Translator) -> None:
    image = Image(b"png", "Progression", "carte.png")
    assert [line.text for line in render([image], t).lines] == [
        "Progression",
        "[image : carte.png]",
    ]
    saved = render([image], t, save_image=lambda _: "/tmp/carte.png")
    assert saved.lines[-1].text == "[image : /tmp/carte.png]"


def test_documents_are_saved_and_shown_as_files(t: Translator) -> None:
    report = Document(b"%PDF-1.7", "Rapport", "tri-lyon-report.pdf")
    saved = render([report], t, save_image=lambda d: f"/tmp/{d.filename}")
    assert [line.text for line in saved.lines] == [
        "Rapport",
        "[fichier : /tmp/tri-lyon-report.pdf]",
    ]


def test_end_adds_nothing(t: Translator) -> None:
    assert render([Message("Merci !"), End()], t).lines == (Line("Merci !"),)


async def test_piped_chat_keeps_the_last_choices_and_refuses_unknown_numbers(
    services: Services,
) -> None:
    await load_demo(services, replace=False)
    out = io.StringIO()
    await chat(services, "alice", "fr", None, source=io.StringIO("/nope\n9\n\n1\n"), out=out)
    text = out.getvalue()
    welcome, _, rest = text.partition("/nope")
    assert "  1. " in welcome
    assert "Trier mes déchets à Lyon" not in welcome
    assert "Il n'y a pas de choix 9 : tapez un nombre de 1 à 2." in rest
    assert "Trier mes déchets à Lyon" in rest  # "1" still picked the welcome's first choice
    assert not any(line.startswith(PROMPT) for line in text.splitlines())  # no prompt


def _chat(database: Path, name: str, lang: str, lines: list[str]) -> str:
    """Pipe `lines` into `python -m bots.cli chat --as NAME` and return what it printed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TELEGRAM_TOKEN", "DISCORD_TOKEN", "LC_ALL", "LC_MESSAGES", "LANG"}
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        KOOM_LOAD_DEMO="true",
        KOOM_DEFAULT_LOCALE="fr",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bots.cli", "chat", "--as", name, "--lang", lang],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        cwd=database.parent,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_a_full_pledge_piped_through_the_console(tmp_path: Path) -> None:
    """On a fresh database the demo is there: alice pledges from the menus with her commune,
    checks in and sees progress; bob follows her share link and gives coordinates."""
    database = tmp_path / "koom.db"
    alice = _chat(
        database,
        "alice",
        "fr",
        [
            "1",  # 🔎 Voir les défis
            "1",  # Trier mes déchets à Lyon
            "1",  # 🤝 Je m'engage
            "1",  # ✅ Oui, je m'engage
            "1",  # 📍 Indiquer ma commune ou ma position
            "Villeurbanne",
            "2",  # Chaque semaine (the demo is weekly: no daily choice)
            "2",  # 📋 Mes engagements (after 🖼 Image à partager)
            "1",  # ✅ Je l'ai fait
            "/challenge trier-dechets-lyon",
        ],
    )
    assert "Trier mes déchets à Lyon" in alice
    assert "45.76,4.84" in alice  # the location hint
    assert "C'est noté : Villeurbanne." in alice  # the commune, looked up
    assert "👥" not in alice  # 1 pledger near her: under KOOM_MAP_MIN_COUNT, never shown
    link = re.search(r"/start (trier-dechets-lyon_\w+)", alice)
    assert link is not None, alice

    bob = _chat(
        database,
        "bob",
        "en",
        [
            f"/start {link[1]}",
            "1",  # 🤝 I commit
            "1",  # ✅ Yes, I commit
            "1",  # 📍 Give my town or location
            "45.76,4.84",
            "2",  # Every week
        ],
    )
    assert "Thank you, bob" in bob

    with closing(sqlite3.connect(database)) as conn:
        counts = conn.execute(
            "SELECT pledge_count, checkin_count FROM challenges WHERE slug = 'trier-dechets-lyon'"
        ).fetchone()
        pledges = dict(
            conn.execute(
                "SELECT m.display_name, p.area_key FROM pledges p"
                " JOIN members m ON m.id = p.member_id WHERE p.withdrawn_at IS NULL"
            ).fetchall()
        )
        referrer = conn.execute(
            "SELECT r.display_name FROM pledges p JOIN members m ON m.id = p.member_id"
            " JOIN members r ON r.id = p.referrer_id WHERE m.display_name = 'bob'"
        ).fetchone()
    assert counts == (2, 1)
    assert pledges == {"alice": "fr:69266", "bob": "fr:69123"}  # Villeurbanne; Lyon, snapped
    assert referrer == ("alice",)


def test_images_are_saved_in_a_private_folder_never_through_a_planted_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user of the machine cannot make /map overwrite a file through a symlink
    planted in the shared temporary folder, nor read the picture."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _image_folder.cache_clear()  # made again under tmp_path
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    shared = tmp_path / "climat-koom"
    shared.mkdir()
    (shared / "carte.png").symlink_to(victim)
    image = Image(data=b"\x89PNG picture", filename="carte.png", caption="Carte")

    first, second = Path(save_image(image)), Path(save_image(image))

    assert victim.read_text() == "precious"
    assert first != second and first.read_bytes() == second.read_bytes() == b"\x89PNG picture"
    assert first.suffix == ".png" and not first.is_symlink()
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert first.parent != shared and first.parent.parent == tmp_path
    _image_folder.cache_clear()


async def test_a_number_typed_after_a_refusal_still_answers_the_question(
    services: Services,
) -> None:
    """A "please type a number" asks again: the next number is the answer, not a pick of the
    choices of an older message still on screen (the welcome's)."""
    await load_demo(services, replace=False)
    out = io.StringIO()
    lines = "/pledgeif trier-dechets-lyon\ntwelve\n12\n"
    await chat(services, "alice", "en", None, source=io.StringIO(lines), out=out)
    text = out.getvalue()
    en = Translator("en")
    assert en("cond.not_a_number") in text
    assert "There is no choice" not in text
    assert en("cond.noted", n=12) in text
