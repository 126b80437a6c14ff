#!/usr/bin/env bash
# The integration tier (`make integration`): builds or reuses the binaries,
# starts a kwok cluster from them, runs tests/integration with the real Pulumi
# engine against it, and removes the cluster again.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'integration: %s\n' "$*" >&2; }

started=$SECONDS
bin=$(bash tools/integration/build.sh | tail -n 1)
# shellcheck source=/dev/null
source "$(dirname "$bin")/env.sh"
log "binaries ready in $((SECONDS - started))s"

cluster="clarissa-it-$$"
workdir=$(mktemp -d)
cleanup() {
  kwokctl delete cluster --name "$cluster" --kubeconfig "$workdir/kubeconfig" \
    >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT

step=$SECONDS
# kwokctl logs JSON lines; they are kept in a file and shown only on failure.
if ! {
  # --kubeconfig keeps the cluster out of the user's ~/.kube/config.
  kwokctl create cluster --name "$cluster" --runtime binary --wait 3m \
    --kubeconfig "$workdir/kubeconfig" &&
    kwokctl scale node --name "$cluster" --replicas 1
} >"$workdir/kwokctl.log" 2>&1; then
  cat "$workdir/kwokctl.log" >&2
  log "could not start the kwok cluster"
  exit 1
fi
export KUBECONFIG="$workdir/kubeconfig"
log "cluster $cluster up in $((SECONDS - step))s"

step=$SECONDS
# The provider is installed under its own version and PATH plugins are
# ignored, so a Python SDK pin that does not match the provider fails here.
export PULUMI_HOME="$workdir/pulumi-home"
# shellcheck source=/dev/null
source "$(dirname "$bin")/versions.env"
pulumi plugin install resource kubernetes "$PULUMI_KUBERNETES_VERSION" \
  --file "$bin/pulumi-resource-kubernetes" >/dev/null
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
.venv/bin/python -m pytest -m integration tests/integration -p no:cacheprovider "$@"
log "tier passed in $((SECONDS - step))s (total $((SECONDS - started))s)"
