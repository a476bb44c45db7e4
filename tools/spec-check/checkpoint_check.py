#!/usr/bin/env python3
"""An independent checker of Warden's published checkpoints
(warden-audit-checkpoint/v1) and consistency proof documents
(warden-audit-consistency/v1), written from docs/spec/audit-checkpoint.md;
section numbers (§) refer to it, "chain §" to docs/spec/audit-chain.md and
"bundle §" to docs/spec/audit-bundle.md, whose primitives verify_vectors.py
and bundle_check.py have.

  checkpoint_check.py [--fixture FILE]
      checks core/tests/fixtures/checkpoint-vectors.json: every positive
      vector reproduces (from the seed and the log's hashes), every
      negative one is refused with the reason the spec gives, the golden
      ledger.checkpointed payload verifies, and the spec embeds the
      fixture's vectors. Exit 1 on any disagreement.
  checkpoint_check.py --regenerate
      writes the fixture from the rules of the spec (PyNaCl, blake3), and
      renders it into the spec between the checkpoint-vectors markers.

verify_vectors.py (tools/spec-check/run.sh) runs check_fixture too.
"""

import argparse
import datetime
import json
import pathlib
import sys

import blake3
from nacl.signing import SigningKey

import bundle_check as tree
import verify_vectors as chain

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_FIXTURE = ROOT / "core/tests/fixtures/checkpoint-vectors.json"
SPEC = ROOT / "docs/spec/audit-checkpoint.md"
GOLDEN = "core/tests/fixtures/events/ledger.checkpointed.json"
BEGIN, END = "<!-- checkpoint-vectors:begin -->", "<!-- checkpoint-vectors:end -->"

FORMAT = "warden-audit-checkpoint/v1"
CONSISTENCY_FORMAT = "warden-audit-consistency/v1"
DOMAIN = b"warden/audit-chain/v1/published-checkpoint\n"
MAX_TREE_SIZE = 2**53 - 1
# §2: the members, in the order Warden writes them (and the order in which
# a missing one is named).
MEMBERS = ("format", "tree_size", "root", "head", "at", "key_id", "public_key", "sig")
CONSISTENCY_MEMBERS = ("format", "from", "to", "proof")


class Refused(Exception):
    """A document refused (§3.3, §6.1) or a proof that does not hold (§6.2),
    or an untrusted key (§4): `rule` is the row's name, `reason` its text."""

    def __init__(self, rule, reason):
        super().__init__(reason)
        self.rule, self.reason = rule, reason


# ---- reading (§3.3 rows 1-3, §6.1) ---------------------------------------------

def quoted(text):
    return json.dumps(text, ensure_ascii=False)


def read_object(text, members):
    """Rows 1-3: one JSON value, no object naming a member twice (at any
    depth), an object with exactly `members`."""

    def unique(pairs):
        seen = set()
        for name, _ in pairs:
            if name in seen:
                raise Refused("duplicate_member", f"duplicate member name {quoted(name)}")
            seen.add(name)
        return dict(pairs)

    try:
        value = json.loads(text, object_pairs_hook=unique, parse_float=chain.NotInteger,
                           parse_int=chain.integer_token, parse_constant=chain.refuse_constant)
    except Refused:
        raise
    except (ValueError, chain.Malformed) as error:
        raise Refused("json", f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Refused("members", "not an object")
    for name in value:
        if name not in members:
            raise Refused("members", f"unknown member {quoted(name)}")
    for name in members:
        if name not in value:
            raise Refused("members", f"missing member {quoted(name)}")
    return value


def shown(value):
    """A member's value as JSON (a refused number token as written)."""
    if isinstance(value, chain.NotInteger):
        return value.token
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=lambda v: v.token)


def lower_hex(value, size):
    """`size` bytes as 2*size lower-case hex digits, or None."""
    if isinstance(value, str) and len(value) == 2 * size and all(c in "0123456789abcdef" for c in value):
        return bytes.fromhex(value)
    return None


def tree_size_value(value):
    """§2: an integer token from 1 to 2^53-1 (no fraction, no exponent, not -0,
    not a boolean)."""
    return value if type(value) is int and 1 <= value <= MAX_TREE_SIZE else None


def timestamp(value):
    """chain §2's `at`: YYYY-MM-DDTHH:MM:SS.ffffffZ, a real date, years 0001-9999,
    no leap second."""
    if not isinstance(value, str) or not chain.AT.match(value):
        return None
    try:
        datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return value


# ---- §3: the signature -----------------------------------------------------------

def canonical(tree_size, root, head, at):
    return f'{{"at":"{at}","head":"{head.hex()}","root":"{root.hex()}","tree_size":{tree_size}}}'


def digest(tree_size, root, head, at):
    return blake3.blake3(DOMAIN + canonical(tree_size, root, head, at).encode("utf-8")).digest()


