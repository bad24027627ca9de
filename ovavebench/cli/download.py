"""`ovavebench download`: each clip's window, its frames and audio; doctor, status, verify, export-layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .common import HELP, LazyBar, echo_json, fail, names, one_line


def download_bar():
    """The download's progress bar (with the egress states) and its two callbacks."""
    holder = LazyBar("download", "clip")

    def postfix(summary) -> None:
        bar = holder.get(summary.selected)
        rate = (summary.done + summary.failed) / max(summary.elapsed_s, 1e-9)
        states = (
            summary.egress_states
            if len(summary.egress_states) > 1
            else {k: v for k, v in summary.egress_states.items() if not v.endswith("clips/h")}
        )  # one line: only trouble
        extra = ("; " + ", ".join(f"{k}: {v}" for k, v in states.items())) if states else ""
        bar.set_postfix_str(f"done={summary.done}, failed={summary.failed}, clips_per_s={rate:.2f}{extra}")

    def on_result(result, summary) -> None:
        bar = holder.get(summary.selected)
        bar.total = summary.selected
        if result.status != "pending":
            bar.update(1)
        postfix(summary)
        if bar.n >= summary.selected:  # the download is over: the bar ends here, not after what follows
            holder.close()

    return holder, on_result, postfix


app = typer.Typer(help="Fetch each clip's 10 s window and cut it into 10 frames + 16 kHz audio.", **HELP)


# Options of the YouTube side of a run, shared by `download` and `build`.
PROXIES_HELP = "File of egress proxies, one URL a line: each gets its own budget and block state."
BUDGET_HELP = "Clips per hour per egress (default: 250 for YouTube URLs, none for others; 0: no budget)."
BLOCK_PAUSE_HELP = "Seconds a blocked egress rests before one clip probes it."
MAX_BLOCKS_HELP = "Failed probes after which an egress is given up (all given up: exit code 3)."
YTDLP_OPTIONS_HELP = (
    "JSON file of extra YoutubeDL parameters (extractor_args for a PO-token provider, js_runtimes, sleeps)."
)
YTDLP_OPTION_HELP = "One extra YoutubeDL parameter as KEY=JSON (repeatable), e.g. sleep_interval_requests=1.5."
NO_JS_HELP = "Run even when yt-dlp finds no JavaScript runtime (YouTube then serves fewer formats)."
RAY_HELP = (
    "Run on a Ray cluster: auto (the one `ray start` joined), ADDRESS, or local; one actor per node (or per "
    "proxy with --proxies). Needs the distributed extra."
)
ARCHIVE_HELP = (
    "Local archive of the raw videos, a folder (searched recursively) or a .zip of <youtube_id>.<ext>: read "
    "before any URL; a clip not in it is fetched from --url-template when one is given, else left pending."
)
SHARED_OUT_HELP = (
    "With --ray: actors write straight into --out on a shared filesystem (else files come back through Ray)."
)


# The YouTube side's options as types, declared once for `download` and `build`.
Proxies = Annotated[Path | None, typer.Option(help=PROXIES_HELP)]
ClipsPerHour = Annotated[float | None, typer.Option(min=0.0, max=1e6, help=BUDGET_HELP)]
BlockPause = Annotated[float, typer.Option(min=0.0, max=604800.0, help=BLOCK_PAUSE_HELP)]
MaxBlocks = Annotated[int, typer.Option(min=1, max=1000, help=MAX_BLOCKS_HELP)]
YtdlpOptions = Annotated[Path | None, typer.Option(help=YTDLP_OPTIONS_HELP)]
YtdlpOption = Annotated[list[str] | None, typer.Option(help=YTDLP_OPTION_HELP)]
AllowNoJsRuntime = Annotated[bool, typer.Option("--allow-no-js-runtime", help=NO_JS_HELP)]
Ray = Annotated[str | None, typer.Option("--ray", help=RAY_HELP)]
SharedOut = Annotated[bool, typer.Option("--shared-out", help=SHARED_OUT_HELP)]
Archive = Annotated[Path | None, typer.Option("--archive", help=ARCHIVE_HELP)]


