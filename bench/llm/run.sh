#!/usr/bin/env bash
# run.sh benchmarks Outcrop's built-in engine against llama.cpp on the same
# model file (SmolLM2-135M-Instruct Q4_1), in the same run, alternating the
# two so that both see the same load on a shared machine, and prints the
# median of each figure and the ratio outcrop ÷ llama.cpp:
#
#   decode tokens/s at 1 and 2 threads   (llama-bench tg64;  BenchmarkDecode)
#   prompt tokens/s, 128-token prompt    (llama-bench pp128; BenchmarkPrefill)
#
#   bench/llm/run.sh [rounds]            # default 3
#
# llama.cpp comes from the llama-cpp-python sdist on PyPI (the same source
# the golden tokens were recorded with): the first run downloads it with
# pip and builds only the llama-bench tool, with -march=native kernels, into
# $OUTCROP_BENCH_CACHE (default ~/.cache/outcrop-bench); that takes about
# five minutes on two cores. LLAMA_BENCH=/path/to/llama-bench skips the
# build. Needs cmake, ninja (or make), a C++ compiler, and the model from
# scripts/fetch-models.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
python="${PYTHON:-python3}"
llama_cpp_python_version=0.3.36
cache="${OUTCROP_BENCH_CACHE:-$HOME/.cache/outcrop-bench}"
models="${OUTCROP_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/outcrop/models}"
model="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$model" ] || { echo "missing $model: run scripts/fetch-models.sh" >&2; exit 1; }

bench="${LLAMA_BENCH:-}"
if [ -z "$bench" ]; then
  src="$cache/llama_cpp_python-$llama_cpp_python_version/vendor/llama.cpp"
  bench="$src/build/bin/llama-bench"
  if [ ! -x "$bench" ]; then
    mkdir -p "$cache"
    echo "building llama-bench from llama-cpp-python==$llama_cpp_python_version (once)..." >&2
    "$python" -m pip download --quiet --no-deps --no-binary :all: \
      "llama-cpp-python==$llama_cpp_python_version" -d "$cache"
    tar -xzf "$cache/llama_cpp_python-$llama_cpp_python_version.tar.gz" -C "$cache"
    gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$src" -B "$src/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_BUILD_SERVER=OFF >"$cache/cmake.log" 2>&1
    cmake --build "$src/build" --target llama-bench -j "$(nproc)" >"$cache/build.log" 2>&1
  fi
fi

mkdir -p "$cache"
GOEXPERIMENT=simd go test -c -o "$cache/llm.test" ./internal/engine/llm/

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  echo "round $r/$rounds: llama.cpp" >&2
  "$bench" -m "$model" -p 128 -n 64 -t 1,2 -r 1 -o json 2>/dev/null |
    "$python" -c 'import json,sys
for t in json.load(sys.stdin):
    kind = "prefill" if t["n_prompt"] else "decode"
    print("llama.cpp", kind, t["n_threads"], t["avg_ts"])' >>"$out"
  echo "round $r/$rounds: outcrop" >&2
  (cd internal/engine/llm && "$cache/llm.test" -test.run '^$' -test.bench 'Decode|Prefill' -test.benchtime 2s) |
    awk '/^Benchmark/ {
      kind = ($1 ~ /Decode/) ? "decode" : "prefill"
      match($1, /threads=[0-9]+/); th = substr($1, RSTART + 8, RLENGTH - 8)
      for (i = 1; i <= NF; i++) if ($i == "tok/s") print "outcrop", kind, th, $(i-1) }' >>"$out"
done

"$python" - "$out" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    eng, kind, th, v = line.split()
    rows.setdefault((kind, int(th)), {}).setdefault(eng, []).append(float(v))
print(f"{'test':<22}{'outcrop tok/s':>15}{'llama.cpp tok/s':>17}{'ratio':>8}   (medians of each round)")
for (kind, th), v in sorted(rows.items()):
    o, l = statistics.median(v.get("outcrop", [0])), statistics.median(v.get("llama.cpp", [0]))
    name = f"{kind} {'tg64' if kind == 'decode' else 'pp128'} t={th}"
    print(f"{name:<22}{o:>15.1f}{l:>17.1f}{(o / l if l else 0):>7.2f}x")
EOF
