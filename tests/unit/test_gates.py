"""Promotion gates are small pure functions; the registry lock keeps two trainings apart."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from training.behaviour import BehaviourResult
from training.promote import (
    RegistryBusyError,
    decide,
    gate_behaviour,
    gate_calibration,
    gate_champion,
    gate_eligible,
    gate_prior,
    lock_path,
    model_name,
    registry_lock,
)

pytestmark = pytest.mark.unit


def test_champion_gate() -> None:
    assert gate_champion(0.70, None).passed  # no champion yet
    assert gate_champion(0.70, float("nan")).passed
    assert gate_champion(0.70, 0.70).passed  # the same configuration retrained on today's data
    assert not gate_champion(0.69, 0.70).passed
    assert not gate_champion(0.70, 0.69, margin=0.02).passed
    assert gate_champion(0.72, 0.69, margin=0.02, champion="v3").passed
    assert "v3" in gate_champion(0.72, 0.69, champion="v3").detail


def test_prior_gate_needs_strictly_better() -> None:
    assert gate_prior(0.66, 0.60).passed
    assert not gate_prior(0.60, 0.60).passed
    assert not gate_prior(0.61, 0.60, margin=0.02).passed
    assert not gate_prior(float("nan"), 0.60).passed


def test_calibration_gate() -> None:
    assert gate_calibration(0.03, 0.05).passed
    assert gate_calibration(0.05, 0.05).passed
    assert not gate_calibration(0.08, 0.05).passed
    assert not gate_calibration(float("nan"), 0.05).passed


def test_eligibility_and_behaviour_gates() -> None:
    assert not gate_eligible("ceiling", False).passed
    assert gate_eligible("tfidf-lr", True).passed
    gate = gate_behaviour(BehaviourResult("invariance", False, "largest change 0.2"))
    assert gate.name == "behaviour_invariance" and not gate.passed and "0.2" in gate.detail


def test_decide() -> None:
    ok, bad = gate_prior(0.7, 0.6), gate_calibration(0.2, 0.05)
    assert decide([ok]).promote
    decision = decide([ok, bad])
    assert not decision.promote
    assert decision.failed == [bad]
    assert "FAIL  calibration" in decision.explain()
    assert not decide([]).promote


def test_model_name_and_lock_path(tmp_path: Path) -> None:
    assert model_name("dwc") == "imr-dwc"
    assert lock_path(f"sqlite:///{tmp_path}/mlflow.db") == tmp_path / "mlartifacts" / ".mlflow.db.registry.lock"
    assert lock_path("http://mlflow:5000") != lock_path("http://other:5000")


def test_registry_lock_makes_a_second_training_wait_then_refuse(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    messages: list[str] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with registry_lock(uri, timeout_s=0.5, say=messages.append):
                pass
        except RegistryBusyError as exc:
            errors.append(exc)

    with registry_lock(uri):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert messages and "waiting" in messages[0]
    assert errors and "still held" in str(errors[0])
    with registry_lock(uri, timeout_s=0.5):  # free again once released
        pass
