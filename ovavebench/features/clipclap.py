"""CLIP & CLAP: the training-free row of Table 2 that uses two spaces instead of ImageBind's one.

Frames go through CLIP's image tower, each 1-second of audio through CLAP's audio
tower, and the class names (+ ``other``) through *both* text towers: visual-text
similarities are CLIP's, audio-text similarities CLAP's. The models load through
``transformers`` (``AutoModel`` / ``AutoProcessor``) from a hub name or a local
``save_pretrained`` folder.

Which checkpoints the paper used cannot be verified (the released code ships no
runnable CLIP&CLAP path); the defaults follow the closest public work: OpenAI
CLIP ViT-B/32 and a LAION CLAP (HTSAT).

Audio, per second: the 16 kHz clip is resampled once to CLAP's rate (48 kHz),
cut into ten 1-second pieces, and each piece goes to CLAP's feature extractor
with ``padding="repeatpad"``: the second is repeated to fill CLAP's 10-second
window. That is the analogue of ImageBind's per-second scheme, which tiles each
second to its 2-second window; both show the model one second, repeated.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OvavebenchError

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
DEFAULT_CLAP_MODEL = "laion/clap-htsat-unfused"
PREPROCESSING_VERSION = "clip-clap-1: CLIPProcessor frames; 16k->CLAP rate once, 1 s pieces, repeatpad"


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()  # no weight-loading chatter or backend notices on the user's terminal
    logging.disable_progress_bar()


def _features(output: Any):
    """transformers 4.x returns the projected embeddings, 5.x an output whose ``pooler_output`` they are."""
    import torch

    return output if isinstance(output, torch.Tensor) else output.pooler_output


def model_identity(name_or_path: str) -> str:
    """What identifies a model's weights: sha256 of a local folder's weight files, else the hub name."""
    folder = Path(name_or_path)
    if folder.is_dir():
        from ..features.checkpoints import checkpoint_sha256

        files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".pth"))
        if not files:
            raise OvavebenchError(f"{folder}: no model weights (expected a save_pretrained folder)")
        digest = hashlib.sha256()
        for path in files:
            digest.update(f"{path.name}:{checkpoint_sha256(path)}\n".encode())
        return digest.hexdigest()
    return name_or_path


def _load(name_or_path: str, kind: str):
    from transformers import AutoModel, AutoProcessor

    _quiet_transformers()
    try:
        model = AutoModel.from_pretrained(name_or_path)
        processor = AutoProcessor.from_pretrained(name_or_path)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OvavebenchError(
            f"--{kind}-model {name_or_path!r}: cannot load it with transformers ({first}); give a "
            "local save_pretrained folder or a hub name reachable from here"
        ) from None
    expected = {"clip": "CLIPModel", "clap": "ClapModel"}[kind]
    if type(model).__name__ != expected:
        raise OvavebenchError(f"--{kind}-model {name_or_path!r}: a {type(model).__name__}, expected a {expected}")
    return model.eval(), processor


@dataclass
class ClipClap:
    """The two models, their processors and where they came from."""

    clip: Any
    clip_processor: Any
    clap: Any
    clap_processor: Any
    clip_name: str
    clap_name: str

    @classmethod
    def load(cls, clip_model: str | None = None, clap_model: str | None = None) -> ClipClap:
        clip_name, clap_name = clip_model or DEFAULT_CLIP_MODEL, clap_model or DEFAULT_CLAP_MODEL
        clip, clip_processor = _load(clip_name, "clip")
        clap, clap_processor = _load(clap_name, "clap")
        return cls(clip, clip_processor, clap, clap_processor, clip_name, clap_name)

    def to(self, device: str) -> ClipClap:
        self.clip.to(device)
        self.clap.to(device)
        return self

    @property
    def audio_rate(self) -> int:
        return int(self.clap_processor.feature_extractor.sampling_rate)

    def identity(self) -> dict[str, Any]:
        return {
            "encoder": "clip-clap",
            "clip_model": self.clip_name,
            "clip_sha256": model_identity(self.clip_name),
            "clap_model": self.clap_name,
            "clap_sha256": model_identity(self.clap_name),
            "preprocessing": PREPROCESSING_VERSION,
            "embed_dim": int(self.clip.config.projection_dim),
            "audio_embed_dim": int(self.clap.config.projection_dim),
        }

    # ------------------------------------------------------------- inputs (run in DataLoader workers)

    def frame_inputs(self, frame_paths: Sequence[Path]):
        from PIL import Image

        images = []
        for path in frame_paths:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
        return self.clip_processor.image_processor(images=images, return_tensors="pt")["pixel_values"]

    def audio_inputs(self, wav: Path) -> dict[str, Any]:
        pieces = one_second_pieces(wav, self.audio_rate)
        features = self.clap_processor.feature_extractor(
            list(pieces), sampling_rate=self.audio_rate, return_tensors="pt", padding="repeatpad"
        )
        return dict(features)

    # ------------------------------------------------------------- embeddings

    def embed_frames(self, pixel_values):
        return _features(self.clip.get_image_features(pixel_values=pixel_values))

    def embed_audio(self, inputs: dict[str, Any]):
        return _features(self.clap.get_audio_features(**inputs))

    def embed_text(self, names: Sequence[str], device: str) -> tuple[np.ndarray, np.ndarray]:
        """Class-name embeddings in CLIP's space (for frames) and in CLAP's (for audio)."""
        import torch

        with torch.inference_mode():
            tokens = self.clip_processor.tokenizer(list(names), padding=True, truncation=True, return_tensors="pt")
            visual = _features(self.clip.get_text_features(**{k: v.to(device) for k, v in tokens.items()}))
            tokens = self.clap_processor.tokenizer(list(names), padding=True, truncation=True, return_tensors="pt")
            audio = _features(self.clap.get_text_features(**{k: v.to(device) for k, v in tokens.items()}))
        return visual.float().cpu().numpy(), audio.float().cpu().numpy()


def one_second_pieces(wav: str | os.PathLike, rate: int, seconds: int = 10) -> np.ndarray:
    """A clip's audio as ``[seconds, rate]`` float32 mono, resampled once (PyAV) to ``rate``.

    Short files are zero-padded.
    """
    import av

    try:
        with av.open(str(wav)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks: list[np.ndarray] = []
            for frame in container.decode(stream):
                chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
            chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(None))
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise OvavebenchError(f"{wav}: cannot read its audio ({exc})") from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    out = np.zeros(seconds * rate, np.float32)
    out[: min(len(samples), len(out))] = samples[: len(out)]
    return out.reshape(seconds, rate)
