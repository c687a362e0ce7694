# Outcrop: the two commands of the README's quick start, and helpers.
.PHONY: serve test build bench fuzz

serve: ## fetch default models, build with fast kernels, start the server
	scripts/serve.sh

test: ## install test dependencies and run the whole test suite
	scripts/test.sh

build:
	GOEXPERIMENT=simd go build -o bin/outcrop ./cmd/outcrop

bench: ## gateway overhead benchmark (see docs/performance.md)
	go test -run '^$$' -bench 'Pipeline|Bare' -benchtime 2s ./internal/server/
