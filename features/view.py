"""The pre-submission view: the one function that turns an item or a new request into model input.

Training (from the item table) and serving (from an API request) both call :func:`view` / :func:`view_frame`,
so a model can only ever see what an office knows *before* it submits: the disputed item, the clinical
summary (which legitimately quotes the utilization review's decision), the claims administrator's
guideline, and categories. Everything the independent reviewer wrote (rationale, reviewer guideline,
outcome wording) stays out; :func:`assert_no_leaks` is the last line of defence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features import dmhc_mapper, structured
from features.categories import CATEGORY_FIELDS, categorize
from features.schema import Item, Jurisdiction
from features.structured import CptCode, Icd10Codes, PriorSessions, Quantity, SideIn

TEXT_COLUMNS: Final[tuple[str, ...]] = ("item_text", "summary", "claims_guideline")
#: Columns of the model input frame, in order. Every logged model takes exactly these.
MODEL_INPUT_COLUMNS: Final[tuple[str, ...]] = ("jurisdiction", *TEXT_COLUMNS, *CATEGORY_FIELDS, "report_year")
CATEGORY_COLUMNS: Final[tuple[str, ...]] = CATEGORY_FIELDS
#: The category fields the DMHC mapper derives from the item text when a health-plan request names none.
_DMHC_MAPPED: Final[tuple[str, ...]] = tuple(c for c in CATEGORY_FIELDS if c.startswith(("treatment_", "diagnosis_")))


class PrescreenRequest(BaseModel):
    """One disputed item as an office knows it before submitting (the API and batch scoring input)."""

    model_config = ConfigDict(extra="forbid")

    jurisdiction: Jurisdiction = Field(description="dwc (workers' comp, MTUS) or dmhc (health plan)")
    item_text: str = Field(min_length=1, description="The disputed item/service, as requested")
    summary: str = Field(default="", description="Clinical case summary")
    ur_text: str = Field(default="", description="The utilization review decision text, if separate")
    claims_guideline: str = Field(default="", description="Guideline the claims administrator cited")
    treatment_category: str | None = None
    treatment_subcategory: str | None = None
    diagnosis_category: str | None = None
    diagnosis_subcategory: str | None = None
    review_type: str | None = None
    imr_type: str | None = None
    age_range: str | None = None
    gender: str | None = None
    report_year: int | None = None
    # The structured request (DWC Form RFA fields): rendered into the item text and summary by
    # ``features.structured.render``, never model columns of their own.
    cpt: CptCode | None = Field(default=None, description="CPT (97110, 97110-GP) or HCPCS Level II (J1100) code")
    icd10: Icd10Codes | None = Field(default=None, description="ICD-10-CM codes (in a CSV cell, separated by ';')")
    body_part: str | None = Field(default=None, description="Body part, e.g. lumbar spine")
    side: SideIn | None = Field(default=None, description="left, right or bilateral")
    quantity: Quantity | None = Field(default=None, description="Number of sessions, units or tablets requested")
    frequency: str | None = Field(default=None, description="e.g. 2 times a week")
    duration: str | None = Field(default=None, description="e.g. 6 weeks")
    prior_sessions: PriorSessions | None = Field(default=None, description="Sessions of this treatment already had")
    prior_outcome: str | None = Field(default=None, description="What the earlier treatment achieved")
    date_of_injury: dt.date | None = Field(default=None, description="ISO date of the injury")
    provider_specialty: str | None = Field(default=None, description="The requesting provider's specialty")


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
        return ""
    return " ".join(str(value).split())


def _category(value: object) -> str:
    text = _clean(value)
    return text if text else "unknown"


def view(record: Item | PrescreenRequest | Mapping[Any, Any]) -> dict[str, Any]:
    """Model input for one item or request: only pre-review fields, normalised."""
    data: Mapping[str, Any] = record.model_dump() if isinstance(record, Item | PrescreenRequest) else record
    item_text = _clean(data.get("item_text"))
    summary = _clean(data.get("summary"))
    ur_text = _clean(data.get("ur_text"))
    if ur_text:
        summary = f"{summary} {ur_text}".strip()
    jurisdiction = _clean(data.get("jurisdiction")).lower()
    treatment_category = _clean(data.get("treatment_category"))
    if not treatment_category and jurisdiction == "dwc":
        # DWC letters carry no category: derive it from the item text, the same way for training and serving.
        treatment_category = categorize(item_text)
    if structured.has_structured(data):
        # The item's own words decide its category, so the appended sentences cannot move it.
        own = treatment_category if jurisdiction == "dwc" else categorize(item_text)
        item_text, summary = structured.render(data, item_text, summary, own)
    year = data.get("report_year")
    out: dict[str, Any] = {
        "jurisdiction": jurisdiction,
        "item_text": item_text,
        "summary": summary,
        "claims_guideline": _clean(data.get("claims_guideline")),
        "treatment_category": _category(treatment_category),
        "report_year": int(year) if year is not None and year == year and str(year).strip() else -1,
    }
    for column in CATEGORY_COLUMNS:
        if column not in out:
            out[column] = _category(data.get(column))
    if jurisdiction == "dmhc" and all(out[c] == "unknown" for c in _DMHC_MAPPED):
        # A health-plan request that names no category: the DMHC models read categories only, so take them from
        # the request's words (training rows always carry their own, so their view is unchanged).
        mapped = dmhc_mapper.map_categories(item_text, summary)
        out.update({c: _category(getattr(mapped, c)) for c in _DMHC_MAPPED})
    return {column: out[column] for column in MODEL_INPUT_COLUMNS}


def view_frame(records: pd.DataFrame | Iterable[Item | PrescreenRequest | Mapping[Any, Any]]) -> pd.DataFrame:
    """Model input for many records (an item table, or requests), in the same order."""
    rows: Iterable[Mapping[Any, Any] | Item | PrescreenRequest]
    rows = records.to_dict(orient="records") if isinstance(records, pd.DataFrame) else records
    frame = pd.DataFrame([view(r) for r in rows], columns=list(MODEL_INPUT_COLUMNS))
    frame["report_year"] = frame["report_year"].astype("int64")
    return frame


def model_text(row: Mapping[str, Any]) -> str:
    """The single text a text model reads: item first (it matters most), then guideline, then summary."""
    return (
        f"item: {row.get('item_text', '')} . category: {row.get('treatment_category', '')} . "
        f"guideline: {row.get('claims_guideline', '')} . summary: {row.get('summary', '')}"
    )


# Wording that only the independent reviewer writes. The summary may quote the *utilization review*
# ("utilization review determined the MRI was not medically necessary"): that is known before the review and
# deliberately does not match, because these patterns need the reviewer's own concluding shapes.
LEAK_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "final result": re.compile(r"\bfinal result\b", re.IGNORECASE),
    "should be upheld/overturned": re.compile(
        r"\b(?:denial|decision|determination)\s+(?:should|must)\s+be\s+(?:upheld|overturned|reversed)\b",
        re.IGNORECASE,
    ),
    "reviewer's concluding sentence": re.compile(
        r"\btherefore,?\s+(?:the\s+)?(?:request(?:ed)?|this request)\b[^.]{0,300}?\bis\s+"
        r"(?:determined to be\s+|deemed\s+|found to be\s+|considered\s+)?(?:not\s+)?medically\s+necessary",
        re.IGNORECASE,
    ),
    "maximus determination": re.compile(r"\bmaximus federal services,?\s+inc\.?\s+has\s+determined\b", re.IGNORECASE),
    "letter section heading": re.compile(
        r"\b(?:decision rationale|rationale for the decision|maximus guideline)\s*:", re.IGNORECASE
    ),
    "physician reviewer finding": re.compile(r"\bthe physician reviewer found\b", re.IGNORECASE),
}


class LeakError(ValueError):
    """Model input contains wording only the independent reviewer writes."""


def find_leaks(frame: pd.DataFrame, columns: Iterable[str] = TEXT_COLUMNS) -> list[tuple[int, str, str]]:
    """(row position, column, pattern name) for every text cell that carries reviewer outcome wording."""
    hits: list[tuple[int, str, str]] = []
    for column in columns:
        if column not in frame.columns:
            continue
        for position, value in enumerate(frame[column].tolist()):
            text = _clean(value)
            if not text:
                continue
            hits.extend((position, column, name) for name, p in LEAK_PATTERNS.items() if p.search(text))
    return hits


def assert_no_leaks(frame: pd.DataFrame, ids: list[str] | None = None) -> None:
    """Raise LeakError naming the rows (never their text) when reviewer wording reached model input."""
    hits = find_leaks(frame)
    if hits:
        shown = [
            f"{ids[pos] if ids is not None else f'row {pos}'} [{column}]: {name}" for pos, column, name in hits[:20]
        ]
        raise LeakError(
            f"{len(hits)} model-input cell(s) carry reviewer outcome wording (first: {'; '.join(shown)}). "
            "Only pre-review text may reach the model: fix the parser or loader that produced them."
        )
