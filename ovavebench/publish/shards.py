"""What every export shares: its output folder (claimed, resumable), the shard plan, the state of finished shards."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OvavebenchError
from ..io import atomic_open, atomic_write_json
from .records import VideoRecord

STATE_FILE = ".ovavebench-export.json"
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
    if unit not in units or not value > 0:
        raise OvavebenchError(f"--shard-size {text!r}: expected a size such as 1GB, 500MB or 64MiB")
    return max(1, int(value * units[unit]))


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


def sha256_path(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        if folder.is_dir() and any(folder.iterdir()) and not state_path.is_file():
            raise OvavebenchError(
                f"{folder}: folder exists and holds files `ovavebench export {kind}` did not make "
                f"(no {STATE_FILE} inside); nothing was changed: pass a new or empty folder"
            )
        export = cls(folder, kind, fingerprint)
        if state_path.is_file():
            try:
                state = json.loads(state_path.read_text(encoding="utf-8"))
                made_by, earlier, done = state["kind"], state["fingerprint"], dict(state["done"])
            except (ValueError, KeyError, TypeError, OSError):
                raise OvavebenchError(
                    f"{state_path}: damaged export state; nothing was changed: remove the folder or pass another one"
                ) from None
            if made_by != kind:
                raise OvavebenchError(
                    f"{folder}: made by `ovavebench export {made_by}`, not {kind}; nothing was "
                    "changed: pass another folder"
                )
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

    def save(self) -> None:
        atomic_write_json(
            self.path / STATE_FILE,
            {"kind": self.kind, "fingerprint": self.fingerprint, "done": dict(sorted(self.done.items()))},
        )

    def is_done(self, name: str) -> bool:
        return name in self.done

    @contextlib.contextmanager
    def shard(self, name: str, mode: str = "wb") -> Iterator[object]:
        """Write one shard atomically, then remember it (a crash loses at most this shard)."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(target, mode) as handle:
            yield handle
        self.done[name] = sha256_path(target)
        self.save()

    def record_file(self, name: str) -> None:
        """Remember a file written in place (the card, the Croissant file)."""
        self.done[name] = sha256_path(self.path / name)
        self.save()

    def sizes(self) -> dict[str, int]:
        return {name: (self.path / name).stat().st_size for name in sorted(self.done)}
