"""From validated requests to per-item results: limits, the pre-submission request per item, policy, the model,
explanations.

Kept apart from the routes so the single, batch and letter paths share it. Every item gets its documentation
checklist and reasons (thin items too: they say what to add); scored items also get the model's top terms and
similar past determinations (``serving.explain``). ``explain=False`` skips all of that for bulk scoring.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from features import dmhc_wording, structured
from features.categories import CATEGORY_FIELDS
from features.view import PrescreenRequest
from serving import explain as ex
from serving.champions import Champion
from serving.errors import ErrorItem, is_field_name, validation_errors
from serving.models import Prediction
from serving.policy import (
    BAND_LABELS,
    BandThresholds,
    InformationRule,
    band_for,
    missing_information,
    verdict_label,
)
from serving.schemas import PrescreenIn
from serving.settings import Settings

#: Keys of every record given to the model: the fields of ``features.view.PrescreenRequest``, in order.
REQUEST_FIELDS: tuple[str, ...] = tuple(PrescreenRequest.model_fields)
#: The treatment's categories belong to each item, every other category field to the case.
_ITEM_FIELDS = (*(c for c in CATEGORY_FIELDS if c.startswith("treatment_")), *structured.ITEM_FIELDS)
_CASE_FIELDS = tuple(c for c in CATEGORY_FIELDS if not c.startswith("treatment_"))
_TEXT_FIELDS = ("summary", "ur_text", "claims_guideline")


@dataclass(frozen=True, slots=True)
class Rules:
    """The business rules and limits a scoring call applies (from Settings)."""

    thresholds: BandThresholds
    info: InformationRule
    max_text_bytes: int
    max_items: int
    jurisdictions: tuple[str, ...]
    similar_k: int = 5
    similar_floor: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            thresholds=BandThresholds(settings.band_upheld_min, settings.band_overturned_max),
            info=InformationRule(settings.min_item_words, settings.min_item_words_alone, settings.min_context_words),
            max_text_bytes=settings.max_text_bytes,
            max_items=settings.max_items,
            jurisdictions=tuple(settings.jurisdictions),
            similar_k=settings.similar_k,
            similar_floor=settings.similar_floor,
        )


def _too_long(text: str | None, limit: int) -> bool:
    # A str of n characters has between n and 4n UTF-8 bytes: only encode when it matters.
    if text is None or len(text) * 4 <= limit:
        return False
    return len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit


def check_case(case: PrescreenIn, rules: Rules) -> list[ErrorItem]:
    """Limits that depend on configuration: jurisdiction served, number of items, text sizes."""
    errors: list[ErrorItem] = []
    if case.jurisdiction not in rules.jurisdictions:
        errors.append(
            {"field": "jurisdiction", "reason": f"is not served here (served: {', '.join(rules.jurisdictions)})"}
        )
    if len(case.items) > rules.max_items:
        errors.append({"field": "items", "reason": f"must list at most {rules.max_items} items (IMR_MAX_ITEMS)"})
    too_long = f"is longer than {rules.max_text_bytes} bytes"
    errors.extend(
        {"field": name, "reason": too_long}
        for name in _TEXT_FIELDS
        if _too_long(getattr(case, name), rules.max_text_bytes)
    )
    for i, item in enumerate(case.items):
        if _too_long(item.item_text, rules.max_text_bytes):
            errors.append({"field": f"items[{i}].item_text", "reason": too_long})
        if _too_long(item.claims_guideline, rules.max_text_bytes):
            errors.append({"field": f"items[{i}].claims_guideline", "reason": too_long})
    return errors


def case_records(case: PrescreenIn) -> list[dict[str, Any]]:
    """One model-input record (the ``PrescreenRequest`` fields) per disputed item of a case."""
    base: dict[str, Any] = dict.fromkeys(REQUEST_FIELDS)
    base.update(
        jurisdiction=case.jurisdiction,
        summary=case.summary,
        ur_text=case.ur_text,
        claims_guideline=case.claims_guideline,
        report_year=case.report_year,
    )
    for name in (*_CASE_FIELDS, *structured.CASE_FIELDS):
        base[name] = getattr(case, name)
    if case.imr_type is None and case.expedited is not None:
        base["imr_type"] = "Expedited" if case.expedited else "Standard"
    records = []
    for item in case.items:
        record = dict(base)
        record["item_text"] = item.item_text
        if item.claims_guideline is not None:
            record["claims_guideline"] = item.claims_guideline
        for name in _ITEM_FIELDS:
            record[name] = getattr(item, name)
        records.append(record)
    return records


def case_answer(case: PrescreenIn, today: dt.date | None = None) -> dict[str, Any]:
    """What an answer says about the case itself: the claim number echoed, the IMR filing deadline, days left."""
    return {"claim_number": case.claim_number, **structured.deadline_fields(case.ur_decision_date, today)}


def shown_record(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record as the model reads it (structured fields rendered into its text), for the checks shown beside the
    estimate; the model itself gets the record as it is and renders it in ``features.view``."""
    if not structured.has_structured(record):
        return record
    item_text, summary = structured.render(record, str(record.get("item_text") or ""), str(record.get("summary") or ""))
    return {**record, "item_text": item_text, "summary": summary}


