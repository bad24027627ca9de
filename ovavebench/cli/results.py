"""`ovavebench results`: score JSONs into the layout of the paper's tables, the paper's numbers beside them."""

from __future__ import annotations

from pathlib import Path

import typer


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
    from ..scoring.results import write_results

    existing = read_text(out, "a Markdown results file") if out.is_file() else None
    text = write_results(list(scores or []), published, existing)
    atomic_write_text(out, text)
    typer.echo(f"wrote {out}: {len(scores or [])} run(s)")
