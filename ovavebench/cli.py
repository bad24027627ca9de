"""The ``ovavebench`` command line: parses arguments and calls the library.

Nothing here computes anything; every command forwards to a stage module and
formats what it returns. Errors the user can fix are printed on one line on
stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer

from .errors import OvavebenchError

# Plain click help (no rich panels): every default is shown in full, wrapped, at any terminal width.
_HELP = {"rich_markup_mode": None, "context_settings": {"max_content_width": 120}}

app = typer.Typer(
    help="Build, annotate, split, score and baseline OV-AVEBench (open-vocabulary audio-visual event localization).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    **_HELP,
)
metadata_app = typer.Typer(help="Fetch VGGSound's CSV and the published OV-AVEBench metadata.", no_args_is_help=True, **_HELP)
app.add_typer(metadata_app, name="metadata")

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(text: str, limit: int = 2000) -> str:
    """One printable line: whitespace runs become one space, control characters their escapes."""
    line = " ".join(str(text).split())
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def fail(message: str) -> None:
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(2)


def user_errors(func: F) -> F:
    """Turn :class:`OvavebenchError` (and bad files) into one line + exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OvavebenchError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))

    return wrapper  # type: ignore[return-value]


def echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- metadata


@metadata_app.command("fetch")
@user_errors
def metadata_fetch(
    cache: Optional[Path] = typer.Option(None, help="Cache folder (default $OVAVEBENCH_CACHE or ~/.cache/ovavebench)."),
    vggsound_url: Optional[str] = typer.Option(None, help="URL of vggsound.csv (or $OVAVEBENCH_VGGSOUND_URL)."),
    vggsound_stat_url: Optional[str] = typer.Option(None, help="URL of VGGSound's stat.csv label list (or $OVAVEBENCH_VGGSOUND_STAT_URL)."),
    ovave_base_url: Optional[str] = typer.Option(None, help="Base URL of the published OV-AVEBench files (or $OVAVEBENCH_OVAVE_BASE_URL)."),
    force: bool = typer.Option(False, "--force", help="Download every file again, even those already verified."),
) -> None:
    """Download VGGSound's CSV and the published OV-AVEBench files into the cache (verified, resumable)."""
    from .metadata import fetch_metadata

    report = fetch_metadata(cache, vggsound_url, ovave_base_url, progress=True, vggsound_stat_url=vggsound_stat_url,
                            force=force)
    for item in report.files:
        state = "already verified" if item.skipped else "downloaded"
        typer.echo(f"{state:>16}  {item.path}  ({item.bytes:,} bytes, sha256 {item.sha256[:12]}…)")


# --------------------------------------------------------------------------- manifest


@app.command("manifest")
@user_errors
def manifest_cmd(
    out: Path = typer.Option(..., help="Manifest to write (.csv, or .parquet)."),
    cache: Optional[Path] = typer.Option(None, help="Cache of `ovavebench metadata fetch`."),
    vggsound_csv: Optional[Path] = typer.Option(None, help="A local VGGSound CSV instead of the cached one."),
    vggsound_labels: Optional[Path] = typer.Option(None, help="VGGSound's stat.csv (label vocabulary); default: the cached one if fetched."),
    benchmark_dir: Optional[Path] = typer.Option(None, help="A local benchmark folder (published format) instead of the cached one."),
    benchmark: str = typer.Option("ovavebench", help="Benchmark to rebuild (its published meta gives the video ids)."),
    pool: bool = typer.Option(False, "--pool", help="Build a candidate pool: every VGGSound row of a taxonomy class."),
    classes: Optional[Path] = typer.Option(None, help="Class taxonomy CSV (default manifests/classes.csv)."),
    skip_bad_rows: bool = typer.Option(False, help="Skip malformed VGGSound rows (counted in the summary) instead of stopping."),
) -> None:
    """Build the clip manifest: YouTube id + start time for every clip."""
    from .benchmark import find_benchmark_files, read_meta
    from .manifest import build_pool_manifest, build_rebuild_manifest, summary_path, write_manifest
    from .metadata import (cached_vggsound_labels, ensure_ovave_files, read_vggsound_csv,
                           read_vggsound_labels, vggsound_csv_path)
    from .taxonomy import load_taxonomy

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
        typer.echo(f"  skipped {summary['bad_rows']['count']:,} bad VGGSound row(s), first: "
                   + "; ".join(f"line {b['line']}: {b['reason']}" for b in summary["bad_rows"]["first"][:3]))
    if summary.get("ambiguous"):
        typer.echo(f"  {len(summary['ambiguous'])} ambiguous id(s) (several VGGSound rows; earliest start kept), e.g. "
                   + ", ".join(a["youtube_id"] for a in summary["ambiguous"][:3]))


# --------------------------------------------------------------------------- score


@app.command("score")
@user_errors
def score_cmd(
    predictions: Path = typer.Argument(..., help="JSON {video_id: [10 segment labels]}."),
    benchmark: Optional[Path] = typer.Option(None, help="Benchmark folder (published format); default: the published files in the cache."),
    split: str = typer.Option("test", help="test or val."),
    as_json: bool = typer.Option(False, "--json", help="Print {seen, unseen, total} as JSON (fractions)."),
    per_class: Optional[Path] = typer.Option(None, help="Write per-class Acc/Seg/Eve of the split to this CSV."),
    out: Optional[Path] = typer.Option(None, help="Also write the JSON result to this file."),
    allow_missing: bool = typer.Option(False, help="Score videos without a prediction as all background."),
    cache: Optional[Path] = typer.Option(None, help="Cache of `ovavebench metadata fetch`."),
) -> None:
    """Score predictions with the published OV-AVEL metrics (Acc., Seg. F1, Eve. F1, Avg.)."""
    from .io import atomic_open, atomic_write_json
    from .metadata import ensure_ovave_files
    from .scoring import format_score_table, score

    if split not in ("test", "val"):
        fail(f"--split must be test or val, got {split!r}")
    folder = benchmark or ensure_ovave_files(cache)
    result = score(predictions, folder, split=split, allow_missing=allow_missing)
    if result.ignored_ids:
        typer.echo(f"warning: {predictions}: {len(result.ignored_ids)} id(s) not in the {split} split ignored, "
                   f"e.g. {', '.join(result.ignored_ids[:3])}", err=True)
    if result.filled_missing:
        typer.echo(f"warning: {predictions}: {result.filled_missing} video(s) without a prediction scored as all background", err=True)
    if result.availability:
        av = result.availability
        typer.echo(f"note: {folder} is a partial rebuild: {av.get('obtained', '?')} of {av.get('published', '?')} "
                   "published clips; scores are not comparable to the paper's", err=True)
    if out:
        atomic_write_json(out, result.to_dict())
    if per_class:
        with atomic_open(per_class, "w", encoding="utf-8", newline="") as handle:
            result.per_class.to_csv(handle, index=False)
    if as_json:
        echo_json(result.to_dict())
    else:
        typer.echo(format_score_table(result, f"OV-AVEBench {split} split ({folder})"))


