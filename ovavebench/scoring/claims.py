"""The paper's text claims, checked on a set of score files.

Each claim of the paper is a difference between two of its rows (e.g. the fine-tuning baseline's total Avg. minus
the training-free baseline's: +11.2 points). A set of score files reproduces a claim when, for every part of it,
there is a score file of both configs and the measured difference (the mean over the runs of each config, in
points) lies within :data:`TOLERANCE_POINTS` of the paper's; it holds *in direction only* when every part has the
paper's sign but some part is further off; it is *not reproduced* when some part has the other sign (or is zero);
it *cannot be checked* when a config of it has no score file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .report import ScoreFile

TOLERANCE_POINTS = 2.0  # about the spread of a re-run with another seed, and the paper's rounding to 0.1
REPRODUCED, DIRECTION, NOT_REPRODUCED, UNCHECKABLE = (
    "reproduced",
    "holds in direction only",
    "not reproduced",
    "cannot be checked",
)


@dataclass(frozen=True)
class ClaimPart:
    """One difference the paper states: config ``a`` minus config ``b`` on ``group``'s ``metric``, in points."""

    a: str
    b: str
    group: str
    metric: str
    difference: float


@dataclass(frozen=True)
class Claim:
    text: str
    parts: tuple[ClaimPart, ...]


@dataclass(frozen=True)
class ClaimCheck:
    """A claim against the score files: its status, each part's measured difference (``None``: no score file),
    and the configs that had none."""

    claim: Claim
    status: str
    measured: tuple[float | None, ...]
    missing: tuple[str, ...]


def config_key(score: ScoreFile) -> str:
    """The row a score file belongs to: its ``meta.config`` as a shipped config's file name (``finetune_psp``,
    ``finetune_psp.json`` and ``baselines/finetune_psp.json`` are one row); ``""`` when it names none."""
    config = score.meta.get("config")
    if not config:
        return ""
    name = Path(str(config)).name
    return name if name.endswith(".json") else f"{name}.json"


def _mean_points(runs: Sequence[ScoreFile], group: str, metric: str) -> float | None:
    values = [run.scores.get(group, {}).get(metric) for run in runs]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return 100 * sum(finite) / len(finite) if finite else None


def check_claims(
    scores: Sequence[ScoreFile], claims: Sequence[Claim], tolerance: float = TOLERANCE_POINTS
) -> list[ClaimCheck]:
    """Each claim's status on ``scores`` (see the module's docstring)."""
    by_config: dict[str, list[ScoreFile]] = {}
    for s in scores:
        by_config.setdefault(config_key(s), []).append(s)
    checks = []
    for claim in claims:
        missing = tuple(dict.fromkeys(c for p in claim.parts for c in (p.a, p.b) if c not in by_config))
        measured: list[float | None] = []
        for part in claim.parts:
            a = _mean_points(by_config.get(part.a, []), part.group, part.metric)
            b = _mean_points(by_config.get(part.b, []), part.group, part.metric)
            measured.append(a - b if a is not None and b is not None else None)
        if missing or any(m is None for m in measured):
            status = UNCHECKABLE
        elif any(m * p.difference <= 0 for m, p in zip(measured, claim.parts, strict=True)):  # type: ignore[operator]
            status = NOT_REPRODUCED
        elif all(abs(m - p.difference) <= tolerance for m, p in zip(measured, claim.parts, strict=True)):  # type: ignore[operator]
            status = REPRODUCED
        else:
            status = DIRECTION
        checks.append(ClaimCheck(claim, status, tuple(measured), missing))
    return checks


def _part_text(part: ClaimPart, measured: float | None) -> str:
    what = f"{part.a} − {part.b}, {part.group} {part.metric.replace('_f1', '')}"
    got = f"{measured:+.1f}" if measured is not None else "–"
    return f"{what}: {got} (paper {part.difference:+.1f})"


def format_claims(checks: Sequence[ClaimCheck], markdown: bool = True) -> str:
    """One line a claim: its status, then each part's measured and published difference in points."""
    lines = []
    for i, check in enumerate(checks, 1):
        parts = "; ".join(_part_text(p, m) for p, m in zip(check.claim.parts, check.measured, strict=True))
        why = (
            f" (no score file of {', '.join(f'`{c}`' if markdown else c for c in check.missing)})"
            if check.missing
            else ""
        )
        status = f"**{check.status}**" if markdown else check.status
        bullet = f"{i}. " if markdown else f"claim {i}: "
        lines.append(f"{bullet}{status}{why}: {check.claim.text} — measured {parts}")
    return "\n".join(lines)


def summary_line(checks: Sequence[ClaimCheck], tolerance: float = TOLERANCE_POINTS) -> str:
    """How many of the claims the score files reproduce, in words."""
    counts: Mapping[str, int] = {
        s: sum(c.status == s for c in checks) for s in (REPRODUCED, DIRECTION, NOT_REPRODUCED, UNCHECKABLE)
    }
    return (
        f"The paper's {len(checks)} text claims on these score files (a claim is reproduced when each difference it "
        f"states is measured within {tolerance:g} points with the same sign): "
        + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        + "."
    )
