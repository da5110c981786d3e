"""The structured request (DWC Form RFA fields): code formats, and the canonical sentences the model reads.

The champion reads text through its documentation checks (``features.checklist``, pickled into the model) and
word indicators, and it is monotone in documented text: adding words can only lower or keep P(upheld). So the
structured fields are not new model columns: :func:`render` turns them into sentences the existing checks already
recognise ("Requested: 12 sessions, 2 times a week for 6 weeks.", "Body part: lumbar spine, left.") and
``features.view`` appends them to the item text or the summary. A registered model therefore reads them without
retraining, and a structured field can never raise its estimate.

Codes are validated by format only (no licensed code list ships with the project): CPT is 5 digits with an optional
2-character modifier, HCPCS Level II a letter A-V and 4 digits, ICD-10-CM a letter, a digit, an alphanumeric, then
optionally "." and 1-4 alphanumerics.

The claim number is not a field here: it identifies a person's claim, so it stays out of model input (and logs).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from features.categories import categorize

Side = Literal["left", "right", "bilateral"]

#: The per-item structured fields (API items, ``PrescreenRequest``, batch CSV columns), in rendering order.
ITEM_FIELDS: Final[tuple[str, ...]] = (
    "cpt",
    "icd10",
    "body_part",
    "side",
    "quantity",
    "frequency",
    "duration",
    "prior_sessions",
    "prior_outcome",
)
#: The per-case structured fields that reach the model (as summary sentences).
CASE_FIELDS: Final[tuple[str, ...]] = ("date_of_injury", "provider_specialty")
#: Every structured field the view reads.
FIELDS: Final[tuple[str, ...]] = ITEM_FIELDS + CASE_FIELDS

_CPT: Final = re.compile(r"\d{5}(?:[- ]?[A-Z0-9]{2})?")
_HCPCS: Final = re.compile(r"[A-V]\d{4}(?:[- ]?[A-Z0-9]{2})?")
_ICD10: Final = re.compile(r"[A-Z]\d[A-Z0-9](?:\.?[A-Z0-9]{1,4})?")
#: Separator of several ICD-10 codes in one CSV cell.
ICD10_SEPARATOR: Final = ";"
#: Days from the UR decision to the last day an IMR application can be filed (Labor Code 4610.5(h)).
FILING_DAYS: Final = 30

# What "N" counts for an item, by the kind of item its category is (the checks read "12 sessions" for a therapy
# and "Quantity: 60" for anything else).
_THERAPY_NOUNS: Final[dict[str, str]] = {
    "Physical / occupational therapy": "physical therapy",
    "Chiropractic / manipulation": "chiropractic",
    "Acupuncture": "acupuncture",
    "Physical modalities": "physical therapy",
    "Psychological care": "psychotherapy",
    "Functional restoration / programs": "functional restoration",
}
_LEADING_REQUEST: Final = re.compile(r"^(?:request(?:ed|s)?|rfa)\b\W*(?:for\b\W*)?", re.IGNORECASE)


def cpt_code(value: str) -> str:
    """A CPT (5 digits, optional modifier) or HCPCS Level II (A-V and 4 digits) code, upper-cased; else ValueError."""
    code = value.strip().upper()
    if _CPT.fullmatch(code) or _HCPCS.fullmatch(code):
        return code
    raise ValueError(
        "must be a CPT code (5 digits, optionally a 2-character modifier, e.g. 97110 or 97110-GP) or a HCPCS Level "
        "II code (a letter A-V and 4 digits, e.g. J1100)"
    )


def icd10_code(value: str) -> str:
    """An ICD-10-CM code by format, upper-cased (e.g. M54.5, S39.012A); else ValueError."""
    code = value.strip().upper()
    if _ICD10.fullmatch(code):
        return code
    raise ValueError(
        "must be an ICD-10-CM code: a letter, a digit, a letter or digit, then optionally '.' and 1-4 letters or "
        "digits (e.g. M54.5, S39.012A)"
    )


def icd10_list(value: Any) -> Any:
    """A list of ICD-10 codes from a list, or from one string separated by ';' (a CSV cell); blanks dropped."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(ICD10_SEPARATOR)]
        return [p for p in parts if p] or None
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


#: Field types shared by ``features.view.PrescreenRequest`` and the API schema (``serving.schemas``).
CptCode = Annotated[str, AfterValidator(cpt_code)]
Icd10Code = Annotated[str, AfterValidator(icd10_code)]
Icd10Codes = Annotated[list[Icd10Code], BeforeValidator(icd10_list), Field(max_length=12)]
SideIn = Annotated[Side, BeforeValidator(_lower)]
Quantity = Annotated[int, Field(ge=1, le=10_000)]
PriorSessions = Annotated[int, Field(ge=0, le=10_000)]


