"""ImageBind's vision, audio and text towers in plain torch, loading the official checkpoint.

Module and parameter names follow the official ``ImageBindModel`` so the
official ``imagebind_huge.pth`` state dict loads strictly (its depth, thermal
and IMU keys are ignored). Attention uses ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import OvavebenchError

# The official constructor defaults (ImageBindModel.__init__) and the huge model's overrides.
DEFAULT_CONFIG: dict[str, Any] = {
    "video_frames": 2,
    "kernel_size": (2, 14, 14),
    "audio_kernel_size": 16,
    "audio_stride": 10,
    "out_embed_dim": 768,
    "vision_embed_dim": 1024,
    "vision_num_blocks": 24,
    "vision_num_heads": 16,
    "audio_embed_dim": 768,
    "audio_num_blocks": 12,
    "audio_num_heads": 12,
    "audio_num_mel_bins": 128,
    "audio_target_len": 204,
    "audio_drop_path": 0.1,
    "text_embed_dim": 768,
    "text_num_blocks": 12,
    "text_num_heads": 12,
}
HUGE_CONFIG: dict[str, Any] = {
    "vision_embed_dim": 1280,
    "vision_num_blocks": 32,
    "vision_num_heads": 16,
    "text_embed_dim": 1024,
    "text_num_blocks": 24,
    "text_num_heads": 16,
    "out_embed_dim": 1024,
    "audio_drop_path": 0.1,
    "imu_drop_path": 0.7,
}
IGNORED_MODALITIES = ("depth", "thermal", "imu")
CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408
IMAGE_SIZE = 224
AUDIO_LOGIT_SCALE = 20.0
MAX_LOGIT_SCALE = 100.0


class Attention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameter layout (batch first, SDPA inside)."""

    def __init__(self, dim: int, num_heads: int, add_bias_kv: bool):
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.bias_k = nn.Parameter(torch.zeros(1, 1, dim)) if add_bias_kv else None
        self.bias_v = nn.Parameter(torch.zeros(1, 1, dim)) if add_bias_kv else None
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        if self.bias_k is not None and self.bias_v is not None:  # one learned key/value appended to every sequence
            k = torch.cat([k, self.bias_k.expand(batch, 1, dim)], dim=1)
            v = torch.cat([v, self.bias_v.expand(batch, 1, dim)], dim=1)
            if attn_mask is not None:
                attn_mask = F.pad(attn_mask, (0, 1))
        head = dim // self.num_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(batch, t.shape[1], self.num_heads, head).transpose(1, 2)

        if attn_mask is not None:
            attn_mask = attn_mask.to(q.dtype)
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=attn_mask)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (drop path is inactive in eval, so absent)."""

    def __init__(self, dim: int, num_heads: int, add_bias_kv: bool):
        super().__init__()
        self.attn = Attention(dim, num_heads, add_bias_kv)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.norm_1(x), attn_mask)
        return x + self.mlp(self.norm_2(x))


class Trunk(nn.Module):
    def __init__(self, dim: int, num_blocks: int, num_heads: int, add_bias_kv: bool, pre_ln: bool):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if pre_ln else nn.Identity())
        self.blocks = nn.ModuleList([Block(dim, num_heads, add_bias_kv) for _ in range(num_blocks)])

    def forward(self, tokens: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.pre_transformer_layer(tokens)
        for block in self.blocks:
            tokens = block(tokens, attn_mask)
        return tokens


class PosEmbedding(nn.Module):
    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dim))


class PadIm2Video(nn.Module):
    """An image becomes a 2-frame video by repeating it (the official vision stem)."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.shape[2] == 1:
            x = x.expand(-1, -1, self.frames, -1, -1)
        return x


class Stem(nn.Module):
    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        if norm_layer is not None:
            self.norm_layer = norm_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm_layer(x) if hasattr(self, "norm_layer") else x


