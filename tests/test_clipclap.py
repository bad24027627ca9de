"""CLIP & CLAP features through transformers, and the official preprocessed download as input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from ovavebench.benchmark import REPLACED_IN_OFFICIAL_MEDIA
from ovavebench.build.job import availability_report
from ovavebench.features import FeatureStore
from ovavebench.features.clipclap import ClipClap, one_second_pieces

from .annotation_helpers import make_media
from .clipclap_helpers import save_tiny_clap, save_tiny_clip
from .helpers import tiny_benchmark, vid
from .test_fuzz_inputs import run_cli

CLASSES = ["dog barking", "cat purring"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, reference):
    root = tmp_path_factory.mktemp("hf")
    return (
        save_tiny_clip(root / "clip", reference / "imagebind" / "bpe_simple_vocab_16e6.txt.gz"),
        save_tiny_clap(root / "clap"),
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("clipclap")
    classes = {vid(i): CLASSES[i % 2] for i in range(6)}
    make_media(root / "media", classes)
    for i, youtube_id in enumerate(sorted(classes)):  # audible seconds: a tone per video
        t = np.arange(160_000) / 16_000
        soundfile.write(
            root / "media" / f"{youtube_id}_000000" / "audio.wav",
            (0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) * 32767).astype(np.int16),
            16_000,
        )
    bench = tiny_benchmark(
        root / "bench",
        [
            (v, ["train", "val", "test"][i % 3], c, i % 2 == 0, [1] * 10)
            for i, (v, c) in enumerate(sorted(classes.items()))
        ],
    )
    return root, bench, sorted(classes)


def test_clip_and_clap_load_from_save_pretrained_folders_and_embed_every_second(models, data, tmp_path):
    clip, clap = models
    root, bench, videos = data
    store_dir = tmp_path / "store"
    code, out, err = run_cli(
        "features",
        "extract",
        "--encoder",
        "clip-clap",
        "--clip-model",
        clip,
        "--clap-model",
        clap,
        "--media",
        root / "media",
        "--benchmark",
        bench,
        "--out",
        store_dir,
        "--device",
        "cpu",
        "--workers",
        "0",
        "--batch-size",
        "4",
    )
    assert code == 0, err
    assert "6 video(s) embedded" in out
    with FeatureStore(store_dir) as store:
        assert store.encoder == "clip-clap" and store.meta["clip_model"] == str(clip)
        assert len(store.meta["clip_sha256"]) == 64 and len(store.meta["clap_sha256"]) == 64
        audio, visual = store.get(videos)
        assert audio.shape == (6, 10, 24) and visual.shape == (6, 10, 16)  # two spaces, two widths
        names, text = store.text()
        _, text_audio = store.text_audio()
        assert (
            names == ["cat purring", "dog barking", "other"] and text.shape == (3, 16) and text_audio.shape == (3, 24)
        )
    # The stored vectors are the models' own, second by second (through the real loading path).
    pair = ClipClap.load(str(clip), str(clap))
    folder = root / "media" / f"{videos[1]}_000000"
    with torch.no_grad():
        frames = pair.embed_frames(pair.frame_inputs([folder / "frames" / f"{k}.png" for k in range(10)])).numpy()
        seconds = pair.embed_audio(pair.audio_inputs(folder / "audio.wav")).numpy()
    assert np.allclose(visual[1], frames, atol=1e-5) and np.allclose(audio[1], seconds, atol=1e-4)
    assert not np.allclose(seconds[0], seconds[1])  # each second embedded on its own

    predictions = tmp_path / "zs.json"
    code, out, err = run_cli(
        "baseline", "zero-shot", "--features", store_dir, "--benchmark", bench, "--split", "test", "--out", predictions
    )
    assert code == 0, err
    code, out, err = run_cli("score", predictions, "--benchmark", bench, "--split", "test", "--json")
    assert code == 0, err
    assert json.loads(out)["total"]["videos"] == 2

    # The store never mixes encoders, and the fine-tuning rows stay ImageBind's.
    ib = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "imagebind"
    code, _, err = run_cli(
        "features",
        "extract",
        "--media",
        root / "media",
        "--benchmark",
        bench,
        "--out",
        store_dir,
        "--checkpoint",
        ib / "small_checkpoint.pth",
        "--model-config",
        ib / "small_config.json",
        "--vocab",
        ib / "bpe_simple_vocab_16e6.txt.gz",
        "--device",
        "cpu",
        "--workers",
        "0",
    )
    assert code == 2 and "another encoder" in err and "never mix" in err
    code, _, err = run_cli(
        "baseline", "finetune", "--features", store_dir, "--benchmark", bench, "--out", tmp_path / "run"
    )
    assert code == 2 and "clip-clap store" in err


def test_clap_hears_each_second_at_its_own_rate(data):
    root, _, videos = data
    pieces = one_second_pieces(root / "media" / f"{videos[0]}_000000" / "audio.wav", 48_000)
    assert pieces.shape == (10, 48_000) and pieces.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(pieces[3]))
    assert abs(int(spectrum.argmax()) - 220) <= 1  # the 220 Hz tone of video 0, resampled, 1 Hz bins


def test_a_model_that_is_not_there_is_one_clear_error(data, tmp_path):
    root, bench, _ = data
    code, _, err = run_cli(
        "features",
        "extract",
        "--encoder",
        "clip-clap",
        "--clip-model",
        tmp_path / "nothing",
        "--clap-model",
        tmp_path / "nothing",
        "--media",
        root / "media",
        "--benchmark",
        bench,
        "--out",
        tmp_path / "store",
        "--device",
        "cpu",
    )
    assert code == 2 and "--clip-model" in err and len(err.strip().splitlines()) == 1


def _official_layout(root: Path, bench: Path, media: Path) -> Path:
    """The official preprocessed download's layout, from the toolkit's media (frames renamed as 1-based files)."""
    out = root / "official"
    meta = pd.read_csv(bench / "ovave_dataset_meta.csv")
    for row in meta.itertuples(index=False):
        frames = out / row.split / "video" / row.cls_name / row.vid_name
        frames.mkdir(parents=True)
        for k in range(10):
            shutil.copy(media / f"{row.vid_name}_000000" / "frames" / f"{k}.png", frames / f"{k + 1:05d}.png")
        (out / row.split / "audio" / row.cls_name).mkdir(parents=True, exist_ok=True)
        shutil.copy(
            media / f"{row.vid_name}_000000" / "audio.wav",
            out / row.split / "audio" / row.cls_name / f"{row.vid_name}.wav",
        )
    return out


def test_the_official_layout_goes_through_features_both_baselines_and_score(data, tmp_path, reference):
    root, bench, videos = data
    official = _official_layout(tmp_path, bench, root / "media")
    meta = pd.read_csv(bench / "ovave_dataset_meta.csv").set_index("vid_name")
    nine = videos[4]  # a video with 9 frames
    (official / meta.loc[nine, "split"] / "video" / meta.loc[nine, "cls_name"] / nine / "00010.png").unlink()
    mute = videos[1]  # a video without its wav
    (official / meta.loc[mute, "split"] / "audio" / meta.loc[mute, "cls_name"] / f"{mute}.wav").unlink()
    ib = reference / "imagebind"
    store = tmp_path / "store"
    code, out, err = run_cli(
        "features",
        "extract",
        "--layout",
        "official",
        "--media",
        official,
        "--benchmark",
        bench,
        "--out",
        store,
        "--checkpoint",
        ib / "small_checkpoint.pth",
        "--model-config",
        ib / "small_config.json",
        "--vocab",
        ib / "bpe_simple_vocab_16e6.txt.gz",
        "--device",
        "cpu",
        "--workers",
        "0",
    )
    assert code == 0, err
    assert "4 video(s) embedded" in out
    assert f"{nine}: 9 frame(s)" in err and f"{mute}: no audio" in err
    with FeatureStore(store) as opened:
        assert sorted(opened.video_ids) == sorted(set(videos) - {nine, mute})
    zero = tmp_path / "zs.json"
    # The videos left out are in the val split: predicting it names what is missing, in one line.
    code, _, err = run_cli(
        "baseline", "zero-shot", "--features", store, "--benchmark", bench, "--split", "val", "--out", zero
    )
    assert code == 2 and "not in the store" in err and len(err.strip().splitlines()) == 1
    test_ids = [v for v in videos if meta.loc[v, "split"] == "test"]
    assert set(test_ids) & {nine, mute} == set()
    code, _, err = run_cli(
        "baseline", "zero-shot", "--features", store, "--benchmark", bench, "--split", "test", "--out", zero
    )
    assert code == 0, err
    assert run_cli("score", zero, "--benchmark", bench, "--split", "test")[0] == 0
    run = tmp_path / "run"
    code, _, err = run_cli(
        "baseline",
        "finetune",
        "--features",
        store,
        "--benchmark",
        bench,
        "--out",
        run,
        "--epochs",
        "1",
        "--select-on",
        "published",
    )
    assert code == 0, err
    tuned = tmp_path / "ft.json"
    assert (
        run_cli(
            "baseline",
            "predict",
            "--run",
            run,
            "--features",
            store,
            "--benchmark",
            bench,
            "--split",
            "test",
            "--out",
            tuned,
        )[0]
        == 0
    )
    assert run_cli("score", tuned, "--benchmark", bench, "--split", "test")[0] == 0


def test_the_replaced_videos_are_the_ones_the_label_edits_fall_on(ovave_ref):
    meta = pd.read_csv(ovave_ref / "ovave_dataset_meta.csv").set_index("vid_name")
    replaced = {v for ids in REPLACED_IN_OFFICIAL_MEDIA.values() for v in ids}
    assert len(replaced) == 13
    assert all(meta.loc[v, "split"] == split for split, ids in REPLACED_IN_OFFICIAL_MEDIA.items() for v in ids)
    earlier = json.loads((ovave_ref / "ovavel_dataset_anno.json").read_text())
    released = json.loads((ovave_ref / "released_ovavel_dataset_anno.json").read_text())
    edited = {v for v in released if released[v]["label"] != earlier[v]["label"]}
    assert len(edited) == 12 and len(edited & replaced) == 11
    frame = meta.reset_index()
    frame["seen"] = frame["cls_type"] == "close"
    manifest = pd.DataFrame({"status": ["resolved"] * len(frame)})
    report = availability_report(frame, manifest, set(frame["vid_name"]), pd.DataFrame(columns=["error_class"]))
    assert report["replaced_in_official_media"] == sorted(replaced) and "issue #6" in report["replaced_note"]
