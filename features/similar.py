"""Similar past determinations: for a disputed item, the k most similar items reviewers have already decided.

The index is TF-IDF (scikit-learn's analyzer: word 1-2 grams, sublinear tf, smoothed idf) over the *pre-review*
representation of each past item, produced by :func:`features.view.view`, the same function that turns a new
request into model input. Two fields are vectorised separately and concatenated with weights, so the item weighs
more than the surrounding context:

* item: the disputed item text and its treatment (sub)category;
* context: the clinical summary, the claims administrator's guideline and the diagnosis (sub)category.

With ``ITEM_WEIGHT = 0.7`` the cosine of two items that both have both fields is ``0.7 * cos(item) +
0.3 * cos(context)``. DMHC rows carry almost no text: their item field is the treatment (sub)category and their
context the diagnosis categories, so neighbours there are "same treatment for the same kind of diagnosis".

Each entry keeps display metadata for a person to read (outcome, decision date, case number, a short excerpt of
the reviewer's rationale and the guideline the reviewer cited). That metadata is *output*: it never reaches the
vectors, so the reviewer's wording cannot leak into similarity or into a model.

Temporal rule: ``query(..., before=d)`` returns only entries decided strictly before ``d``. An entry without a
decision date but with a report year (DMHC) counts as decided on the last day of that year (the latest it can
have been decided), so it is never returned for a query from within its own year; an entry with neither is never
returned when ``before`` is given. ``exclude_case`` removes every item of that case.

Persistence (:meth:`SimilarIndex.save` / :meth:`SimilarIndex.load`) writes JSON (format, version, analyzer
settings, vocabularies, idf), a ``scipy.sparse.save_npz`` matrix and a parquet table of display metadata. Nothing
is pickled, so loading an index runs no code from the files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from features.categories import OTHER
from features.schema import Item
from features.view import PrescreenRequest, view

FORMAT_NAME: Final = "imr-similar-index"
FORMAT_VERSION: Final = 1
#: Share of the cosine that comes from the item field (the rest from the context field).
ITEM_WEIGHT: Final = 0.7
EXCERPT_CHARS: Final = 300
#: Queries scored at once: bounds the dense (queries x entries) score block.
QUERY_BLOCK: Final = 256

META_FILE: Final = "similar.json"
MATRIX_FILE: Final = "matrix.npz"
ENTRIES_FILE: Final = "entries.parquet"

ENTRY_COLUMNS: Final[tuple[str, ...]] = (
    "item_id",
    "case_id",
    "item_text",
    "determination",
    "decision_date",
    "report_year",
    "treatment_category",
    "rationale_excerpt",
    "reviewer_guideline",
    "decided_by",
)
_PLACEHOLDERS: Final = frozenset({"", "unknown", OTHER.lower()})
_ABBREVIATIONS: Final = frozenset({"dr", "mr", "mrs", "ms", "vs", "no", "p", "pp", "e.g", "i.e", "etc", "approx", "st"})
_SENTENCE_END: Final = re.compile(r"[.!?](?=\s)")

Record = Item | PrescreenRequest | Mapping[Any, Any]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class IndexFormatError(ValueError):
    """The files in an index folder are missing, of another format or version, or inconsistent."""


@dataclass(frozen=True, slots=True)
class SimilarHit:
    """One similar past determination, for a person to read (never model input)."""

    item_id: str
    case_id: str
    item_text: str
    determination: str
    decision_date: dt.date | None
    report_year: int | None
    treatment_category: str
    rationale_excerpt: str
    reviewer_guideline: str | None
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the date as ISO text)."""
        # Field by field: dataclasses.asdict deep-copies every value, a measurable cost per served request.
        return {
            "item_id": self.item_id,
            "case_id": self.case_id,
            "item_text": self.item_text,
            "determination": self.determination,
            "decision_date": self.decision_date.isoformat() if self.decision_date else None,
            "report_year": self.report_year,
            "treatment_category": self.treatment_category,
            "rationale_excerpt": self.rationale_excerpt,
            "reviewer_guideline": self.reviewer_guideline,
            "similarity": self.similarity,
        }


