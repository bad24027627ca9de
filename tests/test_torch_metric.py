"""OVAVELMetric: the reference parity cases through update/compute in random batches, in forward(), under DDP
(gloo, 2 processes, uneven shards), equal to `score` to 1e-9; bad arguments are one ValueError naming them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")

from ovavebench.benchmark import load_benchmark  # noqa: E402
from ovavebench.scoring import encode_predictions, read_predictions, score, split_truth  # noqa: E402
from ovavebench.torch import OVAVELMetric  # noqa: E402

CASES = [("test_exact_0", "test"), ("test_noisy_1", "test"), ("val_shifted_2", "val")]
KEYS = ("acc", "seg_f1", "eve_f1", "avg")


@pytest.fixture(scope="module")
def bench(ovave_ref):
    return load_benchmark(ovave_ref)


def _arrays(reference: Path, bench, name: str, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pred rows [N, 10], flags [N, 10], class [N]) of a parity case, as a training loop would hold them."""
    truth = split_truth(bench, split)
    data, source = read_predictions(reference / "scoring" / f"{name}.predictions.json")
    pred, _, _ = encode_predictions(data, truth.video_ids, bench.classes, source)
    return np.array(pred), truth.flags.astype(np.int64), np.array(truth.true_class)


def _assert_equal(got: dict, expected: dict) -> None:
    for group in ("seen", "unseen", "total"):
        for key in KEYS:
            assert got[group][key] == pytest.approx(expected[group][key], abs=1e-9, rel=0, nan_ok=True), (group, key)


def _feed(metric: OVAVELMetric, pred, flags, cls, rng: np.random.Generator, order: np.ndarray) -> None:
    start = 0
    while start < len(order):
        size = int(rng.integers(1, 300))
        rows = order[start : start + size]
        metric.update(torch.from_numpy(pred[rows]), torch.from_numpy(flags[rows]), torch.from_numpy(cls[rows]))
        start += size


@pytest.mark.parametrize("name,split", CASES)
def test_random_batches_equal_score_and_the_published_code(reference, bench, name, split):
    pred, flags, cls = _arrays(reference, bench, name, split)
    expected = json.loads((reference / "scoring" / f"{name}.expected.json").read_text())
    scored = score(reference / "scoring" / f"{name}.predictions.json", bench, split=split).to_dict()
    rng = np.random.default_rng(len(name))
    for trial in range(3):
        metric = OVAVELMetric(benchmark=bench)
        order = rng.permutation(len(pred)) if trial else np.arange(len(pred))
        _feed(metric, pred, flags, cls, rng, order)
        got = metric.compute()
        _assert_equal(got, expected)
        _assert_equal(got, scored)
        assert int(metric.videos.sum()) == expected["total"]["videos"]
        assert int(metric.videos[0]) == expected["seen"]["videos"]


def test_classes_in_index_order_and_background_is_their_count(bench, ovave_ref):
    metric = OVAVELMetric(benchmark=ovave_ref)  # a path works as well as a loaded benchmark
    assert metric.classes == bench.classes and len(metric.classes) == 67 == metric.background
    assert metric.classes == sorted(metric.classes)
    assert len(metric.seen_classes) == 46 and set(metric.seen_classes) <= set(metric.classes)


def test_scores_take_the_argmax_and_forward_returns_the_batch(reference, bench):
    pred, flags, cls = _arrays(reference, bench, "test_noisy_1", "test")
    expected = json.loads((reference / "scoring" / "test_noisy_1.expected.json").read_text())
    rng = np.random.default_rng(7)
    scores = rng.random((len(pred), 10, 68)).astype(np.float32)
    np.put_along_axis(scores, pred[..., None], 2.0, axis=-1)  # the predicted row is the maximum
    metric = OVAVELMetric(benchmark=bench)
    first = metric(torch.from_numpy(scores[:100]), torch.from_numpy(flags[:100]), torch.from_numpy(cls[:100]))
    alone = OVAVELMetric(benchmark=bench)
    alone.update(torch.from_numpy(pred[:100]), torch.from_numpy(flags[:100]), torch.from_numpy(cls[:100]))
    _assert_equal(first, alone.compute())  # forward: this batch's numbers
    metric(torch.from_numpy(scores[100:]), torch.from_numpy(flags[100:]).bool(), torch.from_numpy(cls[100:]))
    _assert_equal(metric.compute(), expected)  # ... and the state accumulates all of them


