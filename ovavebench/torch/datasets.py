"""``Dataset``s of a benchmark split: the clips' frames and audio as stored, or the features ``features extract``
cached, each item with its per-second event flags and class index (the metric's ``target`` and ``video_class``).

Files are opened in ``__getitem__`` only, so either dataset works in a ``DataLoader`` with workers; a frame, audio or
feature file that is missing or unreadable raises an :class:`~ovavebench.errors.OvavebenchError` naming the file
(re-raised by the ``DataLoader`` with the worker's traceback).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..benchmark import Benchmark, load_benchmark
from ..constants import SAMPLE_RATE, SAMPLES_PER_SEGMENT, SEGMENTS
from ..errors import OvavebenchError
from ..media.clips import LAYOUTS, benchmark_videos

Item = dict[str, Any]


class _SplitItems:
    """The videos of a split, their event flags and class indices (the benchmark's class order)."""

    def __init__(self, bench: Benchmark, split: str) -> None:
        self.video_ids: list[str] = bench.videos(split)
        if not self.video_ids:
            raise OvavebenchError(f"{bench.folder}: the {split} split has no videos")
        self.classes = list(bench.classes)
        index = {name: i for i, name in enumerate(self.classes)}
        self.class_index = {v: index[bench.video_class[v]] for v in self.video_ids}
        self.flags = {v: bench.segment_labels(v).astype(np.int64) for v in self.video_ids}

    def keep(self, available: set[str], allow_missing: bool, where: object, what: str) -> tuple[list[str], list[str]]:
        """(videos kept, videos left out); leaving one out needs ``allow_missing``."""
        missing = [v for v in self.video_ids if v not in available]
        if missing and not allow_missing:
            raise OvavebenchError(
                f"{where}: {len(missing)} of the {len(self.video_ids)} videos of the split have no {what}, e.g. "
                f"{', '.join(missing[:5])}; pass allow_missing=True to leave them out"
            )
        return [v for v in self.video_ids if v in available], missing

    def targets(self, video: str) -> Item:
        return {"labels": torch.from_numpy(self.flags[video].copy()), "class_index": self.class_index[video]}


def read_frames(paths: list[Path]) -> torch.Tensor:
    """The frames as stored, ``uint8 (T, 3, H, W)`` RGB; an unreadable frame raises an error naming it."""
    from PIL import Image, UnidentifiedImageError

    arrays: list[np.ndarray] = []
    for path in paths:
        try:
            with Image.open(path) as image:
                rgb = np.asarray(image.convert("RGB") if image.mode != "RGB" else image.copy())
        except FileNotFoundError:
            raise OvavebenchError(f"{path}: frame file not found") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise OvavebenchError(f"{path}: not a readable image ({' '.join(str(exc).split())[:160]})") from None
        if arrays and rgb.shape != arrays[0].shape:
            raise OvavebenchError(
                f"{path}: frame of {rgb.shape[1]}x{rgb.shape[0]} pixels, expected {arrays[0].shape[1]}x"
                f"{arrays[0].shape[0]} like {paths[0].name}"
            )
        arrays.append(rgb)
    return torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2)))


def read_audio(path: Path) -> torch.Tensor:
    """The 10 s of 16 kHz audio as ``float32 (10, 16000)``: channels averaged, a shorter file zero-padded (as the
    released loader pads), a longer one cut; an unreadable file raises an error naming it."""
    import soundfile

    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise OvavebenchError(f"{path}: audio file not found") from None
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        if not Path(path).exists():
            raise OvavebenchError(f"{path}: audio file not found") from None
        raise OvavebenchError(f"{path}: not a readable audio file ({' '.join(str(exc).split())[:160]})") from None
    if rate != SAMPLE_RATE:
        raise OvavebenchError(f"{path}: sample rate {rate} Hz, expected {SAMPLE_RATE}")
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    wanted = SEGMENTS * SAMPLES_PER_SEGMENT
    out = np.zeros(wanted, dtype=np.float32)
    out[: min(wanted, len(mono))] = mono[:wanted]
    return torch.from_numpy(out.reshape(SEGMENTS, SAMPLES_PER_SEGMENT))


