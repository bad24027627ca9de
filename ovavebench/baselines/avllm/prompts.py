"""Prompt templates of the AV-LLM baseline (the shipped ``prompts.json`` beside this module), and their messages."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import InputFileError
from ...io import read_json
from ...taxonomy import OTHER

TEMPLATE_KEYS = ("source", "system", "intro", "per_second", "question", "max_new_tokens")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str  # where the wording comes from (the paper's, or written here)
    system: str
    intro: str  # {classes}: the candidate classes, one a line
    per_second: str  # {k}: the second, before its frame and its audio
    question: str
    max_new_tokens: int = 160

    def messages(self, classes: Sequence[str], images: Sequence[Any], audio: Sequence[Any]) -> list[dict[str, Any]]:
        """The chat: the intro with the candidates, then per second its text, frame and audio, then the question."""
        candidates = "\n".join(f"- {name}" for name in [*classes, OTHER])
        content: list[dict[str, Any]] = [{"type": "text", "text": self.intro.format(classes=candidates)}]
        for k, (image, clip) in enumerate(zip(images, audio, strict=True)):
            content += [
                {"type": "text", "text": self.per_second.format(k=k)},
                {"type": "image", "image": image},
                {"type": "audio", "audio": clip},
            ]
        content.append({"type": "text", "text": self.question})
        return [
            {"role": "system", "content": [{"type": "text", "text": self.system}]},
            {"role": "user", "content": content},
        ]


def default_prompts_path() -> Path:
    """The templates shipped inside the package (``ovavebench/baselines/avllm/prompts.json``)."""
    return Path(__file__).resolve().parent / "prompts.json"


def load_prompt(name: str = "per-second", path: str | os.PathLike | None = None) -> PromptTemplate:
    """One template by name from a templates file (default: the shipped one)."""
    path = Path(path) if path else default_prompts_path()
    what = 'prompt templates: {"templates": {name: {source, system, intro, per_second, question, max_new_tokens}}}'
    data = read_json(path, what)
    templates = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(templates, dict) or not templates:
        raise InputFileError(path, f"expected {what}")
    if name not in templates:
        raise InputFileError(path, f"no template {name!r}; it has {', '.join(map(repr, templates))}")
    spec = templates[name]
    if not isinstance(spec, dict) or set(spec) != set(TEMPLATE_KEYS):
        raise InputFileError(path, f"template {name!r}: expected exactly the keys {', '.join(TEMPLATE_KEYS)}")
    if (
        not all(isinstance(spec[k], str) for k in TEMPLATE_KEYS[:-1])
        or type(spec["max_new_tokens"]) is not int
        or not 8 <= spec["max_new_tokens"] <= 4096
    ):
        raise InputFileError(path, f"template {name!r}: texts must be strings, max_new_tokens an integer in 8..4096")
    if "{classes}" not in spec["intro"] or "{k}" not in spec["per_second"]:
        raise InputFileError(path, f"template {name!r}: intro needs {{classes}} and per_second needs {{k}}")
    try:
        spec["intro"].format(classes="x")
        spec["per_second"].format(k=0)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputFileError(path, f"template {name!r}: a placeholder other than {{classes}}/{{k}} ({exc})") from None
    return PromptTemplate(name, **{k: spec[k] for k in TEMPLATE_KEYS})
