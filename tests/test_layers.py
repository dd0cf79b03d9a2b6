"""Issue 16 §3: no app imports a higher layer, at module level or inside a function, and inside an app no
modules import each other in a cycle.

The layers, the few allowed exceptions and the acyclic apps are the import-linter contracts in pyproject.toml
([tool.importlinter]); docs/decisions/0006-layers.md says why they are what they are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_app_imports_a_higher_layer() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"lint-imports found a contract broken:\n{result.stdout}\n{result.stderr}"
    assert "2 kept, 0 broken" in result.stdout


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def test_every_app_is_checked_for_cycles_and_sits_in_a_layer() -> None:
    """A new package under kaisen/ is not forgotten by either contract."""
    packages = {p.parent.name for p in (ROOT / "kaisen").glob("*/__init__.py")} - {"locale", "static", "templates"}
    acyclic = {a.removeprefix("kaisen.") for a in _contract("acyclic-modules")["ancestors"]}
    layered = {name.strip() for layer in _contract("layers")["layers"] for name in layer.replace(":", "|").split("|")}
    assert packages - acyclic == set(), "add the package to the acyclic-modules contract"
    assert packages - layered == set(), "add the package to a layer"


def test_only_the_benchmarks_cross_a_layer() -> None:
    importers = {line.split("->")[0].strip() for line in _contract("layers")["ignore_imports"]}
    assert all("bench" in importer for importer in importers), importers


def test_higher_layers_register_what_lower_ones_trigger() -> None:
    """The handlers that replace the upward imports are registered when Django starts."""
    from kaisen.access.procedures import procedures
    from kaisen.accounts.second_step import second_step
    from kaisen.billing.extra_fees import providers
    from kaisen.mfa.views import login_second_step
    from kaisen.payments.selectors import invoice_extra_fees
    from kaisen.procedures.display import param_rows
    from kaisen.procedures.services import order_preview, order_submit

    handler = procedures()
    assert (handler.preview, handler.submit, handler.param_rows) == (order_preview, order_submit, param_rows)
    assert handler.kind_label("suspend") != "suspend"  # the procedure's name, not its code
    assert second_step().web is login_second_step
    assert invoice_extra_fees in providers()


def test_the_cycle_contract_catches_a_cycle_inside_an_app(tmp_path: Path) -> None:
    """The acyclic-modules contract type, on a package whose service and task import each other (the shape
    that statements, notifications and procedures had): broken, with the cycle named."""
    app = tmp_path / "cyclepkg" / "app"
    app.mkdir(parents=True)
    (tmp_path / "cyclepkg" / "__init__.py").write_text("")
    (app / "__init__.py").write_text("")
    (app / "services.py").write_text("def enqueue():\n    from cyclepkg.app import tasks\n    return tasks\n")
    (app / "tasks.py").write_text("def run():\n    from cyclepkg.app import services\n    return services\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = cyclepkg\n\n[importlinter:contract:cycles]\nname = cycles\n"
        "type = acyclic_siblings\nancestors =\n    cyclepkg.app\n")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No cycles are allowed in cyclepkg.app" in result.stdout
