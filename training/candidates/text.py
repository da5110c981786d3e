"""TF-IDF text features (with the documentation checklist) and the TF-IDF + logistic regression candidate."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import OneHotEncoder

from training.candidates.base import (
    TwoStage,
    _text_column,
    mask_text,
    sparse_lr,
)
from training.config import (
    TextFeatures,
)


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
