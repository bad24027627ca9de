"""``ovavebench demo``: the whole toolkit on a generated, offline source, in a few minutes on 2 cores.

1. Generate a small VGGSound-like source: real H.264/AAC videos of 10–30 s
   whose per-second content follows a known truth (a class's object on screen
   and its tone heard together in event seconds; only one of them, or neither,
   elsewhere), a VGGSound-format CSV and published-format metadata; serve it
   from a local HTTP server on 127.0.0.1.
2. ``build`` against it: yt-dlp fetches through the same code path as YouTube.
3. Annotate in file mode: two simulated annotators per clip answering from the
   truth with an error rate, exchanged between rounds; agreement; a simulated
   adjudicator who knows the truth; final labels.
4. Split (``--unseen auto`` over the demo classes) and plot the statistics.
5. Score an all-background and a truth-with-noise prediction file.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..annotate import AgreementReport, agreement, answers_to_result, export_round, finalize, import_annotations
from ..benchmark import Labels, load_benchmark, write_benchmark
from ..constants import BACKGROUND, SEGMENTS
from ..download import DownloadOptions
from ..io import atomic_write_json, atomic_write_text
from ..scoring import ScoreResult, score
from ..split import make_split, write_split
from ..taxonomy import ClassInfo, Taxonomy, load_taxonomy
from ..testing.localserver import LocalServer
from ..testing.synth import SecondSpec, render_video
from .job import BuildOptions, BuildReport, build
from .stats import write_stats

Log = Callable[[str], None]

# Demo classes: real taxonomy classes, two per group, each with its object colour and tone.
DEMO_CLASSES = [
    ("dog barking", (200, 60, 40), 440.0),
    ("cat purring", (230, 170, 40), 660.0),
    ("playing piano", (40, 90, 200), 880.0),
    ("playing violin", (130, 50, 180), 1100.0),
    ("helicopter", (40, 160, 80), 1320.0),
    ("race car", (20, 170, 170), 1540.0),
]
SIZES = {"small": (6, 2), "default": (6, 5)}  # classes, clips per class
ID_CHARS = string.ascii_letters + string.digits + "_-"


@dataclass
class DemoClip:
    youtube_id: str
    class_name: str
    start_s: int
    duration_s: int
    truth: list[int]  # per second of the clip window


@dataclass
class DemoReport:
    out: Path
    source: Path
    build: BuildReport
    agreement: AgreementReport
    labels: Path
    benchmark: Path
    stats: Path
    scores: dict[str, ScoreResult] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def _youtube_id(rng: np.random.Generator, dash: bool) -> str:
    chars = "".join(rng.choice(list(ID_CHARS), size=11))
    return ("-" + chars[1:]) if dash else chars.replace("-", "x", 1) if chars.startswith("-") else chars


def _truth(rng: np.random.Generator) -> list[int]:
    """Realistic event patterns: all, none, or one run (as in the real labels)."""
    kind = rng.choice(["all", "none", "run"], p=[0.35, 0.15, 0.5])
    if kind == "all":
        return [1] * 10
    if kind == "none":
        return [0] * 10
    start = int(rng.integers(0, 8))
    length = int(rng.integers(2, 11 - start))
    return [1 if start <= k < start + length else 0 for k in range(10)]


def _second(rng: np.random.Generator, colour: tuple[int, int, int], tone: float, event: bool) -> SecondSpec:
    grey = int(rng.integers(20, 90))
    background = (grey, grey, grey + 10)
    if event:  # seen and heard together: an audio-visual event
        return SecondSpec(background, colour, tone, noise=0.02)
    kind = rng.choice(["visible_silent", "heard_offscreen", "neither"])
    if kind == "visible_silent":
        return SecondSpec(background, colour, None, noise=0.05)
    if kind == "heard_offscreen":
        return SecondSpec(background, None, tone, noise=0.05)
    return SecondSpec(background, None, None, noise=0.1)


def generate_source(
    folder: Path, size: str = "default", seed: int = 0, log: Log = lambda _: None
) -> tuple[list[DemoClip], Taxonomy]:
    """Write videos, a VGGSound-format CSV, VGGSound's label list and published-format metadata into ``folder``."""
    n_classes, per_class = SIZES[size]
    rng = np.random.default_rng(seed)
    real = load_taxonomy().by_name()
    chosen = DEMO_CLASSES[:n_classes]
    taxonomy = Taxonomy(
        tuple(
            ClassInfo(name, real[name].vggsound_label, real[name].group, i % 3 != 2)
            for i, (name, _, _) in enumerate(chosen)
        ),
        str(folder / "classes.csv"),
    )
    rows = ["name,vggsound_label,group,seen"] + [
        f'{c.name},"{c.vggsound_label}",{c.group},{str(c.seen).lower()}' for c in taxonomy.classes
    ]
    atomic_write_text(folder / "classes.csv", "\n".join(rows) + "\n")
    clips: list[DemoClip] = []
    for ci, (name, colour, tone) in enumerate(chosen):
        for j in range(per_class):
            duration = int(rng.integers(10, 31 if size == "default" else 16))
            start = int(rng.integers(0, duration - 9))
            clip = DemoClip(_youtube_id(rng, dash=(ci + j) % 4 == 0), name, start, duration, _truth(rng))
            specs = []
            for second in range(duration):
                k = second - start
                event = bool(clip.truth[k]) if 0 <= k < 10 else bool(rng.random() < 0.5)
                specs.append(_second(rng, colour, tone, event))
            render_video(
                folder / "videos" / f"{clip.youtube_id}.mp4",
                specs,
                width=320,
                height=240,
                seed=int(rng.integers(1 << 30)),
            )
            clips.append(clip)
        log(f"    {name}: {per_class} videos")
    # VGGSound-format CSV (youtube_id,start_seconds,label,split), with rows of other classes as in the real file.
    vgg = [
        (c.youtube_id, c.start_s, real[c.class_name].vggsound_label, "train" if i % 4 else "test")
        for i, c in enumerate(clips)
    ]
    vgg += [(_youtube_id(rng, False), int(rng.integers(0, 300)), "male singing", "train") for _ in range(5)]
    pd.DataFrame(vgg).to_csv(folder / "vggsound.csv", header=False, index=False)
    labels = sorted({row[2] for row in vgg})
    pd.DataFrame([(label, 100, "demo") for label in labels]).to_csv(folder / "stat.csv", header=False, index=False)
    # The "published" benchmark: the truth, split by the published rule; one video is gone from the host.
    truth = Labels(
        [c.youtube_id for c in clips], [c.class_name for c in clips], np.array([c.truth for c in clips], np.uint8)
    )
    split = make_split(truth, taxonomy, unseen="official", train_ratios=())
    meta = split.meta
    write_benchmark(
        folder / "published", meta, truth, split.classes, [c for c in split.classes if c not in set(split.unseen)]
    )
    (folder / "videos" / f"{clips[-1].youtube_id}.mp4").unlink()  # removed from the host: the build must say so
    return clips, taxonomy


