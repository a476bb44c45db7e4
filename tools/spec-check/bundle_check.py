"""An independent verifier of Warden's audit bundles (warden-audit-bundle/v1),
written from docs/spec/audit-bundle.md; section numbers (§) refer to it,
"chain §" to docs/spec/audit-chain.md, whose primitives verify_vectors.py has.

verify_bundle(data, pinned) checks a bundle (bytes) in the order of §6 and
returns a Verdict, or raises BundleError naming the first bad line (and
the event's seq on an event's line).
"""

import blake3

import verify_vectors as chain

FORMAT = "warden-audit-bundle/v1"
LEAF_DOMAIN = b"warden/audit-chain/v1/merkle-leaf\n"
NODE_DOMAIN = b"warden/audit-chain/v1/merkle-node\n"
CHECKPOINT_DOMAIN = b"warden/audit-chain/v1/checkpoint\n"
SEAL_DOMAIN = b"warden/audit-chain/v1/bundle\n"


class BundleError(Exception):
    def __init__(self, line, reason, seq=None):
        where = f"line {line}" + (f" (seq {seq})" if seq is not None else "")
        super().__init__(f"{where}: {reason}")
        self.line, self.seq, self.reason = line, seq, reason


class Verdict:
    def __init__(self, selection, events, first, last, tree_size, head, root, signer):
        self.selection, self.events, self.first, self.last = selection, events, first, last
        self.tree_size, self.head, self.root, self.signer = tree_size, head, root, signer


class Refused(Exception):
    """A check failed; the caller adds the line."""


# ---- §3: the Merkle tree ------------------------------------------------------

def leaf(event_hash):
    return blake3.blake3(LEAF_DOMAIN + event_hash).digest()


def node(left, right):
    return blake3.blake3(NODE_DOMAIN + left + right).digest()


def root_of(hashes):
    """RFC 9162 §2.1.1, recursively (for vectors and tests)."""
    if not hashes:
        return blake3.blake3(b"").digest()
    if len(hashes) == 1:
        return leaf(hashes[0])
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(root_of(hashes[:k]), root_of(hashes[k:]))


