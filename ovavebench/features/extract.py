"""Extraction: per-second audio and visual embeddings of every benchmark video, and of the class names."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from ..media.clips import benchmark_videos
from .checkpoints import check_device, checkpoint_sha256
from .inputs import ClipDataset, collate
from .store import ENCODERS, PREPROCESSING_VERSION, FeatureStore


@dataclass
class ExtractReport:
    extracted: int
    skipped: int
    missing_media: list[str]
    seconds: float
    device: str
    dtype: str
    problems: list[str] = field(default_factory=list)  # videos left out, each with why
    encoder: str = "imagebind"


def extract_features(
    media: str | os.PathLike,
    benchmark: str | os.PathLike,
    out: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    model_config: dict[str, Any] | str | os.PathLike | None = None,
    vocab: str | os.PathLike | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    encoder: str = "imagebind",
    clip_model: str | None = None,
    clap_model: str | None = None,
    layout: str = "toolkit",
) -> ExtractReport:
    """Embed every benchmark video's 10 frames and 10 audio seconds, and the class names; skip stored videos.

    ``encoder="imagebind"`` (the paper's) or ``"clip-clap"`` (CLIP frames, CLAP audio, each with its own
    text tower; see :mod:`ovavebench.features.clipclap`). ``layout="official"`` reads the official preprocessed
    download as it is.
    """
    import torch

    from ..benchmark import class_order, find_benchmark_files, read_meta
    from ..taxonomy import OTHER

    start = time.perf_counter()
    if encoder not in ENCODERS:
        raise OvavebenchError(f"--encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
    if batch_size < 1:
        raise OvavebenchError(f"--batch-size must be >= 1, got {batch_size}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    check_device(device)
    dtype = dtype or ("bf16" if device.startswith("cuda") else "fp32")
    if dtype not in ("bf16", "fp16", "fp32"):
        raise OvavebenchError(f"--dtype must be bf16, fp16 or fp32, got {dtype!r}")
    items, missing, problems = benchmark_videos(media, benchmark, layout)
    files = find_benchmark_files(benchmark)
    classes = class_order(files, read_meta(files.meta)) + [OTHER]
    autocast = (
        torch.autocast(device_type=device.split(":")[0], dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
        if dtype != "fp32"
        else contextlib.nullcontext()
    )
    if encoder == "imagebind":
        from ..imagebind import ImageBind, tokenize
        from ..imagebind.weights import checkpoint_path, vocab_path

        ckpt = Path(checkpoint) if checkpoint else checkpoint_path()
        model = ImageBind.from_checkpoint(ckpt, model_config).to(device)  # a bad checkpoint fails before any download
        vocab_file = Path(vocab) if vocab else (ckpt.parent / "bpe_simple_vocab_16e6.txt.gz")
        if not vocab_file.exists():
            vocab_file = vocab_path()
        identity = {
            "encoder": "imagebind",
            "checkpoint": str(ckpt),
            "checkpoint_sha256": checkpoint_sha256(ckpt),
            "model_config": model.config,
            "preprocessing": PREPROCESSING_VERSION,
            "embed_dim": model.embed_dim,
            "dtype": dtype,
        }
        inputs = None

        def text_embeddings() -> tuple[np.ndarray, np.ndarray | None]:
            return model.encode_text(tokenize(classes, vocab_file).to(device)).float().cpu().numpy(), None

        def embed(frames, audio):
            return (
                model.encode_audio(audio.to(device, non_blocking=True)).float().cpu().numpy(),
                model.encode_vision(frames.to(device, non_blocking=True)).float().cpu().numpy(),
            )
    else:
        from .clipclap import ClipClap

        pair = ClipClap.load(clip_model, clap_model).to(device)
        identity = {**pair.identity(), "dtype": dtype}
        inputs = pair

        def text_embeddings() -> tuple[np.ndarray, np.ndarray | None]:
            return pair.embed_text(classes, device)

        def embed(frames, audio):
            batch = frames.shape[0] // SEGMENTS
            visual = pair.embed_frames(frames.to(device)).float().cpu().numpy()
            audio_emb = pair.embed_audio({k: v.to(device) for k, v in audio.items()}).float().cpu().numpy()
            return audio_emb.reshape(batch, 10, -1), visual.reshape(batch, 10, -1)

    identity = json.loads(json.dumps(identity))  # as stored: tuples become lists
    with FeatureStore(out, create=True) as store:
        store.check_identity(identity)
        store.set_meta(identity)
        with torch.inference_mode(), autocast:
            text, text_audio = text_embeddings()
        store.set_text(classes, text, text_audio)
        todo = [item for item in items if item[0] not in store]
        skipped = len(items) - len(todo)
        if todo:
            # ClipDataset is map-style (__len__, __getitem__) without subclassing torch's Dataset,
            # which keeps torch out of its module
            loader: torch.utils.data.DataLoader[Any] = torch.utils.data.DataLoader(
                cast("torch.utils.data.Dataset[Any]", ClipDataset(todo, inputs)),
                batch_size=batch_size,
                collate_fn=collate,
                num_workers=min(4, os.cpu_count() or 1) if workers is None else workers,
                pin_memory=device.startswith("cuda"),
                persistent_workers=False,
            )
            done = 0
            for video_ids, frames, audio in loader:
                with torch.inference_mode(), autocast:
                    audio_emb, visual = embed(frames, audio)
                store.add_batch(video_ids, audio_emb, visual)
                done += len(video_ids)
                if on_batch:
                    on_batch(done, len(todo))
    return ExtractReport(len(todo), skipped, missing, time.perf_counter() - start, device, dtype, problems, encoder)
