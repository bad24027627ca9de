"""Read and write a benchmark folder in the published OV-AVEBench format.

A benchmark folder holds ``<prefix>_dataset_meta.csv`` (``split,cls_name,cls_type,vid_name``;
``close`` = seen, ``open`` = unseen), the labels JSON
(``{vid: {"category": name, "label": "[0, 1, …]"}}``; ``released_ovavel_dataset_anno.json``
for the published prefix ``ovave``), ``<prefix>_total_close_open_categories.csv``
(all classes sorted + ``other``) and ``<prefix>_train_close_categories.csv``
(seen classes sorted + ``other``). The published OV-AVEL code reads exactly these.

This module is part of the light core: reading a benchmark needs the standard library and numpy only (pandas is
imported by the few helpers that hand a ``DataFrame`` to the stages that build benchmarks).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .constants import SEGMENTS
from .errors import InputFileError, OvavebenchError
from .ids import is_youtube_id
from .taxonomy import OTHER

if TYPE_CHECKING:
    import pandas as pd

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


@dataclass(frozen=True)
class MetaRows:
    """The validated rows of a ``*_dataset_meta.csv``, column by column, in file order (no pandas needed)."""

    split: list[str]
    cls_name: list[str]
    cls_type: list[str]
    vid_name: list[str]
    seen: np.ndarray  # [N] bool: cls_type == "close"

    def __len__(self) -> int:
        return len(self.vid_name)

    def __getitem__(self, column: str) -> list[str]:
        """A column by its CSV name (``split``, ``cls_name``, ``cls_type``, ``vid_name``)."""
        if column not in META_COLUMNS:
            raise KeyError(column)
        values: list[str] = getattr(self, column)
        return values

    def to_frame(self) -> pd.DataFrame:
        """The rows as a ``DataFrame`` (``split, cls_name, cls_type, vid_name, seen``); needs pandas."""
        import pandas as pd

        frame = pd.DataFrame(
            {"split": self.split, "cls_name": self.cls_name, "cls_type": self.cls_type, "vid_name": self.vid_name},
            dtype=object,
        )
        frame["seen"] = np.asarray(self.seen, dtype=bool)
        return frame


def _csv_rows(path: Path, text: str, what: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank row; a malformed table is one error naming the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputFileError(
                path, f"not a CSV table ({' '.join(str(exc).split())[:200]}); expected {what}"
            ) from None
        if row:  # blank lines are skipped, as pandas does
            yield reader.line_num, row


def read_meta_rows(path: str | os.PathLike) -> MetaRows:
    """Read and validate a ``*_dataset_meta.csv`` with the standard library: the rows, with ``seen``."""
    from .io import read_text

    path = Path(path)
    what = f"a dataset meta CSV with header {','.join(META_COLUMNS)}"
    text = read_text(path, what)
    if not text.strip():
        raise InputFileError(path, f"empty file; expected {what}")
    rows = _csv_rows(path, text, what)
    header_line, header = next(rows)
    if header != META_COLUMNS:
        raise InputFileError(path, f"expected header {','.join(META_COLUMNS)}, got {','.join(header)}", header_line)
    lines: list[int] = []
    columns: list[list[str]] = [[], [], [], []]
    for line, row in rows:
        if len(row) != len(META_COLUMNS):
            raise InputFileError(
                path,
                f"not a CSV table (expected 4 fields in line {line}, saw {len(row)}); expected {what}",
            )
        lines.append(line)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    split, cls_name, cls_type, vid_name = columns
    # One column at a time, as before: the first bad split is reported before the first bad type, and so on.
    for i, value in enumerate(split):
        if value not in SPLITS:
            raise InputFileError(path, f"split {value!r} is not one of {', '.join(SPLITS)}", lines[i])
    for i, value in enumerate(cls_type):
        if value not in CLS_TYPES:
            raise InputFileError(path, f"cls_type {value!r} is not 'close' or 'open'", lines[i])
    for i, value in enumerate(vid_name):
        if not is_youtube_id(value):
            raise InputFileError(path, f"invalid video id {value!r}: expected 11 characters of [A-Za-z0-9_-]", lines[i])
    listed: set[str] = set()
    for i, value in enumerate(vid_name):
        if value in listed:
            raise InputFileError(path, f"video {value!r} listed twice", lines[i])
        listed.add(value)
    seen = np.fromiter((CLS_TYPES[t] for t in cls_type), dtype=bool, count=len(cls_type))
    return MetaRows(split, cls_name, cls_type, vid_name, seen)


def read_meta(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a ``*_dataset_meta.csv`` into a ``DataFrame`` with a boolean ``seen`` column (needs
    pandas; :func:`read_meta_rows` does not)."""
    return read_meta_rows(path).to_frame()


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
            for vid, cat, row in zip(self.video_ids, self.categories, self.flags, strict=True)
        }

    def index(self) -> dict[str, int]:
        return {vid: i for i, vid in enumerate(self.video_ids)}


