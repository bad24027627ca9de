"""`download --archive` at size: ms/clip, KB/clip written, peak memory, and the ratio to the URL path.

A synthetic archive of N clips is built cheaply: a few rendered videos (10 s windows, as most of the authors'
raw files are, and a 24 s whole video, cut at its start) hard-linked under N different video ids, in class
subfolders. ``download --archive`` then runs over all N through the same code as the command (``download_clips``),
in a fresh process so that its peak memory is its own. The URL path (yt-dlp's ffmpeg range cut from a local HTTP
server, then the same segmenter) runs over the first ``--url-clips`` of the same clips for the ratio.

    python benchmarks/archive_bench.py [--clips 2000] [--url-clips 200] [--workers 2] [--size 320x240] [--zip]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

CLASSES = ("dog barking", "car engine", "rain", "applause")


def build_archive(root: Path, clips: int, width: int, height: int) -> tuple[Path, Path]:
    """Folder of hard links and the manifest of their windows; returns (archive folder, manifest)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.media_sources import render

    templates = root / "templates"
    windows = [render(templates / f"window{i}.mp4", seconds=10, width=width, height=height) for i in range(3)]
    whole = render(templates / "whole.mp4", seconds=24, width=width, height=height)
    archive, rows = root / "archive", []
    for i in range(clips):
        youtube_id = f"a{i:010d}"
        folder = archive / CLASSES[i % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        is_whole = i % 10 == 9  # one clip in ten from a longer video, cut at its start
        os.link(whole if is_whole else windows[i % 3], folder / f"{youtube_id}.mp4")
        start = 7 if is_whole else 30 + i % 100  # a 10 s file is the window whatever the manifest's start
        rows.append(
            {
                "clip_id": f"{youtube_id}_{start:06d}",
                "youtube_id": youtube_id,
                "start_s": start,
                "end_s": start + 10,
                "class_name": CLASSES[i % len(CLASSES)],
                "split": "test",
            }
        )
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return archive, manifest


def url_site(root: Path, manifest: Path, clips: int) -> None:
    """The local web site the URL phase fetches from: the first ``clips`` ids, each the 24 s whole video."""
    site = root / "site" / "videos"
    site.mkdir(parents=True)
    whole = root / "templates" / "whole.mp4"
    for youtube_id in pd.read_csv(manifest)["youtube_id"].head(clips):
        os.link(whole, site / f"{youtube_id}.mp4")


def run_phase(args: argparse.Namespace) -> None:
    """One download run in this (fresh) process; prints its figures as JSON."""
    from ovavebench.download import DownloadOptions, download_clips

    manifest = pd.read_csv(args.manifest)
    if args.phase == "url":
        from ovavebench.testing.localserver import LocalServer

        # The same ids, each served as the 24 s whole video and cut at 7 s (a 10 s window file has no source
        # to cut it from): per clip, what fetching it costs against reading it from the archive.
        manifest = manifest.head(args.url_clips).assign(start_s=7, end_s=17)
        manifest["clip_id"] = manifest["youtube_id"] + "_000007"
        site = Path(args.out).parent / "site"
        with LocalServer(site) as server:
            options = DownloadOptions(workers=args.workers, url_template=server.base_url + "videos/{youtube_id}.mp4")
            summary = download_clips(manifest, args.out, options)
    else:
        options = DownloadOptions(workers=args.workers, archive=args.archive)
        summary = download_clips(manifest, args.out, options)
    # This process's own high-water mark (VmHWM): its ru_maxrss would start at the parent's RSS, which Linux carries
    # over the exec. The segmenter processes' ru_maxrss start at this process's RSS: an upper bound of theirs.
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    # After the peak is read, and with os.walk: Path.rglob keeps every path it yielded in a set (~300,000 of them at
    # 24,800 clips, ~170 MB), which the peak would otherwise count as the download's.
    written = sum(os.stat(os.path.join(d, f)).st_size for d, _, files in os.walk(args.out) for f in files)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"clips": len(manifest), "done": summary.done, "failed": summary.failed,
                      "elapsed_s": summary.elapsed_s, "written": written, "peak_kb": peak_kb,
                      "children_peak_kb": children.ru_maxrss, "cpu_s": own.ru_utime + own.ru_stime,
                      "children_cpu_s": children.ru_utime + children.ru_stime}))  # fmt: skip


def phase(args: argparse.Namespace, name: str, out: Path, archive: Path, manifest: Path) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--out", str(out), "--archive", str(archive),
               "--manifest", str(manifest), "--workers", str(args.workers),
               "--url-clips", str(args.url_clips)]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["wall_s"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--url-clips", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--zip", action="store_true", help="Also read the archive as a zip (stored members).")
    parser.add_argument("--phase", choices=["archive", "url"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--archive", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return
    width, height = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        archive, manifest = build_archive(root, args.clips, width, height)
        url_site(root, manifest, args.url_clips)
        print(
            f"archive of {args.clips:,} clips ({width}x{height}) built in {time.perf_counter() - t0:.1f} s", flush=True
        )
        sources = [("archive (folder)", archive)]
        if args.zip:
            zipped = root / "archive.zip"
            with zipfile.ZipFile(zipped, "w") as handle:
                for path in sorted(archive.rglob("*.mp4")):
                    handle.write(path, path.relative_to(archive).as_posix(), compress_type=zipfile.ZIP_STORED)
            sources.append(("archive (zip)", zipped))
        results: dict[str, dict] = {}
        for label, source in sources:
            figures = phase(args, "archive", root / f"out-{len(results)}", source, manifest)
            results[label] = figures
        url = phase(args, "url", root / "out-url", archive, manifest)
        for label, figures in [*results.items(), (f"URL path ({args.url_clips} clips)", url)]:
            ms = 1000 * figures["elapsed_s"] / figures["clips"]
            print(
                f"{label:<24} {figures['clips']:6,} clips: {figures['done']:,} done, {figures['failed']} failed, "
                f"{figures['elapsed_s']:7.1f} s = {ms:6.1f} ms/clip, "
                f"{figures['written'] / 1024 / figures['clips']:6.1f} "
                f"KB/clip written, peak {figures['peak_kb'] / 1024:5.0f} MB (the run's process)",
                flush=True,
            )
        url_ms = url["elapsed_s"] / url["clips"]
        for label, figures in results.items():
            print(f"{label} vs URL path: {url_ms / (figures['elapsed_s'] / figures['clips']):.1f}x faster per clip")
        print(f"({args.workers} workers, {os.cpu_count()} CPU cores)")


if __name__ == "__main__":
    main()
