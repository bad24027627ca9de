"""Where each benchmark video's 10 frames and 16 kHz audio are: the toolkit's media folder (``ovavebench download``)
or the official preprocessed download. Every stage after the media (features, publishing) finds them here."""

from __future__ import annotations

import os
from pathlib import Path

from ..constants import SEGMENTS
from ..errors import OvavebenchError

LAYOUTS = ("toolkit", "official")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def _natural(path: Path) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


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
    from ..benchmark import find_benchmark_files, read_meta_rows
    from .layout import clip_dirs_by_youtube_id, resolve_clip_dir

    if layout not in LAYOUTS:
        raise OvavebenchError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    media = Path(media)
    if not media.is_dir():
        raise OvavebenchError(f"{media}: media folder not found")
    meta = read_meta_rows(find_benchmark_files(benchmark).meta)  # no pandas: the torch and AV-LLM paths read this
    found: list[tuple[str, list[Path], Path]] = []
    missing: list[str] = []
    problems: list[str] = []
    if layout == "toolkit":
        index = clip_dirs_by_youtube_id(media)
        for video in meta["vid_name"]:
            folder = resolve_clip_dir(video, index)  # an id matching two folders is an error naming them
            frames = [folder / "frames" / f"{k}.png" for k in range(SEGMENTS)] if folder is not None else []
            if folder is None or not all(p.exists() for p in frames):
                missing.append(video)
            else:
                found.append((video, frames, folder / "audio.wav"))
        return found, missing, problems
    for vid_name, split, cls_name in zip(meta.vid_name, meta.split, meta.cls_name, strict=True):
        frames_dir = media / split / "video" / cls_name / vid_name
        wav = media / split / "audio" / cls_name / f"{vid_name}.wav"
        frames = (
            sorted((p for p in frames_dir.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural)
            if frames_dir.is_dir()
            else []
        )
        if not frames_dir.is_dir() and not wav.exists():
            missing.append(vid_name)
            continue
        if len(frames) != SEGMENTS:
            problems.append(f"{vid_name}: {len(frames)} frame(s) in {frames_dir} (expected {SEGMENTS})")
        elif not wav.is_file():
            problems.append(f"{vid_name}: no audio (expected {wav})")
        else:
            found.append((vid_name, frames, wav))
            continue
        missing.append(vid_name)
    return found, missing, problems
