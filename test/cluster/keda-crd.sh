#!/usr/bin/env bash
# KEDA's ScaledObject CRD, taken from KEDA's own Go module (github.com/kedacore/keda/v2 carries
# config/crd/bases/) into the cache outside the repo. Prints the CRD file's path. A warm run is a no-op.
set -euo pipefail

KEDA_VERSION="${KEDA_VERSION:-v2.21.1}"
CACHE="${DSO_CACHE:-$HOME/.cache/deepseek-operator}"
OUT="$CACHE/keda/$KEDA_VERSION/keda.sh_scaledobjects.yaml"
if [ -s "$OUT" ]; then echo "$OUT"; exit 0; fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init local.test/keda-crd >/dev/null 2>&1
# -json names the module's zip in the module cache; the CRD is read from it (unpacking the module
# would also check its go directive against this toolchain, which a CRD file does not need).
# It exits non-zero for that go directive even though the zip is in the cache, hence the `|| true`.
zip="$( (GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" || true) |
  sed -n 's/^[[:space:]]*"Zip": "\(.*\)",$/\1/p')"
[ -s "$zip" ] || { echo "github.com/kedacore/keda/v2@$KEDA_VERSION: no module zip" >&2; exit 1; }
member="github.com/kedacore/keda/v2@$KEDA_VERSION/config/crd/bases/keda.sh_scaledobjects.yaml"
unzip -p "$zip" "$member" >"$work/crd.yaml"
[ -s "$work/crd.yaml" ] || { echo "no ScaledObject CRD in $zip" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
cp "$work/crd.yaml" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "$OUT"
