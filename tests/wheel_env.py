"""Build the wheel and make fresh virtual environments for it: what a user who runs `pip install ovavebench` gets.

Two kinds of environment:

* the light one (``light_venv``): a fresh venv with the wheel and only its core dependencies, resolved by pip from
  the package's own metadata (``pip install WHEEL``, no extra). It is cached under the temporary folder by the core
  dependency list, so later runs only reinstall the wheel;
* the full one (``full_venv``): a fresh venv with the wheel installed non-editable (``--no-deps``) whose other
  dependencies come from this checkout's ``.venv`` through a ``.pth`` line naming its site-packages (no download of
  torch and friends; the ``.pth`` files there, such as the checkout's editable install, are not processed, so
  ``ovavebench`` is the wheel's).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str | os.PathLike], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command with a clean environment for Python (no PYTHONPATH pointing back at the checkout)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def build_wheel(out: Path) -> Path:
    """``pip wheel`` of the checkout, offline (hatchling from the dev extra, no build isolation)."""
    result = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, REPO])
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("ovavebench-*.whl")
    return wheel


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def _create(venv: Path) -> Path:
    result = run([sys.executable, "-m", "venv", "--clear", venv])
    assert result.returncode == 0, result.stderr
    return _bin(venv, "python")


def core_dependencies() -> list[str]:
    """The ``[project] dependencies`` of pyproject.toml: what the light install has."""
    return list(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


def light_venv(wheel: Path) -> Path:
    """A venv with the wheel and its core dependencies only; returns the venv folder (cached between runs)."""
    key = hashlib.sha256(
        "\n".join([sys.version, *core_dependencies(), (REPO / "constraints.txt").read_text()]).encode()
    ).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / "ovavebench-test-venvs" / f"core-{key}"
    python = _bin(venv, "python")
    if not (python.exists() and run([python, "-c", "import numpy, scipy, typer, rich, tqdm"]).returncode == 0):
        _create(venv)
    # No extra: pip installs exactly the core dependencies (from its cache or the index) and the wheel itself.
    result = run([python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    result = run([python, "-m", "pip", "install", "-q", "-c", REPO / "constraints.txt", wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


def full_venv(venv: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel (non-editable, ``--no-deps``); the extras' packages from this ``.venv``."""
    python = _create(venv)
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]  # the checkout's .venv, where the extras are installed
    Path(purelib, "ovavebench_test_deps.pth").write_text(ours + "\n")
    result = run([python, "-m", "pip", "install", "-q", "--no-deps", wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


def script(venv: Path) -> Path:
    """The ``ovavebench`` console script of a venv."""
    return _bin(venv, "ovavebench")


def python_of(venv: Path) -> Path:
    return _bin(venv, "python")
