"""The frames' PNG encoder: lossless 8-bit RGB, its bytes a function of the pixels (the download's checksums
depend on it)."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

PNG_COMPRESS_LEVEL = 1  # lossless either way; level 1 is the fast end


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def encode_png(rgb: np.ndarray, level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """A lossless 8-bit RGB PNG of an ``[height, width, 3]`` uint8 array.

    Every row uses PNG's "Sub" filter (each byte minus the byte one pixel to
    its left, computed for the whole image at once) and one deflate stream with
    zlib's run-length strategy: after the Sub filter, runs are what there is to
    find, faster than level 1 and smaller (8.8 vs 11.9 ms, 386 vs 438 KB on a
    640x360 frame). The bytes are a function of the pixels (the checksums in
    the download state depend on it): ISA-L's deflate, 3x faster, gave the
    same frame different bytes from run to run.

    >>> encode_png(np.zeros((2, 3, 3), np.uint8))[:8]
    b'\x89PNG\r\n\x1a\n'
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode_png needs a [height, width, 3] uint8 array, got {rgb.dtype} {rgb.shape}")
    height, width, _ = rgb.shape
    rows = rgb.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), np.uint8)
    filtered[:, 0] = 1  # filter type Sub
    filtered[:, 1:4] = rows[:, :3]
    np.subtract(rows[:, 3:], rows[:, :-3], out=filtered[:, 4:])  # modulo 256, as PNG defines it
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _deflate(filtered.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


def _deflate(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return compressor.compress(data) + compressor.flush()


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write :func:`encode_png` of ``rgb`` to ``path``."""
    with open(path, "wb") as handle:
        handle.write(encode_png(rgb))
