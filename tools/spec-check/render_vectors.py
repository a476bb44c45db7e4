#!/usr/bin/env python3
"""Writes the test vectors of core/tests/fixtures/chain-vectors.json into
docs/spec/audit-chain.md, between the <!-- vectors:begin/end --> markers,
and those of bundle-vectors.json into docs/spec/audit-bundle.md (between
<!-- bundle-vectors:begin/end -->).

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


BUNDLE_FIXTURE = ROOT / "core/tests/fixtures/bundle-vectors.json"
BUNDLE_SPEC = ROOT / "docs/spec/audit-bundle.md"


def render_bundle(fixture):
    lines = fixture["bundle"].splitlines()
    proofs = fixture["proofs"]
    consistency = fixture["consistency"]
    out = [
        "The bundle of events 2 and 3 of the chain vectors (audit-chain §14),",
        "selection `{\"kind\":\"range\",\"from\":2,\"to\":3}`, `created_at`",
        f"`2026-03-02T09:00:00.000000Z`, under a checkpoint of the log of those",
        "three events signed by the test key (seed 0, 1, …, 31). Values are",
        "those of `core/tests/fixtures/bundle-vectors.json`, checked by",
        "`core/tests/bundle_vectors.rs` and by `tools/spec-check`.",
        "",
        "### 8.1 Tree",
        "",
        "| value | hex |",
        "| --- | --- |",
    ]
    for index, leaf in enumerate(fixture["leaves"], start=1):
        out.append(f"| leaf of event {index} | `{leaf}` |")
    out += [
        f"| node(leaf 1, leaf 2) | `{fixture['node_1_2']}` |",
        f"| root (3 events) = node(node(leaf 1, leaf 2), leaf 3) | `{fixture['root']}` |",
        f"| root of the first event (= leaf 1) | `{consistency['root_1']}` |",
        f"| root of the first 2 events | `{consistency['root_2']}` |",
        "",
        "| proof | hashes, from the leaf up |",
        "| --- | --- |",
    ]
    for seq, proof in proofs.items():
        out.append(f"| inclusion of seq {seq} in 3 | " + ", ".join(f"`{h}`" for h in proof) + " |")
    out.append("| consistency 1 → 3 | " + ", ".join(f"`{h}`" for h in consistency["1_3"]) + " |")
    out.append("| consistency 2 → 3 | " + ", ".join(f"`{h}`" for h in consistency["2_3"]) + " |")
    out += [
        "",
        "### 8.2 Checkpoint",
        "",
        "Statement:",
        "",
        code(fixture["checkpoint"]["statement"]),
        "",
        f"* digest: `{fixture['checkpoint']['digest']}`",
        f"* `sig`: `{fixture['checkpoint']['sig']}`",
        "",
        "### 8.3 Marks and seal",
        "",
        f"Canonical header ({fixture['canonical_header_length']} bytes):",
        "",
        code(fixture["canonical_header"]),
        "",
        f"* mark[0]: `{fixture['marks'][0]}`",
        f"* mark[1] (seq 2): `{fixture['marks'][1]}`",
        f"* mark[2] (seq 3): `{fixture['marks'][2]}`",
        f"* seal `digest`: `{fixture['seal']['digest']}`",
        f"* seal `sig`: `{fixture['seal']['sig']}`",
        "",
        "### 8.4 The bundle",
        "",
        f"{len(lines)} lines, each ending with LF:",
        "",
        code("\n".join(lines)),
        "",
        "### 8.5 Negative vectors",
        "",
        "Each is the bundle above with one change (the fixture holds the whole",
        "file); every verifier must refuse it, naming the line shown.",
        "",
        "| name | change | line |",
        "| --- | --- | --- |",
    ]
    for negative in fixture["negative"]:
        out.append(f"| {negative['name']} | {negative['description']} | {negative['line']} |")
    return "\n".join(out)


def write_between(spec_path, begin, end, body):
    spec = spec_path.read_text(encoding="utf-8")
    head, rest = spec.split(begin, 1)
    _, tail = rest.split(end, 1)
    spec_path.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")


def main():
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    write_between(SPEC, BEGIN, END, render(fixture))
    if BUNDLE_FIXTURE.exists():
        bundle = json.loads(BUNDLE_FIXTURE.read_text(encoding="utf-8"))
        write_between(BUNDLE_SPEC, "<!-- bundle-vectors:begin -->", "<!-- bundle-vectors:end -->", render_bundle(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
