"""Text masking (ages, dates, names, numbers) and the perturbations behavioural tests apply."""

from __future__ import annotations

import pytest

from training.behaviour import NAMES_A, NAMES_B, change_age, shift_dates, with_names
from training.candidates import mask_text

pytestmark = pytest.mark.unit


def test_mask_text_hides_what_must_not_matter() -> None:
    a = "The injured worker is a 48 year old seen by Dr. Adams on 10-13-16 and on December 1, 2016."
    b = "The injured worker is a 63 year old seen by Dr. Nguyen on 3-2-2017 and on March 5, 2017."
    assert mask_text(a) == mask_text(b)
    assert "xnum" in mask_text("Physical therapy 2 times a week for 4 weeks")
    assert mask_text("Norco 10/325mg #60") != mask_text("Norco")  # whether a quantity is stated survives


def test_change_age() -> None:
    assert change_age("a 48 year old male and a 30-year-old") == "a 65 year old male and a 47-year-old"
    assert change_age("an 85 year old") == "an 68 year old"


def test_shift_dates_moves_every_date_consistently() -> None:
    text = "injured on 10-13-16; UR on 11/03/2016; seen December 30, 2016."
    shifted = shift_dates(text, days=5)
    assert shifted == "injured on 10-18-16; UR on 11/8/2016; seen January 4, 2017."
    assert shift_dates("no dates here") == "no dates here"
    assert shift_dates("on 13-45-2016") == "on 13-45-2016"  # not a date: left alone


def test_with_names() -> None:
    a, b = with_names("Summary.", NAMES_A), with_names("Summary.", NAMES_B)
    assert a != b and a.startswith("Summary. ") and "Nguyen" in b
