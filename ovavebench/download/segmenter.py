"""Segmenter processes: decode and cut clips outside the downloading threads' interpreter."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ..media.decode import MediaError


class SegmenterProcesses:
    """Processes that segment clips while the worker threads wait on the network.

    Segmenting holds the GIL between every decode call; in 16 threads that
    convoy costs more CPU than the segmenting itself, so it runs in one process
    per core instead. Each process is a fresh interpreter that imports only
    ``ovavebench.media.decode`` (~0.3 s of CPU, started in the background while the
    first clips download): a ``multiprocessing`` spawn would re-import the
    caller's whole ``__main__`` (the CLI, pandas, yt-dlp) in every process.
    A process that dies (a decoder crash on a hostile file) fails only its
    clip, as ``undecodable``, and is replaced.
    """

    _COMMAND = "from ovavebench.media.decode import serve_segmenter; serve_segmenter()"

    def __init__(self, processes: int) -> None:
        self._idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self._all: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(processes):
            self._idle.put(self._start())

    def _start(self) -> subprocess.Popen[str]:
        package_parent = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
        process = subprocess.Popen(
            [sys.executable, "-c", self._COMMAND, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        with self._lock:
            self._all.append(process)
        return process

    def segment(self, request: dict[str, Any] | Path, out_dir: Path | None = None) -> dict[str, Any]:
        """:func:`ovavebench.media.decode.segment_request` in one of the processes; its errors are raised here.

        ``request`` is the request (a dict), or a clip's path with ``out_dir`` (its window at its start)."""
        if not isinstance(request, dict):
            request = {"clip": str(request), "out": str(out_dir)}
        clip = Path(str(request.get("clip") or request.get("member")))
        process = self._idle.get()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except (OSError, ValueError):  # a dead process, or its pipe closed by close()
            line = ""
        if not line:  # the process died on this clip (or was stopped with the run)
            code = process.wait()
            if not self._closed:
                process = self._start()
                self._idle.put(process)
            raise MediaError(
                "undecodable", f"{clip.name}: the segmenter process died while decoding it (exit code {code})"
            )
        self._idle.put(process)
        reply = json.loads(line)
        if reply["ok"]:
            return {k: v for k, v in reply.items() if k != "ok"}
        if reply["kind"] == "media":
            raise MediaError(reply["error_class"], reply["message"], reply.get("duration_s"))
        if reply["kind"] == "os":
            raise OSError(reply["message"])
        raise RuntimeError(f"segmenter process failed on {clip}:\n{reply['message']}")

    def close(self) -> None:
        """End every process: idle ones at once, busy ones after their current clip is abandoned."""
        self._closed = True
        with self._lock:
            processes = list(self._all)
        for process in processes:
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _segmenter_processes(workers: int) -> SegmenterProcesses | None:
    processes = min(workers, os.cpu_count() or 1)
    if workers < 2 or processes < 2:
        return None  # one worker: segment in its thread, nothing to overlap with
    return SegmenterProcesses(processes)