def record_from(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A model-input record from any mapping that has request fields (e.g. a parsed letter item)."""
    record: dict[str, Any] = dict.fromkeys(REQUEST_FIELDS)
    for name in REQUEST_FIELDS:
        value = fields.get(name)
        if value is not None:
            record[name] = value
    for name in ("summary", "ur_text", "claims_guideline"):
        record[name] = record[name] or ""
    return record


@dataclass(frozen=True, slots=True)
class Avoid:
    """Similar determinations not to show: the letter's own case, and (ISO date) decisions on or after it."""

    case_id: str | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """What an item's result shows besides the probability."""

    checklist: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    top_terms: list[dict[str, Any]]
    similar: list[dict[str, Any]]
    fixes: list[dict[str, Any]]
    attributions: list[dict[str, Any]]


def explain_item(
    record: Mapping[str, Any], prediction: Prediction | None, hits: Sequence[Any], rules: Rules, avoid: Avoid
) -> Explanation:
    """Checklist, merged reasons, ranked fixes, attributions and similar determinations of one item.

    The checklist is the model's own (run with the definitions it was registered with) when it gives one, so the
    advice, the fixes and the estimate rest on the same checks; otherwise ``features.checklist`` runs here.
    """
    given = prediction.get("checklist") if prediction is not None else None
    checks = ex.model_checklist(given) if given is not None else ex.run_checklist(record)
    advice = {str(c.get("code")): str(c.get("advice") or "") for c in given or () if isinstance(c, Mapping)}
    model_reasons: Sequence[Mapping[str, Any]] = prediction["reasons"] if prediction is not None else ()
    plan = ex.health_plan(record)
    if plan:  # a health plan's review asks about its own criteria, not the MTUS's
        checks, advice = ex.plan_checks(checks, record, advice)
    reasons = ex.merge_reasons(model_reasons, checks)
    fixes = ex.fixes_out(prediction.get("fixes") or (), prediction["p_upheld"]) if prediction is not None else []
    return Explanation(
        checklist=ex.checklist_out(checks, record, advice),
        reasons=dmhc_wording.health_plan_reasons(reasons) if plan else reasons,
        top_terms=ex.top_terms(prediction["top_terms"]) if prediction is not None else [],
        similar=ex.similar_out(hits, rules.similar_k, avoid.case_id, avoid.before),
        fixes=dmhc_wording.health_plan_fixes(fixes) if plan else fixes,
        attributions=ex.attributions_out(prediction.get("attributions") or ()) if prediction is not None else [],
    )


def _needs_words(codes: Sequence[str], checklist: Sequence[Mapping[str, Any]]) -> list[str]:
    titles = {str(c.get("code")): str(c.get("title")) for c in checklist}
    return [
        f"A reviewer needs this for this kind of item and the request lacks it: {titles.get(code, code)}."
        for code in codes
    ]


def item_result(
    index: int, prediction: Prediction | None, missing: list[str], rules: Rules, explanation: Explanation | None
) -> dict[str, Any]:
    """The result of one item (the shape of ``schemas.ItemResult``); without an explanation, the model's reasons."""
    if explanation is None:
        explanation = Explanation([], ex.merge_reasons(prediction["reasons"] if prediction else (), ()), [], [], [], [])
    common = {
        "reasons": explanation.reasons,
        "checklist": explanation.checklist,
        "top_terms": explanation.top_terms,
        "similar": explanation.similar,
        "fixes": explanation.fixes,
        "attributions": explanation.attributions,
    }
    if prediction is None:
        return {
            "index": index,
            "p_upheld": None,
            "p_low": None,
            "p_high": None,
            "prior": None,
            "base_rate": None,
            "p_all_fixed": None,
            "label": None,
            "band": "insufficient_information",
            "band_label": BAND_LABELS["insufficient_information"],
            "missing_information": missing,
            **common,
        }
    p = prediction["p_upheld"]
    needs = prediction.get("needs_missing") or []
    cannot = prediction.get("cannot_judge") or []
    # Without what a reviewer needs for this kind of item there is no verdict: the estimate is shown as it
    # stands (never better than with the information: the model is monotone), beside the category's prior.
    band = "insufficient_information" if needs or cannot else band_for(p, rules.thresholds)
    low, high = prediction.get("p_low"), prediction.get("p_high")
    all_fixed = prediction.get("p_all_fixed")
    return {
        "index": index,
        "p_upheld": round(p, 4),
        "p_low": round(min(low, p), 4) if low is not None else None,
        "p_high": round(max(high, p), 4) if high is not None else None,
        "prior": None if prediction.get("prior") is None else round(float(prediction["prior"] or 0.0), 4),
        "base_rate": None if prediction.get("base_rate") is None else round(float(prediction["base_rate"] or 0.0), 4),
        "p_all_fixed": round(min(all_fixed, p), 4) if all_fixed is not None else None,
        "label": verdict_label(band),
        "band": band,
        "band_label": BAND_LABELS[band],
        "missing_information": [
            *cannot,
            *_needs_words(needs, explanation.checklist or prediction.get("checklist") or []),
        ],
        **common,
    }


def score_records(
    champion: Champion,
    records: list[dict[str, Any]],
    rules: Rules,
    explain: bool = True,
    avoid: Avoid | None = None,
) -> list[dict[str, Any]]:
    """Per-item results for records of one jurisdiction; thin items are not sent to the model."""
    avoid = avoid or Avoid()
    shown = [shown_record(r) for r in records]
    missing = [
        missing_information(
            r["item_text"] or "", r["summary"] or "", r["ur_text"] or "", r["claims_guideline"] or "", rules.info
        )
        for r in shown
    ]
    todo = [r for r, m in zip(records, missing, strict=True) if not m]
    predicted = champion.predict(todo) if todo else []
    hits: list[list[Any]] | None = None
    if explain and rules.similar_k > 0 and todo:
        # Over-fetch when some hits will be filtered out (a letter's own case, later decisions).
        extra = len(todo) + rules.similar_k if (avoid.case_id or avoid.before) else 0
        hits = champion.find_similar(todo, rules.similar_k + extra)
    predictions, found = iter(predicted), iter(hits or [])
    out = []
    for i, (record, m) in enumerate(zip(shown, missing, strict=True)):
        prediction = None if m else next(predictions)
        item_hits = next(found, []) if prediction is not None else []
        if prediction is not None and hits is not None and _unlike_anything(item_hits, rules.similar_floor, avoid):
            prediction = {**prediction, "cannot_judge": [*prediction["cannot_judge"], UNLIKE_ANYTHING]}
        explanation = explain_item(record, prediction, item_hits, rules, avoid) if explain else None
        out.append(item_result(i, prediction, m, rules, explanation))
    return out


UNLIKE_ANYTHING = (
    "No past determination resembles this item (no similar case shares its words): state the treatment or service "
    "in ordinary clinical terms."
)


def _unlike_anything(hits: Sequence[Any], floor: float, avoid: Avoid) -> bool:
    """True when no hit (its own case aside) is at least ``floor`` alike, or there is none."""
    own = (avoid.case_id or "").strip().upper()
    best = -1.0
    for raw in hits:
        hit = raw.as_dict() if hasattr(raw, "as_dict") else raw
        if not isinstance(hit, Mapping) or (own and str(hit.get("case_id") or "").strip().upper() == own):
            continue
        similarity = hit.get("similarity")
        best = max(best, float(similarity) if isinstance(similarity, int | float) else 0.0)
    return best < 0 or best < floor


def model_ref(champion: Champion) -> dict[str, str]:
    """The shape of ``schemas.ModelRef``."""
    info = champion.info
    return {"jurisdiction": info.jurisdiction, "name": info.name, "version": info.version, "source": info.source}


def score_cases(
    champions: Mapping[str, Champion], cases: Sequence[PrescreenIn], rules: Rules, explain: bool = True
) -> list[list[dict[str, Any]]]:
    """Item results of many cases, with one model call per jurisdiction; every case's champion must be present."""
    results: list[list[dict[str, Any]]] = [[] for _ in cases]
    by_jurisdiction: dict[str, list[int]] = {}
    for position, case in enumerate(cases):
        by_jurisdiction.setdefault(case.jurisdiction, []).append(position)
    for jurisdiction, positions in by_jurisdiction.items():
        per_case = [case_records(cases[p]) for p in positions]
        flat = [r for records in per_case for r in records]
        scored = score_records(champions[jurisdiction], flat, rules, explain)
        start = 0
        for position, records in zip(positions, per_case, strict=True):
            chunk = scored[start : start + len(records)]
            for index, result in enumerate(chunk):
                result["index"] = index
            results[position] = chunk
            start += len(records)
    return results


# -- CSV batch input ---------------------------------------------------------------------------------------------

#: The request fields, and the case fields that do not reach the model (repeated on each row of a case).
CSV_COLUMNS: tuple[str, ...] = (*REQUEST_FIELDS, "ur_decision_date", "expedited", "claim_number", "case_id")


def unknown_columns_error(header: Sequence[str]) -> list[ErrorItem]:
    """A refusal naming the header's columns that are not request fields (none: the header is fine).

    Refused rather than ignored: a misspelt column (``quantitiy``) would otherwise score as if the office had not
    given it, and the answer would look worse for information the office did send.
    """
    unknown = [name.strip() for name in header if name.strip() and name.strip() not in CSV_COLUMNS]
    if not unknown:
        return []
    named = [name for name in unknown if is_field_name(name)]
    others = len(unknown) - len(named)
    listed = ", ".join(named + ([f"{others} more that are not field names"] if others else []))
    return [{"field": "file", "reason": f"has unknown column(s): {listed} (see PrescreenIn and ItemIn for the names)"}]


def parse_csv(text: str, max_rows: int) -> tuple[list[PrescreenIn | list[ErrorItem]], list[ErrorItem]]:
    """Rows of a CSV (one disputed item per row, ``PrescreenRequest`` columns) as cases or row errors.

    Returns (rows, file errors); file errors (no header, missing columns, too many rows) refuse the whole file.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("jurisdiction", "item_text") if c not in header]
    if missing:
        return [], [{"field": "file", "reason": f"CSV header lacks column(s): {', '.join(missing)}"}]
    unknown = unknown_columns_error(header)
    if unknown:
        return [], unknown
    reader.fieldnames = header
    rows: list[PrescreenIn | list[ErrorItem]] = []
    try:
        for raw in reader:
            if len(rows) >= max_rows:
                return [], [{"field": "file", "reason": f"has more than {max_rows} rows"}]
            rows.append(_csv_case(raw))
    except csv.Error:
        return [], [{"field": "file", "reason": f"is not valid CSV (near data row {len(rows)})"}]
    if not rows:
        return [], [{"field": "file", "reason": "has no data rows"}]
    return rows, []


def _csv_case(raw: Mapping[str | Any, Any]) -> PrescreenIn | list[ErrorItem]:
    if None in raw:
        return [{"field": "row", "reason": "has more cells than the header"}]
    value = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k in CSV_COLUMNS}
    value = {k: v for k, v in value.items() if v not in ("", None)}
    item = {k: value.pop(k) for k in ("item_text", *_ITEM_FIELDS) if k in value}
    try:
        return PrescreenIn.model_validate({**value, "items": [item]})
    except ValidationError as exc:
        errors = validation_errors(exc.errors(include_input=False))
        for error in errors:
            if error["field"].startswith("items[0]."):
                error["field"] = error["field"].removeprefix("items[0].")
            elif error["field"] == "items":
                error["field"] = "item_text"
        return errors
