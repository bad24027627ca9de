"""The published OV-AVEL metrics as a ``torchmetrics.Metric``: feed batches, get ``score``'s numbers.

Each video's accuracy, segment F1 and event F1 are computed when its batch arrives (the same vectorised functions
:func:`ovavebench.score` uses); the state is their sums and the video counts per seen / unseen group, so the result
is the released code's mean over videos whatever the batch sizes, and a sum across processes under DDP whatever
the shard sizes (never a mean of per-batch means).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric

from ..benchmark import Benchmark, load_benchmark
from ..constants import SEGMENTS
from ..scoring.functional import per_video_metrics

GROUPS = ("seen", "unseen", "total")
METRICS = ("acc", "seg_f1", "eve_f1", "avg")

_INTEGER = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in tensor.shape) + ")"


def _as_tensor(name: str, value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


class OVAVELMetric(Metric):
    """Accuracy, segment F1, event F1 and their average, per seen / unseen / all videos of a benchmark.

    Args:
        benchmark: a benchmark folder (the published layout or the toolkit's) or a loaded
            :class:`~ovavebench.benchmark.Benchmark`; it gives the class order and which classes are seen.

    ``classes`` is the class list in index order; ``len(classes)`` is the background index. Which videos count as
    seen or unseen follows from ``video_class`` and the benchmark's seen classes.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False  # the state is sums: a batch's state merges into the global one by addition

    sums: torch.Tensor
    videos: torch.Tensor

    def __init__(self, benchmark: Benchmark | str | os.PathLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
        self.classes: list[str] = list(bench.classes)
        self.seen_classes: list[str] = [c for c in self.classes if c in set(bench.seen_classes)]
        self.background = len(self.classes)
        seen = set(bench.seen_classes)
        self._class_seen = np.array([c in seen for c in self.classes], dtype=bool)
        # [group (seen, unseen), metric (acc, seg_f1, eve_f1)]: float64 sums, so 5,820 videos lose nothing
        self.add_state("sums", default=torch.zeros(2, 3, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("videos", default=torch.zeros(2, dtype=torch.int64), dist_reduce_fx="sum")

    # ------------------------------------------------------------------ checks

    def _check(self, preds: Any, target: Any, video_class: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three arguments as numpy arrays ([B, 10] rows, [B, 10] flags, [B] classes), or a ValueError."""
        preds = _as_tensor("preds", preds)
        target = _as_tensor("target", target)
        video_class = _as_tensor("video_class", video_class)
        rows = self.background + 1
        expected_preds = f"(B, {SEGMENTS}) int64 class indices or (B, {SEGMENTS}, {rows}) scores"
        if preds.ndim == 3:
            if preds.shape[1:] != (SEGMENTS, rows):
                raise ValueError(f"preds: expected {expected_preds}, got shape {_shape(preds)}")
            if not torch.is_floating_point(preds):
                raise ValueError(f"preds: (B, {SEGMENTS}, {rows}) scores must be floating point, got {preds.dtype}")
            preds = preds.argmax(dim=-1)  # the first of tied maxima, as numpy's argmax
        elif preds.ndim == 2:
            if preds.shape[1] != SEGMENTS:
                raise ValueError(f"preds: expected {expected_preds}, got shape {_shape(preds)}")
            if preds.dtype not in _INTEGER:
                raise ValueError(f"preds: (B, {SEGMENTS}) class indices must be an integer tensor, got {preds.dtype}")
        else:
            raise ValueError(f"preds: expected {expected_preds}, got shape {_shape(preds)}")
        batch = preds.shape[0]
        if target.shape != (batch, SEGMENTS):
            raise ValueError(f"target: expected shape ({batch}, {SEGMENTS}) of 0/1 event flags, got {_shape(target)}")
        if target.dtype != torch.bool and target.dtype not in _INTEGER:
            raise ValueError(f"target: expected 0/1 event flags as an integer or bool tensor, got {target.dtype}")
        if video_class.shape != (batch,):
            raise ValueError(f"video_class: expected shape ({batch},) of class indices, got {_shape(video_class)}")
        if video_class.dtype not in _INTEGER:
            raise ValueError(f"video_class: expected an integer tensor of class indices, got {video_class.dtype}")
        p = preds.detach().to("cpu", torch.int64).numpy()
        t = target.detach().to("cpu", torch.int64).numpy()
        c = video_class.detach().to("cpu", torch.int64).numpy()
        if batch and (p.min() < 0 or p.max() > self.background):
            bad = int(p.min()) if p.min() < 0 else int(p.max())
            raise ValueError(
                f"preds: class index {bad} out of range; expected 0..{self.background} ({self.background} = background)"
            )
        if batch and (t.min() < 0 or t.max() > 1):
            bad = int(t.min()) if t.min() < 0 else int(t.max())
            raise ValueError(f"target: value {bad}; expected 0/1 event flags")
        if batch and (c.min() < 0 or c.max() >= self.background):
            bad = int(c.min()) if c.min() < 0 else int(c.max())
            raise ValueError(
                f"video_class: class index {bad} out of range; expected 0..{self.background - 1} "
                "(a video's class is never background)"
            )
        return p, t, c

    # ------------------------------------------------------------------ the metric

    def update(self, preds: torch.Tensor, target: torch.Tensor, video_class: torch.Tensor) -> None:
        """Add a batch of videos.

        Args:
            preds: ``(B, 10)`` class indices (``len(classes)`` = background) or ``(B, 10, C+1)`` scores (argmax).
            target: ``(B, 10)`` 0/1 flags, 1 where the video's event is heard and seen.
            video_class: ``(B,)`` each video's class index.
        """
        p, t, c = self._check(preds, target, video_class)
        if not len(c):
            return
        acc, seg, eve = per_video_metrics(p, c, t, self.background)
        values = np.stack([acc, seg, eve], axis=1)  # [B, 3]
        seen = self._class_seen[c]
        sums = np.stack([values[seen].sum(axis=0), values[~seen].sum(axis=0)])
        counts = np.array([seen.sum(), (~seen).sum()], dtype=np.int64)
        self.sums += torch.from_numpy(sums).to(self.sums.device)
        self.videos += torch.from_numpy(counts).to(self.videos.device)

    def compute(self) -> dict[str, dict[str, float]]:
        """``{"seen" | "unseen" | "total": {"acc", "seg_f1", "eve_f1", "avg"}}``, fractions (NaN: no videos)."""
        sums = self.sums.detach().cpu().double().numpy()
        videos = self.videos.detach().cpu().numpy()
        groups = {"seen": (sums[0], videos[0]), "unseen": (sums[1], videos[1]), "total": (sums.sum(0), videos.sum())}
        out: dict[str, dict[str, float]] = {}
        for name, (total, n) in groups.items():
            if n == 0:
                out[name] = dict.fromkeys(METRICS, float("nan"))
                continue
            a, s, e = (float(v) / int(n) for v in total)
            out[name] = {"acc": a, "seg_f1": s, "eve_f1": e, "avg": (a + s + e) / 3}
        return out
