"""ImageBind's input transforms, as the official code (and OV-AVEL's 1-second audio loader) apply them.

* frames: PIL RGB → short side 224 (bicubic, antialiased; unchanged when already 224) → centre crop 224 →
  /255 → CLIP mean/std;
* audio: 10 s at 16 kHz; each second tiled to 2 s, its mean removed, a Kaldi-compatible 128-bin log-mel
  fbank (25 ms Hanning windows every 10 ms, pre-emphasis 0.97, power spectrum) → transposed, right-padded
  to 204 frames → normalised with mean −4.268 and std 9.138.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import soundfile
import torch
import torch.nn.functional as F
from PIL import Image

from ..constants import CLIP_SECONDS, SAMPLE_RATE
from ..errors import OvavebenchError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SIZE = 224
NUM_MEL_BINS = 128
TARGET_FRAMES = 204
AUDIO_MEAN, AUDIO_STD = -4.268, 9.138
FRAME_LENGTH, FRAME_SHIFT = 400, 160  # 25 ms and 10 ms at 16 kHz
PREEMPHASIS = 0.97
LOW_FREQ = 20.0


# --------------------------------------------------------------------------- frames


def _frame_tensor(image: Image.Image) -> torch.Tensor:
    image = image.convert("RGB")
    width, height = image.size
    if min(width, height) != IMAGE_SIZE:
        if width <= height:
            size = (IMAGE_SIZE, int(IMAGE_SIZE * height / width))
        else:
            size = (int(IMAGE_SIZE * width / height), IMAGE_SIZE)
        image = image.resize(size, Image.Resampling.BICUBIC)
        width, height = size
    top, left = int(round((height - IMAGE_SIZE) / 2.0)), int(round((width - IMAGE_SIZE) / 2.0))
    array = np.asarray(image, dtype=np.uint8)[top : top + IMAGE_SIZE, left : left + IMAGE_SIZE]
    tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean) / std


def preprocess_frames(images: Sequence[str | os.PathLike | Image.Image]) -> torch.Tensor:
    """Frames (paths or PIL images) → ``[N, 3, 224, 224]`` float32."""
    tensors = []
    for item in images:
        if isinstance(item, Image.Image):
            tensors.append(_frame_tensor(item))
        else:
            with Image.open(item) as image:
                tensors.append(_frame_tensor(image))
    return torch.stack(tensors)


# --------------------------------------------------------------------------- audio


def _mel(freq: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log(1.0 + freq / 700.0)


@lru_cache(maxsize=2)
def mel_banks(num_bins: int = NUM_MEL_BINS, padded_window: int = 512, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Kaldi's triangular mel filters on the power spectrum, ``[num_bins, padded_window/2 + 1]`` float64."""
    fft_bins = padded_window // 2
    nyquist = 0.5 * sample_rate
    mel_low = 1127.0 * math.log(1.0 + LOW_FREQ / 700.0)
    mel_high = 1127.0 * math.log(1.0 + nyquist / 700.0)
    delta = (mel_high - mel_low) / (num_bins + 1)
    index = torch.arange(num_bins, dtype=torch.float64).unsqueeze(1)
    left, center, right = mel_low + index * delta, mel_low + (index + 1.0) * delta, mel_low + (index + 2.0) * delta
    mel = _mel((sample_rate / padded_window) * torch.arange(fft_bins, dtype=torch.float64)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1, dtype=torch.float64), torch.min(up, down))
    return F.pad(banks, (0, 1))  # the Nyquist bin gets no weight


def kaldi_fbank(waveform: torch.Tensor) -> torch.Tensor:
    """Log-mel fbank of channel 0 of ``waveform [C, N]`` (Kaldi's defaults used by ImageBind), ``[frames, 128]``.

    Computed in float64 whatever the input's dtype. In float32 the result depends on
    the CPU's vector kernels (FFT, matrix product): bins ~100 dB below a frame's
    peak, next to the log floor, moved by up to 1.3e-3 between an AVX2 and an
    AVX-512 machine. In float64 every CPU gives the same values to ~1e-12, and the
    difference to the (float32) official output is the official output's own
    rounding (see ``../shared/reference/imagebind/README.md``).
    """
    signal = waveform[0].to(torch.float64)
    frames = 1 + (signal.shape[0] - FRAME_LENGTH) // FRAME_SHIFT
    if frames < 1:
        raise OvavebenchError(f"audio too short for one {FRAME_LENGTH}-sample frame")
    strided = signal.as_strided((frames, FRAME_LENGTH), (FRAME_SHIFT * signal.stride(0), signal.stride(0)))
    strided = strided - strided.mean(dim=1, keepdim=True)  # remove DC per frame
    previous = torch.cat([strided[:, :1], strided[:, :-1]], dim=1)
    strided = strided - PREEMPHASIS * previous
    strided = strided * torch.hann_window(FRAME_LENGTH, periodic=False, dtype=strided.dtype)
    strided = F.pad(strided, (0, 512 - FRAME_LENGTH))
    power = torch.fft.rfft(strided).abs().pow(2.0)
    energies = power @ mel_banks().T
    return torch.max(energies, torch.tensor(torch.finfo(torch.float32).eps, dtype=energies.dtype)).log()


def _load_wav(source: str | os.PathLike | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A 16 kHz waveform as float32 ``[C, N]`` (int16 files scaled by 1/32768, as torchaudio does)."""
    if isinstance(source, (np.ndarray, torch.Tensor)):
        wave = torch.as_tensor(source, dtype=torch.float32)
        return wave.unsqueeze(0) if wave.ndim == 1 else wave
    data, rate = soundfile.read(source, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise OvavebenchError(
            f"{source}: sample rate {rate} Hz, expected {SAMPLE_RATE} (the download stage writes 16 kHz)"
        )
    return torch.from_numpy(data.T.copy())


def preprocess_audio(source: str | os.PathLike | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A 10 s clip (path or waveform) → ``[10, 1, 128, 204]``, one normalised fbank per second.

    A file shorter than 10 s is placed into two zero channels (the official loader's buffer).
    """
    wave = _load_wav(source)
    wanted = SAMPLE_RATE * CLIP_SECONDS
    if wave.shape[1] >= wanted:
        wave = wave[:, :wanted]
    else:
        padded = torch.zeros(2, wanted)
        padded[:, : wave.shape[1]] = wave[0] if wave.shape[0] == 1 else wave[:2]
        wave = padded
    seconds = []
    for t in range(CLIP_SECONDS):
        segment = wave[:, SAMPLE_RATE * t : SAMPLE_RATE * (t + 1)].repeat(1, 2).to(torch.float64)
        segment = segment - segment.mean()
        fbank = kaldi_fbank(segment).transpose(0, 1)  # [128, frames], float64
        fbank = F.pad(fbank, (0, TARGET_FRAMES - fbank.shape[1]))
        seconds.append(((fbank - AUDIO_MEAN) / AUDIO_STD).to(torch.float32).unsqueeze(0))
    return torch.stack(seconds)
