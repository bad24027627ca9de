"""Progress per round and annotator, and the agreement of rounds 1 and 2 (Cohen's kappa, Krippendorff's alpha)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np

from ..constants import SEGMENTS
from .plan import find_disagreements
from .store import current_answers, open_work


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two binary raters over the same items."""
    if len(a) == 0:
        return float("nan")
    observed = float((a == b).mean())
    pa, pb = float(a.mean()), float(b.mean())
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1.0 else (observed - expected) / (1 - expected)


@dataclass
class RoundStatus:
    round: int
    by_annotator: dict[str, dict[str, int]]  # annotator → {done, pending}


@dataclass
class AgreementReport:
    rounds: list[RoundStatus]
    clips_compared: int
    percent_agreement: float  # per second, rounds 1 vs 2
    kappa_overall: float
    kappa_by_pair: dict[str, float]  # "alice→bob" (round-1 → round-2 annotator)
    krippendorff_alpha: float
    flag_agreement: float
    needing_adjudication: int
    adjudicated: int


def agreement(work: str | os.PathLike) -> AgreementReport:
    """Progress per round and annotator, and the agreement of rounds 1 and 2."""
    import krippendorff

    conn = open_work(work)
    with contextlib.closing(conn):
        rounds = []
        for round_no in (1, 2, 3):
            plan = conn.execute("SELECT clip_id, annotator FROM assignments WHERE round = ?", (round_no,)).fetchall()
            if not plan:
                continue
            done = current_answers(conn, round_no)
            by: dict[str, dict[str, int]] = {}
            for row in plan:
                entry = by.setdefault(row["annotator"], {"done": 0, "pending": 0})
                entry["done" if row["clip_id"] in done else "pending"] += 1
            rounds.append(RoundStatus(round_no, dict(sorted(by.items()))))
        r1, r2 = current_answers(conn, 1), current_answers(conn, 2)
        both = sorted(set(r1) & set(r2))
        a = np.array([[int(c) for c in r1[c]["answers"]] for c in both], dtype=np.int64).reshape(-1, SEGMENTS)
        b = np.array([[int(c) for c in r2[c]["answers"]] for c in both], dtype=np.int64).reshape(-1, SEGMENTS)
        pairs: dict[str, list[int]] = {}
        for i, clip in enumerate(both):
            pairs.setdefault(f"{r1[clip]['annotator']}→{r2[clip]['annotator']}", []).append(i)
        kappa_pairs = {p: cohen_kappa(a[idx].ravel(), b[idx].ravel()) for p, idx in sorted(pairs.items())}
        # Krippendorff's alpha with annotators as coders (each unit = one clip-second; others missing).
        coders = sorted({r1[c]["annotator"] for c in both} | {r2[c]["annotator"] for c in both})
        alpha = float("nan")
        if both and len(coders) >= 2:
            matrix = np.full((len(coders), len(both) * SEGMENTS), np.nan)
            for i, clip in enumerate(both):
                matrix[coders.index(r1[clip]["annotator"]), i * SEGMENTS : (i + 1) * SEGMENTS] = a[i]
                matrix[coders.index(r2[clip]["annotator"]), i * SEGMENTS : (i + 1) * SEGMENTS] = b[i]
            if len(np.unique(matrix[~np.isnan(matrix)])) > 1:
                alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
            else:
                alpha = 1.0
        flags = [r1[c]["clip_flag"] == r2[c]["clip_flag"] for c in both]
        dis = find_disagreements(conn, r1, r2)
        adjudicated = len(current_answers(conn, 3))
    return AgreementReport(
        rounds=rounds,
        clips_compared=len(both),
        percent_agreement=float((a == b).mean()) if both else float("nan"),
        kappa_overall=cohen_kappa(a.ravel(), b.ravel()),
        kappa_by_pair=kappa_pairs,
        krippendorff_alpha=alpha,
        flag_agreement=float(np.mean(flags)) if flags else float("nan"),
        needing_adjudication=len(dis.clips),
        adjudicated=adjudicated,
    )
