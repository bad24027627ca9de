"""Feature store: per-second embeddings of every video (ImageBind, or CLIP & CLAP), computed once.

``FEATURES/`` holds ``store.sqlite`` (video id → shard and row, and the store's
metadata: the encoder, its weights' sha256, model config, preprocessing version,
dtype), ``text.npy`` (class-name embeddings, ``other`` last; for CLIP & CLAP the
CLIP-space ones, with ``text_audio.npy`` the CLAP-space ones) and shards
``<name>.audio.npy`` / ``<name>.visual.npy`` ([n, 10, D] float32). Each batch
is written as its own shard (temp files, then renamed, then one SQLite commit),
so a crash loses at most the batch in flight and a re-run skips what is stored.

One module per concern: :mod:`.store` (the store), :mod:`.inputs` (what is read, from either media layout),
:mod:`.checkpoints` (weights' checksums, the device) and :mod:`.extract` (the extraction run).
"""

from __future__ import annotations

from ..media.clips import FRAME_SUFFIXES, LAYOUTS, benchmark_videos
from .checkpoints import check_device, checkpoint_sha256
from .extract import ExtractReport, extract_features
from .inputs import ClipDataset
from .store import DB_NAME, ENCODERS, IDENTITY_KEYS, PREPROCESSING_VERSION, TEXT_AUDIO_FILE, TEXT_FILE, FeatureStore

__all__ = [
    "DB_NAME",
    "ENCODERS",
    "FRAME_SUFFIXES",
    "IDENTITY_KEYS",
    "LAYOUTS",
    "PREPROCESSING_VERSION",
    "TEXT_AUDIO_FILE",
    "TEXT_FILE",
    "ClipDataset",
    "ExtractReport",
    "FeatureStore",
    "benchmark_videos",
    "check_device",
    "checkpoint_sha256",
    "extract_features",
]
