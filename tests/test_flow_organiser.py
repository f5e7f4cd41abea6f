"""The organiser's flows through the real engine, in French and English: /new field by field
and as one form, every bad answer, /manage (publish, edit, tiers, promises kept, close,
stats), and the refusal of everyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conversations.flow import CommandSpec, Flow, Turn
from conversations.flows.cards import card_text
from conversations.flows.organiser import OrganiserFlow
from conversations.flows.organiser_input import FIELD_NAMES
from conversations.model import AskForm, AskText, Capabilities, Choice
from conversations.registry import default_flows
from conversations.testing import ChatHarness, Person, choices
from core.clock import FakeClock
from core.drafts import ChallengeDraft, TierDraft
from core.i18n import SUPPORTED_LOCALES, Translator, catalogue
from core.identity import AccountRef
from core.models import AreaKind, Challenge, ChallengeStatus, Frequency
from core.places import commune
from core.services import Services
from core.services.progress import progress_of
from tests.factories import member, open_challenge

LANGS = ["fr", "en"]
T = {lang: Translator(lang) for lang in LANGS}
TITLE = {"fr": "Lyon trie ses déchets", "en": "Lyon sorts its waste"}
ACTION = {"fr": "trier mes déchets", "en": "sort my waste"}
TIER = {
    "fr": "500 ; Acme ; donne 1 000 € à Zéro Déchet Lyon",
    "en": "500; Acme; gives €1,000 to Zero Waste Lyon",
}
REWARD = {"fr": "donne 1 000 € à Zéro Déchet Lyon", "en": "gives €1,000 to Zero Waste Lyon"}
FORMS = Capabilities(forms=True)
NO_FORMS = Capabilities()


def harness(services: Services, capabilities: Capabilities = NO_FORMS) -> ChatHarness:
    return ChatHarness(services, [OrganiserFlow()], capabilities)


def organiser(chat: ChatHarness, lang: str) -> Person:
    return chat.person("console:orga", name="Orga", lang=lang)


def prompts(person: Person) -> list[str]:
    """The text questions of the latest replies."""
    return [r.prompt for r in person.last_replies() if isinstance(r, AskText)]


def joined(person: Person) -> str:
    return "\n".join(person.last_texts())


async def nothing_stored(services: Services) -> None:
    assert await services.challenges.list_all() == []


async def fill_fields(person: Person, t: Translator, **answers: str) -> None:
    """Answer the creation form one field at a time (no forms on this platform)."""
    await person.command("/new")
    values = {
        "title": TITLE[person.lang],
        "action": ACTION[person.lang],
        "description": "",
        "goal": "1000",
        "deadline": "30/06/2026",
    } | answers
    for name in ("title", "action", "description", "goal", "deadline"):
        if values[name]:
            await person.text(values[name])
        else:
            await person.press(t("engine.form_skip"))


async def finish_without_extras(person: Person, t: Translator) -> None:
    """No area, once, no tier, no impact: up to the preview."""
    await person.press(t("engine.form_skip"))
    await person.press(t("organiser.frequency.once"))
    await person.press(t("organiser.new.tiers_done"))
    await person.press(t("engine.form_skip"))


# --- /new ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_new_field_by_field_then_publish(services: Services, lang: str) -> None:
    t = T[lang]
    chat = harness(services)
    orga = organiser(chat, lang)
    await orga.command("/new")
    assert orga.last_texts() == [t("organiser.new.form_title"), t("organiser.label.title")]
    await orga.text(TITLE[lang])
    assert prompts(orga) == [t("organiser.label.action")]
    await orga.text(ACTION[lang])
    await orga.text("Chaque geste compte / Every bit counts")
    await orga.text("1 000")
    await orga.text("30/06/2026")
    assert prompts(orga) == [t("organiser.new.area_prompt")]
    await orga.text("lyon")
    assert t("organiser.new.area_kind", area="Lyon") in orga.last_texts()
    await orga.press(t("organiser.area_kind.commune"))
    await orga.press(t("organiser.frequency.daily"))
    assert prompts(orga) == [t("organiser.new.tier_prompt")]
    await orga.text(TIER[lang])
    assert t("organiser.new.tier_added", threshold=500, sponsor="Acme", reward=REWARD[lang]) in (
        orga.last_texts()
    )
    await orga.text("1000; Ville de Lyon; plants 100 trees")
    await orga.press(t("organiser.new.tiers_done"))
    assert prompts(orga) == [t("organiser.new.impact_prompt")]
    await orga.text("0,5 kg CO2e")

    [draft] = await services.challenges.list_all()
    assert draft.status == ChallengeStatus.DRAFT
    assert await services.challenges.list_open() == []  # a draft is invisible to members
    assert orga.last_texts()[0] == t("organiser.new.preview")
    assert card_text(t, progress_of(draft, services.clock)) in orga.last_texts()
    labels = [c.label for c in choices(orga.last_replies())]
    for key in ("publish", "edit", "discard"):
        assert t(f"organiser.action.{key}") in labels

    await orga.press(t("organiser.action.publish"))
    [published] = await services.challenges.list_open()
    assert published.id == draft.id and published.status == ChallengeStatus.OPEN
    assert published.slug == ("lyon-trie-ses-dechets" if lang == "fr" else "lyon-sorts-its-waste")
    assert (published.title, published.action, published.goal) == (TITLE[lang], ACTION[lang], 1000)
    assert published.description == "Chaque geste compte / Every bit counts"
    # the end of 30 June in Paris (UTC+2 in summer)
    assert published.deadline == datetime(2026, 6, 30, 21, 59, tzinfo=UTC)
    assert (published.area_name, published.area_kind) == ("Lyon", AreaKind.COMMUNE)
    assert published.frequency == Frequency.DAILY
    assert (published.impact_per_action, published.impact_unit) == (0.5, "kg CO2e")
    tiers = [(tier.threshold, tier.sponsor, tier.reward) for tier in published.tiers]
    assert tiers == [(500, "Acme", REWARD[lang]), (1000, "Ville de Lyon", "plants 100 trees")]
    owner = await services.members.find(AccountRef.parse("console:orga"))
    assert owner is not None and published.created_by == owner.id
    text = joined(orga)
    assert t("organiser.published", title=TITLE[lang], link=f"/start {published.slug}") in text


@pytest.mark.parametrize("lang", LANGS)
async def test_new_as_one_form(services: Services, lang: str) -> None:
    t = T[lang]
    chat = harness(services, FORMS)
    orga = organiser(chat, lang)
    await orga.command("/new")
    [form] = orga.last_replies()
    assert isinstance(form, AskForm) and form.title == t("organiser.new.form_title")
    assert [f.name for f in form.fields] == ["title", "action", "description", "goal", "deadline"]
    assert [f.required for f in form.fields] == [True, True, False, True, True]
    assert all(len(f.label) <= 45 for f in form.fields)  # a Discord modal's limit
    await orga.form(
        title=TITLE[lang], action=ACTION[lang], description="", goal="800", deadline="2026-05-01"
    )
    assert prompts(orga) == [t("organiser.new.area_prompt")]
    await finish_without_extras(orga, t)
    [draft] = await services.challenges.list_all()
    assert (draft.goal, draft.frequency, draft.tiers, draft.area_name) == (
        800,
        Frequency.ONCE,
        (),
        None,
    )
    assert draft.impact_per_action is None
    await orga.press(t("organiser.action.publish"))
    assert [c.id for c in await services.challenges.list_open()] == [draft.id]


async def test_two_titles_get_two_slugs(services: Services) -> None:
    t = T["en"]
    orga = organiser(harness(services, FORMS), "en")
    for _ in range(2):
        await orga.command("/new")
        await orga.form(title="Same title", action="act now", goal="10", deadline="2026-05-01")
        await finish_without_extras(orga, t)
    slugs = sorted(c.slug for c in await services.challenges.list_all())
    assert slugs == ["same-title", "same-title-2"]


# --- Bad answers: a clear message, the same question again, nothing stored -----------------

AHEAD = {"year": "2026", "month": "06", "day": "08"}
"""The example deadline: 90 days after the test clock's 10 March 2026, never a day over."""


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "field,answer,key,params",
    [
        ("title", "ab", "organiser.invalid.too_short", {"n": 3}),
        ("action", "go", "organiser.invalid.too_short", {"n": 3}),
        ("goal", "0", "organiser.invalid.not_positive", {}),
        ("goal", "-40", "organiser.invalid.not_positive", {}),
        ("goal", "lots", "organiser.invalid.not_number", {}),
        ("goal", "12.5", "organiser.invalid.not_number", {}),
        ("goal", "1000000000", "organiser.invalid.too_big", {"limit": 100_000_000}),
        ("deadline", "01/03/2026", "organiser.invalid.deadline_past", {}),
        ("deadline", "31/02/2026", "organiser.invalid.deadline_format", AHEAD),
        ("deadline", "next summer", "organiser.invalid.deadline_format", AHEAD),
    ],
)
async def test_bad_field_is_asked_again(
    services: Services, lang: str, field: str, answer: str, key: str, params: dict[str, object]
) -> None:
    t = T[lang]
    orga = organiser(harness(services), lang)
    await fill_fields(orga, t, **{field: answer})
    name = t(FIELD_NAMES[field])
    if key == "organiser.invalid.deadline_past":
        expected = t(key, date=datetime(2026, 3, 1).date())
    elif "n" in params:
        expected = t.plural(key, params["n"], field=name)
    else:
        expected = t(key, field=name, **params)
    assert expected in orga.last_texts()
    assert prompts(orga) == [t(f"organiser.label.{field}")]  # only that question again
    await nothing_stored(services)
    good = {"title": "A fine title", "action": "do it", "goal": "10", "deadline": "2026-04-01"}
    await orga.text(good[field])
    assert prompts(orga) == [t("organiser.new.area_prompt")]
    await finish_without_extras(orga, t)
    [created] = await services.challenges.list_all()
    assert created.goal == (10 if field == "goal" else 1000)


