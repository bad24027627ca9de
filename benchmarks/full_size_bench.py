"""The benchmark at its full size (#31): ``download --archive``, the first annotation export, ``export hf`` and
``export webdataset`` at N = 2,000 and N = 24,800 synthetic clips, in one run.

For each N it builds, once and cheaply (hard links), the two inputs the stages start from:

- an archive of raw videos (``archive_bench.build_archive``: three rendered 10 s windows and a 24 s whole video,
  ``--size`` frames, hard-linked under N video ids in class folders), for ``download --archive``;
- a media folder in the toolkit's layout and a benchmark folder naming it (``publish_bench.make_benchmark``: 20
  distinct generated clips, 64x36 PNG frames and 10 s of 16 kHz audio, hard-linked under N clip folders), for the
  first ``annotate export`` and the two publishing exports.

Every stage runs in a fresh process, so that its peak memory (its high-water mark, VmHWM) is its own, and prints
one line: ms/clip, KB/clip (of what it wrote), peak memory in MB, and the ratio to its reference:

- ``archive``: ``download --archive`` over the N clips (2 workers by default; peak: the run's own process, and an
  upper bound of its segmenter processes') against the URL path (yt-dlp's range cut from a local HTTP server, then
  the same segmenter) over the first ``--url-clips`` clips at the same frame size, measured once per run;
- ``export``: the first ``annotate export`` (file mode, two annotators a clip) against the previous implementation
  (``--previous``, which wrote ten one-second wav files per clip), run at ``--previous-sizes`` only;
- ``round3``: round 3's export with every clip disagreeing (needs ``export`` at the same N), no reference;
- ``hf``, ``webdataset``: the publishing exports against ``--baseline`` (an earlier revision: before the exports
  hashed while writing and dropped the per-record stats). Their peak staying flat from 2,000 to 24,800 clips is
  what "does not hold the benchmark in memory" means.

The machine (cores, memory, load average) is printed first and the load again on every line: on a shared machine
the wall times are pessimistic; the CPU seconds of the publishing exports are the figure to compare there.

    python benchmarks/full_size_bench.py [--sizes 2000,24800] [--stages archive,export,round3,hf,webdataset]
        [--size 320x240] [--workers 2] [--url-clips 200] [--previous 2807a96] [--previous-sizes 2000]
        [--baseline 33a143d] [--baseline-sizes 2000,24800] [--read-back]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import archive_bench  # noqa: E402
import campaign_bench  # noqa: E402
import publish_bench  # noqa: E402

STAGES = ("archive", "export", "round3", "hf", "webdataset")


def machine() -> str:
    """Cores, memory and load: what the figures were measured on."""
    with open("/proc/meminfo") as handle:
        total_kb = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal:"))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPU cores, {total_kb / 1024**2:.1f} GiB memory, load average {load} (1/5/15 min)"


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def folder_bytes(folder: Path) -> int:
    return campaign_bench.tree_bytes(folder)[0]


def say(text: str) -> None:
    print(text, flush=True)


def figures_line(stage: str, n: int, ms: float, kb: float, peak_mb: float, ratio: str) -> str:
    return f"{stage:<22} N={n:>6,}: {ms:7.2f} ms/clip, {kb:7.1f} KB/clip, peak {peak_mb:5.0f} MB | {ratio} | {load()}"


def archive_stage(args: argparse.Namespace, root: Path, n: int, archive: Path, manifest: Path, url: dict) -> None:
    figures = archive_bench.phase(args, "archive", root / "download", archive, manifest)
    per_clip = figures["elapsed_s"] / figures["clips"]
    url_per_clip = url["elapsed_s"] / url["clips"]
    say(
        figures_line(
            "download --archive",
            n,
            1000 * per_clip,
            figures["written"] / 1024 / figures["clips"],
            figures["peak_kb"] / 1024,
            f"{figures['done']:,} done, {figures['failed']} failed, {figures['elapsed_s']:.0f} s; CPU ms/clip: "
            f"{1000 * figures['cpu_s'] / n:.1f} the run's process, {1000 * figures['children_cpu_s'] / n:.1f} the "
            f"segmenters (<= {figures['children_peak_kb'] / 1024:.0f} MB each); "
            f"{url_per_clip / per_clip:.1f}x faster than the URL path ({1000 * url_per_clip:.0f} ms/clip over "
            f"{url['clips']} clips, peak {url['peak_kb'] / 1024:.0f} MB)",
        )
    )
    shutil.rmtree(root / "download", ignore_errors=True)  # 24,800 decoded clips: gigabytes


def campaign_manifest(bench_root: Path, n: int) -> Path:
    """The annotation manifest of ``publish_bench.make_benchmark``'s clip folders (``b<i>_000000``)."""
    rows = ["clip_id,youtube_id,start_s,end_s,class_name"]
    classes = ["dog barking", "playing piano", "race car"]  # make_benchmark's
    rows += [f"b{i:010d}_000000,b{i:010d},0,10,{classes[i % 3]}" for i in range(n)]
    path = bench_root / "annotate-manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def export_stage(args: argparse.Namespace, root: Path, n: int, media: Path, previous: Path | None) -> None:
    manifest = campaign_manifest(root, n)
    prev = None
    if previous is not None and n in args.previous_sizes:
        # its own media folder: the previous implementation wrote seconds/*.wav into it
        prev_manifest = campaign_bench.make_media(root / "media-previous", n)
        prev = campaign_bench.run_export(
            previous, prev_manifest, root / "media-previous", 1, root / "work-previous", root / "tasks-previous"
        )
        shutil.rmtree(root / "media-previous", ignore_errors=True)
        shutil.rmtree(root / "media-previous-template", ignore_errors=True)
    ours = campaign_bench.run_export(campaign_bench.REPO, manifest, media, 1, root / "work", root / "tasks")
    ratio = (
        f"{ours['new_files']:,} files, {ours['task_files']} task file(s), largest {ours['largest_file'] / 1e6:.1f} MB"
    )
    if prev:
        ratio += (
            f"; previous implementation ({args.previous}): {1000 * prev['seconds'] / n:.2f} ms/clip, "
            f"{prev['new_bytes'] / 1024 / n:.1f} KB/clip, peak {prev['peak_kib'] / 1024:.0f} MB -> "
            f"{prev['seconds'] / ours['seconds']:.0f}x faster, {prev['new_bytes'] / ours['new_bytes']:.0f}x fewer "
            f"bytes, {ours['peak_kib'] / prev['peak_kib']:.2f}x the memory"
        )
    else:
        ratio += "; previous implementation not run at this N (--previous-sizes)"
    say(
        figures_line(
            "annotate export (r1)",
            n,
            1000 * ours["seconds"] / n,
            ours["new_bytes"] / 1024 / n,
            ours["peak_kib"] / 1024,
            ratio,
        )
    )


