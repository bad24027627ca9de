"""Annotator throughput in a real browser: a scripted annotator labels N tasks in a row in the labelling stream.

A real Label Studio server on 127.0.0.1 and headless Chromium at 1366x768 (the test suite's helpers), N clips of
generated scenes. The annotator presses only what a task needs: digit k = second k yes, Shift+digit k = no,
Ctrl+Enter submits. Run once without and once with model pre-annotation (the model right on --model-right of the
10 seconds), it prints per run: tasks per minute the UI allows (ready to ready), keystrokes per task, the median time
from Submit to the next task interactive (ready, and the long tasks that hold it over), and the keystrokes saved.

    python benchmarks/annotator_bench.py [--tasks 10] [--model-right 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from tests.browser import log_in, start_chromium  # noqa: E402
from tests.labelstudio_server import LabelStudioServer  # noqa: E402
from tests.stream import STREAM_RECORDER, label_stream, summary  # noqa: E402
from tests.test_annotate_browser import _accounts, _scene_media  # noqa: E402


def _invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exit_code:
        raise SystemExit(result.output)
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--model-right", type=int, default=8, help="Seconds of 10 the pre-annotation gets right.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="annotator-bench-"))
    try:
        with LabelStudioServer(root / "ls", document_root=root) as server:
            live = ["--label-studio-url", server.url, "--api-key", server.token]
            client = LabelStudioClient(server.url, server.token)
            clips = {f"bench{i:06d}": "dog barking" for i in range(args.tasks + 1)}  # one more: the last Submit's next
            manifest = _scene_media(root / "media", clips)
            truth = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
            model = [
                "dog barking" if (a if k < args.model_right else not a) else "background" for k, a in enumerate(truth)
            ]
            predictions = root / "zs.json"
            predictions.write_text(json.dumps({"predictions": {v: model for v in clips}, "meta": {"method": "bench"}}))
            accounts = _accounts(_invoke("annotate", "accounts", "--annotators", "plain,prefilled", *live))
            figures = {}
            for name, extra in (("plain", []), ("prefilled", ["--predictions", predictions])):
                work = root / f"work-{name}"
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
                driver = start_chromium(1366, 768, STREAM_RECORDER)
                try:
                    log_in(driver, server.url, *accounts[name])
                    driver.get(f"{server.url}/projects/{project}/data?labeling=1")
                    figures[name] = summary(label_stream(driver, lambda clip: truth, args.tasks))
                finally:
                    driver.quit()
                f = figures[name]
                print(
                    f"{name:>9}: {f['tasks_per_minute']:5.1f} tasks/min the UI allows, {f['keystrokes_per_task']:4.1f} "
                    f"keystrokes per task, Submit -> next interactive {f['submit_to_next_ms']:6.0f} ms (median of "
                    f"{f['tasks']} tasks)"
                )
            saved = 1 - figures["prefilled"]["keystrokes_per_task"] / figures["plain"]["keystrokes_per_task"]
            print(
                f"pre-annotation right on {args.model_right} of 10 seconds saves {100 * saved:.0f} % of the keystrokes"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
