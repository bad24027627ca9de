"""Fine-tuning cost per epoch on cached features vs re-encoding with ImageBind-Huge every epoch.

A synthetic feature store the size of the real training split (13,182 videos × 10 s × 1024-d, audio and
visual) and a benchmark of 67 classes (46 seen); ``ovavebench.baselines.finetune`` with the published
defaults times each epoch's training loop. Beside it: the published code's cost, which re-runs the
ImageBind-Huge vision and audio towers on every video in every epoch, measured here per video (random
weights of the huge size, 10 frames + 10 audio seconds) and multiplied by 13,182.

    python benchmarks/finetune_bench.py [--videos 13182] [--epochs 2] [--encoder-videos 1]
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
    meta = pd.DataFrame({"split": ["train"] * videos + ["val"] * val, "cls_name": cats,
                         "cls_type": ["close" if c in seen else "open" for c in cats], "vid_name": ids})
    flags = rng.integers(0, 2, (len(ids), 10)).astype(np.uint8)
    write_benchmark(root / "bench", meta, Labels(ids, cats, flags), classes, seen)
    with FeatureStore(root / "store", create=True) as store:
        store.set_meta({"checkpoint_sha256": "synthetic", "preprocessing": "synthetic", "model_config": {}})
        for start in range(0, len(ids), 4096):  # shards of 4,096 videos
            chunk = ids[start:start + 4096]
            store.add_batch(chunk, rng.standard_normal((len(chunk), 10, dim), dtype=np.float32),
                            rng.standard_normal((len(chunk), 10, dim), dtype=np.float32))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=13_182)
    parser.add_argument("--val", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--encoder-videos", type=int, default=1, help="videos encoded to measure the per-video encoder time (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store, bench = synthetic(Path(tmp), args.videos, args.val)
        print(f"synthetic store: {args.videos:,} training videos x 10 s x 1024-d (both modalities) in {time.perf_counter() - start:.1f} s", flush=True)
        report = finetune(store, bench, Path(tmp) / "run", FinetuneConfig(epochs=args.epochs))
    per_epoch = min(report.seconds_per_epoch)
    print(f"fine-tuning on cached features: {per_epoch:.1f} s per epoch ({torch.get_num_threads()} CPU threads; goal < 10 s)")
    if args.encoder_videos:
        per_video = encoder_seconds_per_video(args.encoder_videos)
        reencode = per_video * args.videos
        print(f"re-encoding with ImageBind-Huge (published code, every epoch): {per_video:.1f} s per video on this CPU "
              f"x {args.videos:,} = {reencode / 3600:.1f} h per epoch = {reencode / per_epoch:,.0f}x the cached epoch")


if __name__ == "__main__":
    main()
