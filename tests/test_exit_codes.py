"""One place maps exceptions to exit codes: bad input exits 2 with one line, a bug exits 70 and keeps its traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import ovavebench.build.stats
from ovavebench.cli.app import EX_SOFTWARE, EX_USAGE_OR_INPUT

from .cli_runner import CliRunner

runner = CliRunner()


def _broken_write_stats(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("a planted bug")


def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-benchmark"
    result = runner.invoke(None, ["stats", "--benchmark", str(missing), "--out", str(tmp_path / "out")])
    assert result.exit_code == EX_USAGE_OR_INPUT == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(missing) in lines[0]
    assert "Traceback" not in result.output + result.stderr


def test_a_bug_exits_70_says_so_and_saves_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(ovavebench.build.stats, "write_stats", _broken_write_stats)
    monkeypatch.delenv("OVAVEBENCH_TRACEBACK", raising=False)
    result = runner.invoke(None, ["stats", "--benchmark", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == EX_SOFTWARE == 70
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "a bug in ovavebench" in lines[0] and "ZeroDivisionError: a planted bug" in lines[0]
    assert "Traceback" not in result.stderr and "report it" in lines[0]
    saved = list(tmp_path.glob("ovavebench-bug-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in lines[0]
    text = saved[0].read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "_broken_write_stats" in text
    assert "command: ovavebench stats --benchmark" in text


def test_the_traceback_variable_reraises_a_bug_for_debugging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovavebench.build.stats, "write_stats", _broken_write_stats)
    monkeypatch.setenv("OVAVEBENCH_TRACEBACK", "1")
    result = runner.invoke(None, ["stats", "--benchmark", str(tmp_path), "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, ZeroDivisionError)
