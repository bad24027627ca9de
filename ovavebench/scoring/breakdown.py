"""Breakdowns of a scored split: per class group, per event length, per class with intervals; pure array code."""

from __future__ import annotations

import numpy as np

from .core import PerVideo
from .table import Table
from .uncertainty import METRICS, percentile_interval

# Buckets of a video's event seconds (its true label's ones): none, short, medium, long, the whole clip.
LENGTH_BUCKETS = (("0", 0, 0), ("1-3", 1, 3), ("4-6", 4, 6), ("7-9", 7, 9), ("10", 10, 10))
UNLISTED_GROUP = "unlisted"  # a class of a grown benchmark that the taxonomy does not name


def _table(keys: np.ndarray, names: list[str], per_video: PerVideo, column: str) -> Table:
    """Mean of the four metrics and the seen/unseen counts per key (0..len(names)-1), with bincount."""
    count = len(names)
    videos = np.bincount(keys, minlength=count)
    seen = np.bincount(keys, weights=per_video.seen.astype(np.float64), minlength=count).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = {
            metric: np.bincount(keys, weights=per_video.values[:, j], minlength=count) / videos
            for j, metric in enumerate(METRICS)
        }
    columns = {column: np.asarray(names, dtype=object), "videos": videos, "seen_videos": seen}
    return Table({**columns, "unseen_videos": videos - seen, **means})


def per_group(per_video: PerVideo, class_groups: dict[str, str]) -> Table:
    """Scores per class group (the taxonomy's five, in the order given; classes it lacks: ``unlisted``)."""
    groups = list(dict.fromkeys(class_groups.values()))
    class_group = [class_groups.get(name, UNLISTED_GROUP) for name in per_video.classes]
    if UNLISTED_GROUP in class_group and UNLISTED_GROUP not in groups:
        groups.append(UNLISTED_GROUP)
    index = {g: i for i, g in enumerate(groups)}
    keys = np.array([index[g] for g in class_group], dtype=np.int64)[per_video.true_class]
    frame = _table(keys, groups, per_video, "group")
    return frame.filter(frame["videos"] > 0)


def per_event_length(per_video: PerVideo) -> Table:
    """Scores per bucket of event seconds in the truth: 0, 1–3, 4–6, 7–9, 10."""
    seconds = per_video.flags.astype(bool).sum(axis=1)
    keys = np.zeros(len(seconds), dtype=np.int64)
    for i, (_, low, high) in enumerate(LENGTH_BUCKETS):
        keys[(seconds >= low) & (seconds <= high)] = i
    return _table(keys, [name for name, _, _ in LENGTH_BUCKETS], per_video, "event_seconds")


def per_class_intervals(per_video: PerVideo, resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> Table:
    """Per-class Avg with a percentile bootstrap interval (videos of each class resampled), one row a class."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[4])
    rows = []
    order = np.argsort(per_video.true_class, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(per_video.true_class[order]) != 0])
    for begin, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):  # one vectorised resample per class
        members = order[begin:end]
        values = per_video.values[members, 3]
        picks = rng.integers(0, len(members), size=(resamples, len(members)))
        low, high = percentile_interval(values[picks].mean(axis=1)[:, None], confidence)
        cls = int(per_video.true_class[members[0]])
        rows.append(
            {
                "class_name": per_video.classes[cls],
                "seen": bool(per_video.seen[members[0]]),
                "videos": len(members),
                "avg": float(values.mean()),
                "avg_low": float(low[0]),
                "avg_high": float(high[0]),
            }
        )
    names = ["class_name", "seen", "videos", "avg", "avg_low", "avg_high"]
    return Table(
        {
            name: np.asarray([row[name] for row in rows], dtype=object if name == "class_name" else None)
            for name in names
        }
    )


def pick_videos(per_video: PerVideo, count: int, seed: int = 0) -> dict[str, list[int]]:
    """Rows of the ``count`` worst and best videos by Avg (ties by id) and ``count`` at random."""
    avg = per_video.values[:, 3]
    ids = np.asarray(per_video.video_ids, dtype=object)
    ascending = np.lexsort((ids, avg))
    descending = np.lexsort((ids, -avg))
    rng = np.random.default_rng(seed)
    count = min(count, len(avg))
    return {
        "worst": ascending[:count].tolist(),
        "best": descending[:count].tolist(),
        "random": sorted(rng.choice(len(avg), size=count, replace=False).tolist()) if count else [],
    }
