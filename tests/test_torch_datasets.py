"""ClipDataset reads both media layouts exactly (pixels and samples) in a DataLoader with 2 workers; a missing or
corrupt file is named in the worker's error; FeatureDataset serves a feature store's rows with their labels."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")
soundfile = pytest.importorskip("soundfile")
Image = pytest.importorskip("PIL.Image")

from torch.utils.data import DataLoader  # noqa: E402

from ovavebench.benchmark import load_benchmark, write_benchmark  # noqa: E402
from ovavebench.errors import OvavebenchError  # noqa: E402
from ovavebench.features.store import FeatureStore  # noqa: E402
from ovavebench.torch import ClipDataset, FeatureDataset, OVAVELMetric  # noqa: E402


@pytest.fixture(scope="module")
def tiny(ovave_ref, tmp_path_factory) -> dict:
    """A benchmark of 5 test videos (seen and unseen) and 2 train videos of the published one, and each video's
    frames (random pixels, a size of its own) and 16 kHz audio (random int16 samples; one file 9.5 s, one stereo)."""
    ref = load_benchmark(ovave_ref)
    meta = ref.meta
    picks = [
        *meta[(meta.split == "test") & meta.seen]["vid_name"].head(2),
        *meta[(meta.split == "test") & ~meta.seen]["vid_name"].head(3),
        *meta[meta.split == "train"]["vid_name"].head(2),
    ]
    subset = meta[meta["vid_name"].isin(picks)].copy()
    root = tmp_path_factory.mktemp("tiny")
    write_benchmark(root / "benchmark", subset, ref.labels, ref.classes, ref.seen_classes)
    rng = np.random.default_rng(0)
    media: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for i, vid in enumerate(subset["vid_name"]):
        frames = rng.integers(0, 256, size=(10, 12 + i, 16 + 2 * i, 3), dtype=np.uint8)
        length = 152_000 if i == 1 else 160_000
        pcm = rng.integers(-32768, 32767, size=(length, 2 if i == 2 else 1), dtype=np.int16)
        expected = np.zeros(160_000, np.float32)
        expected[:length] = (pcm.astype(np.float32) / 32768).mean(axis=1, dtype=np.float32)
        media[vid] = (frames, pcm, expected.reshape(10, 16_000))
    toolkit, official = root / "media-toolkit", root / "media-official"
    for row in subset.itertuples(index=False):
        frames, pcm, _ = media[str(row.vid_name)]
        clip = toolkit / f"{row.vid_name}_000030"
        (clip / "frames").mkdir(parents=True)
        frame_dir = official / row.split / "video" / row.cls_name / row.vid_name
        frame_dir.mkdir(parents=True)
        (official / row.split / "audio" / row.cls_name).mkdir(parents=True, exist_ok=True)
        for k in range(10):
            Image.fromarray(frames[k]).save(clip / "frames" / f"{k}.png")
            Image.fromarray(frames[k]).save(frame_dir / f"{row.vid_name}_{k + 1:02d}.png")
        soundfile.write(clip / "audio.wav", pcm, 16_000, subtype="PCM_16")
        soundfile.write(official / row.split / "audio" / row.cls_name / f"{row.vid_name}.wav", pcm, 16_000)
    bench = load_benchmark(root / "benchmark")
    return {"root": root, "bench": bench, "media": media, "toolkit": toolkit, "official": official}


def _by_id(loader: DataLoader) -> dict[str, dict]:
    items: dict[str, dict] = {}
    for batch in loader:
        for j, vid in enumerate(batch["video_id"]):
            items[vid] = {key: value[j] for key, value in batch.items() if key != "video_id"}
    return items


@pytest.mark.parametrize("layout", ["toolkit", "official"])
def test_both_layouts_read_exactly_in_a_dataloader_with_two_workers(tiny, layout):
    bench = tiny["bench"]
    dataset = ClipDataset(tiny[layout], benchmark=tiny["root"] / "benchmark", split="test", layout=layout)
    test_ids = bench.split_videos("test")["vid_name"].tolist()
    assert dataset.video_ids == test_ids and dataset.missing == [] and dataset.classes == bench.classes
    # videos differ in frame size, so batches of 1 (a user's collate would crop or pad)
    items = _by_id(DataLoader(dataset, batch_size=1, num_workers=2))
    assert sorted(items) == sorted(test_ids)
    class_index = {name: i for i, name in enumerate(bench.classes)}
    rows = bench.labels.index()
    for vid, item in items.items():
        frames, _, audio = tiny["media"][vid]
        assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (10, 3, *frames.shape[1:3])
        assert np.array_equal(item["frames"].numpy(), frames.transpose(0, 3, 1, 2))  # every pixel as stored
        assert item["audio"].dtype == torch.float32 and item["audio"].shape == (10, 16_000)
        assert np.array_equal(item["audio"].numpy(), audio)  # every sample (the 9.5 s file zero-padded)
        assert item["labels"].dtype == torch.int64
        assert item["labels"].tolist() == bench.labels.flags[rows[vid]].tolist()
        cls = bench.meta.set_index("vid_name").loc[vid, "cls_name"]
        assert int(item["class_index"]) == class_index[cls]


def test_items_feed_the_metric_and_transforms_apply(tiny):
    dataset = ClipDataset(
        tiny["toolkit"],
        benchmark=tiny["bench"],
        split="test",
        transform=lambda frames: frames[:, :, :8, :8].float() / 255,
        audio_transform=lambda audio: audio.mean(dim=1),
    )
    loader = DataLoader(dataset, batch_size=5, num_workers=0)
    batch = next(iter(loader))
    assert batch["frames"].shape == (5, 10, 3, 8, 8) and batch["frames"].dtype == torch.float32
    assert batch["audio"].shape == (5, 10)
    metric = OVAVELMetric(benchmark=tiny["bench"])
    truth_rows = torch.where(batch["labels"] == 1, batch["class_index"][:, None], len(metric.classes))
    metric.update(truth_rows, batch["labels"], batch["class_index"])  # the truth itself scores 1
    assert all(v == 1.0 for group in metric.compute().values() for v in group.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    "layout,damage",
    [
        ("toolkit", "corrupt_frame"),
        ("official", "missing_frame"),
        ("toolkit", "missing_audio"),
        ("official", "corrupt_audio"),
    ],
)
def test_a_missing_or_corrupt_file_is_named_in_the_workers_error(tiny, tmp_path, layout, damage):
    media = tmp_path / "media"
    shutil.copytree(tiny[layout], media)
    dataset = ClipDataset(media, benchmark=tiny["bench"], split="test", layout=layout)
    frames, wav = dataset.files(3)
    target = frames[4] if "frame" in damage else wav
    if damage.startswith("missing"):
        target.unlink()
    else:
        target.write_bytes(b"not a file of that kind" * 10)
    with pytest.raises(Exception) as info:
        list(DataLoader(dataset, batch_size=1, num_workers=2))
    assert str(target) in str(info.value), str(info.value)[-2000:]
    with pytest.raises(OvavebenchError, match=str(target).replace(".", r"\.")):
        dataset[3]  # in the main process: the toolkit's own error type, one line naming the file


@pytest.mark.slow
def test_videos_without_media_are_an_error_unless_allowed(tiny, tmp_path):
    media = tmp_path / "media"
    shutil.copytree(tiny["official"], media)
    bench = tiny["bench"]
    gone = bench.split_videos("test").iloc[0]
    shutil.rmtree(media / "test" / "video" / gone.cls_name / gone.vid_name)
    (media / "test" / "audio" / gone.cls_name / f"{gone.vid_name}.wav").unlink()
    with pytest.raises(OvavebenchError, match="1 of the 5 videos of the split have no media"):
        ClipDataset(media, benchmark=bench, split="test", layout="official")
    dataset = ClipDataset(media, benchmark=bench, split="test", layout="official", allow_missing=True)
    assert dataset.missing == [gone.vid_name] and len(dataset) == 4
    with pytest.raises(OvavebenchError, match="layout must be one of toolkit, official"):
        ClipDataset(media, benchmark=bench, layout="flat")


def test_feature_dataset_serves_the_stores_rows_in_a_dataloader_with_two_workers(tiny, tmp_path):
    bench = tiny["bench"]
    ids = bench.meta["vid_name"].tolist()
    rng = np.random.default_rng(1)
    audio = rng.standard_normal((len(ids), 10, 24)).astype(np.float32)
    visual = rng.standard_normal((len(ids), 10, 24)).astype(np.float32)
    with FeatureStore(tmp_path / "features", create=True) as store:
        store.add_batch(ids[:3], audio[:3], visual[:3])  # two shards, as two extraction batches write them
        store.add_batch(ids[3:], audio[3:], visual[3:])
        store.set_text([*bench.classes, "other"], rng.standard_normal((68, 24)).astype(np.float32))
    dataset = FeatureDataset(tmp_path / "features", benchmark=bench, split="train")
    train_ids = bench.split_videos("train")["vid_name"].tolist()
    assert dataset.video_ids == train_ids and dataset.encoder == "imagebind"
    assert dataset.text is not None and dataset.text.shape == (68, 24) and dataset.text_classes[-1] == "other"
    items = _by_id(DataLoader(dataset, batch_size=2, num_workers=2))
    rows = bench.labels.index()
    for vid, item in items.items():
        i = ids.index(vid)
        assert np.array_equal(item["audio"].numpy(), audio[i]) and np.array_equal(item["visual"].numpy(), visual[i])
        assert item["labels"].tolist() == bench.labels.flags[rows[vid]].tolist()
    test = FeatureDataset(tmp_path / "features", benchmark=bench, split="test")
    assert len(test) == 5
    with pytest.raises(OvavebenchError, match="not a feature store"):
        FeatureDataset(tmp_path, benchmark=bench)
    with FeatureStore(tmp_path / "partial", create=True) as store:
        store.add_batch(ids[:1], audio[:1], visual[:1])
    with pytest.raises(OvavebenchError, match="have no features"):
        FeatureDataset(tmp_path / "partial", benchmark=bench, split="test")