def check_document(text):
    """§3.3: reads and checks a checkpoint document, rows in order. Returns
    the document with `root`, `head`, `public_key` and `sig` as bytes."""
    doc = read_object(text, MEMBERS)
    if doc["format"] != FORMAT:
        raise Refused("format", f"format is {shown(doc['format'])}, not {quoted(FORMAT)}")
    if tree_size_value(doc["tree_size"]) is None:
        raise Refused("tree_size", "tree_size must be from 1 to 2^53-1")
    root, head = lower_hex(doc["root"], 32), lower_hex(doc["head"], 32)
    if root is None:
        raise Refused("root", "root must be 64 lower-case hex digits")
    if head is None:
        raise Refused("head", "head must be 64 lower-case hex digits")
    if timestamp(doc["at"]) is None:
        raise Refused("at", "at is not a timestamp like 2026-01-02T03:04:05.000000Z")
    public = lower_hex(doc["public_key"], 32)
    if public is None:
        raise Refused("public_key", "public_key must be 64 lower-case hex digits")
    point = chain.decode_point(public)
    if point is None:
        raise Refused("point", "public_key is not a valid Ed25519 point")
    if chain.small_order(point):
        raise Refused("weak_key", "public_key is a weak (small-order) point")
    if doc["key_id"] != chain.key_id(public):
        raise Refused("key_id", "key_id does not name public_key")
    sig = lower_hex(doc["sig"], 64)
    if sig is None:
        raise Refused("sig", "sig must be 128 lower-case hex digits")
    message = chain.signed_message(digest(doc["tree_size"], root, head, doc["at"]))
    if not chain.signature_valid(public, message, sig):
        raise Refused("signature", "the signature does not verify under public_key")
    return dict(doc, root=root, head=head, public_key=public, sig=sig)


# ---- §4: trusting the key ----------------------------------------------------------

def trust(doc, pinned, announced):
    """Keys compared by their 32 bytes, never by key id."""
    if doc["public_key"] not in list(pinned) + list(announced):
        raise Refused("untrusted", f"the checkpoint is signed by {doc['key_id']}, which is not a key you trust")


# ---- §5: comparing a log with a checkpoint -------------------------------------------

def describe(doc):
    return (f"the checkpoint of {doc['at']} (tree size {doc['tree_size']}, "
            f"head {doc['head'].hex()}, root {doc['root'].hex()})")


def compare(doc, first, last, hash_of):
    """`hash_of(seq)` is the hash of a verified event first <= seq <= last.
    Returns (finding, seq, verdict)."""
    size, of = doc["tree_size"], describe(doc)
    if last < size:
        return ("cut_short", last + 1,
                f"FAILED at seq {last + 1}: missing: the log ends at seq {last}, but {of} saw {size} events: "
                f"events were cut from the end, or the log was rolled back")
    if first > size:
        return ("before", None, f"cannot compare {of}: the verified events start at seq {first}, after it")
    head = hash_of(size)
    if head != doc["head"]:
        return ("forked_head", size,
                f"FAILED at seq {size}: the event there has hash {head.hex()}, {of} says {doc['head'].hex()}: "
                f"the log was rewritten or forked")
    if first == 1:
        root = tree.root_of([hash_of(seq) for seq in range(1, size + 1)])
        if root != doc["root"]:
            return ("forked_root", size,
                    f"FAILED at seq {size}: the first {size} events have root {root.hex()}, {of} says "
                    f"{doc['root'].hex()}: the log was rewritten or forked")
        return ("holds", size, f"holds {of}: same head and root at seq {size}")
    return ("holds_head_only", size,
            f"holds {of}: same head at seq {size} (the root was not recomputed: the events do not start at seq 1)")


FAILED_FINDINGS = {"cut_short", "forked_head", "forked_root"}


# ---- §6: consistency proofs -------------------------------------------------------------

def check_consistency_document(text):
    """§6.1: returns (from, to, proof as bytes)."""
    doc = read_object(text, CONSISTENCY_MEMBERS)
    if doc["format"] != CONSISTENCY_FORMAT:
        raise Refused("format", f"format is {shown(doc['format'])}, not {quoted(CONSISTENCY_FORMAT)}")
    start, end = tree_size_value(doc["from"]), tree_size_value(doc["to"])
    if start is None or end is None or start > end:
        raise Refused("sizes", "from and to must be tree sizes with 1 <= from <= to <= 2^53-1")
    proof = doc["proof"]
    hashes = [lower_hex(item, 32) for item in proof] if isinstance(proof, list) else [None]
    if None in hashes:
        raise Refused("proof", "proof must be an array of hashes of 64 lower-case hex digits")
    return start, end, hashes


def proves(document, older, newer):
    """§6.2: `older` and `newer` are (tree_size, root) of two kept checkpoints."""
    start, end, proof = document
    if (start, end) != (older[0], newer[0]):
        raise Refused("sizes_differ", f"the proof is from tree size {start} to {end}, not from {older[0]} to {newer[0]}")
    if not tree.consistent(older[0], newer[0], older[1], newer[1], proof):
        raise Refused("not_consistent", f"the log of {newer[0]} events does not begin with the log of {older[0]} "
                                        f"events: it was rewritten or forked between them")


