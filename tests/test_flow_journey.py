"""The member's journey through the real engine: start, browse, pledge, check in, withdraw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conversations.deeplinks import make_payload
from conversations.flows.cards import card_text, progress_bar, summary_line
from conversations.model import Command, Message
from conversations.testing import ChatHarness, Person, choices, texts
from core.clock import FakeClock
from core.i18n import Translator
from core.identity import AccountRef
from core.models import (
    AreaProgress,
    Challenge,
    ChallengeStatus,
    Frequency,
    Location,
    Member,
    NearCount,
    Progress,
    ReminderPreference,
    Tier,
)
from core.places import place_location, resolve_place
from core.services import Services
from tests.factories import member, open_challenge

FR = Translator("fr")
EN = Translator("en")
NNBSP = "\u202f"  # the French thousands separator


async def member_of(services: Services, person: Person) -> Member:
    found = await services.members.find(AccountRef.parse(person.account))
    assert found is not None
    return found


async def onboard(person: Person, language: str) -> None:
    """First /start and the language choice."""
    await person.command("/start")
    await person.press(language)


async def pledge_by_buttons(
    person: Person, slug: str, *, place: str | None = None, reminder: str | None = None
) -> None:
    """/pledge SLUG, confirm, give `place` (typed) or skip (or keep the known one), pick
    `reminder` (French labels)."""
    await person.command(f"/pledge {slug}")
    await person.press("Oui, je m'engage")
    if place is None:
        known = any("Garder" in c.label for c in choices(person.last_replies()))
        await person.press("Garder" if known else "Passer")
    else:
        await person.press("Indiquer ma commune")
        await person.text(place)
    await person.press(reminder or "Pas de rappel")


def known(name: str) -> Location:
    """The stored location of the most likely place called `name`."""
    return place_location(resolve_place(name)[0])


async def pledge_as(services: Services, name: str, challenge: Challenge, place: str | None) -> None:
    """Someone else pledges through the services, from `place` when given."""
    other = await member(services, name)
    if place is not None:
        await services.members.set_location(other.id, known(place))
    await services.pledges.pledge(other.id, challenge.id)


# --- onboarding and help -------------------------------------------------------------


async def test_first_start_asks_the_language_then_welcomes_in_french(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await chat.command("/start")
    labels = [c.label for c in choices(chat.alice.last_replies())]
    assert labels == ["Français", "English"]
    await chat.press("Français")
    text = "\n".join(chat.last_texts())
    assert "je vous parlerai en français" in text
    assert "Bienvenue, Alice" in text
    assert "1 défi ouvert et 0 engagement déjà pris" in text
    assert (await member_of(services, chat.alice)).language == "fr"
    await chat.press("Voir les défis")
    assert "Challenge tri-lyon" in chat.last_texts()[0]
    # the language is asked only once
    await chat.command("/start")
    assert "Bienvenue" in chat.last_texts()[0]


async def test_onboarding_in_english_then_switching_to_french(services: Services) -> None:
    challenge = await open_challenge(services)
    await pledge_as(services, "zoe", challenge, None)
    await pledge_as(services, "yan", challenge, None)
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await onboard(bob, "English")
    text = "\n".join(bob.last_texts())
    assert "I will speak English" in text
    assert "1 open challenge and 2 pledges already made" in text
    await bob.press("Help")
    assert "/pledge" in bob.last_texts()[0] and "browse the open challenges" in bob.last_texts()[0]
    await bob.command("/language")
    await bob.press("Français")
    assert (await member_of(services, bob)).language == "fr"
    await bob.command("/help")
    assert "Voici ce que je sais faire" in bob.last_texts()[0]


async def test_start_without_open_challenges(services: Services) -> None:
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    assert FR("start.no_challenges") in "\n".join(chat.last_texts())


# --- deep links ----------------------------------------------------------------------


async def test_deep_link_opens_the_card_and_credits_the_referrer(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    alice = await member_of(services, chat.alice)
    await chat.command("/challenge tri-lyon")
    await chat.press("Partager")
    link = f"/start {make_payload('tri-lyon', alice.id)}"
    assert link in chat.last_texts()[0]

    carol = chat.person("discord:3", name="Carol", lang="fr")
    await carol.command(link)
    await carol.press("Français")
    assert "Challenge tri-lyon" in "\n".join(carol.last_texts())
    await carol.press("Je m'engage")
    await carol.press("Oui, je m'engage")
    assert "Merci, Carol" in carol.last_texts()[0]
    await carol.press("Passer")
    await carol.press("Pas de rappel")
    pledge = await services.pledges.get((await member_of(services, carol)).id, challenge.id)
    assert pledge is not None and pledge.active and pledge.referrer_id == alice.id


async def test_made_up_deep_links_credit_nobody(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command(f"/start {make_payload('tri-lyon', 99999)}")
    await chat.press("Je m'engage")
    await chat.press("Oui, je m'engage")
    await chat.press("Passer")
    await chat.press("Pas de rappel")
    pledge = await services.pledges.get((await member_of(services, chat.alice)).id, challenge.id)
    assert pledge is not None and pledge.referrer_id is None
    # a link to an unknown challenge says so and still welcomes
    await chat.command("/start nulle-part_1")
    text = "\n".join(chat.last_texts())
    assert FR("error.challenge_not_found", slug="nulle-part") in text
    assert "Bienvenue" in text


# --- browsing and the card -----------------------------------------------------------


async def test_browse_pages_five_at_a_time(services: Services) -> None:
    for i in range(7):
        await open_challenge(services, slug=f"defi-{i}", days=10 + i)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command("/challenges")
    first = chat.alice.last_replies()
    assert "page 1 sur 2" in chat.last_texts()[0]
    labels = [c.label for c in choices(first)]
    assert labels == [f"Challenge defi-{i}" for i in range(5)] + ["Suivants ▶"]
    await chat.press("Suivants")
    page = chat.alice.last_replies()[0]
    assert isinstance(page, Message) and page.replaces
    assert "page 2 sur 2" in page.text and "defi-6" in page.text and "defi-0" not in page.text
    assert [c.label for c in choices([page])][-1] == "◀ Précédents"
    await chat.press("Challenge defi-5")
    assert "🌍 Challenge defi-5" in chat.last_texts()[0]
    await chat.press("Tous les défis")
    assert "page 2 sur 2" in chat.last_texts()[0]


async def test_card_shows_numbers_tiers_impact_and_people_near(services: Services) -> None:
    challenge = await open_challenge(services)
    for name in ("zoe", "yan"):
        await pledge_as(services, name, challenge, "Lyon")
    await pledge_as(services, "xav", challenge, "Paris")
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    alice = await member_of(services, chat.alice)
    await services.members.set_location(alice.id, known("lyon"))
    await chat.command("/challenge tri-lyon")
    card = chat.last_texts()[0]
    assert "▓▓▓░░░░░░░ 37 %" in card
    assert "3 / 8 engagements" in card
    assert "🎁 À 4 : Acme 1 000 € to Zero Waste Lyon (plus que 1 engagement)" in card
    assert "Encore 30 jours" in card
    # 2 in Lyon and 1 in Paris are each fewer than KOOM_MAP_MIN_COUNT (3): the map shows
    # neither, so no wider area adds them up either
    assert "👥" not in card and "près de chez vous" not in card and "à Lyon" not in card
    assert [c.label for c in choices(chat.alice.last_replies())] == [
        "🤝 Je m'engage",
        "📣 Partager",
        "🗺 Carte",
        "↩ Tous les défis",
    ]
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await onboard(bob, "English")
    await bob.command("/challenge TRI-LYON")
    card = bob.last_texts()[0]
    assert "37%" in card and "3 / 8 pledges" in card and "30 days left" in card
    assert "near you" not in card  # Bob gave no place


def test_card_text_renders_every_part() -> None:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    tiers = (
        Tier(1, 1, 250, "Ville", "plante 10 arbres", now, now, "photos en ligne"),
        Tier(2, 1, 400, "Acme", "donne 1 000 €", now),
        Tier(3, 1, 500, "Acme", "donne 2 000 €"),
        Tier(4, 1, 1000, "Acme", "donne 3 000 €"),
    )
    challenge = Challenge(
        1, "tri", "Trier à Lyon", "", "trier mes déchets", "dechets", 1000, now,
        now + timedelta(days=12), ChallengeStatus.OPEN, Frequency.WEEKLY, 412, 823,
        area_name="Lyon", impact_per_action=1.5, impact_unit="kg CO2e", tiers=tiers,
    )  # fmt: skip
    near = (NearCount("Lyon", 23, own=True), NearCount("Rhône", 140, own=False))
    area = AreaProgress("Lyon", 230, 1000)
    progress = Progress(challenge, 412, 41, tiers[2], 12, 1234.5, near, area)
    text = card_text(FR, progress)
    for expected in (
        "🌍 Trier à Lyon",
        "👉 L'action : trier mes déchets",
        "▓▓▓▓░░░░░░ 41 %",
        f"412 / 1{NNBSP}000 engagements",
        "🤝 À 250 : Ville plante 10 arbres (promesse tenue)",
        "Preuve : photos en ligne",
        "✅ À 400 : Acme donne 1 000 € (débloqué)",
        "🎁 À 500 : Acme donne 2 000 € (encore 88 engagements)",
        f"🔒 À 1{NNBSP}000 : Acme donne 3 000 €",
        "Encore 12 jours",
        f"≈ 1{NNBSP}234,5 kg CO2e évités",
        f"📍 Lyon : 230 / 1{NNBSP}000",
        "👥 23 personnes agissent déjà à Lyon · 140 aux alentours (Rhône)",
    ):
        assert expected in text, expected
    english = card_text(EN, progress)
    assert "412 / 1,000 pledges" in english and "≈ 1,234.5 kg CO2e avoided" in english
    assert "📍 Lyon: 230 / 1,000" in english
    assert "👥 23 people already act in Lyon · 140 in Rhône" in english
    assert progress_bar(0) == "░" * 10
    assert progress_bar(42) == "▓▓▓▓░░░░░░"
    assert progress_bar(130) == "▓" * 10


def test_low_counts_tell_who_started_not_a_nought_percent() -> None:
    """9 pledges of 1,000 read "9 people have started — be the 10th", never "0 %", on the
    card and in lists; from 10 % of the goal the percentage speaks."""
    now = datetime(2026, 3, 10, tzinfo=UTC)

    def at(count: int) -> tuple[Challenge, Progress]:
        challenge = Challenge(
            1, "tri", "Trier à Lyon", "", "trier mes déchets", "dechets", 1000, now,
            now + timedelta(days=12), ChallengeStatus.OPEN, Frequency.ONCE, count, 0,
        )  # fmt: skip
        return challenge, Progress(challenge, count, count * 100 // 1000, None, 12, None)

    challenge, progress = at(9)
    french, english = card_text(FR, progress), card_text(EN, progress)
    assert "░░░░░░░░░░ 9 personnes ont commencé — soyez la 10ᵉ personne" in french
    assert "░░░░░░░░░░ 9 people have started — be the 10th" in english
    assert f"9 / 1{NNBSP}000 engagements" in french and "9 / 1,000 pledges" in english
    for text in (french, english, summary_line(FR, challenge), summary_line(EN, challenge)):
        assert "0 %" not in text and "0%" not in text
    assert summary_line(EN, challenge) == (
        "Trier à Lyon\n░░░░░░░░░░ 9 people have started — be the 10th · 9 / 1,000"
    )
    assert "1 person has started — be the 2nd" in card_text(EN, at(1)[1])
    assert "1 personne a commencé — soyez la 2ᵉ personne" in card_text(FR, at(1)[1])
    assert "Nobody yet: be the first!" in card_text(EN, at(0)[1])
    assert "▓░░░░░░░░░ 10 %" in card_text(FR, at(100)[1])
    assert "▓▓▓▓░░░░░░ 42% · 420 / 1,000" in summary_line(EN, at(420)[0])


async def test_unknown_challenge_is_named_clearly(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    for command in ("/challenge nope", "/pledge nope", "/checkin nope", "/withdraw nope"):
        await chat.command(command)
        assert chat.last_texts() == [FR("error.challenge_not_found", slug="nope")]


# --- pledging --------------------------------------------------------------------------


async def test_full_pledge_with_a_typed_commune(services: Services) -> None:
    challenge = await open_challenge(services)
    await pledge_as(services, "zoe", challenge, "Lyon")
    await pledge_as(services, "yan", challenge, "Paris")
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command("/pledge tri-lyon")
    assert "Je m'engage à sort my waste." in chat.last_texts()[0]
    await chat.press("Oui, je m'engage")
    assert "Merci, Alice" in chat.last_texts()[0]
    assert "jamais votre position exacte" in chat.last_texts()[1]
    await chat.press("Indiquer ma commune")
    await chat.text("  lyon ")
    assert "C'est noté : Lyon." in chat.last_texts()[0]
    await chat.press("Chaque semaine")
    thanks = chat.last_texts()[0]
    alice = await member_of(services, chat.alice)
    # 2 in Lyon and 1 in Paris are under the minimum (3): no place, nor any area adding
    # them up, is named
    assert "Vous êtes 3 à vous engager.\n" in thanks and "👥" not in thanks
    assert f"/start tri-lyon_{make_payload('tri-lyon', alice.id).split('_')[1]}" in thanks
    assert alice.location == Location("Lyon", 45.75, 4.85, "fr:69123")  # the town's centre
    assert alice.reminder == ReminderPreference.WEEKLY
    pledge = await services.pledges.get(alice.id, challenge.id)
    assert pledge is not None and pledge.area_key == "fr:69123"
    assert (await services.challenges.get(challenge.id)).pledge_count == 3


async def test_full_pledge_with_a_shared_location_keeps_only_a_coarse_area(
    services: Services,
) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await onboard(bob, "English")
    await bob.command("/pledge")  # the only open challenge
    await bob.press("Yes, I commit")
    await bob.press("Give my town or location")
    await bob.location(45.764043, 4.835659)
    assert bob.last_texts()[0] == EN("pledge.place_saved", place="Lyon")
    await bob.press("Every day")
    thanks = bob.last_texts()[0]
    assert "You are the very first to pledge" in thanks
    member_ = await member_of(services, bob)
    # the commune it lies in, at the commune's public centre: never the shared point
    assert member_.location == Location("Lyon", 45.75, 4.85, "fr:69123")
    assert member_.reminder == ReminderPreference.DAILY
    pledge = await services.pledges.get(member_.id, challenge.id)
    assert pledge is not None and pledge.area_key == "fr:69123"


async def test_a_known_place_can_be_kept(services: Services) -> None:
    challenge = await open_challenge(services)
    await pledge_as(services, "zoe", challenge, "Villeurbanne")
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    alice = await member_of(services, chat.alice)
    await services.members.set_location(alice.id, known("Villeurbanne"))
    await chat.command("/pledge tri-lyon")
    await chat.press("Oui, je m'engage")
    assert "Vous m'aviez indiqué : Villeurbanne" in chat.last_texts()[1]
    await chat.press("Garder Villeurbanne")
    await chat.press("Pas de rappel")
    thanks = chat.last_texts()[0]
    assert "Vous êtes 2 à vous engager." in thanks
    assert "👥" not in thanks  # 2 in Villeurbanne: under the minimum, shown nowhere


async def test_pledging_twice_changes_nothing(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await pledge_by_buttons(chat.alice, "tri-lyon", reminder="Chaque jour")
    await chat.command("/pledge tri-lyon")
    assert chat.last_texts() == [FR("pledge.already", title="Challenge tri-lyon")]
    # an old button of the finished pledge is refused and changes nothing
    await chat.press_id(f"pledge:remind:{challenge.id}:weekly")
    assert chat.last_texts() == [FR("engine.data_lost")]
    alice = await member_of(services, chat.alice)
    assert alice.reminder == ReminderPreference.DAILY
    assert (await services.challenges.get(challenge.id)).pledge_count == 1
    await chat.command("/challenge tri-lyon")
    assert "Vous participez à ce défi" in chat.last_texts()[0]
    assert "🤝 Je m'engage" not in [c.label for c in choices(chat.alice.last_replies())]


async def test_declining_changes_nothing(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command("/pledge tri-lyon")
    await chat.press("Pas maintenant")
    assert chat.last_texts()[0] == FR("pledge.declined")
    assert (await services.challenges.get(challenge.id)).pledge_count == 0


async def test_the_pledge_that_crosses_a_tier_celebrates_it(services: Services) -> None:
    challenge = await open_challenge(services, goal=4, tiers=((2, "Acme", "plants a tree"),))
    await pledge_as(services, "zoe", challenge, None)
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await onboard(bob, "English")
    await bob.command("/pledge tri-lyon")
    await bob.press("Yes, I commit")
    thanks = bob.last_texts()[0]
    assert "reached 50% of its goal" in thanks
    assert "unlocked a commitment: Acme plants a tree" in thanks
    await bob.press("Skip")
    await bob.press("No reminder")
    assert "You are 2 people pledging." in bob.last_texts()[0]


async def test_forged_and_stale_choices_change_nothing(services: Services) -> None:
    first = await open_challenge(services)
    second = await open_challenge(services, slug="velo")
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.press_id(f"pledge:remind:{first.id}:daily")  # never offered
    assert chat.last_texts() == [FR("engine.stale_choice")]
    await chat.command("/pledge tri-lyon")
    yes_first = choices(chat.alice.last_replies())[0].id
    await chat.command("/pledge velo")
    await chat.press_id(yes_first)  # the first pledge's button, now another is in progress
    assert chat.last_texts() == [FR("engine.stale_choice")]
    alice = await member_of(services, chat.alice)
    for challenge in (first, second):
        assert await services.pledges.get(alice.id, challenge.id) is None


async def test_text_over_4000_characters_is_refused_and_the_question_stays(
    services: Services,
) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command("/pledge tri-lyon")
    await chat.press("Oui, je m'engage")
    await chat.press("Indiquer ma commune")
    await chat.text("L" * 4001)
    assert chat.last_texts() == [FR("error.text_too_long", limit=4000)]
    assert (await member_of(services, chat.alice)).location is None
    await chat.text("Lyon")
    assert "C'est noté : Lyon." in chat.last_texts()[0]


async def test_an_unknown_place_is_refused_and_asked_again(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command("/pledge tri-lyon")
    await chat.press("Oui, je m'engage")
    await chat.press("Indiquer ma commune")
    await chat.text("12345")  # no such postcode
    assert chat.last_texts() == [FR("place.unknown_typed", text="12345")]
    assert (await member_of(services, chat.alice)).location is None
    await chat.location(45.7, 4.8)
    location = (await member_of(services, chat.alice)).location
    assert location is not None and location.key is not None and location.key.startswith("fr:69")


async def test_a_location_outside_a_flow_is_not_kept(services: Services) -> None:
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.location(45.764, 4.8357)
    assert chat.last_texts() == [FR("engine.location_outside_flow")]
    assert (await member_of(services, chat.alice)).location is None


# --- my pledges, check-in, withdraw ---------------------------------------------------


async def test_check_in_builds_a_streak_once_a_day(services: Services, clock: FakeClock) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await pledge_by_buttons(chat.alice, "tri-lyon")
    await chat.command("/checkin")
    assert chat.last_texts()[0].splitlines() == [
        "👏 Bravo ! Série : 1 jour.",
        "🌱 Ensemble : ≈ 0,5 kg CO2e évités jusqu'ici.",
    ]
    await chat.command("/checkin")
    assert "déjà noté aujourd'hui" in chat.last_texts()[0]
    alice = await member_of(services, chat.alice)
    pledge = await services.pledges.get(alice.id, challenge.id)
    assert pledge is not None and pledge.checkin_total == 1
    clock.advance(timedelta(days=1))
    await chat.command("/challenge tri-lyon")
    await chat.press("Je l'ai fait")
    assert chat.last_texts()[0].startswith("👏 Bravo ! Série : 2 jours.\n")
    await chat.command("/mypledges")
    listing = chat.last_texts()[0]
    assert "Challenge tri-lyon" in listing and "Série : 2 jours (record : 2 jours)" in listing


async def test_check_in_asks_which_when_there_are_several(services: Services) -> None:
    await open_challenge(services)
    velo = await open_challenge(services, slug="velo", frequency=Frequency.WEEKLY)
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await onboard(bob, "English")
    for slug in ("tri-lyon", "velo"):
        await bob.command(f"/pledge {slug}")
        await bob.press("Yes, I commit")
        await bob.press("Skip")
        await bob.press("No reminder")
    await bob.command("/checkin")
    assert bob.last_texts()[0] == EN("mine.which_checkin")
    await bob.press("Challenge velo")
    assert bob.last_texts()[0].startswith("👏 Well done! Streak: 1 week.\n")
    pledge = await services.pledges.get((await member_of(services, bob)).id, velo.id)
    assert pledge is not None and pledge.checkin_total == 1


async def test_my_pledges_when_there_are_none(services: Services) -> None:
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await chat.command("/mypledges")
    assert chat.last_texts() == [FR("mine.none")]
    await chat.command("/checkin")
    assert chat.last_texts() == [FR("mine.none")]


async def test_withdraw_after_confirmation(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await onboard(chat.alice, "Français")
    await pledge_by_buttons(chat.alice, "tri-lyon", place="Lyon")
    await chat.command("/mypledges")
    await chat.press("Me retirer")
    assert "Voulez-vous vraiment retirer" in chat.last_texts()[0]
    await chat.press("Non, je reste")
    assert (await services.challenges.get(challenge.id)).pledge_count == 1
    await chat.command("/withdraw")
    confirm = choices(chat.alice.last_replies())[0].id
    await chat.press("Oui, me retirer")
    assert "vous ne participez plus à « Challenge tri-lyon »" in chat.last_texts()[0]
    alice = await member_of(services, chat.alice)
    pledge = await services.pledges.get(alice.id, challenge.id)
    assert pledge is not None and not pledge.active
    assert (await services.challenges.get(challenge.id)).pledge_count == 0
    await chat.press_id(confirm)  # the confirmation again: nothing left to withdraw
    assert chat.last_texts() == [FR("engine.data_lost")]
    await chat.command("/withdraw tri-lyon")
    assert chat.last_texts() == [FR("error.not_pledged")]
    # pledging again is welcome
    await pledge_by_buttons(chat.alice, "tri-lyon")
    assert (await services.challenges.get(challenge.id)).pledge_count == 1


async def test_withdrawing_after_success_is_refused(services: Services) -> None:
    challenge = await open_challenge(services, goal=1, tiers=())
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await onboard(bob, "English")
    await bob.command("/pledge tri-lyon")
    await bob.press("Yes, I commit")
    assert "made the challenge reach its goal" in bob.last_texts()[0]
    await bob.press("Skip")
    await bob.press("No reminder")
    await bob.command("/withdraw")
    assert bob.last_texts() == [EN("error.withdraw_closed")]
    pledge = await services.pledges.get((await member_of(services, bob)).id, challenge.id)
    assert pledge is not None and pledge.active
    assert (await services.challenges.get(challenge.id)).status == ChallengeStatus.SUCCEEDED


async def test_help_lists_organiser_commands_only_to_organisers(services: Services) -> None:
    chat = ChatHarness(services)
    member_help = "\n".join(
        texts(await chat.send(Command("help"), account="console:bob", lang="en"))
    )
    organiser_help = "\n".join(
        texts(await chat.send(Command("help"), account="console:orga", lang="en"))
    )
    assert "/mypledges" in member_help and "/new" not in member_help
    assert "/new" in organiser_help and "/manage" in organiser_help