def _simulated_export(task_file: Path, answers: Callable[[str], list[int]], who: str) -> list[dict[str, Any]]:
    tasks = json.loads(task_file.read_text())
    return [
        {
            "id": i + 1,
            "data": t["data"],
            "annotations": [
                {
                    "id": i + 1,
                    "completed_by": {"email": f"{who}@demo.local"},
                    "result": answers_to_result(answers(t["data"]["clip_id"]), False),
                    "was_cancelled": False,
                    "lead_time": 20.0,
                }
            ],
        }
        for i, t in enumerate(tasks)
    ]


DEMO_MARKER = ".ovavebench-demo"


def run_demo(
    out: str | Path,
    size: str = "default",
    seed: int = 0,
    error_rate: float = 0.08,
    log: Log = lambda _: None,
    on_result: Callable[..., None] | None = None,
) -> DemoReport:
    """Run the demo into ``out`` (a fresh folder each time)."""
    out = Path(out)
    source = out / "source"
    log(f"[1/5] generating a VGGSound-like source in {source}")
    clips, taxonomy = generate_source(source, size, seed, log)
    truth = {c.youtube_id: c.truth for c in clips}
    rng = np.random.default_rng(seed + 1)

    with LocalServer(source) as server:
        log(f"[2/5] build against http://127.0.0.1 (yt-dlp through the same path as YouTube): {out / 'build'}")
        options = BuildOptions(
            out=out / "build",
            cache=out / "cache",
            classes=source / "classes.csv",
            vggsound_url=server.url("vggsound.csv"),
            vggsound_stat_url=server.url("stat.csv"),
            ovave_base_url=server.url("published/"),
            verify_published=False,
            download=DownloadOptions(
                workers=4,
                url_template=server.base_url + "videos/{youtube_id}.mp4",
                backoff_s=0.1,
                max_attempts=2,
                socket_timeout_s=10,
            ),
        )
        built = build(options, log=lambda line: log("      " + line), on_result=on_result)

    log("[3/5] annotation (file mode): two rounds with exchanged annotators, adjudication, final labels")
    work, tasks = out / "annotation", out / "annotation" / "tasks"
    manifest = pd.read_csv(built.manifest, dtype={"clip_id": str, "youtube_id": str}, keep_default_na=False)
    annotators = ["ann_a", "ann_b"]

    def noisy(clip_id: str) -> list[int]:
        answers = truth[clip_id.rsplit("_", 1)[0]]
        return [1 - a if rng.random() < error_rate else a for a in answers]

    for round_no in (1, 2):
        export_round(manifest, built.media, round_no, annotators, work, tasks)
        exports = [
            (
                f"round{round_no}_{name}.json",
                _simulated_export(tasks / f"round{round_no}_{name}.json", noisy, name),
                name,
                None,
            )
            for name in annotators
        ]
        import_annotations(work, round_no, exports)
    stats = agreement(work)
    log(
        f"      rounds 1 vs 2: per-second agreement {100 * stats.percent_agreement:.1f} %, Cohen's kappa "
        f"{stats.kappa_overall:.3f}, Krippendorff's alpha {stats.krippendorff_alpha:.3f}; "
        f"{stats.needing_adjudication} clip(s) to adjudicate"
    )
    if stats.needing_adjudication:
        export_round(manifest, built.media, 3, ["adjudicator"], work, tasks)
        exact = lambda clip_id: truth[clip_id.rsplit("_", 1)[0]]  # noqa: E731 - the adjudicator knows the truth
        import_annotations(
            work,
            3,
            [
                (
                    "round3_adjudicator.json",
                    _simulated_export(tasks / "round3_adjudicator.json", exact, "adjudicator"),
                    "adjudicator",
                    None,
                )
            ],
        )
    labels_path = work / "labels.json"
    final = finalize(work, labels_path)
    wrong = sum(json.loads(e["label"]) != truth[v] for v, e in final.labels.items())
    log(
        f"      {len(final.labels)} labelled videos ({final.agreed} agreed, {final.adjudicated} adjudicated); "
        f"{wrong} differ from the generated truth"
    )

    log("[4/5] split (--unseen auto over the demo classes) and statistics plots")
    labels = Labels(
        list(final.labels),
        [e["category"] for e in final.labels.values()],
        np.array([json.loads(e["label"]) for e in final.labels.values()], np.uint8),
    )
    n_groups = len({c.group for c in taxonomy.classes})
    split = make_split(labels, taxonomy, unseen="auto", num_unseen=n_groups, unseen_share=0.4, seed=seed)
    bench_dir = out / "benchmark"
    write_split(split, bench_dir)
    report = split.report
    log(
        f"      {report['seen_classes']} seen / {report['unseen_classes']} unseen classes; "
        + ", ".join(f"{s} {v['videos']}" for s, v in report["splits"].items())
    )
    stats_dir = out / "stats"
    write_stats(bench_dir, stats_dir, taxonomy)

    log("[5/5] scoring reference prediction files on the test split")
    bench = load_benchmark(bench_dir)
    test = bench.split_videos("test")
    background = {v: [BACKGROUND] * SEGMENTS for v in test["vid_name"]}
    noisy_pred = {}
    for vid, cls in zip(test["vid_name"], test["cls_name"], strict=True):
        seconds = [cls if a else BACKGROUND for a in truth[vid]]
        noisy_pred[vid] = [(BACKGROUND if s != BACKGROUND else cls) if rng.random() < 0.15 else s for s in seconds]
    predictions = out / "predictions"
    files = {
        "all background": predictions / "all_background.json",
        "truth with 15 % noise": predictions / "truth_noisy.json",
    }
    atomic_write_json(files["all background"], background)
    atomic_write_json(files["truth with 15 % noise"], noisy_pred)
    result = DemoReport(out, source, built, stats, labels_path, bench_dir, stats_dir)
    for name, path in files.items():
        result.scores[name] = score(path, bench, split="test")
    result.files = {
        "benchmark": bench_dir,
        "labels": labels_path,
        "plots": stats_dir,
        "availability": built.out / "availability.json",
        "media": built.media,
        "layout": built.layout,
        "annotation tasks": tasks,
        "predictions": predictions,
    }
    return result
