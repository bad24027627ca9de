"""Split stage: seen/unseen classes and train/val/test videos, reproducibly.

The published split follows an exact per-class rule (reproduced here): for a
seen class with n videos, ``e = ceil(0.2·n)`` go to evaluation, of which
``test = ceil(e/2)`` and ``val = e − test``, the rest to train; for an unseen
class, ``test = ceil(n/2)``, ``val = n − test``, none to train. Which videos of
a class land where is a seeded shuffle; the counts depend only on the rule.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .benchmark import Labels, benchmark_filenames, write_benchmark
from .errors import InputFileError, OvavebenchError
from .io import atomic_open, atomic_write_json
from .taxonomy import GROUPS, Taxonomy

PUBLISHED_UNSEEN_SHARE = 8303 / 24800  # 0.335
DEFAULT_TRAIN_RATIOS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class SplitRule:
    """Fractions of the per-class rule (defaults: the published ones)."""

    seen_eval_fraction: float = 0.2  # of a seen class's videos, to val + test
    test_share: float = 0.5  # of the evaluation videos, to test (rounded up)


def class_counts(n_videos: int, seen: bool, rule: SplitRule = SplitRule()) -> tuple[int, int, int]:
    """(train, val, test) counts of one class under ``rule``.

    >>> class_counts(100, True), class_counts(101, False)
    ((80, 10, 10), (0, 50, 51))
    """
    if seen:
        evaluation = math.ceil(round(rule.seen_eval_fraction * n_videos, 9))
        test = math.ceil(round(rule.test_share * evaluation, 9))
        return n_videos - evaluation, evaluation - test, test
    test = math.ceil(round(rule.test_share * n_videos, 9))
    return 0, n_videos - test, test


def group_quota(group_sizes: dict[str, int], total: int) -> dict[str, int]:
    """Unseen classes per group, proportional to group size (largest remainder).

    Every group with classes gets at least one. 17/15/17/9/9 with 21 → 5/5/5/3/3.
    """
    groups = [g for g, n in group_sizes.items() if n > 0]
    if total < len(groups):
        raise OvavebenchError(f"cannot hold out {total} class(es) with every one of {len(groups)} groups represented")
    size = sum(group_sizes[g] for g in groups)
    exact = {g: total * group_sizes[g] / size for g in groups}
    quota = {g: max(1, min(group_sizes[g], math.floor(exact[g]))) for g in groups}
    order = sorted(groups, key=lambda g: (-(exact[g] - math.floor(exact[g])), GROUPS.index(g) if g in GROUPS else 99))
    while sum(quota.values()) < total:
        for g in order:
            if sum(quota.values()) < total and quota[g] < group_sizes[g] - (0 if total >= size else 1):
                quota[g] += 1
    while sum(quota.values()) > total:
        g = max((g for g in groups if quota[g] > 1), key=lambda g: quota[g] - exact[g])
        quota[g] -= 1
    return quota


def choose_unseen_auto(
    videos_per_class: dict[str, int], taxonomy: Taxonomy, num_unseen: int, unseen_share: float, seed: int
) -> list[str]:
    """Pick ``num_unseen`` classes, group by group, so the unseen share of videos is near ``unseen_share``.

    A seeded random start, then swaps within groups while they bring the share
    closer to the target: deterministic for a seed, different members for another.
    """
    classes = [c for c in taxonomy.classes if videos_per_class.get(c.name, 0) > 0]
    if num_unseen >= len(classes):
        raise OvavebenchError(f"asked to hold out {num_unseen} classes but only {len(classes)} have videos")
    by_group: dict[str, list[str]] = {}
    for c in classes:
        by_group.setdefault(c.group, []).append(c.name)
    quota = group_quota({g: len(v) for g, v in by_group.items()}, num_unseen)
    rng = np.random.default_rng(seed)
    total = sum(videos_per_class[c.name] for c in classes)
    unseen: set[str] = set()
    for group, names in by_group.items():
        unseen.update(rng.choice(names, size=quota[group], replace=False).tolist())

    def gap(selection: set[str]) -> float:
        return abs(sum(videos_per_class[n] for n in selection) / total - unseen_share)

    improved = True
    while improved:
        improved = False
        best = gap(unseen)
        for names in by_group.values():
            for out in sorted(set(names) & unseen):
                for into in sorted(set(names) - unseen):
                    candidate = (unseen - {out}) | {into}
                    if gap(candidate) < best - 1e-12:
                        unseen, best, improved = candidate, gap(candidate), True
                        break
                if improved:
                    break
            if improved:
                break
    return [c.name for c in classes if c.name in unseen]


def solve_seen_eval_fraction(
    videos_per_class: dict[str, int], unseen: set[str], target_seen_fraction: float, test_share: float = 0.5
) -> float:
    """The seen evaluation fraction that makes seen videos ``target_seen_fraction`` of val and of test."""

    def deviation(fraction: float) -> float:
        rule = SplitRule(fraction, test_share)
        totals = np.zeros((2, 2))  # [val/test, seen/unseen]
        for name, n in videos_per_class.items():
            _, val, test = class_counts(n, name not in unseen, rule)
            column = 1 if name in unseen else 0
            totals[0, column] += val
            totals[1, column] += test
        with np.errstate(invalid="ignore", divide="ignore"):
            seen_fraction = totals[:, 0] / totals.sum(1)
        return float(np.nanmax(np.abs(seen_fraction - target_seen_fraction)))

    grid = np.round(np.arange(0.001, 1.0, 0.001), 3)
    return float(min(grid, key=deviation))


@dataclass
class SplitResult:
    """What :func:`make_split` decided; :func:`write_split` writes it."""

    meta: pd.DataFrame  # split, cls_name, cls_type, vid_name (+ group)
    labels: Labels
    classes: list[str]
    unseen: list[str]
    train_subsets: dict[float, pd.DataFrame] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def parse_ratio(text: str) -> float:
    """``"3:7"`` → 0.3 (the seen share)."""
    try:
        seen, unseen = (float(x) for x in text.split(":"))
    except ValueError:
        seen = unseen = float("nan")
    if not (math.isfinite(seen) and math.isfinite(unseen) and seen > 0 and unseen > 0):
        raise OvavebenchError(f"--target-ratio must look like 3:7 (two positive numbers, seen:unseen), got {text!r}")
    return seen / (seen + unseen)


def read_class_list(path: str | os.PathLike, taxonomy: Taxonomy) -> list[str]:
    """A file of class names, one per line; unknown or repeated names are an error."""
    from .io import read_text

    names: list[str] = []
    known = set(taxonomy.names)
    for i, line in enumerate(read_text(path, "a list of class names, one per line").splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if name not in known:
            raise InputFileError(path, f"unknown class {name!r} (not in the taxonomy {taxonomy.source})", i)
        if name in names:
            raise InputFileError(path, f"class {name!r} listed twice", i)
        names.append(name)
    if not names:
        raise InputFileError(path, "no class names; expected a list of class names, one per line")
    return names


def make_split(
    labels: Labels,
    taxonomy: Taxonomy,
    unseen: str | Sequence[str] = "official",
    num_unseen: int = 21,
    unseen_share: float = PUBLISHED_UNSEEN_SHARE,
    rule: SplitRule = SplitRule(),
    target_seen_fraction: float | None = None,
    train_ratios: Sequence[float] = DEFAULT_TRAIN_RATIOS,
    seed: int = 0,
    labels_source: str = "<labels>",
) -> SplitResult:
    """Choose unseen classes and assign every video to train, val or test.

    Every parameter is checked and every split must get videos before anything
    is returned (and so before anything is written).
    """
    for name, value in (("--seen-eval-fraction", rule.seen_eval_fraction), ("--test-share", rule.test_share)):
        if not 0 < value < 1:
            raise OvavebenchError(f"{name} must be in (0, 1), got {value!r}")
    if type(seed) is not int or not 0 <= seed < 2**32:
        raise OvavebenchError(f"--seed must be a whole number in [0, 2^32), got {seed!r}")
    if not 0 < unseen_share < 1:
        raise OvavebenchError(f"--unseen-share must be in (0, 1), got {unseen_share!r}")
    if len(labels.video_ids) == 0:
        raise InputFileError(labels_source, "no videos to split")
    by_name = taxonomy.by_name()
    for vid, cat in zip(labels.video_ids, labels.categories, strict=True):
        if cat not in by_name:
            raise InputFileError(
                labels_source, f"video {vid!r}: category {cat!r} is not in the taxonomy {taxonomy.source}"
            )
    videos_per_class = {str(k): int(v) for k, v in pd.Series(labels.categories).value_counts().items()}

    if isinstance(unseen, str) and unseen == "official":
        unseen_names = [c.name for c in taxonomy.classes if not c.seen and c.name in videos_per_class]
        selection = "official"
    elif isinstance(unseen, str) and unseen == "auto":
        unseen_names = choose_unseen_auto(videos_per_class, taxonomy, num_unseen, unseen_share, seed)
        selection = "auto"
    else:
        unseen_names = list(unseen)
        selection = "file"
        unknown = [n for n in unseen_names if n not in by_name]
        if unknown:
            raise OvavebenchError(f"unknown unseen class(es): {', '.join(unknown)}")
    unseen_set = set(unseen_names)
    if len(unseen_set) >= len(videos_per_class):
        raise OvavebenchError(f"{len(unseen_set)} unseen classes leave no seen class with videos")

    if target_seen_fraction is not None:
        rule = SplitRule(
            solve_seen_eval_fraction(videos_per_class, unseen_set, target_seen_fraction, rule.test_share),
            rule.test_share,
        )

    rng = np.random.default_rng(seed)
    per_split: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
    order = pd.DataFrame({"vid": labels.video_ids, "cat": labels.categories})
    train_order: dict[str, list[str]] = {}
    for cls in taxonomy.classes:  # taxonomy order: the group blocks of the paper
        vids = sorted(order.loc[order["cat"] == cls.name, "vid"])
        if not vids:
            continue
        shuffled = [vids[i] for i in rng.permutation(len(vids))]
        n_train, n_val, n_test = class_counts(len(vids), cls.name not in unseen_set, rule)
        train_order[cls.name] = shuffled[:n_train]
        for split, chunk in (
            ("train", shuffled[:n_train]),
            ("val", shuffled[n_train : n_train + n_val]),
            ("test", shuffled[n_train + n_val :]),
        ):
            per_split[split].extend((cls.name, v) for v in chunk)
    rows = [
        (split, cls, "open" if cls in unseen_set else "close", vid)
        for split in ("train", "val", "test")
        for cls, vid in per_split[split]
    ]
    meta = pd.DataFrame(rows, columns=["split", "cls_name", "cls_type", "vid_name"])
    meta["group"] = meta["cls_name"].map(lambda c: by_name[c].group)

    empty = [split for split in ("train", "val", "test") if not per_split[split]]
    if empty:
        raise OvavebenchError(
            f"the {' and '.join(empty)} split(s) would be empty "
            f"with seen evaluation fraction {rule.seen_eval_fraction:g} "
            f"and test share {rule.test_share:g} on {len(labels.video_ids)} video(s); nothing was written"
        )
    subsets: dict[float, pd.DataFrame] = {}
    for ratio in train_ratios:
        if not 0 < ratio <= 1:
            raise OvavebenchError(f"training ratio {ratio} is not in (0, 1]")
        # The first ceil(r·n) of each class's shuffled train videos: subsets are nested.
        keep = {v for vids in train_order.values() for v in vids[: math.ceil(round(ratio * len(vids), 9))]}
        subsets[ratio] = meta[(meta["split"] != "train") | meta["vid_name"].isin(keep)].reset_index(drop=True)

    classes = [c.name for c in taxonomy.classes if c.name in videos_per_class]
    result = SplitResult(meta, labels, classes, [c for c in classes if c in unseen_set], subsets)
    result.report = split_report(result, selection, rule, seed, unseen_share, target_seen_fraction)
    return result


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    return {
        "videos": int(len(frame)),
        "seen": int((frame["cls_type"] == "close").sum()),
        "unseen": int((frame["cls_type"] == "open").sum()),
    }


def split_report(
    result: SplitResult, selection: str, rule: SplitRule, seed: int, unseen_share: float, target: float | None
) -> dict[str, Any]:
    meta = result.meta
    # counts, then a seen fraction (None without videos) beside them
    splits: dict[str, dict[str, Any]] = {s: _counts(meta[meta["split"] == s]) for s in ("train", "val", "test")}
    for s in splits.values():
        s["seen_fraction"] = s["seen"] / s["videos"] if s["videos"] else None
    unseen_videos = int((meta["cls_type"] == "open").sum())
    per_group = {
        g: {
            "classes": int(frame["cls_name"].nunique()),
            "unseen_classes": int(frame.loc[frame["cls_type"] == "open", "cls_name"].nunique()),
            **{s: int((frame["split"] == s).sum()) for s in ("train", "val", "test")},
        }
        for g, frame in meta.groupby("group", sort=False)
    }
    per_class = {
        cls: {
            "seen": bool((frame["cls_type"] == "close").all()),
            **{s: int((frame["split"] == s).sum()) for s in ("train", "val", "test")},
        }
        for cls, frame in meta.groupby("cls_name", sort=False)
    }
    return {
        "seed": seed,
        "unseen_selection": selection,
        "classes": len(result.classes),
        "seen_classes": len(result.classes) - len(result.unseen),
        "unseen_classes": len(result.unseen),
        "unseen": result.unseen,
        "videos": int(len(meta)),
        "unseen_video_share": unseen_videos / len(meta),
        "unseen_share_target": unseen_share if selection == "auto" else None,
        "rule": {"seen_eval_fraction": rule.seen_eval_fraction, "test_share": rule.test_share},
        "target_seen_fraction": target,
        "splits": splits,
        "groups": per_group,
        "per_class": per_class,
        "train_subsets": {str(r): int((f["split"] == "train").sum()) for r, f in result.train_subsets.items()},
    }


def ratio_name(ratio: float) -> str:
    """0.5 → ``0.5``, 0.25 → ``0.25`` (the published file names)."""
    return f"{ratio:g}"


def write_split(result: SplitResult, out: str | os.PathLike, prefix: str = "ovave") -> dict[str, Path]:
    """Write the benchmark folder (published format), the subsets and ``split_report.json``."""
    out = Path(out)
    seen = [c for c in result.classes if c not in set(result.unseen)]
    paths = write_benchmark(out, result.meta, result.labels, result.classes, seen, prefix)
    for ratio, frame in result.train_subsets.items():
        path = out / f"{prefix}_trainratio{ratio_name(ratio)}_meta.csv"
        with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
            frame[["split", "cls_name", "cls_type", "vid_name"]].to_csv(handle, index=False, lineterminator="\n")
        paths[f"trainratio{ratio_name(ratio)}"] = path
    paths["report"] = out / "split_report.json"
    atomic_write_json(paths["report"], result.report)
    return paths


__all__ = [
    "SplitRule",
    "SplitResult",
    "class_counts",
    "group_quota",
    "choose_unseen_auto",
    "solve_seen_eval_fraction",
    "make_split",
    "write_split",
    "parse_ratio",
    "read_class_list",
    "benchmark_filenames",
]
