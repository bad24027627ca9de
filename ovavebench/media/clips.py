"""Where each benchmark video's 10 frames and 16 kHz audio are: the toolkit's media folder (``ovavebench download``)
or the official preprocessed download. Every stage after the media (features, publishing) finds them here."""

from __future__ import annotations

import os
from pathlib import Path

from ..constants import SEGMENTS
from ..errors import OvavebenchError

LAYOUTS = ("toolkit", "official")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
TOOLKIT_FRAMES = tuple(f"{k}.png" for k in range(SEGMENTS))

# A video's media as plain strings: (folder of its frames, the frames' names in order, its wav). The names tuple is
# shared between videos where equal, so the whole benchmark's lookup costs a few hundred bytes a video.
MediaFiles = tuple[str, tuple[str, ...], str]


def _natural(name: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def benchmark_media(
    media: str | os.PathLike,
    benchmark: str | os.PathLike,
    layout: str = "toolkit",
) -> tuple[dict[str, MediaFiles], list[str], list[str]]:
    """Video id → (frames folder, frame names, wav) of every benchmark video with media, in meta order; the ids
    without; why, by name. Plain strings, not path objects: publishing the 24,800-video benchmark looks up every
    video before it writes, and this keeps that lookup small (see :func:`benchmark_videos` for the layouts).
    """
    from ..benchmark import find_benchmark_files, read_meta_rows
    from .layout import clip_folder_names, one_clip_folder

    if layout not in LAYOUTS:
        raise OvavebenchError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    media = Path(media)
    if not media.is_dir():
        raise OvavebenchError(f"{media}: media folder not found")
    meta = read_meta_rows(find_benchmark_files(benchmark).meta)  # no pandas: the torch and AV-LLM paths read this
    found: dict[str, MediaFiles] = {}
    missing: list[str] = []
    problems: list[str] = []
    if layout == "toolkit":
        folders = clip_folder_names(media)
        for video in meta["vid_name"]:
            name = one_clip_folder(video, folders.get(video, []))
            folder = os.path.join(media, name) if name is not None else ""
            frames_dir = os.path.join(folder, "frames")
            audio = os.path.join(folder, "audio.wav")
            if (
                name is None
                or not os.path.exists(audio)
                or not all(os.path.exists(os.path.join(frames_dir, name)) for name in TOOLKIT_FRAMES)
            ):
                missing.append(video)
            else:
                found[video] = (frames_dir, TOOLKIT_FRAMES, audio)
        return found, missing, problems
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    for vid_name, split, cls_name in zip(meta["vid_name"], meta["split"], meta["cls_name"], strict=True):
        frames_dir = os.path.join(media, split, "video", cls_name, vid_name)
        wav = os.path.join(media, split, "audio", cls_name, f"{vid_name}.wav")
        is_dir = os.path.isdir(frames_dir)
        frames = (
            tuple(
                sorted(
                    (n for n in os.listdir(frames_dir) if os.path.splitext(n)[1].lower() in FRAME_SUFFIXES),
                    key=_natural,
                )
            )  # fmt: skip
            if is_dir
            else ()
        )
        if not is_dir and not os.path.exists(wav):
            missing.append(vid_name)
            continue
        if len(frames) != SEGMENTS:
            problems.append(f"{vid_name}: {len(frames)} frame(s) in {frames_dir} (expected {SEGMENTS})")
        elif not os.path.isfile(wav):
            problems.append(f"{vid_name}: no audio (expected {wav})")
        else:
            found[vid_name] = (frames_dir, shared.setdefault(frames, frames), wav)
            continue
        missing.append(vid_name)
    return found, missing, problems


def benchmark_videos(
    media: str | os.PathLike,
    benchmark: str | os.PathLike,
    layout: str = "toolkit",
) -> tuple[list[tuple[str, list[Path], Path]], list[str], list[str]]:
    """(video id, its 10 frames, its wav) of every benchmark video with media; the ids without; why, by name.

    ``toolkit``: the folders of ``ovavebench download`` (``DIR/<clip_id>/frames/0..9.png``, ``audio.wav``).
    ``official``: the official preprocessed download as it is (``<split>/video/<class>/<vid>/`` with 10
    frames, ``<split>/audio/<class>/<vid>.wav``).
    """
    found, missing, problems = benchmark_media(media, benchmark, layout)
    videos = [
        (video, [Path(frames_dir, name) for name in names], Path(audio))
        for video, (frames_dir, names, audio) in found.items()
    ]
    return videos, missing, problems
