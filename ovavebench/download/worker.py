"""One clip, start to end: its window fetched, segmented and placed, transient failures retried; and the
placing of a clip's files that came back from another machine. The scheduler and the Ray actors both run this."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from ..io import sha256_file
from ..media.archive import ArchiveEntry, archive_index, member_sha256
from ..media.decode import MediaError, segment_request
from .failures import ALL_CLASSES, classify_error
from .options import DownloadOptions
from .records import Attempt, ClipJob, ClipResult
from .segmenter import SegmenterProcesses
from .state import PARTIAL_DIR, TMP_DIR
from .ytdlp import CUT_TIMELINE_S, RUNTIME_WARNINGS, _Failure, _fetch


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


def process_clip(
    job: ClipJob,
    out_dir: Path,
    options: DownloadOptions,
    gate: BackoffGate | None,
    wrapper: Path,
    stop: threading.Event,
    segmenter: SegmenterProcesses | None = None,
) -> ClipResult:
    """Download, segment and place one clip, retrying transient failures about the video itself.

    A run-level failure (rate limit, bot check, sign-in, no runtime, no formats) returns at once with
    status ``pending``: whether to retry is the scheduler's decision, per egress.
    """
    result = ClipResult(job, "failed")
    for attempt_no in range(1, options.max_attempts + 1):
        if gate is not None:
            gate.wait(stop)
        work = out_dir / TMP_DIR / job.clip_id
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        started = time.time()
        warnings: list[str] = []
        provenance: dict[str, Any] = {}
        try:
            t0 = time.perf_counter()
            staged = work / "staged"
            staged.mkdir()
            entry = archive_index(options.archive).get(job.youtube_id) if options.archive else None
            short_cut: _Failure | None = None  # yt-dlp found the video short; its cut is still kept as far as it goes
            if entry is not None:
                request = _archive_request(job, entry, staged, options, provenance)
            else:
                try:
                    clip = _fetch(job, work, options, wrapper, warnings, provenance)
                except _Failure as exc:
                    found = _short_cut(work, exc)
                    if found is None:
                        raise
                    clip, short_cut = found, exc
                    provenance.setdefault("source", "url")
                os.replace(clip, staged / clip.name)
                request = {"clip": str(staged / clip.name), "out": str(staged)}
                request.update(start_s=float(CUT_TIMELINE_S), absolute=True)
            request["keep_short"] = True  # a short window: its whole seconds are written, then kept apart below
            t1 = time.perf_counter()
            try:
                done = segment_request(request) if segmenter is None else segmenter.segment(request)
            except MediaError:
                if short_cut is not None:
                    raise short_cut from None  # nothing of the window could be kept: yt-dlp's finding stands
                raise
            duration = done.get("duration_s")
            if duration is not None and entry is not None:
                provenance["duration_s"] = round(float(duration), 3)
            if done.get("short") or short_cut is not None:
                raise _keep_partial(job, done, staged, out_dir, work, provenance, short_cut)
            t2 = time.perf_counter()
        except (_Failure, MediaError) as exc:
            message = str(exc).replace(str(work / "staged") + os.sep, "")  # name the file, not the temp folder
            error_class = ALL_CLASSES.get(getattr(exc, "error_class", ""), None) or classify_error(message)
            short = getattr(exc, "duration_s", None)
            if short is not None:
                provenance["duration_s"] = round(float(short), 3)
        except OSError as exc:  # the local disk, not the network: report it plainly
            message, error_class = f"local I/O error: {exc}", classify_error(str(exc))
        else:
            names = clip_files(staged)
            checksums = {name: sha256_file(staged / name) for name in names}
            size = sum((staged / name).stat().st_size for name in names)
            final = out_dir / job.clip_id
            if final.exists():  # left by a run killed between rename and commit
                shutil.rmtree(final)
            os.replace(staged, final)
            shutil.rmtree(out_dir / PARTIAL_DIR / job.clip_id, ignore_errors=True)  # an earlier short cut's seconds
            shutil.rmtree(work, ignore_errors=True)
            result.attempts.append(Attempt(started, time.time(), "done", warnings=warnings))
            result.status, result.error_class, result.error_message = "done", None, None
            result.download_s, result.segment_s, result.bytes, result.checksums = t1 - t0, t2 - t1, size, checksums
            result.provenance = provenance
            _check_runtime_warnings(result, warnings, options)
            return result
        shutil.rmtree(work, ignore_errors=True)
        result.attempts.append(Attempt(started, time.time(), "failed", error_class.name, message, warnings))
        result.error_class, result.error_message = error_class.name, message
        result.provenance = provenance or None
        if _check_runtime_warnings(result, warnings, options) or error_class.run_level:
            result.status, result.run_level = "pending", True
            return result
        if not error_class.transient or attempt_no == options.max_attempts or stop.is_set():
            return result
        delay = min(options.backoff_max_s, options.backoff_s * 2 ** (attempt_no - 1)) * random.uniform(0.5, 1.5)
        stop.wait(delay)
    return result


ARCHIVE_TOLERANCE_S = 0.5  # a file of 10 s give or take this is the window itself


def _short_cut(work: Path, failure: _Failure) -> Path | None:
    """The cut yt-dlp wrote before finding the video too short for the window (to keep as far as it goes)."""
    if classify_error(str(failure)).name != "too_short":
        return None
    cuts = sorted(p for p in work.glob("clip.*") if p.is_file() and p.suffix in (".mp4", ".mkv", ".webm"))
    return cuts[0] if cuts else None


def _keep_partial(
    job: ClipJob,
    done: dict[str, Any],
    staged: Path,
    out_dir: Path,
    work: Path,
    provenance: dict[str, Any],
    short_cut: _Failure | None,
) -> Exception:
    """A short window's whole seconds moved to ``<out>/partial/<clip_id>/``, where no complete-clip finder
    looks; the ``too_short`` failure to record, with how long the window lasts and the seconds kept."""
    seconds = int(done.get("seconds") or 0)
    if not done.get("short"):  # yt-dlp said short, the cut holds the whole window: nothing to keep apart
        assert short_cut is not None
        return short_cut
    window_s = round(float(done.get("window_s") or 0.0), 3)
    provenance.update(window_s=window_s, seconds_kept=seconds, partial=f"{PARTIAL_DIR}/{job.clip_id}")
    if provenance.get("source") != "archive":  # the video's length on its own timeline: where the window ends early
        provenance["duration_s"] = round(job.start_s + window_s, 3)
    kept = out_dir / PARTIAL_DIR / job.clip_id
    kept.parent.mkdir(exist_ok=True)
    if kept.exists():  # an earlier run's (the toolkit wrote it): replaced whole
        os.replace(kept, work / "replaced")
    os.replace(staged, kept)
    reason = str(short_cut) if short_cut is not None else str(done["short"])
    message = f"{reason}; its {seconds} whole second(s) kept apart in {PARTIAL_DIR}/{job.clip_id}"
    return MediaError("too_short", message, provenance.get("duration_s"))


def _archive_request(
    job: ClipJob, entry: ArchiveEntry, staged: Path, options: DownloadOptions, provenance: dict[str, Any]
) -> dict[str, Any]:
    """The segmenting request of a clip whose video is in the archive; its provenance (member, size, SHA-256)."""
    assert options.archive is not None
    provenance.update(
        {"source": "archive", "archive": str(options.archive), "member": entry.member, "size": entry.size}
    )
    if entry.size == 0:
        raise MediaError("empty_file", f"{entry.member}: the archive's file is empty (0 bytes)", 0.0)
    provenance["sha256"] = member_sha256(options.archive, entry.member)
    request: dict[str, Any] = {"out": str(staged), "start_s": float(job.start_s)}
    request["archive_tolerance_s"] = ARCHIVE_TOLERANCE_S
    if Path(options.archive).is_dir():
        request["clip"] = str(Path(options.archive) / entry.member)
    else:
        request.update(archive=str(options.archive), member=entry.member)
    return request


def clip_files(folder: Path) -> list[str]:
    """The files of a segmented clip: its cut (``clip.<ext>``, none for an archive's clip), frames, audio."""
    cuts = sorted(p.name for p in folder.glob("clip.*"))
    return [*cuts, *(f"frames/{k}.png" for k in range(SEGMENTS)), "audio.wav"]


def _check_runtime_warnings(result: ClipResult, warnings: list[str], options: DownloadOptions) -> bool:
    """A missing JS runtime or missing formats, said by yt-dlp: the whole run must stop (unless allowed)."""
    if options.allow_no_js_runtime:
        return False
    bad = next((w for w in warnings if RUNTIME_WARNINGS.search(w)), None)
    if bad is None:
        return False
    result.stop_run = (
        f"yt-dlp warns: {' '.join(bad.split())[:240]} — install yt-dlp's runtime "
        "(pip install 'yt-dlp[default,deno]', see `ovavebench download doctor`), "
        "or pass --allow-no-js-runtime to go on with fewer formats"
    )
    return True


def place_files(out_dir: Path, result: ClipResult, files: dict[str, bytes]) -> None:
    """Write a clip's files from an actor: staged, checked against the actor's checksums, then renamed."""
    expected = result.checksums or {}
    staged = out_dir / TMP_DIR / f"{result.job.clip_id}.remote"
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "frames").mkdir(parents=True)
    if set(files) != set(expected):
        shutil.rmtree(staged, ignore_errors=True)
        raise OvavebenchError(f"clip {result.job.clip_id}: the actor sent other files than it checksummed")
    for name in sorted(expected):
        data = files[name]
        if hashlib.sha256(data).hexdigest() != expected.get(name):
            shutil.rmtree(staged, ignore_errors=True)
            raise OvavebenchError(
                f"clip {result.job.clip_id}: {name} arrived with another checksum than its actor computed"
            )
        with open(staged / name, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    final = out_dir / result.job.clip_id
    if final.exists():  # left by a run killed between rename and commit
        shutil.rmtree(final)
    os.replace(staged, final)
    shutil.rmtree(out_dir / PARTIAL_DIR / result.job.clip_id, ignore_errors=True)  # an earlier short cut's seconds
