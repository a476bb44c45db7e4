#!/usr/bin/env bash
# An AWS KMS emulator for the KMS tests: moto 5.2 in server mode (every AWS
# service in memory, KMS included), from PyPI in a virtual environment under
# ${WARDEN_TEST_STATE:-/tmp/warden-test-env}/moto-venv.
#
#   tools/peers/kms.sh --install      install it (tools/test-env.sh does)
#   tools/peers/kms.sh PORT DIR       run it on 127.0.0.1:PORT, in the foreground
#
# With DIR, every request and its body is recorded in DIR/requests.jsonl
# (moto's recorder) so a test can read exactly what Warden sent the KMS.
# Credentials: any (AWS_ACCESS_KEY_ID=testing ...); the account is
# 123456789012. Unlike AWS, moto still decrypts with a disabled key: key
# state is checked by DescribeKey (AwsKms::connect, /readyz), not by this.
set -euo pipefail
venv=${WARDEN_TEST_STATE:-${TMPDIR:-/tmp}/warden-test-env}/moto-venv

install() {
  if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import moto, flask' 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.*' >&2
}

if [ "${1:-}" = "--install" ]; then
  install
  exit 0
fi
port=${1:?usage: kms.sh PORT DIR | kms.sh --install}
dir=${2:?usage: kms.sh PORT DIR}
mkdir -p "$dir"
install
export MOTO_ENABLE_RECORDING=True
export MOTO_RECORDER_FILEPATH="$dir/requests.jsonl"
exec "$venv/bin/moto_server" -H 127.0.0.1 -p "$port"
