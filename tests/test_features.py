"""`ovavebench features` on CPU with the small fixture checkpoint (the huge model's path is the same code)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ovavebench.cli import app
from ovavebench.features import FeatureStore
from ovavebench.imagebind import ImageBind, preprocess_audio, preprocess_frames

from .annotation_helpers import make_media
from .cli_runner import CliRunner
from .helpers import tiny_benchmark, vid

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, reference):
    root = tmp_path_factory.mktemp("features")
    ib = reference / "imagebind"
    classes = {vid(i): ["dog barking", "cat purring"][i % 2] for i in range(6)}
    make_media(root / "media", classes)
    bench = tiny_benchmark(
        root / "bench",
        [
            (v, ["train", "val", "test"][i % 3], c, i % 2 == 0, [1] * 10)
            for i, (v, c) in enumerate(sorted(classes.items()))
        ],
    )
    args = [
        "--media",
        str(root / "media"),
        "--benchmark",
        str(bench),
        "--checkpoint",
        str(ib / "small_checkpoint.pth"),
        "--model-config",
        str(ib / "small_config.json"),
        "--vocab",
        str(ib / "bpe_simple_vocab_16e6.txt.gz"),
        "--device",
        "cpu",
        "--workers",
        "0",
    ]
    return root, bench, ib, sorted(classes), args


def test_extract_writes_per_second_embeddings_and_text(setup):
    root, bench, ib, videos, args = setup
    out = root / "store"
    result = runner.invoke(app, ["features", "extract", *args, "--out", str(out), "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "6 video(s) embedded, 0 already in the store" in result.stdout
    with FeatureStore(out) as store:
        assert store.video_ids == videos
        audio, visual = store.get(videos)
        assert audio.shape == (6, 10, 32) and visual.shape == (6, 10, 32)
        names, text = store.text()
        assert names == ["cat purring", "dog barking", "other"] and text.shape == (3, 32)
        info = store.info()
        assert info["checkpoint_sha256"] and info["preprocessing"] and info["embed_dim"] == 32
    # Nothing is ever written beside an input: the checkpoint's hash is remembered in the toolkit's cache.
    assert sorted(p.name for p in ib.iterdir() if p.name.startswith("small_checkpoint")) == ["small_checkpoint.pth"]
    assert list((Path(os.environ["OVAVEBENCH_CACHE"]) / "checksums").glob("*.sha256"))
    # The stored embeddings are the model's, second by second.
    model = ImageBind.from_checkpoint(ib / "small_checkpoint.pth", ib / "small_config.json")
    clip = root / "media" / f"{videos[0]}_000000"
    with torch.no_grad():
        expected_v = model.encode_vision(preprocess_frames([clip / "frames" / f"{k}.png" for k in range(10)]))
        expected_a = model.encode_audio(preprocess_audio(clip / "audio.wav"))
    assert np.allclose(visual[0], expected_v.numpy(), atol=1e-5) and np.allclose(
        audio[0], expected_a.numpy(), atol=1e-4
    )
    again = runner.invoke(app, ["features", "extract", *args, "--out", str(out)])
    assert "0 video(s) embedded, 6 already in the store" in again.stdout  # nothing recomputed
    info = runner.invoke(app, ["features", "info", str(out)])
    assert info.exit_code == 0 and "videos             6" in info.stdout


@pytest.mark.slow
def test_extract_resumes_after_a_kill(setup):
    root, bench, ib, videos, args = setup
    out = root / "killed"
    command = [sys.executable, "-m", "ovavebench", "features", "extract", *args, "--out", str(out), "--batch-size", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once some batches are stored, mid-way
        if (out / "store.sqlite").exists():
            with FeatureStore(out) as store:
                if len(store.video_ids) >= 2:
                    break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with FeatureStore(out) as store:
        partial = len(store.video_ids)
    assert 2 <= partial <= 6
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{6 - partial} video(s) embedded, {partial} already in the store" in result.stdout
    with FeatureStore(out) as store:
        assert store.video_ids == videos
        assert store.get(videos)[0].shape == (6, 10, 32)
    assert not list(out.glob("*.tmp"))


def test_a_store_refuses_another_model(setup):
    root, bench, ib, videos, args = setup
    out = root / "store-other"
    assert runner.invoke(app, ["features", "extract", *args, "--out", str(out)]).exit_code == 0
    with FeatureStore(out) as store:
        store.set_meta({"checkpoint_sha256": "0" * 64})
    result = runner.invoke(app, ["features", "extract", *args, "--out", str(out)])
    assert result.exit_code == 2 and "another checkpoint_sha256" in result.stderr


def test_youtube_id_matching_two_clip_folders_is_an_error(setup, tmp_path):
    root, bench, ib, videos, args = setup
    media = tmp_path / "media"
    shutil.copytree(root / "media", media)
    shutil.copytree(media / f"{videos[0]}_000000", media / f"{videos[0]}_000030")
    args = [a if a != str(root / "media") else str(media) for a in args]
    result = runner.invoke(app, ["features", "extract", *args, "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert f"{videos[0]}_000000" in result.stderr and f"{videos[0]}_000030" in result.stderr
