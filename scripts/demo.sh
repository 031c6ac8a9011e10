#!/usr/bin/env bash
# The quick-start demo on a fresh Debian/Ubuntu machine: provisions Node.js 24
# when the machine's is older than 22, installs etcd from Debian and the npm
# dependencies when they are missing, then runs `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

node_bin=$(bash scripts/install-node.sh)
if [ -n "$node_bin" ]; then export PATH="$node_bin:$PATH"; fi
bash scripts/install-deps.sh --test   # etcd, plus Prometheus and Alertmanager for the full loop
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
exec npm run --silent demo
