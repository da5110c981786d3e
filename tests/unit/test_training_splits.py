"""Splits: no case on both sides, stratified, deterministic; temporal split keeps time order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.splits import grouped_cv, inner_splits, max_folds, temporal_split

pytestmark = pytest.mark.unit


def _data(cases: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, cases)
    groups = np.repeat([f"C{i:03d}" for i in range(cases)], sizes)
    case_label = (rng.random(cases) < 0.8).astype(int)
    y = np.repeat(case_label, sizes)
    return y, groups


def test_no_case_straddles_train_and_test() -> None:
    y, groups = _data()
    folds = grouped_cv(y, groups, folds=5, repeats=3, seed=1)
    assert len(folds) == 15
    for f in folds:
        assert not set(groups[f.train]) & set(groups[f.test])
        assert len(f.train) + len(f.test) == len(y)


def test_every_row_is_tested_once_per_repeat() -> None:
    y, groups = _data()
    folds = grouped_cv(y, groups, folds=4, repeats=2, seed=0)
    for repeat in range(2):
        tested = np.concatenate([f.test for f in folds if f.repeat == repeat])
        assert sorted(tested.tolist()) == list(range(len(y)))


def test_folds_are_stratified() -> None:
    y, groups = _data(cases=100)
    overall = y.mean()
    for f in grouped_cv(y, groups, folds=5, repeats=1, seed=2):
        assert set(np.unique(y[f.test])) == {0, 1}
        assert abs(y[f.test].mean() - overall) < 0.15


def test_deterministic_and_repeats_differ() -> None:
    y, groups = _data()
    a = grouped_cv(y, groups, folds=5, repeats=2, seed=7)
    b = grouped_cv(y, groups, folds=5, repeats=2, seed=7)
    assert all(np.array_equal(x.test, z.test) for x, z in zip(a, b, strict=True))
    first = [f.test.tolist() for f in a if f.repeat == 0]
    second = [f.test.tolist() for f in a if f.repeat == 1]
    assert first != second


def test_too_few_cases_of_a_label_is_a_clear_error() -> None:
    y = np.array([1, 1, 1, 0, 1, 1])
    groups = np.array(["a", "b", "c", "d", "e", "f"])
    assert max_folds(y, groups) == 1
    with pytest.raises(ValueError, match="rarer label"):
        grouped_cv(y, groups, folds=2)
    with pytest.raises(ValueError, match="both labels"):
        grouped_cv(np.ones(4, dtype=int), groups[:4], folds=2)


def test_inner_splits_shrink_to_what_the_data_allows() -> None:
    y = np.array([1, 1, 1, 1, 0, 0])
    groups = np.array(["a", "b", "c", "d", "e", "f"])
    splits = inner_splits(y, groups, folds=5)
    assert len(splits) == 2
    assert inner_splits(np.array([1, 1, 0]), np.array(["a", "b", "c"]), folds=3) == []


def test_temporal_split_by_date_keeps_cases_whole_and_later_in_test() -> None:
    dates = pd.to_datetime(["2016-12-01", "2016-12-01", "2017-01-05", "2017-01-20", "2017-02-01", "2017-02-15"])
    table = pd.DataFrame({"case_id": ["a", "a", "b", "c", "d", "e"], "decision_date": dates, "report_year": 2017})
    train, test = temporal_split(table, test_fraction=0.34)
    assert set(table.case_id[train]) & set(table.case_id[test]) == set()
    assert table.decision_date[train].max() < table.decision_date[test].min()


def test_temporal_split_falls_back_to_years_and_never_splits_a_year() -> None:
    table = pd.DataFrame(
        {"case_id": [f"c{i}" for i in range(10)], "decision_date": pd.NaT, "report_year": [2010] * 4 + [2011] * 6}
    )
    train, test = temporal_split(table, test_fraction=0.3)
    assert set(table.report_year[train]) == {2010}
    assert set(table.report_year[test]) == {2011}
    with pytest.raises(ValueError, match="single point in time"):
        temporal_split(table.assign(report_year=2010))


def test_inner_splits_are_kept_read_only_and_equal_a_fresh_split() -> None:
    from training.splits import _make_inner_splits

    rng = np.random.default_rng(3)
    groups = np.array([f"case{i // 2}" for i in range(60)])
    y = np.repeat(rng.integers(0, 2, 30), 2)
    first, again = inner_splits(y, groups, folds=3, seed=5), inner_splits(y, groups, folds=3, seed=5)
    fresh = _make_inner_splits(y, groups, 3, 5)
    assert len(first) == len(fresh) == 3
    for (a_train, a_test), (b_train, _), (c_train, c_test) in zip(first, again, fresh, strict=True):
        np.testing.assert_array_equal(a_train, c_train)
        np.testing.assert_array_equal(a_test, c_test)
        assert b_train is a_train and not a_train.flags.writeable
    other = inner_splits(y, groups, folds=3, seed=6)  # another seed: its own splits
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))
