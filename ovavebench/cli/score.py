"""`ovavebench score`: the published metrics on a predictions file, with intervals, breakdowns and plots;
`ovavebench score compare`: paired tests of files on the same videos."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import HELP, DefaultCommand, DefaultCommandGroup, echo_json, fail
from .paths import benchmark_inputs, refuse_foreign_output, refuse_output_among_inputs, require_path


class ScoreGroup(DefaultCommandGroup):
    default_command = "predictions"


app = typer.Typer(
    cls=ScoreGroup, help="Score predictions with the published OV-AVEL metrics (Acc., Seg. F1, Eve. F1, Avg.).", **HELP
)


def _split(split: str) -> None:
    if split not in ("test", "val"):
        fail(f"--split must be test or val, got {split!r}")


def _taxonomy_groups(classes: Path | None) -> dict[str, str]:
    from ..taxonomy import load_taxonomy

    return {c.name: c.group for c in load_taxonomy(classes).classes}


@app.command("predictions", cls=DefaultCommand, hidden=True)
def score_cmd(
    ctx: typer.Context,
    predictions: Path = typer.Argument(
        ..., help='JSON {video_id: [10 segment labels]} (or {"predictions": …, "meta": …}).'
    ),
    benchmark: Path | None = typer.Option(
        None, help="Benchmark folder (published format); default: the published files in the cache."
    ),
    split: str = typer.Option("test", help="test or val."),
    as_json: bool = typer.Option(False, "--json", help="Print {seen, unseen, total} as JSON (fractions)."),
    per_class: Path | None = typer.Option(None, help="Write per-class Acc/Seg/Eve of the split to this CSV."),
    out: Path | None = typer.Option(
        None,
        help="Also write the score JSON (schema 2: scores, benchmark identity, intervals, breakdowns, meta) "
        "to this file.",
    ),
    allow_missing: bool = typer.Option(False, help="Score videos without a prediction as all background."),
    cache: Path | None = typer.Option(None, help="Cache of `ovavebench metadata fetch`."),
    ci: bool = typer.Option(
        False, "--ci", help="95 % confidence intervals by a video-level bootstrap, stratified by seen/unseen."
    ),
    bootstrap: int = typer.Option(2000, min=100, max=1_000_000, help="Bootstrap resamples (with --ci)."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Seed of the resampling."),
    ci_method: str = typer.Option("percentile", help="percentile, or bca (scipy.stats.bootstrap; slower)."),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Confidence level of the intervals."),
    breakdowns: bool = typer.Option(
        False, "--breakdowns", help="Also print the per-group and per-event-length tables."
    ),
    per_group: Path | None = typer.Option(
        None, help="Write the per-group table (the taxonomy's 5 groups) to this CSV."
    ),
    per_length: Path | None = typer.Option(
        None, help="Write the per-event-length table (0, 1-3, 4-6, 7-9, 10 s) to this CSV."
    ),
    classes: Path | None = typer.Option(None, help="Class taxonomy CSV, for the groups (default: the shipped one)."),
    plots: Path | None = typer.Option(
        None, help="Folder for PNGs: per-class Avg. with intervals, seen vs unseen, timelines."
    ),
    timelines: int = typer.Option(
        0, min=0, max=100, help="With --plots: timelines of this many worst, best and random videos."
    ),
    media: Path | None = typer.Option(
        None, help="With --timelines: media folder of `ovavebench download`, for the frames."
    ),
    method: str | None = typer.Option(
        None, help="Name of the method, recorded in the score JSON (default: the predictions' meta)."
    ),
    config: str | None = typer.Option(None, help="Config of the run (e.g. finetune.json), recorded in the score JSON."),
) -> None:
    """Score predictions with the published OV-AVEL metrics (Acc., Seg. F1, Eve. F1, Avg.).

    Compare files on the same videos: ovavebench score compare A.json B.json [C.json …].
    """
    from ..io import atomic_open, atomic_write_json
    from ..metadata.published import ensure_ovave_files
    from ..scoring import format_score_table
    from ..scoring.evaluate import CiSettings, evaluate, format_breakdown, format_intervals, write_plots

    _split(split)
    if (timelines or media) and not plots:
        fail("--timelines and --media draw into --plots DIR: give --plots")
    source = ctx.get_parameter_source("ci_method")
    if not ci and source is not None and source.name != "DEFAULT":  # given, even as `--ci-method percentile`
        fail("--ci-method chooses how --ci computes its intervals: give --ci too")
    _check_paths(predictions, benchmark, classes, media, out, per_class, per_group, per_length, plots)
    settings = CiSettings(bootstrap, seed, confidence, ci_method) if ci else None
    if settings is not None:
        settings.validate()  # before the benchmark is read
    folder = benchmark or ensure_ovave_files(cache)
    evaluation = evaluate(
        predictions,
        folder,
        split,
        allow_missing,
        _taxonomy_groups(classes),
        settings,
        {"method": method, "config": config},
    )
    result = evaluation.result
    if result.ignored_ids:
        typer.echo(
            f"warning: {predictions}: {len(result.ignored_ids)} id(s) not in the {split} split ignored, "
            f"e.g. {', '.join(result.ignored_ids[:3])}",
            err=True,
        )
    if result.filled_missing:
        typer.echo(
            f"warning: {predictions}: {result.filled_missing} video(s) without a prediction scored as all background",
            err=True,
        )
    if result.availability:
        av = result.availability
        typer.echo(
            f"note: {folder} is a partial rebuild: {av.get('obtained', '?')} of {av.get('published', '?')} "
            "published clips; scores are not comparable to the paper's",
            err=True,
        )
    # The plots first: they read the media (a damaged frame stops the command before any file is written).
    written = write_plots(evaluation, plots, timelines, media, f"{split} split") if plots else []
    if out:
        atomic_write_json(out, evaluation.document())
    for path, frame in (
        (per_class, result.per_class),
        (per_group, evaluation.per_group),
        (per_length, evaluation.per_length),
    ):
        if path:
            with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
                frame.to_csv(handle)
    if as_json:
        echo_json(evaluation.document() if ci else result.to_dict())
    else:
        typer.echo(format_score_table(result, f"OV-AVEBench {split} split ({folder})"))
        if evaluation.intervals is not None:
            typer.echo("")
            typer.echo(format_intervals(evaluation))
        if breakdowns:
            typer.echo("")
            typer.echo(format_breakdown(evaluation.per_group, "group", "per class group"))
            typer.echo("")
            typer.echo(
                format_breakdown(evaluation.per_length, "event_seconds", "per event length (true event seconds)")
            )
        for path in written:
            typer.echo(f"plot: {path}")


def _check_paths(
    predictions: Path,
    benchmark: Path | None,
    classes: Path | None,
    media: Path | None,
    out: Path | None,
    per_class: Path | None,
    per_group: Path | None,
    per_length: Path | None,
    plots: Path | None,
) -> None:
    """Every input there, no output over an input or another output, no file replaced that score did not write."""
    require_path(predictions, "PREDICTIONS")
    require_path(benchmark, "--benchmark", "folder")
    require_path(classes, "--classes")
    require_path(media, "--media", "folder")
    outputs = [("--out", out), ("--per-class", per_class), ("--per-group", per_group), ("--per-length", per_length)]
    inputs = [("PREDICTIONS", predictions), ("--classes", classes), *benchmark_inputs(benchmark)]
    refuse_output_among_inputs([*outputs, ("--plots", plots)], [*inputs, ("--media", media)])
    refuse_foreign_output(out, "--out", "a score JSON", b'"schema_version"')
    for option, path, header in (
        ("--per-class", per_class, b"class_name,seen,videos,"),
        ("--per-group", per_group, b"group,videos,seen_videos,"),
        ("--per-length", per_length, b"event_seconds,videos,seen_videos,"),
    ):
        refuse_foreign_output(path, option, "a table", header)


@app.command("compare")
def compare_cmd(
    predictions: list[Path] = typer.Argument(..., help="Two or more predictions files (JSON {video_id: [10 labels]})."),
    benchmark: Path | None = typer.Option(
        None, help="Benchmark folder (published format); default: the published files in the cache."
    ),
    split: str = typer.Option("test", help="test or val."),
    bootstrap: int = typer.Option(2000, min=100, max=1_000_000, help="Paired resamples (and random sign flips)."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Seed of the resampling."),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Confidence level of the intervals."),
    allow_missing: bool = typer.Option(
        False, help="Compare on the videos every file predicts (else every file must predict the whole split)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON (fractions)."),
    out: Path | None = typer.Option(None, help="Also write the JSON to this file."),
    cache: Path | None = typer.Option(None, help="Cache of `ovavebench metadata fetch`."),
) -> None:
    """Paired comparison on the same videos: each difference with a paired-bootstrap interval and two-sided
    p-values (paired bootstrap, approximate randomisation); more than two files: every pair, Holm-adjusted."""
    from ..io import atomic_write_json
    from ..metadata.published import ensure_ovave_files
    from ..scoring import compare, format_compare_table

    _split(split)
    if len(predictions) < 2:
        fail("score compare needs at least two predictions files")
    for path in predictions:
        require_path(path, "PREDICTIONS")
    require_path(benchmark, "--benchmark", "folder")
    refuse_output_among_inputs(
        [("--out", out)], [*(("PREDICTIONS", p) for p in predictions), *benchmark_inputs(benchmark)]
    )
    refuse_foreign_output(out, "--out", "a comparison JSON", b'"videos_compared"')
    folder = benchmark or ensure_ovave_files(cache)
    result = compare(predictions, folder, split, allow_missing, bootstrap, seed, confidence)
    if out:
        atomic_write_json(out, result.to_dict())
    if as_json:
        echo_json(result.to_dict())
    else:
        typer.echo(format_compare_table(result))
