"""Item blocks and their fields, and the public parsing API (text, bytes, file, folder -> ``Item`` rows)."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from features.letters.extract import (
    MAX_TEXT_CHARS,
    LetterError,
    _clean_body,
    _collapse,
    _normalize_chars,
    extract_text,
    extract_text_bytes,
)
from features.letters.header import _Header, _parse_header
from features.letters.structure import (
    _CLAIMS_RE,
    _RATIONALE_RE,
    _REVIEWER_RE,
    _SECTION_RE,
    _SUMMARY_BOILERPLATE_RE,
    _SUMMARY_END_RE,
    _SUMMARY_HEAD_RE,
    _TRAILER_RE,
    _Draft,
    _find_headings,
    _find_regarding,
    _find_statements,
    _Heading,
    _Lines,
    _Regarding,
    _split_modification,
    _Statement,
)
from features.schema import Determination, Item, RecordError

# --------------------------------------------------------------------------------------------------------------
# Item blocks and their fields
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Markers:
    rationales: list[int]  # offsets of "Decision rationale" labels
    labels: list[tuple[int, int, str]]  # (start, end, kind) of every field label, in order
    trailers: list[int]

    def labels_between(self, start: int, end: int) -> list[tuple[int, int, str]]:
        # Bisection keeps letters with thousands of items linear; this runs once per item.
        low = bisect.bisect_left(self.labels, (start, -1, ""))
        high = bisect.bisect_left(self.labels, (end, -1, ""))
        return self.labels[low:high]

    def rationales_between(self, start: int, end: int) -> list[int]:
        return self.rationales[bisect.bisect_left(self.rationales, start) : bisect.bisect_left(self.rationales, end)]

    def first_trailer_after(self, offset: int, default: int) -> int:
        index = bisect.bisect_right(self.trailers, offset)
        return min(default, self.trailers[index]) if index < len(self.trailers) else default


def _find_markers(text: str) -> _Markers:
    labels: list[tuple[int, int, str]] = []
    for kind, pattern in (("claims", _CLAIMS_RE), ("reviewer", _REVIEWER_RE), ("rationale", _RATIONALE_RE)):
        labels.extend((m.start(), m.end(), kind) for m in pattern.finditer(text))
    labels.sort()
    return _Markers(
        rationales=[start for start, _, kind in labels if kind == "rationale"],
        labels=labels,
        trailers=[m.start() for m in _TRAILER_RE.finditer(text)],
    )


def _block_fields(text: str, markers: _Markers, start: int, end: int) -> dict[str, str | None]:
    """Claims guideline, reviewer guideline and rationale found between ``start`` and ``end``."""
    inside = markers.labels_between(start, end)
    fields: dict[str, str | None] = {"claims": None, "reviewer": None, "rationale": None}
    for position, (_, label_end, kind) in enumerate(inside):
        if fields[kind] is not None:
            continue
        stop = inside[position + 1][0] if position + 1 < len(inside) else end
        fields[kind] = _collapse(text[label_end:stop]) or None
    return fields


def _drafts_from_headings(text: str, source: str, headings: list[_Heading], markers: _Markers) -> list[_Draft]:
    rationales = markers.rationales
    if rationales and rationales[0] < headings[0].start:
        raise LetterError(source, "Decision rationale #1 has no Upheld/Overturned decision before it")
    drafts: list[_Draft] = []
    for k, heading in enumerate(headings):
        next_start = headings[k + 1].start if k + 1 < len(headings) else len(text)
        inside = markers.rationales_between(heading.end, next_start)
        if not inside:
            raise LetterError(source, f"item {k + 1} has an Upheld/Overturned decision but no Decision rationale")
        if len(inside) > 1:
            n = bisect.bisect_left(rationales, inside[1]) + 1
            raise LetterError(source, f"Decision rationale #{n} has no Upheld/Overturned decision before it")
        end = markers.first_trailer_after(inside[0], next_start)
        fields = _block_fields(text, markers, heading.end, end)
        item_text, modification = _split_modification(heading.text, heading.tail, heading.determination)
        drafts.append(_make_draft(item_text, heading.determination, modification, fields))
    return drafts


def _make_draft(
    item_text: str, determination: Determination, modification: str | None, fields: dict[str, str | None]
) -> _Draft:
    return _Draft(
        item_text=item_text,
        determination=determination,
        modification=modification,
        claims_guideline=fields["claims"],
        reviewer_guideline=fields["reviewer"],
        rationale=fields["rationale"],
    )


def _item_starts_b(markers: _Markers, regarding: list[_Regarding], statements: list[_Statement]) -> list[int]:
    starts = [label[0] for label in markers.labels if label[2] != "rationale"]
    starts += [r.start for r in regarding]
    # Numbered statements at a line start act as item headings; MAXIMUS sentences may sit after the rationale.
    starts += [s.start for s in statements if s.number is not None]
    return sorted(set(starts))


def _first_between(sorted_offsets: list[int], low: int, high: int) -> int | None:
    """The smallest offset with ``low <= offset < high``, or None."""
    index = bisect.bisect_left(sorted_offsets, low)
    return sorted_offsets[index] if index < len(sorted_offsets) and sorted_offsets[index] < high else None


def _blocks_b(
    text: str, markers: _Markers, regarding: list[_Regarding], statements: list[_Statement]
) -> list[tuple[int, int]]:
    rationales = markers.rationales
    starts = _item_starts_b(markers, regarding, statements)
    heads: list[int] = []
    for k, r in enumerate(rationales):
        head = _first_between(starts, rationales[k - 1] + 1 if k else 0, r)
        heads.append(r if head is None else head)
    blocks: list[tuple[int, int]] = []
    for k, head in enumerate(heads):
        stop = heads[k + 1] if k + 1 < len(heads) else len(text)
        blocks.append((head, markers.first_trailer_after(rationales[k], stop)))
    return blocks


@dataclass(frozen=True)
class _Decisions:
    """The decision sentences of a sentence-style letter, indexed for pairing with its rationale sections."""

    by_number: dict[int, list[_Statement]]
    unnumbered: list[_Statement]  # in text order
    unnumbered_starts: list[int]
    listed_apart: list[_Statement]  # unnumbered, outside every item block, one per distinct item

    @classmethod
    def index(cls, statements: list[_Statement], blocks: list[tuple[int, int]]) -> _Decisions:
        by_number: dict[int, list[_Statement]] = {}
        for statement in statements:
            if statement.number is not None:
                by_number.setdefault(statement.number, []).append(statement)
        unnumbered = [s for s in statements if s.number is None]
        block_starts = [a for a, _ in blocks]

        def in_block(offset: int) -> bool:
            index = bisect.bisect_right(block_starts, offset) - 1
            return index >= 0 and offset < blocks[index][1]

        # A list repeated in the notice and again in the decision section names each item twice.
        apart = {(s.item_text.lower(), s.determination): s for s in unnumbered if not in_block(s.start)}
        return cls(by_number, unnumbered, [s.start for s in unnumbered], list(apart.values()))

    def inside(self, start: int, end: int) -> list[_Statement]:
        low = bisect.bisect_left(self.unnumbered_starts, start)
        high = bisect.bisect_left(self.unnumbered_starts, end)
        return self.unnumbered[low:high]


def _decide_b(
    k: int, block: tuple[int, int], n_items: int, number: int, decisions: _Decisions, source: str
) -> _Statement:
    """The decision for item ``k`` (0-based) of a sentence-style letter; refuses to guess."""
    candidates = decisions.by_number.get(number, []) + decisions.inside(*block)
    if not candidates and len(decisions.listed_apart) == n_items:
        candidates = [decisions.listed_apart[k]]
    verdicts = {s.determination for s in candidates}
    if not verdicts:
        raise LetterError(source, f"Rationale section #{k + 1} has no decision (medically necessary or not)")
    if len(verdicts) > 1:
        raise LetterError(source, f"item {k + 1} has conflicting decisions")
    return candidates[0]


def _drafts_from_statements(text: str, source: str, markers: _Markers) -> list[_Draft]:
    statements = _find_statements(text)
    regarding = _find_regarding(text)
    regarding_starts = [r.start for r in regarding]
    blocks = _blocks_b(text, markers, regarding, statements)
    decisions = _Decisions.index(statements, blocks)
    drafts: list[_Draft] = []
    for k, block in enumerate(blocks):
        first = _first_between(regarding_starts, *block)
        head = regarding[bisect.bisect_left(regarding_starts, first)] if first is not None else None
        number = head.number if head is not None and head.number is not None else k + 1
        decision = _decide_b(k, block, len(blocks), number, decisions, source)
        item_text = head.item_text if head else decision.item_text
        item_text, modification = _split_modification(item_text, "", decision.determination)
        fields = _block_fields(text, markers, head.end if head else block[0], block[1])
        drafts.append(_make_draft(item_text, decision.determination, modification, fields))
    return drafts


def _decision_section_start(text: str) -> int:
    match = _SECTION_RE.search(text)
    if match:
        return match.start()
    summary = _SUMMARY_HEAD_RE.search(text)
    return summary.end() if summary else 0


def _drafts(text: str, source: str) -> tuple[list[_Draft], int]:
    """The items of a cleaned letter and the offset where the first item starts."""
    markers = _find_markers(text)
    doc = _Lines(text)
    headings = _find_headings(doc, _decision_section_start(text))
    if not markers.rationales:
        if headings or _find_statements(text):
            raise LetterError(source, "decisions found but no Decision rationale section")
        raise LetterError(source, "not an IMR determination letter (no decisions and no Decision rationale)")
    if headings:
        return _drafts_from_headings(text, source, headings, markers), headings[0].start
    drafts = _drafts_from_statements(text, source, markers)
    # Decision sentences may be listed before the summary, so only item headings and labels end it.
    first_item = min([r.start for r in _find_regarding(text)] + [label[0] for label in markers.labels])
    return drafts, first_item


def _summary(text: str, first_item: int) -> str:
    head = _SUMMARY_HEAD_RE.search(text)
    if head is None or head.start() >= first_item:
        return ""
    ends = [m.start() for m in _SUMMARY_END_RE.finditer(text, head.end()) if m.start() > head.end()]
    end = min([first_item, *ends])
    return _SUMMARY_BOILERPLATE_RE.sub("", _collapse(text[head.end() : end]), count=1)


# --------------------------------------------------------------------------------------------------------------
# Public parsing API
# --------------------------------------------------------------------------------------------------------------


def _fallback_case_id(text: str) -> str:
    digest = hashlib.sha256(_collapse(text).encode("utf-8")).hexdigest()
    return f"NOCASE-{digest[:12]}"


def _days_between(start: dt.date | None, end: dt.date | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).days


def _report_year(decision: dt.date | None) -> int | None:
    return decision.year if decision is not None and 1990 <= decision.year <= 2100 else None


def parse_letter_text(text: str, source: str) -> list[Item]:
    """Items of one letter given as extracted text; raises ``LetterError`` when the letter cannot be read."""
    if len(text) > MAX_TEXT_CHARS:
        raise LetterError(source, f"text too long ({len(text)} characters, limit {MAX_TEXT_CHARS})")
    normalized = _normalize_chars(text)
    if not normalized.strip():
        raise LetterError(source, "empty text")
    body = _clean_body(normalized)
    header = _parse_header(normalized, body)
    drafts, first_item = _drafts(body, source)
    summary = _summary(body, first_item)
    case_id = header.case_id or _fallback_case_id(normalized)
    name = Path(source).name or source
    try:
        return [_to_item(draft, index, case_id, name, header, summary) for index, draft in enumerate(drafts)]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise LetterError(source, f"item does not fit the schema ({problems})") from exc


def _to_item(draft: _Draft, index: int, case_id: str, source: str, header: _Header, summary: str) -> Item:
    return Item(
        item_id=f"{case_id}#{index}",
        case_id=case_id,
        item_index=index,
        jurisdiction="dwc",
        source=source,
        determination=draft.determination,
        item_text=draft.item_text,
        summary=summary,
        claims_guideline=draft.claims_guideline,
        date_assigned=header.date_assigned,
        injury_date=header.injury_date,
        ur_date=header.ur_date,
        imr_type=header.imr_type,
        report_year=_report_year(header.decision_date),
        decision_date=header.decision_date,
        modification=draft.modification,
        reviewer_guideline=draft.reviewer_guideline,
        rationale=draft.rationale,
        reviewer_specialty=header.reviewer_specialty,
        days_to_review=_days_between(header.date_assigned, header.decision_date),
    )


def parse_letter(path: Path) -> list[Item]:
    """Items of one letter file (PDF or text)."""
    return parse_letter_text(extract_text(path), path.name or str(path))


def parse_letter_bytes(data: bytes, source: str) -> list[Item]:
    """Items of one letter given as bytes (an upload)."""
    return parse_letter_text(extract_text_bytes(data, source), source)


def parse_folder(paths: Iterable[Path]) -> tuple[list[Item], list[dict[str, str]]]:
    """Items of many letters; a letter that fails becomes one reject row and the batch goes on."""
    items: list[Item] = []
    rejects: list[dict[str, str]] = []
    for path in paths:
        try:
            items.extend(parse_letter(path))
        except RecordError as exc:
            rejects.append(exc.as_reject())
    return items, rejects
