import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovavebench.cli import app
from ovavebench.scoring import score
from ovavebench.scoring.functional import event_f1, per_video_metrics, segment_accuracy, segment_f1

from .cli_runner import CliRunner
from .helpers import tiny_benchmark, vid

runner = CliRunner()


@pytest.mark.parametrize("name, split", [("test_exact_0", "test"), ("test_noisy_1", "test"), ("val_shifted_2", "val")])
def test_scores_match_published_metric_code_to_1e9(reference, ovave_ref, name, split):
    result = score(reference / "scoring" / f"{name}.predictions.json", ovave_ref, split=split).to_dict()
    expected = json.loads((reference / "scoring" / f"{name}.expected.json").read_text())
    for group in ("seen", "unseen", "total"):
        assert result[group]["videos"] == expected[group]["videos"]
        for key in ("acc", "seg_f1", "eve_f1", "avg"):
            assert result[group][key] == pytest.approx(expected[group][key], abs=1e-9), (group, key)


# --------------------------------------------------------------------------- hand-made cases
# Classes: 0 = "dog", 1 = "cat", background = 2.
BG = 2


def _one(pred, flags, true_class=0):
    return (np.array([pred]), np.array([true_class]), np.array([flags]))


def test_all_background_prediction_of_a_video_with_events():
    flags = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    pred, cls, fl = _one([BG] * 10, flags)
    assert segment_accuracy(pred, cls, fl, BG)[0] == pytest.approx(0.6)
    # rows: dog (TP0 FP0 FN4 → 0), background (TP6 FP4 FN0 → 12/16)
    assert segment_f1(pred, cls, fl, BG)[0] == pytest.approx((0 + 12 / 16) / 2)
    # events: dog: 0 of 1; background: pred one run [0,10) vs true runs [0,2),[6,10): IoU .2, .4 → 0
    assert event_f1(pred, cls, fl, BG)[0] == pytest.approx(0.0)


def test_one_true_event_predicted_split_in_two():
    flags = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    pred, cls, fl = _one([0, 0, 0, BG, 0, 0, BG, BG, BG, BG], flags)
    assert segment_accuracy(pred, cls, fl, BG)[0] == pytest.approx(0.9)
    # dog: TP5 FP0 FN1 → 10/11; bg: TP4 FP1 FN0 → 8/9
    assert segment_f1(pred, cls, fl, BG)[0] == pytest.approx((10 / 11 + 8 / 9) / 2)
    # dog events: pred [0,3) IoU .5 with [0,6) → TP, pred [4,6) IoU 1/3 → FP; FN 0 → 2/3
    # bg events: pred [3,4) IoU 0 vs [6,10) → FP; pred [6,10) → TP; FN 0 → 2/3
    assert event_f1(pred, cls, fl, BG)[0] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_shifted_event():
    flags = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    pred, cls, fl = _one([BG, BG, BG, BG, 0, 0, 0, 0, BG, BG], flags)
    # dog: pred [4,8) vs true [2,6): IoU 2/6 → no match → F1 0
    # bg: pred runs [0,4), [8,10) vs true [0,2), [6,10): IoUs .5 and .5 → 2 TP → F1 1
    assert event_f1(pred, cls, fl, BG)[0] == pytest.approx(0.5)
    assert segment_accuracy(pred, cls, fl, BG)[0] == pytest.approx(0.6)


def test_predicted_class_that_is_not_the_true_one():
    flags = [1] * 10
    pred, cls, fl = _one([1] * 10, flags)
    acc, seg, eve = per_video_metrics(pred, cls, fl, BG)
    # rows: dog (FN 10), cat (FP 10); background inactive → mean of two zeros.
    assert (acc[0], seg[0], eve[0]) == (0.0, 0.0, 0.0)


def test_perfect_prediction_scores_one():
    flags = [0, 1, 1, 0, 1, 1, 1, 0, 0, 1]
    pred, cls, fl = _one([BG, 0, 0, BG, 0, 0, 0, BG, BG, 0], flags)
    assert tuple(x[0] for x in per_video_metrics(pred, cls, fl, BG)) == (1.0, 1.0, 1.0)


def _reference_event_f1(pred_row: list[int], true_row: list[int]) -> float | None:
    """Event F1 of one row, written plainly from the definition."""

    def runs(bits):
        out, start = [], None
        for i, b in enumerate(list(bits) + [0]):
            if b and start is None:
                start = i
            if not b and start is not None:
                out.append((start, i))
                start = None
        return out

    def iou(a, b):
        inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
        return inter / (max(a[1], b[1]) - min(a[0], b[0]) if inter else (a[1] - a[0]) + (b[1] - b[0]))

    p, t = runs(pred_row), runs(true_row)
    if not p and not t:
        return None
    tp = sum(any(iou(a, b) >= 0.5 for b in t) for a in p)
    fn = sum(not any(iou(a, b) >= 0.5 for a in p) for b in t)
    return 2 * tp / (2 * tp + (len(p) - tp) + fn)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, BG), min_size=10, max_size=10),
    st.lists(st.integers(0, 1), min_size=10, max_size=10),
    st.integers(0, 1),
)
def test_event_f1_agrees_with_a_plain_reading_of_the_definition(pred_row, flags, true_class):
    pred, cls, fl = _one(pred_row, flags, true_class)
    truth = [true_class if f else BG for f in flags]
    scores = [_reference_event_f1([int(p == r) for p in pred_row], [int(t == r) for t in truth]) for r in range(BG + 1)]
    scores = [s for s in scores if s is not None]
    assert event_f1(pred, cls, fl, BG)[0] == pytest.approx(sum(scores) / len(scores), abs=1e-12)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture()
