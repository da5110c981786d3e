"""Hyperparameter search with Ray Tune for one candidate of an experiment, on the same grouped CV as training.

``imr tune --config experiments/dwc.yaml --candidate tfidf-lr --samples 16`` runs :func:`tune_experiment`:

1. The experiment's data and folds are prepared once by the training's own code (``training.context.prepare``: rows
   of the jurisdiction, leak-checked pre-submission view, labels, case groups; then the case-grouped stratified
   repeated folds of the config's ``cv``), so a trial's score is what ``make train`` would report for that setting.
2. Ray Tune samples ``num_samples`` settings from the candidate kind's search space (:data:`SEARCH_SPACES`); each
   trial builds the candidate with the training builder, cross-validates it on those folds and reports the same
   metrics (point values: the bootstrap is for the final report, not for ranking trials). Ray runs the trials in
   parallel on the cluster of ``RAY_ADDRESS`` or on a local Ray that the command starts and stops.
3. The driver logs a parent MLflow run (``tune-<candidate>``) in the jurisdiction's experiment and one nested child
   run per trial (parameters, metrics, status), then writes the best setting as a new experiment file: the original
   experiment plus the tuned candidate ``<candidate>-tuned``, validated by :func:`training.config.load_config`, ready
   for ``make train CONFIG=<that file>``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml

from features.dataset import load_items
from features.paths import REPO_ROOT
from features.paths import items_path as default_items_path
from training.candidates import build_candidate
from training.config import EXPERIMENTS_DIR, Candidate, ExperimentConfig, load_config, parse_candidate
from training.context import Say, prepare
from training.evaluate import METRIC_NAMES, cross_validate, summarize
from training.splits import Fold
from training.train import _experiment_id, _folds, default_tracking_uri

#: The metric trials are ranked by (higher is better), as the promotion gates compare candidates.
TUNE_METRIC: Final = "roc_auc"
TUNED_SUFFIX: Final = "-tuned"


# -- search spaces ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogUniform:
    """A positive number sampled uniformly on a log scale."""

    low: float
    high: float


@dataclass(frozen=True)
class Choice:
    """One of a few values (lists stand for tuples such as n-gram ranges; None is allowed)."""

    values: tuple[Any, ...]


Domain = LogUniform | Choice

#: Per candidate kind: dotted field path (as in the experiment YAML) -> what to sample. The leakage ceiling is
#: never promoted, so it is not tuned.
SEARCH_SPACES: Final[dict[str, dict[str, Domain]]] = {
    "prior": {"smoothing": LogUniform(1.0, 100.0)},
    "tfidf-lr": {
        "C": LogUniform(0.03, 30.0),
        "class_weight": Choice(("balanced", None)),
        "text.word_ngrams": Choice(([1, 1], [1, 2], [1, 3])),
        "text.char_ngrams": Choice((None, [2, 4], [2, 5], [3, 5])),
        "text.min_df": Choice((1, 2, 3, 5)),
    },
    "rationale-supervised": {
        "C": LogUniform(0.03, 30.0),
        "reason_C": LogUniform(0.1, 10.0),
        "min_reason_count": Choice((3, 5, 10)),
        "with_text": Choice((True, False)),
        "text.min_df": Choice((1, 2, 3, 5)),
    },
    "dmhc": {
        "C": LogUniform(0.03, 10.0),
        "min_frequency": Choice((1, 3, 5, 10, 20)),
        "learning_rate": LogUniform(0.02, 0.2),
        "max_leaf_nodes": Choice((15, 31, 63)),
        "l2_regularization": LogUniform(0.01, 10.0),
        "summary_text": Choice((True, False)),
    },
    "minilm": {"C": LogUniform(0.03, 10.0), "class_weight": Choice(("balanced", None))},
}


class TuningError(RuntimeError):
    """Tuning cannot run (untunable candidate, no data) or every trial failed."""


def search_space(kind: str) -> dict[str, Domain]:
    """The search space of a candidate kind."""
    if kind not in SEARCH_SPACES:
        raise TuningError(f"candidates of kind {kind!r} are not tuned (tunable: {', '.join(SEARCH_SPACES)})")
    return SEARCH_SPACES[kind]


def _tune_domain(domain: Domain) -> Any:
    from ray import tune

    if isinstance(domain, LogUniform):
        return tune.loguniform(domain.low, domain.high)
    return tune.choice(list(domain.values))


def apply_params(base: Candidate, params: Mapping[str, Any], name: str | None = None) -> Candidate:
    """The candidate with dotted-path parameters set, validated like the YAML (a bad value raises)."""
    data = base.model_dump(mode="json")
    for path, value in params.items():
        target = data
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part]
        if leaf not in target:
            raise KeyError(f"{base.kind} has no field {path!r}")
        target[leaf] = list(value) if isinstance(value, tuple) else value
    if name is not None:
        data["name"] = name
    return parse_candidate(data)


# -- data, prepared once as training prepares it ---------------------------------------------------------------------


@dataclass(frozen=True)
class TuneData:
    """What every trial needs: model input, labels, case groups, rationale (training signal) and the folds."""

    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    rationale: np.ndarray | None
    folds: list[Fold]
    seed: int
    threshold: str | float
    ece_bins: int


def prepare_data(config: ExperimentConfig, table: pd.DataFrame, source: Path, say: Say = print) -> TuneData:
    """The experiment's rows, view, labels, groups and repeated grouped folds, by the training's own code."""
    data = prepare(table, config, source)
    return TuneData(
        X=data.X,
        y=data.y,
        groups=data.groups,
        rationale=data.rationale,
        folds=_folds(config, data, say),
        seed=config.cv.seed,
        threshold=config.evaluation.threshold,
        ece_bins=config.evaluation.ece_bins,
    )


def evaluate_candidate(spec: Candidate, data: TuneData) -> dict[str, float]:
    """Grouped-CV metrics (point values averaged over repeats) of one candidate setting, plus its fit time."""
    result = cross_validate(
        spec.name,
        lambda: build_candidate(spec, data.seed),
        data.X,
        data.y,
        data.groups,
        data.folds,
        rationale=data.rationale,
        threshold=data.threshold,
    )
    estimates = summarize(data.y, result.P, result.L, data.groups, n_boot=0, ece_bins=data.ece_bins)
    metrics = {name: estimates[name].value for name in METRIC_NAMES}
    metrics["fit_seconds"] = float(sum(result.fit_seconds))
    return metrics


def _trial(params: dict[str, Any], base: Candidate, data: TuneData) -> None:
    """One Ray Tune trial: the candidate with these parameters, cross-validated on the shared folds."""
    from ray import tune

    metrics = evaluate_candidate(apply_params(base, params), data)
    # Tune needs a finite number to rank by; a fold set with one label gives NaN ROC-AUC.
    tune.report({k: (v if math.isfinite(v) else -1.0) for k, v in metrics.items()})


# -- trials and logging ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One finished trial: its parameters, metrics, and the error if it failed."""

    number: int
    params: dict[str, Any]
    metrics: dict[str, float]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and TUNE_METRIC in self.metrics


