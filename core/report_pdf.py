"""The organiser's report as a PDF (fpdf2, with the shipped DejaVu Sans and Noto Emoji fonts,
so accents and emoji print whole): the same content as the HTML report, for a board or the
press."""

from __future__ import annotations

from io import BytesIO

from fpdf import FPDF
from fpdf.fonts import FontFace

from core.fonts import EMOJI_FILE, TEXT_FILES, font_path
from core.i18n import Translator
from core.services.report import ChallengeReport, Day, proof_line

FAMILY, EMOJI = "DejaVu", "NotoEmoji"
LINE = 6.0  # mm
CHART_HEIGHT = 45.0  # mm
PICTURE_WIDTH = 70.0  # mm, a proof picture
GREEN = (34, 170, 119)


def report_pdf(report: ChallengeReport, t: Translator) -> bytes:
    """The report in `t`'s language, as the bytes of a PDF file."""
    c = report.challenge
    pdf = FPDF(format="A4")
    pdf.set_title(t("report.title", title=c.title))
    pdf.set_lang(t.locale)
    pdf.set_creator("climat-koom")
    pdf.add_font(FAMILY, "", font_path(TEXT_FILES[False]))
    pdf.add_font(FAMILY, "B", font_path(TEXT_FILES[True]))
    pdf.add_font(EMOJI, "", font_path(EMOJI_FILE))
    pdf.set_fallback_fonts([EMOJI])
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 18)
    _para(pdf, c.title, 9)
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(100)
    _para(pdf, t("report.made_at", date=report.made_at.date()))
    pdf.set_text_color(0)
    pdf.set_font(FAMILY, "", 11)
    _para(pdf, t("report.summary", count=c.pledge_count, goal=c.goal, action=c.action))
    _para(pdf, t.plural("report.checkins", c.checkin_count))
    if report.impact is not None:
        _para(pdf, t("report.impact", value=round(report.impact, 1), unit=c.impact_unit or ""))
    if report.waiting.count:
        _para(pdf, t.plural("report.waiting", report.waiting.count))
    _heading(pdf, t("report.over_time"))
    if report.days:
        _chart(pdf, report.days)
        heads = ("report.col_day", "report.col_new", "report.col_total", "report.col_checkins")
        _table(
            pdf,
            [t(k) for k in heads],
            [
                [t("report.day", date=d.day), str(d.pledges), str(d.total), str(d.checkins)]
                for d in report.days
            ],
        )
    else:
        _para(pdf, t("report.no_pledges"))
    _heading(pdf, t("report.areas"))
    if report.areas:
        _table(pdf, None, [[a.label, str(a.count)] for a in report.areas])
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(100)
    _para(pdf, t("report.areas_note"))
    pdf.set_text_color(0)
    pdf.set_font(FAMILY, "", 11)
    if report.sponsors:
        _heading(pdf, t("report.sponsors"))
        _table(
            pdf,
            None,
            [
                [
                    s.tier.sponsor,
                    str(s.tier.threshold),
                    s.tier.reward,
                    t(f"report.state.{s.state.value}"),
                ]
                for s in report.sponsors
            ],
        )
        _proofs(pdf, report, t)
    return bytes(pdf.output())


def _para(pdf: FPDF, text: str, height: float = LINE) -> None:
    pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(FAMILY, "B", 14)
    _para(pdf, text, 8)
    pdf.set_font(FAMILY, "", 11)


def _table(pdf: FPDF, head: list[str] | None, rows: list[list[str]]) -> None:
    """A plain table: numbers (all digits) right-aligned."""
    with pdf.table(
        headings_style=FontFace(emphasis="BOLD"),
        first_row_as_headings=head is not None,
        line_height=LINE,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        for values in [head] if head is not None else []:
            table.row(values)
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value, align="R" if value.isdigit() else "L")


def _proofs(pdf: FPDF, report: ChallengeReport, t: Translator) -> None:
    """Each kept promise's proof, and its picture below."""
    for status in report.sponsors:
        line = proof_line(t, status)
        if line is None:
            continue
        _para(pdf, line)
        picture = report.pictures.get(status.tier.id)
        if picture is not None:
            alt = t("web.sponsor.proof_picture", sponsor=status.tier.sponsor)
            pdf.image(BytesIO(picture), w=PICTURE_WIDTH, alt_text=alt)
            pdf.ln(2)


def _chart(pdf: FPDF, days: tuple[Day, ...]) -> None:
    """The running total of pledges as a line over the days."""
    left, top = pdf.l_margin, pdf.get_y() + 2
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_fill_color(247, 250, 247)
    pdf.rect(left, top, width, CHART_HEIGHT, style="F")
    most = max(d.total for d in days) or 1
    step = width / max(len(days) - 1, 1)
    points = [
        (left + i * step, top + CHART_HEIGHT - d.total * (CHART_HEIGHT - 4) / most)
        for i, d in enumerate(days)
    ]
    pdf.set_draw_color(*GREEN)
    pdf.set_line_width(0.8)
    if len(points) == 1:
        points.append((left + width, points[0][1]))
    pdf.polyline(points)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    pdf.set_y(top + CHART_HEIGHT + 4)
