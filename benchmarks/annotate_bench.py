"""Annotation throughput against a real Label Studio server on 127.0.0.1.

1. The server's own bulk import: 24,800 ready-made tasks POSTed (5,000 per request) into a fresh project.
2. ``annotate export`` (live): plan round 1, build the same 24,800 tasks, create the projects, bulk-import them.
3. ``annotate import`` (file mode): 49,600 annotations (rounds 1 and 2, Label Studio's JSON export format)
   read from disk into the store.

Media for 24,800 clips are hard links to one generated clip, so the figures measure the protocol, not disk
writes. The work folder lies outside the server's document root (``annotate export`` refuses one inside it).

    python benchmarks/annotate_bench.py [--clips 24800] [--annotators 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ovavebench.annotate import answers_to_result, build_tasks, export_round, import_annotations, open_work  # noqa: E402
from ovavebench.annotate.labelstudio import LabelStudioClient  # noqa: E402
from tests.labelstudio_server import LabelStudioServer  # noqa: E402


def make_media(root: Path, n: int) -> pd.DataFrame:
    template = root / "template"
    (template / "frames").mkdir(parents=True)
    Image.new("RGB", (64, 48), (90, 40, 20)).save(template / "frames" / "0.png")
    soundfile.write(template / "audio.wav", np.zeros(160_000, np.int16), 16_000, subtype="PCM_16")
    classes = [f"class {i:02d}" for i in range(67)]
    rows = []
    media = root / "media"
    for i in range(n):
        youtube_id = f"b{i:010d}"
        clip = media / f"{youtube_id}_000000"
        (clip / "frames").mkdir(parents=True)
        os.link(template / "frames" / "0.png", clip / "frames" / "0.png")
        os.link(template / "audio.wav", clip / "audio.wav")
        rows.append(
            {"clip_id": clip.name, "youtube_id": youtube_id, "start_s": 0, "end_s": 10, "class_name": classes[i % 67]}
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=24_800)
    parser.add_argument("--annotators", type=int, default=10)
    args = parser.parse_args()
    names = [f"ann{i}" for i in range(args.annotators)]
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as private:
        root = Path(tmp)
        t = time.perf_counter()
        manifest = make_media(root, args.clips)
        print(f"media for {args.clips:,} clips (hard links) in {time.perf_counter() - t:.1f} s", flush=True)
        with LabelStudioServer(root / "ls-data", document_root=root) as server:
            client = LabelStudioClient(server.url, server.token)
            # 1. The server alone: the same tasks, already built.
            scratch = Path(private) / "scratch"
            conn = open_work(scratch, create=True)
            from ovavebench.annotate import plan_round, register_clips

            register_clips(conn, manifest, root / "media")
            plan = plan_round(conn, 1, ["everyone"])
            tasks = build_tasks(conn, 1, plan["everyone"], root / "media", root / "media", "/data/local-files/?d=")
            conn.close()
            project = client.create_project(
                "server-only bulk import", open(REPO / "ovavebench" / "annotate" / "assets" / "label_config.xml").read()
            )
            t = time.perf_counter()
            client.import_tasks(project, tasks)
            server_only = time.perf_counter() - t
            print(f"server's own bulk import of {len(tasks):,} tasks: {server_only:.1f} s", flush=True)
            # 2. Ours, end to end (plan, tasks, projects, bulk import).
            report = export_round(manifest, root / "media", 1, names, Path(private) / "work", client=client)
            ours = report.seconds
            print(
                f"annotate export (live, {len(names)} projects): {ours:.1f} s = {ours / server_only:.2f}x the server's "
                "own import (goal <= 2x)",
                flush=True,
            )
        # 3. 49,600 annotations back into the store, from export files on disk.
        export_round(manifest, root / "media", 2, names, Path(private) / "work", out=root / "tasks2")
        conn = open_work(Path(private) / "work")
        files = []
        for round_no in (1, 2):
            rows = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,)).fetchall()
            by: dict[str, list] = {}
            for i, (clip, who) in enumerate(rows):
                answers = [(i >> k) & 1 for k in range(10)]
                by.setdefault(who, []).append(
                    {
                        "id": i,
                        "data": {"clip_id": clip},
                        "annotations": [
                            {
                                "id": i,
                                "completed_by": {"email": f"{who}@example.com"},
                                "result": answers_to_result(answers, False),
                                "lead_time": 10.0,
                                "created_at": "2026-11-26T10:00:00Z",
                                "updated_at": "2026-11-26T10:00:00Z",
                            }
                        ],
                    }
                )
            for who, exported in by.items():
                path = root / "exports" / f"round{round_no}_{who}.json"
                path.parent.mkdir(exist_ok=True)
                path.write_text(json.dumps(exported))
                files.append((round_no, path))
        conn.close()
        from ovavebench.annotate import read_export_files

        t = time.perf_counter()
        total = 0
        for round_no in (1, 2):
            paths = [p for r, p in files if r == round_no]
            result = import_annotations(Path(private) / "work", round_no, read_export_files(paths, round_no))
            total += result.imported
        elapsed = time.perf_counter() - t
        print(f"annotate import: {total:,} annotations from disk into the store in {elapsed:.1f} s (goal < 30 s)")


if __name__ == "__main__":
    main()
