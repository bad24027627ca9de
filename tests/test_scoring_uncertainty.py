"""Intervals and paired tests: checked against a slow, independent computation, by simulation, and at the CLI."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from ovavebench.cli import app
from ovavebench.scoring import bootstrap, holm, paired_tests, score, score_arrays
from ovavebench.scoring.uncertainty import Interval, bootstrap_intervals

from .cli_runner import CliRunner
from .helpers import tiny_benchmark, vid

runner = CliRunner()


# --------------------------------------------------------------------------- an independent metric and bootstrap


def slow_video_metrics(pred: list[int], truth: list[int], n_rows: int) -> tuple[float, float, float]:
    """One video as the published definition reads: a (C+1)×10 one-hot matrix per side, F1 averaged over the rows
    with any positive, events matched at IoU ≥ 0.5. Plain Python, nothing shared with ovavebench.scoring.functional."""
    acc = sum(p == t for p, t in zip(pred, truth, strict=True)) / len(pred)
    seg, eve = [], []
    for row in range(n_rows):
        p = [int(x == row) for x in pred]
        t = [int(x == row) for x in truth]
        if not any(p) and not any(t):
            continue
        tp = sum(a and b for a, b in zip(p, t, strict=True))
        fp = sum(a and not b for a, b in zip(p, t, strict=True))
        fn = sum(b and not a for a, b in zip(p, t, strict=True))
        seg.append(2 * tp / (2 * tp + fp + fn))
        runs_p, runs_t = _runs(p), _runs(t)
        e_tp = sum(any(_iou(a, b) >= 0.5 for b in runs_t) for a in runs_p)
        e_fp = len(runs_p) - e_tp
        e_fn = sum(not any(_iou(a, b) >= 0.5 for a in runs_p) for b in runs_t)
        eve.append(2 * e_tp / (2 * e_tp + e_fp + e_fn) if (e_tp + e_fp + e_fn) else 0.0)
    return acc, sum(seg) / len(seg), sum(eve) / len(eve)


def _runs(bits: list[int]) -> list[tuple[int, int]]:
    runs, start = [], None
    for k, bit in enumerate(bits + [0]):
        if bit and start is None:
            start = k
        elif not bit and start is not None:
            runs.append((start, k))
            start = None
    return runs


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (a[1] - a[0] + b[1] - b[0] - inter)


def _linear_quantile(values: list[float], q: float) -> float:
    """numpy's default ('linear') quantile, by hand."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def _reference_subset(reference, ovave_ref, name: str, count: int):
    result = score(reference / "scoring" / f"{name}.predictions.json", ovave_ref, split="test")
    per_video = result.per_video
    # a fixed, mixed subset of the test split: every 19th video (seen and unseen both present)
    rows = np.arange(0, len(per_video.video_ids), 19)[:count]
    return per_video.subset(rows)


def _slow_values(per_video) -> list[tuple[float, float, float, float]]:
    background = len(per_video.classes)
    out = []
    for i in range(len(per_video.video_ids)):
        truth = [int(per_video.true_class[i]) if f else background for f in per_video.flags[i]]
        a, s, e = slow_video_metrics([int(x) for x in per_video.pred[i]], truth, background + 1)
        out.append((a, s, e, (a + s + e) / 3))
    return out


def test_the_slow_metric_reproduces_the_published_numbers(reference, ovave_ref):
    # The independent metric is itself anchored to the published metric code's frozen outputs.
    result = score(reference / "scoring" / "test_noisy_1.predictions.json", ovave_ref, split="test")
    expected = json.loads((reference / "scoring" / "test_noisy_1.expected.json").read_text())
    rows = np.arange(0, len(result.per_video.video_ids), 7)
    slow = _slow_values(result.per_video.subset(rows))
    np.testing.assert_allclose(np.array(slow), result.per_video.values[rows], atol=1e-12)
    assert result.to_dict()["total"]["avg"] == pytest.approx(expected["total"]["avg"], abs=1e-9)


