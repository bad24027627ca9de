"""The annotation protocol in file mode (no server): plan, export, import, agreement, adjudication, finalize."""

from __future__ import annotations

import json
import sqlite3
import xml.dom.minidom

import pytest

from ovavebench.annotate import AnnotationError, answers_to_result, label_config, parse_result
from ovavebench.cli import app

from .annotation_helpers import make_media, parse_label, simulated_export
from .cli_runner import CliRunner
from .conftest import REPO

runner = CliRunner()


@pytest.fixture(scope="module")
def revisions(ovave_ref):
    """The two published label revisions: 12 videos differ. Take those and 8 that agree."""
    earlier = json.loads((ovave_ref / "ovavel_dataset_anno.json").read_text())
    released = json.loads((ovave_ref / "released_ovavel_dataset_anno.json").read_text())
    differ = sorted(v for v in released if released[v]["label"] != earlier[v]["label"])
    assert len(differ) == 12
    same = sorted(v for v in released if released[v]["label"] == earlier[v]["label"])[:8]
    chosen = differ + same
    return (
        {v: parse_label(earlier[v]["label"]) for v in chosen},
        {v: parse_label(released[v]["label"]) for v in chosen},
        {v: released[v]["category"] for v in chosen},
        differ,
    )


def _invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_label_config_has_the_published_names_and_a_regular_keyboard():
    config = label_config()
    dom = xml.dom.minidom.parseString(config)  # well-formed
    choices = {c.getAttribute("name"): c for c in dom.getElementsByTagName("Choices")}
    for k in range(10):
        group = choices[f"av_{k}"]
        assert group.getAttribute("toName") == f"second_{k}" and f"$frame_{k}" in config
        # checkbox-style: radio inputs would share names across seconds (arrow keys moving answers between them)
        assert group.getAttribute("choice") == "single" and group.getAttribute("required") == "true"
        assert group.getAttribute("requiredMessage").startswith(f"Second {k}:")
        keys = {c.getAttribute("value"): c.getAttribute("hotkey") for c in group.getElementsByTagName("Choice")}
        assert keys == {"yes": str(k), "no": f"shift+{k}"}
    assert 'name="clip_flag"' in config and "$class_name" in config and 'name="clip_player"' in config
    assert not dom.getElementsByTagName("Image") and not dom.getElementsByTagName("Audio")  # no canvases, no waveforms
    shipped = REPO / "ovavebench" / "annotate" / "assets" / "label_config.xml"
    assert shipped.read_text() == config  # the file a file-mode user imports


def test_tasks_show_each_seconds_own_frame_and_the_clips_own_audio_without_copies(tmp_path):
    manifest = make_media(tmp_path / "media", {"abcdefghijk": "dog barking", "bcdefghijkl": "cat purring"})
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "media").rglob("*"))
    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        "ann1",
        "--work",
        tmp_path / "work",
        "--out",
        tmp_path / "tasks",
    )
    # nothing written into the media folder: no per-second copies of the audio
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "media").rglob("*")) == before
    (tasks,) = [json.loads(p.read_text()) for p in (tmp_path / "tasks").glob("round1_*.json")]
    config = label_config()
    assert (tmp_path / "tasks" / "label_config.xml").read_text() == config  # file mode: the same view
    dom = xml.dom.minidom.parseString(config)
    views = {t.getAttribute("name"): t.getAttribute("value") for t in dom.getElementsByTagName("HyperText")}
    for k in range(10):  # each second: its frame, and the clip's single audio from k to k + 1 s
        assert f'src="$frame_{k}"' in views[f"second_{k}"] and f'src="$audio#t={k},{k + 1}"' in views[f"second_{k}"]
    assert 'src="$audio"' in views["clip_player"]
    first, last = tasks
    for task in tasks:
        data = task["data"]
        assert all(isinstance(v, str | int) and "<" not in str(v) for v in data.values())  # URLs only, no HTML
        assert data["audio"].endswith(f"{data['clip_id']}/audio.wav")
        assert [data[f"frame_{k}"] for k in range(10)] == [
            f"/data/local-files/?d={data['clip_id']}/frames/{k}.png" for k in range(10)
        ]
    assert [first["data"][f"next_frame_{k}"] for k in range(10)] == [last["data"][f"frame_{k}"] for k in range(10)]
    assert {last["data"][f"next_frame_{k}"] for k in range(10)} == {""}
    assert len(json.dumps(first)) < 2000  # a task is its URLs: ~1.5 KB, not 10 seconds of HTML


