#!/usr/bin/env python3
"""An independent verifier of Warden's audit chain (format v1), written from
docs/spec/audit-chain.md alone; section numbers (§) refer to it.

  verify_vectors.py [--fixture FILE]
      checks the test vectors: every canonical form, hash, signed message,
      signature and wire line, the chain, and each negative vector's error.
  verify_vectors.py [--trusted-key HEX]... [--keys FILE] EXPORT.jsonl...
      verifies JSON Lines exports and prints the first bad seq.

Exit status 0 only when everything agrees / is intact.
"""

import argparse
import datetime
import json
import pathlib
import re
import sys

import blake3
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

HASH_DOMAIN = b"warden/audit-chain/v1/event\n"
SIGNATURE_DOMAIN = b"warden/audit-chain/v1/signature\n"
KEY_ID_DOMAIN = b"warden/audit-chain/v1/key-id\n"
ZERO = bytes(32)
MAX_SAFE = 2**53 - 1
KEY_EVENT = "signing_key.added"
DEFAULT_FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "core/tests/fixtures/chain-vectors.json"


class Malformed(Exception):
    """A line that is not a well-formed event (§9)."""


class ChainError(Exception):
    """The first bad event (§8): kind is the error name, seq the first bad seq."""

    def __init__(self, kind, seq, message):
        super().__init__(message)
        self.kind, self.seq, self.message = kind, seq, message


class NotInteger:
    """A number token that §3.2 refuses (fraction, exponent or -0)."""

    def __init__(self, token):
        self.token = token


# ---- §9: reading the wire form -------------------------------------------

MEMBERS = {"seq", "id", "at", "kind", "subject", "subject_version", "actor",
           "request_id", "outcome", "data", "prev", "hash", "key_id", "sig"}
ACTOR_MEMBERS = {"kind", "id", "org", "ip", "user_agent", "on_behalf_of", "ticket"}
ACTOR_KINDS = {"user", "api_key", "vendor", "service", "system", "anonymous"}
OUTCOMES = {"success", "failure", "denied"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")


def hex_bytes(text, size, what):
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-f]{%d}" % (2 * size), text):
        raise Malformed(f"{what} must be {2 * size} lower-case hex digits")
    return bytes.fromhex(text)


def unsigned(value, what):
    if type(value) is not int or not 0 <= value < 2**64:
        raise Malformed(f"{what} must be an unsigned integer")
    return value


