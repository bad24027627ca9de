"""MM-Pyramid's row (``MultimodalPyramidAttentionalModule``, one pyramid level as released).

Capture: self-attention per modality and one cross-attention layer shared by both
directions (fed the raw inputs), all with a band mask ``|i − j| ≤ 1``; gated
mixing ``σ(l1[sa;cma])⊙sa + σ(l2[sa;cma])⊙cma``; a temporal conv block
``ReLU(conv2(ReLU(conv1(x))) + x)``. Fusion over the (single) level: a
transformer layer and a sigmoid gate. Attention layers are pre-LN on the query
only (keys and values raw), 8 heads, FFN 2014 [sic], dropout 0.2 (0.1 on the
attention probabilities).
"""

from __future__ import annotations

import math
import re
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ._released import load_released

HEADS, FFN, DROPOUT, ATTN_DROPOUT, SECONDS = 8, 2014, 0.2, 0.1, 10


class _Attention(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(dim, dim) for _ in range(4))
        self.dropout = nn.Dropout(ATTN_DROPOUT)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, band: int | None) -> torch.Tensor:
        batch, dim = q.shape[0], q.shape[-1]
        width = dim // HEADS
        # four linears: the first three project q, k, v (zip stops there), the fourth the output
        q, k, v = (
            lin(x).view(batch, -1, HEADS, width).transpose(1, 2)
            for lin, x in zip(self.linears, (q, k, v), strict=False)
        )
        scores = q @ k.transpose(-2, -1) / math.sqrt(width)
        if band is not None:
            steps = torch.arange(scores.shape[-1], device=scores.device)
            scores = scores.masked_fill((steps[:, None] - steps[None, :]).abs() > band, -1e9)
        weights = self.dropout(torch.softmax(scores, dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(batch, -1, dim)
        return self.linears[3](out)


class _FeedForward(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(dim, FFN), nn.Linear(FFN, dim)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class _Sublayer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(DROPOUT)


class TransformerLayer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.self_attn = _Attention(dim)
        self.feed_forward = _FeedForward(dim)
        self.sublayer = nn.ModuleList(_Sublayer(dim) for _ in range(2))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, band: int | None = None) -> torch.Tensor:
        first, second = cast("list[_Sublayer]", self.sublayer)  # a ModuleList of two _Sublayer
        x = q + first.dropout(self.self_attn(first.norm(q), k, v, band))
        return x + second.dropout(self.feed_forward(second.norm(x)))


class _Block(nn.Module):  # the released wrapper of a layer (keys ``…block.layer.*``)
    def __init__(self, dim: int):
        super().__init__()
        self.layer = TransformerLayer(dim)


class _IntegrateAttention(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.vsablock, self.asablock, self.cmablock = _Block(dim), _Block(dim), _Block(dim)
        self.lv1, self.lv2, self.la1, self.la2 = (nn.Linear(2 * dim, dim) for _ in range(4))

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, band: int) -> tuple[torch.Tensor, torch.Tensor]:
        v_sa = self.vsablock.layer(visual, visual, visual, band)
        a_sa = self.asablock.layer(audio, audio, audio, band)
        v_cma = self.cmablock.layer(visual, audio, audio, band)  # one cross layer, both ways, on the raw inputs
        a_cma = self.cmablock.layer(audio, visual, visual, band)
        v_cat, a_cat = torch.cat([v_sa, v_cma], dim=-1), torch.cat([a_sa, a_cma], dim=-1)
        v_msa = torch.sigmoid(self.lv1(v_cat)) * v_sa + torch.sigmoid(self.lv2(v_cat)) * v_cma
        a_msa = torch.sigmoid(self.la1(a_cat)) * a_sa + torch.sigmoid(self.la2(a_cat)) * a_cma
        return v_msa, a_msa


class _TemporalBlock(nn.Module):
    def __init__(self, dim: int, dilation: int = 1, kernel: int = 3):
        super().__init__()
        self.conv1 = nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) * dilation // 2, dilation=dilation)
        self.conv2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, D, T]
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class _Capture(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.msa = nn.ModuleList([_IntegrateAttention(dim)])
        self.vnetwork = nn.ModuleList([_TemporalBlock(dim)])
        self.anetwork = nn.ModuleList([_TemporalBlock(dim)])


class _Fusion(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.vadaptiveinteraction, self.aadaptiveinteraction = TransformerLayer(dim), TransformerLayer(dim)
        self.vselectfusion, self.aselectfusion = nn.Linear(dim, 1), nn.Linear(dim, 1)


class MMPyramid(nn.Module):
    def __init__(self, dim: int = 1024, **_: object):
        super().__init__()
        self.capture = _Capture(dim)
        self.fusion = _Fusion(dim)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, seconds, dim = visual.shape
        levels_v, levels_a = [], []
        capture = self.capture
        for level, (msa, vnet, anet) in enumerate(zip(capture.msa, capture.vnetwork, capture.anetwork, strict=True)):
            v_msa, a_msa = msa(visual, audio, band=2**level)  # masksize 2·dilation: |i − j| ≤ dilation
            levels_v.append(vnet(v_msa.transpose(1, 2)).transpose(1, 2))
            levels_a.append(anet(a_msa.transpose(1, 2)).transpose(1, 2))
        fusion = self.fusion
        v_stage = torch.stack(levels_v, dim=2).reshape(batch * seconds, len(levels_v), dim)
        a_stage = torch.stack(levels_a, dim=2).reshape(batch * seconds, len(levels_a), dim)
        v_int = fusion.vadaptiveinteraction(v_stage, v_stage, v_stage)
        a_int = fusion.aadaptiveinteraction(a_stage, a_stage, a_stage)
        out_v = (torch.sigmoid(fusion.vselectfusion(v_int)) * v_int).view(-1, SECONDS, dim)
        out_a = (torch.sigmoid(fusion.aselectfusion(a_int)) * a_int).view(-1, SECONDS, dim)
        return out_a, out_v

    def load_released_state_dict(self, state_dict) -> None:
        def rename(key: str) -> str | None:
            if re.search(r"\.net\.\d+\.", key):
                return None  # aliases of conv1 / conv2
            return key

        load_released(self, state_dict, rename)
