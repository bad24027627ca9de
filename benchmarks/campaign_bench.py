"""A labelling campaign at the benchmark's size: ``annotate export`` (file mode) of N synthetic clips.

Builds a synthetic media folder of N clips cheaply (every clip's 10 frames and audio.wav are hard links to one
generated clip), then, each in a fresh child process so that its peak memory is its own:

1. the first export (round 1, two annotators) at each ``--sizes`` N;
2. round 3's export at the largest N, every clip disagreeing (the worst case: every clip adjudicated), with the
   round 1 and 2 answers written straight into the store beforehand (not timed);

and prints per run: wall time, ms per clip, KB of new files per clip (everything the export created: the store,
the task files, and anything it wrote into the media folder), peak memory (the child's own high-water mark,
VmHWM), the largest task file, and the ratio to the previous implementation, run from git (``--previous REV``,
extracted with ``git archive`` into a temporary folder) on the same media at the sizes in ``--previous-sizes``.

    python benchmarks/campaign_bench.py [--sizes 2000,24800] [--previous 2807a96] [--previous-sizes 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

REPO = Path(__file__).resolve().parent.parent

# Run in the child: one export, then its own peak memory (VmHWM, KiB) and wall time as JSON.
CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ovavebench.annotate import export_round
from ovavebench.manifest import read_manifest
start = time.perf_counter()
manifest = read_manifest(sys.argv[2])
report = export_round(manifest, sys.argv[3], int(sys.argv[4]), sys.argv[5].split(","), sys.argv[6], sys.argv[7])
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS (Linux carries it over the exec)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "tasks": sum(report.tasks.values()), "peak_kib": peak}))
"""


def make_media(media: Path, n: int) -> Path:
    """N clips of hard links to one generated clip (320x240 frames, 10 s of 16 kHz audio); returns the manifest."""
    template = media.parent / f"{media.name}-template"
    (template / "frames").mkdir(parents=True)
    for k in range(10):
        Image.new("RGB", (320, 240), (20 * k, 120, 200)).save(template / "frames" / f"{k}.png")
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(160_000) / 16_000)
    soundfile.write(template / "audio.wav", (tone * 32767).astype(np.int16), 16_000, subtype="PCM_16")
    rows = ["clip_id,youtube_id,start_s,end_s,class_name"]
    for i in range(n):
        clip = media / f"c{i:010d}_000000"
        (clip / "frames").mkdir(parents=True)
        for k in range(10):
            os.link(template / "frames" / f"{k}.png", clip / "frames" / f"{k}.png")
        os.link(template / "audio.wav", clip / "audio.wav")
        rows.append(f"{clip.name},c{i:010d},0,10,class {i % 67:02d}")
    manifest = media.parent / f"{media.name}.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def subset(manifest: Path, n: int) -> Path:
    lines = manifest.read_text().splitlines()
    path = manifest.with_name(f"{manifest.stem}-{n}.csv")
    path.write_text("\n".join(lines[: n + 1]) + "\n")
    return path


def tree_bytes(*folders: Path, only: str | None = None) -> tuple[int, int]:
    """(bytes, files) below ``folders`` (``only``: files whose path contains it)."""
    size = files = 0
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(dirpath, name)
                if only is None or only in path:
                    size += os.stat(path).st_size
                    files += 1
    return size, files


