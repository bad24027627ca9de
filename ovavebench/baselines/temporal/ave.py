"""AVE's row (``TBMRF_Net``, one dual multimodal residual fusion block).

``m = ½·(U_v(A) + U_a(V))`` with ``U(x) = Linear(tanh(Linear(x)))``;
``A' = tanh(A + m)``, ``V' = tanh(V + m)``. As released, ``U_v`` acts on the
audio and ``U_a`` on the visual (the argument names swap twice on the way).
"""

from __future__ import annotations

import torch
from torch import nn

from ._released import load_released


class AVEFusion(nn.Module):
    def __init__(self, dim: int = 1024, **_: object):
        super().__init__()
        self.U_v = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))
        self.U_a = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        merged = 0.5 * (self.U_v(audio) + self.U_a(visual))
        return torch.tanh(audio + merged), torch.tanh(visual + merged)

    def load_released_state_dict(self, state_dict) -> None:
        load_released(self, state_dict)