def archive_options(ctx: typer.Context, archive: Path | None) -> dict[str, Any]:
    """--archive, and whether a clip missing from it falls back on a URL (only when --url-template was given)."""
    if archive is None:
        return {}
    source = ctx.get_parameter_source("url_template")  # typer vendors its own click: the enum by name
    given = source is not None and source.name != "DEFAULT"
    return {"archive": str(archive), "archive_fallback": given}


def youtube_options(
    proxies: Path | None,
    max_clips_per_hour: float | None,
    block_pause: float,
    max_blocks: int,
    ytdlp_options: Path | None,
    ytdlp_option: list[str] | None,
    allow_no_js_runtime: bool,
    ray: str | None = None,
    shared_out: bool = False,
) -> dict[str, Any]:
    from ..download import read_proxies, ytdlp_params_from

    return {
        "proxies": read_proxies(proxies) if proxies else (),
        "max_clips_per_hour": max_clips_per_hour,
        "block_pause_s": block_pause,
        "max_blocks": max_blocks,
        "ytdlp_params_json": ytdlp_params_from(ytdlp_options, list(ytdlp_option or [])),
        "allow_no_js_runtime": allow_no_js_runtime,
        "ray": ray,
        "shared_out": shared_out,
    }


def check_runtime(options: Any) -> None:
    """The offline part of `download doctor`, before a YouTube run: refuse to start without a JS runtime."""
    if not options.is_youtube or options.allow_no_js_runtime:
        return
    from ..download import runtime_report

    report = runtime_report(options)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.problems:
        fail(f"{report.problems[0]} (or pass --allow-no-js-runtime; `ovavebench download doctor` checks everything)")


