#!/usr/bin/env bash
# Proves the local cluster works end to end, then removes it:
#   bash builds/local-cluster/verify.sh [CLUSTER_NAME]     (default lk-verify)
# Runs build.sh (cached: seconds), creates a kind cluster from the repository's kind-config.yaml
# with the node image, and checks: the node is Ready; CoreDNS is Ready and a Service name resolves
# from a pod; a PVC on the default StorageClass binds once a pod uses it (local-path-provisioner);
# a NetworkPolicy is enforced (a denied connection fails, an allowed one still works).
# Test pods run go/probe on a scratch image, loaded with `kind load` (nothing can be pulled here).
# Deletes the cluster, its kubeconfig and the "kind" docker network (when this run created it) on exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo="$(cd "$lc_dir/../.." && pwd)"
name="${1:-lk-verify}"
ns=lk-verify

out="$(bash "$lc_dir/build.sh")"
eval "$(grep -E '^(KIND|KUBECTL|DOCKER_SHIM_DIR|NODE_IMAGE)=' <<< "$out")"
export PATH="$DOCKER_SHIM_DIR:$PATH"

work="$(mktemp -d "$LC_CACHE/verify.XXXXXX")"
export KUBECONFIG="$work/kubeconfig" KUBECACHEDIR="$work/kube-cache"
had_kind_network=false
"$DOCKER" network inspect kind >/dev/null 2>&1 && had_kind_network=true
had_lib_modules=false
[ -e /lib/modules ] && had_lib_modules=true
cleanup() {
  "$KIND" delete cluster --name "$name" >/dev/null 2>&1 || true
  # kind creates the network on first use; leave it only if it was there before
  if ! $had_kind_network && [ -z "$("$DOCKER" network inspect kind -f '{{range .Containers}}x{{end}}' 2>/dev/null)" ]; then
    "$DOCKER" network rm kind >/dev/null 2>&1 || true
  fi
  # docker creates an empty /lib/modules for kind's read-only bind mount where the kernel has none
  $had_lib_modules || rmdir /lib/modules 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

k() { "$KUBECTL" "$@"; }
check() { echo "== $*" >&2; }
failed=0
# expect_ok / expect_fail DESCRIPTION COMMAND...
expect_ok() { local d="$1"; shift; if "$@"; then echo "ok: $d" >&2; else echo "FAILED: $d" >&2; failed=1; fi; }
expect_fail() { local d="$1"; shift; if "$@"; then echo "FAILED (was allowed): $d" >&2; failed=1; else echo "ok (denied): $d" >&2; fi; }

for port in 80 443; do
  if ss -Hltn "sport = :$port" | grep -q .; then die "host port $port is taken; kind-config.yaml maps it"; fi
done

# the probe image, named after its source's hash
require_go
probe_image="letta-k8s/probe:$(recipe_hash "$lc_dir/go/probe")"
if ! "$DOCKER" image inspect "$probe_image" >/dev/null 2>&1; then
  (cd "$lc_dir/go/probe" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/probe" .)
  tar -C "$work" -c probe | "$DOCKER" import --change 'ENTRYPOINT ["/probe"]' - "$probe_image" >/dev/null
fi

check "kind create cluster ($NODE_IMAGE)"
s=$SECONDS
"$KIND" create cluster --name "$name" --image "$NODE_IMAGE" --config "$repo/kind-config.yaml" \
  --kubeconfig "$KUBECONFIG" --wait 5m
echo "[verify] cluster created in $((SECONDS - s)) s" >&2
expect_ok "node Ready" k wait node --all --for=condition=Ready --timeout=60s
"$KIND" load docker-image "$probe_image" --name "$name" >&2

k create namespace "$ns" >/dev/null
k apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
    - {name: web, image: $probe_image, imagePullPolicy: Never, args: [serve, ":8080"], ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers: [{name: client, image: $probe_image, imagePullPolicy: Never, args: [sleep]}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, labels: {role: other}}
spec:
  containers: [{name: other, image: $probe_image, imagePullPolicy: Never, args: [sleep]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: volume-user}
spec:
  containers:
    - {name: writer, image: $probe_image, imagePullPolicy: Never, args: [write, /data/probe.txt],
       volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
EOF

check "CoreDNS and Service DNS"
expect_ok "coredns Ready" k -n kube-system rollout status deploy/coredns --timeout=120s
expect_ok "test pods Ready" k -n "$ns" wait pod --all --for=condition=Ready --timeout=180s
# right after start CoreDNS may answer NXDOMAIN until its kubernetes plugin has synced
lookup() { for _ in $(seq 30); do k -n "$ns" exec client -- /probe lookup "$1" >&2 && return 0; sleep 2; done; return 1; }
expect_ok "web.$ns.svc.cluster.local resolves" lookup "web.$ns.svc.cluster.local"
expect_ok "client -> http://web/" k -n "$ns" exec client -- /probe get http://web/

check "PVC on the default StorageClass"
expect_ok "default StorageClass is standard" \
  test "$(k get storageclass -o jsonpath='{.items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")].metadata.name}')" = standard
expect_ok "PVC data Bound" k -n "$ns" wait pvc/data --for=jsonpath='{.status.phase}'=Bound --timeout=120s
expect_ok "pod wrote to the volume" sh -c "\"$KUBECTL\" -n $ns logs volume-user | grep -q '^wrote /data/probe.txt'"

check "NetworkPolicy"
web_ip="$(k -n "$ns" get pod web -o jsonpath='{.status.podIP}')"
expect_ok "other -> web before the policy" k -n "$ns" exec other -- /probe get "http://$web_ip:8080/"
k apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client-only}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 8080}]}]
EOF
# kube-router syncs policies within a few seconds: wait until the denial shows
for _ in $(seq 20); do k -n "$ns" exec other -- /probe get "http://$web_ip:8080/" >/dev/null 2>&1 || break; sleep 1; done
expect_fail "other -> web pod (denied by the policy)" k -n "$ns" exec other -- /probe get "http://$web_ip:8080/"
expect_fail "other -> web Service (denied by the policy)" k -n "$ns" exec other -- /probe get http://web/
expect_ok "client -> web Service (allowed by the policy)" k -n "$ns" exec client -- /probe get http://web/

if [ "$failed" != 0 ]; then
  k get pods -A -o wide >&2 || true
  die "verify: some checks failed"
fi
echo "[verify] all checks passed" >&2
