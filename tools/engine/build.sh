#!/usr/bin/env bash
# npm run engine:build: compiles the Pulumi engine the real-engine suite (npm run test:engine) runs under,
# into .engine/ (git-ignored), from Go modules with the ordinary go command. Versions follow the installed
# npm packages (node_modules, i.e. package-lock.json). A piece already built for the same version and
# sources is skipped, so a second run is a no-op; Go's own build cache makes a rebuild after a change cheap.
#
#   .engine/bin/pulumi                         Pulumi CLI at the @pulumi/pulumi version (tools/engine/pulumi)
#   .engine/bin/pulumi-language-nodejs         Node.js language host (tools/engine/hosts)
#   .engine/bin/pulumi-resource-pulumi-nodejs  the dynamic-provider host script from node_modules/@pulumi/pulumi
#   .engine/home/plugins/resource-command-v*   command provider (stand-in, tools/engine/hosts; built in .engine/plugins)
#   .engine/home/plugins/resource-random-v*    random provider (stand-in, tools/engine/hosts; built in .engine/plugins)
#
# Environment: ENGINE_DIR (default <repo>/.engine), ENGINE_GO_PARALLEL (go build -p, default 2).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/tools/engine"
engine="${ENGINE_DIR:-$repo/.engine}"
bin="$engine/bin"
# Provider binaries stay off the PATH: the engine would take a pulumi-resource-* from the PATH (with a
# warning) before the one installed in PULUMI_HOME at the version the program asks for.
plugins="$engine/plugins"
home="$engine/home"
stamps="$engine/stamps"
parallel="${ENGINE_GO_PARALLEL:-2}"
started=$SECONDS

log() { printf '[engine:build %4ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { log "error: $*" >&2; exit 1; }

command -v go >/dev/null || fail "go is not on the PATH (Go 1.25 or newer is needed)"
command -v node >/dev/null || fail "node is not on the PATH"
[ -f "$repo/node_modules/@pulumi/pulumi/package.json" ] || fail "node_modules is missing: run npm ci first"

npm_version() { node -p "require('$repo/node_modules/$1/package.json').version"; }
pulumi_version="$(npm_version @pulumi/pulumi)"
command_version="$(npm_version @pulumi/command)"
random_version="$(npm_version @pulumi/random)"
log "versions from node_modules: @pulumi/pulumi $pulumi_version, @pulumi/command $command_version, @pulumi/random $random_version"
log "$(go version); GOCACHE=$(go env GOCACHE); go build -p $parallel"

# The wrapper modules pin what they build in go.mod + go.sum; they must agree with node_modules.
pinned() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
for module in pulumi hosts; do
  sdk="$(pinned "$here/$module" github.com/pulumi/pulumi/sdk/v3)"
  [ "$sdk" = "v$pulumi_version" ] || fail "tools/engine/$module/go.mod has sdk/v3 $sdk but @pulumi/pulumi is $pulumi_version. Fix: cd tools/engine/$module && go get github.com/pulumi/pulumi/sdk/v3@v$pulumi_version$([ "$module" = pulumi ] && echo " github.com/pulumi/pulumi/pkg/v3@v$pulumi_version") && go mod tidy"
done
pkg="$(pinned "$here/pulumi" github.com/pulumi/pulumi/pkg/v3)"
[ "$pkg" = "v$pulumi_version" ] || fail "tools/engine/pulumi/go.mod has pkg/v3 $pkg but @pulumi/pulumi is $pulumi_version"

mkdir -p "$bin" "$plugins" "$home" "$stamps"
rm -f "$bin/pulumi-resource-command" "$bin/pulumi-resource-random" # where an earlier build put them

# fingerprint NAME FILES...: what a piece is built from (its version and its sources); equal = up to date.
fingerprint() {
  local name="$1"; shift
  { echo "$name"; go version; cat "$@"; } | sha256sum | cut -d' ' -f1
}
up_to_date() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ] && [ -x "$3" ]; }

