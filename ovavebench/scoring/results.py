"""The results table: score JSONs in the layout of the paper's Tables 2–6, the paper's numbers beside them.

Each score JSON names its config in ``meta.config`` (the baselines write it into their predictions; ``score
--config`` sets it too); a run whose config is not a published row goes under "Other runs". The paper's numbers
come from ``baselines/published.json`` (percent; ``null`` where nobody has entered the paper's number yet), and
every measured row shows the difference to them. All rows must come from one benchmark and one split.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from ..io import read_json
from .report import ScoreFile, check_same_benchmark, read_score_file

START_MARK = "<!-- ovavebench results: start (written by `ovavebench results`; edit around it) -->"
END_MARK = "<!-- ovavebench results: end -->"
COLUMNS = (
    ("seen", "avg"),
    ("unseen", "avg"),
    ("total", "acc"),
    ("total", "seg_f1"),
    ("total", "eve_f1"),
    ("total", "avg"),
)
HEADER = (
    "| config | | seen Avg. | unseen Avg. | total Acc. | total Seg. | total Eve. | total Avg. | "
    "measured by / data / checkpoint / hardware / date |"
)


@dataclass(frozen=True)
class Row:
    config: str  # a file name under baselines/, or a label for rows without one
    label: str
    note: str = ""  # said in the last column of a row nobody can measure with this toolkit


TABLES: tuple[tuple[str, tuple[Row, ...]], ...] = (
    (
        "Table 2",
        (
            Row("zero_shot.json", "ImageBind training-free"),
            Row("zero_shot_clip_clap.json", "CLIP&CLAP training-free"),
            Row("avllm.json", "audio-visual LLM, zero-shot; the paper's row is Video-LLaMA2"),
            Row("finetune.json", "fine-tuning baseline, selected on val"),
            Row("finetune_select_published.json", "selected as released"),
            Row("finetune_ave.json", "AVE"),
            Row("finetune_psp.json", "PSP"),
            Row("finetune_cmra.json", "CMRA"),
            Row("finetune_mm_pyramid.json", "MM-Pyramid"),
        ),
    ),
    (
        "Table 3",
        (
            Row("zero_shot_no_other.json", "training-free w/o other"),
            Row("finetune_no_other.json", "fine-tuning w/o other"),
        ),
    ),
    ("Table 4", (Row("finetune_prob_avg.json", "Prob-avg"), Row("finetune_fea_avg.json", "Fea-avg"))),
    ("Table 5", (Row("finetune_linear.json", "linear temporal layers"),)),
    (
        "Table 6",
        (
            Row("finetune_trainratio0.25.json", "25 % of the training data"),
            Row("finetune_trainratio0.5.json", "50 %"),
            Row("finetune_trainratio0.75.json", "75 %"),
        ),
    ),
)


def default_published_path() -> Path:
    """The paper's numbers shipped inside the package (``ovavebench/baselines/published.json``)."""
    return Path(__file__).resolve().parents[1] / "baselines" / "published.json"


def read_published(path: str | os.PathLike) -> dict[str, dict[str, dict[str, float | None]]]:
    """The paper's numbers (shipped: ``ovavebench/baselines/published.json``): config → group → metric → percent
    (or null)."""
    what = 'the paper\'s numbers: {"rows": {config: {seen|unseen|total: {acc|seg_f1|eve_f1|avg: percent or null}}}}'
    data = read_json(path, what)
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, dict):
        raise InputFileError(path, f"expected {what}")
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for config, groups in rows.items():
        if not isinstance(groups, dict):
            raise InputFileError(path, f"row {config!r}: expected an object of seen/unseen/total")
        out[config] = {}
        for group, metrics in groups.items():
            if group not in ("seen", "unseen", "total") or not isinstance(metrics, dict):
                raise InputFileError(path, f"row {config!r}: {group!r} is not seen/unseen/total with metrics")
            for metric, value in metrics.items():
                if value is not None and (type(value) not in (int, float) or not 0 <= value <= 100):
                    raise InputFileError(path, f"row {config!r}, {group}.{metric}: expected a percent or null")
            out[config][group] = {m: (float(v) if v is not None else None) for m, v in metrics.items()}
    return out


def _config_name(score: ScoreFile) -> str:
    config = score.meta.get("config")
    return Path(str(config)).name if config else ""


def _cell(score: ScoreFile, group: str, metric: str) -> str:
    value = score.scores.get(group, {}).get(metric)
    if value is None or value != value:
        return "–"
    text = f"{100 * value:.2f}"
    if score.intervals and group in score.intervals and metric in score.intervals[group]:
        low, high = score.intervals[group][metric]
        if low is not None and high is not None and low == low and high == high:
            text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    return text


