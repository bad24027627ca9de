"""Uncertainty of benchmark scores as pure array functions: video-level bootstrap intervals, paired tests, Holm.

Every score of OV-AVEBench is a mean over videos of a per-video value (accuracy, segment F1, event F1, and their
average), so a resample of videos is a resample of rows of one ``[N, 4]`` array: the per-video values are computed
once and never again. Resampling is stratified by seen/unseen (the split fixes how many videos of each kind there
are, so each resample keeps both counts) and the total is the mean over both strata together.

Random streams, so an independent implementation can reproduce every number from the seed:
``np.random.SeedSequence(seed).spawn(3)`` gives three generators (``default_rng``): the first draws the seen
videos of each resample, ``integers(0, n_seen, size=n_seen)`` per resample in order, the second the unseen ones
likewise, the third the sign flips of the randomisation test, ``integers(0, 2, size=N)`` per permutation (1 keeps
the pair as it is, 0 swaps it). Drawing many resamples at once gives the same numbers as one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ("acc", "seg_f1", "eve_f1", "avg")
GROUPS = ("seen", "unseen", "total")
CI_METHODS = ("percentile", "bca")
_CHUNK = 256  # resamples drawn and reduced at a time: [256, N] indices stay small whatever the split


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval of one score; fractions like the scores.

    ``degenerate``: every video of the group has the same value (perfect or constant predictions, or one video), so
    every resample gives that value and the interval is the point itself, ``[value, value]``; or the interval could
    not be computed from such data (then ``low``/``high`` are NaN). A group without videos is NaN, not degenerate.
    """

    low: float
    high: float
    degenerate: bool = False


