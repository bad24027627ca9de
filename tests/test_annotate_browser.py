"""An annotator's round in a real browser: Chromium against a real Label Studio server on 127.0.0.1.

Set ``OVAVEBENCH_SCREENSHOTS=annotation/screenshots`` to refresh the README's screenshots of the task view.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image, ImageDraw

from ovavebench.annotate import open_work
from ovavebench.annotate.labelstudio import LabelStudioClient
from ovavebench.cli import app

from .browser import (
    browser_paths,
    log_in,
    media_responses,
    open_task,
    screenshot,
    scrolls_to_see_every_answer,
    second_playback,
    start_chromium,
    wait_until,
)
from .cli_runner import CliRunner
from .stream import STREAM_RECORDER, label_stream, summary

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]
runner = CliRunner()
# Chromium pauses a media fragment's playback at its end on its media timer (every 250 ms, HTMLMediaElement's
# playback progress timer); Label Studio strips scripts and on* attributes from the task's HTML, so no player script
# can stop it sooner. The start is exact.
FRAGMENT_END_SLACK_S = 0.3


def _invoke(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _scene_media(media: Path, clips: dict[str, str]) -> Path:
    """Frames that look like frames (a 320×240 scene, a source moving through it) and audible 1-s tones."""
    rows = []
    for i, (youtube_id, class_name) in enumerate(sorted(clips.items())):
        clip_id = f"{youtube_id}_000000"
        (media / clip_id / "frames").mkdir(parents=True)
        for k in range(10):
            frame = Image.new("RGB", (320, 240), (110 + 10 * i, 160, 215))
            draw = ImageDraw.Draw(frame)
            draw.rectangle([0, 170, 320, 240], fill=(90, 140, 70))
            draw.ellipse([20 + 26 * k, 120, 80 + 26 * k, 175], fill=(120, 80, 40))
            frame.save(media / clip_id / "frames" / f"{k}.png")
        t = np.arange(160_000) / 16_000
        tone = 0.2 * np.sin(2 * np.pi * (300 + 40 * np.floor(t)) * t) * (np.floor(t) % 3 != 2)
        soundfile.write(media / clip_id / "audio.wav", (tone * 32767).astype(np.int16), 16_000, subtype="PCM_16")
        rows.append({"clip_id": clip_id, "youtube_id": youtube_id, "start_s": 0, "end_s": 10, "class_name": class_name})
    manifest = media.parent / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def _accounts(stdout: str) -> dict[str, tuple[str, str]]:
    found = re.findall(r"^(\S+)\s+(\S+@\S+)\s+password: (\S+)$", stdout, re.M)
    return {name: (email, password) for name, email, password in found}


def _keyboard_answers(driver, answers: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The documented keys: digit k answers second k yes, Shift+digit k no; Ctrl+Enter submits."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for k, answer in answers.items():
        chain = ActionChains(driver)
        if answer:
            chain.send_keys(str(k))
        else:
            chain.key_down(Keys.SHIFT).send_keys(str(k)).key_up(Keys.SHIFT)
        chain.perform()
    ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()


def _press_arrows_on_the_first_answer(driver) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    # Focus on an answer's input, as Tab gives it (a radio group would take the arrows to the next second's input).
    driver.execute_script("document.querySelector('.ovave-card .lsf-choices input').focus()")
    ActionChains(driver).send_keys(Keys.ARROW_RIGHT, Keys.ARROW_DOWN, Keys.ARROW_RIGHT).perform()
    driver.execute_script("document.activeElement.blur()")  # back to the page, as after a click: the keys work there


def _checked(driver) -> list[str | None]:  # type: ignore[no-untyped-def]
    return driver.execute_script("""
        return [...document.querySelectorAll('.ovave-card .lsf-choices')].map(group => {
          const on = [...group.querySelectorAll('input')].filter(i => i.checked).map(i => i.name);
          return on.length === 1 ? on[0] : null; });""")


@pytest.fixture
def private_dir():
    """A folder outside the test server's document root (the tests' temporary folders are below it): where a work
    folder goes, out of the annotators' reach."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ovave-work-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_annotator_answers_a_task_by_keyboard_in_a_real_browser(tmp_path, label_studio, private_dir):
    browser_paths()  # skip (or fail under CI=true) before any set-up when there is no browser
    suffix = uuid.uuid4().hex[:6]
    first, second = f"ann{suffix}a", f"ann{suffix}b"
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    client = LabelStudioClient(label_studio.url, label_studio.token)
    manifest = _scene_media(tmp_path / "media", {"aaaaaaaaaaa": "dog barking", "bbbbbbbbbbb": "dog barking"})
    work = private_dir / "work"

    accounts = _accounts(_invoke("annotate", "accounts", "--annotators", f"{first},{second}", *live))
    assert set(accounts) == {first, second}
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
        f"{first},{second}",
        "--work",
        work,
        *live,
    )
    with contextlib.closing(open_work(work)) as conn:
        project = client.project_ids(conn, 1)[first]
    (task,) = list(client._sdk.tasks.list(project=project))
    task_url = f"{label_studio.url}/projects/{project}/data?task={task.id}"
    shots = Path(os.environ.get("OVAVEBENCH_SCREENSHOTS") or tmp_path / "screenshots")

    driver = start_chromium(1366, 768)
    try:
        log_in(driver, label_studio.url, *accounts[first])
        stream_url = f"{label_studio.url}/projects/{project}/data?labeling=1"
        stream = [open_task(driver, stream_url, tti=True) for _ in range(3)]  # fresh loads of "Label All Tasks"
        loads = [open_task(driver, task_url) for _ in range(3)]  # best of three: other processes share the 2 cores
        best_stream = min(load.tti_ms for load in stream)
        best = min(load.interactive_ms for load in loads)
        print(
            f"time to interactive at 1366x768: stream {[round(load.tti_ms) for load in stream]} ms "
            f"(best {best_stream:.0f}; a click answered in {[round(load.click_ms) for load in stream]} ms), "
            f"split view {[round(load.interactive_ms) for load in loads]} ms (best {best:.0f})"
        )
        # the split view's pane is narrower: the five columns fit it (nothing clipped at the right edge)
        overflow = driver.execute_script("""
            const grid = document.querySelector('.ovave-grid');
            let box = grid; const clipped = [];
            while (box) { if (box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== 'visible')
                            clipped.push([box.className.toString().slice(0, 40), box.scrollWidth, box.clientWidth]);
                          box = box.parentElement; }
            return [grid.scrollWidth - grid.clientWidth, clipped];""")
        assert overflow == [0, []], overflow
        assert scrolls_to_see_every_answer(driver) <= 1
        screenshot(driver, shots / "task_1366x768.png")

        wanted = {task.data[f"frame_{k}"] for k in range(10)} | {task.data["audio"]}
        playback = second_playback(driver)
        statuses = {url.removeprefix(label_studio.url): status for url, status in media_responses(driver).items()}
        assert wanted <= set(statuses), sorted(wanted - set(statuses))
        assert {statuses[url] for url in wanted} <= {200, 206}, statuses
        # every second's player plays the clip's one audio file, from k to k + 1 s
        assert [src.removeprefix(label_studio.url) for src in playback["sources"]] == [
            f"{task.data['audio']}#t={k},{k + 1}" for k in range(10)
        ]
        assert playback["whole"].removeprefix(label_studio.url) == task.data["audio"]
        played = [(a, round(b, 3), round(c, 3)) for a, b, c, _ in playback["played"]]
        print(f"second k's player: [starts from, playing at, pauses at]: {played}")
        for k, (start, playing, stop, duration) in enumerate(playback["played"]):
            assert duration == pytest.approx(10.0, abs=1e-3)
            assert start == k and k <= playing < k + 0.1  # exactly from k…
            assert k + 1 - 1e-3 <= stop <= k + 1 + FRAGMENT_END_SLACK_S  # …to k + 1, and it stops by itself

        _press_arrows_on_the_first_answer(driver)
        assert _checked(driver) == [None] * 10  # arrow keys move no answer into any second
        answers = [1, 1, 0, 1, 0, 0, 0, 1, 1, 0]
        _keyboard_answers(driver, dict(enumerate(answers[:9])))  # second 9 left out: refused, naming it
        warning = wait_until(
            lambda: driver.execute_script(
                "return [...document.querySelectorAll('.ant-modal')].map(m => m.innerText).join(' ')"
            ),
            "warning",
            10,
        )
        assert "Second 9: answer yes or no" in warning
        assert _checked(driver) == [("yes" if a else "no") for a in answers[:9]] + [None]  # no cross-talk
        driver.execute_script("document.querySelectorAll('.ant-modal .ant-btn').forEach(b => b.click())")
        _keyboard_answers(driver, {9: answers[9]})
        wait_until(lambda: list(client._sdk.annotations.list(id=task.id)), "the submitted annotation")
    finally:
        driver.quit()
    imported = _invoke("annotate", "import", "--round", 1, "--work", work, *live)
    assert "1 new" in imported and "0 rejected" in imported
    with contextlib.closing(open_work(work)) as conn:
        rows = conn.execute("SELECT clip_id, annotator, answers FROM annotations WHERE round = 1").fetchall()
    assert [tuple(r) for r in rows] == [(task.data["clip_id"], first, "".join(map(str, answers)))]

    # Round 2 closes round 1 on the server: the second annotator cannot open the first one's task.
    closed = _invoke(
        "annotate",
        "export",
        "--manifest",
        manifest,
        "--media",
        tmp_path / "media",
        "--round",
        2,
        "--annotators",
        f"{first},{second}",
        "--work",
        work,
        *live,
    )
    assert f"project {project} closed" in closed and (work / "archive").is_dir()
    driver = start_chromium(1920, 1080)
    try:
        log_in(driver, label_studio.url, *accounts[second])
        # (Label Studio's SQLite may give the next round's tasks the freed ids: the project is what must be gone.)
        status = driver.execute_async_script(
            "fetch(arguments[0], {credentials: 'same-origin'}).then(r => arguments[1](r.status))",
            f"/api/projects/{project}/",
        )
        assert status == 404
        with contextlib.closing(open_work(work)) as conn:
            own = client.project_ids(conn, 2)[second]
        (own_task,) = list(client._sdk.tasks.list(project=own))
        assert own_task.data["clip_id"] == task.data["clip_id"]  # the exchange: the same clip, answers not shown
        open_task(driver, f"{label_studio.url}/projects/{own}/data?task={own_task.id}")
        assert _checked(driver) == [None] * 10
        assert scrolls_to_see_every_answer(driver) == 0
        screenshot(driver, shots / "task_1920x1080.png")
    finally:
        driver.quit()

    # Speed is measured, not asserted by timing (it depends on the machine's load): the figures above are printed,
    # and benchmarks/annotator_bench.py measures them against #34's goals (docs/guide/annotation-view.md). What is
    # asserted is that each was measured: the view became interactive and a real click on an answer was answered.
    assert all(load.tti_ms > 0 and load.click_ms >= 0 for load in stream), stream
    assert all(load.interactive_ms > 0 for load in loads), loads


