#!/usr/bin/env bash
# The foundation benchmark (docs/benchmarks.md) on SQLite and on PostgreSQL, each on a fresh, throwaway
# data directory / database. Usage: scripts/bench.sh [LINES] [LOOKUPS]   (defaults 1000000 10000)
# PostgreSQL: $BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432) — a database kaisen_bench is
# dropped and created there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
kaisen_venv runtime
lines="${1:-1000000}"
lookups="${2:-10000}"
out="${BENCH_OUT:-var/bench}"
mkdir -p "$out"
pg="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"

echo "== SQLite ($lines lines)" >&2
dir="$(mktemp -d)"
env -u DATABASE_URL KAISEN_DATA_DIR="$dir" .venv/bin/kaisen bench foundation --lines "$lines" --lookups "$lookups" \
    --out "$out/foundation-sqlite.json"
rm -rf "$dir"

echo "== PostgreSQL ($lines lines)" >&2
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kaisen_bench" -c "CREATE DATABASE kaisen_bench"
dir="$(mktemp -d)"
DATABASE_URL="$pg/kaisen_bench" KAISEN_DATA_DIR="$dir" .venv/bin/kaisen bench foundation --lines "$lines" \
    --lookups "$lookups" --out "$out/foundation-postgresql.json"
rm -rf "$dir"
psql "$pg/postgres" -qc "DROP DATABASE kaisen_bench"