def run_export(code: Path, manifest: Path, media: Path, round_no: int, work: Path, out: Path) -> dict:
    before, _ = tree_bytes(media, only=f"{os.sep}seconds{os.sep}")
    command = [sys.executable, "-c", CHILD, str(code), str(manifest), str(media), str(round_no), "ann1,ann2"]
    done = subprocess.run([*command, str(work), str(out)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"export failed ({code}):\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    in_media, _ = tree_bytes(media, only=f"{os.sep}seconds{os.sep}")  # the previous implementation's copies
    written, files = tree_bytes(work, out)
    figures["new_bytes"] = written + in_media - before
    figures["largest_file"] = max((p.stat().st_size for p in out.glob("*.json")), default=0)
    figures["task_files"] = len(list(out.glob("*.json")))
    figures["new_files"] = files
    return figures


def disagree_everywhere(work: Path) -> None:
    """Rounds 1 and 2 answered for every clip of round 1's plan, the two answers different on every clip."""
    conn = sqlite3.connect(work / "annotate.sqlite")
    with conn:
        clips = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = 1").fetchall()
        other = {"ann1": "ann2", "ann2": "ann1"}
        conn.executemany("INSERT OR IGNORE INTO assignments VALUES (?, 2, ?)", [(c, other[a]) for c, a in clips])
        rows = [(c, 1, a, "1111100000", 0, 1.0) for c, a in clips] + [
            (c, 2, other[a], "1111110000", 0, 1.0) for c, a in clips
        ]
        conn.executemany(
            "INSERT INTO annotations (clip_id, round, annotator, answers, clip_flag, imported_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()


def line(label: str, n: int, f: dict, previous: dict | None) -> str:
    ratio = (
        f"; previous implementation {f['previous_s']:.1f} s, {previous['new_bytes'] / 1024 / n:.1f} KB/clip, "
        f"{previous['peak_kib'] / 1024:.0f} MB peak -> {previous['seconds'] / f['seconds']:.0f}x faster, "
        f"{previous['new_bytes'] / f['new_bytes']:.0f}x fewer bytes written, "
        f"peak memory x{f['peak_kib'] / previous['peak_kib']:.2f}"
        if previous
        else ""
    )
    return (
        f"{label} N={n:>6,}: {f['seconds']:6.1f} s = {1000 * f['seconds'] / n:5.2f} ms/clip, "
        f"{f['new_bytes'] / 1024 / n:6.1f} KB/clip of new files ({f['new_files']:,} files, {f['task_files']} task "
        f"file(s), largest {f['largest_file'] / 1e6:.1f} MB), peak memory {f['peak_kib'] / 1024:.0f} MB{ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,24800")
    parser.add_argument("--previous", default="2807a96", help="The git revision to compare with ('' for none).")
    parser.add_argument(
        "--previous-sizes",
        default="2000",
        help="Sizes to run the previous implementation at (it writes 10 wav files per clip: 24,800 clips take "
        "~half an hour of disk writes).",
    )
    parser.add_argument("--round3", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    previous_sizes = [int(s) for s in args.previous_sizes.split(",") if s] if args.previous else []
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    try:
        previous_code = None
        if previous_sizes:
            previous_code = root / "previous"
            previous_code.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.previous, "ovavebench"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(previous_code)], input=archive, check=True)
        t = time.perf_counter()
        manifest = make_media(root / "media", max(sizes))
        print(f"media for {max(sizes):,} clips (hard links) in {time.perf_counter() - t:.1f} s", flush=True)
        for n in sizes:
            chosen = subset(manifest, n)
            prev = None
            if n in previous_sizes and previous_code is not None:
                # its own media folder: it writes seconds/*.wav into it
                prev_manifest = make_media(root / f"media-previous-{n}", n)
                prev = run_export(
                    previous_code,
                    prev_manifest,
                    root / f"media-previous-{n}",
                    1,
                    root / f"work-previous-{n}",
                    root / f"tasks-previous-{n}",
                )
                shutil.rmtree(root / f"media-previous-{n}")
            ours = run_export(REPO, chosen, root / "media", 1, root / f"work-{n}", root / f"tasks-{n}")
            if prev:
                ours["previous_s"] = prev["seconds"]
            print(line("first export (round 1, 2 annotators)", n, ours, prev), flush=True)
        if args.round3:
            n = max(sizes)
            work = root / f"work-{n}"
            disagree_everywhere(work)
            ours = run_export(REPO, subset(manifest, n), root / "media", 3, work, root / f"tasks3-{n}")
            ours["new_bytes"] = tree_bytes(root / f"tasks3-{n}")[0]  # the store existed already
            print(line("round 3 export (every clip disagreeing)", n, ours, None), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
