"""Promotion: the gates a new version must pass, choosing the candidate, registering it, moving ``champion``.

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

# The registered names come from the model contract (re-exported: training.train reads them from here).
from features.contract import CHAMPION_ALIAS as CHAMPION_ALIAS
from features.contract import model_name as model_name
from training.behaviour import BehaviourResult
from training.config import ExperimentConfig, parse_candidate
from training.context import CandidateOutcome, RunContext, config_key
from training.evaluate import (
    CVResult,
    Estimate,
    brier,
    cross_validate,
    log_loss,
    metric_dict,
    paired_difference,
    summarize,
)

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


# ---------------------------------------------------------------------------------------------------------------
# choosing the candidate: the gates of each, best first


def _ranked(outcomes: dict[str, CandidateOutcome], beat_constant: bool) -> list[CandidateOutcome]:
    """Eligible candidates, best first: by cross-validated log loss when they must beat the constant, else AUC."""
    eligible = [o for o in outcomes.values() if o.eligible and o.model_uri]
    if beat_constant:
        return sorted(eligible, key=lambda o: (o.metrics["log_loss"].value, o.metrics["brier"].value))
    return sorted(eligible, key=lambda o: -o.metrics["roc_auc"].value)


def _point(metrics: dict[str, Estimate] | None) -> dict[str, float] | None:
    return None if metrics is None else {k: v.value for k, v in metrics.items()}


def _versus_constant(outcome: CandidateOutcome, outcomes: dict[str, CandidateOutcome]) -> list[Gate]:
    constant = next((o for o in outcomes.values() if o.kind == "constant"), None)
    if constant is None:
        return [Gate("beats_constant", False, "the experiment has no 'constant' candidate to compare with")]
    cv_own, cv_const = _point(outcome.metrics), _point(constant.metrics)
    assert cv_own is not None and cv_const is not None  # CV metrics are always there; only temporal ones may not be
    return gates_beat_constant(cv_own, cv_const, _point(outcome.temporal), _point(constant.temporal))


def candidate_gates(
    config: ExperimentConfig,
    outcome: CandidateOutcome,
    outcomes: dict[str, CandidateOutcome],
    champion_auc: float | None,
    champion_label: str,
) -> list[Gate]:
    """Every gate of one candidate, as the experiment's ``gates`` section configures them."""
    g = config.gates
    gates: list[Gate] = [gate_eligible(outcome.name, outcome.eligible)]
    if g.beat_constant:
        gates += _versus_constant(outcome, outcomes)
    else:
        prior_auc = outcomes[config.prior.name].metrics["roc_auc"].value
        gates.append(gate_champion(outcome.metrics["roc_auc"].value, champion_auc, g.champion_margin, champion_label))
        gates.append(gate_prior(outcome.metrics["roc_auc"].value, prior_auc, g.prior_margin))
    gates.append(gate_calibration(outcome.metrics["ece"].value, g.max_ece))
    if g.coherence:
        checked = outcome.coherence
        gates.append(
            gate_coherence(checked is not None and checked.passed, checked.describe() if checked else "not checked")
        )
    gates.extend(gate_behaviour(r) for r in outcome.behaviour)
    return gates


def choose(
    config: ExperimentConfig,
    outcomes: dict[str, CandidateOutcome],
    champion_auc: float | None,
    champion_label: str,
) -> tuple[CandidateOutcome, list[Gate], str]:
    """The candidate to register, its gates, and a note when the prior is the champion because nothing beat the
    constant base rate. Candidates are tried best first; the first that passes every gate wins."""
    ranked = _ranked(outcomes, config.gates.beat_constant)
    tried: list[str] = []
    for outcome in ranked:
        if outcome.kind in ("constant", "prior") and config.gates.beat_constant:
            continue
        gates = candidate_gates(config, outcome, outcomes, champion_auc, champion_label)
        if all(gate.passed for gate in gates):
            return outcome, gates, ""
        tried.append(f"{outcome.name} (failed {', '.join(g.name for g in gates if not g.passed)})")
    if not config.gates.beat_constant:
        best = ranked[0]
        return best, candidate_gates(config, best, outcomes, champion_auc, champion_label), ""
    prior = outcomes[config.prior.name]
    note = (
        f"[{config.jurisdiction}] no candidate beat the constant base rate on Brier score and log loss in "
        f"cross-validation and on the temporal test ({'; '.join(tried) or 'none tried'}): the prior "
        f"({prior.name}) is the champion"
    )
    gates = [gate_eligible(prior.name, prior.eligible), Gate("prior_fallback", True, note)]
    if config.gates.coherence:
        checked = prior.coherence
        gates.append(gate_coherence(checked is not None and checked.passed, checked.describe() if checked else ""))
    return prior, gates, note