# --------------------------------------------------------------------------- split / stats


def _floats(text: str, option: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"{option} must be comma-separated numbers, got {text!r}")
        raise  # unreachable


@app.command("split")
@user_errors
def split_cmd(
    labels: Path = typer.Option(..., help="Labels JSON in the published format {vid: {category, label}}."),
    out: Path = typer.Option(..., help="Benchmark folder to write (published format)."),
    classes: Optional[Path] = typer.Option(None, help="Class taxonomy CSV (default manifests/classes.csv)."),
    unseen: str = typer.Option("official", help="official, auto, or a file with one class name per line."),
    num_unseen: int = typer.Option(21, min=1, help="With --unseen auto: how many classes to hold out."),
    unseen_share: float = typer.Option(0.335, min=0.0, max=1.0, help="With --unseen auto: target share of unseen videos."),
    seen_eval_fraction: float = typer.Option(0.2, min=0.0, max=1.0, help="Fraction of a seen class's videos for val+test (rounded up)."),
    test_share: float = typer.Option(0.5, min=0.0, max=1.0, help="Fraction of the evaluation videos for test (rounded up)."),
    target_ratio: Optional[str] = typer.Option(None, help="Solve the seen evaluation fraction for this seen:unseen ratio in val and test, e.g. 3:7."),
    train_ratios: str = typer.Option("0.25,0.5,0.75", help="Training subsets (Table 6), comma-separated."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Seed of the per-class shuffle and of --unseen auto."),
    prefix: str = typer.Option("ovave", help="File-name prefix (ovave gives the published names)."),
) -> None:
    """Split classes into seen/unseen and videos into train/val/test; write a benchmark folder."""
    from .benchmark import read_labels
    from .split import SplitRule, make_split, parse_ratio, read_class_list, write_split
    from .taxonomy import load_taxonomy

    from .benchmark import validate_prefix

    validate_prefix(prefix)
    if unseen not in ("official", "auto") and not Path(unseen).is_file():
        fail(f"--unseen must be official, auto or an existing file, got {unseen!r}")
    taxonomy = load_taxonomy(classes)
    label_data = read_labels(labels)
    selection: str | list[str] = unseen if unseen in ("official", "auto") else read_class_list(unseen, taxonomy)
    result = make_split(
        label_data, taxonomy, unseen=selection, num_unseen=num_unseen, unseen_share=unseen_share,
        rule=SplitRule(seen_eval_fraction, test_share),
        target_seen_fraction=parse_ratio(target_ratio) if target_ratio else None,
        train_ratios=_floats(train_ratios, "--train-ratios"), seed=seed, labels_source=str(labels),
    )
    paths = write_split(result, out, prefix)
    report = result.report
    typer.echo(f"wrote {out}: {report['videos']:,} videos, {report['seen_classes']} seen / {report['unseen_classes']} unseen classes "
               f"(unseen share of videos {100 * report['unseen_video_share']:.2f} %)")
    for split, counts in report["splits"].items():
        typer.echo(f"  {split:5} {counts['videos']:7,}  seen {counts['seen']:6,}  unseen {counts['unseen']:6,}  "
                   f"seen fraction {100 * counts['seen_fraction']:.1f} %")
    typer.echo(f"  seen evaluation fraction {report['rule']['seen_eval_fraction']:g}; training subsets "
               + ", ".join(f"{r}: {n:,}" for r, n in report["train_subsets"].items()))
    typer.echo(f"  report: {paths['report']}")


@app.command("stats")
@user_errors
def stats_cmd(
    benchmark: Path = typer.Option(..., help="Benchmark folder (published format)."),
    out: Path = typer.Option(..., help="Folder for the PNG plots and stats.json."),
    classes: Optional[Path] = typer.Option(None, help="Class taxonomy CSV, for the groups (default manifests/classes.csv)."),
) -> None:
    """Headline numbers and Fig. 2-style plots of a benchmark folder."""
    from .stats import write_stats
    from .taxonomy import load_taxonomy

    stats, paths = write_stats(benchmark, out, load_taxonomy(classes))
    typer.echo(f"{stats.videos:,} videos, {stats.classes} classes ({stats.seen_classes} seen, {stats.unseen_classes} unseen); "
               f"{stats.seen_videos:,} seen / {stats.unseen_videos:,} unseen videos")
    typer.echo(f"{100 * stats.all_event_fraction:.2f} % of videos have an event in all 10 segments, "
               f"{100 * stats.no_event_fraction:.2f} % in none; {stats.mean_event_seconds:.2f} event seconds per video on average")
    for split, counts in stats.splits.items():
        typer.echo(f"  {split:5} seen {counts['seen']:6,}  unseen {counts['unseen']:6,}")
    for path in paths:
        typer.echo(f"  plot: {path}")


# --------------------------------------------------------------------------- download

class _LazyBar:
    """A tqdm bar drawn from the first event on: nothing shows before the work starts (or if it never does)."""

    def __init__(self, desc: str, unit: str) -> None:
        self.desc, self.unit = desc, unit
        self.bar: Any = None
        self.closed = False

    def get(self, total: int):  # type: ignore[no-untyped-def]
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, dynamic_ncols=True, disable=self.closed)
        return self.bar

    def close(self) -> None:
        if self.bar is not None and not self.closed:
            self.bar.close()
        self.closed = True


