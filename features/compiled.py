"""The compiled inference form of the coherent estimate (``training.monotone.MonotoneReasonModel``), as data.

Exported at registration from the fitted model (``MonotoneReasonModel.compiled()``) and saved beside it as
``arrays.npz`` (every structure's coefficients, stacked) and ``tables.json`` (vocabulary, masking patterns, codes,
priors, words of the explanation): loading it runs no pickle. Serving, batch scoring and Ray scoring all reach the
model through ``training.pyfunc.PrescreenModel.predict_records``, which scores with this.

What makes it fast (the fitted model's answers, to rounding, for a fraction of the cost):

- a request is featurised once: masked text, word n-grams looked up in the vocabulary (a dict, no vectorizer
  input validation), the checklist run once and reused for the facts, the flags and the explanation;
- every head of every structure (the main model and its bootstrap replicates) is one block of a stacked
  coefficient matrix, so one request's reason logits are one gather-and-sum over its words plus three small
  dense products; fixes, attributions and "other wording" are rows of one small product on the main structure;
- no pandas and no scikit-learn on the hot path.

The checklist and the category rules stay code: they are the functions frozen (by value) inside the registered
model, handed to :class:`CompiledModel` by the wrapper that loads it; without them the live ``features`` code is
used, which answers the same only while ``features.checklist`` and ``features.categories`` are unchanged.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
import scipy.sparse as sp

from features.concepts import checklist_rows
from features.memo import remember

FORMAT_NAME: Final = "imr-compiled-monotone"
FORMAT_VERSION: Final = 1
ARRAYS_FILE: Final = "arrays.npz"
TABLES_FILE: Final = "tables.json"
#: The arrays every compiled model has (see :meth:`CompiledModel.from_parts`).
ARRAY_NAMES: Final = (
    "head_words",  # (words, structures * reasons): reason-head weights of each word n-gram
    "head_facts",  # (kept facts, structures * reasons)
    "head_flags",  # (flags, structures * reasons)
    "head_categories",  # (categories, structures * reasons)
    "head_intercept",  # (structures * reasons,)
    "reason_weight",  # (structures, reasons): v >= 0
    "fact_weight",  # (structures, kept facts): u <= 0
    "flag_weight",  # (structures, flags): f >= 0
    "intercept",  # (structures,)
    "prior_logit",  # (structures, prior categories): logit of each structure's category prior (NaN: its default)
    "default_prior_logit",  # (structures,)
)

#: Featurised requests kept (the page re-scores the same request as one edits another item; batch rows repeat).
CACHE_SIZE: Final = 4096
#: Answers kept (as JSON bytes, a few kilobytes each).
EXPLAINED_CACHE_SIZE: Final = 1024

Checklist = Callable[[str, str, str], Sequence[Any]]
Categorize = Callable[[str], str]


class CompiledFormatError(ValueError):
    """A folder that is not a compiled model this code can read (wrong format, version or shapes)."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))


