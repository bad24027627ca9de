"""The final labels in the published format: agreed answers, else the round-3 decision; broken clips dropped."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OvavebenchError
from ..io import atomic_write_json, read_json
from .store import DB_NAME, current_answers, open_work


@dataclass
class FinalizeReport:
    labels: dict[str, dict[str, str]]
    agreed: int
    adjudicated: int
    dropped_broken: list[str]
    unresolved: list[str]
    incomplete: list[str]
    method: str = "adjudication"
    changed_seconds: int = 0  # --aggregate: seconds whose label differs from the adjudicated one
    compared_seconds: int = 0
    reliability: dict[str, float] = field(default_factory=dict)  # --aggregate: annotator → estimated reliability


def finalize(
    work: str | os.PathLike,
    out: str | os.PathLike,
    allow_unresolved: bool = False,
    aggregate: str | None = None,
    seed: int = 0,
) -> FinalizeReport:
    """Write the final labels in the published format ``{video_id: {category, label}}``.

    Agreed answers stand; where rounds disagree, the round-3 decision does.
    Clips flagged broken are dropped (and listed). Unresolved disagreements are
    an error that lists them, unless ``allow_unresolved``. With ``aggregate`` (dawid-skene, mace, glad or majority)
    every clip's label comes from crowd-kit's aggregation of all answers instead (disagreements need no round 3),
    and the report says how many seconds differ from the adjudicated labels.
    """
    _check_output(Path(out), Path(work))
    conn = open_work(work)
    with contextlib.closing(conn):
        clips = {r["clip_id"]: r for r in conn.execute("SELECT * FROM clips")}
        r1, r2, r3 = current_answers(conn, 1), current_answers(conn, 2), current_answers(conn, 3)
        planned = [
            r["clip_id"] for r in conn.execute("SELECT clip_id FROM assignments WHERE round = 1 ORDER BY clip_id")
        ]
    if aggregate is not None:
        return _finalize_aggregated(work, out, aggregate, seed, clips, planned, r1, r2, r3, allow_unresolved)
    labels: dict[str, dict[str, str]] = {}
    report = FinalizeReport(labels, 0, 0, [], [], [])
    for clip in planned:
        if clip in r3:
            decision = r3[clip]
            report.adjudicated += 1
        elif clip in r1 and clip in r2:
            if r1[clip]["answers"] != r2[clip]["answers"] or r1[clip]["clip_flag"] != r2[clip]["clip_flag"]:
                report.unresolved.append(clip)
                continue
            decision = r1[clip]
            report.agreed += 1
        else:
            report.incomplete.append(clip)
            continue
        if decision["clip_flag"]:
            report.dropped_broken.append(clip)
            continue
        youtube_id = clips[clip]["youtube_id"]
        if youtube_id in labels:
            raise OvavebenchError(f"YouTube id {youtube_id!r} has two annotated clips; keep one in the manifest")
        labels[youtube_id] = {
            "category": clips[clip]["class_name"],
            "label": "[" + ", ".join(decision["answers"]) + "]",
        }
    if (report.unresolved or report.incomplete) and not allow_unresolved:
        parts = []
        if report.unresolved:
            parts.append(
                f"{len(report.unresolved)} disagreement(s) without a round-3 decision: "
                + ", ".join(report.unresolved[:10])
            )
        if report.incomplete:
            parts.append(
                f"{len(report.incomplete)} clip(s) without both round-1 and round-2 answers: "
                + ", ".join(report.incomplete[:10])
            )
        raise OvavebenchError("; ".join(parts) + " (export and import round 3, or pass --allow-unresolved)")
    atomic_write_json(out, labels, indent=4)
    return report


def _check_output(out: Path, work: Path) -> None:
    """The labels file may replace only a labels file: never the store, nor any other file of the user's."""
    target = out.resolve()
    if target.parent == work.resolve() and target.name.startswith(DB_NAME):
        raise OvavebenchError(f"--out {out}: is the annotation store of --work; pass a labels file (labels.json)")
    if target.is_dir():
        raise OvavebenchError(f"--out {out}: is a folder, expected a labels JSON file to write")
    if target.exists():
        try:
            earlier = read_json(target, "labels")
        except OvavebenchError:
            earlier = None
        if not isinstance(earlier, dict):
            raise OvavebenchError(f"--out {out}: exists and is not a labels JSON file; nothing was changed")


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}" + ("" if n == 1 else "s")


