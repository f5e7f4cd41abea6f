"""What the web answers, built from a snapshot: HTML pages (string.Template, every value
escaped unless it is :class:`Html` built here), the live state as JSON, the open data.

Nothing here reads personal data: a snapshot holds the challenge, its tiers, its public
announcements and its counts by area (never under the minimum count).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote

from bots.web import sharing
from bots.web.live import Announcement, Snapshot
from conversations.announcements import announcement_text
from conversations.deeplinks import make_payload
from conversations.flows.cards import waiting_line
from core.areas import AreaTotal
from core.delivery.protocol import Notice
from core.i18n import SUPPORTED_LOCALES, Translator
from core.mapping import marked_area
from core.models import Challenge, ChallengeStatus, Progress, Tier
from core.services.organisations import COLOUR, Organisation
from core.services.sponsors import SponsorState, SponsorStatus, state_of
from core.sharing.words import progress_summary

STATIC_FILES = ("style.css", "live.js", "map.js", "icon.svg")
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


class Html(str):
    """Markup built here from escaped parts: inserted in templates as it is."""

    __slots__ = ()


def escape(value: object) -> str:
    """Text made safe for HTML content and double-quoted attributes."""
    return value if isinstance(value, Html) else html.escape(str(value), quote=True)


@cache
def _template(name: str) -> Template:
    text = resources.files("bots.web").joinpath("templates", name).read_text(encoding="utf-8")
    return Template(text)


def render(name: str, **values: object) -> Html:
    """The template `name` with every value escaped (Html values inserted as they are)."""
    return Html(_template(name).substitute({k: escape(v) for k, v in values.items()}))


@dataclass(frozen=True, slots=True)
class StaticFile:
    """A file of `static/`, read once, with its content type and a version for URLs."""

    body: bytes
    content_type: str
    version: str


@cache
def static_file(name: str) -> StaticFile:
    """A shipped static file (only the names of STATIC_FILES)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    body = resources.files("bots.web").joinpath("static", name).read_bytes()
    suffix = name[name.rfind(".") :]
    return StaticFile(body, STATIC_TYPES[suffix], hashlib.sha256(body).hexdigest()[:12])


def static_url(name: str) -> str:
    """The URL of a static file, changed whenever its content changes (cached for long)."""
    return f"/static/{name}?v={static_file(name).version}"


@dataclass(frozen=True, slots=True)
class Links:
    """Where the buttons lead: the bots' usernames and invites (None hides a button)."""

    telegram_bot_username: str | None = None
    discord_invite_url: str | None = None

    def telegram(self, slug: str, payload: str | None = None) -> str | None:
        """The Telegram deep link that opens the bot on this challenge (with `payload`, a
        share link's, crediting whoever shared it)."""
        name = (self.telegram_bot_username or "").strip().lstrip("@")
        if not name:
            return None
        return f"https://t.me/{quote(name)}?start={payload or make_payload(slug)}"

    def discord(self) -> str | None:
        """The Discord invite, when it is an http(s) address."""
        url = (self.discord_invite_url or "").strip()
        return url if url.startswith(("https://", "http://")) else None


# --- words shared by the page, the widget and the live state ----------------------------


def _bar_percent(progress: Progress) -> float:
    goal = max(1, progress.challenge.goal)
    return round(min(100.0, progress.count * 100 / goal), 2)


def _tier_status(t: Translator, tier: Tier, count: int) -> tuple[str, str]:
    """(state, words) of a tier: kept, unlocked, next (how many are missing) or later."""
    if tier.kept_at is not None:
        return "kept", t("web.tier.kept")
    if tier.unlocked_at is not None or count >= tier.threshold:
        return "unlocked", t("web.tier.unlocked")
    return "locked", t.plural("web.tier.missing", tier.threshold - count)


_URL = re.compile(r"https?://[^\s<>\"']+")


