"""The fine-tuning baseline's temporal block as released (``TemporalAttentionModule``): one per modality.

Post-LayerNorm: ``y = LN1(x + O(softmax(Q·Kᵀ/sqrt(256))·V))``, then
``out = LN2(y + W2(Dropout(ReLU(W1(y)))))``; q/k/v D→256 and out 256→D with bias,
one head, the scale ``1/sqrt(256)`` (the total attention width), FFN D→512→D,
dropout 0.1 only between the FFN's two layers. The modalities never interact:
the released cross-attention blocks are built but never used.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from ._released import load_released


class ReleasedBlock(nn.Module):
    def __init__(self, dim: int = 1024, attn_width: int = 256, ffn_width: int = 512, dropout: float = 0.1):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(dim, attn_width) for _ in range(3))
        self.o = nn.Linear(attn_width, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.w_1, self.w_2 = nn.Linear(dim, ffn_width), nn.Linear(ffn_width, dim)
        self.dropout = nn.Dropout(dropout)
        self.scale = attn_width**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.q(x) @ self.k(x).transpose(-2, -1) * self.scale, dim=-1)
        y = self.norm1(x + self.o(weights @ self.v(x)))
        return self.norm2(y + self.w_2(self.dropout(F.relu(self.w_1(y)))))


class TemporalTransformer(nn.Module):
    """Per modality ``layers`` released blocks (published: 1, width D, attention 256, FFN 512)."""

    def __init__(
        self, dim: int = 1024, layers: int = 1, attn_width: int = 256, ffn_width: int = 512, dropout: float = 0.1
    ):
        super().__init__()
        self.audio = nn.Sequential(*(ReleasedBlock(dim, attn_width, ffn_width, dropout) for _ in range(layers)))
        self.visual = nn.Sequential(*(ReleasedBlock(dim, attn_width, ffn_width, dropout) for _ in range(layers)))

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.audio(audio), self.visual(visual)

    def load_released_state_dict(self, state_dict) -> None:
        def rename(key: str) -> str | None:
            match = re.fullmatch(
                r"([av])_sa_blocks\.(\d+)\.(?:self_attn|ffn)?\.?(q|k|v|o|w_1|w_2|norm1|norm2)\.(weight|bias)", key
            )
            if not match:
                return None  # the never-used cross-attention blocks, alpha, loc_adj
            side, index, name, kind = match.groups()
            return f"{'audio' if side == 'a' else 'visual'}.{index}.{name}.{kind}"

        load_released(self, state_dict, rename)
