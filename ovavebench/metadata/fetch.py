"""Resumable, verified, atomic HTTP(S) downloads of metadata files.

A file is downloaded to ``<name>.part`` (resumed with an HTTP ``Range`` request
when a partial file exists and the server supports it), verified (sha256 when
known) and only then renamed to its final name. A ``<name>.sha256`` marker
records what was verified, so a re-run skips the download.
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..errors import ChecksumError, InputFileError, OvavebenchError
from ..io import atomic_write_text, sha256_file

CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_file` did for one file."""

    path: Path
    url: str
    sha256: str
    bytes: int
    skipped: bool  # already present and verified


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


ContentCheck = Callable[[Path, str], None]  # (file, url) → None, or raise InputFileError on wrong content


def is_verified(
    path: Path, expected_sha256: str | None = None, check: ContentCheck | None = None, url: str = ""
) -> bool:
    """True if ``path`` exists, matches its marker (and ``expected_sha256``) and passes ``check``."""
    marker = _marker(path)
    if not path.is_file() or not marker.is_file():
        return False
    try:
        recorded = marker.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    if expected_sha256 is not None and recorded != expected_sha256:
        return False
    if sha256_file(path) != recorded:
        return False
    if check is not None:
        try:
            check(path, url)
        except InputFileError:
            return False  # e.g. an error page cached by an older version: fetched again
    return True


def check_url(url: str) -> str:
    """Return ``url`` if it is http(s) with a host; file:// and other schemes are refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OvavebenchError(f"{url!r}: expected an http:// or https:// URL (other schemes are refused)")
    return url


def fetch_file(
    url: str,
    dest: str | os.PathLike,
    expected_sha256: str | None = None,
    progress: bool = False,
    timeout: float = 60.0,
    check: ContentCheck | None = None,
    force: bool = False,
) -> FetchResult:
    """Download ``url`` to ``dest``; skip if already verified (unless ``force``).

    Raises :class:`ChecksumError` (and keeps nothing) when the content does not
    match ``expected_sha256``, :class:`InputFileError` (keeping nothing) when
    ``check`` refuses the content (an HTML error page, say), and
    :class:`OvavebenchError` on HTTP errors.
    """
    check_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not force and is_verified(dest, expected_sha256, check, url):
        return FetchResult(dest, url, _marker(dest).read_text(encoding="ascii").strip(), dest.stat().st_size, True)
    if force:
        with contextlib.suppress(FileNotFoundError):
            dest.with_name(dest.name + ".part").unlink()

    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "ovavebench"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # The partial file is already complete (or longer than the file): restart cleanly.
            part.unlink()
            return fetch_file(url, dest, expected_sha256, progress, timeout, check)
        raise OvavebenchError(f"downloading {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise OvavebenchError(f"downloading {url}: {getattr(exc, 'reason', exc)}") from None

    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header: start over
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        mode = "ab" if offset else "wb"
        with (
            open(part, mode) as handle,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=None if progress else True,
                leave=False,  # None: only on a terminal
            ) as bar,
        ):
            try:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    handle.write(chunk)
                    bar.update(len(chunk))
            except (OSError, urllib.error.URLError) as exc:
                raise OvavebenchError(
                    f"downloading {url}: connection lost after {handle.tell()} bytes ({exc}); run again to resume"
                ) from None
            handle.flush()
            os.fsync(handle.fileno())

    size = part.stat().st_size
    if total is not None and size != total:
        raise OvavebenchError(f"downloading {url}: got {size} of {total} bytes; run again to resume")
    digest = sha256_file(part)
    if expected_sha256 is not None and digest != expected_sha256:
        part.unlink()
        raise ChecksumError(
            f"{url}: sha256 {digest} does not match the published {expected_sha256}; "
            "the file was not kept (a corrupted or changed upstream file)"
        )
    if check is not None:
        try:
            check(part, url)
        except InputFileError as exc:
            part.unlink()
            raise InputFileError(url, f"{exc.what}; nothing was kept") from None
    os.replace(part, dest)
    atomic_write_text(_marker(dest), digest + "\n")
    return FetchResult(dest, url, digest, size, False)