@pytest.mark.parametrize("lang", LANGS)
async def test_bad_form_asks_only_the_wrong_fields(services: Services, lang: str) -> None:
    t = T[lang]
    orga = organiser(harness(services, FORMS), lang)
    await orga.command("/new")
    await orga.form(title="ab", action=ACTION[lang], goal="0", deadline="2020-01-01")
    texts = joined(orga)
    assert t.plural("organiser.invalid.too_short", 3, field=t("organiser.field.title")) in texts
    assert t("organiser.invalid.not_positive", field=t("organiser.field.goal")) in texts
    assert t("organiser.invalid.deadline_past", date=datetime(2020, 1, 1).date()) in texts
    [form] = [r for r in orga.last_replies() if isinstance(r, AskForm)]
    assert form.title == t("organiser.new.fix_title")
    assert [f.name for f in form.fields] == ["title", "goal", "deadline"]
    example = {"en": "2026-06-08", "fr": "08/06/2026"}[lang]  # a day to come, not one over
    assert form.fields[-1].placeholder == example
    await nothing_stored(services)
    await orga.form(title=TITLE[lang], goal="50", deadline="2026-12-31")
    await finish_without_extras(orga, t)
    [created] = await services.challenges.list_all()
    assert (created.title, created.action, created.goal) == (TITLE[lang], ACTION[lang], 50)


