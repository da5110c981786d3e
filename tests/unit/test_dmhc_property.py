"""Property tests: whatever bytes come in, the DMHC loader returns (items, rejects) or raises DmhcError;
split_findings never raises, never puts a verdict in the summary and loses no text."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.dmhc import KNOWN_COLUMNS, DmhcError, load_dmhc_bytes, split_findings
from features.schema import Item

pytestmark = pytest.mark.unit

OLD_NAMES = [
    "Reference ID",
    "Report Year",
    "Diagnosis Category",
    "Diagnosis Sub Category",
    "Treatment Category",
    "Treatment Sub Category",
    "Determination",
    "Type",
    "Age Range",
    "Patient Gender",
]
# Fragments real Findings are built from, so random text often looks like half a Findings cell.
FRAGMENTS = [
    "Nature of Statutory Criteria/Case Summary:",
    "Case Summary:",
    "Findings: The physician reviewer found that",
    "The patient has requested authorization and coverage for",
    "a patient has requested",
    "Final Result:",
    "Final Result",
    "final\nresult",
    "FINAL RESULT",
    "The reviewer determined that the requested service is not medically necessary.",
    "Therefore, the Health Plan's denial should be upheld.",
    "Credentials/Qualifications:",
    "Dr.",
    "U.S.",
    ".",
    ". ",
    "&#8209;",
    "&amp;",
    "\n",
    "She has a history of asthma.",
]
findings_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=12).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else "".join(parts)
)
CELLS = [
    "Upheld Decision of Health Plan",
    "Overturned Decision of Health Plan",
    "upheld",
    "2016",
    "20x6",
    "",
    "41 to 50",
    "65+",
    "MN16-1",
    "MN16-1",
    '"quoted, with comma"',
    '"multi\nline ""Final Result"" cell"',
    '"unterminated',
]
cell = st.one_of(st.sampled_from(CELLS), st.text(max_size=12), findings_text)


VALID: dict[str, st.SearchStrategy[str]] = {
    "ReferenceID": st.from_regex(r"(MN|EI)\d{2}-\d{1,3}", fullmatch=True),
    "Reference ID": st.from_regex(r"(MN|EI)\d{2}-\d{1,3}", fullmatch=True),
    "Determination": st.sampled_from(["Upheld Decision of Health Plan", "Overturned Decision of Health Plan"]),
    "ReportYear": st.integers(2001, 2026).map(str),
    "Report Year": st.integers(2001, 2026).map(str),
    "DaysToReview": st.integers(0, 90).map(str),
    "DaysToAdopt": st.integers(0, 90).map(str),
    "Findings": findings_text.map(lambda t: '"' + t.replace('"', '""') + '"'),
}


@st.composite
def csvish(draw: st.DrawFn) -> bytes:
    """A header that is often a real DMHC header, then rows of plausible or random cells, in a random encoding."""
    separator = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(
        st.one_of(
            st.just(list(KNOWN_COLUMNS)),
            st.just(OLD_NAMES),
            st.permutations([*KNOWN_COLUMNS, "was_overturned"]),
            st.lists(st.sampled_from([*KNOWN_COLUMNS, *OLD_NAMES, "x"]), max_size=16),
        )
    )
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        plausible = [VALID.get(name, st.text(alphabet="abc -+/", max_size=8)) for name in header]
        row = [draw(strategy if draw(st.integers(0, 4)) else cell) for strategy in plausible]
        rows.append(row[: draw(st.integers(0, len(row)))] if draw(st.integers(0, 9)) == 0 else row)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(separator.join(fields) for fields in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    return codecs.BOM_UTF8 + data if encoding == "utf-8" and draw(st.booleans()) else data


def _check_result(items: list[Item], rejects: list[dict[str, str]]) -> None:
    for item in items:
        assert item.jurisdiction == "dmhc"
        assert item.item_id == f"{item.case_id}#0"
        assert item.determination in ("Upheld", "Overturned")
        assert "final result" not in item.summary.lower()
    for reject in rejects:
        assert set(reject) == {"source", "locator", "reason"}
        assert reject["reason"]
    assert len({item.item_id for item in items}) == len(items)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_load_or_raise_dmhc_error(data: bytes) -> None:
    try:
        items, rejects = load_dmhc_bytes(data, "random.csv")
    except DmhcError:
        return
    _check_result(items, rejects)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csvish())
def test_csvish_text_loads_or_raises_dmhc_error(data: bytes) -> None:
    try:
        items, rejects = load_dmhc_bytes(data, "random.csv")
    except DmhcError:
        return
    _check_result(items, rejects)


@settings(max_examples=200, deadline=None)
@given(st.one_of(findings_text, st.text(max_size=400)))
def test_split_findings_never_raises_nor_leaks(text: str) -> None:
    summary, reviewer = split_findings(text)
    assert "Final Result" not in summary
    assert "final result" not in summary.lower()
    assert "reviewer" not in summary.lower()
    # Nothing is lost: apart from whitespace and HTML entities, the two parts hold all of the text.
    if "&" not in text:
        assert len("".join((summary + reviewer).split())) == len("".join(text.split()))
