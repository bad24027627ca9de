"""The annotation protocol against a real Label Studio server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest

from ovavebench.annotate import answers_to_result, label_config, open_work
from ovavebench.annotate.labelstudio import LabelStudioClient
from ovavebench.cli import app
from ovavebench.errors import OvavebenchError

from .annotation_helpers import make_media, parse_label
from .cli_runner import CliRunner

runner = CliRunner()


pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture
def private_dir():
    """A folder outside the test server's document root (the tests' temporary folders are below it): where a work
    folder goes, out of the annotators' reach."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="ovave-work-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def client(label_studio):
    return LabelStudioClient(label_studio.url, label_studio.token)


@pytest.fixture(scope="module")
def annotators(client):
    """Annotator accounts on the server: plan name → user id."""
    suffix = uuid.uuid4().hex[:6]
    names = {f"alice{suffix}", f"bob{suffix}", f"carol{suffix}"}
    return {name: client.create_user(name, f"{name}@example.com", "annotator-password-1") for name in sorted(names)}


def _invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def _annotate_projects(client, work, round_no, annotators, answers):
    """Each annotator answers every task of their project (posted with their user as the author)."""
    with contextlib.closing(open_work(work)) as conn:
        projects = client.project_ids(conn, round_no)
    assert projects
    for name, project_id in projects.items():
        for task in client._sdk.tasks.list(project=project_id):
            youtube_id = task.data["clip_id"].rsplit("_", 1)[0]
            client._sdk.annotations.create(
                id=task.id,
                result=answers_to_result(answers[youtube_id], False),
                completed_by=annotators[name],
                lead_time=4.2,
            )
    return projects


def test_whole_protocol_against_a_live_server(private_dir, tmp_path, label_studio, client, annotators, ovave_ref):
    earlier = json.loads((ovave_ref / "ovavel_dataset_anno.json").read_text())
    released = json.loads((ovave_ref / "released_ovavel_dataset_anno.json").read_text())
    differ = sorted(v for v in released if released[v]["label"] != earlier[v]["label"])
    chosen = differ + sorted(v for v in released if released[v]["label"] == earlier[v]["label"])[:6]
    manifest = make_media(tmp_path / "media", {v: released[v]["category"] for v in chosen})
    first = {v: parse_label(earlier[v]["label"]) for v in chosen}
    truth = {v: parse_label(released[v]["label"]) for v in chosen}
    alice, bob, carol = sorted(annotators)
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    work = private_dir / "work"

    result = _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        1,
        "--annotators",
        f"{alice},{bob}",
        "--work",
        work,
        *live,
    )
    assert "warning" not in result.output  # local-files storage attached
    # Every frame and audio URL of a task loads through the server, as the annotator's browser fetches it.
    with contextlib.closing(open_work(work)) as conn:
        some_project = next(iter(client.project_ids(conn, 1).values()))
    task = next(iter(client._sdk.tasks.list(project=some_project)))
    urls = [task.data[f"frame_{k}"] for k in range(10)] + [task.data["audio"]]  # the one audio file, no copies
    assert all(client.media_status(url) in (200, 206) for url in urls), urls
    projects = _annotate_projects(client, work, 1, annotators, first)
    assert len(projects) == 2
    imported = _invoke("annotate", "import", "--round", 1, "--work", work, *live)
    assert f"{len(chosen)} new" in imported.stdout and "0 rejected" in imported.stdout
    again = _invoke("annotate", "import", "--round", 1, "--work", work, *live)
    assert f"{len(chosen)} unchanged" in again.stdout

    exported = _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        2,
        "--annotators",
        f"{alice},{bob}",
        "--work",
        work,
        *live,
    )
    # Round 1 is closed: archived, then deleted on the server, so round-2 annotators cannot read its answers.
    for project_id in projects.values():
        assert f"project {project_id} closed" in exported.stdout
        with pytest.raises(OvavebenchError, match="HTTP 404"):
            client.snapshot_export(project_id)
    assert len(list((work / "archive").glob("round1_*.json"))) == 2
    from_archive = _invoke("annotate", "import", "--round", 1, "--work", work, *live)
    assert f"{len(chosen)} unchanged" in from_archive.stdout  # a closed round re-imports from its archive
    _annotate_projects(client, work, 2, annotators, truth)
    _invoke("annotate", "import", "--round", 2, "--work", work, *live)
    status = _invoke("annotate", "status", "--work", work).stdout
    assert f"clips needing adjudication: {len(differ)}" in status

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
        carol,
        "--work",
        work,
        *live,
    )
    with contextlib.closing(open_work(work)) as conn:
        (project3,) = client.project_ids(conn, 3).values()
    tasks3 = list(client._sdk.tasks.list(project=project3))
    assert sorted(t.data["clip_id"].rsplit("_", 1)[0] for t in tasks3) == differ
    exported = client.snapshot_export(project3)
    assert all(len(t.get("predictions", [])) == 2 for t in exported)  # both earlier answers pre-filled
    _annotate_projects(client, work, 3, annotators, truth)
    _invoke("annotate", "import", "--round", 3, "--work", work, *live)
    _invoke("annotate", "finalize", "--work", work, "--out", tmp_path / "labels.json")
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert {v: parse_label(e["label"]) for v, e in labels.items()} == truth


