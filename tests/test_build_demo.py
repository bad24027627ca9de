"""`ovavebench build` on the published metadata (served locally) and `ovavebench demo` end to end."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from ovavebench.benchmark import read_meta
from ovavebench.cli import app
from ovavebench.manifest import build_rebuild_manifest
from ovavebench.metadata.published import read_vggsound_csv
from ovavebench.taxonomy import load_taxonomy
from ovavebench.testing.localserver import LocalServer
from ovavebench.testing.synth import colour_second_specs, render_video

from .cli_runner import CliRunner

runner = CliRunner()


@pytest.mark.slow
def test_build_rebuilds_what_it_can_and_says_how_far_it_is(reference, ovave_ref, tmp_path):
    table = read_vggsound_csv(reference / "vggsound" / "vggsound_test_rows.csv", load_taxonomy())
    manifest = build_rebuild_manifest(table, load_taxonomy(), read_meta(ovave_ref / "ovave_dataset_meta.csv")).frame
    resolved = manifest[manifest["status"] == "resolved"].sort_values("clip_id").head(3)
    videos = tmp_path / "host" / "videos"
    for row in resolved.itertuples():
        render_video(
            videos / f"{row.youtube_id}.mp4", colour_second_specs(int(row.start_s) + 11), width=320, height=240
        )
    with LocalServer(reference) as meta_server, LocalServer(tmp_path / "host") as video_server:
        args = [
            "build",
            "--out",
            str(tmp_path / "out"),
            "--cache",
            str(tmp_path / "cache"),
            "--workers",
            "2",
            "--vggsound-url",
            meta_server.url("vggsound/vggsound_test_rows.csv"),
            "--ovave-base-url",
            meta_server.url("ovavebench/"),
            "--url-template",
            video_server.base_url + "videos/{youtube_id}.mp4",
            "--limit",
            "5",
        ]
        import os

        os.environ["OVAVEBENCH_VGGSOUND_STAT_URL"] = meta_server.url("vggsound/stat.csv")
        try:
            result = runner.invoke(app, args)
        finally:
            del os.environ["OVAVEBENCH_VGGSOUND_STAT_URL"]
    assert result.exit_code == 0, result.output
    availability = json.loads((tmp_path / "out" / "availability.json").read_text())
    assert availability["published"] == 24_800 and availability["obtained"] == 3
    reasons = availability["missing_by_reason"]
    assert reasons["no_start_time"] == 23_378 and reasons["not_found"] == 2 and reasons["not_downloaded_yet"] == 1_417
    assert not availability["comparable"] and "NOT directly comparable" in availability["caveat"]
    bench = tmp_path / "out" / "benchmark"
    meta = (bench / "ovave_dataset_meta.csv").read_text().splitlines()
    assert (
        len(meta) == 4
        and (bench / "ovave_categories.csv").read_text() == (ovave_ref / "ovave_categories.csv").read_text()
    )
    for row in resolved.itertuples():
        frames = tmp_path / "out" / "layout" / row.split / "video" / row.class_name / row.youtube_id
        assert len(list(frames.iterdir())) == 10
    # Scoring against the rebuild says it is partial.
    test_ids = [line.split(",")[-1] for line in meta[1:] if line.startswith("test")]
    if test_ids:
        pred = tmp_path / "pred.json"
        pred.write_text(json.dumps({v: ["background"] * 10 for v in test_ids}))
        scored = runner.invoke(app, ["score", str(pred), "--benchmark", str(bench)])
        assert scored.exit_code == 0 and "partial rebuild: 3 of 24800" in scored.stderr


@pytest.mark.slow
def test_demo_runs_end_to_end_offline(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--size", "small"])
    assert result.exit_code == 0, result.output
    for expected in (
        "[5/5]",
        "Krippendorff's alpha",
        "truth with 15 % noise",
        "Where everything is",
        "11 of 12 published clips",
    ):
        assert expected in result.output
    assert "Acc." in result.output and "total" in result.output
    labels = json.loads((out / "annotation" / "labels.json").read_text())
    assert len(labels) == 11
    assert (out / "benchmark" / "ovave_dataset_meta.csv").exists() and (
        out / "benchmark" / "split_report.json"
    ).exists()
    pngs = sorted((out / "stats").glob("*.png"))
    assert len(pngs) == 4 and all(Image.open(p).width > 300 for p in pngs)
    scores = [json.loads(p.read_text()) for p in (out / "predictions").glob("*.json")]
    assert len(scores) == 2
