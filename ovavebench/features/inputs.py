"""What extraction reads: each benchmark video's 10 frames and audio, from the toolkit's media folder or the
official preprocessed layout, and the DataLoader dataset over them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ..errors import OvavebenchError
from .store import LAYOUTS

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def _natural(path: Path) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def benchmark_videos(media: str | os.PathLike, benchmark: str | os.PathLike, layout: str = "toolkit",
                     ) -> tuple[list[tuple[str, list[Path], Path]], list[str], list[str]]:
    """(video id, its 10 frames, its wav) of every benchmark video with media; the ids without; why, by name.

    ``toolkit``: the folders of ``ovavebench download`` (``DIR/<clip_id>/frames/0..9.png``, ``audio.wav``).
    ``official``: the official preprocessed download as it is (``<split>/video/<class>/<vid>/`` with 10
    frames, ``<split>/audio/<class>/<vid>.wav``).
    """
    from ..benchmark import find_benchmark_files, read_meta
    from ..download import clip_dirs_by_youtube_id, resolve_clip_dir

    if layout not in LAYOUTS:
        raise OvavebenchError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    media = Path(media)
    if not media.is_dir():
        raise OvavebenchError(f"{media}: media folder not found")
    meta = read_meta(find_benchmark_files(benchmark).meta)
    found: list[tuple[str, list[Path], Path]] = []
    missing: list[str] = []
    problems: list[str] = []
    if layout == "toolkit":
        index = clip_dirs_by_youtube_id(media)
        for video in meta["vid_name"]:
            folder = resolve_clip_dir(video, index)  # an id matching two folders is an error naming them
            frames = [folder / "frames" / f"{k}.png" for k in range(10)] if folder is not None else []
            if folder is None or not all(p.exists() for p in frames):
                missing.append(video)
            else:
                found.append((video, frames, folder / "audio.wav"))
        return found, missing, problems
    for row in meta.itertuples(index=False):
        frames_dir = media / row.split / "video" / row.cls_name / row.vid_name
        wav = media / row.split / "audio" / row.cls_name / f"{row.vid_name}.wav"
        frames = sorted((p for p in frames_dir.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural) \
            if frames_dir.is_dir() else []
        if not frames_dir.is_dir() and not wav.exists():
            missing.append(row.vid_name)
            continue
        if len(frames) != 10:
            problems.append(f"{row.vid_name}: {len(frames)} frame(s) in {frames_dir} (expected 10)")
        elif not wav.is_file():
            problems.append(f"{row.vid_name}: no audio (expected {wav})")
        else:
            found.append((row.vid_name, frames, wav))
            continue
        missing.append(row.vid_name)
    return found, missing, problems


class ClipDataset:
    """Decodes and preprocesses one clip per item (runs in DataLoader workers)."""

    def __init__(self, items: Sequence[tuple[str, list[Path], Path]], inputs: Any = None):
        self.items = list(items)
        self.inputs = inputs  # None: ImageBind's preprocessing; else an object with frame_inputs / audio_inputs

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):  # type: ignore[no-untyped-def]
        video, frames, wav = self.items[index]
        if self.inputs is not None:
            return video, self.inputs.frame_inputs(frames), self.inputs.audio_inputs(wav)
        from ..imagebind import preprocess_audio, preprocess_frames

        return video, preprocess_frames(frames), preprocess_audio(wav)


def collate(batch):  # type: ignore[no-untyped-def]
    import torch

    if isinstance(batch[0][2], dict):  # CLAP's inputs per second: flatten videos x seconds
        audio = {key: torch.cat([b[2][key] for b in batch]) for key in batch[0][2]}
        return [b[0] for b in batch], torch.cat([b[1] for b in batch]), audio
    return [b[0] for b in batch], torch.stack([b[1] for b in batch]), torch.stack([b[2] for b in batch])


