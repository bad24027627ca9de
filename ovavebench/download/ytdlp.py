"""yt-dlp: the parameters of a range fetch, one YoutubeDL per worker thread, the fetch itself, runtime checks.

Only the clip's window ``[start, start + 10)`` is fetched (``download_ranges``,
which yt-dlp runs through ffmpeg). Every yt-dlp warning is kept with its attempt.
Today's YouTube needs a JavaScript runtime and the EJS challenge-solver scripts
(``yt-dlp[default,deno]``): :func:`runtime_report` asks yt-dlp itself what it finds.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..constants import SEGMENTS
from ..ids import video_url
from .ffmpeg_wrapper import LOG_SUFFIX, read_ffmpeg_log
from .options import YOUTUBE_HOSTS, DownloadOptions
from .records import ClipJob

if TYPE_CHECKING:
    from yt_dlp import _YoutubeDLOptions  # the stubs' TypedDict of YoutubeDL's parameters

# The cut's window starts at this time on the cut file's timeline. ffmpeg's range cut by stream copy starts at the
# keyframe before the window, so the packets before the window have negative times: MP4 hides them behind an edit
# list, but WebM/Matroska cannot store negative times and shifts the whole file so that it starts at 0 (the window
# then comes out up to a keyframe interval early). Shifted by this offset, no time is negative in any container,
# nothing is shifted, and the segmenter finds the window where the cutter put it.
CUT_TIMELINE_S = 1000


class _YtdlpLog:
    """yt-dlp logger: keeps warnings (each attempt's are stored), prints nothing."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.debug_lines: list[str] = []
        self.keep_debug = False

    def debug(self, msg: str) -> None:
        if self.keep_debug:
            self.debug_lines.append(msg)

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)

    def error(self, msg: str) -> None:
        pass  # the error itself reaches us as yt-dlp's DownloadError

    def clear(self) -> None:
        self.warnings.clear()


# Warnings that mean yt-dlp cannot see every format of any YouTube video here: the run stops early.
RUNTIME_WARNINGS = re.compile(
    r"no supported javascript runtime|some formats may be missing|challenge solver lib script", re.IGNORECASE
)


def format_selector(min_height: int, max_height: int) -> str:
    """Lowest format of at least ``min_height`` up to ``max_height`` (with ``+res`` sorting).

    Unknown heights (direct files) pass the filters (``?``); if nothing fits, the lowest available.
    """
    window = f"[height>=?{min_height}][height<=?{max_height}]"
    return f"bv*{window}+ba/b{window}/bv*[height>=?{min_height}]+ba/b[height>=?{min_height}]/bv*+ba/b"


def _ytdlp_options(
    job: ClipJob, target: Path, options: DownloadOptions, wrapper: Path, log: _YtdlpLog
) -> dict[str, Any]:
    from yt_dlp.utils import download_range_func

    params: dict[str, Any] = {
        "logger": log,
        "noprogress": True,
        "outtmpl": {"default": str(target.with_suffix("")) + ".%(ext)s"},
        "format": format_selector(options.min_height, options.max_height),
        "format_sort": ["+res", "ext:mp4:m4a"],
        "merge_output_format": "mp4",
        "download_ranges": download_range_func([], [(job.start_s, job.end_s)]),  # no chapters: the range
        "force_keyframes_at_cuts": options.reencode,
        "socket_timeout": options.socket_timeout_s,
        # Retries are ours (classified, with per-egress backoff and block detection), not yt-dlp's.
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "overwrites": True,
        "noplaylist": True,
        "cachedir": False,
        "ffmpeg_location": str(wrapper / "ffmpeg"),
        "external_downloader_args": {
            "ffmpeg": ["-loglevel", "warning", "-nostats"],
            # Output arguments: a timeline on which the window starts at CUT_TIMELINE_S (see there).
            "ffmpeg_o": ["-loglevel", "warning", "-nostats", "-output_ts_offset", str(CUT_TIMELINE_S)],
            "ffmpeg_i": ["-xerror", "-rw_timeout", str(int(options.socket_timeout_s * 1_000_000))],
        },
    }
    if options.cookies:
        params["cookiefile"] = options.cookies
    if options.proxy:
        params["proxy"] = options.proxy
    params.update(options.ytdlp_params)  # validated: only pass-through keys (PO tokens, clients, runtimes, sleeps)
    return params


