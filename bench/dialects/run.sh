#!/usr/bin/env bash
# run.sh measures Outcrop's OpenAI dialect (POST /v1/chat/completions through
# an `openai` backend) against the bench's bare pass-through proxy (floor
# -mode proxy), both in front of the same mock upstream, in one run on
# 127.0.0.1 (shared/bench/run-peer.sh): max throughput (closed loop) and
# latency at a fixed rate, with CPU per request of each process.
#
#   bench/dialects/run.sh [--duration 10s] [--reps 1] [more run-peer.sh options]
#
# BENCH is the shared bench directory (default /work/shared/bench). Results go
# to bench/results/dialects-<time>/summary.md (git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${BENCH:-/work/shared/bench}
out=$root/bench/results/dialects-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" "$root/bin"
(cd "$root" && go build -o bin/outcrop ./cmd/outcrop)
cd "$bench"
exec ./run-peer.sh --name outcrop --with-floor --scenarios "ns-max ns-rate" --rates 1000 \
  --duration 10s --warmup 2s --reps 1 --conns 64 \
  --url http://127.0.0.1:18080 --path /v1/chat/completions \
  --body "$here/chat.json" --stream-body "$here/chat-stream.json" \
  --file "$here/outcrop.yaml:outcrop.yaml" \
  --out "$out" "$@" \
  "$root/bin/outcrop" -- serve --config {WORKDIR}/outcrop.yaml --data-dir {WORKDIR}/data \
  --listen 127.0.0.1:18080 --auth-mode any --log-level warn
