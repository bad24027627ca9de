"""Aggregation that weighs annotators by their estimated quality (crowd-kit), beside the paper's adjudication.

Every current answer of rounds 1–3 is one vote per clip-second (worker = annotator); crowd-kit's Dawid–Skene,
MACE, GLAD or majority vote gives each clip-second a label and each annotator an estimated reliability. A clip is
broken when its round-3 decision says so, or both rounds 1 and 2 do. Gold answers are not votes: they measure
annotators (``annotate status``), and gold clips that are not campaign clips never become labels.
"""

from __future__ import annotations

import sqlite3
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from .store import current_answers

METHODS = ("dawid-skene", "mace", "glad", "majority")


@dataclass
class Aggregation:
    method: str
    answers: dict[str, str]  # clip → 10 characters
    broken: set[str]
    reliability: dict[str, float]  # annotator → estimated probability of a right answer
    votes: int
    items: int
    extra: dict[str, float] = field(default_factory=dict)


def votes_frame(conn: sqlite3.Connection, clips: list[str]) -> pd.DataFrame:
    """(task = "clip:second", worker, label) of every current answer of rounds 1, 2 and 3."""
    wanted = set(clips)
    rows = []
    for round_no in (1, 2, 3):
        for clip, row in current_answers(conn, round_no).items():
            if clip in wanted:
                rows += [(f"{clip}:{k}", row["annotator"], int(c)) for k, c in enumerate(row["answers"])]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def _reliability(method: str, model, frame: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    if method == "dawid-skene":
        errors, priors = model.errors_, model.priors_  # errors_: (worker, observed) × true label
        out = {}
        for worker in errors.index.get_level_values(0).unique():
            confusion = errors.loc[worker]
            out[worker] = float(sum(priors[t] * confusion.loc[t, t] for t in priors.index if t in confusion.index))
        return out
    if method == "mace":
        # rows in the order pd.factorize meets the workers; column 1: the probability of answering, not spamming
        names = pd.factorize(frame["worker"])[1]
        return {str(w): float(model.spamming_[i, 1]) for i, w in enumerate(names)}
    if method == "glad":
        return {w: float(1 / (1 + np.exp(-a))) for w, a in model.alphas_.items()}  # expertise on a logistic scale
    agree = frame.assign(agg=frame["task"].map(labels)).assign(hit=lambda d: d["label"] == d["agg"])
    return {str(w): float(v) for w, v in agree.groupby("worker")["hit"].mean().items()}


def aggregate(conn: sqlite3.Connection, clips: list[str], method: str, seed: int = 0) -> Aggregation:
    """Labels of ``clips`` from every vote, weighted by annotator quality as ``method`` estimates it."""
    if method not in METHODS:
        raise OvavebenchError(f"--aggregate must be one of {', '.join(METHODS)}, got {method!r}")
    try:
        from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote
    except ImportError:
        raise OvavebenchError("--aggregate needs crowd-kit: pip install 'ovavebench[crowd]'") from None
    frame = votes_frame(conn, clips)
    if frame.empty:
        raise OvavebenchError("--aggregate: no answers to aggregate yet (import rounds 1 and 2 first)")
    model = {
        "dawid-skene": lambda: DawidSkene(n_iter=100),
        "mace": lambda: MACE(random_state=seed),
        "glad": lambda: GLAD(n_iter=100),
        "majority": lambda: MajorityVote(),
    }[method]()
    with warnings.catch_warnings():  # crowd-kit 1.4 uses pandas keywords that pandas 3 deprecates: not ours to show
        warnings.simplefilter("ignore")
        labels = model.fit_predict(frame)
    answers = {}
    for clip in clips:
        seconds = [labels.get(f"{clip}:{k}") for k in range(SEGMENTS)]
        if any(s is None for s in seconds):
            continue  # no vote on this clip yet
        answers[clip] = "".join(str(int(s)) for s in seconds if s is not None)  # none is None (checked above)
    r1, r2, r3 = (current_answers(conn, r) for r in (1, 2, 3))
    broken = {
        c
        for c in clips
        if (c in r3 and r3[c]["clip_flag"])
        or (c not in r3 and c in r1 and c in r2 and r1[c]["clip_flag"] and r2[c]["clip_flag"])
    }
    return Aggregation(
        method, answers, broken, _reliability(method, model, frame, labels), len(frame), frame["task"].nunique()
    )