def check_strings(value):
    """Strings must be Unicode scalar values (no unpaired surrogates)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Malformed("string with an unpaired surrogate") from None
    elif isinstance(value, list):
        for item in value:
            check_strings(item)
    elif isinstance(value, dict):
        for name, item in value.items():
            check_strings(name)
            check_strings(item)


def unique_members(pairs):
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise Malformed("duplicate member name")
    return dict(pairs)


def integer_token(token):
    return NotInteger(token) if token == "-0" else int(token)


def refuse_constant(token):
    raise Malformed(f"{token} is not JSON")


def load_json(line):
    """One JSON value, each object naming each member once (§9)."""
    try:
        return json.loads(line, object_pairs_hook=unique_members, parse_float=NotInteger,
                          parse_int=integer_token, parse_constant=refuse_constant)
    except ValueError as error:
        raise Malformed(f"not JSON: {error}") from None


def file_lines(data):
    """§9.1: the lines of a file (bytes), as text; raises Malformed naming
    the line that breaks the file rules."""
    if not data:
        return
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the last line's LF
    for number, raw in enumerate(lines, start=1):
        if b"\r" in raw:
            raise Malformed(f"line {number}: a carriage return (lines end with LF alone)")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raise Malformed(f"line {number}: a byte order mark")
        if raw.strip(b" \t") == b"":
            raise Malformed(f"line {number}: a blank line")
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed(f"line {number}: not UTF-8") from None


def parse_line(line):
    return check_event_form(load_json(line))


def check_event_form(event):
    """§2 and §9: the members of an event, their types and spellings."""
    if not isinstance(event, dict) or set(event) != MEMBERS:
        raise Malformed("an event has exactly the 14 members of §2")
    check_strings(event)
    unsigned(event["seq"], "seq")
    unsigned(event["subject_version"], "subject_version")
    if not isinstance(event["id"], str) or not UUID.match(event["id"]):
        raise Malformed("id must be a hyphenated lower-case UUID")
    at = event["at"]
    if not isinstance(at, str) or not AT.match(at):
        raise Malformed("at must be YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise Malformed("at is not a valid time") from None
    for name in ("kind", "subject", "request_id", "key_id"):
        if not isinstance(event[name], str):
            raise Malformed(f"{name} must be a string")
    if event["outcome"] not in OUTCOMES:
        raise Malformed("outcome must be success, failure or denied")
    actor = event["actor"]
    if not isinstance(actor, dict) or "kind" not in actor or not set(actor) <= ACTOR_MEMBERS:
        raise Malformed("actor must have kind and only the members of §2")
    if not all(isinstance(value, str) for value in actor.values()) or actor["kind"] not in ACTOR_KINDS:
        raise Malformed("actor members are strings; kind is one of §2")
    event["prev_bytes"] = hex_bytes(event["prev"], 32, "prev")
    event["hash_bytes"] = hex_bytes(event["hash"], 32, "hash")
    event["sig_bytes"] = hex_bytes(event["sig"], 64, "sig")
    return event


# ---- §3: canonical encoding -----------------------------------------------

SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


class NotCanonical(Exception):
    pass


def canonical_string(text):
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append(SHORT_ESCAPES.get(code, "\\u%04x" % code))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def canonical_value(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, NotInteger):
        raise NotCanonical(f"number {value.token} is not an integer within ±(2^53-1)")
    if type(value) is int:
        if not -MAX_SAFE <= value <= MAX_SAFE:
            raise NotCanonical(f"number {value} is not an integer within ±(2^53-1)")
        return str(value)
    if isinstance(value, str):
        return canonical_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_value(item) for item in value) + "]"
    if isinstance(value, dict):
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(canonical_string(n) + ":" + canonical_value(value[n]) for n in names) + "}"
    raise NotCanonical(f"unexpected value {value!r}")


def canonical(event):
    """§3.1: the envelope in canonical member order, as UTF-8 bytes."""
    for name in ("seq", "subject_version"):
        if event[name] > MAX_SAFE:
            raise NotCanonical(f"{name} {event[name]} is above 2^53-1")
    members = [
        ("actor", canonical_value(event["actor"])),
        ("at", canonical_string(event["at"])),
        ("data", canonical_value(event["data"])),
        ("id", canonical_string(event["id"])),
        ("kind", canonical_string(event["kind"])),
        ("outcome", canonical_string(event["outcome"])),
        ("prev", canonical_string(event["prev"])),
        ("request_id", canonical_string(event["request_id"])),
        ("seq", str(event["seq"])),
        ("subject", canonical_string(event["subject"])),
        ("subject_version", str(event["subject_version"])),
    ]
    text = "{" + ",".join(f'"{name}":{value}' for name, value in members) + "}"
    return text.encode("utf-8")


# ---- §4, §5: hash, signature, key id --------------------------------------

def event_hash(canonical_bytes):
    return blake3.blake3(HASH_DOMAIN + canonical_bytes).digest()


def signed_message(hash_bytes):
    assert len(SIGNATURE_DOMAIN) == 32 and len(hash_bytes) == 32
    return SIGNATURE_DOMAIN + hash_bytes


def key_id(public_key):
    return "ed25519-" + blake3.blake3(KEY_ID_DOMAIN + public_key).digest()[:8].hex()


def signature_valid(public_key, message, sig):
    # libsodium's verification is strict as §5.1 requires.
    try:
        VerifyKey(public_key).verify(message, sig)
        return True
    except (CryptoError, ValueError):
        return False


P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(encoded):
    """RFC 8032 §5.1.3 point decoding: (x, y), or None."""
    y = int.from_bytes(encoded, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        if (v * x * x + u) % P != 0:
            return None
        x = x * SQRT_M1 % P
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y


def edwards_add(a, b):
    """Addition on -x^2 + y^2 = 1 + d x^2 y^2 (affine)."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def small_order(point):
    """Whether [8]point is the identity (0, 1): a weak key (§7.1)."""
    for _ in range(3):
        point = edwards_add(point, point)
    return point == (0, 1)


# ---- §7, §8: the chain -----------------------------------------------------

def announced_key(event):
    """§7.1: the key a signing_key.added event announces."""
    def bad(reason):
        return ChainError("BadKeyAnnouncement", event["seq"],
                          f"seq {event['seq']}: invalid signing-key announcement: {reason}")
    data = event["data"] if isinstance(event["data"], dict) else {}
    if event["subject"] != "ledger":
        raise bad('subject must be "ledger"')
    if data.get("algorithm") != "ed25519":
        raise bad("algorithm must be ed25519")
    public = data.get("public_key")
    if not isinstance(public, str) or not re.fullmatch(r"[0-9a-f]{64}", public):
        raise bad("public_key must be 64 lower-case hex digits")
    public = bytes.fromhex(public)
    point = decode_point(public)
    if point is None:
        raise bad("public_key is not a valid Ed25519 point")
    if small_order(point):
        raise bad("public_key is a weak (small-order) point")
    if data.get("key_id") != key_id(public):
        raise bad("key_id does not name public_key")
    return public