def test_a_group_without_videos_is_nan_and_reset_empties(reference, bench):
    pred, flags, cls = _arrays(reference, bench, "test_exact_0", "test")
    seen = np.isin(cls, [bench.classes.index(c) for c in bench.seen_classes])
    metric = OVAVELMetric(benchmark=bench)
    metric.update(torch.from_numpy(pred[seen]), torch.from_numpy(flags[seen]), torch.from_numpy(cls[seen]))
    got = metric.compute()
    assert got["seen"] == got["total"] and all(np.isnan(v) for v in got["unseen"].values())
    metric.reset()
    assert int(metric.videos.sum()) == 0


BAD = [
    ("preds", lambda p, t, c: (p.float(), t, c), "integer tensor"),
    ("preds", lambda p, t, c: (p[:, :9], t, c), "(B, 10) int64 class indices or (B, 10, 68) scores"),
    ("preds", lambda p, t, c: (torch.zeros(4, 10, 5), t, c), "(B, 10, 68) scores"),
    ("preds", lambda p, t, c: (torch.zeros(4, 10, 68, dtype=torch.int64), t, c), "must be floating point"),
    ("preds", lambda p, t, c: (p + 68, t, c), "class index 68 out of range; expected 0..67"),
    ("preds", lambda p, t, c: (p - 100, t, c), "out of range"),
    ("preds", lambda p, t, c: (p.numpy(), t, c), "expected a torch.Tensor"),
    ("target", lambda p, t, c: (p, t[:3], c), "expected shape (4, 10)"),
    ("target", lambda p, t, c: (p, t.float(), c), "integer or bool"),
    ("target", lambda p, t, c: (p, t * 2 + 1, c), "value 3; expected 0/1"),
    ("video_class", lambda p, t, c: (p, t, c[:, None]), "expected shape (4,)"),
    ("video_class", lambda p, t, c: (p, t, c.float()), "integer tensor"),
    ("video_class", lambda p, t, c: (p, t, c * 0 + 67), "class index 67 out of range; expected 0..66"),
]


@pytest.mark.parametrize("argument,damage,needle", BAD)
def test_bad_arguments_raise_one_value_error_naming_them(bench, argument, damage, needle):
    metric = OVAVELMetric(benchmark=bench)
    good = (torch.zeros(4, 10, dtype=torch.int64), torch.ones(4, 10, dtype=torch.int64), torch.arange(4))
    with pytest.raises(ValueError) as info:
        metric.update(*damage(*good))
    message = str(info.value)
    assert message.startswith(f"{argument}:") and needle in message and "\n" not in message, message
    assert int(metric.videos.sum()) == 0  # nothing half-added


def _ddp_worker(rank: int, world: int, init: str, shards: list, out: str, bench_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        metric = OVAVELMetric(benchmark=bench_dir)
        pred, flags, cls = shards[rank]
        rng = np.random.default_rng(rank)
        _feed(metric, pred, flags, cls, rng, np.arange(len(pred)))
        result = metric.compute()  # synced: both processes' sums
        Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize("name,split,cut", [("test_noisy_1", "test", 500), ("val_shifted_2", "val", 4321)])
def test_two_ddp_processes_with_uneven_shards_equal_score(reference, bench, ovave_ref, tmp_path, name, split, cut):
    import torch.multiprocessing as mp

    pred, flags, cls = _arrays(reference, bench, name, split)
    order = np.random.default_rng(3).permutation(len(pred))  # a DistributedSampler's shuffled, uneven shards
    shards = [(pred[rows], flags[rows], cls[rows]) for rows in (order[:cut], order[cut:])]
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_ddp_worker, args=(2, init, shards, str(tmp_path), str(ovave_ref)), nprocs=2, join=True)
    expected = json.loads((reference / "scoring" / f"{name}.expected.json").read_text())
    for rank in (0, 1):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        _assert_equal(got, expected)
