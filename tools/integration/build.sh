#!/usr/bin/env bash
# Builds the binaries of the integration tier from Go modules, into a cache
# folder outside the repo, and prints that bin folder as the last stdout line:
#   pulumi, pulumi-language-python(+ -exec shim), pulumi-resource-kubernetes,
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
#   kwok, kwokctl.
# Cached parts are reused (and only re-verified); a part is rebuilt only when
# its versions, its wrapper module under tools/integration/go/, the Go
# version or RECIPE change. See tools/integration/README-build.md.
#
# Env: CLARISSA_INTEGRATION_CACHE  cache root (default ~/.cache/clarissa-integration)
#      CLARISSA_INTEGRATION_FORCE=1 rebuild every part
#      GOMODCACHE / GOCACHE / GOTOOLCHAIN are honoured (GOTOOLCHAIN defaults to local).
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GODIR="$HERE/go"

# ---- versions not held in a wrapper go.mod -------------------------------
KWOK_VERSION=v0.8.0
# github.com/pulumi/pulumi-kubernetes/provider/v4 has no v4 tags; the proxy
# serves only this pseudo-version (commit f47bc2d6f199, 2026-01-15), whose
# schema is the one of the pulumi-kubernetes 4.24.1/4.25.0 Python SDK.
PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199
PROVIDER_VERSION=4.25.0
# The provider's go.mod replaces sdk/v4 with ../sdk (not in the module zip);
# use this published sdk/v4 instead (only its yaml/v2 + helm/v4 Go types are used).
PROVIDER_SDK_V4=v4.22.2
RECIPE=1 # bump when the build steps below change in a way that needs a rebuild

