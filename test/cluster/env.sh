# Shared settings of the local control plane; sourced by up.sh, down.sh and sa-kubeconfig.sh.
# Every value can be overridden from the environment. All listeners are on 127.0.0.1.

CLUSTER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CLUSTER_SCRIPTS/../.." && pwd)"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
DSO_CACHE="${DSO_CACHE:-$HOME/.cache/deepseek-operator}"
BIN="$DSO_CACHE/k8s/$K8S_VERSION"
TOOLS="$DSO_CACHE/tools"

CLUSTER_DIR="${DSO_CLUSTER_DIR:-$REPO_ROOT/.cluster}"
KUBECONFIG_OUT="$CLUSTER_DIR/kubeconfig"
PKI="$CLUSTER_DIR/pki"
LOGS="$CLUSTER_DIR/logs"
PIDS="$CLUSTER_DIR/pids"
# etcd data lives in tmpfs, keyed by the cluster folder so two clones never share it.
if [ -z "${DSO_ETCD_DATA:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    DSO_ETCD_DATA="/dev/shm/deepseek-operator-$(printf %s "$CLUSTER_DIR" | sha256sum | cut -c1-12)/etcd"
  else
    DSO_ETCD_DATA="$CLUSTER_DIR/etcd"
  fi
fi

ETCD_PORT="${DSO_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${DSO_ETCD_PEER_PORT:-12380}"
APISERVER_PORT="${DSO_APISERVER_PORT:-16443}"
KCM_PORT="${DSO_KCM_PORT:-10257}"
SCHEDULER_PORT="${DSO_SCHEDULER_PORT:-10259}"
KWOK_PORT="${DSO_KWOK_PORT:-10247}"

# Loopback only. The service range is allocated to ClusterIPs and never dialled; putting it on
# loopback too means even an accidental dial cannot leave the machine.
SERVICE_CIDR="${DSO_SERVICE_CIDR:-127.96.0.0/16}"
FIRST_SERVICE_IP="${DSO_FIRST_SERVICE_IP:-127.96.0.1}"
POD_CIDR="${DSO_POD_CIDR:-127.64.0.0/16}"
NODE_IP="${DSO_NODE_IP:-127.0.0.1}"

# Seconds to wait for each component; generous because the machine has 2 shared cores.
READY_TIMEOUT="${DSO_READY_TIMEOUT:-300}"

APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"

# Start order; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# pid of a running component of THIS cluster, or nothing. The pid file alone is not trusted:
# the pid must still run our binary, so a recycled pid is never signalled.
component_pid() {
  local name="$1" pid exe
  [ -f "$PIDS/$name.pid" ] || return 0
  pid="$(cat "$PIDS/$name.pid")"
  [ -n "$pid" ] && [ -e "/proc/$pid" ] || return 0
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  [ "$exe" = "$(readlink -f "$BIN/$name")" ] && echo "$pid"
  return 0
}

apiserver_ready() {
  [ -f "$PKI/admin.crt" ] || return 1
  curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$APISERVER_URL/readyz" >/dev/null 2>&1
}
