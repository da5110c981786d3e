"""The coherent estimate: reason heads learned from past rationales, joined by a sign-constrained outcome layer.

Structure (every weight's sign is fixed before fitting, so the properties hold for every request, not for a
sample of pairs checked afterwards):

1. **Inputs are presence indicators**: word n-grams of the request (masked, see :func:`request_text`), each
   documented fact of :data:`features.concepts.DOCUMENTED_FACTS` (its check passed) and each flag of
   :data:`features.concepts.FLAGS` (e.g. a treatment the guideline does not recommend), plus the treatment
   category. Writing more can only switch word and fact indicators on; leaving text out can only switch them off.
2. **Reason heads**: per reason a reviewer gives (mined from past rationales by :mod:`features.reasons`), a
   logistic model of "the reviewer will give this reason" from the request. Words and documented facts may only
   lower it (weights <= 0), flags may only raise it, the category sets its base rate.
3. **Outcome**: logit P(upheld) = logit(prior of the category) + b + sum of v_r * P(reason r) + sum of
   u_k * fact_k + sum of f_j * flag_j with v >= 0, u <= 0, f >= 0. The category prior is the letters' rate shrunk
   toward the published rate (:mod:`features.priors`).

So a documented fact, and any word, can only lower or keep P(upheld); omitting anything can only raise or keep
it. Facts that never pass in the training data get no column, hence no weight. The outcome layer is fitted on
grouped out-of-fold reason probabilities (stacking), so it does not trust the heads' in-sample fit. Intervals come
from case-bootstrap replicates of the whole structure; each replicate is monotone, so their percentiles are too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from features.compiled import CompiledModel, fact_variants, fix_rows, reason_rows, weighted_facts
from features.compiled import attributions as explained_attributions
from features.concepts import checklist_rows
from features.memo import remember
from training.bounded_logistic import bounded_logistic, logit, shift_to_mean, sigmoid
from training.candidates import ImrEstimator, default_groups
from training.monotone_text import request_text
from training.splits import inner_splits

#: Checklist results shared by every model of a process (see MonotoneReasonModel.checklist).
_CHECKLISTS: dict[tuple[Any, str, str, str], tuple[Any, ...]] = {}
_CHECKLIST_CACHE_SIZE = 16_384
OTHER_CATEGORY = "Other"
CANNOT_JUDGE = (
    "The item text names no treatment or service this model has seen (no category fits and none of its words "
    "occur in past determinations): state the treatment, e.g. 'Physical therapy, lumbar spine, 2 times a week for "
    "4 weeks'."
)


@dataclass
class Definitions:
    """What the model reads requests with, frozen into the model when it is saved.

    The checklist and category functions are pickled *by value* (cloudpickle), with the patterns they use, so a
    registered model answers the same after ``features/`` changes; the concept table and reason words are data.
    """

    evaluate_checklist: Any
    categorize: Any
    concepts: dict[str, dict[str, str]]
    needs: dict[str, list[str]]
    kinds: dict[str, str]
    reasons: dict[str, str]
    titles: dict[str, str]
    advice: dict[str, str]


_FROZEN_MODULES = ("features.categories", "features.reasons", "features.checklist", "features.concepts")


def live_definitions() -> Definitions:
    """The definitions as the code in ``features/`` has them now."""
    from features import categories, checklist, concepts, reasons

    table = concepts.definitions()
    kinds = {c: k for c in categories.CATEGORIES if (k := concepts.kind_of(c)) is not None}
    return Definitions(
        evaluate_checklist=checklist.evaluate_checklist,
        categorize=categories.categorize,
        concepts={row["check"]: row for row in table["concepts"]},
        needs=table["needs"],
        kinds=kinds,
        reasons=dict(reasons.REASONS),
        titles={c.code: c.title for c in checklist.CHECKS},
        advice={c.code: c.advice for c in checklist.CHECKS},
    )


def freeze(definitions: Definitions) -> bytes:
    """The definitions as bytes, their functions pickled by value (not as references to importable code)."""
    import importlib

    import cloudpickle

    modules = [importlib.import_module(name) for name in _FROZEN_MODULES]
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        return bytes(cloudpickle.dumps(definitions))
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


@dataclass
class Inputs:
    """The featurised requests: word indicators, fact and flag indicators, category index."""

    words: sp.csr_matrix
    facts: np.ndarray
    flags: np.ndarray
    category: list[str]


@dataclass
class _Heads:
    """Reason heads: one coefficient row per reason over [words, facts, flags, category one-hot]."""

    codes: list[str]
    coef: np.ndarray  # (reasons, features)
    intercept: np.ndarray  # (reasons,)

    def proba(self, F: sp.csr_matrix) -> np.ndarray:
        if not self.codes:
            return np.zeros((F.shape[0], 0))
        return sigmoid(np.asarray(F @ self.coef.T) + self.intercept)


@dataclass
class _Structure:
    """One fitted copy of the whole model (the main one, or a bootstrap replicate)."""

    heads: _Heads
    reason_weight: np.ndarray  # v >= 0, per reason
    fact_weight: np.ndarray  # u <= 0, per kept fact column
    flag_weight: np.ndarray  # f >= 0, per flag
    intercept: float
    priors: dict[str, float] = field(default_factory=dict)
    default_prior: float = 0.9
    base_rate: float = 0.9


class MonotoneReasonModel(ImrEstimator):
    """Reason heads from rationales, stacked through a sign-constrained outcome layer (see the module docstring)."""

    def __init__(
        self,
        word_penalty: float = 4.0,
        fact_penalty: float = 1.0,
        category_penalty: float = 1.0,
        outcome_penalty: float = 1.0,
        min_df: int = 5,
        max_df: float = 0.3,
        min_reason_count: int = 8,
        min_fact_passes: int = 3,
        prior_strength: float = 30.0,
        base_rate_strength: float = 0.0,
        inner_folds: int = 3,
        replicates: int = 0,
        seed: int = 0,
    ) -> None:
        self.word_penalty = word_penalty
        self.fact_penalty = fact_penalty
        self.category_penalty = category_penalty
        self.outcome_penalty = outcome_penalty
        self.min_df = min_df
        self.max_df = max_df
        self.min_reason_count = min_reason_count
        self.min_fact_passes = min_fact_passes
        self.prior_strength = prior_strength
        self.base_rate_strength = base_rate_strength
        self.inner_folds = inner_folds
        self.replicates = replicates
        self.seed = seed

    # -- persistence: the definitions travel by value ------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # a per-model cache of older versions
        state.pop("_stack", None)
        if "definitions_" in state:
            state["definitions_"] = freeze(state["definitions_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import pickle

        frozen = state.get("definitions_")
        if isinstance(frozen, bytes):
            state["definitions_"] = pickle.loads(frozen)
        self.__dict__.update(state)

    # -- featurising ---------------------------------------------------------------------------------------------
    def _fit_vocabulary(self, X: pd.DataFrame) -> None:
        # Document frequency over distinct texts: one letter's items share a summary, which would otherwise count
        # once per item and let one case's words pass min_df alone.
        docs = sorted(
            {request_text(str(v), "", "") for v in X["item_text"]}
            | {request_text("", "", str(v)) for v in X["summary"]}
            | {request_text("", str(v), "") for v in X["claims_guideline"]}
        )
        self.vectorizer_ = CountVectorizer(
            binary=True,
            ngram_range=(1, 2),
            min_df=min(self.min_df, max(1, len(docs) // 4)),
            max_df=self.max_df if len(docs) >= 20 else 1.0,
            token_pattern=r"(?u)\b[a-z][a-z]+\b",
            lowercase=True,
            dtype=np.float64,
        )
        self.vectorizer_.fit(docs)

    def checklist(self, item: str, summary: str, guideline: str) -> tuple[Any, ...]:
        """The model's own checklist results for one request.

        Cached across instances (every fold, repeat and candidate of a training run builds a new model that checks
        the same requests again), keyed by the checklist function itself: a model restored with other (frozen)
        rules never meets another's results, and the key keeps the function alive, so its identity is not reused.
        """
        evaluate = self.definitions_.evaluate_checklist
        key = (evaluate, item, summary, guideline)
        found = _CHECKLISTS.get(key)
        if found is None:
            found = remember(_CHECKLISTS, key, tuple(evaluate(item, summary, guideline)), _CHECKLIST_CACHE_SIZE)
        return found

    def _category(self, item: str, given: str) -> str:
        # DWC requests carry no category: the view derives it from the item with the live rules. Re-derive it with
        # the model's own (frozen) rules, unless the request named a category of its own.
        from features.categories import categorize as live

        return str(self.definitions_.categorize(item)) if given in ("", "unknown", live(item)) else given

    def featurize(self, X: pd.DataFrame) -> Inputs:
        """Word, fact and flag indicators of each request (the view frame), and its category."""
        items = X["item_text"].astype(str).tolist()
        summaries = X["summary"].astype(str).tolist()
        guidelines = X["claims_guideline"].astype(str).tolist()
        texts = [request_text(a, c, b) for a, b, c in zip(items, summaries, guidelines, strict=True)]
        words = self.vectorizer_.transform(texts).tocsr()
        facts = np.zeros((len(X), len(self.fact_codes_)))
        flags = np.zeros((len(X), len(self.flag_codes_)))
        for i, (a, b, c) in enumerate(zip(items, summaries, guidelines, strict=True)):
            status = {r.code: r.status for r in self.checklist(a, b, c)}
            facts[i] = [status.get(code) == "passed" for code in self.fact_codes_]
            flags[i] = [status.get(code) == "missing" for code in self.flag_codes_]
        given = X["treatment_category"].astype(str).tolist()
        category = [self._category(a, g) for a, g in zip(items, given, strict=True)]
        return Inputs(words, facts, flags, category)

    def _category_matrix(self, categories: Sequence[str]) -> sp.csr_matrix:
        index = {c: j for j, c in enumerate(self.categories_)}
        rows = [i for i, c in enumerate(categories) if c in index]
        cols = [index[c] for c in categories if c in index]
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(categories), len(self.categories_)))

    def _head_matrix(self, inputs: Inputs) -> sp.csr_matrix:
        return sp.hstack(
            [
                inputs.words,
                sp.csr_matrix(inputs.facts[:, self.fact_columns_]),
                sp.csr_matrix(inputs.flags),
                self._category_matrix(inputs.category),
            ],
            format="csr",
        )

    # -- fitting -------------------------------------------------------------------------------------------------
    def _bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_words = len(self.vectorizer_.vocabulary_)
        n_facts, n_flags, n_cat = len(self.fact_columns_), len(self.flag_codes_), len(self.categories_)
        lower = np.concatenate([np.full(n_words + n_facts, -np.inf), np.zeros(n_flags), np.full(n_cat, -np.inf)])
        upper = np.concatenate([np.zeros(n_words + n_facts), np.full(n_flags, np.inf), np.full(n_cat, np.inf)])
        penalty = np.concatenate(
            [
                np.full(n_words, self.word_penalty),
                np.full(n_facts + n_flags, self.fact_penalty),
                np.full(n_cat, self.category_penalty),
            ]
        )
        return lower, upper, penalty

    def _fit_heads(self, F: sp.csr_matrix, R: np.ndarray, codes: list[str], start: _Heads | None = None) -> _Heads:
        lower, upper, penalty = self._bounds()
        coef = np.zeros((len(codes), F.shape[1]))
        rates = np.clip(R.mean(axis=0), 1e-3, 1 - 1e-3) if len(R) else np.full(len(codes), 0.5)
        intercept = np.asarray(np.log(rates / (1 - rates)), dtype=float).reshape(-1)
        fit = [k for k in range(len(codes)) if 0 < R[:, k].sum() < len(R)]
        if fit:
            init = None if start is None else (start.coef[fit].T, start.intercept[fit])
            beta, b = bounded_logistic(F, R[:, fit], lower, upper, penalty, init=init)
            coef[fit] = beta.T
            intercept[fit] = b
        return _Heads(codes, coef, intercept)

    def _priors(self, categories: Sequence[str], y: np.ndarray) -> tuple[dict[str, float], float]:
        from features.priors import load_published, shrunk_rate

        published = load_published()
        frame = pd.DataFrame({"c": list(categories), "y": y})
        stats = frame.groupby("c")["y"].agg(["sum", "count"])
        priors = {
            str(c): shrunk_rate(
                float(row["sum"]), float(row["count"]), published.rate_for(str(c)).upheld_rate, self.prior_strength
            )
            for c, row in stats.iterrows()
        }
        priors.update({c: published.rate_for(c).upheld_rate for c in self.definitions_.kinds if c not in priors})
        return priors, published.overall.upheld_rate

    def _fit_outcome(
        self, P: np.ndarray, inputs: Inputs, y: np.ndarray, heads: _Heads, priors: dict[str, float], default: float
    ) -> _Structure:
        design = np.hstack([P, inputs.facts[:, self.fact_columns_], inputs.flags])
        n_r, n_f, n_g = P.shape[1], len(self.fact_columns_), len(self.flag_codes_)
        lower = np.concatenate([np.zeros(n_r), np.full(n_f, -np.inf), np.zeros(n_g)])
        upper = np.concatenate([np.full(n_r, np.inf), np.zeros(n_f), np.full(n_g, np.inf)])
        offset = logit(np.array([priors.get(c, default) for c in inputs.category]))
        coef, b = bounded_logistic(design, y, lower, upper, np.full(design.shape[1], self.outcome_penalty), offset)
        beta = coef[:, 0]
        return _Structure(heads, beta[:n_r], beta[n_r : n_r + n_f], beta[n_r + n_f :], float(b[0]), priors, default)

    def _fit_structure(
        self, inputs: Inputs, y: np.ndarray, R: np.ndarray, groups: np.ndarray, start: _Heads | None = None
    ) -> _Structure:
        F = self._head_matrix(inputs)
        heads = self._fit_heads(F, R, self.codes_, start)
        # Out-of-fold reason probabilities for the outcome layer (grouped by case: case-mates share a summary).
        P = heads.proba(F)
        for train, test in inner_splits(y, groups, self.inner_folds, self.seed):
            P[test] = self._fit_heads(F[train], R[train], self.codes_, heads).proba(F[test])
        priors, default = self._priors(inputs.category, y)
        structure = self._fit_outcome(P, inputs, y, heads, priors, default)
        # Calibrate in the large to the base rate: the letters' rate shrunk toward the published one (hundreds of
        # thousands of decisions against a few hundred items). A shift of the intercept keeps every sign.
        target = (float(y.sum()) + self.base_rate_strength * default) / (len(y) + self.base_rate_strength)
        structure.intercept += shift_to_mean(self._score(structure, inputs, F)[0], target)
        structure.base_rate = target
        return structure

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> MonotoneReasonModel:
        from training.candidates import reason_matrix

        y_arr = np.asarray(y, dtype=int)
        g_arr = default_groups(X) if groups is None else np.asarray(groups)
        self.definitions_ = live_definitions()
        concepts = self.definitions_.concepts
        self.fact_codes_ = [c for c, row in concepts.items() if row["direction"] == "documents"]
        self.flag_codes_ = [c for c, row in concepts.items() if row["direction"] == "flags"]
        self._fit_vocabulary(X)
        inputs = self.featurize(X)
        passes = inputs.facts.sum(axis=0)
        # A fact that (almost) never passes in the training data is only a category flag in disguise: no weight.
        self.fact_columns_ = [j for j in range(len(self.fact_codes_)) if passes[j] >= self.min_fact_passes]
        self.categories_ = sorted(set(inputs.category))
        R_all, all_codes = reason_matrix(rationale, len(y_arr))
        counts = R_all.sum(axis=0)
        keep = [j for j in range(len(all_codes)) if counts[j] >= self.min_reason_count]
        self.codes_ = [all_codes[j] for j in keep]
        R = R_all[:, keep].astype(float)
        self.main_ = self._fit_structure(inputs, y_arr, R, g_arr)
        self.replicas_: list[_Structure] = []
        rng = np.random.default_rng(self.seed)
        cases, members = np.unique(g_arr, return_inverse=True)
        rows_of = [np.flatnonzero(members == c) for c in range(len(cases))]
        for _ in range(self.replicates):
            idx = np.concatenate([rows_of[c] for c in rng.integers(0, len(cases), len(cases))])
            if len(np.unique(y_arr[idx])) < 2:
                continue
            sub = Inputs(inputs.words[idx], inputs.facts[idx], inputs.flags[idx], [inputs.category[i] for i in idx])
            self.replicas_.append(self._fit_structure(sub, y_arr[idx], R[idx], g_arr[idx], self.main_.heads))
        return self

    # -- predicting ----------------------------------------------------------------------------------------------
    def _score(self, s: _Structure, inputs: Inputs, F: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        P = s.heads.proba(F)
        offset = logit(np.array([s.priors.get(c, s.default_prior) for c in inputs.category]))
        z = (
            offset
            + s.intercept
            + P @ s.reason_weight
            + inputs.facts[:, self.fact_columns_] @ s.fact_weight
            + inputs.flags @ s.flag_weight
        )
        return sigmoid(z), P

    def _stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """Every structure's reason heads as one matrix (main first), so scoring is one product for all of them."""
        stack = self.__dict__.get("_stack")
        if stack is None:
            structures = [self.main_, *self.replicas_]
            stack = (
                np.vstack([s.heads.coef for s in structures]),
                np.concatenate([s.heads.intercept for s in structures]),
            )
            self.__dict__["_stack"] = stack
        return stack

    def _outcome(self, s: _Structure, P: np.ndarray, inputs: Inputs, facts: np.ndarray) -> np.ndarray:
        offset = logit(np.array([s.priors.get(c, s.default_prior) for c in inputs.category]))
        z = (
            offset
            + s.intercept
            + P @ s.reason_weight
            + facts[:, self.fact_columns_] @ s.fact_weight
            + inputs.flags @ s.flag_weight
        )
        return sigmoid(z)

    def _head_logits(
        self, coef: np.ndarray, intercept: np.ndarray, inputs: Inputs, with_facts: bool = True, with_words: bool = True
    ) -> np.ndarray:
        """Reason-head logits of featurised requests, block by block (words sparse, the rest dense and small):
        the same as ``F @ coef.T + intercept`` over :meth:`_head_matrix`, without building it."""
        n_words, n_facts, n_flags = len(self.vectorizer_.vocabulary_), len(self.fact_columns_), len(self.flag_codes_)
        logits = np.tile(intercept, (len(inputs.category), 1))
        if with_words:
            logits += np.asarray(inputs.words @ coef[:, :n_words].T)
        if with_facts and n_facts:
            logits += inputs.facts[:, self.fact_columns_] @ coef[:, n_words : n_words + n_facts].T
        if n_flags:
            logits += inputs.flags @ coef[:, n_words + n_facts : n_words + n_facts + n_flags].T
        index = {c: j for j, c in enumerate(self.categories_)}
        start = n_words + n_facts + n_flags
        for i, c in enumerate(inputs.category):
            if c in index:
                logits[i] += coef[:, start + index[c]]
        return logits

    def score_inputs(self, inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """p(upheld), its 95 % interval (low, high) and the reason probabilities, from featurised requests."""
        coef, intercept = self._stacked()
        heads = sigmoid(self._head_logits(coef, intercept, inputs))
        r = len(self.codes_)
        structures = [self.main_, *self.replicas_]
        scores = [
            self._outcome(s, heads[:, k * r : (k + 1) * r], inputs, inputs.facts) for k, s in enumerate(structures)
        ]
        p, P = scores[0], heads[:, :r]
        if len(scores) > 1:
            low, high = np.percentile(np.vstack(scores[1:]), [2.5, 97.5], axis=0)
            low, high = np.minimum(low, p), np.maximum(high, p)
        else:
            low, high = p.copy(), p.copy()
        return p, low, high, P

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return logit(self.predict_proba(X)[:, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.score_inputs(self.featurize(X))[0]
        return np.column_stack([1 - p, p])

    def predict_reasons(self, X: pd.DataFrame) -> pd.DataFrame:
        P = self.score_inputs(self.featurize(X))[3]
        return pd.DataFrame(P, columns=self.codes_, index=X.index)

    def prior_of(self, category: str) -> float:
        """The category's prior: the letters' upheld rate shrunk toward the published rate."""
        return float(self.main_.priors.get(category, self.main_.default_prior))

    @property
    def base_rate(self) -> float:
        """The base rate the estimate is calibrated to (letters shrunk toward the published rate)."""
        return float(self.main_.base_rate)

    # -- explaining ----------------------------------------------------------------------------------------------
    def explain(self, X: pd.DataFrame) -> list[dict[str, Any]]:
        """Per request: the estimate with its interval, prior and base rate, reasons, checklist, ranked fixes,
        attributions in words and what a reviewer would need but the request lacks (see :func:`_explain_row`)."""
        inputs = self.featurize(X)
        p, low, high, P = self.score_inputs(inputs)
        items = X["item_text"].astype(str).tolist()
        summaries = X["summary"].astype(str).tolist()
        guidelines = X["claims_guideline"].astype(str).tolist()
        out = []
        for i in range(len(X)):
            row = Inputs(inputs.words[i], inputs.facts[i : i + 1], inputs.flags[i : i + 1], [inputs.category[i]])
            checks = self.checklist(items[i], summaries[i], guidelines[i])
            result = self._explain_row(row, checks, float(p[i]), float(low[i]), float(high[i]), P[i])
            result["cannot_judge"] = self._cannot_judge(items[i], inputs.category[i])
            out.append(result)
        return out

    def _cannot_judge(self, item: str, category: str) -> list[str]:
        """Why the model cannot judge an item at all (gibberish, or an item unlike anything it was trained on)."""
        if category != OTHER_CATEGORY:
            return []
        known = int(self.vectorizer_.transform([request_text(item, "", "")]).sum())
        if known == 0 or len(set(item.lower().split())) < 2:
            return [CANNOT_JUDGE]
        return []

    def _variants(self, row: Inputs, facts: list[np.ndarray], words_off: bool = False) -> np.ndarray:
        """p(upheld) of the row with each given fact vector (optionally with every word indicator off).

        Only the facts change between variants: the heads' logits are the row's logits without its facts plus the
        facts' own terms, so no sparse matrix is rebuilt per variant.
        """
        s = self.main_
        n_words = len(self.vectorizer_.vocabulary_)
        kept = self.fact_columns_
        fact_coef = s.heads.coef[:, n_words : n_words + len(kept)]
        logits = self._head_logits(s.heads.coef, s.heads.intercept, row, with_facts=False, with_words=not words_off)[0]
        stacked = np.vstack(facts)
        P = sigmoid(logits[None, :] + stacked[:, kept] @ fact_coef.T)
        batch = Inputs(row.words, stacked, np.repeat(row.flags, len(facts), axis=0), row.category * len(facts))
        return self._outcome(s, P, batch, stacked)

    def _explain_row(
        self, row: Inputs, checks: Sequence[Any], p: float, low: float, high: float, reasons: np.ndarray
    ) -> dict[str, Any]:
        d = self.definitions_
        status = {c.code: c.status for c in checks}
        notes = {c.code: c.note for c in checks}
        base = row.facts[0]
        index = {code: j for j, code in enumerate(self.fact_codes_)}
        # Fixes: every missing check an office can satisfy by writing; its effect is that fact switched on.
        fixable = [c.code for c in checks if c.status == "missing" and c.code in d.concepts]
        documented = [code for code in self.fact_codes_ if status.get(code) == "passed"]
        scored = self._variants(row, list(fact_variants(base, index, fixable, documented)))
        p_fix, p_all = scored[: len(fixable)], float(scored[len(fixable)])
        p_without = scored[len(fixable) + 1 : len(fixable) + 1 + len(documented)]
        p_no_words = float(self._variants(row, [base], words_off=True)[0])
        changing = weighted_facts(self.fact_codes_, self.fact_columns_)
        fixes = fix_rows(fixable, p_fix, p, d.titles, d.concepts, d.advice, notes, changing)
        attributions = explained_attributions(
            d.titles, self.flag_codes_, p, fixes, documented, p_without, p_no_words, status
        )
        kind = d.kinds.get(row.category[0])
        needs = [code for code in d.needs.get(kind or "", []) if status.get(code) == "missing"]
        return {
            "p_upheld": p,
            "p_low": low,
            "p_high": high,
            "prior": self.prior_of(row.category[0]),
            "base_rate": self.base_rate,
            "category": row.category[0],
            "reasons": reason_rows(self.codes_, d.reasons, reasons),
            "checklist": checklist_rows(checks, d.advice),
            "fixes": fixes,
            "p_all_fixed": min(p_all, p),
            "attributions": attributions,
            "needs_missing": needs,
        }

    # -- the compiled inference form -----------------------------------------------------------------------------
    def compiled(self) -> CompiledModel:
        """This fitted model as data (``features.compiled``): what the registered model serves with.

        Its answers equal :meth:`explain`'s to rounding (``tests/model/test_compiled.py`` checks every real item);
        the checklist and category rules stay the model's own frozen functions, handed over here.
        """
        from training.monotone_compiled import compile_model

        return compile_model(self)
