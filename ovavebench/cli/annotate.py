"""`ovavebench annotate`: export, accounts, import, status, finalize."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import HELP, fail

app = typer.Typer(
    help="Two-round crowd labelling in Label Studio: export, import, status, finalize.", no_args_is_help=True, **HELP
)


def _client(url: str | None, api_key: str | None):
    if not url:
        return None
    from ..annotate.labelstudio import LabelStudioClient

    return LabelStudioClient(url, api_key)


def _must_exist(*options: tuple[str, Path | None]) -> None:
    """Every path option that names an input exists: checked before any work starts."""
    for option, path in options:
        if path is not None and not path.exists():
            fail(f"{option} {path}: not found")


@app.command("export")
def annotate_export_cmd(
    manifest: Path = typer.Option(..., help="Manifest of `ovavebench manifest`."),
    media: Path = typer.Option(..., help="Media folder of `ovavebench download`."),
    round_no: int = typer.Option(..., "--round", min=1, max=3, help="1, 2 or 3 (adjudication)."),
    annotators: str = typer.Option(..., help="Comma-separated annotator names (round 3: the adjudicators)."),
    work: Path = typer.Option(..., help="Work folder: the plan and all annotations (annotate.sqlite)."),
    out: Path | None = typer.Option(None, help="File mode: folder for round{N}_{annotator}.json (default WORK/tasks)."),
    label_studio_url: str | None = typer.Option(None, help="Live mode: the Label Studio server."),
    api_key: str | None = typer.Option(None, help="Live mode: API key (or $LABEL_STUDIO_API_KEY)."),
    media_url_prefix: str = typer.Option(
        "/data/local-files/?d=", help="Media URLs: this prefix + the path below --document-root."
    ),
    document_root: Path | None = typer.Option(None, help="Folder the media URLs are relative to (default --media)."),
    keep_earlier_rounds: bool = typer.Option(
        False,
        help="Live mode: leave the earlier rounds' projects on the server "
        "(their annotators' answers stay readable to this round's annotators).",
    ),
    gold: Path | None = typer.Option(
        None,
        help="Gold labels ({video_id: {category, label}}, the published format): "
        "mixed into every annotator's tasks, indistinguishable.",
    ),
    gold_rate: float = typer.Option(
        0.05, min=0.001, max=1.0, help="With --gold: gold tasks per annotator as a share of their tasks (at least one)."
    ),
    predictions: Path | None = typer.Option(
        None,
        help="Pre-annotation (opt-in): a predictions file whose answers are pre-filled in each task, "
        "to confirm or correct.",
    ),
    order: str = typer.Option(
        "plan",
        help="Task order: plan, or uncertain (with --predictions: where the model's audio and visual disagree, first).",
    ),
) -> None:
    """Plan a round and write its Label Studio tasks (import files, or projects on a live server).

    Live, round 2 and 3 first close the earlier rounds' projects: each is exported to WORK/archive/, imported,
    then deleted on the server, so that this round's annotators cannot read the earlier answers.
    """
    from ..annotate import export_round
    from ..manifest import read_manifest

    _must_exist(
        ("--manifest", manifest),
        ("--media", media),
        ("--gold", gold),
        ("--predictions", predictions),
        ("--document-root", document_root),
    )
    if order not in ("plan", "uncertain"):
        fail(f"--order must be plan or uncertain, got {order!r}")
    client = _client(label_studio_url, api_key)
    report = export_round(
        read_manifest(manifest),
        media,
        round_no,
        annotators.split(","),
        work,
        out,
        document_root,
        media_url_prefix,
        client,
        keep_earlier_rounds,
        gold,
        gold_rate,
        predictions,
        order,
    )
    for warning in getattr(client, "warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    for closed in report.archived:
        where = closed.archive if closed.archive else "nothing to keep: the project was gone from the server"
        typer.echo(
            f"round {closed.round}  {closed.annotator:<16}project {closed.project_id} closed: "
            f"{closed.annotations} annotation(s), {closed.new} new to the store; archive: {where}"
        )
    if client is not None and round_no > 1 and keep_earlier_rounds:
        typer.echo("warning: --keep-earlier-rounds: the earlier rounds' answers stay readable on the server", err=True)
    for annotator, count in report.tasks.items():
        where = report.files.get(annotator) or f"project {report.projects.get(annotator)} on {label_studio_url}"
        if len(parts := report.chunks.get(annotator, [])) > 1:  # bounded task files: import each one
            where = f"{parts[0]} … {parts[-1].name} ({len(parts)} files)"
        gold_note = f" ({report.gold[annotator]} gold)" if report.gold.get(annotator) else ""
        typer.echo(f"round {round_no}  {annotator:<16}{count:7,} task(s){gold_note}  {where}")
    if predictions:
        typer.echo(
            f"pre-annotated from {predictions}: annotators confirm or correct the model's answers "
            "(they can anchor on them: see `annotate status`)"
        )
    typer.echo(
        f"{sum(report.tasks.values()):,} task(s) in {report.seconds:.1f} s; "
        f"labelling config: {work / 'label_config.xml'}"
    )


@app.command("accounts")
def annotate_accounts_cmd(
    annotators: str = typer.Option(..., help="Comma-separated annotator names (or emails)."),
    label_studio_url: str = typer.Option(..., help="The Label Studio server."),
    api_key: str | None = typer.Option(None, help="An admin's API key (or $LABEL_STUDIO_API_KEY)."),
    email_domain: str = typer.Option("annotators.ovavebench.org", help="Email domain for names without '@'."),
) -> None:
    """Create annotator accounts that log in with the password printed here (shown once)."""
    from ..annotate import annotator_names, create_annotator_accounts

    names = annotator_names(annotators.split(","))
    client = _client(label_studio_url, api_key)
    for account in create_annotator_accounts(client, names, email_domain):
        secret = f"password: {account.password}" if account.password else "exists already (password unchanged)"
        typer.echo(f"{account.name:<16}{account.email:<40}{secret}")


@app.command("import")
def annotate_import_cmd(
    round_no: int = typer.Option(..., "--round", min=1, max=3, help="1, 2 or 3."),
    work: Path = typer.Option(..., help="Work folder of `annotate export`."),
    from_files: list[Path] | None = typer.Option(
        None, "--from", help="Label Studio JSON export(s) (round{N}_{annotator}.json); several may follow one --from."
    ),
    more_files: list[Path] | None = typer.Argument(
        None, help="More export files (so that `--from exports/*.json` works)."
    ),
    label_studio_url: str | None = typer.Option(None, help="Live mode: pull the round's projects from this server."),
    api_key: str | None = typer.Option(None, help="Live mode: API key (or $LABEL_STUDIO_API_KEY)."),
) -> None:
    """Pull annotations into the store (validated; re-importing changes nothing)."""
    import contextlib

    from ..annotate import (
        import_annotations,
        open_work,
        read_export_files,
        round_exports,
    )

    open_work(work).close()  # a work folder of `annotate export`, before any file is read
    client = _client(label_studio_url, api_key)
    from_files = [*(from_files or []), *(more_files or [])]
    if client is None and not from_files:
        fail("annotate import needs --from FILE… or --label-studio-url")
    if client is not None and from_files:
        fail("annotate import takes --from files or --label-studio-url, not both")
    users: dict[int, str] = {}
    if client is not None:
        with contextlib.closing(open_work(work)) as conn:
            projects = client.project_ids(conn, round_no)
        if not projects:
            fail(f"round {round_no} has no Label Studio projects in {work} (export it with --label-studio-url first)")
        users = client.users()
        exports = round_exports(client, work, round_no)
    else:
        exports = read_export_files(from_files or [], round_no)
    report = import_annotations(work, round_no, exports, users)
    typer.echo(
        f"round {round_no}: {report.imported} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.kept_adjudicated} kept (already adjudicated), {report.gold} on gold tasks, "
        f"{len(report.problems)} rejected "
        f"({report.seconds:.1f} s)"
    )
    for p in report.problems[:50]:
        typer.echo(f"  rejected: task {p.task} by {p.annotator} (clip {p.clip_id}): {p.reason}", err=True)
    if len(report.problems) > 50:
        typer.echo(f"  … and {len(report.problems) - 50} more", err=True)


def _fmt(value: float) -> str:
    return "  -  " if value != value else f"{value:.3f}"


@app.command("status")
def annotate_status_cmd(
    work: Path = typer.Option(..., help="Work folder of `annotate export`."),
    min_gold_accuracy: float = typer.Option(
        0.8, min=0.0, max=1.0, help="Flag annotators whose per-second accuracy on gold is below this."
    ),
) -> None:
    """Progress per round and annotator; agreement of rounds 1 and 2; accuracy on gold; model–human agreement."""
    import contextlib

    from ..annotate import agreement, open_work
    from ..annotate.gold import gold_report
    from ..annotate.prefill import model_human_agreement

    report = agreement(work)
    for status in report.rounds:
        typer.echo(f"round {status.round}:")
        for name, counts in status.by_annotator.items():
            typer.echo(f"  {name:<16} done {counts['done']:6,}  pending {counts['pending']:6,}")
    typer.echo(
        f"rounds 1 vs 2 on {report.clips_compared:,} clip(s): "
        f"per-second agreement {100 * report.percent_agreement:.1f} %"
        if report.clips_compared
        else "rounds 1 vs 2: no clip has both answers yet"
    )
    if report.clips_compared:
        typer.echo(
            f"  Cohen's kappa {_fmt(report.kappa_overall)}; Krippendorff's alpha {_fmt(report.krippendorff_alpha)}; "
            f"clip-flag agreement {100 * report.flag_agreement:.1f} %"
        )
        for pair, kappa in report.kappa_by_pair.items():
            typer.echo(f"  kappa {pair:<24} {_fmt(kappa)}")
    typer.echo(f"clips needing adjudication: {report.needing_adjudication:,} ({report.adjudicated:,} adjudicated)")
    with contextlib.closing(open_work(work)) as conn:
        gold = gold_report(conn, min_gold_accuracy)
        per_class, effect = model_human_agreement(conn)
    if gold:
        typer.echo(
            f"accuracy on gold (per second; 95 % bootstrap interval over gold clips; flagged below "
            f"{100 * min_gold_accuracy:g} %):"
        )
        for g in gold:
            flag = (
                "  FLAGGED: send their clips to another annotator (leave them out of --annotators)" if g.flagged else ""
            )
            typer.echo(
                f"  {g.annotator:<16} {g.gold_clips:4} gold clip(s)  accuracy {100 * g.accuracy:5.1f} % "
                f"[{100 * g.accuracy_low:5.1f}, {100 * g.accuracy_high:5.1f}]  kappa {_fmt(g.kappa)}{flag}"
            )
    if per_class:
        typer.echo("model–human agreement per class (per second, every current answer):")
        for c in per_class:
            typer.echo(
                f"  {c.class_name:<32} {c.seconds:7,} s  agreement {100 * c.agreement:5.1f} %  kappa {_fmt(c.kappa)}"
            )
    if effect is not None:
        typer.echo(
            f"pre-annotated answers: {effect.prefilled_answers:,}, {100 * effect.prefilled_agreement:.1f} % of seconds "
            f"as the model ({effect.confirmed_seconds:,} confirmed, {effect.corrected_seconds:,} corrected)"
            + (
                f"; answers without pre-annotation: {effect.plain_answers:,}, {100 * effect.plain_agreement:.1f} % "
                "as the model (a higher share with pre-annotation suggests anchoring)"
                if effect.plain_answers
                else ""
            )
        )


@app.command("finalize")
def annotate_finalize_cmd(
    work: Path = typer.Option(..., help="Work folder of `annotate export`."),
    out: Path = typer.Option(..., help="Labels JSON to write (published format)."),
    allow_unresolved: bool = typer.Option(
        False, help="Leave unresolved disagreements out (counted) instead of failing."
    ),
    aggregate: str | None = typer.Option(
        None,
        help="dawid-skene, mace, glad or majority: labels from crowd-kit's aggregation of every answer, "
        "weighted by each annotator's estimated quality (instead of adjudication).",
    ),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Seed of the aggregation (MACE's restarts)."),
) -> None:
    """Final labels: agreed answers, round-3 decisions where rounds disagreed, broken clips dropped."""
    from ..annotate import finalize

    report = finalize(work, out, allow_unresolved, aggregate, seed)
    typer.echo(
        f"wrote {out}: {len(report.labels):,} video(s) ({report.agreed:,} agreed, {report.adjudicated:,} adjudicated); "
        f"{len(report.dropped_broken):,} dropped as broken, "
        f"{len(report.unresolved) + len(report.incomplete):,} left out"
    )
    if aggregate:
        from ..annotate.finalize import aggregation_summary

        typer.echo(f"{aggregation_summary(report)}; estimated reliability per annotator:")
        for name, value in sorted(report.reliability.items(), key=lambda kv: kv[1]):
            typer.echo(f"  {name:<16} {value:.3f}")
    for clip in report.dropped_broken[:20]:
        typer.echo(f"  dropped (broken): {clip}")
