"""Model pre-annotation (opt-in): a predictions file's answers shown pre-filled in each task, for the annotator to
confirm or correct; and how far humans and the model agree.

A model's answer for a clip's second is *yes* when it predicts the clip's class there, else *no*. The annotator's
submission is always what is imported: a corrected second is the annotator's answer, an unchanged one their
confirmation (the store keeps the pre-filled answers beside it). Pre-filled answers can anchor annotators to the
model; ``annotate status`` therefore compares pre-annotated answers with answers given without one.
"""

from __future__ import annotations

import difflib
import math
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..constants import BACKGROUND, OTHER, SEGMENTS
from ..errors import InputFileError, OvavebenchError
from .agreement import cohen_kappa

ORDERS = ("plan", "uncertain")


@dataclass(frozen=True)
class ModelAnswers:
    model_version: str
    answers: dict[str, str]  # clip → 10 characters, 1 = the model predicts the clip's class in that second
    uncertainty: dict[str, float] | None  # clip → how much the model's audio and visual sides disagree


def read_model_answers(path: str | os.PathLike, manifest: pd.DataFrame, media_clips: set[str]) -> ModelAnswers:
    """A predictions file (``{video_id: [10 labels]}`` or ``{"predictions", "meta"}``) as yes/no per campaign clip;
    every clip with media must have a prediction."""
    from ..scoring import read_predictions_with_meta

    data, source, meta = read_predictions_with_meta(path)
    rows = [r for r in manifest.itertuples(index=False) if str(r.clip_id) in media_clips]
    known = _known_labels(manifest)
    answers: dict[str, str] = {}
    missing = []
    for row in rows:
        labels = data.get(str(row.youtube_id), data.get(str(row.clip_id)))
        if labels is None:
            missing.append(str(row.youtube_id))
            continue
        if not isinstance(labels, list) or len(labels) != SEGMENTS or not all(isinstance(x, str) for x in labels):
            raise InputFileError(path, f"video {row.youtube_id!r}: expected a list of {SEGMENTS} label strings")
        unknown = next((label for label in labels if label not in known), None)
        if unknown is not None:  # a misspelt class would silently pre-fill "no" in every second
            close = difflib.get_close_matches(unknown, sorted(known), n=1, cutoff=0.0)
            raise InputFileError(
                path,
                f"video {row.youtube_id!r}: unknown class {unknown!r} (expected a class of the benchmark or "
                f"{BACKGROUND!r}; the closest is {close[0]!r})",
            )
        answers[str(row.clip_id)] = "".join("1" if label == row.class_name else "0" for label in labels)
    if missing:
        raise InputFileError(
            path,
            f"{len(missing)} clip(s) of the campaign have no prediction here, e.g. "
            f"{', '.join(missing[:5])} (a predictions file of other clips?)",
        )
    uncertainty = None
    raw = meta.get("uncertainty")
    if isinstance(raw, Mapping):
        by_youtube = {str(r.youtube_id): str(r.clip_id) for r in rows}
        uncertainty = {by_youtube[k]: float(v) for k, v in raw.items() if k in by_youtube and type(v) in (int, float)}
        bad = next((k for k, v in raw.items() if type(v) in (int, float) and not 0 <= v < math.inf), None)
        if bad is not None:  # NaN would sort anywhere, Infinity first: neither is a disagreement
            raise InputFileError(
                path, f"meta.uncertainty[{bad!r}]: {raw[bad]!r}; expected a finite number of 0 or more"
            )
    version = str(meta.get("method") or Path(path).stem)[:120]
    return ModelAnswers(version, answers, uncertainty)


def _known_labels(manifest: pd.DataFrame) -> set[str]:
    """What a prediction may say in a second: a class of the taxonomy or of the manifest, or background."""
    from ..taxonomy import load_taxonomy

    return {c.name for c in load_taxonomy().classes} | set(manifest["class_name"].astype(str)) | {BACKGROUND, OTHER}


