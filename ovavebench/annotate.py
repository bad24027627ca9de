"""Annotation stage: two-round crowd labelling with exchanged annotators, adjudication, final labels.

Protocol (the paper's): round 1 splits the clips among the annotators, balanced
per class; round 2 gives every clip to a different annotator (the exchange);
round 3 holds the clips on which rounds 1 and 2 disagree, with both answers
pre-filled as predictions, for adjudication. ``finalize`` writes the labels in
the published format.

Tasks use Label Studio's import format. Data fields: ``clip_id``, ``class_name``,
``frame_0``…``frame_9``, ``audio_0``…``audio_9`` (media URLs), ``audio`` (the whole
clip), and the HTML the task view shows (``second_0``…``second_9``, ``clip_player``);
controls ``av_0``…``av_9`` (``yes``/``no``, one per second) and ``clip_flag`` (``broken``). The plan and
every imported annotation (with its history) live in ``W/annotate.sqlite``.
"""

from __future__ import annotations

import contextlib
import html
import math
import os
import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import soundfile

from .errors import InputFileError, OvavebenchError
from .io import atomic_open, atomic_write_json, atomic_write_text, open_sqlite_state, read_json
from .media import SEGMENTS

DB_NAME = "annotate.sqlite"
YES, NO, BROKEN = "yes", "no", "broken"
AV_CONTROLS = tuple(f"av_{k}" for k in range(SEGMENTS))
FLAG_CONTROL = "clip_flag"
ROUND_FILE_RE = re.compile(r"^round(?P<round>[123])_(?P<annotator>[^/]+)\.json$")
DEFAULT_MEDIA_URL_PREFIX = "/data/local-files/?d="

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


# --------------------------------------------------------------------------- the task design


# The task view has to fit one laptop screen and respond at once (crowd annotators, a 2-core machine): frames and
# per-second audio are plain <img>/<audio> elements in an inline HyperText (Label Studio's <Image> is a canvas with a
# fixed size and zoom tools, its <Audio> a waveform that costs ~1 s of main thread each), laid out by CSS in a
# 5 × 2 grid. Answers are checkbox-style single choices: radio inputs would share names across the ten groups, so the
# arrow keys would move an answer to the neighbouring second.
_TASK_CSS = """
.ovave-head { display: flex; flex-wrap: wrap; align-items: center; gap: 2px 16px; }
.ovave-head h1, .ovave-head h2, .ovave-head h3, .ovave-head h4 { margin: 0 !important; }
.ovave-guide { font-size: 12px; line-height: 1.35; color: #444; margin: 2px 0 4px; }
.ovave-guide p { margin: 0; }
.ovave-clip audio { width: 100%; height: 32px; display: block; }
.ovave-grid { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 6px; margin-top: 4px; }
.ovave-card { border: 1px solid #c8c8c8; border-radius: 4px; padding: 2px 4px 0; min-width: 0; }
.ovave-card h4, .ovave-card h5, .ovave-card h6 { margin: 0 !important; font-size: 13px !important; line-height: 18px !important; }
.ovave-card img { display: block; width: 100%; aspect-ratio: 4 / 3; object-fit: contain; background: #000; }
.ovave-card audio { display: block; width: 100%; height: 26px; }
.ovave-card .lsf-choices { display: flex; gap: 12px; margin: 0 !important; }
.ovave-card .lsf-choice { margin: 0 !important; }
.ovave-flag { margin-top: 4px; }
"""
GUIDE_SUMMARY = (
    "**yes** = in this second you *hear* the class and *see* what makes the sound. **no** = off-screen source, "
    "silent object, music or voice-over over pictures, another class. The player below plays the whole clip, for context. "
    "**Keys**: `0`–`9` answer second 0–9 *yes*, `Shift`+`0`–`9` answer it *no*; `b` flags the clip broken; `Ctrl`+`Enter` submits. "
    "Full guide: GUIDELINES.md."
)
YES_HOTKEY, NO_HOTKEY = "{k}", "shift+{k}"


