"""`ovavebench baseline`: the paper's reference baselines on cached features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import OvavebenchError
from .common import HELP, LazyBar, fail
from .paths import benchmark_inputs, refuse_foreign_output, refuse_output_among_inputs, require_path

app = typer.Typer(
    help="Reference baselines on cached features: zero-shot, fine-tune, predict.", no_args_is_help=True, **HELP
)


def _recorded_config(config: str | None) -> str | None:
    """What the predictions' meta records for ``--config``: a shipped config by its file name (the key of the
    results table's rows), anything else as given (a path of one's own, or a label)."""
    if config is None:
        return None
    from ..baselines.configs import CONFIG_DIR, resolve_config

    try:
        path = resolve_config(config)
    except OvavebenchError:
        return config
    return path.name if path.parent == CONFIG_DIR else config


def _check_predict_paths(
    features: Path, benchmark: Path, out: Path, more: list[tuple[str, Path | None]] | None = None
) -> None:
    """The inputs of a predicting baseline exist; its predictions JSON replaces none of them, nor a foreign file."""
    require_path(features, "--features", "folder")
    require_path(benchmark, "--benchmark", "folder")
    refuse_output_among_inputs([("--out", out)], [*benchmark_inputs(benchmark), *(more or [])])
    refuse_foreign_output(out, "--out", "a predictions JSON", b'{"predictions": {')


@app.command("zero-shot")
def baseline_zero_shot_cmd(
    features: Path = typer.Option(..., help="Feature store of `ovavebench features extract`."),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    split: str = typer.Option("test", help="test or val."),
    out: Path = typer.Option(..., help="Predictions JSON to write (what `ovavebench score` reads)."),
    no_other: bool = typer.Option(False, "--no-other", help="Without the `other` class (paper Table 3)."),
    config: str | None = typer.Option(
        None, help="The row's config (a shipped name, e.g. zero_shot, or a path), recorded in the predictions' meta."
    ),
) -> None:
    """Training-free baseline: audio and visual argmax classes must agree, second by second."""
    _check_predict_paths(features, benchmark, out)
    from ..baselines import predictions_meta, write_predictions
    from ..baselines.zero_shot import zero_shot_with_uncertainty

    predictions, disagreeing = zero_shot_with_uncertainty(features, benchmark, split, with_other=not no_other)
    method = "training-free" + (" w/o other" if no_other else "")
    meta = {
        **predictions_meta(features, benchmark, method, _recorded_config(config)),
        "uncertainty": disagreeing,
        "uncertainty_means": "seconds whose audio and visual classes disagree",
    }
    write_predictions(predictions, out, meta)
    typer.echo(f"wrote {out}: {len(predictions):,} video(s) of the {split} split")


@app.command("finetune")
def baseline_finetune_cmd(
    features: Path = typer.Option(..., help="Feature store."),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    out: Path = typer.Option(..., help="Run folder (model.pt, config.json, log.json)."),
    temporal: str = typer.Option(
        "transformer",
        help="transformer (the released block), linear (Table 5), ave, psp, cmra or mm-pyramid (Table 2).",
    ),
    layers: int = typer.Option(1, min=1, max=64, help="Temporal blocks per modality."),
    fusion: str = typer.Option("sqrt", help="sqrt, prob-avg or fea-avg (Table 4)."),
    no_other: bool = typer.Option(False, "--no-other", help="Without the `other` class (Table 3)."),
    train_subset: float | None = typer.Option(None, help="Train on a Table-6 subset (0.25, 0.5, 0.75)."),
    epochs: int = typer.Option(10, min=1, max=10000, help="Epochs (the released script: 10; the paper's text: 5)."),
    batch_size: int = typer.Option(32, min=1, max=65536, help="Videos per batch."),
    lr: float = typer.Option(5e-5, min=0.0, max=10.0, help="Adam learning rate."),
    seed: int = typer.Option(
        123, min=0, max=2**32 - 1, help="Seed (deterministic on CPU; the released script's is 123)."
    ),
    select_on: str = typer.Option(
        "val",
        help="What picks the epoch: val, or published (the released rule: the seen part of test, "
        "Seg/Eve averaged per batch).",
    ),
    config: str | None = typer.Option(
        None, help="A row's config: a shipped name (e.g. finetune_psp) or a JSON file (options given here override it)."
    ),
    device: str = typer.Option("cpu", help="cpu (deterministic for a seed) or cuda."),
) -> None:
    """Fine-tune temporal layers on the frozen per-second embeddings (seen classes), as released; select on val."""
    from ..baselines import FinetuneConfig, finetune

    require_path(features, "--features", "folder")
    require_path(benchmark, "--benchmark", "folder")
    # the run folder gets model.pt, config.json and log.json: never the store's or the benchmark's folder
    refuse_output_among_inputs([("--out", out)], [("--features", features), ("--benchmark", benchmark)])
    if train_subset is not None and not 0 < train_subset < 1:  # NaN and infinities included
        fail(f"--train-subset must be a ratio in (0, 1), got {train_subset}")
    base: dict[str, Any] = {}
    if config:
        from ..baselines.configs import resolve_config
        from ..errors import InputFileError
        from ..io import read_json

        what = "a fine-tuning config (a JSON object of FinetuneConfig fields, as the shipped finetune*.json)"
        config_path = resolve_config(config)
        base = read_json(config_path, what)
        if not isinstance(base, dict):
            raise InputFileError(config_path, f"expected {what}")
        known = set(FinetuneConfig.__dataclass_fields__) | {"description", "command", "differs_from_paper"}
        unknown = sorted(set(base) - known)
        if unknown:
            raise InputFileError(
                config_path,
                f"unknown key(s) {', '.join(map(repr, unknown[:5]))}; expected FinetuneConfig fields "
                f"({', '.join(FinetuneConfig.__dataclass_fields__)})",
            )
        base = {k: v for k, v in base.items() if k in FinetuneConfig.__dataclass_fields__}
        try:
            FinetuneConfig(**base).validate()
        except OvavebenchError as exc:
            raise InputFileError(config_path, str(exc)) from None
    given = {
        "temporal": temporal,
        "layers": layers,
        "fusion": fusion,
        "with_other": not no_other,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "select_on": select_on,
        "train_subset": train_subset,
    }
    defaults = FinetuneConfig()
    # Options left at their default do not override the config file.
    merged = {**base, **{k: v for k, v in given.items() if v != getattr(defaults, k) or k not in base}}
    report = finetune(features, benchmark, out, FinetuneConfig(**merged), log=typer.echo, device=device)
    typer.echo(f"best epoch {report.best_epoch + 1} on {merged.get('select_on', 'val')}; run: {report.run}")


@app.command("predict")
def baseline_predict_cmd(
    run: Path = typer.Option(..., help="Run folder of `baseline finetune`."),
    features: Path = typer.Option(..., help="Feature store."),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    split: str = typer.Option("test", help="test or val."),
    out: Path = typer.Option(..., help="Predictions JSON to write."),
    config: str | None = typer.Option(
        None, help="The row's config (a shipped name, e.g. finetune, or a path), recorded in the predictions' meta."
    ),
) -> None:
    """Predictions of a fine-tuned run (all classes + other) for a split."""
    require_path(run, "--run", "folder")
    _check_predict_paths(features, benchmark, out, [("--run", run / "config.json"), ("--run", run / "model.pt")])
    from ..baselines import predictions_meta, write_predictions
    from ..baselines.finetune import predict_run

    predictions, run_config = predict_run(run, features, benchmark, split)
    method = (
        f"fine-tuning ({run_config.temporal}, {run_config.fusion}{', w/o other' if not run_config.with_other else ''})"
    )
    write_predictions(
        predictions, out, predictions_meta(features, benchmark, method, _recorded_config(config), run_config.seed)
    )
    typer.echo(f"wrote {out}: {len(predictions):,} video(s) of the {split} split")


@app.command("avllm")
def baseline_avllm_cmd(
    media: Path = typer.Option(
        ..., help="Media folder of `ovavebench download` (or the official download with --layout official)."
    ),
    benchmark: Path = typer.Option(..., help="Benchmark folder."),
    split: str = typer.Option("test", help="test or val."),
    out: Path = typer.Option(
        ..., help="Predictions JSON to write (answers kept beside it in OUT.answers.jsonl; resumable)."
    ),
    model: str = typer.Option(
        ..., help="Hub name or local save_pretrained folder of an audio-visual LLM (e.g. Qwen/Qwen2.5-Omni-7B)."
    ),
    prompt: str = typer.Option("per-second", help="Prompt template name in --prompts."),
    prompts: Path | None = typer.Option(None, help="Prompt templates JSON (default: the shipped ones)."),
    device: str | None = typer.Option(None, help="cuda or cpu (default: cuda if available)."),
    dtype: str | None = typer.Option(None, help="bf16, fp16 or fp32 (default: bf16 on GPU, fp32 on CPU)."),
    batch_size: int = typer.Option(1, min=1, max=256, help="Videos per generate call."),
    trust_remote_code: bool = typer.Option(
        False,
        "--trust-remote-code",
        help="Run the model's own code from its repository (models transformers does not ship).",
    ),
    layout: str = typer.Option("toolkit", help="toolkit or official (the media folder's layout)."),
    limit: int | None = typer.Option(None, min=1, help="Only the first K videos of the split (try it on a few first)."),
    allow_missing: bool = typer.Option(False, help="Predict videos without media as all background."),
    config: str | None = typer.Option(
        None, help="The row's config, recorded in the predictions' meta (default: avllm.json)."
    ),
) -> None:
    """Zero-shot audio-visual LLM (Table 2's first row): one answer per second from the frames and the audio."""
    if split not in ("test", "val"):
        fail(f"--split must be test or val, got {split!r}")
    from ..baselines.avllm import answers_path, load_avllm, load_prompt, predict_avllm
    from ..baselines.avllm.run import check_inputs
    from ..scoring.report import benchmark_identity, hardware

    # Every input is checked before the model loads (minutes and gigabytes): a typo fails at once.
    require_path(media, "--media", "folder")
    require_path(benchmark, "--benchmark", "folder")
    require_path(prompts, "--prompts")
    if dtype is not None and dtype not in ("bf16", "fp16", "fp32"):
        fail(f"--dtype must be bf16, fp16 or fp32, got {dtype!r}")
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
        fail(f"--model {model}: no such folder (a local save_pretrained folder, or a Hub name such as org/name)")
    inputs = [*benchmark_inputs(benchmark), ("--prompts", prompts), ("--media", media)]
    refuse_output_among_inputs([("--out", out), ("--out's answers file", answers_path(out))], inputs)
    refuse_foreign_output(out, "--out", "a predictions JSON", b'{"predictions": {')
    template = load_prompt(prompt, prompts)
    check_inputs(media, benchmark, split, out, layout, limit, allow_missing)
    llm = load_avllm(model, device, dtype, trust_remote_code)
    bar = LazyBar("avllm", "video")

    def on_batch(done: int, total: int) -> None:
        b = bar.get(total)
        b.update(done - b.n)

    meta = {
        "method": f"audio-visual LLM zero-shot ({model}, prompt {template.name})",
        "config": _recorded_config(config) or "avllm.json",
        "encoder": model,
        "checkpoint_sha256": llm.identity.get("weights_sha256"),
        "hardware": hardware() + f", {llm.device} ({llm.dtype})",
        "seed": None,
        "benchmark_sha256": benchmark_identity(benchmark).sha256,
    }
    try:
        report = predict_avllm(
            llm, media, benchmark, split, out, template, batch_size, layout, limit, allow_missing, on_batch, meta
        )
    finally:
        bar.close()
    typer.echo(
        f"wrote {out}: {report.videos:,} video(s) of the {split} split ({report.answered_now:,} asked now, "
        f"{report.resumed:,} from an earlier run, {len(report.without_media):,} without media); "
        f"{report.unparsed_seconds:,} second(s) in {report.unparsed_videos:,} answer(s) not readable, "
        f"scored as background; answers in {report.answers}; {report.seconds:.1f} s"
    )
