"""The score file: what a result is, on which benchmark, by which method, with which uncertainty.

A score JSON carries ``schema_version``, the benchmark's identity (sha256 of each of its split files and one digest
over them), the split, the point scores (``seen``/``unseen``/``total``, as ``score --json`` prints), the intervals
when asked for, the breakdowns, and ``meta``: method, config, encoder, hardware, seed, the toolkit version, from the
predictions file's ``meta`` object (the baselines write one) and the command line. Two results of different
benchmarks are never compared or tabulated together: the mismatch is named.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..benchmark import find_benchmark_files
from ..constants import VERSION as __version__
from ..errors import InputFileError, OvavebenchError
from ..io import read_json, sha256_file
from .core import ScoreResult, strict_json
from .uncertainty import GROUPS, METRICS, Interval

SCHEMA_VERSION = 2
META_KEYS = (
    "method",
    "config",
    "encoder",
    "checkpoint_sha256",
    "hardware",
    "seed",
    "toolkit_version",
    "benchmark_sha256",
)


@dataclass(frozen=True)
class BenchmarkIdentity:
    """sha256 of each split file of a benchmark folder (by role) and one digest over them."""

    sha256: str
    files: dict[str, dict[str, str]]  # role → {"name", "sha256"}


def benchmark_identity(folder: str | os.PathLike) -> BenchmarkIdentity:
    """The identity of a benchmark folder: its meta, labels and category lists, by content."""
    found = find_benchmark_files(folder)
    files = {
        role: {"name": path.name, "sha256": sha256_file(path)}
        for role, path in (
            ("meta", found.meta),
            ("labels", found.labels),
            ("total_categories", found.total_categories),
            ("train_categories", found.train_categories),
        )
        if path is not None
    }
    digest = hashlib.sha256("".join(f"{role}:{f['sha256']}\n" for role, f in sorted(files.items())).encode())
    return BenchmarkIdentity(digest.hexdigest(), files)


def hardware() -> str:
    """This machine, in one short line (for the ``meta`` of predictions made here)."""
    return f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} CPU(s)".strip()


def check_predictions_benchmark(meta: Mapping[str, Any], identity: BenchmarkIdentity, source: str) -> None:
    """Refuse predictions made on another benchmark, when their ``meta`` says which one."""
    made_on = meta.get("benchmark_sha256")
    if made_on is not None and made_on != identity.sha256:
        raise InputFileError(
            source,
            f"predictions of benchmark {str(made_on)[:12]}…, but this benchmark is "
            f"{identity.sha256[:12]}… (another rebuild or split): score them on their own",
        )


def intervals_to_dict(intervals: Mapping[str, Mapping[str, Interval]]) -> dict[str, dict[str, list[float | None]]]:
    """Low and high of each interval (null for a group without videos: JSON has no NaN)."""

    def bound(x: float) -> float | None:
        return None if x != x else x

    return {g: {m: [bound(intervals[g][m].low), bound(intervals[g][m].high)] for m in METRICS} for g in GROUPS}


def score_document(
    result: ScoreResult,
    identity: BenchmarkIdentity,
    meta: Mapping[str, Any],
    intervals: Mapping[str, Mapping[str, Interval]] | None = None,
    ci_settings: Mapping[str, Any] | None = None,
    breakdowns: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The score JSON of a result."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "split": result.split,
        **result.to_dict(),
        "benchmark": asdict(identity),
        "meta": {
            **{k: meta.get(k) for k in META_KEYS if k != "toolkit_version"},
            **{k: v for k, v in meta.items() if k not in META_KEYS},
            "toolkit_version": __version__,
        },
    }
    if intervals is not None:
        doc["ci"] = {**dict(ci_settings or {}), "intervals": intervals_to_dict(intervals)}
        degenerate = {g: [m for m in METRICS if intervals[g][m].degenerate] for g in GROUPS}
        if any(degenerate.values()):
            # [value, value] (or null) because the group's videos all have one value, not because it is certain
            doc["ci"]["degenerate"] = {g: ms for g, ms in degenerate.items() if ms}
    if breakdowns is not None:
        doc["breakdowns"] = dict(breakdowns)
    if result.filled_missing:
        doc["filled_missing"] = result.filled_missing
    if result.availability:
        doc["availability"] = {k: result.availability.get(k) for k in ("obtained", "published")}
    return strict_json(doc)


@dataclass(frozen=True)
class ScoreFile:
    """A score JSON read back: enough for the results table."""

    path: Path
    split: str
    scores: dict[str, dict[str, float]]  # group → metric → fraction
    benchmark_sha256: str
    meta: dict[str, Any]
    intervals: dict[str, dict[str, list[float | None]]] | None


def _fraction(value: Any, path: Path, field: str) -> float | None:
    """A score or a bound of a score file: null, or a finite number in [0, 1] (a fraction, not a percent)."""
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 1:
        raise InputFileError(path, f"{field}: expected a fraction in [0, 1] or null, got {value!r}")
    return float(value)


def read_score_file(path: str | os.PathLike) -> ScoreFile:
    """A score JSON of ``ovavebench score --out``; refuse anything else (an old file without a schema too), and
    every field out of range (a non-finite or out-of-[0, 1] score or bound) by its name."""
    path = Path(path)
    what = "a score JSON of `ovavebench score --out` (schema_version 2)"
    data = read_json(path, what)
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected {what}")
    if data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version")
        raise InputFileError(
            path, f"schema_version {found!r}, expected {SCHEMA_VERSION} (score the predictions again with this toolkit)"
        )
    shape = f"expected {what}: seen/unseen/total scores, benchmark.sha256, split"
    if not all(isinstance(data.get(g), dict) for g in GROUPS) or not isinstance(data.get("benchmark"), dict):
        raise InputFileError(path, shape)
    if not isinstance(data.get("split"), str) or not isinstance(data["benchmark"].get("sha256"), str):
        raise InputFileError(path, shape)
    scores: dict[str, dict[str, float]] = {}
    for g in GROUPS:
        scores[g] = {}
        for m in METRICS:
            value = _fraction(data[g].get(m), path, f"{g}.{m}")
            if value is not None:
                scores[g][m] = value
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputFileError(path, f"meta: expected a JSON object, got {type(meta).__name__}")
    if meta.get("config") is not None and not isinstance(meta["config"], str):
        raise InputFileError(path, f"meta.config: expected a config name, got {meta['config']!r}")
    ci = data.get("ci")
    intervals: dict[str, dict[str, list[float | None]]] | None = None
    if ci is not None:
        raw = ci.get("intervals") if isinstance(ci, dict) else None
        if not isinstance(raw, dict):
            raise InputFileError(path, "ci: expected an object with intervals {group: {metric: [low, high]}}")
        intervals = {}
        for g, metrics in raw.items():
            if g not in GROUPS or not isinstance(metrics, dict):
                raise InputFileError(path, f"ci.intervals.{g}: expected seen/unseen/total with metrics")
            intervals[g] = {}
            for m, bounds in metrics.items():
                if m not in METRICS or not isinstance(bounds, list) or len(bounds) != 2:
                    raise InputFileError(path, f"ci.intervals.{g}.{m}: expected [low, high] of one of {METRICS}")
                low, high = (_fraction(x, path, f"ci.intervals.{g}.{m}") for x in bounds)
                if low is not None and high is not None and low > high:
                    raise InputFileError(path, f"ci.intervals.{g}.{m}: low {low} is above high {high}")
                intervals[g][m] = [low, high]
    return ScoreFile(path, data["split"], scores, data["benchmark"]["sha256"], dict(meta), intervals)


def check_same_benchmark(files: list[ScoreFile]) -> None:
    """All results of one table must come from one benchmark and one split; name the first that differs."""
    if not files:
        return
    first = files[0]
    for other in files[1:]:
        if other.benchmark_sha256 != first.benchmark_sha256:
            raise OvavebenchError(
                f"{other.path}: scored on benchmark {other.benchmark_sha256[:12]}…, but {first.path} "
                f"on {first.benchmark_sha256[:12]}… (another rebuild or split): tabulate them apart"
            )
        if other.split != first.split:
            raise OvavebenchError(f"{other.path}: the {other.split} split, but {first.path} is the {first.split} split")
