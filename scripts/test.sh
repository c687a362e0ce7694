#!/usr/bin/env bash
# test.sh runs the whole test suite on a fresh machine: it installs what the
# tests need (model weights, Redis, PostgreSQL with pgvector, boto3, the
# openai and anthropic Python SDKs and LangChain's OpenAI, Anthropic and AWS
# integrations, the AWS SDK for JavaScript, the openai and @anthropic-ai/sdk
# npm packages), then runs every Go test on the portable kernels (with the
# race detector, except for the two numeric engine packages whose real-model
# tests it slows tenfold), and the engine and end-to-end tests again with the
# fast (simd/archsimd) kernels, and the vector search with its AVX2 dot product.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-models.sh
# Redis, for the quota store shared between replicas (its tests start a
# redis-server of their own on a free loopback port).
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "test.sh: redis-server is missing; install it (Debian: apt-get install redis-server)" >&2
    exit 1
  fi
fi
export OUTCROP_TEST_REDIS=require
python3 -m pip install --quiet --disable-pip-version-check -r test/python/requirements.txt
# PostgreSQL 16 with pgvector, for the knowledge-base store that replicas
# share: Debian has no pgvector package, and the pgserver wheel carries both
# (only its binaries are used: the tests run its initdb and postgres on a
# free loopback port, as nobody when root; internal/testpg).
python3 -m pip install --quiet --disable-pip-version-check --no-deps pgserver==0.1.4
export OUTCROP_TEST_POSTGRES=require
npm ci --prefix test/js --no-audit --no-fund --loglevel=error
npm ci --prefix test/js-dialects --no-audit --no-fund --loglevel=error

go vet ./...
GOEXPERIMENT=simd go vet ./internal/engine/... ./internal/kb/vector/

heavy='/internal/engine/(llm|bert)$'
go test -race -count=1 -timeout 30m $(go list ./... | grep -Ev "$heavy")
go test -count=1 -timeout 30m $(go list ./... | grep -E "$heavy")
# A real server process killed mid-ingestion: skipped under -race, where the
# child (the race-built test binary) embeds too slowly.
go test -count=1 -timeout 30m -run '^TestKBIngestionSurvivesKill$' ./cmd/outcrop/
GOEXPERIMENT=simd go test -count=1 -timeout 30m ./internal/engine/... ./internal/kb/vector/ ./internal/provider/... ./internal/server/...
echo "all tests passed"
