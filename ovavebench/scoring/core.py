"""Scoring stage: ``ovavebench score`` as a Python API.

>>> result = score("predictions.json", "path/to/benchmark", split="test")  # doctest: +SKIP
>>> result.to_dict()["total"]["avg"]                                      # doctest: +SKIP
0.47

Predictions are ``{video_id: [10 labels]}`` (or ``{"predictions": {...}}``),
each label a class name of the benchmark or ``background`` (``other`` is the
same thing). Every problem with a predictions file raises
:class:`PredictionsError` whose message names the file, the video and what was
expected.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..benchmark import Benchmark, load_benchmark
from ..constants import BACKGROUND, OTHER, SEGMENTS
from ..errors import InputFileError, OvavebenchError
from ..io import read_json
from .functional import per_video_metrics
from .table import Table

AVAILABILITY_FILE = "availability.json"


class PredictionsError(InputFileError):
    """A predictions file that cannot be scored."""


@dataclass(frozen=True)
class SplitScores:
    """Scores of one group of videos; fractions in [0, 1]."""

    acc: float
    seg_f1: float
    eve_f1: float
    avg: float
    videos: int


@dataclass(frozen=True)
class PerVideo:
    """The per-video metric values of a scored split, and what they were computed from (rows of ``classes``;
    ``len(classes)`` is background)."""

    video_ids: list[str]
    classes: list[str]
    pred: np.ndarray  # [N, 10] predicted rows
    true_class: np.ndarray  # [N]
    flags: np.ndarray  # [N, 10] 1 = event second
    seen: np.ndarray  # [N] bool
    values: np.ndarray  # [N, 4] acc, seg_f1, eve_f1, avg of each video

    def subset(self, rows: np.ndarray) -> PerVideo:
        """The videos at ``rows``, in that order."""
        return PerVideo(
            [self.video_ids[i] for i in rows],
            self.classes,
            self.pred[rows],
            self.true_class[rows],
            self.flags[rows],
            self.seen[rows],
            self.values[rows],
        )


@dataclass
class ScoreResult:
    """Seen / unseen / total scores of one split, plus per-class rows."""

    split: str
    seen: SplitScores
    unseen: SplitScores
    total: SplitScores
    per_class: Table  # class_name, seen, videos, acc, seg_f1, eve_f1, avg: one row per class with videos
    ignored_ids: list[str] = field(default_factory=list)
    filled_missing: int = 0
    availability: dict[str, Any] | None = None  # set when the benchmark lacks clips
    per_video: PerVideo | None = None  # what the intervals, comparisons and breakdowns resample
    meta: dict[str, Any] = field(default_factory=dict)  # the predictions file's own `meta`

    def to_dict(self) -> dict[str, dict[str, float | int | None]]:
        """The ``--json`` object: ``{"seen": {acc, seg_f1, eve_f1, avg, videos}, …}`` (``None`` for the scores of
        a group without videos: strict JSON has no NaN)."""
        return strict_json({"seen": asdict(self.seen), "unseen": asdict(self.unseen), "total": asdict(self.total)})


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) as ``None``, in nested dicts, lists and tuples: what
    ``json.dumps`` writes is then strict JSON (``null``, never ``NaN``/``Infinity``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def _summarise(acc: np.ndarray, seg: np.ndarray, eve: np.ndarray) -> SplitScores:
    if len(acc) == 0:
        nan = float("nan")
        return SplitScores(nan, nan, nan, nan, 0)
    a, s, e = float(acc.mean()), float(seg.mean()), float(eve.mean())
    return SplitScores(a, s, e, (a + s + e) / 3, int(len(acc)))


def read_predictions(predictions: Mapping[str, Any] | str | os.PathLike) -> tuple[Mapping[str, Any], str]:
    """Load a predictions mapping from a path (or pass a mapping through)."""
    data, source, _ = read_predictions_with_meta(predictions)
    return data, source


def read_predictions_with_meta(
    predictions: Mapping[str, Any] | str | os.PathLike,
) -> tuple[Mapping[str, Any], str, dict[str, Any]]:
    """A predictions mapping, its source name, and its ``meta`` object (``{"predictions": …, "meta": {…}}``:
    method, config, encoder, hardware, seed of the run that made them; empty when the file has none)."""
    if isinstance(predictions, Mapping):
        data: Any = predictions
        source = "<predictions>"
    else:
        source = str(predictions)
        if not Path(predictions).exists():
            raise PredictionsError(source, "file not found")
        if Path(predictions).is_dir():
            raise PredictionsError(source, "is a folder; expected a predictions JSON file")
        data = read_json(predictions, "a JSON object {video_id: [10 labels]}", PredictionsError)
    meta: dict[str, Any] = {}
    if (
        isinstance(data, Mapping)
        and "predictions" in data
        and set(data.keys()) <= {"predictions", "meta"}
        and isinstance(data["predictions"], Mapping)
    ):
        if "meta" in data:
            if not isinstance(data["meta"], Mapping):
                raise PredictionsError(source, f"'meta' must be a JSON object, got {type(data['meta']).__name__}")
            meta = dict(data["meta"])
        data = data["predictions"]
    if not isinstance(data, Mapping):
        raise PredictionsError(source, f"expected a JSON object {{video_id: [10 labels]}}, got {type(data).__name__}")
    return data, source, meta


def encode_predictions(
    data: Mapping[str, Any], video_ids: list[str], classes: list[str], source: str, allow_missing: bool = False
) -> tuple[np.ndarray, list[str], int]:
    """Predictions for ``video_ids`` → row indices [N, 10] (background = len(classes)).

    Returns (rows, ids present in ``data`` but not in ``video_ids``, number of
    missing videos scored as background).
    """
    background = len(classes)
    index = {name: i for i, name in enumerate(classes)}
    index[BACKGROUND] = background
    index[OTHER] = background
    wanted = set(video_ids)
    ignored = [vid for vid in data if vid not in wanted]
    missing = [vid for vid in video_ids if vid not in data]
    rows = np.full((len(video_ids), SEGMENTS), background, dtype=np.int64)
    for i, vid in enumerate(video_ids):
        labels = data.get(vid)
        if labels is None and vid not in data:
            continue
        if not isinstance(labels, list) or len(labels) != SEGMENTS:
            got = f"a list of {len(labels)}" if isinstance(labels, list) else type(labels).__name__
            raise PredictionsError(source, f"video {vid!r}: expected a list of {SEGMENTS} labels, got {got}")
        for k, label in enumerate(labels):
            if not isinstance(label, str):
                raise PredictionsError(
                    source, f"video {vid!r}, segment {k}: expected a label string, got {type(label).__name__}"
                )
            row = index.get(label)
            if row is None:
                close = difflib.get_close_matches(label, list(index), n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise PredictionsError(
                    source,
                    f"video {vid!r}, segment {k}: unknown label {label!r} "
                    f"(expected a class name of the benchmark or 'background'{hint})",
                )
            rows[i, k] = row
    # Malformed content is reported first: it is what a user fixes first.
    if missing and not allow_missing:
        raise PredictionsError(
            source,
            f"{len(missing)} video(s) of the split have no prediction, e.g. {', '.join(missing[:5])}; "
            "pass --allow-missing to score them as all background",
        )
    return rows, ignored, len(missing)


def score_arrays(
    pred: np.ndarray,
    true_class: np.ndarray,
    flags: np.ndarray,
    seen: np.ndarray,
    classes: list[str],
    split: str = "",
    video_ids: list[str] | None = None,
) -> ScoreResult:
    """Score encoded predictions; the pure core of :func:`score`."""
    background = len(classes)
    acc, seg, eve = per_video_metrics(pred, true_class, flags, background)
    # Per-class means with bincount: 67 rows, no groupby over videos.
    n_classes = len(classes)
    videos = np.bincount(true_class, minlength=n_classes)
    present = videos > 0
    sums = {
        name: np.bincount(true_class, weights=values, minlength=n_classes)
        for name, values in (("acc", acc), ("seg_f1", seg), ("eve_f1", eve))
    }
    class_seen = np.zeros(n_classes, dtype=bool)
    class_seen[true_class] = seen
    means = {name: total[present] / videos[present] for name, total in sums.items()}
    per_class = Table(
        {
            "class_name": np.asarray(classes, dtype=object)[present],
            "seen": class_seen[present],
            "videos": videos[present],
            **means,
            "avg": (means["acc"] + means["seg_f1"] + means["eve_f1"]) / 3,
        }
    )
    values = np.stack([acc, seg, eve, (acc + seg + eve) / 3], axis=1)
    return ScoreResult(
        split=split,
        seen=_summarise(acc[seen], seg[seen], eve[seen]),
        unseen=_summarise(acc[~seen], seg[~seen], eve[~seen]),
        total=_summarise(acc, seg, eve),
        per_class=per_class,
        per_video=PerVideo(
            list(video_ids) if video_ids is not None else [str(i) for i in range(len(acc))],
            list(classes),
            pred,
            true_class,
            flags,
            np.asarray(seen, dtype=bool),
            values,
        ),
    )


def _pct(value: float) -> str:
    return "   -  " if value != value else f"{100 * value:6.2f}"


def format_score_table(result: ScoreResult, title: str) -> str:
    """A table like the paper's Table 2 (percent), as text."""
    lines = [title, f"{'':8} {'videos':>7} {'Acc.':>6} {'Seg.':>6} {'Eve.':>6} {'Avg.':>6}"]
    for name in ("seen", "unseen", "total"):
        s = getattr(result, name)
        lines.append(f"{name:8} {s.videos:7,d} {_pct(s.acc)} {_pct(s.seg_f1)} {_pct(s.eve_f1)} {_pct(s.avg)}")
    return "\n".join(lines)


