"""Registered models still load after the split of ``training/candidates.py`` and ``features/checklist.py``.

Their pickles name classes and functions by the module path they had when the model was saved (read from every
``estimator.joblib`` under ``mlartifacts/`` before the split). Unpickling looks each name up with an import and
an attribute, exactly as below.
"""

from __future__ import annotations

import importlib
import pickle

import pytest

pytestmark = pytest.mark.unit

#: (module, name) pairs the registered estimators reference by path.
PICKLED_PATHS = [
    *(
        ("training.candidates", name)
        for name in (
            "Calibrated",
            "ConstantModel",
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
        )
    ),
    # Cached (lru_cache) functions pickle by reference even inside the by-value frozen checklist.
    ("features.checklist", "_red_flag"),
]


@pytest.mark.parametrize(("module", "name"), PICKLED_PATHS, ids=lambda v: str(v))
def test_a_pickled_path_resolves(module: str, name: str) -> None:
    target = getattr(importlib.import_module(module), name)
    # A pickle naming the old path (protocol 2 GLOBAL opcode) loads the object now at that path.
    blob = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    assert pickle.loads(blob) is target
