"""The common estimator interface of every candidate, shared helpers, and the prior baselines.

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

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from features.view import model_text
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
        from training.bounded_logistic import shift_to_mean

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
        self.shift_ = shift_to_mean(self.predict_proba(X)[:, 1], self.base_rate_)
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
