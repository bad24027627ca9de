"""The root command: assembles the command modules, and runs them with one-line errors."""

from __future__ import annotations

import sys

import typer

from ..errors import OvavebenchError, missing_extra
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


EX_USAGE_OR_INPUT = 2
"""Bad input, a bad option, a usage error or the environment: one line on stderr."""
EX_SOFTWARE = 70
"""A bug in ovavebench (sysexits' EX_SOFTWARE): one line saying so, the traceback saved to a file."""
ISSUES_URL = "https://github.com/ovavebench/ovavebench/issues"


def run(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return its exit code.

    This is the one place where exceptions become exit codes: 0 success; 1 a check found problems
    (``download verify``); 2 an error explained in one line on stderr (bad input, a bad option, a usage
    error, the environment); 3 a download run that stopped on a persistent block; 70 a bug (one line, the
    traceback saved to a file it names); 130 Ctrl-C. ``OVAVEBENCH_TRACEBACK=1`` re-raises a bug instead.
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
        return EX_USAGE_OR_INPUT
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("error: interrupted (finished work is kept; run the same command again to continue)", err=True)
        return 130
    except OvavebenchError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        return EX_USAGE_OR_INPUT
    except sqlite3.DatabaseError as exc:  # damage that only showed after the database was opened
        typer.echo(
            f"error: a state database is damaged or unreadable ({one_line(str(exc), 300)}); it was left as it is",
            err=True,
        )
        return EX_USAGE_OR_INPUT
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"error: {one_line(where + (exc.strerror or str(exc)))}", err=True)
        return EX_USAGE_OR_INPUT
    except Exception as exc:  # a bug: one line, the traceback kept for the report, never a lost result
        # an optional dependency the command needs is not installed: not a bug
        hint = missing_extra(exc, COMMAND_EXTRAS.get(_command_name(argv), ""))
        if hint is not None:
            typer.echo(f"error: {hint}", err=True)
            return EX_USAGE_OR_INPUT
        if os.environ.get("OVAVEBENCH_TRACEBACK") == "1":
            raise
        saved = save_traceback(exc, argv)
        typer.echo(
            f"error: internal error, a bug in ovavebench ({type(exc).__name__}: {one_line(str(exc), 300)}); "
            f"the traceback is saved in {saved}; please report it at {ISSUES_URL} with that file "
            "(finished work is kept)",
            err=True,
        )
        return EX_SOFTWARE
    return code if isinstance(code, int) else 0


# What each command needs beyond the core install, as pip's extras (a command not listed needs nothing more):
# the hint for a missing module names these when they include it, so one `pip install` is enough.
COMMAND_EXTRAS = {
    "manifest": "tables",
    "split": "tables",
    "stats": "tables,plots",
    "build": "download,plots",
    "demo": "download,annotate,plots",
    "metadata": "tables",
    "download": "download",
    "annotate": "annotate",
    "features": "baselines",
    "baseline": "baselines",
    "export": "publish",
}


def _command_name(argv: list[str] | None) -> str:
    """The command's first word (``download`` of ``ovavebench download verify …``)."""
    return next((arg for arg in (sys.argv[1:] if argv is None else argv) if not arg.startswith("-")), "")


def save_traceback(exc: BaseException, argv: list[str] | None) -> str:
    """Write the traceback, the command line and the versions to a new file in the temporary folder; its path."""
    import platform
    import tempfile
    import traceback

    from .. import __version__

    text = "".join(traceback.format_exception(exc))
    header = (
        f"ovavebench {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: ovavebench {' '.join(sys.argv[1:] if argv is None else argv)}\n\n"
    )
    try:
        fd, path = tempfile.mkstemp(prefix="ovavebench-bug-", suffix=".txt")
        with open(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(header + text)
    except OSError:  # nowhere to save it: the traceback goes to stderr instead
        sys.stderr.write(header + text)
        return "(not saved: the temporary folder is not writable; printed above)"
    return path


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


cli = typer.main.get_command(app)
"""The click command behind ``app``: what the docs' CLI reference (mkdocs-click) renders."""
