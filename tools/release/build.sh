#!/usr/bin/env bash
# Builds Warden's release binaries for x86_64 Linux (glibc), with SHA-256
# checksums, into dist/:
#   tools/release/build.sh            # dist/warden-<version>-x86_64-linux-gnu.tar.gz and .sha256
# The build is the locked one (Cargo.lock), in release profile; the binary
# links glibc dynamically (2.36 on the machines it is built on: Debian 12
# or newer runs it) and nothing else but the C library.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "warden-api"))')
host=$(rustc -vV | sed -n 's/^host: //p')
[ "$host" = x86_64-unknown-linux-gnu ] || { echo "release builds are made on x86_64 Linux (glibc); this is $host" >&2; exit 1; }
cargo build --release --locked -p warden-api -p bundle-verify --bin warden --bin bundle-verify
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
name="warden-$version-x86_64-linux-gnu"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" dist
install -m 0755 "$target_dir/release/warden" "$target_dir/release/bundle-verify" "$stage/$name/"
# The release profile keeps line tables for the benchmarks' profiles; the
# archive does not need them.
strip --strip-debug "$stage/$name/warden" "$stage/$name/bundle-verify"
cp README.md deploy/systemd/warden.service "$stage/$name/"
# Reproducible archive: sorted names, fixed owner and time.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' \
  -C "$stage" -czf "dist/$name.tar.gz" "$name"
(cd dist && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
(cd "$stage/$name" && sha256sum warden bundle-verify) > "dist/$name.binaries.sha256"
echo "dist/$name.tar.gz"
cat "dist/$name.tar.gz.sha256"
