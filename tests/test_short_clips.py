"""Short windows (#31): a short archive file or a URL whose video ends inside the window is cut as far as it goes,
its whole seconds kept apart in ``partial/<clip_id>``, recorded as ``too_short``, and never taken for a clip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image

from ovavebench.cli import app
from ovavebench.media.clips import benchmark_videos
from ovavebench.media.decode import MediaError, segment_clip
from ovavebench.media.layout import clip_dirs_by_youtube_id, export_layout
from ovavebench.testing.localserver import LocalServer
from ovavebench.testing.synth import dominant_tone, nearest_second

from .cli_runner import CliRunner
from .media_sources import COLOURS, frame_seconds, render

runner = CliRunner()
SHORT, FULL, URL_SHORT = "shortclip01", "window00030", "urlshort001"
SHORT_CLIP, FULL_CLIP, URL_CLIP = f"{SHORT}_000004", f"{FULL}_000030", f"{URL_SHORT}_000003"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("short")
    render(root / "folder" / "dog barking" / f"{SHORT}.mp4", seconds=6)  # a 6 s raw file: the window's beginning
    render(root / "folder" / f"{FULL}.mp4", seconds=10)
    with zipfile.ZipFile(root / "raw.zip", "w") as zipped:
        for path in sorted((root / "folder").rglob("*.mp4")):
            zipped.write(path, path.relative_to(root / "folder").as_posix())
    render(root / "complete" / f"{SHORT}.mp4", seconds=10)  # the same clip, later found whole
    render(root / "site" / "videos" / f"{URL_SHORT}.mp4", seconds=10.3)  # ends 7.3 s into the window [3, 13)
    pd.DataFrame(
        [
            {"clip_id": c, "youtube_id": c[:11], "start_s": int(c[12:]), "end_s": int(c[12:]) + 10}
            for c in (SHORT_CLIP, FULL_CLIP, URL_CLIP)
        ]
    ).assign(class_name="dog barking", split="test").to_csv(root / "manifest.csv", index=False)
    bench = root / "bench"
    bench.mkdir()
    (bench / "ovave_dataset_meta.csv").write_text(
        "split,cls_name,cls_type,vid_name\n" + "".join(f"test,dog barking,open,{v}\n" for v in (SHORT, FULL))
    )
    labels = {v: {"category": "dog barking", "label": "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"} for v in (SHORT, FULL)}
    (bench / "released_ovavel_dataset_anno.json").write_text(json.dumps(labels))
    return root


def _download(sources: Path, out: Path, archive: Path, *extra: str, workers: int = 2) -> str:
    manifest = sources / "manifest.csv"
    args = ["download", "--manifest", str(manifest), "--out", str(out), "--workers", str(workers)]
    result = runner.invoke(app, [*args, "--archive", str(archive), "--backoff", "0.05", *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def _kept(folder: Path, seconds: int) -> tuple[list[int], list[float]]:
    """Which source second each kept frame shows, and each kept second's tone; the audio is exactly ``seconds``."""
    frames = sorted((folder / "frames").iterdir())
    assert [p.name for p in frames] == sorted(f"{k}.png" for k in range(seconds))
    shown = [
        nearest_second(np.asarray(Image.open(folder / "frames" / f"{k}.png")).reshape(-1, 3).mean(0), COLOURS)
        for k in range(seconds)
    ]
    audio, rate = soundfile.read(folder / "audio.wav")
    assert rate == 16_000 and audio.ndim == 1 and len(audio) == seconds * 16_000
    tones = [dominant_tone(audio[k * rate + 1600 : (k + 1) * rate - 1600], rate) for k in range(seconds)]
    return shown, [round((t - 300.0) / 150.0, 1) for t in tones]


def _failures(out: Path, tmp_path: Path) -> pd.DataFrame:
    status = runner.invoke(app, ["download", "status", "--out", str(out), "--json", "--failures", str(tmp_path / "f")])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout.split("\nwrote")[0])["by_error_class"] == {"too_short": 1}
    return pd.read_csv(tmp_path / "f").set_index("clip_id")


def _never_a_clip(out: Path, bench: Path, tmp_path: Path) -> None:
    assert not (out / SHORT_CLIP).exists()
    assert set(clip_dirs_by_youtube_id(out)) == {FULL}
    found, missing, _ = benchmark_videos(out, bench)
    assert [v for v, _, _ in found] == [FULL] and missing == [SHORT]
    report = export_layout(out, bench, tmp_path / "layout")
    assert report.linked == 1 and report.missing == [SHORT]
    assert not (tmp_path / "layout" / "test" / "audio" / "dog barking" / f"{SHORT}.wav").exists()


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_a_short_archive_file_keeps_its_whole_seconds_apart_and_is_never_a_clip(sources, tmp_path, kind):
    out = tmp_path / "media"
    archive = sources / ("folder" if kind == "folder" else "raw.zip")
    stdout = _download(sources, out, archive, workers=2 if kind == "folder" else 1)  # segmenter process / thread
    assert "1 done, 1 failed" in stdout
    kept = out / "partial" / SHORT_CLIP
    assert _kept(kept, 6) == (list(range(6)), [float(s) for s in range(6)])  # the file's seconds 0..5
    failures = _failures(out, tmp_path)
    row = failures.loc[SHORT_CLIP]
    assert row["error_class"] == "too_short" and row["seconds_kept"] == 6
    assert row["duration_s"] == pytest.approx(6.0, abs=0.1) and row["window_s"] == pytest.approx(6.0, abs=0.1)
    assert "6 whole second(s) kept apart in partial/shortclip01_000004" in row["error_message"]
    _never_a_clip(out, sources / "bench", tmp_path)
    verify = runner.invoke(app, ["download", "verify", "--out", str(out)])
    assert verify.exit_code == 0 and "1 ok, 0 bad, 0 stray" in verify.stdout, verify.output


