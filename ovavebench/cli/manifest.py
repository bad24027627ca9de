"""`ovavebench manifest`: one row per clip, with its YouTube id and start time."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import fail


def manifest_cmd(
    out: Path = typer.Option(..., help="Manifest to write (.csv, or .parquet)."),
    cache: Path | None = typer.Option(None, help="Cache of `ovavebench metadata fetch`."),
    vggsound_csv: Path | None = typer.Option(None, help="A local VGGSound CSV instead of the cached one."),
    vggsound_labels: Path | None = typer.Option(
        None, help="VGGSound's stat.csv (label vocabulary); default: the cached one if fetched."
    ),
    benchmark_dir: Path | None = typer.Option(
        None, help="A local benchmark folder (published format) instead of the cached one."
    ),
    benchmark: str = typer.Option("ovavebench", help="Benchmark to rebuild (its published meta gives the video ids)."),
    pool: bool = typer.Option(False, "--pool", help="Build a candidate pool: every VGGSound row of a taxonomy class."),
    classes: Path | None = typer.Option(None, help="Class taxonomy CSV (default: the shipped one)."),
    skip_bad_rows: bool = typer.Option(
        False, help="Skip malformed VGGSound rows (counted in the summary) instead of stopping."
    ),
) -> None:
    """Build the clip manifest: YouTube id + start time for every clip."""
    from ..benchmark import find_benchmark_files, read_meta
    from ..manifest import (
        build_pool_manifest,
        build_rebuild_manifest,
        summary_path,
        write_manifest,
    )
    from ..metadata.published import (
        cached_vggsound_labels,
        ensure_ovave_files,
        read_vggsound_csv,
        read_vggsound_labels,
        vggsound_csv_path,
    )
    from ..taxonomy import load_taxonomy

    if benchmark != "ovavebench" and not pool:
        fail(f"unknown benchmark {benchmark!r}: only 'ovavebench' is published (use --pool for a candidate pool)")
    taxonomy = load_taxonomy(classes)
    csv_path = vggsound_csv or vggsound_csv_path(cache)
    known = read_vggsound_labels(vggsound_labels) if vggsound_labels else cached_vggsound_labels(cache)
    table = read_vggsound_csv(csv_path, taxonomy, skip_bad_rows=skip_bad_rows, known_labels=known)
    if pool:
        result = build_pool_manifest(table, taxonomy)
    else:
        folder = benchmark_dir or ensure_ovave_files(cache)
        meta_path = find_benchmark_files(folder).meta
        result = build_rebuild_manifest(table, taxonomy, read_meta(meta_path), str(meta_path))
    write_manifest(result, out)
    summary = result.summary
    typer.echo(f"wrote {out} ({summary['rows']:,} clips) and {summary_path(out)}")
    typer.echo("  by status: " + ", ".join(f"{k} {v:,}" for k, v in summary["by_status"].items()))
    typer.echo("  by split:  " + ", ".join(f"{k} {v:,}" for k, v in summary["by_split"].items()))
    if summary["bad_rows"]["count"]:
        typer.echo(
            f"  skipped {summary['bad_rows']['count']:,} bad VGGSound row(s), first: "
            + "; ".join(f"line {b['line']}: {b['reason']}" for b in summary["bad_rows"]["first"][:3])
        )
    if summary.get("ambiguous"):
        typer.echo(
            f"  {len(summary['ambiguous'])} ambiguous id(s) (several VGGSound rows; earliest start kept), e.g. "
            + ", ".join(a["youtube_id"] for a in summary["ambiguous"][:3])
        )
