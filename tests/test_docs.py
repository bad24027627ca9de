"""The documentation stays generated from the code: the API reference is `ovavebench.__all__`, the CLI reference
holds every command and option, the README stays a front door with the two commands first, and every page the
site's navigation names exists. (`mkdocs build --strict`, run by `make docs`, checks the links and the rendering.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

import ovavebench

REPO = Path(__file__).resolve().parent.parent


def _docs_hooks() -> Any:
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "tools" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_documents_exactly_the_names_of_dunder_all():
    pytest.importorskip("mkdocs")
    blocks = _docs_hooks().api_blocks()
    documented = re.findall(r'heading: "ovavebench\.(\w+)"', blocks)
    values = re.findall(r"^\| `ovavebench\.(\w+)` \|", blocks, flags=re.M)
    assert sorted(documented + values) == sorted(ovavebench.__all__)
    for target in re.findall(r"^::: (\S+)$", blocks, flags=re.M):  # each block names where the object lives
        assert target.startswith("ovavebench."), target


def _commands(command: Any, path: str) -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            found += _commands(sub, f"{path} {name}")
    return found


def test_cli_reference_lists_every_command_and_every_option():
    docs = pytest.importorskip("mkdocs_click._docs")
    from ovavebench.cli.app import cli

    page = "\n".join(docs.make_command_docs(prog_name="ovavebench", command=cli, depth=1, style="plain"))
    commands = _commands(cli, "ovavebench")
    assert len(commands) > 30
    for path, command in commands:
        assert command.get_short_help_str(limit=200).split(".")[0][:40] in page, path
        for param in command.params:
            for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if opt.startswith("-"):
                    assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", page), f"{path} {opt}"
    reference = (REPO / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert ":module: ovavebench.cli.app" in reference and ":command: cli" in reference
    assert ":prog_name: ovavebench" in reference and ":style: plain" in reference


def test_readme_is_a_front_door_with_the_two_commands_first():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    first_block = text.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_every_page_of_the_navigation_exists():
    config_module = pytest.importorskip("mkdocs.config")
    config = config_module.load_config(str(REPO / "mkdocs.yml"))  # mkdocs' own reading of the file

    def pages(nav: Any) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [page for item in nav for page in pages(item)]
        if isinstance(nav, dict):
            return [page for value in nav.values() for page in pages(value)]
        return []

    listed = pages(config["nav"])
    assert "reference/cli.md" in listed and "reference/api.md" in listed
    for page in listed:
        assert (REPO / "docs" / page).is_file(), page
    on_disk = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert on_disk == set(listed)