def label_config(segments: int = SEGMENTS) -> str:
    """The Label Studio labelling config: the class, the whole clip's audio, then per second a frame, its audio
    and a yes/no question (``av_k``), on one screen at 1366×768."""
    lines = [
        '<View className="ovave">',
        "  <Style>" + _TASK_CSS.replace("\n", "\n    ") + "</Style>",
        '  <View className="ovave-head">',
        '    <Header size="3" value="$class_name"/>',
        '    <Text name="clip" value="$clip_id"/>',
        "  </View>",
        f'  <View className="ovave-guide"><Markdown value={quoteattr(GUIDE_SUMMARY)}/></View>',
        '  <View className="ovave-clip"><HyperText name="clip_player" value="$clip_player" inline="true"/></View>',
        '  <View className="ovave-grid">',
    ]
    for k in range(segments):
        lines += [
            '    <View className="ovave-card">',
            f'      <Header size="6" value="Second {k}"/>',
            f'      <HyperText name="second_{k}" value="$second_{k}" inline="true"/>',
            f'      <Choices name="av_{k}" toName="second_{k}" choice="single" showInline="true" required="true" '
            f'requiredMessage="Second {k}: answer yes or no">',
            f'        <Choice value={quoteattr(YES)} hotkey={quoteattr(YES_HOTKEY.format(k=k))}/>',
            f'        <Choice value={quoteattr(NO)} hotkey={quoteattr(NO_HOTKEY.format(k=k))}/>',
            "      </Choices>",
            "    </View>",
        ]
    lines += [
        "  </View>",
        '  <View className="ovave-flag">',
        f'    <Choices name="{FLAG_CONTROL}" toName="clip" choice="multiple" showInline="true">',
        f'      <Choice value="{BROKEN}" hotkey="b" hint="The clip never shows or sounds like its class, or is broken throughout"/>',
        "    </Choices>",
        "  </View>",
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def second_html(frame_url: str, audio_url: str, k: int) -> str:
    """One second's card content: its middle frame and its audio (the whole second: plain HTML5 audio)."""
    return (f'<img src="{html.escape(frame_url)}" alt="second {k}" loading="eager">'
            f'<audio controls preload="none" src="{html.escape(audio_url)}"></audio>')


def clip_player_html(audio_url: str) -> str:
    """The whole clip's audio; the player's clock (0:00–0:10) names the second being heard."""
    return f'<audio controls preload="metadata" src="{html.escape(audio_url)}" title="whole clip, 10 s"></audio>'


def answers_to_result(answers: Sequence[int], broken: bool) -> list[dict[str, Any]]:
    """Answers → a Label Studio ``result`` list (for predictions and tests)."""
    result = [
        {"from_name": f"av_{k}", "to_name": f"second_{k}", "type": "choices", "value": {"choices": [YES if a else NO]}}
        for k, a in enumerate(answers)
    ]
    if broken:
        result.append({"from_name": FLAG_CONTROL, "to_name": "clip", "type": "choices", "value": {"choices": [BROKEN]}})
    return result


class AnnotationError(ValueError):
    """An annotation that does not fit the task design."""


def parse_result(result: Any, segments: int = SEGMENTS) -> tuple[list[int], bool]:
    """A Label Studio ``result`` list → (10 answers, broken flag); raise :class:`AnnotationError`."""
    if not isinstance(result, list):
        raise AnnotationError("result is not a list")
    answers: dict[int, int] = {}
    broken = False
    for item in result:
        if not isinstance(item, dict):
            raise AnnotationError("a result item is not an object")
        name = item.get("from_name")
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        choices = value.get("choices")
        if item.get("type") != "choices" or not isinstance(choices, list):
            raise AnnotationError(f"control {name!r}: expected a choices result")
        if name == FLAG_CONTROL:
            if any(c != BROKEN for c in choices):
                raise AnnotationError(f"control {FLAG_CONTROL}: unknown choice(s) {choices} (expected {BROKEN!r})")
            broken = broken or BROKEN in choices
            continue
        match = re.fullmatch(r"av_(\d{1,4})", name) if isinstance(name, str) else None
        if not match or int(match.group(1)) >= segments:
            raise AnnotationError(f"unknown control {name!r}")
        k = int(match.group(1))
        if k in answers:
            raise AnnotationError(f"control {name} answered twice")
        if len(choices) != 1 or choices[0] not in (YES, NO):
            raise AnnotationError(f"control {name}: choice {choices} is not exactly one of {YES!r}/{NO!r}")
        answers[k] = 1 if choices[0] == YES else 0
    missing = [k for k in range(segments) if k not in answers]
    if missing:
        raise AnnotationError(f"second(s) {missing} not answered")
    return [answers[k] for k in range(segments)], broken


# --------------------------------------------------------------------------- state


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


def _current(conn: sqlite3.Connection, round_no: int) -> dict[str, sqlite3.Row]:
    return {r["clip_id"]: r for r in conn.execute(
        "SELECT * FROM annotations WHERE round = ? AND superseded_at IS NULL", (round_no,))}


# --------------------------------------------------------------------------- planning


def annotator_names(given: Sequence[str]) -> list[str]:
    """The ``--annotators`` names, checked: none empty or repeated, letters, digits, '_', '.', '@' or '-' only."""
    names = [a.strip() for a in given]
    if any(not name for name in names) and any(names):
        raise OvavebenchError(f"--annotators {','.join(given)!r}: an empty name (a stray comma?)")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise OvavebenchError(f"--annotators: {', '.join(repeated)} listed twice (each annotator once)")
    names = [name for name in names if name]
    if not names:
        raise OvavebenchError("--annotators: give at least one name")
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", name):
            raise OvavebenchError(f"annotator name {ascii(name)}: use letters, digits, '_', '.', '@' or '-'")
    return names


def plan_round(conn: sqlite3.Connection, round_no: int, annotators: Sequence[str]) -> dict[str, list[str]]:
    """Assign clips of a round to annotators (idempotent); return annotator → clip ids.

    Round 1: balanced per class (round-robin within each class, the start rotating
    from class to class). Round 2: every clip goes to the next annotator after its
    round-1 one (the exchange). Round 3: the clips whose rounds 1 and 2 disagree,
    spread over the adjudicators.
    """
    annotators = annotator_names(annotators)
    existing = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,)).fetchall()
    if existing:
        planned = sorted({r["annotator"] for r in existing})
        if sorted(annotators) != planned:
            raise OvavebenchError(f"round {round_no} is already planned for {', '.join(planned)}; "
                                  f"cannot re-plan it for {', '.join(annotators)}")
    else:
        assignments = _assign(conn, round_no, annotators)
        with conn:
            conn.executemany("INSERT INTO assignments VALUES (?, ?, ?)", [(c, round_no, a) for c, a in assignments])
    out: dict[str, list[str]] = {a: [] for a in annotators}
    for row in conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ? ORDER BY clip_id", (round_no,)):
        out.setdefault(row["annotator"], []).append(row["clip_id"])
    return out


