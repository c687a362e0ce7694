#!/usr/bin/env bash
# run.sh measures the lower bound of any gateway on this machine: a TCP
# relay that parses nothing (bench/relay), against the bench's bare
# pass-through proxy (floor -mode proxy), both in front of the same mock
# upstream, at max throughput (closed loop, 64 connections), in one run
# (shared/bench/run-peer.sh). The relay's throughput over the proxy's is the
# most that any HTTP gateway could reach here, where the load generator, the
# mock and the gateway share the CPUs.
#
#   bench/relay/run.sh [--reps 2] [--splice=false] [more run-peer.sh options]
#
# BENCH is the shared bench directory (default /work/shared/bench). Results
# go to bench/results/relay-<time>/summary.md (git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${BENCH:-/work/shared/bench}
out=$root/bench/results/relay-$(date +%Y%m%d-%H%M%S)
splice=true
args=()
for a in "$@"; do
  case $a in
    --splice=*) splice=${a#--splice=} ;;
    *) args+=("$a") ;;
  esac
done
mkdir -p "$out" "$root/bin"
(cd "$root" && go build -o bin/relay ./bench/relay)
cd "$bench"
exec ./run-peer.sh --name relay --with-floor --scenarios "ns-max" \
  --duration 10s --warmup 2s --reps 2 --conns 64 \
  --url http://127.0.0.1:18080 --path /v1/chat/completions \
  --body "$root/bench/dialects/chat.json" --stream-body "$root/bench/dialects/chat-stream.json" \
  --out "$out" "${args[@]}" \
  "$root/bin/relay" -- -listen 127.0.0.1:18080 -upstream {MOCK_URL} -splice="$splice"
