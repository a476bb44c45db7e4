#!/usr/bin/env bash
# Stops the OIDC peer started by start.sh PORT: TERM to the pid in
# STATE/oidc.pid, KILL after 10 s, then removes STATE
# (${OIDC_STATE_DIR:-tools/peers/oidc/run/PORT}).
#
#   tools/peers/oidc/stop.sh PORT
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:-${OIDC_PORT:?usage: stop.sh PORT}}
state=${OIDC_STATE_DIR:-$here/run/$port}
if [ -f "$state/oidc.pid" ]; then
  pid=$(cat "$state/oidc.pid")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
fi
rm -rf "$state"