def _assign(conn: sqlite3.Connection, round_no: int, annotators: list[str]) -> list[tuple[str, str]]:
    if round_no == 1:
        clips = conn.execute("SELECT clip_id, class_name FROM clips ORDER BY class_name, clip_id").fetchall()
        out, offset, previous = [], 0, None
        position = 0
        for row in clips:
            if row["class_name"] != previous:
                offset, previous, position = (offset + position) % len(annotators), row["class_name"], 0
            out.append((row["clip_id"], annotators[(offset + position) % len(annotators)]))
            position += 1
        return out
    if round_no == 2:
        first = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = 1").fetchall()
        if not first:
            raise OvavebenchError("round 2 needs round 1 planned first (export round 1)")
        if len(annotators) < 2:
            raise OvavebenchError("round 2 exchanges annotators: give at least two")
        out = []
        for row in first:
            if row["annotator"] in annotators:
                nxt = annotators[(annotators.index(row["annotator"]) + 1) % len(annotators)]
            else:  # a round-1 annotator who left: anyone else
                nxt = annotators[hash(row["clip_id"]) % len(annotators)]
            out.append((row["clip_id"], nxt))
        return out
    if round_no == 3:
        disagreements = find_disagreements(conn)
        if disagreements.pending:
            raise OvavebenchError(f"round 3 needs rounds 1 and 2 complete: {len(disagreements.pending)} clip(s) lack an "
                                  f"answer, e.g. {', '.join(disagreements.pending[:3])}")
        return [(clip, annotators[i % len(annotators)]) for i, clip in enumerate(disagreements.clips)]
    raise OvavebenchError(f"round must be 1, 2 or 3, got {round_no}")


@dataclass
class Disagreements:
    clips: list[str]  # rounds 1 and 2 differ (any second or the flag)
    pending: list[str]  # a round-1 or round-2 answer is missing


def find_disagreements(conn: sqlite3.Connection, r1: dict[str, sqlite3.Row] | None = None,
                       r2: dict[str, sqlite3.Row] | None = None) -> Disagreements:
    """Clips whose round-1 and round-2 answers differ, and clips still missing one (answers may be passed in)."""
    r1 = _current(conn, 1) if r1 is None else r1
    r2 = _current(conn, 2) if r2 is None else r2
    planned = [r["clip_id"] for r in conn.execute("SELECT clip_id FROM assignments WHERE round = 1 ORDER BY clip_id")]
    clips, pending = [], []
    for clip in planned:
        a, b = r1.get(clip), r2.get(clip)
        if a is None or b is None:
            pending.append(clip)
        elif a["answers"] != b["answers"] or a["clip_flag"] != b["clip_flag"]:
            clips.append(clip)
    return Disagreements(clips, pending)


# --------------------------------------------------------------------------- export


def second_audio_paths(media: Path, clip_id: str) -> list[Path]:
    """Each second's audio as its own short wav beside the clip (written once).

    The files are written in order, each atomically: the last one existing means all do.
    """
    folder = media / clip_id / "seconds"
    paths = [folder / f"{k}.wav" for k in range(SEGMENTS)]
    if paths[-1].exists():
        return paths
    audio, rate = soundfile.read(media / clip_id / "audio.wav", dtype="int16")
    folder.mkdir(exist_ok=True)
    for k, path in enumerate(paths):
        with atomic_open(path, "wb") as handle:
            soundfile.write(handle, audio[k * rate:(k + 1) * rate], rate, format="WAV", subtype="PCM_16")
    return paths


