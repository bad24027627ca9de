"""Training-free baseline: audio and visual argmax classes must agree, second by second (as released).

Per second, the audio class and the visual class are the argmax of the cosine
similarity with the class-name embeddings (+ ``other``); a second is an event when
they agree; the video's class is the one agreed in its first agreeing second,
every agreeing second gets it, every other second is background, and a video
whose class is ``other`` is all background. Two-space encoders (CLIP & CLAP)
compare audio with their audio-side text embeddings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..benchmark import Benchmark, load_benchmark
from ..constants import BACKGROUND, OTHER
from ..errors import OvavebenchError
from ..features import FeatureStore
from ..io import atomic_write_json


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)


def _text_rows(
    store: FeatureStore, classes: Sequence[str], with_other: bool, audio_side: bool = False
) -> tuple[list[str], np.ndarray]:
    names, text = store.text_audio() if audio_side else store.text()
    index = {n: i for i, n in enumerate(names)}
    missing = [c for c in classes if c not in index]
    if missing:
        raise OvavebenchError(
            f"{store.path}: no text embedding for {', '.join(missing[:5])} (extract with this benchmark)"
        )
    wanted = list(classes) + ([OTHER] if with_other else [])
    return wanted, text[[index[c] for c in wanted]]


def argmax_classes(
    audio: np.ndarray, visual: np.ndarray, text: np.ndarray, text_audio: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each second's audio class and visual class, [N, 10] each: the argmax of the cosine with the class texts."""
    t = _normalise(text)
    t_audio = t if text_audio is None else _normalise(text_audio)
    return (_normalise(audio) @ t_audio.T).argmax(-1), (_normalise(visual) @ t.T).argmax(-1)


def zero_shot_rows(
    audio: np.ndarray, visual: np.ndarray, text: np.ndarray, other_row: int | None, text_audio: np.ndarray | None = None
) -> np.ndarray:
    """Per-second predicted rows [N, 10] (-1 = background) by the published training-free rule.

    ``text_audio``: the class names in the audio encoder's own space, for two-space encoders
    (CLIP & CLAP); by default the audio is compared with ``text`` (ImageBind's joint space).
    """
    audio_class, visual_class = argmax_classes(audio, visual, text, text_audio)
    agree = audio_class == visual_class
    first = agree.argmax(axis=1)  # first agreeing second (0 if none: masked below)
    video_class = np.where(agree.any(axis=1), audio_class[np.arange(len(agree)), first], -1)
    rows = np.where(agree, video_class[:, None], -1)
    if other_row is not None:
        rows[video_class == other_row] = -1  # the video's class is `other`: all background
    return rows


def predictions_from_rows(video_ids: Sequence[str], rows: np.ndarray, names: Sequence[str]) -> dict[str, list[str]]:
    """Row indices (−1 or ``other`` = background) → the JSON ``ovavebench score`` reads."""
    labels = np.array([n if n != OTHER else BACKGROUND for n in names] + [BACKGROUND], dtype=object)
    return {v: labels[r].tolist() for v, r in zip(video_ids, rows, strict=True)}


def zero_shot(
    store_path: str | os.PathLike,
    benchmark: str | os.PathLike | Benchmark,
    split: str = "test",
    with_other: bool = True,
) -> dict[str, list[str]]:
    """Training-free predictions for a split (``with_other=False``: the paper's Table-3 variant)."""
    return zero_shot_with_uncertainty(store_path, benchmark, split, with_other)[0]


def zero_shot_with_uncertainty(
    store_path: str | os.PathLike,
    benchmark: str | os.PathLike | Benchmark,
    split: str = "test",
    with_other: bool = True,
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The predictions, and per video the seconds whose audio and visual classes disagree (what a labelling
    campaign puts first with ``annotate export --order uncertain``)."""
    bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
    videos = bench.split_videos(split)["vid_name"].tolist()
    with FeatureStore(store_path) as store:
        names, text = _text_rows(store, bench.classes, with_other)
        _, text_audio = _text_rows(store, bench.classes, with_other, audio_side=True)
        audio, visual = store.get(videos)
    rows = zero_shot_rows(audio, visual, text, len(bench.classes) if with_other else None, text_audio)
    audio_class, visual_class = argmax_classes(audio, visual, text, text_audio)
    disagreeing = (audio_class != visual_class).sum(axis=1)
    return predictions_from_rows(videos, rows, names), {v: int(n) for v, n in zip(videos, disagreeing, strict=True)}


def predictions_meta(
    store_path: str | os.PathLike,
    benchmark: str | os.PathLike,
    method: str,
    config: str | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """What a predictions file says of the run that made it: method, config, encoder and its weights' sha256, the
    hardware, the seed, and the benchmark it was made on (``score`` refuses it on another one)."""
    from ..scoring.report import benchmark_identity, hardware

    with FeatureStore(store_path) as store:
        meta = dict(store.meta)
    weights = meta.get("checkpoint_sha256") or "+".join(
        str(meta[k]) for k in ("clip_sha256", "clap_sha256") if meta.get(k)
    )
    return {
        "method": method,
        "config": config,
        "encoder": meta.get("encoder", "imagebind"),
        "checkpoint_sha256": weights or None,
        "hardware": hardware(),
        "seed": seed,
        "benchmark_sha256": benchmark_identity(benchmark).sha256,
    }


def write_predictions(
    predictions: dict[str, list[str]], out: str | os.PathLike, meta: dict[str, Any] | None = None
) -> None:
    """``{video_id: [10 labels]}``, or ``{"predictions": …, "meta": …}`` with the run's ``meta``."""
    atomic_write_json(out, {"predictions": predictions, "meta": meta} if meta else predictions, indent=None)
