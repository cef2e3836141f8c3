#!/usr/bin/env bash
# Builds the real control-plane binaries from upstream Go modules into a cache outside the repo.
# Only what is missing is built, so a warm run is a no-op. Never commit the output.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE="${DSO_CACHE:-$HOME/.cache/deepseek-operator}"
BIN="$CACHE/k8s/$K8S_VERSION"
SRC="$CACHE/k8s/src-$K8S_VERSION"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

want=(kube-apiserver kube-controller-manager kube-scheduler etcd kubectl kwok)
missing=()
for b in "${want[@]}"; do [ -x "$BIN/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "binaries present in $BIN"; exit 0; fi
# CI may run with a PATH that lacks the toolchain's folder.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
if ! command -v go >/dev/null; then
  echo "go is not installed: building the control plane needs Go >= 1.26 (kwok $KWOK_VERSION's go.mod says go 1.26.0)" >&2
  exit 1
fi
echo "building ${missing[*]} into $BIN (k8s $K8S_VERSION, kwok $KWOK_VERSION)"
start=$(date +%s)
mkdir -p "$BIN" "$SRC"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# k8s.io/kubernetes pins its staging modules at v0.0.0 with local replaces, which a consumer
# ignores; the wrapper module re-points every staging module at its published tag.
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
  kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)
{
  echo "module local.test/k8sbins"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING_VERSION"; done
  echo ")"
} > "$SRC/go.mod"
cat > "$SRC/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
cd "$SRC"
[ -f go.sum ] || go mod tidy

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
LDF="-s -w"
for kv in gitVersion=$K8S_VERSION gitMajor=1 gitMinor=$minor gitTreeState=clean gitCommit=unknown buildDate=1970-01-01T00:00:00Z; do
  LDF="$LDF -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
done
k8s_pkgs=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$BIN/$b" ] || k8s_pkgs+=("k8s.io/kubernetes/cmd/$b")
done
if [ ${#k8s_pkgs[@]} -gt 0 ]; then
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$LDF" -o "$BIN/" "${k8s_pkgs[@]}"
fi
[ -x "$BIN/etcd" ] || go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
# kwok's go.mod has no replace lines, so a plain go install works.
[ -x "$BIN/kwok" ] || GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

echo "built in $(( $(date +%s) - start ))s"
"$BIN/kube-apiserver" --version
