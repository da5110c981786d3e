"""The train command: cross-validate every candidate of an experiment, log each to MLflow, register, gate.

``run_training(config_path)`` does one experiment (one jurisdiction); ``train_all()`` runs the default ones
(``experiments/dwc.yaml`` then ``experiments/dmhc.yaml``), which is what ``make train`` calls.

Tracking: by default an embedded SQLite store ``<repo>/mlflow.db`` with artifacts under ``<repo>/mlartifacts``
(both git-ignored), so no server is needed; ``MLFLOW_TRACKING_URI`` (or the ``tracking_uri`` argument) sends
everything to a team's server instead. Request and summary text is never printed or logged: runs hold
parameters, metrics, plots, item ids with out-of-fold probabilities, and the model.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import DatasetMissingError, content_digest, load_items
from features.paths import REPO_ROOT, items_path
from features.schema import LABELS
from features.view import assert_no_leaks, view_frame
from training import behaviour
from training.candidates import ReasonHead, WithReasons, build_candidate
from training.coherence import CoherenceResult, coherence, estimator_scorer
from training.config import Candidate, ExperimentConfig, is_eligible, load_config, parse_candidate
from training.evaluate import (
    METRIC_NAMES,
    CVResult,
    Estimate,
    HoldoutResult,
    brier,
    cross_validate,
    holdout,
    log_loss,
    operating_threshold,
    paired_difference,
    plot_all,
    slices,
    summarize,
)
from training.promote import (
    Decision,
    Gate,
    current_champion,
    decide,
    gate_behaviour,
    gate_calibration,
    gate_champion,
    gate_coherence,
    gate_eligible,
    gate_prior,
    gates_beat_constant,
    model_name,
    promote,
    register,
    registry_lock,
)
from training.pyfunc import PrescreenModel, build_metadata, log_pyfunc
from training.recovery import mark_killed_runs, trainer_tags
from training.splits import Fold, grouped_cv, max_folds, temporal_split

Say = Callable[[str], None]


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store in the repository."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def artifact_root(tracking_uri: str) -> str | None:
    """Where a new experiment keeps artifacts: beside a SQLite store, else the server's default (None)."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return None


def git_commit() -> str:
    """The repository's commit (with '-dirty' for uncommitted changes), or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class CandidateOutcome:
    """What one candidate's run produced."""

    name: str
    kind: str
    eligible: bool
    run_id: str
    metrics: dict[str, Estimate]
    temporal: dict[str, Estimate] | None
    cv_seconds: float
    fit_seconds: float
    model_uri: str | None
    #: The whole run: CV, temporal split, plots, final fit, behavioural checks and logging the model.
    total_seconds: float = 0.0
    behaviour: list[behaviour.BehaviourResult] = field(default_factory=list)
    #: Predictions on the temporal test (fitted on the earlier cases), for the gates.
    holdout: HoldoutResult | None = None
    coherence: CoherenceResult | None = None


@dataclass
class TrainResult:
    """Everything one experiment did: runs, the registered version, the gates and whether the alias moved."""

    jurisdiction: str
    experiment_id: str
    tracking_uri: str
    data_digest: str
    candidates: dict[str, CandidateOutcome]
    best: str | None
    registered_version: str | None
    promoted: bool
    champion_version: str | None
    decision: Decision | None
    table: str

    def summary(self) -> str:
        return self.table


# ---------------------------------------------------------------------------------------------------------------
# data


@dataclass
class TrainingData:
    table: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    rationale: np.ndarray
    item_ids: list[str]

    def subset(self, index: np.ndarray) -> TrainingData:
        """The rows at ``index`` (e.g. the earlier cases of a held-out temporal split)."""
        rows = self.table.iloc[index].reset_index(drop=True)
        return TrainingData(
            rows,
            self.X.iloc[index].reset_index(drop=True),
            self.y[index],
            self.groups[index],
            self.rationale[index],
            [self.item_ids[i] for i in index],
        )


