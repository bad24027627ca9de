"""Feature store: per-second embeddings of every video (ImageBind, or CLIP & CLAP), computed once.

``FEATURES/`` holds ``store.sqlite`` (video id → shard and row, and the store's
metadata: the encoder, its weights' sha256, model config, preprocessing version,
dtype), ``text.npy`` (class-name embeddings, ``other`` last; for CLIP & CLAP the
CLIP-space ones, with ``text_audio.npy`` the CLAP-space ones) and shards
``<name>.audio.npy`` / ``<name>.visual.npy`` ([n, 10, D] float32). Each batch
is written as its own shard (temp files, then renamed, then one SQLite commit),
so a crash loses at most the batch in flight and a re-run skips what is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import OvavebenchError
from .io import atomic_open, atomic_write_text, open_sqlite_state, sha256_file

PREPROCESSING_VERSION = "ovavel-1s-v1"  # 224 bicubic/centre crop frames; 1-s tiled 128-bin fbank, 204 frames
DB_NAME = "store.sqlite"
TEXT_FILE = "text.npy"
TEXT_AUDIO_FILE = "text_audio.npy"  # two-space encoders: the audio side's text embeddings
IDENTITY_KEYS = ("encoder", "checkpoint_sha256", "model_config", "preprocessing", "clip_sha256", "clap_sha256")
ENCODERS = ("imagebind", "clip-clap")
LAYOUTS = ("toolkit", "official")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (video_id TEXT PRIMARY KEY, shard TEXT NOT NULL, row INTEGER NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class FeatureStore:
    """Read (and append to) a feature store folder."""

    def __init__(self, path: str | os.PathLike, create: bool = False):
        self.path = Path(path)
        if not create and not (self.path / DB_NAME).exists():
            raise OvavebenchError(f"{self.path}: not a feature store (no {DB_NAME}); run `ovavebench features extract`")
        self.path.mkdir(parents=True, exist_ok=True)
        self._conn = open_sqlite_state(self.path / DB_NAME, _SCHEMA, "videos", "a feature store database (store.sqlite)")
        self._conn.row_factory = None  # plain tuples, as the queries below expect
        if create:  # the writer: half-written shards of a killed run (our own temp names) go
            for leftover in self.path.glob(".part-*.npy.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        self._shards: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- metadata

    @property
    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, Any]) -> None:
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()])

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
                raise OvavebenchError(f"{self.path}: was built with another {key} ({stored.get(key)!r}, not "
                                      f"{identity.get(key)!r}); embeddings of two models never mix: use a new folder")

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
            self._conn.executemany("INSERT OR REPLACE INTO videos VALUES (?, ?, ?, ?)",
                                   [(v, name, i, time.time()) for i, v in enumerate(video_ids)])

    def _shard(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._shards:
            self._shards[name] = (np.load(self.path / f"{name}.audio.npy", mmap_mode="r"),
                                  np.load(self.path / f"{name}.visual.npy", mmap_mode="r"))
        return self._shards[name]

    def get(self, video_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(audio, visual) embeddings ``[N, 10, D]`` of ``video_ids``, in that order."""
        rows = dict(((v, (s, r)) for v, s, r in self._conn.execute("SELECT video_id, shard, row FROM videos")))
        missing = [v for v in video_ids if v not in rows]
        if missing:
            raise OvavebenchError(f"{self.path}: {len(missing)} video(s) not in the store, e.g. {', '.join(missing[:3])}")
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

    def set_text(self, names: Sequence[str], embeddings: np.ndarray, audio_embeddings: np.ndarray | None = None) -> None:
        with atomic_open(self.path / TEXT_FILE, "wb") as handle:
            np.save(handle, np.ascontiguousarray(embeddings, dtype=np.float32))
        if audio_embeddings is not None:
            with atomic_open(self.path / TEXT_AUDIO_FILE, "wb") as handle:
                np.save(handle, np.ascontiguousarray(audio_embeddings, dtype=np.float32))
        self.set_meta({"text_classes": list(names)})

    def info(self) -> dict[str, Any]:
        shards = sorted({r[0] for r in self._conn.execute("SELECT DISTINCT shard FROM videos")})
        size = sum(p.stat().st_size for p in self.path.glob("*.npy"))
        return {"path": str(self.path), "videos": len(self.video_ids), "shards": len(shards), "bytes": size,
                "encoder": self.encoder, **self.meta}


