"""The annotation store ``W/annotate.sqlite``: the clips, the plan, every imported answer with its history."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd

from ..errors import OvavebenchError
from ..io import open_sqlite_state

DB_NAME = "annotate.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    clip_id TEXT PRIMARY KEY, youtube_id TEXT NOT NULL, class_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    clip_id TEXT NOT NULL REFERENCES clips (clip_id), round INTEGER NOT NULL, annotator TEXT NOT NULL,
    PRIMARY KEY (clip_id, round)
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    clip_id TEXT NOT NULL REFERENCES clips (clip_id), round INTEGER NOT NULL, annotator TEXT NOT NULL,
    answers TEXT NOT NULL,            -- 10 characters, 1 = yes
    clip_flag INTEGER NOT NULL,       -- 1 = broken
    lead_time REAL, created_at TEXT, updated_at TEXT,
    ls_project_id INTEGER, ls_task_id INTEGER, ls_annotation_id INTEGER,
    source TEXT, imported_at REAL NOT NULL,
    superseded_at REAL                -- NULL for the current answer; history otherwise
);
CREATE INDEX IF NOT EXISTS annotations_current ON annotations (clip_id, round) WHERE superseded_at IS NULL;
CREATE TABLE IF NOT EXISTS projects (
    round INTEGER NOT NULL, annotator TEXT NOT NULL, ls_project_id INTEGER NOT NULL, url TEXT NOT NULL,
    PRIMARY KEY (round, annotator)
);
CREATE TABLE IF NOT EXISTS archived_projects (  -- projects of a finished round, exported here and deleted on the server
    ls_project_id INTEGER PRIMARY KEY, round INTEGER NOT NULL, annotator TEXT NOT NULL,
    archive TEXT,                     -- the full export, relative to the work folder (NULL: gone before archiving)
    annotations INTEGER NOT NULL, archived_at REAL NOT NULL
);
"""



def open_work(work: str | os.PathLike, create: bool = False) -> sqlite3.Connection:
    """The annotation store of a work folder; only ``annotate export`` (``create``) makes a new one.

    A damaged store, or a database of another tool, is refused and left as it is.
    """
    work = Path(work)
    if not create and not (work / DB_NAME).is_file():
        raise OvavebenchError(f"{work}: not an annotation work folder (no {DB_NAME}); "
                              "run `ovavebench annotate export --work` with it first")
    work.mkdir(parents=True, exist_ok=True)
    return open_sqlite_state(work / DB_NAME, _SCHEMA, "annotations", "an annotation store (annotate.sqlite)")


def register_clips(conn: sqlite3.Connection, manifest: pd.DataFrame, media: Path) -> int:
    """Add manifest clips whose media exist (frames and audio) to the plan; return how many are known."""
    rows = []
    for row in manifest.itertuples(index=False):
        clip_id = str(row.clip_id)
        if not clip_id or not (media / clip_id / "audio.wav").exists() or not (media / clip_id / "frames" / "0.png").exists():
            continue
        rows.append((clip_id, str(row.youtube_id), str(row.class_name)))
    with conn:
        conn.executemany("INSERT OR IGNORE INTO clips VALUES (?, ?, ?)", rows)
    return conn.execute("SELECT COUNT(*) FROM clips").fetchone()[0]


def current_answers(conn: sqlite3.Connection, round_no: int) -> dict[str, sqlite3.Row]:
    """The current (not superseded) answer of each clip in a round."""
    return {r["clip_id"]: r for r in conn.execute(
        "SELECT * FROM annotations WHERE round = ? AND superseded_at IS NULL", (round_no,))}