def _many_clips(media, count):
    """``count`` clips sharing one set of media files (hard links: cheap at any size)."""
    make_media(media, {"aaaaaaaaaaa": "dog barking"})
    source = media / "aaaaaaaaaaa_000000"
    rows = []
    for i in range(count):
        clip = f"v{i:010d}_000000"
        (media / clip / "frames").mkdir(parents=True)
        for k in range(10):
            (media / clip / "frames" / f"{k}.png").hardlink_to(source / "frames" / f"{k}.png")
        (media / clip / "audio.wav").hardlink_to(source / "audio.wav")
        rows.append(f"{clip},v{i:010d},0,10,{('dog barking', 'cat purring', 'car horn')[i % 3]}")
    manifest = media.parent / "many.csv"
    manifest.write_text("clip_id,youtube_id,start_s,end_s,class_name\n" + "\n".join(rows) + "\n")
    return manifest


def test_a_rounds_tasks_come_in_bounded_files_each_importable_on_its_own(tmp_path):
    from ovavebench.annotate import export_round
    from ovavebench.annotate.importing import ROUND_FILE_RE
    from ovavebench.manifest import read_manifest

    manifest = _many_clips(tmp_path / "media", 250)
    work, out = tmp_path / "work", tmp_path / "tasks"
    report = export_round(
        read_manifest(manifest), tmp_path / "media", 1, ["ann1", "ann2"], work, out, tasks_per_file=40
    )
    names = sorted(p.name for p in out.glob("round1_*.json"))
    assert names == [f"round1_{a}+{i:03d}.json" for a in ("ann1", "ann2") for i in range(1, 5)]
    seen = []
    for name in names:
        tasks = json.loads((out / name).read_text())  # each file a complete task list of its own
        assert 0 < len(tasks) <= 40 and all(t["data"]["clip_id"] for t in tasks)
        assert ROUND_FILE_RE.match(name).group("annotator") == name.split("_")[1].split("+")[0]
        seen += [t["data"]["clip_id"] for t in tasks]
    assert sorted(seen) == sorted(f"v{i:010d}_000000" for i in range(250))  # every clip once, none twice
    assert report.tasks == {"ann1": 125, "ann2": 125} and len(report.chunks["ann1"]) == 4
    # the next task's frames cross file boundaries as the stream does: the last of one file, the first of the next
    part1, part2 = (json.loads((out / f"round1_ann1+00{i}.json").read_text()) for i in (1, 2))
    assert part1[-1]["data"]["next_frame_0"] == part2[0]["data"]["frame_0"]
    # exported again with one file per annotator: the parts of the earlier export go, nothing else does
    (out / "notes.json").write_text("{}")
    export_round(read_manifest(manifest), tmp_path / "media", 1, ["ann1", "ann2"], work, out, tasks_per_file=1000)
    assert sorted(p.name for p in out.iterdir()) == [
        "label_config.xml",
        "notes.json",
        "round1_ann1.json",
        "round1_ann2.json",
    ]


