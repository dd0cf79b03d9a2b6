"""Loaded by pytest before any test module: points Kaisen at a throwaway data directory, then sets Django up.

``kaisen.settings`` creates ``KAISEN_DATA_DIR`` and writes a secret key into it at import time, so the
variable must be set *before* the settings are imported. pytest-django imports the settings in its
``pytest_load_initial_conftests`` hook when ``DJANGO_SETTINGS_MODULE`` is known at that moment; the
pytest configuration therefore does not name the settings module, and this file (an initial conftest at
the repository root) sets both variables and calls ``django.setup()``. pytest-django then finishes its
own setup in ``pytest_configure``. ``scripts/test.sh`` sets ``KAISEN_DATA_DIR`` itself; a bare
``pytest`` gets a temporary directory that is removed when the run ends. xdist workers inherit the
controller's environment, so they share it. See docs/testing.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_OWNED_DATA_DIR: str | None = None

if not os.environ.get("KAISEN_DATA_DIR"):
    _OWNED_DATA_DIR = tempfile.mkdtemp(prefix="kaisen-test-")
    os.environ["KAISEN_DATA_DIR"] = _OWNED_DATA_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

# Argon2 costs tens of milliseconds per hash; the suite hashes thousands of passwords. The real setting
# is asserted by tests/test_settings.py::test_real_settings_hash_passwords_with_argon2.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Persistent connections (CONN_MAX_AGE) of live-server threads would keep the PostgreSQL test database
# "in use" when pytest-django drops it at the end of the run.
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
django.setup()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWNED_DATA_DIR and not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(_OWNED_DATA_DIR, ignore_errors=True)
