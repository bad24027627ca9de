"""Writing a round's tasks: import files, or projects on a live Label Studio server."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from ..io import atomic_open, atomic_write_text
from .design import answers_to_result, label_config
from .gold import gold_assigned, mix_in, plan_gold, read_gold, store_gold
from .plan import plan_round
from .prefill import order_clips, read_model_answers, store_model_answers, store_prefills
from .rounds import ArchivedProject, close_earlier_rounds
from .store import clips_with_media, open_work, register_clips

DEFAULT_MEDIA_URL_PREFIX = "/data/local-files/?d="
TASKS_PER_FILE = 1000  # tasks per import file (file mode) and per import request (live): ~1.6 MB each


class MediaUrls:
    """URLs of a clip's files: resolved once per export, then plain string joins (24,800 clips × 20 files)."""

    def __init__(self, media: Path, document_root: Path, prefix: str):
        relative = os.path.relpath(media.resolve(), document_root.resolve())
        self.base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        self.prefix = prefix if prefix.endswith("?d=") else prefix.rstrip("/") + "/"

    def __call__(self, clip_id: str, relative: str) -> str:
        return self.prefix + urllib.parse.quote(f"{self.base}{clip_id}/{relative}")


def _earlier_answers(conn: sqlite3.Connection) -> dict[int, dict[str, tuple[str, str, int]]]:
    """Round 1 and 2 answers for round 3's predictions: clip → (annotator, answers, flag), only those columns."""
    return {
        r: {
            row[0]: (row[1], row[2], row[3])
            for row in conn.execute(
                "SELECT clip_id, annotator, answers, clip_flag FROM annotations "
                "WHERE round = ? AND superseded_at IS NULL",
                (r,),
            )
        }
        for r in (1, 2)
    }


