# Shared by start.sh, test.sh and lock.sh: create ./.venv and install Kaisen into it from the lock file
# (requirements/runtime.lock or requirements/dev.lock: exact versions, SHA-256 hashes checked by pip), once
# per change of the lock or of pyproject.toml. See docs/dependencies.md.
# Usage: kaisen_venv runtime|dev
_kaisen_lock_id() {  # what an install of kind $1 depends on: the lock and pyproject.toml (entry points)
    cat "requirements/$1.lock" pyproject.toml | sha256sum | cut -c1-16
}
kaisen_venv() {
    local kind="${1:-runtime}" stamp want have py
    py="${PYTHON:-python3}"
    if ! command -v "$py" >/dev/null 2>&1; then
        echo "Kaisen needs Python 3.11 or newer as '$py' (set PYTHON=/path/to/python3.11 to choose another)." >&2
        return 1
    fi
    if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
        echo "Kaisen needs Python 3.11 or newer; '$py' is $("$py" --version 2>&1)." >&2
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! "$py" -m venv .venv; then
            rm -rf .venv
            echo "Could not create a virtual environment. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
            return 1
        fi
    fi
    if [ ! -f "requirements/$kind.lock" ]; then
        echo "requirements/$kind.lock is missing: restore it from git, or run ./scripts/lock.sh (docs/dependencies.md)." >&2
        return 1
    fi
    want="$(_kaisen_lock_id "$kind") $kind"
    stamp=.venv/.kaisen-installed
    have="$(cat "$stamp" 2>/dev/null || true)"
    [ "$have" = "$want" ] && return 0
    # A dev install also satisfies a runtime one: the dev lock has the runtime lock's versions, and more.
    [ "$kind" = runtime ] && [ "$have" = "$(_kaisen_lock_id dev) dev" ] && return 0
    echo "Installing Kaisen and requirements/$kind.lock into .venv (first run takes a minute) ..." >&2
    rm -f "$stamp"
    # Every package at the locked version, each file checked against the lock's hashes; the lock also pins
    # pip and setuptools, so nothing below is fetched unlocked.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
        -r "requirements/$kind.lock" >&2 || return 1
    # Kaisen itself, editable: no dependencies (all locked above), built by the locked setuptools.
    # (PYTHONWARNINGS: setuptools warns on every editable install about folders named like the package.)
    PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation -e . >&2 || return 1
    echo "$want" > "$stamp"
}
