#!/usr/bin/env bash
# Runs the whole test suite: makes PostgreSQL and NATS available
# (tools/test-env.sh), builds the warden binary the process tests start,
# and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tools/test-env.sh)"
cargo build --bin warden
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
