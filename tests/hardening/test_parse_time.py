"""Parsing hostile text takes time linear in its length: under 1 s of CPU per 100 KB, whatever the text.

The letter parser's date labels used to backtrack quadratically over whitespace ("Date assigned" and 16,000 spaces
took 25 s, holding the interpreter lock). Every pattern now meets bounded whitespace runs (they are cut before any
pattern runs) and has no adjacent overlapping quantifiers. Here: each label the parser looks for, followed by 100 KB
of each kind of filler (whitespace of every sort, letters, digits, punctuation, line and page breaks); labels
repeated over 100 KB; 100 KB tokens; whitespace after every label of a letter (which must not change what it parses
to); and the DMHC findings splitter and the leak patterns on the same inputs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.dmhc import split_findings
from features.letters import LetterError, parse_letter_text
from features.view import find_leaks
from tests.letter_text import LETTER

pytestmark = pytest.mark.unit

SIZE = 100_000
#: CPU seconds allowed per 100 KB of text (linear parsing takes well under 0.3 s here).
BUDGET_S = 1.0

# Every label and phrase the letter patterns anchor on (a quadratic pattern needs one of them to start from).
LABELS = [
    "Date assigned", "Assignment date", "Date of assignment", "Notice of assignment", "Notice of assignment x on",
    "Date of injury", "DOI", "Date of industrial injury of", "UR denial date", "Date of UR", "UR date",
    "Utilization review denial dated", "utilization review (UR) dated", "Decision date", "Determination date",
    "determination dated", "Case Number:", "Case Number", "IMR Case No.", "CM16-", "Priority:",
    "Certifications/Specialty:", "Certification(s) / Specialty", "board certified in", "Decision rationale",
    "Rationale for the decision", "Claims administrator guideline",
    "Medical treatment guidelines used by the claims administrator",
    "Medical treatment guideline(s) used by the expert reviewer", "MAXIMUS guideline", "Reviewer guideline",
    "IMR issues, decisions and rationales", "Independent medical review decisions and rationales",
    "The final determination was based on", "Clinical case summary", "Case summary", "documents reviewed",
    "The expert reviewer developed the following clinical case summary", "Disclaimer: the following case summary",
    "Effect of the decision", "cc", "Sincerely", "Enclosures", "set forth below", "MRI: Upheld", "MRI is", "MRI -",
    "Upheld", "UPHELD", "Overturned", "MAXIMUS Federal Services, Inc. has determined the request for",
    "1. The request for", "1.", "Regarding the request for", "1. Regarding the request for", "original request,",
    "(modified", ", partially certified", "June 10,", "12/12/", "2014-", "Page 1", "1 of", "- 1",
    "is not medically necessary and appropriate",
]  # fmt: skip
FILLERS = [
    " ", "\n", " \n", "\t", "\u2028", "\u00a0", "\u3000", "\x0b", "\x0c", "\n\x0c", "\r\n", "a", "A", "1", ".", ":",
    "(", ")", "-", " :", ": ", " - ", "is ", "Upheld ", "a ", "A ", "1 ", ". ", "\n1. ", "x\n", "x: Upheld\n",
]  # fmt: skip
TAILS = ["x", "", ":", " Upheld", "\n", " June 10, 2016"]


def cpu_seconds(function: Callable[..., Any], *args: Any) -> float:
    start = time.process_time()
    function(*args)
    return time.process_time() - start


def parse(text: str) -> None:
    with contextlib.suppress(LetterError):
        parse_letter_text(text, "hostile.txt")


def assert_linear(text: str, seconds: float) -> None:
    allowed = BUDGET_S * max(len(text), SIZE) / SIZE
    assert seconds < allowed, f"{seconds:.2f} s of CPU for {len(text)} characters (allowed {allowed:.2f} s)"


def test_the_reported_letter_parses_at_once() -> None:
    seconds = cpu_seconds(parse, "Date assigned" + " " * 16000 + "x")  # 25 s before the fix
    assert seconds < 0.2


@pytest.mark.parametrize("label", LABELS)
def test_long_whitespace_after_each_label(label: str) -> None:
    for filler in (" ", "\n", "\t \n", "\x0c"):
        text = label + filler * (SIZE // len(filler)) + "x"
        assert_linear(text, cpu_seconds(parse, text))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label=st.sampled_from(LABELS), filler=st.sampled_from(FILLERS), tail=st.sampled_from(TAILS))
def test_any_label_then_100_kb_of_any_filler(label: str, filler: str, tail: str) -> None:
    text = label + filler * (SIZE // len(filler)) + tail
    assert_linear(text, cpu_seconds(parse, text))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    label=st.sampled_from(LABELS),
    gap=st.sampled_from([" ", "\n", ": ", " " * 50, " " * 399, "\n" * 50, "\x0c", " x ", "A" * 50, "\n\n1. "]),
)
def test_labels_repeated_over_100_kb(label: str, gap: str) -> None:
    unit = label + gap
    text = unit * (SIZE // len(unit) + 1)
    assert_linear(text, cpu_seconds(parse, text))


TOKENS = [
    "a", "A", "1", "jan", "Jan ", "modif", "(modified ", "upheld", "UPHELD ", "Upheld", "is ", "case ", "page ",
    "1 of ", "- 1 -", ".)", '"', "Dr. ", "therefore ", "review", ":", " :", "set forth below ", "certification ",
    "(s) ", "Inc. ", "x: Upheld\n", "Decision rationale: x\n", "x: Upheld\nDecision rationale: y\n", "\x0c",
]  # fmt: skip


@pytest.mark.parametrize("token", TOKENS)
def test_100_kb_tokens(token: str) -> None:
    text = token * (SIZE // len(token))
    assert_linear(text, cpu_seconds(parse, text))


def _padded(letter: str, pad: str) -> str:
    """The letter with a long run of ``pad`` after every colon (every label) and at the end of every line."""
    return letter.replace(":", ":" + pad).replace("\n", pad + "\n")


@pytest.mark.parametrize("pad", [" " * 2000, "\t \u00a0" * 700, " \u2003" * 1000])
def test_whitespace_after_every_label_changes_neither_the_items_nor_the_cost(pad: str) -> None:
    expected = [item.model_dump() for item in parse_letter_text(LETTER, "letter.txt")]
    padded = _padded(LETTER, pad)
    assert len(padded) > SIZE
    start = time.process_time()
    items = [item.model_dump() for item in parse_letter_text(padded, "letter.txt")]
    assert_linear(padded, time.process_time() - start)
    assert items == expected


@pytest.mark.parametrize(
    "text",
    [
        "therefore the request " * (SIZE // 22),
        "therefore, request is is is " * (SIZE // 28),
        "maximus federal services, inc. " * (SIZE // 31),
        "Findings: the reviewer found that " + " " * SIZE + "x",
        "Case Summary:" + " \n" * (SIZE // 2),
        "decision should " * (SIZE // 16),
        "Dr. " * (SIZE // 4),
        "a" * SIZE,
        ".)" * (SIZE // 2),
    ],
    ids=lambda text: repr(text[:24]),
)
def test_dmhc_findings_and_leak_patterns_on_100_kb(text: str) -> None:
    assert_linear(text, cpu_seconds(split_findings, text))
    frame = pd.DataFrame({"item_text": [text], "summary": [text], "claims_guideline": [text]})
    assert_linear(text * 3, cpu_seconds(find_leaks, frame))