class ClipDataset(Dataset[Item]):
    """Each video of a split as stored: ``{"video_id", "frames", "audio", "labels", "class_index"}``.

    ``frames`` is ``uint8 (10, 3, H, W)`` (the 10 one-per-second frames, RGB, untouched unless ``transform`` is
    given), ``audio`` ``float32 (10, 16000)`` (each second's samples), ``labels`` ``int64 (10,)`` the 0/1 event
    flags and ``class_index`` the video's class in ``benchmark``'s order (``len(classes)`` is background): the
    :class:`~ovavebench.torch.OVAVELMetric`'s ``target`` and ``video_class``.

    Args:
        media: the media folder: ``ovavebench download``'s (``layout="toolkit"``: ``<clip_id>/frames/0..9.png``,
            ``audio.wav``) or the official preprocessed download as released (``layout="official"``:
            ``{split}/video/{class}/{vid}/{vid}_01..10.png``, ``{split}/audio/{class}/{vid}.wav``).
        benchmark: the benchmark folder (or a loaded one) whose split, labels and class order are used.
        split: ``train``, ``val`` or ``test``.
        layout: ``toolkit`` or ``official``.
        transform: applied to ``frames`` (e.g. a torchvision transform over ``(T, C, H, W)``).
        audio_transform: applied to ``audio``.
        allow_missing: leave out videos without media (listed in ``missing``) instead of raising.
    """

    def __init__(
        self,
        media: str | os.PathLike,
        benchmark: Benchmark | str | os.PathLike,
        split: str = "test",
        layout: str = "toolkit",
        transform: Callable[[torch.Tensor], Any] | None = None,
        audio_transform: Callable[[torch.Tensor], Any] | None = None,
        allow_missing: bool = False,
    ) -> None:
        if layout not in LAYOUTS:
            raise OvavebenchError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
        self.split = split
        self._items = _SplitItems(bench, split)
        self.classes = self._items.classes
        found, _, problems = benchmark_videos(media, bench.folder, layout)
        wanted = set(self._items.video_ids)
        problems = [p for p in problems if p.split(":", 1)[0] in wanted]
        if problems:
            raise OvavebenchError(f"{media}: {problems[0]}")
        self._files = {vid: (frames, wav) for vid, frames, wav in found if vid in wanted}
        self.video_ids, self.missing = self._items.keep(set(self._files), allow_missing, media, "media")
        self.transform = transform
        self.audio_transform = audio_transform

    def __len__(self) -> int:
        return len(self.video_ids)

    def files(self, index: int) -> tuple[list[Path], Path]:
        """The 10 frame files and the wav of item ``index``."""
        return self._files[self.video_ids[index]]

    def __getitem__(self, index: int) -> Item:
        video = self.video_ids[index]
        frame_paths, wav = self._files[video]
        frames: Any = read_frames(frame_paths)
        audio: Any = read_audio(wav)
        if self.transform is not None:
            frames = self.transform(frames)
        if self.audio_transform is not None:
            audio = self.audio_transform(audio)
        return {"video_id": video, "frames": frames, "audio": audio, **self._items.targets(video)}


class FeatureDataset(Dataset[Item]):
    """Each video of a split from a feature store (``ovavebench features extract``): ``{"video_id", "audio",
    "visual", "labels", "class_index"}``, ``audio`` and ``visual`` ``float32 (10, D)`` per-second embeddings.

    The fine-tuning baseline's head (or a new one) trains on these without re-encoding a clip. ``text_classes``
    and ``text`` are the store's class-name embeddings (``other`` last), ``encoder`` the store's encoder.

    Args:
        store: the feature store folder.
        benchmark: the benchmark folder (or a loaded one) whose split, labels and class order are used.
        split: ``train``, ``val`` or ``test``.
        allow_missing: leave out videos not in the store (listed in ``missing``) instead of raising.
    """

    def __init__(
        self,
        store: str | os.PathLike,
        benchmark: Benchmark | str | os.PathLike,
        split: str = "train",
        allow_missing: bool = False,
    ) -> None:
        from ..features.store import DB_NAME, FeatureStore

        self.store = Path(store)
        bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
        self.split = split
        self._items = _SplitItems(bench, split)
        self.classes = self._items.classes
        with FeatureStore(self.store) as opened:  # checks it is a store; its metadata and class-name embeddings
            self.encoder = opened.encoder
            try:
                self.text_classes, text = opened.text()
                self.text: torch.Tensor | None = torch.from_numpy(np.asarray(text, dtype=np.float32))
            except OvavebenchError:
                self.text_classes, self.text = [], None
        # The store's index, read once here (workers never share a SQLite connection).
        db = sqlite3.connect(f"file:{self.store / DB_NAME}?mode=ro", uri=True)
        try:
            self._rows = {v: (s, int(r)) for v, s, r in db.execute("SELECT video_id, shard, row FROM videos")}
        finally:
            db.close()
        self.video_ids, self.missing = self._items.keep(set(self._rows), allow_missing, self.store, "features")
        self._shards: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shards"] = {}  # memory maps are reopened in each worker
        return state

    def __len__(self) -> int:
        return len(self.video_ids)

    def _shard(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._shards:
            arrays = []
            for kind in ("audio", "visual"):
                path = self.store / f"{name}.{kind}.npy"
                try:
                    arrays.append(np.load(path, mmap_mode="r"))
                except FileNotFoundError:
                    raise OvavebenchError(f"{path}: feature shard not found") from None
                except (ValueError, OSError) as exc:
                    raise OvavebenchError(f"{path}: not a readable .npy shard ({str(exc)[:160]})") from None
            self._shards[name] = (arrays[0], arrays[1])
        return self._shards[name]

    def __getitem__(self, index: int) -> Item:
        video = self.video_ids[index]
        shard, row = self._rows[video]
        audio, visual = self._shard(shard)
        if row >= len(audio) or row >= len(visual):
            raise OvavebenchError(f"{self.store / shard}.*.npy: no row {row} for video {video!r}")
        return {
            "video_id": video,
            "audio": torch.from_numpy(np.array(audio[row], dtype=np.float32)),
            "visual": torch.from_numpy(np.array(visual[row], dtype=np.float32)),
            **self._items.targets(video),
        }
