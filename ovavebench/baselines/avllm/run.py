"""The AV-LLM baseline over a split: every video's frames and audio to the model, its answer parsed, resumable.

Each answer is appended to ``OUT.answers.jsonl`` (flushed and fsynced per batch, with the model's and the prompt's
identity in its first line) before the next batch starts, so a crash loses at most the batch in flight and a rerun
skips every video answered; the predictions file (``{"predictions", "meta"}``) is written at the end, with how many
seconds could not be read.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...benchmark import load_benchmark
from ...constants import BACKGROUND, SAMPLE_RATE, SEGMENTS
from ...errors import InputFileError, OvavebenchError
from ...io import atomic_write_json
from ...media.clips import benchmark_videos
from .model import AvLlm, answer
from .parse import LabelMatcher, parse_answer
from .prompts import PromptTemplate


@dataclass
class AvllmReport:
    videos: int = 0
    answered_now: int = 0
    resumed: int = 0
    without_media: list[str] = field(default_factory=list)
    unparsed_videos: int = 0  # videos with at least one unreadable second
    unparsed_seconds: int = 0
    seconds: float = 0.0
    out: Path = Path(".")
    answers: Path = Path(".")


def answers_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".answers.jsonl")


def _identity(llm: AvLlm, prompt: PromptTemplate, classes: list[str]) -> dict[str, Any]:
    text = json.dumps([prompt.__dict__, classes], sort_keys=True)
    return {"model": llm.identity, "prompt": prompt.name, "prompt_sha256": hashlib.sha256(text.encode()).hexdigest()}


def _read_answers(path: Path, identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The answers already in the JSONL of an earlier run of the same model and prompt."""
    if not path.exists():
        return {}
    # A run killed mid-write can leave a cut (even non-UTF-8) last line: each line is decoded on its own.
    lines = [line.decode("utf-8", errors="replace") for line in path.read_bytes().splitlines()]
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("identity") != identity:
        raise InputFileError(
            path,
            "answers of another model, prompt or class list (or not an answers file); "
            "remove it or choose another --out",
        )
    done = {}
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except ValueError:  # the last line of a run killed while writing: asked again
            continue
        if isinstance(row, dict) and isinstance(row.get("video_id"), str) and isinstance(row.get("answer"), str):
            done[row["video_id"]] = row
    return done