def _percentiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the 2.5th and 97.5th percentiles (numpy's default, linear interpolation) without its overhead."""
    ordered = np.sort(values, axis=1)
    out = []
    for q in (0.025, 0.975):
        position = q * (ordered.shape[1] - 1)
        below = int(np.floor(position))
        above = min(below + 1, ordered.shape[1] - 1)
        fraction = position - below
        out.append(ordered[:, below] + (ordered[:, above] - ordered[:, below]) * fraction)
    return out[0], out[1]


@dataclass(frozen=True, slots=True)
class Featurized:
    """One request as the model reads it: active word columns, fact and flag indicators, category, checks."""

    words: np.ndarray  # int64 column indices of the word n-grams present
    facts: np.ndarray  # (facts,) 0/1 over every documented fact code
    flags: np.ndarray  # (flags,) 0/1
    category: str
    checks: tuple[Any, ...]


class CompiledModel:
    """Scores and explains view rows (``features.view.view`` dicts) exactly as the fitted model does."""

    def __init__(
        self,
        tables: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray],
        checklist: Checklist | None = None,
        categorize: Categorize | None = None,
    ) -> None:
        if tables.get("format") != FORMAT_NAME or tables.get("format_version") != FORMAT_VERSION:
            raise CompiledFormatError(
                f"not a {FORMAT_NAME} v{FORMAT_VERSION} model (got {tables.get('format')} "
                f"v{tables.get('format_version')}): re-register it with `make train`"
            )
        missing = [name for name in ARRAY_NAMES if name not in arrays]
        if missing:
            raise CompiledFormatError(f"compiled model lacks arrays {missing}")
        if checklist is None or categorize is None:
            from features import categories
            from features import checklist as live_checklist

            checklist = checklist or live_checklist.evaluate_checklist
            categorize = categorize or categories.categorize
        self.tables = dict(tables)
        self.arrays = {name: np.ascontiguousarray(arrays[name], dtype=np.float64) for name in ARRAY_NAMES}
        self._checklist, self._categorize = checklist, categorize
        self._vocabulary = {term: j for j, term in enumerate(tables["vocabulary"])}
        self._token = re.compile(tables["token_pattern"])
        self._masks = [(re.compile(p, flags), repl) for p, flags, repl in tables["masks"]]
        self._limits = tables["limits"]
        self._fact_index = {code: j for j, code in enumerate(tables["fact_codes"])}
        self._changing = weighted_facts(tables["fact_codes"], tables["fact_columns"])
        self._kept = np.asarray(tables["fact_columns"], dtype=np.int64)
        self._category_index = {c: j for j, c in enumerate(tables["categories"])}
        self._prior_index = {c: j for j, c in enumerate(tables["prior_categories"])}
        self._check_shapes()
        self._cache: dict[tuple[str, str, str, str], Featurized] = {}
        self._explained: dict[tuple[str, str, str, str], bytes] = {}
        self.cache_size = CACHE_SIZE

    def _check_shapes(self) -> None:
        a, t = self.arrays, self.tables
        structures, reasons = a["reason_weight"].shape
        width = structures * reasons
        expected = {
            "head_words": (len(t["vocabulary"]), width),
            "head_facts": (len(t["fact_columns"]), width),
            "head_flags": (len(t["flag_codes"]), width),
            "head_categories": (len(t["categories"]), width),
            "head_intercept": (width,),
            "fact_weight": (structures, len(t["fact_columns"])),
            "flag_weight": (structures, len(t["flag_codes"])),
            "intercept": (structures,),
            "prior_logit": (structures, len(t["prior_categories"])),
            "default_prior_logit": (structures,),
        }
        wrong = [f"{k} {a[k].shape} != {v}" for k, v in expected.items() if a[k].shape != v]
        if wrong or reasons != len(t["codes"]):
            raise CompiledFormatError(f"compiled model arrays do not fit its tables: {'; '.join(wrong) or 'codes'}")

    # -- persistence ---------------------------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write ``arrays.npz`` and ``tables.json`` (data only: loading them runs no code)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / ARRAYS_FILE, **self.arrays)  # type: ignore[arg-type]
        (directory / TABLES_FILE).write_text(json.dumps(self.tables, ensure_ascii=False), encoding="utf-8")
        return directory

    @classmethod
    def load(
        cls, directory: Path, checklist: Checklist | None = None, categorize: Categorize | None = None
    ) -> CompiledModel:
        """Read a folder written by :meth:`save` (``allow_pickle=False``: no code runs)."""
        directory = Path(directory)
        missing = [name for name in (ARRAYS_FILE, TABLES_FILE) if not (directory / name).is_file()]
        if missing:
            raise CompiledFormatError(f"{directory} is not a compiled model: missing {', '.join(missing)}")
        tables = json.loads((directory / TABLES_FILE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        return cls(tables, arrays, checklist, categorize)

    # -- featurising ---------------------------------------------------------------------------------------------
    def masked_text(self, item: str, guideline: str, summary: str) -> str:
        """The text the word indicators read (``training.monotone.request_text``, from its stored patterns)."""
        limits = self._limits
        text = f"{item[: limits['item']]} . {guideline[: limits['guideline']]} . {summary[: limits['summary']]}"
        for pattern, replacement in self._masks:
            text = pattern.sub(replacement, text)
        return text

    def word_columns(self, text: str) -> np.ndarray:
        """Sorted vocabulary columns of the unigrams and bigrams of ``text`` (CountVectorizer's analyzer, binary)."""
        tokens = self._token.findall(text.lower())
        vocabulary = self._vocabulary
        found = {vocabulary.get(t) for t in tokens}
        found.update(vocabulary.get(f"{a} {b}") for a, b in itertools.pairwise(tokens))
        found.discard(None)
        return np.array(sorted(found), dtype=np.int64)  # type: ignore[type-var]

    def _category_of(self, item: str, given: str) -> str:
        # As the fitted model: its own (frozen) rules decide, unless the request named a category of its own.
        from features.categories import categorize as live

        return str(self._categorize(item)) if given in ("", "unknown", live(item)) else given

    def featurize(self, row: Mapping[Any, Any]) -> Featurized:
        """One view row (``features.view.view``) featurised: text once, checklist once (and kept: a bounded cache of
        the last :data:`CACHE_SIZE` requests; ``cache_size = 0`` turns it off)."""
        key = _row_key(row)
        found = self._cache.get(key)
        if found is None:
            found = remember(self._cache, key, self._featurize(*key), self.cache_size)
        return found

    def _featurize(self, item: str, summary: str, guideline: str, given: str) -> Featurized:
        words = self.word_columns(self.masked_text(item, guideline, summary))
        checks = tuple(self._checklist(item, summary, guideline))
        status = {c.code: c.status for c in checks}
        facts = np.array([status.get(code) == "passed" for code in self.tables["fact_codes"]], dtype=np.float64)
        flags = np.array([status.get(code) == "missing" for code in self.tables["flag_codes"]], dtype=np.float64)
        category = self._category_of(item, given)
        return Featurized(words, facts, flags, category, checks)

    # -- scoring -------------------------------------------------------------------------------------------------
    def _prior_logits(self, categories: Sequence[str]) -> np.ndarray:
        """(rows, structures): logit of each structure's prior for each row's category."""
        a = self.arrays
        columns = [self._prior_index.get(c, -1) for c in categories]
        out = np.tile(a["default_prior_logit"], (len(categories), 1))
        for i, j in enumerate(columns):
            if j >= 0:
                known = a["prior_logit"][:, j]
                out[i] = np.where(np.isnan(known), out[i], known)
        return out

    def _base_logits(self, rows: Sequence[Featurized]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, structures * reasons) head logits of every structure without the facts' terms: with the words,
        and without them (for "other wording of the request")."""
        a = self.arrays
        rest = np.tile(a["head_intercept"], (len(rows), 1))
        rest += np.vstack([r.flags for r in rows]) @ a["head_flags"]
        for i, r in enumerate(rows):
            j = self._category_index.get(r.category)
            if j is not None:
                rest[i] += a["head_categories"][j]
        if len(rows) == 1:
            return rest + a["head_words"][rows[0].words].sum(axis=0), rest
        indptr = np.cumsum([0, *(len(r.words) for r in rows)])
        indices = np.concatenate([r.words for r in rows])
        X = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), a["head_words"].shape[0]))
        return rest + X @ a["head_words"], rest

    def _outcomes(self, P: np.ndarray, kept: np.ndarray, flags: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """(rows, structures) p(upheld) from (rows, structures, reasons) reason probabilities."""
        a = self.arrays
        z = (
            prior
            + a["intercept"]
            + np.einsum("nsr,sr->ns", P, a["reason_weight"])
            + kept @ a["fact_weight"].T
            + flags @ a["flag_weight"].T
        )
        return _sigmoid(z)

    def score(
        self, rows: Sequence[Featurized], base: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """p(upheld), its 95 % interval (low, high) and the main structure's reason probabilities."""
        structures, reasons = self.arrays["reason_weight"].shape
        kept = np.vstack([r.facts for r in rows])[:, self._kept]
        flags = np.vstack([r.flags for r in rows])
        logits = (self._base_logits(rows)[0] if base is None else base) + kept @ self.arrays["head_facts"]
        P = _sigmoid(logits).reshape(len(rows), structures, reasons)
        scores = self._outcomes(P, kept, flags, self._prior_logits([r.category for r in rows]))
        p = scores[:, 0]
        if structures > 1:
            low, high = _percentiles(scores[:, 1:])
            low, high = np.minimum(low, p), np.maximum(high, p)
        else:
            low, high = p.copy(), p.copy()
        return p, low, high, P[:, 0, :]

    def _variants(self, row: Featurized, base: np.ndarray, facts: np.ndarray) -> np.ndarray:
        """p(upheld) of the main structure for the row with each fact vector (rows of ``facts``) instead of its own;
        ``base`` holds, per variant, the row's main-structure head logits without the facts' terms."""
        a = self.arrays
        reasons = a["reason_weight"].shape[1]
        kept = facts[:, self._kept]
        P = _sigmoid(base + kept @ a["head_facts"][:, :reasons])
        prior = self._prior_logits([row.category])[0, 0]
        z = (
            prior
            + a["intercept"][0]
            + P @ a["reason_weight"][0]
            + kept @ a["fact_weight"][0]
            + float(row.flags @ a["flag_weight"][0])
        )
        return _sigmoid(z)

    # -- explaining ----------------------------------------------------------------------------------------------
    def explain(self, views: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
        """Per view row: what ``MonotoneReasonModel.explain`` gives (estimate, interval, reasons, checklist, fixes,
        attributions, needs, cannot-judge), from one featurisation and one stacked product per row.

        The answers of the last :data:`EXPLAINED_CACHE_SIZE` requests are kept (``cache_size = 0`` turns it off with
        the featurisation cache): an answer depends on nothing but the request. They are kept as JSON bytes, one
        object each that the garbage collector never walks (kept as Python objects, they cost requests that miss
        the cache about a quarter of their throughput); every call gets fresh objects; floats round-trip exactly.
        """
        keys = [_row_key(v) for v in views]
        kept = [self._explained.get(k) for k in keys]
        out: list[dict[str, Any] | None] = [None if b is None else orjson.loads(b) for b in kept]
        todo = [i for i, found in enumerate(out) if found is None]
        if todo:
            for i, result in zip(todo, self._explain_fresh([views[i] for i in todo]), strict=True):
                out[i] = result
                remember(self._explained, keys[i], orjson.dumps(result), min(self.cache_size, EXPLAINED_CACHE_SIZE))
        return [found for found in out if found is not None]

    def _explain_fresh(self, views: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
        if not views:
            return []
        rows = [self.featurize(v) for v in views]
        base, without_words = self._base_logits(rows)
        p, low, high, P = self.score(rows, base)
        reasons = P.shape[1]
        no_words = without_words[:, :reasons]
        out = []
        for i, row in enumerate(rows):
            logits = (base[i, :reasons], no_words[i])
            result = self._explain_row(row, logits, float(p[i]), float(low[i]), float(high[i]), P[i])
            result["cannot_judge"] = self._cannot_judge(str(views[i]["item_text"]), row.category)
            out.append(result)
        return out

    def prior_of(self, category: str) -> float:
        """The main structure's prior of a category (the letters' rate shrunk toward the published one)."""
        priors: Mapping[str, float] = self.tables["priors"]
        return float(priors.get(category, self.tables["default_prior"]))

    @property
    def base_rate(self) -> float:
        return float(self.tables["base_rate"])

    def _cannot_judge(self, item: str, category: str) -> list[str]:
        if category != self.tables["other_category"]:
            return []
        known = len(self.word_columns(self.masked_text(item, "", "")))
        if known == 0 or len(set(item.lower().split())) < 2:
            return [str(self.tables["cannot_judge_words"])]
        return []

    def _explain_row(
        self,
        row: Featurized,
        logits: tuple[np.ndarray, np.ndarray],
        p: float,
        low: float,
        high: float,
        reasons: np.ndarray,
    ) -> dict[str, Any]:
        t = self.tables
        status = {c.code: c.status for c in row.checks}
        notes = {c.code: c.note for c in row.checks}
        concepts: Mapping[str, Mapping[str, str]] = t["concepts"]
        fixable = [c.code for c in row.checks if c.status == "missing" and c.code in concepts]
        documented = [code for code in t["fact_codes"] if status.get(code) == "passed"]
        # Every variant in one product: the fixes, all of them, each documented fact removed, the row itself, and
        # the row with every word off (its own base logits).
        facts = np.vstack([fact_variants(row.facts, self._fact_index, fixable, documented), row.facts])
        bases = np.repeat(logits[0][None, :], len(facts), axis=0)
        bases[-1] = logits[1]
        scored = self._variants(row, bases, facts)
        p_fix, p_all = scored[: len(fixable)], float(scored[len(fixable)])
        p_without = scored[len(fixable) + 1 : len(fixable) + 1 + len(documented)]
        p_no_words = float(scored[-1])
        fixes = fix_rows(fixable, p_fix, p, t["titles"], concepts, t["advice"], notes, self._changing)
        return {
            "p_upheld": p,
            "p_low": low,
            "p_high": high,
            "prior": self.prior_of(row.category),
            "base_rate": self.base_rate,
            "category": row.category,
            "reasons": reason_rows(t["codes"], t["reasons"], reasons),
            "checklist": checklist_rows(row.checks, t["advice"]),
            "fixes": fixes,
            "p_all_fixed": min(p_all, p),
            "attributions": self._attributions(p, fixes, documented, p_without, p_no_words, status),
            "needs_missing": [
                code for code in t["needs"].get(t["kinds"].get(row.category) or "", []) if status.get(code) == "missing"
            ],
        }

    def _attributions(
        self,
        p: float,
        fixes: list[dict[str, Any]],
        documented: list[str],
        p_without: np.ndarray,
        p_no_words: float,
        status: Mapping[str, str],
    ) -> list[dict[str, Any]]:
        return attributions(
            self.tables["titles"], self.tables["flag_codes"], p, fixes, documented, p_without, p_no_words, status
        )


def weighted_facts(fact_codes: Sequence[str], fact_columns: Sequence[int]) -> set[str]:
    """The facts with a weight: a fix of any other check is advice only, it cannot move the estimate."""
    kept = set(fact_columns)
    return {code for j, code in enumerate(fact_codes) if j in kept}


def _row_key(row: Mapping[Any, Any]) -> tuple[str, str, str, str]:
    """What a request's featurisation and answer depend on: item, summary, guideline and the given category."""
    return (str(row["item_text"]), str(row["summary"]), str(row["claims_guideline"]), str(row["treatment_category"]))


def fact_variants(base: np.ndarray, index: Mapping[str, int], fixable: list[str], documented: list[str]) -> np.ndarray:
    """Fact vectors: each fix alone, every fix at once, each documented fact removed, and the row itself (the
    variants both the fitted model and its compiled form score to rank fixes and attribute the estimate)."""
    variants = []
    for code in fixable:
        f = base.copy()
        if code in index:
            f[index[code]] = 1.0
        variants.append(f)
    everything = base.copy()
    for code in fixable:
        if code in index:
            everything[index[code]] = 1.0
    without = []
    for code in documented:
        f = base.copy()
        f[index[code]] = 0.0
        without.append(f)
    return np.vstack([*variants, everything, *without, base])


def fix_rows(
    fixable: list[str],
    p_fix: np.ndarray,
    p: float,
    titles: Mapping[str, str],
    concepts: Mapping[str, Mapping[str, str]],
    advice: Mapping[str, str],
    notes: Mapping[str, str | None],
    changing: set[str],
) -> list[dict[str, Any]]:
    """The ranked fixes, largest fall first; a fix never raises the estimate (``p_after`` is capped at ``p``)."""
    fixes = [
        {
            "check": code,
            "title": titles.get(code, code),
            "advice": concepts[code]["fix"],
            "detail": " ".join(x for x in (advice.get(code, ""), notes.get(code) or "") if x),
            "p_after": min(float(p_fix[k]), p),
            "effect": min(float(p_fix[k]), p) - p,
            "changes_estimate": code in changing,
        }
        for k, code in enumerate(fixable)
    ]
    fixes.sort(key=lambda f: (f["effect"], f["check"]))
    return fixes


def reason_rows(codes: Sequence[str], words: Mapping[str, str], reasons: np.ndarray) -> list[dict[str, Any]]:
    """The reasons, most probable first, with their labels in words."""
    order = np.argsort(-reasons, kind="stable")
    return [
        {"code": codes[j], "label": words.get(codes[j], codes[j]), "probability": round(float(reasons[j]), 4)}
        for j in order
    ]


def attributions(
    titles: Mapping[str, str],
    flag_codes: Sequence[str],
    p: float,
    fixes: list[dict[str, Any]],
    documented: list[str],
    p_without: np.ndarray,
    p_no_words: float,
    status: Mapping[str, str],
) -> list[dict[str, Any]]:
    """What moved the estimate, in words: each documented fact, each fix not made, each flag not met, and the rest
    of the request's wording (the one home of this list for the fitted model and its compiled form)."""
    out: list[dict[str, Any]] = [
        {
            "check": code,
            "statement": f"{titles.get(code, code)} (documented)",
            "effect": round(p - min(float(p_without[k]), 1.0), 4),
            "direction": "lowers",
        }
        for k, code in enumerate(documented)
    ]
    out += [
        {
            "check": f["check"],
            "statement": f"{f['title']} (not documented)",
            "effect": -f["effect"],
            "direction": "raises",
        }
        for f in fixes
        if f["effect"] < 0
    ]
    out += [
        {"check": code, "statement": f"{titles.get(code, code)} (not met)", "effect": None, "direction": "raises"}
        for code in flag_codes
        if status.get(code) == "missing"
    ]
    if p_no_words - p > 0.0005:
        out.append(
            {
                "check": None,
                "statement": "Other wording of the request",
                "effect": round(p - p_no_words, 4),
                "direction": "lowers",
            }
        )
    return [a for a in out if not isinstance(a["effect"], float) or abs(a["effect"]) >= 0.0005]
