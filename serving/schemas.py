"""Request and response models of the API (they also make the OpenAPI schema and its examples).

The request is case-shaped (one summary, 1..N disputed items), as an office fills in the page; each item becomes one
``features.view.PrescreenRequest`` for the model. Responses are built as plain dicts on the hot path (see
``serving.scoring``); these models document them and the tests check responses against them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from features.schema import Determination, Jurisdiction
from features.structured import PriorSessions, Quantity, SideIn, cpt_code, icd10_code, icd10_list
from serving.policy import Band

EXAMPLE_CASE: dict[str, Any] = {
    "jurisdiction": "dwc",
    "summary": (
        "The patient is a 52-year-old warehouse worker with chronic low back pain after a lifting injury. "
        "Examination shows reduced lumbar flexion. Six prior physical therapy sessions improved walking tolerance."
    ),
    "ur_text": "Utilization review denied the request because the number of sessions was not stated.",
    "claims_guideline": "MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine",
    "items": [
        {"item_text": "Physical therapy lumbar spine, 2 times a week for 6 weeks"},
        {"item_text": "Compounded topical cream (flurbiprofen/cyclobenzaprine)"},
    ],
}

#: One item of a ``/v1/prescreen`` answer, for the OpenAPI examples (the checklist is what the checklist gives for
#: the first item of EXAMPLE_CASE, shortened; the similar determination is invented).
EXAMPLE_ITEM_RESULT: dict[str, Any] = {
    "index": 0,
    "p_upheld": 0.38,
    "p_low": 0.25,
    "p_high": 0.52,
    "prior": 0.91,
    "base_rate": 0.89,
    "p_all_fixed": 0.33,
    "label": None,
    "band": "uncertain",
    "band_label": "Uncertain",
    "reasons": [
        {
            "code": "exceeds_guideline_visits",
            "label": "Exceeds the guideline's number of visits",
            "probability": 0.41,
            "source": "model",
            "checks": ["visits_within_guideline"],
        }
    ],
    "missing_information": [],
    "checklist": [
        {
            "code": "quantity_stated",
            "title": "Number, frequency and duration stated",
            "status": "passed",
            "evidence": "2 times a week for 6 weeks",
            "evidence_in": "item_text",
            "advice": "State the total number of sessions or the frequency and duration (e.g. '2 times a week for 6 "
            "weeks'); for a medication the quantity (e.g. '#60'); for supplies or rentals the amount or rental period.",
            "note": None,
            "reason_code": "quantity_unspecified",
        },
        {
            "code": "visits_within_guideline",
            "title": "Number of visits within the guideline's allowance",
            "status": "missing",
            "evidence": None,
            "evidence_in": None,
            "advice": "Keep the request within the guideline's initial trial (e.g. 6 chiropractic or acupuncture "
            "visits, 10 physical therapy visits), or document the exceptional factors that justify more.",
            "note": "12 requested + 6 already had or authorized = 18; the guideline allows about 10",
            "reason_code": "exceeds_guideline_visits",
        },
    ],
    "top_terms": [
        {"feature": "item: 6 weeks", "label": "item: 6 weeks", "weight": -0.21, "toward": "overturned"},
        {"feature": "summary: improved", "label": "summary: improved", "weight": -0.12, "toward": "overturned"},
    ],
    "similar": [
        {
            "item_id": "CM16-0000001#0",
            "case_id": "CM16-0000001",
            "item_text": "Physical therapy to the lumbar spine 2 times a week for 4 weeks",
            "determination": "Overturned",
            "decision_date": "2016-05-12",
            "report_year": 2016,
            "treatment_category": "Physical / occupational therapy",
            "rationale_excerpt": "The MTUS allows 9-10 visits over 8 weeks for myalgia; 8 visits are within it.",
            "reviewer_guideline": "MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine",
            "similarity": 0.61,
        }
    ],
}


#: The reason given for text that is not valid Unicode (the batch route finds it by this start).
INVALID_TEXT_REASON = "is not valid Unicode text: it holds an unpaired surrogate"


def valid_code_points(value: str) -> str:
    """Refuse a string that UTF-8 cannot encode: a lone surrogate (``"\\ud800"`` in JSON) would fail deep inside
    the model (a 500) instead of here (a 422 that names the field). Everything else is a valid code point."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{INVALID_TEXT_REASON} (at character {exc.start})") from None
    return value


