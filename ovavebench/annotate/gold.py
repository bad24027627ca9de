"""Gold (honeypot) tasks: clips with known labels mixed into every annotator's round, scored per annotator.

A gold task has the shape of every other task and sits at a random place among them, so an annotator cannot tell it
apart. Its answers are kept apart (``gold_answers``) and never become labels of the benchmark. ``gold_report`` gives
each annotator's per-second accuracy and Cohen's kappa against gold, with a bootstrap interval over gold clips, and
flags whoever is below a threshold: leave them out of ``--annotators`` in the next round and their clips go to the
others.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..benchmark import parse_label_string
from ..constants import SEGMENTS
from ..errors import InputFileError, OvavebenchError
from ..io import read_json
from .agreement import cohen_kappa


def read_gold(path: str | os.PathLike, manifest: pd.DataFrame, media_clips: set[str]) -> dict[str, str]:
    """A gold file → clip id → 10 answers ("0101…"). Keys are YouTube ids or clip ids of the manifest; values are
    the published ``{"category", "label"}`` objects or lists of 10 zeros and ones."""
    what = 'gold labels: {video_id: {"category": class, "label": "[0, 1, …]"}} or {video_id: [10 zeros and ones]}'
    data = read_json(path, what)
    if not isinstance(data, dict) or not data:
        raise InputFileError(path, f"expected {what}")
    by_youtube = {str(r.youtube_id): r for r in manifest.itertuples(index=False)}
    by_clip = {str(r.clip_id): r for r in manifest.itertuples(index=False)}
    gold: dict[str, str] = {}
    for key, value in data.items():
        row = by_clip.get(key) or by_youtube.get(key)
        if row is None:
            raise InputFileError(
                path, f"video {key!r} is not in the manifest (gold clips must be clips of the campaign)"
            )
        if str(row.clip_id) not in media_clips:
            raise InputFileError(path, f"video {key!r}: clip {row.clip_id} has no frames and audio in the media folder")
        if isinstance(value, dict):
            category = value.get("category")
            if category is not None and category != row.class_name:
                raise InputFileError(
                    path, f"video {key!r}: category {category!r}, but the manifest says {row.class_name!r}"
                )
            raw = value.get("label")
            labels = parse_label_string(raw) or (_loose_list(raw) if isinstance(raw, str) else raw)
        else:
            labels = value if isinstance(value, list) else None
        if (
            not isinstance(labels, list)
            or len(labels) != SEGMENTS
            or any(x not in (0, 1) or type(x) is not int for x in labels)
        ):
            got = f"{len(labels)} values" if isinstance(labels, list) else type(value).__name__
            raise InputFileError(path, f"video {key!r}: expected {SEGMENTS} labels of 0 or 1, got {got}")
        gold[str(row.clip_id)] = "".join(map(str, labels))
    return gold


def _loose_list(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def store_gold(conn: sqlite3.Connection, gold: Mapping[str, str], source: str) -> None:
    with conn:
        conn.executemany("INSERT OR REPLACE INTO gold VALUES (?, ?, ?)", [(c, a, source) for c, a in gold.items()])


def plan_gold(
    conn: sqlite3.Connection, round_no: int, plan: Mapping[str, Sequence[str]], rate: float
) -> dict[str, list[str]]:
    """Gold clips of each annotator in a round (idempotent): ``ceil(rate × tasks)``, at least one, never a clip the
    annotator labels for real in this round; drawn with a seed of the round and the annotator."""
    existing = gold_assigned(conn, round_no)
    gold = sorted(r["clip_id"] for r in conn.execute("SELECT clip_id FROM gold"))
    wanted = {a: max(1, math.ceil(rate * len(clips))) for a, clips in plan.items()}
    candidates_of = {}
    for annotator, clips in plan.items():
        own = set(clips)
        candidates_of[annotator] = [c for c in gold if c not in own]
    short = {a: len(candidates_of[a]) for a in plan if a not in existing and len(candidates_of[a]) < wanted[a]}
    if gold and short:  # refused before anything is stored: fewer gold tasks than asked would go unnoticed
        sources = sorted({r["source"] for r in conn.execute("SELECT source FROM gold")})
        more = f" and {len(short) - 5} more annotator(s)" if len(short) > 5 else ""
        asked = ", ".join(f"{a} {wanted[a]:,}" for a in list(short)[:5]) + more
        could = ", ".join(f"{a} {n:,}" for a, n in list(short.items())[:5]) + more
        raise OvavebenchError(
            f"--gold-rate {rate:g} asks for more gold tasks than {' + '.join(sources) or 'the gold file'} holds: "
            f"{asked} wanted, but {len(gold):,} gold clip(s) give at most {could} (a gold clip is never one an "
            "annotator labels for real); lower --gold-rate or add gold clips"
        )
    rows = []
    for annotator in plan:
        if annotator in existing or not gold:
            continue
        candidates = candidates_of[annotator]
        count = wanted[annotator]
        seed = int.from_bytes(f"{round_no}:{annotator}".encode(), "little") % 2**32
        picked = (
            sorted(np.random.default_rng(seed).choice(candidates, size=count, replace=False).tolist()) if count else []
        )
        existing[annotator] = picked
        rows += [(c, round_no, annotator) for c in picked]
    with conn:
        conn.executemany("INSERT INTO gold_assignments VALUES (?, ?, ?)", rows)
    return {a: existing.get(a, []) for a in plan}


def gold_assigned(conn: sqlite3.Connection, round_no: int) -> dict[str, list[str]]:
    """The gold clips an earlier export of this round gave each annotator (a re-export keeps them)."""
    out: dict[str, list[str]] = {}
    for row in conn.execute(
        "SELECT clip_id, annotator FROM gold_assignments WHERE round = ? ORDER BY clip_id", (round_no,)
    ):
        out.setdefault(row["annotator"], []).append(row["clip_id"])
    return out


def mix_in(clips: Sequence[str], gold: Sequence[str], round_no: int, annotator: str) -> list[str]:
    """The annotator's task order: their clips in order, each gold clip at a random place among them."""
    order = list(clips)
    rng = np.random.default_rng(int.from_bytes(f"mix:{round_no}:{annotator}".encode(), "little") % 2**32)
    for clip in gold:
        order.insert(int(rng.integers(0, len(order) + 1)), clip)
    return order


