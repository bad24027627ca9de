"""Model weights: their checksum (remembered in the toolkit's cache), and the device they run on."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from ..errors import OvavebenchError
from ..io import atomic_write_text, sha256_file


def checkpoint_sha256(path: Path) -> str:
    """sha256 of a checkpoint, remembered in the toolkit's cache (4.5 GB take a while to hash).

    Never written beside the checkpoint: that folder may be read-only, shared, or
    someone else's. The cache entry is keyed by the file's real path, size and mtime.
    """
    from ..metadata.published import cache_dir

    real = Path(os.path.realpath(path))
    info = real.stat()
    key = hashlib.sha256(f"{real}\0{info.st_size}\0{info.st_mtime_ns}".encode()).hexdigest()[:32]
    marker = cache_dir() / "checksums" / f"{key}.sha256"
    with contextlib.suppress(OSError):
        recorded = marker.read_text(encoding="ascii").strip()
        if len(recorded) == 64:
            return recorded
    digest = sha256_file(real)
    with contextlib.suppress(OSError):
        atomic_write_text(marker, digest + "\n")
    return digest


def check_device(device: str) -> None:
    """Refuse a device torch cannot use here, with what to do instead."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise OvavebenchError(f"--device {device!r}: not a torch device (expected cpu, cuda or cuda:N)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise OvavebenchError(
                f"--device {device}: no CUDA GPU is visible (torch {torch.__version__}, {build}); use --device cpu"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise OvavebenchError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type != "cpu":
        raise OvavebenchError(f"--device {device!r}: expected cpu, cuda or cuda:N")
