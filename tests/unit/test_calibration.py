"""Platt calibration on grouped inner folds: probabilities that match observed rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.candidates import Calibrated, ImrEstimator, PriorModel, default_groups
from training.evaluate import ece

pytestmark = pytest.mark.unit


class Overconfident(ImrEstimator):
    """A ranker whose raw probabilities are far too extreme: p = sigmoid(5 * score)."""

    def fit(self, X: pd.DataFrame, y: object, groups: object = None, rationale: object = None) -> Overconfident:
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return 5.0 * X["score"].to_numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 + 0.8 * score)))).astype(int)  # about 80 % positive
    X = pd.DataFrame({"score": score, "summary": [f"case {i // 2}" for i in range(n)], "treatment_category": "x"})
    return X, y


def test_platt_fixes_overconfident_scores() -> None:
    X, y = _data(2000, 0)
    X_test, y_test = _data(2000, 1)
    raw = Overconfident().fit(X, y).predict_proba(X_test)[:, 1]
    calibrated = Calibrated(Overconfident(), folds=3).fit(X, y).predict_proba(X_test)[:, 1]
    assert ece(y_test, calibrated) < 0.03 < ece(y_test, raw)
    # Calibration is monotone: the ranking (and so ROC-AUC) is unchanged.
    assert np.array_equal(np.argsort(raw, kind="stable"), np.argsort(calibrated, kind="stable"))


def test_calibration_needs_enough_cases_else_keeps_base_probabilities() -> None:
    X, y = _data(6, 2)
    y = np.array([1, 1, 1, 1, 1, 0])
    model = Calibrated(Overconfident(), folds=3).fit(X, y)
    assert model.platt_ is None
    assert np.allclose(model.predict_proba(X), Overconfident().predict_proba(X))


def test_default_groups_follow_the_summary() -> None:
    X = pd.DataFrame({"summary": ["a", "a", "", "b", ""]})
    g = default_groups(X)
    assert g[0] == g[1] and g[0] != g[3]
    assert g[2] != g[4]  # rows without a summary are their own case


def test_prior_is_smoothed_toward_the_overall_rate() -> None:
    X = pd.DataFrame({"treatment_category": ["A"] * 10 + ["B"] * 2})
    y = np.array([1] * 10 + [0, 0])
    model = PriorModel(smoothing=2.0).fit(X, y)
    overall = 10 / 12
    assert model.rates_["A"] == pytest.approx((10 + 2 * overall) / 12)
    assert model.rates_["B"] == pytest.approx((0 + 2 * overall) / 4)
    unseen = model.predict_proba(pd.DataFrame({"treatment_category": ["C"]}))[0, 1]
    assert unseen == pytest.approx(overall)
