"""Bad input never destroys: one test per data-safety case, and the listed crashes as regressions."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest

from ovavebench.download import open_state, register_clips
from ovavebench.io import atomic_write_text, claim_output_dir
from ovavebench.testing.localserver import LocalServer

from .helpers import tiny_benchmark, vid
from .test_fuzz_inputs import run_cli

SEEN, UNSEEN = "people whistling", "baby laughter"  # a seen and an unseen class of the taxonomy


def assert_refused(code: int, err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture()
def bench(tmp_path):
    videos = [
        (vid(i), ["train", "val", "test"][i % 3], SEEN if i % 2 else UNSEEN, bool(i % 2), [i % 2] * 10)
        for i in range(9)
    ]
    folder = tiny_benchmark(tmp_path / "bench", videos)
    predictions = {v[0]: ["background"] * 10 for v in videos if v[1] == "test"}
    (tmp_path / "pred.json").write_text(json.dumps(predictions))
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- folders a command clears


def test_demo_refuses_an_existing_folder_it_did_not_make_and_leaves_it_untouched(tmp_path):
    mine = tmp_path / "thesis"
    (mine / "chapter").mkdir(parents=True)
    (mine / "chapter" / "draft.tex").write_text("years of work")
    before = _snapshot(mine)
    code, _, err = run_cli("demo", "--out", mine)
    assert_refused(code, err, str(mine), "refusing to clear")
    assert _snapshot(mine) == before
    code, _, err = run_cli("demo", "--out", mine / "chapter" / "draft.tex")
    assert_refused(code, err, "not a folder")


def test_a_folder_is_cleared_only_when_it_carries_the_marker_of_the_command_that_made_it(tmp_path):
    folder = claim_output_dir(tmp_path / "out", ".made-by-test", "a test")
    (folder / "old").mkdir()
    (folder / "old" / "file").write_text("x")
    target = tmp_path / "outside.txt"
    target.write_text("kept")
    (folder / "link").symlink_to(target)
    claim_output_dir(folder, ".made-by-test", "a test")  # made by us: emptied, links removed, not followed
    assert sorted(p.name for p in folder.iterdir()) == [".made-by-test"] and target.read_text() == "kept"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim_output_dir(empty, ".made-by-test", "a test") == empty  # an empty folder may be used
    with pytest.raises(Exception, match="refusing to clear"):
        claim_output_dir(tmp_path, ".made-by-test", "a test")


# --------------------------------------------------------------------------- how outputs are written


def test_an_output_path_that_is_a_symlink_is_written_through_and_stays_a_link(tmp_path, bench):
    real = tmp_path / "results" / "score.json"
    real.parent.mkdir()
    assert run_cli("score", tmp_path / "pred.json", "--benchmark", bench, "--out", real)[0] == 0  # ours to replace
    real.write_bytes(real.read_bytes().replace(b"{", b"{ ", 1))  # changed, still a score JSON of ours
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    code, _, err = run_cli("score", tmp_path / "pred.json", "--benchmark", bench, "--out", link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["total"]["videos"] == 3 and not real.read_bytes().startswith(b"{ ")


def test_devices_and_pipes_are_written_directly_never_replaced(tmp_path, bench):
    code, _, err = run_cli("score", tmp_path / "pred.json", "--benchmark", bench, "--out", "/dev/null")
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device, not a regular file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run_cli("score", tmp_path / "pred.json", "--benchmark", bench, "--out", fifo)
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and json.loads(received[0])["total"]["videos"] == 3


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_outputs_respect_the_umask(tmp_path, bench, umask, mode):
    previous = os.umask(umask)
    try:
        code, _, err = run_cli("score", tmp_path / "pred.json", "--benchmark", bench, "--out", tmp_path / "s.json")
        assert code == 0, err
        labels = {vid(i): {"category": [SEEN, UNSEEN][i % 2], "label": json.dumps([1] * 10)} for i in range(12)}
        (tmp_path / "labels.json").write_text(json.dumps(labels))
        code, _, err = run_cli(
            "split",
            "--labels",
            tmp_path / "labels.json",
            "--out",
            tmp_path / "split",
            "--unseen",
            "auto",
            "--num-unseen",
            "1",
            "--train-ratios",
            "0.5",
        )
        assert code == 0, err
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "s.json").st_mode) == mode
    written = [p for p in (tmp_path / "split").iterdir()]
    assert written and all(stat.S_IMODE(p.stat().st_mode) == mode for p in written)


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "shared.txt"
    path.write_text("v1")
    path.chmod(0o664)
    atomic_write_text(path, "v2")
    assert path.read_text() == "v2" and stat.S_IMODE(path.stat().st_mode) == 0o664


# --------------------------------------------------------------------------- download state follows the manifest


def _manifest(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    pd.DataFrame(
        [
            {
                "clip_id": f"{y}_{s:06d}",
                "youtube_id": y,
                "start_s": s,
                "end_s": e,
                "class_name": "dog barking",
                "split": "test",
            }
            for y, s, e in rows
        ]
    ).to_csv(path, index=False)
    return path


def test_bad_download_options_and_rows_are_refused_before_any_state_is_written(tmp_path):
    good = _manifest(tmp_path / "good.csv", [("okvideo0001", 0, 10)])
    for option, value in [
        ("--max-attempts", "0"),
        ("--workers", "0"),
        ("--workers", "-3"),
        ("--limit", "-1"),
        ("--max-height", "-1"),
        ("--timeout", "-1"),
        ("--proxy", "not a url"),
        ("--url-template", "file:///etc/{youtube_id}"),
        ("--url-template", "http://x/{vid}"),
        ("--cookies", str(tmp_path / "missing.txt")),
        ("--retry-failed", "cat purring"),
    ]:
        code, _, err = run_cli("download", "--manifest", good, "--out", tmp_path / "media", option, value)
        assert_refused(code, err)
        assert not (tmp_path / "media" / "download.sqlite").exists(), option
    backwards = _manifest(tmp_path / "bad.csv", [("okvideo0001", 0, 10), ("okvideo0002", 30, 20)])
    code, _, err = run_cli("download", "--manifest", backwards, "--out", tmp_path / "media")
    assert_refused(code, err, "bad.csv: row 3", "okvideo0002_000030", "end_s 20")
    assert not (tmp_path / "media" / "download.sqlite").exists()


def test_the_state_follows_a_fixed_manifest_for_clips_not_done(tmp_path):
    conn = open_state(tmp_path / "media")
    frame = pd.read_csv(_manifest(tmp_path / "m.csv", [("okvideo0001", 0, 10), ("okvideo0002", 5, 15)]))
    register_clips(conn, frame)
    with conn:
        conn.execute(
            "UPDATE clips SET status = 'failed', error_class = 'too_short', end_s = 9 "
            "WHERE clip_id = 'okvideo0001_000000'"
        )
        conn.execute("UPDATE clips SET status = 'done', class_name = 'kept' WHERE clip_id = 'okvideo0002_000005'")
    frame.loc[:, "class_name"] = "cat purring"
    register_clips(conn, frame)
    rows = {r["clip_id"]: dict(r) for r in conn.execute("SELECT * FROM clips")}
    assert rows["okvideo0001_000000"]["end_s"] == 10 and rows["okvideo0001_000000"]["status"] == "pending"
    assert (
        rows["okvideo0001_000000"]["error_class"] is None and rows["okvideo0001_000000"]["class_name"] == "cat purring"
    )
    assert rows["okvideo0002_000005"]["status"] == "done" and rows["okvideo0002_000005"]["class_name"] == "kept"


@pytest.mark.parametrize("which", ["download", "annotate"])
def test_a_corrupt_or_foreign_state_database_is_refused_and_kept(tmp_path, which):
    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / ("download.sqlite" if which == "download" else "annotate.sqlite")
    args = ["download", "status", "--out", folder] if which == "download" else ["annotate", "status", "--work", folder]
    for content in (b"this is not a database at all" * 10, b"SQLite format 3\x00" + b"\x00\xff" * 300):
        db.write_bytes(content)
        code, _, err = run_cli(*args)
        assert_refused(code, err, str(db), "left as it is")
        assert db.read_bytes() == content
    db.unlink()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE thesis (chapter TEXT)")
    before = db.read_bytes()
    code, _, err = run_cli(*args)
    assert_refused(code, err, "other tables (thesis)")
    assert db.read_bytes() == before


def test_annotate_commands_do_not_create_a_work_folder_from_a_typo(tmp_path):
    for args in (
        ["annotate", "status", "--work", tmp_path / "typo"],
        ["annotate", "finalize", "--work", tmp_path / "typo", "--out", tmp_path / "l.json"],
        ["annotate", "import", "--round", "1", "--work", tmp_path / "typo", "--from", tmp_path / "x.json"],
    ):
        code, _, err = run_cli(*args)
        assert_refused(code, err, "not an annotation work folder")
        assert not (tmp_path / "typo").exists()


# --------------------------------------------------------------------------- split validates before writing


@pytest.mark.parametrize(
    "option, value, needle",
    [
        ("--prefix", "../x", "not a path"),
        ("--prefix", "a/b", "not a path"),
        ("--seen-eval-fraction", "2", "seen-eval-fraction"),
        ("--seen-eval-fraction", "-0.5", "seen-eval-fraction"),
        ("--seen-eval-fraction", "0", "(0, 1)"),
        ("--test-share", "0", "(0, 1)"),
        ("--test-share", "1", "(0, 1)"),
        ("--seed", "-1", "--seed"),
        ("--target-ratio", "3:0", "target-ratio"),
        ("--train-ratios", "0.5,x", "train-ratios"),
    ],
)
def test_split_refuses_bad_parameters_before_writing_anything(tmp_path, option, value, needle):
    labels = {vid(i): {"category": [SEEN, UNSEEN][i % 2], "label": json.dumps([1] * 10)} for i in range(12)}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    code, _, err = run_cli(
        "split",
        "--labels",
        tmp_path / "labels.json",
        "--out",
        tmp_path / "out" / "bench",
        "--unseen",
        "auto",
        "--num-unseen",
        "1",
        option,
        value,
    )
    assert_refused(code, err, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.json"]


def test_split_refuses_a_rule_that_empties_a_split(tmp_path):
    labels = {vid(i): {"category": [SEEN, UNSEEN][i % 2], "label": json.dumps([1] * 10)} for i in range(4)}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    code, _, err = run_cli(
        "split",
        "--labels",
        tmp_path / "labels.json",
        "--out",
        tmp_path / "out",
        "--unseen",
        "auto",
        "--num-unseen",
        "1",
        "--seen-eval-fraction",
        "0.99",
    )
    assert_refused(code, err, "would be empty", "nothing was written")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- metadata checks what it keeps


def test_metadata_fetch_refuses_an_html_page_and_force_fetches_again(tmp_path, reference):
    site = tmp_path / "site"
    site.mkdir()
    (site / "vggsound.csv").write_text("<!DOCTYPE html><html><body>Please sign in</body></html>\n")
    (site / "stat.csv").write_bytes((reference / "vggsound" / "stat.csv").read_bytes())
    cache = tmp_path / "cache"
    with LocalServer(site) as server:
        args = [
            "metadata",
            "fetch",
            "--cache",
            cache,
            "--vggsound-url",
            server.url("vggsound.csv"),
            "--vggsound-stat-url",
            server.url("stat.csv"),
            "--ovave-base-url",
            server.url("ovave/"),
        ]
        (site / "ovave").mkdir()
        for name in (
            "ovave_dataset_meta.csv",
            "released_ovavel_dataset_anno.json",
            "ovave_categories.csv",
            "ovave_total_close_open_categories.csv",
            "ovave_train_close_categories.csv",
        ):
            (site / "ovave" / name).write_bytes((reference / "ovavebench" / name).read_bytes())
        code, _, err = run_cli(*args)
        assert_refused(code, err, "HTML", "nothing was kept")
        assert not (cache / "vggsound" / "vggsound.csv").exists()
        # An older version kept such a page and its marker: it is no longer "already verified".
        (cache / "vggsound").mkdir(parents=True, exist_ok=True)
        page = (site / "vggsound.csv").read_bytes()
        (cache / "vggsound" / "vggsound.csv").write_bytes(page)
        import hashlib

        (cache / "vggsound" / "vggsound.csv.sha256").write_text(hashlib.sha256(page).hexdigest() + "\n")
        (site / "vggsound.csv").write_bytes(
            (reference / "vggsound" / "vggsound_test_rows.csv").read_bytes()[:20_000].rsplit(b"\n", 1)[0] + b"\n"
        )
        code, out, err = run_cli(*args)
        assert code == 0, err
        assert (
            "downloaded" in out
            and (cache / "vggsound" / "vggsound.csv").read_bytes() == (site / "vggsound.csv").read_bytes()
        )
        code, out, err = run_cli(*args)
        assert code == 0 and "downloaded" not in out
        code, out, err = run_cli(*args, "--force")
        assert code == 0 and out.count("downloaded") == 7, out


# --------------------------------------------------------------------------- the crashes that were seen, as regressions


def test_text_inputs_in_other_encodings_are_refused_in_one_line(tmp_path, bench):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({vid(0): {"category": SEEN, "label": "[1,1,1,1,1,1,1,1,1,1]"}}), encoding="utf-16")
    code, _, err = run_cli("split", "--labels", labels, "--out", tmp_path / "o")
    assert_refused(code, err, "UTF-16", "labels.json")
    vgg = tmp_path / "vggsound.csv"
    vgg.write_bytes(b"---g-f_I2yQ,1,people marching,test\n---g-f_I2yQ,2,caf\xe9,test\n")
    code, _, err = run_cli("manifest", "--out", tmp_path / "m.csv", "--vggsound-csv", vgg, "--benchmark-dir", bench)
    assert_refused(code, err, "vggsound.csv:2", "not UTF-8")


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"' + vid(2).encode() + b'": ' + b"9" * 5000 + b"}", "unreadable JSON value"),
        (
            f'{{"{vid(2)}": {json.dumps(["background"] * 10)}, "{vid(2)}": {json.dumps(["other"] * 10)}}}'.encode(),
            "appears twice",
        ),
    ],
)
def test_predictions_that_would_crash_or_mislead_are_refused(tmp_path, bench, content, needle):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    code, _, err = run_cli("score", path, "--benchmark", bench)
    assert_refused(code, err, needle, "p.json")


def test_a_corrupt_availability_report_and_an_empty_meta_are_named(tmp_path, bench):
    (bench / "availability.json").write_text('{"obtained": "many"}')
    code, _, err = run_cli("score", tmp_path / "pred.json", "--benchmark", bench)
    assert_refused(code, err, "availability.json")
    (bench / "availability.json").unlink()
    (bench / "ovave_dataset_meta.csv").write_text("")
    code, _, err = run_cli("score", tmp_path / "pred.json", "--benchmark", bench)
    assert_refused(code, err, "ovave_dataset_meta.csv", "empty file")


def test_usage_errors_are_one_line_and_help_shows_every_default_in_full():
    code, _, err = run_cli("download", "--no-such-option")
    assert_refused(code, err, "No such option")
    code, out, _ = run_cli("download", "--help")
    assert code == 0 and "https://www.youtube.com/watch?v={youtube_id}" in out.replace("\n", "").replace(" ", "")
    code, out, _ = run_cli("annotate")
    assert code == 0 and "export" in out  # a group without a subcommand shows its help


def test_import_accepts_several_files_after_one_from(tmp_path):
    from .annotation_helpers import make_media, simulated_export

    manifest = make_media(tmp_path / "media", {vid(i): SEEN for i in range(4)})
    work = tmp_path / "work"
    code, _, err = run_cli(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        "1",
        "--annotators",
        "ann_a,ann_b",
        "--work",
        work,
    )
    assert code == 0, err
    answers = {vid(i): [1] * 10 for i in range(4)}
    files = []
    for name in ("ann_a", "ann_b"):
        path = tmp_path / f"round1_{name}.json"
        path.write_text(
            json.dumps(simulated_export(work / "tasks" / f"round1_{name}.json", answers, f"{name}@lab.org"))
        )
        files.append(path)
    code, out, err = run_cli("annotate", "import", "--round", "1", "--work", work, "--from", *files)
    assert code == 0, err
    assert "4 new" in out


def test_an_unbalanced_quote_is_reported_at_its_own_line_and_an_empty_vggsound_csv_is_refused(tmp_path, bench):
    rows = [f"{vid(i)[:11]},{i},people marching,test\n" for i in range(20)]
    rows[2] = '---g-f_I2yQ,3,"people marching,test\n'  # line 3 opens a quote that never closes
    vgg = tmp_path / "vggsound.csv"
    vgg.write_text("".join(rows))
    code, _, err = run_cli("manifest", "--out", tmp_path / "m.csv", "--vggsound-csv", vgg, "--benchmark-dir", bench)
    assert_refused(code, err, "vggsound.csv:3:", "unbalanced double quote")
    vgg.write_text("")
    code, _, err = run_cli("manifest", "--out", tmp_path / "m.csv", "--vggsound-csv", vgg, "--benchmark-dir", bench)
    assert_refused(code, err, "vggsound.csv", "no rows")
    assert not (tmp_path / "m.csv").exists()


def test_urls_other_than_http_a_damaged_run_and_a_missing_media_folder_are_one_line(tmp_path, bench):
    code, _, err = run_cli("metadata", "fetch", "--cache", tmp_path / "c", "--ovave-base-url", "file:///etc/")
    assert_refused(code, err, "expected an http:// or https:// URL")
    assert not (tmp_path / "c" / "ovavebench").exists() or not any((tmp_path / "c" / "ovavebench").iterdir())
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "store").mkdir()  # present (a missing one is refused first, by name), the damaged run is the problem
    code, _, err = run_cli(
        "baseline",
        "predict",
        "--run",
        tmp_path / "run",
        "--features",
        tmp_path / "store",
        "--benchmark",
        bench,
        "--out",
        tmp_path / "p.json",
    )
    assert_refused(code, err, "model.pt", "expected the model.pt")
    code, _, err = run_cli(
        "download", "export-layout", "--out", tmp_path / "nowhere", "--benchmark", bench, "--to", tmp_path / "layout"
    )
    assert_refused(code, err, "media folder not found")
    assert not (tmp_path / "layout").exists()