class MediaUrls:
    """URLs of a clip's files: resolved once per export, then plain string joins (24,800 clips × 20 files)."""

    def __init__(self, media: Path, document_root: Path, prefix: str):
        relative = os.path.relpath(media.resolve(), document_root.resolve())
        self.base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        self.prefix = prefix if prefix.endswith("?d=") else prefix.rstrip("/") + "/"

    def __call__(self, clip_id: str, relative: str) -> str:
        return self.prefix + urllib.parse.quote(f"{self.base}{clip_id}/{relative}")


def build_tasks(conn: sqlite3.Connection, round_no: int, clip_ids: Iterable[str], media: Path,
                document_root: Path, url_prefix: str) -> list[dict[str, Any]]:
    """Label Studio import tasks for ``clip_ids`` (round 3: with the earlier answers as predictions)."""
    classes = {r["clip_id"]: r["class_name"] for r in conn.execute("SELECT clip_id, class_name FROM clips")}
    earlier = {1: _current(conn, 1), 2: _current(conn, 2)} if round_no == 3 else {}
    url = MediaUrls(media, document_root, url_prefix)
    tasks = []
    for clip in clip_ids:
        data: dict[str, Any] = {"clip_id": clip, "class_name": classes[clip], "round": round_no}
        for k in range(SEGMENTS):
            data[f"frame_{k}"] = url(clip, f"frames/{k}.png")
        second_audio_paths(media, clip)
        for k in range(SEGMENTS):
            data[f"audio_{k}"] = url(clip, f"seconds/{k}.wav")
        data["audio"] = url(clip, "audio.wav")
        data["clip_player"] = clip_player_html(data["audio"])
        for k in range(SEGMENTS):
            data[f"second_{k}"] = second_html(data[f"frame_{k}"], data[f"audio_{k}"], k)
        task: dict[str, Any] = {"data": data}
        if round_no == 3:
            task["predictions"] = [
                {"model_version": f"round{r}:{earlier[r][clip]['annotator']}",
                 "result": answers_to_result([int(c) for c in earlier[r][clip]["answers"]], bool(earlier[r][clip]["clip_flag"]))}
                for r in (1, 2)
            ]
        tasks.append(task)
    return tasks


def find_document_root(client: Any, media: Path, given: Path | None, clip_id: str, url_prefix: str) -> Path:
    """The folder the server's media URLs are relative to (its LOCAL_FILES_DOCUMENT_ROOT), found by asking it.

    Label Studio serves ``?d=PATH`` as PATH below its document root, which a client cannot read; each folder
    above the media is tried with one frame's URL until the server answers 200. With ``given`` only that one.
    """
    candidates = [given] if given is not None else list(media.resolve().parents)
    for candidate in candidates:
        if media.resolve() == candidate.resolve() or candidate.resolve() not in media.resolve().parents:
            continue  # the storage must sit strictly below the root
        url = MediaUrls(media, candidate, url_prefix)(clip_id, "frames/0.png")
        if client.media_status(url) in (200, 206):
            return candidate
    hint = (f"--document-root {given} is not the server's LOCAL_FILES_DOCUMENT_ROOT" if given is not None else
            "the server serves the media under none of the folders above them")
    raise OvavebenchError(
        f"Label Studio at {client.url}: {hint}; start it with LOCAL_FILES_SERVING_ENABLED=true and "
        f"LOCAL_FILES_DOCUMENT_ROOT={media.resolve().parent} (the media folder strictly below it), or pass "
        "--document-root set to the server's LOCAL_FILES_DOCUMENT_ROOT")


def check_media_served(client: Any, task: dict[str, Any]) -> None:
    """Fetch one frame and one audio URL of a task through the server; anything but 200/206 is an error."""
    for key in ("frame_0", "audio_0"):
        status = client.media_status(task["data"][key])
        if status not in (200, 206):
            raise OvavebenchError(
                f"Label Studio at {client.url} answers HTTP {status} for {task['data'][key]} ({key} of clip "
                f"{task['data']['clip_id']}): annotators would see no media and flag good clips broken; check "
                "LOCAL_FILES_SERVING_ENABLED=true and LOCAL_FILES_DOCUMENT_ROOT (the media folder strictly below it)")


@dataclass
class ExportReport:
    round: int
    files: dict[str, Path] = field(default_factory=dict)  # annotator → import file (file mode)
    projects: dict[str, int] = field(default_factory=dict)  # annotator → project id (live mode)
    tasks: dict[str, int] = field(default_factory=dict)
    archived: list["ArchivedProject"] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class ArchivedProject:
    round: int
    annotator: str
    project_id: int
    archive: Path | None  # None: the project was gone from the server already
    annotations: int
    new: int  # annotations the store did not have yet


def archive_path(work: Path, round_no: int, annotator: str, project_id: int) -> Path:
    return work / "archive" / f"round{round_no}_{annotator}_project{project_id}.json"


