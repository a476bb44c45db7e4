#!/usr/bin/env bash
# The TypeScript client and the React example, against the given warden
# binary: installs their npm packages (the exact versions of their
# lockfiles), builds the client from api/openapi.json, shows that a change
# in the API breaks the client's build, reports the client's size (and
# fails over its budget), type-checks and builds the example, and runs the
# example in headless Chromium against a real Warden.
#
#   tools/client/check.sh target/debug/warden
set -euo pipefail
cd "$(dirname "$0")/../.."
warden=$(realpath "${1:?usage: tools/client/check.sh <warden binary>}")
client=clients/typescript
example=examples/react
npm() { command npm --no-audit --no-fund --loglevel=error "$@"; }

echo "== @warden/client: build, API drift, size"
npm --prefix "$client" ci
npm --prefix "$client" run -s build
(cd "$client" && node --test test/)
(cd "$client" && node scripts/size.mjs)

echo "== examples/react: build, browser tests"
npm --prefix "$example" ci
npm --prefix "$example" run -s build
(cd "$example" && WARDEN_BIN="$warden" node --test --test-concurrency=1 tests/)
