"""Candidate models: sklearn-style estimators over the pre-submission view frame.

The package splits by model family (``base``: the common interface, helpers and prior baselines; ``text``;
``rationale``; ``structured``; ``minilm``; ``build``: kind -> builder). Every public name is re-exported here:
models registered before the split pickled their classes as ``training.candidates.<Name>``, and unpickling
looks them up under that path.
"""

from training.candidates.base import (
    Calibrated,
    ConstantModel,
    ImrEstimator,
    PriorModel,
    PublishedPriorModel,
    TwoStage,
    default_groups,
    mask_text,
    sparse_lr,
)
from training.candidates.build import BUILDERS, build_candidate
from training.candidates.minilm import _EMBEDDING_CACHE, MiniLMEmbedder, MiniLMModel, embed_texts
from training.candidates.rationale import RationaleLR, RationaleSupervised, ReasonHead, WithReasons, reason_matrix
from training.candidates.structured import StructuredFeaturizer, StructuredModel
from training.candidates.text import TextFeaturizer, TextLR, checklist_matrix

__all__ = [
    "BUILDERS",
    "_EMBEDDING_CACHE",
    "Calibrated",
    "ConstantModel",
    "ImrEstimator",
    "MiniLMEmbedder",
    "MiniLMModel",
    "PriorModel",
    "PublishedPriorModel",
    "RationaleLR",
    "RationaleSupervised",
    "ReasonHead",
    "StructuredFeaturizer",
    "StructuredModel",
    "TextFeaturizer",
    "TextLR",
    "TwoStage",
    "WithReasons",
    "build_candidate",
    "checklist_matrix",
    "default_groups",
    "embed_texts",
    "mask_text",
    "reason_matrix",
    "sparse_lr",
]