# --------------------------------------------------------------------------- extraction


FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def _natural(path: Path) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def benchmark_videos(media: str | os.PathLike, benchmark: str | os.PathLike, layout: str = "toolkit",
                     ) -> tuple[list[tuple[str, list[Path], Path]], list[str], list[str]]:
    """(video id, its 10 frames, its wav) of every benchmark video with media; the ids without; why, by name.

    ``toolkit``: the folders of ``ovavebench download`` (``DIR/<clip_id>/frames/0..9.png``, ``audio.wav``).
    ``official``: the official preprocessed download as it is (``<split>/video/<class>/<vid>/`` with 10
    frames, ``<split>/audio/<class>/<vid>.wav``).
    """
    from .benchmark import find_benchmark_files, read_meta
    from .download import clip_dirs_by_youtube_id, resolve_clip_dir

    if layout not in LAYOUTS:
        raise OvavebenchError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    media = Path(media)
    if not media.is_dir():
        raise OvavebenchError(f"{media}: media folder not found")
    meta = read_meta(find_benchmark_files(benchmark).meta)
    found: list[tuple[str, list[Path], Path]] = []
    missing: list[str] = []
    problems: list[str] = []
    if layout == "toolkit":
        index = clip_dirs_by_youtube_id(media)
        for video in meta["vid_name"]:
            folder = resolve_clip_dir(video, index)  # an id matching two folders is an error naming them
            frames = [folder / "frames" / f"{k}.png" for k in range(10)] if folder is not None else []
            if folder is None or not all(p.exists() for p in frames):
                missing.append(video)
            else:
                found.append((video, frames, folder / "audio.wav"))
        return found, missing, problems
    for row in meta.itertuples(index=False):
        frames_dir = media / row.split / "video" / row.cls_name / row.vid_name
        wav = media / row.split / "audio" / row.cls_name / f"{row.vid_name}.wav"
        frames = sorted((p for p in frames_dir.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural) \
            if frames_dir.is_dir() else []
        if not frames_dir.is_dir() and not wav.exists():
            missing.append(row.vid_name)
            continue
        if len(frames) != 10:
            problems.append(f"{row.vid_name}: {len(frames)} frame(s) in {frames_dir} (expected 10)")
        elif not wav.is_file():
            problems.append(f"{row.vid_name}: no audio (expected {wav})")
        else:
            found.append((row.vid_name, frames, wav))
            continue
        missing.append(row.vid_name)
    return found, missing, problems


class ClipDataset:
    """Decodes and preprocesses one clip per item (runs in DataLoader workers)."""

    def __init__(self, items: Sequence[tuple[str, list[Path], Path]], inputs: Any = None):
        self.items = list(items)
        self.inputs = inputs  # None: ImageBind's preprocessing; else an object with frame_inputs / audio_inputs

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):  # type: ignore[no-untyped-def]
        video, frames, wav = self.items[index]
        if self.inputs is not None:
            return video, self.inputs.frame_inputs(frames), self.inputs.audio_inputs(wav)
        from .imagebind import preprocess_audio, preprocess_frames

        return video, preprocess_frames(frames), preprocess_audio(wav)


def _collate(batch):  # type: ignore[no-untyped-def]
    import torch

    if isinstance(batch[0][2], dict):  # CLAP's inputs per second: flatten videos x seconds
        audio = {key: torch.cat([b[2][key] for b in batch]) for key in batch[0][2]}
        return [b[0] for b in batch], torch.cat([b[1] for b in batch]), audio
    return [b[0] for b in batch], torch.stack([b[1] for b in batch]), torch.stack([b[2] for b in batch])


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


def checkpoint_sha256(path: Path) -> str:
    """sha256 of a checkpoint, remembered in the toolkit's cache (4.5 GB take a while to hash).

    Never written beside the checkpoint: that folder may be read-only, shared, or
    someone else's. The cache entry is keyed by the file's real path, size and mtime.
    """
    from .metadata import cache_dir

    real = Path(os.path.realpath(path))
    info = real.stat()
    key = hashlib.sha256(f"{real}\0{info.st_size}\0{info.st_mtime_ns}".encode()).hexdigest()[:32]
    marker = cache_dir() / "checksums" / f"{key}.sha256"
    with contextlib.suppress(OSError):
        recorded = marker.read_text(encoding="ascii").strip()
        if len(recorded) == 64:
            return recorded
    digest = sha256_file(real)
    with contextlib.suppress(OSError):
        atomic_write_text(marker, digest + "\n")
    return digest