def aggregation_summary(report: FinalizeReport) -> str:
    """One line on how the aggregated labels compare with adjudication, readable at any size."""
    changed, compared = report.changed_seconds, report.compared_seconds
    if compared == 0:
        return f"{report.method}: no clip has an adjudicated label yet to compare with"
    if changed == 0:
        return f"{report.method}: the same label as adjudication in all {_count(compared, 'adjudicated second')}"
    share = 100 * changed / compared
    shown = "< 0.01" if share < 0.01 else f"{share:.2f}"
    return (
        f"{report.method}: a different label from adjudication in {_count(changed, 'second')} of "
        f"{compared:,} adjudicated ({shown} %); the others agree"
    )


def _adjudicated(clip: str, r1: dict, r2: dict, r3: dict) -> str | None:
    if clip in r3:
        return str(r3[clip]["answers"])
    if clip in r1 and clip in r2 and r1[clip]["answers"] == r2[clip]["answers"]:
        return str(r1[clip]["answers"])
    return None


def _finalize_aggregated(
    work: str | os.PathLike,
    out: str | os.PathLike,
    method: str,
    seed: int,
    clips: dict,
    planned: list[str],
    r1: dict,
    r2: dict,
    r3: dict,
    allow_unresolved: bool = False,
) -> FinalizeReport:
    from .aggregate import METHODS
    from .aggregate import aggregate as run_aggregation

    if method not in METHODS:
        raise OvavebenchError(f"--aggregate must be one of {', '.join(METHODS)}, got {method!r}")
    # as without --aggregate: a clip whose rounds 1 and 2 are not both answered (and no round 3) is not finished;
    # aggregating one annotator's answer would pass it off as a crowd label
    unfinished = [c for c in planned if c not in r3 and not (c in r1 and c in r2)]
    answered = any(c in r1 or c in r2 or c in r3 for c in planned)  # none: the aggregation says so
    if unfinished and answered and not allow_unresolved:
        raise OvavebenchError(
            f"{len(unfinished)} clip(s) without both round-1 and round-2 answers: {', '.join(unfinished[:10])} "
            "(export and import the missing round, or pass --allow-unresolved to leave them out)"
        )
    left_out = set(unfinished)
    with contextlib.closing(open_work(work)) as conn:
        result = run_aggregation(conn, planned, method, seed)
    labels: dict[str, dict[str, str]] = {}
    report = FinalizeReport(labels, 0, 0, [], [], [], method=method, reliability=result.reliability)
    for clip in planned:
        answers = result.answers.get(clip)
        if answers is None or clip in left_out:
            report.incomplete.append(clip)
            continue
        adjudicated = _adjudicated(clip, r1, r2, r3)
        if adjudicated is not None:
            report.compared_seconds += len(answers)
            report.changed_seconds += sum(a != b for a, b in zip(answers, adjudicated, strict=True))
            report.agreed += clip not in r3
            report.adjudicated += clip in r3
        if clip in result.broken:
            report.dropped_broken.append(clip)
            continue
        youtube_id = clips[clip]["youtube_id"]
        if youtube_id in labels:
            raise OvavebenchError(f"YouTube id {youtube_id!r} has two annotated clips; keep one in the manifest")
        labels[youtube_id] = {"category": clips[clip]["class_name"], "label": "[" + ", ".join(answers) + "]"}
    atomic_write_json(out, labels, indent=4)
    return report
