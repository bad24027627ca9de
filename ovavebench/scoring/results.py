"""The results table: score JSONs in the layout of the paper's Tables 2–6, the paper's numbers beside them.

Each score JSON names its config in ``meta.config`` (the baselines write it into their predictions; ``score
--config`` sets it too); a run whose config is not a published row goes under "Other runs". The paper's numbers
come from ``ovavebench/baselines/published.json`` (percent, entered from the paper's Tables 2–6; ``null`` where the
paper has no number), every row shows them and every measured row the difference to them; under the table, which of
the paper's text claims the score files reproduce (:mod:`.claims`). All rows must come from one benchmark and one
split.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError, OvavebenchError
from ..io import read_json
from .claims import Claim, ClaimCheck, ClaimPart, check_claims, config_key, format_claims, summary_line
from .report import ScoreFile, check_same_benchmark, read_score_file
from .uncertainty import METRICS as METRIC_NAMES

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
            Row("finetune_paper.json", "the paper's set-up: 5 epochs"),
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


GROUP_NAMES = ("seen", "unseen", "total")
ROW_INFO = ("table", "paper_row", "note", "train_ratio", "best_epoch")


@dataclass(frozen=True)
class PublishedRow:
    """The paper's numbers for one config: group → metric → percent (``None``: the paper has none), and where
    they come from (the table, the paper's own name of the row, a note on how this config differs)."""

    numbers: dict[str, dict[str, float | None]]
    table: str = ""
    paper_row: str = ""
    note: str = ""


@dataclass(frozen=True)
class Published:
    rows: dict[str, PublishedRow]
    claims: tuple[Claim, ...] = ()


def _percent(value: Any, path: str | os.PathLike, where: str) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 100:
        raise InputFileError(path, f"{where}: expected a percent in [0, 100] or null, got {value!r}")
    return float(value)


def _claims(raw: Any, path: str | os.PathLike) -> tuple[Claim, ...]:
    what = "claims: a list of {text, parts: [{a, b, group, metric, difference}]}"
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputFileError(path, f"expected {what}")
    claims = []
    for i, item in enumerate(raw):
        parts = item.get("parts") if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("text"), str)
            or not isinstance(parts, list)
            or not parts
        ):
            raise InputFileError(path, f"claim {i}: expected {what}")
        out = []
        for part in parts:
            if not isinstance(part, dict) or set(part) != {"a", "b", "group", "metric", "difference"}:
                raise InputFileError(path, f"claim {i}: each part needs exactly a, b, group, metric, difference")
            if not (isinstance(part["a"], str) and isinstance(part["b"], str)):
                raise InputFileError(path, f"claim {i}: a and b must be config names")
            if part["group"] not in GROUP_NAMES or part["metric"] not in METRIC_NAMES:
                raise InputFileError(path, f"claim {i}: group must be seen/unseen/total, metric one of {METRIC_NAMES}")
            difference = part["difference"]
            if type(difference) not in (int, float) or not math.isfinite(difference) or not -100 <= difference <= 100:
                raise InputFileError(path, f"claim {i}: difference must be points in [-100, 100], got {difference!r}")
            out.append(ClaimPart(part["a"], part["b"], part["group"], part["metric"], float(difference)))
        claims.append(Claim(item["text"], tuple(out)))
    return tuple(claims)


