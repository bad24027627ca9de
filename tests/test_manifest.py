import json

import pandas as pd

from ovavebench.cli import app
from ovavebench.ids import is_youtube_id
from ovavebench.manifest import read_manifest

from .cli_runner import CliRunner

runner = CliRunner()


def test_rebuild_manifest_on_reference_files_gives_published_counts(reference, ovave_ref, tmp_path):
    out = tmp_path / "manifest.csv"
    result = runner.invoke(
        app,
        [
            "manifest",
            "--out",
            str(out),
            "--vggsound-csv",
            str(reference / "vggsound" / "vggsound_test_rows.csv"),
            "--vggsound-labels",
            str(reference / "vggsound" / "stat.csv"),
            "--benchmark-dir",
            str(ovave_ref),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "manifest.summary.json").read_text())
    assert summary["rows"] == 24_800
    assert summary["by_status"] == {"resolved": 1_398, "ambiguous": 24, "unresolved": 23_378}
    assert len(summary["ambiguous"]) == 24
    frame = read_manifest(out)
    assert len(frame) == 24_800 and frame["youtube_id"].is_unique  # nothing dropped
    resolved = frame[frame["status"] != "unresolved"]
    assert (resolved["end_s"] - resolved["start_s"] == 10).all()
    assert (resolved["clip_id"] == resolved["youtube_id"] + "_" + resolved["start_s"].map("{:06d}".format)).all()
    assert frame["youtube_id"].map(is_youtube_id).all()
    assert frame.loc[frame["status"] == "unresolved", "start_s"].isna().all()
    # Ambiguous ids keep the earliest candidate start, deterministically.
    for item in summary["ambiguous"]:
        assert item["chosen_start_s"] == min(item["candidate_starts"])
    assert frame.groupby("split").size().to_dict() == {"test": 5820, "train": 13182, "val": 5798}
    assert frame["seen"].sum() == 13182 + 1651 + 1664


def test_manifest_parquet_round_trips(reference, ovave_ref, tmp_path):
    out = tmp_path / "manifest.parquet"
    result = runner.invoke(
        app,
        [
            "manifest",
            "--out",
            str(out),
            "--vggsound-csv",
            str(reference / "vggsound" / "vggsound_test_rows.csv"),
            "--benchmark-dir",
            str(ovave_ref),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = read_manifest(out)
    assert len(frame) == 24_800
    assert (tmp_path / "manifest.summary.json").exists()


def test_pool_manifest_lists_every_taxonomy_row(reference, tmp_path):
    out = tmp_path / "pool.csv"
    csv_path = reference / "vggsound" / "vggsound_test_rows.csv"
    result = runner.invoke(app, ["manifest", "--pool", "--out", str(out), "--vggsound-csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    frame = read_manifest(out)
    rows = pd.read_csv(csv_path, header=None, names=["id", "start", "label", "split"], dtype=str)
    from ovavebench.taxonomy import load_taxonomy

    labels = {c.vggsound_label for c in load_taxonomy().classes}
    expected = rows[rows["label"].isin(labels)].drop_duplicates(["id", "start"])
    assert len(frame) == len(expected) > 3000
    assert set(frame["status"]) == {"resolved"}
    assert (frame["split"] == "").all()


def test_unknown_benchmark_is_a_clear_error(tmp_path):
    result = runner.invoke(
        app,
        [
            "manifest",
            "--out",
            str(tmp_path / "m.csv"),
            "--benchmark",
            "avebench",
            "--vggsound-csv",
            str(tmp_path / "none.csv"),
        ],
    )
    assert result.exit_code == 2 and "unknown benchmark 'avebench'" in result.output
