"""Business rules of the pre-screen, as pure functions: the band of a probability, and when an input is too thin.

They live here, not in a route or in the model, so they can be unit-tested and changed without retraining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Band = Literal["likely_upheld", "uncertain", "likely_overturned", "insufficient_information"]

BAND_LABELS: Final[dict[Band, str]] = {
    "likely_upheld": "Likely upheld (denial likely to stand)",
    "uncertain": "Uncertain",
    "likely_overturned": "Likely overturned (denial likely reversed)",
    "insufficient_information": "Insufficient information to judge",
}

_WORD = re.compile(r"[^\W\d_][\w'/-]*", re.UNICODE)

# Words that carry no clinical meaning on their own, and fillers people type when they have nothing to say.
STOPWORDS: Final[frozenset[str]] = frozenset(
    """a an and are as at be by for from has have he her his i in is it its of on or our she that the their
    them they this to was we were with you your x na n/a none unknown tbd test testing asdf xxx etc
    please request requested item items service services see above below same other misc""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class BandThresholds:
    """p(upheld) at or above ``upheld_min`` is likely upheld; at or below ``overturned_max`` likely overturned."""

    upheld_min: float = 0.65
    overturned_max: float = 0.35


@dataclass(frozen=True, slots=True)
class InformationRule:
    """How much text an item needs before the model's answer means anything."""

    min_item_words: int = 1
    min_item_words_alone: int = 3
    min_context_words: int = 8


def band_for(p_upheld: float, thresholds: BandThresholds) -> Band:
    """The band of a probability that the denial is upheld."""
    if p_upheld >= thresholds.upheld_min:
        return "likely_upheld"
    if p_upheld <= thresholds.overturned_max:
        return "likely_overturned"
    return "uncertain"


def verdict_label(band: str) -> str | None:
    """The outcome a band stands for (the band is the only verdict; ``uncertain`` and insufficient have none)."""
    return {"likely_upheld": "Upheld", "likely_overturned": "Overturned"}.get(band)


def meaningful_words(text: str, enough: int | None = None) -> int:
    """Count of words that are neither stopwords nor fillers, nor one letter long (stops counting at ``enough``)."""
    count = 0
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if len(word) > 1 and word not in STOPWORDS:
            count += 1
            if enough is not None and count >= enough:
                break
    return count


def missing_information(
    item_text: str, summary: str, ur_text: str, claims_guideline: str, rule: InformationRule
) -> list[str]:
    """What an item lacks before it can be judged; an empty list means it can be scored."""
    item_words = meaningful_words(item_text, enough=max(rule.min_item_words, rule.min_item_words_alone))
    if item_words < rule.min_item_words:
        return ["The item text does not name a treatment or service."]
    if item_words >= rule.min_item_words_alone:
        return []
    context_words = 0
    for text in (summary, ur_text, claims_guideline):
        context_words += meaningful_words(text, enough=rule.min_context_words - context_words)
        if context_words >= rule.min_context_words:
            return []
    return [
        "The item text is too short to judge without clinical context: "
        "add the case summary, or state the item with quantity, frequency and body part."
    ]
