"""What every export shares: its output folder (claimed, resumable), the shard plan, the state of finished shards."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, cast

from ..errors import OvavebenchError
from ..io import atomic_open, atomic_write_json, read_json
from .records import VideoRecord

STATE_FILE = ".ovavebench-export.json"
MAX_SHARD_BYTES = 10**12
Progress = Callable[[int, int], None]  # (records done, records in all)


def parse_size(text: str) -> int:
    """``1GB``, ``500MB``, ``64KiB``, ``1000000`` → bytes."""
    units = {
        "": 1,
        "B": 1,
        "KB": 10**3,
        "MB": 10**6,
        "GB": 10**9,
        "TB": 10**12,
        "KIB": 2**10,
        "MIB": 2**20,
        "GIB": 2**30,
        "TIB": 2**40,
    }
    cleaned = text.strip().upper().replace(" ", "")
    number = cleaned.rstrip("KMGTIB")
    unit = cleaned[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    size = value * units[unit] if unit in units else -1.0
    # infinite, NaN (1e999, inf) or beyond any disk (a petabyte): not a shard size
    if not 1 <= size <= MAX_SHARD_BYTES:
        raise OvavebenchError(
            f"--shard-size {text!r}: expected a finite size from 1 byte to 1TB, such as 1GB, 500MB or 64MiB"
        )
    return max(1, int(size))


def plan_shards(records: Sequence[VideoRecord], max_bytes: int) -> list[list[VideoRecord]]:
    """Consecutive records into shards of at most ``max_bytes`` of media (at least one record each)."""
    shards: list[list[VideoRecord]] = []
    current: list[VideoRecord] = []
    size = 0
    for record in records:
        weight = record.media_bytes() + 1024  # labels and headers
        if current and size + weight > max_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(record)
        size += weight
    if current:
        shards.append(current)
    return shards


# What each export writes, relative to its folder: a name in a state file that is not one of these is not ours.
OUTPUT_NAMES = {
    "hf": re.compile(r"data/[a-z0-9-]{1,80}-\d{5}-of-\d{5}\.parquet|README\.md"),
    "webdataset": re.compile(r"[a-z]{1,16}-\d{6}\.tar"),
}
_TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")  # ovavebench.io.atomic_open's temp file beside a file


def _is_own_temp(entry: Path, names: set[str] | None, kind: str = "", prefix: str = "") -> bool:
    """Whether ``entry`` is a regular file that ``atomic_open`` left while writing one of the export's outputs."""
    match = _TEMP.fullmatch(entry.name)
    if not match or entry.is_symlink() or not entry.is_file():
        return False
    name = prefix + match["name"]
    if names is not None:
        return name in names
    return name == STATE_FILE or bool(OUTPUT_NAMES[kind].fullmatch(name))


def _read_state(state_path: Path, folder: Path, kind: str) -> tuple[str, str, dict[str, str]]:
    """The state file's kind, fingerprint and finished files; every path in it checked to be one this export
    writes, inside its folder (a damaged or edited state file must not reach anything else)."""

    def bad(why: str) -> OvavebenchError:
        return OvavebenchError(
            f"{state_path}: damaged export state ({why}); nothing was changed: remove the folder or pass another one"
        )

    try:
        state = read_json(state_path, "an export state")
    except OvavebenchError:
        raise bad("not the JSON an export writes") from None
    if not isinstance(state, dict) or not isinstance(state.get("done"), dict):
        raise bad('expected {"kind", "fingerprint", "done": {file: sha256}}')
    made_by, fingerprint, done = state.get("kind"), state.get("fingerprint"), state["done"]
    if made_by not in OUTPUT_NAMES or not isinstance(fingerprint, str):
        raise bad(f"kind {made_by!r}, fingerprint {type(fingerprint).__name__}")
    root = folder.resolve()
    for name, sha in done.items():
        if not OUTPUT_NAMES[made_by].fullmatch(name) or not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise bad(f"{name!r} is not a file `ovavebench export {made_by}` writes")
        resolved = (folder / name).resolve()
        if not resolved.is_relative_to(root) or (folder / name).is_symlink():
            raise bad(f"{name!r} leads outside {folder}")
    return made_by, fingerprint, dict(done)


