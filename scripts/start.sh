#!/usr/bin/env bash
# Install Kaisen into ./.venv and start the portal with demo data on the embedded default (SQLite).
# Data lives in $KAISEN_DATA_DIR (default ~/.local/share/kaisen). Extra arguments go to `kaisen serve`,
# e.g. ./scripts/start.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
kaisen_venv runtime
.venv/bin/kaisen migrate
.venv/bin/kaisen demo
exec .venv/bin/kaisen serve "$@"
