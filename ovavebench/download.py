"""Download stage: each clip's 10 s window via yt-dlp, then one decode pass.

For every manifest row with a start time, yt-dlp fetches only
[start, start + 10) (``download_ranges``), the lowest format of at least 224p
up to ``max_height``, and :func:`ovavebench.media.segment_clip` writes the 10
middle frames and the 16 kHz mono wav. Output per clip, under ``DIR/<clip_id>/``:
``clip.mp4``, ``frames/0.png`` … ``frames/9.png``, ``audio.wav``.

State lives in ``DIR/download.sqlite``: one row per clip (status, error class,
raw message, attempts, times, bytes, checksums) and one row per attempt. A clip
is ``done`` only after its files are in place (written in a temp folder, then
renamed) and its row is committed, so a run killed at any moment resumes
cleanly. Transient failures are retried with exponential backoff and jitter; a
rate limit or bot check pauses every worker. Permanent failures are kept and
retried only with ``retry_failed``.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import itertools
import json
import os
import queue
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from .errors import OvavebenchError
from .errors_youtube import ALL_CLASSES, TRANSIENT_CLASSES, ErrorClass, classify_error
from .ffmpeg_tools import LOG_SUFFIX, ffmpeg_wrapper_dir, read_ffmpeg_log
from .ids import DEFAULT_URL_TEMPLATE, CLIP_ID_RE, make_clip_id, validate_youtube_id, video_url
from .io import atomic_open, open_sqlite_state, sha256_file
from .manifest import read_manifest
from .media import SEGMENTS, MediaError, segment_clip

DB_NAME = "download.sqlite"
TMP_DIR = ".tmp"
LOCK_NAME = ".lock"
CLIP_FILES = ["clip.mp4", *(f"frames/{k}.png" for k in range(SEGMENTS)), "audio.wav"]
STATUSES = ("pending", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    clip_id TEXT PRIMARY KEY,
    youtube_id TEXT NOT NULL,
    start_s INTEGER NOT NULL,
    end_s INTEGER NOT NULL,
    class_name TEXT,
    split TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    error_class TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    first_attempt_at REAL,
    last_attempt_at REAL,
    finished_at REAL,
    download_s REAL,
    segment_s REAL,
    bytes INTEGER,
    checksums TEXT
);
CREATE INDEX IF NOT EXISTS clips_status ON clips (status);
CREATE TABLE IF NOT EXISTS attempts (
    clip_id TEXT NOT NULL REFERENCES clips (clip_id),
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    error_class TEXT,
    error_message TEXT
);
CREATE INDEX IF NOT EXISTS attempts_clip ON attempts (clip_id);
"""


@dataclass(frozen=True)
class DownloadOptions:
    """Everything that shapes one download run."""

    workers: int = 4
    url_template: str = DEFAULT_URL_TEMPLATE
    cookies: str | None = None
    proxy: str | None = None
    min_height: int = 224
    max_height: int = 360
    max_attempts: int = 4  # per clip and run, for transient failures
    backoff_s: float = 2.0  # first retry delay; doubles each attempt (with jitter)
    backoff_max_s: float = 120.0
    socket_timeout_s: float = 30.0
    reencode: bool = False  # force keyframes at the cuts (exact packets, slower)
    retry_failed: bool = False
    retry_classes: tuple[str, ...] = ()  # with retry_failed: only failures of these error classes (empty: all)
    only_classes: tuple[str, ...] = ()  # only clips of these benchmark classes (empty: all)
    shard: tuple[int, int] | None = None  # (i, n): only clips with crc32(clip_id) % n == i
    limit: int | None = None
    cache: str | None = None  # where the ffmpeg wrapper lives (default: DIR/.tools)


    def validate(self) -> None:
        """Refuse options no run could use, before anything is written."""
        from .ids import validate_proxy, validate_url_template

        checks = [("workers", self.workers, 1), ("max_attempts", self.max_attempts, 1), ("max_height", self.max_height, 1),
                  ("min_height", self.min_height, 0)]
        for name, value, low in checks:
            if type(value) is not int or value < low:
                raise OvavebenchError(f"--{name.replace('_', '-')} must be a whole number >= {low}, got {value!r}")
        if self.limit is not None and (type(self.limit) is not int or self.limit < 0):
            raise OvavebenchError(f"--limit must be a whole number >= 0, got {self.limit!r}")
        if not self.socket_timeout_s > 0:
            raise OvavebenchError(f"--timeout must be > 0 seconds, got {self.socket_timeout_s!r}")
        if not 0 <= self.backoff_s <= self.backoff_max_s:
            raise OvavebenchError(f"--backoff must be in [0, {self.backoff_max_s:g}] seconds, got {self.backoff_s!r}")
        validate_url_template(self.url_template)
        if self.proxy is not None:
            validate_proxy(self.proxy)
        if self.cookies is not None:
            check_cookies_file(self.cookies)
        unknown = sorted(set(self.retry_classes) - set(ALL_CLASSES))
        if unknown:
            raise OvavebenchError(f"--retry-failed: unknown error class(es) {', '.join(map(repr, unknown))}; "
                                  f"expected 'all' or some of {', '.join(sorted(ALL_CLASSES))}")


