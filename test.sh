#!/usr/bin/env bash
# The one command that runs ward's tests on a fresh machine.
# Vet and formatting first (cheap, catch what review would), then every test,
# then the concurrency packages again under the race detector.
set -euo pipefail
cd "$(dirname "$0")"
# The C guest tests need clang, lld and wasi-libc: install them from Debian's
# archive if missing (a no-op otherwise), or say in one line that they skip.
sh guest/c/install-toolchain.sh
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# Committed Wasm builds must match their sources (go generate rebuilds them).
go run ./internal/tools/wat2wasm -check $(git ls-files '*.wat' 2>/dev/null || find . -name '*.wat')
# docs/abi.md and guest/c/ward.h must match the host function table.
go run ./internal/tools/abigen -check
go test -count=1 ./...
go test -count=1 -race ./mailbox/... ./registry/... ./runtime/... ./supervisor/... ./hostapi/... ./cluster/... ./examples/...
