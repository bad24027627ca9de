"""Options of a download run, and their checks (all made before anything is written)."""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..errors import InputFileError, OvavebenchError
from ..ids import DEFAULT_URL_TEMPLATE
from .failures import ALL_CLASSES

YOUTUBE_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be")
DEFAULT_CLIPS_PER_HOUR = 250  # per egress, for YouTube: under the ~300/hour a guest session gets


@dataclass(frozen=True)
class DownloadOptions:
    """Everything that shapes one download run."""

    workers: int = 4
    url_template: str = DEFAULT_URL_TEMPLATE
    cookies: str | None = None
    proxy: str | None = None
    min_height: int = 224
    max_height: int = 360
    max_attempts: int = 4  # per clip and run, for transient failures about one video (timeouts, 5xx)
    backoff_s: float = 2.0  # first retry delay; doubles each attempt (with jitter)
    backoff_max_s: float = 120.0
    socket_timeout_s: float = 30.0
    reencode: bool = False  # force keyframes at the cuts (exact packets, slower)
    retry_failed: bool = False
    retry_classes: tuple[str, ...] = ()  # with retry_failed: only failures of these error classes (empty: all)
    only_classes: tuple[str, ...] = ()  # only clips of these benchmark classes (empty: all)
    shard: tuple[int, int] | None = None  # (i, n): only clips with crc32(clip_id) % n == i
    limit: int | None = None
    cache: str | None = None  # where the ffmpeg wrapper lives (default: DIR/.tools)
    # Egress and budget: one request budget and one block state per egress (each proxy, or the direct line).
    proxies: tuple[str, ...] = ()
    max_clips_per_hour: float | None = None  # None: 250 for YouTube URLs, no budget for others; 0: no budget
    budget_hour_s: float = 3600.0  # the length of the budget's "hour" (shorter in tests and simulations)
    block_after: int = 5  # consecutive rate-limit / bot-check / environment failures that mean a block
    block_pause_s: float = 1800.0  # rest of a blocked egress before one clip probes it
    max_blocks: int = 6  # failed probes after which an egress is given up (all given up: exit code 3)
    ytdlp_params_json: str = ""  # validated extra YoutubeDL parameters (JSON object), see parse_ytdlp_params
    allow_no_js_runtime: bool = False
    # Ray (the `distributed` extra): None for this machine alone; "auto", an address, or "local" (start one here).
    ray: str | None = None
    shared_out: bool = False  # with ray: actors write into the output folder (a shared filesystem)
    # A local archive of the raw videos (a folder or a .zip of <youtube_id>.<ext>), read before any URL.
    archive: str | None = None
    archive_fallback: bool = False  # a clip not in the archive is fetched from url_template (else: left pending)

    @property
    def is_youtube(self) -> bool:
        return urllib.parse.urlsplit(self.url_template.replace("{youtube_id}", "x")).hostname in YOUTUBE_HOSTS

    @property
    def clips_per_hour(self) -> float | None:
        """The budget per egress in clips per ``budget_hour_s``, or None for none."""
        if self.max_clips_per_hour is None:
            return float(DEFAULT_CLIPS_PER_HOUR) if self.is_youtube else None
        return float(self.max_clips_per_hour) if self.max_clips_per_hour > 0 else None

    @property
    def ytdlp_params(self) -> dict[str, Any]:
        return json.loads(self.ytdlp_params_json) if self.ytdlp_params_json else {}

    def validate(self) -> None:
        """Refuse options no run could use, before anything is written."""
        from ..ids import validate_proxy, validate_url_template

        checks = [
            ("workers", self.workers, 1),
            ("max_attempts", self.max_attempts, 1),
            ("max_height", self.max_height, 1),
            ("min_height", self.min_height, 0),
            ("block_after", self.block_after, 1),
            ("max_blocks", self.max_blocks, 1),
        ]
        for name, value, low in checks:
            if type(value) is not int or value < low:
                raise OvavebenchError(f"--{name.replace('_', '-')} must be a whole number >= {low}, got {value!r}")
        if self.limit is not None and (type(self.limit) is not int or self.limit < 0):
            raise OvavebenchError(f"--limit must be a whole number >= 0, got {self.limit!r}")
        if not self.socket_timeout_s > 0:
            raise OvavebenchError(f"--timeout must be > 0 seconds, got {self.socket_timeout_s!r}")
        if not 0 <= self.backoff_s <= self.backoff_max_s:
            raise OvavebenchError(f"--backoff must be in [0, {self.backoff_max_s:g}] seconds, got {self.backoff_s!r}")
        if self.max_clips_per_hour is not None and not 0 <= self.max_clips_per_hour <= 1e6:
            raise OvavebenchError(
                f"--max-clips-per-hour must be in [0, 1000000] (0: no budget), got {self.max_clips_per_hour!r}"
            )
        if not 0 < self.budget_hour_s <= 1e6:
            raise OvavebenchError(f"budget_hour_s must be > 0, got {self.budget_hour_s!r}")
        if not 0 <= self.block_pause_s <= 7 * 86400:
            raise OvavebenchError(f"--block-pause must be in [0, 604800] seconds, got {self.block_pause_s!r}")
        validate_url_template(self.url_template)
        if self.proxy is not None and self.proxies:
            raise OvavebenchError("--proxy and --proxies: give one egress list, not both")
        for proxy in (self.proxy, *self.proxies):
            if proxy is not None:
                validate_proxy(proxy)
        if len(set(self.proxies)) != len(self.proxies):
            raise OvavebenchError("--proxies: a proxy is listed twice")
        if self.cookies is not None:
            check_cookies_file(self.cookies)
        unknown = sorted(set(self.retry_classes) - set(ALL_CLASSES))
        if unknown:
            raise OvavebenchError(
                f"--retry-failed: unknown error class(es) {', '.join(map(repr, unknown))}; "
                f"expected 'all' or some of {', '.join(sorted(ALL_CLASSES))}"
            )
        if self.ytdlp_params_json:
            parse_ytdlp_params(self.ytdlp_params, "yt-dlp options")
        if self.archive is not None:
            from ..media.archive import check_archive

            check_archive(self.archive)
        if self.shared_out and self.ray is None:
            raise OvavebenchError("--shared-out goes with --ray")
        if self.ray is not None and (not isinstance(self.ray, str) or not self.ray.strip()):
            raise OvavebenchError(
                f"--ray must be auto, local or a cluster address (host:port or ray://host:port), got {self.ray!r}"
            )


