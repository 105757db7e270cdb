#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl) and KWOK from the pinned Go modules in this folder, into a cache outside the repo.
# The cache key is a hash of the go.mod/go.sum files, so a pin change rebuilds and nothing else does.
# Prints the bin directory on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.36.3
key=$(cat "$here/go.mod" "$here/go.sum" "$here/kwok/go.mod" "$here/kwok/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)
cache=${ROLLBACK_BOT_CACHE:-$HOME/.cache/rollback-bot}
bin="$cache/k8s-$K8S_VERSION-$key/bin"
want=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

complete() { for b in "${want[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if complete; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go 1.26+ is required to build the test control plane (https://go.dev/dl)" >&2; exit 1; }
tmp="$bin.partial"
rm -rf "$tmp" && mkdir -p "$tmp"
start=$(date +%s)
echo "Building the test control plane ($K8S_VERSION, etcd, kwok) into $bin." >&2
echo "First build takes 15-30 minutes on 2 cores; later runs reuse it." >&2

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z -X k8s.io/component-base/version.gitCommit=module-$K8S_VERSION"
cd "$here"
echo "[build] kube-apiserver kube-controller-manager kube-scheduler kubectl ..." >&2
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
echo "[build] etcd ... ($(( $(date +%s) - start ))s so far)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
echo "[build] kwok ... ($(( $(date +%s) - start ))s so far)" >&2
(cd "$here/kwok" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
rm -rf "$bin" && mv "$tmp" "$bin"
echo "[build] done in $(( $(date +%s) - start ))s" >&2
echo "$bin"
