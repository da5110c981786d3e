"""The coherent estimate (training.monotone): bounded fits, signs by construction, frozen definitions."""

from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from features import checklist
from features.view import view_frame
from tests.synthetic_items import write_items
from training.bounded_logistic import bounded_logistic
from training.coherence import coherence, estimator_scorer
from training.monotone import MonotoneReasonModel

pytestmark = pytest.mark.model


def test_unbounded_fit_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(300, 12)).astype(float)
    y = (X[:, 0] - X[:, 1] + rng.normal(0, 0.7, 300) > 0).astype(float)
    d = X.shape[1]
    beta, b = bounded_logistic(
        sp.csr_matrix(X), y, np.full(d, -np.inf), np.full(d, np.inf), np.ones(d), max_iter=20000, tol=1e-9
    )
    reference = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(beta[:, 0], reference.coef_[0], atol=2e-3)
    np.testing.assert_allclose(b[0], reference.intercept_[0], atol=2e-3)


def test_bounds_hold_and_bind() -> None:
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(200, 6)).astype(float)
    y = (X[:, 0] + rng.normal(0, 0.5, 200) > 0.5).astype(float)  # feature 0 pushes y up
    d = X.shape[1]
    beta, _ = bounded_logistic(sp.csr_matrix(X), y, np.full(d, -np.inf), np.zeros(d), np.ones(d))
    assert (beta <= 0).all()
    assert beta[0, 0] == 0.0  # wanted a positive weight, held at the bound


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    path = tmp_path_factory.mktemp("items") / "items.parquet"
    write_items(path, cases=60, dmhc_rows=0)
    table = pd.read_parquet(path)
    table = table[table["jurisdiction"] == "dwc"].reset_index(drop=True)
    y = (table["determination"] == "Upheld").to_numpy(dtype=int)
    return view_frame(table), y, table["case_id"].to_numpy(), table["rationale"].fillna("").to_numpy(dtype=object)


@pytest.fixture(scope="module")
def fitted(synthetic: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]) -> MonotoneReasonModel:
    X, y, groups, rationale = synthetic
    return MonotoneReasonModel(min_df=1, min_fact_passes=1, replicates=3).fit(X, y, groups, rationale)


def test_every_weight_has_its_sign(fitted: MonotoneReasonModel) -> None:
    s = fitted.main_
    n_words, n_facts = len(fitted.vectorizer_.vocabulary_), len(fitted.fact_columns_)
    n_flags = len(fitted.flag_codes_)
    assert (s.heads.coef[:, : n_words + n_facts] <= 0).all()  # words and documented facts lower each reason
    assert (s.heads.coef[:, n_words + n_facts : n_words + n_facts + n_flags] >= 0).all()  # flags raise it
    assert (s.reason_weight >= 0).all() and (s.fact_weight <= 0).all() and (s.flag_weight >= 0).all()
    for replica in fitted.replicas_:
        assert (replica.reason_weight >= 0).all() and (replica.fact_weight <= 0).all()


def test_estimates_come_with_intervals_and_explanations(
    fitted: MonotoneReasonModel, synthetic: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]
) -> None:
    X = synthetic[0].head(10)
    rows = fitted.explain(X)
    assert len(rows) == 10
    for row in rows:
        assert 0 <= row["p_low"] <= row["p_upheld"] <= row["p_high"] <= 1
        assert row["p_all_fixed"] <= row["p_upheld"] + 1e-12
        assert all(f["p_after"] <= row["p_upheld"] + 1e-12 for f in row["fixes"])
        assert 0 < row["prior"] < 1 and 0 < row["base_rate"] < 1
        assert {c["status"] for c in row["checklist"]} <= {"passed", "missing"}


def test_synthetic_items_are_coherent(
    fitted: MonotoneReasonModel, synthetic: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]
) -> None:
    result = coherence(estimator_scorer(fitted), synthetic[0].to_dict(orient="records"))
    assert result.fixes_tested > 0 and result.summaries_dropped > 0
    assert result.passed, result.describe() + "; " + "; ".join(result.examples)


