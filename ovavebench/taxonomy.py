"""The class taxonomy: ``ovavebench/classes.csv``, shipped inside the package.

One row per class: ``name, vggsound_label, group, seen``. The published
benchmark has 67 classes in 5 groups (17/15/17/9/9), 46 seen and 21 unseen.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .constants import BACKGROUND, OTHER
from .errors import InputFileError, OvavebenchError

GROUPS: tuple[str, ...] = ("human", "animal", "music", "vehicle", "other")
TAXONOMY_COLUMNS = ("name", "vggsound_label", "group", "seen")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class ClassInfo:
    """One benchmark class."""

    name: str
    vggsound_label: str
    group: str
    seen: bool


@dataclass(frozen=True)
class Taxonomy:
    """The benchmark's classes, in file order (the group blocks of the paper)."""

    classes: tuple[ClassInfo, ...]
    source: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def seen_names(self) -> list[str]:
        return [c.name for c in self.classes if c.seen]

    @property
    def unseen_names(self) -> list[str]:
        return [c.name for c in self.classes if not c.seen]

    def by_name(self) -> dict[str, ClassInfo]:
        return {c.name: c for c in self.classes}

    def by_vggsound_label(self) -> dict[str, ClassInfo]:
        return {c.vggsound_label: c for c in self.classes}

    def groups(self) -> dict[str, list[str]]:
        """Group name → class names, groups in :data:`GROUPS` order."""
        out: dict[str, list[str]] = {g: [] for g in GROUPS}
        for c in self.classes:
            out[c.group].append(c.name)
        return {g: names for g, names in out.items() if names}


def default_classes_path() -> Path:
    """The taxonomy shipped inside the package (``ovavebench/classes.csv``; the same file in a wheel and a checkout)."""
    return Path(__file__).resolve().parent / "classes.csv"


def load_taxonomy(path: str | os.PathLike | None = None, expected_classes: int | None = None) -> Taxonomy:
    """Read and validate a taxonomy CSV.

    Checks: the header, unique names and VGGSound labels, known groups, a
    boolean ``seen``; with ``expected_classes``, the class count.
    """
    path = Path(path) if path is not None else default_classes_path()
    if not path.exists():
        raise OvavebenchError(f"{path}: class taxonomy file not found")
    from .io import read_text

    text = read_text(path, f"a class taxonomy CSV ({','.join(TAXONOMY_COLUMNS)})")
    with io.StringIO(text, newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise InputFileError(path, f"unparseable CSV ({exc})", 1) from None
        if header is None or tuple(h.strip() for h in header) != TAXONOMY_COLUMNS:
            raise InputFileError(path, f"expected header {','.join(TAXONOMY_COLUMNS)}, got {header}", 1)
        classes: list[ClassInfo] = []
        names: set[str] = set()
        labels: set[str] = set()
        rows = []
        try:
            for row in reader:
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            raise InputFileError(path, f"unparseable CSV ({exc})", reader.line_num) from None
        for line_no, row in rows:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 4:
                raise InputFileError(
                    path, f"expected 4 columns ({','.join(TAXONOMY_COLUMNS)}), got {len(row)}", line_no
                )
            name, label, group, seen = (cell.strip() for cell in row)
            if not name or not label:
                raise InputFileError(path, "empty class name or VGGSound label", line_no)
            if name in (BACKGROUND, OTHER):
                raise InputFileError(path, f"{name!r} is reserved for background and cannot be a class", line_no)
            if name in names:
                raise InputFileError(path, f"duplicate class name {name!r}", line_no)
            if label in labels:
                raise InputFileError(path, f"VGGSound label {label!r} used by two classes", line_no)
            if group not in GROUPS:
                raise InputFileError(
                    path, f"unknown group {group!r} for {name!r}: expected one of {', '.join(GROUPS)}", line_no
                )
            if seen.lower() not in _TRUE | _FALSE:
                raise InputFileError(path, f"seen must be true or false, got {seen!r}", line_no)
            names.add(name)
            labels.add(label)
            classes.append(ClassInfo(name, label, group, seen.lower() in _TRUE))
    if not classes:
        raise InputFileError(path, "no classes")
    if expected_classes is not None and len(classes) != expected_classes:
        raise InputFileError(path, f"expected {expected_classes} classes, found {len(classes)}")
    return Taxonomy(tuple(classes), str(path))