_thread_state = threading.local()


_youtube_dl_class: type | None = None


def _youtube_dl():
    """yt-dlp's ``YoutubeDL``, minus work whose result it throws away.

    Before each processing step (four per clip) ``YoutubeDL._forceprint`` renders
    the format, thumbnail and subtitle tables for ``--print`` templates, even when
    there are none: ~9 ms of GIL-held CPU per clip. With no template for that
    step it is skipped here; with one, yt-dlp's own code runs.
    """
    global _youtube_dl_class
    if _youtube_dl_class is None:
        import yt_dlp

        class YoutubeDL(yt_dlp.YoutubeDL):
            def _forceprint(self, key, info_dict):
                # yt-dlp holds both options as {step: templates} dicts here (the CLI's parsed form)
                params = cast("dict[str, Any]", self.params)
                if (
                    key != "video"
                    and not params.get("forceprint", {}).get(key)
                    and not params.get("print_to_file", {}).get(key)
                ):
                    return None
                return super()._forceprint(key, info_dict)  # type: ignore[misc]  # private: not in the stubs

        _youtube_dl_class = YoutubeDL
    return _youtube_dl_class


def _downloader(options: DownloadOptions, wrapper: Path):
    """This worker thread's YoutubeDL, built once, with no extractor registered yet.

    Registering yt-dlp's ~1,800 extractors costs ~85 ms of GIL-held CPU per
    YoutubeDL; :func:`_fetch` adds only the one a URL needs (all of them for a
    URL whose extractor is not obvious).
    """
    key = (options, str(wrapper))
    cached = getattr(_thread_state, "ydl", None)
    if cached is None or cached[0] != key:
        log = _YtdlpLog()
        placeholder = ClipJob("placeholder", "placeholder", 0, SEGMENTS)
        ydl = _youtube_dl()(_ytdlp_options(placeholder, wrapper / "clip.mp4", options, wrapper, log), auto_init=False)
        cached = (key, ydl, log, set())
        _thread_state.ydl = cached
    return cached[1], cached[2], cached[3]


def _register_extractor(ydl, registered: set[str | None], ie_key: str | None) -> None:
    if ie_key in registered or None in registered:
        return
    if ie_key is None:
        ydl.add_default_info_extractors()
    else:
        from yt_dlp.extractor import get_info_extractor

        ydl.add_info_extractor(get_info_extractor(ie_key))
    registered.add(ie_key)


