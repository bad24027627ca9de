"""CMRA's row (``CMRAN_FOR_OV_AVEL``, cross-modal relation attention).

Per modality an encoder (``affine_matrix`` then 2 post-LN self-attention layers,
4 heads, FFN 2048, ReLU) gives a memory; the other modality's decoder (its own
``affine_matrix`` on the raw input as queries, 1 post-LN layer attending over
``[memory ; queries]``) gives the output: ``A' = dec_a(A, enc_v(V))``,
``V' = dec_v(V, enc_a(A))``. Attention is ``torch.nn.MultiheadAttention``
(dropout 0.1), so the released keys load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._released import load_released

HEADS, FFN, DROPOUT = 4, 2048, 0.1


class _FeedForward(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(dim, FFN), nn.Linear(FFN, dim)
        self.dropout, self.dropout2 = nn.Dropout(DROPOUT), nn.Dropout(DROPOUT)
        self.norm2 = nn.LayerNorm(dim)

    # not `forward`: the two layers built on it take different inputs (a decoder also takes the memory)
    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(x + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x))))))


class EncoderLayer(_FeedForward):
    def __init__(self, dim: int):
        super().__init__(dim)
        self.self_attn = nn.MultiheadAttention(dim, HEADS, dropout=DROPOUT)
        self.norm1, self.dropout1 = nn.LayerNorm(dim), nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, D]
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, need_weights=False)[0]))
        return self.feed_forward(x)


class DecoderLayer(_FeedForward):
    def __init__(self, dim: int):
        super().__init__(dim)
        self.multihead_attn = nn.MultiheadAttention(dim, HEADS, dropout=DROPOUT)
        self.norm1, self.dropout1 = nn.LayerNorm(dim), nn.Dropout(DROPOUT)

    def forward(self, query: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:  # [T, B, D], [T, B, D]
        keys = torch.cat([memory, query], dim=0)  # the memory first, then the queries: 20 tokens
        query = self.norm1(query + self.dropout1(self.multihead_attn(query, keys, keys, need_weights=False)[0]))
        return self.feed_forward(query)


class _Layers(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class InternalTemporalRelation(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.affine_matrix = nn.Linear(dim, dim)
        self.encoder = _Layers([EncoderLayer(dim) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D]
        x = self.affine_matrix(x).transpose(0, 1)
        for layer in self.encoder.layers:
            x = layer(x)
        return x.transpose(0, 1)


class CrossModalRelation(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.affine_matrix = nn.Linear(dim, dim)
        self.decoder = _Layers([DecoderLayer(dim)])

    def forward(self, query: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:  # [B, T, D] each
        x, memory = self.affine_matrix(query).transpose(0, 1), memory.transpose(0, 1)
        for layer in self.decoder.layers:
            x = layer(x, memory)
        return x.transpose(0, 1)


class CMRA(nn.Module):
    def __init__(self, dim: int = 1024, **_: object):
        super().__init__()
        self.video_encoder, self.audio_encoder = InternalTemporalRelation(dim), InternalTemporalRelation(dim)
        self.video_decoder, self.audio_decoder = CrossModalRelation(dim), CrossModalRelation(dim)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out_audio = self.audio_decoder(audio, self.video_encoder(visual))
        out_visual = self.video_decoder(visual, self.audio_encoder(audio))
        return out_audio, out_visual

    def load_released_state_dict(self, state_dict) -> None:
        load_released(self, state_dict)  # the templates and the decoder's unused self_attn are not ours
