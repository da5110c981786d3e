"""Choosing the champion: beat the constant on Brier and log loss in CV and on the temporal test, be coherent,
else the prior is the champion (and says why)."""

from __future__ import annotations

from typing import Any

import pytest

from training.coherence import CoherenceResult
from training.config import ExperimentConfig
from training.context import CandidateOutcome
from training.evaluate import Estimate
from training.promote import choose

pytestmark = pytest.mark.unit


def _metrics(brier: float, log_loss: float, auc: float = 0.6, ece: float = 0.02) -> dict[str, Estimate]:
    values = {"brier": brier, "log_loss": log_loss, "roc_auc": auc, "ece": ece}
    return {k: Estimate(v, v - 0.01, v + 0.01) for k, v in values.items()}


def _outcome(
    name: str, kind: str, cv: tuple[float, float], temporal: tuple[float, float], coherent: bool = True
) -> Any:
    checked = CoherenceResult(fixes_tested=10, fixes_raised=0 if coherent else 3)
    return CandidateOutcome(
        name=name,
        kind=kind,
        eligible=True,
        run_id="r",
        metrics=_metrics(*cv),
        temporal=_metrics(*temporal),
        cv_seconds=0.0,
        fit_seconds=0.0,
        model_uri=f"runs:/{name}",
        coherence=checked,
    )


CONFIG = ExperimentConfig.model_validate(
    {
        "jurisdiction": "dwc",
        "gates": {"beat_constant": True, "coherence": True, "max_ece": 0.08},
        "candidates": [
            {"name": "constant", "kind": "constant"},
            {"name": "prior", "kind": "prior", "published": True},
            {"name": "model", "kind": "monotone"},
            {"name": "other", "kind": "monotone"},
        ],
    }
)


def _outcomes(**overrides: Any) -> dict[str, Any]:
    base = {
        "constant": _outcome("constant", "constant", (0.120, 0.404), (0.0675, 0.272)),
        "prior": _outcome("prior", "prior", (0.119, 0.403), (0.071, 0.28)),
        "model": _outcome("model", "monotone", (0.118, 0.400), (0.064, 0.25)),
        "other": _outcome("other", "monotone", (0.117, 0.399), (0.070, 0.27)),
    }
    base.update(overrides)
    return base


def test_the_best_candidate_that_beats_the_constant_everywhere_wins() -> None:
    best, gates, note = choose(CONFIG, _outcomes(), None, "")
    # "other" has the lower CV log loss but loses to the constant on the temporal test.
    assert best.name == "model" and note == "" and all(g.passed for g in gates)
    assert {g.name for g in gates} >= {
        "beats_constant_cv_brier",
        "beats_constant_cv_log_loss",
        "beats_constant_temporal_brier",
        "beats_constant_temporal_log_loss",
        "coherence",
    }


def test_an_incoherent_candidate_never_wins() -> None:
    outcomes = _outcomes(model=_outcome("model", "monotone", (0.118, 0.400), (0.064, 0.25), coherent=False))
    best, _, note = choose(CONFIG, outcomes, None, "")
    assert best.name == "prior" and "no candidate beat the constant" in note


def test_when_nothing_beats_the_constant_the_prior_is_the_champion_and_says_so() -> None:
    worse = {
        "model": _outcome("model", "monotone", (0.121, 0.41), (0.064, 0.25)),
        "other": _outcome("other", "monotone", (0.118, 0.40), (0.069, 0.25)),
    }
    best, gates, note = choose(CONFIG, _outcomes(**worse), None, "")
    assert best.name == "prior"
    assert "model (failed beats_constant_cv_brier, beats_constant_cv_log_loss)" in note
    assert "other (failed beats_constant_temporal_brier)" in note
    assert all(g.passed for g in gates)  # the fallback is promoted
