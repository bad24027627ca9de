"""Publishing speed and memory: ``export hf`` and ``export webdataset`` at N clips, against an earlier revision.

For each N (default 2,000 and 24,800, the benchmark's size) it builds a synthetic benchmark cheaply: a few distinct
generated clips (10 PNG frames written by the toolkit's own PNG writer, 10 s of 16 kHz audio) hard-linked under N clip
folders of the toolkit's media layout, and a benchmark folder naming them. Then each export runs in a fresh process,
once with this checkout's code and once with ``--baseline`` (a git revision, its ``ovavebench/`` package extracted
to a temp folder), and it prints seconds and CPU seconds (ms per clip), the peak memory (max RSS) of that process,
and the ratios.
A peak that stays flat from 2,000 to 24,800 clips is what "does not hold the benchmark in memory" means here.

``--read-back`` also times reading one WebDataset export back with ``webdataset`` against the PNG folders.

    python benchmarks/publish_bench.py [--clips 2000,24800] [--width 64 --height 36] [--baseline 33a143d]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ovavebench.benchmark import Labels, write_benchmark  # noqa: E402
from ovavebench.media.decode import write_png  # noqa: E402

DISTINCT = 20  # distinct generated clips; the others are hard links to them
BASELINE = "33a143d"  # before the exports hashed while writing and dropped the per-record stats (#31)

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from ovavebench.publish import collect
kind, bench, media, out = sys.argv[2:6]
start = time.perf_counter()
collection = collect(bench, media)
if kind == "hf":
    from ovavebench.publish.hf import export_hf
    export_hf(collection, out)
else:
    from ovavebench.publish.webdataset import export_webdataset
    export_webdataset(collection, out, shard_bytes=256 * 10**6)
print(time.perf_counter() - start)
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS (Linux carries it over the exec)
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def make_templates(root: Path, width: int, height: int) -> list[Path]:
    """A few distinct clips (frames with noise, PNG sizes like real ones at that size; a tone each)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    out = []
    for i in range(DISTINCT):
        folder = root / "templates" / f"t{i:02d}"
        (folder / "frames").mkdir(parents=True)
        for k in range(10):
            base = ((x * (i % 7 + 1) + y * (k + 1)) % 256).astype(np.uint8)
            noisy = np.clip(base[..., None] + rng.integers(-3, 4, (height, width, 3)), 0, 255).astype(np.uint8)
            write_png(folder / "frames" / f"{k}.png", noisy)
        t = np.arange(160_000) / 16_000
        soundfile.write(
            folder / "audio.wav", (0.2 * np.sin(2 * np.pi * (220 + i) * t) * 32767).astype(np.int16), 16_000
        )
        out.append(folder)
    return out


def make_benchmark(root: Path, clips: int, templates: list[Path]) -> tuple[Path, Path]:
    """N clip folders of hard links to the templates, and a benchmark folder (train/val/test 6:2:2) naming them."""
    import pandas as pd

    media, ids, classes = root / "media", [], ["dog barking", "playing piano", "race car"]
    for i in range(clips):
        vid = f"b{i:010d}"
        folder = media / f"{vid}_000000"
        (folder / "frames").mkdir(parents=True)
        template = templates[i % len(templates)]
        for k in range(10):
            os.link(template / "frames" / f"{k}.png", folder / "frames" / f"{k}.png")
        os.link(template / "audio.wav", folder / "audio.wav")
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
    rng = np.random.default_rng(1)
    labels = Labels(ids, [classes[i % 3] for i in range(clips)], rng.integers(0, 2, (clips, 10)).astype(np.uint8))
    write_benchmark(root / "bench", meta, labels, classes, classes[1:])
    return root / "bench", media


