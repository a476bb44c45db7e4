#!/usr/bin/env bash
# Makes the test environment available: PostgreSQL and NATS (JetStream) on
# 127.0.0.1, and the system packages the build and the tests need.
#
# Uses servers that already answer; otherwise installs them from Debian's
# packages and starts throwaway ones under ${WARDEN_TEST_STATE:-/tmp/warden-test-env}.
# Prints the environment to use, e.g.:
#   eval "$(tools/test-env.sh)"
# which exports WARDEN_TEST_DATABASE_URL, WARDEN_TEST_NATS_URL and
# WARDEN_NATS_SERVER.
set -euo pipefail

PG_PORT=${WARDEN_TEST_PG_PORT:-5432}
NATS_PORT=${WARDEN_TEST_NATS_PORT:-4222}
STATE=${WARDEN_TEST_STATE:-${TMPDIR:-/tmp}/warden-test-env}
mkdir -p "$STATE"

log() { printf 'test-env: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ ! -f "$STATE/apt-updated" ]; then
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 && touch "$STATE/apt-updated"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Build and test packages (C toolchain for the bundled SQLite and ring).
if command -v dpkg >/dev/null; then
  apt_install gcc pkg-config ca-certificates curl python3-venv
  # The browser tests drive Debian's headless Chromium through chromedriver;
  # the session benchmarks load the server with wrk.
  apt_install chromium chromium-driver wrk
  # MFA tests check TOTP codes against an independent implementation.
  apt_install oathtool
  # The signing-key schedule's test starts a node whose key is days old
  # (libfaketime sets the clock of the command that made it).
  apt_install faketime
  # Alert email tests send to a real SMTP server (tools/peers/smtp.sh).
  apt_install python3-aiosmtpd
  # The packaging checks validate compose.yaml (tools/packaging/check.sh).
  apt_install docker-compose
  # The TypeScript client and the React example (tools/client/check.sh).
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
fi
# axe-core (from the npm registry, the exact version of its lockfile): the
# browser tests run it over every console page (tests/tests/browser_console.rs).
axe_dir="$(cd "$(dirname "$0")" && pwd)/axe"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  log "installing axe-core"
  npm --prefix "$axe_dir" ci --no-audit --no-fund --loglevel=error >&2
fi
# The AWS KMS emulator (moto, from PyPI) for the KMS tests (tools/peers/kms.sh).
"$(dirname "$0")/peers/kms.sh" --install

# PostgreSQL
if port_open "$PG_PORT"; then
  log "PostgreSQL answers on 127.0.0.1:$PG_PORT"
else
  command -v dpkg >/dev/null && apt_install postgresql postgresql-client
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] || { log "no PostgreSQL binaries found"; exit 1; }
  data="$STATE/pg"
  run=()
  if [ "$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); chown -R postgres: "$STATE" 2>/dev/null || true; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"; [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
    (cd "$STATE" && "${run[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-sync >&2)
  fi
  (cd "$STATE" && "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$STATE/postgres.log" \
     -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $STATE -c max_connections=300" -w start >&2)
  log "PostgreSQL started on 127.0.0.1:$PG_PORT ($data)"
fi

# NATS with JetStream
NATS_SERVER=$(command -v nats-server || true)
if [ -z "$NATS_SERVER" ] && command -v dpkg >/dev/null; then
  apt_install nats-server
  NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
fi
[ -x "${NATS_SERVER:-}" ] || NATS_SERVER=/usr/sbin/nats-server
if port_open "$NATS_PORT"; then
  log "NATS answers on 127.0.0.1:$NATS_PORT"
else
  mkdir -p "$STATE/nats"
  nohup "$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$STATE/nats" -l "$STATE/nats.log" >/dev/null 2>&1 &
  for _ in $(seq 50); do port_open "$NATS_PORT" && break; sleep 0.1; done
  port_open "$NATS_PORT" || { log "NATS did not start; see $STATE/nats.log"; exit 1; }
  log "NATS started on 127.0.0.1:$NATS_PORT"
fi

echo "export WARDEN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "export WARDEN_TEST_NATS_URL=nats://127.0.0.1:$NATS_PORT"
echo "export WARDEN_NATS_SERVER=$NATS_SERVER"