def read_availability(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The availability note ``ovavebench build`` leaves in a partial benchmark."""
    path = Path(folder) / AVAILABILITY_FILE
    if not path.exists():
        return None
    what = "the availability report of `ovavebench build` (a JSON object with 'obtained' and 'published' counts)"
    data = read_json(path, what)
    if not isinstance(data, dict) or not all(
        type(data.get(k)) is int and data[k] >= 0 for k in ("obtained", "published")
    ):
        raise InputFileError(path, f"expected {what}")
    return data


@dataclass(frozen=True)
class SplitTruth:
    """The truth of a split, as arrays: video ids, class rows, event flags [N, 10], seen mask."""

    video_ids: list[str]
    classes: list[str]
    true_class: np.ndarray
    flags: np.ndarray
    seen: np.ndarray


def split_truth(bench: Benchmark, split: str) -> SplitTruth:
    """The truth of ``split`` of a loaded benchmark; an empty split is an error."""
    in_split = np.asarray(bench.rows.split, dtype=object) == split
    bench.videos(split)  # an unknown split is one clear error
    if not in_split.any():
        raise OvavebenchError(f"{bench.folder}: the {split} split has no videos")
    picked = np.flatnonzero(in_split)
    video_ids = [bench.rows.vid_name[i] for i in picked]
    class_index = {name: i for i, name in enumerate(bench.classes)}
    label_rows = bench.labels.index()
    rows = np.fromiter((label_rows[v] for v in video_ids), dtype=np.int64, count=len(video_ids))
    return SplitTruth(
        video_ids,
        list(bench.classes),
        np.fromiter((class_index[bench.rows.cls_name[i]] for i in picked), dtype=np.int64, count=len(picked)),
        bench.labels.flags[rows],
        bench.rows.seen[picked],
    )


def score(
    predictions: Mapping[str, Any] | str | os.PathLike,
    benchmark: Benchmark | str | os.PathLike,
    split: str = "test",
    allow_missing: bool = False,
) -> ScoreResult:
    """Score predictions against a benchmark split with the published definitions."""
    bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
    truth = split_truth(bench, split)
    data, source, meta = read_predictions_with_meta(predictions)
    pred, ignored, filled = encode_predictions(data, truth.video_ids, bench.classes, source, allow_missing)
    result = score_arrays(pred, truth.true_class, truth.flags, truth.seen, bench.classes, split, truth.video_ids)
    result.ignored_ids = ignored
    result.filled_missing = filled
    result.availability = read_availability(bench.folder)
    result.meta = meta
    return result