def _download_bar():  # type: ignore[no-untyped-def]
    """The download's progress bar (with the egress states) and its two callbacks."""
    holder = _LazyBar("download", "clip")

    def postfix(summary) -> None:  # type: ignore[no-untyped-def]
        bar = holder.get(summary.selected)
        rate = (summary.done + summary.failed) / max(summary.elapsed_s, 1e-9)
        states = summary.egress_states if len(summary.egress_states) > 1 else \
            {k: v for k, v in summary.egress_states.items() if not v.endswith("clips/h")}  # one line: only trouble
        extra = ("; " + ", ".join(f"{k}: {v}" for k, v in states.items())) if states else ""
        bar.set_postfix_str(f"done={summary.done}, failed={summary.failed}, clips_per_s={rate:.2f}{extra}")

    def on_result(result, summary) -> None:  # type: ignore[no-untyped-def]
        bar = holder.get(summary.selected)
        bar.total = summary.selected
        if result.status != "pending":
            bar.update(1)
        postfix(summary)
        if bar.n >= summary.selected:  # the download is over: the bar ends here, not after what follows
            holder.close()

    return holder, on_result, postfix


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        fail(f"{option} needs at least one name, got {text!r}")
    return names


download_app = typer.Typer(help="Fetch each clip's 10 s window and cut it into 10 frames + 16 kHz audio.", **_HELP)
app.add_typer(download_app, name="download")


# Options of the YouTube side of a run, shared by `download` and `build`.
_PROXIES_HELP = "File of egress proxies, one URL a line: each gets its own budget and block state."
_BUDGET_HELP = "Clips per hour per egress (default: 250 for YouTube URLs, none for others; 0: no budget)."
_BLOCK_PAUSE_HELP = "Seconds a blocked egress rests before one clip probes it."
_MAX_BLOCKS_HELP = "Failed probes after which an egress is given up (all given up: exit code 3)."
_YTDLP_OPTIONS_HELP = "JSON file of extra YoutubeDL parameters (extractor_args for a PO-token provider, js_runtimes, sleeps)."
_YTDLP_OPTION_HELP = "One extra YoutubeDL parameter as KEY=JSON (repeatable), e.g. sleep_interval_requests=1.5."
_NO_JS_HELP = "Run even when yt-dlp finds no JavaScript runtime (YouTube then serves fewer formats)."
_RAY_HELP = ("Run on a Ray cluster: auto (the one `ray start` joined), ADDRESS, or local; one actor per node (or per "
             "proxy with --proxies). Needs the distributed extra.")
_SHARED_OUT_HELP = "With --ray: actors write straight into --out on a shared filesystem (else files come back through Ray)."


def _youtube_options(proxies: Optional[Path], max_clips_per_hour: Optional[float], block_pause: float, max_blocks: int,
                     ytdlp_options: Optional[Path], ytdlp_option: Optional[list[str]], allow_no_js_runtime: bool,
                     ray: Optional[str] = None, shared_out: bool = False) -> dict[str, Any]:
    from .download import read_proxies, ytdlp_params_from

    return {"proxies": read_proxies(proxies) if proxies else (), "max_clips_per_hour": max_clips_per_hour,
            "block_pause_s": block_pause, "max_blocks": max_blocks,
            "ytdlp_params_json": ytdlp_params_from(ytdlp_options, list(ytdlp_option or [])),
            "allow_no_js_runtime": allow_no_js_runtime, "ray": ray, "shared_out": shared_out}


def _check_runtime(options: Any) -> None:
    """The offline part of `download doctor`, before a YouTube run: refuse to start without a JS runtime."""
    if not options.is_youtube or options.allow_no_js_runtime:
        return
    from .download import runtime_report

    report = runtime_report(options)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.problems:
        fail(f"{report.problems[0]} (or pass --allow-no-js-runtime; `ovavebench download doctor` checks everything)")