@dataclass(frozen=True)
class AnnotatorGold:
    annotator: str
    gold_clips: int
    accuracy: float  # per second, against gold
    accuracy_low: float
    accuracy_high: float
    kappa: float
    flagged: bool


def gold_report(
    conn: sqlite3.Connection, min_accuracy: float = 0.8, resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> list[AnnotatorGold]:
    """Each annotator's accuracy and kappa on the gold clips they answered (all rounds), with a percentile bootstrap
    interval over those clips; flagged when the accuracy is below ``min_accuracy``."""
    rows = conn.execute(
        "SELECT a.annotator, a.answers, g.answers AS truth FROM gold_answers a "
        "JOIN gold g ON g.clip_id = a.clip_id ORDER BY a.annotator, a.round, a.clip_id"
    ).fetchall()
    by: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by.setdefault(row["annotator"], []).append((row["answers"], row["truth"]))
    out = []
    alpha = (1 - confidence) / 2
    for annotator, pairs in sorted(by.items()):
        answers = np.array([[int(c) for c in a] for a, _ in pairs])
        truth = np.array([[int(c) for c in t] for _, t in pairs])
        correct = (answers == truth).mean(axis=1)  # per clip: resampled as whole clips
        rng = np.random.default_rng(seed)
        means = correct[rng.integers(0, len(correct), size=(resamples, len(correct)))].mean(axis=1)
        low, high = np.quantile(means, [alpha, 1 - alpha])
        accuracy = float(correct.mean())
        out.append(
            AnnotatorGold(
                annotator,
                len(pairs),
                accuracy,
                float(low),
                float(high),
                cohen_kappa(answers.ravel(), truth.ravel()),
                accuracy < min_accuracy,
            )
        )
    return out
