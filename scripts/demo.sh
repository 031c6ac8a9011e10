#!/usr/bin/env bash
# The quick-start demo on a fresh Debian/Ubuntu machine: installs etcd from
# Debian and the npm dependencies when they are missing, then runs `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "demo: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)); install it and rerun." >&2
  exit 2
fi
bash scripts/install-deps.sh --test   # etcd, plus Prometheus and Alertmanager for the full loop
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
exec npm run --silent demo