def iter_tasks(
    conn: sqlite3.Connection,
    round_no: int,
    clip_ids: Sequence[str],
    media: Path,
    document_root: Path,
    url_prefix: str,
    prefill: tuple[str, dict[str, str]] | None = None,
    classes: dict[str, str] | None = None,
    earlier: dict[int, dict[str, tuple[str, str, int]]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Label Studio import tasks for ``clip_ids``, one at a time (round 3: with the earlier answers as predictions;
    with ``prefill`` = (model version, clip → answers): the model's answers, pre-filled).

    A task's data holds its URLs only: the view's HTML is in the labelling config (:func:`.design.label_config`).
    Nothing is read from or written to the media folder.
    """
    if classes is None:
        classes = {r[0]: r[1] for r in conn.execute("SELECT clip_id, class_name FROM clips")}
    if round_no == 3 and earlier is None:
        earlier = _earlier_answers(conn)
    url = MediaUrls(media, document_root, url_prefix)
    frames = [f"frames/{k}.png" for k in range(SEGMENTS)]
    # Label Studio's stream serves a project's tasks in import order: each task prefetches the next one's frames.
    for position, clip in enumerate(clip_ids):
        data: dict[str, Any] = {"clip_id": clip, "class_name": classes[clip], "round": round_no}
        for k, frame in enumerate(frames):
            data[f"frame_{k}"] = url(clip, frame)
        data["audio"] = url(clip, "audio.wav")
        after = clip_ids[position + 1] if position + 1 < len(clip_ids) else None
        for k, frame in enumerate(frames):
            data[f"next_frame_{k}"] = url(after, frame) if after else ""
        task: dict[str, Any] = {"data": data}
        if round_no == 3:
            assert earlier is not None
            task["predictions"] = [
                {
                    "model_version": f"round{r}:{earlier[r][clip][0]}",
                    "result": answers_to_result([int(c) for c in earlier[r][clip][1]], bool(earlier[r][clip][2])),
                }
                for r in (1, 2)
            ]
        elif prefill is not None and clip in prefill[1]:
            task["predictions"] = [
                {"model_version": prefill[0], "result": answers_to_result([int(c) for c in prefill[1][clip]], False)}
            ]
        yield task


def build_tasks(
    conn: sqlite3.Connection,
    round_no: int,
    clip_ids: Iterable[str],
    media: Path,
    document_root: Path,
    url_prefix: str,
    prefill: tuple[str, dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`iter_tasks` as a list (for a few tasks; an export streams them)."""
    return list(iter_tasks(conn, round_no, list(clip_ids), media, document_root, url_prefix, prefill))


def task_file_names(round_no: int, annotator: str, tasks: int, per_file: int) -> list[str]:
    """The import files of an annotator's round: ``round{N}_{annotator}.json`` when the tasks fit one file, else
    ``round{N}_{annotator}+001.json``… (``+`` is no character of an annotator name), each importable on its own."""
    count = max(1, -(-tasks // per_file))
    if count == 1:
        return [f"round{round_no}_{annotator}.json"]
    return [f"round{round_no}_{annotator}+{i + 1:03d}.json" for i in range(count)]


def write_task_file(path: Path, tasks: Iterable[dict[str, Any]]) -> int:
    """A JSON list of tasks written one task at a time (atomic: complete under its name, or not there)."""
    count = 0
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("[")
        for task in tasks:
            handle.write(("\n" if count == 0 else ",\n") + json.dumps(task, ensure_ascii=False, allow_nan=False))
            count += 1
        handle.write("\n]\n")
    return count


_OWN_TEMP_RE = re.compile(r"^\.(round[123]_[^/]+\.json|label_config\.xml)\.[^/.]+\.tmp$")


def remove_stale_temp_files(*folders: Path) -> list[Path]:
    """Temporary files an earlier, killed export left in its own output folders (``.NAME.<random>.tmp`` of the files
    it writes), removed; the files under their final names are complete (atomic writes) and left as they are."""
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            if _OWN_TEMP_RE.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _remove_stale_chunks(folder: Path, round_no: int, annotator: str, keep: Sequence[str]) -> None:
    """Import files of this round and annotator from an earlier export with another file count (never others)."""
    if not folder.is_dir():
        return
    pattern = re.compile(rf"^round{round_no}_{re.escape(annotator)}(\+\d{{3,}})?\.json$")
    for entry in os.scandir(folder):
        if pattern.match(entry.name) and entry.name not in keep and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)


def _below(path: Path, root: Path) -> bool:
    path, root = path.resolve(), root.resolve()
    return path == root or root in path.parents


def refuse_work_below_root(work: Path, root: Path, what: str) -> None:
    """The answers stay out of the annotators' reach: any Label Studio user may attach a local-files storage
    anywhere below the server's document root and read what lies there (``annotate.sqlite``, the archives)."""
    if _below(work, root):
        raise OvavebenchError(
            f"--work {work} is inside {what} {root}: every Label Studio user could read the answers there "
            "through a local-files storage; put the work folder outside it"
        )


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
    hint = (
        f"--document-root {given} is not the server's LOCAL_FILES_DOCUMENT_ROOT"
        if given is not None
        else "the server serves the media under none of the folders above them"
    )
    raise OvavebenchError(
        f"Label Studio at {client.url}: {hint}; start it with LOCAL_FILES_SERVING_ENABLED=true and "
        f"LOCAL_FILES_DOCUMENT_ROOT={media.resolve().parent} (the media folder strictly below it), or pass "
        "--document-root set to the server's LOCAL_FILES_DOCUMENT_ROOT"
    )


def check_media_served(client: Any, task: dict[str, Any]) -> None:
    """Fetch one frame and one audio URL of a task through the server; anything but 200/206 is an error."""
    for key in ("frame_0", "audio"):
        status = client.media_status(task["data"][key])
        if status not in (200, 206):
            raise OvavebenchError(
                f"Label Studio at {client.url} answers HTTP {status} for {task['data'][key]} ({key} of clip "
                f"{task['data']['clip_id']}): annotators would see no media and flag good clips broken; check "
                "LOCAL_FILES_SERVING_ENABLED=true and LOCAL_FILES_DOCUMENT_ROOT (the media folder strictly below it)"
            )


@dataclass
class ExportReport:
    round: int
    files: dict[str, Path] = field(default_factory=dict)  # annotator → import file (file mode)
    projects: dict[str, int] = field(default_factory=dict)  # annotator → project id (live mode)
    tasks: dict[str, int] = field(default_factory=dict)
    archived: list[ArchivedProject] = field(default_factory=list)
    seconds: float = 0.0
    gold: dict[str, int] = field(default_factory=dict)  # annotator → gold tasks among their tasks
    chunks: dict[str, list[Path]] = field(default_factory=dict)  # annotator → all their import files (file mode)


def export_round(
    manifest: pd.DataFrame,
    media: str | os.PathLike,
    round_no: int,
    annotators: Sequence[str],
    work: str | os.PathLike,
    out: str | os.PathLike | None = None,
    document_root: str | os.PathLike | None = None,
    url_prefix: str = DEFAULT_MEDIA_URL_PREFIX,
    client: Any | None = None,
    keep_earlier_rounds: bool = False,
    gold: str | os.PathLike | None = None,
    gold_rate: float = 0.05,
    predictions: str | os.PathLike | None = None,
    order: str = "plan",
    tasks_per_file: int = TASKS_PER_FILE,
) -> ExportReport:
    """Plan a round and write its tasks: import files (``out``) or projects on a live server (``client``).

    Live, a round after the first closes the earlier rounds' projects first (:func:`close_earlier_rounds`) unless
    ``keep_earlier_rounds``: Label Studio's open-source edition shows every project to every member of the
    organisation, so this is what keeps round-2 annotators from reading round-1 answers.

    ``gold``: a file of known labels; each annotator gets ``gold_rate`` × their tasks of them, shuffled in.
    ``predictions``: a model's predictions, pre-filled in every task (opt-in); ``order="uncertain"``: the clips
    where the model's audio and visual sides disagree most come first. Both files are checked before anything is
    written.

    Tasks are streamed, ``tasks_per_file`` at a time (one import file each, or one import request live): memory
    stays bounded whatever the round's size. Temporary files a killed export left are removed first; a file under
    its final name is always complete. A ``work`` folder inside the media folder or the server's document root is
    refused: any Label Studio user could read the answers there.
    """
    start = time.perf_counter()
    media, work = Path(media), Path(work)
    if (gold is not None or predictions is not None) and round_no == 3:
        raise OvavebenchError("--gold and --predictions are for rounds 1 and 2 (round 3 shows both earlier answers)")
    if not 0 < gold_rate <= 1:
        raise OvavebenchError(f"--gold-rate must be in (0, 1], got {gold_rate}")
    if not isinstance(tasks_per_file, int) or tasks_per_file < 1:
        raise OvavebenchError(f"tasks per file must be a positive whole number, got {tasks_per_file!r}")
    refuse_work_below_root(work, media, "the media folder")  # the server's document root is above the media
    if document_root is not None:
        refuse_work_below_root(work, Path(document_root), "--document-root")
    media_clips = clips_with_media(manifest, media)
    gold_labels = read_gold(gold, manifest, media_clips) if gold is not None else None
    model = read_model_answers(predictions, manifest, media_clips) if predictions is not None else None
    if order != "plan":
        order_clips([], model, order)  # refuses --order uncertain without a model's uncertainty, before writing
    folder = Path(out) if out else work / "tasks"
    remove_stale_temp_files(work, folder, work / "archive")
    conn = open_work(work, create=True)
    report = ExportReport(round_no)
    with contextlib.closing(conn):
        if register_clips(conn, manifest, media) == 0:
            raise OvavebenchError(f"{media}: no clip of the manifest has its frames and audio there")
        plan = plan_round(conn, round_no, annotators)
        if gold_labels:
            store_gold(conn, gold_labels, Path(gold).name)  # type: ignore[arg-type]
        gold_plan = plan_gold(conn, round_no, plan, gold_rate) if gold_labels else gold_assigned(conn, round_no)
        if model is not None:
            store_model_answers(conn, model)
        root = Path(document_root) if document_root else media
        config = label_config()
        atomic_write_text(work / "label_config.xml", config)
        local_files = client is not None and url_prefix == DEFAULT_MEDIA_URL_PREFIX
        before: set[int] = set()  # live: the projects this round had before this call
        if client is not None and round_no > 1 and not keep_earlier_rounds:
            report.archived = close_earlier_rounds(client, work, round_no)
        if client is not None:
            before = set(client.project_ids(conn, round_no).values())
            projects = {
                a: client.ensure_project(conn, round_no, a, config, media if local_files else None) for a in plan
            }
            sample = next((c for clips in plan.values() for c in clips), None)
            if local_files and sample is not None:
                root = find_document_root(
                    client, media, Path(document_root) if document_root else None, sample, url_prefix
                )
                if _below(work, root):  # take back the empty projects this call made, then refuse
                    for project_id in set(projects.values()) - before:
                        client.delete_project(project_id)
                    with conn:
                        conn.execute(
                            f"DELETE FROM projects WHERE ls_project_id IN ({','.join('?' * len(projects))})",
                            [p for p in projects.values() if p not in before],
                        )
                    refuse_work_below_root(work, root, "the server's LOCAL_FILES_DOCUMENT_ROOT")
        classes = {r[0]: r[1] for r in conn.execute("SELECT clip_id, class_name FROM clips")}
        earlier = _earlier_answers(conn) if round_no == 3 else None
        checked = False
        for annotator, clips in plan.items():
            ordered = mix_in(order_clips(clips, model, order), gold_plan.get(annotator, []), round_no, annotator)
            prefill = (
                (model.model_version, store_prefills(conn, round_no, annotator, ordered, model)) if model else None
            )
            if client is not None and projects[annotator] in before:  # again, or after a kill: only what is missing
                present = client.imported_clips(projects[annotator])
                ordered = [clip for clip in ordered if clip not in present]
            tasks = iter_tasks(conn, round_no, ordered, media, root, url_prefix, prefill, classes, earlier)
            report.gold[annotator] = len(gold_plan.get(annotator, []))
            report.tasks[annotator] = len(ordered)  # live: the tasks imported now
            # A bounded number of tasks at a time, whatever the round's size: one file, or one import request, each.
            if client is None:
                names = task_file_names(round_no, annotator, len(ordered), tasks_per_file)
                for name in names:
                    write_task_file(folder / name, itertools.islice(tasks, tasks_per_file))
                _remove_stale_chunks(folder, round_no, annotator, names)
                report.files[annotator] = folder / names[0]
                report.chunks[annotator] = [folder / name for name in names]
            else:
                while chunk := list(itertools.islice(tasks, tasks_per_file)):
                    if not checked:  # one frame and the audio, through the server, before any import
                        check_media_served(client, chunk[0])
                        checked = True
                    client.import_tasks(projects[annotator], chunk)
                if model is not None:  # Label Studio accepts the model version once its predictions are in
                    client.show_predictions(projects[annotator], model.model_version)
                report.projects[annotator] = projects[annotator]
        if client is None:
            atomic_write_text(folder / "label_config.xml", config)
    report.seconds = time.perf_counter() - start
    return report
