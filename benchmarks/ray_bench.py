"""Egress-bound download on Ray: clips per second with 1, 2 and 4 actors, each behind its own egress.

The local server serves each egress at most ``--rate`` requests per second (the
way YouTube rations an IP), and each actor reaches it through a tiny forwarding
proxy on 127.0.0.1 whose requests leave from its own loopback address
(127.0.0.2, 127.0.0.3, …). The work is egress-bound, so N actors should fetch
about N times as fast. Goal: >= 0.8 x N times the one-actor rate at N = 4.
Printed beside the single-machine `download` on one egress (no Ray).

    python benchmarks/ray_bench.py [--rate 4] [--clips-per-actor 24]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import ray

from ovavebench.download import DownloadOptions, download_clips
from ovavebench.testing.localserver import ForwardingProxy, LocalServer
from ovavebench.testing.synth import linked_window_source


def make_source(root: Path, clips: int) -> Path:
    return linked_window_source(root, [f"bench{i:06d}" for i in range(clips)], seed=9)


def run(root: Path, manifest: Path, clips: int, actors: int, rate: float, use_ray: bool) -> float:
    frame = pd.read_csv(manifest).head(clips)
    with LocalServer(root) as server, ExitStack() as stack:
        server.set_rate(rate)
        proxies = tuple(stack.enter_context(ForwardingProxy(f"127.0.0.{2 + i}")).url for i in range(actors))
        options = DownloadOptions(
            workers=4 * actors,
            url_template=server.base_url + "videos/{youtube_id}.mp4",
            proxies=proxies if use_ray or actors > 1 else (),
            proxy=None if use_ray or actors > 1 else proxies[0],
            ray="local" if use_ray else None,
            max_attempts=2,
        )
        out = root / f"media-{actors}-{int(use_ray)}"
        start = time.perf_counter()
        summary = download_clips(frame, out, options)
        elapsed = time.perf_counter() - start
        shutil.rmtree(out)
    assert summary.done == clips, summary
    return clips / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=4.0, help="Requests per second the server allows each egress.")
    parser.add_argument("--clips-per-actor", type=int, default=24)
    parser.add_argument("--actors", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.actors.split(",")]
    root = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    try:
        manifest = make_source(root, args.clips_per_actor * max(counts))
        print(
            f"server: {args.rate:g} requests/s per egress (2 requests per clip); {args.clips_per_actor} clips per actor"
        )
        single = run(root, manifest, args.clips_per_actor, 1, args.rate, use_ray=False)
        print(f"one machine, one egress (no Ray): {single:.2f} clips/s")
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        rates = {}
        for n in counts:
            rates[n] = run(root, manifest, args.clips_per_actor * n, n, args.rate, use_ray=True)
            print(f"Ray, {n} actor(s): {rates[n]:.2f} clips/s = {rates[n] / rates[counts[0]]:.2f}x one actor")
        top = max(counts)
        ratio = rates[top] / rates[counts[0]]
        print(
            f"{top} actors vs 1: {ratio:.2f}x (goal >= {0.8 * top:.1f}x); one actor vs one machine: "
            f"{rates[counts[0]] / single:.2f}x"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
