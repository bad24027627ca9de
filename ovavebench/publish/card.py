"""The dataset card (``README.md`` with the Hub's YAML header): configs, splits, features, license, citation, how it
was built, what is missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import __version__

CITATION = """@inproceedings{zhou2025towards,
  title     = {Towards Open-Vocabulary Audio-Visual Event Localization},
  author    = {Zhou, Jinxing and Guo, Dan and Guo, Ruohao and Mao, Yuxin and Hu, Jingjing and Zhong, Yiran and
               Chang, Xiaojun and Wang, Meng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2025},
  note      = {arXiv:2411.11278}
}"""


def dataset_card(
    configs: Mapping[str, Mapping[str, list[str]]],
    counts: Mapping[str, int],
    subset_counts: Mapping[str, int],
    missing: int,
    features: Any,
    availability: Mapping[str, Any] | None,
) -> str:
    """The card's text; the same inputs give the same bytes."""
    import yaml

    header = {
        "pretty_name": "OV-AVEBench",
        "license": "other",
        "license_name": "youtube-media-research-only",
        "task_categories": ["video-classification", "audio-classification"],
        "tags": ["audio-visual", "event-localization", "open-vocabulary", "vggsound"],
        "size_categories": [
            "10K<n<100K" if sum(counts.values()) >= 10_000 else "n<1K" if sum(counts.values()) < 1000 else "1K<n<10K"
        ],
        "configs": [
            {
                "config_name": name,
                **({"default": True} if name == "default" else {}),
                "data_files": [{"split": split, "path": files} for split, files in splits.items()],
            }
            for name, splits in configs.items()
        ],
    }
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        "# OV-AVEBench",
        "",
        "Open-Vocabulary Audio-Visual Event Localization (CVPR 2025): ten-second VGGSound clips, each second",
        "(its middle frame and its second of 16 kHz audio) labelled 1 when what is heard and what is seen are an",
        "event of the video's class, else 0 (background). Classes are *seen* (in training) or *unseen* (only in",
        "val and test).",
        "",
        "## Splits and configs",
        "",
        "| config | split | videos |",
        "|---|---|---|",
    ]
    for name, splits in configs.items():
        for split in splits:
            n = (
                counts[split]
                if name == "default" or split != "train"
                else subset_counts.get(name[len("trainratio") :], 0)
            )
            lines.append(f"| `{name}` | {split} | {n:,} |")
    lines += [
        "",
        "`trainratio<r>` are the paper's Table-6 training subsets (val and test as in `default`).",
        "",
        "## Features",
        "",
        "| field | type | what |",
        "|---|---|---|",
        "| `video_id` | string | the YouTube id |",
        "| `class` | string | the video's class |",
        "| `seen` | bool | a seen (training) class |",
        "| `labels` | 10 × int8 | 1 = an audio-visual event of the class in that second |",
        "| `frames` | 10 × Image | the middle frame of each second (PNG) |",
        "| `audio` | Audio, 16 kHz | the clip's 10 s, mono |",
        "| `train_subsets` | list of string | the Table-6 subsets a training video belongs to |",
        "",
        "```python",
        "from datasets import load_dataset",
        'ds = load_dataset("PATH_OR_REPO", split="test")',
        'ds[0]["frames"][3]  # a PIL image; ds[0]["audio"] decodes with torchcodec (datasets >= 4)',
        "```",
        "",
    ]
    lines += [
        "## How it was built",
        "",
        f"With ovavebench {__version__}: VGGSound's rows joined with the published OV-AVEBench metadata, each",
        "clip's 10 s window fetched from YouTube, cut in one decode pass into 10 frames and 16 kHz audio, labelled",
        "by the published annotations (or a new two-round campaign), split into seen and unseen classes.",
    ]
    if missing:
        lines += [
            "",
            f"**{missing:,} video(s) have no media** in this export (their media could not be obtained): "
            "their ten `frames` and their `audio` are null, their labels are kept.",
        ]
    if availability:
        lines += [
            "",
            f"The rebuild obtained {availability.get('obtained', '?'):,} of {availability.get('published', '?'):,} "
            "published clips; scores on it are not directly comparable to the paper's.",
        ]
    lines += [
        "",
        "## License",
        "",
        "The frames and audio are cut from YouTube videos that belong to their uploaders; they are shared for",
        "research on audio-visual event localization only, and may not be redistributed beyond what YouTube's",
        "terms and the uploaders allow. The VGGSound metadata are CC BY 4.0 (Chen et al., ICASSP 2020); the",
        "OV-AVEBench labels are the authors' (github.com/jasongief/OV-AVEL).",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)
