#!/usr/bin/env bash
# The quick-start demo on a fresh Debian/Ubuntu machine: provisions Node.js 24
# when the machine's is older than 22, installs etcd, Prometheus and Alertmanager
# from Debian and the npm dependencies when they are missing, builds, then
# becomes the demo (exec scripts/demo.ts, no npm in between): SIGINT or SIGTERM
# to this script's PID reaches it, and it stops etcd, the guard, Prometheus and
# Alertmanager and removes its files. A stop during the build ends the build; a
# stop during an install lets the package manager finish, then exits.
# Usage: scripts/demo.sh [--no-monitoring] [--no-build]
#   --no-monitoring  neither install nor start Prometheus and Alertmanager: the demo
#                    posts the EtcdSpaceNoSpace alert to the guard's webhook itself
#   --no-build       run the dist/ already built (the suite's demo test: a rebuild
#                    would replace dist/ under the tests running alongside)
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/demo.sh [--no-monitoring] [--no-build]"
monitoring=yes
build=yes
for arg in "$@"; do
  case "$arg" in
    --no-monitoring) monitoring="" ;;
    --no-build) build="" ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) echo "demo: unknown option $arg; $usage" >&2; exit 2 ;;
  esac
done

# Until the exec below, a stop ends the step under way (bash runs the trap once a
# foreground step returns, at once while it waits for the backgrounded build).
step_pid=""
stop() {
  if [ -n "$step_pid" ]; then
    kill -TERM -- "-$step_pid" 2>/dev/null || true
    wait "$step_pid" 2>/dev/null || true
  fi
  echo "demo: stopped before the demo started" >&2
  exit 130
}
trap stop INT TERM

node_bin=$(bash scripts/install-node.sh)
if [ -n "$node_bin" ]; then export PATH="$node_bin:$PATH"; fi
bash scripts/install-deps.sh ${monitoring:+--monitoring}
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
if [ -n "$build" ]; then
  echo "demo: building etcd-space-guard (tsc and the bundle into dist/, about 30 s)"
  # Its own process group (setsid), so that a stop ends tsc with it.
  setsid node scripts/build.mjs &
  step_pid=$!
  wait "$step_pid"
  step_pid=""
fi
demo_args=()
if [ -z "$monitoring" ]; then demo_args+=(--no-monitoring); fi
trap - INT TERM
exec node --no-deprecation --import tsx scripts/demo.ts "${demo_args[@]}"
