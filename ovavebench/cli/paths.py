"""Checks of path options before a command starts work: inputs that exist, outputs that are none of the inputs.

A command that reads ``A`` and writes ``B`` must never be pointed at ``B == A`` (it would replace its own input);
a path option that names nothing is an error before anything is loaded (a model, a benchmark, a bootstrap).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .common import fail


def require_path(path: Path | None, option: str, kind: str = "file") -> None:
    """Refuse an input option that names nothing (or a file where a folder is expected, and the reverse)."""
    if path is None:
        return
    if not path.exists():
        fail(f"{option} {path}: not found")
    if kind == "file" and path.is_dir():
        fail(f"{option} {path}: is a folder, expected a file")
    if kind == "folder" and not path.is_dir():
        fail(f"{option} {path}: is not a folder")


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name one file (the same inode when both exist, else the same resolved path)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def refuse_output_among_inputs(
    outputs: Iterable[tuple[str, Path | None]],
    inputs: Iterable[tuple[str, Path | None]],
) -> None:
    """Refuse an output that is one of the inputs, or two outputs on one path.

    ``outputs`` and ``inputs`` are (option, path) pairs; ``None`` paths are skipped.
    """
    given_out = [(o, p) for o, p in outputs if p is not None]
    given_in = [(o, p) for o, p in inputs if p is not None]
    for out_option, out in given_out:
        for in_option, source in given_in:
            if _same(out, source):
                fail(
                    f"{out_option} {out} is also the input {in_option} {source}: "
                    "a command never writes over what it reads; choose another path"
                )
    for i, (option_a, a) in enumerate(given_out):
        for option_b, b in given_out[i + 1 :]:
            if _same(a, b):
                fail(f"{option_a} and {option_b} name the same path {a}: give each output its own")


def benchmark_inputs(folder: Path | None, option: str = "--benchmark") -> list[tuple[str, Path | None]]:
    """The files a command reads from a benchmark folder, as (option, path) pairs (none when it has not got them)."""
    if folder is None or not folder.is_dir():
        return []
    from ..benchmark import find_benchmark_files
    from ..errors import OvavebenchError

    try:
        found = find_benchmark_files(folder)
    except OvavebenchError:  # the command itself names what is wrong with the folder
        return []
    return [(option, p) for p in (found.meta, found.labels, found.total_categories, found.train_categories)]


def refuse_foreign_output(path: Path | None, option: str, what: str, marker: bytes) -> None:
    """Refuse to replace an existing file the toolkit did not write: one that does not hold ``marker`` (a key or
    header only the toolkit's ``what`` has). A new path, an empty file or a device (``/dev/stdout``) is fine."""
    if path is None or not path.exists() or not path.is_file():
        return
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError as exc:
        fail(f"{option} {path}: cannot be read to check what it is ({exc.strerror or exc})")
    if head.strip() and marker not in head:
        fail(
            f"{option} {path}: exists and is not {what} written by ovavebench; refusing to replace it: "
            "choose a new path (or remove that file yourself)"
        )
