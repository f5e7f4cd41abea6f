"""What makes a challenge page spread: link-preview tags (Open Graph, Twitter card) with the
page's own picture, a way to join whatever is configured, and who runs the site.

The link preview picture (1200 x 630) and the page's share picture are drawn from the same
snapshot as the page, once per snapshot, language and size, off the event loop.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import segno

from bots.web.live import Snapshot
from conversations.deeplinks import join_payload, make_payload
from core.i18n import Translator
from core.sharing import SQUARE, WIDE, render_share, share_card
from core.sharing.words import progress_summary

if TYPE_CHECKING:
    from bots.web.views import Links

MAX_BASES = 4
"""Addresses whose answers are kept with a snapshot (see :func:`keeps`)."""
PICTURE_SIZES = {"wide": WIDE, "square": SQUARE}
OG_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def escape(value: object) -> str:
    """Text made safe for HTML content and double-quoted attributes."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True, slots=True)
class Site:
    """Who runs this deployment, from the settings (None leaves a part out of the footer)."""

    operator: str | None = None
    contact: str | None = None
    privacy_url: str | None = None


def keeps(snapshot: Snapshot, base: str) -> bool:
    """Whether answers made for the address `base` may be kept with the snapshot: the first
    few only, since without KOOM_PUBLIC_URL the address is the request's Host header, which
    the client chooses."""
    bases: set[str] = snapshot.cached("bases", set)
    if base not in bases and len(bases) < MAX_BASES:
        bases.add(base)
    return base in bases


def page_url(base: str, slug: str) -> str:
    """The challenge page's absolute address."""
    return f"{base}/c/{slug}"


def picture_url(base: str, snapshot: Snapshot, t: Translator, size: str = "wide") -> str:
    """The address of the page's picture, changed whenever the count changes (previews that
    keep pictures by address then fetch the new one)."""
    slug = snapshot.challenge.slug
    name = "og.png" if size == "wide" else "share.png"
    return f"{base}/c/{slug}/{name}?lang={t.locale}&v={snapshot.version}"


def preview_tags(t: Translator, snapshot: Snapshot, base: str) -> str:
    """Open Graph and Twitter card tags: title, count, the 1200 x 630 picture."""
    challenge = snapshot.challenge
    count = snapshot.progress.count
    description = f"{t.plural('sharing.people', count)} · {progress_summary(t, snapshot.progress)}"
    if challenge.action:
        description = f"{description} · {challenge.action}"
    image = picture_url(base, snapshot, t)
    alt = t("sharing.preview_alt", title=challenge.title)
    properties = [
        ("og:type", "website"),
        ("og:site_name", t("web.brand")),
        ("og:title", challenge.title),
        ("og:description", description),
        ("og:url", page_url(base, challenge.slug)),
        ("og:locale", OG_LOCALES.get(t.locale, t.locale)),
        ("og:image", image),
        ("og:image:type", "image/png"),
        ("og:image:width", str(WIDE[0])),
        ("og:image:height", str(WIDE[1])),
        ("og:image:alt", alt),
    ]
    names = [
        ("twitter:card", "summary_large_image"),
        ("twitter:title", challenge.title),
        ("twitter:description", description),
        ("twitter:image", image),
        ("twitter:image:alt", alt),
    ]
    tags = [f'<meta property="{k}" content="{escape(v)}">' for k, v in properties]
    tags += [f'<meta name="{k}" content="{escape(v)}">' for k, v in names]
    tags.append(f'<link rel="canonical" href="{escape(page_url(base, challenge.slug))}">')
    return "\n".join(tags)


def qr_svg(text: str) -> str:
    """A QR code of `text` as an SVG data URI (allowed by the pages' CSP)."""
    return str(segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=2))


