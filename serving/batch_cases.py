"""The API batch's cases: rows grouped by ``case_id``, CSV headers checked, and the answer as CSV.

- Rows (CSV data rows, or entries of a JSON array) that share a ``case_id`` are one case: scored together, with
  the case fields of its first row; a row whose case fields differ from that first row fails with its case. Each
  row still gets its own result, holding its own items.
- A CSV column that is not a request field is refused before any row is read, as JSON refuses an unknown field:
  both name it (when it looks like a field name; other header text is not repeated).
- ``Accept: text/csv`` answers one CSV line per item (per row, for a CSV of one item per row), with the same
  readable cells as ``imr score``'s CSV output.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from serving.batch_output import checks_cell, reasons_cell
from serving.errors import ErrorItem
from serving.schemas import PrescreenIn
from serving.scoring import unknown_columns_error

BatchRow = PrescreenIn | list[ErrorItem]

#: The columns of a CSV answer: one line per item (a row that failed has one line, with its errors).
ANSWER_COLUMNS: Final[tuple[str, ...]] = (
    "index",
    "item",
    "ok",
    "errors",
    "case_id",
    "jurisdiction",
    "item_text",
    "band",
    "band_label",
    "p_upheld",
    "p_low",
    "p_high",
    "label",
    "top_reasons",
    "missing_checks",
    "filing_deadline",
    "days_left",
    "claim_number",
    "model_version",
)


@dataclass
class Case:
    """One case of a batch: the input rows it came from, the case to score, or what is wrong with it."""

    rows: list[int]
    case: PrescreenIn | None
    errors: list[ErrorItem] = field(default_factory=list)
    #: How many of the case's items each row gave, in row order (to hand each row its own items back).
    sizes: list[int] = field(default_factory=list)


def unknown_columns(text: str) -> list[ErrorItem]:
    """A refusal naming the CSV header's columns that are not request fields (none: the header is fine)."""
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return []  # the row parser reports what is wrong with the file
    return unknown_columns_error(header)


_CASE_ONLY: Final[set[str]] = {"items"}


def _differing(first: PrescreenIn, other: PrescreenIn) -> list[str]:
    """The case fields (not the items) in which two rows of one case differ."""
    mine, theirs = first.model_dump(exclude=_CASE_ONLY), other.model_dump(exclude=_CASE_ONLY)
    return [name for name in mine if mine[name] != theirs[name]]


def group_cases(rows: Sequence[BatchRow]) -> list[Case]:
    """The batch's cases in input order: rows with the same ``case_id`` make one case, every other row its own."""
    cases: list[Case] = []
    by_id: dict[str, Case] = {}
    for index, row in enumerate(rows):
        if isinstance(row, list):
            cases.append(Case([index], None, row))
            continue
        key = (row.case_id or "").strip()
        group = by_id.get(key) if key else None
        if group is None:
            group = Case([index], row, sizes=[len(row.items)])
            cases.append(group)
            if key:
                by_id[key] = group
            continue
        _join(group, index, row)
    return cases


def _join(group: Case, index: int, row: PrescreenIn) -> None:
    """Add a row to its case: its items after the case's, or an error when its case fields differ."""
    group.rows.append(index)
    group.sizes.append(len(row.items))
    if group.case is None:
        return
    differing = _differing(group.case, row)
    if differing:
        reason = "differs from the first row of its case (same case_id)"
        group.errors += [{"field": f"[{index}].{name}", "reason": reason} for name in differing]
        return
    group.case = group.case.model_copy(update={"items": [*group.case.items, *row.items]})


def split_items(case: Case, items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The scored items of a case handed back to the rows that gave them, each numbered within its row."""
    out: list[list[dict[str, Any]]] = []
    start = 0
    for size in case.sizes:
        out.append([{**item, "index": i} for i, item in enumerate(items[start : start + size])])
        start += size
    return out


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _item_line(base: Mapping[str, Any], position: int, text: str, item: Mapping[str, Any]) -> dict[str, Any]:
    missing = [c for c in item.get("checklist") or () if isinstance(c, Mapping) and c.get("status") == "missing"]
    line = dict(base, item=position, item_text=text)
    line.update({k: _cell(item.get(k)) for k in ("band", "band_label", "p_upheld", "p_low", "p_high", "label")})
    line.update(top_reasons=reasons_cell(item.get("reasons") or ()), missing_checks=checks_cell(missing))
    return line


def _lines(result: Mapping[str, Any], row: BatchRow) -> list[dict[str, Any]]:
    """The CSV lines of one row's result: one per item, or one line with the row's errors."""
    base: dict[str, Any] = {"index": result["index"], "ok": str(bool(result["ok"])).lower()}
    case = row if isinstance(row, PrescreenIn) else None
    base.update(case_id=_cell(case.case_id if case else None), jurisdiction=case.jurisdiction if case else "")
    answer = result.get("result")
    if not result["ok"] or not isinstance(answer, Mapping) or case is None:
        errors = "; ".join(f"{e['field']}: {e['reason']}" for e in result.get("errors") or ())
        return [dict(base, errors=errors)]
    base.update({k: _cell(answer.get(k)) for k in ("filing_deadline", "days_left", "claim_number")})
    model = answer.get("model") or {}
    base["model_version"] = f"{model.get('name', '')}/{model.get('version', '')}"
    texts = [item.item_text for item in case.items]
    return [_item_line(base, i, text, item) for i, (text, item) in enumerate(zip(texts, answer["items"], strict=False))]


def answer_csv(results: Sequence[Mapping[str, Any]], rows: Sequence[BatchRow]) -> str:
    """The batch answer as CSV text: :data:`ANSWER_COLUMNS`, one line per item, in input order."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=ANSWER_COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    for result, row in zip(results, rows, strict=True):
        writer.writerows(_lines(result, row))
    return out.getvalue()
