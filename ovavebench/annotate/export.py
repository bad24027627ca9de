"""Writing a round's tasks: import files, or projects on a live Label Studio server."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import soundfile

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from ..io import atomic_open, atomic_write_json, atomic_write_text
from .design import answers_to_result, clip_player_html, label_config, prefetch_html, second_html
from .gold import gold_assigned, mix_in, plan_gold, read_gold, store_gold
from .plan import plan_round
from .prefill import order_clips, read_model_answers, store_model_answers, store_prefills
from .rounds import ArchivedProject, close_earlier_rounds
from .store import clips_with_media, current_answers, open_work, register_clips

DEFAULT_MEDIA_URL_PREFIX = "/data/local-files/?d="


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
            soundfile.write(handle, audio[k * rate : (k + 1) * rate], rate, format="WAV", subtype="PCM_16")
    return paths


class MediaUrls:
    """URLs of a clip's files: resolved once per export, then plain string joins (24,800 clips × 20 files)."""

    def __init__(self, media: Path, document_root: Path, prefix: str):
        relative = os.path.relpath(media.resolve(), document_root.resolve())
        self.base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        self.prefix = prefix if prefix.endswith("?d=") else prefix.rstrip("/") + "/"

    def __call__(self, clip_id: str, relative: str) -> str:
        return self.prefix + urllib.parse.quote(f"{self.base}{clip_id}/{relative}")


def build_tasks(
    conn: sqlite3.Connection,
    round_no: int,
    clip_ids: Iterable[str],
    media: Path,
    document_root: Path,
    url_prefix: str,
    prefill: tuple[str, dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Label Studio import tasks for ``clip_ids`` (round 3: with the earlier answers as predictions; with
    ``prefill`` = (model version, clip → answers): the model's answers, pre-filled)."""
    classes = {r["clip_id"]: r["class_name"] for r in conn.execute("SELECT clip_id, class_name FROM clips")}
    earlier = {1: current_answers(conn, 1), 2: current_answers(conn, 2)} if round_no == 3 else {}
    url = MediaUrls(media, document_root, url_prefix)
    tasks = []
    clip_ids = list(clip_ids)
    # Label Studio's stream serves a project's tasks in import order: each task prefetches the next one's frames.
    following = dict(zip(clip_ids, clip_ids[1:]))
    for clip in clip_ids:
        data: dict[str, Any] = {"clip_id": clip, "class_name": classes[clip], "round": round_no}
        for k in range(SEGMENTS):
            data[f"frame_{k}"] = url(clip, f"frames/{k}.png")
        second_audio_paths(media, clip)
        for k in range(SEGMENTS):
            data[f"audio_{k}"] = url(clip, f"seconds/{k}.wav")
        data["audio"] = url(clip, "audio.wav")
        data["clip_player"] = clip_player_html(data["audio"])
        after = following.get(clip)
        data["prefetch"] = prefetch_html([url(after, f"frames/{k}.png") for k in range(SEGMENTS)] if after else [])
        for k in range(SEGMENTS):
            data[f"second_{k}"] = second_html(data[f"frame_{k}"], data[f"audio_{k}"], k)
        task: dict[str, Any] = {"data": data}
        if round_no == 3:
            task["predictions"] = [
                {
                    "model_version": f"round{r}:{earlier[r][clip]['annotator']}",
                    "result": answers_to_result(
                        [int(c) for c in earlier[r][clip]["answers"]], bool(earlier[r][clip]["clip_flag"])
                    ),
                }
                for r in (1, 2)
            ]
        elif prefill is not None and clip in prefill[1]:
            task["predictions"] = [
                {"model_version": prefill[0], "result": answers_to_result([int(c) for c in prefill[1][clip]], False)}
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
    for key in ("frame_0", "audio_0"):
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
) -> ExportReport:
    """Plan a round and write its tasks: import files (``out``) or projects on a live server (``client``).

    Live, a round after the first closes the earlier rounds' projects first (:func:`close_earlier_rounds`) unless
    ``keep_earlier_rounds``: Label Studio's open-source edition shows every project to every member of the
    organisation, so this is what keeps round-2 annotators from reading round-1 answers.

    ``gold``: a file of known labels; each annotator gets ``gold_rate`` × their tasks of them, shuffled in.
    ``predictions``: a model's predictions, pre-filled in every task (opt-in); ``order="uncertain"``: the clips
    where the model's audio and visual sides disagree most come first. Both files are checked before anything is
    written.
    """
    start = time.perf_counter()
    media, work = Path(media), Path(work)
    if (gold is not None or predictions is not None) and round_no == 3:
        raise OvavebenchError("--gold and --predictions are for rounds 1 and 2 (round 3 shows both earlier answers)")
    if not 0 < gold_rate <= 1:
        raise OvavebenchError(f"--gold-rate must be in (0, 1], got {gold_rate}")
    media_clips = clips_with_media(manifest, media)
    gold_labels = read_gold(gold, manifest, media_clips) if gold is not None else None
    model = read_model_answers(predictions, manifest, media_clips) if predictions is not None else None
    if order != "plan":
        order_clips([], model, order)  # refuses --order uncertain without a model's uncertainty, before writing
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
        if client is not None and round_no > 1 and not keep_earlier_rounds:
            report.archived = close_earlier_rounds(client, work, round_no)
        if client is not None:
            projects = {
                a: client.ensure_project(conn, round_no, a, config, media if local_files else None) for a in plan
            }
            sample = next((c for clips in plan.values() for c in clips), None)
            if local_files and sample is not None:
                root = find_document_root(
                    client, media, Path(document_root) if document_root else None, sample, url_prefix
                )
        checked = False
        for annotator, clips in plan.items():
            ordered = mix_in(order_clips(clips, model, order), gold_plan.get(annotator, []), round_no, annotator)
            prefill = (
                (model.model_version, store_prefills(conn, round_no, annotator, ordered, model)) if model else None
            )
            tasks = build_tasks(conn, round_no, ordered, media, root, url_prefix, prefill)
            report.gold[annotator] = len(gold_plan.get(annotator, []))
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
                if model is not None:  # Label Studio accepts the model version once its predictions are in
                    client.show_predictions(projects[annotator], model.model_version)
                report.projects[annotator] = projects[annotator]
        if client is None:
            atomic_write_text((Path(out) if out else work / "tasks") / "label_config.xml", config)
    report.seconds = time.perf_counter() - start
    return report
