"""The house rules that a refactor can silently break: no import cycles, small modules, the CLI's face unchanged."""

from __future__ import annotations

import ast
from pathlib import Path

from .cli_help import all_help

PACKAGE = Path(__file__).resolve().parents[1] / "ovavebench"
GOLDEN_HELP = Path(__file__).parent / "golden" / "cli_help.txt"
MAX_MODULE_LINES = 450
MAX_LOOSE_MODULES = 8  # at the package root, besides __init__ and __main__


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports, function-level (lazy) imports included.

    ``from .x import y`` counts as importing ``x`` (or the module ``x.y`` where that is one), never the parent
    package: a package's ``__init__`` re-exporting its submodules is not a cycle.
    """
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [
                    f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_of_the_package_import_each_other():
    assert cycles(import_graph()) == []


def test_the_cycle_check_sees_a_lazy_import_cycle():
    # The check must be able to fail: a function-level import back is a cycle too.
    graph = {"ovavebench.a": {"ovavebench.b"}, "ovavebench.b": {"ovavebench.a"}, "ovavebench.c": set()}
    assert cycles(graph) == [["ovavebench.a", "ovavebench.b"]]
    real = import_graph()
    assert "ovavebench.download.worker" in real["ovavebench.download.scheduler"]
    assert "ovavebench.features.clipclap" in real["ovavebench.features.extract"]  # a function-level import is an edge


def test_no_module_is_over_450_lines():
    sizes = {
        str(p.relative_to(PACKAGE.parent)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_command_help_is_the_frozen_one():
    # tests/golden/cli_help.txt was written from the CLI before the redesign into one module per command;
    # a change of an option or a help text shows here as a diff to review (and to commit with the change).
    from ovavebench.cli import app

    assert all_help(app) == GOLDEN_HELP.read_text(encoding="utf-8")


def test_at_most_eight_modules_lie_loose_at_the_package_root():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose


# The stages in the order data flows through them; a module may import its own stage, an earlier one, or the shared
# modules (constants, errors, io, ids, taxonomy, benchmark: the published format every stage reads and writes).
STAGES = ["metadata", "manifest", "media", "annotate", "split", "features", "baselines", "scoring"]
SAME_STAGE = {"download": "media", "imagebind": "features"}
SHARED = {"constants", "errors", "io", "ids", "taxonomy", "benchmark", "__init__"}
# Deliberate reads against the flow, each with its reason.
ALLOWED_BACKWARD = {
    # pre-annotation reads a model's predictions file (the predictions stage's file format, not its code)
    ("ovavebench.annotate.prefill", "ovavebench.scoring"),
    # the baselines select their checkpoint on val with the benchmark's own metric, and write score reports
    ("ovavebench.baselines.finetune", "ovavebench.scoring"),
    ("ovavebench.baselines.finetune", "ovavebench.scoring.functional"),
    ("ovavebench.baselines.zero_shot", "ovavebench.scoring.report"),
}


def _stage(module: str) -> str:
    top = module.split(".")[1] if module.count(".") else "__init__"
    return SAME_STAGE.get(top, top)


def test_data_flows_one_way_through_the_stages():
    backward = sorted(
        (a, b)
        for a, targets in import_graph().items()
        for b in targets
        if _stage(a) in STAGES
        and _stage(b) in STAGES
        and STAGES.index(_stage(b)) > STAGES.index(_stage(a))
        and (a, b) not in ALLOWED_BACKWARD
    )
    assert backward == []


def test_every_stage_and_shared_module_exists():
    names = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert set(STAGES) | set(SAME_STAGE) | (SHARED - {"__init__"}) <= names


TASK_CONSTANTS = {"SEGMENTS", "SECONDS", "CLIP_SECONDS", "SAMPLE_RATE", "BACKGROUND", "OTHER", "SAMPLES_PER_SEGMENT"}


def test_the_constants_of_the_task_are_defined_once():
    defined = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id in TASK_CONSTANTS:
                    defined.append((str(path.relative_to(PACKAGE)), target.id))
    assert [d for d in defined if d[0] != "constants.py"] == []
    assert {name for _, name in defined} == TASK_CONSTANTS - {"SECONDS"}
