#!/usr/bin/env bash
# The demo: install dependencies, build, start a local redis-server on a Unix socket in a temp dir,
# the supervisor in spawn mode with its workers, and show what every worker is doing.
# Usage: scripts/demo.sh [--keep]   (--keep: leave it running until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

bash scripts/setup.sh
echo "== building =="
bash scripts/build.sh build

tmp=$(mktemp -d /tmp/ourvidz-demo.XXXXXX)
sup_pid=""
redis_pid=""
cleanup() {
  if [ -n "$sup_pid" ] && kill -0 "$sup_pid" 2>/dev/null; then
    echo "== stopping the supervisor (SIGTERM: drain, then stop workers) =="
    kill -TERM "$sup_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$sup_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$sup_pid" 2>/dev/null || true
    wait "$sup_pid" 2>/dev/null && echo "supervisor exited 0" || echo "supervisor exited with $?"
  fi
  if [ -n "$redis_pid" ]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_socket() { # path, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do [ -S "$1" ] && return 0; sleep 0.1; done
  echo "demo: $1 did not appear within $2 s" >&2
  return 1
}

echo "== redis-server on $tmp/redis.sock =="
redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --dir "$tmp" \
  --save "" --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
redis_pid=$!
wait_for_socket "$tmp/redis.sock" 10

export REDIS_URL="unix://$tmp/redis.sock"
export OURVIDZ_RUNTIME_DIR="$tmp/run"
export OURVIDZ_SUPERVISOR_BIN_DIR="$root/build/bin"
export OURVIDZ_MODELS_DIR="$tmp/models"
export OURVIDZ_STORAGE_DIR="$tmp/storage"
mkdir -p "$OURVIDZ_MODELS_DIR" "$OURVIDZ_STORAGE_DIR"

echo "== supervisor (spawn mode) =="
"$root/build/bin/ourvidz-supervisor" --config "$root/config/ourvidz.conf" --spawn-workers \
  >"$tmp/supervisor.log" 2>&1 &
sup_pid=$!
wait_for_socket "$OURVIDZ_RUNTIME_DIR/status.sock" 15
sleep 3

echo "== a job, pushed the way the OurVidz frontend pushes it =="
job_id=$("$root/build/bin/ourvidzctl" submit --type sdxl_image_fast --prompt "a lighthouse at dusk, oil painting" \
  --user-id 00000000-0000-4000-8000-000000000001 --num-images 1)
echo "submitted $job_id"
"$root/build/bin/ourvidzctl" wait "$job_id" --timeout 3 || true
echo "(no sdxl worker can run it in this version, so it stays safely in Redis: nothing is lost)"
echo

echo "== ourvidzctl status =="
"$root/build/bin/ourvidzctl" status
echo
echo "== supervisor log (last lines) =="
tail -n 15 "$tmp/supervisor.log"
echo
echo "Workers whose model pipeline is not built in this version report 'failed' with the reason"
echo "above and are not respawned (exit code 78); the rest of the service keeps running."

if [ "$keep" -eq 1 ]; then
  echo "Try: OURVIDZ_RUNTIME_DIR=$OURVIDZ_RUNTIME_DIR build/bin/ourvidzctl status --json"
  echo "Running; Ctrl-C to stop."
  wait "$sup_pid" || true
fi
