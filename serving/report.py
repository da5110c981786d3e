"""A one-page PDF report of a scored case (``POST /v1/report``), made with fpdf2.

It shows what ``/v1/prescreen`` answers, for an office to keep with the case: per item the estimate with its 95 %
interval, the category prior and the base rate, the band, the checklist, the ranked fixes and the similar past
determinations; for the case the claim number, the IMR filing deadline, the model that answered and the date.

Text is set in a PDF core font (Helvetica) and transliterated to Latin-1 first: accents and the typographic
punctuation offices paste (“ ” – … •) print as themselves or their ASCII forms, anything else as "?", so no input can
break the report. (A TrueType font such as matplotlib's DejaVu Sans would print more scripts, but fpdf2 parses and
subsets it on every report: about 2 s here, against about 20 ms with a core font.) Lists are trimmed so a usual case
fits one page. The PDF is built in memory and never
written to disk or logged: it quotes the request.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

#: Most entries shown per item, so that a usual case (a few items) fits one page.
MAX_CHECKS: Final = 8
MAX_FIXES: Final = 3
MAX_SIMILAR: Final = 2
_MAX_TEXT: Final = 400
_FONT: Final = "helvetica"
_BODY: Final = 8.0
_LINE: Final = 3.8
# Characters a PDF text line cannot show (controls other than tab/newline): dropped, never an error.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# Typographic characters outside Latin-1, as their plain forms.
_PLAIN: Final = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u2022": "*",
        "\u20ac": "EUR",
        "\u2122": "(TM)",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def latin1(text: str) -> str:
    """``text`` in characters a core PDF font has: Latin-1 kept, the rest decomposed (ā -> a) or shown as "?"."""
    text = text.translate(_PLAIN)
    if text.isascii():
        return text
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256 and not unicodedata.combining(c))
        out.append(base or "?")
    return "".join(out)


def _clean(value: Any, limit: int = _MAX_TEXT) -> str:
    text = " ".join(_CONTROL.sub(" ", str(value or "")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(value: Any) -> str:
    return "–" if not isinstance(value, int | float) or isinstance(value, bool) else f"{100 * float(value):.0f} %"


class _Report(FPDF):
    """An A4 page with the report's fonts; every line wraps, long words included."""

    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_margins(12, 10, 12)
        self.set_auto_page_break(auto=True, margin=10)
        self.set_title("IMR Prescreen report")
        self.set_creator("IMR Prescreen")
        self.add_page()

    def write_line(self, text: str, size: float = _BODY, bold: bool = False, indent: float = 0.0) -> None:
        self.set_font(_FONT, "B" if bold else "", size)
        self.set_x(self.l_margin + indent)
        self.multi_cell(
            self.epw - indent,
            _LINE * size / _BODY,
            latin1(_clean(text, 2000)),
            wrapmode=WrapMode.WORD,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def rule(self) -> None:
        self.ln(1)
        self.set_draw_color(180, 180, 180)
        y = self.get_y()
        self.line(self.l_margin, y, self.w - self.r_margin, y)
        self.ln(1.5)


def _header(pdf: _Report, answer: Mapping[str, Any], jurisdiction: str, today: dt.date) -> None:
    pdf.write_line("IMR Prescreen: will Independent Medical Review uphold the denial?", 13, bold=True)
    model = answer.get("model") or {}
    pdf.write_line(
        f"Jurisdiction: {jurisdiction.upper()}   Model: {model.get('name', '?')} version {model.get('version', '?')}"
        f"   Report date: {today.isoformat()}"
    )
    parts = []
    if answer.get("claim_number"):
        parts.append(f"Claim number: {answer['claim_number']}")
    if answer.get("filing_deadline"):
        days = answer.get("days_left")
        left = "" if days is None else (f" ({days} days left)" if days >= 0 else f" (passed {-days} days ago)")
        parts.append(f"IMR filing deadline: {answer['filing_deadline']}{left}")
    if parts:
        pdf.write_line("   ".join(parts), bold=True)
    pdf.write_line(
        "The estimate is the probability that IMR upholds the utilization review's denial, from past determinations; "
        "it is not advice on the merits of the case.",
        7,
    )
    pdf.rule()


def _estimate(result: Mapping[str, Any]) -> str:
    if result.get("p_upheld") is None:
        return f"Not scored: {result.get('band_label', 'insufficient information')}"
    interval = ""
    if result.get("p_low") is not None and result.get("p_high") is not None:
        interval = f" (95 % interval {_pct(result['p_low'])} to {_pct(result['p_high'])})"
    return (
        f"P(denial upheld) {_pct(result['p_upheld'])}{interval}; category prior {_pct(result.get('prior'))}, "
        f"base rate {_pct(result.get('base_rate'))}. Band: {result.get('band_label', '')}."
    )


def _checklist(pdf: _Report, checks: Sequence[Mapping[str, Any]]) -> None:
    if not checks:
        return
    pdf.write_line("Documentation checklist", bold=True, indent=3)
    for check in checks[:MAX_CHECKS]:
        mark = "[x]" if check.get("status") == "passed" else "[ ]"
        said = f" – “{_clean(check.get('evidence'), 80)}”" if check.get("evidence") else ""
        pdf.write_line(f"{mark} {check.get('title', check.get('code', ''))}{said}", indent=6)
    if len(checks) > MAX_CHECKS:
        pdf.write_line(f"… and {len(checks) - MAX_CHECKS} more checks", indent=6)


def _fixes(pdf: _Report, fixes: Sequence[Mapping[str, Any]], all_fixed: Any) -> None:
    if not fixes:
        return
    tail = f" (with every fix: {_pct(all_fixed)})" if all_fixed is not None else ""
    pdf.write_line(f"What to add before filing, biggest effect first{tail}", bold=True, indent=3)
    for rank, fix in enumerate(fixes[:MAX_FIXES], 1):
        effect = f"P(upheld) after it {_pct(fix.get('p_after'))}" if fix.get("changes_estimate") else "advice only"
        pdf.write_line(f"{rank}. {fix.get('title', '')}: {_clean(fix.get('advice'), 200)} ({effect})", indent=6)


def _similar(pdf: _Report, hits: Sequence[Mapping[str, Any]]) -> None:
    if not hits:
        return
    pdf.write_line("Similar past determinations", bold=True, indent=3)
    for hit in hits[:MAX_SIMILAR]:
        when = hit.get("decision_date") or hit.get("report_year") or "date unknown"
        case = hit.get("case_id") or "case"
        pdf.write_line(
            f"{hit.get('determination', '?')} – {case} ({when}): {_clean(hit.get('item_text'), 160)}", indent=6
        )


def _item(pdf: _Report, number: int, item_text: str, result: Mapping[str, Any]) -> None:
    pdf.write_line(f"Item {number}: {_clean(item_text)}", 9.5, bold=True)
    pdf.write_line(_estimate(result), indent=3)
    for missing in result.get("missing_information") or ():
        pdf.write_line(f"Needs: {_clean(missing, 240)}", indent=3)
    _checklist(pdf, result.get("checklist") or ())
    _fixes(pdf, result.get("fixes") or (), result.get("p_all_fixed"))
    _similar(pdf, result.get("similar") or ())
    pdf.rule()


def render_report(
    answer: Mapping[str, Any], item_texts: Sequence[str], jurisdiction: str, today: dt.date | None = None
) -> bytes:
    """The PDF of one scored case: ``answer`` is what ``/v1/prescreen`` answers for it, ``item_texts`` its items."""
    pdf = _Report()
    _header(pdf, answer, jurisdiction, today or dt.date.today())
    for number, (text, result) in enumerate(zip(item_texts, answer.get("items") or (), strict=False), 1):
        _item(pdf, number, text, result)
    return bytes(pdf.output())


def report_filename(answer: Mapping[str, Any], today: dt.date | None = None) -> str:
    """A safe file name: the date and the request id (never the claim number or any request text)."""
    rid = re.sub(r"[^A-Za-z0-9]", "", str(answer.get("request_id") or ""))[:12]
    return f"imr-prescreen-{(today or dt.date.today()).isoformat()}{'-' + rid if rid else ''}.pdf"