class Verifier:
    def __init__(self, pinned=(), next_seq=1, prev=ZERO):
        self.next_seq, self.prev = next_seq, prev
        self.keys = {}
        for key in pinned:
            if self.keys.setdefault(key_id(key), key) != key:
                raise ValueError(f"two trusted keys share the key id {key_id(key)}")

    def check(self, event):
        seq = event["seq"]
        if seq > self.next_seq:
            raise ChainError("Missing", self.next_seq,
                             f"seq {self.next_seq}: missing (the next event found has seq {seq})")
        if seq < self.next_seq:
            raise ChainError("OutOfOrder", seq, f"seq {seq}: out of order (expected seq {self.next_seq})")
        if event["prev_bytes"] != self.prev:
            raise ChainError("BrokenLink", seq, f"seq {seq}: prev does not link to the hash of seq {seq - 1}")
        try:
            digest = event_hash(canonical(event))
        except NotCanonical as error:
            raise ChainError("NotCanonical", seq, f"seq {seq}: content cannot be canonicalized: {error}") from None
        if digest != event["hash_bytes"]:
            raise ChainError("HashMismatch", seq, f"seq {seq}: content does not match its hash (the event was altered)")
        announced = announced_key(event) if event["kind"] == KEY_EVENT else None
        if announced is not None and self.keys.get(key_id(announced), announced) != announced:
            raise ChainError("BadKeyAnnouncement", seq,
                             f"seq {seq}: invalid signing-key announcement: key_id already names another key")
        unknown = ChainError("UnknownKey", seq, f"seq {seq}: signed by unknown key {event['key_id']}")
        if seq == 1:
            reason = None
            if announced is None:
                reason = f"event 1 must be {KEY_EVENT}"
            elif event["key_id"] != key_id(announced):
                reason = "genesis is not signed by the key it announces"
            if reason:
                raise ChainError("BadKeyAnnouncement", seq, f"seq {seq}: invalid signing-key announcement: {reason}")
            if self.keys and event["key_id"] not in self.keys:
                raise unknown
            key = announced
        elif event["key_id"] in self.keys:
            key = self.keys[event["key_id"]]
        else:
            raise unknown
        if not signature_valid(key, signed_message(event["hash_bytes"]), event["sig_bytes"]):
            raise ChainError("BadSignature", seq, f"seq {seq}: signature is not valid for key {event['key_id']}")
        if announced is not None:
            self.keys[key_id(announced)] = announced
        self.prev, self.next_seq = event["hash_bytes"], seq + 1


def verify_lines(lines, pinned=()):
    """Returns (count, head seq, head hash hex); raises ChainError or Malformed.
    `lines` are the file's lines as text, or (number, text) pairs."""
    verifier, count = None, 0
    for number, line in enumerate(lines, start=1):
        if isinstance(line, tuple):
            number, line = line
        if not line.strip(" \t"):
            raise Malformed(f"line {number}: a blank line")
        try:
            event = parse_line(line)
        except Malformed as error:
            raise Malformed(f"line {number}: {error}") from None
        if verifier is None:  # §10: a range is anchored on its first prev
            verifier = (Verifier(pinned) if event["seq"] == 1
                        else Verifier(pinned, event["seq"], event["prev_bytes"]))
        verifier.check(event)
        count += 1
    if verifier is None:
        return 0, 0, ZERO.hex()
    return count, verifier.next_seq - 1, verifier.prev.hex()


# ---- the test vectors ------------------------------------------------------