def test_an_export_killed_earlier_leaves_no_temporary_file_and_no_partial_file(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    manifest = _many_clips(tmp_path / "media", 600)
    work, out = tmp_path / "work", tmp_path / "tasks"
    script = (
        "import sys; from ovavebench.annotate import export_round; from ovavebench.manifest import read_manifest; "
        f"export_round(read_manifest({str(manifest)!r}), {str(tmp_path / 'media')!r}, 1, ['ann1', 'ann2'], "
        f"{str(work)!r}, {str(out)!r}, tasks_per_file=20)"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.is_dir() and any(p.name.endswith(".tmp") for p in out.iterdir()):
            break
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # a killed export's leftovers: a temporary file as an earlier crash left it, beside complete files only
    out.mkdir(exist_ok=True)
    (out / ".round1_ann1+007.json.k1ll3d.tmp").write_text('[\n{"data": {"clip_id": "half')
    (out / ".someone-elses.tmp").write_text("not ours")
    (work / "archive").mkdir()
    (work / "archive" / ".round1_ann1_project7.json.x1y2z3.tmp").write_text("[")  # a round being closed, killed
    for path in out.glob("round1_*.json"):
        json.loads(path.read_text())  # never a half-written file under its final name
    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        "ann1,ann2",
        "--work",
        work,
        "--out",
        out,
    )
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".someone-elses.tmp"]
    assert not [p for p in work.rglob("*.tmp")]


def test_a_work_folder_inside_the_media_or_the_document_root_is_refused(tmp_path):
    manifest = make_media(tmp_path / "root" / "media", {"abcdefghijk": "dog barking"})
    export = [
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "root" / "media",
        "--round",
        1,
        "--annotators",
        "ann1",
    ]
    for work, extra in (
        (tmp_path / "root" / "media" / "work", []),
        (tmp_path / "root" / "work", ["--document-root", tmp_path / "root"]),
    ):
        result = runner.invoke(app, [str(a) for a in (*export, "--work", work, *extra)])
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.strip().splitlines()
        assert f"--work {work}" in line and "outside" in line
        assert not work.exists()  # refused before anything was written
    _invoke(*export, "--work", tmp_path / "work", "--document-root", tmp_path / "root")


def test_annotation_validation_rejects_what_label_studio_accepts():
    good = answers_to_result([1, 0] * 5, True)
    assert parse_result(good) == ([1, 0] * 5, True)
    bad_choice = good[:1] + [{**good[1], "value": {"choices": ["maybe"]}}] + good[2:]
    with pytest.raises(AnnotationError, match="'maybe'"):
        parse_result(bad_choice)
    with pytest.raises(AnnotationError, match="unknown control 'av_12'"):
        parse_result(good + [{"from_name": "av_12", "type": "choices", "value": {"choices": ["yes"]}}])
    with pytest.raises(AnnotationError, match=r"second\(s\) \[9\] not answered"):
        parse_result(good[:9])


