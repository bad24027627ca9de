"""Manifest stage: one row per clip, with YouTube id and start time resolved.

Two modes:

* **rebuild** the published benchmark: the published meta lists bare YouTube
  ids; each is joined with the VGGSound rows to find its start time
  (``resolved``), picking deterministically among several candidate rows
  (``ambiguous``, listed in the summary) or keeping it without one
  (``unresolved``) — never silently dropped;
* **pool**: every VGGSound row whose label maps to a taxonomy class, the
  candidate pool for growing or rebuilding the benchmark from scratch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .constants import CLIP_SECONDS
from .errors import InputFileError, OvavebenchError
from .ids import MAX_START_S
from .io import atomic_open, atomic_write_json
from .metadata.published import VGGSoundTable
from .taxonomy import Taxonomy

MANIFEST_COLUMNS = [
    "clip_id",
    "youtube_id",
    "start_s",
    "end_s",
    "vggsound_label",
    "class_name",
    "group",
    "seen",
    "split",
    "vggsound_split",
    "status",
    "note",
]
STATUSES = ("resolved", "ambiguous", "unresolved")


@dataclass
class ManifestResult:
    """A manifest table and its summary (what is written next to it)."""

    frame: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _clip_ids(youtube_ids: pd.Series, starts: pd.Series) -> pd.Series:
    has_start = starts.notna()
    out = pd.Series("", index=youtube_ids.index, dtype=object)
    if has_start.any():
        padded = starts[has_start].astype("int64").map("{:06d}".format).astype(object)
        out[has_start] = youtube_ids[has_start].astype(object) + "_" + padded
    return out


def _summarise(frame: pd.DataFrame, vggsound: VGGSoundTable, mode: str, extra: dict[str, Any]) -> dict[str, Any]:
    by_status = {s: int((frame["status"] == s).sum()) for s in STATUSES}
    by_class = (
        frame.groupby(["class_name", "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
    )
    summary: dict[str, Any] = {
        "mode": mode,
        "rows": int(len(frame)),
        "by_status": by_status,
        "by_split": {str(k or "unknown"): int(v) for k, v in frame["split"].value_counts().sort_index().items()},
        "by_class": {cls: {s: int(n) for s, n in row.items()} for cls, row in by_class.iterrows()},
        "vggsound_csv": vggsound.path,
        "vggsound_rows": int(len(vggsound.rows)),
        "bad_rows": {
            "count": len(vggsound.bad_rows),
            "first": [{"line": b.line, "reason": b.reason, "text": b.text} for b in vggsound.bad_rows[:10]],
        },
    }
    summary.update(extra)
    return summary


def build_rebuild_manifest(
    vggsound: VGGSoundTable, taxonomy: Taxonomy, meta: pd.DataFrame, meta_source: str = "<meta>"
) -> ManifestResult:
    """Resolve every published video id to a VGGSound clip (see module doc)."""
    classes = taxonomy.by_name()
    unknown = sorted(set(meta["cls_name"]) - set(classes))
    if unknown:
        raise InputFileError(meta_source, f"class(es) not in the taxonomy {taxonomy.source}: {', '.join(unknown[:5])}")
    videos = meta[["vid_name", "cls_name", "split"]].rename(
        columns={"vid_name": "youtube_id", "cls_name": "class_name"}
    )
    videos = videos.assign(expected_label=videos["class_name"].map(lambda c: classes[c].vggsound_label))
    rows = vggsound.rows[["youtube_id", "start_s", "vggsound_label", "vggsound_split"]]
    joined = videos.merge(rows, on="youtube_id", how="left")
    joined["label_ok"] = joined["vggsound_label"] == joined["expected_label"]
    # Candidates: the rows of an id whose label maps to the video's class, earliest start first.
    matches = joined[joined["label_ok"]].drop_duplicates(["youtube_id", "start_s"])
    matches = matches.sort_values(["youtube_id", "start_s"], kind="stable")
    n_candidates = matches.groupby("youtube_id").size()
    chosen = matches.drop_duplicates("youtube_id", keep="first").set_index("youtube_id")

    other_labels = (
        joined[~joined["label_ok"] & joined["vggsound_label"].notna()]
        .groupby("youtube_id")["vggsound_label"]
        .agg(lambda s: sorted(set(s)))
    )
    frame = videos.set_index("youtube_id")
    frame["start_s"] = chosen["start_s"].reindex(frame.index).astype("Int64")
    frame["vggsound_split"] = chosen["vggsound_split"].reindex(frame.index).astype(object).fillna("")
    count = n_candidates.reindex(frame.index).fillna(0).astype(int)
    frame["status"] = "unresolved"
    frame.loc[count == 1, "status"] = "resolved"
    frame.loc[count > 1, "status"] = "ambiguous"
    notes = pd.Series("", index=frame.index, dtype=object)
    ambiguous_ids = frame.index[count > 1]
    candidates = matches.groupby("youtube_id")["start_s"].agg(list)
    for vid in ambiguous_ids:
        notes[vid] = "candidate starts: " + " ".join(str(int(s)) for s in candidates[vid])
    for vid in other_labels.index.intersection(frame.index[count == 0]):
        notes[vid] = "VGGSound rows only with other labels: " + "; ".join(other_labels[vid])
    for vid in frame.index[(count == 0) & (notes == "")]:
        notes[vid] = "no VGGSound row"
    frame["note"] = notes
    frame = frame.reset_index()
    frame["vggsound_label"] = frame["expected_label"]
    frame["end_s"] = (frame["start_s"] + CLIP_SECONDS).astype("Int64")
    frame["clip_id"] = _clip_ids(frame["youtube_id"], frame["start_s"])
    frame["group"] = frame["class_name"].map(lambda c: classes[c].group)
    frame["seen"] = frame["class_name"].map(lambda c: classes[c].seen)
    frame = frame[MANIFEST_COLUMNS]
    ambiguous = [
        {
            "youtube_id": vid,
            "class_name": classes_of,
            "chosen_start_s": int(chosen.loc[vid, "start_s"]),
            "candidate_starts": [int(s) for s in candidates[vid]],
        }
        for vid, classes_of in zip(
            ambiguous_ids, frame.set_index("youtube_id").loc[ambiguous_ids, "class_name"], strict=True
        )
    ]
    summary = _summarise(frame, vggsound, "rebuild", {"benchmark_meta": meta_source, "ambiguous": ambiguous})
    return ManifestResult(frame, summary)


def build_pool_manifest(vggsound: VGGSoundTable, taxonomy: Taxonomy) -> ManifestResult:
    """Every VGGSound row whose label maps to a taxonomy class (one row per clip)."""
    by_label = taxonomy.by_vggsound_label()
    rows = vggsound.rows[vggsound.rows["vggsound_label"].isin(list(by_label))]
    duplicates = int(rows.duplicated(["youtube_id", "start_s"]).sum())
    rows = rows.drop_duplicates(["youtube_id", "start_s"]).sort_values(
        ["vggsound_label", "youtube_id", "start_s"], kind="stable"
    )
    frame = pd.DataFrame(
        {
            "youtube_id": rows["youtube_id"].to_numpy(),
            "start_s": pd.array(rows["start_s"].to_numpy(), dtype="Int64"),
            "vggsound_label": rows["vggsound_label"].to_numpy(),
            "vggsound_split": rows["vggsound_split"].to_numpy(),
        }
    )
    frame["end_s"] = (frame["start_s"] + CLIP_SECONDS).astype("Int64")
    frame["clip_id"] = _clip_ids(frame["youtube_id"], frame["start_s"])
    frame["class_name"] = frame["vggsound_label"].map(lambda label: by_label[label].name)
    frame["group"] = frame["vggsound_label"].map(lambda label: by_label[label].group)
    frame["seen"] = frame["vggsound_label"].map(lambda label: by_label[label].seen)
    frame["split"] = ""
    frame["status"] = "resolved"
    frame["note"] = ""
    frame = frame[MANIFEST_COLUMNS]
    summary = _summarise(frame, vggsound, "pool", {"duplicate_rows_dropped": duplicates, "ambiguous": []})
    return ManifestResult(frame, summary)


def summary_path(manifest_path: str | os.PathLike) -> Path:
    """``manifest.csv`` → ``manifest.summary.json``."""
    path = Path(manifest_path)
    return path.with_name(path.stem + ".summary.json")


def write_manifest(result: ManifestResult, path: str | os.PathLike) -> Path:
    """Write the manifest (CSV, or Parquet for ``.parquet``) and its summary, atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        with atomic_open(path, "wb") as handle:
            result.frame.to_parquet(handle, index=False)
    else:
        with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
            result.frame.to_csv(handle, index=False)
    atomic_write_json(summary_path(path), result.summary)
    return path


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest written by :func:`write_manifest` and check its columns and values.

    Anything that is not a manifest (empty, binary, another encoding, a CSV named
    ``.parquet``, a bad value) is one :class:`InputFileError` naming the file and row.
    """
    import io

    import numpy as np
    import pyarrow

    from .ids import is_youtube_id
    from .io import decode_text, read_bytes

    path = Path(path)
    what = "a manifest of `ovavebench manifest` (CSV, or Parquet named .parquet)"
    if not path.exists():
        raise OvavebenchError(f"{path}: manifest not found (run `ovavebench manifest`)")
    data = read_bytes(path, what)
    if not data.strip():
        raise InputFileError(path, f"empty file; expected {what}")
    if path.suffix == ".parquet":
        if not (data[:4] == b"PAR1" and data[-4:] == b"PAR1"):
            raise InputFileError(
                path, f"not a Parquet file (a manifest named .parquet must be Parquet); expected {what}"
            )
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except (pyarrow.ArrowException, ValueError, OSError) as exc:
            raise InputFileError(
                path, f"unreadable Parquet ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
            ) from None
        frame = frame.reset_index(drop=True)
        for column in ("clip_id", "youtube_id", "split", "note", "vggsound_split", "class_name"):
            if column in frame.columns:
                frame[column] = frame[column].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else v)
    else:
        text = decode_text(data, path, what)
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_values={"start_s": [""], "end_s": [""]},
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise InputFileError(
                path, f"not a CSV table ({' '.join(str(exc).split())[:200]}); expected {what}"
            ) from None
        if "seen" in frame.columns:
            frame["seen"] = frame["seen"].astype(str).str.lower().eq("true")
    missing = [c for c in ("clip_id", "youtube_id", "start_s", "class_name") if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"not a manifest: missing column(s) {', '.join(missing)}", 1)
    for column in ("clip_id", "youtube_id", "class_name"):
        bad = ~frame[column].map(lambda v: isinstance(v, str))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputFileError(path, f"{column} {frame[column].iloc[i]!r} is not text", i + 2)
    for column in ("start_s", "end_s"):
        if column not in frame.columns:
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        given = frame[column].notna().to_numpy() & (frame[column].astype("string").fillna("") != "").to_numpy()
        bad_time = (
            given
            & ~(numbers.notna() & (numbers >= 0) & (numbers <= MAX_START_S) & (numbers == numbers.round())).to_numpy()
        )
        if bad_time.any():
            i = int(np.flatnonzero(bad_time)[0])
            raise InputFileError(
                path,
                f"{column} {frame[column].iloc[i]!r} is not a whole number of seconds in [0, {MAX_START_S:,}]",
                i + 2,
            )
        frame[column] = numbers.astype("Int64")
    has_start = frame["start_s"].notna().to_numpy()
    bad_id = has_start & ~frame["youtube_id"].map(lambda v: is_youtube_id(v)).to_numpy()
    if bad_id.any():
        i = int(np.flatnonzero(bad_id)[0])
        raise InputFileError(
            path, f"invalid YouTube id {frame['youtube_id'].iloc[i]!r}: expected 11 characters of [A-Za-z0-9_-]", i + 2
        )
    return frame
