"""The words of announcements, in each locale, one message for several notices."""

from __future__ import annotations

from conversations.announcements import announcement_replies, announcement_text
from conversations.model import Message
from core.delivery.protocol import Notice
from core.i18n import Translator
from core.services import Services
from tests.factories import open_challenge

TITLE = "Trier mes déchets à Lyon"
NNBSP = "\u202f"


def test_milestone_in_french() -> None:
    notice = Notice("milestone", 1, "fr", {"percent": 25, "count": 250, "goal": 1000})
    assert announcement_text(Translator("fr"), notice, TITLE) == (
        f"🎉 25 % atteints pour « {TITLE} » : 250 / 1{NNBSP}000 engagements"
    )


def test_every_kind_in_english() -> None:
    t = Translator("en")
    tier = {"sponsor": "Rhône Emballages", "reward": "gives 1,000 € to Zéro Déchet Lyon"}
    texts = [
        announcement_text(t, Notice(kind, 1, "en", payload), "Sort my waste")
        for kind, payload in [
            ("tier_unlocked", {**tier, "count": 4}),
            ("succeeded", {"count": 1000, "goal": 1000}),
            ("expired", {"count": 12, "goal": 1000}),
            ("promise_kept", {**tier, "proof": "https://example.org/receipt"}),
        ]
    ]
    assert texts == [
        "🔓 Rhône Emballages gives 1,000 € to Zéro Déchet Lyon for “Sort my waste”: unlocked!",
        "🏆 “Sort my waste” reached its goal: 1,000 / 1,000 pledges. Thank you all!",
        "⌛ “Sort my waste” has ended with 12 / 1,000 pledges. "
        "Thank you to everyone who took part.",
        "🤝 Promise kept for “Sort my waste”: Rhône Emballages gives 1,000 € to Zéro Déchet "
        "Lyon.\nProof: https://example.org/receipt",
    ]


async def test_coalesced_notices_make_one_message(services: Services) -> None:
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "donne 1 000 €"),))
    notices = [
        Notice("milestone", challenge.id, "fr", {"percent": 25, "count": 2, "goal": 8}),
        Notice("tier_unlocked", challenge.id, "fr", {"sponsor": "Acme", "reward": "donne 1 000 €"}),
    ]

    replies = await announcement_replies(services, notices)

    assert replies == [
        Message(
            f"🎉 25 % atteints pour « {challenge.title} » : 2 / 8 engagements\n\n"
            f"🔓 Acme donne 1 000 € pour « {challenge.title} » : débloqué !"
        )
    ]
