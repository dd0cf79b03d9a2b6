"""What an approval request holds and carries out: a line procedure, registered by the procedures app.

``access`` sits below ``procedures`` in the layers (docs/decisions/0006-layers.md): procedures asks access
whether a user may act, so access cannot import procedures back. An approval still has to check a held
procedure like an order, submit it once approved, and show its kind and parameters; the procedures app hands
those four functions over in ``ProceduresConfig.ready()`` (the higher layer registers a handler with the lower
one), and the approval services call them through :func:`procedures`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kaisen.core.registry import Slot


@dataclass(frozen=True)
class ProcedureHandler:
    #: ``preview(*, tenant, user, line_id, kind, params)`` → an object with ``.line``; raises what
    #: ``submit`` would raise, writes nothing.
    preview: Callable[..., Any]
    #: ``submit(*, tenant, user, line_id, kind, params, idempotency_key, approved_by=None)`` → the order.
    submit: Callable[..., Any]
    #: ``kind_label(kind)`` → the procedure's name for people.
    kind_label: Callable[[str], str]
    #: ``param_rows(kind, params, line)`` → label/value rows of the parameters, for the approval page.
    param_rows: Callable[..., list[Any]]


_slot: Slot[ProcedureHandler] = Slot(
    "Approvals need kaisen.procedures in INSTALLED_APPS: it registers the procedures an approval carries out "
    "(kaisen.access.procedures.register).")
register = _slot.register
procedures = _slot.get
