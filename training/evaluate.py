"""Evaluation that holds on a few hundred items: repeated grouped CV, out-of-fold predictions, bootstrap intervals.

Metrics (all on p = p(upheld), y = 1 for Upheld):

- ``roc_auc``: ranking quality, label-symmetric.
- ``pr_auc_overturned``: average precision for the *minority* class (Overturned), scored by 1 - p.
- ``brier``: mean squared error of p.
- ``ece``: expected calibration error, equal-width bins, weighted by bin size.
- ``balanced_accuracy``: at the operating threshold; each out-of-fold prediction is compared with the threshold
  of the fold that produced it (fixed from that fold's training data, never tuned on its test items).

Point values average over the CV repeats; 95 % intervals come from a case-level bootstrap (cases are resampled
with replacement, with all their items), averaging over repeats inside each resample.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.progress import progress as progress_bar
from training.config import Candidate, EvaluationConfig, ExperimentConfig
from training.splits import Fold

MetricFn = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
METRIC_NAMES: tuple[str, ...] = (
    "roc_auc",
    "pr_auc_overturned",
    "brier",
    "log_loss",
    "ece",
    "balanced_accuracy",
)
#: For each metric, whether larger is better (the summary table and gates read this).
HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc_overturned": True,
    "brier": False,
    "log_loss": False,
    "ece": False,
    "balanced_accuracy": True,
}


# ---------------------------------------------------------------------------------------------------------------
# metrics on one vector of predictions


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) with ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(values)]])
    average = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney form); NaN when one label is absent."""
    y = np.asarray(y, dtype=int)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _ranks(np.asarray(p, dtype=float))
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision(positive: np.ndarray, score: np.ndarray) -> float:
    """Average precision of ``score`` for ``positive`` (as scikit-learn computes it: ties form one threshold)."""
    positive = np.asarray(positive, dtype=int)
    total = int(positive.sum())
    if total == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    s, t = np.asarray(score, dtype=float)[order], positive[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(t)[last_of_tie]
    seen = last_of_tie + 1
    precision = tp / seen
    recall = tp / total
    recall_step = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_step * precision))


def pr_auc_overturned(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision for Overturned (label 0), ranking by 1 - p(upheld)."""
    return average_precision(1 - np.asarray(y, dtype=int), 1.0 - np.asarray(p, dtype=float))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2)) if len(y) else float("nan")


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (probabilities clipped to [1e-6, 1 - 1e-6])."""
    if not len(y):
        return float("nan")
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    t = np.asarray(y, dtype=float)
    return float(-np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: bin-size-weighted |mean p - observed rate| over equal-width bins of p."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        members = index == b
        total += members.sum() * abs(p[members].mean() - y[members].mean())
    return float(total / len(y))


def balanced_accuracy(y: np.ndarray, predicted_upheld: np.ndarray) -> float:
    """Mean of the recalls of both labels; NaN when one label is absent."""
    y, pred = np.asarray(y, dtype=int), np.asarray(predicted_upheld, dtype=int)
    if y.min(initial=1) == y.max(initial=0):
        return float("nan")
    return float(((pred[y == 1] == 1).mean() + (pred[y == 0] == 0).mean()) / 2.0)


def metric_values(y: np.ndarray, p: np.ndarray, label: np.ndarray, ece_bins: int = 10) -> dict[str, float]:
    """Every headline metric of one prediction vector (``label``: 1 where the operating threshold says Upheld)."""
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc_overturned": pr_auc_overturned(y, p),
        "brier": brier(y, p),
        "log_loss": log_loss(y, p),
        "ece": ece(y, p, ece_bins),
        "balanced_accuracy": balanced_accuracy(y, label),
    }


def operating_threshold(y_train: np.ndarray, mode: str | float) -> float:
    """The threshold on p(upheld) below which a request is called Overturned.

    'prevalence' = the training upheld rate: for calibrated probabilities this maximises balanced accuracy in
    expectation, and it is known before any test item is seen.
    """
    if isinstance(mode, float | int) and not isinstance(mode, bool):
        return float(mode)
    return float(np.mean(y_train))


# ---------------------------------------------------------------------------------------------------------------
# intervals


@dataclass(frozen=True)
class Estimate:
    """A metric's point value with its bootstrap 95 % interval (NaN bounds when no bootstrap was run)."""

    value: float
    low: float
    high: float

    def format(self, digits: int = 3) -> str:
        if np.isnan(self.low):
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _mean_over_repeats(
    y: np.ndarray, P: np.ndarray, L: np.ndarray, idx: np.ndarray | None, ece_bins: int
) -> dict[str, float]:
    rows = [
        metric_values(
            y if idx is None else y[idx],
            P[r] if idx is None else P[r, idx],
            L[r] if idx is None else L[r, idx],
            ece_bins,
        )
        for r in range(P.shape[0])
    ]
    with warnings.catch_warnings():  # a constant has no balanced accuracy: NaN, not a warning per resample
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: float(np.nanmean([row[name] for row in rows])) for name in METRIC_NAMES}


