"""OV-AVEL metrics as pure, vectorised numpy functions.

Inputs are integer arrays: ``pred`` [N, T] of predicted row indices and
``true_class`` [N] + ``flags`` [N, T] for the truth, where rows 0..C-1 are the
classes and row C is background. Per video, the prediction and the truth are
(C+1)×T 0/1 matrices; each row is a T-bit pattern. For T = 10 there are only
1,024 patterns, so segment- and event-level TP/FP/FN are looked up in
1,024×1,024 tables computed once. Only T+2 rows per video can hold a 1 (the T
predicted rows, the true class, background), so scoring is a handful of array
ops over [N, T+2] codes, no per-video Python loop.

Definitions (as published with the paper):

* accuracy: fraction of segments whose predicted row equals the true row;
* segment F1 of a video: mean over rows with any 1 in prediction or truth of
  2TP / (2TP + FP + FN) over segments;
* event F1 of a video: per row, runs of consecutive 1s are events; a predicted
  event is a TP if a true event of that row has IoU ≥ 0.5 with it, else a FP; a
  true event with no predicted event at IoU ≥ 0.5 is a FN; mean of the rows' F1
  over rows with any event.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

IOU_THRESHOLD = 0.5


def _intervals(segments: int) -> np.ndarray:
    """All intervals [s, e) with 0 ≤ s < e ≤ T, as an [K, 2] array."""
    return np.array([(s, e) for s in range(segments) for e in range(s + 1, segments + 1)], dtype=np.int64)


@lru_cache(maxsize=4)
def _pattern_tables(segments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables over all pairs (pred pattern, true pattern).

    Returns ``seg_f1``, ``eve_f1`` (float64 [P, P], NaN where both patterns are
    empty) and the per-pattern bit matrix and run counts (for tests).
    """
    n_patterns = 1 << segments
    codes = np.arange(n_patterns, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(segments)) & 1).astype(np.int64)  # [P, T]

    # Segment level: TP = |p ∧ t|, FP = |p ∧ ¬t|, FN = |¬p ∧ t|.
    tp = bits @ bits.T
    ones = bits.sum(1)
    fp = ones[:, None] - tp
    fn = ones[None, :] - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_f1 = 2 * tp / (2 * tp + fp + fn)

    # Event level: a pattern's events are its maximal runs, each one of the K intervals.
    iv = _intervals(segments)
    starts, ends = iv[:, 0], iv[:, 1]
    inside = (np.arange(segments)[None, :] >= starts[:, None]) & (
        np.arange(segments)[None, :] < ends[:, None]
    )  # [K, T]
    all_ones = (bits[:, None, :] | ~inside[None, :, :]).all(-1)  # [P, K]
    padded = np.concatenate([np.zeros((n_patterns, 1), np.int64), bits, np.zeros((n_patterns, 1), np.int64)], 1)
    left_zero = padded[:, starts] == 0  # bit at s-1 (padded index s)
    right_zero = padded[:, ends + 1] == 0  # bit at e (padded index e+1)
    runs = (all_ones & left_zero & right_zero).astype(np.int64)  # [P, K] maximal runs
    inter = np.clip(np.minimum(ends[:, None], ends[None, :]) - np.maximum(starts[:, None], starts[None, :]), 0, None)
    union = (ends - starts)[:, None] + (ends - starts)[None, :] - inter
    match = (inter / union >= IOU_THRESHOLD).astype(np.int64)  # [K, K]
    matchable = (runs @ match.T > 0).astype(np.int64)  # [P, K]: intervals matched by some run of the pattern
    ev_tp = runs @ matchable.T  # [Pp, Pt]: predicted runs matched by a true run
    true_matched = (runs @ matchable.T).T  # [Pp, Pt]: true runs matched by a predicted run
    n_runs = runs.sum(1)
    ev_fp = n_runs[:, None] - ev_tp
    ev_fn = n_runs[None, :] - true_matched
    with np.errstate(invalid="ignore", divide="ignore"):
        eve_f1 = 2 * ev_tp / (2 * ev_tp + ev_fp + ev_fn)
    return seg_f1, eve_f1, bits, n_runs


def truth_rows(true_class: np.ndarray, flags: np.ndarray, background: int) -> np.ndarray:
    """Per-segment true row: the video's class where flagged, else background."""
    return np.where(flags.astype(bool), true_class[:, None], background)


def segment_accuracy(pred: np.ndarray, true_class: np.ndarray, flags: np.ndarray, background: int) -> np.ndarray:
    """Per-video fraction of correct segments, [N]."""
    return (pred == truth_rows(true_class, flags, background)).mean(axis=1)


def segment_f1(pred: np.ndarray, true_class: np.ndarray, flags: np.ndarray, background: int) -> np.ndarray:
    """Per-video segment-level F1, [N] (mean over active rows)."""
    return per_video_metrics(pred, true_class, flags, background)[1]


def event_f1(pred: np.ndarray, true_class: np.ndarray, flags: np.ndarray, background: int) -> np.ndarray:
    """Per-video event-level F1 at IoU ≥ 0.5, [N] (mean over rows with any event)."""
    return per_video_metrics(pred, true_class, flags, background)[2]


def _candidate_codes(
    pred: np.ndarray, true: np.ndarray, true_class: np.ndarray, background: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the only rows that can be active: the T predicted rows, the class, background.

    Returns pred codes, true codes [N, T+2] and a mask of first occurrences
    (a row listed twice among the candidates counts once).
    """
    n, segments = pred.shape
    candidates = np.concatenate([pred, true_class[:, None], np.full((n, 1), background)], axis=1)  # [N, T+2]
    pred_codes = np.zeros(candidates.shape, dtype=np.int64)
    true_codes = np.zeros(candidates.shape, dtype=np.int64)
    for k in range(segments):  # T vectorised steps over all videos
        pred_codes |= (pred[:, k, None] == candidates).astype(np.int64) << k
        true_codes |= (true[:, k, None] == candidates).astype(np.int64) << k
    # Predicted candidate j always has bit j set; it is the row's first listing iff
    # no earlier segment predicted the same row (no lower bit). The class and
    # background candidates count only when no segment predicted them.
    lower_bits = np.array([(1 << j) - 1 for j in range(segments)] + [(1 << segments) - 1] * 2, dtype=np.int64)
    first = (pred_codes & lower_bits) == 0
    return pred_codes, true_codes, first


def per_video_metrics(
    pred: np.ndarray, true_class: np.ndarray, flags: np.ndarray, background: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accuracy, segment F1, event F1) per video, sharing the row codes."""
    seg_table, eve_table = _pattern_tables(pred.shape[1])[:2]
    true = truth_rows(true_class, flags, background)
    acc = (pred == true).mean(axis=1)
    pred_codes, true_codes, first = _candidate_codes(pred, true, true_class, background)
    active = first & ((pred_codes | true_codes) != 0)
    n_active = active.sum(axis=1)
    seg = np.where(active, seg_table[pred_codes, true_codes], 0.0).sum(axis=1) / n_active
    eve = np.where(active, eve_table[pred_codes, true_codes], 0.0).sum(axis=1) / n_active
    return acc, seg, eve
