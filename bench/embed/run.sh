#!/usr/bin/env bash
# run.sh benchmarks Outcrop's built-in MiniLM encoder against
# sentence-transformers on the same sentences (bench/embed/sentences.txt),
# back to back on this machine, and prints the ratio per thread count.
#
#   pip install sentence-transformers     # once
#   bench/embed/run.sh [benchtime]        # e.g. 5x (default)
#
# Needs the model from scripts/fetch-models.sh. PYTHON selects the
# interpreter that has sentence-transformers. Both wall-clock sentences/s and
# sentences per CPU-second are reported; on a shared machine the CPU figure
# is the steadier one.
set -euo pipefail
cd "$(dirname "$0")/../.."
benchtime="${1:-5x}"
python="${PYTHON:-python3}"

go_out="$(GOEXPERIMENT=simd go test -run '^$' -bench 'BenchmarkEmbed' -benchtime "$benchtime" ./internal/engine/bert/)"
echo "$go_out" | grep Benchmark
py_out="$(HF_HUB_OFFLINE=1 "$python" bench/embed/ref.py 2>/dev/null)"
echo "$py_out"

for t in 1 2; do
  go_line="$(echo "$go_out" | grep "threads$t-")"
  py_line="$(echo "$py_out" | grep "threads=$t ")"
  go_sps="$(echo "$go_line" | awk '{for (i=1;i<=NF;i++) if ($i=="sentences/s") print $(i-1)}')"
  go_cpu="$(echo "$go_line" | awk '{for (i=1;i<=NF;i++) if ($i=="sentences/cpu-s") print $(i-1)}')"
  py_sps="$(echo "$py_line" | sed -n 's/.* sentences\/s=\([0-9.]*\).*/\1/p')"
  py_cpu="$(echo "$py_line" | sed -n 's/.*sentences\/cpu-s=\([0-9.]*\).*/\1/p')"
  awk -v t="$t" -v g="$go_sps" -v p="$py_sps" -v gc="$go_cpu" -v pc="$py_cpu" 'BEGIN {
    printf "threads=%s  outcrop %.1f vs sentence-transformers %.1f sentences/s: ratio %.2fx;  per CPU-second %.1f vs %.1f: ratio %.2fx\n", t, g, p, g/p, gc, pc, gc/pc }'
done
