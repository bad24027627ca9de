"""OV-AVEBench in a PyTorch training loop (the ``torch`` extra: torch + torchmetrics).

>>> from ovavebench.torch import OVAVELMetric, ClipDataset, FeatureDataset  # doctest: +SKIP
>>> metric = OVAVELMetric(benchmark="path/to/benchmark")                     # doctest: +SKIP
>>> metric.update(preds, target, video_class)                                # doctest: +SKIP
>>> metric.compute()["total"]["avg"]                                         # doctest: +SKIP

One module per concern: :mod:`.metric` (the published metrics as a ``torchmetrics.Metric``, DDP-safe),
:mod:`.datasets` (``Dataset``s over the clips' frames and audio and over cached features). ``import ovavebench``
never imports this subpackage: torch is loaded only by who asks for it.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
    import torchmetrics as _torchmetrics  # noqa: F401
except ImportError as exc:  # one line naming the extra, not a traceback into torchmetrics
    raise ImportError(f"ovavebench.torch needs the torch extra: pip install 'ovavebench[torch]' ({exc})") from None

from .datasets import ClipDataset, FeatureDataset
from .metric import GROUPS, METRICS, OVAVELMetric

__all__ = ["GROUPS", "METRICS", "ClipDataset", "FeatureDataset", "OVAVELMetric"]
