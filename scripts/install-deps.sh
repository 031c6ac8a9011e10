#!/usr/bin/env bash
# Installs the Debian packages etcd-space-guard's demo and tests use. Packages
# already present are left alone. Usage: scripts/install-deps.sh [--monitoring | --test]
#   (default)     etcd-server etcd-client openssl curl: the demo's throwaway cluster
#   --monitoring  also prometheus and prometheus-alertmanager (the demo's monitoring loop)
#   --test        those, promtool and amtool with them, chromium (the status page's browser
#                 test), and etcd 3.5 from Debian's newer suites, unpacked under .cache/etcd
#                 (fetch-etcd.sh)
set -euo pipefail

packages=(etcd-server etcd-client openssl curl ca-certificates)
case "${1:-}" in
  "") ;;
  --monitoring) packages+=(prometheus prometheus-alertmanager) ;;
  --test) packages+=(prometheus prometheus-alertmanager chromium) ;;
  *)
    echo "install-deps: unknown option $1; usage: scripts/install-deps.sh [--monitoring | --test]" >&2
    exit 2
    ;;
esac

fetch_newer_etcd() {
  if [ "${1:-}" = "--test" ]; then bash "$(dirname "$0")/fetch-etcd.sh" 3.5 >/dev/null; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  fetch_newer_etcd "${1:-}"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found; install ${missing[*]} with your package manager." >&2
  exit 2
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-deps: need root to install ${missing[*]}; rerun as root or install sudo." >&2
    exit 2
  fi
fi

# The packages' postinst would start system-wide etcd and Prometheus services;
# the demo and tests start their own on free ports, so deny service starts.
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  created_policy=yes
fi
cleanup() { if [ -n "$created_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fetch_newer_etcd "${1:-}"
