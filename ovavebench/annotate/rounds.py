"""Closing finished rounds: each earlier project exported in full, imported, archived, then deleted."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OvavebenchError
from ..io import atomic_write_json, read_json
from .importing import import_annotations
from .store import open_work


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
            "(SELECT ls_project_id FROM archived_projects) ORDER BY round, annotator",
            (round_no,),
        ).fetchall()
    elsewhere = sorted({row["url"] for row in live if row["url"].rstrip("/") != client.url.rstrip("/")})
    if elsewhere:  # project ids of another server: never delete by id on this one
        raise OvavebenchError(
            f"the earlier rounds' projects live on {', '.join(elsewhere)}, not on {client.url}: "
            "export this round there, or pass --keep-earlier-rounds"
        )
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
            conn.execute(
                "INSERT INTO archived_projects VALUES (?, ?, ?, ?, ?, ?)",
                (project_id, earlier, annotator, str(path.relative_to(work)) if path else None, count, time.time()),
            )
        closed.append(ArchivedProject(earlier, annotator, project_id, path, count, new))
    return closed


def round_exports(client: Any, work: str | os.PathLike, round_no: int) -> list[tuple[str, Any, str | None, int | None]]:
    """The exports of a round's projects for :func:`import_annotations`: from the server, or from the archive of
    a round already closed."""
    work = Path(work)
    with contextlib.closing(open_work(work)) as conn:
        rows = conn.execute(
            "SELECT p.annotator, p.ls_project_id, a.archive, a.ls_project_id IS NOT NULL AS closed "
            "FROM projects p LEFT JOIN archived_projects a ON a.ls_project_id = p.ls_project_id "
            "WHERE p.round = ? ORDER BY p.annotator",
            (round_no,),
        ).fetchall()
    exports: list[tuple[str, Any, str | None, int | None]] = []
    for row in rows:
        name, project_id = str(row["annotator"]), int(row["ls_project_id"])
        if row["closed"]:
            if row["archive"]:
                exports.append(
                    (
                        str(work / row["archive"]),
                        read_json(work / row["archive"], "a Label Studio JSON export"),
                        name,
                        project_id,
                    )
                )
        else:
            exports.append((f"project {project_id}", client.snapshot_export(project_id), name, project_id))
    return exports
