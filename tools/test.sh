#!/usr/bin/env bash
# Runs the whole test suite: makes PostgreSQL and NATS available
# (tools/test-env.sh), builds the warden and bundle-verify binaries the
# process tests start, runs every test of the workspace, then checks the
# audit-chain format with the independent Python verifier written from
# docs/spec/audit-chain.md
# (its test vectors, and an export made by the real binary), runs the
# differential test of every audit verifier (tools/spec-check/differential.py),
# checks the packaging (tools/packaging/check.sh), builds and tests the
# TypeScript client and runs the React example in Chromium
# (tools/client/check.sh), and fuzzes the HTTP API from its OpenAPI
# document (tools/api-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tools/test-env.sh)"
cargo build --bin warden
cargo build -p bundle-verify
# The OIDC peer's node packages, once, before tests start providers at once.
tools/peers/oidc/install.sh
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" || status=$?
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
warden() { WARDEN_DATA_DIR="$scratch/data" cargo run --quiet --bin warden -- "$@"; }
warden keys rotate >/dev/null 2>&1      # genesis, then a rotation signed by the genesis key
warden export --out "$scratch/export.jsonl"
tools/spec-check/run.sh >/dev/null || { tools/spec-check/run.sh; status=1; }   # the spec's vectors
tools/spec-check/run.sh "$scratch/export.jsonl" || status=$?              # a real export
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# Every verifier (warden, bundle-verify, the Python one) on one corpus of
# real and mutated exports and bundles: they must agree on every verdict.
tools/spec-check/run.sh --differential "$target/debug/warden" "$target/debug/bundle-verify" --per-file 150 --keep "$scratch/differential" || status=$?
# The Dockerfile, compose file, systemd unit and container entry point.
tools/packaging/check.sh "$target/debug/warden" || status=$?
# The TypeScript client (types from the OpenAPI document) and the React
# example in headless Chromium against a real Warden.
tools/client/check.sh "$target/debug/warden" || status=$?
tools/api-fuzz/run.sh "$target/debug/warden" || status=$?
exit $status