def included(seq, size, event_hash, path, root):
    """RFC 9162 §2.1.3.2 with leaf index seq - 1."""
    if not 0 < seq <= size:
        return False
    fn, sn, r = seq - 1, size - 1, leaf(event_hash)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistent(old_size, new_size, old_root, new_root, proof):
    """RFC 9162 §2.1.4.2: the log of new_size events begins with the log of
    old_size events."""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = ([old_root] if old_size & (old_size - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# ---- §4, §5: checkpoint, marks, seal -----------------------------------------

def checkpoint_digest(tree_size, root, head):
    statement = f'{{"head":"{head.hex()}","root":"{root.hex()}","tree_size":{tree_size}}}'
    return blake3.blake3(CHECKPOINT_DOMAIN + statement.encode()).digest()


def first_mark(header):
    encoded = chain.canonical_value(header).encode("utf-8")
    return blake3.blake3(SEAL_DOMAIN + len(encoded).to_bytes(8, "big") + encoded).digest()


def next_mark(mark, seq, event_hash):
    return blake3.blake3(SEAL_DOMAIN + mark + seq.to_bytes(8, "big") + event_hash).digest()


# ---- helpers ------------------------------------------------------------------

def members(value, what, required, optional=()):
    if not isinstance(value, dict):
        raise Refused(f"{what} is not an object")
    missing = [name for name in required if name not in value]
    if missing:
        raise Refused(f"{what} has no {missing[0]!r}")
    unknown = [name for name in value if name not in required and name not in optional]
    if unknown:
        raise Refused(f"{what} has a member the format does not define: {unknown[0]!r}")


def hex32(value, what):
    try:
        return chain.hex_bytes(value, 32, what)
    except chain.Malformed as error:
        raise Refused(str(error)) from None


def unsigned(value, what):
    if type(value) is not int or not 0 <= value < 2**64:
        raise Refused(f"{what} must be an unsigned integer")
    return value


def strong_key(public, what):
    """chain §7.1: RFC 8032 decoding, not of small order."""
    point = chain.decode_point(public)
    if point is None:
        raise Refused(f"{what}: not a valid Ed25519 point")
    if chain.small_order(point):
        raise Refused(f"{what}: a weak (small-order) point")


def check_event(event, keys):
    """§6 rule 4.1: form, hash, a carried key announced before it, signature.
    Returns the event (with its bytes fields)."""
    try:
        event = chain.check_event_form(event)
    except chain.Malformed as error:
        raise Refused(f"not an event: {error}") from None
    try:
        digest = chain.event_hash(chain.canonical(event))
    except chain.NotCanonical as error:
        raise Refused(f"cannot be canonicalized: {error}") from None
    if digest != event["hash_bytes"]:
        raise Refused("its hash does not match its contents")
    carried = keys.get(event["key_id"])
    if carried is None:
        raise Refused(f"signed by {event['key_id']}, a key the bundle does not carry")
    public, announced = carried
    if announced >= event["seq"] and not (announced == 1 and event["seq"] == 1):
        raise Refused(f"signed by {event['key_id']}, a key announced at seq {announced}, after it")
    if not chain.signature_valid(public, chain.signed_message(digest), event["sig_bytes"]):
        raise Refused("its signature does not verify")
    return event


def check_proof(event, proof, checkpoint):
    if not isinstance(proof, list):
        raise Refused("no inclusion proof")
    path = [hex32(item, "a proof hash") for item in proof]
    tree_size, root, head = checkpoint
    if not included(event["seq"], tree_size, event["hash_bytes"], path, root):
        raise Refused(f"inclusion proof does not lead to the checkpoint's root (log of {tree_size} events)")
    if event["seq"] == tree_size and event["hash_bytes"] != head:
        raise Refused("is the checkpoint's last event but its hash is not the checkpoint's head")


def signed_by(public, digest, sig_text, what):
    try:
        sig = chain.hex_bytes(sig_text, 64, what)
    except chain.Malformed as error:
        raise Refused(str(error)) from None
    return chain.signature_valid(public, chain.signed_message(digest), sig)


# ---- §6: verification ---------------------------------------------------------

def check_header(header, pinned):
    members(header, "the header", ("format", "created_at", "selection", "checkpoint", "keys"))
    if header["format"] != FORMAT:
        raise Refused(f"format is not {FORMAT}")
    if not isinstance(header["created_at"], str):
        raise Refused("created_at is not a string")
    point = header["checkpoint"]
    members(point, "the checkpoint", ("tree_size", "root", "head", "key_id", "sig"))
    tree_size = unsigned(point["tree_size"], "tree_size")
    checkpoint = (tree_size, hex32(point["root"], "the checkpoint's root"), hex32(point["head"], "the checkpoint's head"))
    if tree_size == 0:
        raise Refused("the checkpoint's log is empty")
    selection = header["selection"]
    kind = selection.get("kind") if isinstance(selection, dict) else None
    if kind == "range":
        members(selection, "the selection", ("kind", "from", "to"))
        start, end = unsigned(selection["from"], "from"), unsigned(selection["to"], "to")
        if not 1 <= start <= end <= tree_size:
            raise Refused(f"the range {start}..{end} is not a range of the checkpoint's log of {tree_size} events")
    elif kind == "search":
        members(selection, "the selection", ("kind", "org", "filters"))
        if not isinstance(selection["org"], str):
            raise Refused("the search's org is not a string")
        filters = selection["filters"]
        if not isinstance(filters, dict) or not all(isinstance(v, str) for v in filters.values()):
            raise Refused("the search's filters are not an object of strings")
    else:
        raise Refused("the selection is neither a range nor a search")
    listed = header["keys"]
    if not isinstance(listed, list):
        raise Refused("keys is not a list")
    keys = {}
    for key in listed:
        members(key, "a key", ("key_id", "public_key", "announced"))
        members(key["announced"], "a key's announcement", ("event", "proof"))
        kid = key["key_id"]
        if not isinstance(kid, str):
            raise Refused("a key's key_id is not a string")
        public = hex32(key["public_key"], f"key {kid}: public_key")
        strong_key(public, f"key {kid}")
        if chain.key_id(public) != kid:
            raise Refused(f"key {kid}: key_id does not name this public key")
        seq = key["announced"]["event"].get("seq") if isinstance(key["announced"]["event"], dict) else None
        if kid in keys:
            raise Refused(f"key {kid}: listed twice")
        keys[kid] = (public, unsigned(seq, f"key {kid}: its announcement's seq"))
    for key in listed:
        kid, event = key["key_id"], key["announced"]["event"]
        data = event.get("data") if isinstance(event, dict) else None
        if (event.get("kind") != "signing_key.added" or event.get("subject") != "ledger"
                or not isinstance(data, dict) or data.get("algorithm") != "ed25519"
                or data.get("public_key") != key["public_key"] or data.get("key_id") != kid):
            raise Refused(f"key {kid}: its announcement is not the signing_key.added event of this key")
        try:
            event = check_event(event, keys)
            check_proof(event, key["announced"]["proof"], checkpoint)
        except Refused as error:
            raise Refused(f"key {kid}: its announcement: {error}") from None
    signer = point["key_id"]
    if signer not in keys:
        raise Refused(f"the checkpoint is signed by {signer}, a key the bundle does not carry")
    public = keys[signer][0]
    if pinned and public not in pinned:
        raise Refused(f"the checkpoint is signed by {signer}, which is not a key you trust")
    if not signed_by(public, checkpoint_digest(*checkpoint), point["sig"], "the checkpoint's sig"):
        raise Refused("the checkpoint's signature does not verify")
    return checkpoint, keys, signer, public


def verify_bundle(data, pinned=()):
    lines = chain.file_lines(data)

    def next_line():
        try:
            return next(lines)
        except StopIteration:
            return None
        except chain.Malformed as error:
            text = str(error)
            number = int(text.split(":", 1)[0].split()[1])
            raise BundleError(number, text.split(": ", 1)[1]) from None

    def load(number, text):
        try:
            return chain.load_json(text)
        except chain.Malformed as error:
            raise BundleError(number, str(error)) from None

    first_line = next_line()
    if first_line is None:
        raise BundleError(1, "header: the bundle is empty")
    header = load(*first_line)
    try:
        # The first mark is of the header as read (checking it annotates
        # the events it carries).
        mark = first_mark(header)
    except (chain.NotCanonical, TypeError) as error:
        raise BundleError(1, f"header: cannot be canonicalized: {error}") from None
    try:
        checkpoint, keys, signer, signer_key = check_header(header, list(pinned))
    except Refused as error:
        raise BundleError(1, f"header: {error}") from None
    selection = header["selection"]
    is_range = selection["kind"] == "range"
    count, first, previous = 0, None, None
    number = 1
    while True:
        got = next_line()
        if got is None:
            raise BundleError(number + 1, "seal: missing: the bundle is cut short")
        number, text = got
        entry = load(number, text)
        if isinstance(entry, dict) and "seal" in entry and "event" not in entry:
            seal_line = entry
            break
        seq = entry.get("event", {}).get("seq") if isinstance(entry, dict) and isinstance(entry.get("event"), dict) else None
        seq = seq if type(seq) is int else None
        try:
            members(entry, "the line", ("event", "mark"), ("proof",))
            event = check_event(entry["event"], keys)
            seq = event["seq"]
            if is_range and previous is None and seq != selection["from"]:
                raise Refused(f"the range starts at {selection['from']}")
            if is_range and previous is not None:
                if seq != previous[0] + 1:
                    raise Refused(f"it follows seq {previous[0]}: an event is missing or out of order")
                if event["prev_bytes"] != previous[1]:
                    raise Refused(f"its prev is not the hash of seq {previous[0]}")
            if not is_range and previous is not None and seq <= previous[0]:
                raise Refused(f"it follows seq {previous[0]}: out of order")
            if not is_range or seq == selection["to"] or "proof" in entry:
                check_proof(event, entry.get("proof"), checkpoint)
            mark = next_mark(mark, seq, event["hash_bytes"])
            if hex32(entry["mark"], "mark") != mark:
                raise Refused("the bundle's running digest breaks here: an event before it was removed, added or moved")
        except Refused as error:
            raise BundleError(number, str(error), seq) from None
        count += 1
        if first is None:
            first = (seq, event["prev_bytes"])
        previous = (seq, event["hash_bytes"])
    try:
        if is_range and (previous is None or previous[0] != selection["to"]):
            raise Refused(f"the range ends at {selection['to']} but the events stop at {previous[0] if previous else 0}")
        members(seal_line, "the seal's line", ("seal",))
        seal = seal_line["seal"]
        members(seal, "the seal", ("events", "digest", "key_id", "sig"))
        if seal["key_id"] != signer:
            raise Refused("signed by another key than the checkpoint")
        digest = hex32(seal["digest"], "its digest")
        if not signed_by(signer_key, digest, seal["sig"], "its sig"):
            raise Refused("its signature does not verify")
        if unsigned(seal["events"], "events") != count:
            raise Refused(f"{seal['events']} events were sealed, the bundle holds {count}")
        if digest != mark:
            raise Refused("its digest does not match the events: an event was added, removed or moved")
    except Refused as error:
        raise BundleError(number, f"seal: {error}") from None
    after = next_line()
    if after is not None:
        raise BundleError(after[0], "text after the seal")
    return Verdict(selection, count, first, previous, checkpoint[0], checkpoint[2], checkpoint[1], signer)


# ---- the bundle vectors -------------------------------------------------------

def check_fixture(path, expect):
    """Recomputes every value of core/tests/fixtures/bundle-vectors.json from
    the chain vectors' events and the test key, and checks each bundle's
    verdict; `expect(name, ok, detail)` records each result."""
    import json
    import pathlib

    fixture = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    chain_fixture = json.loads((pathlib.Path(path).parent / "chain-vectors.json").read_text(encoding="utf-8"))
    events = [chain.parse_line(vector["wire"]) for vector in chain_fixture["events"]]
    hashes = [event["hash_bytes"] for event in events]
    leaves = [leaf(h) for h in hashes]
    expect("bundle: leaves", [x.hex() for x in leaves] == fixture["leaves"])
    expect("bundle: node of leaves 1 and 2", node(leaves[0], leaves[1]).hex() == fixture["node_1_2"])
    root = root_of(hashes)
    expect("bundle: root", root.hex() == fixture["root"], root.hex())
    for seq, proof in fixture["proofs"].items():
        path_bytes = [bytes.fromhex(x) for x in proof]
        expect(f"bundle: proof of seq {seq}", included(int(seq), 3, hashes[int(seq) - 1], path_bytes, root))
    for old in (1, 2):
        proof = [bytes.fromhex(x) for x in fixture["consistency"][f"{old}_3"]]
        old_root = root_of(hashes[:old])
        expect(f"bundle: root of the first {old}", old_root.hex() == fixture["consistency"][f"root_{old}"])
        expect(f"bundle: consistency {old} -> 3", consistent(old, 3, old_root, root, proof))
        expect(f"bundle: consistency {old} -> 3 refuses another old root",
               not consistent(old, 3, leaf(hashes[1]), root, proof))
    statement = f'{{"head":"{hashes[2].hex()}","root":"{root.hex()}","tree_size":3}}'
    expect("bundle: checkpoint statement", statement == fixture["checkpoint"]["statement"])
    digest = checkpoint_digest(3, root, hashes[2])
    expect("bundle: checkpoint digest", digest.hex() == fixture["checkpoint"]["digest"], digest.hex())
    secret = chain.SigningKey(bytes(range(32)))
    sig = secret.sign(chain.signed_message(digest)).signature
    expect("bundle: checkpoint signature (deterministic)", sig.hex() == fixture["checkpoint"]["sig"], sig.hex())
    lines = fixture["bundle"].splitlines()
    header = chain.load_json(lines[0])
    encoded = chain.canonical_value(header)
    expect("bundle: canonical header", encoded == fixture["canonical_header"])
    expect("bundle: canonical header length", len(encoded.encode()) == fixture["canonical_header_length"])
    marks = [first_mark(header)]
    for seq in (2, 3):
        marks.append(next_mark(marks[-1], seq, hashes[seq - 1]))
    expect("bundle: marks", [m.hex() for m in marks] == fixture["marks"])
    seal_sig = secret.sign(chain.signed_message(marks[-1])).signature
    expect("bundle: seal", fixture["seal"] == {"digest": marks[-1].hex(), "sig": seal_sig.hex()})
    try:
        verdict = verify_bundle(fixture["bundle"].encode(), [bytes(secret.verify_key)])
        expect("bundle: verifies", (verdict.first[0], verdict.last[0]) == (2, 3))
    except BundleError as error:
        expect("bundle: verifies", False, str(error))
    for negative in fixture["negative"]:
        try:
            verify_bundle(negative["bundle"].encode())
            got = "intact"
        except BundleError as error:
            got = error.line
        expect(f"bundle negative {negative['name']}: line {negative['line']}", got == negative["line"], f"got {got}")