def test_bootstrap_intervals_equal_a_per_resample_loop_to_1e9(reference, ovave_ref):
    per_video = _reference_subset(reference, ovave_ref, "test_noisy_1", 300)
    slow = _slow_values(per_video)
    resamples, seed = 300, 7
    fast = bootstrap_intervals(per_video.values, per_video.seen, resamples, seed)
    seen_rows = [i for i in range(len(slow)) if per_video.seen[i]]
    unseen_rows = [i for i in range(len(slow)) if not per_video.seen[i]]
    assert seen_rows and unseen_rows
    rng_seen, rng_unseen, _ = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    draws = {"seen": [], "unseen": [], "total": []}
    for _ in range(resamples):  # one resample at a time, sums in Python
        picked_seen = [seen_rows[j] for j in rng_seen.integers(0, len(seen_rows), size=len(seen_rows))]
        picked_unseen = [unseen_rows[j] for j in rng_unseen.integers(0, len(unseen_rows), size=len(unseen_rows))]
        for group, picked in (("seen", picked_seen), ("unseen", picked_unseen), ("total", picked_seen + picked_unseen)):
            draws[group].append([math.fsum(slow[i][m] for i in picked) / len(picked) for m in range(4)])
    for group in ("seen", "unseen", "total"):
        for m, metric in enumerate(("acc", "seg_f1", "eve_f1", "avg")):
            column = [d[m] for d in draws[group]]
            assert fast[group][metric].low == pytest.approx(_linear_quantile(column, 0.025), abs=1e-9)
            assert fast[group][metric].high == pytest.approx(_linear_quantile(column, 0.975), abs=1e-9)


