"""What the lmms-eval task is made of, without lmms-eval: its documents (the benchmark's test videos), each video's
chat (the AV-LLM row's prompt, one frame and one second of audio per second), the row's answer parsing, and the
scorer's seen / unseen / total numbers over the parsed answers.

The benchmark and media folders come from the environment (lmms-eval configures tasks by YAML only):
``OVAVEBENCH_BENCHMARK``, ``OVAVEBENCH_MEDIA``, ``OVAVEBENCH_LAYOUT`` (``toolkit`` or ``official``, default
``toolkit``), ``OVAVEBENCH_PROMPT`` (a template of ``baselines/avllm_prompts.json``, default ``per-second``) and
``OVAVEBENCH_ALLOW_MISSING=1`` (leave out test videos without media instead of refusing).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, load_benchmark
from ..constants import SEGMENTS
from ..errors import OvavebenchError

SPLIT = "test"
GROUPS = ("seen", "unseen", "total")
METRICS = ("acc", "seg_f1", "eve_f1", "avg")
METRIC_NAMES = tuple(f"{group}_{metric}" for group in GROUPS for metric in METRICS)
ENV = {
    "benchmark": "OVAVEBENCH_BENCHMARK",
    "media": "OVAVEBENCH_MEDIA",
    "layout": "OVAVEBENCH_LAYOUT",
    "prompt": "OVAVEBENCH_PROMPT",
    "allow_missing": "OVAVEBENCH_ALLOW_MISSING",
}


@lru_cache(maxsize=4)
def _benchmark(folder: str) -> Benchmark:
    return load_benchmark(folder)


def settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The task's settings from the environment; a missing folder is one line naming the variable."""
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for key in ("benchmark", "media"):
        value = environ.get(ENV[key], "")
        if not value:
            raise OvavebenchError(f"${ENV[key]} is not set: the ovavebench task needs the {key} folder")
        if not Path(value).is_dir():
            raise OvavebenchError(f"${ENV[key]}={value}: no such folder (expected the {key} folder)")
        out[key] = str(Path(value).resolve())
    out["layout"] = environ.get(ENV["layout"], "toolkit") or "toolkit"
    out["prompt"] = environ.get(ENV["prompt"], "per-second") or "per-second"
    out["allow_missing"] = environ.get(ENV["allow_missing"], "") not in ("", "0", "false", "no")
    return out


def documents(
    benchmark: str | os.PathLike,
    media: str | os.PathLike,
    layout: str = "toolkit",
    prompt: str = "per-second",
    allow_missing: bool = False,
) -> list[dict[str, Any]]:
    """One document per test video with media, in the benchmark's order: its id, class, seen flag, event flags,
    frame and audio files, and where its truth and prompt come from (plain values: lmms-eval stores them in Arrow)."""
    from ..baselines.avllm.prompts import load_prompt
    from ..media.clips import benchmark_videos

    load_prompt(prompt)  # a template name that does not exist is an error now, not on the first video
    bench = _benchmark(str(Path(benchmark).resolve()))
    videos = bench.videos(SPLIT)
    found, _, problems = benchmark_videos(media, bench.folder, layout)
    wanted = set(videos)
    problems = [p for p in problems if p.split(":", 1)[0] in wanted]
    if problems:
        raise OvavebenchError(f"{media}: {problems[0]}")
    files = {vid: (frames, wav) for vid, frames, wav in found}
    missing = [v for v in videos if v not in files]
    if missing and not allow_missing:
        raise OvavebenchError(
            f"{media}: {len(missing)} video(s) of the test split have no media there, e.g. {', '.join(missing[:5])};"
            f" set ${ENV['allow_missing']}=1 to leave them out (the scores then cover the videos asked)"
        )
    class_index = {name: i for i, name in enumerate(bench.classes)}
    docs = []
    for vid in videos:
        if vid not in files:
            continue
        frames, wav = files[vid]
        docs.append(
            {
                "video_id": vid,
                "class_name": bench.video_class[vid],
                "class_index": class_index[bench.video_class[vid]],
                "seen": bench.is_seen(vid),
                "flags": [int(v) for v in bench.segment_labels(vid)],
                "frames": [str(p) for p in frames],
                "audio": str(wav),
                "benchmark": str(bench.folder),
                "split": SPLIT,
                "prompt": prompt,
            }
        )
    return docs


