"""Error types shared by every stage.

Every error a user can cause (a bad file, a bad row, a bad option) is an
:class:`OvavebenchError`; the CLI prints its message on one line and exits 2.
"""

from __future__ import annotations


class OvavebenchError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputFileError(OvavebenchError):
    """A file that does not have the expected content.

    The message always names the file and, where there is one, the line/row/video.
    """

    def __init__(self, path: object, what: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {what}")
        self.path = path
        self.line = line
        self.what = what


class ChecksumError(OvavebenchError):
    """A downloaded file whose sha256 is not the published one."""


# The optional dependencies, by the top-level module a command imports, and the extra that installs each
# (pyproject.toml's [project.optional-dependencies]). The core install (numpy, scipy, typer, rich, tqdm) loads a
# benchmark and scores; a command that needs more fails with one line naming the extra.
EXTRA_OF_MODULE: dict[str, str] = {
    "pandas": "tables",
    "pyarrow": "tables",
    "av": "media",
    "soundfile": "media",
    "PIL": "media",
    "yt_dlp": "download",
    "yt_dlp_ejs": "download",
    "imageio_ffmpeg": "download",
    "ray": "distributed",
    "label_studio_sdk": "annotate",
    "krippendorff": "annotate",
    "crowdkit": "crowd",
    "matplotlib": "plots",
    "torch": "torch",
    "torchmetrics": "torch",
    "transformers": "baselines",
    "ftfy": "baselines",
    "regex": "baselines",
    "datasets": "publish",
    "webdataset": "publish",
    "mlcroissant": "publish",
    "huggingface_hub": "publish",
    "lmms_eval": "lmms",
}


# Which extras an extra pulls in (``ovavebench[download]`` is ``ovavebench[tables,media]`` plus yt-dlp); a test
# checks this against pyproject.toml.
EXTRA_INCLUDES: dict[str, tuple[str, ...]] = {
    "download": ("tables", "media"),
    "distributed": ("download",),
    "annotate": ("tables", "media"),
    "crowd": ("annotate",),
    "torch": ("media",),
    "baselines": ("tables", "torch"),
    "publish": ("tables", "media"),
    "lmms": ("baselines",),
    "all": ("download", "distributed", "annotate", "crowd", "plots", "torch", "baselines", "publish"),
}


def _closure(extras: str) -> set[str]:
    """The extras that ``pip install "ovavebench[<extras>]"`` installs (comma-separated), included ones too."""
    out: set[str] = set()
    todo = [e for e in extras.split(",") if e]
    while todo:
        extra = todo.pop()
        if extra not in out:
            out.add(extra)
            todo.extend(EXTRA_INCLUDES.get(extra, ()))
    return out


def missing_extra(exc: BaseException, wanted: str | None = None) -> str | None:
    """The one-line message for an ``ImportError`` of an optional dependency (``None`` for any other error):
    which module is missing and the ``pip install "ovavebench[<extra>]"`` that brings it. ``wanted`` is what the
    running command needs as a whole (e.g. ``download``): named instead when it includes the missing module's
    extra, so one install is enough."""
    if not isinstance(exc, ImportError) or not exc.name:
        return None
    module = exc.name.split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    if wanted and extra in _closure(wanted):
        extra = wanted
    return f'this command needs {module}, which is not installed: pip install "ovavebench[{extra}]"'