def check_device(device: str) -> None:
    """Refuse a device torch cannot use here, with what to do instead."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise OvavebenchError(f"--device {device!r}: not a torch device (expected cpu, cuda or cuda:N)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise OvavebenchError(f"--device {device}: no CUDA GPU is visible (torch {torch.__version__}, {build}); use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise OvavebenchError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type != "cpu":
        raise OvavebenchError(f"--device {device!r}: expected cpu, cuda or cuda:N")


def extract_features(
    media: str | os.PathLike, benchmark: str | os.PathLike, out: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None, model_config: dict[str, Any] | str | os.PathLike | None = None,
    vocab: str | os.PathLike | None = None, device: str | None = None, dtype: str | None = None,
    batch_size: int = 8, workers: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    encoder: str = "imagebind", clip_model: str | None = None, clap_model: str | None = None, layout: str = "toolkit",
) -> ExtractReport:
    """Embed every benchmark video's 10 frames and 10 audio seconds, and the class names; skip stored videos.

    ``encoder="imagebind"`` (the paper's) or ``"clip-clap"`` (CLIP frames, CLAP audio, each with its own
    text tower; see :mod:`ovavebench.clipclap`). ``layout="official"`` reads the official preprocessed
    download as it is.
    """
    import torch

    from .benchmark import class_order, find_benchmark_files, read_meta
    from .taxonomy import OTHER

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
    autocast = (torch.autocast(device_type=device.split(":")[0], dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
                if dtype != "fp32" else contextlib.nullcontext())
    if encoder == "imagebind":
        from .imagebind import ImageBind, tokenize
        from .imagebind.weights import checkpoint_path, vocab_path

        ckpt = Path(checkpoint) if checkpoint else checkpoint_path()
        model = ImageBind.from_checkpoint(ckpt, model_config).to(device)  # a bad checkpoint fails before any download
        vocab_file = Path(vocab) if vocab else (ckpt.parent / "bpe_simple_vocab_16e6.txt.gz")
        if not vocab_file.exists():
            vocab_file = vocab_path()
        identity = {"encoder": "imagebind", "checkpoint": str(ckpt), "checkpoint_sha256": checkpoint_sha256(ckpt),
                    "model_config": model.config, "preprocessing": PREPROCESSING_VERSION, "embed_dim": model.embed_dim,
                    "dtype": dtype}
        inputs = None

        def text_embeddings() -> tuple[np.ndarray, np.ndarray | None]:
            return model.encode_text(tokenize(classes, vocab_file).to(device)).float().cpu().numpy(), None

        def embed(frames, audio):  # type: ignore[no-untyped-def]
            return (model.encode_audio(audio.to(device, non_blocking=True)).float().cpu().numpy(),
                    model.encode_vision(frames.to(device, non_blocking=True)).float().cpu().numpy())
    else:
        from .clipclap import ClipClap

        pair = ClipClap.load(clip_model, clap_model).to(device)
        identity = {**pair.identity(), "dtype": dtype}
        inputs = pair

        def text_embeddings() -> tuple[np.ndarray, np.ndarray | None]:
            return pair.embed_text(classes, device)

        def embed(frames, audio):  # type: ignore[no-untyped-def]
            batch = frames.shape[0] // 10
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
            loader = torch.utils.data.DataLoader(
                ClipDataset(todo, inputs), batch_size=batch_size, collate_fn=_collate,
                num_workers=min(4, os.cpu_count() or 1) if workers is None else workers,
                pin_memory=device.startswith("cuda"), persistent_workers=False)
            done = 0
            for video_ids, frames, audio in loader:
                with torch.inference_mode(), autocast:
                    audio_emb, visual = embed(frames, audio)
                store.add_batch(video_ids, audio_emb, visual)
                done += len(video_ids)
                if on_batch:
                    on_batch(done, len(todo))
    return ExtractReport(len(todo), skipped, missing, time.perf_counter() - start, device, dtype, problems, encoder)