def check_cookies_file(path: str | os.PathLike) -> None:
    """Refuse a cookies file yt-dlp could not use: missing, unreadable, or not in Netscape format."""
    from ..errors import InputFileError
    from ..io import read_text

    what = "a Netscape-format cookies file (as exported by a browser extension or yt-dlp --cookies)"
    text = read_text(path, what)
    data_lines = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not stripped.startswith("#HttpOnly_")):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 7:
            raise InputFileError(path, f"{len(fields)} tab-separated field(s), expected 7; expected {what}", line_no)
        if not fields[4].strip().lstrip("-").isdigit():
            raise InputFileError(path, f"expiry {fields[4]!r} is not a number; expected {what}", line_no)
        data_lines += 1
    if not data_lines:
        raise InputFileError(path, f"no cookies in it; expected {what}")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` → (2, 8), with 0 ≤ i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise OvavebenchError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise OvavebenchError(f"--shard {text}: need 0 <= i < n")
    return i, n


def read_proxies(path: str | os.PathLike) -> tuple[str, ...]:
    """Egress proxies from a file: one URL a line, ``#`` comments and blank lines ignored."""
    from ..ids import validate_proxy
    from ..io import read_text

    what = "a list of proxy URLs, one a line (e.g. socks5://10.0.0.2:1080)"
    proxies: list[str] = []
    for line_no, line in enumerate(read_text(path, what).splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            validate_proxy(entry, "proxy")
        except OvavebenchError as exc:
            raise InputFileError(path, str(exc), line_no) from None
        if entry in proxies:
            raise InputFileError(path, f"proxy {entry!r} listed twice", line_no)
        proxies.append(entry)
    if not proxies:
        raise InputFileError(path, f"no proxies; expected {what}")
    return tuple(proxies)


# YoutubeDL parameters a user may add (PO-token providers, clients, runtimes, sleeps), with their JSON types.
# Parameters the stage sets itself (output, format, ranges, logger, retries) cannot be overridden.
YTDLP_PARAMS: dict[str, type | tuple[type, ...]] = {
    "extractor_args": dict,
    "js_runtimes": dict,
    "remote_components": list,
    "sleep_interval_requests": (int, float),
    "sleep_interval": (int, float),
    "max_sleep_interval": (int, float),
    "http_headers": dict,
    "source_address": str,
    "geo_bypass_country": str,
    "impersonate": str,
    "cookiesfrombrowser": list,
    "ratelimit": (int, float),
    "throttledratelimit": (int, float),
    "http_chunk_size": int,
    "nocheckcertificate": bool,
}


def parse_ytdlp_params(params: Any, source: str) -> dict[str, Any]:
    """Check extra YoutubeDL parameters: known keys, JSON types yt-dlp expects; return them."""
    if not isinstance(params, dict):
        raise OvavebenchError(f"{source}: expected a JSON object of YoutubeDL parameters")
    for key, value in params.items():
        kind = YTDLP_PARAMS.get(key)
        if kind is None:
            raise OvavebenchError(
                f"{source}: {key!r} is not a YoutubeDL parameter this stage passes through "
                f"(allowed: {', '.join(sorted(YTDLP_PARAMS))})"
            )
        if not isinstance(value, kind) or (kind == (int, float) and isinstance(value, bool)):
            raise OvavebenchError(
                f"{source}: {key} must be a JSON {getattr(kind, '__name__', 'number')}, got {value!r}"
            )
        # both are dicts (checked above); isinstance tells the type checker, which sees `object` after it
        if key == "extractor_args" and isinstance(value, dict):
            for extractor, args in value.items():
                if not isinstance(args, dict) or not all(
                    isinstance(v, list) and all(isinstance(x, str) for x in v) for v in args.values()
                ):
                    raise OvavebenchError(
                        f"{source}: extractor_args.{extractor} must map argument names to lists of "
                        'strings, e.g. {"youtubepot-bgutilhttp": {"base_url": ["http://127.0.0.1:4416"]}}'
                    )
        if key == "js_runtimes" and isinstance(value, dict) and not all(isinstance(v, dict) for v in value.values()):
            raise OvavebenchError(f'{source}: js_runtimes must map a runtime to its config, e.g. {{"node": {{}}}}')
    return params


def ytdlp_params_from(file: str | os.PathLike | None, pairs: list[str]) -> str:
    """``--ytdlp-options FILE.json`` merged with repeated ``--ytdlp-option KEY=JSON``; validated, as JSON text."""
    from ..io import parse_json, read_json

    params: dict[str, Any] = {}
    if file is not None:
        loaded = read_json(file, "a JSON object of YoutubeDL parameters")
        params.update(parse_ytdlp_params(loaded, str(file)))
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise OvavebenchError(f"--ytdlp-option {pair!r}: expected KEY=JSON, e.g. sleep_interval_requests=1.5")
        value = parse_json(text, f"--ytdlp-option {key}", "a JSON value", _OptionError)
        params[key.strip()] = value
    parse_ytdlp_params(params, "--ytdlp-option")
    return json.dumps(params, sort_keys=True) if params else ""


class _OptionError(OvavebenchError):
    def __init__(self, source: object, what: str) -> None:
        super().__init__(f"{source}: {what}")
