"""A local archive of the raw videos as the clips' source: a folder (searched recursively) or a ``.zip``.

Files are named by the published video id, ``<youtube_id>.<ext>`` (e.g. the authors' 24,836 raw mp4 files, in
class subfolders or not). A zip member is read in place, through a file object: nothing is extracted. Which part
of a file is the clip's window is :func:`ovavebench.media.decode.segment_clip`'s archive rule: a file of about the
window's length *is* the window, a longer one is the whole video, cut at the manifest's start.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import OvavebenchError

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".m4v", ".avi", ".flv", ".3gp", ".ts")


@dataclass(frozen=True)
class ArchiveEntry:
    """One video file of an archive: its member path (relative to the folder, or the zip's name) and size."""

    youtube_id: str
    member: str
    size: int


def check_archive(path: str | os.PathLike) -> None:
    """Refuse an archive no run could read: missing, or a file that is not a zip."""
    path = Path(path)
    if path.is_dir():
        return
    if not path.exists():
        raise OvavebenchError(f"--archive {path}: no such folder or .zip file")
    if not zipfile.is_zipfile(path):
        raise OvavebenchError(f"--archive {path}: not a folder and not a readable .zip file")


_index_lock = threading.Lock()
_indexes: dict[tuple[str, float], dict[str, ArchiveEntry]] = {}


def archive_index(path: str | os.PathLike) -> dict[str, ArchiveEntry]:
    """Every video file of the archive by its YouTube id (cached per process; the first in sorted order wins)."""
    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime)
    with _index_lock:
        cached = _indexes.get(key)
        if cached is not None:
            return cached
        entries: list[ArchiveEntry] = []
        if path.is_dir():
            for folder, _, files in os.walk(path):
                for name in files:
                    stem, suffix = os.path.splitext(name)
                    if suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
                        full = os.path.join(folder, name)
                        entries.append(ArchiveEntry(stem, os.path.relpath(full, path), os.path.getsize(full)))
        else:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    stem, suffix = os.path.splitext(os.path.basename(info.filename))
                    if not info.is_dir() and suffix.lower() in VIDEO_SUFFIXES and not stem.startswith("."):
                        entries.append(ArchiveEntry(stem, info.filename, info.file_size))
        index: dict[str, ArchiveEntry] = {}
        for entry in sorted(entries, key=lambda e: e.member):
            index.setdefault(entry.youtube_id, entry)
        _indexes[key] = index
        return index


_zips = threading.local()


def _zip(path: str) -> zipfile.ZipFile:
    """This thread's open handle of a zip archive (one per thread: a member is read through its own seeks)."""
    opened: dict[str, zipfile.ZipFile] = getattr(_zips, "opened", None) or {}
    _zips.opened = opened
    if path not in opened:
        opened[path] = zipfile.ZipFile(path)
    return opened[path]


@contextmanager
def open_member(archive: str | os.PathLike, member: str) -> Iterator[str | IO[bytes]]:
    """A member to decode: the file's path in a folder, a seekable file object inside a zip."""
    archive = str(archive)
    if os.path.isdir(archive):
        yield os.path.join(archive, member)
        return
    with _zip(archive).open(member) as handle:
        yield handle


def member_sha256(archive: str | os.PathLike, member: str) -> str:
    """The SHA-256 of a member's bytes (the provenance of a clip taken from the archive)."""
    digest = hashlib.sha256()
    with open_member(archive, member) as source:
        handle = open(source, "rb") if isinstance(source, str) else source
        try:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        finally:
            if isinstance(source, str):
                handle.close()
    return digest.hexdigest()