def check_cookies_file(path: str | os.PathLike) -> None:
    """Refuse a cookies file yt-dlp could not use: missing, unreadable, or not in Netscape format."""
    from .errors import InputFileError
    from .io import read_text

    what = "a Netscape-format cookies file (as exported by a browser extension or yt-dlp --cookies)"
    text = read_text(path, what)
    data_lines = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not stripped.startswith("#HttpOnly_")):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 7:
            raise InputFileError(path, f"{len(fields)} tab-separated field(s), expected 7; expected {what}", line_no)
        if not fields[4].strip().lstrip("-").isdigit():
            raise InputFileError(path, f"expiry {fields[4]!r} is not a number; expected {what}", line_no)
        data_lines += 1
    if not data_lines:
        raise InputFileError(path, f"no cookies in it; expected {what}")


@dataclass
class ClipJob:
    clip_id: str
    youtube_id: str
    start_s: int
    end_s: int


@dataclass
class Attempt:
    started_at: float
    ended_at: float
    outcome: str
    error_class: str | None = None
    error_message: str | None = None


@dataclass
class ClipResult:
    """What a worker reports for one clip; the main thread commits it."""

    job: ClipJob
    status: str  # done or failed
    attempts: list[Attempt] = field(default_factory=list)
    error_class: str | None = None
    error_message: str | None = None
    download_s: float | None = None
    segment_s: float | None = None
    bytes: int | None = None
    checksums: dict[str, str] | None = None


@dataclass
class RunSummary:
    """Counts of one run of :func:`download_clips`."""

    selected: int = 0
    done: int = 0
    failed: int = 0
    skipped_done: int = 0
    elapsed_s: float = 0.0
    by_error_class: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- state


def open_state(out_dir: str | os.PathLike) -> sqlite3.Connection:
    """Open (creating) the state database of a download folder.

    A file that is not a readable SQLite database, or one that holds other tables
    (another tool's database), is refused and left exactly as it is.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return open_sqlite_state(out_dir / DB_NAME, _SCHEMA, "attempts", "a download state database")


def register_clips(conn: sqlite3.Connection, manifest: pd.DataFrame, source: str = "<manifest>") -> int:
    """Add the manifest's clips (rows with a start time) as ``pending``; return how many are new.

    Clips not done yet follow the manifest (see :func:`register_records`).
    """
    return register_records(conn, manifest_records(manifest, source))


def manifest_records(manifest: pd.DataFrame, source: str = "<manifest>") -> list[tuple]:
    """The state rows of the manifest's clips; any bad row raises before anything is written."""
    rows = manifest[manifest["start_s"].notna()]
    now = time.time()
    records: list[tuple] = []
    # Every row is checked before anything is written: a bad row leaves the state untouched.
    for line, row in zip(rows.index, rows.itertuples(index=False)):
        where = f"{source}: row {int(line) + 2}" if isinstance(line, (int, np.integer)) else source
        youtube_id = validate_youtube_id(str(row.youtube_id), f"{where}, clip {row.clip_id!r}")
        start = int(row.start_s)
        if start < 0:
            raise OvavebenchError(f"{where}: clip {row.clip_id!r}: negative start_s {start}")
        clip_id = make_clip_id(youtube_id, start)
        if str(row.clip_id) != clip_id:
            raise OvavebenchError(f"{where}: clip id {row.clip_id!r} does not match its YouTube id and start ({clip_id})")
        end = int(row.end_s) if "end_s" in rows.columns and pd.notna(row.end_s) else start + SEGMENTS
        if end != start + SEGMENTS:
            raise OvavebenchError(f"{where}: clip {clip_id!r}: end_s {end} is not start_s + {SEGMENTS} = {start + SEGMENTS} "
                                  f"(every clip is a {SEGMENTS} s window)")
        records.append((clip_id, youtube_id, start, end, getattr(row, "class_name", None), getattr(row, "split", None) or None, now))
    return records


