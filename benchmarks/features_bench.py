"""ImageBind tower throughput: frames/s (vision) and audio-seconds/s (audio), and TFLOP/s on a GPU.

Random weights of the chosen size (default: the huge model, as released), inputs of the real shapes.
FLOPs are counted analytically: 2 per multiply-add of every linear/convolution and attention product
(the "~167 GFLOP per frame" quoted for ViT-H/14 at 224 counts multiply-adds: 2x that in FLOPs).

    python benchmarks/features_bench.py [--device cuda|cpu] [--dtype bf16|fp16|fp32] [--batch 256] [--size huge|small]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from ovavebench.imagebind.model import DEFAULT_CONFIG, HUGE_CONFIG, ImageBind

BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense bf16 tensor-core peaks


def tower_macs(tokens: int, dim: int, blocks: int, patch_macs: int) -> float:
    per_block = 12 * tokens * dim * dim + 2 * tokens * tokens * dim  # qkv+proj+mlp, then QK^T and AV
    return patch_macs + blocks * per_block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, choices=["bf16", "fp16", "fp32"])
    parser.add_argument("--batch", type=int, default=None, help="frames / audio seconds per forward pass")
    parser.add_argument("--size", default="huge", choices=["huge", "small"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    dtype = args.dtype or ("bf16" if gpu else "fp32")
    batch = args.batch or (256 if gpu else 2)
    config = (
        HUGE_CONFIG
        if args.size == "huge"
        else {
            "vision_embed_dim": 64,
            "vision_num_blocks": 2,
            "vision_num_heads": 4,
            "audio_embed_dim": 48,
            "audio_num_blocks": 2,
            "audio_num_heads": 4,
            "text_embed_dim": 32,
            "text_num_blocks": 2,
            "text_num_heads": 4,
            "out_embed_dim": 32,
        }
    )
    cfg = {**DEFAULT_CONFIG, **config}
    torch.manual_seed(0)
    with torch.device(args.device):
        model = ImageBind(config).eval()
    torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    autocast = (
        torch.autocast(args.device.split(":")[0], dtype=torch_dtype) if dtype != "fp32" else contextlib.nullcontext()
    )
    frames = torch.randn(batch, 3, 224, 224, device=args.device)
    audio = torch.randn(batch, 1, 128, 204, device=args.device)
    v, a = cfg["vision_embed_dim"], cfg["audio_embed_dim"]
    vision_macs = tower_macs(257, v, cfg["vision_num_blocks"], 256 * v * 3 * 2 * 14 * 14)
    audio_macs = tower_macs(229, a, cfg["audio_num_blocks"], 228 * a * 16 * 16)

    def timed(fn, x) -> float:  # type: ignore[no-untyped-def]
        with torch.inference_mode(), autocast:
            fn(x)  # warm-up (kernels, allocator)
            if gpu:
                torch.cuda.synchronize()
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                fn(x)
                if gpu:
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
        return best

    name = torch.cuda.get_device_name() if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; ImageBind-{args.size}; {dtype}; batch {batch}")
    for label, fn, x, macs, unit in (
        ("vision", model.encode_vision, frames, vision_macs, "frames/s"),
        ("audio", model.encode_audio, audio, audio_macs, "audio-seconds/s"),
    ):
        seconds = timed(fn, x)
        rate = batch / seconds
        tflops = 2 * macs * rate / 1e12
        line = f"{label:<7} {rate:10.1f} {unit:<16} {macs / 1e9:7.1f} GMAC/item  {tflops:8.2f} TFLOP/s"
        peak = next((p for k, p in BF16_PEAK_TFLOPS.items() if k in name), None) if gpu else None
        if peak and dtype == "bf16":
            line += f"  = {100 * tflops / peak:.1f} % of the {peak:.0f} TFLOP/s bf16 peak"
        print(line)


if __name__ == "__main__":
    main()
