#!/usr/bin/env bash
# Runs inside the VM as root: prerequisites, Node.js >= 20.19, then the project's tests.
# No project logic lives here; the tests are the project's own (`npm test`). Only what is missing
# is installed, so a box that already has everything (test:vagrant's offline box) needs no network.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need_node() {
  command -v node >/dev/null || return 0
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?1:0)'
}

missing=()
for pair in getfattr:attr tmux:tmux unshare:util-linux modprobe:kmod; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if need_node; then missing+=(ca-certificates curl xz-utils); fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if need_node; then
  # Debian's nodejs is older than 20.19: take the official build (the box has the internet).
  v="${OVL_NODE_VERSION:-20.19.5}"
  arch="$(dpkg --print-architecture | sed 's/amd64/x64/')"
  curl -fsSL "https://nodejs.org/dist/v${v}/node-v${v}-linux-${arch}.tar.xz" | tar -xJ -C /usr/local --strip-components=1
fi
echo "kernel $(uname -r), node $(node --version)"

modprobe overlay || true
cd /ovl
npm ci --no-audit --no-fund ${OVL_NPM_OFFLINE:+--offline}
OVL_REQUIRE_KERNEL=1 npm test
