"""`download --archive` (#31): the raw videos from a folder or a zip, read in place, with the URL as fallback."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ovavebench.cli import app
from ovavebench.testing.localserver import LocalServer

from .cli_runner import CliRunner
from .media_sources import frame_seconds, render, tone_seconds

runner = CliRunner()

# youtube id → manifest start. The 10 s files are the window whatever the start says.
CLIPS = {
    "window00030": 30,  # a 10 s file: the window itself
    "window10005": 5,  # a 10.02 s file (within the tolerance), from a WebM
    "wholevideo1": 7,  # a 24 s file: the whole video, cut at 7 s
    "wholewebm01": 12,  # a 24 s WebM, its Cues at the end: reached by seeking (deflated in the zip)
    "emptyfile01": 0,
    "randombytes": 0,
    "sixsecond01": 0,
    "urlonly0001": 3,  # only behind the URL
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    folder = root / "folder"
    render(folder / "dog barking" / "window00030.mp4", seconds=10)
    render(folder / "cat" / "window10005.webm", seconds=10.02, vcodec="libvpx-vp9", acodec="libopus",
           sample_rate=48_000)  # fmt: skip
    render(folder / "wholevideo1.mp4", seconds=24)
    render(folder / "wholewebm01.webm", seconds=24, vcodec="libvpx-vp9", acodec="libopus", sample_rate=48_000)
    (folder / "emptyfile01.mp4").write_bytes(b"")
    (folder / "randombytes.mp4").write_bytes(os.urandom(50_000))
    render(folder / "sixsecond01.mp4", seconds=6)
    render(root / "site" / "videos" / "urlonly0001.mp4", seconds=16)
    os.link(folder / "wholevideo1.mp4", root / "site" / "videos" / "wholevideo1.mp4")
    with zipfile.ZipFile(root / "raw.zip", "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():  # stored and deflated members both: read in place either way
                method = zipfile.ZIP_DEFLATED if path.suffix == ".webm" else zipfile.ZIP_STORED
                zipped.write(path, path.relative_to(folder).as_posix(), compress_type=method)
    manifest = root / "manifest.csv"
    pd.DataFrame(
        [
            {"clip_id": f"{y}_{s:06d}", "youtube_id": y, "start_s": s, "end_s": s + 10, "class_name": "dog barking"}
            for y, s in CLIPS.items()
        ]
    ).assign(split="test").to_csv(manifest, index=False)
    return root


def _download(manifest: Path, out: Path, archive: Path, *extra: str, workers: int = 2) -> str:
    result = runner.invoke(
        app, ["download", "--manifest", str(manifest), "--out", str(out), "--workers", str(workers), "--archive",
              str(archive), "--backoff", "0.05", *extra]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout


def _check_media(out: Path) -> None:
    assert frame_seconds(out / "window00030_000030") == list(range(10))
    assert tone_seconds(out / "window00030_000030") == [float(s) for s in range(10)]
    assert frame_seconds(out / "window10005_000005") == list(range(10))
    assert tone_seconds(out / "window10005_000005") == [float(s) for s in range(10)]
    assert frame_seconds(out / "wholevideo1_000007") == list(range(7, 17))
    assert tone_seconds(out / "wholevideo1_000007") == [float(s) for s in range(7, 17)]
    assert frame_seconds(out / "wholewebm01_000012") == list(range(12, 22))
    assert tone_seconds(out / "wholewebm01_000012") == [float(s) for s in range(12, 22)]
    for clip in ("window00030_000030", "window10005_000005", "wholevideo1_000007"):
        assert not list((out / clip).glob("clip.*"))  # the archive holds the video: nothing copied


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_archive_clips_are_exact_bad_files_classified_and_the_rest_fetched_from_the_url(archive, tmp_path, kind):
    source = archive / ("folder" if kind == "folder" else "raw.zip")
    out = tmp_path / "media"
    with LocalServer(archive / "site") as server:
        stdout = _download(archive / "manifest.csv", out, source, "--url-template",
                           server.base_url + "videos/{youtube_id}.mp4")  # fmt: skip
    assert "done by source: archive 4, url 1" in stdout
    _check_media(out)
    assert frame_seconds(out / "urlonly0001_000003") == list(range(3, 13))

    status = runner.invoke(app, ["download", "status", "--out", str(out), "--json", "--failures", str(tmp_path / "f")])
    report = json.loads(status.stdout.split("\nwrote")[0])
    assert report["by_source"] == {"archive": {"done": 4, "failed": 3}, "url": {"done": 1}}
    assert report["by_error_class"] == {"empty_file": 1, "too_short": 1, "undecodable": 1}
    failures = pd.read_csv(tmp_path / "f").set_index("youtube_id")
    assert failures["error_class"].to_dict() == {
        "emptyfile01": "empty_file",
        "randombytes": "undecodable",
        "sixsecond01": "too_short",
    }
    assert failures.loc["sixsecond01", "duration_s"] == pytest.approx(6.0, abs=0.1)  # recorded, never a clip
    assert failures.loc["sixsecond01", "seconds_kept"] == 6  # its whole seconds kept apart (tests/test_short_clips.py)
    assert failures.loc["emptyfile01", "source_file"] == "emptyfile01.mp4"
    assert not (out / "sixsecond01_000000").exists()
    assert sorted(p.name for p in (out / "partial").iterdir()) == ["sixsecond01_000000"]


def test_zip_and_folder_give_the_same_frames_and_the_url_path_the_same_frames_as_the_archive(archive, tmp_path):
    _download(archive / "manifest.csv", tmp_path / "folder", archive / "folder")
    _download(archive / "manifest.csv", tmp_path / "zip", archive / "raw.zip", workers=1)  # segmented in-thread
    with LocalServer(archive / "site") as server:
        manifest = tmp_path / "one.csv"
        pd.read_csv(archive / "manifest.csv").query("youtube_id == 'wholevideo1'").to_csv(manifest, index=False)
        result = runner.invoke(app, ["download", "--manifest", str(manifest), "--out", str(tmp_path / "url"),
                                     "--url-template", server.base_url + "videos/{youtube_id}.mp4"])  # fmt: skip
        assert result.exit_code == 0, result.output
    for clip in ("window00030_000030", "window10005_000005", "wholevideo1_000007", "wholewebm01_000012"):
        for k in range(10):
            frame = f"{clip}/frames/{k}.png"
            assert (tmp_path / "zip" / frame).read_bytes() == (tmp_path / "folder" / frame).read_bytes(), frame
    for k in range(10):  # the same mp4 through the URL (cut by ffmpeg) and from the archive: the same frames
        frame = f"wholevideo1_000007/frames/{k}.png"
        assert (tmp_path / "url" / frame).read_bytes() == (tmp_path / "folder" / frame).read_bytes(), frame


def test_without_a_url_a_clip_missing_from_the_archive_stays_pending_and_a_rerun_resumes(archive, tmp_path):
    out = tmp_path / "media"
    stdout = _download(archive / "manifest.csv", out, archive / "folder", "--shard", "0/1")
    assert "1 clip(s) not in the archive left pending" in stdout
    status = runner.invoke(app, ["download", "status", "--out", str(out), "--json"])
    report = json.loads(status.stdout)
    assert report["by_status"] == {"pending": 1, "done": 4, "failed": 3}
    assert report["pending_reasons"] == {"not in archive": 1}
    plain = runner.invoke(app, ["download", "status", "--out", str(out)])
    assert "pending, not in archive: 1" in plain.stdout and "archive" in plain.stdout
    again = _download(archive / "manifest.csv", out, archive / "folder")
    assert "0 done, 0 failed, 4 already done" in again
    verify = runner.invoke(app, ["download", "verify", "--out", str(out)])
    assert verify.exit_code == 0 and "4 ok, 0 bad, 0 stray" in verify.stdout, verify.output
    row = json.loads(
        __import__("sqlite3")
        .connect(out / "download.sqlite")
        .execute("SELECT provenance FROM clips WHERE youtube_id = 'wholevideo1'")
        .fetchone()[0]
    )
    assert row["member"] == "wholevideo1.mp4" and row["size"] == (archive / "folder" / "wholevideo1.mp4").stat().st_size
    assert len(row["sha256"]) == 64 and row["source"] == "archive" and row["duration_s"] == pytest.approx(24, abs=0.1)


def test_a_missing_archive_is_refused_before_anything_is_written(tmp_path, archive):
    result = runner.invoke(app, ["download", "--manifest", str(archive / "manifest.csv"), "--out", str(tmp_path / "o"),
                                 "--archive", str(tmp_path / "nope.zip")])  # fmt: skip
    assert result.exit_code == 2 and "nope.zip" in result.output
    assert not (tmp_path / "o").exists()
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    result = runner.invoke(app, ["download", "--manifest", str(archive / "manifest.csv"), "--out", str(tmp_path / "o"),
                                 "--archive", str(tmp_path / "bad.zip")])  # fmt: skip
    assert result.exit_code == 2 and "not a folder and not a readable .zip" in result.output


@pytest.mark.slow  # ~25 s on a loaded 2-core machine: the whole build
def test_build_takes_the_archive_first_and_the_availability_file_says_where_each_clip_came_from(
    reference, ovave_ref, tmp_path
):
    from ovavebench.benchmark import read_meta
    from ovavebench.manifest import build_rebuild_manifest
    from ovavebench.metadata.published import read_vggsound_csv
    from ovavebench.taxonomy import load_taxonomy

    table = read_vggsound_csv(reference / "vggsound" / "vggsound_test_rows.csv", load_taxonomy())
    manifest = build_rebuild_manifest(table, load_taxonomy(), read_meta(ovave_ref / "ovave_dataset_meta.csv")).frame
    resolved = manifest[manifest["status"] == "resolved"].sort_values("clip_id").head(3)
    rows = list(resolved.itertuples())
    for row in rows[:2]:  # in the archive: a 10 s window file
        render(tmp_path / "raw" / str(row.class_name) / f"{row.youtube_id}.mp4", seconds=10)
    render(tmp_path / "host" / "videos" / f"{rows[2].youtube_id}.mp4", seconds=int(rows[2].start_s) + 11)
    with LocalServer(reference) as meta_server, LocalServer(tmp_path / "host") as video_server:
        os.environ["OVAVEBENCH_VGGSOUND_STAT_URL"] = meta_server.url("vggsound/stat.csv")
        try:
            result = runner.invoke(app, ["build", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"),
                                         "--workers", "2", "--vggsound-url",
                                         meta_server.url("vggsound/vggsound_test_rows.csv"), "--ovave-base-url",
                                         meta_server.url("ovavebench/"), "--archive", str(tmp_path / "raw"),
                                         "--url-template", video_server.base_url + "videos/{youtube_id}.mp4",
                                         "--limit", "3"])  # fmt: skip
        finally:
            del os.environ["OVAVEBENCH_VGGSOUND_STAT_URL"]
    assert result.exit_code == 0, result.output
    for name in ("availability.json", "benchmark/availability.json"):
        availability = json.loads((tmp_path / "out" / name).read_text())
        assert availability["obtained"] == 3 and availability["obtained_by_source"] == {"archive": 2, "url": 1}
    assert frame_seconds(tmp_path / "out" / "media" / str(rows[0].clip_id)) == list(range(10))
