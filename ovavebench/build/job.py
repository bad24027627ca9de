"""The main job: rebuild a benchmark on this machine, end to end, resumably.

metadata → manifest → download (and segment) → the benchmark folder for the
clips that could be obtained (published format) → the layout the published
code reads → statistics plots → an availability report that says how far the
rebuilt benchmark is from the published one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..benchmark import (
    REPLACED_IN_OFFICIAL_MEDIA,
    Labels,
    find_benchmark_files,
    read_category_list,
    read_labels,
    read_meta,
    write_benchmark,
)
from ..download import DownloadOptions, RunSummary, download_clips, export_layout, open_state
from ..io import atomic_write_json
from ..manifest import build_rebuild_manifest, write_manifest
from ..metadata.published import (
    cached_vggsound_labels,
    fetch_metadata,
    fetch_ovave_files,
    ovave_dir,
    read_vggsound_csv,
    vggsound_csv_path,
)
from ..scoring import AVAILABILITY_FILE
from ..taxonomy import OTHER, load_taxonomy
from .stats import write_stats

Log = Callable[[str], None]


@dataclass
class BuildOptions:
    out: Path
    cache: Path | None = None
    classes: Path | None = None
    vggsound_url: str | None = None
    vggsound_stat_url: str | None = None
    ovave_base_url: str | None = None
    verify_published: bool = True  # False: a benchmark in the published format that is not the published one
    download: DownloadOptions = field(default_factory=DownloadOptions)


@dataclass
class BuildReport:
    out: Path
    manifest: Path
    media: Path
    benchmark: Path
    layout: Path
    stats: Path
    availability: dict[str, Any]
    download: RunSummary


REPLACED_IDS = frozenset(v for ids in REPLACED_IN_OFFICIAL_MEDIA.values() for v in ids)


def availability_report(
    meta: pd.DataFrame, manifest: pd.DataFrame, obtained: set[str], failures: pd.DataFrame, not_attempted: int = 0
) -> dict[str, Any]:
    """How many published videos were obtained, per class / split / seen-unseen, and why the rest were not."""
    frame = meta.assign(obtained=meta["vid_name"].isin(obtained))

    def counts(group: pd.DataFrame) -> dict[str, Any]:
        n, got = int(len(group)), int(group["obtained"].sum())
        return {"published": n, "obtained": got, "fraction": got / n if n else None}

    reasons = failures["error_class"].fillna("unknown").value_counts().to_dict() if len(failures) else {}
    unresolved = int((manifest["status"] == "unresolved").sum())
    if unresolved:
        reasons["no_start_time"] = unresolved  # not in the VGGSound CSV: nothing to download
    if not_attempted:
        reasons["not_downloaded_yet"] = not_attempted  # --limit/--shard, or an interrupted run: run build again
    total = counts(frame)
    missing = total["published"] - total["obtained"]
    return {
        **{k: total[k] for k in ("published", "obtained", "fraction")},
        "missing": missing,
        "missing_by_reason": {k: int(v) for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])},
        "by_split": {s: counts(g) for s, g in frame.groupby("split", sort=False)},
        "by_seen": {("seen" if k else "unseen"): counts(g) for k, g in frame.groupby("seen")},
        "by_class": {c: counts(g) for c, g in frame.groupby("cls_name")},
        "comparable": missing == 0,
        # Their official preprocessed media are other videos: a rebuild from YouTube gets different media here.
        "replaced_in_official_media": sorted(set(meta["vid_name"]) & REPLACED_IDS),
        "replaced_note": (
            "the official preprocessed download replaced the media of these videos (their raw files were "
            "empty; OV-AVEL issue #6) and 11 of the 12 label edits of the released labels fall on them: "
            "this rebuild's media for them come from YouTube and may differ from the official ones"
        ),
        "caveat": (
            "all published clips were obtained: scores are comparable to the published ones"
            if missing == 0
            else f"{missing:,} of {total['published']:,} published clips "
            f"({100 * missing / max(1, total['published']):.1f} %) "
            "could not be obtained; scores on this rebuild are computed on the clips that exist and are NOT "
            "directly comparable to the paper's (per-class weights and difficulty differ)"
        ),
    }


def build(
    options: BuildOptions,
    log: Log = lambda _: None,
    on_result: Callable[[Any, RunSummary], None] | None = None,
    on_state: Callable[[RunSummary], None] | None = None,
) -> BuildReport:
    """Run the whole pipeline into ``options.out`` (running it again continues where it stopped).

    ``log`` receives one line per step; ``on_result`` each downloaded clip and ``on_state``
    each change of an egress's block state (for a progress bar). A download that stopped on a
    block still leaves a benchmark folder of the clips obtained so far (``report.download.blocked``).
    """
    options.download.validate()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    taxonomy = load_taxonomy(options.classes)
    log("1/6 metadata: VGGSound CSV and the benchmark's published files")
    if options.verify_published:
        published = ovave_dir(options.cache)
        fetch_metadata(
            options.cache,
            options.vggsound_url,
            options.ovave_base_url,
            progress=True,
            vggsound_stat_url=options.vggsound_stat_url,
        )
    else:
        published = out / "published"
        fetch_ovave_files(options.cache, options.ovave_base_url, progress=True, verify=False, target=published)
        fetch_metadata(
            options.cache,
            options.vggsound_url,
            progress=True,
            vggsound_stat_url=options.vggsound_stat_url,
            include_ovave=False,
        )
    vgg_path = vggsound_csv_path(options.cache)
    files = find_benchmark_files(published)
    meta = read_meta(files.meta)

    log("2/6 manifest: YouTube id + start time for every clip")
    table = read_vggsound_csv(
        vgg_path, taxonomy, skip_bad_rows=True, known_labels=cached_vggsound_labels(options.cache)
    )
    result = build_rebuild_manifest(table, taxonomy, meta, str(files.meta))
    manifest_path = write_manifest(result, out / "manifest.csv")
    log(
        f"    {result.summary['rows']:,} clips: "
        + ", ".join(f"{k} {v:,}" for k, v in result.summary["by_status"].items())
    )

    log("3/6 download: each clip's 10 s window, 10 frames and 16 kHz audio")
    media = out / "media"
    summary = download_clips(
        result.frame, media, options.download, on_result=on_result or _progress(log), on_state=on_state
    )
    log(f"    {summary.done:,} done now, {summary.skipped_done:,} already done, {summary.failed:,} failed")

    log("4/6 benchmark folder: published-format metadata and labels of the obtained clips")
    conn = open_state(media)
    try:
        states = pd.read_sql_query("SELECT clip_id, youtube_id, status, error_class, source FROM clips", conn)
    finally:
        conn.close()
    obtained = set(states.loc[states["status"] == "done", "youtube_id"])
    labels = read_labels(files.labels)
    kept = meta[meta["vid_name"].isin(obtained)]
    index = labels.index()
    rows = [index[v] for v in kept["vid_name"]]
    subset = Labels(list(kept["vid_name"]), [labels.categories[i] for i in rows], labels.flags[rows])
    blocks = published / "ovave_categories.csv"
    classes = (
        read_category_list(blocks)
        if blocks.exists()
        else read_category_list(files.total_categories)
        if files.total_categories
        else sorted(set(meta["cls_name"]))
    )
    seen = (
        [c for c in read_category_list(files.train_categories)]
        if files.train_categories
        else sorted(set(meta.loc[meta["seen"], "cls_name"]))
    )
    bench_dir = out / "benchmark"
    write_benchmark(bench_dir, kept, subset, [c for c in classes if c != OTHER], [c for c in seen if c != OTHER])
    failures = states[states["status"] == "failed"]
    availability = availability_report(
        meta, result.frame, obtained, failures, not_attempted=int((states["status"] == "pending").sum())
    )
    # Where the obtained clips' media came from (`download --archive`: the raw-video archive, else the URL).
    done = states[states["status"] == "done"]
    availability["obtained_by_source"] = {
        str(k): int(v) for k, v in done["source"].fillna("url").value_counts().items()
    }
    atomic_write_json(out / AVAILABILITY_FILE, availability)
    atomic_write_json(bench_dir / AVAILABILITY_FILE, availability)  # `ovavebench score` reads it and says so
    log(f"    {availability['obtained']:,} of {availability['published']:,} published clips obtained")

    log("5/6 layout: <split>/video/<class>/<vid>/*.png and <split>/audio/<class>/<vid>.wav (links)")
    layout = out / "layout"
    export_layout(media, bench_dir, layout)

    log("6/6 statistics plots")
    stats_dir = out / "stats"
    if len(kept):
        write_stats(bench_dir, stats_dir, taxonomy)
    return BuildReport(out, manifest_path, media, bench_dir, layout, stats_dir, availability, summary)


def _progress(log: Log) -> Callable[[Any, RunSummary], None]:
    def on_result(result: Any, summary: RunSummary) -> None:
        n = summary.done + summary.failed
        if n == summary.selected or n % 10 == 0:
            rate = n / max(summary.elapsed_s, 1e-9)
            log(f"    {n}/{summary.selected} clips ({summary.done} done, {summary.failed} failed, {rate:.2f} clips/s)")

    return on_result
