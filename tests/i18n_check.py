"""The i18n check of scripts/test.sh (X-I18N): every visible string has a Japanese translation.

Run as ``python -m tests.i18n_check``. It copies the ``kaisen`` package to a temporary directory, runs
``makemessages -l ja`` there (so the repository is never modified), and fails when the merged Japanese
catalogue has an entry that is untranslated or fuzzy, which is what a string added to the code without a
translation looks like. It also checks that every ``.po`` file of the repository compiles with
``msgfmt --check``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = Path("kaisen/locale/ja/LC_MESSAGES/django.po")


def _compile_check() -> list[str]:
    problems = []
    for po in sorted((ROOT / "kaisen").rglob("*.po")):
        result = subprocess.run(["msgfmt", "--check", "-o", os.devnull, str(po)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            problems.append(f"{po.relative_to(ROOT)} does not compile:\n{result.stderr}")
    return problems


def _untranslated() -> list[str]:
    if not (ROOT / CATALOGUE).exists():
        return [f"{CATALOGUE} does not exist: there is no Japanese catalogue"]
    with tempfile.TemporaryDirectory(prefix="kaisen-i18n-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "kaisen", work / "kaisen",
                        ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static"))
        shutil.copy(ROOT / "manage.py", work / "manage.py")
        env = {**os.environ, "PYTHONPATH": str(work), "KAISEN_DATA_DIR": str(work / "data"),
               "DJANGO_SETTINGS_MODULE": "kaisen.settings"}
        result = subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "ja", "--no-obsolete", "--no-location"],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            return [f"makemessages failed:\n{result.stdout}{result.stderr}"]
        catalogue = polib.pofile(str(work / CATALOGUE))
        missing = [e for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
        return [f"{CATALOGUE}: untranslated or fuzzy: {e.msgid!r}" for e in missing]


def main() -> int:
    problems = _compile_check() + _untranslated()
    for problem in problems:
        print(problem)
    if problems:
        print(f"\n{len(problems)} translation problem(s). Run `python manage.py makemessages -l ja -l en`, "
              f"translate the new entries in {CATALOGUE}, then `python manage.py compilemessages`.")
        return 1
    print("i18n: every message has a Japanese translation and every catalogue compiles.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
