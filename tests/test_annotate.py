"""The annotation protocol in file mode (no server): plan, export, import, agreement, adjudication, finalize."""

from __future__ import annotations

import json
import sqlite3
import xml.dom.minidom

import pytest
from .cli_runner import CliRunner

from ovavebench.annotate import AnnotationError, answers_to_result, label_config, parse_result
from ovavebench.cli import app

from .annotation_helpers import make_media, parse_label, simulated_export
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
        assert group.getAttribute("toName") == f"second_{k}" and f"$second_{k}" in config
        # checkbox-style: radio inputs would share names across seconds (arrow keys moving answers between them)
        assert group.getAttribute("choice") == "single" and group.getAttribute("required") == "true"
        assert group.getAttribute("requiredMessage").startswith(f"Second {k}:")
        keys = {c.getAttribute("value"): c.getAttribute("hotkey") for c in group.getElementsByTagName("Choice")}
        assert keys == {"yes": str(k), "no": f"shift+{k}"}
    assert 'name="clip_flag"' in config and "$class_name" in config and "$clip_player" in config
    assert not dom.getElementsByTagName("Image") and not dom.getElementsByTagName("Audio")  # no canvases, no waveforms
    shipped = REPO / "ovavebench" / "annotate" / "assets" / "label_config.xml"
    assert shipped.read_text() == config  # the file a file-mode user imports


def test_tasks_show_each_seconds_own_frame_and_audio(tmp_path):
    manifest = make_media(tmp_path / "media", {"abcdefghijk": "dog barking", "bcdefghijkl": "cat purring"})
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
    (tasks,) = [json.loads(p.read_text()) for p in (tmp_path / "tasks").glob("round1_*.json")]
    assert (tmp_path / "tasks" / "label_config.xml").read_text() == label_config()  # file mode: the same view
    for task in tasks:
        data = task["data"]
        assert data["audio"].endswith("/audio.wav") and f'src="{data["audio"]}"' in data["clip_player"]
        for k in range(10):
            assert f'src="{data[f"frame_{k}"]}"' in data[f"second_{k}"] and data[f"frame_{k}"].endswith(
                f"frames/{k}.png"
            )
            assert f'src="{data[f"audio_{k}"]}"' in data[f"second_{k}"] and data[f"audio_{k}"].endswith(
                f"seconds/{k}.wav"
            )


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
        *(f"audio_{k}" for k in range(10)),
    }
    assert task["data"]["frame_3"].startswith("/data/local-files/?d=")
    clip = task["data"]["clip_id"]
    assert (tmp_path / "media" / clip / "seconds" / "9.wav").exists()  # one short file per second
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
