"""Issue 16 §2: each app's commands live in its own ``cli.py``; ``kaisen/cli.py`` only assembles them and no
module imports it; the benchmarks (``kaisen/benchmarks/``) are imported by nothing of the product."""

from __future__ import annotations

import ast
from pathlib import Path

import kaisen

ROOT = Path(kaisen.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if "migrations" not in p.parts]


def test_no_module_imports_the_assembler() -> None:
    importers = [str(p.relative_to(ROOT)) for p in _modules()
                 if p != ROOT / "cli.py" and ({"kaisen.cli", "kaisen.cli.app"} & _imports(p))]
    assert importers == []


def test_the_benchmarks_are_imported_by_the_assembler_only() -> None:
    bench = ROOT / "benchmarks"
    importers = [str(p.relative_to(ROOT)) for p in _modules()
                 if bench not in p.parents and p != ROOT / "cli.py"
                 and any(name == "kaisen.benchmarks" or name.startswith("kaisen.benchmarks.") for name in _imports(p))]
    assert importers == []


def test_no_cli_modules_left_at_the_top_of_the_package() -> None:
    assert sorted(p.name for p in ROOT.glob("cli_*.py")) == []
    assert sorted(p.name for p in ROOT.glob("bench*.py")) == []
    assert not list(ROOT.glob("*/bench.py"))


def test_app_cli_modules_import_only_the_shared_plumbing_of_the_interfaces() -> None:
    for path in ROOT.glob("*/cli.py"):
        if path.parent.name in ("core", "benchmarks"):
            continue
        others = {name for name in _imports(path) if name.endswith(".cli") and name != "kaisen.core.cli"}
        assert others == set(), path
