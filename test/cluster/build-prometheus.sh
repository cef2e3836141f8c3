#!/usr/bin/env bash
# Builds a real Prometheus server from its Go module (github.com/prometheus/prometheus/cmd/prometheus)
# into the cache outside the repo, for the autoscaler's Prometheus-source test. Prints the binary's
# path. A warm run is a no-op. (Module v0.3xx.y is Prometheus 3.xx.y.)
set -euo pipefail

PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
CACHE="${DSO_CACHE:-$HOME/.cache/deepseek-operator}"
OUT="$CACHE/prometheus/$PROMETHEUS_MODULE_VERSION/prometheus"
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
SRC="$CACHE/prometheus/src-$PROMETHEUS_MODULE_VERSION"
mkdir -p "$SRC" "$(dirname "$OUT")"
cd "$SRC"
[ -f go.mod ] || go mod init local.test/prometheus >/dev/null 2>&1
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
# Without the builtinassets tag: the web UI's compiled files are not in the module, and the HTTP API the
# tests use needs none of them.
go get "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" >&2
go build -o "$OUT.tmp" github.com/prometheus/prometheus/cmd/prometheus >&2
mv "$OUT.tmp" "$OUT"
echo "$OUT"