def run_export(code: Path, kind: str, bench: Path, media: Path, out: Path) -> tuple[float, float, float]:
    """(seconds, CPU seconds, peak RSS in MB: its VmHWM) of one export in a fresh process running ``code``'s package.

    The CPU seconds (user + system) are the figure to compare on a shared machine: wall time there mostly
    measures how long the process waited for a core."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(code), kind, str(bench), str(media), str(out)],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(code)},
        )
        _, status, usage = os.wait4(process.pid, 0)  # this child's own CPU time, not all children's
        stdout.seek(0)
        stderr.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"export {kind} ({code}) failed:\n{stderr.read().decode()[-2000:]}")
        seconds, peak_kib = stdout.read().decode().strip().splitlines()[-2:]
    return float(seconds), usage.ru_utime + usage.ru_stime, int(peak_kib) / 1024


def baseline_code(rev: str, into: Path) -> Path:
    """The ``ovavebench`` package of git revision ``rev``, extracted under ``into``."""
    into.mkdir(parents=True)
    # Older revisions kept the taxonomy outside the package (manifests/classes.csv); newer ones ship it inside.
    old_taxonomy = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{rev}:manifests/classes.csv"]).returncode
    paths = ["ovavebench"] + (["manifests/classes.csv"] if old_taxonomy == 0 else [])
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, *paths], capture_output=True)
    if archive.returncode:
        raise SystemExit(f"--baseline {rev}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def read_back(tars: list[str], records_root: Path) -> tuple[float, float]:
    """Seconds to read every clip from the PNG folders and from the tar shards (frames decoded, samples read)."""
    import webdataset as wds

    start = time.perf_counter()
    for folder in sorted(records_root.iterdir()):
        for k in range(10):
            np.asarray(Image.open(folder / "frames" / f"{k}.png").convert("RGB"))
        soundfile.read(folder / "audio.wav", dtype="int16")
    folders_s = time.perf_counter() - start
    start = time.perf_counter()
    for sample in wds.WebDataset(tars, shardshuffle=False, empty_check=False):
        for k in range(10):
            np.asarray(Image.open(io.BytesIO(sample[f"{k}.png"])).convert("RGB"))
        soundfile.read(io.BytesIO(sample["wav"]), dtype="int16")
    return folders_s, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default="2000,24800", help="comma-separated clip counts")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--height", type=int, default=36)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with ('' for none)")
    parser.add_argument("--kinds", default="hf,webdataset")
    parser.add_argument("--read-back", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.clips.split(",")]
    kinds = args.kinds.split(",")
    print(f"{os.cpu_count()} CPU(s); frames {args.width}x{args.height}; {DISTINCT} distinct clips, hard-linked")
    with tempfile.TemporaryDirectory(prefix="publish-bench-") as tmp:
        root = Path(tmp)
        templates = make_templates(root, args.width, args.height)
        old = baseline_code(args.baseline, root / "baseline") if args.baseline else None
        for n in counts:
            start = time.perf_counter()
            bench, media = make_benchmark(root / f"n{n}", n, templates)
            print(f"\n{n:,} clips: synthetic benchmark built in {time.perf_counter() - start:.1f} s", flush=True)
            for kind in kinds:
                new_s, new_cpu, new_mb = run_export(REPO, kind, bench, media, root / f"n{n}" / f"{kind}-new")
                line = (
                    f"  export {kind:<10} {new_s:6.1f} s ({1000 * new_s / n:5.2f} ms/clip), CPU {new_cpu:6.1f} s "
                    f"({1000 * new_cpu / n:5.2f} ms/clip), peak {new_mb:4.0f} MB"
                )
                if old is not None:
                    old_s, old_cpu, old_mb = run_export(old, kind, bench, media, root / f"n{n}" / f"{kind}-old")
                    line += (
                        f"  |  {args.baseline}: {old_s:6.1f} s, CPU {old_cpu:6.1f} s, peak {old_mb:4.0f} MB"
                        f"  |  CPU {old_cpu / new_cpu:4.2f}x less, wall {old_s / new_s:4.2f}x, "
                        f"{new_mb / old_mb:4.2f}x the memory"
                    )
                print(line, flush=True)
            if args.read_back and "webdataset" in kinds:
                tars = sorted(str(p) for p in (root / f"n{n}" / "webdataset-new").glob("*.tar"))
                folders_s, shards_s = read_back(tars, media)
                print(
                    f"  read back: PNG folders {n / folders_s:7.1f} clips/s, WebDataset tar {n / shards_s:7.1f} "
                    f"clips/s ({folders_s / shards_s:.2f}x the folders)"
                )


if __name__ == "__main__":
    main()
