"""/manage: every challenge with its status and count, then one challenge's panel (its card
as members see it, with the organiser's buttons): publish, discard, close, stats.

Buttons carry the challenge (and tier) id, so a panel keeps working after the flow ends.
"""

from __future__ import annotations

import asyncio

from conversations.deeplinks import make_payload
from conversations.flow import Turn
from conversations.flows.actions import (
    ManageAddTier,
    ManageClose,
    ManageDiscard,
    ManageEdit,
    ManageKept,
    ManageList,
    ManageMakePrivate,
    ManageMakePublic,
    ManageOpen,
    ManagePublish,
    ManageReport,
    ManageSetVisibility,
    ManageShut,
    ManageStats,
    ManageTranslate,
)
from conversations.flows.cards import card_text
from conversations.model import Choice
from core.errors import Invalid
from core.i18n import SUPPORTED_LOCALES, Translator
from core.models import Challenge, ChallengeStatus, Visibility
from core.report_pdf import report_pdf
from core.services.progress import progress_of

PAGE_SIZE = 8
LABEL_LIMIT = 40
STATUS_LABELS = {
    ChallengeStatus.DRAFT: "organiser.status.draft",
    ChallengeStatus.OPEN: "organiser.status.open",
    ChallengeStatus.SUCCEEDED: "organiser.status.succeeded",
    ChallengeStatus.EXPIRED: "organiser.status.expired",
    ChallengeStatus.CLOSED: "organiser.status.closed",
}


