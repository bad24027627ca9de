"""What every command shares: one-line errors (exit 2), the help layout, JSON output, small option parsers,
the lazy progress bar. Exceptions become exit codes in one place only: :func:`ovavebench.cli.app.run`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from ..errors import OvavebenchError

if TYPE_CHECKING:
    # typer vendors click; its base classes take these (private-module) types, not typer.Context
    from typer._click import Command, Context, HelpFormatter

# Plain click help (no rich panels): every default is shown in full, wrapped, at any terminal width.
HELP: dict[str, Any] = {"rich_markup_mode": None, "context_settings": {"max_content_width": 120}}


def one_line(text: str, limit: int = 2000) -> str:
    """One printable line: whitespace runs become one space, control characters their escapes."""
    line = " ".join(str(text).split())
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


class UsageProblem(OvavebenchError):
    """A bad option value found by a command itself (after click's own parsing): one line, exit 2."""


def fail(message: str) -> NoReturn:
    """Stop the command with one error line (exit 2); :func:`ovavebench.cli.app.run` prints it."""
    raise UsageProblem(message)


def echo_json(obj: Any) -> None:
    """Print an object as indented JSON."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def floats(text: str, option: str) -> list[float]:
    """Comma-separated finite numbers (``nan``, ``inf``, ``1e999`` are refused by the option's name)."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"{option} must be comma-separated numbers, got {text!r}")
    if not all(v - v == 0 for v in values):  # x - x is NaN for NaN and for ±inf
        fail(f"{option} must be comma-separated finite numbers, got {text!r}")
    return values


def names(text: str, option: str) -> tuple[str, ...]:
    """Comma-separated names, each once, in order; none at all is an error."""
    found = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not found:
        fail(f"{option} needs at least one name, got {text!r}")
    return found


class LazyBar:
    """A tqdm bar drawn from the first event on: nothing shows before the work starts (or if it never does)."""

    def __init__(self, desc: str, unit: str) -> None:
        self.desc, self.unit = desc, unit
        self.bar: Any = None
        self.closed = False

    def get(self, total: int) -> Any:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, dynamic_ncols=True, disable=self.closed)
        return self.bar

    def close(self) -> None:
        if self.bar is not None and not self.closed:
            self.bar.close()
        self.closed = True


class DefaultCommandGroup(TyperGroup):
    """A group whose first argument, when it names none of its commands (a file, an option, nothing), goes to its
    default command: ``ovavebench score FILE`` and ``ovavebench score compare A B`` side by side."""

    default_command = "default"

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        # The default command has no name of its own: its usage and errors say `ovavebench score`.
        return (None if name == self.default_command else name), command, rest


class DefaultCommand(TyperCommand):
    """The default command of a :class:`DefaultCommandGroup`: its usage line names the group alone."""

    def format_usage(self, ctx: Context, formatter: HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path.rstrip(), " ".join(self.collect_usage_pieces(ctx)))