def join_section(t: Translator, links: Links, slug: str, base: str, ref: str | None) -> str:
    """The ways to join beside the bots' buttons: a QR code to carry the Telegram link (or
    else the page) to a phone, the commands to type in the bot, the picture to share."""
    payload = ref or make_payload(slug)
    telegram = links.telegram(slug, payload)
    target = telegram or page_url(base, slug) + (f"?start={ref}" if ref else "")
    scan = t("sharing.join_scan_telegram") if telegram else t("sharing.join_scan_page")
    commands = (
        f"<code data-command>/start {escape(payload)}</code> <code>/pledge {escape(slug)}</code>"
    )
    parts = [
        '<section class="join" aria-labelledby="join-title" data-join>',
        f'<h2 id="join-title">{escape(t("sharing.join_title"))}</h2>',
        '<div class="join-grid">',
        f'<img class="qr" src="{qr_svg(target)}" width="148" height="148" '
        f'alt="{escape(t("sharing.qr_alt"))}" data-qr="{escape(target)}">',
        f"<div><p>{escape(scan)}</p><p>{escape(t('sharing.join_commands'))}</p>",
        f'<p class="commands">{commands}</p>',
        f'<p><a href="/c/{escape(slug)}/share.png?lang={t.locale}" download>'
        f"{escape(t('sharing.download'))}</a></p></div>",
        "</div></section>",
    ]
    return "".join(parts)


def invitation_section(t: Translator, links: Links, org_slug: str, code: str, base: str) -> str:
    """An organisation's members' invitation, on its page opened with `?start=join_CODE`
    (a member shared it from Discord or the console): the Telegram link (else this page)
    as a QR code, and the commands that join it in any chat."""
    payload = join_payload(code)
    telegram = links.telegram(org_slug, payload)
    target = telegram or f"{base}/o/{org_slug}?start={payload}"
    scan = t("sharing.join_scan_telegram") if telegram else t("sharing.join_scan_page")
    commands = f"<code>/start {escape(payload)}</code> <code>/org join {escape(code)}</code>"
    button = (
        f'<p><a class="button telegram" href="{escape(telegram)}" rel="noopener">'
        f"{escape(t('web.org.invitation_telegram'))}</a></p>"
        if telegram
        else ""
    )
    return "".join(
        [
            '<section class="join" aria-labelledby="invitation-title" data-invitation>',
            f'<h2 id="invitation-title">{escape(t("web.org.invitation_title"))}</h2>',
            f"<p>{escape(t('web.org.invitation_text'))}</p>",
            button,
            '<div class="join-grid">',
            f'<img class="qr" src="{qr_svg(target)}" width="148" height="148" '
            f'alt="{escape(t("sharing.qr_alt"))}" data-qr="{escape(target)}">',
            f"<div><p>{escape(scan)}</p><p>{escape(t('sharing.join_commands'))}</p>",
            f'<p class="commands">{commands}</p></div>',
            "</div></section>",
        ]
    )


def footer(t: Translator, site: Site) -> str:
    """The site's footer: who runs it, how to reach them, their privacy notice, then the
    project's own words."""
    parts = []
    if site.operator:
        parts.append(escape(t("sharing.footer_operator", operator=site.operator)))
    if site.contact:
        contact = site.contact.strip()
        href = contact if contact.startswith(("https://", "http://")) else f"mailto:{contact}"
        parts.append(f'<a href="{escape(href)}" rel="noopener">{escape(t("sharing.contact"))}</a>')
    if site.privacy_url:
        parts.append(
            f'<a href="{escape(site.privacy_url)}" rel="noopener">'
            f"{escape(t('sharing.privacy'))}</a>"
        )
    operator = f'<p class="operator" data-operator>{" · ".join(parts)}</p>' if parts else ""
    return f"{operator}<p>{escape(t('web.footer'))}</p>"


def picture(t: Translator, snapshot: Snapshot, base: str, size: str) -> Awaitable[bytes]:
    """The page's picture (not a member's: nobody is credited), drawn once per snapshot,
    language, address and size; concurrent readers share the one drawing."""

    def make() -> asyncio.Future[bytes]:
        link = page_url(base, snapshot.challenge.slug)
        card = share_card(t, snapshot.progress, link, personal=False)
        return asyncio.ensure_future(asyncio.to_thread(render_share, card, PICTURE_SIZES[size]))

    if not keeps(snapshot, base):
        return make()
    return snapshot.cached(("picture", t.locale, base, size), make)
