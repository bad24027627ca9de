"""Every second exact, whatever the container (#34): each source is built here with PyAV/ffmpeg and each output
second's colour and tone is checked against the source second it must come from."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ovavebench.download import DownloadOptions, download_clips
from ovavebench.media.decode import MediaError, segment_clip
from ovavebench.testing.localserver import LocalServer

from .media_sources import COLOURS, ffmpeg, frame_seconds, render, tone_seconds


def _manifest(path: Path, clips: list[tuple[str, int]]) -> Path:
    rows = [
        {"clip_id": f"{y}_{s:06d}", "youtube_id": y, "start_s": s, "end_s": s + 10, "class_name": "dog barking"}
        for y, s in clips
    ]
    pd.DataFrame(rows).assign(split="test").to_csv(path, index=False)
    return path


def _exact(folder: Path, start: int) -> None:
    expected = list(range(start, start + 10))
    assert frame_seconds(folder) == expected, folder.name
    assert tone_seconds(folder) == [float(s) for s in expected], folder.name


# Keyframes every 2.6 s: a stream-copy cut at 7 s starts 1.8 s early (at 5.2 s), one at 11 s 0.6 s early.
URL_SOURCES = {
    "webm": {"webmvp9opus": dict(vcodec="libvpx-vp9", acodec="libopus", sample_rate=48_000)},
    "mkv": {"mkvh264opus": dict(vcodec="libx264", acodec="libopus", sample_rate=48_000)},
    "mp4": {
        "mp4h264aac0": {},
        "mp4surround": dict(layout="5.1", sample_rate=48_000),
        "mp4av1opus0": dict(vcodec="libsvtav1", acodec="libopus", sample_rate=48_000, width=128, height=96),
    },
}


@pytest.fixture(scope="module")
def url_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    for ext, sources in URL_SOURCES.items():
        for name, kw in sources.items():
            render(root / "videos" / f"{name}.{ext}", seconds=22, **kw)
    data = (root / "videos" / "webmvp9opus.webm").read_bytes()
    assert data.rfind(b"\x1c\x53\xbb\x6b") > data.find(b"\x1f\x43\xb6\x75") > 0  # its index (Cues) at the end
    return root


def test_stream_copy_cuts_of_every_container_give_the_seconds_of_the_window(url_sources, tmp_path):
    """The WebM/Matroska cut by stream copy used to come out a keyframe's distance early (Matroska cannot hold
    the negative times of the packets before the window and shifted the file to 0)."""
    out = tmp_path / "media"
    with LocalServer(url_sources) as server:
        for ext, sources in URL_SOURCES.items():
            manifest = _manifest(tmp_path / f"{ext}.csv", [(n, s) for n in sources for s in (7, 11)])
            options = DownloadOptions(workers=2, url_template=server.base_url + "videos/{youtube_id}." + ext)
            summary = download_clips(manifest, out, options)
            assert summary.done == 2 * len(sources), summary.by_error_class
    for ext, sources in URL_SOURCES.items():
        for name in sources:
            for start in (7, 11):
                folder = out / f"{name}_{start:06d}"
                _exact(folder, start)
                assert [p.name for p in folder.glob("clip.*")] == [f"clip.{ext}"]  # named by what it holds


def test_the_frame_of_a_second_is_the_one_shown_at_its_middle_at_29_97_fps(tmp_path):
    fps = Fraction(30000, 1001)
    source = render(tmp_path / "ntsc.mp4", seconds=14, fps=fps, colour_at=lambda t, n: COLOURS[n % 40])
    segment_clip(source, tmp_path / "out")
    # Shown at k + 0.5 s: the last frame that starts at or before it (the next one starts 0.5 ms after).
    expected = [int((k + 0.5) * fps) % 40 for k in range(10)]
    assert frame_seconds(tmp_path / "out") == expected


def test_variable_frame_rate_picks_the_frame_on_screen_not_the_nearest(tmp_path):
    times = [t for s in range(14) for t in (s + 0.1, s + 0.6)]
    source = render(tmp_path / "vfr.mp4", seconds=14, frame_times=times, colour_at=lambda t, n: COLOURS[n % 40])
    clip = segment_clip(source, tmp_path / "out")
    assert frame_seconds(tmp_path / "out") == [(2 * k) % 40 for k in range(10)]  # the s + 0.1 frames
    assert clip.frame_times == pytest.approx([k + 0.1 for k in range(10)])


@pytest.mark.parametrize(
    "remux",
    [
        ["-output_ts_offset", "2.5", "-f", "mp4"],  # a non-zero start: an empty edit of 2.5 s
        ["-f", "mpegts"],  # MPEG-TS starts its clock at 1.4 s
        ["-output_ts_offset", "3.7", "-f", "matroska"],  # Matroska starting at 3.7 s
    ],
    ids=["mp4-start-2.5", "mpegts", "mkv-start-3.7"],
)
def test_a_file_whose_timeline_does_not_start_at_zero_is_cut_from_its_own_start(tmp_path, remux):
    source = render(tmp_path / "src.mp4", seconds=16)
    shifted = tmp_path / "shifted"
    ffmpeg("-i", str(source), "-c", "copy", *remux, str(shifted))
    segment_clip(shifted, tmp_path / "out")
    _exact(tmp_path / "out", 0)


def test_an_edit_list_is_honoured(tmp_path):
    # (The one case here the old code got right too: the decoder hides what the edit list cuts.)
    source = render(tmp_path / "src.mp4", seconds=20)
    edited = tmp_path / "edited.mp4"
    ffmpeg("-ss", "2", "-i", str(source), "-c", "copy", str(edited))  # starts at the keyframe at 0: an edit list
    segment_clip(edited, tmp_path / "out", start_s=3)
    _exact(tmp_path / "out", 5)


def test_audio_that_starts_late_or_ends_early_fails_by_name_beyond_a_quarter_second(tmp_path):
    short_late = render(tmp_path / "late01.mp4", seconds=12, audio_from=0.1)
    segment_clip(short_late, tmp_path / "ok")  # 0.1 s late: silence there, the rest in place
    assert frame_seconds(tmp_path / "ok") == list(range(10))
    assert tone_seconds(tmp_path / "ok")[1:] == [float(s) for s in range(1, 10)]
    cases = {"late": dict(audio_from=1.0), "early_end": dict(audio_to=8.0)}
    for name, kw in cases.items():
        source = render(tmp_path / f"{name}.mp4", seconds=12, **kw)
        with pytest.raises(MediaError) as caught:
            segment_clip(source, tmp_path / name)
        assert caught.value.error_class == "audio_gap", name
        assert not (tmp_path / name / "audio.wav").exists()


def test_display_rotation_and_sample_aspect_ratio_are_applied(tmp_path):
    source = render(tmp_path / "src.mp4", seconds=14, marker=True)
    wide = tmp_path / "wide.mp4"
    ffmpeg("-i", str(source), "-c", "copy", "-bsf:v", "h264_metadata=sample_aspect_ratio=2/1", str(wide))
    for angle in (90, 180, 270):
        rotated = tmp_path / f"rotated{angle}.mp4"
        ffmpeg("-display_rotation", str(angle), "-i", str(source), "-c", "copy", str(rotated))
        clip = segment_clip(rotated, tmp_path / f"rot{angle}")
        assert (clip.width, clip.height) == ((96, 64) if angle == 180 else (64, 96))
        # What ffmpeg itself shows (it applies the rotation): the same picture, marker in the same corner.
        shown = tmp_path / f"shown{angle}.png"
        ffmpeg("-ss", "0.5", "-i", str(rotated), "-frames:v", "1", str(shown))
        ours = np.asarray(Image.open(tmp_path / f"rot{angle}" / "frames" / "0.png"), dtype=float)
        theirs = np.asarray(Image.open(shown).convert("RGB"), dtype=float)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).mean() < 4, angle
    clip = segment_clip(wide, tmp_path / "wide")
    assert (clip.width, clip.height) == (192, 64)
    frame = np.asarray(Image.open(tmp_path / "wide" / "frames" / "0.png"), dtype=float)
    assert np.abs(frame[:21, :48] - 255).mean() < 8  # the marker: a quarter of the width, now 48 pixels
    assert np.abs(frame[32:, 96:] - COLOURS[0]).mean() < 8


def test_a_dash_pair_of_separate_video_and_audio_files_is_cut_exactly(tmp_path):
    """yt-dlp picks the video and the audio representation of an MPD (format "0+1") and ffmpeg cuts both."""
    source = render(tmp_path / "av.mp4", seconds=24)
    folder = tmp_path / "site" / "dash" / "dashpair001"
    folder.mkdir(parents=True)
    ffmpeg("-i", str(source), "-map", "0:v", "-map", "0:a", "-c", "copy", "-f", "dash", "-seg_duration", "2",
           str(folder / "manifest.mpd"))  # fmt: skip
    manifest = _manifest(tmp_path / "m.csv", [("dashpair001", 7)])
    with LocalServer(tmp_path / "site") as server:
        options = DownloadOptions(workers=1, url_template=server.base_url + "dash/{youtube_id}/manifest.mpd")
        summary = download_clips(manifest, tmp_path / "media", options)
    assert summary.done == 1
    _exact(tmp_path / "media" / "dashpair001_000007", 7)


def test_a_hole_in_the_audio_is_silence_where_it_is_and_a_long_one_fails(tmp_path):
    import soundfile

    source = render(tmp_path / "hole.mp4", seconds=12, audio_holes=[(5.0, 5.2)])
    segment_clip(source, tmp_path / "out")
    audio, rate = soundfile.read(tmp_path / "out" / "audio.wav")

    def rms(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(audio[int(a * rate) : int(b * rate)] ** 2)))

    assert rms(5.03, 5.17) < 0.01 and rms(5.3, 5.9) > 0.2  # the hole, in place
    assert rms(9.8, 10.0) > 0.2  # nothing after it moved earlier (which would leave silence at the end)
    assert tone_seconds(tmp_path / "out")[6:] == [6.0, 7.0, 8.0, 9.0]
    long_hole = render(tmp_path / "long.mp4", seconds=12, audio_holes=[(5.0, 5.5)])
    with pytest.raises(MediaError) as caught:
        segment_clip(long_hole, tmp_path / "long")
    assert caught.value.error_class == "audio_gap" and "5.0" in str(caught.value)