def _sponsor(
    t: Translator, slug: str, tier: Tier, promise: SponsorStatus | None
) -> dict[str, str | None]:
    """Where the tier's promise stands (promised, reached, confirmed, kept) in words, and
    once kept its proof: the text (for a picture without a caption, a line saying whose
    picture it is), its first http(s) link, the picture's address."""
    state = promise.state if promise is not None else state_of(tier, confirmed=False)
    kept = state is SponsorState.KEPT
    picture = kept and promise is not None and promise.picture
    proof = tier.proof if kept else None
    link = _URL.search(proof) if proof else None
    if picture and not proof:
        proof = t("web.sponsor.proof_picture_only", sponsor=tier.sponsor)
    return {
        "sponsor_state": state.value,
        "sponsor_state_text": t(f"web.sponsor.{state.value}", sponsor=tier.sponsor),
        "proof": proof,
        "proof_url": link.group(0).rstrip(".,;:!?)") if link else None,
        "proof_picture": f"/c/{slug}/proof/{tier.id}.jpg" if picture else None,
        "proof_picture_alt": t("web.sponsor.proof_picture", sponsor=tier.sponsor),
    }


def _status_text(t: Translator, progress: Progress) -> str:
    challenge = progress.challenge
    match challenge.status:
        case ChallengeStatus.OPEN:
            left = t.plural("web.days_left", progress.days_left)
            return t("web.deadline", left=left, date=challenge.deadline.date())
        case ChallengeStatus.SUCCEEDED:
            return t.plural("web.succeeded", progress.days_left, date=challenge.deadline.date())
        case ChallengeStatus.EXPIRED:
            return t("web.expired", date=challenge.deadline.date())
        case _:
            return t("web.closed")


def _next_tier_text(t: Translator, progress: Progress) -> str:
    tier = progress.next_tier
    if tier is None:
        if progress.count < progress.challenge.goal:
            return t.plural("web.goal_missing", progress.challenge.goal - progress.count)
        return t("web.goal_reached")
    return t.plural(
        "web.next_tier", tier.threshold - progress.count, sponsor=tier.sponsor, reward=tier.reward
    )


def _impact_text(t: Translator, progress: Progress) -> str:
    impact = progress.collective_impact
    if not impact:
        return ""
    unit = progress.challenge.impact_unit
    if unit:
        return t("web.impact", impact=impact, unit=unit)
    return t("web.impact_no_unit", impact=impact)


def _announcements(t: Translator, snapshot: Snapshot) -> list[dict[str, str]]:
    found = []
    for item in snapshot.announcements:
        text = _announcement_text(t, item, snapshot.challenge.title)
        if text:
            day = item.created_at.date()
            date_text = t("web.news_date", date=day)
            found.append({"date": day.isoformat(), "date_text": date_text, "text": text})
    return found


def _announcement_text(t: Translator, item: Announcement, title: str) -> str | None:
    try:
        return announcement_text(t, Notice(item.kind, None, t.locale, item.payload), title)
    except (KeyError, ValueError, TypeError):  # an event written by another version
        return None


def _areas_text(t: Translator, snapshot: Snapshot) -> str:
    shown = len(snapshot.areas)
    if not shown:
        return t("web.map.no_areas")
    people = sum(area.count for area in snapshot.areas)
    return t.plural("web.map.areas", shown, people=people)


