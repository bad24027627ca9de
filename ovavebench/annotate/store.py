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
CREATE TABLE IF NOT EXISTS gold (    -- clips with known labels, mixed into the rounds to measure the annotators
    clip_id TEXT PRIMARY KEY REFERENCES clips (clip_id), answers TEXT NOT NULL, source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gold_assignments (
    clip_id TEXT NOT NULL REFERENCES gold (clip_id), round INTEGER NOT NULL, annotator TEXT NOT NULL,
    PRIMARY KEY (clip_id, round, annotator)
);
CREATE TABLE IF NOT EXISTS gold_answers (  -- what annotators answered on gold tasks: never labels of the benchmark
    clip_id TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT NOT NULL, answers TEXT NOT NULL,
    clip_flag INTEGER NOT NULL, ls_task_id INTEGER, source TEXT, imported_at REAL NOT NULL,
    PRIMARY KEY (clip_id, round, annotator)
);
CREATE TABLE IF NOT EXISTS prefills (  -- a model's answers shown pre-filled in a task (opt-in: export --predictions)
    clip_id TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT NOT NULL, model_version TEXT NOT NULL,
    answers TEXT NOT NULL, PRIMARY KEY (clip_id, round, annotator)
);
CREATE TABLE IF NOT EXISTS model_answers (  -- every model answer given at export, shown or not: model–human agreement
    clip_id TEXT NOT NULL, model_version TEXT NOT NULL, answers TEXT NOT NULL, uncertainty REAL,
    PRIMARY KEY (clip_id, model_version)
);
"""


def _migrate(conn: sqlite3.Connection) -> None:
    """Columns added after the first release, added in place (earlier stores keep every row)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(annotations)")}
    if "prefilled" not in columns:
        with conn:
            conn.execute("ALTER TABLE annotations ADD COLUMN prefilled TEXT")  # the pre-filled answers, if any


def open_work(work: str | os.PathLike, create: bool = False) -> sqlite3.Connection:
    """The annotation store of a work folder; only ``annotate export`` (``create``) makes a new one.

    A damaged store, or a database of another tool, is refused and left as it is.
    """
    work = Path(work)
    if not create and not (work / DB_NAME).is_file():
        raise OvavebenchError(
            f"{work}: not an annotation work folder (no {DB_NAME}); "
            "run `ovavebench annotate export --work` with it first"
        )
    work.mkdir(parents=True, exist_ok=True)
    conn = open_sqlite_state(work / DB_NAME, _SCHEMA, "annotations", "an annotation store (annotate.sqlite)")
    _migrate(conn)
    return conn


def clips_with_media(manifest: pd.DataFrame, media: Path) -> set[str]:
    """The manifest's clips whose frames and audio are in the media folder."""
    return {
        str(r.clip_id)
        for r in manifest.itertuples(index=False)
        if str(r.clip_id)
        and (media / str(r.clip_id) / "audio.wav").exists()
        and (media / str(r.clip_id) / "frames" / "0.png").exists()
    }


def register_clips(conn: sqlite3.Connection, manifest: pd.DataFrame, media: Path) -> int:
    """Add manifest clips whose media exist (frames and audio) to the plan; return how many are known."""
    present = clips_with_media(manifest, media)
    rows = [
        (str(r.clip_id), str(r.youtube_id), str(r.class_name))
        for r in manifest.itertuples(index=False)
        if str(r.clip_id) in present
    ]
    with conn:
        conn.executemany("INSERT OR IGNORE INTO clips VALUES (?, ?, ?)", rows)
    return conn.execute("SELECT COUNT(*) FROM clips").fetchone()[0]


def current_answers(conn: sqlite3.Connection, round_no: int) -> dict[str, sqlite3.Row]:
    """The current (not superseded) answer of each clip in a round."""
    return {
        r["clip_id"]: r
        for r in conn.execute("SELECT * FROM annotations WHERE round = ? AND superseded_at IS NULL", (round_no,))
    }
