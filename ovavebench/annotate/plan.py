"""Planning a round: round 1 balanced per class, round 2 the exchange, round 3 the disagreements."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import OvavebenchError
from .store import current_answers


def annotator_names(given: Sequence[str]) -> list[str]:
    """The ``--annotators`` names, checked: none empty or repeated, letters, digits, '_', '.', '@' or '-' only."""
    names = [a.strip() for a in given]
    if any(not name for name in names) and any(names):
        raise OvavebenchError(f"--annotators {','.join(given)!r}: an empty name (a stray comma?)")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise OvavebenchError(f"--annotators: {', '.join(repeated)} listed twice (each annotator once)")
    names = [name for name in names if name]
    if not names:
        raise OvavebenchError("--annotators: give at least one name")
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", name):
            raise OvavebenchError(f"annotator name {ascii(name)}: use letters, digits, '_', '.', '@' or '-'")
    return names


def plan_round(conn: sqlite3.Connection, round_no: int, annotators: Sequence[str]) -> dict[str, list[str]]:
    """Assign clips of a round to annotators (idempotent); return annotator → clip ids.

    Round 1: balanced per class (round-robin within each class, the start rotating
    from class to class). Round 2: every clip goes to the next annotator after its
    round-1 one (the exchange). Round 3: the clips whose rounds 1 and 2 disagree,
    spread over the adjudicators.
    """
    annotators = annotator_names(annotators)
    existing = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,)).fetchall()
    if existing:
        planned = sorted({r["annotator"] for r in existing})
        if sorted(annotators) != planned:
            raise OvavebenchError(
                f"round {round_no} is already planned for {', '.join(planned)}; "
                f"cannot re-plan it for {', '.join(annotators)}"
            )
    else:
        assignments = _assign(conn, round_no, annotators)
        with conn:
            conn.executemany("INSERT INTO assignments VALUES (?, ?, ?)", [(c, round_no, a) for c, a in assignments])
    out: dict[str, list[str]] = {a: [] for a in annotators}
    for row in conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ? ORDER BY clip_id", (round_no,)):
        out.setdefault(row["annotator"], []).append(row["clip_id"])
    return out


def _assign(conn: sqlite3.Connection, round_no: int, annotators: list[str]) -> list[tuple[str, str]]:
    if round_no == 1:
        clips = conn.execute("SELECT clip_id, class_name FROM clips ORDER BY class_name, clip_id").fetchall()
        out, offset, previous = [], 0, None
        position = 0
        for row in clips:
            if row["class_name"] != previous:
                offset, previous, position = (offset + position) % len(annotators), row["class_name"], 0
            out.append((row["clip_id"], annotators[(offset + position) % len(annotators)]))
            position += 1
        return out
    if round_no == 2:
        first = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = 1").fetchall()
        if not first:
            raise OvavebenchError("round 2 needs round 1 planned first (export round 1)")
        if len(annotators) < 2:
            raise OvavebenchError("round 2 exchanges annotators: give at least two")
        out = []
        for row in first:
            if row["annotator"] in annotators:
                nxt = annotators[(annotators.index(row["annotator"]) + 1) % len(annotators)]
            else:  # a round-1 annotator who left: anyone else
                nxt = annotators[hash(row["clip_id"]) % len(annotators)]
            out.append((row["clip_id"], nxt))
        return out
    if round_no == 3:
        disagreements = find_disagreements(conn)
        if disagreements.pending:
            raise OvavebenchError(
                f"round 3 needs rounds 1 and 2 complete: {len(disagreements.pending)} clip(s) lack an "
                f"answer, e.g. {', '.join(disagreements.pending[:3])}"
            )
        return [(clip, annotators[i % len(annotators)]) for i, clip in enumerate(disagreements.clips)]
    raise OvavebenchError(f"round must be 1, 2 or 3, got {round_no}")


@dataclass
class Disagreements:
    clips: list[str]  # rounds 1 and 2 differ (any second or the flag)
    pending: list[str]  # a round-1 or round-2 answer is missing


def find_disagreements(
    conn: sqlite3.Connection, r1: dict[str, sqlite3.Row] | None = None, r2: dict[str, sqlite3.Row] | None = None
) -> Disagreements:
    """Clips whose round-1 and round-2 answers differ, and clips still missing one (answers may be passed in)."""
    r1 = current_answers(conn, 1) if r1 is None else r1
    r2 = current_answers(conn, 2) if r2 is None else r2
    planned = [r["clip_id"] for r in conn.execute("SELECT clip_id FROM assignments WHERE round = 1 ORDER BY clip_id")]
    clips, pending = [], []
    for clip in planned:
        a, b = r1.get(clip), r2.get(clip)
        if a is None or b is None:
            pending.append(clip)
        elif a["answers"] != b["answers"] or a["clip_flag"] != b["clip_flag"]:
            clips.append(clip)
    return Disagreements(clips, pending)
