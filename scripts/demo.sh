#!/usr/bin/env bash
# The demo: install dependencies, build, write tiny random-weight models (once), start a local
# redis-server on a Unix socket in a temp dir, the supervisor in spawn mode with its workers, show
# a prompt enhancement through the supervisor's POST /enhance, push a job, and show what every
# worker is doing.
# Usage: scripts/demo.sh [--keep]   (--keep: leave it running until Ctrl-C)
# Real Qwen2.5 weights instead of the tiny random model (a HF folder or a .gguf file):
#   OURVIDZ_WORKER_QWEN_MODEL=/models/Qwen2.5-7B-Instruct scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

bash scripts/setup.sh
echo "== building =="
bash scripts/build.sh build

# Tiny random-weight models in the real layouts (HF folders, GGUF), written once and reused.
models="$root/build/demo-models"
if [ -f "$models/.complete" ]; then
  echo "== tiny models: already in $models =="
else
  echo "== tiny models: ourvidz-mkmodel all --preset tiny --out $models =="
  mkdir -p "$models"
  if "$root/build/bin/ourvidz-mkmodel" all --preset tiny --out "$models"; then
    touch "$models/.complete"
  else
    echo "(not every kind could be written; the workers without a model will say so below)"
  fi
fi

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
export OURVIDZ_MODELS_DIR="$models"
export OURVIDZ_STORAGE_DIR="$tmp/storage"
mkdir -p "$OURVIDZ_STORAGE_DIR"
# POST /enhance on a local port, with a throw-away key (the endpoint is off without one).
export OURVIDZ_HTTP_PORT=${OURVIDZ_HTTP_PORT:-$((17000 + RANDOM % 2000))}
export WAN_WORKER_API_KEY=${WAN_WORKER_API_KEY:-demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}

echo "== supervisor (spawn mode) =="
"$root/build/bin/ourvidz-supervisor" --config "$root/config/ourvidz.conf" --spawn-workers \
  >"$tmp/supervisor.log" 2>&1 &
sup_pid=$!
wait_for_socket "$OURVIDZ_RUNTIME_DIR/status.sock" 15
sleep 3

wait_for_worker() { # name, state, seconds
  for _ in $(seq 1 $(( $3 * 5 ))); do
    "$root/build/bin/ourvidzctl" status --json 2>/dev/null |
      python3 -c 'import json,sys; w=[x for x in json.load(sys.stdin)["workers"] if x["name"]==sys.argv[1]]; sys.exit(0 if w and w[0]["state"] in sys.argv[2].split(",") else 1)' "$1" "$2" && return 0
    sleep 0.2
  done
  return 1
}

enhance() { # prompt, enhance_type: POST /enhance the way the enhance-prompt edge function does
  python3 - "$OURVIDZ_HTTP_PORT" "$WAN_WORKER_API_KEY" "$1" "$2" <<'PY'
import json, sys, urllib.error, urllib.request
port, key, prompt, etype = sys.argv[1:5]
req = urllib.request.Request(
    "http://127.0.0.1:%s/enhance" % port,
    data=json.dumps({"prompt": prompt, "model": "qwen_base", "enhance_type": etype}).encode(),
    headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=120) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except OSError as e:
    print("enhance: no answer from the supervisor: %s" % e)
    sys.exit(0)
print("HTTP %d" % status)
try:
    reply = json.loads(body)
    ep = reply.get("enhanced_prompt") or ""
    if len(ep) > 400:  # random weights write up to max_new_tokens of gibberish: show the start
        reply["enhanced_prompt"] = ep[:400] + " ... (%d characters in all)" % len(ep)
    print(json.dumps(reply, indent=2, ensure_ascii=False))
except ValueError:
    print(body.decode("utf-8", "replace"))
PY
}

echo "== prompt enhancement through the supervisor: POST /enhance (qwen worker) =="
if wait_for_worker qwen.0 ready,failed 120 && wait_for_worker qwen.0 ready 1; then
  enhance "a lighthouse at dusk, waves crashing" video
  if [ -z "${OURVIDZ_WORKER_QWEN_MODEL:-}" ]; then
    echo "(That text is gibberish on purpose: the demo's Qwen model has tiny RANDOM weights written by"
    echo " ourvidz-mkmodel, so it can only show the path: supervisor -> qwen worker -> cleanup -> reply."
    echo " For real enhancements point the worker at Qwen2.5 weights, a HF folder or a GGUF file:"
    echo "   OURVIDZ_WORKER_QWEN_MODEL=/models/Qwen2.5-7B-Instruct scripts/demo.sh"
    echo "   or  [worker.qwen] model = /models/qwen2.5-7b-instruct-q8_0.gguf  in config/ourvidz.conf"
    echo " and try it without the supervisor:"
    echo "   build/bin/ourvidz-qwen --model /models/Qwen2.5-7B-Instruct --enhance video --prompt \"a cat\""
    echo " The enhancement instructions are plain text in config/enhance/ (docs/ENHANCE.md).)"
  fi
else
  echo "(the qwen worker is not ready; its reason is in the status table below)"
fi
echo

echo "== an SDXL job, pushed the way the OurVidz frontend pushes it (sdxl worker) =="
# The frontend's sdxl_image_fast is 1024x1024 at 15 steps: minutes on a CPU. The demo asks for
# 256x256 at 4 steps (overrides the job contract allows, docs/JOBS.md) so it finishes in seconds.
if wait_for_worker sdxl.0 ready,failed 120 && wait_for_worker sdxl.0 ready 1; then
  job_id=$("$root/build/bin/ourvidzctl" submit --type sdxl_image_fast --prompt "a lighthouse at dusk, oil painting" \
    --user-id 00000000-0000-4000-8000-000000000001 --num-images 3 --seed 42 --resolution 256x256 --steps 4)
  echo "submitted $job_id (3 images, 256x256, 4 steps)"
  if "$root/build/bin/ourvidzctl" wait "$job_id" --timeout 300; then
    echo "(done: the PNGs are in the storage folder:)"
    find "$OURVIDZ_STORAGE_DIR" -name '*.png' | sort | sed 's/^/  /'
    if [ -z "${OURVIDZ_WORKER_SDXL_MODEL:-}" ]; then
      echo "(The pictures are noise on purpose: the demo's SDXL checkpoint has tiny RANDOM weights."
      echo " Point the worker at a real single-file SDXL checkpoint for real images:"
      echo "   OURVIDZ_WORKER_SDXL_MODEL=/models/sd_xl_base_1.0.safetensors scripts/demo.sh"
      echo " or without the supervisor:"
      echo "   build/bin/ourvidz-sdxl --model FILE --prompt \"a cat\" --steps 25 --out /tmp/sdxl)"
    fi
  else
    echo "(not finished in time: a job still running stays safely in Redis; the status table shows it)"
  fi
else
  echo "(the sdxl worker is not ready; its reason is in the status table below)"
fi
echo

echo "== ourvidzctl status =="
"$root/build/bin/ourvidzctl" status
echo
echo "== supervisor log (last lines) =="
tail -n 15 "$tmp/supervisor.log"
echo
echo "A worker whose model pipeline is not built in this version (wan) reports 'failed' with the"
echo "reason above and is not respawned (exit code 78); the rest of the service keeps running."

if [ "$keep" -eq 1 ]; then
  echo "Try: OURVIDZ_RUNTIME_DIR=$OURVIDZ_RUNTIME_DIR build/bin/ourvidzctl status --json"
  echo "Running; Ctrl-C to stop."
  wait "$sup_pid" || true
fi
