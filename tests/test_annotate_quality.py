"""A campaign that measures its annotators: gold tasks, crowd-kit aggregation, model pre-annotation (file mode)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from ovavebench.annotate import open_work, parse_result
from ovavebench.annotate.gold import gold_report
from ovavebench.cli import app

from .annotation_helpers import make_media, simulated_export
from .cli_runner import CliRunner

runner = CliRunner()
CLASSES = ["dog barking", "playing piano", "race car"]


def _ok(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _campaign(tmp_path: Path, clips: int, seed: int = 0) -> tuple[Path, Path, dict[str, list[int]]]:
    rng = np.random.default_rng(seed)
    ids = {f"yt{i:09d}": CLASSES[i % 3] for i in range(clips)}
    manifest = make_media(tmp_path / "media", ids)
    truth = {v: rng.integers(0, 2, 10).tolist() for v in ids}
    return manifest, tmp_path / "media", truth


def _answer_round(work: Path, round_no: int, flips: dict[str, float], truth: dict[str, list[int]], seed: int) -> None:
    """Every annotator answers every task of their file (gold ones too), flipping each second at their rate."""
    rng = np.random.default_rng(seed)
    exports = []
    for name, rate in flips.items():
        task_file = work / "tasks" / f"round{round_no}_{name}.json"
        answers = {}
        for task in json.loads(task_file.read_text()):
            youtube_id = task["data"]["clip_id"].rsplit("_", 1)[0]
            flip = rng.random(10) < rate
            answers[youtube_id] = [int(t) ^ int(f) for t, f in zip(truth[youtube_id], flip, strict=True)]
        path = work / f"export_round{round_no}_{name}.json"
        path.write_text(
            json.dumps(simulated_export(task_file, answers, f"{name}@example.org", start_id=round_no * 10_000))
        )
        exports.append(path)
    _ok("annotate", "import", "--round", round_no, "--work", work, "--from", *exports)


def test_gold_accuracy_of_simulated_annotators_is_within_its_interval_and_the_bad_one_is_flagged(tmp_path):
    manifest, media, truth = _campaign(tmp_path, 150)
    gold_ids = sorted(truth)[:100]
    gold = tmp_path / "gold.json"
    gold.write_text(
        json.dumps({v: {"category": CLASSES[int(v[2:]) % 3], "label": json.dumps(truth[v])} for v in gold_ids})
    )
    work = tmp_path / "work"
    flips = {"ann": 0.05, "bea": 0.20, "cal": 0.45}
    out = _ok(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        media,
        "--round",
        1,
        "--annotators",
        ",".join(flips),
        "--work",
        work,
        "--gold",
        gold,
        "--gold-rate",
        1.0,
    )
    assert "gold)" in out
    # gold tasks look like every other task and are spread among them, not appended
    tasks = json.loads((work / "tasks" / "round1_ann.json").read_text())
    with contextlib.closing(open_work(work)) as conn:
        gold_mine = {r[0] for r in conn.execute("SELECT clip_id FROM gold_assignments WHERE annotator = 'ann'")}
        regular = {r[0] for r in conn.execute("SELECT clip_id FROM assignments WHERE annotator = 'ann' AND round = 1")}
    positions = [i for i, t in enumerate(tasks) if t["data"]["clip_id"] in gold_mine]
    assert len(positions) == len(gold_mine) >= 45 and not gold_mine & regular
    assert {tuple(sorted(t["data"])) for t in tasks} == {tuple(sorted(tasks[0]["data"]))}
    assert min(positions) < len(tasks) // 3 and max(positions) > 2 * len(tasks) // 3
    _answer_round(work, 1, flips, truth, seed=1)
    with contextlib.closing(open_work(work)) as conn:
        # 99 % intervals: three annotators' 95 % intervals would all hold in only 86 % of seeds
        report = {g.annotator: g for g in gold_report(conn, min_accuracy=0.7, confidence=0.99)}
        stored = conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0]
    assert stored == 150  # gold answers are kept apart: one label answer per clip
    for name, rate in flips.items():
        g = report[name]
        assert g.accuracy_low <= 1 - rate <= g.accuracy_high, (name, g)
        assert g.flagged == (name == "cal")
    status = _ok("annotate", "status", "--work", work, "--min-gold-accuracy", 0.7)
    assert (
        "accuracy on gold" in status
        and status.count("FLAGGED") == 1
        and "cal" in status.split("FLAGGED")[0].splitlines()[-1]
    )


def _accuracy(labels_path: Path, truth: dict[str, list[int]]) -> float:
    labels = json.loads(labels_path.read_text())
    got = np.array([json.loads(v["label"]) for v in labels.values()])
    want = np.array([truth[k] for k in labels])
    return float((got == want).mean())


def _two_rounds(tmp_path: Path, clips: int, flips: dict[str, float], seed: int) -> tuple[Path, dict[str, list[int]]]:
    manifest, media, truth = _campaign(tmp_path, clips, seed=seed)
    work = tmp_path / "work"
    for round_no in (1, 2):
        _ok(
            "annotate",
            "export",
            "--manifest",
            manifest,
            "--media",
            media,
            "--round",
            round_no,
            "--annotators",
            ",".join(flips),
            "--work",
            work,
        )
        _answer_round(work, round_no, flips, truth, seed=10 + round_no)
    return work, truth


def _aggregated(work: Path, tmp_path: Path, method: str, truth: dict[str, list[int]]) -> tuple[float, list[str]]:
    out = tmp_path / f"{method}.json"
    text = _ok("annotate", "finalize", "--work", work, "--out", out, "--aggregate", method)
    assert f"{method}: " in text and "estimated reliability" in text
    ranked = [line.split()[0] for line in text.splitlines() if line.startswith("  ")]
    return _accuracy(out, truth), ranked


def test_dawid_skene_recovers_the_truth_better_than_majority_when_one_annotator_is_bad(tmp_path):
    # Two answers per second (rounds 1 and 2, no adjudication): majority can only break ties; Dawid-Skene learns
    # that cal flips 45 % of the seconds and sides with the other annotator.
    work, truth = _two_rounds(tmp_path, 240, {"ann": 0.05, "bea": 0.10, "cal": 0.45}, seed=2)
    dawid_skene, ranked = _aggregated(work, tmp_path, "dawid-skene", truth)
    majority, _ = _aggregated(work, tmp_path, "majority", truth)
    assert dawid_skene >= majority + 0.05, (dawid_skene, majority)
    assert ranked[0] == "cal"  # the least reliable first


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mace", "glad"])
def test_mace_and_glad_rank_the_bad_annotator_least_reliable(tmp_path, method):
    work, truth = _two_rounds(tmp_path, 60, {"ann": 0.05, "bea": 0.10, "cal": 0.45}, seed=4)
    accuracy, ranked = _aggregated(work, tmp_path, method, truth)
    assert ranked[0] == "cal" and accuracy > 0.8


def test_pre_annotation_is_prefilled_corrections_are_the_annotators_and_status_compares(tmp_path):
    manifest, media, truth = _campaign(tmp_path, 12, seed=3)
    model = {v: [CLASSES[int(v[2:]) % 3] if x else "background" for x in truth[v]] for v in truth}
    wrong = sorted(truth)[0]
    model[wrong][0] = "race car" if CLASSES[int(wrong[2:]) % 3] != "race car" else "background"
    uncertainty = {v: int(v[2:]) % 5 for v in truth}
    predictions = tmp_path / "zs.json"
    predictions.write_text(
        json.dumps({"predictions": model, "meta": {"method": "training-free", "uncertainty": uncertainty}})
    )
    work = tmp_path / "work"
    _ok(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        media,
        "--round",
        1,
        "--annotators",
        "ann,bea",
        "--work",
        work,
        "--predictions",
        predictions,
        "--order",
        "uncertain",
    )
    tasks = json.loads((work / "tasks" / "round1_ann.json").read_text())
    order = [uncertainty[t["data"]["clip_id"].rsplit("_", 1)[0]] for t in tasks]
    assert order == sorted(order, reverse=True)
    for task in tasks:
        youtube_id = task["data"]["clip_id"].rsplit("_", 1)[0]
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "training-free"
        expected = [int(label == CLASSES[int(youtube_id[2:]) % 3]) for label in model[youtube_id]]
        assert parse_result(prediction["result"])[0] == expected
    # the annotators submit the truth: the model's wrong second is corrected, the rest confirmed
    _answer_round(work, 1, {"ann": 0.0, "bea": 0.0}, truth, seed=0)
    with contextlib.closing(open_work(work)) as conn:
        row = conn.execute(
            "SELECT answers, prefilled FROM annotations WHERE clip_id = ?", (f"{wrong}_000000",)
        ).fetchone()
    assert row["answers"] == "".join(map(str, truth[wrong])) and row["prefilled"][0] != row["answers"][0]
    _ok(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        media,
        "--round",
        2,
        "--annotators",
        "ann,bea",
        "--work",
        work,
    )  # round 2 without pre-annotation: both kinds exist
    _answer_round(work, 2, {"ann": 0.0, "bea": 0.0}, truth, seed=0)
    status = _ok("annotate", "status", "--work", work)
    assert "model–human agreement per class" in status
    assert "1 corrected" in status and "119 confirmed" in status
    assert "answers without pre-annotation: 12" in status


def test_bad_gold_and_prediction_files_are_one_line_exit_2_and_nothing_is_exported(tmp_path):
    manifest, media, truth = _campaign(tmp_path, 6)
    not_in = tmp_path / "gold_other.json"
    not_in.write_text(json.dumps({"zz000000000": [0] * 10}))
    short = tmp_path / "gold_short.json"
    short.write_text(json.dumps({sorted(truth)[0]: {"category": CLASSES[0], "label": "[0, 1, 1]"}}))
    other_clips = tmp_path / "zs_other.json"
    other_clips.write_text(json.dumps({"zz000000000": ["background"] * 10}))
    no_uncertainty = tmp_path / "zs.json"
    no_uncertainty.write_text(json.dumps({v: ["background"] * 10 for v in truth}))
    work = tmp_path / "work"
    base = [
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        media,
        "--round",
        1,
        "--annotators",
        "ann,bea",
        "--work",
        work,
    ]
    cases = [
        ([*base, "--gold", not_in], "'zz000000000' is not in the manifest"),
        ([*base, "--gold", short], "expected 10 labels of 0 or 1, got 3 values"),
        ([*base, "--predictions", other_clips], "6 clip(s) of the campaign have no prediction"),
        ([*base, "--predictions", no_uncertainty, "--order", "uncertain"], "per-video uncertainty"),
        ([*base[:7], 3, "--annotators", "x", "--work", work, "--gold", not_in], "rounds 1 and 2"),
    ]
    for args, needle in cases:
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output, (args, result.output)
        assert not work.exists(), args


@pytest.mark.parametrize("method", ["dawid-skene", "clustering"])
def test_aggregate_without_answers_or_with_an_unknown_method_is_refused(tmp_path, method):
    manifest, media, _ = _campaign(tmp_path, 3)
    work = tmp_path / "work"
    _ok(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        media,
        "--round",
        1,
        "--annotators",
        "ann",
        "--work",
        work,
    )
    result = runner.invoke(
        app, ["annotate", "finalize", "--work", str(work), "--out", str(tmp_path / "l.json"), "--aggregate", method]
    )
    assert result.exit_code == 2 and (
        "no answers to aggregate yet" in result.output or "--aggregate must be one of" in result.output
    )


def test_aggregate_with_clips_still_lacking_answers_refuses_unless_allow_unresolved(tmp_path):
    manifest, media, truth = _campaign(tmp_path, 12, seed=5)
    work = tmp_path / "work"
    flips = {"ann": 0.0, "bea": 0.1}
    for round_no in (1, 2):
        _ok(
            "annotate", "export", "--manifest", manifest, "--media", media, "--round", round_no,
            "--annotators", ",".join(flips), "--work", work,
        )  # fmt: skip
    _answer_round(work, 1, flips, truth, seed=7)  # round 2 exported, never answered
    out = tmp_path / "labels.json"
    result = runner.invoke(
        app, ["annotate", "finalize", "--work", str(work), "--out", str(out), "--aggregate", "majority"]
    )
    assert result.exit_code == 2 and "12 clip(s) without both round-1 and round-2 answers" in result.output
    assert "--allow-unresolved" in result.output and not out.exists()
    text = _ok("annotate", "finalize", "--work", work, "--out", out, "--aggregate", "majority", "--allow-unresolved")
    assert json.loads(out.read_text()) == {} and "12 left out" in text
    assert "no clip has an adjudicated label yet to compare with" in text


def test_the_aggregation_summary_reads_naturally_at_the_benchmarks_size():
    from ovavebench.annotate.finalize import FinalizeReport, aggregation_summary

    def line(changed: int, compared: int) -> str:
        report = FinalizeReport({}, 0, 0, [], [], [], "dawid-skene", changed, compared)
        return aggregation_summary(report)

    assert line(0, 248_000) == "dawid-skene: the same label as adjudication in all 248,000 adjudicated seconds"
    assert line(12, 248_000) == (
        "dawid-skene: a different label from adjudication in 12 seconds of 248,000 adjudicated (< 0.01 %); "
        "the others agree"
    )
    assert line(1, 10) == (
        "dawid-skene: a different label from adjudication in 1 second of 10 adjudicated (10.00 %); the others agree"
    )
    assert "0 of" not in line(0, 248_000)
