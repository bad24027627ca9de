"""`ovavebench results`: score JSONs into the paper's table layout, the paper's numbers and the difference beside."""

from __future__ import annotations

import json
from pathlib import Path

from ovavebench.cli import app

from .cli_runner import CliRunner
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
    result = runner.invoke(app, ["results", str(a), str(b), "--out", str(out), "--published", str(published)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| `finetune.json`"))
    assert "| measured | 100.00 [100.0, 100.0] |" in lines[row]
    assert lines[row + 1].startswith("| | Δ to the paper |") and "+42.20" in lines[row + 1]
    assert lines[row + 2].startswith("| | paper |") and "57.80" in lines[row + 2]
    assert "| | paper |" in lines[row + 2]  # a published.json without table and row names: plain "paper"
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


PAPER = Path(__file__).resolve().parents[2] / "shared" / "reference" / "paper" / "ovavebench_cvpr2025_tables.json"
SHIPPED = REPO / "ovavebench" / "baselines" / "published.json"
# The rows of Tables 3-6 that repeat Table 2's fine-tuning baseline (the paper prints the same numbers).
REPEATS = {
    ("3", "Fine-tuning baseline, with 'other'"),
    ("4", "Sqrt (Eq. 2, the baseline)"),
    ("5", "Temporal layers (the baseline)"),
    ("6", "100 % of the training data"),
}


def test_the_shipped_numbers_are_the_papers_tables_2_to_6_for_every_row(reference):
    paper = json.loads((reference / "paper" / "ovavebench_cvpr2025_tables.json").read_text())
    shipped = json.loads(SHIPPED.read_text())["rows"]
    by_name = {(t, r["method"]): r for t, table in paper["tables"].items() for r in table["rows"]}
    entered = set()
    for config, row in shipped.items():
        assert (REPO / "ovavebench" / "baselines" / "configs" / config).is_file(), config  # every row has a config
        if row["paper_row"] is None:
            assert config == "zero_shot_no_other.json"  # the one row the paper has no number for
            continue
        published = by_name[(row["table"], row["paper_row"])]
        for group in ("seen", "unseen", "total"):
            expected = published.get(group, dict.fromkeys(("acc", "seg_f1", "eve_f1", "avg")))
            assert row[group] == expected, (config, group)
        entered.add((row["table"], row["paper_row"]))
    for key, published in by_name.items():  # every row of the paper is entered, or repeats the fine-tuning baseline
        if key in REPEATS:
            baseline = by_name[("2", "Fine-tuning baseline (temporal layers)")]
            assert all(published[g] == baseline[g] for g in ("seen", "unseen", "total") if g in published)
        else:
            assert key in entered, key
    claims = json.loads(SHIPPED.read_text())["claims"]
    assert [c["text"] for c in claims] == paper["text_claims"]
    rows = {c: r for c, r in shipped.items()}
    for claim in claims:  # each stated difference is the tables' difference
        for part in claim["parts"]:
            got = rows[part["a"]][part["group"]][part["metric"]] - rows[part["b"]][part["group"]][part["metric"]]
            assert abs(got - part["difference"]) < 1e-9


def test_every_row_of_the_committed_table_shows_the_papers_numbers():
    text = (REPO / "baselines" / "RESULTS.md").read_text()
    lines = text.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("| `")]
    assert len(rows) == 18
    for i in rows:
        below = lines[i + 1]
        if lines[i].startswith("| `zero_shot_no_other.json`"):
            assert below.startswith("| | paper: no number |")
        else:
            assert below.startswith("| | paper (Table "), lines[i]
    assert "| | paper (Table 2: PSP) | 67.70 | 28.70 | 45.60 | 39.30 | 34.70 | 39.90 |" in text
    assert "4 cannot be checked" in text


def _score_file(path: Path, config: str, numbers: dict[str, float], sha: str = "b" * 64) -> Path:
    """A score JSON as `score --out` writes it, with the Avg. of each group set (fractions)."""
    doc = {
        "schema_version": 2,
        "split": "test",
        **{g: {"acc": v, "seg_f1": v, "eve_f1": v, "avg": v, "videos": 10} for g, v in numbers.items()},
        "benchmark": {"sha256": sha, "files": {}},
        "meta": {"config": config},
    }
    path.write_text(json.dumps(doc))
    return path


def test_results_says_which_of_the_papers_claims_the_score_files_reproduce(tmp_path):
    files = [
        _score_file(tmp_path / "ft.json", "finetune", {"seen": 0.629, "unseen": 0.558, "total": 0.578}),
        _score_file(tmp_path / "zs.json", "zero_shot.json", {"seen": 0.455, "unseen": 0.470, "total": 0.466}),
        # 'other' measured to hurt: claim 3 not reproduced
        _score_file(
            tmp_path / "no.json", "baselines/finetune_no_other.json", {"seen": 0.6, "unseen": 0.6, "total": 0.6}
        ),
        # linear layers lose 5.8 points, not 27.5: claim 4 holds in direction only
        _score_file(tmp_path / "lin.json", "finetune_linear.json", {"seen": 0.5, "unseen": 0.5, "total": 0.5}),
    ]
    out = tmp_path / "R.md"
    result = runner.invoke(app, ["results", *map(str, files), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for text in (result.stdout, out.read_text()):
        assert "2 reproduced, 1 holds in direction only, 1 not reproduced" in text
    lines = result.stdout.splitlines()
    assert (
        lines[2].startswith("claim 1: reproduced: The fine-tuning baseline improves Avg.")
        and "+11.2 (paper +11.2)" in lines[2]
    )
    assert lines[3].startswith("claim 2: reproduced")
    assert lines[4].startswith("claim 3: not reproduced") and "total avg: -2.2 (paper +10.8)" in lines[4]
    assert lines[5].startswith("claim 4: holds in direction only") and "unseen avg: +5.8 (paper +27.5)" in lines[5]
    result = runner.invoke(app, ["results", str(files[0]), "--out", str(tmp_path / "one.md")])
    assert "4 cannot be checked" in result.stdout and "(no score file of zero_shot.json)" in result.stdout


def test_results_never_replaces_a_file_it_did_not_write_nor_one_of_its_inputs(tmp_path):
    score = _score_file(tmp_path / "s.json", "finetune.json", {"seen": 0.5, "unseen": 0.5, "total": 0.5})
    notes = tmp_path / "notes.md"
    notes.write_text("# My notes\n\nnothing of the toolkit here\n")
    before = {p: p.read_bytes() for p in (score, notes)}
    for out, needle in ((notes, "exists without the results markers"), (score, "is also the input SCORES")):
        result = runner.invoke(app, ["results", str(score), "--out", str(out)])
        assert result.exit_code == 2 and needle in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    published = tmp_path / "published.json"
    published.write_bytes(SHIPPED.read_bytes())
    result = runner.invoke(app, ["results", str(score), "--out", str(published), "--published", str(published)])
    assert result.exit_code == 2 and "is also the input --published" in result.output
    assert {p: p.read_bytes() for p in (score, notes)} == before
    assert published.read_bytes() == SHIPPED.read_bytes()
    missing = runner.invoke(app, ["results", str(tmp_path / "nope.json"), "--out", str(tmp_path / "new.md")])
    assert missing.exit_code == 2 and "SCORES" in missing.output and "nope.json: not found" in missing.output
    assert not (tmp_path / "new.md").exists()
    empty = tmp_path / "empty.md"
    empty.write_text("")  # nothing to lose: written
    assert runner.invoke(app, ["results", str(score), "--out", str(empty)]).exit_code == 0


def test_score_files_with_non_finite_or_out_of_range_fields_are_refused_by_name(tmp_path):
    good = json.loads(
        _score_file(tmp_path / "g.json", "finetune", {"seen": 0.5, "unseen": 0.5, "total": 0.5}).read_text()
    )
    text = json.dumps(good).replace('"avg": 0.5, "videos": 10}, "benchmark"', '"avg": AVG, "videos": 10}, "benchmark"')
    assert text.count("AVG") == 1  # the total's Avg.
    for i, literal in enumerate(("NaN", "Infinity", "-Infinity", "1e999", "57.8", "true", '"0.5"')):
        path = tmp_path / f"bad{i}.json"
        path.write_text(text.replace("AVG", literal))
        result = runner.invoke(app, ["results", str(path), "--out", str(tmp_path / f"r{i}.md")])
        assert result.exit_code == 2 and f"bad{i}.json: total.avg: expected a fraction" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / f"r{i}.md").exists()
    for ci, field in (
        ({"intervals": {"total": {"avg": 5}}}, "ci.intervals.total.avg"),
        ({"intervals": {"total": {"avg": [0.6, 0.4]}}}, "ci.intervals.total.avg"),
        ({"intervals": {"total": {"avg": [0.4, float("inf")]}}}, "ci.intervals.total.avg"),
        ({"intervals": [1]}, "ci:"),
    ):
        path = tmp_path / "ci.json"
        path.write_text(json.dumps({**good, "ci": ci}))
        result = runner.invoke(app, ["results", str(path), "--out", str(tmp_path / "r.md")])
        assert result.exit_code == 2 and f"ci.json: {field}" in result.output, result.output
    truncated = tmp_path / "cut.json"
    truncated.write_text(json.dumps(good)[:80])
    result = runner.invoke(app, ["results", str(truncated), "--out", str(tmp_path / "r.md")])
    assert result.exit_code == 2 and "cut.json: not valid JSON" in result.output
    published = tmp_path / "published.json"
    published.write_text('{"rows": {"finetune.json": {"total": {"avg": Infinity}}}}')
    result = runner.invoke(app, ["results", "--out", str(tmp_path / "r.md"), "--published", str(published)])
    assert result.exit_code == 2 and "row 'finetune.json', total.avg: expected a percent" in result.output
