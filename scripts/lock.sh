#!/usr/bin/env bash
# Refresh requirements/dev.lock and requirements/runtime.lock (exact versions with SHA-256 hashes) from
# pyproject.toml and requirements/build.in, then install the new dev lock into ./.venv. See docs/dependencies.md.
#
#   ./scripts/lock.sh                           # after editing pyproject.toml: add/drop what changed,
#                                               # keep every other locked version as it is
#   ./scripts/lock.sh --upgrade-package django  # also move one package to its newest allowed release
#   ./scripts/lock.sh --upgrade                 # move everything to the newest allowed releases
#
# Extra arguments go to `uv pip compile` for the dev lock; the runtime lock is always the dev lock's
# versions of the packages the runtime needs. The locks hold for every platform and Python >= 3.11
# (a universal resolution with environment markers).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
# uv comes from the dev lock itself (a dev dependency), installed with pip's hash checking.
kaisen_venv dev
UV=.venv/bin/uv
common=(--universal --python-version 3.11 --generate-hashes --quiet --no-progress
        --custom-compile-command "./scripts/lock.sh")
"$UV" pip compile pyproject.toml requirements/build.in --extra dev "${common[@]}" "$@" \
    -o requirements/dev.lock
"$UV" pip compile pyproject.toml requirements/build.in -c requirements/dev.lock "${common[@]}" \
    -o requirements/runtime.lock
kaisen_venv dev
echo "requirements/dev.lock and requirements/runtime.lock are up to date; commit them with pyproject.toml." >&2
