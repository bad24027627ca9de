"""PSP's row (``PSP_For_OVAVEL``, positive sample propagation between the two modalities).

Branches ``x1, x2 = Drop(ReLU(x·W1ᵀ)), Drop(ReLU(x·W2ᵀ))`` per modality (no bias);
``β = ReLU(v2·a1ᵀ / sqrt(D))``; each direction normalises β over its rows, keeps
scores ``> 0.095`` (strict), renormalises (the audio→visual one from the
un-normalised β); ``V⁺ = V + γ_va·a2``, ``A⁺ = A + γ_av·v1``; outputs
``LN(Drop(ReLU(x⁺·W_fcᵀ)))`` with one LayerNorm (eps 1e-6) shared by both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._released import load_released

THRESHOLD = 0.095  # a constant of the released code (tied to 10 seconds: uniform scores are 0.1)


def _propagation(scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Row-normalise, keep scores above ``threshold``, row-normalise again."""
    normalised = scores / (scores.sum(dim=-1, keepdim=True) + 1e-8)
    kept = normalised * (normalised > threshold).to(normalised.dtype)
    return kept / (kept.sum(dim=-1, keepdim=True) + 1e-8)


class PSP(nn.Module):
    # set by name in __init__ (the released checkpoint's keys); declared for the type checker
    v_L1: nn.Linear
    v_L2: nn.Linear
    v_fc: nn.Linear
    a_L1: nn.Linear
    a_L2: nn.Linear
    a_fc: nn.Linear

    def __init__(self, dim: int = 1024, dropout: float = 0.1, threshold: float = THRESHOLD, **_: object):
        super().__init__()
        for name in ("v_L1", "v_L2", "v_fc", "a_L1", "a_L2", "a_fc"):
            layer = nn.Linear(dim, dim, bias=False)
            nn.init.xavier_uniform_(layer.weight)
            setattr(self, name, layer)
        self.layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.threshold = threshold

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        drop = self.dropout
        v1, v2 = drop(F.relu(self.v_L1(visual))), drop(F.relu(self.v_L2(visual)))
        a1, a2 = drop(F.relu(self.a_L1(audio))), drop(F.relu(self.a_L2(audio)))
        beta = F.relu(
            v2 @ a1.transpose(-2, -1) / torch.tensor(float(v2.shape[-1]), dtype=v2.dtype).sqrt()
        )  # [B, i(v), j(a)]
        gamma_va = _propagation(beta, self.threshold)
        gamma_av = _propagation(beta.transpose(-2, -1), self.threshold)
        visual_plus = visual + gamma_va @ a2
        audio_plus = audio + gamma_av @ v1
        out_visual = self.layer_norm(drop(F.relu(self.v_fc(visual_plus))))
        out_audio = self.layer_norm(drop(F.relu(self.a_fc(audio_plus))))
        return out_audio, out_visual

    def load_released_state_dict(self, state_dict) -> None:
        load_released(self, state_dict)