@pytest.mark.parametrize("lang", LANGS)
async def test_too_long_texts_are_refused(services: Services, lang: str) -> None:
    t = T[lang]
    orga = organiser(harness(services), lang)
    await orga.command("/new")
    await orga.text("x" * 121)
    label = t("organiser.label.title")
    assert t.plural("engine.form_too_long", 120, field=label) in orga.last_texts()
    assert prompts(orga) == [label]
    await orga.text(TITLE[lang])
    await orga.text(ACTION[lang])
    await orga.text("y" * 4001)  # over 4,000 characters: refused before the flow sees it
    assert orga.last_texts() == [t("error.text_too_long", limit=4000)]
    await orga.text("Short and sweet")
    assert prompts(orga) == [t("organiser.label.goal")]
    await nothing_stored(services)


@pytest.mark.parametrize("lang", LANGS)
async def test_bad_area_tier_and_impact(services: Services, lang: str) -> None:
    t = T[lang]
    orga = organiser(harness(services), lang)
    await fill_fields(orga, t)
    await orga.text("123 !!")
    assert t("organiser.invalid.area") in orga.last_texts()
    assert prompts(orga) == [t("organiser.new.area_prompt")]
    await orga.press(t("engine.form_skip"))
    await orga.press(t("organiser.frequency.weekly"))
    bad_tiers = {
        "500 Acme": t("organiser.invalid.tier_format"),
        "500; Acme": t("organiser.invalid.tier_format"),
        "many; Acme; gives": t(
            "organiser.invalid.not_number", field=t("organiser.field.threshold")
        ),
        "0; Acme; gives": t("organiser.invalid.not_positive", field=t("organiser.field.threshold")),
        "10; ; gives": t.plural(
            "organiser.invalid.too_short", 1, field=t("organiser.field.sponsor")
        ),
        f"10; Acme; {'z' * 301}": t.plural(
            "organiser.invalid.too_long", 300, field=t("organiser.field.reward")
        ),
    }
    for answer, message in bad_tiers.items():
        await orga.text(answer)
        assert message in orga.last_texts(), answer
        assert prompts(orga) == [t("organiser.new.tier_again")]
    await orga.text("1 000; Acme; gives")
    await orga.text("1000; Other; gives too")
    assert t("error.tier_duplicate", threshold=1000) in orga.last_texts()
    await orga.press(t("organiser.new.tiers_done"))
    for answer, message in {
        "plenty": t("organiser.invalid.impact_format"),
        "0 kg": t("organiser.invalid.not_positive", field=t("organiser.field.impact")),
        f"2 {'u' * 41}": t.plural(
            "organiser.invalid.too_long", 40, field=t("organiser.field.impact")
        ),
    }.items():
        await orga.text(answer)
        assert message in orga.last_texts(), answer
        assert prompts(orga) == [t("organiser.new.impact_prompt")]
    await nothing_stored(services)
    await orga.text("3")
    [created] = await services.challenges.list_all()
    assert [tier.threshold for tier in created.tiers] == [1000]
    assert (created.impact_per_action, created.impact_unit) == (3.0, None)


