"""`ovavebench results`: score JSONs into the layout of the paper's tables, the paper's numbers beside them."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import fail
from .paths import refuse_output_among_inputs, require_path


def results_cmd(
    scores: list[Path] | None = typer.Argument(
        None, help="Score JSONs of `ovavebench score --out` (none: the table of every row, unmeasured)."
    ),
    out: Path = typer.Option(
        ..., help="Markdown file to write; an existing one keeps everything outside its results markers."
    ),
    published: Path | None = typer.Option(
        None,
        help="The paper's numbers (percent) per config (default: the ones shipped with the package).",
    ),
) -> None:
    """Collect score JSONs into the Table 2-6 layout, with the paper's numbers and the difference beside each row."""
    from ..io import atomic_write_text, read_text
    from ..scoring.claims import format_claims, summary_line
    from ..scoring.results import END_MARK, START_MARK, write_results

    paths = list(scores or [])
    for path in paths:
        require_path(path, "SCORES")
    require_path(published, "--published")
    refuse_output_among_inputs([("--out", out)], [*(("SCORES", p) for p in paths), ("--published", published)])
    existing = read_text(out, "a Markdown results file") if out.is_file() else None
    if existing is not None and existing.strip() and (START_MARK not in existing or END_MARK not in existing):
        fail(
            f"--out {out}: exists without the results markers of `ovavebench results`; refusing to replace it: "
            "choose a new file, or put these two lines where the table goes: "
            f"{START_MARK} and {END_MARK}"
        )
    text, checks = write_results(paths, published, existing)
    atomic_write_text(out, text)
    typer.echo(f"wrote {out}: {len(paths)} run(s)")
    if checks:
        typer.echo(summary_line(checks))
        typer.echo(format_claims(checks, markdown=False))
