"""The package layering of docs/architecture.md, checked on the source of every module of snasnet/, exporters/
and snasnet_cli/ (imports inside functions and under TYPE_CHECKING included):

    core  <-  network  <-  data, measure  <-  search, train  <-  exporters  <-  snasnet_cli (CLI and TUI)

A package imports only the packages to its left (and itself); the library (snasnet, exporters) never imports a
front-end toolkit. ``snasnet`` itself (the lazy public API) and the old module paths ``snasnet.model`` and
``snasnet.spikes`` sit above the library's packages: only front ends import them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_PACKAGES = ("snasnet", "exporters", "snasnet_cli")
SNASNET_PACKAGES = ("core", "network", "data", "measure", "search", "train")
FRONT_END_TOOLKITS = {"typer", "click", "rich", "textual", "textual_plotext"}

# what each part may import besides itself (docs/architecture.md says why)
LIBRARY = {"core", "network", "data", "measure", "search", "train"}
MAY_IMPORT = {
    "core": set(),
    "network": {"core"},
    "data": {"core", "network"},
    "measure": {"core", "network"},
    "search": {"core", "network", "data", "measure"},
    "train": {"core", "network", "data", "measure"},
    "public api": LIBRARY,
    "exporters": LIBRARY | {"public api"},
    "cli": LIBRARY | {"public api", "exporters"},
}


def part(module: str) -> str | None:
    """The part of the layering ``module`` belongs to; None for modules outside the project."""
    names = module.split(".")
    if names[0] == "exporters":
        return "exporters"
    if names[0] == "snasnet_cli":
        return "cli"
    if names[0] != "snasnet":
        return None
    if len(names) > 1 and names[1] in SNASNET_PACKAGES:
        return names[1]
    return "public api"  # snasnet's __init__, snasnet.model, snasnet.spikes


def module_name(path: Path) -> str:
    names = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(names[:-1] if names[-1] == "__init__" else names)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(name: str, source: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``source`` (the module ``name``), wherever it stands. ``from a import
    b`` imports the module ``a.b`` when there is one, else (a name defined in) ``a``."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield node.lineno, full if is_module(full) else base


def violations(name: str, source: str, is_package: bool = False) -> list[str]:
    """What ``source`` (the module ``name``) imports against the layering, one line each."""
    own = part(name)
    found = []
    for line, target in imports(name, source, is_package):
        if target.split(".")[0] in FRONT_END_TOOLKITS and own not in ("cli", None):
            found.append(f"{name}:{line} imports {target}: the library never imports a front-end toolkit")
        other = part(target)
        if other is None or other == own:
            continue
        if other not in MAY_IMPORT[own]:
            allowed = ", ".join(sorted(MAY_IMPORT[own])) or "nothing else in the project"
            found.append(f"{name}:{line} imports {target} ({other}): {own} may import {allowed}")
    package = name if is_package else name.rpartition(".")[0]
    for line, target in imports(name, source, is_package):
        # a module reaching a sibling through its package's __init__ makes the package import itself
        if not is_package and target == package and package != "snasnet":
            found.append(f"{name}:{line} imports its own package {target}: import the module that defines the name")
    return found


def sources() -> list[Path]:
    return sorted(p for top in TOP_PACKAGES for p in (ROOT / top).rglob("*.py"))


def test_every_import_follows_the_layering():
    found = [v for path in sources() for v in violations(module_name(path), path.read_text(), path.stem == "__init__")]
    assert not found, "imports against docs/architecture.md:\n" + "\n".join(found)


def test_the_walk_sees_the_imports_it_checks():
    # a walk that found nothing would pass the test above: it must see known edges, including one in a function
    edges = {
        (module_name(p), target)
        for p in sources()
        for _, target in imports(module_name(p), p.read_text(), p.stem == "__init__")
    }
    assert ("snasnet.search.job", "snasnet.data.datasets") in edges
    assert ("snasnet.network.ops", "snasnet.network.edge_modules") in edges  # imported inside a function
    assert ("snasnet.data", "snasnet.data.events") in edges  # `from snasnet.data import events` names a module
    assert ("snasnet_cli.commands.train", "snasnet.train.job") in edges
    assert len(sources()) > 80


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        (
            "snasnet.network.model",
            "def f():\n    from snasnet.train.trainer import Trainer\n",
            "network may import core",
        ),
        ("snasnet.core.runs", "import snasnet.network.arch\n", "core may import nothing else"),
        ("snasnet.data.images", "from snasnet.measure import spikes\n", "data may import core, network"),
        ("snasnet.search.job", "from ..train import job\n", "imports snasnet.train.job (train)"),
        ("snasnet.measure.spikes", "import rich.console\n", "never imports a front-end toolkit"),
        ("exporters.onnx", "from snasnet_cli.options import DATASETS\n", "imports snasnet_cli.options (cli)"),
        ("snasnet.network.cells", "from snasnet import build_model\n", "imports snasnet (public api)"),
        ("snasnet.data.events", "from snasnet.data import DataBundle\n", "imports its own package snasnet.data"),
    ],
)
def test_the_check_refuses_an_import_against_the_layering(name, source, expected):
    found = violations(name, source)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("snasnet.train.trainer", "from snasnet.data.datasets import get_dataset\nfrom . import recipe\n"),
        ("exporters.energy", "from snasnet.measure.synops import SynapticCounter\nfrom snasnet import build_model\n"),
        ("snasnet_cli.app", "import typer\nfrom exporters.jobs import ExportSource\n"),
        ("snasnet.data", "from snasnet.data import events, images\n"),
    ],
)
def test_the_check_lets_a_layer_import_what_is_below_it(name, source):
    assert violations(name, source, is_package=name == "snasnet.data") == []


def test_the_tests_and_benchmarks_import_modules_that_exist():
    # benchmarks are not run by the test step: an import of a module that moved would go unnoticed there
    missing = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted([*(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])
        for line, target in imports(path.stem, path.read_text())
        if target.split(".")[0] in TOP_PACKAGES and not is_module(target)
    ]
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


def test_no_import_cycle_between_snasnets_modules():
    graph = {}
    for path in (ROOT / "snasnet").rglob("*.py"):
        name = module_name(path)
        graph[name] = {
            t for _, t in imports(name, path.read_text(), path.stem == "__init__") if t.startswith("snasnet")
        }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(graph.get(name, ())):
            visit(target, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_the_top_level_and_each_package_stay_small_enough_to_read():
    top = sorted(p.name for p in (ROOT / "snasnet").iterdir() if p.name not in ("__init__.py", "__pycache__"))
    assert len(top) <= 8, f"snasnet/ holds {len(top)} entries besides __init__.py: {top}"
    assert sorted(p.name for p in (ROOT / "snasnet").iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        SNASNET_PACKAGES
    ), "a new package of snasnet/ needs its place in the layering (MAY_IMPORT and docs/architecture.md)"
    for package in SNASNET_PACKAGES:
        modules = [p.name for p in (ROOT / "snasnet" / package).glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 12, f"snasnet/{package} holds {len(modules)} modules: {sorted(modules)}"


def test_architecture_md_has_a_paragraph_for_each_package():
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        p for p in (*(f"snasnet.{p}" for p in SNASNET_PACKAGES), "exporters", "snasnet_cli") if f"`{p}`" not in text
    ]
    assert not missing, f"docs/architecture.md does not describe {missing}"
