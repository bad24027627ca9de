"""The linear variant of Table 5 (``TemporalLinearModule``): one ``Linear(D, D)`` per modality, nothing else."""

from __future__ import annotations

import torch
from torch import nn

from ._released import load_released


class TemporalLinear(nn.Module):
    def __init__(self, dim: int = 1024, **_: object):
        super().__init__()
        self.audio, self.visual = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.audio(audio), self.visual(visual)

    def load_released_state_dict(self, state_dict) -> None:
        names = {
            "a_sa_blocks.0.weight": "audio.weight",
            "a_sa_blocks.0.bias": "audio.bias",
            "v_sa_blocks.0.weight": "visual.weight",
            "v_sa_blocks.0.bias": "visual.bias",
        }
        load_released(self, state_dict, names.get)
