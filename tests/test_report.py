"""The organiser's report: counts over time, areas never under the minimum, check-ins, impact,
sponsors' status and conditional pledges waiting, in each language; and `koom report`."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader
from typer.testing import CliRunner

from bots.report import report_html
from conversations.buttons import pack
from conversations.flows.actions import ManageReport
from conversations.model import Document
from conversations.testing import ChatHarness
from core.clock import FakeClock
from core.i18n import Translator
from core.identity import AccountRef
from core.models import ConditionScope, Location
from core.report_pdf import report_pdf
from core.services import Services
from core.services.organisations import Actor, OrganisationKind, Role
from tests.factories import member, open_challenge
from tests.test_cli import VALID, invoke, koom, write

__all__ = ["koom"]  # the runner fixture of test_cli

VILLEURBANNE = Location("Villeurbanne", None, None, "fr:69266")
PARIS = Location("Paris", None, None, "fr:75056")


async def test_report_shows_time_areas_checkins_sponsors(
    services: Services, clock: FakeClock
) -> None:
    challenge = await open_challenge(services, goal=10, tiers=((2, "Acme", "gives 1 000 €"),))
    [tier] = challenge.tiers
    sponsor = await member(services, "acme")
    await services.sponsors.attach(Actor.administrator(), tier.id, sponsor.id)
    first_day = clock.now().date()
    for name in ("v1", "v2", "v3", "p1"):
        someone = await member(services, name)
        await services.members.set_location(someone.id, PARIS if name == "p1" else VILLEURBANNE)
        await services.pledges.pledge(someone.id, challenge.id)
        if name == "v2":
            clock.advance(timedelta(days=1))
        if name == "v1":
            await services.checkins.check_in(someone.id, challenge.id)
    waiter = await member(services, "w")
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.CHALLENGE, 8)

    made = await services.reports.of(challenge.id)
    assert [(d.day, d.pledges, d.total, d.checkins) for d in made.days] == [
        (first_day, 2, 2, 1),
        (first_day + timedelta(days=1), 2, 4, 0),
    ]
    assert [(a.label, a.count) for a in made.areas] == [("Villeurbanne", 3)]  # Paris: 1 < 3
    assert made.impact == 0.5

    english = report_html(made, Translator("en"))
    assert "4 pledges out of a goal of 10" in english
    assert "1 check-in recorded." in english
    assert "Villeurbanne" in english and "Paris" not in english
    assert "<td>Acme</td>" in english and "<td>reached</td>" in english
    assert "1 conditional pledge is waiting" in english
    french = report_html(made, Translator("fr"))
    assert "4 engagements pour un objectif de 10" in french and "<td>atteint</td>" in french

    pdf = pdf_text(report_pdf(made, Translator("fr")))
    assert "4 engagements pour un objectif de 10" in pdf
    assert "Les engagements au fil du temps" in pdf and "Villeurbanne" in pdf and "Paris" not in pdf
    assert "Acme" in pdf and "atteint" in pdf and "1 action déclarée." in pdf
    english = pdf_text(report_pdf(made, Translator("en")))
    assert "4 pledges out of a goal of 10" in english and "reached" in english
    assert "1 conditional pledge is waiting" in english


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, as a reader extracts it (lines joined by spaces)."""
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_koom_report_writes_the_file(koom: CliRunner, tmp_path: Path) -> None:
    assert invoke(koom, "challenge", "import", write(tmp_path, VALID)).exit_code == 0
    result = invoke(koom, "report", "velo-au-travail", "--out", "r.html", "--lang", "fr")
    assert result.exit_code == 0, result.output
    assert "Rapport écrit dans r.html." in result.stdout
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Vélo au travail" in text and escape("Aucun engagement pour l'instant.") in text
    unknown = invoke(koom, "report", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.stderr


def test_koom_report_writes_a_pdf(koom: CliRunner, tmp_path: Path) -> None:
    assert invoke(koom, "challenge", "import", write(tmp_path, VALID)).exit_code == 0
    result = invoke(koom, "report", "velo-au-travail", "--format", "pdf", "--lang", "fr")
    assert result.exit_code == 0, result.output
    assert "Rapport écrit dans velo-au-travail-report.pdf." in result.stdout
    data = (tmp_path / "velo-au-travail-report.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "Vélo au travail" in text and "Aucun engagement pour l'instant." in text


async def test_the_report_button_sends_the_pdf_to_the_challenges_organisers_only(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=10)
    harness = ChatHarness(services)
    admin = harness.person("console:orga", name="Orga", lang="en")
    await admin.command("/manage tri-lyon")
    await admin.press("Report (PDF)")
    [document] = [r for r in admin.last_replies() if isinstance(r, Document)]
    assert document.filename == "tri-lyon-report.pdf"
    assert document.caption.startswith("Report of “Challenge tri-lyon”")
    assert "0 pledges out of a goal of 10" in pdf_text(document.data)

    # The staff of the organisation running it get it, in their language; another
    # organisation's staff do not, even with a forged button.
    lyon_owner = harness.person("telegram:1", name="Lou", lang="fr")
    acme_owner = harness.person("telegram:2", name="Ali", lang="en")
    for person in (lyon_owner, acme_owner):
        await person.command("/start")
    lou, ali = [
        await services.members.find(AccountRef.parse(p.account)) for p in (lyon_owner, acme_owner)
    ]
    assert lou is not None and ali is not None
    lyon = await services.organisations.create(
        Actor.administrator(), "lyon", "Lyon", OrganisationKind.CITY, lou.id
    )
    await services.organisations.create(
        Actor.administrator(), "acme", "Acme", OrganisationKind.COMPANY, ali.id
    )
    await services.organisations.attach_challenge(Actor.administrator(), lyon.id, challenge.id)
    await lyon_owner.command("/manage tri-lyon")
    await lyon_owner.press("Rapport (PDF)")
    [document] = [r for r in lyon_owner.last_replies() if isinstance(r, Document)]
    assert "0 engagements pour un objectif de 10" in pdf_text(document.data)

    await acme_owner.press_id(pack(ManageReport(challenge_id=challenge.id)))
    assert not [r for r in acme_owner.last_replies() if isinstance(r, Document)]
    # Someone taken off Lyon's staff after the panel was shown is refused by its button.
    await services.organisations.set_role(Actor.administrator(), lyon.id, ali.id, Role.ORGANISER)
    await acme_owner.command("/manage tri-lyon")
    await services.organisations.remove(Actor.administrator(), lyon.id, ali.id)
    await acme_owner.press("Report (PDF)")
    assert not [r for r in acme_owner.last_replies() if isinstance(r, Document)]
    assert acme_owner.last_texts() == [Translator("en")("error.org.not_allowed")]
