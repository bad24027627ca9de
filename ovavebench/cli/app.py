"""The root command: assembles the command modules, and runs them with one-line errors."""

from __future__ import annotations

import sys

import typer

from ..errors import OvavebenchError
from . import (
    annotate,
    baseline,
    build,
    demo,
    download,
    export,
    features,
    manifest,
    metadata,
    results,
    score,
    split,
    stats,
)
from .common import HELP, one_line

app = typer.Typer(
    help="Build, annotate, split, score and baseline OV-AVEBench (open-vocabulary audio-visual event localization).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    **HELP,
)

# Root commands first, then the groups: the order `ovavebench --help` lists them in.
app.command("manifest")(manifest.manifest_cmd)
app.command("split")(split.split_cmd)
app.command("stats")(stats.stats_cmd)
app.command("build")(build.build_cmd)
app.command("demo")(demo.demo_cmd)
app.command("results")(results.results_cmd)
app.add_typer(score.app, name="score")
app.add_typer(metadata.app, name="metadata")
app.add_typer(download.app, name="download")
app.add_typer(annotate.app, name="annotate")
app.add_typer(features.app, name="features")
app.add_typer(baseline.app, name="baseline")
app.add_typer(export.app, name="export")


def run(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return its exit code.

    Exit codes: 0 success; 1 a check found problems (``download verify``); 2 an error,
    explained in one line on stderr (bad input, a bad option, a usage error, the
    environment); 3 a download run that stopped on a persistent block; 130 Ctrl-C.
    Nothing prints a traceback unless ``OVAVEBENCH_TRACEBACK=1``.
    """
    import os
    import sqlite3

    from typer.exceptions import Exit, TyperException

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="ovavebench", standalone_mode=False)
    except TyperException as exc:  # typer's click: usage errors, bad option values
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # `ovavebench annotate`: the help
            typer.echo(ctx.get_help())
            return 0
        where = ctx.command_path.strip() if ctx is not None else "ovavebench"
        typer.echo(f"error: {where}: {one_line(exc.format_message())} (see '{where} --help')", err=True)
        return 2
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("error: interrupted (finished work is kept; run the same command again to continue)", err=True)
        return 130
    except OvavebenchError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        return 2
    except sqlite3.DatabaseError as exc:  # damage that only showed after the database was opened
        typer.echo(f"error: a state database is damaged or unreadable ({one_line(str(exc), 300)}); "
                   "it was left as it is", err=True)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"error: {one_line(where + (exc.strerror or str(exc)))}", err=True)
        return 2
    except Exception as exc:  # a bug, or input nobody foresaw: still one line, and never a lost result
        if os.environ.get("OVAVEBENCH_TRACEBACK") == "1":
            raise
        typer.echo(f"error: internal error ({type(exc).__name__}: {one_line(str(exc), 300)}); "
                   "rerun with OVAVEBENCH_TRACEBACK=1 and report it", err=True)
        return 2
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
