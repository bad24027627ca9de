"""YouTube ids, clip ids and URLs.

About 550 published OV-AVEBench ids begin with ``-``: an id is therefore never
passed anywhere on its own (a command-line tool would read it as an option);
only full URLs built here leave this module.
"""

from __future__ import annotations

import functools
import re

from .errors import OvavebenchError

YOUTUBE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
CLIP_ID_RE = re.compile(r"^(?P<youtube_id>[A-Za-z0-9_-]{11})_(?P<start>\d{6,})$")
DEFAULT_URL_TEMPLATE = "https://www.youtube.com/watch?v={youtube_id}"
MAX_START_S = 1_000_000  # seconds: later than any point of any YouTube video


def is_youtube_id(value: str) -> bool:
    """True if ``value`` is 11 characters of ``[A-Za-z0-9_-]``."""
    return bool(YOUTUBE_ID_RE.match(value))


def validate_youtube_id(value: str, where: str = "") -> str:
    """Return ``value`` if it is a valid YouTube id, else raise a clear error.

    A video id is validated before it is ever used in a path or a URL.
    """
    if not isinstance(value, str) or not is_youtube_id(value):
        prefix = f"{where}: " if where else ""
        raise OvavebenchError(f"{prefix}invalid YouTube id {value!r}: expected 11 characters of [A-Za-z0-9_-]")
    return value


def make_clip_id(youtube_id: str, start_s: int) -> str:
    """``<youtube_id>_<start:06d>``, the name VGGSound uses for a clip.

    >>> make_clip_id("-0BIyqJj9ZU", 30)
    '-0BIyqJj9ZU_000030'
    """
    validate_youtube_id(youtube_id)
    if start_s < 0:
        raise OvavebenchError(f"negative start time {start_s} for {youtube_id!r}")
    return f"{youtube_id}_{int(start_s):06d}"


@functools.lru_cache(maxsize=64)  # a run checks one template for every clip: once is enough
def validate_url_template(template: str) -> str:
    """Return ``template`` if it is an http(s) URL with exactly the ``{youtube_id}`` field, else raise."""
    import string
    import urllib.parse

    option = f"--url-template {template!r}"
    try:
        fields = [name for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise OvavebenchError(
            f"{option}: not a valid template ({exc}); write literal braces as {{{{ and }}}}"
        ) from None
    others = sorted({f for f in fields if f != "youtube_id"})
    if others or "youtube_id" not in fields:
        what = f"unknown field(s) {', '.join('{' + f + '}' for f in others)}" if others else "no {youtube_id} field"
        raise OvavebenchError(f"{option}: {what}; expected a URL with the {{youtube_id}} field only")
    url = template.format(youtube_id="dQw4w9WgXcQ")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OvavebenchError(
            f"{option}: expected an http:// or https:// URL with a host (file:// and other schemes are refused)"
        )
    return template


def video_url(youtube_id: str, template: str = DEFAULT_URL_TEMPLATE) -> str:
    """The full URL of a video (never a bare id, which may start with '-')."""
    validate_youtube_id(youtube_id)
    return validate_url_template(template).format(youtube_id=youtube_id)


def validate_proxy(proxy: str, option: str = "--proxy") -> str:
    """Return ``proxy`` if it is a proxy URL yt-dlp and ffmpeg understand, else raise."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(proxy)
        port = parts.port
    except ValueError as exc:
        raise OvavebenchError(f"{option} {proxy!r}: not a URL ({exc})") from None
    schemes = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
    if parts.scheme not in schemes or not parts.hostname or (parts.path not in ("", "/")) or port == 0:
        raise OvavebenchError(
            f"{option} {proxy!r}: expected SCHEME://HOST[:PORT] with SCHEME one of {', '.join(schemes)}"
        )
    return proxy