def doc_messages(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The AV-LLM row's chat for a document, in lmms-eval's message format (``{"type": "image"|"audio", "url": …}``
    with the PIL frame and the one-second float32 array at 16 kHz)."""
    from ..baselines.avllm.prompts import load_prompt
    from ..baselines.avllm.run import video_inputs

    bench = _benchmark(doc["benchmark"])
    images, audio = video_inputs([Path(p) for p in doc["frames"]], Path(doc["audio"]))
    messages = load_prompt(doc["prompt"]).messages(bench.classes, images, audio)
    out = []
    for message in messages:
        content = []
        for part in message["content"]:
            if part["type"] == "text":
                content.append({"type": "text", "text": part["text"]})
            else:
                content.append({"type": part["type"], "url": part[part["type"]]})
        out.append({"role": message["role"], "content": content})
    return out


def doc_text(doc: Mapping[str, Any]) -> str:
    """The prompt's words without the media (what lmms-eval logs as the context)."""
    from ..baselines.avllm.prompts import load_prompt

    bench = _benchmark(doc["benchmark"])
    template = load_prompt(doc["prompt"])
    candidates = "\n".join(f"- {name}" for name in [*bench.classes, "other"])
    return f"{template.intro.format(classes=candidates)}\n{template.question}"


def doc_target(doc: Mapping[str, Any]) -> str:
    """The truth in the answer format the prompt asks for (``k: event`` lines; ``other`` for background)."""
    return "\n".join(f"{k}: {doc['class_name'] if flag else 'other'}" for k, flag in enumerate(doc["flags"]))


def parse_result(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """lmms-eval's ``process_results``: the row's parsing of the answer; every metric gets the video's labels."""
    from ..baselines.avllm.parse import parse_answer

    bench = _benchmark(doc["benchmark"])
    answer = results[0] if results else ""
    parsed = parse_answer(answer if isinstance(answer, str) else "", bench.classes)
    item = {"video_id": doc["video_id"], "labels": parsed.labels, "benchmark": doc["benchmark"], "split": doc["split"]}
    return {**dict.fromkeys(METRIC_NAMES, item), "unparsed_seconds": parsed.unparsed_seconds}


@lru_cache(maxsize=8)
def _scores(benchmark: str, split: str, answers: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, Any]:
    from ..scoring.core import encode_predictions, score, score_arrays, split_truth

    bench = _benchmark(benchmark)
    predictions = {vid: list(labels) for vid, labels in answers}
    truth = split_truth(bench, split)
    if set(predictions) == set(truth.video_ids):
        return score(predictions, bench, split).to_dict()
    # --limit or left-out videos: the videos asked, scored by the same functions
    rows = [i for i, vid in enumerate(truth.video_ids) if vid in predictions]
    ids = [truth.video_ids[i] for i in rows]
    pred, _, _ = encode_predictions(predictions, ids, bench.classes, "<lmms-eval answers>")
    result = score_arrays(pred, truth.true_class[rows], truth.flags[rows], truth.seen[rows], bench.classes, split, ids)
    return result.to_dict()


def score_items(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``score``'s ``{"seen"|"unseen"|"total": {acc, seg_f1, eve_f1, avg, videos}}`` of the parsed answers."""
    if not items:
        raise OvavebenchError("no answers to score")
    answers = tuple(sorted((item["video_id"], tuple(item["labels"])) for item in items))
    if any(len(labels) != SEGMENTS for _, labels in answers):
        raise OvavebenchError(f"every answer must have {SEGMENTS} labels")
    return _scores(items[0]["benchmark"], items[0]["split"], answers)


def aggregation(group: str, metric: str) -> Callable[[Sequence[Mapping[str, Any]]], float]:
    """lmms-eval's aggregation of one number (``seen``/``acc`` …) over the items of :func:`parse_result`."""
    if group not in GROUPS or metric not in METRICS:
        raise ValueError(f"aggregation: no {group!r}/{metric!r}; expected one of {GROUPS} and {METRICS}")

    def aggregate(items: Sequence[Mapping[str, Any]]) -> float:
        return float(score_items(items)[group][metric])

    aggregate.__name__ = f"ovavebench_{group}_{metric}"
    return aggregate
