"""AV-LLM baseline speed: videos per second and peak GPU memory, batch 1 against a larger batch.

On a media folder of `ovavebench download` with its benchmark (or on N generated clips), it loads the model once and
times `answer` (processor + greedy generation of the prompt's max_new_tokens) on the same videos at batch size 1 and at
--batch, printing videos/s, the ratio, and the peak memory of the device.

    python benchmarks/avllm_bench.py --device cuda --model Qwen/Qwen2.5-Omni-7B [--media M --benchmark B] [--videos 32]
                                     [--batch 8] [--dtype bf16]

It needs torchvision beside torch (the model's processor does): on the GPU machine, `pip install torch torchvision
'ovavebench[baselines]'`. With no GPU and a tiny model it runs on the CPU too, which measures nothing worth reporting.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ovavebench.baselines.avllm import answer, load_avllm, load_prompt, video_inputs  # noqa: E402


def generated_clips(root: Path, count: int) -> list[tuple[list[Path], Path]]:
    """Frames of moving colour and tones: enough for the model to run on, not to be right."""
    import soundfile
    from PIL import Image

    clips = []
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"clip{i:04d}"
        (folder / "frames").mkdir(parents=True)
        frames = []
        for k in range(10):
            pixels = np.clip(rng.normal(120 + 10 * k, 40, (360, 640, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / "frames" / f"{k}.png")
            frames.append(folder / "frames" / f"{k}.png")
        t = np.arange(160_000) / 16_000
        soundfile.write(folder / "audio.wav", 0.2 * np.sin(2 * np.pi * (200 + 20 * i) * t), 16_000)
        clips.append((frames, folder / "audio.wav"))
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="Qwen/Qwen2.5-Omni-7B")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--media", type=Path, default=None)
    parser.add_argument("--benchmark", type=Path, default=None)
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt", default="per-second")
    args = parser.parse_args()
    import torch

    llm = load_avllm(args.model, args.device, args.dtype)
    prompt = load_prompt(args.prompt)
    with tempfile.TemporaryDirectory() as tmp:
        if args.media and args.benchmark:
            from ovavebench.benchmark import load_benchmark
            from ovavebench.media.clips import benchmark_videos

            classes = load_benchmark(args.benchmark).classes
            clips = [(f, w) for _, f, w in benchmark_videos(args.media, args.benchmark)[0][: args.videos]]
        else:
            classes = ["dog barking", "playing piano", "race car"]
            clips = generated_clips(Path(tmp), args.videos)
        loaded = [video_inputs(frames, wav) for frames, wav in clips]
        figures = {}
        for batch in (1, args.batch):
            if llm.device.startswith("cuda"):
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            answer(llm, [prompt.messages(classes, *loaded[0])], [loaded[0][0]], [loaded[0][1]], prompt.max_new_tokens)
            start = time.perf_counter()
            for begin in range(0, len(loaded), batch):
                part = loaded[begin : begin + batch]
                answer(
                    llm,
                    [prompt.messages(classes, i, a) for i, a in part],
                    [p[0] for p in part],
                    [p[1] for p in part],
                    prompt.max_new_tokens,
                )
            if llm.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**30 if llm.device.startswith("cuda") else float("nan")
            figures[batch] = (len(loaded) / seconds, peak)
            print(
                f"batch {batch:3d}: {len(loaded) / seconds:7.2f} videos/s, peak memory {peak:6.1f} GiB "
                f"({len(loaded)} videos, {prompt.max_new_tokens} new tokens at most, {llm.device} {llm.dtype})"
            )
    print(
        f"batch {args.batch} vs 1: {figures[args.batch][0] / figures[1][0]:.2f}x; the test split's 5,820 videos: "
        f"{5820 / figures[args.batch][0] / 60:.0f} min at batch {args.batch}"
    )


if __name__ == "__main__":
    main()