def register_records(conn: sqlite3.Connection, records: list[tuple]) -> int:
    """Insert clips as ``pending``; a clip not done yet takes the manifest's window, class and split.

    A failure recorded for another window no longer applies: that clip goes back to pending.
    """
    with conn:
        before = conn.execute("SELECT COUNT(*) FROM clips").fetchone()[0]
        # Clips not done yet follow the manifest (a corrected window or class); a failure recorded for
        # another window no longer applies and goes back to pending.
        conn.executemany(
            "INSERT INTO clips (clip_id, youtube_id, start_s, end_s, class_name, split, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (clip_id) DO UPDATE SET "
            "status = CASE WHEN clips.end_s != excluded.end_s THEN 'pending' ELSE clips.status END, "
            "error_class = CASE WHEN clips.end_s != excluded.end_s THEN NULL ELSE clips.error_class END, "
            "end_s = excluded.end_s, class_name = excluded.class_name, split = excluded.split "
            "WHERE clips.status != 'done'", records)
        return conn.execute("SELECT COUNT(*) FROM clips").fetchone()[0] - before


def _shard_of(clip_id: str, n: int) -> int:
    return zlib.crc32(clip_id.encode()) % n


def select_jobs(conn: sqlite3.Connection, options: DownloadOptions) -> tuple[list[ClipJob], int]:
    """Clips to work on now, and how many are already done (skipped)."""
    rows = conn.execute("SELECT * FROM clips ORDER BY clip_id").fetchall()
    jobs, skipped = [], 0
    for row in rows:
        if row["status"] == "done":
            skipped += 1
            continue
        if row["status"] == "failed" and row["error_class"] not in TRANSIENT_CLASSES:
            if not options.retry_failed:
                continue
            if options.retry_classes and (row["error_class"] or "unknown") not in options.retry_classes:
                continue
        if options.only_classes and row["class_name"] not in options.only_classes:
            continue
        if options.shard and _shard_of(row["clip_id"], options.shard[1]) != options.shard[0]:
            continue
        jobs.append(ClipJob(row["clip_id"], row["youtube_id"], row["start_s"], row["end_s"]))
    if options.limit is not None:
        jobs = jobs[: options.limit]
    return jobs, skipped


def commit_result(conn: sqlite3.Connection, result: ClipResult) -> None:
    """Record one clip's outcome (and its attempts) in a single transaction."""
    attempts = result.attempts
    first = attempts[0].started_at if attempts else None
    last = attempts[-1].started_at if attempts else None
    with conn:
        conn.executemany(
            "INSERT INTO attempts (clip_id, started_at, ended_at, outcome, error_class, error_message) VALUES (?, ?, ?, ?, ?, ?)",
            [(result.job.clip_id, a.started_at, a.ended_at, a.outcome, a.error_class, a.error_message) for a in attempts])
        conn.execute(
            """UPDATE clips SET status = ?, error_class = ?, error_message = ?, attempts = attempts + ?,
               first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?, finished_at = ?,
               download_s = ?, segment_s = ?, bytes = ?, checksums = ? WHERE clip_id = ?""",
            (result.status, result.error_class, result.error_message, len(attempts), first, last, time.time(),
             result.download_s, result.segment_s, result.bytes,
             json.dumps(result.checksums, sort_keys=True) if result.checksums else None, result.job.clip_id))


# --------------------------------------------------------------------------- workers


class BackoffGate:
    """A pause shared by all workers: a 429 or bot check holds every worker back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self, stop: threading.Event | None = None) -> None:
        while True:
            with self._lock:
                remaining = self._until - time.monotonic()
            if remaining <= 0:
                return
            if stop is not None and stop.wait(min(remaining, 0.5)):
                return
            if stop is None:
                time.sleep(min(remaining, 0.5))


class _YtdlpLog:
    """yt-dlp logger: keeps warnings and errors, prints nothing."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        self.messages.append(msg)

    def error(self, msg: str) -> None:
        self.messages.append(msg)


def format_selector(min_height: int, max_height: int) -> str:
    """Lowest format of at least ``min_height`` up to ``max_height`` (with ``+res`` sorting).

    Unknown heights (direct files) pass the filters (``?``); if nothing fits, the lowest available.
    """
    window = f"[height>=?{min_height}][height<=?{max_height}]"
    return f"bv*{window}+ba/b{window}/bv*[height>=?{min_height}]+ba/b[height>=?{min_height}]/bv*+ba/b"


