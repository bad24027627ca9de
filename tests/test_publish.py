"""Publishing: the demo's benchmark through Hugging Face datasets, WebDataset and Croissant, read back equal."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

from ovavebench.benchmark import load_benchmark
from ovavebench.cli import app
from ovavebench.media.layout import clip_dirs_by_youtube_id, resolve_clip_dir
from ovavebench.publish.webdataset import datasets_features

from .cli_runner import CliRunner

runner = CliRunner()


def _files_of(demo: Path) -> dict[str, tuple[list[np.ndarray], np.ndarray, list[int], str]]:
    """Every obtained benchmark video: its frames' pixels, its samples, its labels, its split — from the files."""
    bench = load_benchmark(demo / "benchmark")
    index = clip_dirs_by_youtube_id(demo / "build" / "media")
    labels = bench.labels.index()
    out = {}
    for row in bench.meta.itertuples(index=False):
        folder = resolve_clip_dir(row.vid_name, index)
        assert folder is not None
        frames = [np.asarray(Image.open(folder / "frames" / f"{k}.png").convert("RGB")) for k in range(10)]
        samples, rate = soundfile.read(folder / "audio.wav", dtype="int16")
        assert rate == 16000
        out[row.vid_name] = (frames, samples, [int(x) for x in bench.labels.flags[labels[row.vid_name]]], row.split)
    return out


