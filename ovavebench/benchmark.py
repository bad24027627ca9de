"""Read and write a benchmark folder in the published OV-AVEBench format.

A benchmark folder holds ``<prefix>_dataset_meta.csv`` (``split,cls_name,cls_type,vid_name``;
``close`` = seen, ``open`` = unseen), the labels JSON
(``{vid: {"category": name, "label": "[0, 1, …]"}}``; ``released_ovavel_dataset_anno.json``
for the published prefix ``ovave``), ``<prefix>_total_close_open_categories.csv``
(all classes sorted + ``other``) and ``<prefix>_train_close_categories.csv``
(seen classes sorted + ``other``). The published OV-AVEL code reads exactly these.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .constants import SEGMENTS
from .errors import InputFileError, OvavebenchError
from .ids import is_youtube_id
from .taxonomy import OTHER

SPLITS = ("train", "val", "test")
META_COLUMNS = ["split", "cls_name", "cls_type", "vid_name"]
CLS_TYPES = {"close": True, "open": False}  # cls_type → seen


def labels_filename(prefix: str = "ovave") -> str:
    """The labels JSON's name for a prefix (the published one for ``ovave``)."""
    return "released_ovavel_dataset_anno.json" if prefix == "ovave" else f"released_{prefix}_dataset_anno.json"


# Videos whose official raw files were empty: the authors' preprocessed media for them are other videos
# (OV-AVEL issue #6), and 11 of the 12 label edits between ovavel_dataset_anno.json and
# released_ovavel_dataset_anno.json fall on them. A rebuild from YouTube gets different media for these.
REPLACED_IN_OFFICIAL_MEDIA: dict[str, tuple[str, ...]] = {
    "train": ("7J8LMbtzJLs", "H3z1RRazXhc", "IUUe8-Zn9cA", "YPisuHnthCo", "fQWT4MDmVGw"),
    "val": ("4xR6HvjYEII", "Uuti9EHClMk", "di01T0hGboU", "ri2DVH0Q-so", "tm870k_Vr2s", "u13LAp8oBUE"),
    "test": ("EDal0UtzjTA", "bTpB0vwqb8M"),
}

_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def validate_prefix(prefix: str) -> str:
    """A file-name prefix: letters, digits, ``_`` and ``-`` only (never a path: files stay inside the folder)."""
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise OvavebenchError(
            f"--prefix {prefix!r}: expected 1-64 letters, digits, '_' or '-' (a file-name prefix, not a path)"
        )
    return prefix


def benchmark_filenames(prefix: str = "ovave") -> dict[str, str]:
    validate_prefix(prefix)
    return {
        "meta": f"{prefix}_dataset_meta.csv",
        "labels": labels_filename(prefix),
        "total_categories": f"{prefix}_total_close_open_categories.csv",
        "train_categories": f"{prefix}_train_close_categories.csv",
        "categories": f"{prefix}_categories.csv",  # the classes in group-block order
    }


@dataclass(frozen=True)
class BenchmarkFiles:
    meta: Path
    labels: Path
    total_categories: Path | None
    train_categories: Path | None


