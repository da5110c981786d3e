"""Splits that never put one case on both sides, so items sharing a letter's summary cannot vouch for each other.

Every split is a list of ``(train_positions, test_positions)`` over the rows of the item table, computed once
per run and reused for every candidate, so candidates (and the current champion's configuration) are compared
on exactly the same folds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from features.memo import remember

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Fold:
    """One train/test split of one repeat of cross-validation."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def max_folds(y: Sequence[int] | np.ndarray, groups: Sequence[str] | np.ndarray) -> int:
    """The most folds a grouped stratified split can have: each fold needs a case of the rarer class."""
    y_arr, g_arr = np.asarray(y), np.asarray(groups)
    per_class = [len(set(g_arr[y_arr == label])) for label in np.unique(y_arr)]
    return min(per_class) if per_class else 0


def grouped_cv(
    y: Sequence[int] | np.ndarray,
    groups: Sequence[str] | np.ndarray,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
) -> list[Fold]:
    """Repeated stratified K-fold, grouped by case: repeat ``r`` shuffles with seed ``seed + r``.

    Raises ValueError when there are fewer cases of a class than folds (a fold would miss that class).
    """
    y_arr, g_arr = np.asarray(y), np.asarray(groups)
    if len(np.unique(y_arr)) < 2:
        raise ValueError("cross-validation needs both labels in the data; found only one")
    possible = max_folds(y_arr, g_arr)
    if folds < 2 or folds > possible:
        raise ValueError(f"{folds} folds asked, but the rarer label appears in only {possible} case(s)")
    out: list[Fold] = []
    for repeat in range(repeats):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(len(y_arr)), y_arr, g_arr)):
            out.append(Fold(repeat, fold, np.sort(train), np.sort(test)))
    return out


#: Inner splits already made, by (folds, seed, labels, groups): every candidate of a run calibrates or stacks on
#: the same outer training folds, and StratifiedGroupKFold's fold search is slow on many cases (DMHC: 19,000).
_INNER: dict[tuple[int, int, str], list[Split]] = {}
_INNER_CACHE_SIZE = 128


def inner_splits(y: np.ndarray, groups: np.ndarray, folds: int = 3, seed: int = 0) -> list[Split]:
    """Grouped stratified splits for calibration or stacking inside one training fold (fewer folds if needed).

    The same inputs give the same splits (the splitter is seeded), so they are computed once and kept; the arrays
    are read-only, so no caller can change another's folds.
    """
    y_arr = np.asarray(y)
    digest = hashlib.sha256(y_arr.astype(np.int64).tobytes())
    digest.update(np.asarray(groups).astype(str).tobytes())
    key = (folds, seed, digest.hexdigest())
    found = _INNER.get(key)
    if found is None:
        found = _make_inner_splits(y_arr, np.asarray(groups), folds, seed)
        for train, test in found:
            train.setflags(write=False)
            test.setflags(write=False)
        remember(_INNER, key, found, _INNER_CACHE_SIZE)
    return list(found)


def _make_inner_splits(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[Split]:
    k = min(folds, max_folds(y, groups))
    if k < 2:
        return []
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def temporal_split(
    table: pd.DataFrame,
    test_fraction: float = 0.25,
    date_column: str = "decision_date",
    year_column: str = "report_year",
    group_column: str = "case_id",
) -> Split:
    """Earlier cases train, later cases test; a case goes wholly to the side of its latest item.

    Uses ``date_column`` where every row has it, else ``year_column`` (DMHC has years only); with years, the
    cut falls between years, so no year is split. Raises ValueError when neither column orders the data.
    """
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be between 0 and 1")
    if date_column in table and table[date_column].notna().all():
        when = pd.to_datetime(table[date_column]).astype("int64").to_numpy()
    elif year_column in table and table[year_column].notna().all():
        when = table[year_column].astype("int64").to_numpy()
    else:
        raise ValueError(f"temporal split needs {date_column} or {year_column} on every row")
    groups = table[group_column].astype(str).to_numpy()
    case_time = pd.Series(when).groupby(groups).transform("max").to_numpy()
    order = np.argsort(case_time, kind="stable")
    cut_index = round(len(order) * (1 - test_fraction))
    cut_index = min(max(cut_index, 1), len(order) - 1)
    cut = case_time[order[cut_index]]
    # Everything at the cut time goes to test, so one day (or year) is never split between train and test.
    test_mask = case_time >= cut
    if test_mask.all():
        test_mask = case_time > cut
    if test_mask.all() or not test_mask.any():
        raise ValueError("temporal split found a single point in time; nothing earlier to train on")
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
