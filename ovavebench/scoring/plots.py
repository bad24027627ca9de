"""Pictures of a scored split (matplotlib PNGs): per-class Avg with intervals, seen vs unseen, video timelines."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..io import atomic_open
from .core import PerVideo
from .table import Table
from .uncertainty import GROUPS, METRICS, Interval

SEEN_COLOUR, UNSEEN_COLOUR = "#3b75af", "#e1812c"
TRUTH_COLOUR, BACKGROUND_COLOUR, WRONG_COLOUR = "#2e8b57", "#e8e8e8", "#d62728"
_METRIC_NAMES = {"acc": "Acc.", "seg_f1": "Seg. F1", "eve_f1": "Eve. F1", "avg": "Avg."}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def per_class_plot(per_class: Table, path: str | os.PathLike, title: str) -> Path:
    """Horizontal bars of each class's Avg (sorted), its bootstrap interval as a whisker, seen/unseen in colour."""
    plt = _pyplot()
    rows = per_class.sorted_by("avg", "class_name")
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.22 * len(rows) + 1.2)))
    colours = [SEEN_COLOUR if s else UNSEEN_COLOUR for s in rows["seen"]]
    y = np.arange(len(rows))
    err = np.vstack([rows["avg"] - rows["avg_low"], rows["avg_high"] - rows["avg"]]) * 100
    ax.barh(y, rows["avg"] * 100, color=colours, xerr=err, error_kw={"ecolor": "#333", "capsize": 2, "lw": 0.8})
    ax.set_yticks(y, [f"{n} ({v})" for n, v in zip(rows["class_name"], rows["videos"], strict=True)], fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Avg. of Acc., Seg. F1, Eve. F1 (%), 95 % bootstrap interval")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=SEEN_COLOUR, label="seen class"), Patch(color=UNSEEN_COLOUR, label="unseen class")],
        loc="lower right",
        fontsize=8,
    )
    return _save(fig, Path(path))


def seen_unseen_plot(
    scores: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, Mapping[str, Interval]] | None,
    path: str | os.PathLike,
    title: str,
) -> Path:
    """Grouped bars: the four metrics for seen, unseen and total, with interval whiskers when given."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.26
    x = np.arange(len(METRICS))
    for k, (group, colour) in enumerate(zip(GROUPS, (SEEN_COLOUR, UNSEEN_COLOUR, "#6a6a6a"), strict=True)):
        values = np.array([scores[group][m] for m in METRICS]) * 100
        err = None
        if intervals is not None:
            err = np.vstack(
                [
                    values - np.array([intervals[group][m].low for m in METRICS]) * 100,
                    np.array([intervals[group][m].high for m in METRICS]) * 100 - values,
                ]
            )
        bars = ax.bar(x + (k - 1) * width, values, width, yerr=err, color=colour, label=group, capsize=3)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(x, [_METRIC_NAMES[m] for m in METRICS])
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncols=3, loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))


def _thumbnail(clips: dict[str, list[Path]], video_id: str, k: int) -> np.ndarray | None:
    """Second ``k``'s frame of a benchmark video, small, from its clip folder (``<youtube_id>_<start>``)."""
    from PIL import Image

    from ..media.layout import resolve_clip_dir

    folder = resolve_clip_dir(video_id, clips)
    frame = folder / "frames" / f"{k}.png" if folder is not None else None
    if frame is None or not frame.is_file():
        return None
    try:
        with Image.open(frame) as image:
            image.thumbnail((96, 72))
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or not an image: PIL's errors do not name the file
        raise InputFileError(frame, f"not a readable frame image ({' '.join(str(exc).split())[:120]})") from None


def timeline_plot(
    per_video: PerVideo, rows: list[int], path: str | os.PathLike, title: str, media: str | os.PathLike | None = None
) -> Path:
    """Truth and prediction second by second for each chosen video, with its ten frames above when ``media`` is
    given: green = the video's class, grey = background, red = a wrong class (named in the cell)."""
    plt = _pyplot()
    media_dir = Path(media) if media is not None else None
    from ..media.layout import clip_dirs_by_youtube_id

    clips = clip_dirs_by_youtube_id(media_dir) if media_dir is not None else {}
    per_row = 3 if media_dir is not None else 2
    fig, axes = plt.subplots(
        max(1, len(rows)), 1, figsize=(11, (1.9 if media_dir else 1.0) * max(1, len(rows)) + 0.6), squeeze=False
    )
    background = len(per_video.classes)
    for ax, row in zip(axes[:, 0], rows, strict=False):  # no rows: one empty axis, nothing drawn in it
        vid, cls = per_video.video_ids[row], int(per_video.true_class[row])
        truth = np.where(per_video.flags[row].astype(bool), cls, background)
        pred = per_video.pred[row]
        ax.set_xlim(0, 10)
        ax.set_ylim(0, per_row)
        ax.set_yticks(
            np.arange(per_row) + 0.5,
            (["prediction", "truth", "frames"] if media_dir else ["prediction", "truth"]),
            fontsize=8,
        )
        ax.set_xticks(np.arange(10) + 0.5, [f"{k}s" for k in range(10)], fontsize=7)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        for k in range(10):
            for level, value in ((1, truth[k]), (0, pred[k])):
                colour = BACKGROUND_COLOUR if value == background else TRUTH_COLOUR if value == cls else WRONG_COLOUR
                ax.add_patch(plt.Rectangle((k + 0.03, level + 0.08), 0.94, 0.84, color=colour))
                if value not in (background, cls):
                    ax.text(
                        k + 0.5,
                        level + 0.5,
                        per_video.classes[value][:14],
                        ha="center",
                        va="center",
                        fontsize=5.5,
                        color="white",
                    )
            image = _thumbnail(clips, vid, k) if media_dir else None
            if image is not None:
                ax.imshow(image, extent=(k + 0.03, k + 0.97, 2.05, 2.95), aspect="auto")
        acc, seg, eve, avg = (100 * per_video.values[row]).tolist()
        kind = "seen" if per_video.seen[row] else "unseen"
        ax.set_title(
            f"{vid} — {per_video.classes[cls]} ({kind}): Acc {acc:.0f}, Seg {seg:.0f}, Eve {eve:.0f}, Avg {avg:.1f}",
            fontsize=8,
            loc="left",
        )
    for ax in axes[len(rows) :, 0]:
        ax.axis("off")
    from matplotlib.patches import Patch

    fig.legend(
        handles=[
            Patch(color=TRUTH_COLOUR, label="the video's class"),
            Patch(color=BACKGROUND_COLOUR, label="background"),
            Patch(color=WRONG_COLOUR, label="another class (named)"),
        ],
        loc="lower center",
        ncols=3,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if len(rows) < 3 else 0.03, 1, 1))
    return _save(fig, Path(path))
