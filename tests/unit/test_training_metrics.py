"""Metrics, calibration error and the case bootstrap on inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.evaluate import (
    Estimate,
    average_precision,
    balanced_accuracy,
    brier,
    ece,
    metric_values,
    operating_threshold,
    paired_difference,
    pr_auc_overturned,
    roc_auc,
    slices,
    summarize,
)

pytestmark = pytest.mark.unit


def test_roc_auc_known_values() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5  # a tie counts half
    assert np.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_and_average_precision_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 1)  # rounding creates ties
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert average_precision(y, p) == pytest.approx(average_precision_score(y, p))
    assert pr_auc_overturned(y, p) == pytest.approx(average_precision_score(1 - y, 1 - p))


def test_brier_and_balanced_accuracy() -> None:
    y = np.array([1, 1, 0, 0])
    assert brier(y, np.array([1.0, 1.0, 0.0, 0.0])) == 0.0
    assert brier(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.25
    assert balanced_accuracy(y, np.array([1, 1, 1, 1])) == 0.5
    assert balanced_accuracy(y, np.array([1, 0, 0, 0])) == 0.75


def test_ece_known_values() -> None:
    # Perfectly calibrated within each bin: 0.
    y = np.array([1, 0, 1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 0.05, 0.05, 0.05, 0.05])
    assert ece(y, p, bins=10) == pytest.approx(0.02)  # only the 0.05 bin is off, by 0.05, for 4 of 10 items
    # Constant 0.9 on a 50 % base rate: off by 0.4 everywhere.
    assert ece(np.array([1, 0] * 10), np.full(20, 0.9)) == pytest.approx(0.4)
    assert ece(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0  # p = 1.0 falls in the last bin, not past it


def test_operating_threshold() -> None:
    assert operating_threshold(np.array([1, 1, 1, 0]), "prevalence") == 0.75
    assert operating_threshold(np.array([1, 0]), 0.3) == 0.3


def test_summarize_bootstrap_is_deterministic_and_brackets_the_value() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    p = np.clip(y * 0.3 + rng.random(120) * 0.7, 0, 1)
    P = np.vstack([p, np.clip(p + rng.normal(0, 0.02, 120), 0, 1)])
    L = (P >= 0.5).astype(int)
    groups = np.repeat(np.arange(40), 3)
    a = summarize(y, P, L, groups, n_boot=200, seed=1)
    b = summarize(y, P, L, groups, n_boot=200, seed=1)
    assert a == b
    for name in ("roc_auc", "brier"):  # ECE is biased upward under resampling: its point may sit below the interval
        assert a[name].low <= a[name].value <= a[name].high, name
    point = summarize(y, P, L, groups, n_boot=0)
    assert np.isnan(point["roc_auc"].low)
    assert point["roc_auc"].value == pytest.approx(np.mean([roc_auc(y, P[0]), roc_auc(y, P[1])]))


def test_bootstrap_resamples_whole_cases() -> None:
    # Every case has one upheld and one overturned item scored perfectly: any resample of cases keeps AUC 1;
    # a resample of items could draw a single label and give NaN, which would drop out of the interval.
    y = np.tile([1, 0], 30)
    p = np.tile([0.9, 0.1], 30)
    groups = np.repeat(np.arange(30), 2)
    est = summarize(y, p[None, :], (p >= 0.5)[None, :].astype(int), groups, n_boot=100)["roc_auc"]
    assert (est.value, est.low, est.high) == (1.0, 1.0, 1.0)


def test_paired_difference() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100)
    good = y * 0.6 + rng.random(100) * 0.4
    noise = rng.random(100)
    diff = paired_difference(y, good[None, :], noise[None, :], np.arange(100), n_boot=200)
    assert diff.value == pytest.approx(roc_auc(y, good) - roc_auc(y, noise))
    assert diff.low > 0


def test_metric_values_and_slices() -> None:
    y = np.array([1, 0, 1, 0, 1, 1])
    p = np.array([0.9, 0.2, 0.8, 0.4, 0.6, 0.7])
    values = metric_values(y, p, (p >= 0.5).astype(int))
    assert values["roc_auc"] == 1.0 and values["balanced_accuracy"] == 1.0
    table = slices(y, p, (p >= 0.5).astype(int), ["A", "A", "A", "B", "B", "C"], min_size=2)
    assert set(table["treatment_category"]) == {"A", "B", "(smaller categories)"}
    assert table["items"].sum() == 6


def test_estimate_format() -> None:
    assert Estimate(0.5, 0.4, 0.6).format() == "0.500 [0.400, 0.600]"
    assert Estimate(0.5, float("nan"), float("nan")).format() == "0.500"


@pytest.mark.parametrize("seed", [0, 7])
def test_case_resamples_equal_the_per_case_concatenation(seed: int) -> None:
    from training.evaluate import case_resamples

    groups = np.random.default_rng(seed).choice(np.array(["a", "b", "c", "d", "e", "f"]), size=40)
    codes, members = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(members == c) for c in range(len(codes))]
    rng = np.random.default_rng(seed)  # the definition: cases drawn with replacement, each with all its rows
    expected = [np.concatenate([rows_of[c] for c in rng.integers(0, len(codes), len(codes))]) for _ in range(25)]
    got = list(case_resamples(groups, 25, seed))
    assert len(got) == 25
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_array_equal(want, have)
