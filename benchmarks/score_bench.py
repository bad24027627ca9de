"""Scorer speed: the vectorised scorer vs a per-video Python loop, on the 5,820-video test split.

The loop builds, per video, the (C+1)×10 prediction and truth matrices and
walks every row, as the metric code published with the paper does. Both must
give identical numbers; the script prints both times and the ratio. Then the intervals: 2,000 video-level
bootstrap resamples (percentile, stratified by seen/unseen) and a paired comparison of two files (2,000 paired
resamples + 2,000 sign flips) on the same split, each beside the point-estimate time (goal: under 2 s).

    python benchmarks/score_bench.py [--benchmark DIR] [--predictions FILE] [--repeat 5] [--resamples 2000]

Defaults: ../shared/reference/ovavebench and random predictions (seed 0).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ovavebench.benchmark import load_benchmark
from ovavebench.scoring import bootstrap, encode_predictions, paired_tests, read_predictions, score_arrays

REPO = Path(__file__).resolve().parent.parent


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    events, start = [], None
    for i, value in enumerate(list(row) + [0]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            events.append((start, i))
            start = None
    return events


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union


def loop_scores(pred: np.ndarray, true_class: np.ndarray, flags: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-video (acc, seg F1, eve F1), one video and one row at a time."""
    out = np.zeros((len(pred), 3))
    for v in range(len(pred)):
        p = np.zeros((n_classes + 1, 10), dtype=np.int64)
        t = np.zeros((n_classes + 1, 10), dtype=np.int64)
        p[pred[v], np.arange(10)] = 1
        t[true_class[v]] = flags[v]
        t[n_classes] = 1 - flags[v]
        acc = float((p.argmax(0) == t.argmax(0)).mean())
        seg, eve = [], []
        for r in range(n_classes + 1):
            if p[r].sum() == 0 and t[r].sum() == 0:
                continue
            tp = int((p[r] & t[r]).sum())
            fp = int((p[r] & (1 - t[r])).sum())
            fn = int(((1 - p[r]) & t[r]).sum())
            seg.append(2 * tp / (2 * tp + fp + fn))
            pe, te = _runs(p[r]), _runs(t[r])
            etp = sum(1 for a in pe if any(_iou(a, b) >= 0.5 for b in te))
            efn = sum(1 for b in te if not any(_iou(a, b) >= 0.5 for a in pe))
            eve.append(2 * etp / (2 * etp + (len(pe) - etp) + efn))
        out[v] = (acc, np.mean(seg), np.mean(eve))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, default=REPO.parent / "shared" / "reference" / "ovavebench")
    parser.add_argument("--predictions", type=Path, default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()

    bench = load_benchmark(args.benchmark)
    videos = bench.split_videos(args.split)
    ids = videos["vid_name"].tolist()
    class_index = {c: i for i, c in enumerate(bench.classes)}
    true_class = videos["cls_name"].map(class_index).to_numpy()
    index = bench.labels.index()
    flags = bench.labels.flags[[index[v] for v in ids]].astype(np.int64)
    seen = videos["seen"].to_numpy(bool)
    if args.predictions:
        data, source = read_predictions(args.predictions)
        pred, _, _ = encode_predictions(data, ids, bench.classes, source)
    else:
        rng = np.random.default_rng(0)
        # Realistic predictions: the true rows with 30 % of segments replaced at random.
        pred = np.where(flags.astype(bool), true_class[:, None], len(bench.classes))
        noise = rng.random(pred.shape) < 0.3
        pred = np.where(noise, rng.integers(0, len(bench.classes) + 1, pred.shape), pred)

    fast_times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = score_arrays(pred, true_class, flags, seen, bench.classes, args.split)
        fast_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    slow = loop_scores(pred, true_class, flags, len(bench.classes))
    slow_time = time.perf_counter() - start

    loop_total = slow.mean(0)
    fast_total = np.array([result.total.acc, result.total.seg_f1, result.total.eve_f1])
    diff = float(np.abs(loop_total - fast_total).max())
    assert diff < 1e-12, f"scorers disagree by {diff}"
    fast = min(fast_times)
    print(f"videos: {len(ids):,} ({args.split} split of {args.benchmark})")
    print(f"per-video loop (published style): {slow_time * 1000:9.1f} ms")
    print(f"vectorised scorer (best of {args.repeat}):  {fast * 1000:9.1f} ms")
    print(f"speed-up: {slow_time / fast:.0f}x   max |difference| of the totals: {diff:.1e}")
    print(f"total: acc {result.total.acc:.6f}  seg {result.total.seg_f1:.6f}  eve {result.total.eve_f1:.6f}")

    boot_times, paired_times = [], []
    other = np.where(np.random.default_rng(1).random(pred.shape) < 0.05, len(bench.classes), pred)  # a second file
    other_values = score_arrays(other, true_class, flags, seen, bench.classes).per_video.values
    for _ in range(args.repeat):
        start = time.perf_counter()
        intervals = bootstrap(result, resamples=args.resamples, seed=0)
        boot_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        paired_tests(result.per_video.values, other_values, seen, args.resamples, 0)
        paired_times.append(time.perf_counter() - start)
    boot, paired = min(boot_times), min(paired_times)
    interval = intervals["total"]["avg"]
    print(
        f"bootstrap CIs, {args.resamples:,} resamples (best of {args.repeat}): {boot * 1000:9.1f} ms "
        f"= {boot / fast:.0f}x the point estimate; goal < 2 s: {'met' if boot < 2 else 'NOT met'}"
    )
    print(
        f"paired comparison, {args.resamples:,} resamples + sign flips:   {paired * 1000:9.1f} ms "
        f"= {paired / fast:.0f}x the point estimate"
    )
    print(
        f"total Avg. {100 * result.total.avg:.2f} %, 95 % interval {100 * interval.low:.2f}–{100 * interval.high:.2f}"
    )


if __name__ == "__main__":
    main()
