#!/bin/sh
# The container's entry point: turns secrets mounted as files into what
# Warden reads, then runs `warden` with the container's command.
#
# - DATABASE_URL_FILE, NATS_URL_FILE: the URL (which may hold a password)
#   is read from the file into DATABASE_URL / NATS_URL. Setting both the
#   variable and its _FILE is refused.
# - WARDEN_KMS_KEY_FILE and WARDEN_APP_EVENTS_TOKEN_FILE pointing at a
#   secret readable by others (as container secrets are mounted): copied
#   into a private file (mode 0600) under $TMPDIR, which Warden accepts
#   (it refuses a master key others may read); the mounted file stays.
set -eu

from_file() {
  name=$1
  eval "value=\${$name:-}"
  eval "file=\${${name}_FILE:-}"
  [ -n "$file" ] || return 0
  if [ -n "$value" ]; then
    echo "warden-entrypoint: both $name and ${name}_FILE are set; set one" >&2
    exit 64
  fi
  if [ ! -r "$file" ]; then
    echo "warden-entrypoint: ${name}_FILE=$file cannot be read" >&2
    exit 66
  fi
  # The file's content without its trailing newline.
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
}

from_file DATABASE_URL
from_file NATS_URL

# A copy readable by this user only, for a secret file others may read.
private=""
privatize() {
  name=$1
  eval "file=\${$name:-}"
  [ -n "$file" ] && [ -e "$file" ] || return 0
  case $(stat -c %a "$file") in
    ?00) return 0 ;;
  esac
  if [ -z "$private" ]; then
    private=$(mktemp -d "${TMPDIR:-/tmp}/warden-secrets.XXXXXX")
    chmod 0700 "$private"
  fi
  (umask 077 && cat "$file" > "$private/$name")
  export "$name=$private/$name"
}

privatize WARDEN_KMS_KEY_FILE
privatize WARDEN_APP_EVENTS_TOKEN_FILE

exec "${WARDEN_BINARY:-/usr/local/bin/warden}" "$@"
