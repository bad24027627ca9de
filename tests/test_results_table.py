"""`ovavebench results`: score JSONs into the paper's table layout, the paper's numbers and the difference beside."""

from __future__ import annotations

import json
from pathlib import Path

from .cli_runner import CliRunner

from ovavebench.cli import app

from .helpers import tiny_benchmark, vid

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def _scored(tmp_path: Path, bench: Path, name: str, predictions: dict, config: str | None) -> Path:
    path = tmp_path / f"{name}.predictions.json"
    path.write_text(json.dumps(predictions))
    out = tmp_path / f"{name}.score.json"
    args = ["score", str(path), "--benchmark", str(bench), "--ci", "--bootstrap", "200", "--out", str(out)]
    result = runner.invoke(app, args + (["--config", config] if config else ["--method", name]))
    assert result.exit_code == 0, result.output
    return out


def _bench(folder: Path, flag_of_first: int = 1) -> tuple[Path, list]:
    videos = [
        (vid(i), "test", ["dog barking", "race car"][i % 2], i % 2 == 0, [flag_of_first if i == 0 else 1] * 10)
        for i in range(8)
    ]
    return tiny_benchmark(folder, videos), videos


def test_committed_results_file_is_what_the_command_writes_with_no_runs(tmp_path):
    committed = REPO / "baselines" / "RESULTS.md"
    copy = tmp_path / "RESULTS.md"
    copy.write_bytes(committed.read_bytes())
    result = runner.invoke(
        app, ["results", "--out", str(copy), "--published", str(REPO / "ovavebench" / "baselines" / "published.json")]
    )
    assert result.exit_code == 0, result.output
    assert copy.read_bytes() == committed.read_bytes()


def test_measured_rows_sit_in_their_table_with_the_paper_and_the_difference(tmp_path):
    bench, videos = _bench(tmp_path / "b")
    truth = {v: [c] * 10 for v, _, c, _, _ in videos}
    half = {v: ([c] * 5 + ["background"] * 5) for v, _, c, _, _ in videos}
    a = _scored(tmp_path, bench, "ft", truth, "baselines/finetune.json")
    b = _scored(tmp_path, bench, "mine", half, None)
    published = tmp_path / "published.json"
    published.write_text(json.dumps({"rows": {"finetune.json": {"total": {"avg": 57.8}, "seen": {"avg": None}}}}))
    out = tmp_path / "RESULTS.md"
    out.write_text("# My results\n\nintro\n")  # no markers yet: the table is appended as a new document
    result = runner.invoke(app, ["results", str(a), str(b), "--out", str(out), "--published", str(published)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| `finetune.json`"))
    assert "| measured | 100.00 [100.0, 100.0] |" in lines[row]
    assert lines[row + 1].startswith("| | Δ to the paper |") and "+42.20" in lines[row + 1]
    assert lines[row + 2].startswith("| | paper |") and "57.80" in lines[row + 2]
    assert lines.index("| **Table 2** | | | | | | | | |") < row < lines.index("| **Table 3** | | | | | | | | |")
    other = next(line for line in lines if line.startswith("| mine |"))
    assert "| measured |" in other
    # run again on the written file: only the part between the markers is rewritten
    out.write_text(text.replace("# Results", "# Results\n\nmy own words"))
    assert runner.invoke(app, ["results", str(a), "--out", str(out), "--published", str(published)]).exit_code == 0
    assert "my own words" in out.read_text() and "| mine |" not in out.read_text()


def test_results_of_different_benchmarks_or_old_files_are_refused_in_one_line(tmp_path):
    bench_a, videos = _bench(tmp_path / "a")
    bench_b, _ = _bench(tmp_path / "b", flag_of_first=0)  # one label differs: another benchmark
    truth = {v: [c] * 10 for v, _, c, _, _ in videos}
    first = _scored(tmp_path, bench_a, "one", truth, None)
    second = _scored(tmp_path, bench_b, "two", truth, None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"seen": {}, "unseen": {}, "total": {}}))
    for args, needle in (([first, second], "scored on benchmark"), ([old], "schema_version None, expected 2")):
        result = runner.invoke(
            app,
            [
                "results",
                *map(str, args),
                "--out",
                str(tmp_path / "R.md"),
                "--published",
                str(REPO / "ovavebench" / "baselines" / "published.json"),
            ],
        )
        assert result.exit_code == 2 and needle in result.output and len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "R.md").exists()
