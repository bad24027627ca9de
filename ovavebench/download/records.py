"""Records that cross the download stage's modules: a clip's job, its attempts, its result, a run's summary."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    warnings: list[str] = field(default_factory=list)  # what yt-dlp warned during this attempt


@dataclass
class ClipResult:
    """What a worker reports for one clip; the main thread commits it."""

    job: ClipJob
    status: str  # done, failed, or pending (a run-level failure: tried again later)
    attempts: list[Attempt] = field(default_factory=list)
    error_class: str | None = None
    error_message: str | None = None
    download_s: float | None = None
    segment_s: float | None = None
    bytes: int | None = None
    checksums: dict[str, str] | None = None
    egress: str | None = None
    run_level: bool = False  # failed for a reason about this machine's access, not about the video
    stop_run: str | None = None  # why the whole run must stop (no JS runtime), in one line
    # Where the media came from: {"source": "archive", member, size, sha256, ...} or {"source": "url", url, format}
    provenance: dict | None = None


@dataclass
class RunSummary:
    """Counts of one run of :func:`download_clips`."""

    selected: int = 0
    done: int = 0
    failed: int = 0
    skipped_done: int = 0
    elapsed_s: float = 0.0
    by_error_class: dict[str, int] = field(default_factory=dict)
    deferred: int = 0  # attempts that ended pending (rate limit, bot check, …), each retried later
    pending_left: int = 0  # clips still pending when the run ended
    blocked: bool = False  # every egress was given up after repeated blocks: the CLI exits with code 3
    block_cause: str = ""
    stopped: str | None = None  # the run stopped early for this reason (e.g. no JavaScript runtime)
    egress_states: dict[str, str] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)  # done clips of this run per source (archive, url)
    not_in_archive: int = 0  # clips left pending: not in --archive, and no URL to fall back on