async def test_a_location_where_text_is_awaited(services: Services) -> None:
    t = T["en"]
    orga = organiser(harness(services), "en")
    await fill_fields(orga, t)
    await orga.press(t("engine.form_skip"))
    await orga.press(t("organiser.frequency.once"))
    await orga.location(45.76, 4.83)
    assert orga.last_texts() == [t("organiser.type_answer")]
    await orga.text("10; Acme; gives")
    assert t("organiser.new.tier_added", threshold=10, sponsor="Acme", reward="gives") in (
        orga.last_texts()
    )


async def test_unknown_challenge_for_manage(services: Services) -> None:
    orga = organiser(harness(services), "en")
    await orga.command("/manage nope")
    assert orga.last_texts() == [T["en"]("error.challenge_not_found", slug="nope")]


@pytest.mark.parametrize("lang", LANGS)
async def test_discard_closes_the_draft(services: Services, lang: str) -> None:
    t = T[lang]
    orga = organiser(harness(services, FORMS), lang)
    await orga.command("/new")
    await orga.form(title=TITLE[lang], action=ACTION[lang], goal="10", deadline="2026-05-01")
    await finish_without_extras(orga, t)
    await orga.press(t("organiser.action.discard"))
    [closed] = await services.challenges.list_all()
    assert closed.status == ChallengeStatus.CLOSED
    assert t("organiser.discarded", title=TITLE[lang]) in orga.last_texts()
    assert await services.challenges.list_open() == []


@pytest.mark.parametrize("lang", LANGS)
async def test_preview_edit_wording_then_publish(services: Services, lang: str) -> None:
    t = T[lang]
    orga = organiser(harness(services, FORMS), lang)
    await orga.command("/new")
    await orga.form(title=TITLE[lang], action=ACTION[lang], goal="10", deadline="2026-05-01")
    await finish_without_extras(orga, t)
    await orga.press(t("organiser.action.edit"))
    await orga.press(t("organiser.field.action"))
    await orga.text("trier et composter")
    assert t("organiser.edit.saved", field=t("organiser.field.action")) in orga.last_texts()
    await orga.press(t("organiser.action.publish"))
    [published] = await services.challenges.list_open()
    assert published.action == "trier et composter"


# --- /manage ------------------------------------------------------------------------------