def small_bench(tmp_path):
    videos = [
        (vid(0), "test", "dog barking", True, [1] * 10),
        (vid(1), "test", "cat purring", False, [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]),
        (vid(2), "test", "cat purring", False, [0] * 10),
        (vid(3), "val", "dog barking", True, [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        (vid(4), "train", "dog barking", True, [1] * 10),
    ]
    return tiny_benchmark(tmp_path / "bench", videos, classes=["cat purring", "dog barking"])


def _write(tmp_path, obj, name="pred.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def _truth():
    return {
        vid(0): ["dog barking"] * 10,
        vid(1): ["background"] * 2 + ["cat purring"] * 2 + ["other"] * 6,
        vid(2): ["background"] * 10,
    }


def test_cli_prints_table_json_and_per_class(small_bench, tmp_path):
    pred = _write(tmp_path, {"predictions": _truth()})
    table = runner.invoke(app, ["score", str(pred), "--benchmark", str(small_bench)])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[1].split() == ["videos", "Acc.", "Seg.", "Eve.", "Avg."]
    assert lines[2].split() == ["seen", "1", "100.00", "100.00", "100.00", "100.00"]
    assert lines[4].split()[:2] == ["total", "3"]
    out_json = tmp_path / "r.json"
    js = runner.invoke(
        app,
        [
            "score",
            str(pred),
            "--benchmark",
            str(small_bench),
            "--json",
            "--out",
            str(out_json),
            "--per-class",
            str(tmp_path / "pc.csv"),
        ],
    )
    assert js.exit_code == 0, js.output
    data = json.loads(js.stdout)
    document = json.loads(out_json.read_text())  # the score JSON: the same scores, and what they are of
    assert {k: document[k] for k in data} == data and document["schema_version"] == 2
    assert set(data) == {"seen", "unseen", "total"} and data["total"]["videos"] == 3
    assert set(data["total"]) == {"acc", "seg_f1", "eve_f1", "avg", "videos"}
    per_class = (tmp_path / "pc.csv").read_text().splitlines()
    assert per_class[0].startswith("class_name,seen,videos,acc,seg_f1,eve_f1")
    assert len(per_class) == 3


def test_allow_missing_scores_absent_videos_as_background(small_bench, tmp_path):
    preds = _truth()
    del preds[vid(2)]
    path = _write(tmp_path, preds)
    failing = runner.invoke(app, ["score", str(path), "--benchmark", str(small_bench)])
    assert failing.exit_code == 2
    assert "1 video(s) of the split have no prediction" in failing.output and vid(2) in failing.output
    ok = runner.invoke(app, ["score", str(path), "--benchmark", str(small_bench), "--allow-missing", "--json"])
    assert ok.exit_code == 0 and "1 video(s) without a prediction" in ok.stderr
    assert json.loads(ok.stdout)["total"]["acc"] == 1.0  # vid 2 is all background anyway


def test_ids_outside_the_split_are_warned_and_ignored(small_bench, tmp_path):
    preds = _truth() | {vid(3): ["background"] * 10, vid(99): ["background"] * 10}
    result = runner.invoke(app, ["score", str(_write(tmp_path, preds)), "--benchmark", str(small_bench), "--json"])
    assert result.exit_code == 0
    assert "2 id(s) not in the test split ignored" in result.stderr
    assert json.loads(result.stdout)["total"]["avg"] == 1.0


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({vid(0): "dog barking"}), f"video '{vid(0)}': expected a list of 10 labels, got str"),
        (json.dumps({vid(0): ["dog barking"] * 9}), "got a list of 9"),
        (json.dumps({vid(0): ["dog barkin"] + ["background"] * 9}), "unknown label 'dog barkin'"),
        (json.dumps({vid(0): [3] * 10}), "segment 0: expected a label string, got int"),
    ],
)
def test_bad_prediction_files_fail_with_one_line_and_exit_2(small_bench, tmp_path, content, message):
    path = _write(tmp_path, content)
    result = runner.invoke(app, ["score", str(path), "--benchmark", str(small_bench)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_unknown_label_suggests_the_closest_class(small_bench, tmp_path):
    path = _write(tmp_path, {**_truth(), vid(0): ["dog barkin"] * 10})
    result = runner.invoke(app, ["score", str(path), "--benchmark", str(small_bench)])
    assert "did you mean 'dog barking'?" in result.stderr


_labels = st.one_of(
    st.sampled_from(["dog barking", "cat purring", "background", "other", "Dog", "", "bird"]),
    st.text(max_size=5),
    st.integers(),
    st.none(),
)
_value = st.one_of(
    st.lists(_labels, min_size=0, max_size=12), _labels, st.dictionaries(st.text(max_size=3), _labels, max_size=2)
)
_ids = st.sampled_from([vid(0), vid(1), vid(2), vid(3), "x"])
_document = st.one_of(
    st.dictionaries(_ids, _value, max_size=4),
    st.lists(_value, max_size=3),
    _labels,
    st.fixed_dictionaries({"predictions": st.dictionaries(_ids, _value, max_size=3)}),
)


def _is_valid(doc) -> bool:
    if isinstance(doc, dict) and set(doc) == {"predictions"} and isinstance(doc["predictions"], dict):
        doc = doc["predictions"]
    if not isinstance(doc, dict) or not {vid(0), vid(1), vid(2)} <= set(doc):
        return False
    ok = {"dog barking", "cat purring", "background", "other"}
    return all(
        isinstance(doc[v], list) and len(doc[v]) == 10 and all(isinstance(x, str) and x in ok for x in doc[v])
        for v in (vid(0), vid(1), vid(2))
    )


@pytest.mark.slow
@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(doc=_document, raw=st.one_of(st.none(), st.binary(max_size=20), st.text(max_size=20)))
def test_malformed_prediction_files_always_get_one_line_and_exit_2(small_bench, tmp_path, doc, raw):
    path = tmp_path / "generated.json"
    if raw is None:
        path.write_text(json.dumps(doc))
    elif isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw)
    result = runner.invoke(app, ["score", str(path), "--benchmark", str(small_bench), "--json"])
    if raw is None and _is_valid(doc):
        assert result.exit_code == 0, result.output
        return
    if result.exit_code == 0:  # a raw text/bytes that happens to be a valid file
        assert _is_valid(json.loads(path.read_text()))
        return
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0]
    assert result.stdout == ""