def order_clips(clips: Sequence[str], model: ModelAnswers | None, order: str) -> list[str]:
    """``plan``: as planned; ``uncertain``: where the model's audio and visual sides disagree most, first."""
    if order not in ORDERS:
        raise OvavebenchError(f"--order must be one of {', '.join(ORDERS)}, got {order!r}")
    if order == "plan":
        return list(clips)
    if model is None or model.uncertainty is None:
        raise OvavebenchError(
            "--order uncertain needs --predictions whose meta has per-video uncertainty "
            "(`ovavebench baseline zero-shot` writes it: seconds where audio and visual disagree)"
        )
    uncertainty = model.uncertainty
    return sorted(clips, key=lambda c: (-uncertainty.get(c, 0.0), c))


def store_model_answers(conn: sqlite3.Connection, model: ModelAnswers) -> None:
    rows = [(c, model.model_version, a, (model.uncertainty or {}).get(c)) for c, a in model.answers.items()]
    with conn:
        conn.executemany("INSERT OR REPLACE INTO model_answers VALUES (?, ?, ?, ?)", rows)


def store_prefills(
    conn: sqlite3.Connection, round_no: int, annotator: str, clips: Sequence[str], model: ModelAnswers
) -> dict[str, str]:
    """Remember what each of the annotator's tasks shows pre-filled (idempotent); clip → answers."""
    rows = [(c, round_no, annotator, model.model_version, model.answers[c]) for c in clips if c in model.answers]
    with conn:
        conn.executemany("INSERT OR REPLACE INTO prefills VALUES (?, ?, ?, ?, ?)", rows)
    return {c: model.answers[c] for c in clips if c in model.answers}


@dataclass(frozen=True)
class ClassAgreement:
    class_name: str
    seconds: int
    agreement: float
    kappa: float


@dataclass(frozen=True)
class PrefillEffect:
    """Answers given with and without a pre-filled model answer: their agreement with the model, and for the
    pre-filled ones how many seconds the annotator confirmed and corrected."""

    prefilled_answers: int
    prefilled_agreement: float
    confirmed_seconds: int
    corrected_seconds: int
    plain_answers: int
    plain_agreement: float


def model_human_agreement(conn: sqlite3.Connection) -> tuple[list[ClassAgreement], PrefillEffect | None]:
    """Per class, how often the model's yes/no equals the humans' (every current answer of rounds 1–3); and the
    pre-annotated answers against the others, when a campaign has both."""
    rows = conn.execute(
        "SELECT a.answers, a.prefilled, c.class_name, m.answers AS model FROM annotations a "
        "JOIN clips c ON c.clip_id = a.clip_id JOIN model_answers m ON m.clip_id = a.clip_id "
        "WHERE a.superseded_at IS NULL ORDER BY c.class_name"
    ).fetchall()
    if not rows:
        return [], None
    human = np.array([[int(x) for x in r["answers"]] for r in rows])
    model = np.array([[int(x) for x in r["model"]] for r in rows])
    classes = np.array([r["class_name"] for r in rows])
    per_class = [
        ClassAgreement(
            str(c),
            int((classes == c).sum() * 10),
            float((human[classes == c] == model[classes == c]).mean()),
            cohen_kappa(human[classes == c].ravel(), model[classes == c].ravel()),
        )
        for c in dict.fromkeys(classes.tolist())
    ]
    shown = np.array([r["prefilled"] is not None for r in rows])
    effect = None
    if shown.any():
        prefilled = np.array([[int(x) for x in r["prefilled"]] for r in rows if r["prefilled"] is not None])
        confirmed = int((human[shown] == prefilled).sum())
        nan = float("nan")
        effect = PrefillEffect(
            int(shown.sum()),
            float((human[shown] == model[shown]).mean()),
            confirmed,
            int(prefilled.size - confirmed),
            int((~shown).sum()),
            float((human[~shown] == model[~shown]).mean()) if (~shown).any() else nan,
        )
    return per_class, effect
