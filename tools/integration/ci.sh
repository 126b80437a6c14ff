#!/usr/bin/env bash
# Runs the integration tier from .ci/run, and says so; or says why it did not.
# CLARISSA_SKIP_INTEGRATION=1 skips it (with that reason printed).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${CLARISSA_SKIP_INTEGRATION:-0}" = "1" ]; then
  echo "integration tier: NOT RUN (CLARISSA_SKIP_INTEGRATION=1)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "integration tier: NOT RUN (no Go toolchain to build the binaries)"
  exit 0
fi

cache="${CLARISSA_INTEGRATION_CACHE:-$HOME/.cache/clarissa-integration}"
if [ -e "$cache/current/.complete" ]; then
  echo "integration tier: running with the cached binaries in $cache"
else
  echo "integration tier: no cached binaries in $cache; building them first"
fi
make integration
echo "integration tier: RAN and passed"
