"""Reference baselines on cached ImageBind features: training-free and fine-tuning.

Training-free (as the published code decides): per second, the audio class and
the visual class are the argmax of the cosine similarity with the class-name
embeddings (+ ``other``); a second is an event when they agree; the video's class
is the one agreed in its first agreeing second, every agreeing second gets it,
every other second is background, and a video whose class is ``other`` is all
background.

Fine-tuning: per modality a stack of temporal Transformer blocks over the 10
seconds (published defaults: 1 block, width 1024, attention width 256, FFN 512,
1 head, dropout 0.1), scores S_av = sqrt(relu(cos(a,t)·cos(v,t))) min-max
normalised over the classes per second, cross-entropy per second (background =
``other``), Adam 5e-5, batch 32, 5 epochs, gradient clipping 0.8, the epoch
chosen on the validation split.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .benchmark import Benchmark, load_benchmark, read_meta
from .errors import OvavebenchError
from .features import FeatureStore
from .io import atomic_open, atomic_write_json
from .taxonomy import BACKGROUND, OTHER

FUSIONS = ("sqrt", "prob-avg", "fea-avg")
TEMPORAL = ("transformer", "linear")


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)


def _text_rows(store: FeatureStore, classes: Sequence[str], with_other: bool,
               audio_side: bool = False) -> tuple[list[str], np.ndarray]:
    names, text = store.text_audio() if audio_side else store.text()
    index = {n: i for i, n in enumerate(names)}
    missing = [c for c in classes if c not in index]
    if missing:
        raise OvavebenchError(f"{store.path}: no text embedding for {', '.join(missing[:5])} (extract with this benchmark)")
    wanted = list(classes) + ([OTHER] if with_other else [])
    return wanted, text[[index[c] for c in wanted]]


# --------------------------------------------------------------------------- training-free


def zero_shot_rows(audio: np.ndarray, visual: np.ndarray, text: np.ndarray, other_row: int | None,
                   text_audio: np.ndarray | None = None) -> np.ndarray:
    """Per-second predicted rows [N, 10] (-1 = background) by the published training-free rule.

    ``text_audio``: the class names in the audio encoder's own space, for two-space encoders
    (CLIP & CLAP); by default the audio is compared with ``text`` (ImageBind's joint space).
    """
    t = _normalise(text)
    t_audio = t if text_audio is None else _normalise(text_audio)
    audio_class = (_normalise(audio) @ t_audio.T).argmax(-1)  # [N, 10]
    visual_class = (_normalise(visual) @ t.T).argmax(-1)
    agree = audio_class == visual_class
    first = agree.argmax(axis=1)  # first agreeing second (0 if none: masked below)
    video_class = np.where(agree.any(axis=1), audio_class[np.arange(len(agree)), first], -1)
    rows = np.where(agree, video_class[:, None], -1)
    if other_row is not None:
        rows[video_class == other_row] = -1  # the video's class is `other`: all background
    return rows


def predictions_from_rows(video_ids: Sequence[str], rows: np.ndarray, names: Sequence[str]) -> dict[str, list[str]]:
    """Row indices (−1 or ``other`` = background) → the JSON ``ovavebench score`` reads."""
    labels = np.array([n if n != OTHER else BACKGROUND for n in names] + [BACKGROUND], dtype=object)
    return {v: labels[r].tolist() for v, r in zip(video_ids, rows)}


def zero_shot(store_path: str | os.PathLike, benchmark: str | os.PathLike | Benchmark, split: str = "test",
              with_other: bool = True) -> dict[str, list[str]]:
    """Training-free predictions for a split (``with_other=False``: the paper's Table-3 variant)."""
    bench = benchmark if isinstance(benchmark, Benchmark) else load_benchmark(benchmark)
    videos = bench.split_videos(split)["vid_name"].tolist()
    with FeatureStore(store_path) as store:
        names, text = _text_rows(store, bench.classes, with_other)
        _, text_audio = _text_rows(store, bench.classes, with_other, audio_side=True)
        audio, visual = store.get(videos)
    rows = zero_shot_rows(audio, visual, text, len(bench.classes) if with_other else None, text_audio)
    return predictions_from_rows(videos, rows, names)


# --------------------------------------------------------------------------- fine-tuning


@dataclass
class FinetuneConfig:
    temporal: str = "transformer"  # or "linear" (Table 5)
    layers: int = 1
    width: int = 1024  # in and out (the embedding size)
    attn_width: int = 256
    ffn_width: int = 512
    heads: int = 1
    dropout: float = 0.1
    fusion: str = "sqrt"  # or "prob-avg", "fea-avg" (Table 4)
    with_other: bool = True  # False: Table 3's variant
    lr: float = 5e-5
    batch_size: int = 32
    epochs: int = 5
    grad_clip: float = 0.8
    seed: int = 0
    select_on: str = "val"  # the published script selects on "test"
    train_subset: float | None = None  # Table 6: a ratio whose <prefix>_trainratio{r}_meta.csv is in the benchmark

    def validate(self) -> None:
        """Refuse values no run could use (a config file bypasses the CLI's option checks)."""
        ranges = {"layers": (int, 1, 64), "width": (int, 1, 1 << 16), "attn_width": (int, 1, 1 << 16),
                  "ffn_width": (int, 1, 1 << 16), "heads": (int, 1, 1024), "batch_size": (int, 1, 1 << 16),
                  "epochs": (int, 1, 10_000), "seed": (int, 0, 2**32 - 1), "dropout": (float, 0.0, 0.999),
                  "lr": (float, 1e-12, 10.0), "grad_clip": (float, 1e-12, 1e6)}
        for name, (kind, low, high) in ranges.items():
            value = getattr(self, name)
            ok_type = type(value) is int if kind is int else type(value) in (int, float)
            if not ok_type or not low <= value <= high:
                raise OvavebenchError(f"{name} must be {'an integer' if kind is int else 'a number'} in [{low:g}, {high:g}], got {value!r}")
        if type(self.with_other) is not bool:
            raise OvavebenchError(f"with_other must be true or false, got {self.with_other!r}")
        if self.train_subset is not None and (type(self.train_subset) not in (int, float) or not 0 < self.train_subset < 1):
            raise OvavebenchError(f"train_subset must be a ratio in (0, 1) or null, got {self.train_subset!r}")
        for name in ("temporal", "fusion", "select_on"):
            if not isinstance(getattr(self, name), str):
                raise OvavebenchError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.width % self.heads or self.attn_width % self.heads:
            raise OvavebenchError(f"heads ({self.heads}) must divide width ({self.width}) and attn_width ({self.attn_width})")
        if self.temporal not in TEMPORAL:
            raise OvavebenchError(f"--temporal must be one of {', '.join(TEMPORAL)}, got {self.temporal!r}")
        if self.fusion not in FUSIONS:
            raise OvavebenchError(f"--fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.select_on not in ("val", "test"):
            raise OvavebenchError(f"--select-on must be val or test, got {self.select_on!r}")


class DropoutMasks:
    """Dropout masks drawn from one seeded PCG64 stream: 16 random bits per element.

    ``torch.bernoulli_`` costs ~3 ms per 320x1024 mask on this CPU, a quarter of
    a training step; four 16-bit draws per raw 64-bit number cost ~0.4 ms. An
    element is dropped with probability round(p * 65536) / 65536 (0.100006 for
    p = 0.1). The stream is seeded from the run's seed, so training stays
    deterministic for a seed.
    """

    def __init__(self, p: float, seed: int) -> None:
        self.p = p
        self._rng = np.random.Generator(np.random.PCG64(seed))
        # int16 draws are uniform on [-32768, 32767]; keep those at or above the threshold.
        self._threshold = int(round(p * 65536)) - 32768
        self._scale = 1.0 / (1.0 - p) if p < 1 else 0.0

    def __call__(self, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
        import torch

        count = int(np.prod(shape))
        bits = self._rng.bit_generator.random_raw((count + 3) // 4).view(np.int16)[:count].reshape(shape)
        keep = torch.from_numpy(bits.copy()).ge_(self._threshold)
        return keep.to(torch.float32).mul_(self._scale)


def _normed_projection():  # type: ignore[no-untyped-def]
    import torch

    class NormedProjection(torch.autograd.Function):
        """``(x_hat * gamma + beta) @ weight.T + bias`` for a frozen ``x_hat`` (the cached features).

        Autograd would form d(x_hat * gamma + beta) = grad @ weight (tokens x 768 x 1024
        multiply-adds) only to reduce it to the gradients of gamma and beta; both follow
        from G = grad.T @ x_hat, which the weight gradient needs anyway:
        d weight = G * gamma + colsum(grad) beta^T, d gamma = colsum(G * weight),
        d beta = colsum(grad) @ weight. One matrix product in four saved per step.
        """

        @staticmethod
        def forward(ctx, x_hat, gamma, beta, weight, bias):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x_hat, gamma, beta, weight)
            flat = torch.addcmul(beta, x_hat, gamma).reshape(-1, x_hat.shape[-1])
            return torch.addmm(bias, flat, weight.t()).reshape(*x_hat.shape[:-1], weight.shape[0])

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            x_hat, gamma, beta, weight = ctx.saved_tensors
            grad = grad.reshape(-1, weight.shape[0])
            g = grad.t() @ x_hat.reshape(-1, x_hat.shape[-1])  # [out, in]
            column = grad.sum(0)
            grad_weight = torch.addr(g * gamma, column, beta)
            return None, (g * weight).sum(0), column @ weight, grad_weight, column

    return NormedProjection


def _model(config: FinetuneConfig, dim: int):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn
    from torch.nn import functional as F

    normed_projection = _normed_projection()

    class TemporalBlock(nn.Module):
        """A standard pre-norm Transformer encoder block with a narrower attention.

        Written out (not ``nn.TransformerEncoderLayer``) for the training speed:
        q, k and v in one matrix product, attention over the 10 seconds as two
        batched products, dropout masks from :class:`DropoutMasks`, and, on the
        frozen input of the first block, :func:`_normed_projection`'s cheaper
        gradient. The same function as the textbook block (tested against it).
        """

        def __init__(self) -> None:
            super().__init__()
            self.norm_1, self.norm_2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.q, self.k, self.v = (nn.Linear(dim, config.attn_width) for _ in range(3))
            self.out = nn.Linear(config.attn_width, dim)
            # A Sequential only for the parameter names checkpoints use (ffn.0, ffn.3); forward calls its layers.
            self.ffn = nn.Sequential(nn.Linear(dim, config.ffn_width), nn.GELU(), nn.Dropout(config.dropout),
                                     nn.Linear(config.ffn_width, dim))
            self.masks: DropoutMasks | None = None  # set by Temporal; None: torch's own dropout

        def _dropout(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training or config.dropout == 0:
                return x
            if self.masks is None:
                return F.dropout(x, config.dropout)
            return x * self.masks(tuple(x.shape))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape
            weight = torch.cat([self.q.weight, self.k.weight, self.v.weight])
            bias = torch.cat([self.q.bias, self.k.bias, self.v.bias])
            if x.requires_grad:  # a later block: the textbook gradient
                qkv = F.linear(self.norm_1(x), weight, bias)
            else:
                x_hat = F.layer_norm(x, (dim,), eps=self.norm_1.eps)
                qkv = normed_projection.apply(x_hat, self.norm_1.weight, self.norm_1.bias, weight, bias)
            heads = config.heads
            q, k, v = (z.reshape(b, t, heads, -1).transpose(1, 2).reshape(b * heads, t, -1)
                       for z in qkv.split(config.attn_width, dim=-1))
            attention = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * (q.shape[-1] ** -0.5), dim=-1)
            mixed = torch.bmm(self._dropout(attention), v)
            mixed = mixed.reshape(b, heads, t, -1).transpose(1, 2).reshape(b, t, -1)
            x = x + self._dropout(self.out(mixed))
            hidden = self._dropout(F.gelu(self.ffn[0](self.norm_2(x))))
            return x + self._dropout(self.ffn[3](hidden))

    def tower() -> nn.Module:
        if config.temporal == "linear":
            return nn.Sequential(*[nn.Linear(dim, dim) for _ in range(config.layers)])
        return nn.Sequential(*[TemporalBlock() for _ in range(config.layers)])

    class Temporal(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.audio, self.visual = tower(), tower()  # separate weights per modality

        def use_masks(self, masks: DropoutMasks) -> None:
            """Draw every dropout mask from ``masks`` (one seeded stream for the run)."""
            for block in self.modules():
                if isinstance(block, TemporalBlock):
                    block.masks = masks

        def forward(self, audio: torch.Tensor, visual: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
            return av_scores(self.audio(audio), self.visual(visual), text, config.fusion)

    return Temporal()


def av_scores(audio, visual, text, fusion: str):  # type: ignore[no-untyped-def]
    """Per-second class scores [B, 10, K], min-max normalised over the classes (as published)."""
    import torch.nn.functional as F

    t = F.normalize(text, dim=-1)
    if fusion == "fea-avg":
        score = F.normalize((F.normalize(audio, dim=-1) + F.normalize(visual, dim=-1)) / 2, dim=-1) @ t.T
    else:
        ca, cv = F.normalize(audio, dim=-1) @ t.T, F.normalize(visual, dim=-1) @ t.T
        score = (F.relu(ca * cv) + 1e-12).sqrt() if fusion == "sqrt" else (ca + cv) / 2
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


def _predict_rows(model, audio: np.ndarray, visual: np.ndarray, text: np.ndarray, batch: int = 256) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    model.eval()
    rows = []
    with torch.no_grad():
        t = torch.from_numpy(text)
        for i in range(0, len(audio), batch):
            scores = model(torch.from_numpy(audio[i:i + batch]), torch.from_numpy(visual[i:i + batch]), t)
            rows.append(scores.argmax(-1).numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 10), np.int64)


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


def finetune(store_path: str | os.PathLike, benchmark: str | os.PathLike, run_dir: str | os.PathLike,
             config: FinetuneConfig = FinetuneConfig(), log: Callable[[str], None] = lambda _: None) -> FinetuneReport:
    """Train the temporal layers on the seen classes; keep the epoch best on ``config.select_on``."""
    import torch

    from .scoring import score

    config.validate()
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    bench = load_benchmark(benchmark)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    with FeatureStore(store_path) as store:
        if store.encoder != "imagebind":
            raise OvavebenchError(f"{store_path}: a {store.encoder} store; the fine-tuning rows of the paper are "
                                  "ImageBind's (one joint space): extract with --encoder imagebind")
        train_names, train_text = _text_rows(store, bench.seen_classes, config.with_other)
        test_names, test_text = _text_rows(store, bench.classes, config.with_other)
        train_ids = _train_ids(bench, config)
        audio_tr, visual_tr = store.get(train_ids)
        select = bench.split_videos(config.select_on)["vid_name"].tolist()
        audio_sel, visual_sel = store.get(select)
        identity = {k: v for k, v in store.meta.items() if k in ("checkpoint_sha256", "preprocessing", "model_config")}
    other_train = len(bench.seen_classes) if config.with_other else -1
    targets = _targets(bench, train_ids, bench.seen_classes, other_train)
    # Without `other` a background second has no class to learn: train on event seconds only.
    weights = (targets >= 0).astype(np.float32)
    targets = np.where(targets >= 0, targets, 0)
    model = _model(config, audio_tr.shape[-1])
    model.use_masks(DropoutMasks(config.dropout, config.seed))
    try:  # one fused kernel per step: 4x cheaper than the per-parameter loop on CPU
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    except (RuntimeError, TypeError):
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    text_tr = torch.from_numpy(train_text)
    losses, selection, times = [], [], []
    best, best_epoch = -1.0, -1
    n = len(train_ids)
    for epoch in range(config.epochs):
        model.train()
        start, total = time.perf_counter(), 0.0
        order = torch.randperm(n, generator=generator).numpy()
        for i in range(0, n, config.batch_size):
            idx = order[i:i + config.batch_size]
            scores = model(torch.from_numpy(audio_tr[idx]), torch.from_numpy(visual_tr[idx]), text_tr)
            loss_all = torch.nn.functional.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                                                         torch.from_numpy(targets[idx]).reshape(-1), reduction="none")
            w = torch.from_numpy(weights[idx]).reshape(-1)
            loss = (loss_all * w).sum() / w.sum().clamp_min(1.0)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        times.append(time.perf_counter() - start)
        losses.append(total / max(1, n))
        rows = _predict_rows(model, audio_sel, visual_sel, test_text)
        result = score(predictions_from_rows(select, rows, test_names), bench, split=config.select_on).to_dict()["total"]
        selection.append(result)
        log(f"epoch {epoch + 1}/{config.epochs}: loss {losses[-1]:.4f}, {config.select_on} avg {100 * result['avg']:.2f} "
            f"({times[-1]:.1f} s)")
        if result["avg"] > best:
            best, best_epoch = result["avg"], epoch
            with atomic_open(run / "model.pt", "wb") as handle:
                torch.save({"state_dict": model.state_dict(), "config": asdict(config), "epoch": epoch,
                            "store": identity, "dim": audio_tr.shape[-1]}, handle)
    atomic_write_json(run / "config.json", asdict(config))
    atomic_write_json(run / "log.json", {"losses": losses, "selection": selection, "best_epoch": best_epoch,
                                         "seconds_per_epoch": times, "store": identity})
    return FinetuneReport(run, losses, selection, best_epoch, times)


def load_run(run_dir: str | os.PathLike):  # type: ignore[no-untyped-def]
    import torch

    path = Path(run_dir) / "model.pt"
    if not path.exists():
        raise OvavebenchError(f"{run_dir}: no model.pt (run `ovavebench baseline finetune` first)")
    saved = torch.load(path, weights_only=False, map_location="cpu")
    config = FinetuneConfig(**saved["config"])
    model = _model(config, saved["dim"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), config, saved


def predict(run_dir: str | os.PathLike, store_path: str | os.PathLike, benchmark: str | os.PathLike,
            split: str = "test") -> dict[str, list[str]]:
    """Predictions of a fine-tuned run for a split (all classes + ``other``)."""
    model, config, saved = load_run(run_dir)
    bench = load_benchmark(benchmark)
    videos = bench.split_videos(split)["vid_name"].tolist()
    with FeatureStore(store_path) as store:
        stored = {k: v for k, v in store.meta.items() if k in saved["store"]}
        if stored != saved["store"]:
            raise OvavebenchError(f"{store_path}: not the feature store {run_dir} was trained on (another model or preprocessing)")
        names, text = _text_rows(store, bench.classes, config.with_other)
        audio, visual = store.get(videos)
    rows = _predict_rows(model, audio, visual, text)
    return predictions_from_rows(videos, rows, names)


def write_predictions(predictions: dict[str, list[str]], out: str | os.PathLike) -> None:
    atomic_write_json(out, predictions, indent=None)


__all__ = ["zero_shot", "zero_shot_rows", "finetune", "predict", "FinetuneConfig", "write_predictions"]
