#!/usr/bin/env bash
# run.sh measures Outcrop's OpenAI dialect (POST /v1/chat/completions through
# an `openai` backend) against the bench's bare pass-through proxy (floor
# -mode proxy), both in front of the same mock upstream, in one run on
# 127.0.0.1 (shared/bench/run-peer.sh): max throughput (closed loop) and
# latency at a fixed rate, with CPU per request of each process, for plain
# calls (ns-*) and SSE streams of 50 chunks (st-*: time to first byte at 200
# streams/s, CPU per stream at max).
#
#   bench/dialects/run.sh [--duration 10s] [--reps 1] [more run-peer.sh options]
#   bench/dialects/run.sh --scenarios "ns-max ns-rate"     # plain calls only
#
# BENCH is the shared bench directory (default /work/shared/bench). OUTCROP
# is the binary to measure (default: bin/outcrop, built from this tree), so
# that two builds can be compared with the same script. Results go to
# bench/results/dialects-<time>/summary.md (git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${BENCH:-/work/shared/bench}
out=$root/bench/results/dialects-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" "$root/bin"
bin=${OUTCROP:-}
if [ -z "$bin" ]; then
  (cd "$root" && go build -o bin/outcrop ./cmd/outcrop)
  bin=$root/bin/outcrop
fi
cd "$bench"
exec ./run-peer.sh --name outcrop --with-floor --scenarios "ns-max ns-rate st-rate st-max" --rates 1000 \
  --stream-rates 200 \
  --duration 10s --warmup 2s --reps 1 --conns 64 \
  --url http://127.0.0.1:18080 --path /v1/chat/completions \
  --body "$here/chat.json" --stream-body "$here/chat-stream.json" \
  --file "$here/outcrop.yaml:outcrop.yaml" \
  --out "$out" "$@" \
  "$bin" -- serve --config {WORKDIR}/outcrop.yaml --data-dir {WORKDIR}/data \
  --listen 127.0.0.1:18080 --auth-mode any --log-level warn
