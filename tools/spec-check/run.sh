#!/usr/bin/env bash
# Checks the audit-chain test vectors with the independent Python verifier;
# `run.sh --differential WARDEN BUNDLE_VERIFY` runs the differential test of
# every verifier instead (differential.py).
# Creates a virtualenv under ${TMPDIR:-/tmp} on first use (PyPI packages of
# requirements.txt). Exits non-zero when the verifier disagrees with the
# fixture. Extra arguments are passed on (e.g. JSON Lines exports to verify).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${TMPDIR:-/tmp}/warden-spec-check-venv"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
if [ "${1:-}" = "--differential" ]; then
  shift
  exec "$venv/bin/python" "$here/differential.py" "$@"
fi
exec "$venv/bin/python" "$here/verify_vectors.py" "$@"