def prepare(table: pd.DataFrame, config: ExperimentConfig, source: Path) -> TrainingData:
    """The jurisdiction's rows, the view frame (leak-scanned), labels, case groups and rationales."""
    rows = table[table["jurisdiction"].astype(str) == config.jurisdiction]
    rows = rows[rows["determination"].astype(str).isin(list(LABELS))].reset_index(drop=True)
    if rows.empty:
        raise DatasetMissingError(
            f"The item table at {source} has no {config.jurisdiction.upper()} items. Add {config.jurisdiction} "
            "sources and rebuild it with `make data`."
        )
    if config.max_rows is not None and len(rows) > config.max_rows:
        rows = _sample_cases(rows, config.max_rows, config.cv.seed)
    X = view_frame(rows)
    assert_no_leaks(X, ids=rows["item_id"].astype(str).tolist())
    y = rows["determination"].astype(str).map(LABELS).to_numpy(dtype=int)
    if len(np.unique(y)) < 2:
        raise DatasetMissingError(
            f"All {len(y)} {config.jurisdiction.upper()} items in {source} have the same determination; "
            "training needs both Upheld and Overturned items."
        )
    groups = rows["case_id"].astype(str).to_numpy()
    rationale = np.array(
        [r if isinstance(r, str) else "" for r in rows.get("rationale", pd.Series([""] * len(rows))).tolist()],
        dtype=object,
    )
    return TrainingData(rows, X, y, groups, rationale, rows["item_id"].astype(str).tolist())


def _sample_cases(rows: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """A random subset of whole cases, stratified by whether the case has an overturned item."""
    case_label = rows.groupby("case_id")["determination"].agg(lambda s: "Overturned" in set(s.astype(str)))
    rng = np.random.default_rng(seed)
    fraction = max_rows / len(rows)
    keep: list[Any] = []
    for _, cases in case_label.groupby(case_label):
        ids = cases.index.to_numpy()
        n = max(2, round(len(ids) * fraction))
        keep.extend(rng.choice(ids, size=min(n, len(ids)), replace=False))
    return rows[rows["case_id"].isin(keep)].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# logging helpers


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, list | tuple) else value


