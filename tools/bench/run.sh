#!/usr/bin/env bash
# Runs Warden's benchmarks and prints the tables (see docs/performance.md).
#   tools/bench/run.sh                 # 1,000,000 events per backend
#   tools/bench/run.sh --events 100000 # quicker
#   tools/bench/run.sh --suite sessions # session checks, sign-in, memory (needs wrk)
#   tools/bench/run.sh --suite checkpoints --events 1000000 # following the root, verify with a checkpoint, consistency proofs
#   tools/bench/run.sh --suite vault    # vault reads cached and uncached, local and AWS KMS (moto), beside a session check
#   tools/bench/run.sh --suite api-keys # key verification and forward auth with 100,000 keys, memory per key (needs wrk)
#   tools/bench/run.sh --suite console  # the users list, a user's page and the home page with 100,000 users
#   tools/bench/run.sh --suite sso      # the single sign-on callback with a local OpenID Provider (needs node)
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(tools/test-env.sh)"
if [[ " $* " == *" sso "* ]]; then tools/peers/oidc/install.sh >/dev/null; fi
cargo build --release -p warden-api -p warden-bench --bin warden --bin warden-bench
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/warden-bench" --warden "$target/release/warden" "$@"
