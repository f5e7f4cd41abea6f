"""The organiser's report as one self-contained HTML file (no script, no outside resource),
for a board or the press: it prints well and opens offline."""

from __future__ import annotations

import base64
from enum import StrEnum
from html import escape

from core.i18n import Translator
from core.services.report import ChallengeReport, Day, proof_line


class ReportFormat(StrEnum):
    """The report's file formats."""

    HTML = "html"
    PDF = "pdf"


CHART_WIDTH, CHART_HEIGHT = 640, 160
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; color: #222; }
h1 { margin-bottom: 0; } .muted { color: #666; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg { width: 100%; height: auto; background: #f7faf7; }
img.proof { display: block; max-width: 20rem; max-height: 20rem; margin: .5rem 0 1rem; }
"""


def report_html(report: ChallengeReport, t: Translator) -> str:
    """The report in `t`'s language."""
    c = report.challenge
    parts = [
        f'<!doctype html><html lang="{escape(t.locale)}"><head><meta charset="utf-8">',
        f"<title>{escape(t('report.title', title=c.title))}</title><style>{STYLE}</style>",
        f"</head><body><h1>{escape(c.title)}</h1>",
        f'<p class="muted">{escape(t("report.made_at", date=report.made_at.date()))}</p>',
        f"<p>{escape(t('report.summary', count=c.pledge_count, goal=c.goal, action=c.action))}</p>",
        f"<p>{escape(t.plural('report.checkins', c.checkin_count))}</p>",
    ]
    if report.impact is not None:
        impact = t("report.impact", value=round(report.impact, 1), unit=c.impact_unit or "")
        parts.append(f"<p>{escape(impact)}</p>")
    parts.append(f"<h2>{escape(t('report.over_time'))}</h2>")
    if report.days:
        parts.append(_chart(report.days, t))
        rows = "".join(
            f"<tr><td>{escape(t('report.day', date=d.day))}</td><td class=n>{d.pledges}</td>"
            f"<td class=n>{d.total}</td><td class=n>{d.checkins}</td></tr>"
            for d in report.days
        )
        head = "".join(
            f"<th>{escape(t(k))}</th>"
            for k in ("report.col_day", "report.col_new", "report.col_total", "report.col_checkins")
        )
        parts.append(f"<table><tr>{head}</tr>{rows}</table>")
    else:
        parts.append(f"<p>{escape(t('report.no_pledges'))}</p>")
    parts.append(f"<h2>{escape(t('report.areas'))}</h2>")
    if report.areas:
        rows = "".join(
            f"<tr><td>{escape(a.label)}</td><td class=n>{a.count}</td></tr>" for a in report.areas
        )
        parts.append(f"<table>{rows}</table>")
    parts.append(f'<p class="muted">{escape(t("report.areas_note"))}</p>')
    if report.sponsors:
        parts.append(f"<h2>{escape(t('report.sponsors'))}</h2><table>")
        for status in report.sponsors:
            tier = status.tier
            parts.append(
                f"<tr><td>{escape(tier.sponsor)}</td><td class=n>{tier.threshold}</td>"
                f"<td>{escape(tier.reward)}</td>"
                f"<td>{escape(t(f'report.state.{status.state.value}'))}</td></tr>"
            )
        parts.append("</table>")
        parts += _proofs(report, t)
    if report.waiting.count:
        parts.append(f"<p>{escape(t.plural('report.waiting', report.waiting.count))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _proofs(report: ChallengeReport, t: Translator) -> list[str]:
    """Each kept promise's proof, and its picture embedded (the file stays self-contained)."""
    parts: list[str] = []
    for status in report.sponsors:
        line = proof_line(t, status)
        if line is None:
            continue
        parts.append(f"<p>{escape(line)}</p>")
        picture = report.pictures.get(status.tier.id)
        if picture is not None:
            alt = escape(t("web.sponsor.proof_picture", sponsor=status.tier.sponsor))
            data = base64.b64encode(picture).decode("ascii")
            parts.append(f'<img class="proof" src="data:image/jpeg;base64,{data}" alt="{alt}">')
    return parts


def _chart(days: tuple[Day, ...], t: Translator) -> str:
    """The running total of pledges as a line over the days."""
    top = max(d.total for d in days) or 1
    step = CHART_WIDTH / max(len(days) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{CHART_HEIGHT - d.total * (CHART_HEIGHT - 10) / top:.1f}"
        for i, d in enumerate(days)
    )
    label = escape(t("report.chart", total=days[-1].total))
    return (
        f'<svg viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{label}">'
        f'<polyline fill="none" stroke="#2a7" stroke-width="3" points="{points}"/></svg>'
    )
