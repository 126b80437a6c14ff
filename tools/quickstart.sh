#!/usr/bin/env bash
# Takes a fresh Debian or Ubuntu machine to a finished local run of SPE1:
# installs what is missing (OPM Flow, make, venv support), creates .venv with
# the Python dependencies, runs the case as its pod would and summarises it.
# With --setup-only it stops after the installation.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=()
command -v flow >/dev/null 2>&1 || packages+=(libopm-simulators-bin)
command -v make >/dev/null 2>&1 || packages+=(make)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || packages+=(python3-venv)
if [ "${#packages[@]}" -gt 0 ]; then
  echo "quickstart: installing ${packages[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "quickstart: creating .venv" >&2
  python3 -m venv .venv
fi
echo "quickstart: installing Python dependencies" >&2
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

[ "${1:-}" = "--setup-only" ] && exit 0

run="runs/dev/spe1case1/$(date -u +%Y%m%dT%H%M%SZ)"
.venv/bin/python -m tools.run_local --stack dev --case spe1case1 --workdir "$run"
.venv/bin/python -m tools.results --stack dev --case spe1case1 --from "$run" \
  --out "$run/summary"
echo "quickstart: plot at $run/summary/summary.png" >&2