def test_server_rejects_a_broken_config(client):
    assert "av_9" in label_config()
    with pytest.raises(OvavebenchError, match=r"HTTP 400.*toName"):
        client.create_project("broken", '<View><Choices name="x" toName="nowhere"><Choice value="a"/></Choices></View>')


def test_bad_annotation_saved_by_the_server_is_reported_not_imported(
    private_dir, tmp_path, label_studio, client, annotators, ovave_ref
):
    released = json.loads((ovave_ref / "released_ovavel_dataset_anno.json").read_text())
    chosen = sorted(released)[:3]
    manifest = make_media(tmp_path / "media", {v: released[v]["category"] for v in chosen})
    alice = sorted(annotators)[0]
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    work = private_dir / "work"
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
        alice,
        "--work",
        work,
        *live,
    )
    with contextlib.closing(open_work(work)) as conn:
        (project,) = client.project_ids(conn, 1).values()
    tasks = list(client._sdk.tasks.list(project=project))
    good = answers_to_result([1] * 10, False)
    bad = good[:4] + [{**good[4], "value": {"choices": ["maybe"]}}] + good[5:]
    client._sdk.annotations.create(id=tasks[0].id, result=bad, completed_by=annotators[alice])  # the server keeps it
    client._sdk.annotations.create(id=tasks[1].id, result=good, completed_by=annotators[alice])
    result = runner.invoke(app, ["annotate", "import", "--round", "1", "--work", str(work), *live])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.stdout and "1 rejected" in result.stdout
    assert f"task {tasks[0].id} by {alice}" in result.stderr and "'maybe'" in result.stderr


def test_api_key_never_appears_in_errors(label_studio):
    secret = "not-the-key-" + uuid.uuid4().hex
    with pytest.raises(OvavebenchError) as info:
        LabelStudioClient(label_studio.url, secret).users()
    assert secret not in str(info.value) and "HTTP 401" in str(info.value)


def test_a_document_root_the_server_does_not_use_is_refused_with_the_setting_to_use(
    private_dir, tmp_path, label_studio
):
    manifest = make_media(tmp_path / "media", {"abcdefghijk": "dog barking", "bcdefghijkl": "cat purring"})
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    result = runner.invoke(
        app,
        [
            str(a)
            for a in (
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
                private_dir / "work",
                "--document-root",
                tmp_path,
                *live,
            )
        ],
    )
    assert result.exit_code == 2
    assert "LOCAL_FILES_DOCUMENT_ROOT=" in result.stderr and "--document-root" in result.stderr


def test_closing_a_round_never_deletes_projects_recorded_for_another_server(
    private_dir, tmp_path, label_studio, client
):
    manifest = make_media(tmp_path / "media", {"abcdefghijk": "dog barking", "bcdefghijkl": "cat purring"})
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    export = [
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--annotators",
        "ann1,ann2",
        "--work",
        private_dir / "work",
    ]
    _invoke(*export, "--round", 1, *live)
    with contextlib.closing(open_work(private_dir / "work")) as conn, conn:
        projects = client.project_ids(conn, 1)
        conn.execute("UPDATE projects SET url = 'http://elsewhere.example:8080'")  # as if made on another server
    result = runner.invoke(app, [str(a) for a in (*export, "--round", 2, *live)])
    assert result.exit_code == 2 and "http://elsewhere.example:8080" in result.stderr
    assert all(isinstance(client.snapshot_export(pid), list) for pid in projects.values())  # still there