PROBE = (
    "Physical therapy lumbar spine, 6 sessions",
    "The patient completed 6 sessions of physical therapy with improved function and increased range of motion.",
    "MTUS",
)


def _status(results: list[checklist.CheckResult] | tuple[checklist.CheckResult, ...], code: str) -> str:
    return next(r.status for r in results if r.code == code)


def test_a_registered_model_keeps_its_definitions_when_the_code_changes(
    fitted: MonotoneReasonModel,
    synthetic: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X = synthetic[0]
    probe = view_frame(
        [{"jurisdiction": "dwc", "item_text": PROBE[0], "summary": PROBE[1], "claims_guideline": PROBE[2]}]
    )
    saved = pickle.dumps(fitted)  # what the logged model stores
    before, before_probe = fitted.predict_proba(X)[:, 1], fitted.predict_proba(probe)[:, 1]
    assert _status(checklist.evaluate_checklist(*PROBE), "prior_treatment_outcome") == "passed"
    # A rule changes after registration: nothing counts as a documented functional improvement any more.
    never = re.compile(r"(?!x)x")
    rows = tuple(replace(c, pattern=never) if c.code == "prior_treatment_outcome" else c for c in checklist.CHECKS)
    monkeypatch.setattr(checklist.registry, "CHECKS", rows)
    assert _status(checklist.evaluate_checklist(*PROBE), "prior_treatment_outcome") == "missing"
    restored = pickle.loads(saved)
    assert _status(restored.checklist(*PROBE), "prior_treatment_outcome") == "passed"
    np.testing.assert_allclose(restored.predict_proba(X)[:, 1], before, atol=1e-12)
    np.testing.assert_allclose(restored.predict_proba(probe)[:, 1], before_probe, atol=1e-12)


def test_a_check_that_never_passes_gets_no_weight(
    synthetic: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, groups, rationale = synthetic
    model = MonotoneReasonModel(min_df=1, min_fact_passes=10_000).fit(X, y, groups, rationale)
    assert model.fact_columns_ == [] and model.main_.fact_weight.size == 0


def test_pickled_model_file_round_trips(fitted: MonotoneReasonModel, tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "m.joblib"
    joblib.dump(fitted, path, compress=3)
    restored = joblib.load(path)
    X = pd.DataFrame(
        [
            {
                "item_text": "Physical therapy lumbar spine",
                "summary": "",
                "claims_guideline": "",
                "jurisdiction": "dwc",
                "treatment_category": "unknown",
            }
        ]
    )
    frame = view_frame(X)
    np.testing.assert_allclose(restored.predict_proba(frame), fitted.predict_proba(frame))


def test_fast_paths_equal_the_plain_computation(
    fitted: MonotoneReasonModel, synthetic: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]
) -> None:
    from training.monotone import Inputs

    inputs = fitted.featurize(synthetic[0].head(12))
    p, low, high, _ = fitted.score_inputs(inputs)
    F = fitted._head_matrix(inputs)
    np.testing.assert_allclose(p, fitted._score(fitted.main_, inputs, F)[0], atol=1e-12)
    replicas = np.vstack([fitted._score(s, inputs, F)[0] for s in fitted.replicas_])
    np.testing.assert_allclose(low, np.minimum(np.percentile(replicas, 2.5, axis=0), p), atol=1e-12)
    np.testing.assert_allclose(high, np.maximum(np.percentile(replicas, 97.5, axis=0), p), atol=1e-12)
    for i in range(12):
        row = Inputs(inputs.words[i], inputs.facts[i : i + 1], inputs.flags[i : i + 1], [inputs.category[i]])
        variants = [np.ones_like(row.facts[0]), np.zeros_like(row.facts[0])]
        fast = fitted._variants(row, variants)
        for f, value in zip(variants, fast, strict=True):
            plain = Inputs(row.words, f[None, :], row.flags, row.category)
            assert value == pytest.approx(
                fitted._score(fitted.main_, plain, fitted._head_matrix(plain))[0][0], abs=1e-12
            )
