"""The lmms-eval task: its documents are the benchmark's test videos, its chat is the AV-LLM row's prompt, its
parsing the row's, its numbers `score`'s; end to end through lmms-eval's own evaluator (``simple_evaluate`` with the
task folder as ``include_path``) on the tiny random Qwen2.5-Omni thinker, in lmms-eval's own venv
(tests/lmms_env.py says why it cannot share the suite's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ovavebench.baselines.avllm import load_prompt, parse_answer
from ovavebench.baselines.avllm.run import video_inputs
from ovavebench.benchmark import load_benchmark
from ovavebench.errors import OvavebenchError
from ovavebench.lmms import task_folder
from ovavebench.lmms.documents import METRIC_NAMES, doc_messages, doc_target, documents, parse_result, score_items
from ovavebench.lmms.documents import settings as task_settings
from ovavebench.scoring import score

from .avllm_env import build_tiny_model


def _paths(demo: Path) -> tuple[Path, Path]:
    return demo / "benchmark", demo / "build" / "media"


def test_the_documents_are_the_test_videos_and_the_chat_is_the_rows_prompt(demo_small):
    benchmark, media = _paths(demo_small)
    bench = load_benchmark(benchmark)
    docs = documents(benchmark, media)
    assert [d["video_id"] for d in docs] == bench.videos("test")
    doc = docs[0]
    assert doc["class_index"] == bench.classes.index(doc["class_name"]) and len(doc["frames"]) == 10
    messages = doc_messages(doc)
    images, audio = video_inputs([Path(p) for p in doc["frames"]], Path(doc["audio"]))
    row = load_prompt().messages(bench.classes, images, audio)  # what `ovavebench baseline avllm` asks
    assert [m["role"] for m in messages] == [m["role"] for m in row]
    for ours, theirs in zip(messages[1]["content"], row[1]["content"], strict=True):
        assert ours["type"] == theirs["type"]
        if ours["type"] == "text":
            assert ours["text"] == theirs["text"]
        elif ours["type"] == "image":
            assert ours["url"].tobytes() == theirs["image"].tobytes()
        else:
            assert (ours["url"] == theirs["audio"]).all() and len(ours["url"]) == 16_000
    assert sum(part["type"] == "image" for part in messages[1]["content"]) == 10


def test_parsing_and_scores_equal_score_on_the_same_answers(demo_small):
    benchmark, media = _paths(demo_small)
    docs = documents(benchmark, media)
    bench = load_benchmark(benchmark)
    answers = {d["video_id"]: doc_target(d) for d in docs}  # the truth, in the prompt's answer format
    answers[docs[0]["video_id"]] = "0: " + bench.classes[0] + "\n1: dog barking!!\n2: ???"  # partly unreadable
    items = [parse_result(d, [answers[d["video_id"]]]) for d in docs]
    assert set(items[0]) == {*METRIC_NAMES, "unparsed_seconds"} and items[0]["unparsed_seconds"] >= 8
    predictions = {d["video_id"]: parse_answer(answers[d["video_id"]], bench.classes).labels for d in docs}
    expected = score(predictions, bench, "test").to_dict()
    got = score_items([item["total_avg"] for item in items])
    assert got == expected
    assert got["total"]["videos"] == len(docs)


def test_settings_come_from_the_environment_in_one_line(demo_small, tmp_path):
    benchmark, media = _paths(demo_small)
    with pytest.raises(OvavebenchError, match=r"^\$OVAVEBENCH_BENCHMARK is not set"):
        task_settings({"OVAVEBENCH_MEDIA": str(media)})
    with pytest.raises(OvavebenchError, match="OVAVEBENCH_MEDIA=.*: no such folder"):
        task_settings({"OVAVEBENCH_BENCHMARK": str(benchmark), "OVAVEBENCH_MEDIA": str(tmp_path / "nope")})
    got = task_settings({"OVAVEBENCH_BENCHMARK": str(benchmark), "OVAVEBENCH_MEDIA": str(media)})
    assert got["layout"] == "toolkit" and got["prompt"] == "per-second" and got["allow_missing"] is False
    with pytest.raises(OvavebenchError, match="video.* of the test split have no media there"):
        documents(benchmark, tmp_path)


def test_the_task_folder_ships_the_yaml_lmms_eval_reads():
    config = (task_folder() / "ovavebench" / "ovavebench.yaml").read_text()

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: str(node.value))
    parsed = yaml.load(config, Loader=Loader)  # a safe loader that knows lmms-eval's one tag
    assert parsed["task"] == "ovavebench" and parsed["test_split"] == "test"
    assert [m["metric"] for m in parsed["metric_list"]][:12] == list(METRIC_NAMES)
    assert (task_folder() / "ovavebench" / "utils.py").exists()


EVALUATE = r"""
import json, sys
from lmms_eval.evaluator import simple_evaluate
from lmms_eval.tasks import TaskManager
from ovavebench.lmms import task_folder
from ovavebench.lmms.model import OvavebenchAvllm

model = OvavebenchAvllm(pretrained=sys.argv[1], device="cpu", dtype="fp32", batch_size=2)
manager = TaskManager(include_path=str(task_folder()))
out = simple_evaluate(model=model, tasks=["ovavebench"], task_manager=manager, log_samples=True, bootstrap_iters=0)
samples = [{"video_id": s["doc"]["video_id"], "answer": s["resps"][0][0]} for s in out["samples"]["ovavebench"]]
json.dump({"results": out["results"]["ovavebench"], "samples": samples}, open(sys.argv[2], "w"), default=str)
print("ok")
"""


@pytest.mark.slow
def test_lmms_eval_runs_the_task_end_to_end_and_its_numbers_equal_score(demo_small, tmp_path, tmp_path_factory):
    from .lmms_env import ensure_venv, run

    benchmark, media = _paths(demo_small)
    bench = load_benchmark(benchmark)
    python = ensure_venv()
    model = build_tiny_model(python, tmp_path_factory.mktemp("lmms") / "tiny-omni", bench.classes)
    out = tmp_path / "lmms.json"
    env_args = {"OVAVEBENCH_BENCHMARK": benchmark, "OVAVEBENCH_MEDIA": media}
    import os

    previous = {k: os.environ.get(k) for k in env_args}
    os.environ.update({k: str(v) for k, v in env_args.items()})
    try:
        result = run(python, "-c", EVALUATE, str(model), str(out), cwd=tmp_path)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert result.returncode == 0 and "ok" in result.stdout, (result.stdout[-3000:], result.stderr[-5000:])
    document = json.loads(out.read_text())
    answers = {s["video_id"]: s["answer"] for s in document["samples"]}
    assert sorted(answers) == sorted(bench.videos("test"))  # every test video was asked
    predictions = {vid: parse_answer(text, bench.classes).labels for vid, text in answers.items()}
    expected = score(predictions, bench, "test").to_dict()
    numbers = document["results"]
    for name in METRIC_NAMES:
        group, metric = name.split("_", 1)
        got = numbers[f"{name},none"]
        want = expected[group][metric]
        assert (got != got and want != want) or got == pytest.approx(want, abs=1e-12), (name, got, want)