def finish_download(summary: Any) -> None:
    """The closing lines of a download run, and its exit code when it stopped early."""
    typer.echo(
        f"{summary.done} done, {summary.failed} failed, {summary.skipped_done} already done, "
        f"{summary.pending_left} left pending; {summary.selected} clips in {summary.elapsed_s:.1f} s"
    )
    if summary.by_error_class:
        typer.echo("failures by class: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.by_error_class.items())))
    if summary.by_source:
        typer.echo("done by source: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.by_source.items())))
    if summary.not_in_archive:
        typer.echo(
            f"{summary.not_in_archive} clip(s) not in the archive left pending (give --url-template to fetch them)"
        )
    if summary.stopped:
        fail(f"the run stopped early: {summary.stopped}")
    if summary.blocked:
        typer.echo(
            f"error: every egress is blocked ({one_line(summary.block_cause, 400)}); {summary.pending_left} clip(s) "
            "left pending, none lost. Remedies: a cookies file of a signed-in account (--cookies), more egress "
            "(--proxies), a PO-token provider (--ytdlp-option extractor_args=…), or wait an hour and run the same "
            "command again",
            err=True,
        )
        raise typer.Exit(3)


@app.callback(invoke_without_command=True)
def download_cmd(
    ctx: typer.Context,
    manifest: Path | None = typer.Option(None, help="Manifest of `ovavebench manifest` (rows with a start time)."),
    out: Path | None = typer.Option(
        None, help="Media folder: DIR/<clip_id>/{clip.mp4,frames/,audio.wav} + download.sqlite."
    ),
    workers: int = typer.Option(4, min=1, max=512, help="Clips downloaded in parallel."),
    retry_failed: str | None = typer.Option(
        None,
        "--retry-failed",
        help="Also retry permanent failures: 'all' or comma-separated error classes "
        "(e.g. unknown,unavailable; see `download status`).",
    ),
    only_classes: str | None = typer.Option(
        None, "--only-classes", help="Only clips of these benchmark classes (comma-separated class names)."
    ),
    cookies: Path | None = typer.Option(None, help="Netscape cookies file passed to yt-dlp."),
    proxy: str | None = typer.Option(None, help="Proxy URL passed to yt-dlp (and ffmpeg)."),
    proxies: Proxies = None,
    max_clips_per_hour: ClipsPerHour = None,
    block_pause: BlockPause = 1800.0,
    max_blocks: MaxBlocks = 6,
    ytdlp_options: YtdlpOptions = None,
    ytdlp_option: YtdlpOption = None,
    allow_no_js_runtime: AllowNoJsRuntime = False,
    ray: Ray = None,
    shared_out: SharedOut = False,
    max_height: int = typer.Option(
        360, min=1, max=8640, help="Highest video height to fetch (the lowest >= 224p is preferred)."
    ),
    url_template: str = typer.Option(
        "https://www.youtube.com/watch?v={youtube_id}", help="Video URL; {youtube_id} is replaced."
    ),
    shard: str | None = typer.Option(None, help="i/n: only this shard of the clips (stable by clip id)."),
    limit: int | None = typer.Option(None, min=0, help="At most this many clips in this run."),
    max_attempts: int = typer.Option(
        4, min=1, max=100, help="Attempts per clip for transient failures about the video (5xx, timeouts)."
    ),
    backoff: float = typer.Option(
        2.0, min=0.0, max=3600.0, help="First retry delay in seconds (doubles, with jitter)."
    ),
    timeout: float = typer.Option(30.0, min=0.0, max=3600.0, help="Network timeout in seconds."),
    reencode: bool = typer.Option(
        False, help="Re-encode at the cuts so clip.mp4 holds no packet outside the window (slower)."
    ),
    archive: Archive = None,
) -> None:
    """Download and segment clips (resumable: finished clips are skipped).
    Subcommands: doctor, status, verify, export-layout."""
    if ctx.invoked_subcommand is not None:
        return
    if manifest is None or out is None:
        fail("download needs --manifest and --out (or a subcommand: doctor, status, verify, export-layout)")
    from ..download import DownloadOptions, download_clips, parse_shard

    retry_classes: tuple[str, ...] = ()
    if retry_failed is not None and retry_failed.strip() != "all":
        retry_classes = names(retry_failed, "--retry-failed")
    options = DownloadOptions(
        workers=workers,
        url_template=url_template,
        cookies=str(cookies) if cookies else None,
        proxy=proxy,
        max_height=max_height,
        max_attempts=max_attempts,
        backoff_s=backoff,
        socket_timeout_s=timeout,
        reencode=reencode,
        retry_failed=retry_failed is not None,
        retry_classes=retry_classes,
        only_classes=names(only_classes, "--only-classes") if only_classes is not None else (),
        shard=parse_shard(shard) if shard else None,
        limit=limit,
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
    options.validate()
    if archive is None or options.archive_fallback:
        check_runtime(options)
    bar, on_result, on_state = download_bar()
    try:
        summary = download_clips(manifest, out, options, on_result, on_state)
    finally:
        bar.close()
    finish_download(summary)


@app.command("doctor")
def download_doctor_cmd(
    cookies: Path | None = typer.Option(None, help="Netscape cookies file to check."),
    proxy: str | None = typer.Option(None, help="Proxy URL to check."),
    proxies: Path | None = typer.Option(None, help=PROXIES_HELP),
    ytdlp_options: Path | None = typer.Option(None, help=YTDLP_OPTIONS_HELP),
    ytdlp_option: list[str] | None = typer.Option(None, help=YTDLP_OPTION_HELP),
    probe: str | None = typer.Option(None, "--probe", help="Also run one real extraction of this video URL."),
) -> None:
    """Check what a YouTube run needs: yt-dlp, its JS runtime and EJS scripts, ffmpeg, cookies, proxies."""
    from ..download import (
        DownloadOptions,
        read_proxies,
        runtime_report,
        ytdlp_params_from,
    )
    from ..download import probe as probe_url
    from ..download.failures import classify_error

    options = DownloadOptions(
        cookies=str(cookies) if cookies else None,
        proxy=proxy,
        proxies=read_proxies(proxies) if proxies else (),
        ytdlp_params_json=ytdlp_params_from(ytdlp_options, list(ytdlp_option or [])),
    )
    options.validate()  # cookies readable and in Netscape format, proxies parse, yt-dlp options known
    report = runtime_report(options)
    typer.echo(f"yt-dlp        {report.ytdlp_version}")
    typer.echo(f"JS runtime    {', '.join(report.js_runtimes) or 'none'}")
    typer.echo(f"EJS scripts   {report.ejs_version or 'none'}")
    typer.echo(f"ffmpeg        {report.ffmpeg_version or 'none'}")
    typer.echo(f"cookies       {cookies or 'none'}" + (" (Netscape format, readable)" if cookies else ""))
    typer.echo(f"egress        {', '.join(options.proxies) if options.proxies else (proxy or 'direct')}")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.problems:
        fail(
            report.problems[0]
            + (f" (and {len(report.problems) - 1} more problem(s))" if len(report.problems) > 1 else "")
        )
    if probe:
        from ..download.ytdlp import _Failure

        try:
            formats, warnings = probe_url(probe, options)
        except _Failure as exc:
            fail(f"probe {probe}: {classify_error(str(exc)).name}: {one_line(str(exc), 300)}")
        typer.echo(f"probe         {formats} format(s) of {probe}")
        for warning in warnings:
            typer.echo(f"warning: yt-dlp: {one_line(warning, 300)}", err=True)
    typer.echo("ok: ready for YouTube")


@app.command("status")
def download_status_cmd(
    out: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    failures: Path | None = typer.Option(None, help="Write every failed clip (class, raw message) to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts (per status, error class, warning) as JSON."),
) -> None:
    """Counts per status, per error class, and of yt-dlp's warnings."""
    from ..download import download_status, write_failures

    report = download_status(out)
    if as_json:
        echo_json(report.to_dict())
    else:
        typer.echo("status: " + ", ".join(f"{k} {v:,}" for k, v in report.by_status.items()))
        for name, count in report.by_error_class.items():
            typer.echo(f"  {name or 'unknown':<20}{count:8,}")
        for reason, count in report.pending_reasons.items():
            typer.echo(f"pending, {reason}: {count:,}")
        if set(report.by_source) - {"none"}:
            typer.echo("by source:")
            for source, statuses in report.by_source.items():
                label = "not tried yet" if source == "none" else source
                typer.echo(f"  {label:<20}" + ", ".join(f"{k} {v:,}" for k, v in statuses.items()))
        if report.warnings:
            typer.echo(f"yt-dlp warnings ({sum(report.warnings.values()):,} in all):")
            for message, count in list(report.warnings.items())[:10]:
                typer.echo(f"  {count:8,}  {one_line(message, 160)}")
    if failures:
        n = write_failures(out, failures)
        typer.echo(f"wrote {n:,} failed clip(s) to {failures}")


@app.command("verify")
def download_verify_cmd(
    out: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    reset: bool = typer.Option(False, help="Put clips with missing or changed files back to pending."),
) -> None:
    """Check every done clip's files against their checksums; report strays."""
    from ..download import verify_downloads

    report = verify_downloads(out, reset_bad=reset)
    typer.echo(
        f"{report.checked:,} done clip(s) checked: {report.ok:,} ok, {len(report.bad):,} bad, "
        f"{len(report.strays):,} stray, {len(report.temp_leftovers):,} temp leftover(s)"
    )
    for clip_id, problem in report.bad[:20]:
        typer.echo(f"  bad   {clip_id}: {problem}")
    for name in report.strays[:20]:
        typer.echo(f"  stray {name}")
    if report.bad or report.strays or report.temp_leftovers:
        raise typer.Exit(1)


@app.command("export-layout")
def download_export_cmd(
    out: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    benchmark: Path = typer.Option(..., help="Benchmark folder (published format)."),
    to: Path = typer.Option(..., help="Folder to lay out as the published OV-AVEL code reads it (links, no copies)."),
) -> None:
    """Link media into <split>/video/<class>/<vid>/*.png and <split>/audio/<class>/<vid>.wav."""
    from ..download import export_layout

    report = export_layout(out, benchmark, to)
    typer.echo(f"linked {report.linked:,} video(s) into {to}; {len(report.missing):,} not downloaded")
