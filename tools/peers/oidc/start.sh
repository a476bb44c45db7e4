#!/usr/bin/env bash
# Starts the OIDC peer (oidc-provider 9.13.3, server.js) in the background on
# 127.0.0.1:PORT and waits until its discovery document answers.
#
#   tools/peers/oidc/start.sh [PORT]     (or OIDC_PORT; 0 or empty: a free port)
#
# Env: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma
# separated, exact match), OIDC_POST_LOGOUT_REDIRECT_URIS, OIDC_AUTO_LOGIN,
# OIDC_USERS, OIDC_STATE_DIR (default tools/peers/oidc/run/PORT: oidc.pid,
# oidc.log). Prints OIDC_ISSUER=... and the rest as KEY=value lines.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:-${OIDC_PORT:-0}}
if [ "$port" = 0 ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
"$here/install.sh"

export OIDC_CLIENT_ID=${OIDC_CLIENT_ID:-test-client}
export OIDC_CLIENT_SECRET=${OIDC_CLIENT_SECRET:-test-client-secret}
export OIDC_REDIRECT_URIS=${OIDC_REDIRECT_URIS:-http://127.0.0.1:8080/callback}
state=${OIDC_STATE_DIR:-$here/run/$port}
mkdir -p "$state"
state=$(cd "$state" && pwd)
if [ -f "$state/oidc.pid" ] && kill -0 "$(cat "$state/oidc.pid")" 2>/dev/null; then
  echo "start.sh: already running with pid $(cat "$state/oidc.pid") ($state)" >&2
  exit 1
fi

# setsid: its own session, so it outlives the caller's shell and job control.
setsid node "$here/server.js" "$port" >>"$state/oidc.log" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$state/oidc.pid"

issuer=http://127.0.0.1:$port
discovery=$issuer/.well-known/openid-configuration
for _ in $(seq 150); do
  if curl -fsS -o /dev/null "$discovery" 2>/dev/null; then
    printf '%s\n' "OIDC_ISSUER=$issuer" "OIDC_DISCOVERY_URL=$discovery" "OIDC_PID=$pid" \
      "OIDC_STATE_DIR=$state" "OIDC_CLIENT_ID=$OIDC_CLIENT_ID" \
      "OIDC_CLIENT_SECRET=$OIDC_CLIENT_SECRET" "OIDC_REDIRECT_URIS=$OIDC_REDIRECT_URIS"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "start.sh: the OIDC peer did not answer on $discovery within 15 s; log $state/oidc.log:" >&2
else
  echo "start.sh: the OIDC peer exited; log $state/oidc.log:" >&2
fi
tail -n 20 "$state/oidc.log" >&2
kill "$pid" 2>/dev/null || true
exit 1
