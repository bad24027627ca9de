"""What every export packs: one record per benchmark video, its media checked before anything is written."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..benchmark import load_benchmark, read_meta
from ..constants import SAMPLE_RATE, SEGMENTS
from ..errors import OvavebenchError
from ..media.clips import benchmark_media

SPLIT_ORDER = ("train", "val", "test")


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """One benchmark video as it is published: its labels and, unless its media are missing, its files.

    Held compactly (a folder and names shared between records, not ten path objects): a collection of the whole
    benchmark is about a kilobyte per video, whatever the media's size."""

    video_id: str
    split: str
    class_name: str
    seen: bool
    labels: tuple[int, ...]
    frames_dir: str | None  # the folder of the 10 PNGs, or None when the media are missing (``allow_missing``)
    frame_names: tuple[str, ...]
    audio_file: str | None
    train_subsets: tuple[str, ...] = ()  # the Table-6 subsets ("0.25", …) a training video belongs to

    @property
    def frames(self) -> tuple[Path, ...] | None:
        """The 10 PNGs, or None when the media are missing."""
        if self.frames_dir is None:
            return None
        return tuple(Path(self.frames_dir, name) for name in self.frame_names)

    @property
    def audio(self) -> Path | None:
        return Path(self.audio_file) if self.audio_file is not None else None

    def media_files(self) -> tuple[str, ...]:
        """The 10 PNGs and the wav as plain strings (the hot loops stat and read them; no path objects)."""
        if self.frames_dir is None or self.audio_file is None:
            return ()
        return (*(os.path.join(self.frames_dir, name) for name in self.frame_names), self.audio_file)

    def media_bytes(self) -> int:
        return sum(os.stat(f).st_size for f in self.media_files())

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
            for path in record.media_files():
                info = os.stat(path)
                digest.update(f"{os.path.basename(path)}:{info.st_size}:{info.st_mtime_ns}".encode())
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
    files, missing, problems = benchmark_media(media, folder, layout)  # strings: a few hundred bytes a video
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
    shared: dict[tuple[Any, ...], Any] = {}  # equal tuples held once (labels, subsets)
    subsets = _subset_members(folder)
    flags = bench.labels.flags
    index = bench.labels.index()
    records = []
    rows = (row for split in SPLIT_ORDER for row in bench.meta[bench.meta["split"] == split].itertuples(index=False))
    for row in rows:
        # the benchmark's meta is read as text; str() tells the type checker so. A split's and a class's name are
        # held once (interned), not once a video.
        vid_name, split, cls_name = str(row.vid_name), sys.intern(str(row.split)), sys.intern(str(row.cls_name))
        clip_media = files.get(vid_name)
        labels = tuple(int(x) for x in flags[index[vid_name]])
        member_of = tuple(r for r, ids in subsets.items() if split == "train" and vid_name in ids)
        records.append(
            VideoRecord(
                vid_name,
                split,
                cls_name,
                bool(row.seen),
                shared.setdefault(labels, labels),
                clip_media[0] if clip_media else None,
                clip_media[1] if clip_media else (),
                clip_media[2] if clip_media else None,
                shared.setdefault(member_of, member_of),
            )
        )
    return Collection(records, sorted(missing), sorted(subsets), folder)


def read_media(record: VideoRecord) -> tuple[list[bytes], bytes] | None:
    """A record's 10 PNGs and its wav as bytes, each checked (10 PNG frames, 16 kHz mono, 10 s).

    A PNG is checked chunk by chunk (every chunk's CRC, through to IEND) rather than decoded to pixels: that finds
    a truncated or damaged file as surely, at a thirtieth of the cost for 640x360 frames (decoding 248,000
    frames was most of an export's time)."""
    files = record.media_files()
    if not files:
        return None
    import soundfile
    from PIL import Image, UnidentifiedImageError

    frames = []
    for path in files[:-1]:
        data = _read(path, record.video_id)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "PNG":
                    raise OvavebenchError(f"{path}: a {image.format} image, expected PNG (video {record.video_id})")
                image.verify()
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
            raise OvavebenchError(f"{path}: not a decodable PNG ({str(exc)[:80]}); video {record.video_id}") from None
        frames.append(data)
    audio = _read(files[-1], record.video_id)
    try:
        info = soundfile.info(io.BytesIO(audio))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise OvavebenchError(f"{files[-1]}: not a decodable wav ({str(exc)[:80]}); video {record.video_id}") from None
    if info.samplerate != SAMPLE_RATE or info.channels != 1 or info.frames != SEGMENTS * SAMPLE_RATE:
        raise OvavebenchError(
            f"{files[-1]}: {info.samplerate} Hz, {info.channels} channel(s), {info.frames} samples; "
            f"expected {SAMPLE_RATE} Hz mono, {SEGMENTS * SAMPLE_RATE} samples (video {record.video_id})"
        )
    return frames, audio


def _read(path: str, video_id: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:  # removed meanwhile, a folder in its place, unreadable
        raise OvavebenchError(f"{path}: cannot read it ({exc.strerror or exc}); video {video_id}") from None
