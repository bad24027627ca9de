"""The feature store folder: ``store.sqlite`` (video → shard and row, the store's identity), the text embeddings
and the ``[n, 10, D]`` shards; appended to one batch at a time."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OvavebenchError
from ..io import atomic_open, open_sqlite_state

PREPROCESSING_VERSION = "ovavel-1s-v1"  # 224 bicubic/centre crop frames; 1-s tiled 128-bin fbank, 204 frames
DB_NAME = "store.sqlite"
TEXT_FILE = "text.npy"
TEXT_AUDIO_FILE = "text_audio.npy"  # two-space encoders: the audio side's text embeddings
IDENTITY_KEYS = ("encoder", "checkpoint_sha256", "model_config", "preprocessing", "clip_sha256", "clap_sha256")
ENCODERS = ("imagebind", "clip-clap")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY, shard TEXT NOT NULL, row INTEGER NOT NULL, added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class FeatureStore:
    """Read (and append to) a feature store folder."""

    def __init__(self, path: str | os.PathLike, create: bool = False):
        self.path = Path(path)
        if not create and not (self.path / DB_NAME).exists():
            raise OvavebenchError(f"{self.path}: not a feature store (no {DB_NAME}); run `ovavebench features extract`")
        self.path.mkdir(parents=True, exist_ok=True)
        self._conn = open_sqlite_state(
            self.path / DB_NAME, _SCHEMA, "videos", "a feature store database (store.sqlite)"
        )
        self._conn.row_factory = None  # plain tuples, as the queries below expect
        if create:  # the writer: half-written shards of a killed run (our own temp names) go
            for leftover in self.path.glob(".part-*.npy.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        self._shards: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- metadata

    @property
    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, Any]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()]
            )

    @property
    def encoder(self) -> str:
        return self.meta.get("encoder", "imagebind")  # stores made before CLIP & CLAP are ImageBind's

    def check_identity(self, identity: dict[str, Any]) -> None:
        """Refuse to mix embeddings of another encoder, model or preprocessing into this store."""
        stored = self.meta
        if not stored.get("preprocessing"):
            return  # a new store
        stored = {"encoder": "imagebind", **stored}
        identity = {"encoder": "imagebind", **identity}
        for key in IDENTITY_KEYS:
            if (key in stored or key in identity) and stored.get(key) != identity.get(key):
                raise OvavebenchError(
                    f"{self.path}: was built with another {key} ({stored.get(key)!r}, not "
                    f"{identity.get(key)!r}); embeddings of two models never mix: use a new folder"
                )

    # ----------------------------------------------------------------- videos

    @property
    def video_ids(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT video_id FROM videos ORDER BY video_id")]

    def __contains__(self, video_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM videos WHERE video_id = ?", (video_id,)).fetchone() is not None

    def add_batch(self, video_ids: Sequence[str], audio: np.ndarray, visual: np.ndarray) -> None:
        """Write one batch as a shard, then index it (one transaction)."""
        name = f"part-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        for kind, array in (("audio", audio), ("visual", visual)):
            with atomic_open(self.path / f"{name}.{kind}.npy", "wb") as handle:
                np.save(handle, np.ascontiguousarray(array, dtype=np.float32))
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO videos VALUES (?, ?, ?, ?)",
                [(v, name, i, time.time()) for i, v in enumerate(video_ids)],
            )

    def _shard(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._shards:
            self._shards[name] = (
                np.load(self.path / f"{name}.audio.npy", mmap_mode="r"),
                np.load(self.path / f"{name}.visual.npy", mmap_mode="r"),
            )
        return self._shards[name]

    def get(self, video_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(audio, visual) embeddings ``[N, 10, D]`` of ``video_ids``, in that order."""
        rows = dict(((v, (s, r)) for v, s, r in self._conn.execute("SELECT video_id, shard, row FROM videos")))
        missing = [v for v in video_ids if v not in rows]
        if missing:
            raise OvavebenchError(
                f"{self.path}: {len(missing)} video(s) not in the store, e.g. {', '.join(missing[:3])}"
            )
        audio, visual = [], []
        for video in video_ids:
            shard, row = rows[video]
            a, v = self._shard(shard)
            audio.append(a[row])
            visual.append(v[row])
        return np.stack(audio), np.stack(visual)

    def text(self) -> tuple[list[str], np.ndarray]:
        """Class names (``other`` last) and their text embeddings ``[C+1, D]``."""
        names = self.meta.get("text_classes")
        if names is None or not (self.path / TEXT_FILE).exists():
            raise OvavebenchError(f"{self.path}: no text embeddings yet")
        return list(names), np.load(self.path / TEXT_FILE)

    def text_audio(self) -> tuple[list[str], np.ndarray]:
        """The class-name embeddings the audio is compared with: CLAP's for CLIP & CLAP, else :meth:`text`."""
        names, text = self.text()
        if (self.path / TEXT_AUDIO_FILE).exists():
            return names, np.load(self.path / TEXT_AUDIO_FILE)
        return names, text

    def set_text(
        self, names: Sequence[str], embeddings: np.ndarray, audio_embeddings: np.ndarray | None = None
    ) -> None:
        with atomic_open(self.path / TEXT_FILE, "wb") as handle:
            np.save(handle, np.ascontiguousarray(embeddings, dtype=np.float32))
        if audio_embeddings is not None:
            with atomic_open(self.path / TEXT_AUDIO_FILE, "wb") as handle:
                np.save(handle, np.ascontiguousarray(audio_embeddings, dtype=np.float32))
        self.set_meta({"text_classes": list(names)})

    def info(self) -> dict[str, Any]:
        shards = sorted({r[0] for r in self._conn.execute("SELECT DISTINCT shard FROM videos")})
        size = sum(p.stat().st_size for p in self.path.glob("*.npy"))
        return {
            "path": str(self.path),
            "videos": len(self.video_ids),
            "shards": len(shards),
            "bytes": size,
            "encoder": self.encoder,
            **self.meta,
        }


# --------------------------------------------------------------------------- extraction