def state(t: Translator, snapshot: Snapshot) -> dict[str, Any]:
    """Everything the page and the widget update live, in `t`'s language."""
    progress = snapshot.progress
    challenge = snapshot.challenge
    count = progress.count
    promises = {s.tier.id: s for s in snapshot.sponsors}
    tiers = []
    for tier in challenge.tiers:
        status, words = _tier_status(t, tier, count)
        tiers.append(
            {
                "id": tier.id,
                "threshold": tier.threshold,
                "sponsor": tier.sponsor,
                "reward": tier.reward,
                "status": status,
                "status_text": words,
                "percent": round(min(100.0, tier.threshold * 100 / max(1, challenge.goal)), 2),
                **_sponsor(t, challenge.slug, tier, promises.get(tier.id)),
            }
        )
    return {
        "slug": challenge.slug,
        "title": challenge.title,
        "status": challenge.status.value,
        "status_label": t(f"web.status.{challenge.status.value}"),
        "count": count,
        "goal": challenge.goal,
        "percent": progress.percent,
        "bar_percent": _bar_percent(progress),
        "count_text": t.number(count),
        "count_label": t.plural("web.pledged", count),
        "summary": progress_summary(t, progress),
        "next_tier_text": _next_tier_text(t, progress),
        "deadline_text": _status_text(t, progress),
        "days_left": progress.days_left,
        "impact_text": _impact_text(t, progress),
        "waiting_text": "" if progress.waiting is None else waiting_line(t, progress.waiting),
        "tiers": tiers,
        "tiers_unlocked": sum(1 for tier in tiers if tier["status"] != "locked"),
        "announcements": _announcements(t, snapshot),
        "areas_version": snapshot.areas_version,
        "areas_text": _areas_text(t, snapshot),
        "version": snapshot.version,
    }


def state_json(t: Translator, snapshot: Snapshot) -> bytes:
    """The live state as UTF-8 JSON, made once per snapshot and language."""
    return snapshot.cached(("state", t.locale), lambda: dumps(state(t, snapshot)))


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# --- open data ---------------------------------------------------------------------------

CSV_COLUMNS = ("area", "label", "level", "pledgers", "latitude", "longitude")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def areas_csv(areas: Iterable[AreaTotal]) -> bytes:
    """Pledgers per area as CSV (UTF-8, header row): only the areas every view shows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for area in areas:
        writer.writerow(
            [
                _cell(area.key),
                _cell(area.label),
                area.level,
                area.count,
                f"{area.latitude:.2f}",
                f"{area.longitude:.2f}",
            ]
        )
    return out.getvalue().encode()


def areas_geojson(challenge: Challenge, areas: Iterable[AreaTotal], min_count: int) -> bytes:
    """Pledgers per area as a GeoJSON FeatureCollection of points (longitude, latitude)."""
    features = [
        {
            "type": "Feature",
            "id": area.key,
            "geometry": {
                "type": "Point",
                "coordinates": [round(area.longitude, 2), round(area.latitude, 2)],
            },
            "properties": {"label": area.label, "count": area.count, "level": area.level},
        }
        for area in areas
    ]
    return dumps(
        {
            "type": "FeatureCollection",
            "challenge": challenge.slug,
            "min_count": min_count,
            "features": features,
        }
    )


# --- pages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a page needs beside the snapshot: the reader's language, links, minimum."""

    t: Translator
    links: Links
    min_count: int
    chosen_lang: bool
    """The language came from `?lang=` (links then keep it)."""
    base: str = ""
    """The site's absolute address (KOOM_PUBLIC_URL, else the request's), for link previews."""
    site: sharing.Site = field(default_factory=sharing.Site)
    ref: str | None = None
    """A share link's payload (`?start=`) crediting whoever shared the page."""
    logos: bool = False
    """Whether organisations' logos are served (KOOM_ORG_LOGO_DIR is set)."""


def with_lang(path: str, context: PageContext) -> str:
    """`path` keeping the reader's chosen language."""
    return f"{path}?lang={context.t.locale}" if context.chosen_lang else path


def language_links(path: str, t: Translator) -> Html:
    """A link per language to this page in it; the current one marked."""
    links = []
    for code in SUPPORTED_LOCALES:
        name = Translator(code)("common.language_name")
        if code == t.locale:
            links.append(f'<a aria-current="true" lang="{code}">{escape(name)}</a>')
        else:
            href = escape(f"{path}?lang={code}")
            links.append(f'<a href="{href}" lang="{code}" hreflang="{code}">{escape(name)}</a>')
    return Html("".join(links))