def close_earlier_rounds(client: Any, work: str | os.PathLike, round_no: int) -> list[ArchivedProject]:
    """Take the projects of rounds before ``round_no`` off the server, losing nothing.

    Each project the toolkit created for an earlier round is exported in full (tasks, annotations, drafts) to
    ``WORK/archive/``, imported into the store (idempotent: what was imported stays as it is), and only then
    deleted on the server. ``annotate import`` of a closed round reads its archive instead of the server.
    """
    work = Path(work)
    closed: list[ArchivedProject] = []
    with contextlib.closing(open_work(work)) as conn:
        live = conn.execute(
            "SELECT round, annotator, ls_project_id, url FROM projects WHERE round < ? AND ls_project_id NOT IN "
            "(SELECT ls_project_id FROM archived_projects) ORDER BY round, annotator", (round_no,)).fetchall()
    elsewhere = sorted({row["url"] for row in live if row["url"].rstrip("/") != client.url.rstrip("/")})
    if elsewhere:  # project ids of another server: never delete by id on this one
        raise OvavebenchError(f"the earlier rounds' projects live on {', '.join(elsewhere)}, not on {client.url}: "
                              "export this round there, or pass --keep-earlier-rounds")
    users = client.users() if live else {}
    for row in live:
        earlier, annotator, project_id = int(row["round"]), str(row["annotator"]), int(row["ls_project_id"])
        path: Path | None = None
        count = new = 0
        try:
            tasks = client.snapshot_export(project_id)
        except OvavebenchError as exc:
            if "HTTP 404" not in str(exc):
                raise
            tasks = None  # deleted by hand: nothing left to keep
        if tasks is not None:
            path = archive_path(work, earlier, annotator, project_id)
            atomic_write_json(path, tasks, indent=None)
            imported = import_annotations(work, earlier, [(str(path), tasks, annotator, project_id)], users)
            count = sum(len(t.get("annotations") or []) for t in tasks if isinstance(t, dict))
            new = imported.imported + imported.updated
            client.delete_project(project_id)
        with contextlib.closing(open_work(work)) as conn, conn:
            conn.execute("INSERT INTO archived_projects VALUES (?, ?, ?, ?, ?, ?)", (
                project_id, earlier, annotator, str(path.relative_to(work)) if path else None, count, time.time()))
        closed.append(ArchivedProject(earlier, annotator, project_id, path, count, new))
    return closed


def round_exports(client: Any, work: str | os.PathLike, round_no: int) -> list[tuple[str, Any, str | None, int | None]]:
    """The exports of a round's projects for :func:`import_annotations`: from the server, or from the archive of
    a round already closed."""
    work = Path(work)
    with contextlib.closing(open_work(work)) as conn:
        rows = conn.execute("SELECT p.annotator, p.ls_project_id, a.archive, a.ls_project_id IS NOT NULL AS closed "
                            "FROM projects p LEFT JOIN archived_projects a ON a.ls_project_id = p.ls_project_id "
                            "WHERE p.round = ? ORDER BY p.annotator", (round_no,)).fetchall()
    exports: list[tuple[str, Any, str | None, int | None]] = []
    for row in rows:
        name, project_id = str(row["annotator"]), int(row["ls_project_id"])
        if row["closed"]:
            if row["archive"]:
                exports.append((str(work / row["archive"]), read_json(work / row["archive"], "a Label Studio JSON export"), name, project_id))
        else:
            exports.append((f"project {project_id}", client.snapshot_export(project_id), name, project_id))
    return exports


def export_round(
    manifest: pd.DataFrame, media: str | os.PathLike, round_no: int, annotators: Sequence[str], work: str | os.PathLike,
    out: str | os.PathLike | None = None, document_root: str | os.PathLike | None = None,
    url_prefix: str = DEFAULT_MEDIA_URL_PREFIX, client: "Any | None" = None, keep_earlier_rounds: bool = False,
) -> ExportReport:
    """Plan a round and write its tasks: import files (``out``) or projects on a live server (``client``).

    Live, a round after the first closes the earlier rounds' projects first (:func:`close_earlier_rounds`) unless
    ``keep_earlier_rounds``: Label Studio's open-source edition shows every project to every member of the
    organisation, so this is what keeps round-2 annotators from reading round-1 answers.
    """
    start = time.perf_counter()
    media, work = Path(media), Path(work)
    conn = open_work(work, create=True)
    report = ExportReport(round_no)
    with contextlib.closing(conn):
        if register_clips(conn, manifest, media) == 0:
            raise OvavebenchError(f"{media}: no clip of the manifest has its frames and audio there")
        plan = plan_round(conn, round_no, annotators)
        root = Path(document_root) if document_root else media
        config = label_config()
        atomic_write_text(work / "label_config.xml", config)
        local_files = client is not None and url_prefix == DEFAULT_MEDIA_URL_PREFIX
        if client is not None and round_no > 1 and not keep_earlier_rounds:
            report.archived = close_earlier_rounds(client, work, round_no)
        if client is not None:
            projects = {a: client.ensure_project(conn, round_no, a, config, media if local_files else None) for a in plan}
            sample = next((c for clips in plan.values() for c in clips), None)
            if local_files and sample is not None:
                root = find_document_root(client, media, Path(document_root) if document_root else None, sample, url_prefix)
        checked = False
        for annotator, clips in plan.items():
            tasks = build_tasks(conn, round_no, clips, media, root, url_prefix)
            report.tasks[annotator] = len(tasks)
            if client is None:
                folder = Path(out) if out else work / "tasks"
                path = folder / f"round{round_no}_{annotator}.json"
                atomic_write_json(path, tasks, indent=None)
                report.files[annotator] = path
            else:
                if tasks and not checked:  # one frame and one audio file, through the server, before any import
                    check_media_served(client, tasks[0])
                    checked = True
                client.import_tasks(projects[annotator], tasks)
                report.projects[annotator] = projects[annotator]
        if client is None:
            atomic_write_text((Path(out) if out else work / "tasks") / "label_config.xml", config)
    report.seconds = time.perf_counter() - start
    return report


