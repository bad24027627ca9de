"""`ovavebench build`: the main job on the real data."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import fail
from .download import (
    AllowNoJsRuntime,
    Archive,
    BlockPause,
    ClipsPerHour,
    MaxBlocks,
    Proxies,
    Ray,
    SharedOut,
    YtdlpOption,
    YtdlpOptions,
    archive_options,
    check_runtime,
    download_bar,
    finish_download,
    youtube_options,
)


def build_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(..., help="Output folder (running again continues where it stopped)."),
    benchmark: str = typer.Option("ovavebench", help="The benchmark to rebuild."),
    workers: int = typer.Option(4, min=1, max=512, help="Clips downloaded in parallel."),
    cookies: Path | None = typer.Option(None, help="Netscape cookies file passed to yt-dlp."),
    proxy: str | None = typer.Option(None, help="Proxy URL passed to yt-dlp."),
    cache: Path | None = typer.Option(None, help="Metadata cache (default $OVAVEBENCH_CACHE or ~/.cache/ovavebench)."),
    max_height: int = typer.Option(360, min=1, max=8640, help="Highest video height to fetch."),
    limit: int | None = typer.Option(None, min=0, help="At most this many clips in this run (try it on a few first)."),
    url_template: str = typer.Option(
        "https://www.youtube.com/watch?v={youtube_id}", help="Video URL; {youtube_id} is replaced."
    ),
    vggsound_url: str | None = typer.Option(None, help="URL of vggsound.csv."),
    ovave_base_url: str | None = typer.Option(None, help="Base URL of the published OV-AVEBench files."),
    proxies: Proxies = None,
    max_clips_per_hour: ClipsPerHour = None,
    block_pause: BlockPause = 1800.0,
    max_blocks: MaxBlocks = 6,
    ytdlp_options: YtdlpOptions = None,
    ytdlp_option: YtdlpOption = None,
    allow_no_js_runtime: AllowNoJsRuntime = False,
    ray: Ray = None,
    shared_out: SharedOut = False,
    archive: Archive = None,
) -> None:
    """Rebuild the published benchmark here: metadata, manifest, download, benchmark folder, layout, plots,
    availability."""
    from ..build.job import BuildOptions, build
    from ..download import DownloadOptions

    if benchmark != "ovavebench":
        fail(f"unknown benchmark {benchmark!r}: only 'ovavebench' is published")
    download = DownloadOptions(
        workers=workers,
        cookies=str(cookies) if cookies else None,
        proxy=proxy,
        max_height=max_height,
        limit=limit,
        url_template=url_template,
        **youtube_options(
            proxies,
            max_clips_per_hour,
            block_pause,
            max_blocks,
            ytdlp_options,
            ytdlp_option,
            allow_no_js_runtime,
            ray,
            shared_out,
        ),
        **archive_options(ctx, archive),
    )
    download.validate()
    if archive is None or download.archive_fallback:
        check_runtime(download)
    options = BuildOptions(
        out=out, cache=cache, vggsound_url=vggsound_url, ovave_base_url=ovave_base_url, download=download
    )
    bar, on_result, on_state = download_bar()
    try:
        report = build(options, log=typer.echo, on_result=on_result, on_state=on_state)
    finally:
        bar.close()
    av = report.availability
    typer.echo(
        f"obtained {av['obtained']:,} of {av['published']:,} clips; missing by reason: "
        + (", ".join(f"{k} {v:,}" for k, v in av["missing_by_reason"].items()) or "none")
    )
    typer.echo(f"note: {av['caveat']}")
    typer.echo(
        f"benchmark folder: {report.benchmark}  (score with: ovavebench score PRED.json --benchmark {report.benchmark})"
    )
    if report.download.stopped or report.download.blocked:
        finish_download(report.download)