def round3_stage(root: Path, n: int, media: Path) -> None:
    work = root / "work"
    if not (work / "annotate.sqlite").exists():
        say(f"round3 N={n:,}: skipped (needs the export stage at the same N)")
        return
    campaign_bench.disagree_everywhere(work)
    manifest = root / "annotate-manifest.csv"
    ours = campaign_bench.run_export(campaign_bench.REPO, manifest, media, 3, work, root / "tasks3")
    written = folder_bytes(root / "tasks3")  # the store existed already
    say(
        figures_line(
            "annotate export (r3)",
            n,
            1000 * ours["seconds"] / n,
            written / 1024 / n,
            ours["peak_kib"] / 1024,
            f"every clip disagreeing; {ours['task_files']} task file(s), largest {ours['largest_file'] / 1e6:.1f} "
            "MB; no reference",
        )
    )


def publish_stage(
    args: argparse.Namespace, root: Path, n: int, kind: str, bench: Path, media: Path, baseline: Path | None
) -> None:
    out = root / f"{kind}-new"
    seconds, cpu, peak = publish_bench.run_export(publish_bench.REPO, kind, bench, media, out)
    written = folder_bytes(out)
    ratio = f"{seconds:.1f} s, CPU {1000 * cpu / n:.2f} ms/clip"
    if baseline is not None and n in args.baseline_sizes:
        old = root / f"{kind}-old"
        old_s, old_cpu, old_mb = publish_bench.run_export(baseline, kind, bench, media, old)
        shutil.rmtree(old, ignore_errors=True)
        ratio += (
            f"; {args.baseline}: {1000 * old_s / n:.2f} ms/clip, CPU {1000 * old_cpu / n:.2f} ms/clip, peak "
            f"{old_mb:.0f} MB -> CPU {old_cpu / cpu:.2f}x less, wall {old_s / seconds:.2f}x, {peak / old_mb:.2f}x "
            "the memory"
        )
    else:
        ratio += "; baseline not run at this N (--baseline-sizes)"
    say(figures_line(f"export {kind}", n, 1000 * seconds / n, written / 1024 / n, peak, ratio))
    if kind == "webdataset" and args.read_back:
        tars = sorted(str(p) for p in out.glob("*.tar"))
        folders_s, shards_s = publish_bench.read_back(tars, media)
        say(
            f"{'  read back':<22} N={n:>6,}: PNG folders {n / folders_s:.1f} clips/s, WebDataset tar "
            f"{n / shards_s:.1f} clips/s ({folders_s / shards_s:.2f}x the folders)"
        )
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,24800", help="comma-separated clip counts N")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--size", default="320x240", help="frame size of the archive's rendered videos")
    parser.add_argument("--workers", type=int, default=2, help="download --archive's --workers")
    parser.add_argument("--url-clips", type=int, default=200, help="clips of the URL path's sample (0: none)")
    parser.add_argument("--previous", default="2807a96", help="annotate export's previous revision ('' for none)")
    parser.add_argument("--previous-sizes", default="2000", help="Ns to run it at (24,800: ~half an hour)")
    parser.add_argument("--baseline", default=publish_bench.BASELINE, help="the exports' baseline ('' for none)")
    parser.add_argument("--baseline-sizes", default=None, help="Ns to run the baseline at (default: every N)")
    parser.add_argument("--read-back", action="store_true", help="also time reading the WebDataset shards back")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"--stages: unknown {', '.join(unknown)} (known: {', '.join(STAGES)})")
    args.previous_sizes = [int(s) for s in args.previous_sizes.split(",") if s]
    args.baseline_sizes = sizes if args.baseline_sizes is None else [int(s) for s in args.baseline_sizes.split(",")]
    width, height = (int(x) for x in args.size.split("x"))
    say(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; machine: {machine()}")
    say(f"sizes {sizes}, stages {stages}; archive videos {width}x{height}, {args.workers} workers")
    with tempfile.TemporaryDirectory(prefix="full-size-bench-") as tmp:
        top = Path(tmp)
        previous = None
        if "export" in stages and args.previous and args.previous_sizes:
            previous = publish_bench.baseline_code(args.previous, top / "previous")
        baseline = None
        if {"hf", "webdataset"} & set(stages) and args.baseline:
            baseline = publish_bench.baseline_code(args.baseline, top / "baseline")
        templates = None
        if {"export", "round3", "hf", "webdataset"} & set(stages):
            templates = publish_bench.make_templates(top, 64, 36)
        url: dict = {}
        for n in sizes:
            root = top / f"n{n}"
            root.mkdir()
            say(f"\nN = {n:,} ({time.strftime('%H:%M:%S UTC', time.gmtime())}, {load()})")
            if "archive" in stages:
                start = time.perf_counter()
                archive, manifest = archive_bench.build_archive(root, n, width, height)
                say(f"  archive of {n:,} videos ({width}x{height}, hard links) in {time.perf_counter() - start:.1f} s")
                if not url and args.url_clips:
                    # the URL path's per-clip cost does not depend on N: one sample per run, at the same size
                    archive_bench.url_site(root, manifest, args.url_clips)
                    url = archive_bench.phase(args, "url", root / "out-url", archive, manifest)
                    shutil.rmtree(root / "out-url", ignore_errors=True)
                archive_stage(args, root, n, archive, manifest, url or {"elapsed_s": float("nan"), "clips": 1,
                                                                        "peak_kb": float("nan")})  # fmt: skip
                shutil.rmtree(root / "archive", ignore_errors=True)
            if templates is not None:
                start = time.perf_counter()
                bench, media = publish_bench.make_benchmark(root, n, templates)
                say(f"  media + benchmark folder of {n:,} clips (hard links) in {time.perf_counter() - start:.1f} s")
                if "export" in stages:
                    export_stage(args, root, n, media, previous)
                if "round3" in stages:
                    round3_stage(root, n, media)
                for kind in ("hf", "webdataset"):
                    if kind in stages:
                        publish_stage(args, root, n, kind, bench, media, baseline)
            shutil.rmtree(root, ignore_errors=True)
        say(f"\ndone {time.strftime('%H:%M:%S UTC', time.gmtime())}; machine: {machine()}")


if __name__ == "__main__":
    main()
