"""The evaluation plots logged with every candidate's run: ROC, PR (Overturned), reliability and confusion.

Each plot takes the labels ``y`` and the out-of-fold predictions of every CV repeat (``P``: p(upheld), ``L``:
label at the operating threshold) and draws on one matplotlib axis; :func:`plot_all` saves them as PNG files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from training.evaluate import ece, pr_auc_overturned, roc_auc

#: One plot: (axis, y, P, L, title, ECE bins) -> draws on the axis.
Plot = Callable[[Any, np.ndarray, np.ndarray, np.ndarray, str, int], None]


def _alpha(P: np.ndarray) -> float:
    # Several repeats are drawn over one another: faint lines show their spread.
    return 0.35 if P.shape[0] > 1 else 1.0


def plot_roc(ax: Any, y: np.ndarray, P: np.ndarray, L: np.ndarray, title: str, ece_bins: int) -> None:
    """One ROC curve per repeat, with the mean ROC-AUC in the title."""
    for r in range(P.shape[0]):
        fpr, tpr = _roc_curve(y, P[r])
        ax.plot(fpr, tpr, alpha=_alpha(P), color="tab:blue")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate (Upheld)",
        title=f"{title}\nROC-AUC {np.nanmean([roc_auc(y, P[r]) for r in range(len(P))]):.3f}",
    )


def plot_pr(ax: Any, y: np.ndarray, P: np.ndarray, L: np.ndarray, title: str, ece_bins: int) -> None:
    """Precision-recall for the minority class (Overturned, scored by 1 - p), one curve per repeat."""
    for r in range(P.shape[0]):
        recall, precision = _pr_curve(1 - y, 1 - P[r])
        ax.step(recall, precision, where="post", alpha=_alpha(P), color="tab:red")
    ax.axhline((y == 0).mean(), ls="--", color="grey", lw=1)
    ax.set(
        xlabel="recall (Overturned)",
        ylabel="precision (Overturned)",
        ylim=(0, 1.02),
        title=f"{title}\nPR-AUC (Overturned) {np.nanmean([pr_auc_overturned(y, P[r]) for r in range(len(P))]):.3f}",
    )


def plot_reliability(ax: Any, y: np.ndarray, P: np.ndarray, L: np.ndarray, title: str, ece_bins: int) -> None:
    """Observed upheld rate per bin of the repeat-averaged p(upheld); marker size is the bin's share of items."""
    p_mean = P.mean(axis=0)
    index = np.minimum((p_mean * ece_bins).astype(int), ece_bins - 1)
    xs, ys, ns = [], [], []
    for b in np.unique(index):
        m = index == b
        xs.append(p_mean[m].mean())
        ys.append(y[m].mean())
        ns.append(m.sum())
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.scatter(xs, ys, s=[20 + 200 * n / max(ns) for n in ns], color="tab:green", zorder=3)
    ax.plot(xs, ys, color="tab:green")
    ax.set(
        xlabel="mean predicted p(upheld)",
        ylabel="observed upheld rate",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"{title}\nECE {np.nanmean([ece(y, P[r], ece_bins) for r in range(len(P))]):.3f}",
    )


def plot_confusion(ax: Any, y: np.ndarray, P: np.ndarray, L: np.ndarray, title: str, ece_bins: int) -> None:
    """Item counts by actual and predicted label at the operating threshold, averaged over repeats."""
    matrix = np.zeros((2, 2))
    for r in range(L.shape[0]):
        for true in (0, 1):
            for pred in (0, 1):
                matrix[true, pred] += np.sum((y == true) & (L[r] == pred))
    matrix /= L.shape[0]
    ax.imshow(matrix, cmap="Blues")
    names = ["Overturned", "Upheld"]
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{matrix[i, j]:.0f}", ha="center", va="center")
    ax.set_xticks([0, 1], names)
    ax.set_yticks([0, 1], names)
    ax.set(xlabel="predicted", ylabel="actual", title=f"{title}\nat the operating threshold (mean over repeats)")


#: File stem, figure size (inches) and drawing function of each plot, in the order they are written.
PLOTS: tuple[tuple[str, tuple[float, float], Plot], ...] = (
    ("roc", (4.5, 4.2), plot_roc),
    ("pr", (4.5, 4.2), plot_pr),
    ("reliability", (4.5, 4.2), plot_reliability),
    ("confusion", (4.2, 3.8), plot_confusion),
)


def plot_all(y: np.ndarray, P: np.ndarray, L: np.ndarray, out_dir: Path, title: str, ece_bins: int = 10) -> list[Path]:
    """ROC, PR (Overturned), reliability and confusion plots as PNG files named roc/pr/reliability/confusion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(y, dtype=int)
    P, L = np.atleast_2d(P), np.atleast_2d(L)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for stem, size, draw in PLOTS:
        fig, ax = plt.subplots(figsize=size)
        draw(ax, y, P, L, title, ece_bins)
        path = out_dir / f"{stem}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _roc_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="mergesort")
    t = y[order]
    tps, fps = np.cumsum(t), np.cumsum(1 - t)
    pos, neg = max(t.sum(), 1), max(len(t) - t.sum(), 1)
    return np.r_[0, fps / neg], np.r_[0, tps / pos]


def _pr_curve(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="mergesort")
    t = positive[order]
    tp = np.cumsum(t)
    precision = tp / np.arange(1, len(t) + 1)
    recall = tp / max(t.sum(), 1)
    return np.r_[0, recall], np.r_[1, precision]
