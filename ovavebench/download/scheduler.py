"""The run: egresses with their request budgets and block states, worker threads, the one writer of the state.

Each egress (the direct line, or each proxy of ``--proxies``) has its own token
bucket (``--max-clips-per-hour``, persisted in the state database so a restart
does not reset it) and its own block state. A clip that fails for a reason about
this machine's access to YouTube (a rate limit, a bot check, a sign-in wall, no
JavaScript runtime, no formats) is never marked failed: it goes back to pending
and is tried again later. After ``block_after`` such failures in a row an egress
rests for ``block_pause_s``, then one clip probes it; success resumes it, and
after ``max_blocks`` failed probes it is given up. When every egress is given up
the run stops (``RunSummary.blocked``; the CLI exits with code 3) with every
untried clip still pending.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol

import pandas as pd

from ..errors import OvavebenchError
from ..manifest import read_manifest
from ..media.archive import archive_index
from .ffmpeg_wrapper import ffmpeg_wrapper_dir
from .options import DownloadOptions
from .records import ClipJob, ClipResult, RunSummary
from .segmenter import _segmenter_processes
from .state import (
    LOCK_NAME,
    TMP_DIR,
    commit_result,
    load_budget,
    manifest_records,
    open_state,
    park_not_in_archive,
    register_records,
    save_budgets,
    select_jobs,
)
from .worker import place_files, process_clip

DIRECT = "direct"  # the egress name of the machine's own line


class RemoteWorkers(Protocol):
    """Workers on other machines, one per egress (:class:`~ovavebench.download.distributed.RayWorkers`).

    The scheduler receives one and never imports the cluster code: it asks for the egress names (one per machine
    when no proxies are given), starts the workers, which set each egress's ``submit``, and closes them at the end.
    """

    def egress_names(self) -> list[str]: ...

    def start(self, egresses: Sequence[Egress], out_dir: Path) -> None: ...

    def close(self) -> None: ...


class TokenBucket:
    """A request budget: ``per_hour`` clips per ``hour_s`` seconds, at most ``capacity`` at once.

    Wall-clock times, so that a saved bucket can be restored by a later run.
    """

    def __init__(
        self,
        per_hour: float,
        hour_s: float = 3600.0,
        capacity: float = 2.0,
        tokens: float | None = None,
        updated_at: float | None = None,
    ) -> None:
        self.rate = per_hour / hour_s
        self.capacity = capacity
        self.tokens = capacity if tokens is None else min(capacity, tokens)
        self.updated_at = time.time() if updated_at is None else updated_at

    def _refill(self, now: float) -> None:
        if now > self.updated_at:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = max(self.updated_at, now)

    def wait_s(self, now: float) -> float:
        """Seconds until one clip may start (0: now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0


class Egress:
    """One way out to the video host: its proxy, budget, clips in flight and block state."""

    def __init__(
        self, name: str, proxy: str | None, bucket: TokenBucket | None, max_in_flight: int, options: DownloadOptions
    ) -> None:
        self.name, self.proxy, self.bucket, self.max_in_flight = name, proxy, bucket, max_in_flight
        self.options = options  # this egress's options (its proxy)
        self.in_flight = 0
        self.consecutive = 0  # run-level failures in a row
        self.not_before = 0.0  # wall clock: backoff or block rest
        self.blocked = False  # resting; the next clip is a probe
        self.probe_in_flight = False
        self.failed_probes = 0
        self.blocks = 0
        self.given_up = False
        self.cause = ""
        self.done = 0
        self.started_at = time.time()
        # Where its clips run: None for this machine's threads; a callable (job -> Future) for a Ray actor.
        self.submit: Callable[[ClipJob], Future] | None = None
        self.lost = False  # its actor or node died

    def lose(self, cause: str) -> None:
        """Its actor or node died: no more clips go there (the driver requeues what was in flight)."""
        self.lost = self.given_up = True
        self.in_flight = max(0, self.in_flight - 1)
        self.probe_in_flight = False
        self.cause = cause

    def ready_in(self, now: float) -> float | None:
        """Seconds until this egress may start a clip (0: now), or None while it cannot (full, probing, given up)."""
        if self.given_up or self.in_flight >= self.max_in_flight or self.probe_in_flight:
            return None
        wait_s = max(0.0, self.not_before - now)
        if self.bucket is not None:
            wait_s = max(wait_s, self.bucket.wait_s(now))
        return wait_s

    def start(self, now: float, jitter_s: float) -> bool:
        """Take a slot (and a token); return whether this clip is a probe of a blocked egress."""
        self.in_flight += 1
        if self.bucket is not None:
            self.bucket.take(now)
        self.not_before = max(self.not_before, now + random.uniform(0.0, jitter_s))
        probe = self.blocked
        self.probe_in_flight = probe
        return probe

    def finish(self, result: ClipResult, probe: bool, now: float) -> None:
        """Update the block state from one clip's outcome."""
        self.in_flight -= 1
        if probe:
            self.probe_in_flight = False
        if not result.run_level:
            self.consecutive = 0
            if result.status == "done":
                self.done += 1
            if probe:
                self.blocked, self.failed_probes = False, 0  # the probe got through: resume
            return
        self.cause = f"{result.error_class}: {(result.error_message or '').splitlines()[0][:200]}"
        options = self.options
        if probe:
            self.failed_probes += 1
            if self.failed_probes >= options.max_blocks:
                self.given_up = True
            else:
                self.not_before = now + options.block_pause_s
            return
        if self.blocked:
            return  # a clip that was in flight when the block began
        self.consecutive += 1
        if self.consecutive >= options.block_after:
            self.blocked, self.blocks = True, self.blocks + 1
            self.not_before = now + options.block_pause_s
        else:
            delay = min(options.backoff_max_s, options.backoff_s * 2 ** (self.consecutive - 1)) * random.uniform(
                0.5, 1.5
            )
            self.not_before = max(self.not_before, now + delay)

    def state(self, now: float) -> str:
        if self.lost:
            return "lost (actor died)"
        if self.given_up:
            return "given up"
        if self.blocked:
            when = time.strftime("%H:%M", time.localtime(max(self.not_before, now)))
            return "probing" if self.probe_in_flight else f"blocked, next probe at {when}"
        rate = self.done / max(now - self.started_at, 1e-9) * 3600
        return f"{rate:.0f} clips/h"

    def budget_row(self) -> tuple[str, float, float] | None:
        return (self.name, self.bucket.tokens, self.bucket.updated_at) if self.bucket is not None else None


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """One run per folder: a second concurrent run would fight over temp files."""
    with open(out_dir / LOCK_NAME, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OvavebenchError(f"{out_dir}: another `ovavebench download` is running on this folder") from None
        yield


def _egresses(options: DownloadOptions, conn, remote: RemoteWorkers | None) -> list[Egress]:
    if remote is not None and not options.proxies:
        names = remote.egress_names()  # one egress per machine of the cluster
        proxies: list[str | None] = [options.proxy] * len(names)
    else:
        proxies = list(options.proxies) or [options.proxy]
        names = [proxy or DIRECT for proxy in proxies]
    per_hour = options.clips_per_hour
    per_egress = max(1, -(-options.workers // len(proxies)))
    egresses = []
    for name, proxy in zip(names, proxies, strict=True):
        bucket = None
        if per_hour is not None:
            saved = load_budget(conn, name)
            bucket = TokenBucket(
                per_hour,
                options.budget_hour_s,
                tokens=saved[0] if saved else None,
                updated_at=saved[1] if saved else None,
            )
        egresses.append(
            Egress(
                name,
                proxy,
                bucket,
                per_egress,
                dataclasses.replace(options, proxy=proxy, proxies=(), workers=per_egress),
            )
        )
    return egresses


def run_download(
    manifest: str | os.PathLike | pd.DataFrame,
    out_dir: str | os.PathLike,
    options: DownloadOptions = DownloadOptions(),
    on_result: Callable[[ClipResult, RunSummary], None] | None = None,
    on_state: Callable[[RunSummary], None] | None = None,
    remote: RemoteWorkers | None = None,
) -> RunSummary:
    """Download and segment every pending clip of ``manifest`` into ``out_dir``.

    ``on_result`` is called in the calling thread after each clip is committed,
    ``on_state`` when an egress is blocked, probes, resumes or is given up (the
    CLI draws its progress bar with them). With ``remote`` the clips are fetched
    by its workers (``options.ray``: :func:`ovavebench.download.download_clips`
    passes Ray's). Returns the run's summary; a run that stopped because every
    egress was blocked has ``blocked`` set.
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
                    raise OvavebenchError(
                        f"--only-classes: no clip of class(es) {', '.join(map(repr, unknown[:5]))} in {source}"
                    )
            jobs, summary.skipped_done = select_jobs(conn, options)
            summary.selected = len(jobs)
            if options.archive is not None:
                # The archive's clips first, on this machine and outside any request budget (no network);
                # the rest from the URL when one was given, else left pending: "not in archive".
                index = archive_index(options.archive)
                local = [job for job in jobs if job.youtube_id in index]
                jobs = [job for job in jobs if job.youtube_id not in index]
                if not options.archive_fallback:
                    park_not_in_archive(conn, jobs)
                    summary.not_in_archive, jobs = len(jobs), []
                offline = dataclasses.replace(options, max_clips_per_hour=0, proxies=(), proxy=None, ray=None)
                _run(local, _egresses(offline, conn, None), out_dir, offline, wrapper, conn, summary, start,
                     on_result, on_state)  # fmt: skip
            options = dataclasses.replace(options, archive=None)  # what is left comes from the URL
            egresses = _egresses(options, conn, remote)
            started = remote if jobs else None  # the remote workers, started only when there is work
            if started is not None:
                started.start(egresses, out_dir)
            try:
                _run(jobs, egresses, out_dir, options, wrapper, conn, summary, start, on_result, on_state)
            finally:
                if started is not None:
                    started.close()
            summary.pending_left += summary.not_in_archive
        finally:
            conn.close()
            shutil.rmtree(out_dir / TMP_DIR, ignore_errors=True)
    summary.elapsed_s = time.perf_counter() - start
    return summary


def _run(
    jobs: list[ClipJob],
    egresses: list[Egress],
    out_dir: Path,
    options: DownloadOptions,
    wrapper: Path,
    conn,
    summary: RunSummary,
    start: float,
    on_result: Callable[[ClipResult, RunSummary], None] | None,
    on_state: Callable[[RunSummary], None] | None,
) -> None:
    queue: collections.deque[ClipJob] = collections.deque(jobs)
    stop = threading.Event()
    in_flight: dict[Future, tuple[ClipJob, Egress, bool]] = {}
    local = any(e.submit is None for e in egresses)
    segmenter = _segmenter_processes(options.workers) if jobs and local else None
    # Jittered gaps between clip starts on one egress: a tenth of the budget's spacing.
    spacing = (options.budget_hour_s / options.clips_per_hour) if options.clips_per_hour else 0.0
    jitter_s = 0.1 * spacing

    def states(now: float) -> None:
        summary.egress_states = {e.name: e.state(now) for e in egresses}
        if on_state:
            on_state(summary)

    with ThreadPoolExecutor(max_workers=sum(e.max_in_flight for e in egresses), thread_name_prefix="clip") as pool:
        try:
            while (queue and not summary.stopped) or in_flight:
                now = time.time()
                waits = []
                for egress in egresses:
                    while queue and not summary.stopped:
                        ready = egress.ready_in(now)
                        if ready is None or ready > 0:
                            if ready is not None:
                                waits.append(ready)
                            break
                        job = queue.popleft()
                        probe = egress.start(now, jitter_s)
                        if egress.submit is not None:
                            future = egress.submit(job)
                        else:
                            future = pool.submit(
                                process_clip, job, out_dir, egress.options, None, wrapper, stop, segmenter
                            )
                        in_flight[future] = (job, egress, probe)
                        if probe:
                            states(now)
                if not in_flight:
                    if egresses and all(e.lost for e in egresses):
                        raise OvavebenchError(
                            "every Ray actor died; their clips are pending: run the same command again"
                        )
                    if all(e.given_up for e in egresses):
                        summary.blocked = True
                        summary.block_cause = "; ".join(f"{e.name}: {e.cause}" for e in egresses)
                        break
                    if not queue or summary.stopped:
                        break
                    stop.wait(min(waits, default=1.0) + 0.01)
                    continue
                finished, _ = wait(
                    list(in_flight), timeout=min(waits, default=None) if waits else None, return_when=FIRST_COMPLETED
                )
                for future in finished:
                    job, egress, probe = in_flight.pop(future)
                    try:
                        value = future.result()
                    except Exception as exc:  # noqa: BLE001 - only a remote egress gets here: its actor died
                        if egress.submit is None:
                            raise
                        egress.lose(f"actor died: {type(exc).__name__}")
                        queue.appendleft(job)  # back to pending: another egress takes it
                        states(time.time())
                        continue
                    result, files = value if isinstance(value, tuple) else (value, None)
                    if files is not None:
                        place_files(out_dir, result, files)  # atomically, checksums verified
                    result.egress = egress.name
                    was = egress.state(time.time())
                    egress.finish(result, probe, time.time())
                    budget = egress.budget_row()
                    commit_result(conn, result, [budget] if budget else [])
                    if result.status == "done":
                        summary.done += 1
                        source = (result.provenance or {}).get("source", "url")
                        summary.by_source[source] = summary.by_source.get(source, 0) + 1
                    elif result.status == "failed":
                        summary.failed += 1
                        key = result.error_class or "unknown"
                        summary.by_error_class[key] = summary.by_error_class.get(key, 0) + 1
                    else:  # pending: tried again later in this run (the egress backs off or rests first)
                        summary.deferred += 1
                        if result.stop_run:
                            summary.stopped = result.stop_run
                        else:
                            queue.append(job)
                    summary.elapsed_s = time.perf_counter() - start
                    if on_result:
                        on_result(result, summary)
                    if egress.state(time.time()) != was and (egress.blocked or was.startswith(("blocked", "probing"))):
                        states(time.time())
        except BaseException:
            stop.set()  # Ctrl-C: let workers finish their current step, commit nothing half-done
            raise
        finally:
            if segmenter is not None:
                segmenter.close()
            rows = [b for b in (e.budget_row() for e in egresses) if b]
            if rows:
                with contextlib.suppress(Exception):
                    save_budgets(conn, rows)
    summary.pending_left += len(queue) + sum(1 for _ in in_flight)
    summary.egress_states = {e.name: e.state(time.time()) for e in egresses}
