"""`ovavebench features`: per-second embeddings, computed once."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import HELP, LazyBar, fail, one_line

app = typer.Typer(
    help="ImageBind embeddings of every second and of the class names, computed once.", no_args_is_help=True, **HELP
)


@app.command("extract")
def features_extract_cmd(
    media: Path = typer.Option(..., help="Media folder of `ovavebench download` (DIR/<clip_id>/frames, audio.wav)."),
    benchmark: Path = typer.Option(..., help="Benchmark folder: its videos (all splits) and class names."),
    out: Path = typer.Option(..., help="Feature store folder (resumable: stored videos are skipped)."),
    device: str | None = typer.Option(None, help="cuda or cpu (default: cuda if available)."),
    batch_size: int = typer.Option(8, min=1, max=65536, help="Videos per batch (x10 frames and x10 audio seconds)."),
    dtype: str | None = typer.Option(None, help="bf16, fp16 or fp32 (default: bf16 on GPU, fp32 on CPU)."),
    checkpoint: Path | None = typer.Option(
        None, help="ImageBind checkpoint (default: imagebind_huge.pth in the cache, downloaded on first use)."
    ),
    model_config: Path | None = typer.Option(
        None, help="JSON of the official constructor arguments (default: the huge model)."
    ),
    vocab: Path | None = typer.Option(None, help="BPE vocabulary (default: beside the checkpoint, or downloaded)."),
    workers: int | None = typer.Option(
        None, min=0, max=256, help="DataLoader workers decoding clips (default: min(4, cores))."
    ),
    encoder: str = typer.Option(
        "imagebind", help="imagebind (the paper's), or clip-clap (CLIP frames, CLAP audio; Table 2's CLIP&CLAP row)."
    ),
    clip_model: str | None = typer.Option(
        None, help="With clip-clap: a CLIP hub name or save_pretrained folder (default openai/clip-vit-base-patch32)."
    ),
    clap_model: str | None = typer.Option(
        None, help="With clip-clap: a CLAP hub name or save_pretrained folder (default laion/clap-htsat-unfused)."
    ),
    layout: str = typer.Option(
        "toolkit",
        help="toolkit (folders of `ovavebench download`), or official (the official preprocessed download: "
        "<split>/video/<class>/<vid>/, <split>/audio/<class>/<vid>.wav).",
    ),
) -> None:
    """Embed every benchmark video's frames and audio seconds, and the class names (+ other)."""
    try:
        from ..features import check_device, extract_features
    except ImportError as exc:  # pragma: no cover - depends on the install
        fail(f"features need the baselines extra (pip install 'ovavebench[baselines]'): {exc}")
    if dtype is not None and dtype not in ("bf16", "fp16", "fp32"):
        fail(f"--dtype must be bf16, fp16 or fp32, got {dtype!r}")
    if encoder not in ("imagebind", "clip-clap"):
        fail(f"--encoder must be imagebind or clip-clap, got {encoder!r}")
    if layout not in ("toolkit", "official"):
        fail(f"--layout must be toolkit or official, got {layout!r}")
    if encoder == "imagebind" and (clip_model or clap_model):
        fail("--clip-model and --clap-model go with --encoder clip-clap")
    if device is not None:
        check_device(device)
    holder = LazyBar("features", "video")

    def on_batch(done: int, total: int) -> None:
        bar = holder.get(total)
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        report = extract_features(
            media,
            benchmark,
            out,
            checkpoint,
            model_config,
            vocab,
            device,
            dtype,
            batch_size,
            workers,
            on_batch,
            encoder=encoder,
            clip_model=clip_model,
            clap_model=clap_model,
            layout=layout,
        )
    finally:
        holder.close()
    typer.echo(
        f"{report.extracted:,} video(s) embedded, {report.skipped:,} already in the store, "
        f"{len(report.missing_media):,} without media; {report.seconds:.1f} s on {report.device} ({report.dtype})"
    )
    for problem in report.problems[:20]:
        typer.echo(f"  left out: {one_line(problem, 300)}", err=True)
    if len(report.problems) > 20:
        typer.echo(f"  … and {len(report.problems) - 20} more left out", err=True)
    if report.missing_media:
        typer.echo(f"  without media, e.g. {', '.join(report.missing_media[:5])}", err=True)


@app.command("info")
def features_info_cmd(store: Path = typer.Argument(..., help="Feature store folder.")) -> None:
    """What is in a feature store."""
    from ..features import FeatureStore

    with FeatureStore(store) as opened:
        info = opened.info()
    for key in (
        "path",
        "videos",
        "shards",
        "bytes",
        "encoder",
        "embed_dim",
        "dtype",
        "preprocessing",
        "checkpoint",
        "checkpoint_sha256",
        "clip_model",
        "clap_model",
    ):
        if key in info:
            typer.echo(f"{key:<18} {info.get(key)}")
    typer.echo(f"{'text classes':<18} {len(info.get('text_classes', []))}")
