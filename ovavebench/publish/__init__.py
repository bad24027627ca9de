"""Publishing a built benchmark the way the field shares datasets: Hugging Face ``datasets`` (Parquet shards and a
dataset card), WebDataset tar shards, Croissant metadata. Needs the ``publish`` extra.

One module per concern: :mod:`.records` (the videos and their checked media), :mod:`.shards` (the output folder,
the shard plan, resuming), :mod:`.hf`, :mod:`.webdataset`, :mod:`.croissant` and :mod:`.card`.
"""

from __future__ import annotations

from .records import Collection, VideoRecord, collect, read_media
from .shards import ExportFolder, parse_size, plan_shards

__all__ = ["Collection", "ExportFolder", "VideoRecord", "collect", "parse_size", "plan_shards", "read_media"]
