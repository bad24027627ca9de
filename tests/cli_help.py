"""Every command's ``--help`` text, in one string: the CLI's face, compared against a frozen copy."""

from __future__ import annotations

import typer
from typer.testing import CliRunner  # help text only: typer's own runner, as when the golden was frozen


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the tree, the root first, subcommands in the order ``--help`` lists them."""
    paths = [prefix]
    if hasattr(command, "list_commands"):  # a group (typer vendors its own click: no isinstance check)
        ctx = typer.Context(command, info_name="ovavebench")  # type: ignore[arg-type]
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                paths += command_paths(sub, prefix + (name,))
    return paths


def all_help(app: typer.Typer) -> str:
    """``ovavebench … --help`` of every command, each under a ``=== path`` line (the test runner's fixed
    80-column terminal)."""
    runner = CliRunner()
    parts = []
    for path in command_paths(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], prog_name="ovavebench")
        assert result.exit_code == 0, (path, result.output)
        parts.append(f"=== ovavebench {' '.join(path)}".rstrip() + "\n" + result.output)
    return "\n".join(parts)
