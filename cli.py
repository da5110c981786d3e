"""The one command-line entry, ``imr``: a thin layer over the stage libraries (data, train, serve, score).

Results go to stdout, progress of long steps and errors to stderr (``imr --quiet`` or ``IMR_PROGRESS=0``: no
progress). Help is click's plain layout (``rich_markup_mode=None``): rich panels show ``<bool>`` beside every flag
and cut long defaults at 80 columns.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from features.dataset import BuildResult
    from serving.batch import ScoreReport

app = typer.Typer(
    help="IMR Prescreen: will Independent Medical Review uphold this denial?",
    no_args_is_help=True,
    rich_markup_mode=None,
)
#: Reject reasons listed one by one in ``imr score``'s summary; the rest are counted (all are in the rejects file).
MAX_REASONS_SHOWN = 10


@app.callback()
def root(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress lines on stderr (also: IMR_PROGRESS=0)")
    ] = False,
) -> None:
    """IMR Prescreen command line."""
    if quiet:
        from features.progress import set_enabled

        set_enabled(False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _check_sources(sources: list[str]) -> None:
    """Refuse a local --source that is not there before any work (a URL is checked when it is fetched)."""
    for source in sources:
        if not source.lower().startswith(("http://", "https://")) and not Path(source).exists():
            raise _fail(f"--source {source} does not exist (no such file or folder)")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _report_build(build: BuildResult, folder: Path) -> None:
    """Where the build wrote, and what it holds."""
    manifest = build.manifest
    current = (folder / "current").resolve()
    typer.echo(f"wrote the data folder {folder} (build {current.parent.name}/{current.name}):")
    typer.echo(
        f"  table     {folder / 'items.parquet'}  {_plural(manifest['rows'], 'row')} from "
        f"{_plural(manifest['cases'], 'case')}, digest {manifest['content_digest'][:12]}"
    )
    typer.echo(f"  manifest  {folder / 'manifest.json'}")
    typer.echo(f"  rejects   {folder / 'rejects.csv'}  {manifest['rejects']['count']:,} refused files or rows")
    for key, count in manifest["rows_by_jurisdiction_and_label"].items():
        typer.echo(f"  {key}: {count:,}")
    typer.echo(f"deduplication: {json.dumps(manifest['deduplication'])}")
    for reason, count in manifest["rejects"]["by_reason"].items():
        typer.echo(f"  refused {count:,}: {reason}")


@app.command(short_help="Build the item table, manifest and rejects from the sources.")
def data(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Folder, file or URL to read (repeatable); default: configured sources"),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(file_okay=False, help="Output folder (default: data/, IMR_DATA_DIR)")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="local (one process) or ray (parallel parsing; RAY_ADDRESS joins a cluster). "
            "Default: ray iff RAY_ADDRESS is set"
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Ray: parsing tasks at once (default: all CPUs)")] = None,
) -> None:
    """Build the validated, deduplicated item table from the configured sources."""
    from features.dataset import NoSourcesError, build_dataset
    from features.parallel import RayMissingError, default_engine, ray_map_sources
    from features.paths import data_dir
    from features.view import LeakError

    chosen = engine or default_engine()
    if chosen not in ("local", "ray"):
        raise typer.BadParameter("--engine must be local or ray")
    _check_sources(source or [])
    mapper = partial(ray_map_sources, num_workers=workers) if chosen == "ray" else None
    folder = (out_dir or data_dir()).resolve()
    try:
        build = build_dataset(source or None, folder, map_sources=mapper)
    except (NoSourcesError, RayMissingError) as exc:
        raise _fail(str(exc)) from exc
    except LeakError as exc:
        raise _fail(f"leak check failed: {exc}", 3) from exc
    _report_build(build, folder)


@app.command(short_help="Train, gate and register each jurisdiction's champion.")
def train(
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config", "-c", help="Experiment file(s); default: experiments/dwc.yaml and experiments/dmhc.yaml"
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or ./mlflow.db)")
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Only train jurisdictions that have no champion yet")
    ] = False,
) -> None:
    """Run the experiments' candidates with grouped CV, log them to MLflow, register and gate a champion."""
    from features.dataset import DatasetMissingError
    from training.config import DEFAULT_CONFIGS, ConfigError, load_config
    from training.promote import RegistryBusyError
    from training.train import run_training

    paths = list(config or DEFAULT_CONFIGS)
    if if_missing:
        from serving.registry import registered_champions
        from serving.settings import Settings

        settings = Settings()
        if tracking_uri:
            settings = settings.model_copy(update={"tracking_uri": tracking_uri})
        have = registered_champions(settings)
        paths = [p for p in paths if have.get(load_config(Path(p)).jurisdiction) is None]
        if not paths:
            typer.echo("every jurisdiction has a champion; nothing to train")
            return
    try:
        for path in paths:
            run_training(Path(path), tracking_uri)
    except (DatasetMissingError, ConfigError, RegistryBusyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command(short_help="Serve the API and the pre-screening page.")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1, IMR_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000, IMR_PORT)")] = None,
) -> None:
    """Serve the API and the pre-screening page with the registered champions."""
    from serving.server import serve as run_server
    from serving.settings import Settings

    settings = Settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    run_server(settings.model_copy(update=overrides) if overrides else settings)


