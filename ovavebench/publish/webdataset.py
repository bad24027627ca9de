"""WebDataset tar shards: per video ``{id}.0.png`` … ``{id}.9.png``, ``{id}.wav``, ``{id}.json`` (labels, class,
seen, split), split by split; readable by ``webdataset`` and by ``datasets`` (its "webdataset" builder).

Tar headers are fixed (mtime 0, uid/gid 0, mode 0644, members in order), so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import SEGMENTS
from .records import Collection, VideoRecord, read_media
from .shards import ExportFolder, Progress, plan_shards

DEFAULT_SHARD_BYTES = 10**9


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _write_sample(tar: tarfile.TarFile, record: VideoRecord) -> None:
    media = read_media(record)
    if media is not None:
        for k, data in enumerate(media[0]):
            _member(tar, f"{record.video_id}.{k}.png", data)
        _member(tar, f"{record.video_id}.wav", media[1])
    _member(tar, f"{record.video_id}.json", json.dumps(record.json_record(), sort_keys=True).encode())


@dataclass
class WebDatasetExport:
    folder: Path
    shards: dict[str, list[str]]  # split → tar files
    files: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    skipped_shards: int = 0


def export_webdataset(
    collection: Collection,
    out: str | os.PathLike,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    on_progress: Progress | None = None,
) -> WebDatasetExport:
    """Write the tar shards of every split; resumable (finished shards of the same inputs are kept)."""
    export = ExportFolder.claim(out, "webdataset", f"{collection.fingerprint()}:{shard_bytes}")
    total, done, skipped = len(collection.records), 0, 0
    shards: dict[str, list[str]] = {}
    for split, records in collection.by_split().items():
        for i, shard in enumerate(plan_shards(records, shard_bytes)):
            name = f"{split}-{i:06d}.tar"
            shards.setdefault(split, []).append(name)
            if export.is_done(name):
                skipped += 1
            else:
                with export.shard(name) as handle:
                    with tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                        for record in shard:
                            _write_sample(tar, record)
                            # a writing TarFile keeps every member's header it wrote (12 a video), which it never
                            # reads again: dropped, the export's memory stays flat whatever the shard's size
                            # (an undocumented attribute: test_publish fails loudly if tarfile ever drops it)
                            tar.members.clear()  # type: ignore[attr-defined]  # typeshed omits it
            done += len(shard)
            if on_progress:
                on_progress(done, total)
    return WebDatasetExport(export.path, shards, export.sizes(), len(collection.missing), skipped)


def datasets_features():
    """The features to give ``datasets.load_dataset("webdataset", …, features=…)``: the wav as bytes, so no audio
    codec (torchcodec) is needed to read the shards; decode it with soundfile."""
    from datasets import Features, Image, List, Value

    record = {
        "video_id": Value("string"),
        "split": Value("string"),
        "class": Value("string"),
        "seen": Value("bool"),
        "labels": List(Value("int64")),
        "train_subsets": List(Value("string")),
        "media": Value("string"),
    }
    return Features(
        {
            "__key__": Value("string"),
            "__url__": Value("string"),
            **{f"{k}.png": Image() for k in range(SEGMENTS)},
            "wav": Value("binary"),
            "json": record,
        }
    )