# ---- the vectors -------------------------------------------------------------------------------

def check_fixture(path, expect):
    """Checks every vector of the fixture; `expect(name, ok, detail)` records
    each result (verify_vectors.check_fixture passes its own)."""
    path = pathlib.Path(path)
    if not path.exists():
        expect(f"checkpoint: fixture {path.name} exists", False, "run checkpoint_check.py --regenerate")
        return
    fixture = json.loads(path.read_text(encoding="utf-8"))

    def refusal(function, *args):
        try:
            function(*args)
            return None
        except Refused as error:
            return (error.rule, error.reason)

    expect("checkpoint: formats and domains",
           (fixture["format"], fixture["consistency_format"], fixture["domains"]["published_checkpoint"].encode(),
            fixture["domains"]["signature"].encode()) == (FORMAT, CONSISTENCY_FORMAT, DOMAIN, chain.SIGNATURE_DOMAIN))
    keys = {}
    for name in ("key", "stranger_key"):
        entry = fixture[name]
        secret = SigningKey(bytes.fromhex(entry["seed"]))
        public = bytes(secret.verify_key)
        keys[name] = (secret, public)
        expect(f"checkpoint: {name}: public key and key id from the seed",
               (public.hex(), chain.key_id(public)) == (entry["public_key"], entry["key_id"]),
               f"{public.hex()} {chain.key_id(public)}")
    secret, public = keys["key"]

    logs = {name: [bytes.fromhex(h) for h in hashes] for name, hashes in fixture["logs"].items()}
    original = logs["original"]
    expect("checkpoint: the log's hashes are BLAKE3(\"event <seq>\")",
           original == [blake3.blake3(f"event {seq}".encode()).digest() for seq in range(1, len(original) + 1)])
    for entry in fixture["roots"]:
        got = tree.root_of(original[:entry["tree_size"]])
        expect(f"checkpoint: root of the first {entry['tree_size']} events", got.hex() == entry["root"], got.hex())

    # The proofs of §6.1 as this file makes them, against those the reference
    # implementation made for the bundle vectors (bundle §8.1).
    bundle = json.loads((path.parent / "bundle-vectors.json").read_text(encoding="utf-8"))
    chain_fixture = json.loads((path.parent / "chain-vectors.json").read_text(encoding="utf-8"))
    three = [bytes.fromhex(vector["hash"]) for vector in chain_fixture["events"]]
    expect("checkpoint: PROOF(m, D[3]) reproduces the bundle vectors' consistency proofs",
           [[h.hex() for h in consistency_proof(three, m)] for m in (1, 2)]
           == [bundle["consistency"]["1_3"], bundle["consistency"]["2_3"]])

    documents = {}
    for vector in fixture["checkpoints"]:
        size = vector["tree_size"]
        root, head = tree.root_of(original[:size]), original[size - 1]
        expect(f"checkpoint {size}: root and head", (root.hex(), head.hex()) == (vector["root"], vector["head"]))
        text = canonical(size, root, head, vector["at"])
        expect(f"checkpoint {size}: canonical", text == vector["canonical"], text)
        ours = digest(size, root, head, vector["at"])
        expect(f"checkpoint {size}: digest", ours.hex() == vector["digest"], ours.hex())
        message = chain.signed_message(ours)
        expect(f"checkpoint {size}: signed message", message.hex() == vector["signed_message"], message.hex())
        sig = secret.sign(message).signature
        expect(f"checkpoint {size}: signature (deterministic, from the seed)", sig.hex() == vector["sig"], sig.hex())
        try:
            doc = check_document(vector["document"])
            expect(f"checkpoint {size}: document verifies",
                   (doc["tree_size"], doc["root"], doc["head"], doc["at"], doc["public_key"], doc["sig"])
                   == (size, root, head, vector["at"], public, sig))
            documents[size] = doc
        except Refused as error:
            expect(f"checkpoint {size}: document verifies", False, error.reason)

    for negative in fixture["negative"]:
        got = refusal(check_document, negative["text"])
        expect(f"checkpoint negative {negative['name']}: {negative['rule']}",
               got == (negative["rule"], negative["reason"]), f"got {got}")

    for vector in fixture["trust"]:
        try:
            doc = check_document(vector["checkpoint"])
            got = refusal(trust, doc, [bytes.fromhex(k) for k in vector["pinned"]],
                          [bytes.fromhex(k) for k in vector["announced"]])
        except Refused as error:
            got = ("document", error.reason)
        want = None if vector["trusted"] else ("untrusted", vector["reason"])
        expect(f"checkpoint trust {vector['name']}: {'trusted' if vector['trusted'] else 'untrusted'}",
               got == want, f"got {got}")

    for case in fixture["comparisons"]:
        doc = documents.get(case["checkpoint"])
        if doc is None:
            expect(f"checkpoint comparison {case['name']}", False, f"no checkpoint of size {case['checkpoint']}")
            continue
        log = logs[case["log"]]
        first, last = case["first"], case["last"]

        def hash_of(seq, log=log, first=first, last=last):
            assert first <= seq <= last
            return log[seq - 1]

        finding, seq, verdict = compare(doc, first, last, hash_of)
        expect(f"checkpoint comparison {case['name']}: {case['finding']}",
               (finding, seq, finding in FAILED_FINDINGS, verdict)
               == (case["finding"], case["seq"], case["failed"], case["verdict"]),
               f"got {(finding, seq, verdict)}")

    for vector in fixture["consistency"]:
        name = f"consistency {vector['from']} -> {vector['to']}"
        start, end = vector["from"], vector["to"]
        old_root, new_root = tree.root_of(original[:start]), tree.root_of(original[:end])
        expect(f"{name}: roots", (old_root.hex(), new_root.hex()) == (vector["old_root"], vector["new_root"]))
        proof = consistency_proof(original[:end], start)
        expect(f"{name}: proof (RFC 9162 §2.1.4.1)", [h.hex() for h in proof] == vector["proof"])
        got = refusal(lambda: proves(check_consistency_document(vector["document"]), (start, old_root), (end, new_root)))
        expect(f"{name}: verifies", got is None, f"got {got}")
    for vector in fixture["consistency_negative"]:
        older = (vector["old_size"], bytes.fromhex(vector["old_root"]))
        newer = (vector["new_size"], bytes.fromhex(vector["new_root"]))
        got = refusal(lambda: proves(check_consistency_document(vector["document"]), older, newer))
        expect(f"consistency negative {vector['name']}: {vector['rule']}",
               got == (vector["rule"], vector["reason"]), f"got {got}")

    golden = fixture["golden"]
    try:
        doc = check_document((ROOT / golden["path"]).read_text(encoding="utf-8"))
        expect("checkpoint: the golden ledger.checkpointed payload verifies",
               (doc["tree_size"], doc["key_id"], doc["public_key"].hex(),
                canonical(doc["tree_size"], doc["root"], doc["head"], doc["at"]),
                digest(doc["tree_size"], doc["root"], doc["head"], doc["at"]).hex())
               == (golden["tree_size"], golden["key_id"], golden["public_key"], golden["canonical"], golden["digest"])
               and doc["public_key"] == public and trust(doc, [public], []) is None)
    except Refused as error:
        expect("checkpoint: the golden ledger.checkpointed payload verifies", False, error.reason)

    spec = SPEC.read_text(encoding="utf-8") if SPEC.exists() else ""
    embedded = spec.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in spec and END in spec else None
    expect("checkpoint: docs/spec/audit-checkpoint.md embeds the fixture's vectors",
           embedded == f"\n{render(fixture)}\n", "run checkpoint_check.py --regenerate")