def _finish_download(summary: Any) -> None:
    """The closing lines of a download run, and its exit code when it stopped early."""
    typer.echo(f"{summary.done} done, {summary.failed} failed, {summary.skipped_done} already done, "
               f"{summary.pending_left} left pending; {summary.selected} clips in {summary.elapsed_s:.1f} s")
    if summary.by_error_class:
        typer.echo("failures by class: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.by_error_class.items())))
    if summary.stopped:
        fail(f"the run stopped early: {summary.stopped}")
    if summary.blocked:
        typer.echo(f"error: every egress is blocked ({_one_line(summary.block_cause, 400)}); {summary.pending_left} clip(s) "
                   "left pending, none lost. Remedies: a cookies file of a signed-in account (--cookies), more egress "
                   "(--proxies), a PO-token provider (--ytdlp-option extractor_args=…), or wait an hour and run the same "
                   "command again", err=True)
        raise typer.Exit(3)


@download_app.callback(invoke_without_command=True)
@user_errors
def download_cmd(
    ctx: typer.Context,
    manifest: Optional[Path] = typer.Option(None, help="Manifest of `ovavebench manifest` (rows with a start time)."),
    out: Optional[Path] = typer.Option(None, help="Media folder: DIR/<clip_id>/{clip.mp4,frames/,audio.wav} + download.sqlite."),
    workers: int = typer.Option(4, min=1, max=512, help="Clips downloaded in parallel."),
    retry_failed: Optional[str] = typer.Option(None, "--retry-failed", help="Also retry permanent failures: 'all' or comma-separated error classes (e.g. unknown,unavailable; see `download status`)."),
    only_classes: Optional[str] = typer.Option(None, "--only-classes", help="Only clips of these benchmark classes (comma-separated class names)."),
    cookies: Optional[Path] = typer.Option(None, help="Netscape cookies file passed to yt-dlp."),
    proxy: Optional[str] = typer.Option(None, help="Proxy URL passed to yt-dlp (and ffmpeg)."),
    proxies: Optional[Path] = typer.Option(None, help=_PROXIES_HELP),
    max_clips_per_hour: Optional[float] = typer.Option(None, min=0.0, max=1e6, help=_BUDGET_HELP),
    block_pause: float = typer.Option(1800.0, min=0.0, max=604800.0, help=_BLOCK_PAUSE_HELP),
    max_blocks: int = typer.Option(6, min=1, max=1000, help=_MAX_BLOCKS_HELP),
    ytdlp_options: Optional[Path] = typer.Option(None, help=_YTDLP_OPTIONS_HELP),
    ytdlp_option: Optional[list[str]] = typer.Option(None, help=_YTDLP_OPTION_HELP),
    allow_no_js_runtime: bool = typer.Option(False, "--allow-no-js-runtime", help=_NO_JS_HELP),
    ray: Optional[str] = typer.Option(None, "--ray", help=_RAY_HELP),
    shared_out: bool = typer.Option(False, "--shared-out", help=_SHARED_OUT_HELP),
    max_height: int = typer.Option(360, min=1, max=8640, help="Highest video height to fetch (the lowest >= 224p is preferred)."),
    url_template: str = typer.Option("https://www.youtube.com/watch?v={youtube_id}", help="Video URL; {youtube_id} is replaced."),
    shard: Optional[str] = typer.Option(None, help="i/n: only this shard of the clips (stable by clip id)."),
    limit: Optional[int] = typer.Option(None, min=0, help="At most this many clips in this run."),
    max_attempts: int = typer.Option(4, min=1, max=100, help="Attempts per clip for transient failures about the video (5xx, timeouts)."),
    backoff: float = typer.Option(2.0, min=0.0, max=3600.0, help="First retry delay in seconds (doubles, with jitter)."),
    timeout: float = typer.Option(30.0, min=0.0, max=3600.0, help="Network timeout in seconds."),
    reencode: bool = typer.Option(False, help="Re-encode at the cuts so clip.mp4 holds no packet outside the window (slower)."),
) -> None:
    """Download and segment clips (resumable: finished clips are skipped). Subcommands: doctor, status, verify, export-layout."""
    if ctx.invoked_subcommand is not None:
        return
    if manifest is None or out is None:
        fail("download needs --manifest and --out (or a subcommand: doctor, status, verify, export-layout)")
    from .download import DownloadOptions, download_clips, parse_shard

    retry_classes: tuple[str, ...] = ()
    if retry_failed is not None and retry_failed.strip() != "all":
        retry_classes = _names(retry_failed, "--retry-failed")
    options = DownloadOptions(
        workers=workers, url_template=url_template, cookies=str(cookies) if cookies else None, proxy=proxy,
        max_height=max_height, max_attempts=max_attempts, backoff_s=backoff, socket_timeout_s=timeout,
        reencode=reencode, retry_failed=retry_failed is not None, retry_classes=retry_classes,
        only_classes=_names(only_classes, "--only-classes") if only_classes is not None else (),
        shard=parse_shard(shard) if shard else None, limit=limit,
        **_youtube_options(proxies, max_clips_per_hour, block_pause, max_blocks, ytdlp_options, ytdlp_option,
                           allow_no_js_runtime, ray, shared_out))
    options.validate()
    _check_runtime(options)
    bar, on_result, on_state = _download_bar()
    try:
        summary = download_clips(manifest, out, options, on_result, on_state)
    finally:
        bar.close()
    _finish_download(summary)


@download_app.command("doctor")
@user_errors
def download_doctor_cmd(
    cookies: Optional[Path] = typer.Option(None, help="Netscape cookies file to check."),
    proxy: Optional[str] = typer.Option(None, help="Proxy URL to check."),
    proxies: Optional[Path] = typer.Option(None, help=_PROXIES_HELP),
    ytdlp_options: Optional[Path] = typer.Option(None, help=_YTDLP_OPTIONS_HELP),
    ytdlp_option: Optional[list[str]] = typer.Option(None, help=_YTDLP_OPTION_HELP),
    probe: Optional[str] = typer.Option(None, "--probe", help="Also run one real extraction of this video URL."),
) -> None:
    """Check what a YouTube run needs: yt-dlp, its JS runtime and EJS scripts, ffmpeg, cookies, proxies."""
    from .download import DownloadOptions, probe as probe_url, read_proxies, runtime_report, ytdlp_params_from
    from .errors_youtube import classify_error

    options = DownloadOptions(cookies=str(cookies) if cookies else None, proxy=proxy,
                              proxies=read_proxies(proxies) if proxies else (),
                              ytdlp_params_json=ytdlp_params_from(ytdlp_options, list(ytdlp_option or [])))
    options.validate()  # cookies readable and in Netscape format, proxies parse, yt-dlp options known
    report = runtime_report(options)
    typer.echo(f"yt-dlp        {report.ytdlp_version}")
    typer.echo(f"JS runtime    {', '.join(report.js_runtimes) or 'none'}")
    typer.echo(f"EJS scripts   {report.ejs_version or 'none'}")
    typer.echo(f"ffmpeg        {report.ffmpeg_version or 'none'}")
    typer.echo(f"cookies       {cookies or 'none'}" + (" (Netscape format, readable)" if cookies else ""))
    typer.echo(f"egress        {', '.join(options.proxies or (proxy,)) if (options.proxies or proxy) else 'direct'}")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.problems:
        fail(report.problems[0] + (f" (and {len(report.problems) - 1} more problem(s))" if len(report.problems) > 1 else ""))
    if probe:
        from .download.ytdlp import _Failure

        try:
            formats, warnings = probe_url(probe, options)
        except _Failure as exc:
            fail(f"probe {probe}: {classify_error(str(exc)).name}: {_one_line(str(exc), 300)}")
        typer.echo(f"probe         {formats} format(s) of {probe}")
        for warning in warnings:
            typer.echo(f"warning: yt-dlp: {_one_line(warning, 300)}", err=True)
    typer.echo("ok: ready for YouTube")


@download_app.command("status")
@user_errors
def download_status_cmd(
    out: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    failures: Optional[Path] = typer.Option(None, help="Write every failed clip (class, raw message) to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts (per status, error class, warning) as JSON."),
) -> None:
    """Counts per status, per error class, and of yt-dlp's warnings."""
    from .download import download_status, write_failures

    report = download_status(out)
    if as_json:
        echo_json(report.to_dict())
    else:
        typer.echo("status: " + ", ".join(f"{k} {v:,}" for k, v in report.by_status.items()))
        for name, count in report.by_error_class.items():
            typer.echo(f"  {name or 'unknown':<20}{count:8,}")
        if report.warnings:
            typer.echo(f"yt-dlp warnings ({sum(report.warnings.values()):,} in all):")
            for message, count in list(report.warnings.items())[:10]:
                typer.echo(f"  {count:8,}  {_one_line(message, 160)}")
    if failures:
        n = write_failures(out, failures)
        typer.echo(f"wrote {n:,} failed clip(s) to {failures}")


@download_app.command("verify")
@user_errors
def download_verify_cmd(
    out: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    reset: bool = typer.Option(False, help="Put clips with missing or changed files back to pending."),
) -> None:
    """Check every done clip's files against their checksums; report strays."""
    from .download import verify_downloads

    report = verify_downloads(out, reset_bad=reset)
    typer.echo(f"{report.checked:,} done clip(s) checked: {report.ok:,} ok, {len(report.bad):,} bad, "
               f"{len(report.strays):,} stray, {len(report.temp_leftovers):,} temp leftover(s)")
    for clip_id, problem in report.bad[:20]:
        typer.echo(f"  bad   {clip_id}: {problem}")
    for name in report.strays[:20]:
        typer.echo(f"  stray {name}")
    if report.bad or report.strays or report.temp_leftovers:
        raise typer.Exit(1)


@download_app.command("export-layout")
@user_errors
def download_export_cmd(
    out: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    benchmark: Path = typer.Option(..., help="Benchmark folder (published format)."),
    to: Path = typer.Option(..., help="Folder to lay out as the published OV-AVEL code reads it (links, no copies)."),
) -> None:
    """Link media into <split>/video/<class>/<vid>/*.png and <split>/audio/<class>/<vid>.wav."""
    from .download import export_layout

    report = export_layout(out, benchmark, to)
    typer.echo(f"linked {report.linked:,} video(s) into {to}; {len(report.missing):,} not downloaded")


# --------------------------------------------------------------------------- annotate

annotate_app = typer.Typer(help="Two-round crowd labelling in Label Studio: export, import, status, finalize.", no_args_is_help=True, **_HELP)
app.add_typer(annotate_app, name="annotate")


def _client(url: Optional[str], api_key: Optional[str]):  # type: ignore[no-untyped-def]
    if not url:
        return None
    from .labelstudio import LabelStudioClient

    return LabelStudioClient(url, api_key)


@annotate_app.command("export")
@user_errors
def annotate_export_cmd(
    manifest: Path = typer.Option(..., help="Manifest of `ovavebench manifest`."),
    media: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    round_no: int = typer.Option(..., "--round", min=1, max=3, help="1, 2 or 3 (adjudication)."),
    annotators: str = typer.Option(..., help="Comma-separated annotator names (round 3: the adjudicators)."),
    work: Path = typer.Option(..., help="Work folder: the plan and all annotations (annotate.sqlite)."),
    out: Optional[Path] = typer.Option(None, help="File mode: folder for round{N}_{annotator}.json (default WORK/tasks)."),
    label_studio_url: Optional[str] = typer.Option(None, help="Live mode: the Label Studio server."),
    api_key: Optional[str] = typer.Option(None, help="Live mode: API key (or $LABEL_STUDIO_API_KEY)."),
    media_url_prefix: str = typer.Option("/data/local-files/?d=", help="Media URLs: this prefix + the path below --document-root."),
    document_root: Optional[Path] = typer.Option(None, help="Folder the media URLs are relative to (default --media)."),
    keep_earlier_rounds: bool = typer.Option(False, help="Live mode: leave the earlier rounds' projects on the server "
                                             "(their annotators' answers stay readable to this round's annotators)."),
) -> None:
    """Plan a round and write its Label Studio tasks (import files, or projects on a live server).

    Live, round 2 and 3 first close the earlier rounds' projects: each is exported to WORK/archive/, imported,
    then deleted on the server, so that this round's annotators cannot read the earlier answers.
    """
    from .annotate import export_round
    from .manifest import read_manifest

    client = _client(label_studio_url, api_key)
    report = export_round(read_manifest(manifest), media, round_no, annotators.split(","), work, out, document_root,
                          media_url_prefix, client, keep_earlier_rounds)
    for warning in getattr(client, "warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    for closed in report.archived:
        where = closed.archive if closed.archive else "nothing to keep: the project was gone from the server"
        typer.echo(f"round {closed.round}  {closed.annotator:<16}project {closed.project_id} closed: "
                   f"{closed.annotations} annotation(s), {closed.new} new to the store; archive: {where}")
    if client is not None and round_no > 1 and keep_earlier_rounds:
        typer.echo("warning: --keep-earlier-rounds: the earlier rounds' answers stay readable on the server", err=True)
    for annotator, count in report.tasks.items():
        where = report.files.get(annotator) or f"project {report.projects.get(annotator)} on {label_studio_url}"
        typer.echo(f"round {round_no}  {annotator:<16}{count:7,} task(s)  {where}")
    typer.echo(f"{sum(report.tasks.values()):,} task(s) in {report.seconds:.1f} s; labelling config: {work / 'label_config.xml'}")


@annotate_app.command("accounts")
@user_errors
def annotate_accounts_cmd(
    annotators: str = typer.Option(..., help="Comma-separated annotator names (or emails)."),
    label_studio_url: str = typer.Option(..., help="The Label Studio server."),
    api_key: Optional[str] = typer.Option(None, help="An admin's API key (or $LABEL_STUDIO_API_KEY)."),
    email_domain: str = typer.Option("annotators.ovavebench.org", help="Email domain for names without '@'."),
) -> None:
    """Create annotator accounts that log in with the password printed here (shown once)."""
    from .annotate import annotator_names
    from .labelstudio import create_annotator_accounts

    names = annotator_names(annotators.split(","))
    client = _client(label_studio_url, api_key)
    for account in create_annotator_accounts(client, names, email_domain):
        secret = f"password: {account.password}" if account.password else "exists already (password unchanged)"
        typer.echo(f"{account.name:<16}{account.email:<40}{secret}")


@annotate_app.command("import")
@user_errors
def annotate_import_cmd(
    round_no: int = typer.Option(..., "--round", min=1, max=3, help="1, 2 or 3."),
    work: Path = typer.Option(..., help="Work folder of `annotate export`."),
    from_files: Optional[list[Path]] = typer.Option(None, "--from", help="Label Studio JSON export(s) (round{N}_{annotator}.json); several may follow one --from."),
    more_files: Optional[list[Path]] = typer.Argument(None, help="More export files (so that `--from exports/*.json` works)."),
    label_studio_url: Optional[str] = typer.Option(None, help="Live mode: pull the round's projects from this server."),
    api_key: Optional[str] = typer.Option(None, help="Live mode: API key (or $LABEL_STUDIO_API_KEY)."),
) -> None:
    """Pull annotations into the store (validated; re-importing changes nothing)."""
    import contextlib

    from .annotate import import_annotations, open_work, read_export_files, round_exports

    open_work(work).close()  # a work folder of `annotate export`, before any file is read
    client = _client(label_studio_url, api_key)
    from_files = [*(from_files or []), *(more_files or [])]
    if client is None and not from_files:
        fail("annotate import needs --from FILE… or --label-studio-url")
    if client is not None and from_files:
        fail("annotate import takes --from files or --label-studio-url, not both")
    users: dict[int, str] = {}
    if client is not None:
        with contextlib.closing(open_work(work)) as conn:
            projects = client.project_ids(conn, round_no)
        if not projects:
            fail(f"round {round_no} has no Label Studio projects in {work} (export it with --label-studio-url first)")
        users = client.users()
        exports = round_exports(client, work, round_no)
    else:
        exports = read_export_files(from_files or [], round_no)
    report = import_annotations(work, round_no, exports, users)
    typer.echo(f"round {round_no}: {report.imported} new, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.kept_adjudicated} kept (already adjudicated), {len(report.problems)} rejected "
               f"({report.seconds:.1f} s)")
    for p in report.problems[:50]:
        typer.echo(f"  rejected: task {p.task} by {p.annotator} (clip {p.clip_id}): {p.reason}", err=True)
    if len(report.problems) > 50:
        typer.echo(f"  … and {len(report.problems) - 50} more", err=True)


def _fmt(value: float) -> str:
    return "  -  " if value != value else f"{value:.3f}"


@annotate_app.command("status")
@user_errors
def annotate_status_cmd(work: Path = typer.Option(..., help="Work folder of `annotate export`.")) -> None:
    """Progress per round and annotator; agreement of rounds 1 and 2."""
    from .annotate import agreement

    report = agreement(work)
    for status in report.rounds:
        typer.echo(f"round {status.round}:")
        for name, counts in status.by_annotator.items():
            typer.echo(f"  {name:<16} done {counts['done']:6,}  pending {counts['pending']:6,}")
    typer.echo(f"rounds 1 vs 2 on {report.clips_compared:,} clip(s): per-second agreement {100 * report.percent_agreement:.1f} %"
               if report.clips_compared else "rounds 1 vs 2: no clip has both answers yet")
    if report.clips_compared:
        typer.echo(f"  Cohen's kappa {_fmt(report.kappa_overall)}; Krippendorff's alpha {_fmt(report.krippendorff_alpha)}; "
                   f"clip-flag agreement {100 * report.flag_agreement:.1f} %")
        for pair, kappa in report.kappa_by_pair.items():
            typer.echo(f"  kappa {pair:<24} {_fmt(kappa)}")
    typer.echo(f"clips needing adjudication: {report.needing_adjudication:,} ({report.adjudicated:,} adjudicated)")


@annotate_app.command("finalize")
@user_errors
def annotate_finalize_cmd(
    work: Path = typer.Option(..., help="Work folder of `annotate export`."),
    out: Path = typer.Option(..., help="Labels JSON to write (published format)."),
    allow_unresolved: bool = typer.Option(False, help="Leave unresolved disagreements out (counted) instead of failing."),
) -> None:
    """Final labels: agreed answers, round-3 decisions where rounds disagreed, broken clips dropped."""
    from .annotate import finalize

    report = finalize(work, out, allow_unresolved)
    typer.echo(f"wrote {out}: {len(report.labels):,} video(s) ({report.agreed:,} agreed, {report.adjudicated:,} adjudicated); "
               f"{len(report.dropped_broken):,} dropped as broken, {len(report.unresolved) + len(report.incomplete):,} left out")
    for clip in report.dropped_broken[:20]:
        typer.echo(f"  dropped (broken): {clip}")


# --------------------------------------------------------------------------- build / demo


@app.command("build")
@user_errors
def build_cmd(
    out: Path = typer.Option(..., help="Output folder (running again continues where it stopped)."),
    benchmark: str = typer.Option("ovavebench", help="The benchmark to rebuild."),
    workers: int = typer.Option(4, min=1, max=512, help="Clips downloaded in parallel."),
    cookies: Optional[Path] = typer.Option(None, help="Netscape cookies file passed to yt-dlp."),
    proxy: Optional[str] = typer.Option(None, help="Proxy URL passed to yt-dlp."),
    cache: Optional[Path] = typer.Option(None, help="Metadata cache (default $OVAVEBENCH_CACHE or ~/.cache/ovavebench)."),
    max_height: int = typer.Option(360, min=1, max=8640, help="Highest video height to fetch."),
    limit: Optional[int] = typer.Option(None, min=0, help="At most this many clips in this run (try it on a few first)."),
    url_template: str = typer.Option("https://www.youtube.com/watch?v={youtube_id}", help="Video URL; {youtube_id} is replaced."),
    vggsound_url: Optional[str] = typer.Option(None, help="URL of vggsound.csv."),
    ovave_base_url: Optional[str] = typer.Option(None, help="Base URL of the published OV-AVEBench files."),
    proxies: Optional[Path] = typer.Option(None, help=_PROXIES_HELP),
    max_clips_per_hour: Optional[float] = typer.Option(None, min=0.0, max=1e6, help=_BUDGET_HELP),
    block_pause: float = typer.Option(1800.0, min=0.0, max=604800.0, help=_BLOCK_PAUSE_HELP),
    max_blocks: int = typer.Option(6, min=1, max=1000, help=_MAX_BLOCKS_HELP),
    ytdlp_options: Optional[Path] = typer.Option(None, help=_YTDLP_OPTIONS_HELP),
    ytdlp_option: Optional[list[str]] = typer.Option(None, help=_YTDLP_OPTION_HELP),
    allow_no_js_runtime: bool = typer.Option(False, "--allow-no-js-runtime", help=_NO_JS_HELP),
    ray: Optional[str] = typer.Option(None, "--ray", help=_RAY_HELP),
    shared_out: bool = typer.Option(False, "--shared-out", help=_SHARED_OUT_HELP),
) -> None:
    """Rebuild the published benchmark here: metadata, manifest, download, benchmark folder, layout, plots, availability."""
    from .build import BuildOptions, build
    from .download import DownloadOptions

    if benchmark != "ovavebench":
        fail(f"unknown benchmark {benchmark!r}: only 'ovavebench' is published")
    download = DownloadOptions(workers=workers, cookies=str(cookies) if cookies else None, proxy=proxy,
                               max_height=max_height, limit=limit, url_template=url_template,
                               **_youtube_options(proxies, max_clips_per_hour, block_pause, max_blocks, ytdlp_options,
                                                  ytdlp_option, allow_no_js_runtime, ray, shared_out))
    download.validate()
    _check_runtime(download)
    options = BuildOptions(out=out, cache=cache, vggsound_url=vggsound_url, ovave_base_url=ovave_base_url, download=download)
    bar, on_result, on_state = _download_bar()
    try:
        report = build(options, log=typer.echo, on_result=on_result, on_state=on_state)
    finally:
        bar.close()
    av = report.availability
    typer.echo(f"obtained {av['obtained']:,} of {av['published']:,} clips; missing by reason: "
               + (", ".join(f"{k} {v:,}" for k, v in av["missing_by_reason"].items()) or "none"))
    typer.echo(f"note: {av['caveat']}")
    typer.echo(f"benchmark folder: {report.benchmark}  (score with: ovavebench score PRED.json --benchmark {report.benchmark})")
    if report.download.stopped or report.download.blocked:
        _finish_download(report.download)


@app.command("demo")
@user_errors
def demo_cmd(
    out: Path = typer.Option(Path("demo-out"), help="Folder for everything the demo makes: new or empty, or made by an earlier demo (then cleared)."),
    size: str = typer.Option("default", help="small (12 clips) or default (30 clips)."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Seed of the generated source and the simulated annotators."),
) -> None:
    """The whole toolkit end to end on a generated offline source: build, annotate, split, plot, score."""
    from .demo import DEMO_MARKER, SIZES, run_demo
    from .io import claim_output_dir
    from .scoring import format_score_table

    if size not in SIZES:
        fail(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    claim_output_dir(out, DEMO_MARKER, "`ovavebench demo`")
    bar, on_result, _ = _download_bar()
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


# --------------------------------------------------------------------------- features

features_app = typer.Typer(help="ImageBind embeddings of every second and of the class names, computed once.", no_args_is_help=True, **_HELP)
app.add_typer(features_app, name="features")


@features_app.command("extract")
@user_errors
def features_extract_cmd(
    media: Path = typer.Option(..., help="Media folder of `ovavebench download` (DIR/<clip_id>/frames, audio.wav)."),
    benchmark: Path = typer.Option(..., help="Benchmark folder: its videos (all splits) and class names."),
    out: Path = typer.Option(..., help="Feature store folder (resumable: stored videos are skipped)."),
    device: Optional[str] = typer.Option(None, help="cuda or cpu (default: cuda if available)."),
    batch_size: int = typer.Option(8, min=1, max=65536, help="Videos per batch (x10 frames and x10 audio seconds)."),
    dtype: Optional[str] = typer.Option(None, help="bf16, fp16 or fp32 (default: bf16 on GPU, fp32 on CPU)."),
    checkpoint: Optional[Path] = typer.Option(None, help="ImageBind checkpoint (default: imagebind_huge.pth in the cache, downloaded on first use)."),
    model_config: Optional[Path] = typer.Option(None, help="JSON of the official constructor arguments (default: the huge model)."),
    vocab: Optional[Path] = typer.Option(None, help="BPE vocabulary (default: beside the checkpoint, or downloaded)."),
    workers: Optional[int] = typer.Option(None, min=0, max=256, help="DataLoader workers decoding clips (default: min(4, cores))."),
    encoder: str = typer.Option("imagebind", help="imagebind (the paper's), or clip-clap (CLIP frames, CLAP audio; Table 2's CLIP&CLAP row)."),
    clip_model: Optional[str] = typer.Option(None, help="With clip-clap: a CLIP hub name or save_pretrained folder (default openai/clip-vit-base-patch32)."),
    clap_model: Optional[str] = typer.Option(None, help="With clip-clap: a CLAP hub name or save_pretrained folder (default laion/clap-htsat-unfused)."),
    layout: str = typer.Option("toolkit", help="toolkit (folders of `ovavebench download`), or official (the official preprocessed download: <split>/video/<class>/<vid>/, <split>/audio/<class>/<vid>.wav)."),
) -> None:
    """Embed every benchmark video's frames and audio seconds, and the class names (+ other)."""
    try:
        from .features import check_device, extract_features
    except ImportError as exc:  # pragma: no cover - depends on the install
        fail(f"features need the baselines extra (pip install 'ovavebench[baselines]'): {exc}")
    if dtype is not None and dtype not in ("bf16", "fp16", "fp32"):
        fail(f"--dtype must be bf16, fp16 or fp32, got {dtype!r}")
    if encoder not in ("imagebind", "clip-clap"):
        fail(f"--encoder must be imagebind or clip-clap, got {encoder!r}")
    if layout not in ("toolkit", "official"):
        fail(f"--layout must be toolkit or official, got {layout!r}")
    if encoder == "imagebind" and (clip_model or clap_model):
        fail("--clip-model and --clap-model go with --encoder clip-clap")
    if device is not None:
        check_device(device)
    holder = _LazyBar("features", "video")

    def on_batch(done: int, total: int) -> None:
        bar = holder.get(total)
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        report = extract_features(media, benchmark, out, checkpoint, model_config, vocab, device, dtype, batch_size,
                                  workers, on_batch, encoder=encoder, clip_model=clip_model, clap_model=clap_model,
                                  layout=layout)
    finally:
        holder.close()
    typer.echo(f"{report.extracted:,} video(s) embedded, {report.skipped:,} already in the store, "
               f"{len(report.missing_media):,} without media; {report.seconds:.1f} s on {report.device} ({report.dtype})")
    for problem in report.problems[:20]:
        typer.echo(f"  left out: {_one_line(problem, 300)}", err=True)
    if len(report.problems) > 20:
        typer.echo(f"  … and {len(report.problems) - 20} more left out", err=True)
    if report.missing_media:
        typer.echo(f"  without media, e.g. {', '.join(report.missing_media[:5])}", err=True)


@features_app.command("info")
@user_errors
def features_info_cmd(store: Path = typer.Argument(..., help="Feature store folder.")) -> None:
    """What is in a feature store."""
    from .features import FeatureStore

    with FeatureStore(store) as opened:
        info = opened.info()
    for key in ("path", "videos", "shards", "bytes", "encoder", "embed_dim", "dtype", "preprocessing", "checkpoint",
                "checkpoint_sha256", "clip_model", "clap_model"):
        if key in info:
            typer.echo(f"{key:<18} {info.get(key)}")
    typer.echo(f"{'text classes':<18} {len(info.get('text_classes', []))}")


# --------------------------------------------------------------------------- baselines

baseline_app = typer.Typer(help="Reference baselines on cached features: zero-shot, fine-tune, predict.", no_args_is_help=True, **_HELP)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("zero-shot")
@user_errors
def baseline_zero_shot_cmd(
    features: Path = typer.Option(..., help="Feature store of `ovavebench features extract`."),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    split: str = typer.Option("test", help="test or val."),
    out: Path = typer.Option(..., help="Predictions JSON to write (what `ovavebench score` reads)."),
    no_other: bool = typer.Option(False, "--no-other", help="Without the `other` class (paper Table 3)."),
) -> None:
    """Training-free baseline: audio and visual argmax classes must agree, second by second."""
    from .baselines import write_predictions, zero_shot

    predictions = zero_shot(features, benchmark, split, with_other=not no_other)
    write_predictions(predictions, out)
    typer.echo(f"wrote {out}: {len(predictions):,} video(s) of the {split} split")


@baseline_app.command("finetune")
@user_errors
def baseline_finetune_cmd(
    features: Path = typer.Option(..., help="Feature store."),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    out: Path = typer.Option(..., help="Run folder (model.pt, config.json, log.json)."),
    temporal: str = typer.Option("transformer", help="transformer (the released block), linear (Table 5), ave, psp, cmra or mm-pyramid (Table 2)."),
    layers: int = typer.Option(1, min=1, max=64, help="Temporal blocks per modality."),
    fusion: str = typer.Option("sqrt", help="sqrt, prob-avg or fea-avg (Table 4)."),
    no_other: bool = typer.Option(False, "--no-other", help="Without the `other` class (Table 3)."),
    train_subset: Optional[float] = typer.Option(None, help="Train on a Table-6 subset (0.25, 0.5, 0.75)."),
    epochs: int = typer.Option(10, min=1, max=10000, help="Epochs (the released script: 10; the paper's text: 5)."),
    batch_size: int = typer.Option(32, min=1, max=65536, help="Videos per batch."),
    lr: float = typer.Option(5e-5, min=0.0, max=10.0, help="Adam learning rate."),
    seed: int = typer.Option(123, min=0, max=2**32 - 1, help="Seed (deterministic on CPU; the released script's is 123)."),
    select_on: str = typer.Option("val", help="What picks the epoch: val, or published (the released rule: the seen part of test, Seg/Eve averaged per batch)."),
    config: Optional[Path] = typer.Option(None, help="A JSON config from baselines/ (options given here override it)."),
    device: str = typer.Option("cpu", help="cpu (deterministic for a seed) or cuda."),
) -> None:
    """Fine-tune temporal layers on the frozen per-second embeddings (seen classes), as released; select on val."""
    from .baselines import FinetuneConfig, finetune

    base: dict[str, Any] = {}
    if config:
        from .errors import InputFileError
        from .io import read_json

        what = "a fine-tuning config (a JSON object of FinetuneConfig fields, as in baselines/)"
        base = read_json(config, what)
        if not isinstance(base, dict):
            raise InputFileError(config, f"expected {what}")
        known = set(FinetuneConfig.__dataclass_fields__) | {"description", "command"}
        unknown = sorted(set(base) - known)
        if unknown:
            raise InputFileError(config, f"unknown key(s) {', '.join(map(repr, unknown[:5]))}; expected FinetuneConfig fields "
                                         f"({', '.join(FinetuneConfig.__dataclass_fields__)})")
        base = {k: v for k, v in base.items() if k in FinetuneConfig.__dataclass_fields__}
        try:
            FinetuneConfig(**base).validate()
        except OvavebenchError as exc:
            raise InputFileError(config, str(exc)) from None
    given = {"temporal": temporal, "layers": layers, "fusion": fusion, "with_other": not no_other, "epochs": epochs,
             "batch_size": batch_size, "lr": lr, "seed": seed, "select_on": select_on, "train_subset": train_subset}
    defaults = FinetuneConfig()
    # Options left at their default do not override the config file.
    merged = {**base, **{k: v for k, v in given.items() if v != getattr(defaults, k) or k not in base}}
    report = finetune(features, benchmark, out, FinetuneConfig(**merged), log=typer.echo, device=device)
    typer.echo(f"best epoch {report.best_epoch + 1} on {merged.get('select_on', 'val')}; run: {report.run}")


@baseline_app.command("predict")
@user_errors
def baseline_predict_cmd(
    run: Path = typer.Option(..., help="Run folder of `baseline finetune`."),
    features: Path = typer.Option(..., help="Feature store."),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    split: str = typer.Option("test", help="test or val."),
    out: Path = typer.Option(..., help="Predictions JSON to write."),
) -> None:
    """Predictions of a fine-tuned run (all classes + other) for a split."""
    from .baselines import predict, write_predictions

    predictions = predict(run, features, benchmark, split)
    write_predictions(predictions, out)
    typer.echo(f"wrote {out}: {len(predictions):,} video(s) of the {split} split")




def run(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return its exit code.

    Exit codes: 0 success; 1 a check found problems (``download verify``); 2 an error,
    explained in one line on stderr (bad input, a bad option, a usage error, the
    environment); 3 a download run that stopped on a persistent block; 130 Ctrl-C.
    Nothing prints a traceback unless ``OVAVEBENCH_TRACEBACK=1``.
    """
    import os
    import sqlite3

    from typer.exceptions import Exit, TyperException

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="ovavebench", standalone_mode=False)
    except TyperException as exc:  # typer's click: usage errors, bad option values
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # `ovavebench annotate`: the help
            typer.echo(ctx.get_help())
            return 0
        where = ctx.command_path if ctx is not None else "ovavebench"
        typer.echo(f"error: {where}: {_one_line(exc.format_message())} (see '{where} --help')", err=True)
        return 2
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("error: interrupted (finished work is kept; run the same command again to continue)", err=True)
        return 130
    except OvavebenchError as exc:
        typer.echo(f"error: {_one_line(str(exc))}", err=True)
        return 2
    except sqlite3.DatabaseError as exc:  # damage that only showed after the database was opened
        typer.echo(f"error: a state database is damaged or unreadable ({_one_line(str(exc), 300)}); "
                   "it was left as it is", err=True)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"error: {_one_line(where + (exc.strerror or str(exc)))}", err=True)
        return 2
    except Exception as exc:  # a bug, or input nobody foresaw: still one line, and never a lost result
        if os.environ.get("OVAVEBENCH_TRACEBACK") == "1":
            raise
        typer.echo(f"error: internal error ({type(exc).__name__}: {_one_line(str(exc), 300)}); "
                   "rerun with OVAVEBENCH_TRACEBACK=1 and report it", err=True)
        return 2
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
