"""Classify download failures from the messages yt-dlp (and ffmpeg) emit.

Each failure gets an error class and whether it is transient (retried with
backoff) or permanent (recorded, retried only on request). The patterns are the
message texts yt-dlp's YouTube extractor and ffmpeg print (note the curly
apostrophe in "Sign in to confirm you’re not a bot").
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorClass:
    name: str
    transient: bool
    # About this machine's access to YouTube (its IP, its runtime), not about the video: never a lost clip.
    # The clip goes back to pending and the failures count towards block detection.
    run_level: bool = False


RATE_LIMITED = ErrorClass("rate_limited", True, run_level=True)
BOT_CHECK = ErrorClass("bot_check", True, run_level=True)
SIGN_IN = ErrorClass("sign_in", True, run_level=True)
JS_CHALLENGE = ErrorClass("js_challenge", True, run_level=True)  # no JS runtime, or the challenge solver failed
NO_FORMATS = ErrorClass("no_formats", True, run_level=True)
SERVER_ERROR = ErrorClass("server_error", True)
TIMEOUT = ErrorClass("timeout", True)
CONNECTION = ErrorClass("connection", True)
FORBIDDEN = ErrorClass("forbidden", True)
UNAVAILABLE = ErrorClass("unavailable", False)
PRIVATE = ErrorClass("private", False)
REMOVED = ErrorClass("removed", False)
ACCOUNT_TERMINATED = ErrorClass("account_terminated", False)
COPYRIGHT = ErrorClass("copyright", False)
GEO_BLOCKED = ErrorClass("geo_blocked", False)
AGE_RESTRICTED = ErrorClass("age_restricted", False)
MEMBERS_ONLY = ErrorClass("members_only", False)
NOT_FOUND = ErrorClass("not_found", False)
TOO_SHORT = ErrorClass("too_short", False)
NO_AUDIO = ErrorClass("no_audio", False)
UNDECODABLE = ErrorClass("undecodable", False)
EMPTY_FILE = ErrorClass("empty_file", False)  # an archive file of 0 bytes
VIDEO_GAP = ErrorClass("video_gap", False)  # no frame shown at some second's middle (the video starts late)
AUDIO_GAP = ErrorClass("audio_gap", False)  # audio missing for > 0.25 s of the window (starts late, ends early, hole)
UNKNOWN = ErrorClass("unknown", True)  # no evidence about the video: retried (by later runs too), never permanent

ALL_CLASSES = {
    c.name: c
    for c in (
        RATE_LIMITED,
        BOT_CHECK,
        SIGN_IN,
        JS_CHALLENGE,
        NO_FORMATS,
        SERVER_ERROR,
        TIMEOUT,
        CONNECTION,
        FORBIDDEN,
        UNAVAILABLE,
        PRIVATE,
        REMOVED,
        ACCOUNT_TERMINATED,
        COPYRIGHT,
        GEO_BLOCKED,
        AGE_RESTRICTED,
        MEMBERS_ONLY,
        NOT_FOUND,
        TOO_SHORT,
        NO_AUDIO,
        UNDECODABLE,
        EMPTY_FILE,
        VIDEO_GAP,
        AUDIO_GAP,
        UNKNOWN,
    )
}
TRANSIENT_CLASSES = frozenset(c.name for c in ALL_CLASSES.values() if c.transient)
RUN_LEVEL_CLASSES = frozenset(c.name for c in ALL_CLASSES.values() if c.run_level)

# Order matters: the first match wins (specific reasons before generic ones).
_PATTERNS: list[tuple[str, ErrorClass]] = [
    (r"confirm you[’']re not a bot|not a bot", BOT_CHECK),
    (r"http error 429|too many requests|rate[- ]limit", RATE_LIMITED),
    (r"confirm your age|age[- ]restricted|inappropriate for some users", AGE_RESTRICTED),
    (
        r"no supported javascript runtime|challenge solv|n challenge|signature (?:extraction|solving|decipher)"
        r"|nsig extraction|unable to extract (?:initial )?player",
        JS_CHALLENGE,
    ),
    (r"no video formats found|requested format is not available|only images are available", NO_FORMATS),
    (r"private video|video is private", PRIVATE),
    (r"account associated with this video has been terminated|account .*terminated", ACCOUNT_TERMINATED),
    (r"not (?:made this video )?available in your country|geo[- ]?restrict|blocked it in your country", GEO_BLOCKED),
    (r"copyright", COPYRIGHT),
    (r"members[- ]only|join this channel", MEMBERS_ONLY),
    (r"removed by the (?:uploader|user)|has been removed|no longer available|violating youtube", REMOVED),
    (r"video unavailable|this video is unavailable|this content isn[’']t available", UNAVAILABLE),
    # After every reason about the video: yt-dlp adds "Use --cookies …" to private and members-only messages too.
    (r"sign in to confirm|please sign in|requires? (?:a )?log ?in|login required", SIGN_IN),
    (r"http error 40[4]|http error 410|404 not found|410 gone|server returned 404|server returned 410", NOT_FOUND),
    (r"http error 403|server returned 403|403 forbidden", FORBIDDEN),
    (
        r"http error 5\d\d|server returned 5\d\d|5\d\d (?:internal server error|bad gateway|service unavailable)",
        SERVER_ERROR,
    ),
    (r"timed out|timeout", TIMEOUT),
    # A body cut short in transit ("Stream ends prematurely", a reset) is the network's fault and retried; corrupt
    # packets in a body that arrived whole are the file's ("Invalid data found", below) and are not.
    (
        r"connection (?:reset|refused|aborted)|remote end closed|incompleteread|broken pipe|stream ends prematurely"
        r"|end of file|unexpected eof|eof occurred|i/o error|network is unreachable",
        CONNECTION,
    ),
    (r"no audio stream|does not contain any stream|no audio", NO_AUDIO),
    (r"too short|ends after|ends \d", TOO_SHORT),
    (
        r"invalid data found|error opening input|moov atom not found|cannot open as media|no video stream"
        r"|unsupported url|no decodable frame|decoding failed",
        UNDECODABLE,
    ),
]
_COMPILED = [(re.compile(p, re.IGNORECASE), c) for p, c in _PATTERNS]


def classify_error(message: str) -> ErrorClass:
    """The :class:`ErrorClass` of a failure message (``UNKNOWN`` when nothing matches).

    >>> classify_error("ERROR: [youtube] abc: Private video. Sign in if you've been granted access").name
    'private'
    """
    for pattern, error_class in _COMPILED:
        if pattern.search(message):
            return error_class
    return UNKNOWN