# --------------------------------------------------------------------------------------------- text helpers


def _clean(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def _join(parts: Iterable[object]) -> str:
    kept = (_clean(p) for p in parts)
    return " ".join(p for p in kept if p.lower() not in _PLACEHOLDERS)


def field_texts(row: Mapping[str, Any]) -> tuple[str, str]:
    """(item, context) text of one *view* row: what the index and the query vectorise."""
    item = _join((row.get("item_text"), row.get("treatment_category"), row.get("treatment_subcategory")))
    context_parts = ("summary", "claims_guideline", "diagnosis_category", "diagnosis_subcategory")
    context = _join(row.get(name) for name in context_parts)
    return item, context


def rationale_excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """The start of a rationale, whitespace-normalised, cut at a sentence end (else a word end) within ``limit``."""
    clean = _clean(text)
    if len(clean) <= limit:
        return clean
    window = clean[: limit + 1]
    ends = [m.start() for m in _SENTENCE_END.finditer(window) if not _is_abbreviation(window, m.start())]
    if ends and ends[-1] + 1 >= limit // 2:
        return window[: ends[-1] + 1]
    space = window.rfind(" ")
    cut = window[:space] if space > 0 else clean[:limit]
    return cut.rstrip(" ,;:-") + "…"


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:dot].lower().lstrip("(")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


# --------------------------------------------------------------------------------------------- vectoriser


ANALYZER_SETTINGS: Final[dict[str, Any]] = {
    "lowercase": True,
    "strip_accents": "unicode",
    "ngram_range": [1, 2],
    "token_pattern": r"(?u)\b\w\w+\b",
    "stop_words": sorted(ENGLISH_STOP_WORDS),
}


def _vectorizer(settings: Mapping[str, Any]) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=bool(settings["lowercase"]),
        strip_accents=settings["strip_accents"],
        ngram_range=(int(settings["ngram_range"][0]), int(settings["ngram_range"][1])),
        token_pattern=str(settings["token_pattern"]),
        stop_words=list(settings["stop_words"]),
        sublinear_tf=True,
        smooth_idf=True,
        norm="l2",
        dtype=np.float64,
    )


class FieldEncoder:
    """TF-IDF of one text field: a vocabulary and its idf, applied exactly as scikit-learn's TfidfVectorizer."""

    def __init__(self, terms: Sequence[str], idf: Sequence[float], settings: Mapping[str, Any] = ANALYZER_SETTINGS):
        if len(terms) != len(idf):
            raise IndexFormatError(f"{len(terms)} terms but {len(idf)} idf values")
        self.terms: tuple[str, ...] = tuple(terms)
        self.idf: FloatArray = np.asarray(idf, dtype=np.float64)
        self.vocabulary: dict[str, int] = {term: i for i, term in enumerate(self.terms)}
        if len(self.vocabulary) != len(self.terms):
            raise IndexFormatError("duplicate terms in a stored vocabulary")
        self.analyzer: Callable[[str], list[str]] = _vectorizer(settings).build_analyzer()

    @classmethod
    def fit(cls, texts: Sequence[str], settings: Mapping[str, Any] = ANALYZER_SETTINGS) -> FieldEncoder:
        """Learn the vocabulary and idf; texts with no usable words give an empty encoder (all-zero vectors)."""
        vectorizer = _vectorizer(settings)
        try:
            vectorizer.fit(list(texts))
        except ValueError:  # empty vocabulary: no texts, or only stop words / one-letter tokens
            return cls([], [], settings)
        return cls(vectorizer.get_feature_names_out().tolist(), vectorizer.idf_.tolist(), settings)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """L2-normalised sublinear TF-IDF rows (zero rows for texts with no known term)."""
        vocabulary = self.vocabulary
        indptr = [0]
        indices: list[int] = []
        counts: list[float] = []
        for text in texts:
            found = Counter(j for j in (vocabulary.get(t) for t in self.analyzer(text)) if j is not None)
            indices.extend(found.keys())
            counts.extend(found.values())
            indptr.append(len(indices))
        data = np.asarray(counts, dtype=np.float64)
        index_array = np.asarray(indices, dtype=np.int32)
        if data.size:
            data = (np.log(data) + 1.0) * self.idf[index_array]
        matrix = sp.csr_matrix((data, index_array, np.asarray(indptr)), shape=(len(texts), len(self.terms)))
        matrix.sort_indices()
        return _unit_rows(matrix)


