"""One decode pass over a clip: 10 middle frames (PNG) and 16 kHz mono audio (WAV).

For each second k of the clip, the frame whose presentation time is nearest to
k + 0.5 s is written as ``frames/k.png`` (what the paper feeds ImageBind); the
audio of [0, 10) s is resampled to 16 kHz mono and written as ``audio.wav``.
Frame and audio selection use presentation timestamps, so a clip cut at a
non-keyframe (edit list) is segmented exactly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import numpy as np
import soundfile
from av.video.reformatter import VideoReformatter

from ..constants import SAMPLE_RATE, SEGMENTS
from ..errors import OvavebenchError
from .png import encode_png, write_png  # noqa: F401 - encode_png is part of this module's API

MAX_AUDIO_GAP_S = 0.25  # missing audio up to this long (start, end, inside) is silence; longer fails the clip


class MediaError(OvavebenchError):
    """A clip that cannot be segmented; ``error_class`` says why (e.g. ``no_audio``)."""

    def __init__(self, error_class: str, message: str, duration_s: float | None = None):
        super().__init__(message)
        self.error_class = error_class
        self.duration_s = duration_s  # how long the file lasts, when known (a short archive file)


@dataclass(frozen=True)
class SegmentedClip:
    """Files written by :func:`segment_clip`."""

    frames: list[Path]
    audio: Path
    width: int
    height: int
    frame_times: list[float]  # presentation time of each chosen frame, from the window's start
    window_start: float  # where the window starts on the file's own timeline (seconds)
    duration_s: float | None  # how long the file lasts (its container's duration), when it says
    # A short window cut as far as it goes (``keep_short``): the whole seconds written (fewer than the window's),
    # how long its video lasts from the window's start, and why it is short (the ``too_short`` message).
    seconds: int = SEGMENTS
    window_s: float | None = None
    short: str | None = None


MediaSource = str | os.PathLike | BinaryIO
SEEK_AFTER_S = 4.0  # a window further into the file than this is reached by seeking, not decoding up to it
_EPS = 1e-6  # timestamps are exact fractions; this absorbs their float rounding
# Audio timestamps off by up to this much are rounding (Matroska stores milliseconds), not a hole to fill.
AUDIO_JITTER_S = 0.002


def _open(source: MediaSource) -> av.container.InputContainer:
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "media")
    try:
        if isinstance(source, (str, os.PathLike)):
            return av.open(str(source))
        return av.open(source, mode="r")
    except (av.error.InvalidDataError, av.error.FFmpegError, ValueError) as exc:
        raise MediaError("undecodable", f"{name}: cannot open as media ({exc})") from None


def file_start(container: av.container.InputContainer) -> float:
    """Where a file's presentation timeline starts (seconds): what ffmpeg's ``-ss 0`` means, what players show as 0."""
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def segment_clip(
    clip: MediaSource,
    out_dir: str | os.PathLike,
    segments: int = SEGMENTS,
    sample_rate: int = SAMPLE_RATE,
    threaded_decoding: bool = True,
    start_s: float = 0.0,
    absolute: bool = False,
    archive_tolerance_s: float | None = None,
    keep_short: bool = False,
) -> SegmentedClip:
    """Decode ``clip`` once; write ``out_dir/frames/{0..segments-1}.png`` and ``out_dir/audio.wav``.

    The window is ``[W, W + segments)`` on the file's presentation timeline, ``W = start_s`` when ``absolute``
    (a cut whose timeline the cutter set), else the file's own start plus ``start_s``. Frame k is the frame
    shown at ``W + k + 0.5`` (the last one presented at or before that instant), after display rotation and
    sample aspect ratio; the audio is exactly the window, each decoded frame placed at its own timestamp.
    What cannot be made exact fails by name (``MediaError.error_class``): ``too_short`` (the video ends in the
    window), ``video_gap`` (no frame shown at a second's middle), ``audio_gap`` (audio missing for more than
    ``MAX_AUDIO_GAP_S`` at the window's start, end or inside it; shorter gaps are silence), ``no_audio``,
    ``undecodable``. ``clip`` may be a path or a seekable binary file object (a zip member).

    With ``archive_tolerance_s`` (a raw video from an archive) a file lasting ``segments`` s give or take that
    tolerance *is* the window (``start_s`` is ignored); a shorter one fails as ``too_short`` with its duration;
    a longer one is the whole video, cut at ``start_s``.

    With ``keep_short`` a window whose video ends inside it (a short archive file is the window's beginning)
    is cut as far as it goes instead: the ``n`` whole seconds whose middle is still on screen, frames
    ``0..n-1`` and ``n`` s of audio by the same rules, are written and returned with ``seconds = n`` and
    ``short`` set (the caller must not take them for a full window). No whole second, or seconds that cannot
    be made exact, still fail as ``too_short`` and write nothing.

    ``threaded_decoding`` lets the video decoder use several cores; turn it off
    when many clips are segmented in parallel (the cores are busy anyway, and
    per-decoder thread pools then cost more than they give).
    """
    out_dir = Path(out_dir)
    name = Path(clip).name if isinstance(clip, (str, os.PathLike)) else getattr(clip, "name", "media")
    container = _open(clip)
    with container:
        if not container.streams.video:
            raise MediaError("undecodable", f"{name}: no video stream")
        if not container.streams.audio:
            raise MediaError("no_audio", f"{name}: no audio stream")
        duration = container.duration / 1_000_000 if container.duration is not None else None
        short_file = None
        if archive_tolerance_s is not None and duration is not None:
            if abs(duration - segments) <= archive_tolerance_s:
                start_s = 0.0  # the file is the window, whatever start the manifest gives
            elif duration < segments:
                short_file = f"{name}: the file lasts {duration:.2f} s, less than the {segments} s window"
                if not keep_short:
                    raise MediaError("too_short", short_file, duration)
                start_s = 0.0  # a short file is the window's beginning (the video ended inside the window)
        origin = start_s if absolute else file_start(container) + start_s
        picked, audio_start, samples, video_end = _decode_window(
            container, name, origin, segments, sample_rate, threaded_decoding
        )
        video = container.streams.video[0]
        sar = video.codec_context.sample_aspect_ratio
    seconds, window_s, short = len(picked), None, None
    if video_end is not None:  # the video ends inside the window: only its first ``seconds`` whole seconds exist
        window_s = max(0.0, video_end - origin)
        # A second is whole when the video lasts to its end, short of what the audio rule fills with silence.
        seconds = min(seconds, int(window_s + MAX_AUDIO_GAP_S + _EPS))
        picked = picked[:seconds]
        short = short_file or (
            f"{name}: video ends after {seconds} whole s of the window, expected {segments} s "
            f"(it lasts {window_s:.2f} s from the window's start)"
        )
        known = duration if archive_tolerance_s is not None else None
        if not keep_short or seconds == 0:
            raise MediaError("too_short", short, known)
        try:
            samples = _fit_audio(samples, audio_start - origin, name, seconds, sample_rate)
        except MediaError as exc:  # the short window's fact stays the class; its seconds are not kept
            raise MediaError("too_short", f"{short}; its {seconds} s not kept: {exc}", known) from None
    else:
        samples = _fit_audio(samples, audio_start - origin, name, segments, sample_rate)

    frames_dir = out_dir / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    frame_paths = []
    # One converter for the 10 frames: each frame's own would set up swscale again (half the cost).
    to_rgb = VideoReformatter()
    height = width = 0
    for k, frame in enumerate(picked):
        rgb = _display_rgb(to_rgb, frame, sar)
        height, width = rgb.shape[:2]
        path = frames_dir / f"{k}.png"
        write_png(path, rgb)
        frame_paths.append(path)
    audio_path = out_dir / "audio.wav"
    soundfile.write(audio_path, samples, sample_rate, subtype="PCM_16")
    times = [float(f.time) - origin for f in picked]
    return SegmentedClip(frame_paths, audio_path, width, height, times, origin, duration, seconds, window_s, short)


def _display_rgb(to_rgb: VideoReformatter, frame: av.VideoFrame, sar: Fraction | None) -> np.ndarray:
    """The frame as a player shows it: square pixels (sample aspect ratio), then the display rotation."""
    width = frame.width
    if sar is not None and sar.numerator > 0 and sar != 1:
        width = max(2, int(round(frame.width * sar / 2)) * 2)  # ffmpeg's scale=iw*sar:ih, even
    rgb = to_rgb.reformat(frame, format="rgb24", width=width, height=frame.height, interpolation="BICUBIC")
    image = rgb.to_ndarray()
    rotation = frame.rotation  # counter-clockwise degrees of the display matrix (rotate tag or side data)
    quarter_turns = int(round(rotation / 90)) % 4
    if quarter_turns:
        image = np.ascontiguousarray(np.rot90(image, quarter_turns))
    return image


def _decode_window(
    container: av.container.InputContainer,
    name: str,
    origin: float,
    segments: int,
    sample_rate: int,
    threaded: bool,
) -> tuple[list[av.VideoFrame], float, np.ndarray, float | None]:
    """The frames shown at each second's middle, the audio's first timestamp and its samples (mono, resampled),
    and, when the video ends inside the window, when its last frame stops being shown (else None)."""
    video, audio = container.streams.video[0], container.streams.audio[0]
    if threaded:
        video.thread_type = "AUTO"
    seeked = origin - file_start(container) > SEEK_AFTER_S
    if seeked:
        try:
            container.seek(int((origin - 1.0) * 1_000_000), backward=True)  # lands on a keyframe at or before it
        except av.error.FFmpegError:
            seeked = False
            container.seek(0)
    if seeked:
        try:
            return _decode_from_here(container, video, audio, name, origin, segments, sample_rate, seeked=True)
        except _Overshot:  # the seek landed after the window's start (a file without an index): from the top
            container.seek(0, backward=True)
    return _decode_from_here(container, video, audio, name, origin, segments, sample_rate)


class _Overshot(Exception):
    pass


def _decode_from_here(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream,
    name: str,
    origin: float,
    segments: int,
    sample_rate: int,
    seeked: bool = False,
) -> tuple[list[av.VideoFrame], float, np.ndarray, float | None]:
    middles = [origin + k + 0.5 for k in range(segments)]
    end = origin + segments
    picked: list[av.VideoFrame] = []
    previous: av.VideoFrame | None = None
    first_video: float | None = None
    fifo = av.AudioFifo()  # decoded audio is resampled once: one call instead of one per frame
    audio_start: float | None = None
    written = 0.0  # seconds of audio in the fifo
    audio_rate = 0
    video_done = audio_done = False
    try:
        for packet in container.demux(video, audio):
            if packet.stream is video:
                if video_done:
                    continue
                # demux() yields untyped packets; this one is of the video stream (checked above)
                for frame in cast("list[av.VideoFrame]", packet.decode()):
                    t: float | None = frame.time
                    if t is None:
                        continue
                    if first_video is None:
                        first_video = t
                        if seeked and t > origin - _EPS:
                            raise _Overshot
                    while len(picked) < segments and middles[len(picked)] < t - _EPS:
                        if previous is None:
                            raise MediaError(
                                "video_gap",
                                f"{name}: no frame is shown at {middles[len(picked)] - origin:.2f} s of the window "
                                f"(the video starts at {t - origin:.2f} s)",
                            )
                        picked.append(previous)
                    previous = frame
                    if len(picked) == segments:
                        video_done = True
                        break
            else:
                if audio_done:
                    continue
                # demux(video, audio) yields untyped packets; this one is of the audio stream
                for audio_frame in cast("list[av.AudioFrame]", packet.decode()):
                    t = audio_frame.time
                    if t is None:
                        t = audio_start + written if audio_start is not None else origin
                    duration = audio_frame.samples / audio_frame.sample_rate
                    if t >= end - _EPS:
                        audio_done = True
                        break
                    if t + duration <= origin + _EPS:
                        continue
                    if audio_start is None:
                        audio_start, audio_rate = t, audio_frame.sample_rate
                    gap = t - (audio_start + written)
                    if gap > AUDIO_JITTER_S:  # a hole in the audio's timeline: silence there, never a shift
                        if gap > MAX_AUDIO_GAP_S and audio_start + written < end:
                            raise MediaError(
                                "audio_gap",
                                f"{name}: the audio has no samples for {gap:.2f} s at "
                                f"{audio_start + written - origin:.2f} s of the window",
                            )
                        fifo.write(_silence_like(audio_frame, int(round(gap * audio_rate))))
                        written += int(round(gap * audio_rate)) / audio_rate
                    audio_frame.pts = None  # the fifo checks pts continuity; placement is done above
                    fifo.write(audio_frame)
                    written += duration
            if video_done and audio_done:
                break
        chunks = []
        buffered = fifo.read() if fifo.samples else None
        if buffered is not None:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for out in [*resampler.resample(buffered), *resampler.resample(None)]:
                chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise MediaError("undecodable", f"{name}: decoding failed ({exc})") from None
    video_end = None
    if len(picked) < segments:
        if previous is None:
            raise MediaError("undecodable", f"{name}: no decodable video frame")
        # At the end of the file the last frame stays on screen for its own duration, no longer.
        shown_until = previous.time + _frame_duration(previous, video)
        while len(picked) < segments and middles[len(picked)] < shown_until:
            picked.append(previous)
        if len(picked) < segments:
            video_end = shown_until  # too short: the caller decides whether its whole seconds are kept
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return picked, (audio_start if audio_start is not None else origin), samples, video_end


def _frame_duration(frame: av.VideoFrame, video: av.video.stream.VideoStream) -> float:
    if frame.duration and frame.time_base:
        return float(frame.duration * frame.time_base)
    rate = video.average_rate or video.guessed_rate
    return float(1 / rate) if rate else 0.0


def _silence_like(frame: av.AudioFrame, samples: int) -> av.AudioFrame:
    silence = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=samples)
    silence.sample_rate = frame.sample_rate
    for plane in silence.planes:
        plane.update(bytes(plane.buffer_size))
    return silence


def _fit_audio(samples: np.ndarray, lead: float, name: str, segments: int, sample_rate: int) -> np.ndarray:
    """The window's samples: ``lead`` is where the audio starts relative to the window (seconds)."""
    offset = int(round(lead * sample_rate))
    if offset > MAX_AUDIO_GAP_S * sample_rate:
        raise MediaError("audio_gap", f"{name}: the audio starts {lead:.2f} s after the window's start")
    if offset < 0:
        samples = samples[-offset:]
    elif offset > 0:
        samples = np.concatenate([np.zeros(offset, np.float32), samples])
    wanted = segments * sample_rate
    if len(samples) < wanted:
        gap = (wanted - len(samples)) / sample_rate
        if gap > MAX_AUDIO_GAP_S:
            raise MediaError("audio_gap", f"{name}: the audio ends {gap:.2f} s before the window's end")
        samples = np.concatenate([samples, np.zeros(wanted - len(samples), np.float32)])
    return np.clip(samples[:wanted], -1.0, 1.0)


def segment_request(request: dict, threaded_decoding: bool = True) -> dict[str, Any]:
    """:func:`segment_clip` of one JSON-able request (``clip`` or ``archive`` + ``member``, ``out``, window):
    what the download's workers and segmenter processes run; returns the window's start, the file's duration, and
    for a short window kept as far as it goes (``keep_short``) its whole ``seconds``, ``window_s`` and ``short``."""
    kwargs = {
        "start_s": float(request.get("start_s", 0.0)),
        "absolute": bool(request.get("absolute", False)),
        "archive_tolerance_s": request.get("archive_tolerance_s"),
        "keep_short": bool(request.get("keep_short", False)),
        "threaded_decoding": threaded_decoding,
    }
    if request.get("archive") is not None:
        from .archive import open_member  # a light module: the zip's member read in place

        with open_member(request["archive"], request["member"]) as source:
            done = segment_clip(source, request["out"], **kwargs)  # type: ignore[arg-type]
    else:
        done = segment_clip(request["clip"], request["out"], **kwargs)  # type: ignore[arg-type]
    return {
        "window_start": done.window_start,
        "duration_s": done.duration_s,
        "seconds": done.seconds,
        "window_s": done.window_s,
        "short": done.short,
    }


def segmenter_process_init(parent_pid: int) -> None:
    """Set-up of a segmenter process: end when the parent ends, even by SIGKILL."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died while this process was starting
        os._exit(0)


def serve_segmenter() -> None:
    """Segment clips on request: the loop of a segmenter process (see ``download.SegmenterProcesses``).

    Started as ``python -c "from ovavebench.media.decode import serve_segmenter; serve_segmenter()" PARENT_PID``,
    so the process imports only this module. Requests arrive on stdin, one JSON
    object per line (``{"clip": ..., "out": ...}``); each gets one JSON line back:
    ``{"ok": true}`` or ``{"ok": false, "kind": "media"|"os"|"bug", ...}``.
    Replies go to the original stdout; anything a library prints lands on stderr.
    """
    segmenter_process_init(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # a stray print must not corrupt the replies
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply: dict[str, object] = {"ok": True, **segment_request(request, threaded_decoding=False)}
        except MediaError as exc:
            reply = {"ok": False, "kind": "media", "error_class": exc.error_class, "message": str(exc)}
            reply["duration_s"] = exc.duration_s
        except OSError as exc:
            reply = {"ok": False, "kind": "os", "message": str(exc)}
        except Exception:  # a bug: the parent stops the run and shows this
            reply = {"ok": False, "kind": "bug", "message": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
