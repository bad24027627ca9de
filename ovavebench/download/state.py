"""The download stage's state database: one row per clip, one per attempt, the request budgets.

SQLite, written only by the process that runs the download (the single source of
truth). A clip is ``done`` only once its files are in place and its row is
committed. Older databases are migrated in place (new columns are added).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from ..ids import make_clip_id, validate_youtube_id
from ..io import atomic_open, open_sqlite_state, sha256_file
from .failures import TRANSIENT_CLASSES
from .options import DownloadOptions
from .records import ClipJob, ClipResult

DB_NAME = "download.sqlite"
TMP_DIR = ".tmp"
PARTIAL_DIR = "partial"  # a short window's whole seconds, kept for inspection: never a clip folder, never done
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


# Columns added after the first release: added in place to an existing database.
_MIGRATIONS = {
    "attempts": {"warnings": "TEXT", "egress": "TEXT"},
    "clips": {"source": "TEXT", "provenance": "TEXT"},  # where the media came from (archive, url) and its details
}
_SCHEMA += """
CREATE TABLE IF NOT EXISTS budget (
    egress TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""


def open_state(out_dir: str | os.PathLike) -> sqlite3.Connection:
    """Open (creating) the state database of a download folder, migrating an older one in place.

    A file that is not a readable SQLite database, or one that holds other tables
    (another tool's database), is refused and left exactly as it is.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = open_sqlite_state(out_dir / DB_NAME, _SCHEMA, "attempts", "a download state database")
    for table, columns in _MIGRATIONS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in present:
                with conn:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    return conn


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
    for line, row in zip(rows.index, rows.itertuples(index=False), strict=True):
        where = f"{source}: row {int(line) + 2}" if isinstance(line, (int, np.integer)) else source
        youtube_id = validate_youtube_id(str(row.youtube_id), f"{where}, clip {row.clip_id!r}")
        # the time columns are numeric (float where a row has none); pandas types row fields as any scalar
        start = int(cast(float, row.start_s))
        if start < 0:
            raise OvavebenchError(f"{where}: clip {row.clip_id!r}: negative start_s {start}")
        clip_id = make_clip_id(youtube_id, start)
        if str(row.clip_id) != clip_id:
            raise OvavebenchError(
                f"{where}: clip id {row.clip_id!r} does not match its YouTube id and start ({clip_id})"
            )
        end_s = cast(float, row.end_s) if "end_s" in rows.columns else None
        end = int(end_s) if end_s is not None and pd.notna(end_s) else start + SEGMENTS
        if end != start + SEGMENTS:
            raise OvavebenchError(
                f"{where}: clip {clip_id!r}: end_s {end} is not start_s + {SEGMENTS} = {start + SEGMENTS} "
                f"(every clip is a {SEGMENTS} s window)"
            )
        records.append(
            (
                clip_id,
                youtube_id,
                start,
                end,
                getattr(row, "class_name", None),
                getattr(row, "split", None) or None,
                now,
            )
        )
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
            "WHERE clips.status != 'done'",
            records,
        )
        return conn.execute("SELECT COUNT(*) FROM clips").fetchone()[0] - before


def _shard_of(clip_id: str, n: int) -> int:
    return zlib.crc32(clip_id.encode()) % n


def park_not_in_archive(conn: sqlite3.Connection, jobs: list[ClipJob]) -> None:
    """Leave clips pending with the reason "not in archive" (no URL was given to fetch them from)."""
    with conn:
        conn.executemany(
            "UPDATE clips SET status = 'pending', error_class = 'not_in_archive', error_message = 'not in archive' "
            "WHERE clip_id = ?",
            [(job.clip_id,) for job in jobs],
        )


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


def commit_result(
    conn: sqlite3.Connection, result: ClipResult, budgets: Sequence[tuple[str, float, float]] = ()
) -> None:
    """Record one clip's outcome, its attempts (with yt-dlp's warnings) and the budgets in one transaction."""
    attempts = result.attempts
    first = attempts[0].started_at if attempts else None
    last = attempts[-1].started_at if attempts else None
    with conn:
        conn.executemany(
            "INSERT INTO attempts "
            "(clip_id, started_at, ended_at, outcome, error_class, error_message, warnings, egress) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    result.job.clip_id,
                    a.started_at,
                    a.ended_at,
                    a.outcome,
                    a.error_class,
                    a.error_message,
                    json.dumps(a.warnings) if a.warnings else None,
                    result.egress,
                )
                for a in attempts
            ],
        )
        conn.execute(
            """UPDATE clips SET status = ?, error_class = ?, error_message = ?, attempts = attempts + ?,
               first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?, finished_at = ?,
               download_s = ?, segment_s = ?, bytes = ?, checksums = ?,
               source = COALESCE(?, source), provenance = COALESCE(?, provenance) WHERE clip_id = ?""",
            (
                result.status,
                result.error_class,
                result.error_message,
                len(attempts),
                first,
                last,
                time.time() if result.status != "pending" else None,
                result.download_s,
                result.segment_s,
                result.bytes,
                json.dumps(result.checksums, sort_keys=True) if result.checksums else None,
                (result.provenance or {}).get("source"),
                json.dumps(result.provenance, sort_keys=True) if result.provenance else None,
                result.job.clip_id,
            ),
        )
        if budgets:
            conn.executemany("INSERT OR REPLACE INTO budget (egress, tokens, updated_at) VALUES (?, ?, ?)", budgets)


def load_budget(conn: sqlite3.Connection, egress: str) -> tuple[float, float] | None:
    """(tokens, wall-clock time) of an egress's request budget as last saved, or None."""
    row = conn.execute("SELECT tokens, updated_at FROM budget WHERE egress = ?", (egress,)).fetchone()
    return (float(row[0]), float(row[1])) if row else None


