"""`ovavebench export`: the built benchmark as Hugging Face datasets, WebDataset shards, Croissant metadata."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import typer

from .common import HELP, LazyBar, fail

app = typer.Typer(
    help="Publish a built benchmark: Hugging Face datasets, WebDataset shards, Croissant metadata.",
    no_args_is_help=True,
    **HELP,
)


def _collect(benchmark: Path, media: Path, layout: str, allow_missing: bool) -> Any:
    try:
        from ..publish import collect
    except ImportError:
        fail("export needs the publish extra: pip install 'ovavebench[publish]'")
    return collect(benchmark, media, layout, allow_missing)


def _progress(kind: str):
    bar = LazyBar(kind, "video")

    def on_progress(done: int, total: int) -> None:
        b = bar.get(total)
        b.update(done - b.n)
        if done >= total:
            bar.close()

    return bar, on_progress


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@app.command("hf")
def export_hf_cmd(
    benchmark: Path = typer.Option(..., help="Benchmark folder (published format)."),
    media: Path = typer.Option(
        ..., help="Media folder of `ovavebench download` (or the official download with --layout official)."
    ),
    out: Path = typer.Option(..., help="Folder for the Parquet shards and the dataset card (resumable)."),
    layout: str = typer.Option("toolkit", help="toolkit or official (the media folder's layout)."),
    allow_missing: bool = typer.Option(False, help="Publish videos without media as absent (the card says how many)."),
    shard_size: str = typer.Option("500MB", help="Media per Parquet shard, e.g. 500MB or 1GB."),
    push: str | None = typer.Option(
        None, help="Also upload the folder to this Hub dataset repository (needs HF_TOKEN)."
    ),
) -> None:
    """Parquet shards per split with typed features (the Table-6 subsets as configs) and a dataset card;
    `datasets.load_dataset(OUT)` reads it offline."""
    from ..publish.hf import export_hf, push_to_hub
    from ..publish.shards import parse_size
    from ..scoring import read_availability

    size = parse_size(shard_size)
    collection = _collect(benchmark, media, layout, allow_missing)
    bar, on_progress = _progress("export hf")
    try:
        report = export_hf(collection, out, size, on_progress, read_availability(benchmark))
    finally:
        bar.close()
    shards = sum(1 for name in report.files if name.endswith(".parquet"))
    typer.echo(
        f"wrote {out}: " + ", ".join(f"{s} {n:,}" for s, n in report.splits.items()) + f" videos in {shards} "
        f"Parquet shard(s) ({report.skipped_shards} kept from an earlier run), {_mb(sum(report.files.values()))}; "
        f"configs {', '.join(report.configs)}; {report.missing} without media"
    )
    if push:
        typer.echo(f"pushed: {push_to_hub(out, push)}")


@app.command("webdataset")
def export_webdataset_cmd(
    benchmark: Path = typer.Option(..., help="Benchmark folder (published format)."),
    media: Path = typer.Option(
        ..., help="Media folder of `ovavebench download` (or the official download with --layout official)."
    ),
    out: Path = typer.Option(..., help="Folder for the tar shards (resumable)."),
    layout: str = typer.Option("toolkit", help="toolkit or official (the media folder's layout)."),
    allow_missing: bool = typer.Option(False, help="Publish videos without media as their .json alone."),
    shard_size: str = typer.Option("1GB", help="Media per tar shard, e.g. 1GB or 256MB."),
) -> None:
    """Tar shards ({id}.0.png … {id}.9.png, {id}.wav, {id}.json) per split, for `webdataset` and `datasets`."""
    from ..publish.shards import parse_size
    from ..publish.webdataset import export_webdataset

    size = parse_size(shard_size)
    collection = _collect(benchmark, media, layout, allow_missing)
    bar, on_progress = _progress("export webdataset")
    try:
        report = export_webdataset(collection, out, size, on_progress)
    finally:
        bar.close()
    typer.echo(
        f"wrote {out}: "
        + ", ".join(f"{s} {len(names)} shard(s)" for s, names in report.shards.items())
        + f" ({report.skipped_shards} kept from an earlier run), {_mb(sum(report.files.values()))}; "
        f"{report.missing} without media"
    )


@app.command("croissant")
def export_croissant_cmd(
    hf: Path = typer.Option(..., help="Folder of `ovavebench export hf` that the metadata describes."),
    out: Path | None = typer.Option(
        None, help="Croissant JSON-LD to write (default: croissant.json in the --hf folder)."
    ),
    date_published: str | None = typer.Option(
        None, help="datePublished, YYYY-MM-DD (none: the same export gives the same bytes)."
    ),
) -> None:
    """Croissant 1.x metadata of the Parquet files, checked by mlcroissant's validator."""
    try:
        from ..publish.croissant import export_croissant
    except ImportError:
        fail("export needs the publish extra: pip install 'ovavebench[publish]'")
    date = None
    if date_published:
        try:
            date = datetime.date.fromisoformat(date_published)
        except ValueError:
            fail(f"--date-published must be YYYY-MM-DD, got {date_published!r}")
    path = export_croissant(hf, out or hf / "croissant.json", date)
    typer.echo(f"wrote {path} (validated by mlcroissant)")
