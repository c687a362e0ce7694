#!/usr/bin/env bash
# serve.sh fetches the default model weights (if missing), builds outcrop with
# the fast (AVX2, simd/archsimd) engine kernels and starts the server on the
# embedded default. Extra arguments go to `outcrop serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh
GOEXPERIMENT=simd go build -o bin/outcrop ./cmd/outcrop
exec bin/outcrop serve "$@"
