"""Segmenter speed: one-pass PyAV segmenter vs a naive ffmpeg cut vs the floor.

On N generated 10 s clips (default 20, 640x360, 25 fps, H.264/AAC) it measures,
in one run:

* **one-pass**: ``ovavebench.media.decode.segment_clip`` (10 PNGs + 16 kHz wav);
* **naive**: one ffmpeg process per frame and per audio second (20 per clip),
  the way most VGGSound scripts cut segments;
* **floor**: decoding every packet of the clip, plus converting and writing the
  same 10 PNGs and resampling and writing the same wav, with nothing else.

    python benchmarks/segment_bench.py [--clips 20] [--width 640 --height 360]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import soundfile

from ovavebench.download.ffmpeg_wrapper import real_ffmpeg
from ovavebench.media.decode import segment_clip, write_png
from ovavebench.testing.synth import SecondSpec, distinct_colour, render_video, tone_for_second


def naive_cut(clip: Path, out: Path, ffmpeg: str) -> None:
    (out / "frames").mkdir(parents=True, exist_ok=True)
    for k in range(10):
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-ss",
                f"{k + 0.5}",
                "-i",
                str(clip),
                "-frames:v",
                "1",
                str(out / "frames" / f"{k}.png"),
            ],
            check=True,
        )
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-ss",
                str(k),
                "-t",
                "1",
                "-i",
                str(clip),
                "-vn",
                "-ac",
                "1",
                "-ar",
                "16000",
                str(out / f"audio_{k}.wav"),
            ],
            check=True,
        )


def floor(clip: Path, out: Path) -> None:
    """Decode everything, write 10 PNGs and the wav: the work any segmenter must do."""
    (out / "frames").mkdir(parents=True, exist_ok=True)
    frames = []
    fifo = av.AudioFifo()
    with av.open(str(clip)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        video.thread_type = "AUTO"
        seen = 0
        for packet in container.demux(video, audio):
            for frame in packet.decode():
                if packet.stream is video:
                    if len(frames) < 10 and seen % 25 == 12:
                        frames.append(frame)
                    seen += 1
                else:
                    frame.pts = None
                    fifo.write(frame)
    for k, frame in enumerate(frames):
        write_png(out / "frames" / f"{k}.png", frame.to_ndarray(format="rgb24"))
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    chunks = [o.to_ndarray().reshape(-1) for o in [*resampler.resample(fifo.read()), *resampler.resample(None)]]
    soundfile.write(out / "audio.wav", np.concatenate(chunks)[:160000], 16000, subtype="PCM_16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument(
        "--repeat", type=int, default=3, help="passes over the clips for one-pass and floor (best kept)"
    )
    args = parser.parse_args()
    ffmpeg = real_ffmpeg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips = []
        for i in range(args.clips):
            specs = [
                SecondSpec(distinct_colour(i + s), distinct_colour(i + s + 7), tone_for_second(i + s))
                for s in range(10)
            ]
            clips.append(render_video(root / f"clip{i}.mp4", specs, width=args.width, height=args.height, seed=i))

        def timed(fn, repeat: int) -> float:
            best = float("inf")
            for _ in range(repeat):
                shutil.rmtree(root / "out", ignore_errors=True)
                start = time.perf_counter()
                for i, clip in enumerate(clips):
                    fn(clip, root / "out" / str(i))
                best = min(best, time.perf_counter() - start)
            return best

        one_pass = timed(lambda c, o: segment_clip(c, o), args.repeat)
        floor_t = timed(floor, args.repeat)
        naive = timed(lambda c, o: naive_cut(c, o, ffmpeg), 1)
    n = args.clips
    print(f"{n} clips of 10 s, {args.width}x{args.height}, 25 fps, H.264/AAC")
    print(f"{'method':<28}{'ms/clip':>9}{'clips/s':>9}")
    for name, total in (
        ("naive (20 ffmpeg calls)", naive),
        ("one-pass segmenter", one_pass),
        ("floor (decode + writes)", floor_t),
    ):
        print(f"{name:<28}{1000 * total / n:9.1f}{n / total:9.2f}")
    print(f"one-pass vs naive: {naive / one_pass:.1f}x faster (goal >= 4x)")
    print(f"one-pass vs floor: {one_pass / floor_t:.2f}x the floor's time (goal <= 1.3x)")


if __name__ == "__main__":
    main()
