"""Synthetic videos with a known per-second content, for tests, benchmarks and the demo.

Each second has its own background colour, optionally an object (a filled
square) and optionally a sine tone, so a test can check that frame k and
audio second k of a cut clip came from source second ``start + k``, and the
demo can generate clips whose audio-visual events are known.
"""

from __future__ import annotations

import colorsys
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class SecondSpec:
    """What one second of a synthetic video shows and sounds like."""

    background: tuple[int, int, int]
    object_colour: tuple[int, int, int] | None = None  # a square in the middle when set
    tone_hz: float | None = None  # a sine tone when set
    noise: float = 0.0  # amplitude of white noise added to the audio


def distinct_colour(index: int) -> tuple[int, int, int]:
    """Well-separated saturated colours (golden-angle hues, two brightness levels)."""
    hue = (index * 0.61803398875) % 1.0
    value = 0.95 if index % 2 == 0 else 0.6
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, value)
    return int(r * 255), int(g * 255), int(b * 255)


def tone_for_second(index: int) -> float:
    """A distinct tone per index: 300 Hz + 150 Hz steps (resolvable in a 1-s FFT)."""
    return 300.0 + 150.0 * (index % 40)


def colour_second_specs(duration_s: int) -> list[SecondSpec]:
    """Every second its own colour and its own tone (the download exactness source)."""
    return [SecondSpec(distinct_colour(s), None, tone_for_second(s)) for s in range(duration_s)]


def render_video(
    path: str | os.PathLike,
    seconds: list[SecondSpec],
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    sample_rate: int = 44_100,
    audio: bool = True,
    keyframe_interval_s: float = 2.6,
    seed: int = 0,
) -> Path:
    """Encode an H.264/AAC MP4 (moov first, so it streams over HTTP ranges).

    Keyframes fall every ``keyframe_interval_s`` seconds, deliberately not on
    second boundaries, so cuts that ignore keyframes are caught.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), "w", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {
            "preset": "ultrafast",
            "crf": "18",
            "g": str(max(1, int(round(keyframe_interval_s * fps)))),
            "keyint_min": str(max(1, int(round(keyframe_interval_s * fps)))),
            "sc_threshold": "0",
            "bf": "0",
        }
        audio_stream = None
        if audio:
            audio_stream = container.add_stream("aac", rate=sample_rate)
            audio_stream.layout = "mono"
        frame_index = 0
        for second, spec in enumerate(seconds):
            image = np.empty((height, width, 3), dtype=np.uint8)
            image[:] = spec.background
            if spec.object_colour is not None:
                side = height // 3
                top, left = (height - side) // 2, (width - side) // 2
                image[top : top + side, left : left + side] = spec.object_colour
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for _ in range(fps):
                frame.pts = frame_index
                frame.time_base = Fraction(1, fps)
                for packet in video.encode(frame):
                    container.mux(packet)
                frame_index += 1
            if audio_stream is not None:
                t = np.arange(sample_rate) / sample_rate
                signal = np.zeros(sample_rate)
                if spec.tone_hz is not None:
                    signal += 0.5 * np.sin(2 * np.pi * spec.tone_hz * (t + second))
                if spec.noise:
                    signal += spec.noise * rng.standard_normal(sample_rate)
                samples = np.clip(signal, -1, 1).astype(np.float32)[None, :]
                aframe = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                aframe.sample_rate = sample_rate
                aframe.pts = second * sample_rate
                aframe.time_base = Fraction(1, sample_rate)
                for packet in audio_stream.encode(aframe):
                    container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio_stream is not None:
            for packet in audio_stream.encode():
                container.mux(packet)
    os.replace(tmp, path)
    return path


def dominant_tone(samples: np.ndarray, sample_rate: int) -> float:
    """Frequency (Hz) of the strongest FFT bin of a mono signal."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[int(np.argmax(spectrum))])


def nearest_second(colour: np.ndarray, candidates: list[tuple[int, int, int]]) -> int:
    """Index of the candidate colour nearest to ``colour`` (mean RGB of a frame)."""
    distances = np.linalg.norm(np.asarray(candidates, dtype=float) - np.asarray(colour, dtype=float), axis=1)
    return int(np.argmin(distances))


def linked_window_source(
    root: str | Path,
    youtube_ids: list[str],
    seconds: int = 12,
    width: int = 64,
    height: int = 48,
    seed: int = 0,
    start_s: int = 1,
) -> Path:
    """Many small source videos (hard links of one rendering) under ``root/videos`` and a manifest of their
    10-second windows from ``start_s``; returns the manifest. For scheduling tests and benchmarks, where
    the clips' content does not matter and fetching and cutting should cost little."""
    import pandas as pd

    root = Path(root)
    template = root / "videos" / "template.mp4"
    render_video(template, colour_second_specs(seconds), width=width, height=height, seed=seed)
    for youtube_id in youtube_ids:
        os.link(template, root / "videos" / f"{youtube_id}.mp4")
    manifest = root / "manifest.csv"
    pd.DataFrame(
        [
            {
                "clip_id": f"{y}_{start_s:06d}",
                "youtube_id": y,
                "start_s": start_s,
                "end_s": start_s + 10,
                "class_name": "dog barking",
                "split": "test",
            }
            for y in youtube_ids
        ]
    ).to_csv(manifest, index=False)
    return manifest