def video_inputs(frames: list[Path], wav: Path) -> tuple[list[Any], list[np.ndarray]]:
    """A video's 10 frames (PIL) and its 10 seconds of 16 kHz mono audio (float32 arrays)."""
    import soundfile
    from PIL import Image

    images = []
    for path in frames:
        try:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL's messages do not always name the file
            raise InputFileError(path, f"not a readable frame image ({' '.join(str(exc).split())[:120]})") from None
    try:
        samples, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    except (OSError, RuntimeError, ValueError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise InputFileError(wav, f"not a readable WAV file ({' '.join(str(exc).split())[:120]})") from None
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        raise OvavebenchError(f"{wav}: {rate} Hz; expected the 16 kHz audio of `ovavebench download`")
    return images, [mono[k * rate : (k + 1) * rate] for k in range(10)]


def check_inputs(
    media: str | os.PathLike,
    benchmark: str | os.PathLike,
    split: str,
    out: str | os.PathLike,
    layout: str = "toolkit",
    limit: int | None = None,
    allow_missing: bool = False,
) -> None:
    """Everything :func:`predict_avllm` reads that can be checked without the model: the benchmark, the media of
    the split's videos, an earlier answers file's header. Run before a model is loaded (minutes, gigabytes)."""
    bench = load_benchmark(benchmark)
    if split not in ("test", "val"):
        raise OvavebenchError(f"--split must be test or val, got {split!r}")
    wanted = bench.split_videos(split)["vid_name"].tolist()
    if limit is not None:
        wanted = wanted[:limit]
    found, _, problems = benchmark_videos(media, benchmark, layout)
    if problems:
        raise OvavebenchError(f"{media}: {problems[0]}")
    have = {vid for vid, _, _ in found}
    without = [v for v in wanted if v not in have]
    if without and not allow_missing:
        raise OvavebenchError(
            f"{media}: {len(without)} video(s) of the {split} split have no media there, e.g. "
            f"{', '.join(without[:5])}; pass --allow-missing to predict them as background"
        )
    path = answers_path(out)
    if path.exists():
        try:
            with open(path, encoding="utf-8") as handle:
                header = json.loads(handle.readline() or "null")
        except (OSError, UnicodeDecodeError, ValueError):
            header = None
        if not isinstance(header, dict) or not isinstance(header.get("identity"), dict):
            raise InputFileError(
                path, "not an answers file of `ovavebench baseline avllm`; remove it or choose another --out"
            )


def predict_avllm(
    llm: AvLlm,
    media: str | os.PathLike,
    benchmark: str | os.PathLike,
    split: str,
    out: str | os.PathLike,
    prompt: PromptTemplate,
    batch_size: int = 1,
    layout: str = "toolkit",
    limit: int | None = None,
    allow_missing: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> AvllmReport:
    """Ask the model about every video of ``split``; write the predictions JSON at ``out``."""
    start = time.perf_counter()
    bench = load_benchmark(benchmark)
    wanted = bench.split_videos(split)["vid_name"].tolist()
    if limit is not None:
        wanted = wanted[:limit]
    found, missing, problems = benchmark_videos(media, benchmark, layout)
    if problems:
        raise OvavebenchError(f"{media}: {problems[0]}")
    files = {vid: (frames, wav) for vid, frames, wav in found}
    without = [v for v in wanted if v not in files]
    if without and not allow_missing:
        raise OvavebenchError(
            f"{media}: {len(without)} video(s) of the {split} split have no media there, e.g. "
            f"{', '.join(without[:5])}; pass --allow-missing to predict them as background"
        )
    classes = list(bench.classes)
    identity = _identity(llm, prompt, classes)
    path = answers_path(out)
    done = _read_answers(path, identity)
    report = AvllmReport(videos=len(wanted), without_media=without, out=Path(out), answers=path)
    todo = [v for v in wanted if v in files and v not in done]
    report.resumed = sum(1 for v in wanted if v in done)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"identity": identity}, sort_keys=True) + "\n")
    with open(path, "a", encoding="utf-8") as handle:
        for begin in range(0, len(todo), batch_size):
            batch = todo[begin : begin + batch_size]
            loaded = [video_inputs(*files[v]) for v in batch]
            messages = [prompt.messages(classes, images, audio) for images, audio in loaded]
            replies = answer(llm, messages, [x[0] for x in loaded], [x[1] for x in loaded], prompt.max_new_tokens)
            for vid, reply in zip(batch, replies, strict=True):
                row = {"video_id": vid, "answer": reply}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                done[vid] = row
            handle.flush()
            os.fsync(handle.fileno())
            report.answered_now += len(batch)
            if on_batch:
                on_batch(report.resumed + report.answered_now, len(wanted) - len(without))
    matcher = LabelMatcher(classes)
    predictions: dict[str, list[str]] = {}
    for vid in wanted:
        if vid not in done:
            predictions[vid] = [BACKGROUND] * SEGMENTS
            continue
        parsed = parse_answer(done[vid]["answer"], classes, matcher)
        predictions[vid] = parsed.labels
        report.unparsed_seconds += parsed.unparsed_seconds
        report.unparsed_videos += not parsed.fully_parsed
    report.seconds = time.perf_counter() - start
    document_meta = {
        **(meta or {}),
        "avllm": {
            **identity,
            "unparsed_videos": report.unparsed_videos,
            "unparsed_seconds": report.unparsed_seconds,
            "without_media": len(without),
            "answers": path.name,
        },
    }
    atomic_write_json(out, {"predictions": predictions, "meta": document_meta}, indent=None)
    return report
