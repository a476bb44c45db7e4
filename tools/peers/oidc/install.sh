#!/usr/bin/env bash
# Installs the OIDC peer's node packages (oidc-provider 9.13.3, jose) from
# package-lock.json into tools/peers/oidc/node_modules with `npm ci`.
# Skipped when node_modules already matches the lock: the lock's sha256 is
# kept in node_modules/.lock-hash after a successful install.
#
#   tools/peers/oidc/install.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/.lock-hash ] && [ "$(cat node_modules/.lock-hash)" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund >&2
echo "$want" > node_modules/.lock-hash