def _only(folder: Path, pattern: str, what: str, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise OvavebenchError(f"{folder}: more than one {what} ({names}); keep one")
    if not found:
        if required:
            raise OvavebenchError(f"{folder}: no {what} (expected a file named {pattern})")
        return None
    return found[0]


def find_benchmark_files(folder: str | os.PathLike) -> BenchmarkFiles:
    """Locate the published-format files in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OvavebenchError(f"{folder}: benchmark folder not found")
    meta = _only(folder, "*_dataset_meta.csv", "dataset meta CSV")
    labels = _only(folder, "released_*_dataset_anno.json", "labels JSON", required=False)
    if labels is None:  # an unreleased labels revision, e.g. ovavel_dataset_anno.json
        labels = _only(folder, "*_dataset_anno.json", "labels JSON")
    total = _only(folder, "*_total_close_open_categories.csv", "category list", required=False)
    train = _only(folder, "*_train_close_categories.csv", "training category list", required=False)
    assert meta is not None and labels is not None
    return BenchmarkFiles(meta, labels, total, train)


def read_meta(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a ``*_dataset_meta.csv``; adds a boolean ``seen`` column."""
    import io

    from .io import read_text

    path = Path(path)
    what = f"a dataset meta CSV with header {','.join(META_COLUMNS)}"
    text = read_text(path, what)
    if not text.strip():
        raise InputFileError(path, f"empty file; expected {what}")
    try:
        meta = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputFileError(path, f"not a CSV table ({' '.join(str(exc).split())[:200]}); expected {what}") from None
    if list(meta.columns) != META_COLUMNS:
        raise InputFileError(
            path, f"expected header {','.join(META_COLUMNS)}, got {','.join(map(str, meta.columns))}", 1
        )
    bad_split = ~meta["split"].isin(SPLITS)
    if bad_split.any():
        i = int(np.flatnonzero(bad_split)[0])
        raise InputFileError(path, f"split {meta['split'].iloc[i]!r} is not one of {', '.join(SPLITS)}", i + 2)
    bad_type = ~meta["cls_type"].isin(list(CLS_TYPES))
    if bad_type.any():
        i = int(np.flatnonzero(bad_type)[0])
        raise InputFileError(path, f"cls_type {meta['cls_type'].iloc[i]!r} is not 'close' or 'open'", i + 2)
    bad_id = ~meta["vid_name"].map(is_youtube_id)
    if bad_id.any():
        i = int(np.flatnonzero(bad_id)[0])
        raise InputFileError(
            path, f"invalid video id {meta['vid_name'].iloc[i]!r}: expected 11 characters of [A-Za-z0-9_-]", i + 2
        )
    dup = meta["vid_name"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputFileError(path, f"video {meta['vid_name'].iloc[i]!r} listed twice", i + 2)
    meta["seen"] = meta["cls_type"].map(CLS_TYPES).astype(bool)
    return meta


@dataclass(frozen=True)
class Labels:
    """Per-video labels: ``video_ids[i]`` has class ``categories[i]`` and flags ``flags[i]``."""

    video_ids: list[str]
    categories: list[str]
    flags: np.ndarray  # [N, 10] uint8, 1 = audio-visual event in that second

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The published JSON form."""
        return {
            vid: {"category": cat, "label": "[" + ", ".join(str(int(v)) for v in row) + "]"}
            for vid, cat, row in zip(self.video_ids, self.categories, self.flags)
        }

    def index(self) -> dict[str, int]:
        return {vid: i for i, vid in enumerate(self.video_ids)}


def parse_label_string(value: object) -> list[int] | None:
    """``"[0, 1, …]"`` (or a list) → 10 ints in {0, 1}, or None if malformed."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if not isinstance(value, list) or len(value) != SEGMENTS:
        return None
    if not all(type(v) is int and v in (0, 1) for v in value):
        return None
    return value


def labels_from_mapping(data: object, source: str = "<labels>") -> Labels:
    """Validate a published-format labels mapping."""
    if not isinstance(data, dict):
        raise InputFileError(source, "expected a JSON object {video_id: {category, label}}")
    ids: list[str] = []
    cats: list[str] = []
    flags = np.zeros((len(data), SEGMENTS), dtype=np.uint8)
    for i, (vid, entry) in enumerate(data.items()):
        if not is_youtube_id(vid):
            raise InputFileError(source, f"video {vid!r}: invalid YouTube id (expected 11 characters of [A-Za-z0-9_-])")
        if not isinstance(entry, dict) or "category" not in entry or "label" not in entry:
            raise InputFileError(source, f"video {vid!r}: expected an object with 'category' and 'label'")
        if not isinstance(entry["category"], str) or not entry["category"]:
            raise InputFileError(source, f"video {vid!r}: category must be a class name")
        parsed = parse_label_string(entry["label"])
        if parsed is None:
            raise InputFileError(source, f"video {vid!r}: label {entry['label']!r} is not a list of 10 zeros/ones")
        ids.append(vid)
        cats.append(entry["category"])
        flags[i] = parsed
    return Labels(ids, cats, flags)


def read_labels(path: str | os.PathLike) -> Labels:
    """Read and validate a published-format labels JSON."""
    from .io import read_json

    data = read_json(path, "a labels JSON {video_id: {category, label}}")
    return labels_from_mapping(data, str(path))


def read_category_list(path: str | os.PathLike) -> list[str]:
    """One class name per line, ``other`` last in the published files; a name listed twice is an error."""
    from .io import read_text

    names: list[str] = []
    seen: set[str] = set()
    for line_no, line in enumerate(read_text(path, "a category list (one class name per line)").splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if name in seen:
            raise InputFileError(path, f"class {name!r} listed twice", line_no)
        seen.add(name)
        names.append(name)
    if not names:
        raise InputFileError(path, "no class names; expected a category list (one class name per line)")
    return names


def class_order(files: BenchmarkFiles, meta: pd.DataFrame) -> list[str]:
    """The test-time class order, without ``other``: the category list's, else the sorted class names."""
    if files.total_categories is not None:
        return [c for c in read_category_list(files.total_categories) if c != OTHER]
    return sorted(set(meta["cls_name"]))


@dataclass(frozen=True)
class Benchmark:
    """A benchmark folder: meta (with ``seen``), labels, the class order."""

    folder: Path
    meta: pd.DataFrame
    labels: Labels
    classes: list[str]  # the test-time class order (sorted), without `other`
    seen_classes: list[str]

    def split_videos(self, split: str) -> pd.DataFrame:
        if split not in SPLITS:
            raise OvavebenchError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
        return self.meta[self.meta["split"] == split]


def load_benchmark(folder: str | os.PathLike) -> Benchmark:
    """Read a published-format benchmark folder and check it is consistent."""
    files = find_benchmark_files(folder)
    meta = read_meta(files.meta)
    labels = read_labels(files.labels)
    classes = class_order(files, meta)
    known = set(classes)
    unknown = sorted(set(meta["cls_name"]) - known)
    if unknown:
        raise InputFileError(files.meta, f"class(es) not in the category list: {', '.join(unknown[:5])}")
    if files.train_categories is not None:
        seen = [c for c in read_category_list(files.train_categories) if c != OTHER]
    else:
        seen = sorted(set(meta.loc[meta["seen"], "cls_name"]))
    label_index = labels.index()
    missing = [v for v in meta["vid_name"] if v not in label_index]
    if missing:
        raise InputFileError(
            files.labels, f"{len(missing)} video(s) of {files.meta.name} have no labels, e.g. {', '.join(missing[:3])}"
        )
    cats = dict(zip(labels.video_ids, labels.categories))
    mismatch = meta["cls_name"].to_numpy() != np.array([cats[v] for v in meta["vid_name"]], dtype=object)
    if mismatch.any():
        i = int(np.flatnonzero(mismatch)[0])
        vid = meta["vid_name"].iloc[i]
        raise InputFileError(
            files.labels,
            f"video {vid!r}: category {cats[vid]!r} but {files.meta.name} says {meta['cls_name'].iloc[i]!r}",
        )
    return Benchmark(Path(folder), meta, labels, classes, seen)


def write_benchmark(
    folder: str | os.PathLike,
    meta: pd.DataFrame,
    labels: Labels,
    classes: list[str],
    seen_classes: list[str],
    prefix: str = "ovave",
) -> dict[str, Path]:
    """Write a benchmark folder in the published format (atomic writes).

    ``meta`` needs ``split, cls_name, cls_type, vid_name`` (extra columns are
    dropped); ``labels`` must cover every video of ``meta``; ``classes`` in
    group-block order (``<prefix>_categories.csv`` keeps it; the other lists are sorted).
    """
    from .io import atomic_open, atomic_write_text  # local: keeps this module import-light

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = benchmark_filenames(prefix)
    paths = {key: folder / name for key, name in names.items()}
    with atomic_open(paths["meta"], "w", encoding="utf-8", newline="") as handle:
        meta[META_COLUMNS].to_csv(handle, index=False, lineterminator="\n")
    wanted = set(meta["vid_name"])
    subset = labels.to_dict()
    missing = wanted - subset.keys()
    if missing:
        raise OvavebenchError(f"no labels for {len(missing)} video(s), e.g. {', '.join(sorted(missing)[:3])}")
    ordered = {vid: subset[vid] for vid in meta["vid_name"]}
    atomic_write_text(paths["labels"], json.dumps(ordered, indent=4) + "\n")
    atomic_write_text(paths["total_categories"], "\n".join(sorted(classes) + [OTHER]))  # no final newline, as published
    atomic_write_text(paths["train_categories"], "\n".join(sorted(seen_classes) + [OTHER]))
    atomic_write_text(paths["categories"], "\n".join(classes))  # in the order given (taxonomy blocks)
    return paths
