"""Metadata stage: fetch VGGSound's CSV and the published OV-AVEBench files, parse them.

The published OV-AVEBench files are checked against their sha256 values (facts
about the CVPR 2025 release, kept here as constants). VGGSound's CSV is
hand-edited by many people, so :func:`read_vggsound_csv` validates every row
and names the file and line of anything wrong.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputFileError, OvavebenchError
from ..ids import MAX_START_S, is_youtube_id
from ..io import read_text
from ..taxonomy import Taxonomy
from .fetch import FetchResult, check_url, fetch_file

if TYPE_CHECKING:  # pandas only where a table is built: `score` fetches the published files without it
    import pandas as pd

DEFAULT_VGGSOUND_URL = "https://www.robots.ox.ac.uk/~vgg/data/vggsound/vggsound.csv"
DEFAULT_OVAVE_BASE_URL = "https://raw.githubusercontent.com/jasongief/OV-AVEL/main/meta_anno_files/"
# VGGSound's own label list (label,count,group): the vocabulary rows are checked against.
DEFAULT_VGGSOUND_STAT_URL = "https://raw.githubusercontent.com/hche11/VGGSound/master/data/stat.csv"
ENV_CACHE = "OVAVEBENCH_CACHE"
ENV_VGGSOUND_URL = "OVAVEBENCH_VGGSOUND_URL"
ENV_OVAVE_BASE_URL = "OVAVEBENCH_OVAVE_BASE_URL"
ENV_VGGSOUND_STAT_URL = "OVAVEBENCH_VGGSOUND_STAT_URL"

# sha256 of the files published with the paper (jasongief/OV-AVEL, meta_anno_files/).
OVAVE_FILES: dict[str, str] = {
    "ovave_dataset_meta.csv": "be11b74e67ffcfe4eaabd8ea0f6959bc0c4c359c23030face76895b62437b477",
    "released_ovavel_dataset_anno.json": "c6d4c368958a1ed7595ac59e5d371dff52cf144a1f88b1e0269ac9b59f025b34",
    "ovave_categories.csv": "9dc31a3299f029bf24dcac7ee6dd5333b5e685d03693a4f2f9d7118c480c78a8",
    "ovave_total_close_open_categories.csv": "4806afcc687d727af36f965e12ad88c7d43869d9258e413da8d560917aeeddf3",
    "ovave_train_close_categories.csv": "35728b8281787857f4bc67d2b0959313d9a681d4b0ff70deb41c1012ca0b418b",
}
VGGSOUND_FILENAME = "vggsound.csv"
VGGSOUND_STAT_FILENAME = "stat.csv"
VGGSOUND_SPLITS = ("train", "test")


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """``cache``, else ``$OVAVEBENCH_CACHE``, else ``~/.cache/ovavebench``."""
    if cache is not None:
        return Path(cache).expanduser()
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "ovavebench"


def ovave_dir(cache: str | os.PathLike | None = None) -> Path:
    """Where the published OV-AVEBench files live in the cache."""
    return cache_dir(cache) / "ovavebench"


def vggsound_csv_path(cache: str | os.PathLike | None = None) -> Path:
    return cache_dir(cache) / "vggsound" / VGGSOUND_FILENAME


def vggsound_stat_path(cache: str | os.PathLike | None = None) -> Path:
    return cache_dir(cache) / "vggsound" / VGGSOUND_STAT_FILENAME


def read_vggsound_labels(path: str | os.PathLike) -> set[str]:
    """The label vocabulary from VGGSound's ``stat.csv`` (``label,count,group``)."""
    what = "VGGSound's stat.csv (label,count,group rows)"
    labels: set[str] = set()
    for line_no, row, error in _csv_rows(read_text(path, what)):
        if error:
            raise InputFileError(path, error, line_no)
        if not row:
            continue
        problem = _stat_row_problem(row)
        if problem:
            raise InputFileError(path, problem, line_no)
        labels.add(row[0])
    if not labels:
        raise InputFileError(path, f"no labels; expected {what}")
    return labels


def _stat_row_problem(row: list[str]) -> str | None:
    """Why a stat.csv row is not ``label,count,group``, or None."""
    if len(row) != 3 or not (row[1].strip().isascii() and row[1].strip().isdigit()) or not row[0].strip():
        return f"expected label,count,group, got {','.join(row)[:120]!r}"
    return None