def test_closing_a_round_imports_what_was_not_imported_before_deleting(
    private_dir, tmp_path, label_studio, client, annotators
):
    manifest = make_media(tmp_path / "media", {"abcdefghijk": "dog barking", "bcdefghijkl": "dog barking"})
    alice, bob = sorted(annotators)[:2]
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    export = [
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--annotators",
        f"{alice},{bob}",
        "--work",
        private_dir / "work",
    ]
    _invoke(*export, "--round", 1, *live)
    answers = {"abcdefghijk": [1] * 10, "bcdefghijkl": [0] * 10}
    projects = _annotate_projects(client, private_dir / "work", 1, annotators, answers)  # answered, never imported
    closed = _invoke(*export, "--round", 2, *live).stdout
    for project_id in projects.values():
        assert f"project {project_id} closed: 1 annotation(s), 1 new to the store" in closed
    with contextlib.closing(open_work(private_dir / "work")) as conn:
        stored = dict(
            conn.execute("SELECT clip_id, answers FROM annotations WHERE round = 1 AND superseded_at IS NULL")
        )
    assert stored == {f"{v}_000000": "".join(map(str, a)) for v, a in answers.items()}


def test_annotator_accounts_log_in_with_the_printed_password_and_are_made_once(label_studio, client):
    name = f"acct{uuid.uuid4().hex[:6]}"
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    first = _invoke("annotate", "accounts", "--annotators", name, "--email-domain", "lab.example.org", *live).stdout
    (email, password) = first.split()[1], first.split("password: ")[1].strip()
    assert email == f"{name}@lab.example.org"
    assert client.can_log_in(email, password) and not client.can_log_in(email, password + "x")
    again = _invoke("annotate", "accounts", "--annotators", name, "--email-domain", "lab.example.org", *live).stdout
    assert "exists already (password unchanged)" in again and client.can_log_in(email, password)
    assert client.users()  # the admin sees the new user; import matches it by the part of the email before '@'
    assert name in {who.split("@")[0] for who in client.users().values()}


def test_pre_annotation_and_gold_live_the_annotators_answer_is_imported_never_the_models(
    private_dir, tmp_path, label_studio, client, annotators
):
    alice, bob = sorted(annotators)[:2]
    clips = {f"pre{i:08d}": "dog barking" for i in range(6)}
    manifest = make_media(tmp_path / "media", clips)
    truth = {v: [1, 1, 1, 0, 0, 0, 0, 1, 1, 1] for v in clips}
    model = {v: ["dog barking"] * 3 + ["background"] * 7 for v in clips}  # wrong on seconds 7-9
    predictions = tmp_path / "zs.json"
    predictions.write_text(json.dumps({"predictions": model, "meta": {"method": "training-free (test)"}}))
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({v: truth[v] for v in sorted(clips)[:4]}))
    work = private_dir / "work"
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
        f"{alice},{bob}",
        "--work",
        work,
        "--predictions",
        predictions,
        "--gold",
        gold,
        "--gold-rate",
        0.5,
        "--label-studio-url",
        label_studio.url,
        "--api-key",
        label_studio.token,
    )
    with contextlib.closing(open_work(work)) as conn:
        projects = client.project_ids(conn, 1)
        gold_of = {
            name: {
                r["clip_id"] for r in conn.execute("SELECT clip_id FROM gold_assignments WHERE annotator = ?", (name,))
            }
            for name in projects
        }
    for name, project_id in projects.items():
        project = client._sdk.projects.get(id=project_id)
        assert project.show_collab_predictions and project.model_version == "training-free (test)"
        tasks = list(client._sdk.tasks.list(project=project_id, fields="all"))
        assert len([t for t in tasks if t.data["clip_id"] in gold_of[name]]) == len(gold_of[name]) >= 1
        for task in tasks:
            (prediction,) = client._sdk.predictions.list(task=task.id)
            assert prediction.model_version == "training-free (test)"
            assert sorted(r["from_name"] for r in prediction.result) == sorted(f"av_{k}" for k in range(10))
            youtube_id = task.data["clip_id"].rsplit("_", 1)[0]
            # the annotator corrects seconds 7-9 and confirms the rest
            client._sdk.annotations.create(
                id=task.id,
                result=answers_to_result(truth[youtube_id], False),
                completed_by=annotators[name],
                lead_time=3.0,
            )
    imported = _invoke(
        "annotate",
        "import",
        "--round",
        1,
        "--work",
        work,
        "--label-studio-url",
        label_studio.url,
        "--api-key",
        label_studio.token,
    ).stdout
    assert "0 rejected" in imported and "6 new" in imported
    with contextlib.closing(open_work(work)) as conn:
        rows = conn.execute("SELECT answers, prefilled FROM annotations WHERE round = 1").fetchall()
        gold_answers = conn.execute("SELECT COUNT(*) FROM gold_answers").fetchone()[0]
    assert {r["answers"] for r in rows} == {"1110000111"} and {r["prefilled"] for r in rows} == {"1110000000"}
    assert gold_answers == sum(len(g) for g in gold_of.values())
    status = _invoke("annotate", "status", "--work", work).stdout
    assert "18 corrected" in status and "42 confirmed" in status and "accuracy on gold" in status


