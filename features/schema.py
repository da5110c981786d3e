"""The Item record: one disputed item of one IMR determination, from any source.

Fields are split by *who knew them when*. ``PRE_REVIEW_FIELDS`` were known before the independent
reviewer looked at the case and may reach a model (through ``features.view`` only).
``REVIEWER_FIELDS`` were written by the reviewer or are only known after the decision: they are kept
for training signal, evaluation and explanation, and must never reach model input.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = "1"

Jurisdiction = Literal["dwc", "dmhc"]
JURISDICTIONS: tuple[Jurisdiction, ...] = ("dwc", "dmhc")

Determination = Literal["Upheld", "Overturned"]
#: Label mapping saved with every model: 1 means the denial was upheld.
LABELS: dict[Determination, int] = {"Upheld": 1, "Overturned": 0}
LABEL_NAMES: dict[int, Determination] = {v: k for k, v in LABELS.items()}


class Item(BaseModel):
    """One disputed item/service and its IMR outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # identity
    item_id: str = Field(min_length=1, description="case_id#index, unique in a dataset")
    case_id: str = Field(min_length=1, description="Case number; one letter or DMHC row = one case")
    item_index: int = Field(ge=0, description="Position of the item within its case (0-based)")
    jurisdiction: Jurisdiction
    source: str = Field(min_length=1, description="File name the record came from (no directory)")

    # outcome (the label)
    determination: Determination

    # known before the review
    item_text: str = Field(min_length=1, description="The disputed item/service as requested")
    summary: str = Field(default="", description="Clinical case summary (includes the UR decision)")
    claims_guideline: str | None = Field(default=None, description="Claims administrator's guideline")
    date_assigned: dt.date | None = None
    injury_date: dt.date | None = None
    ur_date: dt.date | None = None
    treatment_category: str | None = None
    treatment_subcategory: str | None = None
    diagnosis_category: str | None = None
    diagnosis_subcategory: str | None = None
    review_type: str | None = Field(default=None, description="Medical Necessity, Experimental/...")
    imr_type: str | None = Field(default=None, description="Standard / Expedited")
    age_range: str | None = None
    gender: str | None = None
    report_year: int | None = Field(default=None, ge=1990, le=2100)

    # written by the reviewer or known only after the decision: never model input
    decision_date: dt.date | None = Field(default=None, description="Used for temporal splits only")
    modification: str | None = Field(default=None, description="Partial certification / modified wording")
    reviewer_guideline: str | None = None
    rationale: str | None = None
    reviewer_specialty: str | None = None
    days_to_review: int | None = None
    days_to_adopt: int | None = None

    @field_validator("item_text", "summary", "case_id", "item_id", "source")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @property
    def label(self) -> int:
        """1 when the denial was upheld, 0 when overturned."""
        return LABELS[self.determination]


REVIEWER_FIELDS: frozenset[str] = frozenset(
    {
        "decision_date",
        "modification",
        "reviewer_guideline",
        "rationale",
        "reviewer_specialty",
        "days_to_review",
        "days_to_adopt",
    }
)
IDENTITY_FIELDS: frozenset[str] = frozenset({"item_id", "case_id", "item_index", "source", "determination"})
PRE_REVIEW_FIELDS: frozenset[str] = frozenset(Item.model_fields) - REVIEWER_FIELDS - IDENTITY_FIELDS
COLUMNS: tuple[str, ...] = tuple(Item.model_fields)


class RecordError(Exception):
    """A source record that cannot become an Item: carries where it came from and why."""

    def __init__(self, source: str, reason: str, locator: str = "") -> None:
        self.source = source
        self.reason = reason
        self.locator = locator
        where = f"{source}:{locator}" if locator else source
        super().__init__(f"{where}: {reason}")

    def as_reject(self) -> dict[str, str]:
        """The row written to the rejects report."""
        return {"source": self.source, "locator": self.locator, "reason": self.reason}