@app.command(short_help="Score a file of requests (CSV, JSONL or parquet out).")
def score(
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", exists=True, dir_okay=False, help="Requests: .csv, .parquet or .jsonl, one item per row"
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Results file; its extension picks the format: .csv, .jsonl, .parquet"),
    ],
    engine: Annotated[
        str | None,
        typer.Option(
            help="local (in-process) or ray (Ray Data; RAY_ADDRESS joins a cluster). Default: ray iff "
            "RAY_ADDRESS is set"
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow registry (default: IMR_TRACKING_URI / MLFLOW_TRACKING_URI / ./mlflow.db)")
    ] = None,
    rejects: Annotated[Path | None, typer.Option(help="Rejects CSV (default: <output stem>.rejects.csv)")] = None,
    workers: Annotated[int | None, typer.Option(help="Ray: scoring actors (default: all CPUs locally)")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per model call")] = 1024,
) -> None:
    """Score a file of requests with each jurisdiction's champion; bad rows go to a rejects file."""
    from features.parallel import RayMissingError
    from serving.batch import BatchInputError, score_file
    from serving.batch_output import output_problem

    if engine not in (None, "local", "ray"):
        raise typer.BadParameter("--engine must be local or ray")
    problem = output_problem(output)
    if problem:
        raise _fail(problem)
    chosen: Literal["local", "ray"] | None = "ray" if engine == "ray" else "local" if engine == "local" else None
    try:
        report = score_file(
            input,
            output,
            chosen,
            tracking_uri,
            rejects,
            num_workers=workers,
            batch_size=batch_size,
        )
    except (BatchInputError, RayMissingError) as exc:
        raise _fail(str(exc)) from exc
    _report_score(report)


def _report_score(report: ScoreReport) -> None:
    """What was scored, where it went, and how many rows were rejected for each reason."""
    models = ", ".join(f"{j} v{v}" for j, v in report.model_versions.items()) or "none"
    typer.echo(
        f"scored {report.scored:,} of {_plural(report.rows, 'row')} with {report.engine} in {report.seconds:.1f} s "
        f"(models: {models}) -> {report.output}"
    )
    if not report.rejected:
        typer.echo(f"rejected no rows ({report.rejects_path} has the header only)")
        return
    typer.echo(
        f"rejected {_plural(report.rejected, 'row')}; each with its id, row number and reason in {report.rejects_path}:"
    )
    reasons = list(report.reject_reasons.items())
    for reason, count in reasons[:MAX_REASONS_SHOWN]:
        typer.echo(f"  {_plural(count, 'row')}: {reason}")
    rest = reasons[MAX_REASONS_SHOWN:]
    if rest:
        typer.echo(f"  {_plural(sum(c for _, c in rest), 'row')} for {len(rest)} other reasons (see the rejects file)")


@app.command(short_help="Tune a candidate with Ray Tune; write a tuned experiment.")
def tune(
    config: Annotated[Path, typer.Option("--config", "-c", help="Experiment file, e.g. experiments/dwc.yaml")],
    candidate: Annotated[str, typer.Option(help="Name of the candidate to tune (e.g. tfidf-lr)")],
    samples: Annotated[int, typer.Option(help="Trials (settings sampled from the candidate's search space)")] = 16,
    output: Annotated[
        Path | None, typer.Option(help="Tuned experiment file (default: experiments/<config>-<candidate>-tuned.yaml)")
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: ./mlflow.db)")] = None,
    workers: Annotated[int | None, typer.Option(help="Trials at once (default: all CPUs)")] = None,
) -> None:
    """Tune a candidate with Ray Tune on the training's grouped CV; write the best as a new experiment."""
    from features.dataset import DatasetMissingError
    from features.parallel import RayMissingError
    from training.config import ConfigError
    from training.tune import TuningError, tune_experiment

    try:
        result = tune_experiment(config, candidate, samples, tracking_uri, output, num_workers=workers)
    except (ConfigError, TuningError, DatasetMissingError, RayMissingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    best = result.best
    typer.echo(f"{len(result.trials)} trials in {result.seconds:.0f}s; best roc_auc {best.metrics['roc_auc']:.4f}")
    for key, value in best.params.items():
        typer.echo(f"  {key} = {value}")
    typer.echo(f"MLflow parent run {result.parent_run_id}")
    typer.echo(f"wrote {result.output_config}: make train CONFIG={result.output_config}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
