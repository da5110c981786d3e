"""The train command: cross-validate every candidate of an experiment, log each to MLflow, register, gate.

``run_training(config_path)`` does one experiment (one jurisdiction); ``train_all()`` runs the default ones
(``experiments/dwc.yaml`` then ``experiments/dmhc.yaml``), which is what ``make train`` calls.

This module only orchestrates: the data and the run context are in ``training.context``, evaluation and its
MLflow artifacts in ``training.evaluate`` (plots in ``training.plots``), the gates, the choice of the candidate
and the registry in ``training.promote``.

Tracking: by default an embedded SQLite store ``<repo>/mlflow.db`` with artifacts under ``<repo>/mlartifacts``
(both git-ignored), so no server is needed; ``MLFLOW_TRACKING_URI`` (or the ``tracking_uri`` argument) sends
everything to a team's server instead. Request and summary text is never printed or logged: runs hold
parameters, metrics, plots, item ids with out-of-fold probabilities, and the model.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features.dataset import DatasetMissingError, content_digest, load_items
from features.paths import REPO_ROOT, items_path
from features.progress import track
from training import behaviour
from training.candidates import ReasonHead, WithReasons, build_candidate
from training.coherence import CoherenceResult, coherence, estimator_scorer
from training.config import Candidate, ExperimentConfig, is_eligible, load_config
from training.context import CandidateOutcome, RunContext, Say, TrainingData, config_key, prepare
from training.evaluate import (
    METRIC_NAMES,
    CVResult,
    Estimate,
    HoldoutResult,
    cross_validate,
    holdout,
    log_cv_artifacts,
    metric_dict,
    operating_threshold,
    run_params,
    summarize,
)
from training.promote import Decision, register_best
from training.pyfunc import PrescreenModel, build_metadata, log_pyfunc
from training.recovery import mark_killed_runs, trainer_tags
from training.splits import Fold, grouped_cv, max_folds, temporal_split


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
# tracking and requests


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


def _open_tracking(uri: str, jurisdiction: str, say: Say) -> tuple[Any, str]:
    """The MLflow client and the jurisdiction's experiment id, with runs a killed training left open closed."""
    import mlflow
    from mlflow import MlflowClient

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    experiment_id = _experiment_id(client, jurisdiction, uri)
    mark_killed_runs(client, experiment_id, say)
    return client, experiment_id