def _ytdlp_options(job: ClipJob, target: Path, options: DownloadOptions, wrapper: Path, log: _YtdlpLog) -> dict[str, Any]:
    from yt_dlp.utils import download_range_func

    params: dict[str, Any] = {
        "logger": log,
        "noprogress": True,
        "outtmpl": {"default": str(target.with_suffix("")) + ".%(ext)s"},
        "format": format_selector(options.min_height, options.max_height),
        "format_sort": ["+res", "ext:mp4:m4a"],
        "merge_output_format": "mp4",
        "download_ranges": download_range_func(None, [(job.start_s, job.end_s)]),
        "force_keyframes_at_cuts": options.reencode,
        "socket_timeout": options.socket_timeout_s,
        # Retries are ours (classified, with shared backoff), not yt-dlp's.
        "retries": 0, "fragment_retries": 0, "extractor_retries": 0,
        "overwrites": True, "noplaylist": True, "cachedir": False,
        "ffmpeg_location": str(wrapper / "ffmpeg"),
        "external_downloader_args": {
            "ffmpeg": ["-loglevel", "warning", "-nostats"],
            "ffmpeg_i": ["-xerror", "-rw_timeout", str(int(options.socket_timeout_s * 1_000_000))],
        },
    }
    if options.cookies:
        params["cookiefile"] = options.cookies
    if options.proxy:
        params["proxy"] = options.proxy
    return params


_thread_state = threading.local()
_youtube_dl_class: type | None = None


def _youtube_dl():  # type: ignore[no-untyped-def]
    """yt-dlp's ``YoutubeDL``, minus work whose result it throws away.

    Before each processing step (four per clip) ``YoutubeDL._forceprint`` renders
    the format, thumbnail and subtitle tables for ``--print`` templates, even when
    there are none: ~9 ms of GIL-held CPU per clip. With no template for that
    step it is skipped here; with one, yt-dlp's own code runs.
    """
    global _youtube_dl_class
    if _youtube_dl_class is None:
        import yt_dlp

        class YoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]
            def _forceprint(self, key, info_dict):  # type: ignore[no-untyped-def]
                params = self.params
                if key != "video" and not params.get("forceprint", {}).get(key) and not params.get("print_to_file", {}).get(key):
                    return None
                return super()._forceprint(key, info_dict)

        _youtube_dl_class = YoutubeDL
    return _youtube_dl_class


def _downloader(options: DownloadOptions, wrapper: Path):  # type: ignore[no-untyped-def]
    """This worker thread's YoutubeDL, built once, with no extractor registered yet.

    Registering yt-dlp's ~1,800 extractors costs ~85 ms of GIL-held CPU per
    YoutubeDL; :func:`_fetch` adds only the one a URL needs (all of them for a
    URL whose extractor is not obvious).
    """
    key = (options, str(wrapper))
    cached = getattr(_thread_state, "ydl", None)
    if cached is None or cached[0] != key:
        log = _YtdlpLog()
        placeholder = ClipJob("placeholder", "placeholder", 0, SEGMENTS)
        ydl = _youtube_dl()(_ytdlp_options(placeholder, wrapper / "clip.mp4", options, wrapper, log), auto_init=False)
        cached = (key, ydl, log, set())
        _thread_state.ydl = cached
    return cached[1], cached[2], cached[3]


def _register_extractor(ydl, registered: set[str | None], ie_key: str | None) -> None:  # type: ignore[no-untyped-def]
    if ie_key in registered or None in registered:
        return
    if ie_key is None:
        ydl.add_default_info_extractors()
    else:
        from yt_dlp.extractor import get_info_extractor

        ydl.add_info_extractor(get_info_extractor(ie_key))
    registered.add(ie_key)


