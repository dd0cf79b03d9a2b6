"""What higher apps run after a usage file was imported (issue 13 §3: usage alert rules).

Usage sits below them in the layers (docs/decisions/0006-layers.md): they register a callable taking the
imported ``UsageFile``. Called after the import's transaction committed; an error in one is logged and
never undoes or fails the import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kaisen.core.registry import Providers

log = logging.getLogger(__name__)

after_import: Providers[Callable[[Any], Any]] = Providers()


def run_after_import(usage_file: Any) -> None:
    for provider in after_import.all():
        try:
            provider(usage_file)
        except Exception:
            log.exception("after-import hook failed for usage file %s", getattr(usage_file, "pk", None))
