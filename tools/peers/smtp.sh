#!/usr/bin/env bash
# A real SMTP server for the email tests: aiosmtpd 1.4, refusing (550)
# recipients whose local part starts with "bounce" and writing every
# message it accepts to DIR/maildir (Maildir: new/ holds one RFC 5322 file
# per message; tools/peers/maildir.py reads them back as JSON).
#
#   tools/peers/smtp.sh PORT DIR
#
# Runs in the foreground on 127.0.0.1:PORT, no authentication, no TLS
# (Warden is configured with smtp_tls = "none" for it). Uses Debian's
# python3-aiosmtpd when installed (tools/test-env.sh installs it), else a
# virtual environment under ${WARDEN_TEST_STATE:-/tmp/warden-test-env}.
set -euo pipefail
port=${1:?usage: smtp.sh PORT DIR}
dir=${2:?usage: smtp.sh PORT DIR}
mkdir -p "$dir"

python=
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import aiosmtpd' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  venv=${WARDEN_TEST_STATE:-${TMPDIR:-/tmp}/warden-test-env}/aiosmtpd-venv
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q 'aiosmtpd==1.4.*' >&2
  fi
  python=$venv/bin/python
fi
# -n: do not setuid to nobody; -u: SMTPUTF8; RefusingMailbox
# (tools/peers/warden_smtp.py): write a Maildir, and refuse recipients
# whose local part starts with "bounce" with a 550.
export PYTHONPATH="$(cd "$(dirname "$0")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m aiosmtpd -n -u -l "127.0.0.1:$port" -c warden_smtp.RefusingMailbox "$dir/maildir"