def test_rerunning_redoes_nothing_a_retry_replaces_the_kept_seconds_and_a_full_file_clears_them(sources, tmp_path):
    out = tmp_path / "media"
    _download(sources, out, sources / "folder")
    kept = out / "partial" / SHORT_CLIP
    before = {p.relative_to(kept): (p.read_bytes(), p.stat().st_mtime_ns) for p in kept.rglob("*") if p.is_file()}
    assert "0 done, 0 failed, 1 already done" in _download(sources, out, sources / "folder")
    after = {p.relative_to(kept): (p.read_bytes(), p.stat().st_mtime_ns) for p in kept.rglob("*") if p.is_file()}
    assert after == before  # a permanent failure: not tried again, its seconds untouched
    assert "0 done, 1 failed" in _download(sources, out, sources / "folder", "--retry-failed", "too_short")
    again = {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.is_file()}
    assert again == {name: data for name, (data, _) in before.items()}  # replaced whole, the same bytes
    assert [p.name for p in (out / "partial").iterdir()] == [SHORT_CLIP]
    assert len(_failures(out, tmp_path)) == 1
    # The clip found whole later (here: another archive): a complete clip, its partial seconds gone.
    assert "1 done, 0 failed" in _download(sources, out, sources / "complete", "--retry-failed", "too_short")
    assert frame_seconds(out / SHORT_CLIP) == list(range(10))
    assert not kept.exists() and set(clip_dirs_by_youtube_id(out)) == {FULL, SHORT}
    verify = runner.invoke(app, ["download", "verify", "--out", str(out)])
    assert verify.exit_code == 0 and "2 ok, 0 bad, 0 stray" in verify.stdout, verify.output
    (out / "partial" / "strayclip01_000000").mkdir(parents=True)  # not a short clip's: flagged
    verify = runner.invoke(app, ["download", "verify", "--out", str(out)])
    assert verify.exit_code == 1 and "stray partial/strayclip01_000000" in verify.stdout, verify.output


def test_a_url_window_whose_video_ends_inside_it_follows_the_same_policy(sources, tmp_path):
    out = tmp_path / "media"
    manifest = tmp_path / "m.csv"
    pd.read_csv(sources / "manifest.csv").query("youtube_id == @URL_SHORT").to_csv(manifest, index=False)
    with LocalServer(sources / "site") as server:
        args = ["download", "--manifest", str(manifest), "--out", str(out), "--workers", "2", "--backoff", "0.05"]
        result = runner.invoke(app, [*args, "--url-template", server.base_url + "videos/{youtube_id}.mp4"])
    assert result.exit_code == 0 and "0 done, 1 failed" in result.stdout, result.output
    kept = out / "partial" / URL_CLIP
    assert _kept(kept, 7) == (list(range(3, 10)), [float(s) for s in range(3, 10)])  # seconds 3..9 of the video
    row = _failures(out, tmp_path).loc[URL_CLIP]
    assert row["error_class"] == "too_short" and row["seconds_kept"] == 7 and row["source"] == "url"
    assert row["window_s"] == pytest.approx(7.3, abs=0.05) and row["duration_s"] == pytest.approx(10.3, abs=0.05)
    assert not (out / URL_CLIP).exists() and clip_dirs_by_youtube_id(out) == {}
    verify = runner.invoke(app, ["download", "verify", "--out", str(out)])
    assert verify.exit_code == 0 and "0 stray" in verify.stdout, verify.output


def test_segment_clip_writes_nothing_for_a_short_window_unless_asked_to_keep_it(sources, tmp_path):
    six = sources / "folder" / "dog barking" / f"{SHORT}.mp4"
    with pytest.raises(MediaError, match="lasts 6.0") as caught:
        segment_clip(six, tmp_path / "default", archive_tolerance_s=0.5)
    assert caught.value.error_class == "too_short" and not (tmp_path / "default").exists()
    with pytest.raises(MediaError, match="video ends after 2 whole s of the window") as caught:
        segment_clip(six, tmp_path / "late", start_s=3.4)  # [3.4, 13.4): 2.6 s, so 2 whole seconds
    assert caught.value.error_class == "too_short" and not (tmp_path / "late").exists()
    clip = segment_clip(six, tmp_path / "kept", start_s=3.4, keep_short=True)
    assert clip.seconds == 2 and clip.window_s == pytest.approx(2.6, abs=0.01) and len(clip.frames) == 2
    assert clip.short is not None and "ends after 2 whole s" in clip.short
    assert _kept(tmp_path / "kept", 2)[0] == [3, 4]
    with pytest.raises(MediaError, match="ends after 0 whole s"):  # no whole second: nothing to keep
        segment_clip(six, tmp_path / "none", start_s=5.8, keep_short=True)
    assert not (tmp_path / "none").exists()
