"""File input and output that never corrupts what is on disk and explains bad input.

Writes: a regular file is written to a temporary file in the destination folder,
flushed, fsynced and renamed over the final name (``os.replace`` is atomic on
POSIX). A symbolic link is written through (the file it points to is replaced,
the link stays), and a destination that is not a regular file (a device such as
``/dev/stdout``, a named pipe) is written directly: renaming over it would
replace the device node. New files get the mode the umask allows (``0666 &
~umask``) and a file that is replaced keeps its mode.

Reads: :func:`read_text` and :func:`read_json` turn every way a text input can
be wrong (not found, a folder, not UTF-8, UTF-16, binary, nested too deeply,
huge numbers, duplicate keys) into one :class:`~ovavebench.errors.InputFileError`
that names the file and what was expected.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ≥ 4.7)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _UMASK_LOCK:  # the portable way sets it for an instant: no other thread of ours creates files meanwhile
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: ``0666 & ~umask``."""
    return 0o666 & ~current_umask()


def _write_target(path: Path) -> tuple[Path, bool]:
    """Where a write to ``path`` lands, and whether it can be atomic (a regular file or nothing yet).

    A symbolic link is followed (its target is written; the link stays), so is a
    chain of links; a dangling link creates its target.
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target, True
    if stat.S_ISDIR(mode):
        from .errors import OvavebenchError

        raise OvavebenchError(f"{path}: is a folder, expected a file path to write")
    return target, stat.S_ISREG(mode)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open ``path`` for writing so that a crash never leaves it half-written.

    Regular files (and paths that do not exist yet) go through a temp file beside
    the target and a rename; symlinks are followed; devices and pipes are written
    directly. On an exception the temp file is removed and ``path`` is untouched.
    """
    final, atomic = _write_target(Path(path))
    if not atomic:
        with open(final, mode, **kwargs) as handle:
            yield handle
        return
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            file_mode = stat.S_IMODE(os.stat(final).st_mode)  # a replaced file keeps its mode
        except FileNotFoundError:
            file_mode = default_file_mode()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:  # name the file the user asked for, not our temp file
        from .errors import OvavebenchError

        raise OvavebenchError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, file_mode)  # mkstemp creates 0600 whatever the umask
    finally:
        os.close(fd)
    try:
        with open(tmp_name, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON atomically (UTF-8, keys in insertion order)."""
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- reading

_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def decode_text(data: bytes, source: object, what: str) -> str:
    """UTF-8 bytes (a BOM is allowed) → text; anything else is one clear error naming ``source``."""
    from .errors import InputFileError

    for bom, name in _OTHER_BOMS:
        if data.startswith(bom):
            raise InputFileError(source, f"is {name} text; expected {what} in UTF-8 (save it as UTF-8)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(source, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); expected {what}", line) from None
    nul = text.find("\x00")
    if nul >= 0:
        if len(data) > 1 and (data[1:2] == b"\x00" or data[0:1] == b"\x00"):
            raise InputFileError(source, f"looks like UTF-16 text without a BOM; expected {what} in UTF-8")
        raise InputFileError(source, f"binary data (a NUL byte); expected {what}", text.count("\n", 0, nul) + 1)
    return text


def read_bytes(path: str | os.PathLike, what: str) -> bytes:
    """A file's bytes; a missing file or a folder is one clear error naming ``what`` was expected."""
    from .errors import InputFileError, OvavebenchError

    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise OvavebenchError(f"{path}: file not found (expected {what})") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a folder; expected {what}") from None
    except PermissionError:
        raise InputFileError(path, f"cannot be read (permission denied); expected {what}") from None


def read_text(path: str | os.PathLike, what: str) -> str:
    """A UTF-8 text file (BOM allowed), refusing other encodings and binary data with one clear error."""
    return decode_text(read_bytes(path, what), path, what)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_json(text: str, source: object, what: str, error: type[Exception] | None = None) -> Any:
    """JSON text → object; malformed, too deep, huge numbers or duplicate keys are one clear error."""
    from .errors import InputFileError

    error = error or InputFileError
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise error(
            source, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); expected {what}"
        ) from None
    except _DuplicateKey as exc:
        shown = exc.key if len(exc.key) <= 60 else exc.key[:57] + "..."
        raise error(source, f"key {shown!r} appears twice (the last would silently win); expected {what}") from None
    except RecursionError:
        raise error(source, f"JSON nested too deeply; expected {what}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise error(source, f"unreadable JSON value ({str(exc).split(';')[0]}); expected {what}") from None


def read_json(path: str | os.PathLike, what: str, error: type[Exception] | None = None) -> Any:
    """Load a JSON file; a missing, undecodable or malformed file is one clear error naming it and ``what``."""
    from .errors import InputFileError

    data = read_bytes(path, what)
    try:
        text = decode_text(data, path, what)
    except InputFileError as exc:
        if error is None or error is InputFileError:
            raise
        raise error(path, exc.what) from None
    return parse_json(text, path, what, error)


def claim_output_dir(path: str | os.PathLike, marker: str, purpose: str) -> Path:
    """A folder this command may fill and clear: new, empty, or made by it before (``marker`` inside).

    An existing folder with other content is refused: a command only ever clears
    what it created. Returns the folder, emptied except for the marker.
    """
    import shutil

    from .errors import OvavebenchError

    folder = Path(path)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OvavebenchError(f"{folder}: exists and is not a folder; expected a folder for {purpose}")
    if folder.exists():
        entries = list(folder.iterdir())
        if entries and not (folder / marker).is_file():
            raise OvavebenchError(
                f"{folder}: folder exists and was not made by {purpose} (no {marker} inside); "
                "refusing to clear it: pass a new or empty folder"
            )
        for entry in entries:
            if entry.name == marker:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    else:
        folder.mkdir(parents=True)
    atomic_write_text(folder / marker, f"made by {purpose}; the same command may clear this folder\n")
    return folder


SQLITE_HEADER = b"SQLite format 3\x00"


def open_sqlite_state(path: str | os.PathLike, schema: str, main_table: str, what: str) -> sqlite3.Connection:
    """Open (creating) one of the toolkit's SQLite state databases, refusing anything else.

    A file that is not SQLite, a damaged database, or one that holds other tables
    (another tool's database) raises :class:`~ovavebench.errors.InputFileError` and
    is left exactly as it is: nothing is created in it, nothing is deleted.
    """
    import sqlite3

    from .errors import InputFileError

    path = Path(path)
    advice = "it is left as it is; move it away to start afresh"
    if path.exists():
        if not path.is_file():
            raise InputFileError(path, f"is not a file; expected {what}")
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:
            raise InputFileError(path, f"not an SQLite database; expected {what} ({advice})")
    conn = sqlite3.connect(path, timeout=30)

    def text(value: bytes) -> str:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InputFileError(path, f"damaged (text that is not UTF-8); expected {what} ({advice})") from None

    try:
        conn.row_factory = sqlite3.Row
        conn.text_factory = text
        check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(check)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and main_table not in tables:
            raise InputFileError(
                path,
                f"an SQLite database with other tables ({', '.join(sorted(tables)[:5])}); expected {what} ({advice})",
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(schema)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # SQLite's own message may quote the damaged bytes
        conn.close()
        reason = str(exc) if isinstance(exc, sqlite3.DatabaseError) else "its integrity check reports damage"
        raise InputFileError(path, f"damaged or unreadable ({reason}); expected {what} ({advice})") from None
    except BaseException:
        conn.close()
        raise
    return conn
