"""Paired comparison of prediction files on the same videos: differences, intervals, p-values, Holm over pairs."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..benchmark import Benchmark, load_benchmark
from ..errors import OvavebenchError
from .core import PredictionsError, encode_predictions, read_predictions_with_meta, split_truth, strict_json
from .functional import per_video_metrics
from .report import BenchmarkIdentity, benchmark_identity, check_predictions_benchmark
from .uncertainty import GROUPS, METRICS, PairedTest, check_settings, group_means, holm, paired_tests


@dataclass(frozen=True)
class PairResult:
    """File ``a`` against file ``b``: per group and metric, the test of a − b and its Holm-adjusted p-values."""

    a: str
    b: str
    tests: dict[str, dict[str, PairedTest]]
    holm_bootstrap: dict[str, dict[str, float]] = field(default_factory=dict)
    holm_permutation: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class CompareResult:
    split: str
    names: list[str]
    videos: int  # compared, the same for every file
    left_out: int  # videos of the split that some file does not predict (with allow_missing)
    scores: dict[str, dict[str, dict[str, float]]]  # name → group → metric → fraction, on the compared videos
    pairs: list[PairResult]
    resamples: int
    seed: int
    benchmark: BenchmarkIdentity

    def to_dict(self) -> dict[str, Any]:
        """The ``compare --json`` object (fractions; ``None`` where a group has no videos: strict JSON)."""
        return strict_json(self._document())

    def _document(self) -> dict[str, Any]:
        def test(t: PairedTest) -> dict[str, Any]:
            return {
                "difference": t.difference,
                "ci": [t.interval.low, t.interval.high],
                "p_bootstrap": t.p_bootstrap,
                "p_permutation": t.p_permutation,
            }

        return {
            "split": self.split,
            "files": self.names,
            "videos_compared": self.videos,
            "videos_left_out": self.left_out,
            "resamples": self.resamples,
            "seed": self.seed,
            "benchmark_sha256": self.benchmark.sha256,
            "scores": self.scores,
            "pairs": [
                {
                    "a": p.a,
                    "b": p.b,
                    "tests": {
                        g: {
                            m: {
                                **test(p.tests[g][m]),
                                **(
                                    {
                                        "p_bootstrap_holm": p.holm_bootstrap[g][m],
                                        "p_permutation_holm": p.holm_permutation[g][m],
                                    }
                                    if p.holm_bootstrap
                                    else {}
                                ),
                            }
                            for m in METRICS
                        }
                        for g in GROUPS
                    },
                }
                for p in self.pairs
            ],
        }


def compare(
    predictions: Sequence[Mapping[str, Any] | str | os.PathLike],
    benchmark: Benchmark | str | os.PathLike,
    split: str = "test",
    allow_missing: bool = False,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    names: Sequence[str] | None = None,
) -> CompareResult:
    """Compare two or more prediction files on the same videos of a split.

    Every file must predict every video of the split; with ``allow_missing`` the comparison runs on the videos all
    files predict (and says how many were left out). With more than two files, every pair is tested and the
    p-values of each group and metric are Holm-adjusted over the pairs.
    """
    if len(predictions) < 2:
        raise OvavebenchError("compare needs at least two predictions files")
    try:
        check_settings(resamples, confidence, seed)
    except ValueError as exc:  # before any file is read
        raise OvavebenchError(f"compare: {exc}") from None
    bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
    identity = benchmark_identity(bench.folder)
    truth = split_truth(bench, split)
    loaded = []
    for item in predictions:
        data, source, meta = read_predictions_with_meta(item)
        check_predictions_benchmark(meta, identity, source)
        loaded.append((data, source))
    labels = list(names) if names is not None else [source for _, source in loaded]
    if len(set(labels)) != len(labels):
        raise OvavebenchError(f"compare: a file is given twice ({', '.join(labels)})")
    covered = np.array([[vid in data for vid in truth.video_ids] for data, _ in loaded], dtype=bool)  # [F, N]
    common: np.ndarray = np.asarray(covered.all(axis=0))  # [N]: every file predicts the video
    if not common.all() and not allow_missing:
        counts = covered.sum(axis=1)
        if len(set(counts.tolist())) > 1 or not (covered == covered[0]).all():
            described = ", ".join(f"{label}: {int(n):,}" for label, n in zip(labels, counts, strict=True))
            raise OvavebenchError(
                f"the files cover different videos of the {split} split ({described} of "
                f"{len(truth.video_ids):,}); pass --allow-missing to compare on the "
                f"{int(common.sum()):,} all of them predict"
            )
        missing = [v for v, c in zip(truth.video_ids, common, strict=True) if not c]
        raise PredictionsError(
            labels[0],
            f"{len(missing)} video(s) of the {split} split have no prediction in any "
            f"file, e.g. {', '.join(missing[:5])}; pass --allow-missing to compare on the "
            f"{int(common.sum()):,} they predict",
        )
    rows = np.flatnonzero(common)
    if len(rows) == 0:
        raise OvavebenchError(f"the files have no video of the {split} split in common")
    ids = [truth.video_ids[i] for i in rows]
    background = len(truth.classes)
    values = []
    for data, source in loaded:
        pred, _, _ = encode_predictions(data, ids, truth.classes, source, allow_missing=False)
        acc, seg, eve = per_video_metrics(pred, truth.true_class[rows], truth.flags[rows], background)
        values.append(np.stack([acc, seg, eve, (acc + seg + eve) / 3], axis=1))
    seen = truth.seen[rows]
    scores = {}
    for label, table in zip(labels, values, strict=True):
        means = group_means(table, seen)
        scores[label] = {g: {m: float(means[g][j]) for j, m in enumerate(METRICS)} for g in GROUPS}
    pairs = [
        PairResult(labels[i], labels[j], paired_tests(values[i], values[j], seen, resamples, seed, confidence))
        for i, j in itertools.combinations(range(len(values)), 2)
    ]
    if len(pairs) > 1:
        pairs = _with_holm(pairs)
    return CompareResult(
        split, labels, len(rows), len(truth.video_ids) - len(rows), scores, pairs, resamples, seed, identity
    )


def _with_holm(pairs: list[PairResult]) -> list[PairResult]:
    """Holm over the pairs, for each group and metric and each of the two tests."""
    adjusted: list[tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]] = [({}, {}) for _ in pairs]
    for group in GROUPS:
        for metric in METRICS:
            boot = holm(np.array([p.tests[group][metric].p_bootstrap for p in pairs]))
            perm = holm(np.array([p.tests[group][metric].p_permutation for p in pairs]))
            for k in range(len(pairs)):
                adjusted[k][0].setdefault(group, {})[metric] = float(boot[k])
                adjusted[k][1].setdefault(group, {})[metric] = float(perm[k])
    return [PairResult(p.a, p.b, p.tests, b, q) for p, (b, q) in zip(pairs, adjusted, strict=True)]


def format_compare_table(result: CompareResult) -> str:
    """The comparison as text: each pair's differences (points), interval and p-values, per group."""
    lines = [
        f"{result.videos:,} video(s) of the {result.split} split compared"
        + (f" ({result.left_out:,} left out: not predicted by every file)" if result.left_out else "")
        + f"; {result.resamples:,} paired resamples, seed {result.seed}"
    ]
    holm_note = len(result.pairs) > 1
    for pair in result.pairs:
        lines.append("")
        lines.append(f"{pair.a}  −  {pair.b}")
        header = f"{'':8} {'metric':6} {'diff':>7} {'95% CI':>17} {'p boot':>8} {'p perm':>8}"
        lines.append(header + (f" {'p boot·Holm':>12} {'p perm·Holm':>12}" if holm_note else ""))
        for group in GROUPS:
            for metric in METRICS:
                t = pair.tests[group][metric]
                row = (
                    f"{group:8} {metric.replace('_f1', ''):6} {100 * t.difference:+7.2f} "
                    f"[{100 * t.interval.low:+6.2f}, {100 * t.interval.high:+6.2f}] {t.p_bootstrap:8.4f} "
                    f"{t.p_permutation:8.4f}"
                )
                if holm_note:
                    row += f" {pair.holm_bootstrap[group][metric]:12.4f} {pair.holm_permutation[group][metric]:12.4f}"
                lines.append(row)
    return "\n".join(lines)
