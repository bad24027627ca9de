"""The newer commands on bad input (#34): `export hf/webdataset/croissant`, `annotate export --gold/--predictions/
--order`, `annotate finalize --aggregate`.

The oracle of every test here: exit 0 or 2 (never 70, never a traceback), one ``error:`` line on 2, and nothing
outside the command's own output changed: every file of the temp tree is hashed before and after (links not
followed), so a read-only check, a write, a delete or a replaced file anywhere else fails the test. Fuzzed tests are
seeded (``derandomize``): CI runs the same inputs every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovavebench.cli import run
from ovavebench.taxonomy import load_taxonomy

from .annotation_helpers import make_media
from .helpers import tiny_benchmark, vid

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
SEEN = [c.name for c in load_taxonomy().classes if c.seen]
UNSEEN = [c.name for c in load_taxonomy().classes if not c.seen]
STATE = ".ovavebench-export.json"


def run_cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def snapshot(root: Path, *outputs: Path) -> dict[str, str]:
    """Relative path → sha256 of content (files), link target (links), "dir" (folders); outputs left out."""
    skip = {str(p.absolute()) for p in outputs}
    tree: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        if any(folder == s or folder.startswith(s + os.sep) for s in skip):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = Path(folder) / name
            if str(path.absolute()) in skip:
                continue
            rel = str(path.relative_to(root))
            if path.is_symlink():
                tree[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                tree[rel] = "dir"
            else:
                tree[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tree


def assert_oracle(code: int, err: str, before: dict[str, str], after: dict[str, str]) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("export ")]
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"changed outside the output: {changed[:5]}"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A 12-video benchmark with media in the toolkit layout, one finished webdataset and hf export of it."""
    root = tmp_path_factory.mktemp("export-fuzz")
    videos = []
    for i in range(12):
        cls, seen = (SEEN[i % 3], True) if i < 8 else (UNSEEN[i % 2], False)
        split = "train" if i < 4 else ("val" if i % 2 else "test")
        videos.append((vid(i), split, cls, seen, [int((i + k) % 3 == 0) for k in range(10)]))
    tiny_benchmark(root / "bench", videos, classes=sorted({v[2] for v in videos}))
    manifest = make_media(root / "media", {v[0]: v[2] for v in videos})
    for kind in ("webdataset", "hf"):
        code, _, err = run_cli(
            "export", kind, "--benchmark", root / "bench", "--media", root / "media", "--out", root / kind
        )
        assert code == 0, err
    return {"root": root, "videos": videos, "manifest": manifest}


@contextlib.contextmanager
def sandbox(base: dict):
    """A fresh temp tree: links to the inputs' files are not enough (an export could write through them), so
    the benchmark and media are copied; a victim file beside them stands for everything the user owns."""
    with tempfile.TemporaryDirectory(prefix="ovexport-") as folder, contextlib.chdir(folder):
        root = Path(folder)
        shutil.copytree(base["root"] / "bench", root / "bench")
        shutil.copytree(base["root"] / "media", root / "media")
        shutil.copy(base["manifest"], root / "manifest.csv")
        (root / "victim.txt").write_text("the user's own file")
        (root / "user").mkdir()
        (root / "user" / "notes.parquet").write_text("not ours")
        yield root


def _export(root: Path, kind: str, out: Path, *extra: object) -> tuple[int, str, str]:
    return run_cli("export", kind, "--benchmark", root / "bench", "--media", root / "media", "--out", out, *extra)


# --------------------------------------------------------------------------- the state file of an export

_NAMES = st.sampled_from(
    [
        "../victim.txt",
        "../../victim.txt",
        "/etc/hostname",
        "data/../../victim.txt",
        "data/../../user/notes.parquet",
        "victim.txt",
        "train-000000.tar",
        "README.md",
        "data/train-00000-of-00001.parquet",
        "",
        ".",
        "data",
        "x" * 300,
        "train-000000.tar/../../victim.txt",
    ]
)


