"""Fake media and simulated annotators for the annotation tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from PIL import Image

from ovavebench.annotate import answers_to_result


def make_media(media: Path, clips: dict[str, str]) -> Path:
    """clips: youtube id → class. Writes frames and a 10 s wav per clip; returns a manifest CSV."""
    rows = []
    for i, (youtube_id, cls) in enumerate(sorted(clips.items())):
        clip_id = f"{youtube_id}_000000"
        (media / clip_id / "frames").mkdir(parents=True, exist_ok=True)
        for k in range(10):
            Image.new("RGB", (32, 24), ((i * 37) % 256, k * 20, 90)).save(media / clip_id / "frames" / f"{k}.png")
        soundfile.write(media / clip_id / "audio.wav", np.zeros(160_000, np.int16), 16_000, subtype="PCM_16")
        rows.append({"clip_id": clip_id, "youtube_id": youtube_id, "start_s": 0, "end_s": 10, "class_name": cls})
    path = media.parent / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def parse_label(label: str) -> list[int]:
    return json.loads(label)


def simulated_export(
    task_file: Path,
    answers: dict[str, list[int]],
    annotator_email: str,
    broken: set[str] = frozenset(),
    start_id: int = 1,
) -> list[dict]:
    """What Label Studio's JSON export looks like after an annotator answered every task of a file."""
    tasks = json.loads(task_file.read_text())
    out = []
    for i, task in enumerate(tasks):
        clip = task["data"]["clip_id"]
        youtube_id = clip.rsplit("_", 1)[0]
        out.append(
            {
                "id": start_id + i,
                "data": task["data"],
                "annotations": [
                    {
                        "id": 1000 + start_id + i,
                        "completed_by": {"id": 7, "email": annotator_email},
                        "result": answers_to_result(answers[youtube_id], youtube_id in broken),
                        "was_cancelled": False,
                        "lead_time": 12.5,
                        "created_at": "2026-11-26T10:00:00Z",
                        "updated_at": "2026-11-26T10:00:00Z",
                    }
                ],
            }
        )
    return out
