#!/usr/bin/env bash
# Starts the local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# kwok with simulated GPU nodes. Writes the admin kubeconfig to .cluster/kubeconfig.
# Reuses a healthy cluster; a half-dead one is stopped and started again from scratch.
# Binaries come from build-binaries.sh (make binaries). Logs: .cluster/logs/<component>.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"

# One up/down at a time per cluster folder (jest's global setup and the demo may race).
mkdir -p "$CLUSTER_DIR"
exec 9>"$CLUSTER_DIR/.lock"
flock -w 900 9 || { echo "another cluster-up/down holds $CLUSTER_DIR/.lock" >&2; exit 1; }

t0=$(date +%s)
say() { echo "[cluster-up +$(( $(date +%s) - t0 ))s] $*"; }
kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  if [ ! -x "$BIN/$b" ]; then
    echo "missing $BIN/$b: run 'make binaries' first" >&2
    exit 1
  fi
done

all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do [ -n "$(component_pid "$c")" ] || return 1; done
}

ensure_nodes() {
  # Create only the nodes that are missing: a Node create keeps .status (capacity, allocatable),
  # an update would not, and kwok's node-initialize stage keeps whatever capacity it finds.
  local manifest existing missing want
  manifest="$(node --disable-warning=ExperimentalWarning "$CLUSTER_SCRIPTS/print-nodes.ts" ${DSO_NODES_FILE:+"$DSO_NODES_FILE"})"
  existing="$(kubectl get nodes -o name)"
  # Prints "<wanted count>" then, when some are missing, the List of the missing ones.
  { read -r want; missing="$(cat)"; } < <(printf '%s' "$manifest" | node -e '
    const existing = new Set(process.argv[1].split("\n").filter(Boolean));
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const list = JSON.parse(s);
      console.log(list.items.length);
      list.items = list.items.filter((n) => !existing.has("node/" + n.metadata.name));
      if (list.items.length > 0) console.log(JSON.stringify(list));
    });' "$existing")
  if [ -n "$missing" ]; then printf '%s' "$missing" | kubectl create -f -; fi
  say "waiting for $want simulated nodes to be Ready"
  local deadline=$(( $(date +%s) + READY_TIMEOUT )) ready
  while :; do
    ready="$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True || true)"
    [ "$ready" -ge "$want" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "only $ready of $want nodes Ready after ${READY_TIMEOUT}s" >&2
      fail kwok
    fi
    sleep 1
  done
}

if all_running && apiserver_ready && [ -f "$KUBECONFIG_OUT" ]; then
  say "reusing the running cluster at $APISERVER_URL"
  ensure_nodes
  say "ready: KUBECONFIG=$KUBECONFIG_OUT"
  exit 0
fi

for c in "${COMPONENTS[@]}"; do
  if [ -f "$PIDS/$c.pid" ]; then
    say "found a partial cluster (e.g. $c not healthy): stopping it first"
    DSO_CLUSTER_LOCKED=1 bash "$CLUSTER_SCRIPTS/down.sh"
    break
  fi
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_PORT"; do
  if ! port_free "$p"; then
    echo "port 127.0.0.1:$p is already in use (set DSO_*_PORT, see test/cluster/env.sh):" >&2
    (ss -ltnp 2>/dev/null | grep ":$p " >&2) || true
    exit 1
  fi
done

