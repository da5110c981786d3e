"""One builder per candidate kind of the experiment config, looked up by ``kind`` (no type ladder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from training.candidates.base import Calibrated, ConstantModel, ImrEstimator, PriorModel, PublishedPriorModel
from training.candidates.minilm import MiniLMModel
from training.candidates.rationale import RationaleLR, RationaleSupervised
from training.candidates.structured import StructuredModel
from training.candidates.text import TextLR
from training.config import (
    Candidate,
    ConstantCandidate,
    DmhcCandidate,
    LeakageCeilingCandidate,
    MiniLMCandidate,
    MonotoneCandidate,
    PriorCandidate,
    RationaleSupervisedCandidate,
    TfidfLRCandidate,
)


def _prior(spec: PriorCandidate, seed: int, final: bool) -> ImrEstimator:
    if spec.published:
        return PublishedPriorModel(
            column=spec.column, smoothing=spec.smoothing, base_rate_strength=spec.base_rate_strength
        )
    return PriorModel(column=spec.column, smoothing=spec.smoothing)


def _constant(spec: ConstantCandidate, seed: int, final: bool) -> ImrEstimator:
    return ConstantModel()


def _monotone(spec: MonotoneCandidate, seed: int, final: bool) -> ImrEstimator:
    # Imported late: training.monotone imports this package's helpers.
    from training.monotone import MonotoneReasonModel

    params = spec.model_dump(exclude={"name", "description", "kind", "replicates"})
    estimator: ImrEstimator = MonotoneReasonModel(**params, replicates=spec.replicates if final else 0, seed=seed)
    return estimator


def _tfidf_lr(spec: TfidfLRCandidate, seed: int, final: bool) -> ImrEstimator:
    base = TextLR(text=spec.text.model_dump(), C=spec.C, class_weight=spec.class_weight)
    return base if spec.calibration == "none" else Calibrated(base, spec.calibration_folds, seed)


def _minilm(spec: MiniLMCandidate, seed: int, final: bool) -> ImrEstimator:
    minilm = MiniLMModel(
        fields=tuple(spec.fields),
        max_length=spec.max_length,
        windows=spec.windows,
        batch_size=spec.batch_size,
        C=spec.C,
        class_weight=spec.class_weight,
        fine_tune=spec.fine_tune,
        fine_tune_epochs=spec.fine_tune_epochs,
        fine_tune_lr=spec.fine_tune_lr,
        threads=spec.threads,
        seed=seed,
    )
    return Calibrated(minilm, spec.calibration_folds, seed)


def _rationale_supervised(spec: RationaleSupervisedCandidate, seed: int, final: bool) -> ImrEstimator:
    return RationaleSupervised(
        text=spec.text.model_dump(),
        reason_C=spec.reason_C,
        min_reason_count=spec.min_reason_count,
        stack_folds=spec.stack_folds,
        with_text=spec.with_text,
        C=spec.C,
        class_weight=spec.class_weight,
        seed=seed,
    )


def _dmhc(spec: DmhcCandidate, seed: int, final: bool) -> ImrEstimator:
    structured = StructuredModel(
        columns=tuple(spec.columns),
        crosses=tuple(spec.crosses),
        model=spec.model,
        min_frequency=spec.min_frequency,
        C=spec.C,
        max_iter=spec.max_iter,
        learning_rate=spec.learning_rate,
        max_leaf_nodes=spec.max_leaf_nodes,
        l2_regularization=spec.l2_regularization,
        summary_text=spec.summary_text,
        min_summary_rows=spec.min_summary_rows,
        seed=seed,
    )
    return Calibrated(structured, spec.calibration_folds, seed)


def _leakage_ceiling(spec: LeakageCeilingCandidate, seed: int, final: bool) -> ImrEstimator:
    return Calibrated(RationaleLR(C=spec.C), spec.calibration_folds, seed)


#: kind (the config's discriminator) -> builder. A new candidate kind adds one row here.
BUILDERS: dict[str, Callable[[Any, int, bool], ImrEstimator]] = {
    "prior": _prior,
    "constant": _constant,
    "monotone": _monotone,
    "tfidf-lr": _tfidf_lr,
    "minilm": _minilm,
    "rationale-supervised": _rationale_supervised,
    "dmhc": _dmhc,
    "leakage-ceiling": _leakage_ceiling,
}


def build_candidate(spec: Candidate, seed: int = 0, final: bool = False) -> ImrEstimator:
    """A fresh, unfitted estimator for one candidate of an experiment config.

    ``final``: the model that will be served (bootstrap replicates for intervals are fitted only then).
    """
    builder = BUILDERS.get(spec.kind)
    if builder is None:
        raise TypeError(f"unknown candidate kind: {spec!r} (known kinds: {', '.join(BUILDERS)})")
    return builder(spec, seed, final)
