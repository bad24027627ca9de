"""`ovavebench stats`: a benchmark folder's headline numbers and plots."""

from __future__ import annotations

from pathlib import Path

import typer


def stats_cmd(
    benchmark: Path = typer.Option(..., help="Benchmark folder (published format)."),
    out: Path = typer.Option(..., help="Folder for the PNG plots and stats.json."),
    classes: Path | None = typer.Option(None, help="Class taxonomy CSV, for the groups (default: the shipped one)."),
) -> None:
    """Headline numbers and Fig. 2-style plots of a benchmark folder."""
    from ..build.stats import write_stats
    from ..taxonomy import load_taxonomy

    stats, paths = write_stats(benchmark, out, load_taxonomy(classes))
    typer.echo(
        f"{stats.videos:,} videos, {stats.classes} classes ({stats.seen_classes} seen, {stats.unseen_classes} unseen); "
        f"{stats.seen_videos:,} seen / {stats.unseen_videos:,} unseen videos"
    )
    typer.echo(
        f"{100 * stats.all_event_fraction:.2f} % of videos have an event in all 10 segments, "
        f"{100 * stats.no_event_fraction:.2f} % in none; "
        f"{stats.mean_event_seconds:.2f} event seconds per video on average"
    )
    for split, counts in stats.splits.items():
        typer.echo(f"  {split:5} seen {counts['seen']:6,}  unseen {counts['unseen']:6,}")
    for path in paths:
        typer.echo(f"  plot: {path}")
