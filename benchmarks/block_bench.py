"""A simulated rebuild against a server that rations each egress, as YouTube does: clips per hour, clips lost.

The local server (127.0.0.1) allows each egress ``--requests-per-hour`` requests
per (scaled) hour; past that it answers every request of that egress with a
block (``--answer``: YouTube's "No video formats found!" by default, or a bot
check, a sign-in wall, a 429) for ``--block-hours``. Each clip costs two requests
here (the page and the range fetch), so the run's budget is
``--max-clips-per-hour`` (default 140, under the 150 the server allows).

It runs the download stage as it is now, then the stage as it was before the
budget and block detection (loaded from git, commit ``--legacy-commit``), on the
same server and the same clips, and prints for each: clips obtained per
simulated hour, and clips wrongly marked failed (every clip here is a good
video, so every failure is wrong; "permanently" = a class that is never retried
without ``--retry-failed``). Goal: 0 wrongly failed.

    python benchmarks/block_bench.py [--clips 2000] [--hour-s 20]
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from ovavebench.download import DownloadOptions, download_clips
from ovavebench.testing.localserver import LocalServer, Quota
from ovavebench.testing.synth import linked_window_source

REPO = Path(__file__).resolve().parent.parent


def make_source(root: Path, clips: int) -> Path:
    return linked_window_source(root, [f"blk{i:08d}" for i in range(clips)], seed=5)


def load_legacy(commit: str, into: Path):  # type: ignore[no-untyped-def]
    """The download stage as it was at ``commit``, importable beside today's package.

    The whole package of that commit is extracted as ``legacy_ovb`` (its relative imports stay inside it), so the
    modules it imported may have moved or changed since without breaking the comparison.
    """
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "ovavebench"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "ovavebench").rename(into / "legacy_ovb")
    for module in (into / "legacy_ovb").rglob("*.py"):  # absolute self-references, e.g. a worker process's command
        text = module.read_text(encoding="utf-8")
        if "ovavebench." in text:
            module.write_text(text.replace("from ovavebench.", "from legacy_ovb."), encoding="utf-8")
    sys.path.insert(0, str(into))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(into), os.environ.get("PYTHONPATH")]))
    return importlib.import_module("legacy_ovb.download")


def outcome(media: Path, permanent: set[str]) -> tuple[int, int, int]:
    with sqlite3.connect(media / "download.sqlite") as conn:
        rows = conn.execute("SELECT status, error_class FROM clips").fetchall()
    done = sum(1 for s, _ in rows if s == "done")
    failed = sum(1 for s, _ in rows if s == "failed")
    lost = sum(1 for s, c in rows if s == "failed" and (c or "unknown") in permanent)
    return done, failed, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--hour-s", type=float, default=20.0, help="Real seconds per simulated hour.")
    parser.add_argument("--requests-per-hour", type=int, default=300)
    parser.add_argument("--block-hours", type=float, default=1.0)
    parser.add_argument("--answer", default="no_formats", choices=["no_formats", "bot_check", "sign_in", "rate_limit"])
    parser.add_argument("--max-clips-per-hour", type=float, default=140)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--legacy-commit", default="645604b")
    args = parser.parse_args()
    hour = args.hour_s
    root = Path(tempfile.mkdtemp(prefix="block-bench-"))
    try:
        manifest = make_source(root, args.clips)
        quota = Quota(
            requests=args.requests_per_hour, window_s=hour, block_s=args.block_hours * hour, answer=args.answer
        )
        print(
            f"{args.clips} clips; server: {args.requests_per_hour} requests per egress per simulated hour "
            f"({hour:g} s), then '{args.answer}' for {args.block_hours:g} h; one egress, {args.workers} workers"
        )

        with LocalServer(root) as server:
            server.set_quota(quota)
            options = DownloadOptions(
                workers=args.workers,
                url_template=server.base_url + "videos/{youtube_id}.mp4",
                max_clips_per_hour=args.max_clips_per_hour,
                budget_hour_s=hour,
                block_pause_s=hour / 2,
                max_blocks=10,
                backoff_s=2.0 * hour / 3600,
                backoff_max_s=120 * hour / 3600,
            )
            start = time.perf_counter()
            summary = download_clips(manifest, root / "now", options)
            elapsed = time.perf_counter() - start
        from ovavebench.download.failures import ALL_CLASSES

        done, failed, lost = outcome(root / "now", {c.name for c in ALL_CLASSES.values() if not c.transient})
        per_hour_now = done / (elapsed / hour)
        print(
            f"now:    {done:,} done, {summary.pending_left:,} pending, {failed:,} wrongly failed "
            f"({lost:,} permanently) in {elapsed / hour:.1f} simulated h: {per_hour_now:.0f} clips per hour"
        )

        try:
            legacy = load_legacy(args.legacy_commit, root / "legacy")
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            print(f"before: not measured (the legacy code at {args.legacy_commit} is not in this checkout: {exc})")
            return
        with LocalServer(root) as server:
            server.set_quota(quota)
            options = legacy.DownloadOptions(
                workers=args.workers,
                url_template=server.base_url + "videos/{youtube_id}.mp4",
                backoff_s=2.0 * hour / 3600,
                backoff_max_s=120 * hour / 3600,
            )
            start = time.perf_counter()
            legacy.download_clips(manifest, root / "before", options)
            elapsed_before = time.perf_counter() - start
        permanent_before = {c.name for c in legacy.ALL_CLASSES.values() if not c.transient}
        done_b, failed_b, lost_b = outcome(root / "before", permanent_before)
        print(
            f"before: {done_b:,} done, {failed_b:,} wrongly failed ({lost_b:,} permanently) in "
            f"{elapsed_before / hour:.1f} simulated h: {done_b / (elapsed_before / hour):.0f} clips per hour"
        )
        print(
            f"wrongly failed: {failed:,} now vs {failed_b:,} before (goal 0); "
            f"clips obtained: {done:,} now vs {done_b:,} before ({done / max(done_b, 1):.1f}x)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
