"""Seeded fuzzing of the scoring commands (`score` with --ci/--out/tables/plots, `score compare`, `results`,
`baseline avllm`'s inputs) through the real entry point, with an oracle stronger than "no traceback":

* the exit code is 0 or 2 (2: exactly one ``error:`` line), never 70 (an internal error);
* nothing outside the command's declared outputs changed: every file of the scratch tree (the inputs, the benchmark,
  files a user left there) is snapshotted before and compared after; a refused command (exit 2) changed nothing;
* every JSON a command printed or wrote is strict JSON (no NaN/Infinity).

Seeded (``derandomize``): CI runs the same inputs every time.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovavebench.cli import run
from ovavebench.cli.common import UsageProblem, floats

from .helpers import tiny_benchmark, vid
from .test_fuzz_inputs import _json_inputs, _json_values

FUZZ = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "ovavebench" / "baselines" / "published.json"
NUMBERS = [
    "0.95",
    "0.5",
    "0.999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1.5",
    "-0.1",
    "0",
    "x",
    "",
]
COUNTS = ["100", "150", "0", "-5", "99", "1e999", "nan", "100.5", "2000000", "x"]


def run_cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def check(code: int, err: str, before: dict[str, bytes], after: dict[str, bytes], outputs: set[str]) -> None:
    """The oracle: 0 or 2 (one error line), never an internal error; only declared outputs changed, and none on 2."""
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert not changed, f"a refused command changed {sorted(changed)}"
    else:
        assert changed <= outputs, f"changed outside its outputs: {sorted(changed - outputs)}"
    for name in changed & outputs:
        if name.endswith(".json") and name in after:
            strict(after[name].decode("utf-8"))


@contextlib.contextmanager
def scratch(base: dict):
    """A copy of the benchmark, the predictions and a few bystander files in a temp folder that is the cwd."""
    with tempfile.TemporaryDirectory(prefix="ovfuzz-score-") as folder, contextlib.chdir(folder):
        root = Path(folder)
        shutil.copytree(base["bench"], root / "bench")
        for name in ("pred.json", "pred2.json", "score.json"):
            shutil.copy(base[name], root / name)
        (root / "notes.md").write_text("# my notes\n")
        (root / "notes.json").write_text('{"mine": true}\n')
        (root / "media").mkdir()
        yield root


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzzscore")
    classes = ["dog barking", "race car", "playing piano", "baby laughter", "chicken crowing"]
    videos = []
    for i in range(12):
        cls, seen = (classes[i % 3], True) if i < 8 else (classes[3 + i % 2], False)
        videos.append((vid(i), "test" if i % 4 else "val", cls, seen, [int((i + k) % 3 == 0) for k in range(10)]))
    bench = tiny_benchmark(root / "bench", videos)
    truth = {v: [c if f else "background" for f in flags] for v, s, c, _, flags in videos if s == "test"}
    (root / "pred.json").write_text(json.dumps(truth))
    (root / "pred2.json").write_text(json.dumps({v: ["background"] * 10 for v in truth}))
    code, _, err = run_cli(
        "score", root / "pred.json", "--benchmark", bench, "--ci", "--bootstrap", 100, "--out", root / "score.json"
    )
    assert code == 0, err
    return {
        "bench": bench,
        "pred.json": root / "pred.json",
        "pred2.json": root / "pred2.json",
        "score.json": root / "score.json",
        "truth": truth,
    }


# A path option's value: new, missing, an input, a bystander, a folder.
OUT_CHOICES = ["new.json", "pred.json", "bench/released_ovave_dataset_anno.json", "notes.json", "media", "score.json"]
TABLE_CHOICES = [None, "t.csv", "pred.json", "notes.md", "t2.csv"]


@FUZZ
@given(data=st.data())
def test_fuzzed_score_options_keep_to_their_outputs(base, data):
    args: list[object] = ["score", "pred.json", "--benchmark", data.draw(st.sampled_from(["bench", "nobench"]))]
    outputs: set[str] = set()
    if data.draw(st.booleans()):
        args.append("--ci")
    for option, values in (
        ("--ci-method", ["percentile", "bca", "jackknife", ""]),
        ("--confidence", NUMBERS),
        ("--bootstrap", COUNTS),
        ("--seed", ["0", "-1", "4294967296", "nan", "7"]),
        ("--split", ["test", "val", "train", ""]),
    ):
        if data.draw(st.booleans()):
            args += [option, data.draw(st.sampled_from(values))]
    out = data.draw(st.sampled_from([None, *OUT_CHOICES]))
    if out:
        args += ["--out", out]
        outputs.add(out)
    for option in ("--per-class", "--per-group", "--per-length"):
        table = data.draw(st.sampled_from(TABLE_CHOICES))
        if table:
            args += [option, table]
            outputs.add(table)
    if data.draw(st.booleans()):
        args += ["--media", data.draw(st.sampled_from(["media", "nomedia", "pred.json"]))]
    if data.draw(st.booleans()):
        args += ["--json"]
    with scratch(base) as root:
        before = snapshot(root)
        code, stdout, err = run_cli(*args)
        after = snapshot(root)
        check(code, err, before, after, outputs)
        if code == 0 and "--json" in args:
            strict(stdout)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_predictions_with_intervals_and_comparisons_keep_to_their_outputs(base, data):
    content = data.draw(
        st.one_of(
            _json_inputs(base["truth"]),
            st.dictionaries(
                st.sampled_from([*base["truth"], "x"]),
                st.lists(st.sampled_from(["dog barking", "race car", "background", "other", "", 3, None]), max_size=11),
                max_size=12,
            ).map(lambda d: json.dumps(d).encode()),
            # constant predictions: degenerate intervals, empty buckets
            st.sampled_from(["background", "dog barking", "other"]).map(
                lambda label: json.dumps({v: [label] * 10 for v in base["truth"]}).encode()
            ),
        )
    )
    method = data.draw(st.sampled_from(["percentile", "bca"]))
    with scratch(base) as root:
        (root / "fuzz.json").write_bytes(content)
        before = snapshot(root)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # pytest would otherwise swallow what a user sees on stderr
            code, stdout, err = run_cli(
                "score", "fuzz.json", "--benchmark", "bench", "--allow-missing", "--ci", "--ci-method", method,
                "--bootstrap", 100, "--out", "s.json", "--per-class", "c.csv", "--json",
            )  # fmt: skip
        check(code, err, before, snapshot(root), {"s.json", "c.csv"})
        assert not caught, [str(w.message) for w in caught]  # no library warning (BCa on degenerate data)
        if code == 0:
            strict(stdout)
        before = snapshot(root)
        code, stdout, err = run_cli(
            "score", "compare", "pred.json", "fuzz.json", "--benchmark", "bench", "--allow-missing",
            "--bootstrap", 100, "--json", "--out", "cmp.json",
        )  # fmt: skip
        check(code, err, before, snapshot(root), {"cmp.json"})
        if code == 0:
            strict(stdout)


def _score_field_mutations(valid: dict) -> st.SearchStrategy[bytes]:
    """A valid score JSON with one field (a score, a bound, the meta, the ci block) replaced by an odd value."""
    odd = st.one_of(
        _json_values(),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1, 2, 57.8, "0.5", [0.1, 0.2], [0.9, 0.1]]),
    )

    def replace(where: str, value: object) -> bytes:
        doc = json.loads(json.dumps(valid))
        group, _, metric = where.partition(".")
        if where.startswith("ci."):
            g, m = where.split(".")[1:]
            doc["ci"]["intervals"][g][m] = value
        elif metric:
            doc[group][metric] = value
        else:
            doc[group] = value
        return json.dumps(doc).encode()  # NaN/Infinity written as a non-strict writer would

    fields = [
        "total.avg", "seen.acc", "unseen.eve_f1", "meta", "meta.config", "ci", "split", "benchmark", "schema_version",
        "ci.total.avg", "ci.seen.acc",
    ]  # fmt: skip
    return st.builds(replace, st.sampled_from(fields), odd)


@FUZZ
@given(data=st.data())
def test_fuzzed_score_files_and_papers_numbers_keep_results_to_its_output(base, data):
    valid = json.loads(base["score.json"].read_text())
    content = data.draw(st.one_of(_json_inputs(valid), _score_field_mutations(valid)))
    published = data.draw(
        st.one_of(st.none(), _json_inputs(json.loads(PUBLISHED.read_text())), st.just(PUBLISHED.read_bytes()))
    )
    out = data.draw(st.sampled_from(["R.md", "notes.md", "fuzz.json", "score.json", "pub.json", "marked.md"]))
    with scratch(base) as root:
        (root / "fuzz.json").write_bytes(content)
        (root / "marked.md").write_text(
            "# mine\n<!-- ovavebench results: start (written by `ovavebench results`; edit around it) -->\nold\n"
            "<!-- ovavebench results: end -->\nkept\n"
        )
        args: list[object] = ["results", "fuzz.json", "score.json", "--out", out]
        if published is not None:
            (root / "pub.json").write_bytes(published)
            args += ["--published", "pub.json"]
        before = snapshot(root)
        code, _, err = run_cli(*args)
        after = snapshot(root)
        check(code, err, before, after, {out})
        if out == "notes.md" or out in ("fuzz.json", "score.json") or (out == "pub.json" and published is not None):
            assert code == 2  # a file results did not write, or one of its inputs
        if code == 0 and out == "marked.md":
            text = after[out].decode()
            assert text.startswith("# mine\n") and text.endswith("kept\n")


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_fuzzed_avllm_inputs_are_refused_before_any_model_loads(base, data, tmp_path_factory):
    # The model is a folder that cannot load (a bert config): whatever the inputs, the command ends in exit 2
    # and changes nothing; inputs that are wrong are named before the model is tried.
    model = tmp_path_factory.getbasetemp() / "not_an_avllm"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 10}))
    prompts = data.draw(st.one_of(st.none(), _json_inputs({"templates": {"per-second": {"system": "s"}}})))
    media = data.draw(st.sampled_from(["media", "nomedia", "pred.json"]))
    bench = data.draw(st.sampled_from(["bench", "nobench", "media"]))
    out = data.draw(st.sampled_from(["o.json", "pred.json", "notes.json", "bench/ovave_dataset_meta.csv"]))
    args: list[object] = [
        "baseline", "avllm", "--model", model, "--device", "cpu", "--media", media, "--benchmark", bench, "--out", out
    ]  # fmt: skip
    # Values a valid run could use; anything else must be named before the model is tried.
    good = {"--split": ["test", "val"], "--dtype": ["fp32", "bf16"], "--layout": ["toolkit"], "--limit": ["1"]}
    known_bad = (media, bench, out) != ("media", "bench", "o.json") or prompts is not None
    for option, values in (
        ("--split", ["test", "val", "train"]),
        ("--dtype", ["fp32", "bf16", "fp8", ""]),
        ("--layout", ["toolkit", "official", "weird"]),
        ("--limit", ["1", "0", "-1", "nan", "1e999"]),
    ):
        if data.draw(st.booleans()):
            value = data.draw(st.sampled_from(values))
            args += [option, value]
            known_bad |= value not in good[option]
    if data.draw(st.booleans()):
        args.append("--allow-missing")
    else:
        known_bad = True  # the media folder is empty: every video lacks media
    with scratch(base) as root:
        if prompts is not None:
            (root / "prompts.json").write_bytes(prompts)
            args += ["--prompts", "prompts.json"]
        before = snapshot(root)
        code, _, err = run_cli(*args)
        check(code, err, before, snapshot(root), set())
        assert code == 2
        if known_bad:  # refused on its own input, before a model (minutes, gigabytes) is loaded
            assert not err.startswith("error: --model"), (args, err)


@settings(FUZZ, max_examples=200)
@given(text=st.one_of(st.text(max_size=20), st.lists(st.sampled_from(NUMBERS), max_size=4).map(",".join)))
def test_the_shared_number_list_parser_gives_finite_numbers_or_names_the_option(text):
    try:
        values = floats(text, "--train-ratios")
    except UsageProblem as exc:
        assert str(exc).startswith("--train-ratios must be comma-separated")
    else:
        assert all(math.isfinite(v) for v in values)
    for bad in ("nan", "0.5,inf", "1e999", "-Infinity,0.2"):
        with pytest.raises(UsageProblem, match="finite numbers"):
            floats(bad, "--train-ratios")