def _tree(folder):
    """Every file under ``folder`` with its bytes: what a command may not change outside its outputs."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_score_never_writes_over_one_of_its_inputs_nor_a_file_it_did_not_write(small_bench, tmp_path):
    pred = _write(tmp_path, _truth())
    notes = _write(tmp_path, "my own notes, not a table\n", "notes.csv")
    labels = next(small_bench.glob("*_anno.json"))
    other = _write(tmp_path, _truth(), "other.json")
    before = _tree(tmp_path)
    cases = [
        (["score", str(pred), "--out", str(pred)], "--out"),  # would replace the predictions with the scores
        (["score", str(pred), "--per-class", str(pred)], "--per-class"),
        (["score", str(pred), "--per-group", str(labels)], "--per-group"),
        (["score", str(pred), "--out", str(labels)], "is also the input --benchmark"),
        (
            ["score", str(pred), "--per-class", str(tmp_path / "t.csv"), "--per-length", str(tmp_path / "t.csv")],
            "same path",
        ),
        (["score", str(pred), "--per-class", str(notes)], "refusing to replace it"),
        (["score", str(pred), "--out", str(notes)], "refusing to replace it"),
        (["score", "compare", str(pred), str(other), "--out", str(other)], "is also the input PREDICTIONS"),
        (["score", "compare", str(pred), str(other), "--out", str(notes)], "refusing to replace it"),
        (
            ["score", str(pred), "--plots", str(tmp_path / "p"), "--timelines", "1", "--media", str(tmp_path / "no")],
            "--media",
        ),
        (["score", str(pred), "--classes", str(tmp_path / "none.csv")], "--classes"),
    ]
    for args, needle in cases:
        result = runner.invoke(app, [*args, "--benchmark", str(small_bench)])
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], (args, result.output)
        assert _tree(tmp_path) == before, args
    assert not (tmp_path / "p").exists()  # refused before any work: no plot folder
    # a file score wrote itself is replaced on a second run
    out, table = tmp_path / "s.json", tmp_path / "c.csv"
    for _ in range(2):
        result = runner.invoke(
            app, ["score", str(pred), "--benchmark", str(small_bench), "--out", str(out), "--per-class", str(table)]
        )
        assert result.exit_code == 0, result.output


def test_a_corrupt_frame_drawn_in_a_timeline_is_named(small_bench, tmp_path):
    from .annotation_helpers import make_media

    pred = _write(tmp_path, _truth())
    make_media(tmp_path / "media", {vid(0): "dog barking", vid(1): "cat purring", vid(2): "cat purring"})
    frame = tmp_path / "media" / f"{vid(0)}_000000" / "frames" / "4.png"
    frame.write_bytes(frame.read_bytes()[:40])  # truncated
    args = ["score", str(pred), "--benchmark", str(small_bench), "--plots", str(tmp_path / "plots")]
    result = runner.invoke(
        app, [*args, "--timelines", "3", "--media", str(tmp_path / "media"), "--out", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "s.json").exists()  # the plots come first: nothing written when a frame is damaged
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"{frame}: not a readable frame image" in lines[0], result.output
