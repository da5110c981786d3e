"""The one command-line entry, ``imr``: a thin layer over the stage libraries (data, train, serve, score)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="IMR Prescreen: will Independent Medical Review uphold this denial?", no_args_is_help=True)


@app.callback()
def root() -> None:
    """IMR Prescreen command line."""


@app.command()
def data(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Folder, file or URL to read (repeatable); default: configured sources"),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Output folder (default: data/)")] = None,
) -> None:
    """Build the validated, deduplicated item table from the configured sources."""
    from features.dataset import NoSourcesError, build_dataset
    from features.view import LeakError

    try:
        build = build_dataset(source or None, out_dir)
    except NoSourcesError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except LeakError as exc:
        typer.echo(f"error: leak check failed: {exc}", err=True)
        raise typer.Exit(3) from exc
    manifest = build.manifest
    typer.echo(f"items: {manifest['rows']} from {manifest['cases']} cases, digest {manifest['content_digest'][:12]}")
    for key, count in manifest["rows_by_jurisdiction_and_label"].items():
        typer.echo(f"  {key}: {count}")
    typer.echo(f"deduplication: {json.dumps(manifest['deduplication'])}")
    typer.echo(f"rejects: {manifest['rejects']['count']}")
    for reason, count in manifest["rejects"]["by_reason"].items():
        typer.echo(f"  {count} x {reason}")


@app.command()
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
