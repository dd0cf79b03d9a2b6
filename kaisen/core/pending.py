"""Rows collected in a block and written together when it ends (issue 11 §1, issue 13).

An order transaction emits several events and mails; writing each with its own ``INSERT`` (and, for mails, a
savepoint) cost more statements than the rows are worth. ``PendingWrites(write).block()`` collects, per thread,
what the code inside the block adds to ``pending`` and hands the list to ``write`` once at the end. Nested blocks
join the outermost one; if the block raises, nothing is written (the caller's transaction rolls back): use it
inside ``transaction.atomic``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class PendingWrites(Generic[T]):
    def __init__(self, write: Callable[[list[T]], object]) -> None:
        self._write = write
        self._local = threading.local()

    @property
    def pending(self) -> list[T] | None:
        """The rows collected by this thread's open block, None outside a block."""
        return getattr(self._local, "pending", None)

    @contextmanager
    def block(self) -> Iterator[None]:
        if self.pending is not None:
            yield
            return
        pending: list[T] = []
        self._local.pending = pending
        try:
            yield
            self._local.pending = None
            self._write(pending)
        finally:
            self._local.pending = None
