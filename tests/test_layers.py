"""Issue 16 §3: no app imports a higher layer, at module level or inside a function.

The layers and the few allowed exceptions are the import-linter contract in pyproject.toml
([tool.importlinter]); docs/decisions/0005-layers.md says why they are what they are.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_app_imports_a_higher_layer() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"lint-imports found a layer broken:\n{result.stdout}\n{result.stderr}"
    assert "1 kept, 0 broken" in result.stdout


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
