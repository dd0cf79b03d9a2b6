# Shared by start.sh and test.sh: create ./.venv and install the project into it, once per pyproject change.
# Usage: kaisen_venv runtime|dev
kaisen_venv() {
    local extras="" stamp want py
    [ "${1:-runtime}" = dev ] && extras="[dev]"
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
    want="$(sha256sum < pyproject.toml | cut -c1-16)${extras}"
    stamp=.venv/.kaisen-installed
    # A dev install also satisfies a runtime one.
    if [ -f "$stamp" ] && { [ "$(cat "$stamp")" = "$want" ] || [ "$(cat "$stamp")" = "${want%\[dev\]}[dev]" ]; }; then
        return 0
    fi
    echo "Installing Kaisen${extras} into .venv (first run takes a minute) ..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}" >&2
    echo "$want" > "$stamp"
}