def progress_bar(t: Translator, snapshot: Snapshot, ticks: bool = True) -> Html:
    """The bar: an SVG (no inline style, so the CSP needs none), with a tick per tier."""
    progress = snapshot.progress
    parts = [
        f'<svg class="bar" role="progressbar" aria-valuemin="0" '
        f'aria-valuemax="{progress.challenge.goal}" aria-valuenow="{progress.count}" '
        f'aria-label="{escape(t("web.bar_label"))}" data-bar>',
        '<rect class="bar-track" x="0" y="0" width="100%" height="100%" rx="8"/>',
        f'<rect class="bar-fill" data-bar-fill x="0" y="0" width="{_bar_percent(progress)}%" '
        'height="100%" rx="8"/>',
    ]
    if ticks:
        for tier in progress.challenge.tiers:
            if tier.threshold >= progress.challenge.goal:
                continue
            x = round(tier.threshold * 100 / progress.challenge.goal, 2)
            reached = " reached" if progress.count >= tier.threshold else ""
            title = t("web.tier.tick", threshold=tier.threshold, sponsor=tier.sponsor)
            parts.append(
                f'<line class="bar-tick{reached}" data-tick="{tier.id}" data-threshold='
                f'"{tier.threshold}" x1="{x}%" x2="{x}%" y1="0" y2="100%">'
                f"<title>{escape(title)}</title></line>"
            )
    parts.append("</svg>")
    return Html("".join(parts))


def _buttons(context: PageContext, slug: str) -> Html:
    t = context.t
    buttons = []
    telegram = context.links.telegram(slug, context.ref)
    if telegram:
        buttons.append(
            f'<a class="button telegram" href="{escape(telegram)}" rel="noopener" '
            f'data-button="telegram">{escape(t("web.open_telegram"))}</a>'
        )
    discord = context.links.discord()
    if discord:
        buttons.append(
            f'<a class="button discord" href="{escape(discord)}" rel="noopener" '
            f'data-button="discord">{escape(t("web.open_discord"))}</a>'
        )
    if not buttons:
        buttons.append(
            f'<a class="button" href="#join-title" data-button="join">'
            f"{escape(t('sharing.how_to_join'))}</a>"
        )
    return Html(f'<p class="buttons">{"".join(buttons)}</p>')


def _tiers(t: Translator, challenge: Challenge, data: Mapping[str, Any]) -> Html:
    if not challenge.tiers:
        return Html("")
    items = []
    for tier in data["tiers"]:
        threshold = t.plural("web.tier.threshold", tier["threshold"])
        items.append(
            f'<li class="tier {tier["status"]}" data-tier="{tier["id"]}">'
            f'<span class="tier-threshold">{escape(threshold)}</span>'
            f'<span class="tier-text"><strong>{escape(tier["sponsor"])}</strong> '
            f"{escape(tier['reward'])}</span>"
            f'<span class="tier-status" data-tier-status>{escape(tier["status_text"])}</span>'
            f'<span class="sponsor-state {tier["sponsor_state"]}" data-sponsor-state>'
            f"{escape(tier['sponsor_state_text'])}</span>"
            f"{_proof(t, tier)}</li>"
        )
    return Html(
        '<section class="tiers" aria-labelledby="tiers-title">'
        f'<h2 id="tiers-title">{escape(t("web.tiers_title"))}</h2>'
        f'<p class="hint">{escape(t("web.tiers_hint"))}</p>'
        f'<ol class="tier-list">{"".join(items)}</ol></section>'
    )


def _proof(t: Translator, tier: Mapping[str, Any]) -> str:
    """The proof of a kept promise (hidden, and filled live, until there is one)."""
    proof, url = tier["proof"], tier["proof_url"]
    link = (
        f' <a href="{escape(url)}" rel="noopener nofollow ugc" data-proof-link>'
        f"{escape(t('web.sponsor.proof_link'))}</a>"
        if url
        else ""
    )
    picture = tier["proof_picture"]
    image = (
        f'<img class="proof-picture" src="{escape(picture)}" '
        f'alt="{escape(tier["proof_picture_alt"])}" loading="lazy" data-proof-picture>'
        if picture
        else ""
    )
    hidden = "" if proof or picture else " hidden"
    return (
        f'<p class="proof" data-proof{hidden}><span class="proof-label">'
        f"{escape(t('web.sponsor.proof'))}</span> <span data-proof-text>"
        f"{escape(proof or '')}</span>{link}{image}</p>"
    )


