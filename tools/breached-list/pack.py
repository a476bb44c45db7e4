#!/usr/bin/env python3
"""Packs a plain-text list as one LZ4 block with its size prepended, the
format `lz4_flex::block::decompress_size_prepended` reads, or unpacks one.

  pack.py pack IN.txt OUT.lz4 [--max-bytes N]   needs the PyPI `lz4` package
  pack.py unpack IN.lz4 [OUT.txt]               standard library only

The format: the uncompressed length as a 4-byte little-endian u32, then one
raw LZ4 block (no frame, no checksum). `lz4.block.compress(...,
store_size=True)` writes exactly that. `pack` compresses with LZ4-HC level
12 (the best ratio LZ4 has; decoding speed is the same as plain LZ4), then
checks the result three ways before writing it: the size prefix, a round trip
through `lz4.block.decompress`, and a round trip through the small
independent decoder below, which is strict in the ways lz4_flex's safe
decoder is (offsets inside the output, exact declared size).
"""
import argparse
import struct
import sys


def decode_size_prepended(blob):
    """Decodes `u32 LE size || LZ4 block` in pure Python; raises ValueError."""
    if len(blob) < 4:
        raise ValueError("shorter than the 4-byte size prefix")
    (size,) = struct.unpack_from("<I", blob, 0)
    src = memoryview(blob)[4:]
    n = len(src)
    out = bytearray()
    i = 0
    while True:
        if i >= n:
            raise ValueError("block ends inside a sequence")
        token = src[i]
        i += 1
        literals = token >> 4
        if literals == 15:
            while True:
                if i >= n:
                    raise ValueError("block ends inside a literal length")
                extra = src[i]
                i += 1
                literals += extra
                if extra != 255:
                    break
        if i + literals > n:
            raise ValueError("literals run past the end of the block")
        out += src[i:i + literals]
        i += literals
        if i == n:
            break  # the last sequence has literals only
        if i + 2 > n:
            raise ValueError("block ends inside an offset")
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        if offset == 0 or offset > len(out):
            raise ValueError(f"offset {offset} outside the output ({len(out)} bytes)")
        length = token & 15
        if length == 15:
            while True:
                if i >= n:
                    raise ValueError("block ends inside a match length")
                extra = src[i]
                i += 1
                length += extra
                if extra != 255:
                    break
        length += 4
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # overlapping copy: the last `offset` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
        if len(out) > size:
            raise ValueError(f"output exceeds the declared {size} bytes")
    if len(out) != size:
        raise ValueError(f"decoded {len(out)} bytes, the prefix says {size}")
    return bytes(out)


def pack(args):
    import lz4
    import lz4.block

    with open(args.input, "rb") as f:
        data = f.read()
    if len(data) > args.max_bytes:
        sys.exit(f"pack.py: {args.input} is {len(data)} bytes, over the {args.max_bytes}-byte limit")
    data.decode("utf-8")  # must load as a Rust String
    packed = lz4.block.compress(data, mode="high_compression", compression=12, store_size=True)
    if packed[:4] != struct.pack("<I", len(data)):
        sys.exit("pack.py: the first 4 bytes are not the little-endian length")
    if lz4.block.decompress(packed) != data:
        sys.exit("pack.py: lz4.block.decompress round trip failed")
    try:
        if decode_size_prepended(packed) != data:
            sys.exit("pack.py: independent decoder round trip differs")
    except ValueError as err:
        sys.exit(f"pack.py: independent decoder refused the block: {err}")
    with open(args.output, "wb") as f:
        f.write(packed)
    print(
        f"  {args.output}: {len(data)} -> {len(packed)} bytes "
        f"(lz4 {lz4.__version__}, liblz4 {lz4.library_version_string()}, HC 12)",
        file=sys.stderr,
    )


def unpack(args):
    with open(args.input, "rb") as f:
        data = decode_size_prepended(f.read())
    if args.output:
        with open(args.output, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="text -> size-prepended LZ4 block")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--max-bytes", type=int, default=2_000_000, help="refuse larger inputs")
    p.set_defaults(func=pack)
    u = sub.add_parser("unpack", help="size-prepended LZ4 block -> text (stdout if no OUT)")
    u.add_argument("input")
    u.add_argument("output", nargs="?")
    u.set_defaults(func=unpack)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