def read_published(path: str | os.PathLike) -> Published:
    """The paper's numbers (shipped: ``ovavebench/baselines/published.json``): per config, group → metric →
    percent (or null), the table and row of the paper they come from, and the paper's text claims."""
    what = 'the paper\'s numbers: {"rows": {config: {seen|unseen|total: {acc|seg_f1|eve_f1|avg: percent or null}}}}'
    data = read_json(path, what)
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, dict):
        raise InputFileError(path, f"expected {what}")
    out: dict[str, PublishedRow] = {}
    for config, row in rows.items():
        if not isinstance(row, dict):
            raise InputFileError(path, f"row {config!r}: expected an object of seen/unseen/total")
        numbers: dict[str, dict[str, float | None]] = {}
        for key, metrics in row.items():
            if key in ROW_INFO:
                continue
            if key not in GROUP_NAMES or not isinstance(metrics, dict):
                raise InputFileError(path, f"row {config!r}: {key!r} is not seen/unseen/total with metrics")
            unknown = sorted(set(metrics) - set(METRIC_NAMES))
            if unknown:
                raise InputFileError(path, f"row {config!r}, {key}: unknown metric(s) {', '.join(unknown)}")
            numbers[key] = {m: _percent(v, path, f"row {config!r}, {key}.{m}") for m, v in metrics.items()}
        info = {k: row.get(k) for k in ("table", "paper_row", "note")}
        for key, value in info.items():
            if value is not None and not isinstance(value, str):
                raise InputFileError(path, f"row {config!r}, {key}: expected text, got {value!r}")
        out[config] = PublishedRow(numbers, *(str(info[k] or "") for k in ("table", "paper_row", "note")))
    return Published(out, _claims(data.get("claims"), path))


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


def _has_numbers(published: PublishedRow | None) -> bool:
    return published is not None and any(v is not None for g in published.numbers.values() for v in g.values())


def _paper_label(published: PublishedRow) -> str:
    where = f"Table {published.table}: {published.paper_row}" if published.table else published.paper_row
    return f"paper ({where})" if where else "paper"


def results_table(scores: Sequence[ScoreFile], published: Mapping[str, PublishedRow], published_note: str = "") -> str:
    """The Markdown table of every published row (measured or not) and of the other runs."""
    check_same_benchmark(list(scores))
    by_config: dict[str, list[ScoreFile]] = {}
    for s in scores:
        by_config.setdefault(config_key(s), []).append(s)
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
                if paper is not None and _has_numbers(paper):
                    lines.append("| | Δ to the paper | " + " | ".join(_delta_cells(run, paper.numbers)) + " | |")
            if paper is not None and _has_numbers(paper):
                cells = " | ".join(_published_cells(paper.numbers))
                lines.append(f"| | {_paper_label(paper)} | {cells} | {paper.note} |")
            elif paper is not None and paper.note:
                lines.append(f"| | paper: no number {empty}| {paper.note} |")
    others = [s for config, runs in sorted(by_config.items()) if config not in known for s in runs]
    if others:
        lines.append("| **Other runs** | | | | | | | | |")
        for run in others:
            label = run.meta.get("method") or config_key(run) or run.path.stem
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
) -> tuple[str, list[ClaimCheck]]:
    """The results document (``out_text`` with the part between the markers replaced, or the table alone when
    ``out_text`` is ``None``) and the check of the paper's text claims on the score files."""
    scores = [read_score_file(p) for p in score_paths]
    published = read_published(published_path or default_published_path())
    entered = sum(v is not None for row in published.rows.values() for g in row.numbers.values() for v in g.values())
    note = (
        "The paper's numbers: none entered."
        if not entered
        else f"The paper's numbers ({entered} cells, from its Tables 2–6) are under each row, with the paper's name "
        "of the row."
    )
    table = results_table(scores, published.rows, note)
    checks = check_claims(scores, published.claims)
    if checks:
        table += "\n" + summary_line(checks) + "\n\n" + format_claims(checks) + "\n"
    block = f"{START_MARK}\n{table}{END_MARK}\n"
    if out_text is None or not out_text.strip():
        return "# Results\n\n" + block, checks
    if START_MARK not in out_text or END_MARK not in out_text:
        raise OvavebenchError("the file has no results markers: it was not written by `ovavebench results`")
    before, rest = out_text.split(START_MARK, 1)
    after = rest.split(END_MARK, 1)[1]
    return before + block + (after[1:] if after.startswith("\n") else after), checks