class PatchPreprocessor(nn.Module):
    """Patches + a class token + learned positions (the vision and audio preprocessors)."""

    def __init__(self, stem: Stem, num_patches: int, dim: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.rgbt_stem = stem
        self.pos_embedding_helper = PosEmbedding(num_patches + 1, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.rgbt_stem(x)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return tokens + self.pos_embedding_helper.pos_embed


class TextPreprocessor(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB_SIZE, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, CONTEXT_LENGTH, dim))
        self.register_buffer("mask", torch.full((CONTEXT_LENGTH, CONTEXT_LENGTH), float("-inf")).triu_(1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(tokens) + self.pos_embed


class SelectFirst(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


class TextHead(nn.Module):
    """Take the end-of-text token (the highest id: ``argmax``) and project it."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, out_dim, bias=False))

    def forward(self, x: torch.Tensor, eos: torch.Tensor) -> torch.Tensor:
        return self.proj(x[torch.arange(x.shape[0], device=x.device), eos])


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1, p=2)


class LogitScale(nn.Module):
    def __init__(self, init: float, learnable: bool):
        super().__init__()
        value = torch.ones([]) * math.log(init)
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clip(self.log_logit_scale.exp(), max=MAX_LOGIT_SCALE) * x


class ImageBind(nn.Module):
    """The vision, audio and text towers of ImageBind (eval mode once loaded)."""

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        self.config = cfg
        kernel = tuple(cfg["kernel_size"])
        v, a, t, out = cfg["vision_embed_dim"], cfg["audio_embed_dim"], cfg["text_embed_dim"], cfg["out_embed_dim"]
        vision_patches = (IMAGE_SIZE // kernel[1]) * (IMAGE_SIZE // kernel[2]) * (cfg["video_frames"] // kernel[0])
        ak, stride = cfg["audio_kernel_size"], cfg["audio_stride"]
        audio_patches = ((cfg["audio_num_mel_bins"] - ak) // stride + 1) * (
            (cfg["audio_target_len"] - ak) // stride + 1
        )
        # Modality order as in the official model (vision, text, audio): state_dict() keys in the same order.
        self.modality_preprocessors = nn.ModuleDict(
            {
                "vision": PatchPreprocessor(
                    Stem(
                        nn.Sequential(
                            PadIm2Video(cfg["video_frames"]),
                            nn.Conv3d(3, v, kernel_size=kernel, stride=kernel, bias=False),
                        )
                    ),
                    vision_patches,
                    v,
                ),
                "text": TextPreprocessor(t),
                "audio": PatchPreprocessor(
                    Stem(nn.Conv2d(1, a, kernel_size=ak, stride=stride, bias=False), nn.LayerNorm(a)), audio_patches, a
                ),
            }
        )
        self.modality_trunks = nn.ModuleDict(
            {
                "vision": Trunk(v, cfg["vision_num_blocks"], cfg["vision_num_heads"], add_bias_kv=False, pre_ln=True),
                "text": Trunk(t, cfg["text_num_blocks"], cfg["text_num_heads"], add_bias_kv=False, pre_ln=False),
                "audio": Trunk(a, cfg["audio_num_blocks"], cfg["audio_num_heads"], add_bias_kv=True, pre_ln=False),
            }
        )
        self.modality_heads = nn.ModuleDict(
            {
                "vision": nn.Sequential(nn.LayerNorm(v, eps=1e-6), SelectFirst(), nn.Linear(v, out, bias=False)),
                "text": TextHead(t, out),
                "audio": nn.Sequential(nn.LayerNorm(a, eps=1e-6), SelectFirst(), nn.Linear(a, out, bias=False)),
            }
        )
        self.modality_postprocessors = nn.ModuleDict(
            {
                "vision": Normalize(),
                "text": nn.Sequential(Normalize(), LogitScale(1 / 0.07, learnable=True)),
                "audio": nn.Sequential(Normalize(), LogitScale(AUDIO_LOGIT_SCALE, learnable=False)),
            }
        )

    @property
    def embed_dim(self) -> int:
        return int(self.config["out_embed_dim"])

    def _encode(self, modality: str, x: torch.Tensor, item_dims: int) -> torch.Tensor:
        # Leading dimensions beyond one item's (e.g. [B, T, ...]) give per-item outputs, never averaged.
        lead = x.shape[: x.ndim - item_dims]
        x = x.reshape(-1, *x.shape[x.ndim - item_dims :])
        tokens = self.modality_preprocessors[modality](x)
        tokens = self.modality_trunks[modality](tokens)
        out = self.modality_postprocessors[modality](self.modality_heads[modality](tokens))
        return out.reshape(*lead, out.shape[-1])

    def encode_vision(self, x: torch.Tensor) -> torch.Tensor:
        """``[N,3,224,224]`` → ``[N,D]``; ``[B,T,3,224,224]`` → ``[B,T,D]`` (unit norm)."""
        return self._encode("vision", x, 3)

    def encode_audio(self, x: torch.Tensor) -> torch.Tensor:
        """``[N,1,128,204]`` → ``[N,D]``; ``[B,T,1,128,204]`` → ``[B,T,D]`` (norm 20)."""
        return self._encode("audio", x, 3)

    def encode_text(self, token_ids: torch.Tensor) -> torch.Tensor:
        """``[N,77]`` token ids → ``[N,D]`` (norm: the learned logit scale, at most 100)."""
        tokens = self.modality_preprocessors["text"](token_ids)
        mask = self.modality_preprocessors["text"].mask
        tokens = self.modality_trunks["text"](tokens, mask)
        out = self.modality_heads["text"](tokens, token_ids.argmax(dim=-1))
        return self.modality_postprocessors["text"](out)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        config: dict[str, Any] | str | os.PathLike | None = None,
        map_location: str | torch.device = "cpu",
    ) -> ImageBind:
        """Load an official ImageBind checkpoint (default: the huge configuration).

        ``config`` is a dict or JSON file of the official constructor arguments
        (``ImageBindModel(**config)``). Depth, thermal and IMU keys are ignored;
        any other missing or unexpected key is an error naming it.
        """
        if config is None:
            config = HUGE_CONFIG
        elif not isinstance(config, dict):
            try:
                loaded: dict[str, Any] = json.loads(Path(config).read_text())
            except (OSError, ValueError) as exc:  # JSONDecodeError, or an integer of over 4,300 digits
                raise OvavebenchError(f"{config}: not a JSON model config ({exc})") from None
            config = loaded
        model = cls(config)
        path = Path(path)
        if not path.exists():
            raise OvavebenchError(f"{path}: checkpoint not found")
        try:
            state = torch.load(path, map_location=map_location, weights_only=True, mmap=True)
        except Exception as exc:  # a truncated or foreign file
            raise OvavebenchError(f"{path}: cannot read as a torch checkpoint ({exc})") from None
        state = {k: v for k, v in state.items() if k.split(".")[1] not in IGNORED_MODALITIES}
        expected = model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
        if missing or unexpected or wrong:
            details = []
            if missing:
                details.append(f"{len(missing)} missing key(s), e.g. {missing[:3]}")
            if unexpected:
                details.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[:3]}")
            if wrong:
                details.append(f"shape mismatch for {wrong[:3]} (wrong config?)")
            raise OvavebenchError(f"{path}: does not fit the model config: " + "; ".join(details))
        model.load_state_dict(state, strict=True, assign=True)
        return model.eval()