def filing_deadline(ur_decision_date: dt.date) -> dt.date:
    """The last day to apply for IMR: the UR decision date + 30 days."""
    return ur_decision_date + dt.timedelta(days=FILING_DAYS)


def deadline_fields(ur_decision_date: dt.date | None, today: dt.date | None = None) -> dict[str, Any]:
    """``filing_deadline`` (ISO) and ``days_left`` (negative once it has passed); both None without a UR date."""
    if ur_decision_date is None:
        return {"filing_deadline": None, "days_left": None}
    deadline = filing_deadline(ur_decision_date)
    return {"filing_deadline": deadline.isoformat(), "days_left": (deadline - (today or dt.date.today())).days}


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(str(value).split()).strip(" .;")


def _count(value: Any) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _codes(value: Any) -> list[str]:
    listed = icd10_list(value)
    if listed is None or isinstance(listed, float) or len(listed) == 0:  # None, NaN from pandas, empty
        return []
    return [c for c in (_text(v).upper() for v in listed) if c]


def _treatment_noun(item_text: str, category: str) -> str:
    """What the prior sessions were of: the therapy's usual name, else the item's own first clause."""
    noun = _THERAPY_NOUNS.get(category)
    if noun:
        return noun
    first = re.split(r"[.;]", _LEADING_REQUEST.sub("", item_text), maxsplit=1)[0].strip()
    return first[:60] if first else "this treatment"


def _quantity_sentence(data: Mapping[str, Any], category: str) -> str:
    quantity = _count(data.get("quantity"))
    how = " for ".join(p for p in (_text(data.get("frequency")), _text(data.get("duration"))) if p)
    if quantity is None:
        return f"Requested: {how}." if how else ""
    counted = f"{quantity} sessions" if category in _THERAPY_NOUNS else f"Quantity: {quantity}"
    return f"Requested: {counted}, {how}." if how else f"Requested: {counted}."


def _item_sentences(data: Mapping[str, Any], category: str) -> list[str]:
    out: list[str] = []
    cpt = _text(data.get("cpt")).upper()
    if cpt:
        out.append(f"{'CPT' if cpt[0].isdigit() else 'HCPCS'} {cpt}.")
    codes = _codes(data.get("icd10"))
    if codes:
        out.append(f"ICD-10 {', '.join(codes)}.")
    body_part, side = _text(data.get("body_part")), _text(data.get("side")).lower()
    if body_part:
        out.append(f"Body part: {body_part}, {side}." if side else f"Body part: {body_part}.")
    elif side:
        out.append(f"Side: {side}.")
    quantity = _quantity_sentence(data, category)
    if quantity:
        out.append(quantity)
    return out


def _summary_sentences(data: Mapping[str, Any], item_text: str, category: str) -> list[str]:
    out: list[str] = []
    injured = _text(data.get("date_of_injury"))
    if injured:
        out.append(f"Date of injury: {injured}.")
    specialty = _text(data.get("provider_specialty"))
    if specialty:
        out.append(f"Requesting provider specialty: {specialty}.")
    sessions, outcome = _count(data.get("prior_sessions")), _text(data.get("prior_outcome"))
    noun = _treatment_noun(item_text, category)
    if sessions is not None and outcome:
        out.append(f"Prior treatment: {sessions} prior sessions of {noun}; outcome: {outcome}.")
    elif sessions is not None:
        out.append(f"Prior treatment: {sessions} prior sessions of {noun}.")
    elif outcome:
        out.append(f"Prior treatment with {noun}; outcome: {outcome}.")
    return out


def _joined(text: str, sentences: list[str]) -> str:
    """``text`` with ``sentences`` appended after a full stop (only appended: what was there stays as it was)."""
    if not sentences:
        return text
    head = text.rstrip()
    if head and not head.endswith((".", ";", ":")):
        head += "."
    return " ".join([head, *sentences]).strip()


def has_structured(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` carries any structured field with a value."""
    return any(_text(data.get(name)) for name in FIELDS if name != "icd10") or bool(_codes(data.get("icd10")))


def render(data: Mapping[str, Any], item_text: str, summary: str, category: str | None = None) -> tuple[str, str]:
    """The item text and summary with the structured fields of ``data`` appended as canonical sentences.

    ``category`` is the item's treatment category as derived from its own text (derived here when None): the
    sentences depend on it, and appending them must not change it. Without structured fields both come back as
    they are, so every item of the training table has the view it always had.
    """
    if not has_structured(data):
        return item_text, summary
    kind = category if category is not None else categorize(item_text)
    return (
        _joined(item_text, _item_sentences(data, kind)),
        _joined(summary, _summary_sentences(data, item_text, kind)),
    )
