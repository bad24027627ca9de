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
from pathlib import Path

import av
import numpy as np
import soundfile
from av.video.reformatter import VideoReformatter

from ..constants import SAMPLE_RATE, SEGMENTS
from ..errors import OvavebenchError

PNG_COMPRESS_LEVEL = 1  # lossless either way; level 1 is the fast end
MAX_AUDIO_GAP_S = 0.25  # a shorter audio tail is zero-padded; a longer one is "too short"


class MediaError(OvavebenchError):
    """A clip that cannot be segmented; ``error_class`` says why (e.g. ``no_audio``)."""

    def __init__(self, error_class: str, message: str):
        super().__init__(message)
        self.error_class = error_class


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
    frame_times: list[float]  # presentation time of each chosen frame


def segment_clip(
    clip: str | os.PathLike,
    out_dir: str | os.PathLike,
    segments: int = SEGMENTS,
    sample_rate: int = SAMPLE_RATE,
    threaded_decoding: bool = True,
) -> SegmentedClip:
    """Decode ``clip`` once; write ``out_dir/frames/{0..segments-1}.png`` and ``out_dir/audio.wav``.

    ``threaded_decoding`` lets the video decoder use several cores; turn it off
    when many clips are segmented in parallel (the cores are busy anyway, and
    per-decoder thread pools then cost more than they give).
    """
    clip, out_dir = Path(clip), Path(out_dir)
    try:
        container = av.open(str(clip))
    except (av.error.InvalidDataError, av.error.FFmpegError) as exc:
        raise MediaError("undecodable", f"{clip}: cannot open as media ({exc})") from None
    with container:
        if not container.streams.video:
            raise MediaError("undecodable", f"{clip}: no video stream")
        if not container.streams.audio:
            raise MediaError("no_audio", f"{clip}: no audio stream")
        video, audio = container.streams.video[0], container.streams.audio[0]
        if threaded_decoding:
            video.thread_type = "AUTO"
        best: list[av.VideoFrame | None] = [None] * segments
        best_distance = [np.inf] * segments
        # Decoded audio is buffered and resampled once: one call instead of one per frame.
        fifo = av.AudioFifo()
        audio_start: float | None = None
        video_done = audio_done = False
        try:
            for packet in container.demux(video, audio):
                if packet.stream is video:
                    if video_done:
                        continue
                    for frame in packet.decode():
                        t = frame.time
                        if t is None or t < 0:
                            continue
                        if t >= segments:
                            video_done = True
                            break
                        k = int(t)
                        distance = abs(t - (k + 0.5))
                        if distance < best_distance[k]:
                            best[k], best_distance[k] = frame, distance
                else:
                    if audio_done:
                        continue
                    for frame in packet.decode():
                        if frame.time is not None and frame.time >= segments:
                            audio_done = True
                            break
                        if audio_start is None:
                            audio_start = frame.time if frame.time is not None else 0.0
                        frame.pts = None  # the fifo checks pts continuity; timing is audio_start's job
                        fifo.write(frame)
                if video_done and audio_done:
                    break
            chunks = []
            buffered = fifo.read() if fifo.samples else None
            if buffered is not None:
                resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
                for out in [*resampler.resample(buffered), *resampler.resample(None)]:
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise MediaError("undecodable", f"{clip}: decoding failed ({exc})") from None

    missing = [k for k, frame in enumerate(best) if frame is None]
    if missing:
        if missing == list(range(missing[0], segments)) and missing[0] > 0:
            raise MediaError("too_short", f"{clip}: video ends after {missing[0]} s, expected {segments} s")
        raise MediaError("undecodable", f"{clip}: no decodable frame in second(s) {missing}")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    offset = int(round((audio_start or 0.0) * sample_rate))
    if offset < 0:
        samples = samples[-offset:]
    elif offset > 0:
        samples = np.concatenate([np.zeros(offset, np.float32), samples])
    wanted = segments * sample_rate
    if len(samples) < wanted:
        gap = (wanted - len(samples)) / sample_rate
        if gap > MAX_AUDIO_GAP_S:
            raise MediaError("too_short", f"{clip}: audio ends {gap:.2f} s before {segments} s")
        samples = np.concatenate([samples, np.zeros(wanted - len(samples), np.float32)])
    samples = np.clip(samples[:wanted], -1.0, 1.0)

    frames_dir = out_dir / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    frame_paths = []
    # One converter for the 10 frames: each frame's own would set up swscale again (half the cost).
    to_rgb = VideoReformatter()
    for k, frame in enumerate(best):
        path = frames_dir / f"{k}.png"
        write_png(path, to_rgb.reformat(frame, format="rgb24").to_ndarray())  # type: ignore[arg-type]
        frame_paths.append(path)
    audio_path = out_dir / "audio.wav"
    soundfile.write(audio_path, samples, sample_rate, subtype="PCM_16")
    first = best[0]
    return SegmentedClip(
        frame_paths,
        audio_path,
        first.width,
        first.height,  # type: ignore[union-attr]
        [float(f.time) for f in best],
    )  # type: ignore[union-attr]


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
            segment_clip(request["clip"], request["out"], threaded_decoding=False)
            reply: dict[str, object] = {"ok": True}
        except MediaError as exc:
            reply = {"ok": False, "kind": "media", "error_class": exc.error_class, "message": str(exc)}
        except OSError as exc:
            reply = {"ok": False, "kind": "os", "message": str(exc)}
        except Exception:  # a bug: the parent stops the run and shows this
            reply = {"ok": False, "kind": "bug", "message": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
