#!/usr/bin/env bash
# Unpacks a newer etcd (etcd-server and etcd-client) from Debian's newer suites
# into .cache/etcd/<version>/ with dpkg -x, for the tests; the system's etcd is
# left alone. apt fetches the suites' indexes into a private directory and checks
# their signatures with Debian's archive keyring, as for any package.
# Usage: scripts/fetch-etcd.sh [MINOR]   (default 3.5; prints the directory of its binaries)
set -euo pipefail
cd "$(dirname "$0")/.."

minor="${1:-3.5}"
cache=".cache/etcd"
mirror="${ESG_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

for existing in "$cache/$minor".*/usr/bin; do
  if [ -x "$existing/etcd" ] && [ -x "$existing/etcdctl" ]; then echo "$existing"; exit 0; fi
done
if [ ! -r "$keyring" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "fetch-etcd: needs apt and Debian's archive keyring ($keyring) to fetch etcd $minor; install etcd $minor yourself and set ESG_ETCD_BIN_DIR to its directory." >&2
  exit 2
fi

apt_dir="$(mktemp -d)"
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Sandbox::User=root
)
# Testing first, then unstable, then stable: the first suite with etcd $minor.x gives it.
version=""
for suite in forky sid trixie; do
  echo "deb [signed-by=$keyring] $mirror $suite main" > "$apt_dir/sources.list"
  apt-get "${apt_opts[@]}" -qq update >&2
  version="$(apt-cache "${apt_opts[@]}" madison etcd-server | awk -v m="$minor." '{ if (index($3, m) == 1) print $3 }' | sort -V | tail -1)"
  if [ -n "$version" ]; then break; fi
done
if [ -z "$version" ]; then
  echo "fetch-etcd: no etcd-server $minor.x in Debian's forky, sid or trixie; install etcd $minor yourself and set ESG_ETCD_BIN_DIR to its directory." >&2
  exit 2
fi

upstream="${version%%-*}"
target="$cache/$upstream"
(cd "$apt_dir" && apt-get "${apt_opts[@]}" -qq download "etcd-server=$version" "etcd-client=$version" >&2)
rm -rf "$target"
mkdir -p "$target"
for deb in "$apt_dir"/etcd-*.deb; do dpkg -x "$deb" "$target"; done
"$target/usr/bin/etcd" --version >&2
echo "$target/usr/bin"
