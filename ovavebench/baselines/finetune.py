"""Fine-tuning baseline as released (``run_baseline_v1_train_fully.sh``), on cached features.

Temporal layers per modality from :mod:`.temporal` (the released transformer block by
default; the linear, AVE, PSP, CMRA and MM-Pyramid rows by name), scores
S_av = sqrt(relu(cos(a,t)·cos(v,t))) min-max normalised over the classes per second,
cross-entropy per second (background = ``other``), Adam 5e-5, batch 32, 10 epochs,
gradient clipping 0.8, seed 123. The epoch is chosen on the validation split, or
with ``select_on="published"`` by the released rule on the seen part of test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from ..benchmark import Benchmark, load_benchmark, read_meta
from ..errors import OvavebenchError
from ..features import FeatureStore
from ..io import atomic_open, atomic_write_json
from .zero_shot import _text_rows, predictions_from_rows, zero_shot_rows

FUSIONS = ("sqrt", "prob-avg", "fea-avg")


TEMPORAL = ("transformer", "linear", "ave", "psp", "cmra", "mm-pyramid")


SELECT_ON = ("val", "published")


@dataclass(frozen=True)  # frozen: shared as a default argument, never changed
class FinetuneConfig:
    temporal: str = "transformer"  # or linear (Table 5), ave, psp, cmra, mm-pyramid (Table 2)
    layers: int = 1
    width: int = 1024  # in and out (the embedding size)
    attn_width: int = 256
    ffn_width: int = 512
    heads: int = 1
    dropout: float = 0.1
    fusion: str = "sqrt"  # or "prob-avg", "fea-avg" (Table 4)
    with_other: bool = True  # False: Table 3's variant (the agreement rule over the class texts alone)
    lr: float = 5e-5
    batch_size: int = 32
    epochs: int = 10  # run_baseline_v1_train_fully.sh; the paper's text says 5
    grad_clip: float = 0.8
    seed: int = 123
    select_on: str = "val"  # "published": the released rule (seen part of test, per-batch Seg/Eve)
    train_subset: float | None = None  # Table 6: a ratio whose <prefix>_trainratio{r}_meta.csv is in the benchmark

    def validate(self) -> None:
        """Refuse values no run could use (a config file bypasses the CLI's option checks)."""
        ranges = {
            "layers": (int, 1, 64),
            "width": (int, 1, 1 << 16),
            "attn_width": (int, 1, 1 << 16),
            "ffn_width": (int, 1, 1 << 16),
            "heads": (int, 1, 1024),
            "batch_size": (int, 1, 1 << 16),
            "epochs": (int, 1, 10_000),
            "seed": (int, 0, 2**32 - 1),
            "dropout": (float, 0.0, 0.999),
            "lr": (float, 1e-12, 10.0),
            "grad_clip": (float, 1e-12, 1e6),
        }
        for name, (kind, low, high) in ranges.items():
            value = getattr(self, name)
            ok_type = type(value) is int if kind is int else type(value) in (int, float)
            if not ok_type or not low <= value <= high:
                raise OvavebenchError(
                    f"{name} must be {'an integer' if kind is int else 'a number'} in [{low:g}, {high:g}], "
                    f"got {value!r}"
                )
        if type(self.with_other) is not bool:
            raise OvavebenchError(f"with_other must be true or false, got {self.with_other!r}")
        if self.train_subset is not None and (
            type(self.train_subset) not in (int, float) or not 0 < self.train_subset < 1
        ):
            raise OvavebenchError(f"train_subset must be a ratio in (0, 1) or null, got {self.train_subset!r}")
        for name in ("temporal", "fusion", "select_on"):
            if not isinstance(getattr(self, name), str):
                raise OvavebenchError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.temporal not in TEMPORAL:
            raise OvavebenchError(f"--temporal must be one of {', '.join(TEMPORAL)}, got {self.temporal!r}")
        if self.fusion not in FUSIONS:
            raise OvavebenchError(f"--fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.select_on not in SELECT_ON:
            raise OvavebenchError(f"--select-on must be val or published, got {self.select_on!r}")
        if self.heads != 1:
            raise OvavebenchError(f"heads must be 1 (the released block has one head), got {self.heads!r}")


def _model(config: FinetuneConfig, dim: int):
    """The temporal layers of ``config.temporal`` (:func:`.temporal.build_temporal`) and the score fusion."""
    from torch import nn

    from .temporal import build_temporal

    options = (
        {
            "layers": config.layers,
            "attn_width": config.attn_width,
            "ffn_width": config.ffn_width,
            "dropout": config.dropout,
        }
        if config.temporal == "transformer"
        else {}
    )

    class Finetuned(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.temporal = build_temporal(config.temporal, dim=dim, **options)

        def features(self, audio, visual):
            return self.temporal(audio, visual)

        def forward(self, audio, visual, text):
            out_audio, out_visual = self.temporal(audio, visual)
            return av_scores(out_audio, out_visual, text, config.fusion)

    return Finetuned()


def av_scores(audio, visual, text, fusion: str):
    """Per-second class scores [B, 10, K] of the temporal outputs, as released.

    ``sqrt``: sqrt(relu(cos(a,t)·cos(v,t))), min-max normalised over the classes per second.
    ``prob-avg`` (Table 4): (cos(a,t) + cos(v,t)) / 2; ``fea-avg``: cos((a + v) / 2, t); both on the raw
    temporal outputs and without min-max.
    """
    import torch.nn.functional as F

    t = F.normalize(text, dim=-1)
    if fusion == "fea-avg":
        return F.normalize((audio + visual) / 2, dim=-1) @ t.T
    ca, cv = F.normalize(audio, dim=-1) @ t.T, F.normalize(visual, dim=-1) @ t.T
    if fusion == "prob-avg":
        return (ca + cv) / 2
    score = (F.relu(ca * cv) + 1e-12).sqrt()
    low = score.min(dim=-1, keepdim=True).values
    high = score.max(dim=-1, keepdim=True).values
    return (score - low) / (high - low).clamp_min(1e-12)


def _targets(bench: Benchmark, videos: Sequence[str], classes: Sequence[str], other_row: int) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    label_rows = bench.labels.index()
    flags = bench.labels.flags[[label_rows[v] for v in videos]].astype(bool)
    cats = [bench.labels.categories[label_rows[v]] for v in videos]
    cls = np.array([index.get(c, other_row) for c in cats])
    return np.where(flags, cls[:, None], other_row)


def _predict_rows(
    model, audio: np.ndarray, visual: np.ndarray, text: np.ndarray, with_other: bool = True, batch: int = 256
) -> np.ndarray:
    """Predicted rows [N, 10] (-1 = background for the agreement rule).

    With ``other``: the argmax of the fused scores (``other`` is the background row). Without it (Table 3,
    as released): the training-free agreement rule over the class texts, on the fine-tuned features.
    """
    import torch

    model.eval()
    device = next(model.parameters()).device
    rows = []
    with torch.no_grad():
        t = torch.from_numpy(text).to(device)
        for i in range(0, len(audio), batch):
            a, v = torch.from_numpy(audio[i : i + batch]).to(device), torch.from_numpy(visual[i : i + batch]).to(device)
            if with_other:
                rows.append(model(a, v, t).argmax(-1).cpu().numpy())
            else:
                out_a, out_v = model.features(a, v)
                rows.append(zero_shot_rows(out_a.cpu().numpy(), out_v.cpu().numpy(), text, None))
    return np.concatenate(rows) if rows else np.zeros((0, 10), np.int64)


def published_criterion(bench: Benchmark, predictions: dict[str, list[str]], batch_size: int = 32) -> dict[str, float]:
    """The released script's epoch criterion on the seen part of test: (Acc + Seg + Eve) / 3, Seg and Eve
    averaged per batch of ``batch_size`` videos (in the split's order), Acc over all segments."""
    from ..scoring import encode_predictions
    from ..scoring.functional import per_video_metrics

    videos = bench.split_videos("test")
    videos = videos[videos["seen"]]
    ids = videos["vid_name"].tolist()
    pred, _, _ = encode_predictions(predictions, ids, bench.classes, "<selection>")
    index = {name: i for i, name in enumerate(bench.classes)}
    rows = bench.labels.index()
    flags = bench.labels.flags[[rows[v] for v in ids]]
    true_class = videos["cls_name"].map(index).to_numpy(dtype=np.int64)
    acc, seg, eve = per_video_metrics(pred, true_class, flags, len(bench.classes))
    batches = [slice(i, i + batch_size) for i in range(0, len(ids), batch_size)]
    seg_b = float(np.mean([seg[b].mean() for b in batches]))
    eve_b = float(np.mean([eve[b].mean() for b in batches]))
    acc_all = float(acc.mean())
    return {"acc": acc_all, "seg_f1": seg_b, "eve_f1": eve_b, "avg": (acc_all + seg_b + eve_b) / 3, "videos": len(ids)}


@dataclass
class FinetuneReport:
    run: Path
    losses: list[float]
    selection: list[dict[str, float]]
    best_epoch: int
    seconds_per_epoch: list[float] = field(default_factory=list)


def _train_ids(bench: Benchmark, config: FinetuneConfig) -> list[str]:
    if config.train_subset is None:
        return bench.split_videos("train")["vid_name"].tolist()
    prefix = next(iter(bench.folder.glob("*_dataset_meta.csv"))).name.rsplit("_dataset_meta.csv", 1)[0]
    path = bench.folder / f"{prefix}_trainratio{config.train_subset:g}_meta.csv"
    if not path.exists():
        raise OvavebenchError(f"{path}: no training subset {config.train_subset:g} (write it with `ovavebench split`)")
    meta = read_meta(path)
    return meta.loc[meta["split"] == "train", "vid_name"].tolist()


def finetune(
    store_path: str | os.PathLike,
    benchmark: str | os.PathLike,
    run_dir: str | os.PathLike,
    config: FinetuneConfig = FinetuneConfig(),
    log: Callable[[str], None] = lambda _: None,
    device: str = "cpu",
) -> FinetuneReport:
    """Train the temporal layers on the seen classes; keep the epoch best on ``config.select_on``.

    ``device``: where the layers train (``cpu``, deterministic for a seed; or ``cuda``).
    """
    from ..features import check_device

    check_device(device)
    import torch

    from ..scoring import score

    config.validate()
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    bench = load_benchmark(benchmark)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    with FeatureStore(store_path) as store:
        if store.encoder != "imagebind":
            raise OvavebenchError(
                f"{store_path}: a {store.encoder} store; the fine-tuning rows of the paper are "
                "ImageBind's (one joint space): extract with --encoder imagebind"
            )
        train_names, train_text = _text_rows(store, bench.seen_classes, True)
        test_names, test_text = _text_rows(store, bench.classes, config.with_other)
        train_ids = _train_ids(bench, config)
        audio_tr, visual_tr = store.get(train_ids)
        select_split = "val" if config.select_on == "val" else "test"
        select_frame = bench.split_videos(select_split)
        if config.select_on == "published":
            select_frame = select_frame[select_frame["seen"]]  # test_data_type='close': the seen classes of test
        select = select_frame["vid_name"].tolist()
        audio_sel, visual_sel = store.get(select)
        if not config.with_other:
            select_names, select_text = _text_rows(store, bench.classes, False)
        identity = {k: v for k, v in store.meta.items() if k in ("checkpoint_sha256", "preprocessing", "model_config")}
    # The released code always trains with `other` (background seconds are its row); the Table-3 variant
    # without it differs only in how it predicts (see _predict_rows).
    other_train = len(bench.seen_classes)
    targets = _targets(bench, train_ids, bench.seen_classes, other_train)
    weights = np.ones(targets.shape, np.float32)
    model = _model(config, audio_tr.shape[-1]).to(device)
    try:  # one fused kernel per step: 4x cheaper than the per-parameter loop on CPU
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    except (RuntimeError, TypeError):
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    text_tr = torch.from_numpy(train_text).to(device)
    losses, selection, times = [], [], []
    best, best_epoch = -1.0, -1
    n = len(train_ids)
    for epoch in range(config.epochs):
        model.train()
        start, total = time.perf_counter(), 0.0
        order = torch.randperm(n, generator=generator).numpy()
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            scores = model(
                torch.from_numpy(audio_tr[idx]).to(device, non_blocking=True),
                torch.from_numpy(visual_tr[idx]).to(device, non_blocking=True),
                text_tr,
            )
            loss_all = torch.nn.functional.cross_entropy(
                scores.reshape(-1, scores.shape[-1]),
                torch.from_numpy(targets[idx]).to(device).reshape(-1),
                reduction="none",
            )
            w = torch.from_numpy(weights[idx]).to(device).reshape(-1)
            loss = (loss_all * w).sum() / w.sum().clamp_min(1.0)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        times.append(time.perf_counter() - start)
        losses.append(total / max(1, n))
        names = test_names if config.with_other else select_names
        rows = _predict_rows(
            model, audio_sel, visual_sel, test_text if config.with_other else select_text, config.with_other
        )
        predictions = predictions_from_rows(select, rows, names)
        if config.select_on == "published":
            result = published_criterion(bench, predictions, config.batch_size)
        else:
            # the val split has videos, so no metric of its total is None
            result = cast("dict[str, float]", score(predictions, bench, split="val").to_dict()["total"])
        selection.append(result)
        log(
            f"epoch {epoch + 1}/{config.epochs}: loss {losses[-1]:.4f}, "
            f"{config.select_on} avg {100 * result['avg']:.2f} "
            f"({times[-1]:.1f} s)"
        )
        if result["avg"] > best:  # strict: the first best epoch is kept, as released
            best, best_epoch = result["avg"], epoch
            with atomic_open(run / "model.pt", "wb") as handle:
                torch.save(
                    {
                        "state_dict": model.state_dict(),
                        "config": asdict(config),
                        "epoch": epoch,
                        "store": identity,
                        "dim": audio_tr.shape[-1],
                    },
                    handle,
                )
    atomic_write_json(run / "config.json", asdict(config))
    atomic_write_json(
        run / "log.json",
        {
            "losses": losses,
            "selection": selection,
            "best_epoch": best_epoch,
            "seconds_per_epoch": times,
            "store": identity,
        },
    )
    return FinetuneReport(run, losses, selection, best_epoch, times)


def load_run(run_dir: str | os.PathLike):
    import torch

    path = Path(run_dir) / "model.pt"
    if not path.exists():
        raise OvavebenchError(f"{run_dir}: no model.pt (run `ovavebench baseline finetune` first)")
    from ..errors import InputFileError

    what = "the model.pt of `ovavebench baseline finetune`"
    try:
        saved = torch.load(path, weights_only=True, map_location="cpu")  # never unpickle code from a file
        config = FinetuneConfig(**saved["config"])
        config.validate()
        model = _model(config, saved["dim"])
        model.load_state_dict(saved["state_dict"])
    except OvavebenchError as exc:
        raise InputFileError(path, f"{exc}; expected {what}") from None
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: whatever torch or pickle raise
        raise InputFileError(path, f"unreadable ({type(exc).__name__}: {str(exc)[:120]}); expected {what}") from None
    return model.eval(), config, saved


def predict(
    run_dir: str | os.PathLike, store_path: str | os.PathLike, benchmark: str | os.PathLike, split: str = "test"
) -> dict[str, list[str]]:
    """Predictions of a fine-tuned run for a split (all classes + ``other``)."""
    return predict_run(run_dir, store_path, benchmark, split)[0]


def predict_run(
    run_dir: str | os.PathLike, store_path: str | os.PathLike, benchmark: str | os.PathLike, split: str = "test"
) -> tuple[dict[str, list[str]], FinetuneConfig]:
    """:func:`predict`, and the run's config (for the predictions' meta), from one load of the run."""
    model, config, saved = load_run(run_dir)
    bench = load_benchmark(benchmark)
    videos = bench.split_videos(split)["vid_name"].tolist()
    with FeatureStore(store_path) as store:
        stored = {k: v for k, v in store.meta.items() if k in saved["store"]}
        if stored != saved["store"]:
            raise OvavebenchError(
                f"{store_path}: not the feature store {run_dir} was trained on (another model or preprocessing)"
            )
        names, text = _text_rows(store, bench.classes, config.with_other)
        audio, visual = store.get(videos)
    rows = _predict_rows(model, audio, visual, text, config.with_other)
    return predictions_from_rows(videos, rows, names), config
