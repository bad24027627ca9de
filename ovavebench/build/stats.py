"""Statistics of a benchmark folder, and Fig. 2-style plots (matplotlib PNGs)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from ..benchmark import Benchmark, load_benchmark
from ..io import atomic_open, atomic_write_json
from ..taxonomy import GROUPS, Taxonomy

PLOT_FILES = ("videos_per_class.png", "event_length.png", "seen_unseen.png", "split_counts.png")


@dataclass
class BenchmarkStats:
    """Headline numbers of a benchmark (fractions in [0, 1])."""

    videos: int
    classes: int
    seen_classes: int
    unseen_classes: int
    seen_videos: int
    unseen_videos: int
    all_event_fraction: float  # videos with an event in all 10 seconds
    no_event_fraction: float  # videos with no event
    mean_event_seconds: float
    event_length_counts: list[int]  # videos with 0, 1, …, 10 event seconds
    splits: dict[str, dict[str, int]]  # split → {seen, unseen}
    per_class: list[dict[str, object]]  # name, group, seen, videos


def compute_stats(bench: Benchmark, taxonomy: Taxonomy | None = None) -> BenchmarkStats:
    """Count videos, events and splits of ``bench``; groups come from ``taxonomy``."""
    meta = bench.meta
    index = bench.labels.index()
    flags = bench.labels.flags[[index[v] for v in meta["vid_name"]]]
    seconds = flags.sum(axis=1)
    lengths = np.bincount(seconds, minlength=flags.shape[1] + 1)
    groups = taxonomy.by_name() if taxonomy else {}
    per_class = (
        meta.groupby("cls_name", sort=False).agg(videos=("vid_name", "size"), seen=("seen", "all")).reset_index()
    )
    per_class["group"] = per_class["cls_name"].map(lambda c: groups[c].group if c in groups else "other")
    per_class["order"] = per_class["group"].map(GROUPS.index)
    per_class = per_class.sort_values(["order", "videos"], ascending=[True, False], kind="stable")
    splits = {
        str(s): {"seen": int((frame["seen"]).sum()), "unseen": int((~frame["seen"]).sum())}
        for s, frame in meta.groupby("split", sort=False)
    }
    splits = {s: splits.get(s, {"seen": 0, "unseen": 0}) for s in ("train", "val", "test")}
    class_seen = meta.groupby("cls_name")["seen"].all()
    return BenchmarkStats(
        videos=int(len(meta)),
        classes=int(len(class_seen)),
        seen_classes=int(class_seen.sum()),
        unseen_classes=int((~class_seen).sum()),
        seen_videos=int(meta["seen"].sum()),
        unseen_videos=int((~meta["seen"]).sum()),
        all_event_fraction=float((seconds == flags.shape[1]).mean()),
        no_event_fraction=float((seconds == 0).mean()),
        mean_event_seconds=float(seconds.mean()),
        event_length_counts=[int(x) for x in lengths],
        splits=splits,
        per_class=[
            {"name": r.cls_name, "group": r.group, "seen": bool(r.seen), "videos": int(cast(int, r.videos))}
            for r in per_class.itertuples()
        ],
    )


def _save(fig: object, path: Path) -> None:
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]


def plot_stats(stats: BenchmarkStats, out: str | os.PathLike) -> list[Path]:
    """Write the four PNGs of :data:`PLOT_FILES` into ``out``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in PLOT_FILES]
    colours = {"seen": "#4C72B0", "unseen": "#DD8452"}

    # 1. Videos per class, grouped, unseen classes marked.
    frame = pd.DataFrame(stats.per_class)
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * len(frame) + 2), 4.8))
    x = np.arange(len(frame))
    ax.bar(x, frame["videos"], color=[colours["seen" if s else "unseen"] for s in frame["seen"]])
    ax.set_xticks(x, frame["name"], rotation=90, fontsize=7)
    ax.set_ylabel("videos")
    ax.set_xlim(-0.6, len(frame) - 0.4)
    ax.set_ylim(0, 1.12 * max(1, int(frame["videos"].max())))  # headroom for the group names
    start = 0
    for group, count in frame.groupby("group", sort=False).size().items():
        if start:
            ax.axvline(start - 0.5, color="grey", lw=0.8, ls="--")
        ax.text(start + count / 2 - 0.5, ax.get_ylim()[1] * 0.97, str(group), ha="center", va="top", fontsize=9)
        start += count
    ax.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()],
        labels=list(colours),
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    ax.set_title(
        f"Videos per class ({stats.classes} classes: {stats.seen_classes} seen, {stats.unseen_classes} unseen)"
    )
    _save(fig, paths[0])
    plt.close(fig)

    # 2. Event length distribution.
    fig, ax = plt.subplots(figsize=(6.4, 4))
    counts = np.array(stats.event_length_counts)
    ax.bar(np.arange(len(counts)), 100 * counts / max(1, counts.sum()), color="#55A868")
    ax.set_xticks(np.arange(len(counts)))
    ax.set_xlabel("seconds with an audio-visual event")
    ax.set_ylabel("% of videos")
    ax.set_title(
        f"Event length: {100 * stats.all_event_fraction:.2f} % all 10 s, {100 * stats.no_event_fraction:.2f} % none"
    )
    _save(fig, paths[1])
    plt.close(fig)

    # 3. Seen vs unseen classes and videos.
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, values, title in (
        (axes[0], (stats.seen_classes, stats.unseen_classes), "classes"),
        (axes[1], (stats.seen_videos, stats.unseen_videos), "videos"),
    ):
        ax.pie(
            values,
            labels=[f"seen\n{values[0]:,}", f"unseen\n{values[1]:,}"],
            colors=list(colours.values()),
            autopct="%1.1f%%",
            startangle=90,
        )
        ax.set_title(title)
    _save(fig, paths[2])
    plt.close(fig)

    # 4. Train/val/test by seen/unseen.
    fig, ax = plt.subplots(figsize=(6.4, 4))
    names = list(stats.splits)
    seen = np.array([stats.splits[s]["seen"] for s in names])
    unseen = np.array([stats.splits[s]["unseen"] for s in names])
    ax.bar(names, seen, color=colours["seen"], label="seen")
    ax.bar(names, unseen, bottom=seen, color=colours["unseen"], label="unseen")
    for i, (a, b) in enumerate(zip(seen, unseen, strict=True)):
        ax.text(i, a + b, f"{a + b:,}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("videos")
    ax.set_ylim(0, 1.12 * max(1, int((seen + unseen).max())))
    ax.legend()
    ax.set_title("Videos per split")
    _save(fig, paths[3])
    plt.close(fig)
    return paths


def write_stats(
    folder: str | os.PathLike, out: str | os.PathLike, taxonomy: Taxonomy | None = None
) -> tuple[BenchmarkStats, list[Path]]:
    """Compute the stats of a benchmark folder, write ``stats.json`` and the plots into ``out``."""
    stats = compute_stats(load_benchmark(folder), taxonomy)
    paths = plot_stats(stats, out)
    atomic_write_json(Path(out) / "stats.json", asdict(stats))
    return stats, paths