def check_settings(resamples: int, confidence: float, seed: int = 0) -> None:
    """Refuse resampling settings no interval can come from (NaN and infinities included), naming the argument."""
    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _generators(seed: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


def _strata(seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seen = np.asarray(seen, dtype=bool)
    return np.flatnonzero(seen), np.flatnonzero(~seen)


def bootstrap_means(values: np.ndarray, seen: np.ndarray, resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Group means of every resample: ``{"seen"|"unseen"|"total": [resamples, M]}`` for ``values`` [N, M].

    A group without videos gives NaN rows.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    rows_seen, rows_unseen = _strata(seen)
    rng_seen, rng_unseen, _ = _generators(seed)
    width = values.shape[1]
    sums = {name: np.zeros((resamples, width)) for name in ("seen", "unseen")}
    for name, rows, rng in (("seen", rows_seen, rng_seen), ("unseen", rows_unseen, rng_unseen)):
        if len(rows) == 0:
            continue
        stratum = values[rows]
        for start in range(0, resamples, _CHUNK):
            count = min(_CHUNK, resamples - start)
            picks = rng.integers(0, len(rows), size=(count, len(rows)))
            sums[name][start : start + count] = stratum[picks].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "seen": sums["seen"] / len(rows_seen) if len(rows_seen) else np.full((resamples, width), np.nan),
            "unseen": sums["unseen"] / len(rows_unseen) if len(rows_unseen) else np.full((resamples, width), np.nan),
            "total": (sums["seen"] + sums["unseen"]) / max(len(values), 1),
        }


def group_means(values: np.ndarray, seen: np.ndarray) -> dict[str, np.ndarray]:
    """The point estimates: ``{"seen"|"unseen"|"total": [M]}`` (NaN for a group without videos)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    seen = np.asarray(seen, dtype=bool)
    nan = np.full(values.shape[1], np.nan)
    return {
        "seen": values[seen].mean(axis=0) if seen.any() else nan,
        "unseen": values[~seen].mean(axis=0) if (~seen).any() else nan,
        "total": values.mean(axis=0) if len(values) else nan,
    }


def percentile_interval(distribution: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of a bootstrap distribution [B, M] (numpy's linear quantiles): (low [M], high [M])."""
    alpha = (1 - confidence) / 2
    if np.isnan(distribution).all():
        nan = np.full(distribution.shape[1], np.nan)
        return nan, nan
    low, high = np.quantile(distribution, [alpha, 1 - alpha], axis=0)
    return low, high


def bca_intervals(
    values: np.ndarray, seen: np.ndarray, resamples: int, seed: int, confidence: float = 0.95
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Bias-corrected and accelerated intervals through :func:`scipy.stats.bootstrap` (its own resampling,
    stratified the same way: the seen and the unseen videos are its two independent samples).

    BCa is undefined on a sample without spread (its acceleration divides by zero): a column whose values are all
    equal within a stratum is not handed to scipy; its bounds are NaN here and :func:`bootstrap_intervals` reports
    it as degenerate. A stratum of one video is fixed in every resample: the total is then the bootstrap of the
    other stratum with that video's sum added."""
    import warnings

    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    rows_seen, rows_unseen = _strata(seen)
    samples = {"seen": values[rows_seen].T, "unseen": values[rows_unseen].T}
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    width = values.shape[1]
    total_count = max(len(values), 1)

    def spread(sample: np.ndarray) -> np.ndarray:
        return (sample.shape[1] >= 2) & (np.ptp(sample, axis=1) > 0) if sample.shape[1] else np.zeros(width, bool)

    def run(data: tuple[np.ndarray, ...], statistic, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, high = np.full(width, np.nan), np.full(width, np.nan)
        if not columns.any():
            return low, high
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            # A remaining degenerate case is reported through NaN bounds, not a library warning on stderr.
            warnings.simplefilter("ignore")
            res = stats.bootstrap(
                tuple(d[columns] for d in data),
                statistic,
                n_resamples=resamples,
                confidence_level=confidence,
                method="BCa",
                vectorized=True,
                axis=-1,
                rng=rng,
            )
        low[columns] = res.confidence_interval.low
        high[columns] = res.confidence_interval.high
        return low, high

    def mean(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(sample, axis=axis)

    out = {name: run((samples[name],), mean, spread(samples[name])) for name in ("seen", "unseen")}
    big = [name for name in ("seen", "unseen") if samples[name].shape[1] >= 2]
    if len(big) == 2:

        def pooled(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            return (np.sum(a, axis=axis) + np.sum(b, axis=axis)) / total_count

        # a column with spread in either stratum has a defined pooled interval
        columns = spread(samples["seen"]) | spread(samples["unseen"])
        out["total"] = run((samples["seen"], samples["unseen"]), pooled, columns)
    elif big:
        # The other stratum has 0 or 1 video, the same in every resample: the total is a monotone map of the big
        # stratum's mean, so its interval is that mean's interval mapped the same way (BCa respects such maps).
        n = samples[big[0]].shape[1]
        fixed = samples["unseen" if big[0] == "seen" else "seen"].sum(axis=1)
        low, high = out[big[0]]
        out["total"] = ((low * n + fixed) / total_count, (high * n + fixed) / total_count)
    else:
        out["total"] = (np.full(width, np.nan), np.full(width, np.nan))
    return out


def bootstrap_intervals(
    values: np.ndarray,
    seen: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    method: str = "percentile",
) -> dict[str, dict[str, Interval]]:
    """Confidence intervals of every score: ``{group: {metric: Interval}}`` for ``values`` [N, 4]
    (acc, seg_f1, eve_f1, avg per video)."""
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {', '.join(CI_METHODS)}, got {method!r}")
    check_settings(resamples, confidence, seed)
    values = np.asarray(values, dtype=np.float64)
    if method == "bca":
        bounds = bca_intervals(values, seen, resamples, seed, confidence)
    else:
        bounds = {
            g: percentile_interval(d, confidence) for g, d in bootstrap_means(values, seen, resamples, seed).items()
        }
    rows_seen, rows_unseen = _strata(seen)
    members = {"seen": rows_seen, "unseen": rows_unseen, "total": np.arange(len(values))}
    out: dict[str, dict[str, Interval]] = {}
    for g in GROUPS:
        group = values[members[g]]
        out[g] = {}
        for j, m in enumerate(METRICS):
            low, high = float(bounds[g][0][j]), float(bounds[g][1][j])
            if len(group) and np.ptp(group[:, j]) == 0:  # no spread: every resample is the point itself
                point = float(group[0, j])
                out[g][m] = Interval(point, point, degenerate=True)
            elif len(group) and (low != low or high != high):  # spread, yet no interval (BCa on near-constant data)
                out[g][m] = Interval(low, high, degenerate=True)
            else:
                out[g][m] = Interval(low, high)
    return out


@dataclass(frozen=True)
class PairedTest:
    """One score's difference a − b on the same videos, with its interval and two two-sided p-values."""

    difference: float
    interval: Interval
    p_bootstrap: float
    p_permutation: float


def paired_tests(
    values_a: np.ndarray,
    values_b: np.ndarray,
    seen: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, PairedTest]]:
    """Paired bootstrap and approximate randomisation of a − b per group and metric (rows: the same videos).

    Bootstrap: the same resampled videos for both, the percentile interval of the differences, and
    p = (1 + #{|δ*ᵦ − δ| ≥ |δ|}) / (B + 1) (the resampled differences shifted to the null). Randomisation: each
    video's pair swapped with probability ½, p = (1 + #{|δᵣ| ≥ |δ|}) / (R + 1). Identical inputs give δ = 0, p = 1.
    """
    check_settings(resamples, confidence, seed)
    differences = np.asarray(values_a, dtype=np.float64) - np.asarray(values_b, dtype=np.float64)
    seen = np.asarray(seen, dtype=bool)
    observed = group_means(differences, seen)
    resampled = bootstrap_means(differences, seen, resamples, seed)
    permuted = _sign_flip_means(differences, seen, resamples, seed)
    out: dict[str, dict[str, PairedTest]] = {}
    for group in GROUPS:
        delta = observed[group]
        low, high = percentile_interval(resampled[group], confidence)
        boot = (1 + (np.abs(resampled[group] - delta) >= np.abs(delta)).sum(axis=0)) / (resamples + 1)
        perm = (1 + (np.abs(permuted[group]) >= np.abs(delta)).sum(axis=0)) / (resamples + 1)
        out[group] = {
            m: PairedTest(
                float(delta[j]),
                Interval(float(low[j]), float(high[j])),
                float(boot[j]) if delta[j] == delta[j] else float("nan"),
                float(perm[j]) if delta[j] == delta[j] else float("nan"),
            )
            for j, m in enumerate(METRICS)
        }
    return out


def _sign_flip_means(differences: np.ndarray, seen: np.ndarray, permutations: int, seed: int) -> dict[str, np.ndarray]:
    """Group means of the differences with each video's sign flipped at random, [R, M] per group."""
    rows_seen, rows_unseen = _strata(seen)
    rng = _generators(seed)[2]
    width = differences.shape[1]
    out = {g: np.full((permutations, width), np.nan) for g in GROUPS}
    for start in range(0, permutations, _CHUNK):
        count = min(_CHUNK, permutations - start)
        signs = rng.integers(0, 2, size=(count, len(differences))) * 2.0 - 1.0
        flipped_seen = signs[:, rows_seen] @ differences[rows_seen]
        flipped_unseen = signs[:, rows_unseen] @ differences[rows_unseen]
        if len(rows_seen):
            out["seen"][start : start + count] = flipped_seen / len(rows_seen)
        if len(rows_unseen):
            out["unseen"][start : start + count] = flipped_unseen / len(rows_unseen)
        if len(differences):
            out["total"][start : start + count] = (flipped_seen + flipped_unseen) / len(differences)
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (any shape; NaN stays NaN, outside the family)."""
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    valid = np.flatnonzero(~np.isnan(flat))
    adjusted = np.full(flat.shape, np.nan)
    order = valid[np.argsort(flat[valid], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):  # m values: the family is the pairs of a few files, not videos
        running = max(running, min(1.0, (m - rank) * flat[index]))
        adjusted[index] = running
    return adjusted.reshape(p.shape)
