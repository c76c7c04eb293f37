#!/usr/bin/env bash
# Container entrypoint (RunPod, single container): supervisor in spawn mode, logs to stdout.
# Configuration comes from /etc/ourvidz/ourvidz.conf when present, else the embedded defaults,
# and from OURVIDZ_* / REDIS_URL / SUPABASE_* environment variables.
set -euo pipefail

BIN_DIR=${OURVIDZ_BIN_DIR:-/usr/local/lib/ourvidz}
CONF=${OURVIDZ_CONFIG:-/etc/ourvidz/ourvidz.conf}
export OURVIDZ_SUPERVISOR_BIN_DIR=${OURVIDZ_SUPERVISOR_BIN_DIR:-$BIN_DIR}
export OURVIDZ_RUNTIME_DIR=${OURVIDZ_RUNTIME_DIR:-/run/ourvidz}
mkdir -p "$OURVIDZ_RUNTIME_DIR"
chmod 0750 "$OURVIDZ_RUNTIME_DIR"

args=(--spawn-workers)
[ -f "$CONF" ] && args+=(--config "$CONF")

SUP=${OURVIDZ_SUPERVISOR:-/usr/local/bin/ourvidz-supervisor}
[ -x "$SUP" ] || SUP="$BIN_DIR/ourvidz-supervisor"
# exec: the supervisor receives the container's SIGTERM directly and drains its workers.
exec "$SUP" "${args[@]}" "$@" 2>&1