def organisation_header(t: Translator, organisation: Organisation | None, logos: bool) -> Html:
    """The organisation's header above its challenge: logo (served by `/org/SLUG/logo`
    when `logos`), name; nothing for a challenge of the deployment."""
    if organisation is None:
        return Html("")
    logo = ""
    if logos and organisation.logo_file:
        alt = t("web.org.logo", name=organisation.name)
        logo = (
            f'<img class="org-logo" src="/org/{escape(organisation.slug)}/logo" '
            f'alt="{escape(alt)}" data-org-logo>'
        )
    return Html(
        f'<section class="org-header" data-org="{escape(organisation.slug)}">{logo}'
        f'<p class="org-name">{escape(t("web.org.by", name=organisation.name))}</p></section>'
    )


def organisation_site(organisation: Organisation) -> sharing.Site:
    """The footer's parts from the organisation's own record (a privacy link that is not
    http(s) is left out)."""
    privacy = organisation.privacy_url
    if privacy and not privacy.startswith(("https://", "http://")):
        privacy = None
    return sharing.Site(organisation.name, organisation.contact, privacy)


def theme_css(organisation: Organisation) -> bytes:
    """The organisation's colour as a CSS variable (checked again: #RRGGBB only)."""
    colour = organisation.colour
    if colour is None or not COLOUR.fullmatch(colour):
        return b""
    return f":root {{ --org-colour: {colour.lower()}; }}\n".encode()


def _announcement_items(t: Translator, data: Mapping[str, Any]) -> Html:
    items = [
        f'<li><time datetime="{escape(a["date"])}">{escape(a["date_text"])}</time>'
        f"<p>{escape(a['text'])}</p></li>"
        for a in data["announcements"]
    ]
    if not items:
        items = [f'<li class="empty">{escape(t("web.news_empty"))}</li>']
    return Html("".join(items))


def own_area_attributes(challenge: Challenge) -> Html:
    """The map's attributes naming the challenge's own area (its centre, and its outline's
    key for a département), which the page marks as the chat's map picture does."""
    area = marked_area(challenge.area_name, challenge.area_kind)
    if area is None:
        return Html("")
    values = {"name": area.name, "lat": f"{area.latitude:.4f}", "lon": f"{area.longitude:.4f}"}
    if area.departement is not None:
        values["key"] = area.departement.key
    return Html("".join(f' data-own-{k}="{escape(v)}"' for k, v in values.items()))


def _level_names(t: Translator) -> str:
    return json.dumps([t("web.map.level_place"), t("web.map.level_area")], ensure_ascii=False)


def _page(t: Translator, head_title: str, description: str, body: Html, **extra: str) -> bytes:
    scripts = extra.get("scripts", "")
    return render(
        "base.html",
        lang=t.locale,
        head_title=head_title,
        description=description,
        style_url=static_url("style.css"),
        icon_url=static_url("icon.svg"),
        head_extra=Html(extra.get("head_extra", "")),
        body_class=extra.get("body_class", ""),
        body=body,
        scripts=Html(scripts),
    ).encode()


def _scripts(*names: str) -> str:
    return "".join(f'<script src="{escape(static_url(n))}" defer></script>' for n in names)


def challenge_page(context: PageContext, snapshot: Snapshot) -> bytes:
    """The public page of a challenge, made once per snapshot, language and address (a
    shared link's page, crediting its sharer, and one for an unexpected address are made
    each time)."""
    if context.ref is not None or not sharing.keeps(snapshot, context.base):
        return _challenge_page(context, snapshot)
    key = ("page", context.t.locale, context.chosen_lang, context.base)
    return snapshot.cached(key, lambda: _challenge_page(context, snapshot))


