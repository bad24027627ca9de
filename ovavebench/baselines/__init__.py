"""Reference baselines on cached features: training-free (:mod:`.zero_shot`) and fine-tuning (:mod:`.finetune`),
with the temporal layers of every fine-tuning row in :mod:`.temporal`."""

from __future__ import annotations

from .finetune import (
    FUSIONS,
    SELECT_ON,
    TEMPORAL,
    FinetuneConfig,
    FinetuneReport,
    av_scores,
    finetune,
    load_run,
    predict,
    published_criterion,
)
from .zero_shot import predictions_from_rows, predictions_meta, write_predictions, zero_shot, zero_shot_rows

__all__ = [
    "zero_shot",
    "zero_shot_rows",
    "finetune",
    "predict",
    "FinetuneConfig",
    "FinetuneReport",
    "write_predictions",
    "published_criterion",
    "predictions_meta",
    "av_scores",
    "load_run",
    "predictions_from_rows",
    "FUSIONS",
    "SELECT_ON",
    "TEMPORAL",
]
