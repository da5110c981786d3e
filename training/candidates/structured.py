"""The DMHC structured model: categorical columns and crosses, plus summary TF-IDF when there is enough."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from features.view import CATEGORY_COLUMNS
from training.candidates.base import (
    TwoStage,
    _logit,
    _text_column,
    mask_text,
)

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
