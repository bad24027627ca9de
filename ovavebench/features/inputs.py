"""What extraction reads: each benchmark video's 10 frames and audio (found by :mod:`ovavebench.media.clips` in either
media layout), and the DataLoader dataset over them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class ClipDataset:
    """Decodes and preprocesses one clip per item (runs in DataLoader workers)."""

    def __init__(self, items: Sequence[tuple[str, list[Path], Path]], inputs: Any = None):
        self.items = list(items)
        self.inputs = inputs  # None: ImageBind's preprocessing; else an object with frame_inputs / audio_inputs

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        video, frames, wav = self.items[index]
        if self.inputs is not None:
            return video, self.inputs.frame_inputs(frames), self.inputs.audio_inputs(wav)
        from ..imagebind import preprocess_audio, preprocess_frames

        return video, preprocess_frames(frames), preprocess_audio(wav)


def collate(batch):
    import torch

    if isinstance(batch[0][2], dict):  # CLAP's inputs per second: flatten videos x seconds
        audio = {key: torch.cat([b[2][key] for b in batch]) for key in batch[0][2]}
        return [b[0] for b in batch], torch.cat([b[1] for b in batch]), audio
    return [b[0] for b in batch], torch.stack([b[1] for b in batch]), torch.stack([b[2] for b in batch])
