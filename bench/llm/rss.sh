#!/usr/bin/env bash
# rss.sh measures the peak resident memory (VmHWM) of `outcrop serve` while
# the built-in engine answers Converse requests on SmolLM2, for comparison
# with the budget model file + KV cache + 50 MiB (docs/engine.md).
#
#   bench/llm/rss.sh [contextTokens] [sessions]     # default 512 1
#
# It builds bin/outcrop with the fast kernels, starts it on a fresh data
# directory on 127.0.0.1:4399 with --auth-mode any, sends `sessions`
# concurrent requests of a 48-token prompt and 400 output tokens, then
# prints VmHWM and stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
ctx="${1:-512}"
sessions="${2:-1}"
models="${OUTCROP_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/outcrop/models}"
GOEXPERIMENT=simd go build -o bin/outcrop ./cmd/outcrop
dir="$(mktemp -d)"
cat >"$dir/config.yaml" <<YAML
backends:
  local:
    kind: local
    config: {contextTokens: $ctx, sessionsPerModel: $sessions}
YAML
bin/outcrop serve --config "$dir/config.yaml" --data-dir "$dir" --models-dir "$models" \
  --listen 127.0.0.1:4399 --auth-mode any --log-level warn >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:4399/healthz >/dev/null && break; sleep 0.1; done
echo "idle: $(grep VmRSS /proc/$pid/status)"
body='{"messages":[{"role":"user","content":[{"text":"Write a long story about a river that flows through a mountain valley, with many details."}]}],"inferenceConfig":{"maxTokens":400,"temperature":0}}'
for _ in $(seq "$sessions"); do
  curl -sf -X POST http://127.0.0.1:4399/model/outcrop.smollm2-135m-instruct/converse \
    -H 'Content-Type: application/json' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00' \
    -d "$body" | grep -o '"usage":{[^}]*}' &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
grep -E 'VmHWM' /proc/$pid/status
