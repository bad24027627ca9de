"""The torchmetrics metric against ``score`` on the 5,820-video test split, and the light install against the full one.

1. ``OVAVELMetric.update`` over the split in batches (class indices, then (B, 10, 68) scores: argmax) plus
   ``compute``, against ``ovavebench.score`` of the same predictions (a ``{video_id: [10 labels]}`` mapping, the
   benchmark already loaded: both sides then do only the scoring work). Best of ``--repeat``; both must give the same
   numbers to 1e-9, and the metric must not be slower than ``score`` by more than 2x.
2. Install size: the distributions that ``pip install ovavebench`` and ``pip install "ovavebench[all]"`` resolve to,
   found by walking the requirements (``pyproject.toml`` for ovavebench's own, then each installed distribution's
   metadata, extras and markers included) in THIS environment, and summing the size on disk of every file each
   installed distribution owns (``importlib.metadata`` RECORD, stat'ed). The sizes are those of the wheels installed
   here (torch is the CPU build the test set-up pins; PyPI's default torch pulls several GB of CUDA libraries more).

    python benchmarks/metric_bench.py [--benchmark DIR] [--predictions FILE] [--batch-size 32] [--repeat 5]

Defaults: ../shared/reference/ovavebench and its parity case test_noisy_1.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def metric_figures(benchmark: Path, predictions: Path, batch_size: int, repeat: int) -> None:
    import torch

    from ovavebench.benchmark import load_benchmark
    from ovavebench.scoring import encode_predictions, read_predictions, score, split_truth
    from ovavebench.torch import OVAVELMetric

    bench = load_benchmark(benchmark)
    truth = split_truth(bench, "test")
    data, source = read_predictions(predictions)
    data = dict(data)
    pred, _, _ = encode_predictions(data, truth.video_ids, bench.classes, source)
    rows = torch.from_numpy(np.array(pred))
    target = torch.from_numpy(truth.flags.astype(np.int64))
    video_class = torch.from_numpy(np.array(truth.true_class))
    scores = torch.nn.functional.one_hot(rows, len(bench.classes) + 1).float()  # (N, 10, 68), argmax = rows
    metric = OVAVELMetric(benchmark=bench)

    def run_metric(preds: torch.Tensor) -> dict:
        metric.reset()
        for begin in range(0, len(rows), batch_size):
            end = begin + batch_size
            metric.update(preds[begin:end], target[begin:end], video_class[begin:end])
        return metric.compute()

    expected = score(data, bench, "test").to_dict()
    for preds in (rows, scores):
        got = run_metric(preds)
        worst = max(abs(got[g][m] - expected[g][m]) for g in ("seen", "unseen", "total") for m in got[g])
        assert worst <= 1e-9, f"metric and score differ by {worst}"
    t_score = _best(lambda: score(data, bench, "test"), repeat)
    t_score_path = _best(lambda: score(predictions, benchmark, "test"), max(1, repeat // 2))
    t_rows = _best(lambda: run_metric(rows), repeat)
    t_scores = _best(lambda: run_metric(scores), repeat)
    n = len(rows)
    print(f"test split: {n:,} videos, batches of {batch_size} ({-(-n // batch_size)} updates); best of {repeat}")
    print(f"  score(mapping, loaded benchmark)        {1000 * t_score:8.1f} ms   (baseline)")
    print(f"  score(file path, benchmark path)        {1000 * t_score_path:8.1f} ms   (loads both; for reference)")
    print(f"  OVAVELMetric update+compute, indices    {1000 * t_rows:8.1f} ms   {t_rows / t_score:5.2f}x score")
    print(f"  OVAVELMetric update+compute, scores     {1000 * t_scores:8.1f} ms   {t_scores / t_score:5.2f}x score")
    print("  same numbers as score to 1e-9: yes")
    verdict = "yes" if max(t_rows, t_scores) <= 2 * t_score else "NO"
    print(f"  metric within 2x of score: {verdict}")


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, set[str], str | None]:
    """(name, extras, marker) of a requirement string."""
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    return _canonical(req.name), set(req.extras), str(req.marker) if req.marker else None


def resolve(extras: set[str]) -> tuple[set[str], set[str]]:
    """(installed distributions, names not installed here) that ``ovavebench[extras]`` needs."""
    from packaging.markers import Marker

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    own = {"": project["dependencies"], **project.get("optional-dependencies", {})}
    needed: set[str] = set()
    absent: set[str] = set()
    queue: list[tuple[str, set[str]]] = [("ovavebench", extras)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, wanted = queue.pop()
        key = (name, frozenset(wanted))
        if key in seen:
            continue
        seen.add(key)
        if name == "ovavebench":  # the checkout's own lists, whatever the installed metadata says
            requirements = list(own[""]) + [r for e in sorted(wanted) for r in own.get(e, [])]
            markers_ok = [True] * len(requirements)
        else:
            try:
                dist = md.distribution(name)
            except md.PackageNotFoundError:
                absent.add(name)
                continue
            needed.add(_canonical(dist.metadata["Name"]))
            requirements, markers_ok = [], []
            for req in dist.requires or []:
                _, _, marker = _split(req)
                ok = marker is None or any(Marker(marker).evaluate({"extra": e}) for e in (wanted or {""}))
                requirements.append(req)
                markers_ok.append(ok)
        for req, ok in zip(requirements, markers_ok, strict=True):
            if not ok:
                continue
            dep, dep_extras, marker = _split(req)
            if name == "ovavebench" and marker and not Marker(marker).evaluate():
                continue
            queue.append((dep, dep_extras))
    return needed, absent


def installed_size(names: set[str]) -> int:
    total = 0
    for name in names:
        for file in md.distribution(name).files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total


def size_figures() -> None:
    light, light_absent = resolve(set())
    full, full_absent = resolve({"all"})
    light_size, full_size = installed_size(light), installed_size(full)
    print("install size (distributions resolved from the requirements, sizes of the files installed here):")
    print(f"  pip install ovavebench          {len(light):4d} distributions  {light_size / 2**20:9.1f} MiB")
    print(f"  pip install 'ovavebench[all]'   {len(full):4d} distributions  {full_size / 2**20:9.1f} MiB")
    ratio = full_size / light_size
    print(f"  light / full: {light_size / full_size:.3f} (the full install is {ratio:.0f}x the light one)")
    print(f"  light: {', '.join(sorted(light))}")
    if light_absent or full_absent:
        print(f"  not installed here (not counted): {', '.join(sorted(light_absent | full_absent))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=REFERENCE / "ovavebench")
    parser.add_argument("--predictions", type=Path, default=REFERENCE / "scoring" / "test_noisy_1.predictions.json")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-sizes", action="store_true")
    args = parser.parse_args()
    metric_figures(args.benchmark, args.predictions, args.batch_size, args.repeat)
    if not args.skip_sizes:
        size_figures()


if __name__ == "__main__":
    main()
