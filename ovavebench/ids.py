"""YouTube ids, clip ids and URLs.

About 550 published OV-AVEBench ids begin with ``-``: an id is therefore never
passed anywhere on its own (a command-line tool would read it as an option);
only full URLs built here leave this module.
"""

from __future__ import annotations

import re

from .errors import OvavebenchError

YOUTUBE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
CLIP_ID_RE = re.compile(r"^(?P<youtube_id>[A-Za-z0-9_-]{11})_(?P<start>\d{6,})$")
DEFAULT_URL_TEMPLATE = "https://www.youtube.com/watch?v={youtube_id}"


def is_youtube_id(value: str) -> bool:
    """True if ``value`` is 11 characters of ``[A-Za-z0-9_-]``."""
    return bool(YOUTUBE_ID_RE.match(value))


def validate_youtube_id(value: str, where: str = "") -> str:
    """Return ``value`` if it is a valid YouTube id, else raise a clear error.

    A video id is validated before it is ever used in a path or a URL.
    """
    if not isinstance(value, str) or not is_youtube_id(value):
        prefix = f"{where}: " if where else ""
        raise OvavebenchError(
            f"{prefix}invalid YouTube id {value!r}: expected 11 characters of [A-Za-z0-9_-]"
        )
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


def parse_clip_id(clip_id: str) -> tuple[str, int]:
    """Split a clip id into (youtube_id, start_s); raise on anything else."""
    match = CLIP_ID_RE.match(clip_id)
    if not match:
        raise OvavebenchError(
            f"invalid clip id {clip_id!r}: expected <11-char YouTube id>_<start:06d>"
        )
    return match.group("youtube_id"), int(match.group("start"))


def video_url(youtube_id: str, template: str = DEFAULT_URL_TEMPLATE) -> str:
    """The full URL of a video (never a bare id, which may start with '-')."""
    validate_youtube_id(youtube_id)
    if "{youtube_id}" not in template:
        raise OvavebenchError(f"URL template {template!r} lacks the '{{youtube_id}}' field")
    url = template.format(youtube_id=youtube_id)
    if "://" not in url:
        raise OvavebenchError(f"URL template {template!r} does not give a full URL")
    return url
