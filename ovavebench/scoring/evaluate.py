"""One scoring run as a researcher publishes it: the scores, their intervals, the breakdowns, the score JSON and the
pictures; what ``ovavebench score`` does, as a function."""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, load_benchmark
from ..errors import OvavebenchError
from .breakdown import per_class_intervals, per_event_length, per_group, pick_videos
from .core import ScoreResult, score
from .report import BenchmarkIdentity, benchmark_identity, check_predictions_benchmark, score_document
from .table import Table
from .uncertainty import CI_METHODS, GROUPS, METRICS, Interval, bootstrap_intervals


@dataclass(frozen=True)
class CiSettings:
    """How the intervals are computed: video-level bootstrap, stratified by seen/unseen."""

    resamples: int = 2000
    seed: int = 0
    confidence: float = 0.95
    method: str = "percentile"

    def validate(self) -> None:
        if self.method not in CI_METHODS:
            raise OvavebenchError(f"--ci-method must be one of {', '.join(CI_METHODS)}, got {self.method!r}")
        if not 0.5 <= self.confidence < 1:
            raise OvavebenchError(f"--confidence must be in [0.5, 1), got {self.confidence}")
        if self.resamples < 100:
            raise OvavebenchError(f"--bootstrap must be at least 100 resamples, got {self.resamples}")


@dataclass
class Evaluation:
    result: ScoreResult
    identity: BenchmarkIdentity
    meta: dict[str, Any]
    per_group: Table
    per_length: Table
    intervals: dict[str, dict[str, Interval]] | None = None
    ci: CiSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The score JSON."""
        breakdowns = {
            "per_group": self.per_group.records(),
            "per_event_length": self.per_length.records(),
            "per_class": self.result.per_class.records(),
        }
        settings = None
        if self.ci is not None:
            settings = {
                "method": self.ci.method,
                "resamples": self.ci.resamples,
                "seed": self.ci.seed,
                "confidence": self.ci.confidence,
                "stratified_by": "seen/unseen",
                "unit": "video",
            }
        return score_document(self.result, self.identity, self.meta, self.intervals, settings, breakdowns)


def evaluate(
    predictions: Mapping[str, Any] | str | os.PathLike,
    benchmark: Benchmark | str | os.PathLike,
    split: str = "test",
    allow_missing: bool = False,
    class_groups: Mapping[str, str] | None = None,
    ci: CiSettings | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Score predictions, with intervals when ``ci`` is given; ``meta`` (method, config, …) overrides the file's."""
    bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
    identity = benchmark_identity(bench.folder)
    if ci is not None:
        ci.validate()
    result = score(predictions, bench, split=split, allow_missing=allow_missing)
    check_predictions_benchmark(
        result.meta, identity, str(predictions) if not isinstance(predictions, Mapping) else "<predictions>"
    )
    per_video = result.per_video
    assert per_video is not None
    merged = {**result.meta, **{k: v for k, v in (meta or {}).items() if v is not None}}
    merged.setdefault("scored_at", datetime.datetime.now(datetime.UTC).date().isoformat())
    if result.availability:
        merged.setdefault(
            "data", f"{result.availability.get('obtained')} of {result.availability.get('published')} clips"
        )
    evaluation = Evaluation(
        result, identity, merged, per_group(per_video, dict(class_groups or {})), per_event_length(per_video)
    )
    if ci is not None:
        evaluation.intervals = bootstrap_intervals(
            per_video.values, per_video.seen, ci.resamples, ci.seed, ci.confidence, ci.method
        )
        evaluation.ci = ci
    return evaluation


def _pct(value: float) -> str:
    return "   -  " if value != value else f"{100 * value:6.2f}"


def format_intervals(evaluation: Evaluation) -> str:
    """The intervals as a table under the scores: ``low–high`` in percent."""
    assert evaluation.intervals is not None and evaluation.ci is not None
    ci = evaluation.ci
    lines = [
        f"{100 * ci.confidence:g} % intervals ({ci.method}, {ci.resamples:,} video-level resamples stratified by "
        f"seen/unseen, seed {ci.seed})",
        f"{'':8} {'Acc.':>15} {'Seg.':>15} {'Eve.':>15} {'Avg.':>15}",
    ]
    degenerate = False
    for group in GROUPS:
        cells = []
        for m in METRICS:
            interval = evaluation.intervals[group][m]
            if interval.low != interval.low or interval.high != interval.high:
                cell = "–"
            else:
                cell = f"{100 * interval.low:6.2f}–{100 * interval.high:6.2f}"
            if interval.degenerate:
                cell, degenerate = cell + "*", True
            cells.append(cell)
        lines.append(f"{group:8} " + " ".join(f"{c:>15}" for c in cells))
    if degenerate:
        lines.append(
            "* degenerate: every video of the group has the same value (perfect or constant predictions, or one "
            "video), so the interval is that value"
        )
    return "\n".join(lines)


def format_breakdown(frame: Table, key: str, title: str) -> str:
    """A breakdown table (per group, per event length) as text, in percent."""
    lines = [
        title,
        f"{key:>16} {'videos':>7} {'seen':>6} {'unseen':>6} {'Acc.':>6} {'Seg.':>6} {'Eve.':>6} {'Avg.':>6}",
    ]
    for row in frame.rows():
        lines.append(
            f"{str(row[key]):>16} {row['videos']:7,d} {row['seen_videos']:6,d} {row['unseen_videos']:6,d} "
            f"{_pct(row['acc'])} {_pct(row['seg_f1'])} {_pct(row['eve_f1'])} {_pct(row['avg'])}"
        )
    return "\n".join(lines)


def write_plots(
    evaluation: Evaluation,
    out_dir: str | os.PathLike,
    timelines: int = 0,
    media: str | os.PathLike | None = None,
    title: str = "",
) -> list[Path]:
    """The pictures: per-class Avg with intervals, seen vs unseen, and timelines of the ``timelines`` worst, best
    and random videos (with their frames when ``media`` is given)."""
    from .plots import per_class_plot, seen_unseen_plot, timeline_plot

    per_video = evaluation.result.per_video
    assert per_video is not None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed = evaluation.ci.seed if evaluation.ci else 0
    resamples = evaluation.ci.resamples if evaluation.ci else 2000
    confidence = evaluation.ci.confidence if evaluation.ci else 0.95
    paths = [
        per_class_plot(
            per_class_intervals(per_video, resamples, seed, confidence),
            out / "per_class.png",
            f"{title}: per-class Avg.".strip(": "),
        ),
        seen_unseen_plot(
            {g: {m: float(getattr(getattr(evaluation.result, g), m)) for m in METRICS} for g in GROUPS},
            evaluation.intervals,
            out / "seen_unseen.png",
            f"{title}: seen vs unseen".strip(": "),
        ),
    ]
    if timelines:
        for kind, rows in pick_videos(per_video, timelines, seed).items():
            paths.append(
                timeline_plot(
                    per_video,
                    rows,
                    out / f"timelines_{kind}.png",
                    f"the {len(rows)} {kind} video(s) by Avg. ({title})",
                    media,
                )
            )
    return paths
