"""Export of a fitted :class:`training.monotone.MonotoneReasonModel` as its compiled inference form (data only).

Kept apart from the model class: the export is read once, at registration, and it is the one place that knows
both the fitted attributes and :mod:`features.compiled`'s array and table layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from features.compiled import FORMAT_NAME, FORMAT_VERSION, CompiledModel
from training.bounded_logistic import logit
from training.monotone_text import MAX_TEXT_CHARS, mask_steps, request_text

if TYPE_CHECKING:
    from training.monotone import MonotoneReasonModel

_PROBE = "Dr. Smith saw the injured worker, a 45-year-old male, on 3/4/2016: PT 2x6 . who sustained an injury"


def compile_model(model: MonotoneReasonModel) -> CompiledModel:
    """The fitted model as data; its answers equal the model's ``explain`` to rounding (tests/model/test_compiled)."""
    d = model.definitions_
    compiled = CompiledModel(_tables(model), _arrays(model), d.evaluate_checklist, d.categorize)
    if compiled.masked_text(_PROBE, "MTUS", _PROBE) != request_text(_PROBE, "MTUS", _PROBE):
        raise RuntimeError("the compiled masking patterns no longer match request_text: update monotone_text")
    return compiled


def _arrays(model: MonotoneReasonModel) -> dict[str, np.ndarray]:
    structures = [model.main_, *model.replicas_]
    n_words, n_kept, n_flags = len(model.vectorizer_.vocabulary_), len(model.fact_columns_), len(model.flag_codes_)
    coef = np.vstack([s.heads.coef for s in structures])  # (structures * reasons, features)
    blocks = np.cumsum([0, n_words, n_kept, n_flags, len(model.categories_)])
    prior_categories = sorted({c for s in structures for c in s.priors})
    prior_logit = np.array(
        [[logit(s.priors[c]) if c in s.priors else np.nan for c in prior_categories] for s in structures]
    ).reshape(len(structures), len(prior_categories))
    return {
        **{
            name: coef[:, blocks[k] : blocks[k + 1]].T.copy()
            for k, name in enumerate(("head_words", "head_facts", "head_flags", "head_categories"))
        },
        "head_intercept": np.concatenate([s.heads.intercept for s in structures]),
        "reason_weight": np.vstack([s.reason_weight for s in structures]).reshape(len(structures), -1),
        "fact_weight": np.vstack([s.fact_weight for s in structures]).reshape(len(structures), n_kept),
        "flag_weight": np.vstack([s.flag_weight for s in structures]).reshape(len(structures), n_flags),
        "intercept": np.array([s.intercept for s in structures], dtype=float),
        "prior_logit": prior_logit,
        "default_prior_logit": np.array([float(logit(s.default_prior)) for s in structures]),
    }


def _tables(model: MonotoneReasonModel) -> dict[str, Any]:
    from training.monotone import CANNOT_JUDGE, OTHER_CATEGORY

    d = model.definitions_
    vectorizer = model.vectorizer_
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "vocabulary": sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__),
        "token_pattern": vectorizer.token_pattern,
        "masks": [[p.pattern, int(p.flags), repl] for p, repl in mask_steps()],
        "limits": {"item": 2000, "guideline": 2000, "summary": MAX_TEXT_CHARS},
        "fact_codes": list(model.fact_codes_),
        "fact_columns": [int(j) for j in model.fact_columns_],
        "flag_codes": list(model.flag_codes_),
        "categories": list(model.categories_),
        "prior_categories": sorted({c for s in [model.main_, *model.replicas_] for c in s.priors}),
        "codes": list(model.codes_),
        "priors": {c: float(v) for c, v in model.main_.priors.items()},
        "default_prior": float(model.main_.default_prior),
        "base_rate": float(model.main_.base_rate),
        "other_category": OTHER_CATEGORY,
        "cannot_judge_words": CANNOT_JUDGE,
        "concepts": d.concepts,
        "needs": d.needs,
        "kinds": d.kinds,
        "reasons": d.reasons,
        "titles": d.titles,
        "advice": d.advice,
    }
