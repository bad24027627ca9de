"""Download stage: each clip's 10 s window via yt-dlp, then one decode pass.

For every manifest row with a start time, yt-dlp fetches only
[start, start + 10) (``download_ranges``), the lowest format of at least 224p
up to ``max_height``, and :func:`ovavebench.media.decode.segment_clip` writes the 10
middle frames and the 16 kHz mono wav. Output per clip, under ``DIR/<clip_id>/``:
``clip.<ext>`` (the cut, named by its container: mp4, webm, mkv), ``frames/0.png`` … ``frames/9.png``,
``audio.wav``. With ``--archive`` a clip's video is read from a folder or zip of the raw videos instead
(:mod:`ovavebench.media.archive`; no cut is written) and the URL is only the fallback.

One module per concern: :mod:`.options` (a run's options and their checks),
:mod:`.state` (the SQLite state: clips, attempts with yt-dlp's warnings, budgets),
:mod:`.ytdlp` (yt-dlp parameters, the range fetch, runtime checks),
:mod:`.worker` (one clip: fetch, segment, place, retry), :mod:`.scheduler` (egresses with budgets and block
detection, the worker threads, the one writer of the state), :mod:`.run` (the public entry, which hands the
scheduler Ray's workers from :mod:`.distributed` when asked), :mod:`.segmenter` (segmenter processes) and
:mod:`.layout` (the published layout).
"""

from __future__ import annotations

from ..media.layout import (
    ExportReport,
    clip_dirs_by_youtube_id,
    export_layout,
    resolve_clip_dir,
)
from .failures import ErrorClass, classify_error
from .options import (
    DownloadOptions,
    check_cookies_file,
    parse_shard,
    read_proxies,
    ytdlp_params_from,
)
from .records import Attempt, ClipJob, ClipResult, RunSummary
from .run import download_clips
from .scheduler import Egress, RemoteWorkers, TokenBucket, run_download
from .segmenter import SegmenterProcesses
from .state import (
    CLIP_FILES,
    DB_NAME,
    LOCK_NAME,
    STATUSES,
    TMP_DIR,
    StatusReport,
    VerifyReport,
    commit_result,
    done_clips,
    download_status,
    load_budget,
    manifest_records,
    open_state,
    register_clips,
    register_records,
    select_jobs,
    verify_downloads,
    write_failures,
)
from .worker import BackoffGate, place_files, process_clip
from .ytdlp import (
    RuntimeReport,
    _youtube_dl,
    _ytdlp_options,
    _YtdlpLog,
    format_selector,
    probe,
    runtime_report,
)

__all__ = [
    "DownloadOptions",
    "ClipJob",
    "ClipResult",
    "RunSummary",
    "Attempt",
    "download_clips",
    "download_status",
    "write_failures",
    "verify_downloads",
    "export_layout",
    "classify_error",
    "ErrorClass",
    "parse_shard",
    "open_state",
    "clip_dirs_by_youtube_id",
    "resolve_clip_dir",
    "done_clips",
    "format_selector",
    "register_clips",
    "read_proxies",
    "runtime_report",
    "RuntimeReport",
    "probe",
    "check_cookies_file",
    "ytdlp_params_from",
    "TokenBucket",
    "Egress",
    "StatusReport",
    "VerifyReport",
    "ExportReport",
    "SegmenterProcesses",
    "BackoffGate",
    "process_clip",
    "commit_result",
    "manifest_records",
    "RemoteWorkers",
    "run_download",
    "place_files",
    "register_records",
    "select_jobs",
    "CLIP_FILES",
    "DB_NAME",
    "LOCK_NAME",
    "STATUSES",
    "TMP_DIR",
    "_youtube_dl",
    "_YtdlpLog",
    "_ytdlp_options",
    "load_budget",
]
