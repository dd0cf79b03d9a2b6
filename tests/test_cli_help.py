"""Issue 14 (CLI) and issue 16 §2: what a customer reads in ``kaisen --help`` and every subcommand's help has
no requirement ID (M-DL-1, K-6, S-BILL-2, X-INVOICE-JP …) and no issue reference; the benchmarks and the
operator's commands are listed apart from the customer commands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kaisen.cli import app

REQUIREMENT_ID = re.compile(r"\b(?:[A-Z]{1,2}-(?:[A-Z]+-)*\d+(?:\.\.\d+)?|X-[A-Z]+(?:-[A-Z]+)*)\b")
ISSUE_REF = re.compile(r"\bissues? \d", re.IGNORECASE)


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree (Typer's own click), groups included."""
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _texts(cmd: Any) -> Iterator[str]:
    for text in (cmd.help, cmd.short_help, cmd.epilog):
        if text:
            yield text
    for param in cmd.params:
        if getattr(param, "help", None):
            yield param.help


def _leaks(text: str) -> list[str]:
    return REQUIREMENT_ID.findall(text) + ISSUE_REF.findall(text)


ROOT = typer.main.get_command(app)
PATHS = [path for path, _ in _commands(ROOT)]


def test_the_tree_is_walked() -> None:
    assert ("bills", "list") in PATHS and ("admin", "billing", "combined", "add") in PATHS
    assert ("bench", "close") in PATHS and len(PATHS) > 100


def test_the_pattern_finds_what_it_must() -> None:
    for text in ("Show one line (M-LINE-1)", "10 per page (K-4)", "(S-BILL-2)", "invoice (X-INVOICE-JP).",
                 "login email (S-ACC-1)", "(M-PROC-1..6, M-MNP-2)", "(issue 4 §5)", "T-3"):
        assert _leaks(text), text
    for text in ("UTF-8 or Shift_JIS", "YYYY-MM-DD", "OP + 10 digits", "Idempotency-Key", "cp932", "p50/p99"):
        assert not _leaks(text), text


def test_no_requirement_id_or_issue_in_any_help_string() -> None:
    leaks = {" ".join(path) or "kaisen": found for path, cmd in _commands(ROOT)
             for found in [[leak for text in _texts(cmd) for leak in _leaks(text)]] if found}
    assert leaks == {}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "kaisen")
def test_no_requirement_id_or_issue_in_the_rendered_help(path: tuple[str, ...]) -> None:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert _leaks(res.output) == []


def test_benchmarks_and_operator_commands_are_apart_from_the_customer_commands() -> None:
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    panels = re.split(r"\n[╭+].*?(?=\n)", out)
    customer = next(p for p in panels if "login" in p and "bills" in p)
    for apart in ("bench", "admin", "serve"):
        assert not re.search(rf"│ {apart} ", customer), apart
    assert "Benchmarks" in out and "Operator" in out
    top: Any = ROOT.commands  # type: ignore[attr-defined]
    assert not any(name.startswith("bench") and name != "bench" for name in top)
    assert {"billing", "usage", "payments", "createstaff"} <= set(top["admin"].commands)
    assert "import" not in top["usage"].commands and "charge-due" not in top["payments"].commands
