"""Hugging Face ``datasets``: Parquet shards per split with typed features, the Table-6 subsets as configs, and a
dataset card; ``datasets.load_dataset(DIR)`` reads it offline.

Training videos are sharded by which Table-6 subsets they belong to (the published subsets are not nested), so the
``trainratio0.25`` config lists the training shards of its members and no video is stored twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..constants import SAMPLE_RATE, SEGMENTS
from ..errors import OvavebenchError
from .card import dataset_card
from .records import Collection, VideoRecord, read_media
from .shards import ExportFolder, Progress, plan_shards

ROW_GROUP = 32  # rows per Parquet row group: ~75 MB at 640×360, what the Hub's viewer reads comfortably
DEFAULT_SHARD_BYTES = 500 * 10**6


def features():
    """The typed features of one video."""
    from datasets import Audio, Features, Image, List, Value

    return Features(
        {
            "video_id": Value("string"),
            "split": Value("string"),
            "class": Value("string"),
            "seen": Value("bool"),
            "labels": List(Value("int8"), length=SEGMENTS),
            "frames": List(Image(), length=SEGMENTS),
            "audio": Audio(sampling_rate=SAMPLE_RATE),
            "train_subsets": List(Value("string")),
        }
    )


def _row(record: VideoRecord) -> dict[str, Any]:
    media = read_media(record)
    # Missing media: ten null images (a null fixed-size list is read back shifted by datasets 5.2; ten nulls are not)
    frames = (
        [{"bytes": data, "path": f"{record.video_id}_{k}.png"} for k, data in enumerate(media[0])]
        if media
        else [None] * SEGMENTS
    )
    audio = {"bytes": media[1], "path": f"{record.video_id}.wav"} if media else None
    return {
        "video_id": record.video_id,
        "split": record.split,
        "class": record.class_name,
        "seen": record.seen,
        "labels": list(record.labels),
        "frames": frames,
        "audio": audio,
        "train_subsets": list(record.train_subsets),
    }


def _group(record: VideoRecord, subsets: list[str]) -> str:
    if record.split != "train" or not subsets:
        return record.split
    mask = "".join("1" if s in record.train_subsets else "0" for s in subsets)
    return f"train-in{mask}"


@dataclass
class HfExport:
    folder: Path
    splits: dict[str, int]
    configs: dict[str, dict[str, list[str]]]  # config → split → files
    files: dict[str, int] = field(default_factory=dict)  # file → bytes
    missing: int = 0
    skipped_shards: int = 0


def export_hf(
    collection: Collection,
    out: str | os.PathLike,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    on_progress: Progress | None = None,
    availability: dict[str, Any] | None = None,
) -> HfExport:
    """Write the Parquet shards, then the card; resumable (finished shards of the same inputs are kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features().arrow_schema
    export = ExportFolder.claim(out, "hf", f"{collection.fingerprint()}:{shard_bytes}")
    groups: dict[str, list[VideoRecord]] = {}
    for record in collection.records:
        groups.setdefault(_group(record, collection.subsets), []).append(record)
    files_of: dict[str, list[str]] = {}
    plans = []
    for group, records in groups.items():
        shards = plan_shards(records, shard_bytes)
        for i, shard in enumerate(shards):
            name = f"data/{group}-{i:05d}-of-{len(shards):05d}.parquet"
            files_of.setdefault(group, []).append(name)
            plans.append((name, shard))
    total, done, skipped = len(collection.records), 0, 0
    for name, shard in plans:
        if export.is_done(name):
            skipped += 1
        else:
            with export.shard(name) as handle:
                with pq.ParquetWriter(
                    handle, schema, compression="zstd", write_statistics=False, store_schema=True
                ) as writer:  # closed before the shard's file, even on error
                    for start in range(0, len(shard), ROW_GROUP):
                        rows = [_row(r) for r in shard[start : start + ROW_GROUP]]
                        writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=ROW_GROUP)
        done += len(shard)
        if on_progress:
            on_progress(done, total)
    by_split = collection.by_split()
    split_files = {
        split: [f for g, names in files_of.items() if g == split or g.startswith(f"{split}-") for f in names]
        for split in by_split
    }
    configs: dict[str, dict[str, list[str]]] = {"default": split_files}
    for k, subset in enumerate(collection.subsets):
        members = [
            f
            for g, names in files_of.items()
            if g.startswith("train-in") and g[len("train-in") + k] == "1"
            for f in names
        ]
        configs[f"trainratio{subset}"] = {"train": members, **{s: f for s, f in split_files.items() if s != "train"}}
    counts = {split: len(records) for split, records in by_split.items()}
    subset_counts = {s: sum(s in r.train_subsets for r in collection.records) for s in collection.subsets}
    card = dataset_card(configs, counts, subset_counts, len(collection.missing), features(), availability)
    with export.shard("README.md") as handle:
        handle.write(card.encode("utf-8"))
    return HfExport(export.path, counts, configs, export.sizes(), len(collection.missing), skipped)


def push_to_hub(folder: str | os.PathLike, repo: str, token: str | None = None) -> str:
    """Upload an export folder to a dataset repository on the Hub (needs a token: ``HF_TOKEN`` or ``--token``)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise OvavebenchError(f"--push {repo}: no Hugging Face token (set HF_TOKEN or log in with `hf auth login`)")
    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder), repo_id=repo, repo_type="dataset", ignore_patterns=[".ovavebench-export.json"]
        )
    except (HfHubHTTPError, OSError) as exc:
        raise OvavebenchError(f"--push {repo}: {str(exc).splitlines()[0][:200]}") from None
    return str(getattr(info, "commit_url", repo))