def test_pre_annotation_is_prefilled_in_the_stream_and_saves_keystrokes(tmp_path, label_studio, private_dir):
    """The same tasks labelled by a scripted annotator who presses only what is needed, with and without the
    model's answers pre-filled; the submitted answers are the annotator's either way."""
    browser_paths()
    import json

    suffix = uuid.uuid4().hex[:6]
    live = ["--label-studio-url", label_studio.url, "--api-key", label_studio.token]
    client = LabelStudioClient(label_studio.url, label_studio.token)
    clips = {f"p{suffix}{i:04d}": "dog barking" for i in range(11)}  # 10 Submit → next task, in a row
    manifest = _scene_media(tmp_path / "media", clips)
    truth = {f"{v}_000000": [1, 1, 1, 1, 0, 0, 0, 0, 1, 1] for v in clips}
    model = {v: ["dog barking"] * 4 + ["background"] * 6 for v in clips}  # wrong on seconds 8 and 9
    predictions = tmp_path / "zs.json"
    predictions.write_text(json.dumps({"predictions": model, "meta": {"method": "zero-shot"}}))
    names = {"plain": f"plain{suffix}", "pre": f"pre{suffix}"}
    accounts = _accounts(_invoke("annotate", "accounts", "--annotators", ",".join(names.values()), *live))
    figures = {}
    for kind, extra in (("plain", []), ("pre", ["--predictions", predictions])):
        work = private_dir / f"work-{kind}"
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
            names[kind],
            "--work",
            work,
            *extra,
            *live,
        )
        with contextlib.closing(open_work(work)) as conn:
            project = client.project_ids(conn, 1)[names[kind]]
        driver = start_chromium(1366, 768, STREAM_RECORDER)
        try:
            log_in(driver, label_studio.url, *accounts[names[kind]])
            driver.get(f"{label_studio.url}/projects/{project}/data?labeling=1")  # "Label All Tasks"
            timings = label_stream(driver, lambda clip: truth[clip], len(clips) - 1 if kind == "plain" else 4)
        finally:
            driver.quit()
        shown = {tuple(t.prefilled) for t in timings}
        if kind == "pre":
            assert shown == {("yes",) * 4 + ("no",) * 6}  # the model's answers, pre-filled
            assert [t.keystrokes for t in timings] == [3] * len(timings)  # two corrections and Submit
        else:
            assert shown == {(None,) * 10} and [t.keystrokes for t in timings] == [11] * len(timings)
        figures[kind] = summary(timings)
        imported = _invoke("annotate", "import", "--round", 1, "--work", work, *live)
        assert f"{len(timings)} new" in imported and "0 rejected" in imported
        with contextlib.closing(open_work(work)) as conn:
            rows = conn.execute("SELECT answers, prefilled FROM annotations").fetchall()
        assert {r["answers"] for r in rows} == {"1111000011"}  # the annotator's, with the corrections
        assert {r["prefilled"] for r in rows} == ({"1111000000"} if kind == "pre" else {None})
    saved = 1 - figures["pre"]["keystrokes_per_task"] / figures["plain"]["keystrokes_per_task"]
    print(
        f"keystrokes per task: {figures['plain']['keystrokes_per_task']:.1f} without pre-annotation, "
        f"{figures['pre']['keystrokes_per_task']:.1f} with (model right on 8 of 10 seconds): "
        f"{100 * saved:.0f} % saved; "
        f"Submit -> next task interactive (median): {figures['plain']['submit_to_next_ms']:.0f} / "
        f"{figures['pre']['submit_to_next_ms']:.0f} ms; tasks per minute the UI allows: "
        f"{figures['plain']['tasks_per_minute']:.0f} / {figures['pre']['tasks_per_minute']:.0f}"
    )
    assert saved > 0.7
    assert all(figures[kind]["submit_to_next_ms"] > 0 for kind in ("plain", "pre")), figures  # measured, not judged
