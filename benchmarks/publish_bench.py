"""Publishing speed: exports (clips per second) and reading a WebDataset shard back vs the PNG folders.

On N generated clips in the toolkit's media layout (default 200; 10 frames of 640x360 written by the toolkit's own
PNG writer, 10 s of 16 kHz audio) and a benchmark folder naming them, it measures in one run:

* ``export hf`` and ``export webdataset`` (every file read, checked to decode, packed): clips per second;
* reading every clip back (10 frames decoded to pixels, the wav to samples): from the WebDataset tar shards with
  ``webdataset``, and from the PNG folders as training code reads them today; clips per second and the ratio.

    python benchmarks/publish_bench.py [--clips 200] [--width 640 --height 360]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ovavebench.benchmark import Labels, write_benchmark  # noqa: E402
from ovavebench.media.decode import write_png  # noqa: E402
from ovavebench.publish import collect  # noqa: E402
from ovavebench.publish.hf import export_hf  # noqa: E402
from ovavebench.publish.webdataset import export_webdataset  # noqa: E402


def make_media(root: Path, clips: int, width: int, height: int) -> tuple[Path, Path]:
    """Clips with smooth frames plus noise (PNG sizes like real ones) and tones; a benchmark folder of them."""
    import pandas as pd

    rng = np.random.default_rng(0)
    media, ids, classes = root / "media", [], ["dog barking", "playing piano", "race car"]
    y, x = np.mgrid[0:height, 0:width]
    for i in range(clips):
        vid = f"bench{i:06d}"[:11]
        folder = media / f"{vid}_000000"
        (folder / "frames").mkdir(parents=True)
        for k in range(10):
            base = ((x * (i % 7 + 1) + y * (k + 1)) % 256).astype(np.uint8)
            noisy = np.clip(base[..., None] + rng.integers(-3, 4, (height, width, 3)), 0, 255).astype(np.uint8)
            write_png(folder / "frames" / f"{k}.png", noisy)
        t = np.arange(160_000) / 16_000
        soundfile.write(
            folder / "audio.wav", (0.2 * np.sin(2 * np.pi * (220 + i) * t) * 32767).astype(np.int16), 16_000
        )
        ids.append(vid)
    splits = ["train" if i % 10 < 6 else "val" if i % 10 < 8 else "test" for i in range(clips)]
    meta = pd.DataFrame(
        {
            "split": splits,
            "cls_name": [classes[i % 3] for i in range(clips)],
            "cls_type": ["close" if i % 3 else "open" for i in range(clips)],
            "vid_name": ids,
        }
    )
    labels = Labels(ids, [classes[i % 3] for i in range(clips)], rng.integers(0, 2, (clips, 10)).astype(np.uint8))
    write_benchmark(root / "bench", meta, labels, classes, classes[1:])
    return root / "bench", media


def read_folders(records) -> int:  # type: ignore[no-untyped-def]
    for record in records:
        for path in record.frames:
            np.asarray(Image.open(path).convert("RGB"))
        soundfile.read(record.audio, dtype="int16")
    return len(records)


def read_shards(tars: list[str]) -> int:
    import webdataset as wds

    count = 0
    for sample in wds.WebDataset(tars, shardshuffle=False, empty_check=False):
        for k in range(10):
            np.asarray(Image.open(io.BytesIO(sample[f"{k}.png"])).convert("RGB"))
        soundfile.read(io.BytesIO(sample["wav"]), dtype="int16")
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench, media = make_media(root, args.clips, args.width, args.height)
        collection = collect(bench, media)
        size = sum(r.media_bytes() for r in collection.records)
        start = time.perf_counter()
        export_hf(collection, root / "hf")
        hf_s = time.perf_counter() - start
        start = time.perf_counter()
        export_webdataset(collection, root / "wds", shard_bytes=256 * 10**6)
        wds_s = time.perf_counter() - start
        tars = sorted(str(p) for p in (root / "wds").glob("*.tar"))
        start = time.perf_counter()
        n_folders = read_folders(collection.records)
        folders_s = time.perf_counter() - start
        start = time.perf_counter()
        n_shards = read_shards(tars)
        shards_s = time.perf_counter() - start
        assert n_folders == n_shards == args.clips
    print(
        f"{args.clips} clips of 10 frames {args.width}x{args.height} + 10 s of 16 kHz audio, {size / 1e6:.0f} MB of media"
    )
    print(f"export hf (Parquet, every file checked):     {args.clips / hf_s:7.1f} clips/s ({hf_s:.1f} s)")
    print(f"export webdataset (tar, every file checked): {args.clips / wds_s:7.1f} clips/s ({wds_s:.1f} s)")
    print(f"read back, PNG folders:    {args.clips / folders_s:7.1f} clips/s (frames decoded, samples read)")
    print(f"read back, WebDataset tar: {args.clips / shards_s:7.1f} clips/s: {folders_s / shards_s:.2f}x the folders")


if __name__ == "__main__":
    main()