def _fetch(
    job: ClipJob,
    work: Path,
    options: DownloadOptions,
    wrapper: Path,
    warnings: list[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Download the clip's window into ``work``; return the media file, named by what it holds
    (``clip.mp4``, ``clip.webm``, ``clip.mkv``), whose window starts at :data:`CUT_TIMELINE_S`.
    yt-dlp's warnings go to ``warnings``, the URL and format fetched to ``provenance``."""
    import yt_dlp
    from yt_dlp.utils import download_range_func

    ydl, log, registered = _downloader(options, wrapper)
    log.clear()
    target = work / "clip.mp4"
    # Only these parameters change from clip to clip.
    ydl.params["outtmpl"] = {"default": str(target.with_suffix("")) + ".%(ext)s"}
    ydl.params["download_ranges"] = download_range_func([], [(job.start_s, job.end_s)])
    url = video_url(job.youtube_id, options.url_template)
    ie_key = extractor_for(url)
    _register_extractor(ydl, registered, ie_key)
    try:
        info = ydl.extract_info(url, download=True, ie_key=ie_key)
    except yt_dlp.utils.DownloadError as exc:
        message = str(exc)
        ffmpeg_log = " ".join(read_ffmpeg_log(str(p)[: -len(LOG_SUFFIX)]) for p in work.glob("*" + LOG_SUFFIX))
        if "ffmpeg exited" in message and ffmpeg_log:
            message = f"{message}; ffmpeg: {ffmpeg_log}"
        raise _Failure(message) from None
    finally:
        if warnings is not None:
            warnings.extend(log.warnings)
    duration = (info or {}).get("duration")
    if duration is not None and duration < job.end_s:
        raise _Failure(f"too short: the video lasts {duration} s, the clip needs [{job.start_s}, {job.end_s})")
    files = [
        p
        for p in work.iterdir()
        if p.is_file() and p.suffix in (".mp4", ".mkv", ".webm") and not p.name.startswith(".")
    ]
    if not files:
        raise _Failure("yt-dlp reported success but wrote no media file")
    media = files[0]
    target = work / f"clip{media.suffix}"
    if media != target:
        os.replace(media, target)
    if provenance is not None:
        provenance.update(
            {
                "source": "url",
                "url": url,
                "format": (info or {}).get("format_id"),
                "ext": media.suffix.lstrip("."),
                "timeline_start_s": CUT_TIMELINE_S,
            }
        )
    if duration is None and _media_seconds(target) < (job.end_s - job.start_s) - 0.5:
        # A short window from a source whose length yt-dlp did not report (a direct file): if the source
        # ends before the clip does, that is a fact about the video (too short), not an undecodable file.
        source = _media_seconds(_direct_media_url(info), options.socket_timeout_s)
        if source < job.end_s:
            raise _Failure(f"too short: the video lasts {source:.1f} s, the clip needs [{job.start_s}, {job.end_s})")
    return target


def _direct_media_url(info: dict[str, Any] | None) -> str | None:
    info = info or {}
    if isinstance(info.get("url"), str):
        return info["url"]
    formats = info.get("requested_formats") or []
    return next((f["url"] for f in formats if isinstance(f, dict) and isinstance(f.get("url"), str)), None)


def _media_seconds(source: str | os.PathLike | None, timeout_s: float = 10.0) -> float:
    """A media file's or URL's duration in seconds (``inf`` when it cannot be read: nothing is concluded then)."""
    if source is None:
        return float("inf")
    import av

    options = {"rw_timeout": str(int(timeout_s * 1_000_000))} if isinstance(source, str) else {}
    try:
        with av.open(str(source), options=options, timeout=timeout_s) as container:
            if container.duration is not None:
                return container.duration / 1_000_000
            return max(
                (
                    float(s.duration * s.time_base)
                    for s in container.streams
                    if s.duration is not None and s.time_base is not None
                ),
                default=float("inf"),
            )
    except (av.FFmpegError, OSError, ValueError):
        return float("inf")


MEDIA_SUFFIXES = (".mp4", ".m4a", ".webm", ".mkv", ".mov", ".m4v", ".mp3", ".wav", ".ogg")


def extractor_for(url: str) -> str | None:
    """The yt-dlp extractor a URL needs, when it is obvious.

    Without it yt-dlp matches every URL against ~1,800 extractors' patterns,
    more than Python's regex cache holds: recompiling them cost more CPU than
    downloading and segmenting the clip. Other URLs keep yt-dlp's own choice.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.hostname in YOUTUBE_HOSTS:
        return "Youtube"
    if parts.path.lower().endswith(MEDIA_SUFFIXES):
        return "Generic"  # a direct media file
    return None


class _Failure(Exception):
    """A failed attempt with its raw message."""


# --------------------------------------------------------------------------- what yt-dlp finds here


@dataclass
class RuntimeReport:
    """What yt-dlp reports about this machine: its version, JS runtimes, EJS scripts, ffmpeg."""

    ytdlp_version: str
    js_runtimes: list[str]  # e.g. ["deno 2.9.8"]; "(unsupported)" marks one too old
    ejs_version: str | None
    ffmpeg_version: str | None
    problems: list[str] = field(default_factory=list)  # each with what to do
    warnings: list[str] = field(default_factory=list)

    @property
    def has_js_runtime(self) -> bool:
        return any("unsupported" not in r and "unknown" not in r for r in self.js_runtimes)


def runtime_report(options: DownloadOptions | None = None, wrapper: Path | None = None) -> RuntimeReport:
    """Ask yt-dlp (its debug header, as ``yt-dlp -v`` prints it) what runtime, EJS scripts and ffmpeg it finds."""
    import yt_dlp
    from yt_dlp.version import __version__

    options = options or DownloadOptions()
    if wrapper is None:
        from ..metadata.published import cache_dir
        from .ffmpeg_wrapper import ffmpeg_wrapper_dir

        # Also puts ffmpeg on PATH first: yt-dlp caches, per process, what it finds there (a check made
        # before that would leave every later range download of this process without ffmpeg).
        wrapper = ffmpeg_wrapper_dir(cache_dir() / "tools")
    log = _YtdlpLog()
    log.keep_debug = True
    params: dict[str, Any] = {
        "verbose": True,
        "logger": log,
        "cachedir": False,
        "ffmpeg_location": str(wrapper / "ffmpeg"),
    }
    params.update({k: v for k, v in options.ytdlp_params.items() if k in ("js_runtimes", "remote_components")})
    with yt_dlp.YoutubeDL(cast("_YoutubeDLOptions", params), auto_init=False) as ydl:
        ydl.print_debug_header()
    lines = [line.removeprefix("[debug] ") for line in log.debug_lines]

    def field_of(prefix: str) -> str:
        return next((line[len(prefix) :].strip() for line in lines if line.startswith(prefix)), "")

    runtimes = [r.strip() for r in field_of("JS runtimes:").split(",") if r.strip() and r.strip() != "none"]
    runtimes = [r for r in runtimes if not r.startswith("none")]
    libraries = field_of("Optional libraries:")
    ejs = re.search(r"yt[_-]dlp[_-]ejs-(\S+)", libraries)
    ffmpeg = re.search(r"\bffmpeg (\S+)", field_of("exe versions:"))
    report = RuntimeReport(
        __version__,
        [r.replace("-", " ", 1) for r in runtimes],
        ejs.group(1) if ejs else None,
        ffmpeg.group(1) if ffmpeg else None,
    )
    if not report.has_js_runtime:
        report.problems.append(
            "yt-dlp finds no supported JavaScript runtime (deno >= 2.3, or node >= 22 with "
            "--ytdlp-option 'js_runtimes={\"node\": {}}'): pip install 'yt-dlp[default,deno]'"
        )
    if report.ejs_version is None:
        report.problems.append(
            "yt-dlp finds no EJS challenge-solver scripts: pip install 'yt-dlp[default,deno]' (installs yt-dlp-ejs)"
        )
    if report.ffmpeg_version is None:
        report.problems.append("yt-dlp finds no ffmpeg (range downloads need it): pip install imageio-ffmpeg")
    elif re.match(r"n?8\.1(?:\D|$)", report.ffmpeg_version):
        report.warnings.append(
            f"ffmpeg {report.ffmpeg_version}: range downloads from YouTube fail with HTTP 403 "
            "with ffmpeg 8.1 (yt-dlp issue 16546); use another ffmpeg build"
        )
    return report


def probe(url: str, options: DownloadOptions) -> tuple[int, list[str]]:
    """One real extraction without download: (number of formats, yt-dlp's warnings); raises _Failure."""
    import yt_dlp

    log = _YtdlpLog()
    params = {
        k: v
        for k, v in _ytdlp_options(
            ClipJob("probe", "probe", 0, SEGMENTS), Path(os.devnull), options, Path(os.devnull), log
        ).items()
        if k not in ("download_ranges", "outtmpl", "ffmpeg_location", "external_downloader_args")
    }
    try:
        with yt_dlp.YoutubeDL(cast("_YoutubeDLOptions", params)) as ydl:
            info = ydl.extract_info(url, download=False)
    except yt_dlp.utils.DownloadError as exc:
        raise _Failure(str(exc)) from None
    formats = (info or {}).get("formats")
    return (len(formats) if formats else 1), log.warnings  # a direct file: one format