async def pledgers(services: Services, challenge: Challenge, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        person = await member(services, f"p{index}")
        await services.pledges.pledge(person.id, challenge.id)


@pytest.mark.parametrize("lang", LANGS)
async def test_manage_lists_every_challenge(services: Services, lang: str) -> None:
    t = T[lang]
    orga = organiser(harness(services), lang)
    await orga.command("/manage")
    assert orga.last_texts() == [t("organiser.list.empty")]
    opened = await open_challenge(services, slug="tri-lyon", goal=8)
    await pledgers(services, opened, 3)
    await orga.command("/organiser")
    text = joined(orga)
    assert t.plural("organiser.list.title", 1) in text
    line = t(
        "organiser.list.line",
        title=opened.title,
        status=t("organiser.status.open"),
        count=3,
        goal=8,
    )
    assert line in text
    await orga.press(opened.title)
    status = t("organiser.status.open")
    assert (
        t("organiser.panel.status", title=opened.title, status=status, slug="tri-lyon")
        in orga.last_texts()
    )


async def test_manage_pages(services: Services) -> None:
    t = T["en"]
    for index in range(10):
        await open_challenge(services, slug=f"c{index}")
    orga = organiser(harness(services), "en")
    await orga.command("/manage")
    labels = [c.label for c in choices(orga.last_replies())]
    assert labels[:8] == [f"Challenge c{i}" for i in range(9, 1, -1)]
    assert t("organiser.list.next") in labels
    await orga.press(t("organiser.list.next"))
    labels = [c.label for c in choices(orga.last_replies())]
    assert labels == ["Challenge c1", "Challenge c0", t("organiser.list.previous")]


@pytest.mark.parametrize("lang", LANGS)
async def test_edit_title_description_and_deadline(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await open_challenge(services)
    orga = organiser(harness(services), lang)
    await orga.command("/manage tri-lyon")
    await orga.press(t("organiser.action.edit"))
    await orga.press(t("organiser.field.title"))
    await orga.text("ab")
    title = t("organiser.field.title")
    assert t.plural("organiser.invalid.too_short", 3, field=title) in orga.last_texts()
    assert (await services.challenges.get(challenge.id)).title == challenge.title
    await orga.text("Lyon recycle")
    assert (await services.challenges.get(challenge.id)).title == "Lyon recycle"

    await orga.press(t("organiser.action.edit"))
    await orga.press(t("organiser.field.description"))
    await orga.text("Un défi pour tout le quartier")
    await orga.press(t("organiser.action.edit"))
    await orga.press(t("organiser.field.description"))
    await orga.text("-")
    assert (await services.challenges.get(challenge.id)).description == ""

    await orga.press(t("organiser.action.edit"))
    await orga.press(t("organiser.field.deadline"))
    await orga.text("2026-03-09")
    assert t("organiser.invalid.deadline_past", date=datetime(2026, 3, 9).date()) in (
        orga.last_texts()
    )
    await orga.text("15/04/2026")
    updated = await services.challenges.get(challenge.id)
    assert updated.deadline == datetime(2026, 4, 15, 21, 59, tzinfo=UTC)


@pytest.mark.parametrize("lang", LANGS)
async def test_stretch_tier_after_success(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await open_challenge(services, goal=4, tiers=((2, "Acme", "gives"),))
    await pledgers(services, challenge, 4)
    assert (await services.challenges.get(challenge.id)).status == ChallengeStatus.SUCCEEDED
    orga = organiser(harness(services), lang)
    await orga.command("/manage tri-lyon")
    await orga.press(t("organiser.action.stretch"))
    assert prompts(orga) == [t("organiser.tier.prompt", count=4)]
    await orga.text("3; Bigco; plants trees")
    assert t("error.tier_below_count", count=4) in orga.last_texts()
    assert prompts(orga) == [t("organiser.tier.prompt", count=4)]
    await orga.text("2 ; Bigco")
    assert t("organiser.invalid.tier_format") in orga.last_texts()
    await orga.text("8; Bigco; plants 50 trees")
    text = joined(orga)
    assert t("organiser.tier.added", threshold=8, sponsor="Bigco", reward="plants 50 trees") in (
        text
    )
    updated = await services.challenges.get(challenge.id)
    assert [tier.threshold for tier in updated.tiers] == [2, 8]
    assert updated.status == ChallengeStatus.SUCCEEDED


@pytest.mark.parametrize("lang", LANGS)
async def test_record_a_promise_kept(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "gives"), (6, "B", "x")))
    orga = organiser(harness(services), lang)
    await orga.command("/manage tri-lyon")
    assert t("organiser.action.kept") not in [c.label for c in choices(orga.last_replies())]
    await pledgers(services, challenge, 2)
    await orga.command("/manage tri-lyon")
    await orga.press(t("organiser.action.kept"))
    labels = [c.label for c in choices(orga.last_replies())]
    assert labels == [
        t("organiser.kept.tier", threshold=2, sponsor="Acme"),
        t("organiser.action.back"),
    ]
    await orga.press(labels[0])
    assert prompts(orga) == [t("organiser.kept.proof_prompt", sponsor="Acme", reward="gives")]
    await orga.text("   ")
    assert t("error.empty_text") in orga.last_texts()
    await orga.text("https://example.org/receipt-42")
    assert t("organiser.kept.done", sponsor="Acme", reward="gives") in orga.last_texts()
    kept = (await services.challenges.get(challenge.id)).tiers[0]
    assert kept.kept_at == services.clock.now() and kept.proof == "https://example.org/receipt-42"
    assert t("organiser.action.kept") not in [c.label for c in choices(orga.last_replies())]


@pytest.mark.parametrize("lang", LANGS)
async def test_close_after_confirmation(services: Services, lang: str) -> None:
    t = T[lang]
    challenge = await open_challenge(services)
    await pledgers(services, challenge, 1)
    orga = organiser(harness(services), lang)
    await orga.command("/manage tri-lyon")
    await orga.press(t("organiser.action.close"))
    assert t("organiser.close.confirm", title=challenge.title) in orga.last_texts()
    await orga.press(t("organiser.close.no"))
    assert (await services.challenges.get(challenge.id)).status == ChallengeStatus.OPEN
    await orga.press(t("organiser.action.close"))
    await orga.press(t("organiser.close.yes"))
    closed = await services.challenges.get(challenge.id)
    assert closed.status == ChallengeStatus.CLOSED and closed.pledge_count == 1
    assert t.plural("organiser.close.done", 1, title=challenge.title) in orga.last_texts()
    assert await services.challenges.list_open() == []
    labels = [c.label for c in choices(orga.last_replies())]
    assert t("organiser.action.close") not in labels and t("organiser.action.edit") not in labels


@pytest.mark.parametrize("lang", LANGS)
async def test_stats_numbers(services: Services, clock: FakeClock, lang: str) -> None:
    t = T[lang]
    challenge = await open_challenge(services, goal=8, impact=0.5)  # daily, kg CO2e
    early = await member(services, "early")
    await services.pledges.pledge(early.id, challenge.id)
    clock.advance(timedelta(days=8))
    lyon = await member(services, "lyon")
    await services.members.set_location(lyon.id, commune("Lyon"))
    await services.pledges.pledge(lyon.id, challenge.id, referrer_id=early.id)
    quitter = await member(services, "quitter")
    await services.pledges.pledge(quitter.id, challenge.id)
    await services.pledges.withdraw(quitter.id, challenge.id)
    for person in (early, lyon):
        await services.checkins.check_in(person.id, challenge.id)
    orga = organiser(harness(services), lang)
    await orga.command("/manage tri-lyon")
    await orga.press(t("organiser.action.stats"))
    text = joined(orga)
    for line in (
        t("organiser.stats.title", title=challenge.title),
        t.plural("organiser.stats.count", 2, goal=8, percent=25),
        t.plural("organiser.stats.recent", 1),
        t.plural("organiser.stats.referred", 1),
        t.plural("organiser.stats.withdrawn", 1),
        t.plural("organiser.stats.checkins", 2),
        t("organiser.stats.impact", impact=1.0, unit="kg CO2e"),
        t("organiser.stats.no_areas", min=3),  # 1 in Lyon: under KOOM_MAP_MIN_COUNT, not shown
    ):
        assert line in text.split("\n"), line


# --- Everyone else -----------------------------------------------------------------------

ORGANISER_ACTIONS = [
    ("publish", "{id}"),
    ("discard", "{id}"),
    ("shut", "{id}"),
    ("close", "{id}"),
    ("edit", "{id}"),
    ("field", "{id}:title"),
    ("tier", "{id}"),
    ("kept", "{id}"),
    ("keep", "{id}:{tier}"),
    ("stats", "{id}"),
    ("open", "{id}"),
    ("list", "0"),
    ("freq", "daily"),
    ("tiersdone", ""),
    ("noimpact", ""),
]


class BaitFlow(Flow):
    """Offers the organiser flow's buttons to anyone (a test-only way past the offered list)."""

    name = "bait"
    commands = (CommandSpec("bait"),)

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        # the ids as they are, even malformed: typed buttons could not say them
        turn.send("bait", [[Choice(f"orga:{choice_id}", choice_id)] for choice_id in self.ids])


def organiser_ids(challenge: Challenge) -> list[str]:
    tier = challenge.tiers[0].id
    return [
        f"{action}:{args.format(id=challenge.id, tier=tier)}".rstrip(":")
        for action, args in ORGANISER_ACTIONS
    ]


async def snapshot(services: Services) -> list[Challenge]:
    return await services.challenges.list_all()


@pytest.mark.parametrize("lang", LANGS)
async def test_non_organisers_are_refused(services: Services, lang: str) -> None:
    t = T[lang]
    draft = await services.challenges.create(
        ChallengeDraft(
            title="Still a draft",
            action="wait",
            goal=10,
            deadline=services.clock.now() + timedelta(days=9),
            tiers=[TierDraft(threshold=5, sponsor="Acme", reward="gives")],
        )
    )
    unlocked = await open_challenge(services, goal=4, tiers=((1, "Acme", "gives"),))
    await pledgers(services, unlocked, 1)
    before = await snapshot(services)
    ids = list(dict.fromkeys(organiser_ids(unlocked) + organiser_ids(draft)))
    chat = ChatHarness(services, [OrganiserFlow(), BaitFlow(ids)])
    bob = chat.person("console:bob", name="Bob", lang=lang)
    for command in ("/new", "/manage", "/organiser", "/manage tri-lyon"):
        await bob.command(command)
        assert bob.last_texts() == [t("error.not_organiser")], command
    for choice_id in ids:  # forged: never offered to Bob
        await bob.press_id(f"orga:{choice_id}")
        assert bob.last_texts() == [t("engine.stale_choice")], choice_id
    await bob.command("/bait")
    for choice_id in ids:  # offered by another flow: still refused
        await bob.press(choice_id)
        assert bob.last_texts() == [t("error.not_organiser")], choice_id
        await bob.command("/bait")
    assert await snapshot(services) == before


async def test_an_account_linked_to_an_organiser_gains_no_organiser_right(
    services: Services,
) -> None:
    """Organiser rights belong to the configured account, not to what it was merged with."""
    orga = await services.members.ensure(AccountRef.parse("console:orga"), "Orga")
    code = await services.links.create_code(orga.id)
    await services.links.request(AccountRef.parse("telegram:5"), code)
    await services.links.confirm(orga.id, code)
    assert AccountRef.parse("telegram:5") in await services.members.accounts_of(orga.id)
    chat = harness(services)
    linked = chat.person("telegram:5", lang="en")
    await linked.command("/manage")
    assert linked.last_texts() == [T["en"]("error.not_organiser")]
    await linked.command("/new")
    assert linked.last_texts() == [T["en"]("error.not_organiser")]
    configured = chat.person("console:orga", lang="en")
    await configured.command("/manage")
    assert configured.last_texts() == [T["en"]("organiser.list.empty")]


# --- Catalogues and registry --------------------------------------------------------------


def test_the_flow_is_registered() -> None:
    assert any(isinstance(flow, OrganiserFlow) for flow in default_flows())


def test_every_dynamic_key_exists() -> None:
    from conversations.flows import organiser_changes, organiser_manage, organiser_new

    keys = [
        *FIELD_NAMES.values(),
        *organiser_new.FREQUENCY_LABELS.values(),
        *organiser_new.AREA_KIND_LABELS.values(),
        *organiser_manage.STATUS_LABELS.values(),
        *organiser_changes.EDIT_PROMPTS.values(),
        *(f"organiser.label.{name}" for name in ("title", "action", "description", "goal")),
        *(f"organiser.placeholder.{name}" for name in ("title", "action", "description")),
    ]
    for locale in SUPPORTED_LOCALES:
        missing = [key for key in keys if key not in catalogue(locale).messages]
        assert missing == [], locale
