"""Croissant metadata (JSON-LD, MLCommons) of a Hugging Face export: its Parquet files as a file set and one record
set of videos with typed fields (the frames as images, the audio, the labels); validated by ``mlcroissant``."""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import OvavebenchError
from ..io import atomic_open, read_json
from .card import CITATION
from .shards import STATE_FILE

DESCRIPTION = (
    "OV-AVEBench (CVPR 2025), open-vocabulary audio-visual event localization: ten-second VGGSound clips, "
    "each second labelled 1 when what is heard and what is seen are an event of the video's class, else 0; "
    "46 seen classes (in training) and 21 unseen (only in val and test). Rebuilt with ovavebench."
)


def croissant_metadata(
    hf_dir: str | os.PathLike,
    out: str | os.PathLike,
    name: str = "OV-AVEBench",
    url: str = "https://github.com/jasongief/OV-AVEL",
    date_published: datetime.date | None = None,
) -> dict[str, Any]:
    """The Croissant JSON-LD describing the Parquet files of ``hf_dir`` (paths relative to ``out``'s folder)."""
    import mlcroissant as mlc

    hf_dir, out = Path(hf_dir), Path(out)
    parquets = check_hf_folder(hf_dir)
    _check_output(out, hf_dir, parquets)
    relative = os.path.relpath(hf_dir / "data", out.resolve().parent if out.parent.exists() else out.parent)
    files = mlc.FileSet(
        id="parquet-files",
        name="parquet-files",
        description="The videos, split by split.",
        encoding_formats=[mlc.EncodingFormat.PARQUET],
        includes=[f"{relative}/*.parquet"],
    )

    def column(
        field_id: str,
        data_type: Any,
        description: str,
        name: str | None = None,
        json_path: str | None = None,
        repeated: bool = False,
    ) -> Any:
        source = mlc.Source(
            file_set="parquet-files",
            extract=mlc.Extract(column=name or field_id.split("/")[-1]),
            transforms=[mlc.Transform(json_path=json_path)] if json_path else [],
        )
        return mlc.Field(
            id=field_id,
            name=field_id.split("/")[-1],
            description=description,
            data_types=[data_type],
            source=source,
            repeated=repeated or None,
        )

    fields = [
        column("videos/video_id", mlc.DataType.TEXT, "The YouTube id of the video."),
        column("videos/split", mlc.DataType.TEXT, "train, val or test."),
        column("videos/class", mlc.DataType.TEXT, "The video's class."),
        column("videos/seen", mlc.DataType.BOOL, "Whether the class is seen in training."),
        column("videos/labels", mlc.DataType.INTEGER, "Ten per-second labels: 1 = audio-visual event.", repeated=True),
        column(
            "videos/frames",
            mlc.DataType.IMAGE_OBJECT,
            "The middle frame of each second (PNG).",
            json_path="bytes",
            repeated=True,
        ),
        column(
            "videos/audio",
            mlc.DataType.AUDIO_OBJECT,
            "The clip's 10 s of 16 kHz mono audio (WAV bytes).",
            json_path="bytes",
        ),
        column(
            "videos/train_subsets",
            mlc.DataType.TEXT,
            "The Table-6 training subsets the video belongs to.",
            repeated=True,
        ),
    ]
    metadata = mlc.Metadata(
        name=name,
        description=DESCRIPTION,
        url=url,
        version=__version__,
        cite_as=CITATION,
        date_published=datetime.datetime.combine(date_published, datetime.time()) if date_published else None,
        license=["https://www.youtube.com/static?template=terms (media); CC BY 4.0 (VGGSound metadata)"],
        keywords=["audio-visual", "event localization", "open vocabulary", "VGGSound"],
        distribution=[files],
        record_sets=[mlc.RecordSet(id="videos", name="videos", description="One record per video.", fields=fields)],
    )
    jsonld = metadata.to_json()
    problems = metadata.ctx.issues
    if problems.errors:
        raise OvavebenchError(f"Croissant metadata invalid: {sorted(problems.errors)[0]}")
    return jsonld


def export_croissant(
    hf_dir: str | os.PathLike, out: str | os.PathLike, date_published: datetime.date | None = None
) -> Path:
    """Write the Croissant file, then load it back with ``mlcroissant`` (its validator must pass); no date unless
    given, so the same export gives the same bytes."""
    import mlcroissant as mlc

    logging.getLogger("absl").setLevel(logging.ERROR)  # mlcroissant's recommendations (no datePublished) on stderr
    out = Path(out)
    jsonld = croissant_metadata(hf_dir, out, date_published=date_published)
    # validated under its temp name beside the final one (the same relative paths): an invalid file never
    # appears under the final name
    with atomic_open(out, "w", encoding="utf-8", newline="") as handle:
        handle.write(json.dumps(jsonld, indent=2, ensure_ascii=False, default=str) + "\n")
        handle.flush()
        try:
            mlc.Dataset(jsonld=handle.name)  # raises on any error of the metadata
        except mlc.ValidationError as exc:
            raise OvavebenchError(f"{out}: mlcroissant rejects it: {str(exc).splitlines()[0][:300]}") from None
    return out


def check_hf_folder(hf_dir: Path) -> list[Path]:
    """The Parquet files of a finished hf export, each one's footer read (a truncated or foreign file is named)."""
    import pyarrow.parquet as pq

    if not hf_dir.is_dir():
        raise OvavebenchError(f"{hf_dir}: folder not found; expected the folder of `ovavebench export hf`")
    state = hf_dir / STATE_FILE
    try:
        made_by = read_json(state, "an export state").get("kind") if state.is_file() else None
    except (OvavebenchError, AttributeError):
        made_by = None
    parquets = sorted((hf_dir / "data").glob("*.parquet"))
    if made_by != "hf" or not parquets:
        raise OvavebenchError(
            f"{hf_dir}: not a finished `ovavebench export hf` folder (no {STATE_FILE} of an hf "
            "export, or no data/*.parquet): export it first"
        )
    for path in parquets:
        try:
            pq.read_metadata(path)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise OvavebenchError(f"{path}: not a readable Parquet file ({str(exc)[:120]})") from None
    return parquets


def _check_output(out: Path, hf_dir: Path, parquets: list[Path]) -> None:
    """The Croissant file may replace only a Croissant file: never an input (a shard, the card, the state)."""
    target = out.resolve()
    inputs = {p.resolve() for p in parquets} | {(hf_dir / n).resolve() for n in (STATE_FILE, "README.md")}
    if target in inputs or target.is_relative_to((hf_dir / "data").resolve()):
        raise OvavebenchError(f"--out {out}: is one of the export's own files; pass another path (croissant.json)")
    if target.is_dir():
        raise OvavebenchError(f"--out {out}: is a folder, expected a file path to write")
    if target.exists():
        try:
            earlier = read_json(target, "Croissant metadata")
            ours = isinstance(earlier, dict) and "croissant" in str(earlier.get("conformsTo", ""))
        except OvavebenchError:
            ours = False
        if not ours:
            raise OvavebenchError(f"--out {out}: exists and is not Croissant metadata; nothing was changed")
