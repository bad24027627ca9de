"""A test runner that goes through the real entry point, :func:`ovavebench.cli.app.run`.

typer's ``CliRunner`` calls the click command directly, which skips the one place where exceptions become exit codes;
this one runs ``run(args)`` inside click's isolation (captured stdout/stderr, stdin, env), exactly as ``ovavebench``
does from a shell.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from click.testing import CliRunner as _ClickRunner
from click.testing import Result


class _EntryPoint:
    """What click's runner needs of a command: a name and ``main``; ``main`` is the console script's."""

    name = "ovavebench"

    def main(self, args: Sequence[str] = (), prog_name: str | None = None, **_: Any) -> None:
        from ovavebench.cli.app import run

        sys.exit(run(list(args)))


class CliRunner(_ClickRunner):
    """``runner.invoke(app, [...])`` with the exit codes and one-line errors of the real command."""

    def invoke(self, cli: Any, args: str | Sequence[str] | None = None, **kwargs: Any) -> Result:  # type: ignore[override]
        del cli  # always the one app
        if isinstance(args, str):
            import shlex

            args = shlex.split(args)
        return super().invoke(_EntryPoint(), list(args or ()), **kwargs)  # type: ignore[arg-type]
