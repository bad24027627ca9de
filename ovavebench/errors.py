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
