"""requirements/*.lock agree with pyproject.toml (issue 16 §5: reproducible installs).

scripts/start.sh and scripts/test.sh install only from the lock files, so a dependency added to, removed
from or narrowed in pyproject.toml without ``./scripts/lock.sh`` would silently not be what runs. These
checks read the files only (offline, milliseconds); see docs/dependencies.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REFRESH = "run ./scripts/lock.sh and commit requirements/ (docs/dependencies.md)"
PYPROJECT_VIA = "kaisen (pyproject.toml)"
BUILD_IN_VIA = "-r requirements/build.in"


@dataclass
class Pin:
    version: Version
    marker: str
    hashes: set[str] = field(default_factory=set)
    via: set[str] = field(default_factory=set)


def parse_lock(text: str) -> dict[str, Pin]:
    """The pins of a `uv pip compile --generate-hashes` output: name -> version, marker, hashes, 'via'."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        if head := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line):
            current = Pin(Version(head[2]), (head[3] or "").strip())
            pins[canonicalize_name(head[1])] = current
        elif current is not None and (digest := re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line)):
            current.hashes.add(digest[1])
        elif current is not None and (via := re.match(r"^\s+#\s+(?:via\s+)?(.+?)\s*$", line)):
            if via[1] != "via":
                current.via.add(via[1])
        elif line.strip() and not line.startswith("#"):
            raise AssertionError(f"unexpected line in a lock file: {line!r}")
    return pins


def requirements(kind: str) -> list[Requirement]:
    """What pyproject.toml (and requirements/build.in) ask for in a `kind` install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    if kind == "dev":
        specs += project["optional-dependencies"]["dev"]
    return [Requirement(s) for s in specs]


def build_requirements() -> list[Requirement]:
    lines = (ROOT / "requirements" / "build.in").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in (raw.split("#")[0].strip() for raw in lines) if line]


def lock(kind: str) -> dict[str, Pin]:
    return parse_lock((ROOT / "requirements" / f"{kind}.lock").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["runtime", "dev"])
def test_every_dependency_of_pyproject_is_locked_within_its_range(kind: str) -> None:
    pins = lock(kind)
    for req in requirements(kind) + build_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} (pyproject.toml) is not in requirements/{kind}.lock: {REFRESH}"
        assert req.specifier.contains(pins[name].version, prereleases=True), (
            f"requirements/{kind}.lock has {name}=={pins[name].version}, outside {req}: {REFRESH}"
        )


@pytest.mark.parametrize("kind", ["runtime", "dev"])
def test_the_lock_has_no_direct_dependency_that_pyproject_dropped(kind: str) -> None:
    asked = {canonicalize_name(r.name) for r in requirements(kind)}
    locked_direct = {name for name, pin in lock(kind).items() if PYPROJECT_VIA in pin.via}
    assert locked_direct == asked, (
        f"requirements/{kind}.lock was made from another pyproject.toml "
        f"(only in the lock: {sorted(locked_direct - asked)}, only in pyproject: {sorted(asked - locked_direct)}): "
        f"{REFRESH}"
    )


def test_the_build_backend_of_pyproject_is_what_build_in_locks() -> None:
    """_venv.sh builds Kaisen without build isolation, with the locked setuptools: it must satisfy pyproject."""
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    pins = lock("runtime")
    for spec in build_system["requires"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins and BUILD_IN_VIA in pins[name].via, f"add {spec} to requirements/build.in: {REFRESH}"
        assert req.specifier.contains(pins[name].version), (
            f"locked {name} does not satisfy {spec}: raise it in requirements/build.in too, then {REFRESH}"
        )


def test_runtime_lock_is_the_dev_locks_versions_of_a_subset() -> None:
    """start.sh (runtime lock) and test.sh (dev lock) must run the same versions of what they share."""
    runtime, dev = lock("runtime"), lock("dev")
    assert set(runtime) <= set(dev), f"only in runtime.lock: {sorted(set(runtime) - set(dev))}: {REFRESH}"
    for name, pin in runtime.items():
        assert (pin.version, pin.hashes) == (dev[name].version, dev[name].hashes), (
            f"{name}: runtime.lock {pin.version} differs from dev.lock {dev[name].version}: {REFRESH}"
        )


@pytest.mark.parametrize("kind", ["runtime", "dev"])
def test_every_pin_is_exact_and_hashed(kind: str) -> None:
    pins = lock(kind)
    assert len(pins) > 20, f"requirements/{kind}.lock looks truncated"
    unhashed = sorted(name for name, pin in pins.items() if not pin.hashes)
    assert not unhashed, f"pins without --hash in requirements/{kind}.lock: {unhashed}: {REFRESH}"


def test_parse_lock_reads_markers_hashes_and_via() -> None:
    """The parser the checks above rely on, on uv's format (one and several 'via' lines, a marker)."""
    text = (
        "# This file was autogenerated by uv via the following command:\n"
        "#    ./scripts/lock.sh\n"
        "colorama==0.4.6 ; sys_platform == 'win32' \\\n"
        f"    --hash=sha256:{'a' * 64} \\\n"
        f"    --hash=sha256:{'b' * 64}\n"
        "    # via click\n"
        "django==5.2.20 \\\n"
        f"    --hash=sha256:{'c' * 64}\n"
        "    # via\n"
        "    #   kaisen (pyproject.toml)\n"
        "    #   django-ninja\n"
    )
    pins = parse_lock(text)
    assert pins["colorama"] == Pin(
        Version("0.4.6"), "sys_platform == 'win32'", {f"sha256:{'a' * 64}", f"sha256:{'b' * 64}"}, {"click"}
    )
    assert pins["django"].via == {PYPROJECT_VIA, "django-ninja"}
    with pytest.raises(AssertionError, match="unexpected line"):
        parse_lock("django>=5.2\n")
