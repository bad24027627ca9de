"""The AV-LLM row end to end on a tiny random Qwen2.5-Omni thinker with its real processor, on CPU: inputs,
generation, parsing, the predictions file, resuming, and `score`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovavebench.benchmark import load_benchmark
from ovavebench.cli import app

from .avllm_env import build_tiny_model, ensure_venv, run
from .cli_runner import CliRunner

runner = CliRunner()


@pytest.fixture(scope="module")
def avllm(demo_small, tmp_path_factory) -> tuple[Path, Path]:
    """The venv's python and a tiny model saved there with save_pretrained (processor included)."""
    python = ensure_venv()
    bench = load_benchmark(demo_small / "benchmark")
    model = build_tiny_model(python, tmp_path_factory.mktemp("avllm") / "tiny-omni", bench.classes)
    return python, model


def _cli(python: Path, demo: Path, out: Path, model: Path, *extra: str):
    return run(
        python,
        "-m",
        "ovavebench",
        "baseline",
        "avllm",
        "--media",
        str(demo / "build" / "media"),
        "--benchmark",
        str(demo / "benchmark"),
        "--split",
        "test",
        "--out",
        str(out),
        "--model",
        str(model),
        "--device",
        "cpu",
        *extra,
    )


@pytest.mark.slow
def test_every_frame_and_every_second_of_audio_reach_the_model(avllm, demo_small):
    python, model = avllm
    snippet = f"""
from pathlib import Path
from ovavebench.baselines.avllm import load_avllm, load_prompt, model_inputs, video_inputs
from ovavebench.media.clips import benchmark_videos
llm = load_avllm({str(model)!r}, "cpu")
videos, _, _ = benchmark_videos({str(demo_small / "build" / "media")!r}, {str(demo_small / "benchmark")!r})
loaded = [video_inputs(frames, wav) for _, frames, wav in videos[:2]]
prompt = load_prompt()
inputs = model_inputs(llm, [prompt.messages(["dog barking"], i, a) for i, a in loaded], [x[0] for x in loaded],
                      [x[1] for x in loaded])
tok = llm.processor.tokenizer
ids = inputs["input_ids"]
print("vision", [int((row == tok.convert_tokens_to_ids("<|vision_bos|>")).sum()) for row in ids])
print("audio", [int((row == tok.convert_tokens_to_ids("<|audio_bos|>")).sum()) for row in ids])
print("grids", inputs["image_grid_thw"].shape[0], "features", inputs["input_features"].shape[0])
print("seconds", [int(n) for n in inputs["feature_attention_mask"].sum(-1)])
"""
    result = run(python, "-c", snippet)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["vision"] == "[10, 10]" and lines["audio"] == "[10, 10]"
    assert lines["grids"] == "20 features 20"
    # each second's audio is one second: 100 Whisper frames of 10 ms, not the whole clip and not 30 s of padding
    assert json.loads(lines["seconds"]) == [100] * 20


@pytest.mark.slow
def test_the_whole_path_writes_predictions_that_score_and_resumes(avllm, demo_small, tmp_path):
    python, model = avllm
    out = tmp_path / "avllm.json"
    first = _cli(python, demo_small, out, model, "--batch-size", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "6 asked now, 0 from an earlier run" in first.stdout
    document = json.loads(out.read_text())
    test_ids = load_benchmark(demo_small / "benchmark").split_videos("test")["vid_name"].tolist()
    assert sorted(document["predictions"]) == sorted(test_ids)
    assert all(len(labels) == 10 for labels in document["predictions"].values())
    meta = document["meta"]
    assert (
        meta["config"] == "avllm.json"
        and meta["avllm"]["model"]["class"] == "Qwen2_5OmniThinkerForConditionalGeneration"
    )
    assert meta["avllm"]["unparsed_seconds"] <= 60 and len(meta["checkpoint_sha256"]) == 64
    answers = (tmp_path / "avllm.json.answers.jsonl").read_text().splitlines()
    assert len(answers) == 1 + len(test_ids)
    # a run killed after two answers, mid-line: the rerun asks only the others
    (tmp_path / "avllm.json.answers.jsonl").write_text("\n".join(answers[:3]) + '\n{"video_id": "x", "ans')
    again = _cli(python, demo_small, out, model)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{len(test_ids) - 2} asked now, 2 from an earlier run" in again.stdout
    scored = runner.invoke(app, ["score", str(out), "--benchmark", str(demo_small / "benchmark"), "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["total"]["videos"] == len(test_ids)


def test_bad_models_prompts_and_media_are_one_line_and_exit_2(demo_small, tmp_path):
    not_av = tmp_path / "bert"
    not_av.mkdir()
    (not_av / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 10}))
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"templates": {"mine": {"system": "s"}}}))
    base = [
        "baseline",
        "avllm",
        "--benchmark",
        str(demo_small / "benchmark"),
        "--out",
        str(tmp_path / "o.json"),
        "--device",
        "cpu",
    ]
    cases = [
        ([*base, "--media", str(demo_small / "build" / "media"), "--model", str(not_av), "--allow-missing"], "--model"),
        (
            [
                *base,
                "--media",
                str(demo_small / "build" / "media"),
                "--model",
                str(not_av),
                "--prompts",
                str(prompts),
                "--prompt",
                "mine",
            ],
            "expected exactly the keys",
        ),
        (
            [*base, "--media", str(demo_small / "build" / "media"), "--model", str(not_av), "--prompt", "haiku"],
            "no template 'haiku'",
        ),
        (
            [*base, "--media", str(demo_small / "build" / "media"), "--model", str(not_av), "--split", "train"],
            "--split must be test or val",
        ),
    ]
    for args, needle in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output, (args, result.output)
    assert not (tmp_path / "o.json").exists()


