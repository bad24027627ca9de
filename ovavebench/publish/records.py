"""What every export packs: one record per benchmark video, its media checked before anything is written."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..benchmark import load_benchmark, read_meta
from ..constants import SAMPLE_RATE, SEGMENTS
from ..errors import OvavebenchError
from ..media.clips import benchmark_videos

SPLIT_ORDER = ("train", "val", "test")


@dataclass(frozen=True)
class VideoRecord:
    """One benchmark video as it is published: its labels and, unless its media are missing, its files."""

    video_id: str
    split: str
    class_name: str
    seen: bool
    labels: tuple[int, ...]
    frames: tuple[Path, ...] | None  # 10 PNGs, or None when the media are missing (``allow_missing``)
    audio: Path | None
    train_subsets: tuple[str, ...] = ()  # the Table-6 subsets ("0.25", …) a training video belongs to

    def media_bytes(self) -> int:
        if self.frames is None or self.audio is None:
            return 0
        return sum(p.stat().st_size for p in self.frames) + self.audio.stat().st_size

    def json_record(self) -> dict[str, object]:
        return {
            "video_id": self.video_id,
            "split": self.split,
            "class": self.class_name,
            "seen": self.seen,
            "labels": list(self.labels),
            "train_subsets": list(self.train_subsets),
            "media": "present" if self.frames is not None else "missing",
        }


@dataclass
class Collection:
    """The records of a benchmark, in split order (train, val, test) and meta order within a split."""

    records: list[VideoRecord]
    missing: list[str] = field(default_factory=list)  # videos without media (kept as absent with allow_missing)
    subsets: list[str] = field(default_factory=list)  # the Table-6 subset names of the benchmark
    benchmark: Path = Path(".")

    def by_split(self) -> dict[str, list[VideoRecord]]:
        out: dict[str, list[VideoRecord]] = {}
        for record in self.records:
            out.setdefault(record.split, []).append(record)
        return {s: out[s] for s in SPLIT_ORDER if s in out}

    def fingerprint(self) -> str:
        """What the export depends on: every record, every media file's size and mtime (a changed input redoes it)."""
        digest = hashlib.sha256()
        for record in self.records:
            digest.update(json.dumps(record.json_record(), sort_keys=True).encode())
            for path in (*(record.frames or ()), *((record.audio,) if record.audio else ())):
                info = path.stat()
                digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns}".encode())
        return digest.hexdigest()


def _subset_members(benchmark: Path) -> dict[str, set[str]]:
    """Training videos of each Table-6 subset file (``*_trainratio<r>_meta.csv``) of the benchmark folder."""
    members: dict[str, set[str]] = {}
    for path in sorted(benchmark.glob("*_trainratio*_meta.csv")):
        ratio = path.name.split("_trainratio", 1)[1][: -len("_meta.csv")]
        meta = read_meta(path)
        members[ratio] = set(meta.loc[meta["split"] == "train", "vid_name"])
    return members


def collect(
    benchmark: str | os.PathLike, media: str | os.PathLike, layout: str = "toolkit", allow_missing: bool = False
) -> Collection:
    """Every video of the benchmark with its media; a video without media is an error naming it (or, with
    ``allow_missing``, a record without media that the export counts and the card mentions)."""
    bench = load_benchmark(benchmark)
    folder = Path(benchmark)
    found, missing, problems = benchmark_videos(media, folder, layout)
    if problems:
        raise OvavebenchError(
            f"{media}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    if missing and not allow_missing:
        raise OvavebenchError(
            f"{media}: {len(missing)} benchmark video(s) have no frames or audio there, e.g. "
            f"{', '.join(missing[:5])}; pass --allow-missing to publish them without media "
            "(the dataset card says how many)"
        )
    files = {vid: (frames, audio) for vid, frames, audio in found}
    subsets = _subset_members(folder)
    flags = bench.labels.flags
    index = bench.labels.index()
    records = []
    rows = [row for split in SPLIT_ORDER for row in bench.meta[bench.meta["split"] == split].itertuples(index=False)]
    for row in rows:
        frames_audio = files.get(row.vid_name)
        records.append(
            VideoRecord(
                row.vid_name,
                row.split,
                row.cls_name,
                bool(row.seen),
                tuple(int(x) for x in flags[index[row.vid_name]]),
                tuple(frames_audio[0]) if frames_audio else None,
                frames_audio[1] if frames_audio else None,
                tuple(r for r, ids in subsets.items() if row.split == "train" and row.vid_name in ids),
            )
        )
    return Collection(records, sorted(missing), sorted(subsets), folder)


def read_media(record: VideoRecord) -> tuple[list[bytes], bytes] | None:
    """A record's 10 PNGs and its wav as bytes, each checked to decode (10 PNG frames, 16 kHz mono, 10 s)."""
    if record.frames is None or record.audio is None:
        return None
    import soundfile
    from PIL import Image, UnidentifiedImageError

    frames = []
    for path in record.frames:
        data = _read(path, record.video_id)
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                if image.format != "PNG":
                    raise OvavebenchError(f"{path}: a {image.format} image, expected PNG (video {record.video_id})")
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
            raise OvavebenchError(f"{path}: not a decodable PNG ({str(exc)[:80]}); video {record.video_id}") from None
        frames.append(data)
    audio = _read(record.audio, record.video_id)
    try:
        info = soundfile.info(io.BytesIO(audio))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise OvavebenchError(
            f"{record.audio}: not a decodable wav ({str(exc)[:80]}); video {record.video_id}"
        ) from None
    if info.samplerate != SAMPLE_RATE or info.channels != 1 or info.frames != SEGMENTS * SAMPLE_RATE:
        raise OvavebenchError(
            f"{record.audio}: {info.samplerate} Hz, {info.channels} channel(s), {info.frames} samples; "
            f"expected {SAMPLE_RATE} Hz mono, {SEGMENTS * SAMPLE_RATE} samples (video {record.video_id})"
        )
    return frames, audio


def _read(path: Path, video_id: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:  # removed meanwhile, a folder in its place, unreadable
        raise OvavebenchError(f"{path}: cannot read it ({exc.strerror or exc}); video {video_id}") from None
