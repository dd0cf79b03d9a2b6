#!/usr/bin/env bash
# Before/after: the API lookup served from an older tree (BEFORE: a directory holding its kaisen/, e.g.
# `git archive f7296f9 kaisen | tar -x -C /tmp/before`) and from this one, and the minimal view, for docs/benchmarks.md
# (issue 11 §2). Needs DATABASE_URL with demo data, KAISEN_DATA_DIR, ab (apache2-utils).
#   scripts/bench_api_before_after.sh BEFORE OPERATOR_ID USERNAME PASSWORD MSISDN
# waitress, 1 process, 8 threads each; the three paths back to back per round, REPEATS rounds. PORT_NEW/PORT_OLD
# (default 8392/8393) choose the two servers' ports.
set -euo pipefail
cd "$(dirname "$0")/.."; ROOT=$(pwd)
BEFORE=$(cd "$1" && pwd) OP=$2 USER_=$3 PASS=$4 NUM=$5
N=${N:-1000} C=${C:-8} REPEATS=${REPEATS:-3} PNEW=${PORT_NEW:-8392} POLD=${PORT_OLD:-8393}
export KAISEN_BENCH_VIEWS=1 KAISEN_LOG_LEVEL=WARNING
.venv/bin/kaisen serve --port "$PNEW" --no-worker --workers 1 --threads 8 >/tmp/bench-after.log 2>&1 & NEW=$!
(cd "$BEFORE" && PYTHONPATH="$BEFORE" exec "$ROOT/.venv/bin/python" -c 'import sys, kaisen; assert kaisen.__file__.startswith("'"$BEFORE"'"), kaisen.__file__; from kaisen.cli import app; sys.argv=["kaisen","serve","--port","'"$POLD"'","--no-worker","--workers","1","--threads","8"]; app()' >/tmp/bench-before.log 2>&1) & OLD=$!
trap 'kill -TERM $NEW $OLD 2>/dev/null || true' EXIT
for p in "$PNEW" "$POLD"; do for _ in $(seq 90); do curl -fs "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 1; done; done
tok() { curl -fs -X POST "http://127.0.0.1:$1/api/v1/auth" -H 'Content-Type: application/json' \
  -d "{\"operator_id\":\"$OP\",\"username\":\"$USER_\",\"password\":\"$PASS\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])'; }
TN=$(tok "$PNEW"); TO=$(tok "$POLD")
one() { out=$(ab -q -n "$N" -c "$C" "$@"); echo "rps=$(echo "$out" | awk '/Requests per second/ {print $4}') p50=$(echo "$out" | awk '$1=="50%" {print $2}') p99=$(echo "$out" | awk '$1=="99%" {print $2}') failed=$(echo "$out" | awk '/Failed requests/ {print $3}') $(echo "$out" | awk '/Non-2xx/ {print "non2xx=" $3}')"; }
ab -q -n 200 -c "$C" -H "Authorization: Bearer $TN" "http://127.0.0.1:$PNEW/api/v1/lines/by-msisdn/$NUM" >/dev/null
ab -q -n 200 -c "$C" -H "Authorization: Bearer $TO" "http://127.0.0.1:$POLD/api/v1/lines/by-msisdn/$NUM" >/dev/null
ab -q -n 200 -c "$C" "http://127.0.0.1:$PNEW/bench-minimal/$NUM" >/dev/null
for r in $(seq "$REPEATS"); do
  echo "round=$r api-after $(one -H "Authorization: Bearer $TN" "http://127.0.0.1:$PNEW/api/v1/lines/by-msisdn/$NUM")"
  echo "round=$r api-before $(one -H "Authorization: Bearer $TO" "http://127.0.0.1:$POLD/api/v1/lines/by-msisdn/$NUM")"
  echo "round=$r minimal $(one "http://127.0.0.1:$PNEW/bench-minimal/$NUM")"
done
