"""Annotator throughput in a real browser: a scripted annotator labels N tasks in a row in the labelling stream.

A real Label Studio server on 127.0.0.1 and headless Chromium at 1366x768 (the test suite's helpers), N clips of
generated scenes. The annotator presses only what a task needs: digit k = second k yes, Shift+digit k = no,
Ctrl+Enter submits. Run once without and once with model pre-annotation (the model right on --model-right of the
10 seconds), it prints per run: tasks per minute the UI allows (ready to ready), keystrokes per task, the median time
from Submit to the next task interactive (ready, and the long tasks that hold it over), where a task's cycle goes
(the keys, each one WebDriver request, and Submit -> next), and the keystrokes saved. First it prints the first
task's time to interactive in "Label All Tasks" over --loads fresh page loads (issue #34's definition: the first
answer clickable, no main-thread task over 200 ms in the next 5 s; and a real click then answered in ... ms).
With ``--previous REV`` the view of that revision (``git archive``) is measured beside this one on the same server:
its time to interactive (loads alternated) and a plain labelling run, and the ratios of this version's figures to it.

    python benchmarks/annotator_bench.py [--tasks 10] [--model-right 8] [--loads 3] [--runs 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from typer.testing import CliRunner  # noqa: E402

from ovavebench.annotate import open_work  # noqa: E402
from ovavebench.annotate.labelstudio import LabelStudioClient  # noqa: E402
from ovavebench.cli import app  # noqa: E402
from tests.browser import log_in, open_task, start_chromium  # noqa: E402
from tests.labelstudio_server import LabelStudioServer  # noqa: E402
from tests.stream import STREAM_RECORDER, label_stream, summary  # noqa: E402
from tests.test_annotate_browser import _accounts, _scene_media  # noqa: E402


def _invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exit_code:
        raise SystemExit(result.output)
    return result.stdout


def _previous_stream(rev: str, root: Path, private: Path, clips: dict, name: str, server) -> str:  # type: ignore[no-untyped-def]
    """Export the same clips with the implementation of ``rev`` (``git archive``, in a child process) into a project of
    its own on ``server``; return its "Label All Tasks" URL."""
    import subprocess

    code = private / f"code-{rev}"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "ovavebench"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
    manifest = _scene_media(root / "media-previous", clips)  # its own media: it may write into them
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from ovavebench.annotate import export_round, open_work; "
        "from ovavebench.annotate.labelstudio import LabelStudioClient; from ovavebench.manifest import read_manifest; "
        "export_round(read_manifest(sys.argv[2]), sys.argv[3], 1, [sys.argv[4]], sys.argv[5], "
        "client=LabelStudioClient(sys.argv[6], sys.argv[7])); "
        "print(open_work(sys.argv[5]).execute('SELECT ls_project_id FROM projects').fetchone()[0])"
    )
    work = private / f"work-{rev}"
    args = [str(code), str(manifest), str(root / "media-previous"), name, str(work), server.url, server.token]
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return f"{server.url}/projects/{int(done.stdout.split()[-1])}/data?labeling=1"


def _print_figures(name: str, f: dict) -> None:
    print(
        f"{name:>10}: {f['tasks_per_minute']:5.1f} tasks/min the UI allows, "
        f"{f['keystrokes_per_task']:4.1f} keystrokes per task, "
        f"Submit -> next interactive {f['submit_to_next_ms']:6.0f} ms (median of "
        f"{f['tasks']} tasks); the keys {f['keys_ms']:5.0f} ms a task ({f['ms_per_key']:.0f} ms a key, "
        f"one WebDriver request each); load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--model-right", type=int, default=8, help="Seconds of 10 the pre-annotation gets right.")
    parser.add_argument("--loads", type=int, default=3, help="Fresh loads of the first task for time to interactive.")
    parser.add_argument("--runs", type=int, default=1, help="Labelling runs per kind (for the spread).")
    parser.add_argument(
        "--previous", default="", help="A git revision whose task view's time to interactive to measure alongside."
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (Label Studio and Chromium on it)")
    root = Path(tempfile.mkdtemp(prefix="annotator-bench-"))
    private = Path(tempfile.mkdtemp(prefix="annotator-bench-work-"))  # outside the server's document root
    try:
        with LabelStudioServer(root / "ls", document_root=root) as server:
            live = ["--label-studio-url", server.url, "--api-key", server.token]
            client = LabelStudioClient(server.url, server.token)
            # one more task per run: the last Submit's next
            clips = {f"bench{i:06d}": "dog barking" for i in range((args.tasks + 1) * args.runs)}
            manifest = _scene_media(root / "media", clips)
            truth = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
            model = [
                "dog barking" if (a if k < args.model_right else not a) else "background" for k, a in enumerate(truth)
            ]
            predictions = root / "zs.json"
            predictions.write_text(json.dumps({"predictions": {v: model for v in clips}, "meta": {"method": "bench"}}))
            kinds = [
                (f"{kind}{r}", extra)
                for r in range(args.runs)
                for kind, extra in (("plain", []), ("prefilled", ["--predictions", predictions]))
            ]
            accounts = _accounts(_invoke("annotate", "accounts", "--annotators", ",".join(n for n, _ in kinds), *live))
            figures: dict[str, dict] = {}
            for name, extra in kinds:
                work = private / f"work-{name}"
                _invoke(
                    "annotate",
                    "export",
                    "--manifest",
                    manifest,
                    "--media",
                    root / "media",
                    "--round",
                    1,
                    "--annotators",
                    name,
                    "--work",
                    work,
                    *extra,
                    *live,
                )
                with contextlib.closing(open_work(work)) as conn:
                    project = client.project_ids(conn, 1)[name]
                stream = f"{server.url}/projects/{project}/data?labeling=1"
                if name == "plain0" and args.loads:
                    streams = {"this version": stream}
                    if args.previous:  # the same clips through the previous implementation, on the same server
                        streams[args.previous] = _previous_stream(args.previous, root, private, clips, name, server)
                    driver = start_chromium(1366, 768)
                    loads: dict[str, list] = {label: [] for label in streams}
                    try:
                        log_in(driver, server.url, *accounts[name])
                        for _ in range(args.loads):  # alternated: both see the same load on the machine
                            for label, url in streams.items():
                                loads[label].append(open_task(driver, url, tti=True))
                    finally:
                        driver.quit()
                    best = {label: min(load.tti_ms for load in measured) for label, measured in loads.items()}
                    for label, measured in loads.items():
                        blocks = [round(d) for load in measured for _, d in load.long_tasks if d > 200]
                        print(
                            f"first task, time to interactive ({label}; Label All Tasks, 1366x768, {args.loads} fresh "
                            f"loads): {[round(load.tti_ms) for load in measured]} ms, best "
                            f"{min(load.tti_ms for load in measured):.0f} ms; a real click then answered in "
                            f"{[round(load.click_ms) for load in measured]} ms; main-thread tasks over 200 ms: "
                            f"{blocks or 'none'}; load average {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
                    if args.previous:
                        ratio = best["this version"] / best[args.previous]
                        print(f"time to interactive, best of {args.loads}, against {args.previous}: {ratio:.2f}x")
                runs = [(name, stream)]
                if name == "plain0" and args.loads and args.previous:
                    runs.append((f"{args.previous}", streams[args.previous]))
                for label, url in runs:
                    driver = start_chromium(1366, 768, STREAM_RECORDER)
                    try:
                        log_in(driver, server.url, *accounts[name])
                        driver.get(url)
                        figures[label] = summary(label_stream(driver, lambda clip: truth, args.tasks))
                    finally:
                        driver.quit()
                for label, _ in runs:
                    _print_figures(label, figures[label])
                if len(runs) > 1:
                    now, before = figures[name]["submit_to_next_ms"], figures[args.previous]["submit_to_next_ms"]
                    print(
                        f"Submit -> next interactive, this version against {args.previous} (plain, the same clips, "
                        f"one after the other): {now:.0f} / {before:.0f} ms = {now / before:.2f}x",
                        flush=True,
                    )
            saved = 1 - figures["prefilled0"]["keystrokes_per_task"] / figures["plain0"]["keystrokes_per_task"]
            print(
                f"pre-annotation right on {args.model_right} of 10 seconds saves {100 * saved:.0f} % of the keystrokes"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


if __name__ == "__main__":
    main()
