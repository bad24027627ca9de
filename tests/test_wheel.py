"""From a wheel, not only from a checkout: the built wheel, installed non-editable in a fresh venv, works from an
empty folder (demo, score, a baseline config by name, the results table with the shipped paper's numbers).

The venv is fresh and holds the wheel installed with ``--no-deps``; the extras' packages (torch, pandas, yt-dlp, …)
come from this checkout's ``.venv`` through a ``.pth`` line, so nothing is downloaded (see tests/wheel_env.py).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from .wheel_env import REPO, build_wheel, full_venv, python_of, run, script

pytestmark = pytest.mark.slow

# What a user without a checkout needs from inside the package.
DATA_FILES = [
    "ovavebench/py.typed",
    "ovavebench/classes.csv",
    "ovavebench/baselines/published.json",
    "ovavebench/baselines/avllm/prompts.json",
    "ovavebench/baselines/configs/zero_shot.json",
    "ovavebench/baselines/configs/finetune_psp.json",
    "ovavebench/annotate/assets/label_config.xml",
    "ovavebench/annotate/assets/GUIDELINES.md",
]

# A feature store over every video of a benchmark (random embeddings, the benchmark's classes and `other` as text):
# what `features extract` writes, without the ImageBind weights a test cannot download.
STORE = r"""
import sys
import numpy as np
import ovavebench
from ovavebench.features import FeatureStore

bench = ovavebench.load_benchmark(sys.argv[1])
videos = [v for split in ("train", "val", "test") for v in bench.videos(split)]
rng = np.random.default_rng(0)
dim = 32
with FeatureStore(sys.argv[2], create=True) as store:
    store.set_meta({"checkpoint_sha256": "random", "preprocessing": "random", "model_config": {"dim": dim}})
    store.add_batch(
        videos,
        rng.standard_normal((len(videos), 10, dim)).astype(np.float32),
        rng.standard_normal((len(videos), 10, dim)).astype(np.float32),
    )
    store.set_text(bench.classes + ["other"], rng.standard_normal((len(bench.classes) + 1, dim)).astype(np.float32))
print(len(videos))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    return wheel, full_venv(tmp_path_factory.mktemp("venv") / "venv", wheel)


def test_the_wheel_ships_the_package_data_and_nothing_of_the_checkout(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert [f for f in DATA_FILES if f not in names] == []
    assert not [n for n in names if n.startswith(("tests/", "baselines/", "annotation/", "manifests/", "docs/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_from_an_empty_folder_demo_score_and_a_baseline_config_by_name(installed, tmp_path):
    _, venv = installed
    ovavebench = script(venv)
    where = run(
        [
            python_of(venv),
            "-c",
            "import importlib.metadata as m, ovavebench; print(ovavebench.__file__); "
            "print(ovavebench.__version__ == m.version('ovavebench'))",
        ],
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    package_file, same_version = where.stdout.split()
    assert Path(package_file).is_relative_to(venv) and same_version == "True"  # the wheel's copy, not the checkout
    assert not Path(package_file).is_relative_to(REPO)

    demo = run([ovavebench, "demo", "--size", "small", "--out", "demo"], cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    bench = tmp_path / "demo" / "benchmark"
    scored = run(
        [ovavebench, "score", "demo/predictions/truth_noisy.json", "--benchmark", bench, "--json"], cwd=tmp_path
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["total"]["videos"] > 0

    made = run([python_of(venv), "-c", STORE, bench, tmp_path / "store"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    zero = run(
        [ovavebench, "baseline", "zero-shot", "--features", "store", "--benchmark", bench, "--out", "zs.json"]
        + ["--config", "zero_shot"],
        cwd=tmp_path,
    )
    assert zero.returncode == 0, zero.stderr
    assert json.loads((tmp_path / "zs.json").read_text())["meta"]["config"] == "zero_shot.json"
    tuned = run(
        [ovavebench, "baseline", "finetune", "--features", "store", "--benchmark", bench, "--out", "run"]
        + ["--config", "finetune_psp", "--epochs", "1", "--batch-size", "4"],
        cwd=tmp_path,
    )
    assert tuned.returncode == 0, tuned.stdout[-2000:] + tuned.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["temporal"] == "psp" and config["epochs"] == 1 and config["grad_clip"] == 0.8  # the shipped row
    predicted = run(
        [ovavebench, "baseline", "predict", "--run", "run", "--features", "store", "--benchmark", bench]
        + ["--out", "ft.json", "--config", "finetune_psp"],
        cwd=tmp_path,
    )
    assert predicted.returncode == 0, predicted.stderr
    scored = run([ovavebench, "score", "ft.json", "--benchmark", bench, "--out", "ft.score.json"], cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert json.loads((tmp_path / "ft.score.json").read_text())["meta"]["config"] == "finetune_psp.json"
    table = run([ovavebench, "results", "ft.score.json", "--out", "RESULTS.md"], cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "finetune_psp" in (tmp_path / "RESULTS.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["demo", "store", "zs.json", "run", "ft.json", "ft.score.json", "RESULTS.md"]
    )  # everything written where it was asked for, nothing beside
