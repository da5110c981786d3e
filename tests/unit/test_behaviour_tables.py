"""The behavioural tests' perturbations and hand-written tables, row by row (Made-With-ML's table style).

The perturbations must change only what they claim to (an age, a date, a name) so that a model failing the
invariance gate failed on that change and nothing else; the tables must be well-formed so that every row tests
what its name says.
"""

from __future__ import annotations

import pytest

from training import behaviour

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The injured worker is a 46 year old clerk.", "The injured worker is a 63 year old clerk."),
        # Past 90 the age moves down instead, to stay an adult's age.
        ("an 80-year-old patient", "an 63-year-old patient"),
        ("A 30 yr old", "A 47 yr old"),
        # Not a stated age: left alone.
        ("pain for 46 years, aged well", "pain for 46 years, aged well"),
    ],
)
def test_change_age(text: str, expected: str) -> None:
    assert behaviour.change_age(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("injured on 3-14-2016", "injured on 7-29-2016"),
        ("injured on March 14, 2016", "injured on July 29, 2016"),
        # Two-digit years stay two digits (and cross the leap day of 2020 correctly).
        ("seen 12/31/19", "seen 5/16/20"),
        # Not a real date: left as written.
        ("code 13-45-2016", "code 13-45-2016"),
    ],
)
def test_shift_dates(text: str, expected: str) -> None:
    assert behaviour.shift_dates(text) == expected


@pytest.mark.parametrize(("names", "doctor"), [(behaviour.NAMES_A, "Adams"), (behaviour.NAMES_B, "Nguyen")])
def test_with_names_appends_one_sentence(names: dict[str, str], doctor: str) -> None:
    assert behaviour.with_names("Summary.", names) == f"Summary. {behaviour.NAME_SENTENCE.format(**names)}"
    assert f"Dr. {doctor}" in behaviour.with_names("", names)


@pytest.mark.parametrize("jurisdiction", ["dwc", "dmhc"])
def test_directional_pairs_differ_only_by_documentation(jurisdiction: str) -> None:
    pairs = behaviour.directional_pairs(jurisdiction)
    assert len({p.name for p in pairs}) == len(pairs) >= 1
    for pair in pairs:
        changed = {k for k in pair.vague.keys() | pair.documented.keys() if pair.vague.get(k) != pair.documented.get(k)}
        assert changed and changed <= {"item_text", "summary"}, pair.name
        assert len(str(pair.documented["item_text"])) > len(str(pair.vague["item_text"])), pair.name
        assert pair.vague["jurisdiction"] == pair.documented["jurisdiction"] == jurisdiction


@pytest.mark.parametrize(
    ("jurisdiction", "name", "expected"),
    [("dwc", r[0], r[1]) for r in behaviour.DWC_CLEAR_CASES]
    + [("dmhc", r[0], r[1]) for r in behaviour.DMHC_CLEAR_CASES],
)
def test_clear_case_rows_become_requests(jurisdiction: str, name: str, expected: str) -> None:
    case = next(c for c in behaviour.clear_cases(jurisdiction) if c.name == name)
    assert case.expected == expected in ("Upheld", "Overturned")
    assert case.request["jurisdiction"] == jurisdiction
    assert str(case.request["item_text"]).strip()