# 1. The Pulumi CLI. Upstream builds it the same way (CGO off, trimpath, these tags) and stamps the version,
#    which the Automation API checks.
cli_print="$(fingerprint "pulumi v$pulumi_version" "$here/pulumi/go.mod" "$here/pulumi/go.sum" "$here/pulumi/tools.go")"
if up_to_date pulumi "$cli_print" "$bin/pulumi"; then
  log "pulumi v$pulumi_version: up to date"
else
  log "pulumi v$pulumi_version: building github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (empty Go caches: ~1.5 GB of modules and ~13 min of compiling on 2 cores; warm: under a minute)"
  step=$SECONDS
  (cd "$here/pulumi" && CGO_ENABLED=0 go build -p "$parallel" -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version" \
    -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  echo "$cli_print" >"$stamps/pulumi"
  log "pulumi v$pulumi_version: built in $((SECONDS - step))s ($("$bin/pulumi" version))"
fi

# 2. The language host and the provider stand-ins: one module, sdk/v3 only (shares the CLI's build cache).
probe() { # probe MODULE@VERSION: does the Go module proxy serve the upstream module? (logged, never fatal)
  local answer
  if answer="$(cd "$(mktemp -d)" && timeout 60 go mod download -json "$1" 2>&1)"; then
    log "note: the proxy now serves $1: the stand-in could be replaced by the real provider (see tools/engine/README.md)"
  else
    log "upstream $1 is not available (go mod download: ...$(printf '%s' "$answer" | grep -o '"Error": *"[^"]*"' | head -n 1 | tail -c 120)); using the stand-in"
  fi
}
host_sources=("$here/hosts/go.mod" "$here/hosts/go.sum")
while IFS= read -r -d '' file; do host_sources+=("$file"); done < <(find "$here/hosts" -name '*.go' -print0 | sort -z)
host_print="$(fingerprint "hosts $pulumi_version $command_version $random_version" "${host_sources[@]}")"
if up_to_date hosts "$host_print" "$bin/pulumi-language-nodejs" && [ -x "$plugins/pulumi-resource-command" ] && [ -x "$plugins/pulumi-resource-random" ]; then
  log "pulumi-language-nodejs, pulumi-resource-command, pulumi-resource-random: up to date"
else
  probe "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@v$pulumi_version"
  probe "github.com/pulumi/pulumi-command/provider@v$command_version"
  probe "github.com/pulumi/pulumi-random/provider/v4@v$random_version"
  step=$SECONDS
  build_host() { # build_host DIR VERSION OUTDIR
    (cd "$here/hosts" && CGO_ENABLED=0 go build -p "$parallel" -trimpath -ldflags "-X main.Version=$2" -o "$3/$1" "./$1")
  }
  build_host pulumi-language-nodejs "$pulumi_version" "$bin"
  build_host pulumi-resource-command "$command_version" "$plugins"
  build_host pulumi-resource-random "$random_version" "$plugins"
  echo "$host_print" >"$stamps/hosts"
  log "language host and provider stand-ins: built in $((SECONDS - step))s"
fi

# 3. The dynamic-provider host: the script @pulumi/pulumi ships, found on the PATH the suite gives the engine.
install -m 0755 "$repo/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$bin/pulumi-resource-pulumi-nodejs"

# 4. Resource plugins into the project-local PULUMI_HOME, at exactly the versions the npm packages request.
install_plugin() { # install_plugin NAME VERSION
  local dir="$home/plugins/resource-$1-v$2"
  if [ -x "$dir/pulumi-resource-$1" ] && cmp -s "$dir/pulumi-resource-$1" "$plugins/pulumi-resource-$1"; then
    log "plugin $1 v$2: installed"
    return
  fi
  PULUMI_HOME="$home" PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin install resource "$1" "$2" \
    --file "$plugins/pulumi-resource-$1" --reinstall >/dev/null
  log "plugin $1 v$2: installed into $home"
}
install_plugin command "$command_version"
install_plugin random "$random_version"

log "done in $((SECONDS - started))s: PATH=$bin:\$PATH PULUMI_HOME=$home"