def case_resamples(groups: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of ``n_boot`` case-bootstrap resamples: cases drawn with replacement, each with all its rows.

    Resample b holds, for each drawn case in draw order, that case's rows in their original order. The rows of
    every case are gathered once (a stable sort by case) and each resample in one vectorised gather; a Python list
    of per-case arrays and a concatenation per resample cost minutes on the 19,000 DMHC cases.
    """
    codes, members = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(members, kind="stable")
    counts = np.bincount(members, minlength=len(codes))
    starts = np.cumsum(counts) - counts
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        chosen = rng.integers(0, len(codes), len(codes))
        lengths = counts[chosen]
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        yield order[np.repeat(starts[chosen] - (ends - lengths), lengths) + np.arange(total)]


def summarize(
    y: np.ndarray,
    P: np.ndarray,
    L: np.ndarray,
    groups: np.ndarray,
    n_boot: int = 1000,
    seed: int = 7,
    ece_bins: int = 10,
) -> dict[str, Estimate]:
    """Point values (averaged over repeats, rows of ``P``/``L``) and case-bootstrap 95 % intervals."""
    y = np.asarray(y, dtype=int)
    P, L = np.atleast_2d(P), np.atleast_2d(L)
    point = _mean_over_repeats(y, P, L, None, ece_bins)
    if n_boot <= 0:
        return {k: Estimate(v, float("nan"), float("nan")) for k, v in point.items()}
    samples: dict[str, list[float]] = {k: [] for k in METRIC_NAMES}
    for idx in case_resamples(groups, n_boot, seed):
        for name, value in _mean_over_repeats(y, P, L, idx, ece_bins).items():
            samples[name].append(value)
    out: dict[str, Estimate] = {}
    for name, value in point.items():
        values = np.array(samples[name])
        values = values[~np.isnan(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
        out[name] = Estimate(value, float(low), float(high))
    return out


def paired_difference(
    y: np.ndarray,
    P_a: np.ndarray,
    P_b: np.ndarray,
    groups: np.ndarray,
    n_boot: int = 1000,
    seed: int = 7,
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> Estimate:
    """``metric`` (default ROC-AUC) of a minus that of b on the same folds, with a paired case-bootstrap interval."""
    measure = roc_auc if metric is None else metric
    y = np.asarray(y, dtype=int)
    P_a, P_b = np.atleast_2d(P_a), np.atleast_2d(P_b)

    def diff(idx: np.ndarray | None) -> float:
        def pick(a: np.ndarray) -> np.ndarray:
            return a if idx is None else a[..., idx]

        yy = pick(y)
        return float(np.nanmean([measure(yy, pick(P_a[r])) - measure(yy, pick(P_b[r])) for r in range(len(P_a))]))

    value = diff(None)
    if n_boot <= 0:
        return Estimate(value, float("nan"), float("nan"))
    arr = np.array([diff(idx) for idx in case_resamples(groups, n_boot, seed)])
    arr = arr[~np.isnan(arr)]
    low, high = np.percentile(arr, [2.5, 97.5]) if len(arr) else (np.nan, np.nan)
    return Estimate(value, float(low), float(high))


# ---------------------------------------------------------------------------------------------------------------
# cross-validation


@dataclass
class CVResult:
    """Out-of-fold predictions of one candidate: one row of ``P`` (p(upheld)) and ``L`` (label) per repeat."""

    name: str
    y: np.ndarray
    groups: np.ndarray
    P: np.ndarray
    L: np.ndarray
    thresholds: list[float] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)

    @property
    def p_mean(self) -> np.ndarray:
        """Out-of-fold p(upheld) averaged over repeats (for plots and slices)."""
        return np.asarray(self.P.mean(axis=0))


Factory = Callable[[], Any]
Progress = Callable[[str], None]


def _fit(model: Any, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, rationale: np.ndarray | None) -> Any:
    return model.fit(X, y, groups=groups, rationale=rationale)


def _predict(model: Any, X: pd.DataFrame, rationale: np.ndarray | None) -> np.ndarray:
    if getattr(model, "uses_rationale_at_predict", False):
        return np.asarray(model.predict_proba(X, rationale=rationale))[:, 1]
    return np.asarray(model.predict_proba(X))[:, 1]


def _fit_fold(
    result: CVResult,
    factory: Factory,
    X: pd.DataFrame,
    f: Fold,
    rationale: np.ndarray | None,
    threshold: str | float,
) -> None:
    """Fit a fresh model on one fold's training rows; record its test rows' p(upheld), labels, threshold, time."""
    y, groups = result.y, result.groups
    started = time.perf_counter()
    model = _fit(
        factory(), X.iloc[f.train], y[f.train], groups[f.train], None if rationale is None else rationale[f.train]
    )
    p = _predict(model, X.iloc[f.test], None if rationale is None else rationale[f.test])
    cut = operating_threshold(y[f.train], threshold)
    result.P[f.repeat, f.test] = p
    result.L[f.repeat, f.test] = (p >= cut).astype(int)
    result.thresholds.append(cut)
    result.fit_seconds.append(time.perf_counter() - started)


def cross_validate(
    name: str,
    factory: Factory,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    folds: Sequence[Fold],
    rationale: np.ndarray | None = None,
    threshold: str | float = "prevalence",
    progress: Progress | None = None,
) -> CVResult:
    """Fit a fresh model per fold, keep its out-of-fold p(upheld) and operating-threshold label.

    ``progress`` receives one line per fold (with its time); a progress bar over the folds goes to stderr.
    """
    y = np.asarray(y, dtype=int)
    repeats = max(f.repeat for f in folds) + 1
    per_repeat = max(f.fold for f in folds) + 1
    P = np.full((repeats, len(y)), np.nan)
    L = np.zeros((repeats, len(y)), dtype=int)
    result = CVResult(name, y, np.asarray(groups), P, L)
    with progress_bar(f"{name}: cross-validation folds", total=len(folds)) as bar:
        for f in folds:
            _fit_fold(result, factory, X, f, rationale, threshold)
            bar.advance()
            if progress is not None:
                elapsed = result.fit_seconds[-1]
                progress(f"  {name}: repeat {f.repeat + 1}/{repeats} fold {f.fold + 1}/{per_repeat} ({elapsed:.1f}s)")
    if np.isnan(P).any():
        raise RuntimeError(f"{name}: some rows got no out-of-fold prediction (folds do not cover every row)")
    return result


@dataclass
class HoldoutResult:
    """Predictions of a model trained on one part and tested on another (the temporal split)."""

    y: np.ndarray
    groups: np.ndarray
    p: np.ndarray
    label: np.ndarray


def holdout(
    factory: Factory,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    rationale: np.ndarray | None = None,
    threshold: str | float = "prevalence",
) -> HoldoutResult:
    """Fit on ``train`` rows, score ``test`` rows."""
    y = np.asarray(y, dtype=int)
    model = _fit(factory(), X.iloc[train], y[train], groups[train], None if rationale is None else rationale[train])
    p = _predict(model, X.iloc[test], None if rationale is None else rationale[test])
    cut = operating_threshold(y[train], threshold)
    return HoldoutResult(y[test], np.asarray(groups)[test], p, (p >= cut).astype(int))


# ---------------------------------------------------------------------------------------------------------------
# slices


def slices(
    y: np.ndarray, p: np.ndarray, label: np.ndarray, category: Sequence[str], min_size: int = 10, ece_bins: int = 10
) -> pd.DataFrame:
    """Metrics per treatment category (categories under ``min_size`` items are pooled as '(smaller categories)')."""
    y = np.asarray(y, dtype=int)
    cats = pd.Series(list(category), dtype=str)
    counts = cats.value_counts()
    cats = cats.where(cats.map(counts) >= min_size, "(smaller categories)")
    rows: list[dict[str, Any]] = []
    for name in sorted(cats.unique()):
        m = (cats == name).to_numpy()
        values = metric_values(y[m], p[m], label[m], ece_bins)
        rows.append(
            {
                "treatment_category": name,
                "items": int(m.sum()),
                "overturned": int((y[m] == 0).sum()),
                "upheld_rate": float(y[m].mean()),
                "mean_p_upheld": float(p[m].mean()),
                **values,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# logging a candidate's evaluation to its MLflow run (the active run)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, list | tuple) else value


def run_params(spec: Candidate, config: ExperimentConfig) -> dict[str, Any]:
    """The candidate's, the CV's and the evaluation's settings as flat MLflow parameters ("candidate.C": 1.0)."""
    out: dict[str, Any] = {}
    _flatten("candidate", spec.model_dump(mode="json"), out)
    _flatten("cv", config.cv.model_dump(mode="json"), out)
    _flatten("evaluation", config.evaluation.model_dump(mode="json"), out)
    return {k: ("null" if v is None else v) for k, v in out.items()}


def metric_dict(prefix: str, metrics: dict[str, Estimate]) -> dict[str, float]:
    """Point values and interval bounds as MLflow metrics (``roc_auc``, ``roc_auc_ci_low``, ...); NaNs left out."""
    out: dict[str, float] = {}
    for name, est in metrics.items():
        for suffix, value in (("", est.value), ("_ci_low", est.low), ("_ci_high", est.high)):
            if not np.isnan(value):
                out[f"{prefix}{name}{suffix}"] = float(value)
    return out


def log_cv_artifacts(
    cv: CVResult, item_ids: list[str], categories: list[str], run_dir: Path, title: str, ev: EvaluationConfig
) -> None:
    """The plots, the per-category slices and the out-of-fold predictions (item ids and numbers only)."""
    import mlflow

    from training.plots import plot_all

    for path in plot_all(cv.y, cv.P, cv.L, run_dir / "plots", title, ev.ece_bins):
        mlflow.log_artifact(str(path), artifact_path="plots")
    majority_label = (cv.L.mean(axis=0) >= 0.5).astype(int)
    slice_table = slices(cv.y, cv.p_mean, majority_label, categories, ev.min_slice_size, ev.ece_bins)
    slice_table.to_csv(run_dir / "slices.csv", index=False)
    mlflow.log_artifact(str(run_dir / "slices.csv"))
    oof = pd.DataFrame({"item_id": item_ids, "case_id": cv.groups, "label": cv.y})
    for r in range(cv.P.shape[0]):
        oof[f"p_upheld_repeat{r}"] = cv.P[r]
    oof.to_csv(run_dir / "oof_predictions.csv", index=False)
    mlflow.log_artifact(str(run_dir / "oof_predictions.csv"))
