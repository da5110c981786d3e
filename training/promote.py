"""Promotion: the gates a new version must pass, and moving the registry alias ``champion``.

The gate logic is a set of small pure functions over numbers (unit-tested in ``tests/unit/test_gates.py``);
the registry side (reading the current champion, registering, tagging, moving the alias) sits below them and
runs under a file lock so two trainings never interleave their registry writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.behaviour import BehaviourResult

CHAMPION_ALIAS = "champion"


def model_name(jurisdiction: str) -> str:
    """The registered model of a jurisdiction (serving loads ``models:/imr-<jurisdiction>@champion``)."""
    return f"imr-{jurisdiction}"


# ---------------------------------------------------------------------------------------------------------------
# gates: pure functions


@dataclass(frozen=True)
class Gate:
    """One promotion condition and whether the candidate met it."""

    name: str
    passed: bool
    detail: str


def _finite(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


def gate_champion(candidate_auc: float, champion_auc: float | None, margin: float = 0.0, champion: str = "") -> Gate:
    """ROC-AUC at least the current champion's configuration's on the same folds (plus margin); no champion: pass."""
    if not _finite(champion_auc):
        return Gate("beats_champion", True, "no current champion to beat")
    assert champion_auc is not None
    passed = _finite(candidate_auc) and candidate_auc >= champion_auc + margin
    who = f" ({champion})" if champion else ""
    return Gate(
        "beats_champion",
        bool(passed),
        f"ROC-AUC {candidate_auc:.4f} vs champion{who} {champion_auc:.4f} on the same folds (margin {margin})",
    )


def gate_prior(candidate_auc: float, prior_auc: float, margin: float = 0.0) -> Gate:
    """ROC-AUC strictly above the prior baseline's (plus margin): otherwise the model adds nothing."""
    passed = _finite(candidate_auc) and _finite(prior_auc) and candidate_auc > prior_auc + margin
    return Gate(
        "beats_prior",
        bool(passed),
        f"ROC-AUC {candidate_auc:.4f} vs prior baseline {prior_auc:.4f} (margin {margin})",
    )


def gate_calibration(ece: float, max_ece: float) -> Gate:
    """Expected calibration error within the configured bound."""
    passed = _finite(ece) and ece <= max_ece
    return Gate("calibration", bool(passed), f"ECE {ece:.4f} (bound {max_ece})")


def gate_eligible(candidate: str, eligible: bool) -> Gate:
    """Never promote a candidate that reads reviewer text (the leakage ceiling)."""
    return Gate("eligible", eligible, f"{candidate} is {'eligible' if eligible else 'NOT eligible (leakage ceiling)'}")


def gate_lower(name: str, candidate: float, reference: float, what: str) -> Gate:
    """``candidate`` strictly below ``reference`` (a loss: Brier score, log loss) on the same items."""
    passed = _finite(candidate) and _finite(reference) and candidate < reference
    return Gate(name, bool(passed), f"{what}: {candidate:.4f} vs {reference:.4f}")


def gates_beat_constant(
    cv: dict[str, float],
    cv_constant: dict[str, float],
    temporal: dict[str, float] | None,
    temporal_constant: dict[str, float] | None,
) -> list[Gate]:
    """Brier score and log loss below the constant base rate's, in cross-validation and on the temporal test."""
    gates = [
        gate_lower(f"beats_constant_cv_{m}", cv[m], cv_constant[m], f"cross-validated {m} vs the constant")
        for m in ("brier", "log_loss")
    ]
    if temporal is None or temporal_constant is None:
        gates.append(Gate("beats_constant_temporal", False, "no temporal test to compare on"))
        return gates
    gates += [
        gate_lower(
            f"beats_constant_temporal_{m}", temporal[m], temporal_constant[m], f"temporal-test {m} vs the constant"
        )
        for m in ("brier", "log_loss")
    ]
    return gates


def gate_coherence(passed: bool, detail: str) -> Gate:
    """Advice never raises P(upheld) and omission never lowers it, over every item (training.coherence)."""
    return Gate("coherence", passed, detail)


def gate_behaviour(result: BehaviourResult) -> Gate:
    return Gate(f"behaviour_{result.name}", result.passed, result.detail)


@dataclass(frozen=True)
class Decision:
    """Promote or not, and every gate with its reason."""

    promote: bool
    gates: tuple[Gate, ...]

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    def explain(self) -> str:
        lines = [f"  {'PASS' if g.passed else 'FAIL'}  {g.name}: {g.detail}" for g in self.gates]
        return "\n".join(lines)


def decide(gates: Sequence[Gate]) -> Decision:
    """Promote only when every gate passed (and there is at least one)."""
    return Decision(bool(gates) and all(g.passed for g in gates), tuple(gates))


# ---------------------------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class ChampionInfo:
    """The current champion: version, the candidate configuration it was trained from (if any), its run's AUC."""

    version: str
    candidate_config: dict[str, Any] | None
    logged_roc_auc: float | None
    run_id: str | None


def current_champion(client: Any, name: str) -> ChampionInfo | None:
    """The version the alias points at, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None
    config: dict[str, Any] | None = None
    raw = (version.tags or {}).get("candidate_config")
    if raw:
        with contextlib.suppress(ValueError):
            config = json.loads(raw)
    logged: float | None = None
    if version.run_id:
        with contextlib.suppress(MlflowException):
            logged = client.get_run(version.run_id).data.metrics.get("roc_auc")
    return ChampionInfo(str(version.version), config, logged, version.run_id)


def register(client: Any, name: str, model_uri: str, run_id: str, tags: dict[str, str]) -> str:
    """Register ``model_uri`` as a new version of ``name`` with ``tags``; returns the version number."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name, description=f"IMR Prescreen p(upheld) model for {name[4:].upper()}")
    except MlflowException as exc:
        if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(exc):
            raise
    version = client.create_model_version(name, model_uri, run_id=run_id, tags=tags)
    _wait_ready(client, name, str(version.version))
    return str(version.version)


def _wait_ready(client: Any, name: str, version: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get_model_version(name, version).status
        if status == "READY":
            return
        if status == "FAILED_REGISTRATION":
            raise RuntimeError(f"registration of {name} v{version} failed")
        time.sleep(0.2)


def promote(client: Any, name: str, version: str) -> None:
    """Point the alias ``champion`` at ``version``."""
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version)


class RegistryBusyError(RuntimeError):
    """Another training holds the registry lock for longer than we are willing to wait."""


def lock_path(tracking_uri: str) -> Path:
    """One lock file per tracking store: in the (git-ignored) artifact folder beside a SQLite file, else in the
    temp folder keyed by the URI (a shared server is only protected against trainings on this machine)."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return db.parent / "mlartifacts" / f".{db.name}.registry.lock"
    key = hashlib.sha256(tracking_uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"imr-registry-{key}.lock"


@contextlib.contextmanager
def registry_lock(tracking_uri: str, timeout_s: float = 1800.0, say: Any = print) -> Iterator[None]:
    """Hold an exclusive lock on the tracking store's registry writes; wait (saying so) while another holds it."""
    path = lock_path(tracking_uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"Another training is writing to the registry ({path}); waiting up to {timeout_s:.0f}s for it...")
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RegistryBusyError(
                            f"The registry lock {path} is still held after {timeout_s:.0f}s; is another `make train` "
                            "stuck? Stop it, then retry."
                        ) from None
                    time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
