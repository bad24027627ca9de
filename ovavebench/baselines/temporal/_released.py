"""Loading a released module's state dict into ours: our keys are the released ones that its forward uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn


def load_released(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], rename: Callable[[str], str | None] = lambda key: key
) -> None:
    """Copy every key ``rename`` maps onto one of ours; ours must all be filled, with the same shapes."""
    from ...errors import OvavebenchError

    ours = module.state_dict()
    taken: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = rename(key)
        if name is not None and name in ours:
            taken[name] = value
    missing = [k for k in ours if k not in taken]
    if missing:
        raise OvavebenchError(
            f"released state dict lacks {len(missing)} key(s) of {type(module).__name__}, e.g. {', '.join(missing[:3])}"
        )
    wrong = [k for k, v in taken.items() if tuple(v.shape) != tuple(ours[k].shape)]
    if wrong:
        raise OvavebenchError(
            f"shape mismatch for {wrong[0]}: released {tuple(taken[wrong[0]].shape)}, "
            f"expected {tuple(ours[wrong[0]].shape)}"
        )
    module.load_state_dict({k: v.contiguous() for k, v in taken.items()}, strict=True)