def _fetch(job: ClipJob, work: Path, options: DownloadOptions, wrapper: Path) -> Path:
    """Download the clip's window into ``work``; return the media file."""
    import yt_dlp
    from yt_dlp.utils import download_range_func

    ydl, log, registered = _downloader(options, wrapper)
    log.messages.clear()
    target = work / "clip.mp4"
    # Only these parameters change from clip to clip.
    ydl.params["outtmpl"] = {"default": str(target.with_suffix("")) + ".%(ext)s"}
    ydl.params["download_ranges"] = download_range_func(None, [(job.start_s, job.end_s)])
    url = video_url(job.youtube_id, options.url_template)
    ie_key = extractor_for(url)
    _register_extractor(ydl, registered, ie_key)
    try:
        info = ydl.extract_info(url, download=True, ie_key=ie_key)
    except yt_dlp.utils.DownloadError as exc:
        message = str(exc)
        ffmpeg_log = " ".join(read_ffmpeg_log(str(p)[: -len(LOG_SUFFIX)]) for p in work.glob("*" + LOG_SUFFIX))
        if "ffmpeg exited" in message and ffmpeg_log:
            message = f"{message}; ffmpeg: {ffmpeg_log}"
        raise _Failure(message) from None
    duration = (info or {}).get("duration")
    if duration is not None and duration < job.end_s:
        raise _Failure(f"too short: the video lasts {duration} s, the clip needs [{job.start_s}, {job.end_s})")
    files = [p for p in work.iterdir() if p.is_file() and p.suffix in (".mp4", ".mkv", ".webm") and not p.name.startswith(".")]
    if not files:
        raise _Failure("yt-dlp reported success but wrote no media file")
    media = files[0]
    if media != target:
        os.replace(media, target)
    if duration is None and _media_seconds(target) < (job.end_s - job.start_s) - 0.5:
        # A short window from a source whose length yt-dlp did not report (a direct file): if the source
        # ends before the clip does, that is a fact about the video (too short), not an undecodable file.
        source = _media_seconds(_direct_media_url(info), options.socket_timeout_s)
        if source < job.end_s:
            raise _Failure(f"too short: the video lasts {source:.1f} s, the clip needs [{job.start_s}, {job.end_s})")
    return target


def _direct_media_url(info: dict[str, Any] | None) -> str | None:
    info = info or {}
    if isinstance(info.get("url"), str):
        return info["url"]
    formats = info.get("requested_formats") or []
    return next((f["url"] for f in formats if isinstance(f, dict) and isinstance(f.get("url"), str)), None)


def _media_seconds(source: str | os.PathLike | None, timeout_s: float = 10.0) -> float:
    """A media file's or URL's duration in seconds (``inf`` when it cannot be read: nothing is concluded then)."""
    if source is None:
        return float("inf")
    import av

    options = {"rw_timeout": str(int(timeout_s * 1_000_000))} if isinstance(source, str) else {}
    try:
        with av.open(str(source), options=options, timeout=timeout_s) as container:
            if container.duration is not None:
                return container.duration / 1_000_000
            streams = [s for s in container.streams if s.duration is not None and s.time_base is not None]
            return max((float(s.duration * s.time_base) for s in streams), default=float("inf"))
    except (av.FFmpegError, OSError, ValueError):
        return float("inf")


YOUTUBE_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be")
MEDIA_SUFFIXES = (".mp4", ".m4a", ".webm", ".mkv", ".mov", ".m4v", ".mp3", ".wav", ".ogg")


