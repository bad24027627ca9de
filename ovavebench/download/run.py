"""The public entry of a download run: on this machine, or with Ray's workers when ``options.ray`` is set."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import pandas as pd

from .options import DownloadOptions
from .records import ClipResult, RunSummary
from .scheduler import RemoteWorkers, run_download


def download_clips(
    manifest: str | os.PathLike | pd.DataFrame,
    out_dir: str | os.PathLike,
    options: DownloadOptions = DownloadOptions(),
    on_result: Callable[[ClipResult, RunSummary], None] | None = None,
    on_state: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Download and segment every pending clip of ``manifest`` into ``out_dir``
    (see :func:`~ovavebench.download.scheduler.run_download`); ``options.ray`` runs the clips on a Ray cluster."""
    options.validate()
    remote: RemoteWorkers | None = None
    if options.ray is not None:
        from .distributed import (
            RayWorkers,  # needs the `distributed` extra, imported only here
        )

        # The archive is read on this machine (scheduler.run_download): the actors only fetch URLs.
        remote = RayWorkers(dataclasses.replace(options, archive=None))
    return run_download(manifest, out_dir, options, on_result, on_state, remote=remote)
