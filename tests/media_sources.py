"""Source videos of every container, codec and timeline the media stage must cut exactly, built with PyAV
(and the ffmpeg binary for what only a remux can make: rotation tags, aspect ratios, edit lists, offsets).

Each second ``s`` of presentation time shows ``distinct_colour(s)`` and sounds ``tone_for_second(s)``, unless a
frame colour function says otherwise, so a test can tell which source second each output second came from.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ovavebench.download.ffmpeg_wrapper import real_ffmpeg
from ovavebench.testing.synth import distinct_colour, dominant_tone, nearest_second, tone_for_second

COLOURS = [distinct_colour(s) for s in range(40)]


def render(
    path: Path,
    seconds: float = 16,
    fps: Fraction = Fraction(10),
    vcodec: str = "libx264",
    acodec: str | None = "aac",
    sample_rate: int = 44_100,
    layout: str = "mono",
    width: int = 96,
    height: int = 64,
    gop_s: float = 2.6,
    frame_times: Sequence[float] | None = None,
    colour_at: Callable[[float, int], tuple[int, int, int]] | None = None,
    audio_from: float = 0.0,
    audio_to: float | None = None,
    marker: bool = False,
    audio_holes: Sequence[tuple[float, float]] = (),
) -> Path:
    """Encode a video; frames at ``n / fps`` (or at ``frame_times``: variable frame rate), audio over
    ``[audio_from, audio_to)``. ``colour_at(t, n)`` is frame n's colour (default: its second's); ``marker`` puts
    a white block in the top-left corner (to see rotations); ``audio_holes`` are spans with no audio packets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    times = list(frame_times) if frame_times is not None else [float(n / fps) for n in range(int(seconds * fps))]
    time_base = Fraction(1, 90_000)
    with av.open(str(path), "w") as container:
        video = container.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = time_base
        video.codec_context.time_base = time_base
        gop = str(max(1, int(round(gop_s * float(fps)))))
        video.options = {"g": gop, "keyint_min": gop, "sc_threshold": "0", "bf": "0"}
        if vcodec == "libx264":
            video.options |= {"preset": "ultrafast"}
        if vcodec == "libsvtav1":
            video.options = {"preset": "12", "g": gop, "crf": "8", "svtav1-params": "pred-struct=1:log-level=0"}
        if vcodec == "libvpx-vp9":
            video.options = {"g": gop, "deadline": "realtime", "cpu-used": "8"}
        audio = None
        if acodec is not None:
            audio = container.add_stream(acodec, rate=sample_rate)
            audio.layout = layout
        image = np.empty((height, width, 3), np.uint8)
        for n, t in enumerate(times):
            image[:] = colour_at(t, n) if colour_at else COLOURS[int(t) % len(COLOURS)]
            if marker:
                image[: height // 3, : width // 4] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(round(t / time_base)), time_base
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            end = seconds if audio_to is None else audio_to
            channels = len(av.AudioLayout(layout).channels)
            chunk = 960 if acodec in ("libopus", "opus") else 1024
            first = int(round(audio_from * sample_rate))
            for at in range(first, int(end * sample_rate), chunk):
                if any(a <= at / sample_rate < b for a, b in audio_holes):
                    continue
                t = (np.arange(at, at + chunk)) / sample_rate
                tone = np.array([tone_for_second(int(x)) for x in t])
                wave = (0.4 * np.sin(2 * np.pi * tone * t)).astype(np.float32)
                aframe = av.AudioFrame.from_ndarray(np.repeat(wave[None], channels, 0), format="fltp", layout=layout)
                aframe.sample_rate, aframe.pts, aframe.time_base = sample_rate, at, Fraction(1, sample_rate)
                for packet in audio.encode(aframe):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return path


def ffmpeg(*args: str) -> None:
    """The ffmpeg binary the toolkit uses, quietly; raises on failure."""
    subprocess.run([real_ffmpeg(), "-y", "-loglevel", "error", *args], check=True)


def frame_seconds(folder: Path) -> list[int]:
    """Which source second each of a clip's 10 frames shows (nearest colour)."""
    from PIL import Image

    return [
        nearest_second(np.asarray(Image.open(folder / "frames" / f"{k}.png")).reshape(-1, 3).mean(0), COLOURS)
        for k in range(10)
    ]


def tone_seconds(folder: Path) -> list[float]:
    """Which source second each second of a clip's audio sounds like (from its dominant tone)."""
    import soundfile

    audio, rate = soundfile.read(folder / "audio.wav")
    assert rate == 16_000 and len(audio) == 160_000
    tones = [dominant_tone(audio[k * rate + 1600 : (k + 1) * rate - 1600], rate) for k in range(10)]
    return [round((t - 300.0) / 150.0, 1) for t in tones]