log() { printf '[integration-build] %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

command -v go >/dev/null || die "go is not on PATH (Go >= 1.26.6 is needed)"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED="${CGO_ENABLED:-0}"
GOVERSION="$(go env GOVERSION)"
[[ "$(printf '%s\n' go1.26.6 "$GOVERSION" | sort -V | head -n1)" == go1.26.6 ]] ||
	die "found $GOVERSION; Go >= 1.26.6 is needed (e.g. export GOTOOLCHAIN=go1.27.3)"

# Version of module $2 in go.mod $1 (single-line or block require).
modver() {
	awk -v m="$2" '$1=="require"{$1=""; $0=$0} $1==m{print $2; exit}' "$1"
}
PULUMI_VERSION="$(modver "$GODIR/pulumi/go.mod" github.com/pulumi/pulumi/pkg/v3)"
KUBE_VERSION="$(modver "$GODIR/kubernetes/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$GODIR/etcd/go.mod" go.etcd.io/etcd/server/v3)"
[[ -n $PULUMI_VERSION && -n $KUBE_VERSION && -n $ETCD_VERSION ]] ||
	die "could not read versions from $GODIR/*/go.mod"
PULUMI_VERSION="${PULUMI_VERSION#v}" # 3.x.y; KUBE_VERSION/ETCD_VERSION keep their v

CACHE="${CLARISSA_INTEGRATION_CACHE:-$HOME/.cache/clarissa-integration}"
mkdir -p "$CACHE/parts" "$CACHE/logs" "$CACHE/work"
exec 9>"$CACHE/.lock"
command -v flock >/dev/null && { flock -w 3600 9 || die "another build holds $CACHE/.lock"; }

# Part identity: recipe, Go version, the given strings, and the contents of the
# wrapper folders among them (names under go/). Relative paths only, so that
# the id does not depend on where the repo is checked out.
part_id() {
	{
		echo "$RECIPE $GOVERSION $*"
		for p in "$@"; do
			if [[ -d $GODIR/$p ]]; then (cd "$GODIR/$p" && find . -type f -print0 | sort -z | xargs -0 sha256sum); fi
		done
	} | sha256sum | cut -c1-12
}

# build_part NAME ID FUNCTION: runs FUNCTION OUTDIR unless cached; the function
# runs in a background subshell so that `set -e` really applies inside it.
PART_DIRS=()
build_part() {
	local name=$1 id=$2 fn=$3
	local dir="$CACHE/parts/$name-$id" logf="$CACHE/logs/$name-$id.log"
	if [[ -f $dir/.complete && ${CLARISSA_INTEGRATION_FORCE:-0} != 1 ]]; then
		log "$name: cached ($dir)"
		PART_DIRS+=("$dir")
		return 0
	fi
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp/bin"
	log "$name: building (log: $logf)"
	local t0=$SECONDS rc=0
	(
		set -Eeuo pipefail
		trap 'echo "FAILED (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
		"$fn" "$dir.tmp"
	) >"$logf" 2>&1 &
	wait $! || rc=$?
	if ((rc != 0)); then
		log "$name: FAILED after $((SECONDS - t0))s; last lines of $logf:"
		tail -n 40 "$logf" >&2
		rm -rf "$dir.tmp"
		die "$name build failed"
	fi
	touch "$dir.tmp/.complete"
	mv "$dir.tmp" "$dir"
	log "$name: built in $((SECONDS - t0))s"
	PART_DIRS+=("$dir")
}

# ---- parts ----------------------------------------------------------------
build_pulumi() { # CLI + minimal python language host + exec shim
	local out=$1
	cd "$GODIR/pulumi"
	go build -mod=readonly -trimpath -o "$out/bin/" \
		-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" tool
	go build -mod=readonly -trimpath -o "$out/bin/pulumi-language-python" \
		-ldflags "-s -w -X main.Version=$PULUMI_VERSION" ./pulumi-language-python
	local sdk
	sdk="$(go list -mod=readonly -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
	install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$out/bin/"
}

build_provider() { # pulumi-resource-kubernetes, from a writable copy of the module
	local out=$1 src="$CACHE/work/provider" dir
	dir="$(cd / && go mod download -json "$PROVIDER_MODULE@$PROVIDER_PSEUDO" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
	[[ -d $dir ]] || { echo "go mod download gave no Dir"; return 1; }
	rm -rf "$src"
	mkdir -p "$src"
	cp -R "$dir/." "$src/"
	chmod -R u+w "$src"
	cd "$src"
	go mod edit -replace "github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@$PROVIDER_SDK_V4"
	# generate.go writes schema-embed.json + terraform-mapping-embed.json (go:embed'ed).
	(cd cmd/pulumi-resource-kubernetes && VERSION="$PROVIDER_VERSION" go run -mod=mod generate.go)
	go build -mod=mod -trimpath -o "$out/bin/pulumi-resource-kubernetes" \
		-ldflags "-s -w -X $PROVIDER_MODULE/pkg/version.Version=$PROVIDER_VERSION" ./cmd/pulumi-resource-kubernetes
	cd /
	rm -rf "$src"
}

build_kubernetes() { # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
	local out=$1 v=${KUBE_VERSION} ld="-s -w" p minor
	minor="$(echo "$v" | cut -d. -f2)"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
		ld+=" -X $p.gitCommit=unknown -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	cd "$GODIR/kubernetes"
	go build -mod=readonly -trimpath -o "$out/bin/" -ldflags "$ld" tool
}

build_etcd() {
	local out=$1
	cd "$GODIR/etcd"
	go build -mod=readonly -trimpath -o "$out/bin/etcd" -ldflags "-s -w" .
}

build_kwok() { # kwok + kwokctl; kwokctl's default Kubernetes version = ours
	local out=$1
	GOBIN="$out/bin" go install -trimpath -ldflags "-s -w \
		-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} \
		-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}" \
		"sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

T0=$SECONDS
log "Go $GOVERSION; cache $CACHE"
log "versions: pulumi $PULUMI_VERSION, pulumi-kubernetes provider $PROVIDER_VERSION, kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION"
build_part pulumi "$PULUMI_VERSION-$(part_id pulumi)" build_pulumi
build_part pulumi-kubernetes "$PROVIDER_VERSION-$(part_id "$PROVIDER_PSEUDO $PROVIDER_SDK_V4")" build_provider
build_part kubernetes "$KUBE_VERSION-$(part_id kubernetes)" build_kubernetes
build_part etcd "$ETCD_VERSION-$(part_id etcd)" build_etcd
build_part kwok "$KWOK_VERSION-$(part_id "$KWOK_VERSION $KUBE_VERSION")" build_kwok

# ---- assemble <key>/bin from the parts (hard links) ------------------------
KEY="pulumi-${PULUMI_VERSION}_k8sprov-${PROVIDER_VERSION}_kube-${KUBE_VERSION#v}_etcd-${ETCD_VERSION#v}_kwok-${KWOK_VERSION#v}"
KEY="$KEY-$(basename -a "${PART_DIRS[@]}" | sha256sum | cut -c1-8)"
BIN="$CACHE/$KEY/bin"
if [[ ! -f $CACHE/$KEY/.complete ]]; then
	rm -rf "$CACHE/$KEY"
	mkdir -p "$BIN"
	for d in "${PART_DIRS[@]}"; do
		for f in "$d"/bin/*; do ln -f "$f" "$BIN/" 2>/dev/null || cp -p "$f" "$BIN/"; done
	done
	cat >"$CACHE/$KEY/versions.env" <<EOF
PULUMI_VERSION=$PULUMI_VERSION
PULUMI_KUBERNETES_VERSION=$PROVIDER_VERSION
KUBE_VERSION=$KUBE_VERSION
ETCD_VERSION=$ETCD_VERSION
KWOK_VERSION=$KWOK_VERSION
EOF
	touch "$CACHE/$KEY/.complete"
fi
ln -sfn "$KEY" "$CACHE/current"
# env.sh: `source` it to put the bin folder first on PATH and point kwokctl's
# binary runtime at the local binaries (kwokctl then downloads nothing).
cat >"$CACHE/$KEY/env.sh" <<EOF
export PATH="$BIN:\$PATH"
export KWOK_RUNTIME=binary
export KWOK_KUBE_VERSION=$KUBE_VERSION
export KWOK_KUBE_APISERVER_BINARY="$BIN/kube-apiserver"
export KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$BIN/kube-controller-manager"
export KWOK_KUBE_SCHEDULER_BINARY="$BIN/kube-scheduler"
export KWOK_KUBECTL_BINARY="$BIN/kubectl"
export KWOK_CONTROLLER_BINARY="$BIN/kwok"
export KWOK_ETCD_BINARY="$BIN/etcd"
EOF

# ---- verify (also on a warm run) -------------------------------------------
expect() { # expect PATTERN CMD...: CMD's output must contain PATTERN
	local pat=$1 outp
	shift
	outp="$("$@" 2>&1)" || die "verify: '$*' failed: $outp"
	[[ $outp == *"$pat"* ]] || die "verify: '$*' printed '$outp', expected '$pat'"
}
expect "v$PULUMI_VERSION" "$BIN/pulumi" version
expect "Kubernetes $KUBE_VERSION" "$BIN/kube-apiserver" --version
expect "Kubernetes $KUBE_VERSION" "$BIN/kube-controller-manager" --version
expect "Kubernetes $KUBE_VERSION" "$BIN/kube-scheduler" --version
expect "$KUBE_VERSION" "$BIN/kubectl" version --client
expect "etcd Version: ${ETCD_VERSION#v}" "$BIN/etcd" --version
expect "${KWOK_VERSION}" "$BIN/kwokctl" --version
expect "${KWOK_VERSION}" "$BIN/kwok" --version
for f in pulumi-language-python pulumi-language-python-exec pulumi-resource-kubernetes; do
	[[ -x $BIN/$f ]] || die "verify: $BIN/$f missing or not executable"
done
log "done in $((SECONDS - T0))s; bin folder: $BIN"
echo "$BIN"
