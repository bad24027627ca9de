"""Where ImageBind's checkpoint and BPE vocabulary live; resumable downloads on first use."""

from __future__ import annotations

import os
from pathlib import Path

from ..metadata.fetch import fetch_file
from ..metadata.published import cache_dir

CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
VOCAB_URL = "https://github.com/facebookresearch/ImageBind/raw/main/imagebind/bpe/bpe_simple_vocab_16e6.txt.gz"
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
ENV_CHECKPOINT_URL = "OVAVEBENCH_IMAGEBIND_URL"
ENV_VOCAB_URL = "OVAVEBENCH_BPE_URL"


def weights_dir(cache: str | os.PathLike | None = None) -> Path:
    return cache_dir(cache) / "imagebind"


def checkpoint_path(cache: str | os.PathLike | None = None, download: bool = True) -> Path:
    """``imagebind_huge.pth`` in the cache (~4.5 GB, downloaded with a progress bar, resumable)."""
    path = weights_dir(cache) / "imagebind_huge.pth"
    if download and not path.exists():
        fetch_file(os.environ.get(ENV_CHECKPOINT_URL, CHECKPOINT_URL), path, progress=True)
    return path


def vocab_path(cache: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The CLIP BPE merges file beside the checkpoint (verified by sha256)."""
    path = weights_dir(cache) / "bpe_simple_vocab_16e6.txt.gz"
    if download and not path.exists():
        fetch_file(os.environ.get(ENV_VOCAB_URL, VOCAB_URL), path, expected_sha256=VOCAB_SHA256, progress=True)
    return path
