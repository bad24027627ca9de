import csv
import json
import math
from collections import Counter

import pytest
from PIL import Image

from ovavebench.benchmark import load_benchmark, read_labels
from ovavebench.cli import app
from ovavebench.errors import OvavebenchError
from ovavebench.split import class_counts, group_quota, make_split
from ovavebench.taxonomy import GROUPS, load_taxonomy

from .cli_runner import CliRunner

runner = CliRunner()


@pytest.fixture(scope="module")
def labels_path(ovave_ref):
    return ovave_ref / "released_ovavel_dataset_anno.json"


@pytest.fixture(scope="module")
def official(labels_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("official")
    result = runner.invoke(app, ["split", "--labels", str(labels_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _rows(path):
    return list(csv.DictReader(open(path)))


def test_official_split_reproduces_every_published_class_count(official, ovave_ref):
    ours = Counter((r["cls_name"], r["split"], r["cls_type"]) for r in _rows(official / "ovave_dataset_meta.csv"))
    published = Counter((r["cls_name"], r["split"], r["cls_type"]) for r in _rows(ovave_ref / "ovave_dataset_meta.csv"))
    assert ours == published
    splits = Counter(r["split"] for r in _rows(official / "ovave_dataset_meta.csv"))
    assert splits == {"train": 13_182, "val": 5_798, "test": 5_820}
    report = json.loads((official / "split_report.json").read_text())
    assert report["splits"]["val"]["seen"] == 1_651 and report["splits"]["test"]["seen"] == 1_664
    for name in ("ovave_total_close_open_categories.csv", "ovave_train_close_categories.csv"):
        assert (official / name).read_text() == (ovave_ref / name).read_text()


def test_every_video_in_exactly_one_split_and_no_unseen_in_train(official, labels_path):
    rows = _rows(official / "ovave_dataset_meta.csv")
    ids = [r["vid_name"] for r in rows]
    assert len(ids) == len(set(ids)) == len(json.loads(labels_path.read_text()))
    assert not [r for r in rows if r["split"] == "train" and r["cls_type"] == "open"]


def test_training_subsets_follow_the_ratio_and_leave_val_test_untouched(official, ovave_ref):
    meta = _rows(official / "ovave_dataset_meta.csv")
    train = Counter(r["cls_name"] for r in meta if r["split"] == "train")
    evaluation = sorted((r["split"], r["vid_name"]) for r in meta if r["split"] != "train")
    previous: set[str] = set()
    for ratio in ("0.25", "0.5", "0.75"):
        subset = _rows(official / f"ovave_trainratio{ratio}_meta.csv")
        counts = Counter(r["cls_name"] for r in subset if r["split"] == "train")
        for cls, n in train.items():
            assert abs(counts[cls] - float(ratio) * n) <= 1, (ratio, cls)
        assert sorted((r["split"], r["vid_name"]) for r in subset if r["split"] != "train") == evaluation
        members = {r["vid_name"] for r in subset if r["split"] == "train"}
        assert previous <= members  # nested subsets
        previous = members
        published = Counter(r["split"] for r in _rows(ovave_ref / f"ovave_trainratio{ratio}_meta.csv"))
        assert sum(counts.values()) == published["train"]  # same sizes as the paper's Table 6


def test_same_seed_is_byte_identical_and_another_seed_moves_members(labels_path, official, tmp_path):
    again = tmp_path / "again"
    other = tmp_path / "other"
    assert runner.invoke(app, ["split", "--labels", str(labels_path), "--out", str(again)]).exit_code == 0
    assert (
        runner.invoke(app, ["split", "--labels", str(labels_path), "--out", str(other), "--seed", "7"]).exit_code == 0
    )
    for path in official.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    mine = {(r["vid_name"], r["split"]) for r in _rows(official / "ovave_dataset_meta.csv")}
    theirs = {(r["vid_name"], r["split"]) for r in _rows(other / "ovave_dataset_meta.csv")}
    assert mine != theirs

    def count(folder):
        return Counter((r["cls_name"], r["split"]) for r in _rows(folder / "ovave_dataset_meta.csv"))

    assert count(official) == count(other)


def test_auto_selection_holds_out_21_classes_from_every_group_near_the_share(labels_path):
    labels, taxonomy = read_labels(labels_path), load_taxonomy()
    groups = {c.name: c.group for c in taxonomy.classes}
    for seed in (0, 1):
        result = make_split(labels, taxonomy, unseen="auto", num_unseen=21, unseen_share=0.335, seed=seed)
        assert len(result.unseen) == 21
        assert Counter(groups[c] for c in result.unseen) == {
            "human": 5,
            "animal": 5,
            "music": 5,
            "vehicle": 3,
            "other": 3,
        }
        assert abs(result.report["unseen_video_share"] - 0.335) <= 0.02


def test_target_ratio_gives_30_percent_seen_in_val_and_test(labels_path, tmp_path):
    out = tmp_path / "ratio"
    result = runner.invoke(
        app,
        [
            "split",
            "--labels",
            str(labels_path),
            "--out",
            str(out),
            "--unseen",
            "auto",
            "--target-ratio",
            "3:7",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "split_report.json").read_text())
    for split in ("val", "test"):
        assert abs(report["splits"][split]["seen_fraction"] - 0.30) <= 0.01


def test_unseen_from_file(labels_path, tmp_path):
    chosen = ["dog barking", "playing piano", "helicopter"]
    listing = tmp_path / "unseen.txt"
    listing.write_text("\n".join(chosen) + "\n")
    out = tmp_path / "file"
    result = runner.invoke(app, ["split", "--labels", str(labels_path), "--out", str(out), "--unseen", str(listing)])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads((out / "split_report.json").read_text())["unseen"]) == sorted(chosen)


def test_score_reads_the_written_folder(official, tmp_path):
    bench = load_benchmark(official)
    test = bench.split_videos("test")
    preds = {v: ["background"] * 10 for v in test["vid_name"]}
    path = tmp_path / "bg.json"
    path.write_text(json.dumps(preds))
    result = runner.invoke(app, ["score", str(path), "--benchmark", str(official), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"]["videos"] == 5_820


def test_published_rule_counts():
    assert class_counts(482, True) == (385, 48, 49)  # e = ceil(96.4) = 97, test = 49
    assert class_counts(471, False) == (0, 235, 236)
    assert group_quota({"human": 17, "animal": 15, "music": 17, "vehicle": 9, "other": 9}, 21) == {
        "human": 5,
        "animal": 5,
        "music": 5,
        "vehicle": 3,
        "other": 3,
    }


def _labels_file(tmp_path, entries):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(entries))
    return path


@pytest.mark.parametrize(
    "entries, args, message",
    [
        (
            {"vid00000001": {"category": "dog barking", "label": "[0, 1]"}},
            [],
            "'vid00000001': label '[0, 1]' is not a list of 10 zeros/ones",
        ),
        (
            {"vid00000001": {"category": "unicorn", "label": "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"}},
            [],
            "'vid00000001': category 'unicorn' is not in the taxonomy",
        ),
        (
            {"vid00000001": {"category": "dog barking", "label": "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"}},
            ["--unseen", "auto", "--num-unseen", "3"],
            "asked to hold out 3 classes but only 1 have videos",
        ),
    ],
)
def test_bad_split_input_names_the_video_or_class(tmp_path, entries, args, message):
    result = runner.invoke(
        app, ["split", "--labels", str(_labels_file(tmp_path, entries)), "--out", str(tmp_path / "o"), *args]
    )
    assert result.exit_code == 2
    assert message in result.stderr


def test_unknown_class_in_unseen_file_is_named(labels_path, tmp_path):
    listing = tmp_path / "unseen.txt"
    listing.write_text("dog barking\nunicorn galloping\n")
    result = runner.invoke(
        app, ["split", "--labels", str(labels_path), "--out", str(tmp_path / "o"), "--unseen", str(listing)]
    )
    assert result.exit_code == 2 and "unknown class 'unicorn galloping'" in result.stderr and ":2:" in result.stderr


def test_stats_prints_published_headline_and_writes_plots(ovave_ref, tmp_path):
    result = runner.invoke(app, ["stats", "--benchmark", str(ovave_ref), "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    assert "43.48 % of videos have an event in all 10 segments, 24.27 % in none" in result.output
    pngs = sorted((tmp_path / "plots").glob("*.png"))
    assert len(pngs) == 4
    for png in pngs:
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 250
    stats = json.loads((tmp_path / "plots" / "stats.json").read_text())
    assert stats["event_length_counts"][10] == round(0.4348 * 24800) or abs(stats["all_event_fraction"] - 0.4348) < 5e-5
    assert [c["group"] for c in stats["per_class"]] == sorted(
        (c["group"] for c in stats["per_class"]), key=GROUPS.index
    )


def test_split_counts_fail_cleanly_with_too_many_unseen(labels_path):
    with pytest.raises(OvavebenchError):
        make_split(read_labels(labels_path), load_taxonomy(), unseen="auto", num_unseen=67)
    assert math.isclose(0.3, 3 / 10)