def extractor_for(url: str) -> str | None:
    """The yt-dlp extractor a URL needs, when it is obvious.

    Without it yt-dlp matches every URL against ~1,800 extractors' patterns,
    more than Python's regex cache holds: recompiling them cost more CPU than
    downloading and segmenting the clip. Other URLs keep yt-dlp's own choice.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.hostname in YOUTUBE_HOSTS:
        return "Youtube"
    if parts.path.lower().endswith(MEDIA_SUFFIXES):
        return "Generic"  # a direct media file
    return None


class _Failure(Exception):
    """A failed attempt with its raw message."""


class SegmenterProcesses:
    """Processes that segment clips while the worker threads wait on the network.

    Segmenting holds the GIL between every decode call; in 16 threads that
    convoy costs more CPU than the segmenting itself, so it runs in one process
    per core instead. Each process is a fresh interpreter that imports only
    ``ovavebench.media`` (~0.3 s of CPU, started in the background while the
    first clips download): a ``multiprocessing`` spawn would re-import the
    caller's whole ``__main__`` (the CLI, pandas, yt-dlp) in every process.
    A process that dies (a decoder crash on a hostile file) fails only its
    clip, as ``undecodable``, and is replaced.
    """

    _COMMAND = "from ovavebench.media import serve_segmenter; serve_segmenter()"

    def __init__(self, processes: int) -> None:
        self._idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self._all: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(processes):
            self._idle.put(self._start())

    def _start(self) -> subprocess.Popen[str]:
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
        process = subprocess.Popen([sys.executable, "-c", self._COMMAND, str(os.getpid())], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        with self._lock:
            self._all.append(process)
        return process

    def segment(self, clip: Path, out_dir: Path) -> None:
        """:func:`ovavebench.media.segment_clip` in one of the processes; its errors are raised here."""
        process = self._idle.get()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps({"clip": str(clip), "out": str(out_dir)}) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except (OSError, ValueError):  # a dead process, or its pipe closed by close()
            line = ""
        if not line:  # the process died on this clip (or was stopped with the run)
            code = process.wait()
            if not self._closed:
                process = self._start()
                self._idle.put(process)
            raise MediaError("undecodable", f"{clip.name}: the segmenter process died while decoding it (exit code {code})")
        self._idle.put(process)
        reply = json.loads(line)
        if reply["ok"]:
            return
        if reply["kind"] == "media":
            raise MediaError(reply["error_class"], reply["message"])
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


def process_clip(job: ClipJob, out_dir: Path, options: DownloadOptions, gate: BackoffGate,
                 wrapper: Path, stop: threading.Event, segmenter: SegmenterProcesses | None = None) -> ClipResult:
    """Download, segment and place one clip, retrying transient failures."""
    result = ClipResult(job, "failed")
    for attempt_no in range(1, options.max_attempts + 1):
        gate.wait(stop)
        work = out_dir / TMP_DIR / job.clip_id
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        started = time.time()
        try:
            t0 = time.perf_counter()
            clip = _fetch(job, work, options, wrapper)
            t1 = time.perf_counter()
            staged = work / "staged"
            staged.mkdir()
            os.replace(clip, staged / "clip.mp4")
            if segmenter is None:
                segment_clip(staged / "clip.mp4", staged)
            else:
                segmenter.segment(staged / "clip.mp4", staged)
            t2 = time.perf_counter()
        except (_Failure, MediaError) as exc:
            message = str(exc).replace(str(work / "staged") + os.sep, "")  # name the file, not the temp folder
            error_class = ALL_CLASSES.get(getattr(exc, "error_class", ""), None) or classify_error(message)
        except OSError as exc:  # the local disk, not the network: report it plainly
            message, error_class = f"local I/O error: {exc}", classify_error(str(exc))
        else:
            checksums = {name: sha256_file(staged / name) for name in CLIP_FILES}
            size = sum((staged / name).stat().st_size for name in CLIP_FILES)
            final = out_dir / job.clip_id
            if final.exists():  # left by a run killed between rename and commit
                shutil.rmtree(final)
            os.replace(staged, final)
            shutil.rmtree(work, ignore_errors=True)
            result.attempts.append(Attempt(started, time.time(), "done"))
            result.status, result.error_class, result.error_message = "done", None, None
            result.download_s, result.segment_s, result.bytes, result.checksums = t1 - t0, t2 - t1, size, checksums
            return result
        shutil.rmtree(work, ignore_errors=True)
        result.attempts.append(Attempt(started, time.time(), "failed", error_class.name, message))
        result.error_class, result.error_message = error_class.name, message
        if not error_class.transient or attempt_no == options.max_attempts or stop.is_set():
            return result
        delay = min(options.backoff_max_s, options.backoff_s * 2 ** (attempt_no - 1)) * random.uniform(0.5, 1.5)
        if error_class.pauses_all:
            gate.pause(delay)
        else:
            stop.wait(delay)
    return result


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """One run per folder: a second concurrent run would fight over temp files."""
    with open(out_dir / LOCK_NAME, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OvavebenchError(f"{out_dir}: another `ovavebench download` is running on this folder") from None
        yield


def download_clips(
    manifest: str | os.PathLike | pd.DataFrame,
    out_dir: str | os.PathLike,
    options: DownloadOptions = DownloadOptions(),
    on_result: Callable[[ClipResult, RunSummary], None] | None = None,
) -> RunSummary:
    """Download and segment every pending clip of ``manifest`` into ``out_dir``.

    ``on_result`` is called in the calling thread after each clip is committed
    (the CLI draws its progress bar with it).
    """
    options.validate()
    source = str(manifest) if not isinstance(manifest, pd.DataFrame) else "<manifest>"
    frame = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    records = manifest_records(frame, source)  # every row checked before any state is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wrapper = ffmpeg_wrapper_dir(options.cache or out_dir / ".tools")
    summary = RunSummary()
    start = time.perf_counter()
    with _exclusive(out_dir):
        shutil.rmtree(out_dir / TMP_DIR, ignore_errors=True)  # what a killed run left half-written
        conn = open_state(out_dir)
        try:
            register_records(conn, records)
            if options.only_classes:
                known = {r[0] for r in conn.execute("SELECT DISTINCT class_name FROM clips")}
                unknown = sorted(set(options.only_classes) - known)
                if unknown:
                    raise OvavebenchError(f"--only-classes: no clip of class(es) {', '.join(map(repr, unknown[:5]))} "
                                          f"in {source}")
            jobs, summary.skipped_done = select_jobs(conn, options)
            summary.selected = len(jobs)
            gate, stop = BackoffGate(), threading.Event()
            pending: set[Future] = set()
            remaining = iter(jobs)
            segmenter = _segmenter_processes(options.workers) if jobs else None
            with ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="clip") as pool:
                try:
                    for job in itertools.islice(remaining, max(1, options.workers) * 2):
                        pending.add(pool.submit(process_clip, job, out_dir, options, gate, wrapper, stop, segmenter))
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            result = future.result()
                            commit_result(conn, result)
                            if result.status == "done":
                                summary.done += 1
                            else:
                                summary.failed += 1
                                key = result.error_class or "unknown"
                                summary.by_error_class[key] = summary.by_error_class.get(key, 0) + 1
                            summary.elapsed_s = time.perf_counter() - start
                            if on_result:
                                on_result(result, summary)
                            for job in itertools.islice(remaining, 1):
                                pending.add(pool.submit(process_clip, job, out_dir, options, gate, wrapper, stop, segmenter))
                except BaseException:
                    stop.set()  # Ctrl-C: let workers finish their current step, commit nothing half-done
                    raise
                finally:
                    if segmenter is not None:
                        segmenter.close()
        finally:
            conn.close()
            shutil.rmtree(out_dir / TMP_DIR, ignore_errors=True)
    summary.elapsed_s = time.perf_counter() - start
    return summary


# --------------------------------------------------------------------------- status, verify, export


@dataclass
class StatusReport:
    by_status: dict[str, int]
    by_error_class: dict[str, int]
    failed_by_class_name: dict[str, int]


def download_status(out_dir: str | os.PathLike) -> StatusReport:
    """Counts per status and per error class of a download folder."""
    conn = _existing_state(out_dir)
    with contextlib.closing(conn):
        by_status = {s: 0 for s in STATUSES}
        by_status.update({r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM clips GROUP BY status")})
        by_error = {r[0]: r[1] for r in conn.execute(
            "SELECT error_class, COUNT(*) FROM clips WHERE status = 'failed' GROUP BY error_class ORDER BY 2 DESC")}
        by_class = {r[0] or "": r[1] for r in conn.execute(
            "SELECT class_name, COUNT(*) FROM clips WHERE status = 'failed' GROUP BY class_name ORDER BY 2 DESC")}
    return StatusReport(by_status, by_error, by_class)


def _existing_state(out_dir: str | os.PathLike) -> sqlite3.Connection:
    if not (Path(out_dir) / DB_NAME).exists():
        raise OvavebenchError(f"{out_dir}: no download state ({DB_NAME}); run `ovavebench download` first")
    return open_state(out_dir)


def write_failures(out_dir: str | os.PathLike, path: str | os.PathLike) -> int:
    """Write every failed clip with its error class and raw message as CSV; return the count."""
    conn = _existing_state(out_dir)
    with contextlib.closing(conn):
        rows = conn.execute(
            "SELECT clip_id, youtube_id, start_s, class_name, split, error_class, attempts, error_message "
            "FROM clips WHERE status = 'failed' ORDER BY error_class, clip_id").fetchall()
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["clip_id", "youtube_id", "start_s", "class_name", "split", "error_class", "attempts", "error_message"])
        writer.writerows([tuple(r) for r in rows])
    return len(rows)


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, what is wrong)
    strays: list[str] = field(default_factory=list)  # folders/files with no done row
    temp_leftovers: list[str] = field(default_factory=list)


def verify_downloads(out_dir: str | os.PathLike, reset_bad: bool = False) -> VerifyReport:
    """Check every ``done`` clip's files against their checksums; report strays.

    With ``reset_bad``, clips whose files are missing or changed go back to ``pending``.
    """
    out_dir = Path(out_dir)
    conn = _existing_state(out_dir)
    report = VerifyReport()
    with contextlib.closing(conn):
        done = conn.execute("SELECT clip_id, checksums FROM clips WHERE status = 'done'").fetchall()
        for row in done:
            report.checked += 1
            expected = json.loads(row["checksums"] or "{}")
            problem = None
            for name in CLIP_FILES:
                path = out_dir / row["clip_id"] / name
                if not path.exists():
                    problem = f"{name} missing"
                    break
                if sha256_file(path) != expected.get(name):
                    problem = f"{name} changed (checksum differs)"
                    break
            if problem:
                report.bad.append((row["clip_id"], problem))
            else:
                report.ok += 1
        if reset_bad and report.bad:
            with conn:
                conn.executemany("UPDATE clips SET status = 'pending', checksums = NULL WHERE clip_id = ?",
                                 [(c,) for c, _ in report.bad])
        done_ids = {row["clip_id"] for row in done}
    ignored = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", LOCK_NAME, TMP_DIR, ".tools"}
    for entry in sorted(out_dir.iterdir()):
        if entry.name in ignored:
            continue
        if entry.name not in done_ids:
            report.strays.append(entry.name)
    tmp = out_dir / TMP_DIR
    if tmp.exists():
        report.temp_leftovers = sorted(str(p.relative_to(out_dir)) for p in tmp.rglob("*"))
    for entry in out_dir.rglob("*"):
        if entry.name.endswith((".part", ".tmp", ".ytdl")) and TMP_DIR not in entry.parts:
            report.temp_leftovers.append(str(entry.relative_to(out_dir)))
    return report


def done_clips(out_dir: str | os.PathLike) -> pd.DataFrame:
    """``clip_id, youtube_id, start_s, class_name, split`` of every done clip."""
    conn = _existing_state(out_dir)
    with contextlib.closing(conn):
        return pd.read_sql_query(
            "SELECT clip_id, youtube_id, start_s, class_name, split FROM clips WHERE status = 'done' ORDER BY clip_id", conn)


def clip_dirs_by_youtube_id(media_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Map YouTube id → clip folders (``<youtube_id>_<start:06d>``) holding a complete clip."""
    media_dir = Path(media_dir)
    out: dict[str, list[Path]] = {}
    for entry in sorted(media_dir.iterdir()) if media_dir.exists() else []:
        match = CLIP_ID_RE.match(entry.name)
        if match and entry.is_dir() and (entry / "audio.wav").exists():
            out.setdefault(match.group("youtube_id"), []).append(entry)
    return out


