"""Fine-tuning cost per epoch of every temporal row, beside the FLOP floor of its matrix products.

A synthetic feature store the size of the real training split (13,182 videos × 10 s × 1024-d, audio and
visual) and a benchmark of 67 classes (46 seen); ``ovavebench.baselines.finetune`` with the released
recipe times one epoch per row (transformer, linear, AVE, PSP, CMRA, MM-Pyramid). Beside each: the
matrix-product FLOPs of an epoch (forward and backward, counted by torch's FlopCounterMode on one step)
divided by this machine's measured fp32 matmul rate, and the ratio of the two. With
``--encoder-videos``: the published code's cost, which re-runs the ImageBind-Huge towers every epoch.

    python benchmarks/finetune_bench.py [--videos 13182] [--epochs 1] [--rows transformer,linear,...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ovavebench.baselines import FinetuneConfig, finetune
from ovavebench.benchmark import Labels, write_benchmark
from ovavebench.features import FeatureStore


def synthetic(root: Path, videos: int, val: int, dim: int = 1024) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    classes = [f"class {i:02d}" for i in range(67)]
    seen = classes[:46]
    ids = [f"v{i:010d}" for i in range(videos + val)]
    cats = [seen[i % 46] if i < videos else classes[i % 67] for i in range(videos + val)]
    meta = pd.DataFrame(
        {
            "split": ["train"] * videos + ["val"] * val,
            "cls_name": cats,
            "cls_type": ["close" if c in seen else "open" for c in cats],
            "vid_name": ids,
        }
    )
    flags = rng.integers(0, 2, (len(ids), 10)).astype(np.uint8)
    write_benchmark(root / "bench", meta, Labels(ids, cats, flags), classes, seen)
    with FeatureStore(root / "store", create=True) as store:
        store.set_meta({"checkpoint_sha256": "synthetic", "preprocessing": "synthetic", "model_config": {}})
        for start in range(0, len(ids), 4096):  # shards of 4,096 videos
            chunk = ids[start : start + 4096]
            store.add_batch(
                chunk,
                rng.standard_normal((len(chunk), 10, dim), dtype=np.float32),
                rng.standard_normal((len(chunk), 10, dim), dtype=np.float32),
            )
        store.set_text(classes + ["other"], rng.standard_normal((68, dim), dtype=np.float32))
    return root / "store", root / "bench"


def encoder_seconds_per_video(videos: int) -> float:
    from ovavebench.imagebind.model import HUGE_CONFIG, ImageBind

    torch.manual_seed(0)
    model = ImageBind(HUGE_CONFIG).eval()
    frames, audio = torch.randn(videos, 10, 3, 224, 224), torch.randn(videos, 10, 1, 128, 204)
    with torch.inference_mode():
        start = time.perf_counter()
        model.encode_vision(frames)
        model.encode_audio(audio)
    return (time.perf_counter() - start) / videos


def matmul_gflops(seconds: float = 1.0) -> float:
    """This machine's fp32 matrix-product rate at the fine-tuning's shapes (320 tokens x 1024)."""
    a, b = torch.randn(320, 1024), torch.randn(1024, 1024)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 320 * 1024 * 1024 * count / (time.perf_counter() - start) / 1e9


def step_flops(temporal: str, batch: int = 32, dim: int = 1024) -> float:
    """Matrix-product FLOPs (matmuls, convolutions, attention) of one training step, forward and backward."""
    from torch.utils.flop_counter import FlopCounterMode

    from ovavebench.baselines.finetune import _model

    model = _model(FinetuneConfig(temporal=temporal), dim).train()
    audio, visual, text = torch.randn(batch, 10, dim), torch.randn(batch, 10, dim), torch.randn(47, dim)
    with FlopCounterMode(display=False) as counter:
        scores = model(audio, visual, text)
        torch.nn.functional.cross_entropy(scores.reshape(-1, 47), torch.zeros(batch * 10, dtype=torch.long)).backward()
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=13_182)
    parser.add_argument("--val", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rows", default="transformer,linear,ave,psp,cmra,mm-pyramid")
    parser.add_argument(
        "--encoder-videos", type=int, default=0, help="videos encoded to measure the per-video encoder time (0: skip)"
    )
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is available")
    args = parser.parse_args()
    rate = matmul_gflops()
    print(
        f"this CPU: {rate:.0f} GFLOP/s fp32 matrix products ({torch.get_num_threads()} threads); "
        f"{'GPU: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU here'}; "
        f"rows run on {args.device} "
        "(the floor is the CPU's: on a GPU read the s/epoch column)"
    )
    batches = -(-args.videos // 32)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store, bench = synthetic(Path(tmp), args.videos, args.val)
        print(
            f"synthetic store: {args.videos:,} training videos x 10 s x 1024-d (both modalities) "
            f"in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        print(f"{'row':<12} {'s/epoch':>9} {'floor s':>8} {'x floor':>8}  (matrix-product FLOPs per epoch)")
        for temporal in args.rows.split(","):
            flops = step_flops(temporal) * batches
            report = finetune(
                store,
                bench,
                Path(tmp) / f"run-{temporal}",
                FinetuneConfig(temporal=temporal, epochs=args.epochs),
                device=args.device,
            )
            per_epoch = min(report.seconds_per_epoch)
            floor = flops / (rate * 1e9)
            print(
                f"{temporal:<12} {per_epoch:9.1f} {floor:8.1f} {per_epoch / floor:8.2f}  ({flops / 1e12:.2f} TFLOP)",
                flush=True,
            )
    if args.encoder_videos:
        per_video = encoder_seconds_per_video(args.encoder_videos)
        print(
            f"re-encoding with ImageBind-Huge (published code, every epoch): {per_video:.1f} s per video on this CPU "
            f"x {args.videos:,} = {per_video * args.videos / 3600:.1f} h per epoch"
        )


if __name__ == "__main__":
    main()
