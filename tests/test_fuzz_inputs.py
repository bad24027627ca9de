"""Property-based fuzzing of every input format through the real CLI entry point, in-process.

Each test feeds generated files or option values to ``ovavebench.cli.run`` and
asserts what a user must always see: exit code 0 or 2, never an uncaught
exception or an "internal error", exactly one ``error: …`` line on stderr when it
fails, and the input files unchanged. Seeded (``derandomize``), so CI runs the
same >1,000 inputs every time.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovavebench.cli import run
from ovavebench.taxonomy import load_taxonomy

from .annotation_helpers import make_media, simulated_export
from .helpers import tiny_benchmark, vid

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def run_cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, err: str, *inputs: tuple[Path, bytes]) -> None:
    """Exit 0 or 2; on 2 exactly one `error:` line; never a traceback; inputs untouched."""
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    for path, before in inputs:
        assert path.read_bytes() == before, f"{path} was changed"


# --------------------------------------------------------------------------- generators


def _json_values():
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Ways a real file goes wrong: cut, spliced, re-encoded, binary, emptied, doubled lines."""
    text = valid.decode("utf-8")
    lines = text.splitlines(keepends=True)

    def cut(n: int) -> bytes:
        return valid[: n % (len(valid) + 1)]

    def splice(at: int, junk: bytes) -> bytes:
        at %= len(valid) + 1
        return valid[:at] + junk + valid[at:]

    def drop_line(i: int) -> bytes:
        return "".join(lines[: i % len(lines)] + lines[i % len(lines) + 1 :]).encode() if lines else valid

    def swap_chars(i: int, new: str) -> bytes:
        i %= max(len(text), 1)
        return (text[:i] + new + text[i + 1 :]).encode("utf-8")

    return st.one_of(
        st.just(valid),
        st.builds(cut, st.integers(0, 10**6)),
        st.builds(splice, st.integers(0, 10**6), st.binary(min_size=1, max_size=6)),
        st.builds(drop_line, st.integers(0, 1000)),
        st.builds(
            swap_chars,
            st.integers(0, 10**6),
            st.sampled_from(['"', ",", "\n", "\x00", "é", "{", "[", "-", " ", "9" * 5000]),
        ),
        st.just(text.encode("utf-16")),
        st.just(text.encode("utf-16-le")),
        st.just(b"\xef\xbb\xbf" + valid),
        st.just(valid.replace(b"\n", b"\r\n")),
        st.just(text.encode("latin-1", errors="replace").replace(b"a", b"\xe9")),
        st.just(b""),
        st.binary(max_size=64),
    )


def _json_inputs(valid_obj: object) -> st.SearchStrategy[bytes]:
    valid = json.dumps(valid_obj, indent=1).encode()
    return st.one_of(
        _mutations(valid),
        _json_values().map(lambda v: json.dumps(v).encode()),
        st.integers(1, 200_000).map(lambda depth: ("[" * depth + "]" * depth).encode()),
        st.just(b'{"a": ' + b"7" * 5000 + b"}"),
        st.just(valid.replace(b"{", b'{"dup": 1, "dup": 2, ', 1)),
    )


# --------------------------------------------------------------------------- fixtures