def resolve_clip_dir(youtube_id: str, index: dict[str, list[Path]]) -> Path | None:
    """The one clip folder of a benchmark video (``vid_name`` is a bare YouTube id)."""
    found = index.get(youtube_id, [])
    if len(found) > 1:
        raise OvavebenchError(
            f"YouTube id {youtube_id!r} matches {len(found)} clip folders ({', '.join(p.name for p in found)}); "
            "keep the one of the benchmark")
    return found[0] if found else None


@dataclass
class ExportReport:
    linked: int = 0
    missing: list[str] = field(default_factory=list)


def export_layout(media_dir: str | os.PathLike, benchmark_dir: str | os.PathLike, to: str | os.PathLike) -> ExportReport:
    """Lay clips out as the published OV-AVEL code reads them, with symbolic links (no copies).

    ``<to>/<split>/video/<class>/<vid>/{0..9}.png`` and ``<to>/<split>/audio/<class>/<vid>.wav``.
    """
    from .benchmark import find_benchmark_files, read_meta

    meta = read_meta(find_benchmark_files(benchmark_dir).meta)
    index = clip_dirs_by_youtube_id(media_dir)
    to = Path(to)
    report = ExportReport()
    for row in meta.itertuples(index=False):
        clip = resolve_clip_dir(row.vid_name, index)
        if clip is None:
            report.missing.append(row.vid_name)
            continue
        clip = clip.resolve()
        frames_dir = to / row.split / "video" / row.cls_name / row.vid_name
        frames_dir.mkdir(parents=True, exist_ok=True)
        for k in range(SEGMENTS):
            _link(clip / "frames" / f"{k}.png", frames_dir / f"{k}.png")
        audio_dir = to / row.split / "audio" / row.cls_name
        audio_dir.mkdir(parents=True, exist_ok=True)
        _link(clip / "audio.wav", audio_dir / f"{row.vid_name}.wav")
        report.linked += 1
    return report


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        link.unlink()
    os.symlink(target, link)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` → (2, 8), with 0 ≤ i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise OvavebenchError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise OvavebenchError(f"--shard {text}: need 0 <= i < n")
    return i, n


__all__ = [
    "DownloadOptions", "ClipResult", "RunSummary", "download_clips", "download_status", "write_failures",
    "verify_downloads", "export_layout", "classify_error", "ErrorClass", "parse_shard", "open_state",
    "clip_dirs_by_youtube_id", "resolve_clip_dir", "done_clips", "format_selector",
]
