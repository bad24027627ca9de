"""Reading Label Studio exports into the store: every annotation validated, re-imports idempotent."""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFileError, OvavebenchError
from ..io import read_json
from .design import AnnotationError, parse_result
from .store import current_answers, open_work

# round{N}_{annotator}.json, or one of its parts round{N}_{annotator}+001.json ('+' is in no annotator name)
ROUND_FILE_RE = re.compile(r"^round(?P<round>[123])_(?P<annotator>[^/+]+)(?:\+\d{3,})?\.json$")


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
    gold: int = 0  # answers on gold tasks (kept apart; never labels)
    problems: list[ImportProblem] = field(default_factory=list)
    seconds: float = 0.0


def _who(completed_by: Any, users: dict[int, str], fallback: str | None) -> str | None:
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    def user(value: Any) -> str | None:
        return users.get(value) if type(value) is int else None

    if isinstance(completed_by, dict):
        return (
            text(completed_by.get("email"))
            or text(completed_by.get("username"))
            or user(completed_by.get("id"))
            or fallback
        )
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
    work: str | os.PathLike,
    round_no: int,
    exports: Iterable[tuple[str, Any, str | None, int | None]],
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
        assigned = {
            r["clip_id"]: r["annotator"]
            for r in conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,))
        }
        if not assigned:
            raise OvavebenchError(f"round {round_no} has no plan in {work}: export it first")
        gold_for = {
            (r["clip_id"], r["annotator"])
            for r in conn.execute("SELECT clip_id, annotator FROM gold_assignments WHERE round = ?", (round_no,))
        }
        prefilled = {
            (r["clip_id"], r["annotator"]): r["answers"]
            for r in conn.execute("SELECT clip_id, annotator, answers FROM prefills WHERE round = ?", (round_no,))
        }
        planned = set(assigned.values()) | {a for _, a in gold_for}
        gold_rows: list[tuple] = []
        adjudicated = set(current_answers(conn, 3)) if round_no in (1, 2) else set()
        current = current_answers(conn, round_no)
        now = time.time()
        seen: dict[str, tuple[str, Any]] = {}  # clip → (annotator, task id) already taken from these exports
        inserts: list[tuple] = []
        supersede: list[int] = []
        for source, tasks, file_annotator, project_id in exports:
            if not isinstance(tasks, list):
                raise InputFileError(source, "expected a Label Studio JSON export (a list of tasks)")
            for position, task in enumerate(tasks):
                if not isinstance(task, dict):
                    report.problems.append(
                        ImportProblem(
                            None,
                            str(file_annotator),
                            "",
                            f"{source}: task #{position + 1} "
                            f"is a {type(task).__name__}, not a Label Studio task object",
                        )
                    )
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
                    report.problems.append(
                        ImportProblem(task_id, str(file_annotator), "", f"{source}: {shape_problem}")
                    )
                    continue
                assert isinstance(data, dict)  # checked above
                clip = data["clip_id"]
                for annotation in annotations or []:
                    if not isinstance(annotation, dict):
                        report.problems.append(
                            ImportProblem(
                                task_id,
                                str(file_annotator),
                                clip,
                                f"an annotation is a {type(annotation).__name__}, not an object",
                            )
                        )
                        continue
                    who = _who(annotation.get("completed_by"), users, file_annotator)
                    annotator = _plan_name(who, planned)
                    label = annotator or str(who)

                    def problem(reason: str, task_id: Any = task_id, label: str = label, clip: str = clip) -> None:
                        report.problems.append(ImportProblem(task_id, label, clip, reason))

                    bad_fields = [
                        name
                        for name, kind in (
                            ("id", "id"),
                            ("lead_time", "number"),
                            ("created_at", "text"),
                            ("updated_at", "text"),
                        )
                        if not _optional(annotation.get(name), kind)
                    ]
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
                    if assigned.get(clip) != annotator and (clip, annotator) in gold_for:
                        try:
                            answers, broken = parse_result(annotation.get("result"))
                        except AnnotationError as exc:
                            problem(f"invalid annotation: {exc}")
                            continue
                        gold_rows.append(
                            (clip, round_no, annotator, "".join(map(str, answers)), int(broken), task_id, source, now)
                        )
                        report.gold += 1
                        continue
                    if assigned.get(clip) != annotator:
                        problem(
                            f"clip assigned to {assigned.get(clip)!r} in round {round_no}, annotated by {annotator!r} "
                            "(who opened another annotator's task)"
                        )
                        continue
                    try:
                        answers, broken = parse_result(annotation.get("result"))
                    except AnnotationError as exc:
                        problem(f"invalid annotation: {exc}")
                        continue
                    if clip in seen:
                        problem(
                            f"clip annotated twice in round {round_no} (task {seen[clip][1]} and task {task_id}); "
                            "the first one is kept"
                        )
                        continue
                    seen[clip] = (annotator, task_id)
                    if clip in adjudicated:
                        report.kept_adjudicated += 1
                        continue
                    answer_text = "".join(map(str, answers))
                    old = current.get(clip)
                    if (
                        old is not None
                        and old["answers"] == answer_text
                        and old["clip_flag"] == int(broken)
                        and old["annotator"] == annotator
                    ):
                        report.unchanged += 1
                        continue
                    if old is not None:
                        supersede.append(old["id"])
                        report.updated += 1
                    else:
                        report.imported += 1
                    inserts.append(
                        (
                            clip,
                            round_no,
                            annotator,
                            answer_text,
                            int(broken),
                            annotation.get("lead_time"),
                            annotation.get("created_at"),
                            annotation.get("updated_at"),
                            project_id,
                            task_id,
                            annotation.get("id"),
                            source,
                            now,
                            prefilled.get((clip, annotator)),
                        )
                    )
        with conn:  # one transaction: an import is all or nothing
            conn.executemany("UPDATE annotations SET superseded_at = ? WHERE id = ?", [(now, i) for i in supersede])
            conn.executemany(
                "INSERT INTO annotations (clip_id, round, annotator, answers, clip_flag, lead_time, created_at, "
                "updated_at, ls_project_id, ls_task_id, ls_annotation_id, source, imported_at, prefilled) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
            conn.executemany("INSERT OR REPLACE INTO gold_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", gold_rows)
    report.seconds = time.perf_counter() - start
    return report


def read_export_files(
    paths: Sequence[str | os.PathLike], round_no: int
) -> list[tuple[str, Any, str | None, int | None]]:
    """Label Studio JSON exports from files; ``round{N}_{annotator}.json`` names give the annotator."""
    exports: list[tuple[str, Any, str | None, int | None]] = []
    for path in paths:
        path = Path(path)
        tasks = read_json(path, "a Label Studio JSON export")
        match = ROUND_FILE_RE.match(path.name)
        if match and int(match.group("round")) != round_no:
            raise InputFileError(path, f"this is a round-{match.group('round')} file, not round {round_no}")
        exports.append((str(path), tasks, match.group("annotator") if match else None, None))
    return exports