def _params(spec: Candidate, config: ExperimentConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _flatten("candidate", spec.model_dump(mode="json"), out)
    _flatten("cv", config.cv.model_dump(mode="json"), out)
    _flatten("evaluation", config.evaluation.model_dump(mode="json"), out)
    return {k: ("null" if v is None else v) for k, v in out.items()}


def _metric_dict(prefix: str, metrics: dict[str, Estimate]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, est in metrics.items():
        for suffix, value in (("", est.value), ("_ci_low", est.low), ("_ci_high", est.high)):
            if not np.isnan(value):
                out[f"{prefix}{name}{suffix}"] = float(value)
    return out


def _dataset_input(data: TrainingData, source: Path, digest: str) -> Any:
    from mlflow.data.pandas_dataset import from_pandas

    frame = data.X.assign(label=data.y)
    return from_pandas(frame, source=str(source), targets="label", name=f"items-{digest[:12]}")


def _experiment_id(client: Any, name: str, tracking_uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    root = artifact_root(tracking_uri)
    location = f"{root}/{name}" if root else None
    return str(client.create_experiment(name, artifact_location=location))


def _real_requests(data: TrainingData, limit: int = 40, seed: int = 0) -> list[dict[str, Any]]:
    """Real training requests for the invariance test (kept in memory, never logged)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.X))[: limit * 3]
    return [{str(k): v for k, v in data.X.iloc[int(i)].to_dict().items()} for i in order]


# ---------------------------------------------------------------------------------------------------------------
# one candidate


def _evaluate_candidate(
    spec: Candidate,
    config: ExperimentConfig,
    data: TrainingData,
    dev: TrainingData,
    folds: list[Fold],
    temporal: tuple[np.ndarray, np.ndarray] | None,
    say: Say,
) -> tuple[CVResult, dict[str, Estimate], dict[str, Estimate] | None, Any]:
    """Cross-validation on ``dev`` (all rows, or the earlier cases when the temporal test is held out) and the
    temporal test (fitted on the earlier cases of ``data``, scored on the later ones)."""
    seed = config.cv.seed
    ev = config.evaluation
    cv = cross_validate(
        spec.name,
        lambda: build_candidate(spec, seed),
        dev.X,
        dev.y,
        dev.groups,
        folds,
        rationale=dev.rationale,
        threshold=ev.threshold,
        progress=say,
    )
    metrics = summarize(dev.y, cv.P, cv.L, dev.groups, ev.bootstrap, ev.bootstrap_seed, ev.ece_bins)
    temporal_metrics = None
    held = None
    if temporal is not None:
        held = holdout(
            lambda: build_candidate(spec, seed),
            data.X,
            data.y,
            data.groups,
            temporal[0],
            temporal[1],
            rationale=data.rationale,
            threshold=ev.threshold,
        )
        if len(np.unique(held.y)) == 2:
            temporal_metrics = summarize(
                held.y, held.p[None, :], held.label[None, :], held.groups, ev.bootstrap, ev.bootstrap_seed, ev.ece_bins
            )
    return cv, metrics, temporal_metrics, held


def _run_candidate(
    spec: Candidate,
    config: ExperimentConfig,
    data: TrainingData,
    dev: TrainingData,
    folds: list[Fold],
    temporal: tuple[np.ndarray, np.ndarray] | None,
    experiment_id: str,
    tags: dict[str, str],
    dataset: Any,
    workdir: Path,
    say: Say,
) -> tuple[CandidateOutcome, CVResult]:
    import mlflow

    eligible = is_eligible(spec)
    run_started = time.perf_counter()
    say(f"[{config.jurisdiction}] {spec.name} ({spec.kind}): {len(folds)} folds")
    with mlflow.start_run(experiment_id=experiment_id, run_name=spec.name) as run:
        mlflow.set_tags(
            {
                **tags,
                "candidate": spec.name,
                "kind": spec.kind,
                "eligible": str(eligible).lower(),
                "leakage_ceiling": str(spec.kind == "leakage-ceiling").lower(),
                "candidate_config": spec.model_dump_json(),
                **trainer_tags(),
            }
        )
        mlflow.log_params(_params(spec, config))
        mlflow.log_input(dataset, context="training")

        started = time.perf_counter()
        cv, metrics, temporal_metrics, held = _evaluate_candidate(spec, config, data, dev, folds, temporal, say)
        cv_seconds = time.perf_counter() - started
        mlflow.log_metrics(_metric_dict("", metrics))
        if temporal_metrics is not None:
            mlflow.log_metrics(_metric_dict("temporal_", temporal_metrics))
        mlflow.log_metrics(
            {
                "cv_seconds": cv_seconds,
                "n_items": len(data.y),
                "n_cv_items": len(dev.y),
                "n_cases": len(set(data.groups)),
                "n_overturned": int((data.y == 0).sum()),
            }
        )

        ev = config.evaluation
        run_dir = workdir / spec.name
        plots = plot_all(dev.y, cv.P, cv.L, run_dir / "plots", f"{config.jurisdiction} / {spec.name}", ev.ece_bins)
        for path in plots:
            mlflow.log_artifact(str(path), artifact_path="plots")
        majority_label = (cv.L.mean(axis=0) >= 0.5).astype(int)
        slice_table = slices(
            dev.y, cv.p_mean, majority_label, dev.X["treatment_category"].tolist(), ev.min_slice_size, ev.ece_bins
        )
        slice_table.to_csv(run_dir / "slices.csv", index=False)
        mlflow.log_artifact(str(run_dir / "slices.csv"))
        oof = pd.DataFrame({"item_id": dev.item_ids, "case_id": dev.groups, "label": dev.y})
        for r in range(cv.P.shape[0]):
            oof[f"p_upheld_repeat{r}"] = cv.P[r]
        oof.to_csv(run_dir / "oof_predictions.csv", index=False)
        mlflow.log_artifact(str(run_dir / "oof_predictions.csv"))
        if held is not None:
            mlflow.log_metrics({"temporal_test_items": len(held.y), "temporal_train_items": len(data.y) - len(held.y)})

        say(f"[{config.jurisdiction}] {spec.name}: fitting on all {len(data.y)} items")
        started = time.perf_counter()
        model_uri = None
        results: list[behaviour.BehaviourResult] = []
        fit_seconds = 0.0
        checked = None
        if eligible:
            estimator = build_candidate(spec, config.cv.seed, final=True).fit(
                data.X, data.y, groups=data.groups, rationale=data.rationale
            )
            fit_seconds = time.perf_counter() - started
            estimator = _with_reasons(estimator, config, data)
            threshold = operating_threshold(data.y, ev.threshold)
            reason_labels = _reason_labels()
            meta = build_metadata(config.jurisdiction, spec.name, threshold, reason_labels)
            scorer = PrescreenModel(estimator, meta)
            gates = config.gates
            results = behaviour.run_all(
                scorer,
                config.jurisdiction,
                threshold,
                gates.invariance_bound,
                gates.directional_tolerance,
                gates.min_functionality,
                _real_requests(data),
            )
            if gates.coherence:
                checked = coherence(estimator_scorer(estimator), _all_requests(data), gates.coherence_tolerance)
                mlflow.log_metrics(
                    {
                        "coherence_fixes_tested": checked.fixes_tested,
                        "coherence_fixes_raised": checked.fixes_raised,
                        "coherence_worst_fix_rise": checked.worst_fix_rise,
                        "coherence_omission_rewarded": checked.omission_rewarded,
                        "coherence_worst_omission_gain": checked.worst_omission_gain,
                    }
                )
                say(f"[{config.jurisdiction}] {spec.name}: coherence: {checked.describe()}")
            for result in results:
                mlflow.log_metric(f"behaviour_{result.name}_passed", float(result.passed))
                mlflow.log_metrics({f"behaviour_{result.name}_{k}": v for k, v in result.values.items()})
                mlflow.set_tag(f"behaviour_{result.name}", result.detail[:4000])
            reason_auc = getattr(estimator, "reason_auc_", None)
            if reason_auc:
                mlflow.log_metrics({f"reason_auc_{code}": value for code, value in reason_auc.items()})
            info = log_pyfunc(
                estimator,
                meta,
                run_dir / "model",
                uses_minilm=spec.kind == "minilm",
                similar_table=data.table if eligible else None,
            )
            model_uri = info.model_uri
            mlflow.log_metric("fit_seconds", fit_seconds)
        outcome = CandidateOutcome(
            name=spec.name,
            kind=spec.kind,
            eligible=eligible,
            run_id=run.info.run_id,
            metrics=metrics,
            temporal=temporal_metrics,
            cv_seconds=cv_seconds,
            fit_seconds=fit_seconds,
            model_uri=model_uri,
            behaviour=results,
            holdout=held,
            coherence=checked,
        )
        outcome.total_seconds = time.perf_counter() - run_started
        mlflow.log_metric("total_seconds", outcome.total_seconds)
    say(
        f"[{config.jurisdiction}] {spec.name}: ROC-AUC {metrics['roc_auc'].format()} "
        f"({cv_seconds:.0f}s CV, {outcome.total_seconds:.0f}s in all)"
    )
    return outcome, cv


def _with_reasons(estimator: Any, config: ExperimentConfig, data: TrainingData) -> Any:
    """The estimator, with a reason head for explanation when it has none and the data has rationales."""
    head_config = config.reason_head
    if not head_config.enabled or estimator.predict_reasons(data.X.head(1)) is not None:
        return estimator
    if not any(isinstance(r, str) and r.strip() for r in data.rationale):
        return estimator
    head = ReasonHead(head_config.text.model_dump(), head_config.C, head_config.min_reason_count)
    head.fit(data.X, data.rationale)
    return WithReasons(estimator, head) if head.codes_ else estimator


def _all_requests(data: TrainingData) -> list[dict[str, Any]]:
    """Every item as a request (pre-submission fields only), for the coherence gate."""
    return [{str(k): v for k, v in row.items()} for row in data.X.to_dict(orient="records")]


def _reason_labels() -> dict[str, str]:
    try:
        from features.reasons import REASONS
    except ImportError:  # pragma: no cover - the taxonomy ships with features/
        return {}
    return dict(REASONS)


# ---------------------------------------------------------------------------------------------------------------
# the experiment


def _folds(config: ExperimentConfig, data: TrainingData, say: Say) -> list[Fold]:
    folds = config.cv.folds
    possible = max_folds(data.y, data.groups)
    if possible < 2:
        raise DatasetMissingError(
            f"Only {possible} case(s) of the rarer label among the {config.jurisdiction.upper()} items: too few to "
            "cross-validate. Add data and rebuild with `make data`."
        )
    if folds > possible:
        say(f"[{config.jurisdiction}] only {possible} cases of the rarer label: using {possible} folds, not {folds}")
        folds = possible
    return grouped_cv(data.y, data.groups, folds, config.cv.repeats, config.cv.seed)


def _temporal(config: ExperimentConfig, data: TrainingData, say: Say) -> tuple[np.ndarray, np.ndarray] | None:
    if not config.temporal.enabled:
        return None
    try:
        train, test = temporal_split(data.table, config.temporal.test_fraction)
    except ValueError as exc:
        say(f"[{config.jurisdiction}] no temporal split: {exc}")
        return None
    if len(np.unique(data.y[train])) < 2:
        say(f"[{config.jurisdiction}] no temporal split: the earlier part has a single label")
        return None
    return train, test


def _champion_auc(
    champion: Any,
    config: ExperimentConfig,
    data: TrainingData,
    folds: list[Fold],
    cv_by_config: dict[str, CVResult],
    say: Say,
) -> tuple[float | None, str]:
    """The current champion's configuration re-evaluated on today's folds (reusing a run when it is the same)."""
    if champion is None:
        return None, ""
    label = f"v{champion.version}"
    if champion.candidate_config is None:
        if champion.logged_roc_auc is not None:
            say(f"[{config.jurisdiction}] champion {label} has no stored configuration: comparing with its logged AUC")
            return float(champion.logged_roc_auc), f"{label}, logged AUC"
        return None, label
    key = json.dumps(champion.candidate_config, sort_keys=True)
    if key in cv_by_config:
        cv = cv_by_config[key]
    else:
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
            folds,
            rationale=data.rationale,
            threshold=config.evaluation.threshold,
            progress=say,
        )
    value = summarize(data.y, cv.P, cv.L, data.groups, 0)["roc_auc"].value
    return value, f"{label} {champion.candidate_config.get('name', '')}".strip()


def _ranked(outcomes: dict[str, CandidateOutcome], beat_constant: bool) -> list[CandidateOutcome]:
    """Eligible candidates, best first: by cross-validated log loss when they must beat the constant, else AUC."""
    eligible = [o for o in outcomes.values() if o.eligible and o.model_uri]
    if beat_constant:
        return sorted(eligible, key=lambda o: (o.metrics["log_loss"].value, o.metrics["brier"].value))
    return sorted(eligible, key=lambda o: -o.metrics["roc_auc"].value)


def _point(metrics: dict[str, Estimate] | None) -> dict[str, float] | None:
    return None if metrics is None else {k: v.value for k, v in metrics.items()}


def _candidate_gates(
    config: ExperimentConfig,
    outcome: CandidateOutcome,
    outcomes: dict[str, CandidateOutcome],
    champion_auc: float | None,
    champion_label: str,
) -> list[Gate]:
    g = config.gates
    gates: list[Gate] = [gate_eligible(outcome.name, outcome.eligible)]
    if g.beat_constant:
        constant = next((o for o in outcomes.values() if o.kind == "constant"), None)
        if constant is None:
            gates.append(Gate("beats_constant", False, "the experiment has no 'constant' candidate to compare with"))
        else:
            cv_own, cv_const = _point(outcome.metrics), _point(constant.metrics)
            assert cv_own is not None and cv_const is not None
            gates += gates_beat_constant(cv_own, cv_const, _point(outcome.temporal), _point(constant.temporal))
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


def _choose(
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
        gates = _candidate_gates(config, outcome, outcomes, champion_auc, champion_label)
        if all(gate.passed for gate in gates):
            return outcome, gates, ""
        tried.append(f"{outcome.name} (failed {', '.join(g.name for g in gates if not g.passed)})")
    if not config.gates.beat_constant:
        best = ranked[0]
        return best, _candidate_gates(config, best, outcomes, champion_auc, champion_label), ""
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


def _tag_artifact_hash(client: Any, name: str, version: str, uri: str) -> None:
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


def run_training(
    config_path: Path,
    tracking_uri: str | None = None,
    data_path: Path | None = None,
    say: Say = print,
) -> TrainResult:
    """Train, log, register and gate one experiment; prints progress and a summary table, returns the result.

    Raises ``features.dataset.DatasetMissingError`` (with what to do) when the item table is missing, empty,
    or has no usable rows for the experiment's jurisdiction, and ``training.config.ConfigError`` for a bad file.
    """
    import mlflow
    from mlflow import MlflowClient

    config = load_config(Path(config_path))
    source = Path(data_path) if data_path is not None else items_path()
    table = load_items(source)
    data = prepare(table, config, source)
    digest = f"sha256:{content_digest(table)}"
    uri = tracking_uri or default_tracking_uri()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    experiment_id = _experiment_id(client, config.jurisdiction, uri)
    mark_killed_runs(client, experiment_id, say)

    n_cases, n_over = len(set(data.groups)), int((data.y == 0).sum())
    say(f"[{config.jurisdiction}] {len(data.y)} items from {n_cases} cases ({n_over} overturned); data {digest[:19]}")
    temporal = _temporal(config, data, say)
    dev = data.subset(temporal[0]) if temporal is not None and config.temporal.held_out else data
    if dev is not data:
        say(
            f"[{config.jurisdiction}] temporal test: the latest {len(data.y) - len(dev.y)} items are held out of "
            f"cross-validation ({len(dev.y)} earlier items are cross-validated)"
        )
    folds = _folds(config, dev, say)
    tags = {
        "jurisdiction": config.jurisdiction,
        "data_digest": digest,
        "git_commit": git_commit(),
        "config_file": Path(config_path).name,
    }
    dataset = _dataset_input(data, source, digest.removeprefix("sha256:"))

    outcomes: dict[str, CandidateOutcome] = {}
    cv_by_config: dict[str, CVResult] = {}
    with tempfile.TemporaryDirectory(prefix="imr-train-") as tmp:
        for spec in config.candidates:
            outcome, cv = _run_candidate(
                spec, config, data, dev, folds, temporal, experiment_id, tags, dataset, Path(tmp), say
            )
            outcomes[spec.name] = outcome
            cv_by_config[json.dumps(spec.model_dump(mode="json"), sort_keys=True)] = cv

        eligible = [o for o in outcomes.values() if o.eligible and o.model_uri]
        registered = None
        promoted = False
        decision = None
        champion_version = None
        best: CandidateOutcome | None = None
        if config.register_best and eligible:
            name = model_name(config.jurisdiction)
            with registry_lock(uri, say=say):
                champion = current_champion(client, name)
                champion_version = champion.version if champion else None
                champion_auc, champion_label = (
                    (None, "")
                    if config.gates.beat_constant
                    else _champion_auc(champion, config, dev, folds, cv_by_config, say)
                )
                best, gates, fallback_note = _choose(config, outcomes, champion_auc, champion_label)
                if fallback_note:
                    say(fallback_note)
                best_spec = config.candidate(best.name)
                best_cv = cv_by_config[json.dumps(best_spec.model_dump(mode="json"), sort_keys=True)]
                prior_cv = cv_by_config[json.dumps(config.prior.model_dump(mode="json"), sort_keys=True)]
                gains = paired_difference(
                    dev.y,
                    best_cv.P,
                    prior_cv.P,
                    dev.groups,
                    config.evaluation.bootstrap,
                    config.evaluation.bootstrap_seed,
                )
                decision = decide(gates)
                constant_spec = next((c for c in config.candidates if c.kind == "constant"), None)
                versus_constant = {}
                if constant_spec is not None:
                    constant_cv = cv_by_config[json.dumps(constant_spec.model_dump(mode="json"), sort_keys=True)]
                    for metric_name, fn in (("brier", brier), ("log_loss", log_loss)):
                        diff = paired_difference(
                            dev.y,
                            best_cv.P,
                            constant_cv.P,
                            dev.groups,
                            config.evaluation.bootstrap,
                            config.evaluation.bootstrap_seed,
                            metric=fn,
                        )
                        versus_constant[f"{metric_name}_minus_constant"] = diff.format(4)
                        say(
                            f"[{config.jurisdiction}] {best.name} minus constant, cross-validated {metric_name} "
                            f"(paired case bootstrap): {diff.format(4)}"
                        )
                version_tags = {
                    **tags,
                    "candidate": best.name,
                    "candidate_config": best_spec.model_dump_json(),
                    "gates": "passed" if decision.promote else "failed: " + ", ".join(g.name for g in decision.failed),
                    "fallback": fallback_note or "no",
                    "auc_gain_over_prior": gains.format(4),
                    **versus_constant,
                    **{k: f"{v:.4f}" for k, v in _metric_dict("", best.metrics).items()},
                    **{k: f"{v:.4f}" for k, v in _metric_dict("temporal_", best.temporal or {}).items()},
                }
                assert best.model_uri is not None
                registered = register(client, name, best.model_uri, best.run_id, version_tags)
                _tag_artifact_hash(client, name, registered, uri)
                say(f"[{config.jurisdiction}] registered {name} v{registered} ({best.name}); gates:")
                say(decision.explain())
                if decision.promote:
                    promote(client, name, registered)
                    promoted = True
                    champion_version = registered
                    say(f"[{config.jurisdiction}] {name}@champion -> v{registered}")
                else:
                    kept = f"v{champion.version}" if champion else "none"
                    say(f"[{config.jurisdiction}] gates failed: champion stays {kept}")
    table_text = summary_table(config.jurisdiction, outcomes, best.name if best else None)
    say(table_text)
    return TrainResult(
        config.jurisdiction,
        experiment_id,
        uri,
        digest,
        outcomes,
        best.name if best else None,
        registered,
        promoted,
        champion_version,
        decision,
        table_text,
    )


def train_all(
    config_paths: tuple[Path, ...] | list[Path] | None = None,
    tracking_uri: str | None = None,
    data_path: Path | None = None,
    say: Say = print,
) -> list[TrainResult]:
    """Every default experiment in turn (what ``make train`` runs)."""
    from training.config import DEFAULT_CONFIGS

    return [run_training(p, tracking_uri, data_path, say) for p in (config_paths or DEFAULT_CONFIGS)]


# ---------------------------------------------------------------------------------------------------------------
# summary


def summary_table(jurisdiction: str, outcomes: dict[str, CandidateOutcome], best: str | None) -> str:
    """A fixed-width table: one row per candidate, losses and AUC with 95 % intervals, CV and temporal, wall time."""
    header = (
        f"{'candidate':<24} {'CV Brier [95% CI]':<24} {'CV log loss [95% CI]':<24} {'CV ROC-AUC [95% CI]':<22} "
        f"{'ECE':>6} {'temp Brier':>10} {'temp LL':>8} {'temp AUC':>8} {'time s':>7}"
    )
    lines = [
        f"\n{jurisdiction.upper()} candidates (repeated grouped CV; temporal = latest cases; * = registered, "
        "(ceiling) = not eligible)",
        header,
        "-" * len(header),
    ]
    for o in outcomes.values():
        mark = "*" if o.name == best else (" (ceiling)" if not o.eligible else "")
        t = o.temporal or {}
        m = o.metrics

        def cell(name: str, t: dict[str, Estimate] = t) -> str:
            return f"{t[name].value:.3f}" if name in t else "-"

        lines.append(
            f"{(o.name + mark)[:24]:<24} {m['brier'].format(4):<24} {m['log_loss'].format(4):<24} "
            f"{m['roc_auc'].format():<22} {m['ece'].value:>6.3f} {cell('brier'):>10} {cell('log_loss'):>8} "
            f"{cell('roc_auc'):>8} {o.total_seconds:>7.1f}"
        )
    return "\n".join(lines)


__all__ = [
    "METRIC_NAMES",
    "CandidateOutcome",
    "TrainResult",
    "default_tracking_uri",
    "run_training",
    "summary_table",
    "train_all",
]