def _who(score: ScoreFile) -> str:
    meta = score.meta
    parts = [str(meta.get("measured_by") or "?")]
    data = meta.get("data")
    parts.append(str(data) if data else "?")
    checkpoint = meta.get("checkpoint_sha256") or meta.get("encoder")
    parts.append(str(checkpoint)[:16] if checkpoint else "?")
    parts.append(str(meta.get("hardware") or "?"))
    parts.append(str(meta.get("scored_at") or "?"))
    return " / ".join(parts) + f" (`{score.path.name}`)"


def _published_cells(published: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    return [f"{v:.2f}" if (v := published.get(g, {}).get(m)) is not None else "–" for g, m in COLUMNS]


def _delta_cells(score: ScoreFile, published: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    cells = []
    for group, metric in COLUMNS:
        paper = published.get(group, {}).get(metric)
        value = score.scores.get(group, {}).get(metric)
        ok = paper is not None and value is not None and not math.isnan(value)
        cells.append(f"{100 * value - paper:+.2f}" if ok else "–")  # type: ignore[operator]
    return cells


def _has_numbers(published: Mapping[str, Mapping[str, float | None]] | None) -> bool:
    return bool(published) and any(v is not None for g in published.values() for v in g.values())  # type: ignore[union-attr]


def results_table(
    scores: Sequence[ScoreFile],
    published: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    published_note: str = "",
) -> str:
    """The Markdown table of every published row (measured or not) and of the other runs."""
    check_same_benchmark(list(scores))
    by_config: dict[str, list[ScoreFile]] = {}
    for s in scores:
        by_config.setdefault(_config_name(s), []).append(s)
    known = {row.config for _, rows in TABLES for row in rows}
    lines = [HEADER, "|" + "---|" * 9]
    empty = "| " * 6
    for title, rows in TABLES:
        lines.append(f"| **{title}** | | | | | | | | |")
        for row in rows:
            paper = published.get(row.config)
            runs = by_config.get(row.config, [])
            name = f"`{row.config}` ({row.label})"
            if not runs:
                lines.append(f"| {name} | not measured {empty}| {row.note} |")
            for run in runs:
                lines.append(
                    f"| {name} | measured | " + " | ".join(_cell(run, g, m) for g, m in COLUMNS) + f" | {_who(run)} |"
                )
                if _has_numbers(paper):
                    lines.append("| | Δ to the paper | " + " | ".join(_delta_cells(run, paper)) + " | |")  # type: ignore[arg-type]
            if _has_numbers(paper):
                lines.append("| | paper | " + " | ".join(_published_cells(paper)) + " | |")  # type: ignore[arg-type]
    others = [s for config, runs in sorted(by_config.items()) if config not in known for s in runs]
    if others:
        lines.append("| **Other runs** | | | | | | | | |")
        for run in others:
            label = run.meta.get("method") or _config_name(run) or run.path.stem
            lines.append(
                f"| {label} | measured | " + " | ".join(_cell(run, g, m) for g, m in COLUMNS) + f" | {_who(run)} |"
            )
    split = scores[0].split if scores else "test"
    benchmark = f"benchmark `{scores[0].benchmark_sha256[:12]}`" if scores else "no run scored yet"
    lines.append("")
    lines.append(
        f"{split.capitalize()} split, percent; measured cells show the 95 % bootstrap interval where the score "
        f"JSON has one (`score --ci`); {benchmark}; {len(scores)} run(s)."
        + (f" {published_note}" if published_note else "")
    )
    return "\n".join(lines) + "\n"


def write_results(
    score_paths: Sequence[str | os.PathLike], published_path: str | os.PathLike | None, out_text: str | None
) -> str:
    """The results document: ``out_text`` with the part between the markers replaced (or the table alone)."""
    scores = [read_score_file(p) for p in score_paths]
    published = read_published(published_path or default_published_path())
    entered = sum(v is not None for row in published.values() for g in row.values() for v in g.values())
    note = (
        "The paper's numbers: none entered yet in `baselines/published.json`."
        if not entered
        else f"The paper's numbers: {entered} cell(s) entered in `baselines/published.json`."
    )
    table = results_table(scores, published, note)
    block = f"{START_MARK}\n{table}{END_MARK}\n"
    if out_text is None or START_MARK not in out_text or END_MARK not in out_text:
        return "# Results\n\n" + block
    before, rest = out_text.split(START_MARK, 1)
    after = rest.split(END_MARK, 1)[1]
    return before + block + (after[1:] if after.startswith("\n") else after)


def results_rows() -> list[dict[str, Any]]:
    """The published rows, table by table (for documentation and tests)."""
    return [{"table": t, "config": r.config, "label": r.label} for t, rows in TABLES for r in rows]
