"""Settings from the environment (issue #2 "embedded default"): data directory, secret key, database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kaisen.settings

ROOT = Path(__file__).resolve().parent.parent

PROBE = ("import json, kaisen.settings as s; "
         "print(json.dumps({'key': s.SECRET_KEY, 'db': str(s.DATABASES['default']['NAME']), "
         "'engine': s.DATABASES['default']['ENGINE'], 'data': str(s.DATA_DIR)}))")


def _settings_in(data_dir: Path, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DATABASE_URL", "KAISEN_SECRET_KEY", "KAISEN_DATA_DIR")}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={**clean, "KAISEN_DATA_DIR": str(data_dir), **env}, timeout=60)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_real_settings_hash_passwords_with_argon2() -> None:
    """Issue #2: passwords hashed with Argon2 (the suite itself uses MD5 for speed, see conftest.py)."""
    assert kaisen.settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_argon2_really_hashes(settings) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.hashers import check_password, make_password

    settings.PASSWORD_HASHERS = kaisen.settings.PASSWORD_HASHERS
    hashed = make_password("a-Long-password-1")
    assert hashed.startswith("argon2$")
    assert check_password("a-Long-password-1", hashed)


def test_embedded_default_sqlite_and_secret_key_kept_in_data_dir(tmp_path: Path) -> None:
    first = _settings_in(tmp_path / "one")
    again = _settings_in(tmp_path / "one")
    other = _settings_in(tmp_path / "two")
    assert first["engine"] == "django.db.backends.sqlite3"
    assert Path(first["db"]).parent == (tmp_path / "one").resolve()
    assert first["key"] == again["key"], "the secret key is generated once and reused"
    assert len(first["key"]) >= 50
    assert (tmp_path / "one" / "secret_key").read_text().strip() == first["key"]
    assert oct((tmp_path / "one" / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert other["key"] != first["key"], "two data directories share no secret"
    assert other["db"] != first["db"], "two data directories share no database"


def test_database_url_switches_to_postgresql(tmp_path: Path) -> None:
    result = _settings_in(tmp_path, DATABASE_URL="postgres://kaisen@db.example:5432/kaisen")
    assert result["engine"] == "django.db.backends.postgresql"
    assert result["db"] == "kaisen"


def test_secret_key_from_environment_wins(tmp_path: Path) -> None:
    assert _settings_in(tmp_path, KAISEN_SECRET_KEY="from-the-environment")["key"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_tests_never_use_the_users_data_directory() -> None:
    from django.conf import settings

    home_default = (Path.home() / ".local" / "share" / "kaisen").resolve()
    assert Path(settings.DATA_DIR) != home_default
    assert os.environ["KAISEN_DATA_DIR"]


def test_an_old_sqlite_library_is_refused_by_name(tmp_path: Path) -> None:
    """The writes use RETURNING (SQLite 3.35): an older library is refused when the settings load, saying which
    version was found and what to do, not at the first import or order."""
    probe = ("import sqlite3; sqlite3.sqlite_version_info = (3, 34, 1); sqlite3.sqlite_version = '3.34.1'; "
             "import kaisen.settings")
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAISEN_DATA_DIR")}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**clean, "KAISEN_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "Kaisen needs SQLite 3.35 or newer; this Python uses SQLite 3.34.1" in result.stderr
    ok = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                        env={**clean, "KAISEN_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://k@db:5432/k"})
    assert ok.returncode == 0, ok.stderr  # PostgreSQL does not need it
