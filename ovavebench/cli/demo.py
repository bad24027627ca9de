"""`ovavebench demo`: the toolkit end to end on a generated offline source."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import fail
from .download import download_bar


def demo_cmd(
    out: Path = typer.Option(
        Path("demo-out"),
        help="Folder for everything the demo makes: new or empty, or made by an earlier demo (then cleared).",
    ),
    size: str = typer.Option("default", help="small (12 clips) or default (30 clips)."),
    seed: int = typer.Option(
        0, min=0, max=2**32 - 1, help="Seed of the generated source and the simulated annotators."
    ),
) -> None:
    """The whole toolkit end to end on a generated offline source: build, annotate, split, plot, score."""
    from ..build.demo import DEMO_MARKER, SIZES, run_demo
    from ..io import claim_output_dir
    from ..scoring import format_score_table

    if size not in SIZES:
        fail(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    claim_output_dir(out, DEMO_MARKER, "`ovavebench demo`")
    bar, on_result, _ = download_bar()
    try:
        report = run_demo(out, size=size, seed=seed, log=typer.echo, on_result=on_result)
    finally:
        bar.close()
    for name, result in report.scores.items():
        typer.echo("")
        typer.echo(format_score_table(result, f"{name} (test split of {report.benchmark})"))
    typer.echo("")
    typer.echo("Where everything is (open the plots first):")
    for name, path in report.files.items():
        typer.echo(f"  {name:<18} {path}")
    av = report.build.availability
    typer.echo(f"The rebuild obtained {av['obtained']} of {av['published']} published clips: {av['caveat']}")
