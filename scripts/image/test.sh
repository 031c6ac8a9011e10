#!/usr/bin/env bash
# Builds the image from the Dockerfile and runs it against a real etcd cluster
# (test/image/image.test.ts: `status`, `serve`, /metrics, a webhook remediation of NOSPACE).
# Uses the Docker engine DOCKER_HOST names when one answers; otherwise starts Debian's dockerd
# (vfs storage, no iptables, no bridge: what runs in a sandbox) and stops it at the end.
# Without a pullable base, scripts/image/base.sh makes node:24-bookworm-slim first.
# Needs root, docker.io and debootstrap. Usage: scripts/image/test.sh [image tag]
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${1:-etcd-space-guard:test}

if ! docker info >/dev/null 2>&1; then
  state=$(mktemp -d /tmp/esg-dockerd.XXXXXX)
  echo "image-test: starting dockerd (its files under $state)"
  dockerd --storage-driver=vfs --iptables=false --bridge=none \
    --data-root "$state/data" --exec-root "$state/exec" \
    -H "unix://$state/docker.sock" --pidfile "$state/docker.pid" >"$state/dockerd.log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$state/docker.sock"
  stop_dockerd() {
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    # dockerd leaves its network namespace bind-mounted under its exec root.
    findmnt -rn -o TARGET | grep "^$state/" | sort -r | xargs -r umount
    rm -rf "$state"
  }
  trap stop_dockerd EXIT
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null || { tail -20 "$state/dockerd.log" >&2; exit 1; }
fi

bash scripts/image/base.sh
echo "image-test: building $image"
started=$(date +%s)
DOCKER_BUILDKIT=0 docker build --network host --pull=false --quiet \
  --build-arg "VERSION=$(node -p "require('./package.json').version")" \
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$image" . >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "image-test: $image built in $(($(date +%s) - started)) s, $(numfmt --to=si "$size")B"
ESG_IMAGE="$image" node --no-deprecation --import tsx --test --test-reporter=spec \
  test/image/image.test.ts
