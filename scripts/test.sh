#!/usr/bin/env bash
# `npm test` after the build: the unit tests once, then the integration tests on
# every etcd under test, one after the other: Debian's etcd on PATH (3.4), and
# each etcd that scripts/fetch-etcd.sh unpacked under .cache/etcd (3.5).
set -euo pipefail
cd "$(dirname "$0")/.."

run_tests() {
  node --no-deprecation --import tsx --test --test-concurrency=4 --test-reporter=spec "$@"
}

run_tests test/unit/*.test.ts

bin_dirs=("")
for dir in .cache/etcd/*/usr/bin; do
  if [ -x "$dir/etcd" ]; then bin_dirs+=("$PWD/$dir"); fi
done
if [ "${#bin_dirs[@]}" -eq 1 ]; then
  echo "test: only the etcd on PATH is tested; scripts/fetch-etcd.sh adds etcd 3.5 (.ci/run does)." >&2
fi
# Every etcd is tested even when one fails: the summary names each that failed.
failed=()
for dir in "${bin_dirs[@]}"; do
  etcd="${dir:+$dir/}etcd"
  version=$("$etcd" --version)
  version=${version%%$'\n'*} # the first line; `| head -1` could end etcd with SIGPIPE
  echo "test: integration tests on $version ($(command -v "$etcd"))"
  ESG_ETCD_BIN_DIR="$dir" run_tests test/integration/*.test.ts || failed+=("$version")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test: integration tests failed on: ${failed[*]}" >&2
  exit 1
fi
