#!/usr/bin/env python3
"""Writes the test vectors of core/tests/fixtures/chain-vectors.json into
docs/spec/audit-chain.md, between the <!-- vectors:begin/end --> markers.

Run after regenerating the fixture; `cargo test -p warden-core --test
chain_vectors` then checks that the spec embeds the fixture's values.
Standard library only.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "core/tests/fixtures/chain-vectors.json"
SPEC = ROOT / "docs/spec/audit-chain.md"
BEGIN, END = "<!-- vectors:begin -->", "<!-- vectors:end -->"

TITLES = {
    1: "Event 1: genesis (`signing_key.added`)",
    2: "Event 2: `app.invoice.paid`",
    3: "Event 3: `login.failed`",
}
NOTES = {
    1: "Self-signed announcement of the test key; `prev` is 32 zero bytes.",
    2: (
        "Actor with `id`, `org`, `ip` and `user_agent`; `data` with a nested "
        "object, an array of objects, a negative integer, `null`, `true`, "
        "non-ASCII text, a string needing escapes (quote, backslash, newline, "
        "U+0001) and two member names that sort differently by UTF-16 code "
        "units (canonical: `💶` U+1F4B6 first) than by UTF-8 bytes (wire: "
        "`ﬁ` U+FB01 first)."
    ),
    3: "Minimal actor `{\"kind\":\"anonymous\"}`, outcome `failure`.",
}


def code(text):
    return f"```\n{text}\n```"


def render(fixture):
    key, stranger = fixture["signing_key"], fixture["stranger_key"]
    out = [
        "### 14.1 Keys and domains",
        "",
        "| | test key | stranger key (never announced) |",
        "| --- | --- | --- |",
        f"| seed (Ed25519 secret, 32 bytes) | `{key['seed']}` | `{stranger['seed']}` |",
        f"| public key | `{key['public_key']}` | `{stranger['public_key']}` |",
        f"| key id | `{key['key_id']}` | `{stranger['key_id']}` |",
        "",
        "The test key's seed is the bytes 0, 1, 2, …, 31; the stranger's is 32, 33, …, 63.",
        "",
        "| domain | bytes (hex) |",
        "| --- | --- |",
    ]
    for name, text in fixture["domains"].items():
        out.append(f"| {name} ({len(text.encode())} bytes) | `{text.encode().hex()}` |")
    for number, event in enumerate(fixture["events"], start=2):
        seq = event["seq"]
        canonical = event["canonical"]
        out += [
            "",
            f"### 14.{number} {TITLES.get(seq, f'Event {seq}')}",
            "",
            NOTES.get(seq, ""),
            "",
            f"Canonical bytes ({len(canonical.encode())} bytes of UTF-8):",
            "",
            code(canonical),
            "",
            f"* `hash`: `{event['hash']}`",
            f"* signed message (64 bytes): `{event['signed_message']}`",
            f"* `sig`: `{event['sig']}`",
            "",
            "Wire line (JSON Lines export):",
            "",
            code(event["wire"]),
        ]
    out += [
        "",
        f"### 14.{len(fixture['events']) + 2} Negative vectors",
        "",
        "Each is the chain above with one change (the fixture holds the full",
        "lines); verifying from seq 1 without pinned keys must stop at the",
        "first bad seq with the error shown.",
        "",
        "| name | change | first bad seq | error | message |",
        "| --- | --- | --- | --- | --- |",
    ]
    for negative in fixture["negative"]:
        error = negative["error"]
        out.append(
            f"| {negative['name']} | {negative['description']} | {error['seq']} "
            f"| `{error['variant']}` | `{error['message']}` |"
        )
    return "\n".join(out)


def main():
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    spec = SPEC.read_text(encoding="utf-8")
    head, rest = spec.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    SPEC.write_text(f"{head}{BEGIN}\n{render(fixture)}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