def test_paired_p_values_equal_a_per_resample_loop_to_1e9(reference, ovave_ref):
    a = _reference_subset(reference, ovave_ref, "test_noisy_1", 250)
    b_full = score(reference / "scoring" / "test_exact_0.predictions.json", ovave_ref, split="test").per_video
    b = b_full.subset(np.array([b_full.video_ids.index(v) for v in a.video_ids]))
    resamples, seed = 200, 3
    fast = paired_tests(a.values, b.values, a.seen, resamples, seed)
    d = [[x - y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(_slow_values(a), _slow_values(b), strict=True)]
    seen_rows = [i for i in range(len(d)) if a.seen[i]]
    unseen_rows = [i for i in range(len(d)) if not a.seen[i]]
    rng_seen, rng_unseen, rng_signs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    groups = {"seen": seen_rows, "unseen": unseen_rows, "total": seen_rows + unseen_rows}
    observed = {g: [math.fsum(d[i][m] for i in rows) / len(rows) for m in range(4)] for g, rows in groups.items()}
    boot_hits = {g: [0] * 4 for g in groups}
    perm_hits = {g: [0] * 4 for g in groups}
    for _ in range(resamples):
        picked_seen = [seen_rows[j] for j in rng_seen.integers(0, len(seen_rows), size=len(seen_rows))]
        picked_unseen = [unseen_rows[j] for j in rng_unseen.integers(0, len(unseen_rows), size=len(unseen_rows))]
        for g, picked in (("seen", picked_seen), ("unseen", picked_unseen), ("total", picked_seen + picked_unseen)):
            for m in range(4):
                delta = math.fsum(d[i][m] for i in picked) / len(picked)
                boot_hits[g][m] += abs(delta - observed[g][m]) >= abs(observed[g][m])
    for _ in range(resamples):
        signs = rng_signs.integers(0, 2, size=len(d)) * 2 - 1
        for g, rows in groups.items():
            for m in range(4):
                flipped = math.fsum(signs[i] * d[i][m] for i in rows) / len(rows)
                perm_hits[g][m] += abs(flipped) >= abs(observed[g][m])
    for g in groups:
        for m, metric in enumerate(("acc", "seg_f1", "eve_f1", "avg")):
            test = fast[g][metric]
            assert test.difference == pytest.approx(observed[g][m], abs=1e-9)
            assert test.p_bootstrap == pytest.approx((1 + boot_hits[g][m]) / (resamples + 1), abs=1e-9)
            assert test.p_permutation == pytest.approx((1 + perm_hits[g][m]) / (resamples + 1), abs=1e-9)


# --------------------------------------------------------------------------- coverage by simulation


def _simulated_split(rng: np.random.Generator, n_seen: int, n_unseen: int, p_seen: float, p_unseen: float):
    """Videos of 6 classes; each second predicted right with probability p (seen/unseen), else a wrong row."""
    n = n_seen + n_unseen
    classes = [f"c{i}" for i in range(6)]
    true_class = rng.integers(0, 6, size=n)
    flags = (rng.random((n, 10)) < 0.6).astype(np.uint8)
    truth = np.where(flags.astype(bool), true_class[:, None], 6)
    seen = np.r_[np.ones(n_seen, bool), np.zeros(n_unseen, bool)]
    right = rng.random((n, 10)) < np.where(seen, p_seen, p_unseen)[:, None]
    wrong = (truth + rng.integers(1, 7, size=(n, 10))) % 7
    pred = np.where(right, truth, wrong)
    return score_arrays(pred, true_class, flags, seen, classes)


@pytest.mark.slow
def test_95_percent_intervals_cover_the_true_value_in_93_to_97_percent_of_400_benchmarks():
    rng = np.random.default_rng(20250611)
    n_seen, n_unseen, p_seen, p_unseen = 150, 350, 0.8, 0.6
    truth = {"seen": p_seen, "unseen": p_unseen, "total": (n_seen * p_seen + n_unseen * p_unseen) / (n_seen + n_unseen)}
    # The expected Avg. has no closed form: one very large split of the same process gives it to ~1e-4.
    big = _simulated_split(np.random.default_rng(1), 60_000, 140_000, p_seen, p_unseen)
    true_avg = big.total.avg
    covered = {"seen": 0, "unseen": 0, "total": 0, "avg": 0}
    for k in range(400):
        result = _simulated_split(rng, n_seen, n_unseen, p_seen, p_unseen)
        intervals = bootstrap(result, resamples=1000, seed=k)
        for group in ("seen", "unseen", "total"):
            covered[group] += intervals[group]["acc"].low <= truth[group] <= intervals[group]["acc"].high
        covered["avg"] += intervals["total"]["avg"].low <= true_avg <= intervals["total"]["avg"].high
    rates = {k: v / 400 for k, v in covered.items()}
    assert all(0.93 <= r <= 0.97 for r in rates.values()), rates


# --------------------------------------------------------------------------- behaviour at the edges


def test_a_file_compared_with_itself_differs_by_zero_with_p_one(reference, ovave_ref):
    path = reference / "scoring" / "test_noisy_1.predictions.json"
    result = runner.invoke(app, ["score", "compare", str(path), str(path), "--benchmark", str(ovave_ref), "--json"])
    assert result.exit_code == 2 and "given twice" in result.output  # the same path twice is a mistake, said so
    values = score(path, ovave_ref).per_video
    tests = paired_tests(values.values, values.values.copy(), values.seen, 500, 0)
    for group in tests.values():
        for test in group.values():
            assert test.difference == 0 and test.p_bootstrap == 1 and test.p_permutation == 1
            assert test.interval.low == test.interval.high == 0


def test_a_clearly_better_file_has_p_below_001_and_the_cli_says_how_many_videos(reference, ovave_ref, tmp_path):
    exact = reference / "scoring" / "test_exact_0.predictions.json"
    noisy = reference / "scoring" / "test_noisy_1.predictions.json"
    copy = tmp_path / "noisy_copy.json"
    copy.write_bytes(noisy.read_bytes())
    out = tmp_path / "cmp.json"
    result = runner.invoke(
        app,
        [
            "score",
            "compare",
            str(exact),
            str(noisy),
            str(copy),
            "--benchmark",
            str(ovave_ref),
            "--bootstrap",
            "500",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "5,820 video(s) of the test split compared" in result.output
    doc = json.loads(out.read_text())
    better = doc["pairs"][0]["tests"]
    for group in ("seen", "unseen", "total"):
        assert better[group]["avg"]["difference"] > 0.1
        assert better[group]["avg"]["p_bootstrap"] < 0.01 and better[group]["avg"]["p_permutation"] < 0.01
        assert better[group]["avg"]["p_bootstrap_holm"] < 0.01
    same = doc["pairs"][2]["tests"]["total"]["avg"]  # noisy vs its copy
    assert same["difference"] == 0 and same["p_bootstrap"] == 1 and same["p_permutation_holm"] == 1


def test_holm_adjusts_step_down_and_keeps_order():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm(np.array([0.5, 0.001])), [0.5, 0.002])
    assert np.isnan(holm(np.array([np.nan, 0.2]))[0]) and holm(np.array([np.nan, 0.2]))[1] == pytest.approx(0.2)


def test_bca_intervals_come_from_scipy_and_bracket_the_estimate(reference, ovave_ref):
    per_video = _reference_subset(reference, ovave_ref, "test_noisy_1", 200)
    intervals = bootstrap_intervals(per_video.values, per_video.seen, 500, 0, method="bca")
    means = per_video.values.mean(axis=0)
    for m, metric in enumerate(("acc", "seg_f1", "eve_f1", "avg")):
        assert intervals["total"][metric].low < means[m] < intervals["total"][metric].high


# --------------------------------------------------------------------------- the score JSON, breakdowns, plots


def _bench(tmp_path, n=24):
    rng = np.random.default_rng(0)
    videos = []
    for i in range(n):
        flags = [int(x) for x in (rng.random(10) < [0.0, 0.2, 0.5, 0.8, 1.0, 1.0][i % 6])]
        videos.append((vid(i), "test", ["dog barking", "playing piano", "race car"][i % 3], i % 3 != 2, flags))
    return tiny_benchmark(tmp_path / "bench", videos), videos


def test_score_json_carries_schema_identity_intervals_breakdowns_and_meta(tmp_path):
    bench, videos = _bench(tmp_path)
    predictions = {
        "predictions": {v: [c if f else "background" for f in flags] for v, _, c, _, flags in videos},
        "meta": {"method": "truth", "encoder": "none", "seed": 5, "hardware": "test"},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(predictions))
    out = tmp_path / "score.json"
    result = runner.invoke(
        app,
        [
            "score",
            str(path),
            "--benchmark",
            str(bench),
            "--ci",
            "--bootstrap",
            "200",
            "--out",
            str(out),
            "--breakdowns",
            "--config",
            "baselines/zero_shot.json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "95 % intervals (percentile, 200 video-level resamples" in result.output
    assert "per event length" in result.output and "per class group" in result.output
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 2 and doc["total"]["avg"] == 1.0
    assert len(doc["benchmark"]["sha256"]) == 64 and set(doc["benchmark"]["files"]) >= {"meta", "labels"}
    assert doc["ci"]["intervals"]["total"]["avg"] == [1.0, 1.0] and doc["ci"]["seed"] == 0
    assert doc["meta"]["method"] == "truth" and doc["meta"]["config"] == "baselines/zero_shot.json"
    assert doc["meta"]["toolkit_version"] and doc["meta"]["seed"] == 5
    lengths = {row["event_seconds"]: row["videos"] for row in doc["breakdowns"]["per_event_length"]}
    assert sum(lengths.values()) == len(videos) and set(lengths) == {"0", "1-3", "4-6", "7-9", "10"}
    groups = {row["group"] for row in doc["breakdowns"]["per_group"]}
    assert groups == {"animal", "music", "vehicle"}


def test_plots_and_timelines_with_frames_are_written(tmp_path):
    from PIL import Image

    bench, videos = _bench(tmp_path, 12)
    media = tmp_path / "media"
    for v, *_ in videos[:4]:
        folder = media / f"{v}_000010"
        (folder / "frames").mkdir(parents=True)
        (folder / "audio.wav").write_bytes(b"")
        for k in range(10):
            Image.new("RGB", (64, 48), (20 * k, 80, 160)).save(folder / "frames" / f"{k}.png")
    wrong = {v: (["race car"] * 5 + ["background"] * 5) for v, *_ in videos}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(wrong))
    plots = tmp_path / "plots"
    result = runner.invoke(
        app,
        [
            "score",
            str(path),
            "--benchmark",
            str(bench),
            "--ci",
            "--bootstrap",
            "100",
            "--plots",
            str(plots),
            "--timelines",
            "2",
            "--media",
            str(media),
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in plots.iterdir())
    assert names == [
        "per_class.png",
        "seen_unseen.png",
        "timelines_best.png",
        "timelines_random.png",
        "timelines_worst.png",
    ]
    for name in names:
        with Image.open(plots / name) as image:
            assert image.size[0] > 400 and image.size[1] > 150


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_one_line_and_exit_2(reference, ovave_ref, tmp_path):
    val = reference / "scoring" / "val_shifted_2.predictions.json"
    test = reference / "scoring" / "test_noisy_1.predictions.json"
    empty = tmp_path / "empty.json"
    empty.write_text("")
    nan = tmp_path / "nan.json"
    data = json.loads(test.read_text())
    first = next(iter(data))
    data[first] = ["NaN"] * 10
    nan.write_text(json.dumps(data))
    other_bench = tmp_path / "other.json"
    other_bench.write_text(
        json.dumps({"predictions": json.loads(test.read_text()), "meta": {"benchmark_sha256": "0" * 64}})
    )
    cases = [
        (["score", "compare", str(val), str(test)], "cover different videos"),
        (["score", str(nan)], "unknown label 'NaN'"),
        (["score", str(empty)], "empty.json"),
        (["score", "compare", str(test), str(empty)], "empty.json"),
        (["score", str(other_bench)], "predictions of benchmark 000000000000"),
        (["score", "compare", str(test), str(other_bench)], "predictions of benchmark 000000000000"),
        (["score", str(test), "--ci-method", "jackknife", "--ci"], "--ci-method"),
        (["score", str(test), "--timelines", "3"], "--plots"),
    ]
    for args, needle in cases:
        result = runner.invoke(app, [*args, "--benchmark", str(ovave_ref)])
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], (args, result.output)
        assert "Traceback" not in result.output


def _strict(text: str):
    """Parse JSON refusing NaN and ±Infinity (what a strict reader such as JavaScript's JSON.parse does)."""

    def refuse(name: str):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_bca_on_perfect_predictions_warns_nothing_and_reports_degenerate_intervals(tmp_path):
    bench, videos = _bench(tmp_path)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({v: [c if f else "background" for f in flags] for v, _, c, _, flags in videos}))
    out = tmp_path / "score.json"
    args = ["score", str(path), "--benchmark", str(bench), "--ci", "--ci-method", "bca", "--bootstrap", "200"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "Warning" not in result.output and "nan" not in result.output
    assert (
        "100.00–100.00*" in result.stdout
        and "* degenerate: every video of the group has the same value" in result.stdout
    )
    doc = _strict(out.read_text())
    assert doc["ci"]["intervals"]["total"]["avg"] == [1.0, 1.0]
    assert doc["ci"]["degenerate"] == {g: ["acc", "seg_f1", "eve_f1", "avg"] for g in ("seen", "unseen", "total")}


def test_bca_on_constant_columns_keeps_the_others_and_needs_no_scipy_warning():
    rng = np.random.default_rng(3)
    values = np.column_stack([rng.random(40), np.zeros(40), np.full(40, 0.5), rng.random(40)])
    seen = np.arange(40) % 3 != 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any library warning fails the test
        bca = bootstrap_intervals(values, seen, 300, 0, 0.95, "bca")
        pct = bootstrap_intervals(values, seen, 300, 0, 0.95, "percentile")
    for intervals in (bca, pct):
        for group in ("seen", "unseen", "total"):
            assert intervals[group]["seg_f1"] == Interval(0.0, 0.0, degenerate=True)
            assert intervals[group]["eve_f1"] == Interval(0.5, 0.5, degenerate=True)
            acc = intervals[group]["acc"]
            assert not acc.degenerate and 0 < acc.low < acc.high < 1
    # one unseen video: fixed in every resample, the total is the seen stratum's interval moved by it
    one = np.zeros(11, dtype=bool)
    one[:10] = True
    column = np.linspace(0, 1, 11)[:, None].repeat(4, axis=1)
    got = bootstrap_intervals(column, one, 300, 0, 0.95, "bca")
    assert got["unseen"]["acc"] == Interval(1.0, 1.0, degenerate=True)
    seen_iv = got["seen"]["acc"]
    assert got["total"]["acc"].low == pytest.approx((seen_iv.low * 10 + 1.0) / 11)
    assert got["total"]["acc"].high == pytest.approx((seen_iv.high * 10 + 1.0) / 11)


def test_every_json_written_is_strict_when_a_group_has_no_videos(tmp_path):
    videos = [(vid(i), "test", ["dog barking", "race car"][i % 2], True, [1] * 5 + [0] * 5) for i in range(6)]
    videos.append((vid(9), "val", "playing piano", False, [1] * 10))  # the test split has no unseen video
    bench = tiny_benchmark(tmp_path / "bench", videos)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({v: [c] * 10 for v, s, c, _, _ in videos if s == "test"}))
    b.write_text(json.dumps({v: ["background"] * 10 for v, s, _, _, _ in videos if s == "test"}))
    base = ["--benchmark", str(bench)]
    for args in (
        ["score", str(a), "--json"],
        ["score", str(a), "--json", "--ci", "--bootstrap", "100"],
        ["score", str(a), "--json", "--ci", "--ci-method", "bca", "--bootstrap", "100"],
        ["score", "compare", str(a), str(b), "--json"],
    ):
        result = runner.invoke(app, [*args, *base])
        assert result.exit_code == 0, result.output
        doc = _strict(result.stdout)
        assert doc["scores"][str(a)]["unseen"]["avg"] is None if "compare" in args else doc["unseen"]["avg"] is None
    out, cmp_out = tmp_path / "s.json", tmp_path / "c.json"
    assert runner.invoke(app, ["score", str(a), *base, "--ci", "--bootstrap", "100", "--out", str(out)]).exit_code == 0
    assert runner.invoke(app, ["score", "compare", str(a), str(b), *base, "--out", str(cmp_out)]).exit_code == 0
    assert _strict(out.read_text())["ci"]["intervals"]["unseen"]["avg"] == [None, None]
    pair = _strict(cmp_out.read_text())["pairs"][0]["tests"]["unseen"]["avg"]
    assert pair["difference"] is None and pair["p_bootstrap"] is None
    table = tmp_path / "R.md"  # and the results table reads such a score file back
    assert runner.invoke(app, ["results", str(out), "--out", str(table)]).exit_code == 0


def test_ci_method_without_ci_and_non_finite_levels_are_refused_by_name(tmp_path):
    bench, videos = _bench(tmp_path)
    path = tmp_path / "p.json"
    path.write_text(json.dumps({v: [c] * 10 for v, _, c, _, _ in videos}))
    for extra, needle in (
        (["--ci-method", "bca"], "--ci-method chooses how --ci computes"),
        (["--ci-method", "percentile"], "give --ci too"),
        (["--ci", "--confidence", "nan"], "--confidence"),
        (["--ci", "--confidence", "inf"], "--confidence"),
        (["--ci", "--confidence", "1e999"], "--confidence"),
        (["--ci", "--confidence", "1.5"], "--confidence"),
        (["--ci", "--bootstrap", "1e999"], "--bootstrap"),
    ):
        result = runner.invoke(app, ["score", str(path), "--benchmark", str(bench), *extra])
        assert result.exit_code == 2 and needle in result.output, (extra, result.output)
        assert len(result.output.strip().splitlines()) == 1
    for extra in (["--confidence", "nan"], ["--confidence", "-inf"], ["--bootstrap", "50"]):
        other = tmp_path / "q.json"
        other.write_text(path.read_text())
        result = runner.invoke(app, ["score", "compare", str(path), str(other), "--benchmark", str(bench), *extra])
        assert result.exit_code == 2 and extra[0] in result.output, (extra, result.output)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"confidence": float("nan")}, "confidence"),
        ({"confidence": float("inf")}, "confidence"),
        ({"confidence": 1.0}, "confidence"),
        ({"resamples": 0}, "resamples"),
        ({"resamples": 2.5}, "resamples"),
        ({"seed": -1}, "seed"),
    ],
)
def test_python_callers_get_a_value_error_naming_a_bad_setting(kwargs, name):
    values, seen = np.random.default_rng(0).random((20, 4)), np.arange(20) % 2 == 0
    settings = {"resamples": 100, "seed": 0, "confidence": 0.95, **kwargs}
    with pytest.raises(ValueError, match=f"^{name} must be"):
        bootstrap_intervals(values, seen, settings["resamples"], settings["seed"], settings["confidence"])
    with pytest.raises(ValueError, match=f"^{name} must be"):
        paired_tests(values, values[::-1], seen, settings["resamples"], settings["seed"], settings["confidence"])