def _challenge_page(context: PageContext, snapshot: Snapshot) -> bytes:
    t = context.t
    challenge = snapshot.challenge
    data = state(t, snapshot)
    base = f"/c/{challenge.slug}"
    lang_query = f"?lang={t.locale}"
    widget = f"{base}/widget{lang_query if context.chosen_lang else ''}"
    embed = (
        f'<iframe src="{widget}" width="360" height="200" style="border:0" '
        f'title="{html.escape(challenge.title)}" loading="lazy"></iframe>'
    )
    impact = data["impact_text"]
    description = (
        Html(f'<p class="description">{escape(challenge.description)}</p>')
        if challenge.description
        else Html("")
    )
    kicker = (
        t("web.kicker_area", area=challenge.area_name) if challenge.area_name else t("web.kicker")
    )
    open_data = Html(
        escape(t("web.open_data"))
        + f' <a href="{base}/areas.csv">CSV</a> · <a href="{base}/areas.geojson">GeoJSON</a>'
    )
    organisation = snapshot.organisation
    site = context.site if organisation is None else organisation_site(organisation)
    head_extra = sharing.preview_tags(t, snapshot, context.base)
    if organisation is not None and organisation.colour:
        href = f"/org/{organisation.slug}/theme.css?v={organisation.colour.lstrip('#').lower()}"
        head_extra += f'<link rel="stylesheet" href="{escape(href)}">'
    body = render(
        "page.html",
        org_header=organisation_header(t, organisation, context.logos),
        home_url=with_lang("/", context),
        brand=t("web.brand"),
        languages_label=t("web.languages"),
        language_links=language_links(base, t),
        slug=challenge.slug,
        lang=t.locale,
        state_url=f"{base}/state.json{lang_query}",
        events_url=f"{base}/events{lang_query}",
        areas_url=f"{base}/areas.geojson",
        outlines_url="/outlines.geojson",
        places_url="/places.json",
        areas_version=snapshot.areas_version,
        kicker=kicker,
        status=challenge.status.value,
        status_label=data["status_label"],
        title=challenge.title,
        action_label=t("web.action_label"),
        action=challenge.action,
        description=description,
        live_label=t("web.live"),
        count_text=data["count_text"],
        count_label=data["count_label"],
        bar=progress_bar(t, snapshot),
        summary=data["summary"],
        next_tier_text=data["next_tier_text"],
        waiting_text=data["waiting_text"],
        deadline_text=data["deadline_text"],
        impact=Html(
            f'<p class="impact" data-bind="impact_text">{escape(impact)}</p>' if impact else ""
        ),
        buttons=_buttons(context, challenge.slug),
        join=Html(
            sharing.join_section(t, context.links, challenge.slug, context.base, context.ref)
        ),
        tiers=_tiers(t, challenge, data),
        map_title=t("web.map.title"),
        areas_text=data["areas_text"],
        map_label=t("web.map.label"),
        people_one=t("web.map.people_one"),
        people_other=t("web.map.people_other"),
        level_names=_level_names(t),
        own_area=own_area_attributes(challenge),
        zoom_in=t("web.map.zoom_in"),
        zoom_out=t("web.map.zoom_out"),
        zoom_reset=t("web.map.zoom_reset"),
        map_noscript=t("web.map.noscript"),
        map_note=t.plural("web.map.note", context.min_count),
        open_data=open_data,
        news_title=t("web.news_title"),
        news_empty=t("web.news_empty"),
        announcements=_announcement_items(t, data),
        embed_title=t("web.embed_title"),
        embed_hint=t("web.embed_hint"),
        widget_url=widget,
        embed_code=embed,
        footer=Html(sharing.footer(t, site)),
    )
    return _page(
        t,
        t("web.page_title", title=challenge.title),
        challenge.description or challenge.action,
        body,
        scripts=_scripts("live.js", "map.js"),
        head_extra=head_extra,
        body_class="org-page" if organisation is not None else "",
    )