def _combine(item: sp.csr_matrix, context: sp.csr_matrix, item_weight: float) -> sp.csr_matrix:
    """Weighted concatenation, rows re-normalised: the dot product of two rows is their cosine."""
    joined = sp.hstack([item * math.sqrt(item_weight), context * math.sqrt(1.0 - item_weight)], format="csr")
    return _unit_rows(sp.csr_matrix(joined))


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm in place (all-zero rows stay zero); sklearn's normalize without its checks."""
    lengths = np.diff(matrix.indptr)
    filled = lengths > 0
    norms = np.zeros(matrix.shape[0], dtype=np.float64)
    if filled.any():  # reduceat over the starts of non-empty rows only (an empty last row would be out of range)
        norms[filled] = np.sqrt(np.add.reduceat(matrix.data**2, matrix.indptr[:-1][filled]))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    matrix.data *= np.repeat(scale, lengths)
    return matrix


# --------------------------------------------------------------------------------------------- entries


def _optional_date(value: object) -> dt.date | None:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    return None if pd.isna(stamp) else stamp.date()


def _optional_int(value: object) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)  # type: ignore[call-overload, no-any-return]


def _optional_text(value: object) -> str | None:
    text = _clean(value)
    return text or None


def decided_by(decision_date: dt.date | None, report_year: int | None) -> dt.date | None:
    """The latest date the case can have been decided: its decision date, else the end of its report year."""
    if decision_date is not None:
        return decision_date
    return dt.date(report_year, 12, 31) if report_year is not None else None


