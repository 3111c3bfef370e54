#!/usr/bin/env bash
# The demo from a fresh clone: toolchain, dependencies, then `pnpm demo` (see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. tooling/scripts/bootstrap.sh
pnpm install --frozen-lockfile --reporter=silent
exec node tooling/demo/src/demo.ts "$@"