def widget_page(context: PageContext, snapshot: Snapshot) -> bytes:
    """The embeddable widget: the bar, the count, a link to the page."""
    key = ("widget", context.t.locale, context.chosen_lang)
    return snapshot.cached(key, lambda: _widget_page(context, snapshot))


def _widget_page(context: PageContext, snapshot: Snapshot) -> bytes:
    t = context.t
    challenge = snapshot.challenge
    data = state(t, snapshot)
    base = f"/c/{challenge.slug}"
    body = render(
        "widget.html",
        slug=challenge.slug,
        lang=t.locale,
        state_url=f"{base}/state.json?lang={t.locale}",
        events_url=f"{base}/events?lang={t.locale}",
        page_url=with_lang(base, context),
        title=challenge.title,
        count_text=data["count_text"],
        count_label=data["count_label"],
        bar=progress_bar(t, snapshot, ticks=False),
        summary=data["summary"],
        join=t("web.widget.join"),
        brand=t("web.brand"),
    )
    return _page(
        t,
        challenge.title,
        challenge.action,
        body,
        body_class="widget-body",
        scripts=_scripts("live.js"),
    )


def index_page(
    context: PageContext,
    challenges: list[tuple[Challenge, Progress]],
    organisation: Organisation | None = None,
    invitation: str | None = None,
) -> bytes:
    """The list of open challenges: every public one, or an organisation's (its page, with
    the members' `invitation` a member shared, when it is a valid one)."""
    t = context.t
    here = "/" if organisation is None else f"/o/{organisation.slug}"
    if organisation is None:
        heading, head_title, site = t("web.index.title"), t("web.index.head_title"), context.site
    else:
        heading = t("web.org.index_title", name=organisation.name)
        head_title = t("web.org.index_head_title", name=organisation.name)
        site = organisation_site(organisation)
    cards = []
    for challenge, progress in challenges:
        href = escape(with_lang(f"/c/{challenge.slug}", context))
        pct = _bar_percent(progress)
        cards.append(
            f'<li class="card"><a href="{href}">'
            f'<span class="card-title">{escape(challenge.title)}</span>'
            f'<span class="card-action">{escape(challenge.action)}</span>'
            f'<svg class="bar small" aria-hidden="true"><rect class="bar-track" width="100%" '
            f'height="100%" rx="5"/><rect class="bar-fill" width="{pct}%" height="100%" rx="5"/>'
            "</svg>"
            f'<span class="card-count">{escape(t.plural("web.pledged_count", progress.count))}'
            f" · {escape(progress_summary(t, progress))}"
            "</span></a></li>"
        )
    if not cards:
        cards.append(f'<li class="empty">{escape(t("web.index.empty"))}</li>')
    body = render(
        "index.html",
        home_url=with_lang("/", context),
        brand=t("web.brand"),
        languages_label=t("web.languages"),
        language_links=language_links(here, t),
        heading=heading,
        intro=t("web.index.intro"),
        cards=Html("".join(cards)),
        invitation=Html(
            sharing.invitation_section(
                t, context.links, organisation.slug, invitation, context.base
            )
            if organisation is not None and invitation is not None
            else ""
        ),
        footer=Html(sharing.footer(t, site)),
    )
    return _page(t, head_title, t("web.index.intro"), body)


def error_page(t: Translator, status: int, heading: str, message: str) -> bytes:
    """A page saying what went wrong, in the reader's language."""
    body = render(
        "error.html",
        home_url="/",
        brand=t("web.brand"),
        status=str(status),
        heading=heading,
        message=message,
        back=t("web.error.back"),
    )
    return _page(t, heading, message, body, body_class="error-body")


def json_error(error: str, message: str) -> bytes:
    """An error as JSON for the data endpoints."""
    return dumps({"error": error, "message": message})
