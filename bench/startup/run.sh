#!/usr/bin/env bash
# run.sh measures how long `outcrop serve` takes from exec until /healthz
# answers, and its idle RSS (no model weights are loaded until first use).
# Usage: bench/startup/run.sh [runs]   (builds bin/outcrop first)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
GOEXPERIMENT=simd go build -o bin/outcrop ./cmd/outcrop
port=$((20000 + RANDOM % 20000))
for i in $(seq "$runs"); do
  dir="$(mktemp -d)"
  [[ $i -gt 1 ]] || true
  start=$(date +%s%N)
  bin/outcrop serve --data-dir "$dir" --listen "127.0.0.1:$port" --log-level warn >/dev/null 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # second start on the same data dir (root key exists; no migration work)
  start=$(date +%s%N)
  bin/outcrop serve --data-dir "$dir" --listen "127.0.0.1:$port" --log-level warn >/dev/null 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
  warm=$(( ($(date +%s%N) - start) / 1000000 ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "run $i: first start ready in ${ready} ms, restart ready in ${warm} ms, idle RSS $((rss / 1024)) MiB"
done