def parse_label_string(value: object) -> list[int] | None:
    """``"[0, 1, …]"`` (or a list) → 10 ints in {0, 1}, or None if malformed."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # JSONDecodeError, an integer of over 4,300 digits, deep nesting
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


def class_order(files: BenchmarkFiles, meta: MetaRows | pd.DataFrame) -> list[str]:
    """The test-time class order, without ``other``: the category list's, else the sorted class names."""
    if files.total_categories is not None:
        return [c for c in read_category_list(files.total_categories) if c != OTHER]
    return sorted(set(meta["cls_name"]))


@dataclass(frozen=True)
class Benchmark:
    """A loaded benchmark: its classes in index order, which are seen, the videos of each split, and each video's
    class and per-second labels.

    Class ``i`` of a prediction row is ``classes[i]``; ``len(classes)`` is background. ``rows`` holds the meta CSV
    (file order); ``labels`` the per-second flags of every labelled video.
    """

    folder: Path  # the folder holding the published-format files
    rows: MetaRows
    labels: Labels
    classes: list[str]  # the test-time class order (sorted), without `other`
    seen_classes: list[str]

    @property
    def unseen_classes(self) -> list[str]:
        """The classes no training video has, in index order."""
        seen = set(self.seen_classes)
        return [c for c in self.classes if c not in seen]

    @cached_property
    def splits(self) -> dict[str, list[str]]:
        """Video ids of each split (``train``, ``val``, ``test``), in file order."""
        out: dict[str, list[str]] = {name: [] for name in SPLITS}
        for split, vid in zip(self.rows.split, self.rows.vid_name, strict=True):
            out[split].append(vid)
        return out

    @cached_property
    def video_class(self) -> dict[str, str]:
        """Each video's class name."""
        return dict(zip(self.rows.vid_name, self.rows.cls_name, strict=True))

    def videos(self, split: str) -> list[str]:
        """The video ids of ``split``, in file order; an unknown split is an error."""
        if split not in SPLITS:
            raise OvavebenchError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
        return list(self.splits[split])

    def class_index(self, video_id: str) -> int:
        """The row of ``video_id``'s class in ``classes``."""
        return self.classes.index(self.video_class[video_id])

    def segment_labels(self, video_id: str) -> np.ndarray:
        """``video_id``'s 10 per-second flags (uint8, 1 = an audio-visual event of its class in that second)."""
        return self.labels.flags[self._label_rows[video_id]].copy()

    def is_seen(self, video_id: str) -> bool:
        """Whether ``video_id``'s class is a seen (training) class."""
        return bool(self.rows.seen[self._meta_rows[video_id]])

    @cached_property
    def _label_rows(self) -> dict[str, int]:
        return self.labels.index()

    @cached_property
    def _meta_rows(self) -> dict[str, int]:
        return {vid: i for i, vid in enumerate(self.rows.vid_name)}

    @cached_property
    def meta(self) -> pd.DataFrame:
        """The meta CSV as a ``DataFrame`` with ``seen`` (needs pandas: the ``tables`` extra)."""
        return self.rows.to_frame()

    def split_videos(self, split: str) -> pd.DataFrame:
        """The meta rows of ``split`` as a ``DataFrame`` (needs pandas; :meth:`videos` does not)."""
        self.videos(split)  # an unknown split is the same error
        return self.meta[self.meta["split"] == split]


def benchmark_folder(path: str | os.PathLike) -> Path:
    """The folder holding the published-format files: ``path`` itself, or the ``benchmark/`` folder that
    ``ovavebench build`` and ``ovavebench demo`` write into their output folder."""
    path = Path(path)
    inner = path / "benchmark"
    if path.is_dir() and not any(path.glob("*_dataset_meta.csv")) and any(inner.glob("*_dataset_meta.csv")):
        return inner
    return path


def load_benchmark(folder: str | os.PathLike) -> Benchmark:
    """Read a benchmark and check it is consistent.

    ``folder`` is a published-format folder (the authors' ``meta_anno_files/`` or one this toolkit wrote) or the
    output folder of ``ovavebench build`` / ``ovavebench demo`` (its ``benchmark/`` is read).
    """
    folder = benchmark_folder(folder)
    files = find_benchmark_files(folder)
    meta = read_meta_rows(files.meta)
    labels = read_labels(files.labels)
    classes = class_order(files, meta)
    known = set(classes)
    unknown = sorted(set(meta.cls_name) - known)
    if unknown:
        raise InputFileError(files.meta, f"class(es) not in the category list: {', '.join(unknown[:5])}")
    if files.train_categories is not None:
        seen = [c for c in read_category_list(files.train_categories) if c != OTHER]
    else:
        seen = sorted({name for name, is_seen in zip(meta.cls_name, meta.seen, strict=True) if is_seen})
    label_index = labels.index()
    missing = [v for v in meta.vid_name if v not in label_index]
    if missing:
        raise InputFileError(
            files.labels, f"{len(missing)} video(s) of {files.meta.name} have no labels, e.g. {', '.join(missing[:3])}"
        )
    for vid, name in zip(meta.vid_name, meta.cls_name, strict=True):
        category = labels.categories[label_index[vid]]
        if category != name:
            raise InputFileError(
                files.labels, f"video {vid!r}: category {category!r} but {files.meta.name} says {name!r}"
            )
    return Benchmark(folder, meta, labels, classes, seen)


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
