"""Table 2's audio-visual LLM row: a model that ``transformers`` ships (Qwen2.5-Omni's thinker, say) gets each
second's frame and audio and a prompt listing the candidate classes, and names the event of every second.

One module per concern: :mod:`.prompts` (templates from the shipped ``prompts.json``), :mod:`.model` (loading
and generation), :mod:`.parse` (answers → labels) and :mod:`.run` (the split, resumable).
"""

from __future__ import annotations

from .model import MODEL_CLASSES, AvLlm, answer, load_avllm, model_inputs
from .parse import LabelMatcher, ParsedAnswer, parse_answer
from .prompts import PromptTemplate, load_prompt
from .run import AvllmReport, answers_path, predict_avllm, video_inputs

__all__ = [
    "MODEL_CLASSES",
    "AvLlm",
    "AvllmReport",
    "LabelMatcher",
    "ParsedAnswer",
    "PromptTemplate",
    "answer",
    "answers_path",
    "load_avllm",
    "load_prompt",
    "model_inputs",
    "parse_answer",
    "predict_avllm",
    "video_inputs",
]