#: A text field of a request: any string of valid Unicode scalar values.
Text = Annotated[str, AfterValidator(valid_code_points)]
#: A structured field's text (a body part, a frequency): short, so a pasted note goes where notes belong.
ShortText = Annotated[str, AfterValidator(valid_code_points), Field(max_length=200)]
LongText = Annotated[str, AfterValidator(valid_code_points), Field(max_length=5000)]
# Codes are checked for valid Unicode first, so a lone surrogate gets the same reason as in any other text field.
CptCode = Annotated[str, AfterValidator(valid_code_points), AfterValidator(cpt_code)]
Icd10Codes = Annotated[
    list[Annotated[str, AfterValidator(valid_code_points), AfterValidator(icd10_code)]],
    BeforeValidator(icd10_list),
    Field(max_length=12),
]


class ErrorDetail(BaseModel):
    """One problem with a request: where, and why (never the submitted value)."""

    field: str = Field(description="Where the problem is, e.g. items[0].item_text, body, file, X-API-Key")
    reason: str = Field(description="What is wrong, in words")


class ErrorResponse(BaseModel):
    """The one shape of every 4xx (and of the 5xx that should never happen)."""

    errors: list[ErrorDetail]
    request_id: str | None = None


class ItemIn(BaseModel):
    """One disputed item or service."""

    model_config = ConfigDict(extra="forbid")

    item_text: Text = Field(description="The disputed item/service as requested", examples=["MRI of the lumbar spine"])
    claims_guideline: Text | None = Field(default=None, description="Guideline for this item, if not the case's")
    treatment_category: Text | None = Field(default=None, description="Optional; derived from the text if absent")
    treatment_subcategory: Text | None = None
    # The structured request (DWC Form RFA fields); features.structured renders them into sentences the checks read.
    cpt: CptCode | None = Field(
        default=None, description="CPT (5 digits, optional modifier: 97110, 97110-GP) or HCPCS Level II (J1100)"
    )
    icd10: Icd10Codes | None = Field(
        default=None, description="ICD-10-CM codes, e.g. M54.5 and S39.012A (in a CSV cell, separated by semicolons)"
    )
    body_part: ShortText | None = Field(default=None, description="Body part, e.g. lumbar spine")
    side: SideIn | None = Field(default=None, description="left, right or bilateral")
    quantity: Quantity | None = Field(default=None, description="Number of sessions, units or tablets requested")
    frequency: ShortText | None = Field(default=None, description="e.g. 2 times a week")
    duration: ShortText | None = Field(default=None, description="e.g. 6 weeks")
    prior_sessions: PriorSessions | None = Field(default=None, description="Sessions of this treatment already had")
    prior_outcome: LongText | None = Field(default=None, description="What the earlier treatment achieved")

    @field_validator("item_text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class PrescreenIn(BaseModel):
    """One case: the clinical summary, the UR decision and guideline, and 1..N disputed items."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CASE]})

    jurisdiction: Jurisdiction = Field(description="dwc (workers' comp, MTUS) or dmhc (health plan)")
    summary: Text = Field(default="", description="Clinical case summary")
    ur_text: Text = Field(default="", description="The utilization review decision text, if any")
    claims_guideline: Text = Field(default="", description="Guideline the claims administrator cited")
    items: list[ItemIn] = Field(min_length=1, description="The disputed items (1..max_items)")
    diagnosis_category: Text | None = None
    diagnosis_subcategory: Text | None = None
    review_type: Text | None = Field(default=None, description="e.g. Medical Necessity")
    imr_type: Text | None = Field(default=None, description="Standard or Expedited")
    age_range: Text | None = None
    gender: Text | None = None
    report_year: int | None = Field(default=None, ge=1990, le=2100)
    # The IMR application (per case; in a batch CSV repeated on each row of the case).
    date_of_injury: dt.date | None = Field(default=None, description="ISO date of the injury")
    ur_decision_date: dt.date | None = Field(
        default=None, description="ISO date of the UR decision: the answer gives the filing deadline (+30 days)"
    )
    expedited: bool | None = Field(default=None, description="Expedited review (sets imr_type when it is not given)")
    provider_specialty: ShortText | None = Field(default=None, description="The requesting provider's specialty")
    claim_number: Annotated[str, AfterValidator(valid_code_points), Field(max_length=64)] | None = Field(
        default=None, description="The claim number: echoed in the answer and report only, never logged or modelled"
    )
    case_id: Annotated[str, AfterValidator(valid_code_points), Field(max_length=128)] | None = Field(
        default=None, description="Batch rows with the same case_id are one case"
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.date_of_injury and self.ur_decision_date and self.date_of_injury > self.ur_decision_date:
            raise ValueError("date_of_injury must not be after ur_decision_date")
        return self


class Reason(BaseModel):
    """A likely reason the reviewer would give, in words an office understands."""

    code: str = Field(description="Reason code of the taxonomy mined from reviewers' rationales")
    label: str = Field(description="The reason in plain words")
    probability: float | None = Field(default=None, description="The model's probability (null: from the checklist)")
    source: Literal["model", "checklist"] = Field(
        default="model", description="model: the model's reason head; checklist: a failed documentation check"
    )
    checks: list[str] = Field(
        default_factory=list, description="Codes of the failed checks that give this reason (they confirm a model one)"
    )
    answered_by: list[str] = Field(
        default_factory=list,
        description="Codes of the passed checks that answer this reason (the request already documents it)",
    )


class CheckOut(BaseModel):
    """One documentation check that applies to the item (checks that do not apply are left out)."""

    code: str
    title: str = Field(description="What the check looks for")
    status: Literal["passed", "missing"]
    evidence: str | None = Field(
        default=None, description="The request's words the result rests on (passed: what satisfies it)"
    )
    evidence_in: Literal["item_text", "summary", "claims_guideline"] | None = Field(
        default=None, description="Which field of the request holds the evidence"
    )
    advice: str = Field(description="What to add or change when the check is missing")
    note: str | None = Field(default=None, description="A computed detail, e.g. visits requested vs the guideline's")
    reason_code: str = Field(description="The reviewer reason this check answers")


class TopTerm(BaseModel):
    """A term or feature that moved the model's probability (its own attribution)."""

    feature: str = Field(description="The model's name for it")
    label: str = Field(description="The same, readable")
    weight: float = Field(description="Contribution: positive toward upheld, negative toward overturned")
    toward: Literal["upheld", "overturned"]


class Fix(BaseModel):
    """One thing to add before filing, with the estimate after it (never above the item's own)."""

    check: str = Field(description="The checklist entry the fix satisfies")
    title: str = Field(description="What the check looks for")
    advice: str = Field(description="What to do, in a sentence")
    detail: str = Field(default="", description="Examples of wording that satisfies it")
    p_after: float = Field(description="P(upheld) with this fix alone (at most the item's p_upheld)")
    effect: float = Field(description="p_after - p_upheld (0 or negative)")
    changes_estimate: bool = Field(
        description="False when the served model does not read this fact (it is advice reviewers cite, "
        "not a term of the estimate)"
    )


class Attribution(BaseModel):
    """What moved the estimate, in an office's words."""

    check: str | None = Field(default=None, description="The checklist entry, when it is one")
    statement: str = Field(description="The documented fact (or its absence), in words")
    direction: Literal["lowers", "raises"] = Field(description="Its effect on the risk that the denial is upheld")
    effect: float | None = Field(default=None, description="Change of P(upheld) it accounts for (signed)")


class SimilarDetermination(BaseModel):
    """A similar past IMR determination (public decision data, not this request)."""

    item_id: str | None = None
    case_id: str | None = Field(default=None, description="IMR case number")
    item_text: str = Field(description="The disputed item of that case")
    determination: Determination = Field(description="Its outcome")
    decision_date: str | None = Field(default=None, description="ISO date of the decision")
    report_year: int | None = None
    treatment_category: str | None = None
    rationale_excerpt: str | None = Field(default=None, description="The start of the reviewer's rationale")
    reviewer_guideline: str | None = Field(default=None, description="The guideline the reviewer cited")
    similarity: float | None = Field(default=None, description="Cosine similarity to the request (0..1)")


class ModelRef(BaseModel):
    """Which model answered."""

    jurisdiction: Jurisdiction
    name: str
    version: str
    source: Literal["registry", "local_cache"]


class ItemResult(BaseModel):
    """The pre-screen of one disputed item."""

    index: int = Field(description="Position of the item in the request")
    p_upheld: float | None = Field(description="Probability that the denial is upheld (null when not scored)")
    p_low: float | None = Field(default=None, description="Lower end of the estimate's 95 % interval")
    p_high: float | None = Field(default=None, description="Upper end of the estimate's 95 % interval")
    prior: float | None = Field(
        default=None, description="Upheld rate of the item's treatment category (letters shrunk toward published)"
    )
    base_rate: float | None = Field(default=None, description="The base rate the estimate is calibrated to")
    p_all_fixed: float | None = Field(default=None, description="P(upheld) with every fix followed")
    label: Determination | None = Field(
        default=None,
        description="The band's verdict: Upheld for likely_upheld, Overturned for likely_overturned, else null",
    )
    band: Band = Field(description="The verdict (thresholds in GET /v1/models); insufficient_information: no verdict")
    band_label: str
    reasons: list[Reason] = Field(
        description="Likely reasons: the model's (most likely first), then those of failed checks"
    )
    missing_information: list[str] = Field(description="What to add before the item can be judged")
    checklist: list[CheckOut] = Field(default_factory=list, description="Documentation checklist (applicable checks)")
    top_terms: list[TopTerm] = Field(
        default_factory=list, description="What moved the probability (empty when the model gives none)"
    )
    similar: list[SimilarDetermination] = Field(
        default_factory=list, description="Most similar past determinations, best first (empty when none)"
    )
    fixes: list[Fix] = Field(default_factory=list, description="What to add before filing, biggest effect first")
    attributions: list[Attribution] = Field(
        default_factory=list, description="What moved the estimate, in words (largest first)"
    )


class PrescreenOut(BaseModel):
    """Per-item results of one case, and the model that answered."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99",
                    "model": {"jurisdiction": "dwc", "name": "imr-dwc", "version": "3", "source": "registry"},
                    "items": [EXAMPLE_ITEM_RESULT],
                }
            ]
        }
    )

    request_id: str
    model: ModelRef
    items: list[ItemResult]
    claim_number: str | None = Field(default=None, description="The request's claim number, echoed")
    filing_deadline: str | None = Field(
        default=None, description="Last day to apply for IMR (ISO): the UR decision date + 30 days"
    )
    days_left: int | None = Field(default=None, description="Days from today to the filing deadline (negative: past)")


class BatchRowResult(BaseModel):
    """One row of a batch: a result, or what was wrong with that row."""

    index: int = Field(description="Position in the JSON array, or the CSV data row (0-based)")
    ok: bool
    result: PrescreenOut | None = None
    errors: list[ErrorDetail] = Field(default_factory=list)


class BatchOut(BaseModel):
    """Batch results, in the order of the input."""

    request_id: str
    count: int
    failed: int
    results: list[BatchRowResult]


class LetterItemResult(BaseModel):
    """One item parsed from a letter: the prediction, and the outcome the letter states."""

    item_text: str
    actual: Determination | None
    prediction: ItemResult
    agrees: bool | None = Field(description="Whether the more likely outcome matches the letter's")


class LetterOut(BaseModel):
    """A determination letter, parsed and pre-screened item by item."""

    request_id: str
    source: str
    case_id: str | None
    jurisdiction: Jurisdiction
    model: ModelRef
    items: list[LetterItemResult]


class MetricValue(BaseModel):
    """A metric with its 95 % interval when the run logged one."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None


class ModelInfo(BaseModel):
    """One jurisdiction's champion, as served."""

    jurisdiction: Jurisdiction
    name: str
    alias: str
    loaded: bool
    version: str | None = None
    source: Literal["registry", "local_cache"] | None = None
    run_id: str | None = None
    data_digest: str | None = None
    git_commit: str | None = None
    trained_at: str | None = None
    loaded_at: str | None = None
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    plots: dict[str, str] = Field(default_factory=dict, description="Plot name -> URL")
    registry_ok: bool | None = None
    registry_error: str | None = None
    last_check_at: str | None = None
    last_error: str | None = Field(default=None, description="The last new version that failed to load")
    last_error_at: str | None = None


class Bands(BaseModel):
    """The one decision rule: p(upheld) at or above upheld_min is likely upheld, at or below overturned_max likely
    overturned, between them uncertain (every label, letter agreement and batch verdict derives from it)."""

    upheld_min: float
    overturned_max: float


class ModelsOut(BaseModel):
    """Every configured jurisdiction's champion, and the band thresholds."""

    models: list[ModelInfo]
    bands: Bands | None = None


class ReloadOut(BaseModel):
    """What a reload did, per jurisdiction."""

    results: dict[str, Literal["unchanged", "loaded", "failed"]]
    models: list[ModelInfo]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether every jurisdiction has a champion, and where each came from."""

    ready: bool
    models: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per jurisdiction (only for a caller with a key when the server has one)"
    )


class PageConfig(BaseModel):
    """What the page needs to know before its first call."""

    auth_required: bool
    jurisdictions: list[Jurisdiction]
    max_items: int
    max_text_bytes: int
    max_upload_bytes: int
    band_upheld_min: float
    band_overturned_max: float
    dmhc_categories: dict[str, list[str]] = Field(
        default_factory=dict,
        description="The fields a health-plan (DMHC) model reads and their values (treatment_category, "
        "diagnosis_category, age_range, gender, imr_type), spelled as in the DMHC data",
    )