# ---- generating the fixture (--regenerate) ---------------------------------------------------

def consistency_proof(hashes, m):
    """RFC 9162 §2.1.4.1: PROOF(m, D[n]) for the leaves of `hashes`."""

    def subproof(m, leaves, complete):
        n = len(leaves)
        if m == n:
            return [] if complete else [tree.root_of(leaves)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return subproof(m, leaves[:k], complete) + [tree.root_of(leaves[k:])]
        return subproof(m - k, leaves[k:], False) + [tree.root_of(leaves[:k])]

    return subproof(m, hashes, True)


def document_text(doc):
    """As Warden writes it: its members in the order of §2, no whitespace."""
    ordered = {name: doc[name] for name in MEMBERS if name in doc}
    ordered.update((name, value) for name, value in doc.items() if name not in MEMBERS)
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def sign(secret, tree_size, root, head, at):
    public = bytes(secret.verify_key)
    sig = secret.sign(chain.signed_message(digest(tree_size, root, head, at))).signature
    return {"format": FORMAT, "tree_size": tree_size, "root": root.hex(), "head": head.hex(), "at": at,
            "key_id": chain.key_id(public), "public_key": public.hex(), "sig": sig.hex()}


def consistency_text(start, end, proof):
    return json.dumps({"format": CONSISTENCY_FORMAT, "from": start, "to": end, "proof": [h.hex() for h in proof]},
                      separators=(",", ":"))


def generate():
    secret, stranger = SigningKey(bytes([7] * 32)), SigningKey(bytes([8] * 32))
    public, stranger_public = bytes(secret.verify_key), bytes(stranger.verify_key)

    def key_entry(key):
        seed, verify = bytes(key), bytes(key.verify_key)
        return {"seed": seed.hex(), "public_key": verify.hex(), "key_id": chain.key_id(verify)}

    def event(text):
        return blake3.blake3(text.encode()).digest()

    original = [event(f"event {seq}") for seq in range(1, 21)]
    logs = {"original": original}
    for seq in (5, 7, 12):
        changed = list(original)
        changed[seq - 1] = event(f"forked event {seq}")
        logs[f"event_{seq}_changed"] = changed

    checkpoints, docs = [], {}
    for size, at in ((7, "2026-12-04T01:00:00.120000Z"), (20, "2026-12-04T02:00:00.000007Z")):
        root, head = tree.root_of(original[:size]), original[size - 1]
        value = digest(size, root, head, at)
        doc = sign(secret, size, root, head, at)
        docs[size] = doc
        checkpoints.append({
            "tree_size": size, "root": root.hex(), "head": head.hex(), "at": at,
            "canonical": canonical(size, root, head, at), "digest": value.hex(),
            "signed_message": chain.signed_message(value).hex(), "sig": doc["sig"], "document": document_text(doc),
        })
    good = docs[7]

    def changed(**members):
        return document_text(dict(good, **members))

    def flip(text):
        return f"{int(text[0], 16) ^ 1:x}" + text[1:]

    weak = bytes([1]) + bytes(31)          # the identity point: order 1
    not_a_point = bytes.fromhex("ed" + "ff" * 30 + "7f")  # y = p: not below p
    stranger_sig = stranger.sign(chain.signed_message(digest(7, bytes.fromhex(good["root"]),
                                                             bytes.fromhex(good["head"]), good["at"]))).signature
    without_at = {k: v for k, v in good.items() if k != "at"}
    negative = [
        ("tampered_tree_size", "tree_size 7 changed to 8, sig kept", changed(tree_size=8), "signature"),
        ("tampered_root", "the first digit of root flipped, sig kept", changed(root=flip(good["root"])), "signature"),
        ("tampered_head", "the first digit of head flipped, sig kept", changed(head=flip(good["head"])), "signature"),
        ("tampered_at", "at one microsecond later, sig kept", changed(at="2026-12-04T01:00:00.120001Z"), "signature"),
        ("flipped_sig", "the lowest bit of the first sig byte flipped", changed(sig=flip(good["sig"])), "signature"),
        ("signed_by_another_key", "sig made by the stranger key, key_id and public_key kept",
         changed(sig=stranger_sig.hex()), "signature"),
        ("unknown_member", "a member \"note\" added", document_text(dict(good, note="kept by the auditor")), "members"),
        ("missing_member", "at removed", document_text(without_at), "members"),
        ("duplicate_member", "tree_size named twice, a forged 20 first and the signed 7 second",
         changed().replace("{", '{"tree_size":20,', 1), "duplicate_member"),
        ("bad_format", "format warden-audit-checkpoint/v2", changed(format="warden-audit-checkpoint/v2"), "format"),
        ("tree_size_zero", "tree_size 0", changed(tree_size=0), "tree_size"),
        ("tree_size_too_large", "tree_size 2^53", changed(tree_size=2**53), "tree_size"),
        ("tree_size_fraction", "tree_size written 7.0", changed().replace('"tree_size":7,', '"tree_size":7.0,'),
         "tree_size"),
        ("root_upper_case", "root in upper-case hex", changed(root=good["root"].upper()), "root"),
        ("at_without_fraction", "at 2026-12-04T01:00:00Z", changed(at="2026-12-04T01:00:00Z"), "at"),
        ("at_with_offset", "at 2026-12-04T01:00:00.120000+00:00", changed(at="2026-12-04T01:00:00.120000+00:00"), "at"),
        ("at_leap_second", "at 2016-12-31T23:59:60.000000Z", changed(at="2016-12-31T23:59:60.000000Z"), "at"),
        ("at_not_a_date", "at 2026-02-30T01:00:00.000000Z", changed(at="2026-02-30T01:00:00.000000Z"), "at"),
        ("public_key_upper_case", "public_key in upper-case hex", changed(public_key=good["public_key"].upper()),
         "public_key"),
        ("public_key_not_a_point", "public_key ed ff…ff 7f (y = p), key_id its id",
         changed(public_key=not_a_point.hex(), key_id=chain.key_id(not_a_point)), "point"),
        ("weak_key", "public_key 01 00…00 (the identity point, of order 1), key_id its id",
         changed(public_key=weak.hex(), key_id=chain.key_id(weak)), "weak_key"),
        ("key_id_of_another_key", "key_id the stranger key's, public_key kept",
         changed(key_id=chain.key_id(stranger_public)), "key_id"),
        ("public_key_of_another_key", "public_key the stranger key's, key_id kept",
         changed(public_key=stranger_public.hex()), "key_id"),
        ("sig_upper_case", "sig in upper-case hex", changed(sig=good["sig"].upper()), "sig"),
    ]
    negatives = []
    for name, description, text, rule in negative:
        try:
            check_document(text)
            raise SystemExit(f"negative {name} verifies")
        except Refused as error:
            if error.rule != rule:
                raise SystemExit(f"negative {name}: {error.rule} ({error.reason}), not {rule}") from None
            negatives.append({"name": name, "description": description, "text": text, "rule": rule,
                              "reason": error.reason})

    by_stranger = document_text(sign(stranger, 7, bytes.fromhex(good["root"]), bytes.fromhex(good["head"]),
                                     good["at"]))
    trust_cases = [
        ("pinned", "signed by the key, which is pinned", checkpoints[0]["document"], [public], []),
        ("announced", "signed by the key, which the verified log announces (no key pinned)",
         checkpoints[0]["document"], [], [public]),
        ("announced_besides_pinned", "another key pinned, the signing key announced by the log",
         checkpoints[0]["document"], [stranger_public], [public]),
        ("nothing_trusted", "no key pinned, none announced", checkpoints[0]["document"], [], []),
        ("stranger_with_key_pinned", "the same statement signed by the stranger key (a valid document), "
         "the key pinned", by_stranger, [public], []),
        ("stranger_with_key_announced", "the stranger's document, the key announced by the log",
         by_stranger, [], [public]),
    ]
    trusts = []
    for name, description, text, pinned, announced in trust_cases:
        doc = check_document(text)
        try:
            trust(doc, pinned, announced)
            trusted, reason = True, None
        except Refused as error:
            trusted, reason = False, error.reason
        trusts.append({"name": name, "description": description, "checkpoint": text,
                       "pinned": [k.hex() for k in pinned], "announced": [k.hex() for k in announced],
                       "trusted": trusted, "reason": reason})

    compare_cases = [
        ("holds_at_its_size", "the log of events 1..7", 7, "original", 1, 7),
        ("holds_grown", "the log of events 1..20", 7, "original", 1, 20),
        ("holds_changed_after", "events 1..20 with event 12 changed: after the checkpoint, which saw none of it",
         7, "event_12_changed", 1, 20),
        ("holds_range", "events 3..20 (a range: the root is not recomputed)", 7, "original", 3, 20),
        ("holds_20", "the log of events 1..20", 20, "original", 1, 20),
        ("cut_short", "the log ends at seq 5", 7, "original", 1, 5),
        ("rolled_back_by_one", "the log ends at seq 19", 20, "original", 1, 19),
        ("forked_at_its_size", "events 1..20 with event 7 changed", 7, "event_7_changed", 1, 20),
        ("forked_before_root", "events 1..20 with event 5 alone changed (as archived hashes rewritten): "
         "same head at 7, another root", 7, "event_5_changed", 1, 20),
        ("forked_before_range", "events 6..20 of the log with event 5 changed: the head matches and the root "
         "cannot be recomputed", 7, "event_5_changed", 6, 20),
        ("before", "events 8..20: they start after the checkpoint's size", 7, "original", 8, 20),
    ]
    comparisons = []
    for name, description, size, log, first, last in compare_cases:
        finding, seq, verdict = compare(check_document(document_text(docs[size])), first, last,
                                        lambda s, log=logs[log]: log[s - 1])
        comparisons.append({"name": name, "description": description, "checkpoint": size, "log": log,
                            "first": first, "last": last, "finding": finding, "seq": seq,
                            "failed": finding in FAILED_FINDINGS, "verdict": verdict})

    consistency = []
    for start in (1, 4, 7, 13, 20):
        proof = consistency_proof(original, start)
        consistency.append({"from": start, "to": 20, "old_root": tree.root_of(original[:start]).hex(),
                            "new_root": tree.root_of(original).hex(), "proof": [h.hex() for h in proof],
                            "document": consistency_text(start, 20, proof)})
    root_7, root_20 = tree.root_of(original[:7]), tree.root_of(original)
    forked = logs["event_5_changed"]
    forked_root_20 = tree.root_of(forked)
    proof_7 = consistency_proof(original, 7)
    bent = [bytes([proof_7[0][0] ^ 1]) + proof_7[0][1:]] + proof_7[1:]
    consistency_cases = [
        ("forked_log", "the proof 7 -> 20 of the log with event 5 changed, checked against checkpoint 7's root "
         "and that log's root of 20", consistency_text(7, 20, consistency_proof(forked, 7)), 7, root_7, 20,
         forked_root_20),
        ("forked_new_root", "the proof 7 -> 20 of the log, checked against checkpoint 7's root and the root of 20 of "
         "the log with event 5 changed", consistency_text(7, 20, proof_7), 7, root_7, 20, forked_root_20),
        ("bent_proof", "the lowest bit of the first byte of the proof's first hash flipped", consistency_text(7, 20, bent),
         7, root_7, 20, root_20),
        ("other_sizes", "the proof 7 -> 20, checked against checkpoints of 4 and 20 events",
         consistency_text(7, 20, proof_7), 4, tree.root_of(original[:4]), 20, root_20),
        ("equal_sizes_other_roots", "from 20 to 20 (an empty proof) against checkpoint 20 and the forked log's "
         "root of 20", consistency_text(20, 20, []), 20, root_20, 20, forked_root_20),
        ("equal_sizes_with_hashes", "from 20 to 20 with a non-empty proof", consistency_text(20, 20, [root_20]),
         20, root_20, 20, root_20),
        ("unknown_member", "a member \"root\" added",
         consistency_text(7, 20, proof_7)[:-1] + f',"root":"{root_20.hex()}"}}', 7, root_7, 20, root_20),
        ("bad_format", "format warden-audit-consistency/v2",
         consistency_text(7, 20, proof_7).replace("consistency/v1", "consistency/v2"), 7, root_7, 20, root_20),
        ("from_above_to", "from 20 to 7", consistency_text(20, 7, proof_7), 7, root_7, 20, root_20),
        ("from_zero", "from 0", consistency_text(0, 20, proof_7), 7, root_7, 20, root_20),
        ("upper_case_hash", "a proof hash in upper-case hex", consistency_text(7, 20, proof_7).replace(
            proof_7[0].hex(), proof_7[0].hex().upper()), 7, root_7, 20, root_20),
    ]
    consistency_negative = []
    for name, description, text, old_size, old_root, new_size, new_root in consistency_cases:
        try:
            proves(check_consistency_document(text), (old_size, old_root), (new_size, new_root))
            raise SystemExit(f"consistency negative {name} verifies")
        except Refused as error:
            consistency_negative.append({
                "name": name, "description": description, "document": text, "old_size": old_size,
                "old_root": old_root.hex(), "new_size": new_size, "new_root": new_root.hex(),
                "rule": error.rule, "reason": error.reason})

    golden = check_document((ROOT / GOLDEN).read_text(encoding="utf-8"))
    args = (golden["tree_size"], golden["root"], golden["head"], golden["at"])
    return {
        "format": FORMAT,
        "consistency_format": CONSISTENCY_FORMAT,
        "description": "published checkpoints of a log of 20 events whose hashes are BLAKE3(\"event <seq>\"), "
                       "signed with the key whose seed is 0x07 repeated; written by "
                       "tools/spec-check/checkpoint_check.py --regenerate from docs/spec/audit-checkpoint.md",
        "domains": {"published_checkpoint": DOMAIN.decode(), "signature": chain.SIGNATURE_DOMAIN.decode()},
        "key": key_entry(secret),
        "stranger_key": key_entry(stranger),
        "logs": {name: [h.hex() for h in hashes] for name, hashes in logs.items()},
        "roots": [{"tree_size": n, "root": tree.root_of(original[:n]).hex()} for n in (1, 2, 3, 4, 5, 7, 8, 13, 20)],
        "checkpoints": checkpoints,
        "negative": negatives,
        "trust": trusts,
        "comparisons": comparisons,
        "consistency": consistency,
        "consistency_negative": consistency_negative,
        "golden": {"path": GOLDEN, "tree_size": golden["tree_size"], "key_id": golden["key_id"],
                   "public_key": golden["public_key"].hex(), "canonical": canonical(*args),
                   "digest": digest(*args).hex()},
    }


# ---- rendering the spec's vectors section ------------------------------------------------------

def code(text):
    return f"```\n{text}\n```"


def cell(text):
    return text.replace("|", "\\|")


def render(fixture):
    key, stranger = fixture["key"], fixture["stranger_key"]
    original = fixture["logs"]["original"]
    out = [
        "### 11.1 Keys and domains",
        "",
        "| | signing key | stranger key (neither pinned nor announced) |",
        "| --- | --- | --- |",
        f"| seed (Ed25519 secret, 32 bytes) | `{key['seed']}` | `{stranger['seed']}` |",
        f"| public key | `{key['public_key']}` | `{stranger['public_key']}` |",
        f"| key id | `{key['key_id']}` | `{stranger['key_id']}` |",
        "",
        "The signing key's seed is the byte 0x07 repeated 32 times; the stranger's is 0x08 repeated.",
        "",
        "| domain | bytes (hex) |",
        "| --- | --- |",
    ]
    for name, text in fixture["domains"].items():
        out.append(f"| {name.replace('_', ' ')} ({len(text.encode())} bytes) | `{text.encode().hex()}` |")
    out += [
        "",
        "### 11.2 The log",
        "",
        "Event `seq`'s hash is `BLAKE3(\"event <seq>\")` (the ASCII text, e.g. `event 1`, no newline): the",
        "hashes stand for a chain's, which the tree and the checkpoint take as 32 raw bytes. The changed",
        "logs replace one hash by `BLAKE3(\"forked event <seq>\")` and keep the others (the changed hash is",
        "shown in its row).",
        "",
        "| seq | hash | changed logs |",
        "| --- | --- | --- |",
    ]
    changed = {name: hashes for name, hashes in fixture["logs"].items() if name != "original"}
    for seq, value in enumerate(original, start=1):
        others = [f"`{name}`: `{hashes[seq - 1]}`" for name, hashes in changed.items() if hashes[seq - 1] != value]
        out.append(f"| {seq} | `{value}` | {'; '.join(others)} |")
    out += ["", "| tree size | root of the first events (bundle §3) |", "| --- | --- |"]
    for entry in fixture["roots"]:
        out.append(f"| {entry['tree_size']} | `{entry['root']}` |")
    for number, vector in enumerate(fixture["checkpoints"], start=3):
        out += [
            "",
            f"### 11.{number} Checkpoint of {vector['tree_size']} events",
            "",
            f"`tree_size` {vector['tree_size']}, `at` `{vector['at']}`, `root` the root of the first",
            f"{vector['tree_size']} events, `head` the hash of event {vector['tree_size']}.",
            "",
            f"Canonical ({len(vector['canonical'].encode())} bytes):",
            "",
            code(vector["canonical"]),
            "",
            f"* digest: `{vector['digest']}`",
            f"* signed message (64 bytes): `{vector['signed_message']}`",
            f"* `sig`: `{vector['sig']}`",
            "",
            "The document (as Warden writes it: one line, members in the order of §2):",
            "",
            code(vector["document"]),
        ]
    number = 3 + len(fixture["checkpoints"])
    out += [
        "",
        f"### 11.{number} Consistency proofs",
        "",
        "Between the roots of the table of §11.2; each proof is shown as its document (§6.1).",
        "",
    ]
    for vector in fixture["consistency"]:
        out += [f"{vector['from']} → {vector['to']}:", "", code(vector["document"]), ""]
    out += [
        f"### 11.{number + 1} Refused documents",
        "",
        "Each is the document of §11.3 with one change (the fixture holds its text); a verifier must refuse it",
        "with the row and reason of §3.2 shown.",
        "",
        "| name | change | row | reason |",
        "| --- | --- | --- | --- |",
    ]
    for negative in fixture["negative"]:
        out.append(f"| {negative['name']} | {cell(negative['description'])} | `{negative['rule']}` "
                   f"| `{cell(negative['reason'])}` |")
    out += [
        "",
        f"### 11.{number + 2} Trust",
        "",
        "The checkpoint of 7 events (§11.3), or the same statement signed by the stranger key, with the",
        "keys a verifier pinned and the keys the verified log announced (§4).",
        "",
        "| name | case | trusted | reason |",
        "| --- | --- | --- | --- |",
    ]
    for vector in fixture["trust"]:
        reason = f"`{cell(vector['reason'])}`" if vector["reason"] else ""
        out.append(f"| {vector['name']} | {cell(vector['description'])} | {'yes' if vector['trusted'] else 'no'} "
                   f"| {reason} |")
    out += [
        "",
        f"### 11.{number + 3} Comparisons",
        "",
        "A verified log (events `first..last` of the log named, §11.2) compared with a checkpoint (§5).",
        "",
        "| name | case | checkpoint | log | first..last | finding | seq |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in fixture["comparisons"]:
        seq = "" if case["seq"] is None else str(case["seq"])
        out.append(f"| {case['name']} | {cell(case['description'])} | {case['checkpoint']} | `{case['log']}` "
                   f"| {case['first']}..{case['last']} | `{case['finding']}` | {seq} |")
    out += ["", "The verdicts, in the order of the table:", ""]
    out.append(code("\n".join(case["verdict"] for case in fixture["comparisons"])))
    out += [
        "",
        f"### 11.{number + 4} Consistency proofs that do not hold",
        "",
        "Each document is checked against the two kept checkpoints shown (size and root, by the tables",
        "above); the verifier must refuse it with the row and reason shown (§6.1, §6.2).",
        "",
        "| name | case | kept checkpoints | row | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for vector in fixture["consistency_negative"]:
        out.append(f"| {vector['name']} | {cell(vector['description'])} | {vector['old_size']} → "
                   f"{vector['new_size']} | `{vector['rule']}` | `{cell(vector['reason'])}` |")
    golden = fixture["golden"]
    out += [
        "",
        f"### 11.{number + 5} The golden `ledger.checkpointed` payload",
        "",
        f"`{golden['path']}` is a checkpoint of a log of {golden['tree_size']} events signed with the",
        f"signing key of §11.1 (`{golden['key_id']}`); it verifies. Its canonical form and digest:",
        "",
        code(golden["canonical"]),
        "",
        f"* digest: `{golden['digest']}`",
    ]
    return "\n".join(out)


def write_spec(fixture):
    spec = SPEC.read_text(encoding="utf-8")
    head, rest = spec.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    SPEC.write_text(f"{head}{BEGIN}\n{render(fixture)}\n{END}{tail}", encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE))
    parser.add_argument("--regenerate", action="store_true",
                        help="write the fixture from the spec's rules and render it into the spec")
    args = parser.parse_args()
    if args.regenerate:
        fixture = generate()
        pathlib.Path(args.fixture).write_text(json.dumps(fixture, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
        write_spec(fixture)
    results = []

    def expect(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    check_fixture(args.fixture, expect)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