CLASSES = [c.name for c in load_taxonomy().classes]
SEEN = [c.name for c in load_taxonomy().classes if c.seen]
UNSEEN = [c.name for c in load_taxonomy().classes if not c.seen]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small benchmark, its predictions and labels, a manifest with media, a planned annotation round."""
    root = tmp_path_factory.mktemp("fuzz")
    videos = []
    for i in range(12):
        cls, seen = (SEEN[i % 3], True) if i < 8 else (UNSEEN[i % 2], False)
        split = "train" if i < 4 else ("val" if i % 2 else "test")
        flags = [(i + k) % 3 == 0 for k in range(10)]
        videos.append((vid(i), split, cls, seen, [int(f) for f in flags]))
    bench = tiny_benchmark(root / "bench", videos, classes=sorted({v[2] for v in videos}))
    predictions = {v[0]: [v[2] if f else "background" for f in v[4]] for v in videos if v[1] == "test"}
    (root / "pred.json").write_text(json.dumps(predictions))
    labels = {v[0]: {"category": v[2], "label": json.dumps(v[4])} for v in videos}
    (root / "labels.json").write_text(json.dumps(labels))
    manifest = make_media(root / "media", {v[0]: v[2] for v in videos[:4]})
    work = root / "work"
    code, _, err = run_cli(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        root / "media",
        "--round",
        1,
        "--annotators",
        "ann_a,ann_b",
        "--work",
        work,
    )
    assert code == 0, err
    export = simulated_export(work / "tasks" / "round1_ann_a.json", {v[0]: v[4] for v in videos}, "ann_a@lab.org")
    vgg = "".join(
        f"{v[0]},{10 * i},{load_taxonomy().by_name()[v[2]].vggsound_label},{'train' if i % 3 else 'test'}\n"
        for i, v in enumerate(videos)
    )
    (root / "vggsound.csv").write_text(vgg)
    (root / "unseen.txt").write_text("\n".join(UNSEEN) + "\n")
    empty_manifest = root / "unresolved.csv"  # every row without a start time: no download is ever attempted
    empty_manifest.write_text("clip_id,youtube_id,start_s,end_s,class_name\n,abcdefghijk,,,dog barking\n")
    return {
        "root": root,
        "bench": bench,
        "pred": root / "pred.json",
        "labels": root / "labels.json",
        "manifest": manifest,
        "work": work,
        "export": json.dumps(export).encode(),
        "vgg": vgg.encode(),
        "unseen": root / "unseen.txt",
        "empty_manifest": empty_manifest,
        "predictions": predictions,
        "labels_obj": labels,
    }


@contextlib.contextmanager
def scratch():
    """A temp folder that is also the working directory: a generated relative path (``--work inf``) lands here."""
    with tempfile.TemporaryDirectory(prefix="ovfuzz-") as folder, contextlib.chdir(folder):
        yield Path(folder)


# --------------------------------------------------------------------------- one test per input format


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_predictions_never_crash_score(base, data):
    content = data.draw(
        st.one_of(
            _json_inputs(base["predictions"]),
            st.dictionaries(
                st.sampled_from(list(base["predictions"]) + ["x", "", "-" * 11]),
                st.lists(st.sampled_from(CLASSES[:3] + ["background", "other", "", 3, None]), max_size=11),
                max_size=6,
            ).map(lambda d: json.dumps(d).encode()),
        )
    )
    with scratch() as folder:
        path = folder / "pred.json"
        path.write_bytes(content)
        code, _, err = run_cli("score", path, "--benchmark", base["bench"], "--allow-missing")
        assert_clean(code, err, (path, content))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_labels_never_crash_split(base, data):
    content = data.draw(
        st.one_of(
            _json_inputs(base["labels_obj"]),
            st.dictionaries(
                st.sampled_from([vid(i) for i in range(4)] + ["bad id"]),
                st.fixed_dictionaries(
                    {
                        "category": st.sampled_from(CLASSES[:4] + ["nope", ""]),
                        "label": st.sampled_from(["[0,1,0,1,0,1,0,1,0,1]", "[1]", "[2,0,0,0,0,0,0,0,0,0]", 5]),
                    }
                ),
                max_size=5,
            ).map(lambda d: json.dumps(d).encode()),
        )
    )
    with scratch() as folder:
        path = folder / "labels.json"
        path.write_bytes(content)
        code, _, err = run_cli(
            "split",
            "--labels",
            path,
            "--out",
            folder / "out",
            "--unseen",
            "auto",
            "--num-unseen",
            2,
            "--train-ratios",
            "0.5",
        )
        assert_clean(code, err, (path, content))
        if code == 2:
            assert not (folder / "out").exists(), "a refused split wrote files"


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_manifests_never_crash_download_or_export(base, data):
    valid = base["manifest"].read_bytes()
    content = data.draw(_mutations(valid))
    suffix = data.draw(st.sampled_from([".csv", ".parquet"]))
    with scratch() as folder:
        path = folder / f"manifest{suffix}"
        path.write_bytes(content)
        # --limit 0: the manifest is read, validated and registered, nothing is fetched.
        code, _, err = run_cli(
            "download",
            "--manifest",
            path,
            "--out",
            folder / "media",
            "--limit",
            0,
            "--url-template",
            "http://127.0.0.1:9/{youtube_id}.mp4",
        )
        assert_clean(code, err, (path, content))
        code, _, err = run_cli(
            "annotate",
            "export",
            "--manifest",
            path,
            "--media",
            base["root"] / "media",
            "--round",
            1,
            "--annotators",
            "a,b",
            "--work",
            folder / "work",
        )
        assert_clean(code, err, (path, content))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_vggsound_csv_never_crashes_manifest(base, data):
    content = data.draw(_mutations(base["vgg"]))
    with scratch() as folder:
        path = folder / "vggsound.csv"
        path.write_bytes(content)
        skip = data.draw(st.booleans())
        code, _, err = run_cli(
            "manifest",
            "--out",
            folder / "m.csv",
            "--vggsound-csv",
            path,
            "--benchmark-dir",
            base["bench"],
            *(["--skip-bad-rows"] if skip else []),
        )
        assert_clean(code, err, (path, content))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_label_studio_exports_never_crash_import(base, data):
    export = json.loads(base["export"])
    annotation = export[0]["annotations"][0]
    odd = st.one_of(_json_values(), st.sampled_from([2**63, 2**64, -1, [1, 2], {"id": [3]}, "x" * 200]))
    structured = st.builds(
        lambda field, value, where: json.dumps(
            [{**export[0], **({field: value} if where == "task" else {"annotations": [{**annotation, field: value}]})}]
            + export[1:]
        ).encode(),
        st.sampled_from(
            ["id", "data", "annotations", "completed_by", "lead_time", "created_at", "result", "was_cancelled"]
        ),
        odd,
        st.sampled_from(["task", "annotation"]),
    )
    content = data.draw(st.one_of(_json_inputs(export), structured))
    with scratch() as folder:
        work = folder / "work"
        shutil.copytree(base["work"], work)
        path = folder / "round1_ann_a.json"
        path.write_bytes(content)
        code, _, err = run_cli("annotate", "import", "--round", 1, "--work", work, "--from", path)
        assert_clean(code, err, (path, content))
        code, _, err = run_cli("annotate", "status", "--work", work)
        assert_clean(code, err)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_category_lists_never_crash_split_or_score(base, data):
    content = data.draw(_mutations(base["unseen"].read_bytes()))
    with scratch() as folder:
        path = folder / "unseen.txt"
        path.write_bytes(content)
        code, _, err = run_cli("split", "--labels", base["labels"], "--out", folder / "out", "--unseen", path)
        assert_clean(code, err, (path, content))
        bench = folder / "bench"
        shutil.copytree(base["bench"], bench)
        target = bench / data.draw(
            st.sampled_from(["ovave_total_close_open_categories.csv", "ovave_train_close_categories.csv"])
        )
        target.write_bytes(content)
        code, _, err = run_cli("score", base["pred"], "--benchmark", bench, "--allow-missing")
        assert_clean(code, err, (target, content))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_benchmark_folders_never_crash_score(base, data):
    names = ["ovave_dataset_meta.csv", "released_ovave_dataset_anno.json", "availability.json"]
    name = data.draw(st.sampled_from(names))
    with scratch() as folder:
        bench = folder / "bench"
        shutil.copytree(base["bench"], bench)
        valid = (bench / name).read_bytes() if (bench / name).exists() else b'{"obtained": 3, "published": 4}'
        content = data.draw(_json_inputs(json.loads(valid)) if name.endswith(".json") else _mutations(valid))
        (bench / name).write_bytes(content)
        code, _, err = run_cli("score", base["pred"], "--benchmark", bench, "--allow-missing")
        assert_clean(code, err, (bench / name, content))


OPTION_VALUES = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True).map(str),
    st.text(max_size=30),
    st.sampled_from(
        [
            "0",
            "-1",
            "-3",
            "1e999",
            "nan",
            "inf",
            "../x",
            "file:///etc",
            "{youtube_id}",
            "http://x/{vid}",
            "not a url",
            "a,,b",
            "3:0",
        ]
    ),
)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_option_values_are_refused_in_one_line(base, data):
    command = data.draw(st.sampled_from(["download", "split", "score", "features", "annotate", "finetune"]))
    value = data.draw(OPTION_VALUES)
    with scratch() as folder:
        if command == "download":
            option = data.draw(
                st.sampled_from(
                    [
                        "--workers",
                        "--max-height",
                        "--timeout",
                        "--proxy",
                        "--url-template",
                        "--limit",
                        "--shard",
                        "--retry-failed",
                        "--only-classes",
                        "--max-attempts",
                        "--backoff",
                        "--cookies",
                        "--proxies",
                        "--max-clips-per-hour",
                        "--block-pause",
                        "--max-blocks",
                        "--ytdlp-option",
                        "--ytdlp-options",
                    ]
                )
            )
            args = ["download", "--manifest", base["empty_manifest"], "--out", folder / "media", option, value]
        elif command == "split":
            option = data.draw(
                st.sampled_from(
                    [
                        "--seed",
                        "--prefix",
                        "--seen-eval-fraction",
                        "--test-share",
                        "--train-ratios",
                        "--target-ratio",
                        "--num-unseen",
                        "--unseen-share",
                        "--unseen",
                    ]
                )
            )
            args = [
                "split",
                "--labels",
                base["labels"],
                "--out",
                folder / "out",
                "--unseen",
                "auto",
                "--num-unseen",
                "2",
                option,
                value,
            ]
        elif command == "score":
            option = data.draw(st.sampled_from(["--split", "--benchmark", "--per-class"]))
            args = [
                "score",
                base["pred"],
                "--benchmark",
                base["bench"],
                "--allow-missing",
                option,
                value if option != "--per-class" else folder / "pc.csv",
            ]
        elif command == "features":
            option = data.draw(st.sampled_from(["--batch-size", "--device", "--dtype", "--workers"]))
            # A store folder that is not one: the option checks come first, then that error.
            args = (
                ["features", "info", folder / "nothing"]
                if option == "--workers"
                else [
                    "features",
                    "extract",
                    "--media",
                    folder,
                    "--benchmark",
                    base["bench"],
                    "--out",
                    folder / "store",
                    "--checkpoint",
                    folder / "missing.pth",
                    option,
                    value,
                ]
            )
        elif command == "annotate":
            option = data.draw(st.sampled_from(["--round", "--annotators", "--work"]))
            args = [
                "annotate",
                "export",
                "--manifest",
                base["manifest"],
                "--media",
                base["root"] / "media",
                "--round",
                "1",
                "--annotators",
                "a,b",
                "--work",
                folder / "w",
                option,
                value,
            ]
        else:
            option = data.draw(
                st.sampled_from(
                    [
                        "--epochs",
                        "--batch-size",
                        "--lr",
                        "--seed",
                        "--temporal",
                        "--fusion",
                        "--select-on",
                        "--train-subset",
                        "--layers",
                    ]
                )
            )
            args = [
                "baseline",
                "finetune",
                "--features",
                folder / "nostore",
                "--benchmark",
                base["bench"],
                "--out",
                folder / "run",
                option,
                value,
            ]
        code, _, err = run_cli(*args)
        assert_clean(code, err)


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_state_databases_are_refused_and_kept(base, data):
    which = data.draw(st.sampled_from(["download", "annotate"]))
    with scratch() as folder:
        if which == "download":
            code, _, err = run_cli(
                "download",
                "--manifest",
                base["manifest"],
                "--out",
                folder / "media",
                "--limit",
                "0",
                "--url-template",
                "http://127.0.0.1:9/{youtube_id}.mp4",
            )
            assert code == 0, err
            db = folder / "media" / "download.sqlite"
        else:
            shutil.copytree(base["work"], folder / "work")
            db = folder / "work" / "annotate.sqlite"
        with sqlite3.connect(db) as conn:  # fold the WAL in, so the file alone is the database
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        valid = db.read_bytes()
        content = data.draw(
            st.one_of(
                st.builds(lambda n: valid[: n % len(valid)], st.integers(1, 10**6)),
                st.builds(
                    lambda at, junk: valid[: at % len(valid)] + junk + valid[at % len(valid) + len(junk) :],
                    st.integers(100, 10**6),
                    st.binary(min_size=8, max_size=64),
                ),
                st.binary(min_size=1, max_size=200),
                st.just(b"SQLite format 3\x00" + b"\xff" * 200),
            )
        )
        db.write_bytes(content)
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        if which == "download":
            code, _, err = run_cli("download", "status", "--out", folder / "media")
        else:
            code, _, err = run_cli("annotate", "status", "--work", folder / "work")
        # A database that is refused is left byte for byte as it was.
        assert_clean(code, err, *([(db, content)] if code == 2 else []))


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_fuzzed_side_files_never_crash(base, data):
    """The smaller inputs: a taxonomy CSV, a cookies file, a proxies list, yt-dlp options, a fine-tuning config."""
    kind = data.draw(st.sampled_from(["classes", "cookies", "proxies", "ytdlp", "config"]))
    valid = {
        "classes": (Path(__file__).resolve().parent.parent / "ovavebench" / "classes.csv").read_bytes(),
        "cookies": b"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t1999999999\tPREF\tf1=1\n",
        "proxies": b"# egress\nsocks5://127.0.0.1:1080\nhttp://127.0.0.1:3128\n",
        "ytdlp": b'{"sleep_interval_requests": 1.5, "extractor_args": {"youtube": {"player_client": ["web"]}}}',
        "config": (
            Path(__file__).resolve().parent.parent / "ovavebench" / "baselines" / "configs" / "finetune.json"
        ).read_bytes(),
    }[kind]
    content = data.draw(_json_inputs(json.loads(valid)) if kind in ("ytdlp", "config") else _mutations(valid))
    with scratch() as folder:
        path = folder / f"input.{kind}"
        path.write_bytes(content)
        if kind == "classes":
            args = ["split", "--labels", base["labels"], "--out", folder / "out", "--classes", path]
        elif kind in ("cookies", "proxies", "ytdlp"):
            option = {"cookies": "--cookies", "proxies": "--proxies", "ytdlp": "--ytdlp-options"}[kind]
            args = [
                "download",
                "--manifest",
                base["empty_manifest"],
                "--out",
                folder / "media",
                option,
                path,
                "--url-template",
                "http://127.0.0.1:9/{youtube_id}.mp4",
            ]
        else:
            args = [
                "baseline",
                "finetune",
                "--features",
                folder / "nostore",
                "--benchmark",
                base["bench"],
                "--out",
                folder / "run",
                "--config",
                path,
            ]
        code, _, err = run_cli(*args)
        assert_clean(code, err, (path, content))