def check_fixture(path):
    fixture = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    results = []

    def expect(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    domains = fixture["domains"]
    expect("domains", [domains[k].encode() for k in ("event", "signature", "key_id")]
           == [HASH_DOMAIN, SIGNATURE_DOMAIN, KEY_ID_DOMAIN])
    keys = {}
    for name in ("signing_key", "stranger_key"):
        entry = fixture[name]
        secret = SigningKey(bytes.fromhex(entry["seed"]))
        public = bytes(secret.verify_key)
        keys[name] = (secret, public)
        expect(f"{name}: public key from seed", public.hex() == entry["public_key"], public.hex())
        expect(f"{name}: key id", key_id(public) == entry["key_id"], key_id(public))
    expect("test key seed is bytes 0..31", fixture["signing_key"]["seed"] == bytes(range(32)).hex())

    secret, public = keys["signing_key"]
    lines = []
    for vector in fixture["events"]:
        seq = vector["seq"]
        lines.append(vector["wire"])
        try:
            event = parse_line(vector["wire"])
        except Malformed as error:
            expect(f"seq {seq}: wire line", False, str(error))
            continue
        ours = canonical(event)
        expect(f"seq {seq}: canonical", ours == vector["canonical"].encode("utf-8"), ours.decode())
        digest = event_hash(ours)
        expect(f"seq {seq}: hash", digest.hex() == vector["hash"] == event["hash"], digest.hex())
        message = signed_message(digest)
        expect(f"seq {seq}: signed message", message.hex() == vector["signed_message"], message.hex())
        sig = secret.sign(message).signature
        expect(f"seq {seq}: signature (deterministic, from the seed)", sig.hex() == vector["sig"] == event["sig"], sig.hex())
        expect(f"seq {seq}: signature verifies", signature_valid(public, message, sig))

    def outcome(lines, pinned=()):
        try:
            return ("intact",) + verify_lines(lines, pinned)[1:]
        except (ChainError, Malformed) as error:
            return (type(error).__name__, getattr(error, "kind", ""), getattr(error, "seq", 0), str(error))

    head = fixture["events"][-1]
    intact = ("intact", head["seq"], head["hash"])
    got = outcome(lines)
    expect("chain intact (no anchor)", got == intact, f"got {got}")
    got = outcome(lines, [public])
    expect("chain intact (pinned test key)", got == intact, f"got {got}")
    got = outcome(lines, [keys["stranger_key"][1]])
    expect("pinned stranger key: UnknownKey at seq 1", got[1:3] == ("UnknownKey", 1), f"got {got}")
    got = outcome(lines[1:], [public])
    expect("range from seq 2, pinned: intact", got == intact, f"got {got}")
    got = outcome(lines[1:])
    expect("range from seq 2, no key: UnknownKey at seq 2", got[1:3] == ("UnknownKey", 2), f"got {got}")

    # §7.1's last row has no vector (a 64-bit key-id collision costs about
    # 2^64 work): forge the state instead.
    genesis = parse_line(fixture["events"][0]["wire"])
    forged = Verifier()
    forged.keys[key_id(public)] = keys["stranger_key"][1]
    try:
        forged.check(genesis)
        got = "intact"
    except ChainError as error:
        got = error.message
    expect("a key id never names a second key", got == "seq 1: invalid signing-key announcement: "
           "key_id already names another key", got)

    for negative in fixture["negative"]:
        want = negative["error"]
        try:
            verify_lines(negative["lines"])
            got = ("intact", None, "")
        except ChainError as error:
            got = (error.kind, error.seq, error.message)
        except Malformed as error:
            got = ("Malformed", None, str(error))
        expect(f"negative {negative['name']}: {want['variant']} at seq {want['seq']}",
               got == (want["variant"], want["seq"], want["message"]), f"got {got}")
    bundle_fixture = pathlib.Path(path).parent / "bundle-vectors.json"
    if bundle_fixture.exists():
        import bundle_check  # noqa: PLC0415 (it imports this module)
        bundle_check.check_fixture(bundle_fixture, expect)
    __import__("checkpoint_check").check_fixture(pathlib.Path(path).parent / "checkpoint-vectors.json", expect)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return failed == 0


def pinned_keys(args):
    texts = list(args.trusted_key)
    if args.keys:
        document = json.loads(pathlib.Path(args.keys).read_text(encoding="utf-8"))
        if document.get("format") != "warden-audit-keys/v1":
            sys.exit(f"{args.keys}: not a warden-audit-keys/v1 document")
        texts += [key["public_key"] for key in document["keys"]]
    return [hex_bytes(text, 32, "trusted key") for text in texts]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exports", nargs="*", help="JSON Lines exports to verify")
    parser.add_argument("--bundle", action="append", default=[], help="an audit bundle to verify (repeatable)")
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE))
    parser.add_argument("--trusted-key", action="append", default=[], help="pin an Ed25519 public key (hex)")
    parser.add_argument("--keys", help="pin the keys of a /.well-known/warden-audit-keys document")
    args = parser.parse_args()
    if not args.exports and not args.bundle:
        return 0 if check_fixture(args.fixture) else 1
    pinned, status = pinned_keys(args), 0
    for path in args.exports:
        data = pathlib.Path(path).read_bytes()
        try:
            count, head, digest = verify_lines(file_lines(data), pinned)
            if count == 0:
                print(f"{path}: nothing verified: 0 events")
                status = max(status, 2)
            else:
                print(f"{path}: intact: {count} events verified, head seq {head} hash {digest}")
        except ChainError as error:
            print(f"{path}: FAILED at seq {error.seq}: {error.kind}: {error.message}")
            status = 1
        except Malformed as error:
            print(f"{path}: FAILED at {error}")
            status = 1
    if args.bundle:
        import bundle_check  # noqa: PLC0415 (it imports this module)
        for path in args.bundle:
            try:
                verdict = bundle_check.verify_bundle(pathlib.Path(path).read_bytes(), pinned)
                span = (f"seq {verdict.first[0]}..{verdict.last[0]}" if verdict.first else "none")
                print(f"{path}: intact: {verdict.events} events; events: {span}; "
                      f"checkpoint: head seq {verdict.tree_size} hash {verdict.head.hex()}")
            except bundle_check.BundleError as error:
                print(f"{path}: FAILED at {error}")
                status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
