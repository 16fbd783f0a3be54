#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian/Ubuntu machine and runs
# it: the interop peers (curl, nghttp2's client and server tools, h2load,
# nginx, wrk, openssl, and Go to build h2spec) from apt when one is missing, the Python oracles from
# requirements-test.txt, then `cargo test --workspace`. The README's test
# command and .ci/run both call this script, so they cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in curl:curl nghttp:nghttp2-client nghttpd:nghttp2-server h2load:nghttp2-client \
    nginx:nginx wrk:wrk openssl:openssl go:golang-go; do
    bin=${tool%%:*}
    pkg=${tool#*:}
    if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    # Root installs directly (CI runs as root); anyone else goes through sudo.
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "== installing interop peers: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u)
fi

echo "== Python oracles (requirements-test.txt)"
python3 -m pip install --quiet -r requirements-test.txt

echo "== h2spec (built from the Go sources vendored in tools/h2spec, offline)"
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p "$target_dir/h2spec"
GO111MODULE=off GOPATH="$PWD/tools/h2spec" GOFLAGS= GOCACHE="$target_dir/h2spec/cache" \
    go build -o "$target_dir/h2spec/h2spec" github.com/summerwind/h2spec/cmd/h2spec
export SOCKLESS_H2SPEC="$target_dir/h2spec/h2spec"

echo "== cargo test --workspace"
cargo test --workspace "$@"
