#!/usr/bin/env bash
# Puts what the Kubernetes manifest tests need into a build directory (as
# root, on Debian 12; .ci/build runs it):
#   BUILD/tools/kubectl-1.20     Debian 12's kubectl (package kubernetes-client,
#                                kustomize v2.0.3), unpacked rather than
#                                installed so it sits beside a newer kubectl
#                                instead of replacing it: the tests render
#                                with both and require the same objects.
#   BUILD/kubernetes-checks/     the npm packages of package-lock.json (npm ci).
# usage: setup.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)

if [ ! -x "$build/tools/kubectl-1.20" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download needs the package lists; a fresh machine may have none yet.
  (cd "$tmp" && { apt-get download -qq kubernetes-client 2>/dev/null ||
    { apt-get update -qq && apt-get download -qq kubernetes-client; }; })
  dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$tmp/root"
  "$tmp/root/usr/bin/kubectl" version --client | grep -q 'GitVersion:"v1\.20\.' ||
    { echo "setup.sh: Debian's kubernetes-client is not kubectl 1.20 any more" >&2; exit 1; }
  install -D -m 755 "$tmp/root/usr/bin/kubectl" "$build/tools/kubectl-1.20"
fi

checks="$build/kubernetes-checks"
mkdir -p "$checks"
# npm ci again only when the lock file changed.
if ! cmp -s "$here/package-lock.json" "$checks/package-lock.json" || [ ! -d "$checks/node_modules" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$checks/"
  # Node trusts its own CA list only; the system's also holds any CA a
  # machine's proxy adds.
  (cd "$checks" &&
    NODE_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" \
      npm ci --no-audit --no-fund --loglevel=error)
fi