def _real_requests(data: TrainingData, limit: int = 40, seed: int = 0) -> list[dict[str, Any]]:
    """Real training requests for the invariance test (kept in memory, never logged)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.X))[: limit * 3]
    return [{str(k): v for k, v in data.X.iloc[int(i)].to_dict().items()} for i in order]


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
# one candidate


def _evaluate_candidate(
    ctx: RunContext, spec: Candidate
) -> tuple[CVResult, dict[str, Estimate], dict[str, Estimate] | None, HoldoutResult | None]:
    """Cross-validation on ``dev`` (all rows, or the earlier cases when the temporal test is held out) and the
    temporal test (fitted on the earlier cases of ``data``, scored on the later ones)."""
    seed, ev, data, dev = ctx.config.cv.seed, ctx.config.evaluation, ctx.data, ctx.dev
    cv = cross_validate(
        spec.name,
        lambda: build_candidate(spec, seed),
        dev.X,
        dev.y,
        dev.groups,
        ctx.folds,
        rationale=dev.rationale,
        threshold=ev.threshold,
        progress=ctx.say,
    )
    metrics = summarize(dev.y, cv.P, cv.L, dev.groups, ev.bootstrap, ev.bootstrap_seed, ev.ece_bins)
    if ctx.temporal is None:
        return cv, metrics, None, None
    held = holdout(
        lambda: build_candidate(spec, seed),
        data.X,
        data.y,
        data.groups,
        ctx.temporal[0],
        ctx.temporal[1],
        rationale=data.rationale,
        threshold=ev.threshold,
    )
    temporal_metrics = None
    if len(np.unique(held.y)) == 2:
        temporal_metrics = summarize(
            held.y, held.p[None, :], held.label[None, :], held.groups, ev.bootstrap, ev.bootstrap_seed, ev.ece_bins
        )
    return cv, metrics, temporal_metrics, held


def _run_tags(ctx: RunContext, spec: Candidate, eligible: bool) -> dict[str, str]:
    return {
        **ctx.tags,
        "candidate": spec.name,
        "kind": spec.kind,
        "eligible": str(eligible).lower(),
        "leakage_ceiling": str(spec.kind == "leakage-ceiling").lower(),
        "candidate_config": spec.model_dump_json(),
        **trainer_tags(),
    }


def _log_counts(ctx: RunContext, cv_seconds: float, held: HoldoutResult | None) -> None:
    import mlflow

    data = ctx.data
    mlflow.log_metrics(
        {
            "cv_seconds": cv_seconds,
            "n_items": len(data.y),
            "n_cv_items": len(ctx.dev.y),
            "n_cases": len(set(data.groups)),
            "n_overturned": int((data.y == 0).sum()),
        }
    )
    if held is not None:
        mlflow.log_metrics({"temporal_test_items": len(held.y), "temporal_train_items": len(data.y) - len(held.y)})


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


def _check_final(
    ctx: RunContext, spec: Candidate, estimator: Any, scorer: PrescreenModel, threshold: float
) -> tuple[list[behaviour.BehaviourResult], CoherenceResult | None]:
    """The behavioural checks and the coherence check of the final model, logged to the run."""
    import mlflow

    gates = ctx.config.gates
    results = behaviour.run_all(
        scorer,
        ctx.jurisdiction,
        threshold,
        gates.invariance_bound,
        gates.directional_tolerance,
        gates.min_functionality,
        _real_requests(ctx.data),
    )
    checked = None
    if gates.coherence:
        checked = coherence(estimator_scorer(estimator), _all_requests(ctx.data), gates.coherence_tolerance)
        mlflow.log_metrics(
            {
                "coherence_fixes_tested": checked.fixes_tested,
                "coherence_fixes_raised": checked.fixes_raised,
                "coherence_worst_fix_rise": checked.worst_fix_rise,
                "coherence_omission_rewarded": checked.omission_rewarded,
                "coherence_worst_omission_gain": checked.worst_omission_gain,
            }
        )
        ctx.say(f"[{ctx.jurisdiction}] {spec.name}: coherence: {checked.describe()}")
    for result in results:
        mlflow.log_metric(f"behaviour_{result.name}_passed", float(result.passed))
        mlflow.log_metrics({f"behaviour_{result.name}_{k}": v for k, v in result.values.items()})
        mlflow.set_tag(f"behaviour_{result.name}", result.detail[:4000])
    return results, checked


def _fit_final(
    ctx: RunContext, spec: Candidate, run_dir: Path
) -> tuple[str, list[behaviour.BehaviourResult], float, CoherenceResult | None]:
    """Fit on every item, check it, log it as the run's model: its URI, checks, fit time and coherence."""
    import mlflow

    config, data = ctx.config, ctx.data
    started = time.perf_counter()
    estimator = build_candidate(spec, config.cv.seed, final=True).fit(
        data.X, data.y, groups=data.groups, rationale=data.rationale
    )
    fit_seconds = time.perf_counter() - started
    estimator = _with_reasons(estimator, config, data)
    threshold = operating_threshold(data.y, config.evaluation.threshold)
    meta = build_metadata(config.jurisdiction, spec.name, threshold, _reason_labels())
    results, checked = _check_final(ctx, spec, estimator, PrescreenModel(estimator, meta), threshold)
    # Only the reason heads of rationale-supervised candidates have it.
    reason_auc = getattr(estimator, "reason_auc_", None)
    if reason_auc:
        mlflow.log_metrics({f"reason_auc_{code}": value for code, value in reason_auc.items()})
    info = log_pyfunc(estimator, meta, run_dir / "model", uses_minilm=spec.kind == "minilm", similar_table=data.table)
    mlflow.log_metric("fit_seconds", fit_seconds)
    return info.model_uri, results, fit_seconds, checked


