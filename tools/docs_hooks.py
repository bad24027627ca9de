"""MkDocs hook: the API reference renders exactly ``ovavebench.__all__``.

It also serves the task view's screenshots from ``annotation/screenshots`` (where the browser test writes them).

The package face exports its names lazily (PEP 562 ``__getattr__``), which griffe's static analysis cannot follow,
so ``docs/reference/api.md`` holds a marker that this hook replaces with one ``::: module.object`` block per name of
``__all__``, in its order, each resolved to where the object is defined. A name that is added to ``__all__`` appears
in the docs without anyone editing them; a name that does not resolve fails the (strict) build.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parent.parent
# Pictures kept beside what they show (the real-browser test writes them there), served under docs' assets/.
ASSETS = {"assets/screenshots": REPO / "annotation" / "screenshots"}

MARKER = "<!-- ovavebench.__all__ -->"


def _target(package: Any, name: str) -> tuple[str, str]:
    """Where the public ``name`` is defined, as (dotted path for mkdocstrings, kind)."""
    obj = getattr(package, name)  # imports the lazy target; an unknown name raises and fails the build
    if inspect.ismodule(obj):
        return obj.__name__, "module"
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and (inspect.isclass(obj) or callable(obj)):
        return f"{module}.{qualname}", "object"
    return f"ovavebench.{name}", "value"


def api_blocks() -> str:
    package = importlib.import_module("ovavebench")
    names = list(getattr(package, "__all__", []))
    if not names:
        raise RuntimeError("ovavebench.__all__ is empty: the API reference would document nothing")
    lines: list[str] = []
    values: list[str] = []
    for name in names:
        path, kind = _target(package, name)
        if kind == "value":
            values.append(f"| `ovavebench.{name}` | `{getattr(package, name)!r}` |")
            continue
        # The heading names the public path (ovavebench.score), not where the object happens to live.
        lines += [
            f"::: {path}",
            "    options:",
            f'      heading: "ovavebench.{name}"',
            f'      toc_label: "ovavebench.{name}"',
            "      heading_level: 2",
            "      show_root_heading: true",
        ]
        if kind == "module":
            lines += ["      show_submodules: false"]
        lines.append("")
    if values:
        lines = ["## Values", "", "| name | value |", "|---|---|", *values, "", *lines]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    for uri_dir, folder in ASSETS.items():
        for path in sorted(folder.glob("*.png")):
            files.append(File.generated(config, f"{uri_dir}/{path.name}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, api_blocks())