def test_a_work_folder_below_the_document_root_is_readable_by_any_user_so_export_refuses_it(
    tmp_path, label_studio, client
):
    """Any Label Studio user may attach a local-files storage anywhere below LOCAL_FILES_DOCUMENT_ROOT and download
    what lies there: a work folder there would hand every round's answers to every annotator."""
    import urllib.parse
    import urllib.request

    # What a curious annotator can do: a project of their own, a storage on the folder, the store downloaded.
    exposed = tmp_path / "exposed-work"
    exposed.mkdir()
    (exposed / "annotate.sqlite").write_bytes(b"SQLite format 3\x00 every round's answers")
    project = client.create_project(f"curious {uuid.uuid4().hex[:6]}", label_config())
    client.attach_local_files(project, exposed)
    relative = exposed.resolve().relative_to(label_studio.document_root.resolve()) / "annotate.sqlite"
    url = f"{label_studio.url}/data/local-files/?d={urllib.parse.quote(str(relative))}"
    request = urllib.request.Request(url, headers={"Authorization": f"Token {label_studio.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and response.read().startswith(b"SQLite format 3")
    client.delete_project(project)

    # So `annotate export` refuses a work folder there, in one line, and leaves no project behind.
    manifest = make_media(tmp_path / "media", {"abcdefghijk": "dog barking", "bcdefghijkl": "cat purring"})
    before = {p.id for p in client._sdk.projects.list()}
    work = tmp_path / "work"
    result = runner.invoke(
        app,
        [
            str(a)
            for a in (
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
                "--label-studio-url",
                label_studio.url,
                "--api-key",
                label_studio.token,
            )
        ],
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"--work {work}" in line and "LOCAL_FILES_DOCUMENT_ROOT" in line and "outside" in line
    assert {p.id for p in client._sdk.projects.list()} == before  # the empty projects it made are gone again
    with contextlib.closing(open_work(work)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM projects").fetchone()[0] == 0


def test_an_export_run_again_or_resumed_after_a_kill_imports_each_task_once(
    tmp_path, private_dir, label_studio, client
):
    manifest = make_media(tmp_path / "media", {f"r{i:010d}": "dog barking" for i in range(5)})
    export = [
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
        private_dir / "work",
        "--label-studio-url",
        label_studio.url,
        "--api-key",
        label_studio.token,
    ]
    _invoke(*export)
    with contextlib.closing(open_work(private_dir / "work")) as conn:
        (project,) = client.project_ids(conn, 1).values()
    first = sorted(t.data["clip_id"] for t in client._sdk.tasks.list(project=project))
    for task in list(client._sdk.tasks.list(project=project))[:2]:  # as if killed after part of the import
        client._sdk.tasks.delete(id=task.id)
    again = _invoke(*export).stdout
    assert "      2 task(s)" in again  # only the missing ones
    _invoke(*export)
    assert sorted(t.data["clip_id"] for t in client._sdk.tasks.list(project=project)) == first  # each clip once
