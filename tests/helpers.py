"""Small builders for test data (benchmarks, predictions) in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ovavebench.benchmark import Labels, write_benchmark


def tiny_benchmark(
    folder: Path, videos: list[tuple[str, str, str, bool, list[int]]], classes: list[str] | None = None
) -> Path:
    """videos: (video_id, split, class, seen, flags)."""
    meta = pd.DataFrame(
        [(split, cls, "close" if seen else "open", vid) for vid, split, cls, seen, _ in videos],
        columns=["split", "cls_name", "cls_type", "vid_name"],
    )
    labels = Labels([v[0] for v in videos], [v[2] for v in videos], np.array([v[4] for v in videos], dtype=np.uint8))
    classes = classes or sorted({v[2] for v in videos})
    seen = sorted({v[2] for v in videos if v[3]})
    write_benchmark(folder, meta, labels, classes, seen)
    return folder


def vid(i: int) -> str:
    """A valid 11-character YouTube-like id."""
    return f"vid{i:08d}"
