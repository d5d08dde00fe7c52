"""Imports run one way: editor_ui -> genie / serving / zoo -> modelps, and no two modules import each other.

Read from the source with ``ast`` (nothing is imported), so lazy imports inside functions and
``TYPE_CHECKING`` blocks count like any other. ``tests/``, ``bench/`` and ``tools/`` may import
anything. Commands that the ``modelps`` CLI loads by module name (``modelps.cli.COMMAND_MODULES``)
are a plug-in registry, not imports, and are not checked here. See docs/architecture.md.
"""

from __future__ import annotations

import ast
import dataclasses
import textwrap
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {"modelps": 0, "genie": 1, "serving": 1, "zoo": 1, "editor_ui": 2}
"""A package may import its own modules and those of any package on a lower layer, nothing else."""

KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}
"""Imports that break the rules today, ``{(importer, imported): "issue N: why"}``; delete an entry once it is gone.

(Empty since issue 16 moved the fidelity metrics into ``modelps.fidelity``, ending ``genie.metrics -> zoo.metrics``.)
"""


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's edge between two first-party modules."""

    source: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where})"


def first_party_imports(root: Path, packages: list[str]) -> list[Import]:
    """Every import between modules of ``packages`` under ``root``, resolved to the module it loads."""
    files = {_module_name(path.relative_to(root)): path for p in packages for path in sorted((root / p).rglob("*.py"))}
    found: list[Import] = []
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, is_package, node.module, node.level)
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
            else:
                continue
            for name in names:
                while name and name not in files:  # `import a.b.c` of a function, a class or a third-party name
                    name = name.rpartition(".")[0]
                if name and name != module:
                    found.append(Import(module, name, f"{path.relative_to(root)}:{node.lineno}"))
    return list(dict.fromkeys(found))


def layer_violations(imports: list[Import]) -> list[Import]:
    """Imports that reach a higher layer, or another package on the same layer."""
    bad = []
    for edge in imports:
        source, target = edge.source.split(".")[0], edge.target.split(".")[0]
        if source != target and LAYERS[target] >= LAYERS[source]:
            bad.append(edge)
    return bad


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """One cycle (a list of modules, each importing the next and the last the first) per tangle of modules."""
    graph = nx.DiGraph([(edge.source, edge.target) for edge in imports])
    cycles = []
    for tangle in nx.strongly_connected_components(graph):
        if len(tangle) > 1:
            cycle = [source for source, _ in nx.find_cycle(graph.subgraph(tangle))]
            start = cycle.index(min(cycle))
            cycles.append(cycle[start:] + cycle[:start])
    return sorted(cycles)


def _module_name(relative: Path) -> str:
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, is_package: bool, name: str | None, level: int) -> str:
    if not level:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, name] if name else parts)


def _imports() -> list[Import]:
    return first_party_imports(ROOT, sorted(LAYERS))


def test_no_import_runs_up_or_sideways() -> None:
    found = [e for e in layer_violations(_imports()) if (e.source, e.target) not in KNOWN_EXCEPTIONS]
    assert not found, "imports against the layers (editor_ui > genie, serving, zoo > modelps):\n" + "\n".join(
        map(str, found)
    )


def test_no_two_modules_import_each_other() -> None:
    imports = [e for e in _imports() if (e.source, e.target) not in KNOWN_EXCEPTIONS]
    cycles = import_cycles(imports)
    assert not cycles, "modules that import each other (directly or around a loop):\n" + "\n".join(
        " -> ".join([*cycle, cycle[0]]) for cycle in cycles
    )


def test_known_exceptions_still_exist() -> None:
    edges = {(e.source, e.target) for e in _imports()}
    gone = [f"{a} -> {b}" for a, b in KNOWN_EXCEPTIONS if (a, b) not in edges]
    assert not gone, f"fixed, so delete from KNOWN_EXCEPTIONS in {Path(__file__).name}: {gone}"


def test_the_checks_find_upward_sideways_and_circular_imports(tmp_path: Path) -> None:
    sources = {
        "modelps/__init__.py": "",
        "modelps/core.py": "import os\nfrom modelps import helpers\n",
        "modelps/helpers.py": "def f():\n    from modelps.core import x  # lazy, still a cycle\n",
        "modelps/ui_hook.py": "def g():\n    import editor_ui.app\n",
        "genie/__init__.py": "from .search import search\n",
        "genie/search.py": "from serving import client\nfrom modelps.helpers import f\n",
        "serving/__init__.py": "",
        "serving/client.py": "",
        "zoo/__init__.py": "",
        "editor_ui/__init__.py": "",
        "editor_ui/app.py": "import genie\nfrom modelps import core\n",
    }
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    imports = first_party_imports(tmp_path, sorted(LAYERS))
    assert sorted(map(str, layer_violations(imports))) == [
        "genie.search -> serving.client (genie/search.py:1)",
        "modelps.ui_hook -> editor_ui.app (modelps/ui_hook.py:2)",
    ]
    assert import_cycles(imports) == [["modelps.core", "modelps.helpers"]]
