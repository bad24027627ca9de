"""The ffmpeg that yt-dlp runs: a wrapper that keeps ffmpeg's own error messages.

yt-dlp starts ffmpeg for partial (download-range) downloads with its stderr
inherited or silenced, so the reason for a failure is lost. The wrapper written
here runs the real binary (``ffmpeg`` on PATH, else the one bundled with
imageio-ffmpeg) and appends its stderr to ``<output file>.ffmpeg.log``, beside
the file being written: per clip, so parallel downloads never mix their logs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import threading
from pathlib import Path

from ..errors import OvavebenchError

_lock = threading.Lock()
LOG_SUFFIX = ".ffmpeg.log"


def real_ffmpeg() -> str:
    """Path of a working ffmpeg binary (imageio-ffmpeg's wheel unless one is on PATH)."""
    found = shutil.which("ffmpeg")
    if found and "ovavebench-ffmpeg" not in found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a core dependency
        raise OvavebenchError("ffmpeg not found: install imageio-ffmpeg or put ffmpeg on PATH") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_wrapper_dir(cache: str | os.PathLike) -> Path:
    """A folder holding the logging ``ffmpeg`` wrapper; it is also put first on PATH.

    yt-dlp checks for ffmpeg on PATH before honouring its ``ffmpeg_location``
    option for partial downloads, hence both.
    """
    folder = Path(cache) / "ovavebench-ffmpeg"
    wrapper = folder / "ffmpeg"
    binary = real_ffmpeg()
    script = (
        "#!/bin/sh\n"
        "# Written by ovavebench: run ffmpeg, keeping its stderr beside the output file.\n"
        "for last; do :; done\n"
        'case "$last" in\n'
        f'  -*|"") exec {shlex.quote(binary)} "$@" ;;\n'
        f'  *) exec {shlex.quote(binary)} "$@" 2>>"${{last#file:}}{LOG_SUFFIX}" ;;\n'
        "esac\n"
    )
    with _lock:
        if not wrapper.exists() or wrapper.read_text() != script:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".ffmpeg.{os.getpid()}.tmp"
            tmp.write_text(script)
            tmp.chmod(0o755)
            os.replace(tmp, wrapper)
        path = os.environ.get("PATH", "")
        if str(folder) not in path.split(os.pathsep):
            os.environ["PATH"] = str(folder) + os.pathsep + path
    return folder


def read_ffmpeg_log(output_file: str | os.PathLike, max_chars: int = 2000) -> str:
    """The ffmpeg messages logged for ``output_file`` (last ``max_chars``), or ''."""
    log = Path(str(output_file) + LOG_SUFFIX)
    if not log.exists():
        return ""
    return log.read_text(errors="replace").strip()[-max_chars:]