def save_budgets(conn: sqlite3.Connection, budgets: list[tuple[str, float, float]]) -> None:
    with conn:
        conn.executemany("INSERT OR REPLACE INTO budget (egress, tokens, updated_at) VALUES (?, ?, ?)", budgets)


# --------------------------------------------------------------------------- status, verify


@dataclass
class StatusReport:
    by_status: dict[str, int]
    by_error_class: dict[str, int]
    failed_by_class_name: dict[str, int]
    warnings: dict[str, int] = field(default_factory=dict)  # yt-dlp warning (ids removed) → attempts that got it
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # source → status → clips
    pending_reasons: dict[str, int] = field(default_factory=dict)  # why pending clips wait (e.g. not in archive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_status": self.by_status,
            "by_source": self.by_source,
            "pending_reasons": self.pending_reasons,
            "by_error_class": self.by_error_class,
            "failed_by_class_name": self.failed_by_class_name,
            "warnings": self.warnings,
        }


_VIDEO_ID = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{11}(?![A-Za-z0-9_-])")


def _warning_key(message: str) -> str:
    """A warning with the video id taken out, so that the same warning of many clips counts as one."""
    return _VIDEO_ID.sub("<id>", " ".join(message.split()))[:300]


def download_status(out_dir: str | os.PathLike) -> StatusReport:
    """Counts per status, per error class, and of yt-dlp's warnings, in a download folder."""
    conn = _existing_state(out_dir)
    with contextlib.closing(conn):
        by_status = {s: 0 for s in STATUSES}
        by_status.update({r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM clips GROUP BY status")})
        by_error = {
            r[0] or "unknown": r[1]
            for r in conn.execute(
                "SELECT error_class, COUNT(*) FROM clips WHERE status = 'failed' GROUP BY error_class ORDER BY 2 DESC"
            )
        }
        by_class = {
            r[0] or "": r[1]
            for r in conn.execute(
                "SELECT class_name, COUNT(*) FROM clips WHERE status = 'failed' GROUP BY class_name ORDER BY 2 DESC"
            )
        }
        by_source: dict[str, dict[str, int]] = {}
        for source, status, count in conn.execute(
            "SELECT COALESCE(source, 'none'), status, COUNT(*) FROM clips GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            by_source.setdefault(source, {})[status] = count
        pending = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT error_message, COUNT(*) FROM clips WHERE status = 'pending' AND error_class = 'not_in_archive' "
                "GROUP BY 1"
            )
        }
        warnings: Counter[str] = Counter()
        for (text,) in conn.execute("SELECT warnings FROM attempts WHERE warnings IS NOT NULL"):
            with contextlib.suppress(ValueError, TypeError):
                warnings.update({_warning_key(w) for w in json.loads(text) if isinstance(w, str)})
    return StatusReport(by_status, by_error, by_class, dict(warnings.most_common()), by_source, pending)


def _existing_state(out_dir: str | os.PathLike) -> sqlite3.Connection:
    if not (Path(out_dir) / DB_NAME).exists():
        raise OvavebenchError(f"{out_dir}: no download state ({DB_NAME}); run `ovavebench download` first")
    return open_state(out_dir)


def write_failures(out_dir: str | os.PathLike, path: str | os.PathLike) -> int:
    """Write every failed clip with its error class and raw message as CSV; return the count."""
    conn = _existing_state(out_dir)
    with contextlib.closing(conn):
        rows = conn.execute(
            "SELECT clip_id, youtube_id, start_s, class_name, split, error_class, attempts, error_message, "
            "source, provenance FROM clips WHERE status = 'failed' ORDER BY error_class, clip_id"
        ).fetchall()
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["clip_id", "youtube_id", "start_s", "class_name", "split", "error_class", "attempts", "error_message"]
            + ["source", "source_file", "duration_s", "window_s", "seconds_kept"]
        )
        for r in rows:
            details = json.loads(r["provenance"] or "{}")
            where = details.get("member") or details.get("url") or ""
            lengths = [details.get(k, "") for k in ("duration_s", "window_s", "seconds_kept")]
            writer.writerow([*tuple(r)[:8], r["source"] or "", where, *lengths])
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
            for name in sorted(expected) or CLIP_FILES:
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
                conn.executemany(
                    "UPDATE clips SET status = 'pending', checksums = NULL WHERE clip_id = ?",
                    [(c,) for c, _ in report.bad],
                )
        done_ids = {row["clip_id"] for row in done}
        short = conn.execute("SELECT clip_id FROM clips WHERE status = 'failed' AND error_class = 'too_short'")
        short_ids = {r[0] for r in short}
    ignored = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", LOCK_NAME, TMP_DIR, ".tools", PARTIAL_DIR}
    for entry in sorted(out_dir.iterdir()):
        if entry.name in ignored:
            continue
        if entry.name not in done_ids:
            report.strays.append(entry.name)
    partial = out_dir / PARTIAL_DIR
    for entry in sorted(partial.iterdir()) if partial.is_dir() else []:
        if entry.name not in short_ids:  # a short clip's seconds are kept only while it is failed as too_short
            report.strays.append(f"{PARTIAL_DIR}/{entry.name}")
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
            "SELECT clip_id, youtube_id, start_s, class_name, split FROM clips WHERE status = 'done' ORDER BY clip_id",
            conn,
        )
