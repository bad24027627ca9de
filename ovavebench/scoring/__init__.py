"""Scoring stage: ``ovavebench score`` as a Python API.

>>> result = score("predictions.json", "path/to/benchmark", split="test")  # doctest: +SKIP
>>> result.to_dict()["total"]["avg"]                                      # doctest: +SKIP
0.47
>>> intervals = bootstrap(result, resamples=2000, seed=0)                  # doctest: +SKIP
>>> intervals["total"]["avg"]                                              # doctest: +SKIP
Interval(low=0.462, high=0.478)

Predictions are ``{video_id: [10 labels]}`` (or ``{"predictions": {...}, "meta": {...}}``), each label a class
name of the benchmark or ``background`` (``other`` is the same thing). Every problem with a predictions file raises
:class:`PredictionsError` whose message names the file, the video and what was expected.

One module per concern: :mod:`.core` (the published metrics on a predictions file), :mod:`.uncertainty` (bootstrap
intervals, paired tests, Holm: pure array functions), :mod:`.compare` (files against each other),
:mod:`.breakdown` (per group, event length, class), :mod:`.report` (the score JSON and the benchmark's identity),
:mod:`.results` (the results table against the paper) and :mod:`.plots` (matplotlib pictures).
"""

from __future__ import annotations

from .compare import CompareResult, PairResult, compare, format_compare_table
from .core import (
    AVAILABILITY_FILE,
    PerVideo,
    PredictionsError,
    ScoreResult,
    SplitScores,
    SplitTruth,
    encode_predictions,
    format_score_table,
    read_availability,
    read_predictions,
    read_predictions_with_meta,
    score,
    score_arrays,
    split_truth,
)
from .report import SCHEMA_VERSION, BenchmarkIdentity, ScoreFile, benchmark_identity, read_score_file, score_document
from .uncertainty import CI_METHODS, GROUPS, METRICS, Interval, PairedTest, bootstrap_intervals, holm, paired_tests


def bootstrap(
    result: ScoreResult, resamples: int = 2000, seed: int = 0, confidence: float = 0.95, method: str = "percentile"
) -> dict[str, dict[str, Interval]]:
    """Video-level bootstrap intervals of a scored split (stratified by seen/unseen).

    Returns ``{group: {metric: Interval}}``.
    """
    assert result.per_video is not None, "a ScoreResult of score() or score_arrays() carries its per-video values"
    return bootstrap_intervals(result.per_video.values, result.per_video.seen, resamples, seed, confidence, method)


__all__ = [
    "AVAILABILITY_FILE",
    "CI_METHODS",
    "GROUPS",
    "METRICS",
    "SCHEMA_VERSION",
    "BenchmarkIdentity",
    "CompareResult",
    "Interval",
    "PairResult",
    "PairedTest",
    "PerVideo",
    "PredictionsError",
    "ScoreFile",
    "ScoreResult",
    "SplitScores",
    "SplitTruth",
    "benchmark_identity",
    "bootstrap",
    "bootstrap_intervals",
    "compare",
    "encode_predictions",
    "format_compare_table",
    "format_score_table",
    "holm",
    "paired_tests",
    "read_availability",
    "read_predictions",
    "read_predictions_with_meta",
    "read_score_file",
    "score",
    "score_arrays",
    "score_document",
    "split_truth",
]
