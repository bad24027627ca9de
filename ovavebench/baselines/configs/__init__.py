"""The row configs of the paper's tables, shipped inside the package (a wheel has no ``baselines/`` folder).

``--config finetune_psp`` names one of them; a path to a JSON file of one's own is still accepted.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import OvavebenchError

CONFIG_DIR = Path(__file__).resolve().parent


def config_names() -> list[str]:
    """The shipped configs' names (file names without ``.json``), sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def resolve_config(value: str | os.PathLike) -> Path:
    """A config given by name (``finetune_psp`` or ``finetune_psp.json``) or by path → its file.

    An existing file wins over a shipped name, so a user's own ``zero_shot.json`` in the working folder is read.
    """
    path = Path(value)
    if path.is_file():
        return path
    name = path.name[: -len(".json")] if path.name.endswith(".json") else path.name
    shipped = CONFIG_DIR / f"{name}.json"
    # ``baselines/NAME.json`` is where the configs lived in a checkout before they moved into the package.
    if path.parent in (Path("."), Path("baselines")) and shipped.is_file():
        return shipped
    raise OvavebenchError(
        f"--config {str(value)!r}: no such file, and not the name of a shipped config "
        f"(one of {', '.join(config_names())})"
    )