@dataclass
class TuningResult:
    """Every trial, the best one, and where the result went."""

    trials: list[Trial]
    best: Trial
    parent_run_id: str
    output_config: Path
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def run_trials(
    base: Candidate, data: TuneData, num_samples: int, num_workers: int | None, seed: int, storage: Path
) -> list[Trial]:
    """Run the search on Ray (joined, or a local Ray this call starts and stops); trials in sampling order."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from features.parallel import ray_session

    space = {path: _tune_domain(d) for path, d in search_space(base.kind).items()}
    # A quiet console: the trials are logged to MLflow by the driver, Tune's own files go to a temporary folder.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with ray_session(num_workers):
        tuner = tune.Tuner(
            tune.with_parameters(_trial, base=base, data=data),
            param_space=space,
            tune_config=tune.TuneConfig(
                metric=TUNE_METRIC,
                mode="max",
                num_samples=num_samples,
                search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=num_workers or 0),
                trial_name_creator=lambda t: f"trial-{t.trial_id}",
                trial_dirname_creator=lambda t: f"trial-{t.trial_id}",
            ),
            run_config=tune.RunConfig(name="imr-tune", storage_path=str(storage), verbose=0),
        )
        grid = tuner.fit()
    return [_trial_of(number, grid[number]) for number in range(len(grid))]


def _trial_of(number: int, result: Any) -> Trial:
    params = dict(result.config or {})
    if result.error is not None:
        return Trial(number, params, {}, f"{type(result.error).__name__}: {str(result.error)[:300]}")
    metrics = {k: float(v) for k, v in dict(result.metrics or {}).items() if k in (*METRIC_NAMES, "fit_seconds")}
    return Trial(number, params, metrics)


def best_trial(trials: Sequence[Trial]) -> Trial:
    """Highest ROC-AUC; ties go to the lower Brier score, then the earlier trial."""
    finished = [t for t in trials if t.ok]
    if not finished:
        errors = "; ".join(sorted({t.error or "no metric" for t in trials}))[:500]
        raise TuningError(f"every trial failed: {errors}")
    return min(finished, key=lambda t: (-t.metrics[TUNE_METRIC], t.metrics.get("brier", 1.0), t.number))


def _param_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | tuple | dict) or value is None else str(value)


def _log_trial(experiment_id: str, base: Candidate, trial: Trial) -> None:
    """One trial as a child run of the active (parent) run, FAILED when the trial failed."""
    import mlflow

    mlflow.start_run(experiment_id=experiment_id, run_name=f"{base.name}-trial-{trial.number:03d}", nested=True)
    try:
        mlflow.set_tags({"imr.kind": "tuning-trial", "candidate": base.name, "trial": str(trial.number)})
        mlflow.log_params({k: _param_value(v) for k, v in trial.params.items()})
        if trial.ok:
            mlflow.log_metrics({k: v for k, v in trial.metrics.items() if math.isfinite(v)})
        else:
            mlflow.set_tag("error", trial.error or "no metric")
    finally:
        mlflow.end_run(status="FINISHED" if trial.ok else "FAILED")


def log_tuning(
    tracking_uri: str,
    config: ExperimentConfig,
    config_path: Path,
    base: Candidate,
    trials: Sequence[Trial],
    best: Trial,
    write_output: Callable[[str], Path],
) -> str:
    """A parent run with one nested child run per trial; the parent carries the best result and the new file.

    ``write_output(parent_run_id)`` writes the tuned experiment file (so it can name the run) and returns its path.
    """
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = _experiment_id(MlflowClient(tracking_uri), config.jurisdiction, tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"tune-{base.name}") as parent:
        mlflow.set_tags({"imr.kind": "tuning", "candidate": base.name, "candidate_kind": base.kind})
        mlflow.log_params(
            {
                "config": str(config_path),
                "candidate": base.name,
                "num_samples": len(trials),
                "metric": TUNE_METRIC,
                "cv": json.dumps(config.cv.model_dump()),
                "search_space": json.dumps({k: repr(v) for k, v in search_space(base.kind).items()})[:6000],
            }
        )
        for trial in trials:
            _log_trial(experiment_id, base, trial)
        mlflow.log_metrics({f"best_{k}": v for k, v in best.metrics.items() if math.isfinite(v)})
        mlflow.log_params({f"best.{k}": _param_value(v) for k, v in best.params.items()})
        mlflow.log_artifact(str(write_output(parent.info.run_id)), artifact_path="experiment")
        return str(parent.info.run_id)


# -- the tuned experiment file ---------------------------------------------------------------------------------------


def tuned_config(config: ExperimentConfig, base: Candidate, best: Trial, note: str) -> ExperimentConfig:
    """The experiment with ``<candidate>-tuned`` (the best setting) right after the candidate it was tuned from."""
    tuned = apply_params(base, best.params, name=f"{base.name}{TUNED_SUFFIX}")
    tuned = tuned.model_copy(update={"description": note})
    candidates: list[Candidate] = []
    for candidate in config.candidates:
        if candidate.name == tuned.name:
            continue  # re-tuning replaces the previous tuned candidate
        candidates.append(candidate)
        if candidate.name == base.name:
            candidates.append(tuned)
    tuned_note = f"Tuned {base.name} with Ray Tune ({note})."
    description = f"{config.description.rstrip('. ')}. {tuned_note}" if config.description.strip() else tuned_note
    return ExperimentConfig.model_validate(
        {
            **config.model_dump(mode="json"),
            "description": description,
            "candidates": [c.model_dump(mode="json") for c in candidates],
        }
    )


def write_config(config: ExperimentConfig, path: Path, header: str) -> Path:
    """Write an experiment file, then read it back through the typed loader (it must validate)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=110)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text("".join(f"# {line}\n" for line in header.splitlines()) + body, encoding="utf-8")
    load_config(staged)
    os.replace(staged, path)
    return path


