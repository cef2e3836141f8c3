#!/usr/bin/env bash
# Stops the local control plane started by up.sh and removes its state (etcd data, PKI,
# kubeconfig, pid files). Logs stay in .cluster/logs until the next start.
# Only processes recorded in .cluster/pids and still running our binaries are signalled.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [ -z "${DSO_CLUSTER_LOCKED:-}" ] && [ -d "$CLUSTER_DIR" ]; then
  exec 9>"$CLUSTER_DIR/.lock"
  flock -w 900 9 || { echo "another cluster-up/down holds $CLUSTER_DIR/.lock" >&2; exit 1; }
fi

stopped=()
for (( i=${#COMPONENTS[@]}-1; i>=0; i-- )); do
  c="${COMPONENTS[$i]}"
  pid="$(component_pid "$c")"
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do [ -e "/proc/$pid" ] || break; sleep 0.2; done
    if [ -e "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    stopped+=("$c")
  fi
  rm -f "$PIDS/$c.pid"
done

rm -rf "$PKI" "$PIDS" "$KUBECONFIG_OUT" "$KUBECONFIG_OUT.tmp" "$CLUSTER_DIR/kwok.yaml"
rm -rf "$DSO_ETCD_DATA"
case "$(dirname "$DSO_ETCD_DATA")" in /dev/shm/deepseek-operator-*) rmdir "$(dirname "$DSO_ETCD_DATA")" 2>/dev/null || true ;; esac
if [ ${#stopped[@]} -gt 0 ]; then
  echo "[cluster-down] stopped ${stopped[*]}; state removed"
else
  echo "[cluster-down] nothing was running; state removed"
fi
