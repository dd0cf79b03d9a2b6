#!/usr/bin/env bash
# API lookup by number vs a minimal one-query Django view, under the same server and process count, for
# waitress (1 process) and gunicorn (--workers N). Needs: DATABASE_URL with demo data (`kaisen demo`),
# KAISEN_DATA_DIR, Debian's apache2-utils (ab). Prints ab's requests/s and latency percentiles per case,
# REPEATS rounds with the two paths back to back. Used for docs/benchmarks.md (issue 11 §7).
#   scripts/bench_api_servers.sh OPERATOR_ID USERNAME PASSWORD MSISDN
set -euo pipefail
cd "$(dirname "$0")/.."
OP=$1 USER_=$2 PASS=$3 NUM=$4
N=${N:-2000} C=${C:-8} REPEATS=${REPEATS:-3} WORKERS=${WORKERS:-2} PORT=${PORT:-8171}
export KAISEN_BENCH_VIEWS=1 KAISEN_LOG_LEVEL=WARNING
run() {  # $1 label, rest: serve args
  local label=$1; shift
  .venv/bin/kaisen serve --port "$PORT" --no-worker "$@" >/tmp/bench-serve.log 2>&1 &
  local pid=$!
  for _ in $(seq 60); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done
  local token
  token=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth" -H 'Content-Type: application/json' \
    -d "{\"operator_id\":\"$OP\",\"username\":\"$USER_\",\"password\":\"$PASS\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
  ab -q -n 200 -c "$C" -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/lines/by-msisdn/$NUM" >/dev/null
  ab -q -n 200 -c "$C" "http://127.0.0.1:$PORT/bench-minimal/$NUM" >/dev/null
  for r in $(seq "$REPEATS"); do
    for path in "api" "minimal"; do
      if [ "$path" = api ]; then
        out=$(ab -q -n "$N" -c "$C" -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/lines/by-msisdn/$NUM")
      else
        out=$(ab -q -n "$N" -c "$C" "http://127.0.0.1:$PORT/bench-minimal/$NUM")
      fi
      rps=$(echo "$out" | awk '/Requests per second/ {print $4}')
      p50=$(echo "$out" | awk '$1=="50%" {print $2}')
      p99=$(echo "$out" | awk '$1=="99%" {print $2}')
      fail=$(echo "$out" | awk '/Failed requests/ {print $3}'; echo "$out" | awk '/Non-2xx/ {print "non2xx=" $3}')
      echo "$label round=$r path=$path rps=$rps p50_ms=$p50 p99_ms=$p99 failed=$(echo $fail)"
    done
  done
  kill -TERM "$pid"; wait "$pid" || true
}
run "waitress-1proc" --workers 1 --threads 8
run "gunicorn-${WORKERS}proc" --workers "$WORKERS" --threads 4
