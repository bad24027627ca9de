"""lmms-eval's own environment for the tests. lmms-eval 0.7.3 cannot be installed beside the suite's extras: it
requires torchvision, and the torchvision wheel that matches the suite's pinned CPU build of torch (torch 2.13.0+cpu,
a local wheel) is built against PyPI's torch, so ``import lmms_eval.evaluator`` fails (transformers imports
torchvision: "operator torchvision::nms does not exist"); it also pins ``av<16`` (the suite has PyAV 18). So the
lmms-eval test runs the toolkit in a virtualenv of the AV-LLM test's torch + torchvision + transformers plus
lmms-eval (``$OVAVEBENCH_LMMS_VENV``, default ``~/.cache/ovavebench/test-venvs/lmms-<pins>``: about 6 GB, installed
once per machine, about 5 minutes), with this checkout on ``PYTHONPATH``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from .avllm_env import PINS as AVLLM_PINS
from .avllm_env import REPO

PINS = (*AVLLM_PINS, "lmms-eval==0.7.3")
# What the toolkit's task and model adapter read besides the core (the media readers, pandas), and filelock<4:
# lmms-eval 0.7.3 patches filelock._api, which filelock 4 no longer has.
EXTRA = ("pandas>=2.0", "soundfile>=0.12", "pillow>=10", "filelock<4")


def venv_dir() -> Path:
    default = (
        Path.home()
        / ".cache"
        / "ovavebench"
        / "test-venvs"
        / f"lmms-{hashlib.sha256(' '.join(PINS).encode()).hexdigest()[:10]}"
    )
    return Path(os.environ.get("OVAVEBENCH_LMMS_VENV", default))


def ensure_venv() -> Path:
    """The venv's python, installing the pins and the toolkit's own dependencies (not the toolkit: PYTHONPATH)."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    marker = venv / f".installed-{hashlib.sha256(' '.join([*PINS, *EXTRA, *core]).encode()).hexdigest()[:10]}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes: one installs, the other waits
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *PINS, *EXTRA, *core], check=True, timeout=3000
            )
            marker.touch()
    return python


def run(python: Path, *args: str, timeout: float = 900, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python …`` in the venv with this checkout's toolkit first on the path, offline."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "WANDB_MODE": "disabled",
    }
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