mkdir -p "$CLUSTER_DIR" "$PKI" "$LOGS" "$PIDS" "$DSO_ETCD_DATA"
chmod 700 "$PKI" "$DSO_ETCD_DATA"
rm -rf "${DSO_ETCD_DATA:?}"/* "$PKI"/*

# ---------------------------------------------------------------- PKI (openssl)
say "writing PKI to $PKI"
(
  cd "$PKI"
  exec 2>>"$LOGS/pki.log"
  key() { openssl genrsa -out "$1.key" 2048 2>/dev/null; }
  key ca
  openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=deepseek-operator-test-ca"
  sign() { # name subject extensions
    key "$1"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -out "$1.crt" -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  sign apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:$FIRST_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
  client="keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  # system:masters bypasses RBAC: only for the harness itself, never for the operator under test.
  sign admin "/O=system:masters/CN=kubernetes-admin" "$client"
  # The controller manager and scheduler get the identities the default RBAC policy is written for.
  sign kube-controller-manager "/CN=system:kube-controller-manager" "$client"
  sign kube-scheduler "/CN=system:kube-scheduler" "$client"
  # Front-proxy CA and client: the apiserver publishes the request-header CA to
  # kube-system/extension-apiserver-authentication, which KCM and the scheduler read at start.
  key front-proxy-ca
  openssl req -x509 -new -key front-proxy-ca.key -out front-proxy-ca.crt -days 3650 -subj "/CN=deepseek-operator-front-proxy-ca"
  key front-proxy-client
  openssl req -new -key front-proxy-client.key -out front-proxy-client.csr -subj "/CN=front-proxy-client"
  printf '%s\n' "$client" > front-proxy-client.ext
  openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key -CAcreateserial \
    -days 3650 -out front-proxy-client.crt -extfile front-proxy-client.ext 2>/dev/null
  rm -f front-proxy-client.csr front-proxy-client.ext
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)

write_kubeconfig() { # file user
  local ca crt key
  ca="$(base64 -w0 < "$PKI/ca.crt")"; crt="$(base64 -w0 < "$PKI/$2.crt")"; key="$(base64 -w0 < "$PKI/$2.key")"
  umask 077
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: deepseek-operator-test
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $ca
users:
- name: $2
  user:
    client-certificate-data: $crt
    client-key-data: $key
contexts:
- name: deepseek-operator-test
  context:
    cluster: deepseek-operator-test
    user: $2
current-context: deepseek-operator-test
EOF
}
write_kubeconfig "$PKI/kube-controller-manager.kubeconfig" kube-controller-manager
write_kubeconfig "$PKI/kube-scheduler.kubeconfig" kube-scheduler
write_kubeconfig "$KUBECONFIG_OUT.tmp" admin

# ---------------------------------------------------------------- processes
start() { # name args...
  local name="$1"; shift
  : > "$LOGS/$name.log"
  echo "$BIN/$name $*" > "$LOGS/$name.cmdline"
  # setsid: the cluster outlives the shell, make or jest process that started it.
  # 9>&-: the daemons must not inherit (and so hold forever) the up/down lock.
  setsid "$BIN/$name" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! > "$PIDS/$name.pid"
}

fail() { # component
  echo "---- $1 did not become healthy; last lines of $LOGS/$1.log:" >&2
  tail -n 40 "$LOGS/$1.log" >&2 || true
  echo "---- stopping the partial cluster (logs are kept in $LOGS)" >&2
  DSO_CLUSTER_LOCKED=1 bash "$CLUSTER_SCRIPTS/down.sh" >&2 || true
  exit 1
}

wait_healthy() { # component description check-command...
  local name="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + READY_TIMEOUT ))
  until "$@"; do
    if [ -z "$(component_pid "$name")" ]; then
      echo "$name exited" >&2
      fail "$name"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$name: $what not reached after ${READY_TIMEOUT}s" >&2
      fail "$name"
    fi
    sleep 0.5
  done
  say "$name: $what"
}

http_ok() { curl -fsS --max-time 5 "$@" >/dev/null 2>&1; }

say "starting etcd (data in $DSO_ETCD_DATA)"
start etcd \
  --name=node0 --data-dir="$DSO_ETCD_DATA" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="node0=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=8589934592 --log-level=warn
wait_healthy etcd "/health ok" http_ok "http://127.0.0.1:$ETCD_PORT/health"

say "starting kube-apiserver on $APISERVER_URL"
start kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" --etcd-prefix=/registry \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction,PodSecurity,ServiceAccount \
  --allow-privileged=true \
  --endpoint-reconciler-type=none \
  --profiling="${DSO_PROFILING:-false}"
wait_healthy kube-apiserver "/readyz ok" apiserver_ready
mv "$KUBECONFIG_OUT.tmp" "$KUBECONFIG_OUT"

kcm_controllers=(
  garbage-collector-controller namespace-controller
  serviceaccount-controller serviceaccount-token-controller root-ca-certificate-publisher-controller
  clusterrole-aggregation-controller
  deployment-controller replicaset-controller statefulset-controller disruption-controller
  job-controller cronjob-controller ttl-after-finished-controller
  node-lifecycle-controller taint-eviction-controller pod-garbage-collector-controller
  resourcequota-controller
  persistentvolume-protection-controller persistentvolumeclaim-protection-controller
)
say "starting kube-controller-manager, kube-scheduler, kwok"
kcm_kc="$PKI/kube-controller-manager.kubeconfig"
start kube-controller-manager \
  --kubeconfig="$kcm_kc" --authentication-kubeconfig="$kcm_kc" --authorization-kubeconfig="$kcm_kc" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --use-service-account-credentials=true \
  --controllers="$(IFS=,; echo "${kcm_controllers[*]}")" \
  --leader-elect=false \
  --node-monitor-period=5s --node-monitor-grace-period=40s \
  --cluster-name=deepseek-operator-test
sched_kc="$PKI/kube-scheduler.kubeconfig"
start kube-scheduler \
  --kubeconfig="$sched_kc" --authentication-kubeconfig="$sched_kc" --authorization-kubeconfig="$sched_kc" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics \
  --leader-elect=false

{
  cat "$CLUSTER_SCRIPTS/kwok/node-stages.yaml"
  printf '\n---\n'
  cat "$CLUSTER_SCRIPTS/kwok/pod-stages.yaml"
  printf '\n---\n'
  cat "$CLUSTER_SCRIPTS/kwok/volume-stages.yaml"
} > "$CLUSTER_DIR/kwok.yaml"
# Pod IPs come from the loopback range and the node IP is loopback: nothing here may dial
# an address off this machine.
start kwok \
  --kubeconfig="$KUBECONFIG_OUT" --config="$CLUSTER_DIR/kwok.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr="$POD_CIDR" --node-ip="$NODE_IP" --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"

wait_healthy kube-controller-manager "/healthz ok" http_ok -k "https://127.0.0.1:$KCM_PORT/healthz"
wait_healthy kube-scheduler "/healthz ok" http_ok -k "https://127.0.0.1:$SCHEDULER_PORT/healthz"
wait_healthy kwok "/healthz ok" http_ok "http://127.0.0.1:$KWOK_PORT/healthz"
# Pods cannot be created in a namespace before its default ServiceAccount exists.
sa_exists() { kubectl get serviceaccount default -n default >/dev/null 2>&1; }
wait_healthy kube-controller-manager "default ServiceAccount created" sa_exists

kubectl apply -f "$CLUSTER_SCRIPTS/kwok/storage-class.yaml" >/dev/null
ensure_nodes
say "ready: KUBECONFIG=$KUBECONFIG_OUT (apiserver $APISERVER_URL, $(( $(date +%s) - t0 ))s)"
