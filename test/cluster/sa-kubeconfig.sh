#!/usr/bin/env bash
# Writes a kubeconfig for a ServiceAccount of the local cluster, with a token minted through the
# TokenRequest API (`kubectl create token`), so a process (the operator in the demo) runs with
# exactly the RBAC granted to that account instead of as the admin.
# Usage: sa-kubeconfig.sh <namespace> <serviceaccount> <out-file> [duration, default 24h]
# The ServiceAccount is created when missing; its Role/ClusterRole bindings are up to the caller
# (e.g. the Helm chart).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [ $# -lt 3 ]; then
  echo "usage: $0 <namespace> <serviceaccount> <out-file> [duration]" >&2
  exit 2
fi
ns="$1" sa="$2" out="$3" duration="${4:-24h}"
kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

[ -f "$KUBECONFIG_OUT" ] || { echo "no cluster kubeconfig at $KUBECONFIG_OUT: run 'make cluster-up'" >&2; exit 1; }
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" >/dev/null
kubectl get serviceaccount "$sa" -n "$ns" >/dev/null 2>&1 || kubectl create serviceaccount "$sa" -n "$ns" >/dev/null
token="$(kubectl create token "$sa" -n "$ns" --duration="$duration")"
ca="$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
user="system:serviceaccount:$ns:$sa"

umask 077
mkdir -p "$(dirname "$out")"
cat > "$out" <<KC
apiVersion: v1
kind: Config
clusters:
- name: deepseek-operator-test
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $ca
users:
- name: $user
  user:
    token: $token
contexts:
- name: $user
  context:
    cluster: deepseek-operator-test
    user: $user
    namespace: $ns
current-context: $user
KC
echo "wrote $out for $user (token valid $duration)"
