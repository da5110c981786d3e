"""Every candidate kind fits on the view frame and returns calibrated-looking probabilities (synthetic data)."""

from __future__ import annotations

import pickle
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from features.view import view_frame
from tests.synthetic_items import synthetic_items
from training.candidates import (
    _EMBEDDING_CACHE,
    Calibrated,
    MiniLMModel,
    ReasonHead,
    WithReasons,
    build_candidate,
    embed_texts,
)
from training.config import (
    DmhcCandidate,
    LeakageCeilingCandidate,
    PriorCandidate,
    RationaleSupervisedCandidate,
    TextFeatures,
    TfidfLRCandidate,
)
from training.evaluate import roc_auc

pytestmark = pytest.mark.model

SMALL_TEXT = TextFeatures(char_ngrams=None, min_df=1, max_features=2000)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    items = synthetic_items(cases=60, dmhc_rows=200)
    X = view_frame(items)
    y = np.array([i.label for i in items])
    groups = np.array([i.case_id for i in items])
    rationale = np.array([i.rationale or "" for i in items], dtype=object)
    return X, y, groups, rationale


def _split(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cases = sorted(set(groups))
    test_cases = set(cases[::3])
    test = np.array([g in test_cases for g in groups])
    return np.flatnonzero(~test), np.flatnonzero(test)


@pytest.mark.parametrize(
    "spec",
    [
        PriorCandidate(name="prior"),
        TfidfLRCandidate(name="tfidf", text=SMALL_TEXT, calibration_folds=2),
        RationaleSupervisedCandidate(name="rs", text=SMALL_TEXT, min_reason_count=2, stack_folds=2),
        LeakageCeilingCandidate(name="ceiling", calibration_folds=2),
    ],
    ids=lambda s: s.kind,
)
def test_dwc_candidates_learn_the_synthetic_signal(spec: object, data: tuple[Any, ...]) -> None:
    X, y, groups, rationale = data
    dwc = (X["jurisdiction"] == "dwc").to_numpy()
    X, y, groups, rationale = X[dwc].reset_index(drop=True), y[dwc], groups[dwc], rationale[dwc]
    train, test = _split(groups)
    model = build_candidate(spec, seed=0).fit(X.iloc[train], y[train], groups[train], rationale[train])  # type: ignore[arg-type]
    kwargs = {"rationale": rationale[test]} if model.uses_rationale_at_predict else {}
    p = model.predict_proba(X.iloc[test], **kwargs)
    assert p.shape == (len(test), 2) and np.allclose(p.sum(axis=1), 1)
    assert roc_auc(y[test], p[:, 1]) > 0.7
    restored = pickle.loads(pickle.dumps(model))  # what joblib does inside the logged model
    assert np.allclose(restored.predict_proba(X.iloc[test], **kwargs), p)


def test_rationale_supervised_needs_rationales_and_exposes_reasons(data: tuple[Any, ...]) -> None:
    X, y, groups, rationale = data
    spec = RationaleSupervisedCandidate(name="rs", text=SMALL_TEXT, min_reason_count=2, stack_folds=2)
    with pytest.raises(ValueError, match="rationales"):
        build_candidate(spec).fit(X, y, groups)
    model = build_candidate(spec).fit(X, y, groups, rationale)
    reasons = model.predict_reasons(X.head(3))
    assert reasons is not None and reasons.shape[0] == 3
    assert {"no_functional_improvement", "quantity_unspecified"} <= set(reasons.columns)
    assert ((reasons >= 0) & (reasons <= 1)).all().all()


def test_reason_head_explains_without_changing_probabilities(data: tuple[Any, ...]) -> None:
    X, y, groups, rationale = data
    dwc = (X["jurisdiction"] == "dwc").to_numpy()
    X, y, groups, rationale = X[dwc].reset_index(drop=True), y[dwc], groups[dwc], rationale[dwc]
    model = build_candidate(TfidfLRCandidate(name="t", text=SMALL_TEXT, calibration_folds=2)).fit(X, y, groups)
    assert model.predict_reasons(X) is None
    explained = WithReasons(model, ReasonHead(min_reason_count=2).fit(X, rationale))
    assert np.array_equal(explained.predict_proba(X), model.predict_proba(X))
    reasons = explained.predict_reasons(X.head(2))
    assert reasons is not None and "no_functional_improvement" in reasons.columns
    no_rationales = ReasonHead().fit(X, np.array([""] * len(X), dtype=object))
    assert no_rationales.predict_reasons(X) is None


@pytest.mark.parametrize("model", ["lr", "gbm"])
def test_dmhc_structured_model(model: Literal["lr", "gbm"], data: tuple[Any, ...]) -> None:
    X, y, groups, _ = data
    dmhc = (X["jurisdiction"] == "dmhc").to_numpy()
    X, y, groups = X[dmhc].reset_index(drop=True), y[dmhc], groups[dmhc]
    spec = DmhcCandidate(
        name="dmhc",
        model=model,
        min_frequency=1,
        max_iter=20,
        calibration_folds=2,
        crosses=[("treatment_category", "age_range")],
    )
    fitted = build_candidate(spec).fit(X.iloc[:150], y[:150], groups[:150])
    p = fitted.predict_proba(X.iloc[150:])[:, 1]
    assert roc_auc(y[150:], p) > 0.9
    unseen = X.iloc[150:151].assign(treatment_subcategory="never seen before")
    assert 0 <= fitted.predict_proba(unseen)[0, 1] <= 1


def test_dmhc_ignores_a_few_one_label_summaries(data: tuple[Any, ...]) -> None:
    X, y, _, _ = data
    dmhc = (X["jurisdiction"] == "dmhc").to_numpy()
    X, y = X[dmhc].reset_index(drop=True), y[dmhc]
    X.loc[y == 1, "summary"] = "a summary only upheld rows have"
    fitted = build_candidate(DmhcCandidate(name="d", min_frequency=1, calibration_folds=2)).fit(X, y)
    assert fitted.base_.featurizer_.vectorizer_ is None  # text would only teach "has a summary"


def test_minilm_embeddings_are_cached_and_the_model_fits(data: tuple[Any, ...]) -> None:
    X, y, groups, _ = data
    dwc = (X["jurisdiction"] == "dwc").to_numpy()
    X, y, groups = X[dwc].reset_index(drop=True).head(24), y[dwc][:24], groups[dwc][:24]
    _EMBEDDING_CACHE.clear()
    first = embed_texts(["a short text", "another text"], max_length=32)
    assert first.shape == (2, 384) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-4)
    cached = len(_EMBEDDING_CACHE)
    assert np.array_equal(embed_texts(["another text"], max_length=32)[0], first[1]) and len(_EMBEDDING_CACHE) == cached
    model = Calibrated(MiniLMModel(fields=("item_text",), max_length=32, windows=1, C=1.0), folds=2)
    model.fit(X, y, groups)
    p = model.predict_proba(X)[:, 1]
    assert p.shape == (24,) and ((p > 0) & (p < 1)).all()


@pytest.mark.slow
def test_minilm_fine_tuning_runs_and_survives_pickling(data: tuple[Any, ...]) -> None:
    X, y, _, _ = data
    dwc = (X["jurisdiction"] == "dwc").to_numpy()
    X, y = X[dwc].reset_index(drop=True).head(8), y[dwc][:8]
    model = MiniLMModel(
        fields=("item_text",), max_length=16, windows=1, fine_tune=True, fine_tune_epochs=1, batch_size=4
    ).fit(X, y)
    assert model.featurizer_.tuned_state_ is not None
    restored = pickle.loads(pickle.dumps(model))  # what joblib does inside the logged model
    assert np.allclose(restored.predict_proba(X), model.predict_proba(X), atol=1e-5)
