"""Rationale-supervised candidates (reason heads trained on the reviewer's reasons) and the leakage ceiling."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from training.candidates.base import (
    ImrEstimator,
    TwoStage,
    _logit,
    sparse_lr,
)
from training.candidates.text import TextFeaturizer
from training.splits import inner_splits

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