def _states(valid: dict) -> st.SearchStrategy[object]:
    sha = st.sampled_from(["0" * 64, "f" * 64, "", "nan", 1e999]) | st.text(max_size=70)
    return st.one_of(
        st.fixed_dictionaries(
            {
                "kind": st.sampled_from(["webdataset", "hf", "croissant", "", None, 7]),
                "fingerprint": st.sampled_from([valid["fingerprint"], "other", None, float("nan")]),
                "done": st.dictionaries(_NAMES, sha, max_size=4) | st.sampled_from([[], None, "x", 1e999]),
            }
        ),
        st.just({**valid, "done": {**valid["done"], "../victim.txt": "0" * 64}}),
        st.just({**valid, "fingerprint": "other", "done": {**valid["done"], "../victim.txt": "0" * 64}}),
        st.just({**valid, "fingerprint": "other", "done": {"/": "0" * 64}}),
        st.none() | st.integers() | st.lists(st.integers(), max_size=3),
    )


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_export_state_files_never_reach_outside_the_output(base, data):
    kind = data.draw(st.sampled_from(["webdataset", "hf"]))
    with sandbox(base) as root:
        out = root / "out"
        shutil.copytree(base["root"] / kind, out)
        valid = json.loads((out / STATE).read_text())
        state = data.draw(_states(valid))
        text = json.dumps(state) if data.draw(st.booleans()) else json.dumps(state)[: data.draw(st.integers(0, 40))]
        (out / STATE).write_text(text)
        if data.draw(st.booleans()):  # a link planted where the export writes, pointing at the user's file
            target = out / ("train-000000.tar" if kind == "webdataset" else "data/train-00000-of-00001.parquet")
            target.unlink(missing_ok=True)
            target.symlink_to(root / "victim.txt")
        before = snapshot(root, out)
        code, _, err = _export(root, kind, out)
        assert_oracle(code, err, before, snapshot(root, out))
        if code == 2:
            assert str(out) in err, err


def test_a_state_file_naming_a_file_outside_is_refused_and_the_file_kept(base, tmp_path):
    with sandbox(base) as root:
        out = root / "out"
        shutil.copytree(base["root"] / "webdataset", out)
        state = json.loads((out / STATE).read_text())
        # another fingerprint: today's code removes every file the state names, this one too
        state["fingerprint"] = "edited"
        state["done"]["../victim.txt"] = "0" * 64
        (out / STATE).write_text(json.dumps(state))
        code, _, err = _export(root, "webdataset", out)
        assert code == 2 and f"{out / STATE}: damaged export state" in err and "'../victim.txt'" in err, err
        assert (root / "victim.txt").read_text() == "the user's own file"


def test_a_link_where_an_export_writes_is_refused_not_written_through(base):
    with sandbox(base) as root:
        out = root / "out"
        shutil.copytree(base["root"] / "webdataset", out)
        state = json.loads((out / STATE).read_text())
        (out / STATE).write_text(json.dumps({**state, "done": {}}))  # every shard to be written again
        (out / "train-000000.tar").unlink()
        (out / "train-000000.tar").symlink_to(root / "victim.txt")
        before = snapshot(root, out)
        code, _, err = _export(root, "webdataset", out)
        assert code == 2 and "train-000000.tar: a link where the export writes a file" in err, err
        assert_oracle(code, err, before, snapshot(root, out))


