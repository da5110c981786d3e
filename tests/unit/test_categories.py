from __future__ import annotations

import pytest

from features.categories import CATEGORIES, OTHER, categorize

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MRI of the right shoulder without contrast", "Imaging"),
        ("EMG/NCV bilateral upper extremities", "Electrodiagnostics"),
        ("Physical therapy 2 times a week for 6 weeks", "Physical / occupational therapy"),
        ("Norco 10/325mg #60", "Opioid"),
        ("Cyclobenzaprine 7.5mg #60", "Muscle relaxant"),
        ("Flurbiprofen 20% cream", "Topical analgesic"),
        ("Right knee arthroscopy", "Surgery"),
        ("Acupuncture 6 sessions", "Acupuncture"),
        ("Lumbar epidural steroid injection L4-5", "Injection / procedure"),
        ("Something entirely new", OTHER),
    ],
)
def test_categorize(text: str, expected: str) -> None:
    assert categorize(text) == expected
    assert expected in CATEGORIES