def test_every_input_is_checked_before_a_model_loads(demo_small, tmp_path):
    # `not_av` would fail at loading (a bert config): each case must fail earlier, on its own input, by name.
    not_av = tmp_path / "bert"
    not_av.mkdir()
    (not_av / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 10}))
    media, bench = demo_small / "build" / "media", demo_small / "benchmark"
    labels = next(bench.glob("*_anno.json"))
    answers = tmp_path / "old.json.answers.jsonl"
    answers.write_text("{not json\n")
    foreign = tmp_path / "notes.json"
    foreign.write_text('{"mine": 1}')
    base = ["baseline", "avllm", "--model", str(not_av), "--device", "cpu"]
    empty = tmp_path / "empty_media"
    empty.mkdir()
    ok = ["--media", str(media), "--benchmark", str(bench)]
    cases = [
        (["--media", str(tmp_path / "none"), "--benchmark", str(bench), "--out", str(tmp_path / "o.json")], "--media"),
        (
            ["--media", str(media), "--benchmark", str(tmp_path / "none"), "--out", str(tmp_path / "o.json")],
            "--benchmark",
        ),
        ([*ok, "--out", str(tmp_path / "o.json"), "--prompts", str(tmp_path / "none.json")], "--prompts"),
        (["--media", str(empty), "--benchmark", str(bench), "--out", str(tmp_path / "o.json")], "have no media there"),
        ([*ok, "--out", str(labels), "--allow-missing"], "is also the input --benchmark"),
        ([*ok, "--out", str(foreign), "--allow-missing"], "refusing to replace it"),
        ([*ok, "--out", str(tmp_path / "old.json"), "--allow-missing"], "old.json.answers.jsonl: not an answers file"),
        ([*ok, "--out", str(tmp_path / "o.json"), "--allow-missing", "--dtype", "fp8"], "--dtype"),
        ([*ok, "--out", str(tmp_path / "o.json"), "--allow-missing", "--layout", "weird"], "--layout"),
    ]
    before = {p: p.read_bytes() for p in (labels, answers, foreign)}
    for args, needle in cases:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "--model" not in lines[0], (args, result.output)
    assert {p: p.read_bytes() for p in before} == before and not (tmp_path / "o.json").exists()
    missing = runner.invoke(app, ["baseline", "avllm", *ok, "--out", str(tmp_path / "o.json"), "--model", "./nope"])
    assert missing.exit_code == 2 and "--model ./nope" in missing.output


def test_a_corrupt_frame_or_wav_is_named(tmp_path):
    import numpy as np
    import soundfile
    from PIL import Image

    from ovavebench.baselines.avllm.run import video_inputs
    from ovavebench.errors import InputFileError

    frames = []
    for k in range(10):
        frames.append(tmp_path / f"{k}.png")
        Image.new("RGB", (8, 6), (k, 0, 0)).save(frames[-1])
    wav = tmp_path / "audio.wav"
    soundfile.write(wav, np.zeros(160_000, np.int16), 16_000, subtype="PCM_16")
    images, audio = video_inputs(frames, wav)
    assert len(images) == 10 and [len(a) for a in audio] == [16_000] * 10
    good_png = frames[3].read_bytes()
    for damage in (good_png[: len(good_png) // 2], b"not a png at all"):
        frames[3].write_bytes(damage)
        with pytest.raises(InputFileError, match=r"3\.png: not a readable frame image"):
            video_inputs(frames, wav)
    frames[3].write_bytes(good_png)
    wav.write_bytes(wav.read_bytes()[:30])  # a cut header
    with pytest.raises(InputFileError, match=r"audio\.wav: not a readable WAV file"):
        video_inputs(frames, wav)