def _entries(table: pd.DataFrame, views: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for record, viewed in zip(table.to_dict(orient="records"), views.to_dict(orient="records"), strict=True):
        decision = _optional_date(record.get("decision_date"))
        year = _optional_int(record.get("report_year"))
        rows.append(
            {
                "item_id": _clean(record.get("item_id")),
                "case_id": _clean(record.get("case_id")),
                "item_text": _clean(record.get("item_text")),
                "determination": _clean(record.get("determination")),
                "decision_date": decision,
                "report_year": year,
                "treatment_category": _clean(viewed.get("treatment_category")),
                "rationale_excerpt": rationale_excerpt(record.get("rationale")),
                "reviewer_guideline": _optional_text(record.get("reviewer_guideline")),
                "decided_by": decided_by(decision, year),
            }
        )
    return _typed_entries(pd.DataFrame(rows, columns=list(ENTRY_COLUMNS)))


def _typed_entries(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("decision_date", "decided_by"):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[ms]")
    out["report_year"] = out["report_year"].astype("Int64")
    for column in ENTRY_COLUMNS:
        if column not in ("decision_date", "decided_by", "report_year"):
            out[column] = out[column].astype("string")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------- the index


class SimilarIndex:
    """Past determinations of one jurisdiction, searchable by similarity of their pre-review text."""

    def __init__(
        self,
        jurisdiction: str,
        item_encoder: FieldEncoder,
        context_encoder: FieldEncoder,
        matrix: sp.csr_matrix,
        entries: pd.DataFrame,
        item_weight: float = ITEM_WEIGHT,
    ) -> None:
        if matrix.shape[0] != len(entries):
            raise IndexFormatError(f"matrix has {matrix.shape[0]} rows for {len(entries)} entries")
        width = len(item_encoder.terms) + len(context_encoder.terms)
        if matrix.shape[1] != width:
            raise IndexFormatError(f"matrix has {matrix.shape[1]} columns for {width} terms")
        self.jurisdiction = jurisdiction
        self.item_encoder = item_encoder
        self.context_encoder = context_encoder
        self.item_weight = item_weight
        self.matrix = sp.csr_matrix(matrix)
        self.entries = _typed_entries(entries)
        self._postings = self.matrix.T.tocsr()  # term -> entries: a query costs its terms' posting lists
        self._decided_by = self.entries["decided_by"].to_numpy(dtype="datetime64[D]")
        case_codes, self._cases = pd.factorize(self.entries["case_id"])
        self._case_codes = np.asarray(case_codes, dtype=np.int64)
        self._case_lookup = {str(case): code for code, case in enumerate(self._cases)}
        self._hits = [_hit_template(row) for row in self.entries.to_dict(orient="records")]

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def build(cls, table: pd.DataFrame, jurisdiction: str, item_weight: float = ITEM_WEIGHT) -> SimilarIndex:
        """Index the rows of ``table`` (an item table) that belong to ``jurisdiction``."""
        if not 0.0 < item_weight <= 1.0:
            raise ValueError(f"item_weight must be in (0, 1], got {item_weight}")
        rows = table[_in_jurisdiction(table, jurisdiction)] if "jurisdiction" in table else table
        rows = rows.reset_index(drop=True)
        views = _view_rows(rows.to_dict(orient="records"))
        item_texts, context_texts = _texts(views)
        item_encoder = FieldEncoder.fit(item_texts)
        context_encoder = FieldEncoder.fit(context_texts)
        matrix = _combine(item_encoder.transform(item_texts), context_encoder.transform(context_texts), item_weight)
        entries = _entries(rows, pd.DataFrame(views))
        return cls(jurisdiction, item_encoder, context_encoder, matrix, entries, item_weight)

    # ------------------------------------------------------------------------------------------- querying

    def encode(self, records: Sequence[Record]) -> sp.csr_matrix:
        """Unit-norm query vectors of requests or items, through the same pre-review view as the index."""
        item_texts, context_texts = _texts(_view_rows(records))
        item = self.item_encoder.transform(item_texts)
        context = self.context_encoder.transform(context_texts)
        return _combine(item, context, self.item_weight)

    def query(
        self,
        records: Sequence[Record],
        k: int = 5,
        before: dt.date | None = None,
        exclude_case: str | None = None,
    ) -> list[list[SimilarHit]]:
        """The ``k`` most similar past items for each record, best first; only entries sharing a term count.

        ``before`` keeps entries decided strictly before that date; ``exclude_case`` drops that case's items.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not records:
            return []
        allowed = self._allowed(before, exclude_case)
        vectors = self.encode(records)
        out: list[list[SimilarHit]] = []
        for start in range(0, vectors.shape[0], QUERY_BLOCK):
            scores = (vectors[start : start + QUERY_BLOCK] @ self._postings).toarray()
            out.extend(self._top(row, k, allowed) for row in scores)
        return out

    def _allowed(self, before: dt.date | None, exclude_case: str | None) -> BoolArray | None:
        if before is None and exclude_case is None:
            return None
        allowed = np.ones(len(self), dtype=bool)
        if before is not None:
            allowed &= self._decided_by < np.datetime64(_as_date(before), "D")
        if exclude_case is not None:
            code = self._case_lookup.get(_clean(exclude_case))
            if code is not None:
                allowed &= self._case_codes != code
        return allowed

    def _top(self, scores: FloatArray, k: int, allowed: BoolArray | None) -> list[SimilarHit]:
        keep = scores > 1e-12
        if allowed is not None:
            keep &= allowed
        candidates = np.flatnonzero(keep)
        if candidates.size == 0:
            return []
        values = scores[candidates]
        if candidates.size > k:  # everything tied with the k-th best, then a deterministic order
            threshold = np.partition(values, candidates.size - k)[candidates.size - k]
            chosen = values >= threshold
            candidates, values = candidates[chosen], values[chosen]
        order = np.lexsort((candidates, -values))[:k]
        return [self._hit(int(candidates[i]), float(values[i])) for i in order]

    def _hit(self, position: int, score: float) -> SimilarHit:
        template = self._hits[position]
        return SimilarHit(**{**template, "similarity": round(min(score, 1.0), 4)})

    # ------------------------------------------------------------------------------------------- persistence

    def save(self, directory: Path) -> Path:
        """Write the index as JSON + npz + parquet (no pickle). Returns the folder."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "jurisdiction": self.jurisdiction,
            "entries": len(self),
            "item_weight": self.item_weight,
            "analyzer": ANALYZER_SETTINGS,
            "sklearn_version": sklearn.__version__,
            "fields": {
                "item": {"terms": list(self.item_encoder.terms), "idf": self.item_encoder.idf.tolist()},
                "context": {"terms": list(self.context_encoder.terms), "idf": self.context_encoder.idf.tolist()},
            },
        }
        sp.save_npz(directory / MATRIX_FILE, self.matrix, compressed=True)
        self.entries.to_parquet(directory / ENTRIES_FILE, index=False)
        (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> SimilarIndex:
        """Read an index written by :meth:`save`: JSON, npz (no pickle) and parquet are data only, no code runs."""
        directory = Path(directory)
        missing = [name for name in (META_FILE, MATRIX_FILE, ENTRIES_FILE) if not (directory / name).is_file()]
        if missing:
            raise IndexFormatError(f"{directory} is not a similar-items index: missing {', '.join(missing)}")
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise IndexFormatError(f"{directory / META_FILE} is not a {FORMAT_NAME} file")
        if meta.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(
                f"{directory} holds format version {meta.get('format_version')}, this code reads {FORMAT_VERSION}: "
                "rebuild the index (`make train`)"
            )
        settings = meta["analyzer"]
        fields = meta["fields"]
        item = FieldEncoder(fields["item"]["terms"], fields["item"]["idf"], settings)
        context = FieldEncoder(fields["context"]["terms"], fields["context"]["idf"], settings)
        matrix = sp.load_npz(directory / MATRIX_FILE).tocsr()
        entries = pd.read_parquet(directory / ENTRIES_FILE)
        missing_columns = [c for c in ENTRY_COLUMNS if c not in entries.columns]
        if missing_columns:
            raise IndexFormatError(f"{directory / ENTRIES_FILE} lacks columns {missing_columns}")
        return cls(str(meta["jurisdiction"]), item, context, matrix, entries[list(ENTRY_COLUMNS)], meta["item_weight"])


def _in_jurisdiction(table: pd.DataFrame, jurisdiction: str) -> pd.Series:
    return (table["jurisdiction"].astype("string").str.lower() == jurisdiction.lower()).fillna(False).astype(bool)


def _as_date(value: dt.date | dt.datetime | pd.Timestamp) -> dt.date:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    return value


def _view_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    return [view(record) for record in records]


def _texts(views: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    pairs = [field_texts(row) for row in views]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _hit_template(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "item_id": _clean(row["item_id"]),
        "case_id": _clean(row["case_id"]),
        "item_text": _clean(row["item_text"]),
        "determination": _clean(row["determination"]),
        "decision_date": _optional_date(row["decision_date"]),
        "report_year": _optional_int(row["report_year"]),
        "treatment_category": _clean(row["treatment_category"]),
        "rationale_excerpt": _clean(row["rationale_excerpt"]),
        "reviewer_guideline": _optional_text(row["reviewer_guideline"]),
    }


# --------------------------------------------------------------------------------------------- evaluation


def query_date(row: Mapping[Any, Any]) -> dt.date | None:
    """The date a past item is queried "as of" in evaluation: its decision date, else the start of its report year."""
    decision = _optional_date(row.get("decision_date"))
    if decision is not None:
        return decision
    year = _optional_int(row.get("report_year"))
    return dt.date(year, 1, 1) if year is not None else None
