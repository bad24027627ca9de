"""`ovavebench metadata`: VGGSound's CSV and the published OV-AVEBench files."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import HELP

app = typer.Typer(help="Fetch VGGSound's CSV and the published OV-AVEBench metadata.", no_args_is_help=True, **HELP)


@app.command("fetch")
def metadata_fetch(
    cache: Path | None = typer.Option(None, help="Cache folder (default $OVAVEBENCH_CACHE or ~/.cache/ovavebench)."),
    vggsound_url: str | None = typer.Option(None, help="URL of vggsound.csv (or $OVAVEBENCH_VGGSOUND_URL)."),
    vggsound_stat_url: str | None = typer.Option(
        None, help="URL of VGGSound's stat.csv label list (or $OVAVEBENCH_VGGSOUND_STAT_URL)."
    ),
    ovave_base_url: str | None = typer.Option(
        None, help="Base URL of the published OV-AVEBench files (or $OVAVEBENCH_OVAVE_BASE_URL)."
    ),
    force: bool = typer.Option(False, "--force", help="Download every file again, even those already verified."),
) -> None:
    """Download VGGSound's CSV and the published OV-AVEBench files into the cache (verified, resumable)."""
    from ..metadata.published import fetch_metadata

    report = fetch_metadata(
        cache, vggsound_url, ovave_base_url, progress=True, vggsound_stat_url=vggsound_stat_url, force=force
    )
    for item in report.files:
        state = "already verified" if item.skipped else "downloaded"
        typer.echo(f"{state:>16}  {item.path}  ({item.bytes:,} bytes, sha256 {item.sha256[:12]}…)")