# --------------------------------------------------------------------------- import


@dataclass
class ImportProblem:
    task: Any
    annotator: str
    clip_id: str
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_adjudicated: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    seconds: float = 0.0


def _who(completed_by: Any, users: dict[int, str], fallback: str | None) -> str | None:
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    def user(value: Any) -> str | None:
        return users.get(value) if type(value) is int else None

    if isinstance(completed_by, dict):
        return text(completed_by.get("email")) or text(completed_by.get("username")) or user(completed_by.get("id")) or fallback
    if type(completed_by) is int:
        return users.get(completed_by, fallback)
    if isinstance(completed_by, str):
        return completed_by
    return fallback


_MAX_ID = 2**63 - 1  # SQLite's INTEGER


def _optional(value: Any, kind: str) -> bool:
    """Whether an optional export field has the type Label Studio writes (or is absent)."""
    if value is None:
        return True
    if kind == "id":
        return type(value) is int and 0 <= value <= _MAX_ID
    if kind == "number":
        return type(value) in (int, float) and math.isfinite(value) and abs(value) < 1e12
    return isinstance(value, str) and len(value) < 100


def _plan_name(who: str | None, planned: set[str]) -> str | None:
    if who is None:
        return None
    if who in planned:
        return who
    local = who.split("@", 1)[0]
    return local if local in planned else None


