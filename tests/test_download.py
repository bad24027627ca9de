"""The download stage against a local HTTP server (127.0.0.1, Range support, injected faults)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image

from ovavebench.cli import app
from ovavebench.download import (
    BackoffGate,
    ClipJob,
    DownloadOptions,
    SegmenterProcesses,
    _ytdlp_options,
    _YtdlpLog,
    download_clips,
    download_status,
    verify_downloads,
)
from ovavebench.download.failures import classify_error
from ovavebench.download.ytdlp import CUT_TIMELINE_S
from ovavebench.errors import OvavebenchError
from ovavebench.media.decode import MediaError, encode_png, write_png
from ovavebench.testing.localserver import LocalServer
from ovavebench.testing.synth import colour_second_specs, dominant_tone, nearest_second, render_video, tone_for_second

from .cli_runner import CliRunner

runner = CliRunner()
WIDTH, HEIGHT = 320, 240


def _manifest(path: Path, clips: list[tuple[str, int]]) -> Path:
    rows = [
        {
            "clip_id": f"{y}_{s:06d}",
            "youtube_id": y,
            "start_s": s,
            "end_s": s + 10,
            "class_name": "dog barking",
            "split": "test",
        }
        for y, s in clips
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _options(server: LocalServer, **kw) -> DownloadOptions:
    base = dict(
        workers=4,
        url_template=server.base_url + "videos/{youtube_id}.mp4",
        backoff_s=0.05,
        backoff_max_s=0.2,
        socket_timeout_s=2.0,
        max_attempts=3,
    )
    base.update(kw)
    return DownloadOptions(**base)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A folder of generated source videos, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("source")
    videos = root / "videos"
    specs = colour_second_specs(24)
    for name in (
        "-startsdash",
        "okvideo0001",
        "okvideo0002",
        "ratelimited",
        "truncated01",
        "truncated02",
        "stalled0001",
        "servererror",
        "gone0000001",
    ):
        render_video(videos / f"{name}.mp4", specs, width=WIDTH, height=HEIGHT, seed=1)
    render_video(videos / "noaudio0001.mp4", specs, width=WIDTH, height=HEIGHT, audio=False)
    render_video(videos / "fivesecond1.mp4", colour_second_specs(5), width=WIDTH, height=HEIGHT)
    (videos / "notavideo01.mp4").write_bytes(os.urandom(200_000))
    whole = (videos / "okvideo0001.mp4").read_bytes()
    (videos / "truncfile01.mp4").write_bytes(whole[: len(whole) // 5])  # served whole, but the file itself is cut
    return root


@pytest.mark.slow
def test_every_fault_ends_in_the_right_status_and_class(source, tmp_path):
    clips = [
        ("okvideo0001", 3),
        ("-startsdash", 7),
        ("ratelimited", 2),
        ("truncated01", 1),
        ("truncated02", 1),
        ("stalled0001", 0),
        ("servererror", 0),
        ("gone0000001", 0),
        ("missing0001", 0),
        ("noaudio0001", 0),
        ("fivesecond1", 0),
        ("notavideo01", 0),
        ("truncfile01", 1),
        ("fivesecond1", 30),
    ]
    manifest = _manifest(tmp_path / "m.csv", clips)
    with LocalServer(source) as server:
        server.set_fault("videos/ratelimited.mp4", status=429, times=2)
        server.set_fault("videos/truncated01.mp4", truncate=30_000, times=1)  # once: retried, then fine
        server.set_fault("videos/truncated02.mp4", truncate=30_000)  # always
        server.set_fault("videos/stalled0001.mp4", stall=5)
        server.set_fault("videos/servererror.mp4", status=500)
        server.set_fault("videos/gone0000001.mp4", status=410)
        summary = download_clips(manifest, tmp_path / "media", _options(server))
    conn = sqlite3.connect(tmp_path / "media" / "download.sqlite")
    rows = {
        r[0].removesuffix("_000000"): r[1:]
        for r in conn.execute("SELECT clip_id, status, error_class, attempts, error_message FROM clips")
    }
    rows = {
        k.rsplit("_", 1)[0] if k.endswith(("_000001", "_000002", "_000003", "_000007")) else k: v
        for k, v in rows.items()
    }
    expected = {
        "okvideo0001": ("done", None),
        "-startsdash": ("done", None),
        "ratelimited": ("done", None),
        "truncated01": ("done", None),
        "truncated02": ("failed", "connection"),
        "stalled0001": ("failed", "timeout"),
        "servererror": ("failed", "server_error"),
        "gone0000001": ("failed", "not_found"),
        "missing0001": ("failed", "not_found"),
        "noaudio0001": ("failed", "no_audio"),
        "fivesecond1": ("failed", "too_short"),
        "notavideo01": ("failed", "undecodable"),
        # A file cut short on the server is permanent evidence about that video (not a connection to retry
        # forever), and a start past the end of the video is too_short, not undecodable.
        "truncfile01": ("failed", "undecodable"),
        "fivesecond1_000030": ("failed", "too_short"),
    }
    assert {k: v[:2] for k, v in rows.items()} == expected
    assert rows["ratelimited"][2] == 3  # two 429s, then success
    assert rows["servererror"][2] == 3 and rows["gone0000001"][2] == 1  # transient retried, permanent not
    assert "HTTP Error 410" in rows["gone0000001"][3]  # the raw message is kept
    assert "ffmpeg" in rows["notavideo01"][3]
    assert rows["truncfile01"][2] == 1 and "the video lasts 5.0 s" in rows["fivesecond1_000030"][3]
    assert summary.done == 4 and summary.failed == 10
    report = verify_downloads(tmp_path / "media")
    assert (report.ok, report.bad, report.strays, report.temp_leftovers) == (4, [], [], [])


def test_frames_and_audio_come_from_the_right_seconds(source, tmp_path):
    # Keyframes every 2.6 s: none of these starts is on one.
    starts = {"okvideo0001": 3, "okvideo0002": 11, "-startsdash": 7}
    manifest = _manifest(tmp_path / "m.csv", list(starts.items()))
    with LocalServer(source) as server:
        summary = download_clips(manifest, tmp_path / "media", _options(server, workers=2))
    assert summary.done == 3
    specs = colour_second_specs(24)
    colours = [s.background for s in specs]
    for youtube_id, start in starts.items():
        clip = tmp_path / "media" / f"{youtube_id}_{start:06d}"
        seen = [
            nearest_second(np.asarray(Image.open(clip / "frames" / f"{k}.png")).reshape(-1, 3).mean(0), colours)
            for k in range(10)
        ]
        assert seen == list(range(start, start + 10)), youtube_id
        with Image.open(clip / "frames" / "0.png") as image:
            assert image.size == (WIDTH, HEIGHT)
        audio, rate = soundfile.read(clip / "audio.wav")
        assert rate == 16_000 and audio.ndim == 1 and len(audio) == 160_000
        # The middle 0.8 s of each second, away from the boundaries of the resampler's filter.
        tones = [dominant_tone(audio[k * rate + 1600 : (k + 1) * rate - 1600], rate) for k in range(10)]
        assert np.allclose(tones, [tone_for_second(s) for s in range(start, start + 10)], atol=2.0), youtube_id
        import av

        with av.open(str(clip / "clip.mp4")) as container:
            assert container.streams.audio and container.streams.video
            times = [f.time - CUT_TIMELINE_S for f in container.decode(video=0)]
        # The cut starts at the keyframe before the window; the window itself starts at CUT_TIMELINE_S.
        window = [t for t in times if 0 <= t < 10]
        assert window[0] == pytest.approx(0.0, abs=0.05) and len(window) == 250 and times[-1] < 10.0


def test_rerun_skips_done_clips_and_retries_permanent_failures_only_when_asked(source, tmp_path):
    manifest = _manifest(tmp_path / "m.csv", [("okvideo0001", 0), ("gone0000001", 0)])
    media = tmp_path / "media"
    with LocalServer(source) as server:
        server.set_fault("videos/gone0000001.mp4", status=404)
        first = download_clips(manifest, media, _options(server))
        assert (first.done, first.failed) == (1, 1)
        server.clear_faults()
        again = download_clips(manifest, media, _options(server))
        assert (again.selected, again.skipped_done) == (0, 1)  # the 404 is permanent: not retried
        requests = server.request_count("videos/okvideo0001.mp4")
        retried = download_clips(manifest, media, _options(server, retry_failed=True, retry_classes=("unavailable",)))
        assert retried.selected == 0  # not that error class
        with pytest.raises(OvavebenchError, match="unknown error class"):
            download_clips(manifest, media, _options(server, retry_failed=True, retry_classes=("dog barking",)))
        with pytest.raises(OvavebenchError, match="--only-classes: no clip of class"):
            download_clips(manifest, media, _options(server, retry_failed=True, only_classes=("cat purring",)))
        retried = download_clips(
            manifest,
            media,
            _options(server, retry_failed=True, retry_classes=("not_found",), only_classes=("dog barking",)),
        )
        assert (retried.selected, retried.done) == (1, 1)
        assert server.request_count("videos/okvideo0001.mp4") == requests  # done clips never re-fetched
    status = download_status(media)
    assert status.by_status == {"pending": 0, "done": 2, "failed": 0}


def test_cli_status_failures_csv_and_export_layout(source, tmp_path, ovave_ref):
    manifest = _manifest(tmp_path / "m.csv", [("okvideo0001", 0), ("gone0000001", 0)])
    media = tmp_path / "media"
    with LocalServer(source) as server:
        server.set_fault("videos/gone0000001.mp4", status=410)
        result = runner.invoke(
            app,
            [
                "download",
                "--manifest",
                str(manifest),
                "--out",
                str(media),
                "--workers",
                "2",
                "--url-template",
                server.base_url + "videos/{youtube_id}.mp4",
                "--backoff",
                "0.05",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "1 done, 1 failed" in result.stdout
    status = runner.invoke(app, ["download", "status", "--out", str(media), "--failures", str(tmp_path / "f.csv")])
    assert status.exit_code == 0 and "not_found" in status.stdout
    failures = pd.read_csv(tmp_path / "f.csv")
    assert failures["youtube_id"].tolist() == ["gone0000001"] and "410" in failures["error_message"][0]
    # A benchmark folder naming the downloaded video: the layout the published code reads, with links.
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "ovave_dataset_meta.csv").write_text(
        "split,cls_name,cls_type,vid_name\ntest,dog barking,open,okvideo0001\ntest,dog barking,open,gone0000001\n"
    )
    (bench / "released_ovavel_dataset_anno.json").write_text(
        json.dumps(
            {
                v: {"category": "dog barking", "label": "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"}
                for v in ("okvideo0001", "gone0000001")
            }
        )
    )
    layout = runner.invoke(
        app,
        ["download", "export-layout", "--out", str(media), "--benchmark", str(bench), "--to", str(tmp_path / "layout")],
    )
    assert layout.exit_code == 0, layout.output
    frames = sorted((tmp_path / "layout" / "test" / "video" / "dog barking" / "okvideo0001").iterdir())
    assert [f.name for f in frames] == [f"{k}.png" for k in range(10)] and all(f.is_symlink() for f in frames)
    wav = tmp_path / "layout" / "test" / "audio" / "dog barking" / "okvideo0001.wav"
    assert wav.is_symlink() and wav.resolve() == (media / "okvideo0001_000000" / "audio.wav").resolve()
    assert "1 not downloaded" in layout.stdout


def test_verify_flags_changed_files_and_strays(source, tmp_path):
    manifest = _manifest(tmp_path / "m.csv", [("okvideo0001", 0)])
    media = tmp_path / "media"
    with LocalServer(source) as server:
        download_clips(manifest, media, _options(server))
    (media / "okvideo0001_000000" / "frames" / "3.png").write_bytes(b"not the frame")
    (media / "strayclip01_000000").mkdir()
    report = verify_downloads(media, reset_bad=True)
    assert report.bad == [("okvideo0001_000000", "frames/3.png changed (checksum differs)")]
    assert report.strays == ["strayclip01_000000"]
    assert download_status(media).by_status["pending"] == 1  # back in the queue
    result = runner.invoke(app, ["download", "verify", "--out", str(media)])
    assert result.exit_code == 1 and "stray strayclip01_000000" in result.stdout


def _kill_and_resume(source: Path, tmp_path: Path, kills: int, clips: int, seed: int) -> None:
    """Run the CLI as a subprocess, SIGKILL it at random moments, resume; check the end state."""
    names = [f"kill{i:07d}" for i in range(clips)]
    videos = source / "videos"
    for name in names:
        target = videos / f"{name}.mp4"
        if not target.exists():
            os.link(videos / "okvideo0001.mp4", target)
    manifest = _manifest(tmp_path / "m.csv", [(n, i % 5) for i, n in enumerate(names)])
    media = tmp_path / "media"
    rng = random.Random(seed)
    # Latency long enough that a run of the remaining clips outlasts the first kill moment (0.3-2 s).
    with LocalServer(source, latency=0.3) as server:
        command = [
            sys.executable,
            "-m",
            "ovavebench",
            "download",
            "--manifest",
            str(manifest),
            "--out",
            str(media),
            "--workers",
            "3",
            "--url-template",
            server.base_url + "videos/{youtube_id}.mp4",
            "--backoff",
            "0.05",
        ]
        killed = 0
        while killed < kills:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.0))
            if process.poll() is not None:
                break  # finished before we could kill it
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed += 1
        final = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]
    assert killed >= min(kills, 1)
    conn = sqlite3.connect(media / "download.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM clips WHERE status = 'done'").fetchone()[0] == clips
    done_attempts = dict(
        conn.execute("SELECT clip_id, COUNT(*) FROM attempts WHERE outcome = 'done' GROUP BY clip_id").fetchall()
    )
    assert len(done_attempts) == clips and set(done_attempts.values()) == {1}  # done exactly once
    report = verify_downloads(media)
    assert (report.ok, report.bad, report.strays, report.temp_leftovers) == (clips, [], [], [])
    leftovers = [p for p in media.rglob("*") if p.name.endswith((".part", ".tmp", ".ytdl", ".ffmpeg.log"))]
    assert leftovers == [] and not (media / ".tmp").exists()


@pytest.mark.slow
def test_kill_and_resume_leaves_every_clip_done_once(source, tmp_path):
    _kill_and_resume(source, tmp_path, kills=5, clips=12, seed=0)


@pytest.mark.slow
def test_kill_and_resume_twenty_kills(source, tmp_path):
    _kill_and_resume(source, tmp_path, kills=20, clips=30, seed=1)


@pytest.mark.parametrize("height,width", [(1, 1), (7, 1), (3, 5), (240, 320)])
def test_png_writer_is_lossless_and_readable_by_pillow(tmp_path, height, width):
    rgb = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    write_png(tmp_path / "frame.png", rgb)
    with Image.open(tmp_path / "frame.png") as image:
        assert image.mode == "RGB" and image.size == (width, height)
        assert np.array_equal(np.asarray(image), rgb)


def test_png_writer_refuses_what_is_not_an_rgb_byte_image():
    with pytest.raises(ValueError, match=r"\[height, width, 3\] uint8"):
        encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        encode_png(np.zeros((4, 4, 3), np.float32))


def test_segmenter_processes_report_errors_and_survive_a_dead_process(source, tmp_path):
    segmenter = SegmenterProcesses(1)
    try:
        out = tmp_path / "ok"
        segmenter.segment(source / "videos" / "okvideo0001.mp4", out)
        assert sorted(p.name for p in (out / "frames").iterdir()) == sorted(f"{k}.png" for k in range(10))
        with pytest.raises(MediaError) as bad:
            segmenter.segment(source / "videos" / "notavideo01.mp4", tmp_path / "bad")
        assert bad.value.error_class == "undecodable" and "notavideo01.mp4" in str(bad.value)
        with pytest.raises(MediaError) as silent:
            segmenter.segment(source / "videos" / "noaudio0001.mp4", tmp_path / "silent")
        assert silent.value.error_class == "no_audio"
        # A decoder crash kills the process: only that clip fails, and the next clip gets a new process.
        (victim,) = segmenter._all
        victim.kill()
        victim.wait()
        with pytest.raises(MediaError, match="segmenter process died") as died:
            segmenter.segment(source / "videos" / "okvideo0002.mp4", tmp_path / "died")
        assert died.value.error_class == "undecodable"
        segmenter.segment(source / "videos" / "okvideo0002.mp4", tmp_path / "again")
        assert (tmp_path / "again" / "audio.wav").exists()
    finally:
        segmenter.close()
    assert all(process.poll() is not None for process in segmenter._all)


def test_format_tables_are_rendered_only_for_a_print_template(monkeypatch):
    from ovavebench.download import _youtube_dl

    rendered = []
    youtube_dl = _youtube_dl()
    monkeypatch.setattr(youtube_dl, "render_formats_table", lambda self, info: rendered.append(info["id"]) or "")
    info = {"id": "okvideo0001", "title": "t", "ext": "mp4", "url": "http://127.0.0.1/v.mp4"}
    assert youtube_dl({"quiet": True}, auto_init=False)._forceprint("before_dl", info) is None and rendered == []
    printing = youtube_dl({"quiet": True, "forceprint": {"before_dl": ["id"]}}, auto_init=False)
    assert printing._forceprint("before_dl", info)["id"] == "okvideo0001" and rendered == ["okvideo0001"]


def test_backoff_gate_holds_every_worker():
    gate = BackoffGate()
    gate.pause(0.3)
    start = time.monotonic()
    gate.wait()
    assert time.monotonic() - start >= 0.25
    start = time.monotonic()
    gate.wait()  # the pause is over
    assert time.monotonic() - start < 0.1


def test_cookies_proxy_and_format_reach_yt_dlp(tmp_path):
    options = DownloadOptions(cookies=str(tmp_path / "cookies.txt"), proxy="http://127.0.0.1:3128", max_height=480)
    params = _ytdlp_options(
        ClipJob("-0BIyqJj9ZU_000030", "-0BIyqJj9ZU", 30, 40), tmp_path / "clip.mp4", options, tmp_path, _YtdlpLog()
    )
    assert params["cookiefile"] == str(tmp_path / "cookies.txt") and params["proxy"] == "http://127.0.0.1:3128"
    assert "[height>=?224][height<=?480]" in params["format"] and params["format_sort"][0] == "+res"
    ranges = list(params["download_ranges"]({}, None))
    assert ranges == [{"start_time": 30, "end_time": 40}]


# Real messages from yt-dlp's YouTube extractor and the downloader issues (video2dataset #336, #338, #347, #267, #174).
MESSAGES = {
    (
        "ERROR: [youtube] kUhNOSdfPiI: Sign in to confirm you’re not a bot. Use --cookies-from-browser or "
        "--cookies for the authentication. See  "
        "https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass "
        "cookies."
    ): "bot_check",
    "ERROR: [youtube] abcdefghijk: Video unavailable": "unavailable",
    "ERROR: [youtube] abcdefghijk: Video unavailable. This video is private": "private",
    "ERROR: [youtube] abcdefghijk: Private video. Sign in if you've been granted access to this video": "private",
    "ERROR: [youtube] abcdefghijk: Video unavailable. This video has been removed by the uploader": "removed",
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video is no longer available because the "
        "YouTube account associated with this video has been terminated."
    ): "account_terminated",
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video is no longer available due to a "
        "copyright claim by Sony Music"
    ): "copyright",
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. The uploader has not made this video available in "
        "your country"
    ): "geo_blocked",
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video contains content from SME, who has "
        "blocked it in your country on copyright grounds"
    ): "geo_blocked",
    (
        "ERROR: [youtube] abcdefghijk: Sign in to confirm your age. This video may be inappropriate for some users."
    ): "age_restricted",
    (
        "ERROR: [youtube] abcdefghijk: Join this channel to get access to members-only content like this "
        "video, and other exclusive perks."
    ): "members_only",
    "ERROR: [youtube] abcdefghijk: This video has been removed for violating YouTube's Terms of Service": "removed",
    "ERROR: unable to download video data: HTTP Error 403: Forbidden": "forbidden",
    "ERROR: [youtube] abcdefghijk: Unable to download API page: HTTP Error 429: Too Many Requests": "rate_limited",
    (
        "ERROR: [youtube] abcdefghijk: The current session has been rate-limited by YouTube for up to an "
        "hour. It is recommended to use `-t sleep` to add a delay between video requests to avoid exceeding "
        "the rate limit."
    ): "rate_limited",
    "ERROR: [youtube] abcdefghijk: Unable to download webpage: HTTP Error 503: Service Unavailable": "server_error",
    (
        "ERROR: [youtube] abcdefghijk: Unable to download webpage: <urlopen error [Errno 110] Connection timed out>"
    ): "timeout",
    (
        "ERROR: [youtube] abcdefghijk: Unable to download webpage: ('Connection aborted.', "
        "ConnectionResetError(104, 'Connection reset by peer'))"
    ): "connection",
    "ERROR: unable to download video data: <urlopen error [Errno 104] Connection reset by peer>": "connection",
    "ERROR: Did not get any data blocks": "unknown",
}


@pytest.mark.parametrize("message, expected", list(MESSAGES.items()))
def test_classifier_on_real_yt_dlp_messages(message, expected):
    assert classify_error(message).name == expected