def _csv_rows(text: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(line where the row starts, row, problem) for each CSV row of ``text``.

    A quote left open swallows the lines after it; the problem then names the
    line where the row began, not the line where the reader stopped.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, [], f"unparseable CSV ({exc})"
            return
        if reader.line_num > start and any("\n" in cell or "\r" in cell for cell in row):
            yield start, row, f"unbalanced double quote: the row runs on over {reader.line_num - start + 1} lines"
            return
        yield start, row, None


def cached_vggsound_labels(cache: str | os.PathLike | None = None) -> set[str] | None:
    """The cached label vocabulary, or None when ``metadata fetch`` has not run."""
    path = vggsound_stat_path(cache)
    return read_vggsound_labels(path) if path.exists() else None


@dataclass
class FetchReport:
    """Files fetched (or found verified) by :func:`fetch_metadata`."""

    cache: Path
    files: list[FetchResult] = field(default_factory=list)


def fetch_ovave_files(
    cache: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = False,
    verify: bool = True,
    target: str | os.PathLike | None = None,
    force: bool = False,
) -> list[FetchResult]:
    """Fetch the five published OV-AVEBench files into the cache, verified by sha256.

    ``verify=False`` is for a benchmark in the published format that is not the
    published one (a fork, a grown benchmark, the demo): it is fetched into
    ``target`` and never mistaken for the published files.
    """
    base = base_url or os.environ.get(ENV_OVAVE_BASE_URL) or DEFAULT_OVAVE_BASE_URL
    if not base.endswith("/"):
        base += "/"
    if not verify and target is None:
        raise OvavebenchError("unverified benchmark files need their own folder (not the published cache)")
    folder = Path(target) if target is not None else ovave_dir(cache)
    return [
        fetch_file(
            base + name, folder / name, expected_sha256=digest if verify else None, progress=progress, force=force
        )
        for name, digest in OVAVE_FILES.items()
    ]


def fetch_metadata(
    cache: str | os.PathLike | None = None,
    vggsound_url: str | None = None,
    ovave_base_url: str | None = None,
    progress: bool = False,
    include_vggsound: bool = True,
    vggsound_stat_url: str | None = None,
    include_ovave: bool = True,
    force: bool = False,
) -> FetchReport:
    """Download VGGSound's CSV and the published OV-AVEBench files into the cache.

    Re-runs skip files already verified (``force`` downloads them again); the
    VGGSound files are checked for their CSV content before they are kept; writes
    are atomic.
    """
    report = FetchReport(cache_dir(cache))
    base = ovave_base_url or os.environ.get(ENV_OVAVE_BASE_URL) or DEFAULT_OVAVE_BASE_URL
    url = vggsound_url or os.environ.get(ENV_VGGSOUND_URL) or DEFAULT_VGGSOUND_URL
    stat_url = vggsound_stat_url or os.environ.get(ENV_VGGSOUND_STAT_URL) or DEFAULT_VGGSOUND_STAT_URL
    for given in (base, url, stat_url):  # every URL checked before the first download
        check_url(given)
    if include_ovave:
        report.files.extend(fetch_ovave_files(cache, ovave_base_url, progress, force=force))
    if include_vggsound:
        report.files.append(
            fetch_file(url, vggsound_csv_path(cache), progress=progress, check=check_vggsound_csv, force=force)
        )
        report.files.append(
            fetch_file(stat_url, vggsound_stat_path(cache), progress=progress, check=check_vggsound_stat, force=force)
        )
    return report


def _head_text(path: Path, what: str, limit: int = 1 << 16) -> list[str]:
    """The first complete lines of a downloaded text file (its first ``limit`` bytes)."""
    from ..io import decode_text

    with open(path, "rb") as handle:
        data = handle.read(limit)
    if len(data) == limit and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]
    lines = [line for line in decode_text(data, path, what).splitlines() if line.strip()]
    if not lines:
        raise InputFileError(path, f"empty; expected {what}")
    if lines[0].lstrip().lower().startswith(("<!doctype", "<html", "<?xml", "{")):
        raise InputFileError(path, f"an HTML/XML/JSON page, not a CSV; expected {what}")
    return lines


def check_vggsound_csv(path: Path, url: str = "") -> None:
    """Refuse content that is not VGGSound's CSV (checks the first rows)."""
    what = "VGGSound's CSV (youtube_id,start_seconds,label,split rows, no header)"
    for line_no, row, problem in itertools.islice(_csv_rows("\n".join(_head_text(path, what)[:50])), 50):
        reason = problem or _check_row(row, {}, None)
        if reason:
            raise InputFileError(path, f"{reason}; expected {what}", line_no)


def check_vggsound_stat(path: Path, url: str = "") -> None:
    """Refuse content that is not VGGSound's stat.csv (checks the first rows)."""
    what = "VGGSound's stat.csv (label,count,group rows)"
    for line_no, row, problem in itertools.islice(_csv_rows("\n".join(_head_text(path, what)[:50])), 50):
        problem = problem or _stat_row_problem(row)
        if problem:
            raise InputFileError(path, f"{problem}; expected {what}", line_no)