def short(text: str, limit: int = LABEL_LIMIT) -> str:
    """`text` cut to `limit` characters (a button label by default)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def show_list(turn: Turn, offset: int = 0, replaces: bool = False) -> None:
    """One page of the challenges the person may manage (every one for administrators, their
    organisations' for their staff), newest first, with a button each."""
    t = turn.t
    everything = await turn.services.organisations.manageable(await turn.actor())
    if not everything:
        turn.say("organiser.list.empty")
        return
    offset = max(0, min(offset, (len(everything) - 1) // PAGE_SIZE * PAGE_SIZE))
    page = everything[offset : offset + PAGE_SIZE]
    lines = [t.plural("organiser.list.title", len(everything))]
    lines += [
        t(
            "organiser.list.line",
            title=c.title,
            status=t(STATUS_LABELS[c.status]),
            count=c.pledge_count,
            goal=c.goal,
        )
        for c in page
    ]
    rows = [[turn.choice(short(c.title), ManageOpen(c.id))] for c in page]
    pager = []
    if offset > 0:
        pager.append(turn.choice(t("organiser.list.previous"), ManageList(offset - PAGE_SIZE)))
    if offset + PAGE_SIZE < len(everything):
        pager.append(turn.choice(t("organiser.list.next"), ManageList(offset + PAGE_SIZE)))
    turn.send("\n".join(lines), [*rows, pager] if pager else rows, replaces=replaces)


async def open_panel(turn: Turn, challenge_id: int) -> None:
    """Where a challenge stands for its organiser, and what can be done with it."""
    challenge = await turn.services.challenges.get(challenge_id)
    turn.say(
        "organiser.panel.status",
        title=challenge.title,
        status=turn.t(STATUS_LABELS[challenge.status]),
        slug=challenge.slug,
    )
    if challenge.private:
        turn.say("org.visibility.members")
    show_panel(turn, challenge)


def show_panel(turn: Turn, challenge: Challenge) -> None:
    """The challenge's card exactly as members see it, with the organiser's buttons."""
    turn.send(card_text(turn.t, progress_of(challenge, turn.clock)), _actions(turn, challenge))


def _actions(turn: Turn, challenge: Challenge) -> list[list[Choice]]:
    t, cid, status = turn.t, challenge.id, challenge.status
    rows: list[list[Choice]] = []
    if status == ChallengeStatus.DRAFT:
        rows.append([turn.choice(t("organiser.action.publish"), ManagePublish(cid))])
    if status in (ChallengeStatus.DRAFT, ChallengeStatus.OPEN, ChallengeStatus.SUCCEEDED):
        tier_key = (
            "organiser.action.stretch"
            if status == ChallengeStatus.SUCCEEDED
            else "organiser.action.add_tier"
        )
        rows.append(
            [
                turn.choice(t("organiser.action.edit"), ManageEdit(cid)),
                turn.choice(t(tier_key), ManageAddTier(cid)),
            ]
        )
        rows.append([_translate_button(turn, cid, code) for code in SUPPORTED_LOCALES])
    if challenge.organisation_id is not None:
        target = ManageMakePublic(cid) if challenge.private else ManageMakePrivate(cid)
        rows.append([turn.choice(t(f"organiser.action.{target.action}"), target)])
    if any(tier.unlocked_at and not tier.kept_at for tier in challenge.tiers):
        rows.append([turn.choice(t("organiser.action.kept"), ManageKept(cid))])
    if status == ChallengeStatus.DRAFT:
        rows.append([turn.choice(t("organiser.action.discard"), ManageDiscard(cid))])
    else:
        last = [
            turn.choice(t("organiser.action.stats"), ManageStats(cid)),
            turn.choice(t("organiser.action.report"), ManageReport(cid)),
        ]
        if status != ChallengeStatus.CLOSED:
            last.append(turn.choice(t("organiser.action.close"), ManageClose(cid)))
        rows.append(last)
    rows.append([turn.choice(t("organiser.action.all"), ManageList(0))])
    return rows


def _translate_button(turn: Turn, challenge_id: int, locale: str) -> Choice:
    """The button to give the challenge's texts in `locale`, named in that language."""
    language = Translator(locale)("common.language_name")
    return turn.choice(
        turn.t("people.button_translate", language=language),
        ManageTranslate(challenge_id, locale),
    )


async def confirm_visibility(turn: Turn, challenge_id: int, visibility: Visibility) -> None:
    """Say what opening the challenge to everyone, or to its organisation's members only,
    changes, and ask before doing it."""
    challenge = await turn.services.challenges.get(challenge_id)
    organisation = await turn.services.organisations.of_challenge(challenge_id)
    if organisation is None:
        raise Invalid("error.org.private_needs_organisation")
    yes = turn.choice(
        turn.t(f"organiser.visibility.yes_{visibility.value}"),
        ManageSetVisibility(challenge_id, visibility),
    )
    no = turn.choice(turn.t("organiser.visibility.no"), ManageOpen(challenge_id))
    text = turn.t(
        f"organiser.visibility.confirm_{visibility.value}",
        title=challenge.title,
        org=organisation.name,
    )
    turn.send(text, [[yes, no]])


async def set_visibility(turn: Turn, challenge_id: int, visibility: Visibility) -> None:
    """Open the challenge to everyone, or to its organisation's members only (confirmed)."""
    actor = await turn.actor()
    challenge = await turn.services.organisations.set_visibility(actor, challenge_id, visibility)
    turn.say(f"org.visibility.{visibility.value}")
    show_panel(turn, challenge)


async def publish(turn: Turn, challenge_id: int) -> None:
    """Open a draft for pledges and give its link (a members-only one's, saying that it
    opens it for the organisation's members only)."""
    challenge = await turn.services.challenges.publish(challenge_id)
    link = turn.capabilities.share_link_template.format(payload=make_payload(challenge.slug))
    organisation = await turn.services.organisations.of_challenge(challenge_id)
    if challenge.private and organisation is not None:  # its link opens it for members only
        key, org = "organiser.published_private", organisation.name
        turn.say(key, title=challenge.title, link=link, org=org)
    else:
        turn.say("organiser.published", title=challenge.title, link=link)
    show_panel(turn, challenge)


async def discard(turn: Turn, challenge_id: int) -> None:
    """Close a draft nobody saw."""
    challenge = await turn.services.challenges.get(challenge_id)
    if challenge.status != ChallengeStatus.DRAFT:
        await open_panel(turn, challenge_id)
        return
    await turn.services.challenges.close(challenge_id)
    turn.say("organiser.discarded", title=challenge.title)


async def confirm_close(turn: Turn, challenge_id: int) -> None:
    """Ask before closing for good."""
    challenge = await turn.services.challenges.get(challenge_id)
    yes = turn.choice(turn.t("organiser.close.yes"), ManageShut(challenge_id))
    no = turn.choice(turn.t("organiser.close.no"), ManageOpen(challenge_id))
    turn.send(turn.t("organiser.close.confirm", title=challenge.title), [[yes, no]])


async def close(turn: Turn, challenge_id: int) -> None:
    """Close the challenge: pledges stay counted, nobody can pledge any more."""
    challenge = await turn.services.challenges.close(challenge_id)
    turn.say_plural("organiser.close.done", challenge.pledge_count, title=challenge.title)
    show_panel(turn, challenge)


async def send_report(turn: Turn, challenge_id: int) -> None:
    """The challenge's report as a PDF document, in the organiser's language (drawn off the
    event loop: a long challenge makes a page of numbers)."""
    made = await turn.services.reports.of(challenge_id)
    data = await asyncio.to_thread(report_pdf, made, turn.t)
    challenge = made.challenge
    caption = turn.t("report.caption", title=challenge.title, date=made.made_at.date())
    turn.document(data, caption, f"{challenge.slug}-report.pdf")


async def show_stats(turn: Turn, challenge_id: int) -> None:
    """The organiser's numbers for one challenge."""
    t = turn.t
    stats = await turn.services.progress.stats(challenge_id)
    progress = stats.progress
    challenge = progress.challenge
    lines = [
        t("organiser.stats.title", title=challenge.title),
        t.plural(
            "organiser.stats.count", progress.count, goal=challenge.goal, percent=progress.percent
        ),
        t.plural("organiser.stats.recent", stats.pledged_last_7_days),
        t.plural("organiser.stats.referred", stats.referred),
        t.plural("organiser.stats.withdrawn", stats.withdrawn),
        t.plural("organiser.stats.checkins", challenge.checkin_count),
    ]
    if progress.collective_impact is not None:
        if challenge.impact_unit:
            lines.append(
                t(
                    "organiser.stats.impact",
                    impact=progress.collective_impact,
                    unit=challenge.impact_unit,
                )
            )
        else:
            lines.append(t("organiser.stats.impact_no_unit", impact=progress.collective_impact))
    if stats.top_areas:
        lines.append(t("organiser.stats.areas"))
        lines += [t.plural("organiser.stats.area", a.count, area=a.label) for a in stats.top_areas]
    else:
        lines.append(t("organiser.stats.no_areas", min=turn.settings.map_min_count))
    back = turn.choice(t("organiser.action.back"), ManageOpen(challenge_id))
    turn.send("\n".join(lines), [[back]])