_SHA = re.compile(r"[0-9a-f]{64}")


def sha256_path(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _HashingWriter:
    """A binary file that hashes what goes through it; closing it is left to its owner (``atomic_open``)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._handle.write(data)

    def tell(self) -> int:
        return self._handle.tell()

    def flush(self) -> None:
        self._handle.flush()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:  # pyarrow and tarfile may close their sink: the temp file stays open to be synced
        self._handle.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False


@dataclass
class ExportFolder:
    """An export's folder: new, empty, or made by the same kind of export. Finished shards are remembered with
    their sha256, so a rerun on the same inputs skips them; other inputs redo the export (only files it wrote are
    removed)."""

    path: Path
    kind: str
    fingerprint: str
    done: dict[str, str] = field(default_factory=dict)  # relative path → sha256

    @classmethod
    def claim(cls, path: str | os.PathLike, kind: str, fingerprint: str) -> ExportFolder:
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise OvavebenchError(f"{folder}: exists and is not a folder; expected a folder for the {kind} export")
        state_path = folder / STATE_FILE
        if state_path.is_symlink() or (state_path.exists() and not state_path.is_file()):
            raise OvavebenchError(
                f"{state_path}: not a regular file (a link?); nothing was changed: pass another folder"
            )
        if folder.is_dir() and not state_path.is_file():
            # a run killed while writing its first state file leaves only that file's temp: ours to remove
            leftovers = list(folder.iterdir())
            if leftovers and all(_is_own_temp(p, {STATE_FILE}) for p in leftovers):
                for leftover in leftovers:
                    leftover.unlink()
        if folder.is_dir() and any(folder.iterdir()) and not state_path.is_file():
            raise OvavebenchError(
                f"{folder}: folder exists and holds files `ovavebench export {kind}` did not make "
                f"(no {STATE_FILE} inside); nothing was changed: pass a new or empty folder"
            )
        export = cls(folder, kind, fingerprint)
        if state_path.is_file():
            made_by, earlier, done = _read_state(state_path, folder, kind)
            if made_by != kind:
                raise OvavebenchError(
                    f"{folder}: made by `ovavebench export {made_by}`, not {kind}; nothing was "
                    "changed: pass another folder"
                )
            export._remove_own_temps()
            if earlier == fingerprint:
                export.done = {
                    name: sha
                    for name, sha in done.items()
                    if (folder / name).is_file() and sha256_path(folder / name) == sha
                }
            else:  # other inputs: what the earlier export wrote goes, nothing else
                for name in done:
                    with contextlib.suppress(FileNotFoundError):
                        (folder / name).unlink()
        folder.mkdir(parents=True, exist_ok=True)
        export.save()
        return export

    def _remove_own_temps(self) -> None:
        """The temp files a killed run of this export left (``.<output name>.<random>.tmp``), nothing else."""
        for where in (self.path, self.path / "data"):
            if where.is_dir() and not where.is_symlink():
                for entry in where.iterdir():
                    prefix = "" if where == self.path else "data/"
                    if _is_own_temp(entry, None, self.kind, prefix):
                        entry.unlink()

    def save(self) -> None:
        atomic_write_json(
            self.path / STATE_FILE,
            {"kind": self.kind, "fingerprint": self.fingerprint, "done": dict(sorted(self.done.items()))},
        )

    def is_done(self, name: str) -> bool:
        return name in self.done

    @contextlib.contextmanager
    def shard(self, name: str) -> Iterator[BinaryIO]:
        """Write one shard atomically, then remember it with the sha256 of what was written (hashed on the way
        out: a shard is never read back); a crash loses at most this shard."""
        target = self.path / name
        inside = target.parent.resolve().is_relative_to(self.path.resolve())
        if target.is_symlink() or not inside:  # written through, it would change a file outside the export
            raise OvavebenchError(f"{target}: a link where the export writes a file; nothing was written: remove it")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(target, "wb") as handle:
            writer = _HashingWriter(handle)
            yield cast(BinaryIO, writer)
        self.done[name] = writer.digest.hexdigest()
        self.save()

    def sizes(self) -> dict[str, int]:
        return {name: (self.path / name).stat().st_size for name in sorted(self.done)}
