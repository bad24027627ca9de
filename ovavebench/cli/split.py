"""`ovavebench split`: seen/unseen classes and train/val/test videos, in the published format."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import fail, floats


def split_cmd(
    labels: Path = typer.Option(..., help="Labels JSON in the published format {vid: {category, label}}."),
    out: Path = typer.Option(..., help="Benchmark folder to write (published format)."),
    classes: Path | None = typer.Option(None, help="Class taxonomy CSV (default: the shipped one)."),
    unseen: str = typer.Option("official", help="official, auto, or a file with one class name per line."),
    num_unseen: int = typer.Option(21, min=1, help="With --unseen auto: how many classes to hold out."),
    unseen_share: float = typer.Option(
        0.335, min=0.0, max=1.0, help="With --unseen auto: target share of unseen videos."
    ),
    seen_eval_fraction: float = typer.Option(
        0.2, min=0.0, max=1.0, help="Fraction of a seen class's videos for val+test (rounded up)."
    ),
    test_share: float = typer.Option(
        0.5, min=0.0, max=1.0, help="Fraction of the evaluation videos for test (rounded up)."
    ),
    target_ratio: str | None = typer.Option(
        None, help="Solve the seen evaluation fraction for this seen:unseen ratio in val and test, e.g. 3:7."
    ),
    train_ratios: str = typer.Option("0.25,0.5,0.75", help="Training subsets (Table 6), comma-separated."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Seed of the per-class shuffle and of --unseen auto."),
    prefix: str = typer.Option("ovave", help="File-name prefix (ovave gives the published names)."),
) -> None:
    """Split classes into seen/unseen and videos into train/val/test; write a benchmark folder."""
    from ..benchmark import read_labels, validate_prefix
    from ..split import SplitRule, make_split, parse_ratio, read_class_list, write_split
    from ..taxonomy import load_taxonomy

    validate_prefix(prefix)
    if unseen not in ("official", "auto") and not Path(unseen).is_file():
        fail(f"--unseen must be official, auto or an existing file, got {unseen!r}")
    taxonomy = load_taxonomy(classes)
    label_data = read_labels(labels)
    selection: str | list[str] = unseen if unseen in ("official", "auto") else read_class_list(unseen, taxonomy)
    result = make_split(
        label_data,
        taxonomy,
        unseen=selection,
        num_unseen=num_unseen,
        unseen_share=unseen_share,
        rule=SplitRule(seen_eval_fraction, test_share),
        target_seen_fraction=parse_ratio(target_ratio) if target_ratio else None,
        train_ratios=floats(train_ratios, "--train-ratios"),
        seed=seed,
        labels_source=str(labels),
    )
    paths = write_split(result, out, prefix)
    report = result.report
    typer.echo(
        f"wrote {out}: {report['videos']:,} videos, "
        f"{report['seen_classes']} seen / {report['unseen_classes']} unseen classes "
        f"(unseen share of videos {100 * report['unseen_video_share']:.2f} %)"
    )
    for split, counts in report["splits"].items():
        typer.echo(
            f"  {split:5} {counts['videos']:7,}  seen {counts['seen']:6,}  unseen {counts['unseen']:6,}  "
            f"seen fraction {100 * counts['seen_fraction']:.1f} %"
        )
    typer.echo(
        f"  seen evaluation fraction {report['rule']['seen_eval_fraction']:g}; training subsets "
        + ", ".join(f"{r}: {n:,}" for r, n in report["train_subsets"].items())
    )
    typer.echo(f"  report: {paths['report']}")