def _run_candidate(ctx: RunContext, spec: Candidate) -> tuple[CandidateOutcome, CVResult]:
    """One candidate's MLflow run: CV and temporal metrics, plots and predictions, then (if eligible) the model."""
    import mlflow

    j, eligible = ctx.jurisdiction, is_eligible(spec)
    run_started = time.perf_counter()
    ctx.say(f"[{j}] {spec.name} ({spec.kind}): {len(ctx.folds)} folds")
    with mlflow.start_run(experiment_id=ctx.experiment_id, run_name=spec.name) as run:
        mlflow.set_tags(_run_tags(ctx, spec, eligible))
        mlflow.log_params(run_params(spec, ctx.config))
        mlflow.log_input(ctx.dataset, context="training")
        started = time.perf_counter()
        cv, metrics, temporal_metrics, held = _evaluate_candidate(ctx, spec)
        cv_seconds = time.perf_counter() - started
        mlflow.log_metrics(metric_dict("", metrics))
        if temporal_metrics is not None:
            mlflow.log_metrics(metric_dict("temporal_", temporal_metrics))
        run_dir = ctx.workdir / spec.name
        categories = ctx.dev.X["treatment_category"].tolist()
        log_cv_artifacts(cv, ctx.dev.item_ids, categories, run_dir, f"{j} / {spec.name}", ctx.config.evaluation)
        _log_counts(ctx, cv_seconds, held)
        ctx.say(f"[{j}] {spec.name}: fitting on all {len(ctx.data.y)} items")
        results: list[behaviour.BehaviourResult] = []
        model_uri, fit_seconds, checked = None, 0.0, None
        if eligible:
            model_uri, results, fit_seconds, checked = _fit_final(ctx, spec, run_dir)
        outcome = CandidateOutcome(
            spec.name,
            spec.kind,
            eligible,
            run.info.run_id,
            metrics,
            temporal_metrics,
            cv_seconds,
            fit_seconds,
            model_uri,
            behaviour=results,
            holdout=held,
            coherence=checked,
        )
        outcome.total_seconds = time.perf_counter() - run_started
        mlflow.log_metric("total_seconds", outcome.total_seconds)
    ctx.say(
        f"[{j}] {spec.name}: ROC-AUC {metrics['roc_auc'].format()} "
        f"({cv_seconds:.0f}s CV, {outcome.total_seconds:.0f}s in all)"
    )
    return outcome, cv


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


def _split(
    config: ExperimentConfig, data: TrainingData, digest: str, say: Say
) -> tuple[TrainingData, list[Fold], tuple[np.ndarray, np.ndarray] | None]:
    """The rows to cross-validate, their folds, and the temporal split (said as they are decided)."""
    n_cases, n_over = len(set(data.groups)), int((data.y == 0).sum())
    say(f"[{config.jurisdiction}] {len(data.y)} items from {n_cases} cases ({n_over} overturned); data {digest[:19]}")
    temporal = _temporal(config, data, say)
    dev = data.subset(temporal[0]) if temporal is not None and config.temporal.held_out else data
    if dev is not data:
        say(
            f"[{config.jurisdiction}] temporal test: the latest {len(data.y) - len(dev.y)} items are held out of "
            f"cross-validation ({len(dev.y)} earlier items are cross-validated)"
        )
    return dev, _folds(config, dev, say), temporal


def _run_candidates(ctx: RunContext) -> tuple[dict[str, CandidateOutcome], dict[str, CVResult]]:
    """Every candidate's run, and its out-of-fold predictions by configuration (for the gates and the champion)."""
    outcomes: dict[str, CandidateOutcome] = {}
    cv_by_config: dict[str, CVResult] = {}
    for spec in track(ctx.config.candidates, f"{ctx.jurisdiction}: candidates"):
        outcome, cv = _run_candidate(ctx, spec)
        outcomes[spec.name] = outcome
        cv_by_config[config_key(spec)] = cv
    return outcomes, cv_by_config


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
    config = load_config(Path(config_path))
    source = Path(data_path) if data_path is not None else items_path()
    table = load_items(source)
    data = prepare(table, config, source)
    digest = f"sha256:{content_digest(table)}"
    uri = tracking_uri or default_tracking_uri()
    client, experiment_id = _open_tracking(uri, config.jurisdiction, say)
    dev, folds, temporal = _split(config, data, digest, say)
    tags = {
        "jurisdiction": config.jurisdiction,
        "data_digest": digest,
        "git_commit": git_commit(),
        "config_file": Path(config_path).name,
    }
    dataset = _dataset_input(data, source, digest.removeprefix("sha256:"))
    with tempfile.TemporaryDirectory(prefix="imr-train-") as tmp:
        ctx = RunContext(config, data, dev, folds, temporal, experiment_id, tags, dataset, Path(tmp), say)
        outcomes, cv_by_config = _run_candidates(ctx)
        done = register_best(ctx, client, uri, outcomes, cv_by_config)
    best = done.best.name if done.best else None
    table_text = summary_table(config.jurisdiction, outcomes, best)
    say(table_text)
    return TrainResult(
        config.jurisdiction,
        experiment_id,
        uri,
        digest,
        outcomes,
        best,
        done.version,
        done.promoted,
        done.champion_version,
        done.decision,
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