def default_output(config_path: Path, candidate: str) -> Path:
    """``experiments/dwc.yaml`` + ``tfidf-lr`` -> ``experiments/dwc-tfidf-lr-tuned.yaml``."""
    return EXPERIMENTS_DIR / f"{config_path.stem}-{candidate}{TUNED_SUFFIX}.yaml"


# -- the command -----------------------------------------------------------------------------------------------------


def tune_experiment(
    config_path: Path,
    candidate: str,
    num_samples: int = 16,
    tracking_uri: str | None = None,
    output_config: Path | None = None,
    *,
    num_workers: int | None = None,
    items_path: Path | None = None,
    seed: int | None = None,
    say: Say = print,
) -> TuningResult:
    """Tune ``candidate`` of the experiment at ``config_path``, log to MLflow and write the tuned config file."""
    started = time.perf_counter()
    if num_samples < 1:
        raise TuningError("num_samples must be at least 1")
    config = load_config(config_path)
    try:
        base = config.candidate(candidate)
    except KeyError as exc:
        names = ", ".join(c.name for c in config.candidates)
        raise TuningError(f"{config_path} has no candidate {candidate!r} (it has: {names})") from exc
    search_space(base.kind)
    source = items_path if items_path is not None else default_items_path()
    data = prepare_data(config, load_items(source), source, say)
    storage = Path(tempfile.mkdtemp(prefix="imr-tune-"))
    try:
        trials = run_trials(base, data, num_samples, num_workers, config.cv.seed if seed is None else seed, storage)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    best = best_trial(trials)
    output = output_config or default_output(config_path, candidate)
    uri = tracking_uri or default_tracking_uri()

    def write_output(run_id: str) -> Path:
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        note = f"best of {len(trials)} trials, CV {TUNE_METRIC} {best.metrics[TUNE_METRIC]:.4f}, MLflow run {run_id}"
        header = (
            f"Written by `imr tune` from {config_path.name} on {when}: {base.name} tuned with Ray Tune.\n"
            f"{note}.\nTrain it with: make train CONFIG={_display(output)}"
        )
        return write_config(tuned_config(config, base, best, note), output, header)

    parent = log_tuning(uri, config, config_path, base, trials, best, write_output)
    return TuningResult(trials, best, parent, output, round(time.perf_counter() - started, 2))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
