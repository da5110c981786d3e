"""The one bounded store of kept results (featurisations, answers, similar hits, splits, indexes, checklists).

Every cache here is keyed by content, so a kept value is exactly what recomputing would give; the bound keeps a
long-running process from growing without limit. When full the store is emptied at once: cheaper per call than
an LRU's bookkeeping, and the working sets (a page re-scoring, the folds of one run) refill it in a few calls.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(store: dict[K, V], key: K, value: V, limit: int) -> V:
    """Keep ``value`` under ``key`` (emptying ``store`` first when it holds ``limit`` entries) and return it.

    ``limit`` of 0 or less keeps nothing: the caller's cache is off.
    """
    if limit > 0:
        if len(store) >= limit:
            store.clear()
        store[key] = value
    return value