def import_annotations(
    work: str | os.PathLike, round_no: int, exports: Iterable[tuple[str, Any, str | None, int | None]],
    users: dict[int, str] | None = None,
) -> ImportReport:
    """Read Label Studio JSON exports into the store.

    ``exports`` yields (source name, exported task list, the annotator the export
    belongs to if known, the Label Studio project id if known). Every annotation
    is validated; bad ones are reported (task, annotator, reason) and not
    imported. Re-importing the same export changes nothing; an updated annotation
    replaces the old one, which is kept as history; a clip already adjudicated is
    never changed by a round-1/2 import.
    """
    start = time.perf_counter()
    users = users or {}
    conn = open_work(work)
    report = ImportReport()
    with contextlib.closing(conn):
        known = {r["clip_id"] for r in conn.execute("SELECT clip_id FROM clips")}
        assigned = {r["clip_id"]: r["annotator"] for r in conn.execute(
            "SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,))}
        if not assigned:
            raise OvavebenchError(f"round {round_no} has no plan in {work}: export it first")
        planned = set(assigned.values())
        adjudicated = set(_current(conn, 3)) if round_no in (1, 2) else set()
        current = _current(conn, round_no)
        now = time.time()
        seen: dict[str, tuple[str, Any]] = {}  # clip → (annotator, task id) already taken from these exports
        inserts: list[tuple] = []
        supersede: list[int] = []
        for source, tasks, file_annotator, project_id in exports:
            if not isinstance(tasks, list):
                raise InputFileError(source, "expected a Label Studio JSON export (a list of tasks)")
            for position, task in enumerate(tasks):
                if not isinstance(task, dict):
                    report.problems.append(ImportProblem(None, str(file_annotator), "", f"{source}: task #{position + 1} "
                                                         f"is a {type(task).__name__}, not a Label Studio task object"))
                    continue
                task_id = task.get("id")
                data = task.get("data")
                annotations = task.get("annotations")
                shape_problem = None
                if not _optional(task_id, "id"):
                    shape_problem, task_id = f"task id {str(task_id)[:40]!r} is not a task id", None
                elif not isinstance(data, dict) or not isinstance(data.get("clip_id"), str):
                    shape_problem = "task has no data object with a clip_id"
                elif annotations is not None and not isinstance(annotations, list):
                    shape_problem = f"annotations is a {type(annotations).__name__}, not a list"
                if shape_problem:
                    report.problems.append(ImportProblem(task_id, str(file_annotator), "", f"{source}: {shape_problem}"))
                    continue
                clip = data["clip_id"]
                for annotation in annotations or []:
                    if not isinstance(annotation, dict):
                        report.problems.append(ImportProblem(task_id, str(file_annotator), clip,
                                                             f"an annotation is a {type(annotation).__name__}, not an object"))
                        continue
                    who = _who(annotation.get("completed_by"), users, file_annotator)
                    annotator = _plan_name(who, planned)
                    label = annotator or str(who)

                    def problem(reason: str) -> None:
                        report.problems.append(ImportProblem(task_id, label, clip, reason))

                    bad_fields = [name for name, kind in (("id", "id"), ("lead_time", "number"), ("created_at", "text"),
                                                          ("updated_at", "text")) if not _optional(annotation.get(name), kind)]
                    if bad_fields:
                        problem(f"malformed field(s) {', '.join(bad_fields)} (not what Label Studio writes)")
                        continue
                    if clip not in known:
                        problem(f"unknown clip {clip!r}")
                        continue
                    if annotator is None:
                        problem(f"annotation by {who!r}, who is not an annotator of round {round_no}")
                        continue
                    if annotation.get("was_cancelled"):
                        problem("skipped by the annotator (not imported)")
                        continue
                    if assigned.get(clip) != annotator:
                        problem(f"clip assigned to {assigned.get(clip)!r} in round {round_no}, annotated by {annotator!r} "
                                "(who opened another annotator's task)")
                        continue
                    try:
                        answers, broken = parse_result(annotation.get("result"))
                    except AnnotationError as exc:
                        problem(f"invalid annotation: {exc}")
                        continue
                    if clip in seen:
                        problem(f"clip annotated twice in round {round_no} (task {seen[clip][1]} and task {task_id}); "
                                "the first one is kept")
                        continue
                    seen[clip] = (annotator, task_id)
                    if clip in adjudicated:
                        report.kept_adjudicated += 1
                        continue
                    answer_text = "".join(map(str, answers))
                    old = current.get(clip)
                    if old is not None and old["answers"] == answer_text and old["clip_flag"] == int(broken) \
                            and old["annotator"] == annotator:
                        report.unchanged += 1
                        continue
                    if old is not None:
                        supersede.append(old["id"])
                        report.updated += 1
                    else:
                        report.imported += 1
                    inserts.append((clip, round_no, annotator, answer_text, int(broken), annotation.get("lead_time"),
                                    annotation.get("created_at"), annotation.get("updated_at"), project_id, task_id,
                                    annotation.get("id"), source, now))
        with conn:  # one transaction: an import is all or nothing
            conn.executemany("UPDATE annotations SET superseded_at = ? WHERE id = ?", [(now, i) for i in supersede])
            conn.executemany(
                "INSERT INTO annotations (clip_id, round, annotator, answers, clip_flag, lead_time, created_at, updated_at, "
                "ls_project_id, ls_task_id, ls_annotation_id, source, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                inserts)
    report.seconds = time.perf_counter() - start
    return report


def read_export_files(paths: Sequence[str | os.PathLike], round_no: int) -> list[tuple[str, Any, str | None, int | None]]:
    """Label Studio JSON exports from files; ``round{N}_{annotator}.json`` names give the annotator."""
    exports = []
    for path in paths:
        path = Path(path)
        tasks = read_json(path, "a Label Studio JSON export")
        match = ROUND_FILE_RE.match(path.name)
        if match and int(match.group("round")) != round_no:
            raise InputFileError(path, f"this is a round-{match.group('round')} file, not round {round_no}")
        exports.append((str(path), tasks, match.group("annotator") if match else None, None))
    return exports


# --------------------------------------------------------------------------- agreement


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two binary raters over the same items."""
    if len(a) == 0:
        return float("nan")
    observed = float((a == b).mean())
    pa, pb = float(a.mean()), float(b.mean())
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1.0 else (observed - expected) / (1 - expected)


@dataclass
class RoundStatus:
    round: int
    by_annotator: dict[str, dict[str, int]]  # annotator → {done, pending}


@dataclass
class AgreementReport:
    rounds: list[RoundStatus]
    clips_compared: int
    percent_agreement: float  # per second, rounds 1 vs 2
    kappa_overall: float
    kappa_by_pair: dict[str, float]  # "alice→bob" (round-1 → round-2 annotator)
    krippendorff_alpha: float
    flag_agreement: float
    needing_adjudication: int
    adjudicated: int


def agreement(work: str | os.PathLike) -> AgreementReport:
    """Progress per round and annotator, and the agreement of rounds 1 and 2."""
    import krippendorff

    conn = open_work(work)
    with contextlib.closing(conn):
        rounds = []
        for round_no in (1, 2, 3):
            plan = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,)).fetchall()
            if not plan:
                continue
            done = _current(conn, round_no)
            by: dict[str, dict[str, int]] = {}
            for row in plan:
                entry = by.setdefault(row["annotator"], {"done": 0, "pending": 0})
                entry["done" if row["clip_id"] in done else "pending"] += 1
            rounds.append(RoundStatus(round_no, dict(sorted(by.items()))))
        r1, r2 = _current(conn, 1), _current(conn, 2)
        both = sorted(set(r1) & set(r2))
        a = np.array([[int(c) for c in r1[c]["answers"]] for c in both], dtype=np.int64).reshape(-1, SEGMENTS)
        b = np.array([[int(c) for c in r2[c]["answers"]] for c in both], dtype=np.int64).reshape(-1, SEGMENTS)
        pairs: dict[str, list[int]] = {}
        for i, clip in enumerate(both):
            pairs.setdefault(f"{r1[clip]['annotator']}→{r2[clip]['annotator']}", []).append(i)
        kappa_pairs = {p: cohen_kappa(a[idx].ravel(), b[idx].ravel()) for p, idx in sorted(pairs.items())}
        # Krippendorff's alpha with annotators as coders (each unit = one clip-second; others missing).
        coders = sorted({r1[c]["annotator"] for c in both} | {r2[c]["annotator"] for c in both})
        alpha = float("nan")
        if both and len(coders) >= 2:
            matrix = np.full((len(coders), len(both) * SEGMENTS), np.nan)
            for i, clip in enumerate(both):
                matrix[coders.index(r1[clip]["annotator"]), i * SEGMENTS:(i + 1) * SEGMENTS] = a[i]
                matrix[coders.index(r2[clip]["annotator"]), i * SEGMENTS:(i + 1) * SEGMENTS] = b[i]
            if len(np.unique(matrix[~np.isnan(matrix)])) > 1:
                alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
            else:
                alpha = 1.0
        flags = [r1[c]["clip_flag"] == r2[c]["clip_flag"] for c in both]
        dis = find_disagreements(conn, r1, r2)
        adjudicated = len(_current(conn, 3))
    return AgreementReport(
        rounds=rounds, clips_compared=len(both),
        percent_agreement=float((a == b).mean()) if both else float("nan"),
        kappa_overall=cohen_kappa(a.ravel(), b.ravel()), kappa_by_pair=kappa_pairs, krippendorff_alpha=alpha,
        flag_agreement=float(np.mean(flags)) if flags else float("nan"),
        needing_adjudication=len(dis.clips), adjudicated=adjudicated,
    )


# --------------------------------------------------------------------------- finalize


@dataclass
class FinalizeReport:
    labels: dict[str, dict[str, str]]
    agreed: int
    adjudicated: int
    dropped_broken: list[str]
    unresolved: list[str]
    incomplete: list[str]


def finalize(work: str | os.PathLike, out: str | os.PathLike, allow_unresolved: bool = False) -> FinalizeReport:
    """Write the final labels in the published format ``{video_id: {category, label}}``.

    Agreed answers stand; where rounds disagree, the round-3 decision does.
    Clips flagged broken are dropped (and listed). Unresolved disagreements are
    an error that lists them, unless ``allow_unresolved``.
    """
    conn = open_work(work)
    with contextlib.closing(conn):
        clips = {r["clip_id"]: r for r in conn.execute("SELECT * FROM clips")}
        r1, r2, r3 = _current(conn, 1), _current(conn, 2), _current(conn, 3)
        planned = [r["clip_id"] for r in conn.execute("SELECT clip_id FROM assignments WHERE round = 1 ORDER BY clip_id")]
    labels: dict[str, dict[str, str]] = {}
    report = FinalizeReport(labels, 0, 0, [], [], [])
    for clip in planned:
        if clip in r3:
            decision = r3[clip]
            report.adjudicated += 1
        elif clip in r1 and clip in r2:
            if r1[clip]["answers"] != r2[clip]["answers"] or r1[clip]["clip_flag"] != r2[clip]["clip_flag"]:
                report.unresolved.append(clip)
                continue
            decision = r1[clip]
            report.agreed += 1
        else:
            report.incomplete.append(clip)
            continue
        if decision["clip_flag"]:
            report.dropped_broken.append(clip)
            continue
        youtube_id = clips[clip]["youtube_id"]
        if youtube_id in labels:
            raise OvavebenchError(f"YouTube id {youtube_id!r} has two annotated clips; keep one in the manifest")
        labels[youtube_id] = {"category": clips[clip]["class_name"],
                              "label": "[" + ", ".join(decision["answers"]) + "]"}
    if (report.unresolved or report.incomplete) and not allow_unresolved:
        parts = []
        if report.unresolved:
            parts.append(f"{len(report.unresolved)} disagreement(s) without a round-3 decision: {', '.join(report.unresolved[:10])}")
        if report.incomplete:
            parts.append(f"{len(report.incomplete)} clip(s) without both round-1 and round-2 answers: {', '.join(report.incomplete[:10])}")
        raise OvavebenchError("; ".join(parts) + " (export and import round 3, or pass --allow-unresolved)")
    atomic_write_json(out, labels, indent=4)
    return report