def champion_auc(
    champion: ChampionInfo | None, ctx: RunContext, cv_by_config: dict[str, CVResult]
) -> tuple[float | None, str]:
    """The current champion's configuration re-evaluated on today's folds (reusing a run when it is the same)."""
    from training.candidates import build_candidate

    if champion is None:
        return None, ""
    config, data, say = ctx.config, ctx.dev, ctx.say
    label = f"v{champion.version}"
    if champion.candidate_config is None:
        if champion.logged_roc_auc is not None:
            say(f"[{config.jurisdiction}] champion {label} has no stored configuration: comparing with its logged AUC")
            return float(champion.logged_roc_auc), f"{label}, logged AUC"
        return None, label
    cv = cv_by_config.get(config_key(champion.candidate_config))
    if cv is None:
        try:
            spec = parse_candidate(champion.candidate_config)
        except ValueError as exc:
            say(
                f"[{config.jurisdiction}] champion {label}'s configuration no longer validates ({exc}); using its "
                "logged AUC"
            )
            return champion.logged_roc_auc, f"{label}, logged AUC"
        say(f"[{config.jurisdiction}] re-evaluating champion {label} ({spec.name}) on today's folds")
        cv = cross_validate(
            f"champion-{spec.name}",
            lambda: build_candidate(spec, config.cv.seed),
            data.X,
            data.y,
            data.groups,
            ctx.folds,
            rationale=data.rationale,
            threshold=config.evaluation.threshold,
            progress=say,
        )
    value = summarize(data.y, cv.P, cv.L, data.groups, 0)["roc_auc"].value
    return value, f"{label} {champion.candidate_config.get('name', '')}".strip()


# ---------------------------------------------------------------------------------------------------------------
# registering the chosen candidate and moving the alias


@dataclass
class Registration:
    """What the registry step did: the chosen candidate, its new version, the gates' decision, the alias."""

    best: CandidateOutcome | None = None
    version: str | None = None
    promoted: bool = False
    champion_version: str | None = None
    decision: Decision | None = None


def tag_artifact_hash(client: Any, name: str, version: str, uri: str) -> None:
    """Record the hash of the registered artifacts, so serving refuses a model whose files changed afterwards.

    Downloaded through ``models:/name/version``, the same route serving uses, so both hash the same tree.
    """
    import mlflow

    from features.integrity import ARTIFACT_SHA256_TAG, tree_sha256

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=str(Path(tmp) / "model"), tracking_uri=uri
        )
        client.set_model_version_tag(name, version, ARTIFACT_SHA256_TAG, tree_sha256(Path(local)))


def _paired(ctx: RunContext, best: CVResult, other: CVResult, metric: Any = None) -> Any:
    """Best minus ``other`` on the same out-of-fold rows, with a paired case-bootstrap interval."""
    ev, dev = ctx.config.evaluation, ctx.dev
    kwargs = {} if metric is None else {"metric": metric}
    return paired_difference(dev.y, best.P, other.P, dev.groups, ev.bootstrap, ev.bootstrap_seed, **kwargs)


def _version_tags(
    ctx: RunContext, best: CandidateOutcome, decision: Decision, note: str, cv_by_config: dict[str, CVResult]
) -> dict[str, str]:
    """The new version's tags: the run's tags, its configuration, the gates, and its gains over the baselines."""
    config = ctx.config
    best_spec = config.candidate(best.name)
    best_cv = cv_by_config[config_key(best_spec)]
    gains = _paired(ctx, best_cv, cv_by_config[config_key(config.prior)])
    constant_spec = next((c for c in config.candidates if c.kind == "constant"), None)
    versus_constant = {}
    if constant_spec is not None:
        constant_cv = cv_by_config[config_key(constant_spec)]
        for metric_name, fn in (("brier", brier), ("log_loss", log_loss)):
            diff = _paired(ctx, best_cv, constant_cv, fn)
            versus_constant[f"{metric_name}_minus_constant"] = diff.format(4)
            ctx.say(
                f"[{config.jurisdiction}] {best.name} minus constant, cross-validated {metric_name} "
                f"(paired case bootstrap): {diff.format(4)}"
            )
    return {
        **ctx.tags,
        "candidate": best.name,
        "candidate_config": best_spec.model_dump_json(),
        "gates": "passed" if decision.promote else "failed: " + ", ".join(g.name for g in decision.failed),
        "fallback": note or "no",
        "auc_gain_over_prior": gains.format(4),
        **versus_constant,
        **{k: f"{v:.4f}" for k, v in metric_dict("", best.metrics).items()},
        **{k: f"{v:.4f}" for k, v in metric_dict("temporal_", best.temporal or {}).items()},
    }


def register_best(
    ctx: RunContext, client: Any, uri: str, outcomes: dict[str, CandidateOutcome], cv_by_config: dict[str, CVResult]
) -> Registration:
    """Choose, register and gate the best eligible candidate; move ``champion`` to it when every gate passes."""
    config, say = ctx.config, ctx.say
    if not config.register_best or not any(o.eligible and o.model_uri for o in outcomes.values()):
        return Registration()
    name = model_name(config.jurisdiction)
    with registry_lock(uri, say=say):
        champion = current_champion(client, name)
        auc, label = (None, "") if config.gates.beat_constant else champion_auc(champion, ctx, cv_by_config)
        best, gates, note = choose(config, outcomes, auc, label)
        if note:
            say(note)
        decision = decide(gates)
        tags = _version_tags(ctx, best, decision, note, cv_by_config)
        assert best.model_uri is not None  # only candidates with a logged model are ranked
        version = register(client, name, best.model_uri, best.run_id, tags)
        tag_artifact_hash(client, name, version, uri)
        say(f"[{config.jurisdiction}] registered {name} v{version} ({best.name}); gates:")
        say(decision.explain())
        if not decision.promote:
            say(
                f"[{config.jurisdiction}] gates failed: champion stays {f'v{champion.version}' if champion else 'none'}"
            )
            return Registration(best, version, False, champion.version if champion else None, decision)
        promote(client, name, version)
        say(f"[{config.jurisdiction}] {name}@champion -> v{version}")
        return Registration(best, version, True, version, decision)