def ensure_ovave_files(cache: str | os.PathLike | None = None) -> Path:
    """The cached published benchmark folder, fetched on first use."""
    folder = ovave_dir(cache)
    if not all((folder / name).exists() for name in OVAVE_FILES):
        fetch_ovave_files(cache)
    return folder


# --------------------------------------------------------------------------- VGGSound CSV

VGGSOUND_COLUMNS = ["youtube_id", "start_s", "vggsound_label", "vggsound_split", "line"]


@dataclass(frozen=True)
class BadRow:
    """A VGGSound CSV row that failed validation."""

    line: int
    reason: str
    text: str


@dataclass
class VGGSoundTable:
    """Parsed VGGSound rows plus any rows skipped with ``skip_bad_rows``."""

    rows: pd.DataFrame
    bad_rows: list[BadRow]
    path: str


def _check_row(row: list[str], taxonomy_labels: dict[str, str], known_labels: set[str] | None) -> str | None:
    """The reason a row is bad, or None."""
    if len(row) != 4:
        return f"expected 4 columns (youtube_id,start_seconds,label,split), got {len(row)}"
    youtube_id, start, label, split = row
    if not is_youtube_id(youtube_id):
        return f"invalid YouTube id {youtube_id!r}: expected 11 characters of [A-Za-z0-9_-]"
    if start.startswith("-") and start[1:].isascii() and start[1:].isdigit():
        return f"negative start time {start[:20]}"
    if not (start.isascii() and start.isdigit()):
        shown = start if len(start) <= 20 else start[:17] + "..."
        return f"start time {shown!r} is not an integer number of seconds"
    if len(start) > 7 or int(start) > MAX_START_S:
        return f"start time {start[:20]} is past {MAX_START_S:,} s (longer than any video)"
    if not label or label != label.strip() or "\n" in label or len(label) > 200:
        return f"malformed label {label[:60]!r}"
    if known_labels is not None and label not in known_labels:
        close = difflib.get_close_matches(label, sorted(known_labels), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown label {label!r}: not a VGGSound label{hint}"
    if label not in taxonomy_labels:
        # A case/spacing variant of a taxonomy label would silently drop its clips.
        normalised = " ".join(label.lower().split())
        if normalised in taxonomy_labels:
            return f"unknown label {label!r} (did you mean {normalised!r}?)"
    if split not in VGGSOUND_SPLITS:
        return f"split {split!r} is not one of {', '.join(VGGSOUND_SPLITS)}"
    return None


def read_vggsound_csv(
    path: str | os.PathLike,
    taxonomy: Taxonomy | None = None,
    skip_bad_rows: bool = False,
    known_labels: set[str] | None = None,
) -> VGGSoundTable:
    """Parse VGGSound's CSV (``youtube_id,start_seconds,label,split``, no header).

    With ``known_labels`` (VGGSound's vocabulary, see :func:`read_vggsound_labels`)
    every label must be one of them. A UTF-8 BOM and CRLF line ends are accepted
    (encodings, not data errors). Any other problem raises
    :class:`InputFileError` naming the file and line, unless ``skip_bad_rows``,
    in which case bad rows are returned in ``bad_rows``.
    """
    path = Path(path)
    if not path.exists():
        raise OvavebenchError(f"{path}: VGGSound CSV not found (run `ovavebench metadata fetch`)")
    text = read_text(path, "VGGSound's CSV (youtube_id,start_seconds,label,split rows)")
    labels = {c.vggsound_label: c.name for c in taxonomy.classes} if taxonomy else {}
    ids: list[str] = []
    starts: list[int] = []
    row_labels: list[str] = []
    splits: list[str] = []
    lines: list[int] = []
    bad: list[BadRow] = []
    for line_no, row, reason in _csv_rows(text):
        if reason is None:
            if not row or all(not cell.strip() for cell in row):
                continue
            reason = _check_row(row, labels, known_labels)
        if reason is not None:
            if not skip_bad_rows or not row:
                raise InputFileError(path, reason, line_no)
            bad.append(BadRow(line_no, reason, ",".join(row)[:500]))
            continue
        ids.append(row[0])
        starts.append(int(row[1]))
        row_labels.append(row[2])
        splits.append(row[3])
        lines.append(line_no)
    if not ids and not bad:
        raise InputFileError(path, "no rows; expected VGGSound's CSV (youtube_id,start_seconds,label,split rows)")
    import pandas as pd

    frame = pd.DataFrame(
        {"youtube_id": ids, "start_s": starts, "vggsound_label": row_labels, "vggsound_split": splits, "line": lines},
        columns=VGGSOUND_COLUMNS,
    )
    return VGGSoundTable(frame, bad, str(path))
