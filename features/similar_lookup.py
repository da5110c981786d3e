"""The similar-determinations query of the served model, one request at a time (``features.similar`` builds the index).

Kept apart from :mod:`features.compiled` (the estimate): the two share nothing but the request, and the server
asks for similar cases separately from the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from features.memo import remember
from features.similar import field_texts

#: Requests whose hits are kept (the page re-scores the same request).
CACHE_SIZE: Final = 4096


class SimilarLookup:
    """The similar-determinations query of a :class:`features.similar.SimilarIndex`, one request at a time without
    building sparse matrices: the request's TF-IDF terms gather their posting lists and one ``bincount`` sums them.

    The index's analyzers differ from the model's (stop words, accents, digits), so the request is tokenised again
    here rather than sharing the model's word vector; the view row is computed once per request. Scores are summed
    in the same order as the index's own sparse product, so the hits are the same (``tests/model/test_compiled.py``).
    """

    def __init__(self, index: Any) -> None:
        postings = index.matrix.T.tocsr()
        postings.sort_indices()
        self.index = index
        self._indptr = np.asarray(postings.indptr, dtype=np.int64)
        self._entries = np.asarray(postings.indices, dtype=np.int64)
        self._weights = np.asarray(postings.data, dtype=np.float64)
        self._offset = len(index.item_encoder.terms)
        self._scale = (np.sqrt(index.item_weight), np.sqrt(1.0 - index.item_weight))
        self._cache: dict[tuple[str, str, int], list[Any]] = {}
        self.cache_size = CACHE_SIZE

    @staticmethod
    def _unit(data: np.ndarray) -> np.ndarray:
        # As features.similar._unit_rows: the norm by reduceat (sequential sums), then a multiply by its inverse.
        if data.size == 0:
            return data
        norm = float(np.sqrt(np.add.reduceat(data**2, [0])[0]))
        return data * (1.0 / norm if norm > 0 else 0.0)

    def _field(self, encoder: Any, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        vocabulary = encoder.vocabulary
        for term in encoder.analyzer(text):
            j = vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        columns = np.array(sorted(counts), dtype=np.int64)
        data = np.array([counts[j] for j in columns.tolist()], dtype=np.float64)
        if data.size:
            data = (np.log(data) + 1.0) * encoder.idf[columns]
        return columns, self._unit(data)

    def vector(self, row: Mapping[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Unit-norm (columns, values) of one view row, as ``SimilarIndex.encode`` makes it."""
        return self._vector(*field_texts(row))

    def _vector(self, item: str, context: str) -> tuple[np.ndarray, np.ndarray]:
        item_cols, item_data = self._field(self.index.item_encoder, item)
        context_cols, context_data = self._field(self.index.context_encoder, context)
        columns = np.concatenate([item_cols, context_cols + self._offset])
        return columns, self._unit(np.concatenate([item_data * self._scale[0], context_data * self._scale[1]]))

    def scores(self, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Cosine of the query with every indexed entry (zero where no term is shared)."""
        starts = self._indptr[columns]
        lengths = self._indptr[columns + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(len(self.index))
        gather = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        weights = np.repeat(values, lengths) * self._weights[gather]
        return np.bincount(self._entries[gather], weights=weights, minlength=len(self.index))

    def query(self, views: Sequence[Mapping[Any, Any]], k: int) -> list[list[Any]]:
        """The ``k`` most similar entries per view row, best first (``SimilarIndex.query`` without filters).

        The hits of the last :data:`CACHE_SIZE` (item, context) texts are kept, as the model keeps their
        featurisation: the page re-scores the same request, and the hits (frozen) depend on nothing else.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        out = []
        for row in views:
            key = (*field_texts(row), k)
            hits = self._cache.get(key)
            if hits is None:
                hits = remember(
                    self._cache, key, self.index._top(self.scores(*self._vector(*key[:2])), k, None), self.cache_size
                )
            out.append(list(hits))
        return out
