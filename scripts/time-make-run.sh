#!/bin/bash
# Time `make run` in a checkout: seconds until the dashboard answers /healthz, then Ctrl-C and the seconds to exit.
# Usage: scripts/time-make-run.sh [CHECKOUT] [LOG]   (e.g. on a fresh `git clone` to measure a first run)
set -u
dir=${1:-.}
log=${2:-/tmp/yuqing-make-run.log}
cd "$dir"
t0=$(date +%s.%N)
setsid make run SPEED=3000 > "$log" 2>&1 &
pid=$!
up=""
for _ in $(seq 1 1200); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/healthz)" = 200 ]; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$up" ]; then echo "dashboard never came up; see $log"; kill -TERM -- -"$pid" 2>/dev/null; exit 1; fi
echo "dashboard after $(echo "$(date +%s.%N) - $t0" | bc) s"
sleep 5
t1=$(date +%s.%N)
kill -INT -- -"$pid"
wait "$pid"; rc=$?
echo "exit $rc after Ctrl-C in $(echo "$(date +%s.%N) - $t1" | bc) s"
