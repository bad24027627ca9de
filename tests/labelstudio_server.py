"""A real Label Studio server on 127.0.0.1 for the tests and the annotation benchmark.

Label Studio's pins clash with ours, so it lives in its own virtualenv
(``$OVAVEBENCH_LS_VENV``, default ``<repo>/.ls-venv``), installed on first use.
A cold start takes ~40 s, so one server serves a whole test run.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABEL_STUDIO_VERSION = "1.23.2"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-123"
ADMIN_TOKEN = "ovavebench0test0token0123456789abcdef"


def venv_dir() -> Path:
    return Path(os.environ.get("OVAVEBENCH_LS_VENV", REPO / ".ls-venv"))


def ensure_installed() -> Path:
    """The ``label-studio`` executable, installing it into its own venv if missing."""
    venv = venv_dir()
    exe = venv / "bin" / "label-studio"
    marker = venv / f".installed-{LABEL_STUDIO_VERSION}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes: one installs, the other waits
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    f"label-studio=={LABEL_STUDIO_VERSION}",
                ],
                check=True,
                timeout=1800,
            )
            marker.touch()
    return exe


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabelStudioServer:
    """Start ``label-studio`` with a temporary data dir; stop it (and its children) on exit."""

    def __init__(self, data_dir: Path, document_root: Path, startup_timeout_s: float = 300):
        self.data_dir = data_dir
        self.document_root = document_root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ADMIN_TOKEN
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None

    def start(self) -> LabelStudioServer:
        exe = ensure_installed()
        env = {
            **os.environ,
            "LABEL_STUDIO_USERNAME": ADMIN_EMAIL,
            "LABEL_STUDIO_PASSWORD": ADMIN_PASSWORD,
            "LABEL_STUDIO_USER_TOKEN": ADMIN_TOKEN,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(self.document_root),
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "w")
        self.process = subprocess.Popen(
            [
                str(exe),
                "start",
                "--no-browser",
                "--port",
                str(self.port),
                "--internal-host",
                "127.0.0.1",
                "--data-dir",
                str(self.data_dir),
                "--username",
                ADMIN_EMAIL,
                "--password",
                ADMIN_PASSWORD,
                "--user-token",
                ADMIN_TOKEN,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"label-studio exited ({self.process.returncode}); see {self.data_dir / 'server.log'}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"label-studio did not answer on {self.url} within {self.startup_timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
