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
import struct
import sys
import traceback
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, cast

import av
import numpy as np
import soundfile
from av.video.reformatter import VideoReformatter

from ..constants import SAMPLE_RATE, SEGMENTS
from ..errors import OvavebenchError

PNG_COMPRESS_LEVEL = 1  # lossless either way; level 1 is the fast end
MAX_AUDIO_GAP_S = 0.25  # missing audio up to this long (start, end, inside) is silence; longer fails the clip


class MediaError(OvavebenchError):
    """A clip that cannot be segmented; ``error_class`` says why (e.g. ``no_audio``)."""

    def __init__(self, error_class: str, message: str, duration_s: float | None = None):
        super().__init__(message)
        self.error_class = error_class
        self.duration_s = duration_s  # how long the file lasts, when known (a short archive file)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def encode_png(rgb: np.ndarray, level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """A lossless 8-bit RGB PNG of an ``[height, width, 3]`` uint8 array.

    Every row uses PNG's "Sub" filter (each byte minus the byte one pixel to
    its left, computed for the whole image at once) and one deflate stream with
    zlib's run-length strategy: after the Sub filter, runs are what there is to
    find, faster than level 1 and smaller (8.8 vs 11.9 ms, 386 vs 438 KB on a
    640x360 frame). The bytes are a function of the pixels (the checksums in
    the download state depend on it): ISA-L's deflate, 3x faster, gave the
    same frame different bytes from run to run.

    >>> encode_png(np.zeros((2, 3, 3), np.uint8))[:8]
    b'\x89PNG\r\n\x1a\n'
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode_png needs a [height, width, 3] uint8 array, got {rgb.dtype} {rgb.shape}")
    height, width, _ = rgb.shape
    rows = rgb.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), np.uint8)
    filtered[:, 0] = 1  # filter type Sub
    filtered[:, 1:4] = rows[:, :3]
    np.subtract(rows[:, 3:], rows[:, :-3], out=filtered[:, 4:])  # modulo 256, as PNG defines it
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _deflate(filtered.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


def _deflate(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return compressor.compress(data) + compressor.flush()


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write :func:`encode_png` of ``rgb`` to ``path``."""
    with open(path, "wb") as handle:
        handle.write(encode_png(rgb))


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
        if archive_tolerance_s is not None and duration is not None:
            if abs(duration - segments) <= archive_tolerance_s:
                start_s = 0.0  # the file is the window, whatever start the manifest gives
            elif duration < segments:
                raise MediaError(
                    "too_short", f"{name}: the file lasts {duration:.2f} s, less than the {segments} s window", duration
                )
        origin = start_s if absolute else file_start(container) + start_s
        picked, audio_start, samples = _decode_window(container, name, origin, segments, sample_rate, threaded_decoding)
        video = container.streams.video[0]
        sar = video.codec_context.sample_aspect_ratio
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
    return SegmentedClip(frame_paths, audio_path, width, height, times, origin, duration)


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
) -> tuple[list[av.VideoFrame], float, np.ndarray]:
    """The frames shown at each second's middle, the audio's first timestamp and its samples (mono, resampled)."""
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
) -> tuple[list[av.VideoFrame], float, np.ndarray]:
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
    if len(picked) < segments:
        if previous is None:
            raise MediaError("undecodable", f"{name}: no decodable video frame")
        # At the end of the file the last frame stays on screen for its own duration, no longer.
        shown_until = previous.time + _frame_duration(previous, video)
        while len(picked) < segments and middles[len(picked)] < shown_until:
            picked.append(previous)
        if len(picked) < segments:
            raise MediaError(
                "too_short",
                f"{name}: video ends after {len(picked)} s of the window, expected {segments} s "
                f"(it lasts {shown_until - origin:.2f} s from the window's start)",
            )
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return picked, (audio_start if audio_start is not None else origin), samples


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


def segment_request(request: dict, threaded_decoding: bool = True) -> dict[str, float | None]:
    """:func:`segment_clip` of one JSON-able request (``clip`` or ``archive`` + ``member``, ``out``, window):
    what the download's workers and segmenter processes run; returns the window's start and file's duration."""
    kwargs = {
        "start_s": float(request.get("start_s", 0.0)),
        "absolute": bool(request.get("absolute", False)),
        "archive_tolerance_s": request.get("archive_tolerance_s"),
        "threaded_decoding": threaded_decoding,
    }
    if request.get("archive") is not None:
        from .archive import open_member  # a light module: the zip's member read in place

        with open_member(request["archive"], request["member"]) as source:
            done = segment_clip(source, request["out"], **kwargs)  # type: ignore[arg-type]
    else:
        done = segment_clip(request["clip"], request["out"], **kwargs)  # type: ignore[arg-type]
    return {"window_start": done.window_start, "duration_s": done.duration_s}


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
