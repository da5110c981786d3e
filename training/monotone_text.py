"""The text the coherent estimate's word indicators read: the request, masked and without template phrases.

One home for it, because the compiled inference form (:mod:`features.compiled`) replays the same substitutions
from the patterns stored with the model (:func:`mask_steps`), and the model checks at export that both agree.
"""

from __future__ import annotations

import functools
import re

from training.candidates import mask_text

# Phrases of the DWC letters' summary templates: the reviewer wrote the summary, and these say who wrote it, not
# what the office documented ("The injured worker is a 45 year old ... who sustained an industrial injury on").
_TEMPLATES = re.compile(
    r"\b(?:this case involves|who sustained an? (?:industrial|work[- ]related|occupational)? ?injur\w*(?: on)?|"
    r"sustained an? (?:industrial|work[- ]related|occupational)? ?injur\w*|date of injury|"
    r"(?:is|was) an? (?:xage )?(?:male|female|man|woman|gentleman|lady)\b|xperson|xage|xdate|xname|xnum|"
    r"male|female|he|she|his|her|him)\b",
    re.IGNORECASE,
)
MAX_TEXT_CHARS = 40_000


@functools.lru_cache(maxsize=8192)  # cross-validation featurises the same few hundred requests many times
def request_text(item: str, guideline: str, summary: str) -> str:
    """The text the word indicators read: item, guideline and summary, masked and without template phrases."""
    text = f"{item[:2000]} . {guideline[:2000]} . {summary[:MAX_TEXT_CHARS]}"
    return _TEMPLATES.sub(" ", mask_text(text))


def mask_steps() -> list[tuple[re.Pattern[str], str]]:
    """:func:`request_text`'s substitutions in order (``mask_text``'s, then the templates), for the compiled form."""
    from training.candidates import base

    return [
        (base._DATE, " xdate "),
        (base._AGE, " xage "),
        (base._TITLED_NAME, " xname "),
        (base._PERSON, " xperson "),
        (base._DIGITS, " xnum "),
        (_TEMPLATES, " "),
    ]