def _export(kind: str, demo: Path, out: Path, *extra: str) -> str:
    result = runner.invoke(
        app,
        [
            "export",
            kind,
            "--benchmark",
            str(demo / "benchmark"),
            "--media",
            str(demo / "build" / "media"),
            "--out",
            str(out),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def _same_video(expected, frames, audio_bytes, labels) -> None:
    want_frames, want_samples, want_labels, _ = expected
    assert labels == want_labels
    assert len(frames) == 10
    for got, want in zip(frames, want_frames, strict=True):
        np.testing.assert_array_equal(np.asarray(got.convert("RGB")), want)
    samples, rate = soundfile.read(io.BytesIO(audio_bytes), dtype="int16")
    assert rate == 16000
    np.testing.assert_array_equal(samples, want_samples)


def test_hf_export_reads_back_through_datasets_equal_to_the_files(demo_small, tmp_path):
    import datasets

    expected = _files_of(demo_small)
    out = tmp_path / "hf"
    _export("hf", demo_small, out)
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    counts = {split: sum(1 for e in expected.values() if e[3] == split) for split in ("train", "val", "test")}
    assert {split: loaded[split].num_rows for split in loaded} == {s: n for s, n in counts.items() if n}
    seen = 0
    for split in loaded:
        table = loaded[split].cast_column("audio", datasets.Audio(decode=False))  # audio decoding needs torchcodec
        for row in table:
            _same_video(expected[row["video_id"]], row["frames"], row["audio"]["bytes"], row["labels"])
            assert row["split"] == split
            seen += 1
    assert seen == len(expected)
    subset = datasets.load_dataset(str(out), "trainratio0.25", split="train", cache_dir=str(tmp_path / "hf-cache"))
    members = {v for v in expected if expected[v][3] == "train"}
    assert set(subset["video_id"]) <= members and all("0.25" in s for s in subset["train_subsets"])
    card = (out / "README.md").read_text()
    assert (
        card.startswith("---\n") and "config_name: trainratio0.25" in card and "@inproceedings{zhou2025towards" in card
    )
    assert "YouTube" in card and "How it was built" in card


def test_webdataset_shards_read_back_through_webdataset_and_datasets(demo_small, tmp_path):
    import datasets
    import webdataset as wds

    expected = _files_of(demo_small)
    out = tmp_path / "wds"
    _export("webdataset", demo_small, out, "--shard-size", "1MB")
    tars = sorted(str(p) for p in out.glob("*.tar"))
    assert len(tars) > 3  # 1 MB shards: several per split
    got = 0
    for sample in wds.WebDataset(tars, shardshuffle=False, empty_check=False).decode("pil"):
        record = sample["json"]
        frames = [sample[f"{k}.png"] for k in range(10)]
        _same_video(expected[sample["__key__"]], frames, sample["wav"], record["labels"])
        assert record["split"] == expected[sample["__key__"]][3]
        got += 1
    assert got == len(expected)
    files = {split: sorted(str(p) for p in out.glob(f"{split}-*.tar")) for split in ("train", "val", "test")}
    # datasets' own "webdataset" builder; the wav as bytes (its Audio feature would need torchcodec to encode)
    loaded = datasets.load_dataset(
        "webdataset",
        data_files={s: f for s, f in files.items() if f},
        features=datasets_features(),
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert sum(loaded[s].num_rows for s in loaded) == len(expected)
    for split in loaded:
        for row in loaded[split]:
            _same_video(
                expected[row["__key__"]], [row[f"{k}.png"] for k in range(10)], row["wav"], row["json"]["labels"]
            )


def test_croissant_validates_and_its_records_equal_the_files(demo_small, tmp_path):
    import mlcroissant as mlc

    expected = _files_of(demo_small)
    out = tmp_path / "hf"
    _export("hf", demo_small, out)
    result = runner.invoke(app, ["export", "croissant", "--hf", str(out)])
    assert result.exit_code == 0, result.output
    dataset = mlc.Dataset(jsonld=str(out / "croissant.json"))  # raises on an invalid file
    assert not dataset.metadata.ctx.issues.errors
    records = list(dataset.records("videos"))
    assert len(records) == len(expected)
    for record in records:
        vid = record["videos/video_id"].decode()
        _same_video(expected[vid], record["videos/frames"], record["videos/audio"], record["videos/labels"])
        assert record["videos/split"].decode() == expected[vid][3]


def test_the_same_inputs_give_the_same_bytes_and_a_rerun_keeps_finished_shards(demo_small, tmp_path):
    for kind in ("hf", "webdataset"):
        a, b = tmp_path / f"{kind}-a", tmp_path / f"{kind}-b"
        _export(kind, demo_small, a)
        _export(kind, demo_small, b)
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        for name in files:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
        again = _export(kind, demo_small, a)
        assert "kept from an earlier run" in again and "(0 kept" not in again
    for folder in ("hf-a", "hf-b"):
        assert runner.invoke(app, ["export", "croissant", "--hf", str(tmp_path / folder)]).exit_code == 0
    assert (tmp_path / "hf-a" / "croissant.json").read_bytes() == (tmp_path / "hf-b" / "croissant.json").read_bytes()


def _damaged_copy(demo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "demo"
    shutil.copytree(demo / "benchmark", copy / "benchmark")
    shutil.copytree(demo / "build" / "media", copy / "build" / "media")
    return copy


def test_missing_media_is_named_and_allow_missing_publishes_it_as_absent(demo_small, tmp_path):
    import datasets

    demo = _damaged_copy(demo_small, tmp_path)
    gone = sorted((demo / "build" / "media").glob("*_*"))[0]
    shutil.rmtree(gone)
    video = gone.name.rsplit("_", 1)[0]
    out = tmp_path / "hf"
    result = runner.invoke(
        app,
        [
            "export",
            "hf",
            "--benchmark",
            str(demo / "benchmark"),
            "--media",
            str(demo / "build" / "media"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2 and video in result.output and "--allow-missing" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    _export("hf", demo, out, "--allow-missing")
    assert "1 video(s) have no media" in (out / "README.md").read_text()
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    row = next(
        r
        for split in loaded
        for r in loaded[split].cast_column("audio", datasets.Audio(decode=False))
        if r["video_id"] == video
    )
    assert row["frames"] == [None] * 10 and row["audio"] is None and len(row["labels"]) == 10
    others = [
        r
        for split in loaded
        for r in loaded[split].cast_column("audio", datasets.Audio(decode=False))
        if r["video_id"] != video
    ]
    assert all(None not in r["frames"] and r["audio"] is not None for r in others)


def test_bad_inputs_are_one_line_exit_2_and_nothing_is_destroyed(demo_small, tmp_path):
    demo = _damaged_copy(demo_small, tmp_path)
    frame = sorted((demo / "build" / "media").glob("*_*/frames/3.png"))[0]
    frame.write_bytes(frame.read_bytes()[:40])  # truncated
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "thesis.tex").write_text("mine")
    cases = [
        (["export", "hf", "--out", str(tmp_path / "x")], str(frame)),
        (["export", "webdataset", "--out", str(tmp_path / "y")], "not a decodable PNG"),
        (["export", "hf", "--out", str(occupied)], "did not make"),
        (["export", "webdataset", "--out", str(occupied), "--shard-size", "lots"], "--shard-size"),
    ]
    for args, needle in cases:
        result = runner.invoke(
            app, [*args, "--benchmark", str(demo / "benchmark"), "--media", str(demo / "build" / "media")]
        )
        assert result.exit_code == 2, (args, result.output)
        # the progress bar may have drawn the shards before the damaged one; the error is one line after it
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("error:") and needle in errors[0], (args, result.stderr)
        assert "Traceback" not in result.output and "Exception" not in result.output
    assert (
        sorted(p.name for p in occupied.iterdir()) == ["thesis.tex"] and (occupied / "thesis.tex").read_text() == "mine"
    )
    croissant = runner.invoke(app, ["export", "croissant", "--hf", str(occupied)])
    assert croissant.exit_code == 2 and "not a finished `ovavebench export hf` folder" in croissant.output
    assert sorted(p.name for p in occupied.iterdir()) == ["thesis.tex"]
