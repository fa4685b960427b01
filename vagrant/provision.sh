#!/usr/bin/env bash
# Runs inside the VM as root: prerequisites, Node.js >= 20.19, then the project's tests.
# No project logic lives here; the tests are the project's own (`npm test`).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need_node() {
  command -v node >/dev/null || return 0
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?1:0)'
}

apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl xz-utils util-linux attr tmux kmod >/dev/null

if need_node; then
  # Debian's nodejs is older than 20.19: take the official build (the box has the internet).
  v="${OVL_NODE_VERSION:-20.19.5}"
  arch="$(dpkg --print-architecture | sed 's/amd64/x64/')"
  curl -fsSL "https://nodejs.org/dist/v${v}/node-v${v}-linux-${arch}.tar.xz" | tar -xJ -C /usr/local --strip-components=1
fi
node --version

modprobe overlay || true
cd /ovl
npm ci --no-audit --no-fund
OVL_REQUIRE_KERNEL=1 npm test
