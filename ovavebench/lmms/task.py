"""The lmms-eval task class: lmms-eval's messages task whose documents are built from the benchmark named in the
environment (see :mod:`.documents`) instead of being downloaded from a dataset hub."""

from __future__ import annotations

from typing import Any

import datasets
from lmms_eval.api.task import ConfigurableMessagesTask  # type: ignore[import-not-found, unused-ignore]

from .documents import SPLIT, documents, settings


class OvavebenchTask(ConfigurableMessagesTask):  # type: ignore[misc, unused-ignore]
    """``class:`` of ``ovavebench.yaml``: a chat-style task (the model gets each second's frame and audio)."""

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        config = {k: v for k, v in (config or {}).items() if k != "class"}  # TaskConfig has no `class` field
        super().__init__(config=config, **kwargs)

    def download(self, dataset_kwargs: dict[str, Any] | None = None) -> None:
        """The test videos with media, as a ``datasets.DatasetDict`` with one split."""
        docs = documents(**settings())
        self.dataset = datasets.DatasetDict({SPLIT: datasets.Dataset.from_list(docs)})
        self.dataset_no_image = self.dataset  # paths only: nothing to strip
