"""Temporal layers between the frozen encoders and the text matching: one module per architecture, a registry.

Every module maps ``(audio [B,10,D], visual [B,10,D]) → (audio', visual')`` and can
load a state dict saved from the released module (``load_released_state_dict``;
keys the released forward never uses are ignored). Parity with the released
modules is tested on ``../shared/reference/temporal/``.

    >>> m = build_temporal("psp", dim=1024)            # doctest: +SKIP
    >>> audio, visual = m(audio, visual)              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TEMPORAL_NAMES = ("transformer", "linear", "ave", "psp", "cmra", "mm-pyramid")


def _registry() -> dict[str, Callable[..., Any]]:
    from .ave import AVEFusion
    from .cmra import CMRA
    from .linear import TemporalLinear
    from .mm_pyramid import MMPyramid
    from .psp import PSP
    from .transformer import TemporalTransformer

    return {
        "transformer": TemporalTransformer,
        "linear": TemporalLinear,
        "ave": AVEFusion,
        "psp": PSP,
        "cmra": CMRA,
        "mm-pyramid": MMPyramid,
    }


def build_temporal(name: str, dim: int = 1024, **kwargs: Any):
    """The temporal layers ``name`` (one of :data:`TEMPORAL_NAMES`) at width ``dim``, with the released sizes."""
    from ...errors import OvavebenchError

    registry = _registry()
    if name not in registry:
        raise OvavebenchError(f"--temporal must be one of {', '.join(TEMPORAL_NAMES)}, got {name!r}")
    return registry[name](dim=dim, **kwargs)


__all__ = ["build_temporal", "TEMPORAL_NAMES"]