def test_two_rounds_exchange_adjudication_and_final_labels_in_file_mode(tmp_path, revisions):
    earlier, released, classes, differ = revisions
    manifest = make_media(tmp_path / "media", classes)
    work, tasks = tmp_path / "work", tmp_path / "tasks"
    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        "alice,bob",
        "--work",
        work,
        "--out",
        tasks,
    )
    files = sorted(p.name for p in tasks.glob("round1_*.json"))
    assert files == ["round1_alice.json", "round1_bob.json"]
    task = json.loads((tasks / "round1_alice.json").read_text())[0]
    assert set(task["data"]) >= {
        "clip_id",
        "class_name",
        *(f"frame_{k}" for k in range(10)),
        "audio",
    }
    assert task["data"]["frame_3"].startswith("/data/local-files/?d=")
    # Round 1: the earlier revision, answered by whoever the plan named.
    exports1 = []
    for name in ("alice", "bob"):
        export = simulated_export(
            tasks / f"round1_{name}.json", earlier, f"{name}@example.com", start_id=100 * len(exports1) + 1
        )
        path = tmp_path / "exports" / f"round1_{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(export))
        exports1.append(path)
    result = _invoke("annotate", "import", "--round", 1, "--work", work, "--from", exports1[0], "--from", exports1[1])
    assert "20 new" in result.stdout and "0 rejected" in result.stdout
    again = _invoke("annotate", "import", "--round", 1, "--work", work, "--from", exports1[0], "--from", exports1[1])
    assert "0 new, 0 updated, 20 unchanged" in again.stdout  # importing twice changes nothing

    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        2,
        "--annotators",
        "alice,bob",
        "--work",
        work,
        "--out",
        tasks,
    )
    conn = sqlite3.connect(work / "annotate.sqlite")
    plans = dict(
        conn.execute(
            "SELECT a.clip_id, a.annotator || '>' || b.annotator FROM assignments a "
            "JOIN assignments b ON a.clip_id = b.clip_id AND a.round = 1 AND b.round = 2"
        ).fetchall()
    )
    assert len(plans) == 20 and all(p.split(">")[0] != p.split(">")[1] for p in plans.values())  # exchanged
    exports2 = []
    for name in ("alice", "bob"):
        path = tmp_path / "exports" / f"round2_{name}.json"
        path.write_text(
            json.dumps(simulated_export(tasks / f"round2_{name}.json", released, f"{name}@example.com", start_id=500))
        )
        exports2.append(path)
    _invoke(
        "annotate", "import", "--round", 2, "--work", work, "--from", *sum((["--from", p] for p in exports2), [])[1:]
    )
    status = _invoke("annotate", "status", "--work", work).stdout
    assert "clips needing adjudication: 12" in status
    assert "alice→bob" in status and "bob→alice" in status and "Krippendorff" in status

    failing = runner.invoke(app, ["annotate", "finalize", "--work", str(work), "--out", str(tmp_path / "labels.json")])
    assert failing.exit_code == 2 and "12 disagreement(s) without a round-3 decision" in failing.stderr

    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        3,
        "--annotators",
        "carol",
        "--work",
        work,
        "--out",
        tasks,
    )
    round3 = json.loads((tasks / "round3_carol.json").read_text())
    assert sorted(t["data"]["clip_id"].rsplit("_", 1)[0] for t in round3) == differ
    versions = [p["model_version"] for p in round3[0]["predictions"]]
    assert versions[0].startswith("round1:") and versions[1].startswith("round2:")
    # The adjudicator knows the truth (the released labels) and flags one clip as broken.
    broken = {differ[0]}
    path = tmp_path / "exports" / "round3_carol.json"
    path.write_text(
        json.dumps(simulated_export(tasks / "round3_carol.json", released, "carol@example.com", broken, start_id=900))
    )
    _invoke("annotate", "import", "--round", 3, "--work", work, "--from", path)
    # A late round-1 re-import must not change an adjudicated clip.
    late = simulated_export(
        tasks / "round1_alice.json", {v: [0] * 10 for v in earlier}, "alice@example.com", start_id=1
    )
    late = [t for t in late if t["data"]["clip_id"].rsplit("_", 1)[0] in differ]
    assert late
    late_path = tmp_path / "exports" / "round1_alice.json"
    late_path.write_text(json.dumps(late))
    result = _invoke("annotate", "import", "--round", 1, "--work", work, "--from", late_path)
    assert "kept (already adjudicated)" in result.stdout

    final = _invoke("annotate", "finalize", "--work", work, "--out", tmp_path / "labels.json")
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert differ[0] not in labels and "dropped (broken)" in final.stdout
    assert sorted(labels) == sorted(set(classes) - broken)
    for video, entry in labels.items():  # agreed answers and adjudications: the released labels
        assert entry["category"] == classes[video] and parse_label(entry["label"]) == released[video]
    assert "19 video(s) (8 agreed, 12 adjudicated); 1 dropped as broken" in final.stdout


