#!/usr/bin/env bash
# Lint the shipped systemd units offline (systemd-analyze verify works without a running systemd).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
units=(systemd/*.service)
if [ ${#units[@]} -eq 0 ]; then
  echo "verify-units: no units"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify resolves ExecStart= binaries: point them at stand-ins in a temp root.
for u in "${units[@]}"; do
  name=$(basename "$u")
  sed -e "s#/usr/local/bin/#$tmp/bin/#g" -e "s#/usr/local/lib/ourvidz/#$tmp/bin/#g" "$u" > "$tmp/$name"
done
mkdir -p "$tmp/bin"
for b in ourvidz-supervisor ourvidz-wan ourvidz-sdxl ourvidz-qwen ourvidzctl ourvidz-worker; do
  printf '#!/bin/sh\nexit 0\n' > "$tmp/bin/$b"
  chmod +x "$tmp/bin/$b"
done
plain=()
for u in "$tmp"/*.service; do
  case "$u" in *@.service) ;; *) plain+=("./$(basename "$u")") ;; esac
done
out=""
if [ ${#plain[@]} -gt 0 ]; then
  out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "${plain[@]}" 2>&1 || true)
fi
# Template units are verified through an instance name.
inst=()
for u in "$tmp"/*@.service; do
  base=$(basename "$u" .service)
  cp "$u" "$tmp/${base}wan.service"
  inst+=("./${base}wan.service")
done
if [ ${#inst[@]} -gt 0 ]; then
  out+=$'\n'$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "${inst[@]}" 2>&1 || true)
fi
# Only complaints about our files count (the host's own units may be noisy).
ours=$(printf '%s\n' "$out" | grep -E 'ourvidz' | grep -vE 'is not a valid unit name|Unit .*@\.service.*template' || true)
if [ -n "$ours" ]; then
  echo "verify-units: systemd-analyze complained:"
  echo "$ours"
  exit 1
fi
echo "verify-units: ${#units[@]} units ok"