def test_a_killed_export_leaves_no_temp_file_for_the_next_run(base):
    with sandbox(base) as root:
        out = root / "out"
        shutil.copytree(base["root"] / "hf", out)
        ours = [out / ".README.md.abcdefgh.tmp", out / f".{STATE}.zzzz_123.tmp"]
        ours.append(out / "data" / ".val-00000-of-00001.parquet.q1w2e3r4.tmp")
        for path in ours:
            path.write_bytes(b"half a shard")
        theirs = out / ".my-notes.txt.abcdefgh.tmp"  # not a name the export writes: not ours to remove
        theirs.write_text("keep")
        code, _, err = _export(root, "hf", out)
        assert code == 0, err
        assert not [p for p in ours if p.exists()]
        assert theirs.read_text() == "keep"
        # killed while writing its very first state file: only that temp file is there
        first = root / "first"
        first.mkdir()
        (first / f".{STATE}.abcd1234.tmp").write_text('{"kind": "we')
        code, _, err = _export(root, "webdataset", first)
        assert code == 0, err
        assert sorted(p.name for p in first.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.parametrize("size", ["inf", "Infinity", "1e999", "nan", "-1", "0", "0.5", "2TB", "1e999MB"])
def test_non_finite_or_out_of_range_shard_sizes_are_refused_by_name(base, size):
    with sandbox(base) as root:
        before = snapshot(root, root / "out")
        code, _, err = _export(root, "webdataset", root / "out", "--shard-size", size)
        assert code == 2 and f"--shard-size {size!r}" in err, err
        assert_oracle(code, err, before, snapshot(root, root / "out"))
        assert not (root / "out").exists()


def test_croissant_refuses_to_replace_an_input_or_a_foreign_file_and_names_a_corrupt_parquet(base):
    with sandbox(base) as root:
        hf = root / "hf"
        shutil.copytree(base["root"] / "hf", hf)
        for out, needle in [
            (hf / "README.md", "is one of the export's own files"),
            (hf / STATE, "is one of the export's own files"),
            (root / "victim.txt", "exists and is not Croissant metadata"),
            (hf / "data" / "new.json", "is one of the export's own files"),
        ]:
            before = snapshot(root)
            code, _, err = run_cli("export", "croissant", "--hf", hf, "--out", out)
            assert code == 2 and needle in err, (out, err)
            assert_oracle(code, err, before, snapshot(root))
        code, _, err = run_cli("export", "croissant", "--hf", hf)
        assert code == 0, err
        again = run_cli("export", "croissant", "--hf", hf)  # its own earlier file may be replaced
        assert again[0] == 0, again[2]
        shard = sorted((hf / "data").glob("*.parquet"))[0]
        shard.write_bytes(shard.read_bytes()[:64])  # truncated
        before = snapshot(root, hf / "croissant.json")
        code, _, err = run_cli("export", "croissant", "--hf", hf)
        assert code == 2 and f"{shard}: not a readable Parquet file" in err, err
        assert_oracle(code, err, before, snapshot(root, hf / "croissant.json"))


OPTION_VALUES = st.sampled_from(
    ["inf", "-inf", "Infinity", "NaN", "nan", "1e999", "-1e999", "-1", "0", "1e-320", "2", "", " ", "1,5", "0x10"]
) | st.text(max_size=8)


@FUZZ
@given(data=st.data())
def test_fuzzed_options_of_export_and_annotate_are_refused_in_one_line(base, data):
    command = data.draw(st.sampled_from(["hf", "webdataset", "croissant", "annotate export", "finalize"]))
    value = data.draw(OPTION_VALUES)
    with sandbox(base) as root:
        outputs: list[Path] = [root / "out", root / "work"]
        if command in ("hf", "webdataset"):
            option = data.draw(st.sampled_from(["--shard-size", "--layout", "--media", "--benchmark"]))
            args = ["export", command, "--benchmark", root / "bench", "--media", root / "media", "--out", root / "out"]
            args += [option, value]
        elif command == "croissant":
            shutil.copytree(base["root"] / "hf", root / "hf")
            outputs.append(root / "hf" / "croissant.json")
            option = data.draw(st.sampled_from(["--date-published", "--hf"]))
            args = ["export", "croissant", "--hf", root / "hf", option, value]
        elif command == "annotate export":
            option = data.draw(
                st.sampled_from(["--gold-rate", "--order", "--gold", "--predictions", "--document-root", "--round"])
            )
            args = ["annotate", "export", "--manifest", root / "manifest.csv", "--media", root / "media"]
            args += ["--round", "1", "--annotators", "a,b", "--work", root / "work", option, value]
        else:
            option = data.draw(st.sampled_from(["--aggregate", "--seed", "--work"]))
            args = ["annotate", "finalize", "--work", root / "work", "--out", root / "out", option, value]
        before = snapshot(root, *outputs)
        code, _, err = run_cli(*args)
        assert_oracle(code, err, before, snapshot(root, *outputs))


def test_a_path_option_that_does_not_exist_is_refused_before_any_work(base):
    with sandbox(base) as root:
        for option in ("--document-root", "--gold", "--predictions"):
            code, _, err = run_cli(
                "annotate", "export", "--manifest", root / "manifest.csv", "--media", root / "media", "--round", 1,
                "--annotators", "a,b", "--work", root / "work", option, root / "nowhere",
            )  # fmt: skip
            assert code == 2 and f"{option} {root / 'nowhere'}: not found" in err, err
            assert not (root / "work").exists()
        code, _, err = run_cli("annotate", "finalize", "--work", root / "nowork", "--out", root / "l.json")
        assert code == 2 and "not an annotation work folder" in err and not (root / "l.json").exists()


# --------------------------------------------------------------------------- annotate export: gold and predictions


def _annotate(root: Path, *extra: object) -> tuple[int, str, str]:
    return run_cli(
        "annotate", "export", "--manifest", root / "manifest.csv", "--media", root / "media", "--round", 1,
        "--annotators", "a,b", "--work", root / "work", *extra,
    )  # fmt: skip


def test_predictions_with_a_class_the_benchmark_does_not_know_are_refused_naming_the_closest(base):
    with sandbox(base) as root:
        preds = {v[0]: [v[2]] * 10 for v in base["videos"]}
        first = base["videos"][0]
        preds[first[0]] = [first[2][:-1] + "X"] + [first[2]] * 9  # one letter off
        (root / "pred.json").write_text(json.dumps(preds))
        before = snapshot(root, root / "work")
        code, _, err = _annotate(root, "--predictions", root / "pred.json")
        assert code == 2 and f"unknown class {first[2][:-1] + 'X'!r}" in err and f"closest is {first[2]!r}" in err
        assert_oracle(code, err, before, snapshot(root, root / "work"))
        assert not (root / "work").exists()


def test_predictions_with_a_non_finite_uncertainty_are_refused_by_name(base):
    with sandbox(base) as root:
        preds = {v[0]: ["background"] * 10 for v in base["videos"]}
        uncertainty = {v[0]: 0.5 for v in base["videos"]}
        uncertainty[base["videos"][3][0]] = float("inf")
        (root / "pred.json").write_text(json.dumps({"predictions": preds, "meta": {"uncertainty": uncertainty}}))
        code, _, err = _annotate(root, "--predictions", root / "pred.json", "--order", "uncertain")
        assert code == 2 and f"meta.uncertainty[{base['videos'][3][0]!r}]: inf" in err, err


def test_a_gold_rate_asking_for_more_gold_than_the_file_holds_says_how_many_it_could_give(base):
    with sandbox(base) as root:
        gold = {v[0]: v[4] for v in base["videos"][:3]}  # 3 gold clips
        (root / "gold.json").write_text(json.dumps(gold))
        code, _, err = _annotate(root, "--gold", root / "gold.json", "--gold-rate", "1")
        assert code == 2, err
        assert "--gold-rate 1 asks for more gold tasks than gold.json holds" in err
        assert "3 gold clip(s) give at most" in err and "lower --gold-rate" in err, err
        code, out, err = _annotate(root, "--gold", root / "gold.json", "--gold-rate", "0.1")
        assert code == 0 and "(1 gold)" in out, err


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_gold_and_prediction_files_never_touch_anything_but_the_work_folder(base, data):
    which = data.draw(st.sampled_from(["--gold", "--predictions"]))
    videos = base["videos"]
    valid: object = (
        {v[0]: {"category": v[2], "label": json.dumps(v[4])} for v in videos[:4]}
        if which == "--gold"
        else {"predictions": {v[0]: [v[2]] * 10 for v in videos}, "meta": {"uncertainty": {videos[0][0]: 1}}}
    )
    leaf = st.sampled_from([float("nan"), float("inf"), 1e999, -1, 2, "dog barkin", "background", None, True])
    content = data.draw(
        st.one_of(
            st.just(json.dumps(valid)),
            st.builds(lambda n: json.dumps(valid)[: n % 400], st.integers(0, 10**4)),
            st.builds(
                lambda key, value: json.dumps(
                    {**valid, **({key: value} if which == "--gold" else {"predictions": {key: value}})}
                ),
                st.sampled_from([v[0] for v in videos] + ["zzz", ""]),
                st.lists(leaf, max_size=11) | leaf | st.dictionaries(st.sampled_from(["category", "label"]), leaf),
            ),
            st.builds(
                lambda value: json.dumps({**valid, "meta": {"uncertainty": {videos[0][0]: value}}}),
                leaf,
            ),
        )
    )
    order = data.draw(st.sampled_from(["plan", "uncertain"]))
    with sandbox(base) as root:
        (root / "input.json").write_text(content)
        before = snapshot(root, root / "work")
        code, _, err = _annotate(root, which, root / "input.json", "--order", order, "--gold-rate", "0.5")
        assert_oracle(code, err, before, snapshot(root, root / "work"))


@pytest.mark.parametrize("damage", ["truncated wav", "folder for a wav", "png header only", "flipped byte"])
def test_a_damaged_frame_or_audio_file_is_named(base, damage):
    with sandbox(base) as root:
        clip = root / "media" / f"{base['videos'][5][0]}_000000"
        if damage == "truncated wav":
            bad = clip / "audio.wav"
            bad.write_bytes(bad.read_bytes()[:1000])
        elif damage == "folder for a wav":
            bad = clip / "audio.wav"
            bad.unlink()
            bad.mkdir()
        else:
            bad = clip / "frames" / "7.png"
            data = bad.read_bytes()
            bad.write_bytes(
                data[:33] if damage == "png header only" else data[:60] + bytes([data[60] ^ 0xFF]) + data[61:]
            )
        for kind in ("webdataset", "hf"):
            before = snapshot(root, root / kind)
            code, _, err = _export(root, kind, root / kind)
            assert code == 2 and f"error: {bad}: " in err, (kind, err)
            assert_oracle(code, err, before, snapshot(root, root / kind))


def test_finalize_never_writes_its_labels_over_the_store_or_a_file_it_did_not_make(base):
    with sandbox(base) as root:
        code, _, err = _annotate(root)
        assert code == 0, err
        for out, needle in [
            (root / "work" / "annotate.sqlite", "is the annotation store of --work"),
            (root / "victim.txt", "exists and is not a labels JSON file"),
            (root / "user", "is a folder"),
        ]:
            before = snapshot(root)
            code, _, err = run_cli("annotate", "finalize", "--work", root / "work", "--out", out, "--allow-unresolved")
            assert code == 2 and needle in err, (out, err)
            assert_oracle(code, err, before, snapshot(root))
