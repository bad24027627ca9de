"""The light core: `pip install ovavebench` (no extra) loads a benchmark, computes the metrics and scores, with
intervals, importing none of the heavy libraries; a command that needs an extra says which in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .wheel_env import build_wheel, light_venv, python_of, run, script

# What `import ovavebench`, `ovavebench.score(...)`, `ovavebench.load_benchmark(...)` and the metric functions must
# never import (pyproject's extras bring them).
FORBIDDEN = [
    "torch",
    "ray",
    "label_studio_sdk",
    "yt_dlp",
    "av",
    "transformers",
    "datasets",
    "crowdkit",
    "matplotlib",
    "pandas",
    "pyarrow",
    "soundfile",
    "PIL",
]

# Run in a subprocess: score every parity case through the public API, load the benchmark, call the metric
# functions and the intervals, then report which forbidden modules got imported. With BLOCK=1 each forbidden
# module is made unimportable first (sys.modules[name] = None), as in an environment without the extras.
CHECK = r"""
import json, sys
from pathlib import Path

FORBIDDEN, REFERENCE, BLOCK = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
if BLOCK:
    for name in FORBIDDEN:
        sys.modules[name] = None
import numpy as np

import ovavebench

out = {"file": ovavebench.__file__, "cases": {}}
for expected_path in sorted((REFERENCE / "scoring").glob("*.expected.json")):
    name = expected_path.name[: -len(".expected.json")]
    predictions = json.loads((REFERENCE / "scoring" / f"{name}.predictions.json").read_text())
    result = ovavebench.score(predictions, REFERENCE / "ovavebench", split=name.split("_")[0])
    out["cases"][name] = result.to_dict()
bench = ovavebench.load_benchmark(REFERENCE / "ovavebench")
test = bench.videos("test")
true_class = np.array([bench.class_index(v) for v in test])
flags = np.stack([bench.segment_labels(v) for v in test])
pred = np.where(flags == 1, true_class[:, None], len(bench.classes))  # the truth itself: every metric is 1
acc, seg, eve = ovavebench.per_video_metrics(pred, true_class, flags, len(bench.classes))
out["perfect"] = [float(acc.mean()), float(seg.mean()), float(eve.mean())]
out["segment_f1"] = float(ovavebench.segment_f1(pred, true_class, flags, len(bench.classes)).mean())
intervals = ovavebench.bootstrap(result, resamples=200, seed=0)
out["interval"] = [intervals["total"]["avg"].low, intervals["total"]["avg"].high]
out["classes"] = [len(bench.classes), len(bench.seen_classes), len(bench.unseen_classes)]
out["imported"] = sorted(n for n in FORBIDDEN if sys.modules.get(n) is not None)
print(json.dumps(out))
"""


def _check_cases(out: dict, reference: Path) -> None:
    for name, got in out["cases"].items():
        expected = json.loads((reference / "scoring" / f"{name}.expected.json").read_text())
        for group in ("seen", "unseen", "total"):
            assert got[group]["videos"] == expected[group]["videos"], (name, group)
            for metric in ("acc", "seg_f1", "eve_f1", "avg"):
                assert got[group][metric] == pytest.approx(expected[group][metric], abs=1e-9), (name, group, metric)
    assert len(out["cases"]) == len(list((reference / "scoring").glob("*.expected.json"))) >= 3
    assert out["perfect"] == [1.0, 1.0, 1.0] and out["segment_f1"] == 1.0
    assert 0 < out["interval"][0] <= out["interval"][1] <= 1
    assert out["classes"] == [67, 46, 21]


def test_score_load_and_metrics_import_no_heavy_library(reference):
    result = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(FORBIDDEN), str(reference), "0"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["imported"] == []  # nothing heavy came in through a side door
    _check_cases(out, reference)


def test_score_load_and_metrics_work_with_every_extra_missing(reference):
    result = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(FORBIDDEN), str(reference), "1"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    _check_cases(json.loads(result.stdout), reference)


# The command line with every extra missing: `score` works (with intervals); a command that needs an extra fails in
# one line naming it.
CLI = r"""
import json, sys
for name in json.loads(sys.argv[1]):
    sys.modules[name] = None
from ovavebench.cli import run
sys.exit(run(sys.argv[2:]))
"""


def _cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, json.dumps(FORBIDDEN), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_cli_scores_without_extras_and_names_the_extra_a_command_needs(reference, ovave_ref, tmp_path):
    case = reference / "scoring" / "test_noisy_1"
    result = _cli("score", f"{case}.predictions.json", "--benchmark", ovave_ref, "--json")
    assert result.returncode == 0, result.stderr
    expected = json.loads(Path(f"{case}.expected.json").read_text())
    assert json.loads(result.stdout)["total"]["avg"] == pytest.approx(expected["total"]["avg"], abs=1e-9)
    result = _cli("score", f"{case}.predictions.json", "--benchmark", ovave_ref, "--ci", "--bootstrap", "200")
    assert result.returncode == 0 and "intervals" in result.stdout, result.stderr
    for args, extra in (
        (["download", "--manifest", tmp_path / "m.csv", "--out", tmp_path / "media"], "download"),
        (["score", f"{case}.predictions.json", "--benchmark", ovave_ref, "--plots", tmp_path / "p"], "plots"),
    ):
        result = _cli(*args, cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert f'pip install "ovavebench[{extra}]"' in lines[0], lines


@pytest.mark.slow
def test_a_fresh_venv_with_no_extra_scores_the_parity_cases(reference, tmp_path_factory):
    """The real light install: the built wheel and its core dependencies in a fresh venv (cached between runs)."""
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    venv = light_venv(wheel)
    empty = tmp_path_factory.mktemp("empty")
    result = run([python_of(venv), "-c", CHECK, json.dumps(FORBIDDEN), reference, "0"], cwd=empty)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert Path(out["file"]).is_relative_to(venv)  # the wheel's package, not the checkout
    assert out["imported"] == []
    _check_cases(out, reference)
    missing = run(
        [python_of(venv), "-c", f"import importlib.util as u; print([m for m in {FORBIDDEN!r} if u.find_spec(m)])"]
    )
    assert missing.stdout.strip() == "[]"  # truly none of the extras is installed
    case = reference / "scoring" / "val_shifted_2"
    result = run(
        [
            script(venv),
            "score",
            f"{case}.predictions.json",
            "--benchmark",
            reference / "ovavebench",
            "--split",
            "val",
            "--json",
        ],
        cwd=empty,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["avg"] == pytest.approx(
        json.loads(Path(f"{case}.expected.json").read_text())["total"]["avg"], abs=1e-9
    )
    result = run([script(venv), "download", "--manifest", empty / "m.csv", "--out", empty / "media"], cwd=empty)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert re.fullmatch(
        r'error: this command needs \w+, which is not installed: pip install "ovavebench\[download\]"', line
    )
