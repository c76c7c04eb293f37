#!/usr/bin/env bash
# Banned-function check (like curl's checksrc): unsafe C calls never enter the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(git grep --untracked -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok)\s*\(' -- '*.c' '*.h' '*.cu' '*.cuh' || true)
if [ -n "$bad" ]; then
  echo "checksrc: banned functions (use snprintf, memcpy with lengths, strtol, strtok_r):"
  echo "$bad"
  exit 1
fi
echo "checksrc: ok"
