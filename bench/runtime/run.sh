#!/usr/bin/env bash
# run.sh measures Outcrop's Bedrock runtime (Converse and ConverseStream through
# an `openai` backend) against the bench's bare pass-through proxy (floor -mode
# proxy, OpenAI Chat Completions in and out), both in front of the same mock
# upstream, in one run on 127.0.0.1 (shared/bench/run-peer.sh): max throughput
# and latency at a fixed rate for Converse (ns-*), and time to first byte at 200
# streams/s and CPU per 50-chunk stream at max for ConverseStream (st-*), whose
# answer is the AWS event stream (so events are not counted as SSE lines; a
# stream must end with messageStop and metadata to count as valid).
#
#   bench/runtime/run.sh [--duration 10s] [--reps 1] [more run-peer.sh options]
#   bench/runtime/run.sh --scenarios st-max          # one scenario
#
# BENCH, OUTCROP and the results directory work as in bench/dialects/run.sh;
# results go to bench/results/runtime-<time>-{converse,stream}/summary.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${BENCH:-/work/shared/bench}
stamp=$(date +%Y%m%d-%H%M%S)
bin=${OUTCROP:-}
if [ -z "$bin" ]; then
  mkdir -p "$root/bin"
  (cd "$root" && go build -o bin/outcrop ./cmd/outcrop)
  bin=$root/bin/outcrop
fi
scenarios="ns-max ns-rate st-rate st-max"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scenarios) scenarios=$2; shift 2;;
    *) args+=("$1"); shift;;
  esac
done
ns=() st=()
for s in $scenarios; do
  case "$s" in ns-*) ns+=("$s");; st-*) st+=("$s");; *) echo "unknown scenario $s" >&2; exit 2;; esac
done
cd "$bench"
peer() { # name path expect scenarios...
  local name=$1 path=$2 expect=$3; shift 3
  local out=$root/bench/results/runtime-$stamp-$name
  mkdir -p "$out"
  ./run-peer.sh --name outcrop --with-floor --scenarios "$*" --rates 1000 --stream-rates 200 \
    --duration 10s --warmup 2s --reps 1 --conns 64 \
    --url http://127.0.0.1:18080 --path "$path" --expect "$expect" --min-events 0 \
    --body "$here/converse.json" --stream-body "$here/converse.json" \
    --file "$root/bench/dialects/outcrop.yaml:outcrop.yaml" \
    --out "$out" ${args[@]+"${args[@]}"} \
    "$bin" -- serve --config {WORKDIR}/outcrop.yaml --data-dir {WORKDIR}/data \
    --listen 127.0.0.1:18080 --auth-mode any --log-level warn
}
if [ ${#ns[@]} -gt 0 ]; then peer converse /model/openai.gpt-4o-mini/converse '"stopReason"' "${ns[@]}"; fi
if [ ${#st[@]} -gt 0 ]; then peer stream /model/openai.gpt-4o-mini/converse-stream messageStop "${st[@]}"; fi
