"""OV-AVEBench in lmms-eval (the ``lmms`` extra): a task folder to pass to ``--include_path`` and a model adapter
that runs the AV-LLM row's model through lmms-eval.

>>> from ovavebench.lmms import task_folder  # doctest: +SKIP
>>> task_folder()                            # doctest: +SKIP
PosixPath('.../ovavebench/lmms/tasks')

One module per concern: :mod:`.documents` (the documents, the chat, the parsing, the scores; no lmms-eval import),
:mod:`.task` (the lmms-eval task class that builds the documents from the benchmark) and :mod:`.model` (the lmms-eval
model ``ovavebench_avllm``). Only :mod:`.task` and :mod:`.model` import lmms-eval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def task_folder() -> Path:
    """The folder to pass to lmms-eval's ``--include_path`` (it holds the ``ovavebench`` task)."""
    return Path(__file__).resolve().parent / "tasks"


def model_manifest() -> Any:
    """The ``lmms_eval.models`` entry point: lmms-eval's manifest of the ``ovavebench_avllm`` chat model."""
    from lmms_eval.models.registry_v2 import ModelManifest  # type: ignore[import-not-found, unused-ignore]

    return ModelManifest(model_id="ovavebench_avllm", chat_class_path="ovavebench.lmms.model.OvavebenchAvllm")


__all__ = ["model_manifest", "task_folder"]