def test_bad_and_foreign_annotations_are_reported_not_imported(tmp_path, revisions):
    earlier, released, classes, _ = revisions
    manifest = make_media(tmp_path / "media", classes)
    work, tasks = tmp_path / "work", tmp_path / "tasks"
    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        "alice,bob",
        "--work",
        work,
        "--out",
        tasks,
    )
    export = simulated_export(tasks / "round1_alice.json", earlier, "alice@example.com")
    export[0]["annotations"][0]["result"][2]["value"]["choices"] = ["maybe"]  # an unknown choice
    export[1]["annotations"][0]["result"] = export[1]["annotations"][0]["result"][:7]  # missing seconds
    export[2]["annotations"][0]["completed_by"] = {"id": 9, "email": "mallory@example.com"}  # not in the plan
    export[3]["data"] = {**export[3]["data"], "clip_id": "zzzzzzzzzzz_000000"}  # unknown clip
    export.append({**export[4], "id": 999})  # the same clip annotated twice in one round
    path = tmp_path / "round1_alice.json"
    path.write_text(json.dumps(export))
    result = runner.invoke(app, ["annotate", "import", "--round", "1", "--work", str(work), "--from", str(path)])
    assert result.exit_code == 0, result.output
    assert "5 rejected" in result.stdout
    for expected in (
        "choice ['maybe']",
        "second(s) [7, 8, 9] not answered",
        "'mallory@example.com', who is not an annotator",
        "unknown clip 'zzzzzzzzzzz_000000'",
        "annotated twice in round 1",
    ):
        assert expected in result.stderr
    conn = sqlite3.connect(work / "annotate.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == len(export) - 5


def test_updated_annotation_replaces_and_keeps_history(tmp_path, revisions):
    earlier, _, classes, _ = revisions
    manifest = make_media(tmp_path / "media", classes)
    work, tasks = tmp_path / "work", tmp_path / "tasks"
    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        "alice",
        "--work",
        work,
        "--out",
        tasks,
    )
    export = simulated_export(tasks / "round1_alice.json", earlier, "alice@example.com")
    path = tmp_path / "round1_alice.json"
    path.write_text(json.dumps(export))
    _invoke("annotate", "import", "--round", 1, "--work", work, "--from", path)
    clip = export[0]["data"]["clip_id"]
    flipped = [1 - a for a in earlier[clip.rsplit("_", 1)[0]]]
    export[0]["annotations"][0]["result"] = answers_to_result(flipped, False)
    export[0]["annotations"][0]["updated_at"] = "2026-11-26T11:00:00Z"
    path.write_text(json.dumps(export))
    result = _invoke("annotate", "import", "--round", 1, "--work", work, "--from", path)
    assert "0 new, 1 updated" in result.stdout
    conn = sqlite3.connect(work / "annotate.sqlite")
    rows = conn.execute(
        "SELECT answers, superseded_at IS NULL FROM annotations WHERE clip_id = ? ORDER BY id", (clip,)
    ).fetchall()
    assert len(rows) == 2 and rows[0][1] == 0 and rows[1] == ("".join(map(str, flipped)), 1)


def test_round_2_cannot_exchange_with_one_annotator(tmp_path, revisions):
    _, _, classes, _ = revisions
    manifest = make_media(tmp_path / "media", classes)
    work = tmp_path / "work"
    _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        "alice",
        "--work",
        work,
    )
    result = runner.invoke(
        app,
        [
            "annotate",
            "export",
            "--manifest",
            str(manifest),
            "--media",
            str(tmp_path / "media"),
            "--round",
            "2",
            "--annotators",
            "alice",
            "--work",
            str(work),
        ],
    )
    assert result.exit_code == 2 and "at least two" in result.stderr


def test_accounts_refuses_bad_annotator_names_before_contacting_the_server():
    for names, message in (("a b", "annotator name 'a b'"), ("a,,b", "an empty name"), ("a,a", "listed twice")):
        result = runner.invoke(
            app,
            [
                "annotate",
                "accounts",
                "--annotators",
                names,
                "--label-studio-url",
                "http://127.0.0.1:9",
                "--api-key",
                "k",
            ],
        )
        assert result.exit_code == 2 and message in result.stderr and "Label Studio" not in result.stderr
