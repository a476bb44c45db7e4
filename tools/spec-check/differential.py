#!/usr/bin/env python3
"""Differential testing of Warden's verifiers (issue 15, item 8).

  differential.py WARDEN BUNDLE_VERIFY [--seed N] [--per-file N] [--keep DIR]

Makes a real log with the `warden` binary (application events with awkward
data, then a key rotation, then more), exports it as a JSON Lines chain and
as range bundles (one ending before the rotation), and derives a corpus of
files from them: the originals, changes that keep them valid (members
reordered, whitespace, escapes, no final LF) and structural mutations
(byte flips, duplicate, unknown and removed members, lines dropped,
swapped, repeated or cut, CRLF, a byte order mark, blank lines, text after
the seal, events re-signed with a stranger's key).

Every file goes through every verifier that reads its kind:
  chains:  `warden verify --file`, and this directory's Python verifier;
  bundles: `warden verify --bundle`, `tools/bundle-verify`, and the Python one.
They must agree on the verdict (intact, failed, nothing verified) and on the
seq or line they name. Exit status 1 on any disagreement, listing each.
"""

import argparse
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bundle_check  # noqa: E402
import verify_vectors as chain  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

STRANGER = SigningKey(bytes(range(32, 64)))
TOKEN = "differential-token-0123456789abcdef0123456789"


# ---- a real log ---------------------------------------------------------------

class Node:
    def __init__(self, warden, directory):
        self.warden, self.dir = warden, directory
        token_file = directory / "token"
        token_file.write_text(TOKEN)
        self.env = {"PATH": os.environ.get("PATH", ""), "WARDEN_DATA_DIR": str(directory / "data"),
                    "WARDEN_APP_EVENTS_TOKEN_FILE": str(token_file), "WARDEN_LOG": "info"}

    def run(self, *args):
        return subprocess.run([self.warden, *args], env=self.env, capture_output=True, text=True, check=False)

    def serve_and_post(self, bodies):
        log = open(self.dir / "serve.log", "w")
        process = subprocess.Popen([self.warden, "serve", "--listen", "127.0.0.1:0"], env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            url, deadline = None, time.time() + 60
            while url is None:
                if time.time() > deadline or process.poll() is not None:
                    raise SystemExit("warden serve did not start: " + (self.dir / "serve.log").read_text()[-2000:])
                found = re.search(r"listening on (http://[0-9.:]+)", (self.dir / "serve.log").read_text())
                url = found.group(1) if found else None
                time.sleep(0.05)
            while True:
                try:
                    if urllib.request.urlopen(url + "/readyz", timeout=2).status == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise SystemExit("warden serve never became ready")
                time.sleep(0.1)
            for body in bodies:
                request = urllib.request.Request(
                    url + "/api/v1/app-events", data=json.dumps(body).encode(), method="POST",
                    headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
                with urllib.request.urlopen(request, timeout=10) as answer:
                    assert answer.status == 201, answer.status
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            log.close()


def bodies(tag, count):
    out = []
    for n in range(count):
        out.append({"kind": "app.invoice.paid", "subject": f"invoice:{tag}{n}",
                    "data": {"amount": {"minor_units": 1000 * n - 5000, "currency": "EUR"},
                             "customer": "Zoë Ärger, 東京 💶", "memo": f"said \"paid\"\\n{tag}\u0001{n}",
                             "labels": {"ﬁ": "ligature", "💶": "banknote"},
                             "lines": [{"sku": "WID-1", "qty": n}, {"sku": "SVC-9", "qty": 1}],
                             "refund_of": None, "settled": n % 2 == 0}})
    return out


def make_log(warden, directory):
    node = Node(warden, directory)
    node.serve_and_post(bodies("a", 12))
    rotated = node.run("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    node.serve_and_post(bodies("b", 12))
    chain_path = directory / "chain.jsonl"
    exported = node.run("export", "--out", str(chain_path))
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in chain_path.read_text().splitlines()]
    rotation = [e["seq"] for e in events if e["kind"] == "signing_key.added"][-1]
    head = events[-1]["seq"]
    files = {"chain": chain_path.read_bytes()}
    # A range that starts after the genesis (verified with the log's keys
    # pinned: it does not hold its genesis).
    range_path = directory / "chain-from-5.jsonl"
    exported = node.run("export", "--from", "5", "--out", str(range_path))
    assert exported.returncode == 0, exported.stderr
    files["chain-from-5"] = range_path.read_bytes()
    for start, end in [(1, head), (3, rotation - 1), (rotation, head)]:
        path = directory / f"bundle-{start}-{end}.jsonl"
        made = node.run("export", "--bundle", "--from", str(start), "--to", str(end), "--out", str(path))
        assert made.returncode == 0, made.stderr
        files[f"bundle-{start}-{end}"] = path.read_bytes()
    return node, files


# ---- mutations ----------------------------------------------------------------

def structure(line):
    """Positions outside strings: of each '{', and of each member name."""
    braces, names, in_string, escaped, expect_name = [], [], False, False, False
    for index, char in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            if expect_name:
                names.append(index)
            in_string, expect_name = True, False
        elif char == "{":
            braces.append(index)
            expect_name = True
        elif char == ",":
            expect_name = line[:index].rstrip()[-1:] != "[" and _in_object(line, index)
        else:
            if not char.isspace():
                expect_name = False
    return braces, names


def _in_object(line, index):
    """Whether the ',' at index separates object members (not array items)."""
    depth, in_string, escaped = [], False, False
    for char in line[:index]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth.append(char)
        elif char in "}]":
            depth.pop()
    return bool(depth) and depth[-1] == "{"


def member_name_at(line, index):
    end = index + 1
    while line[end] != '"':
        end += 2 if line[end] == "\\" else 1
    return line[index:end + 1]


def walk_objects(value, found):
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            walk_objects(item, found)
    elif isinstance(value, list):
        for item in value:
            walk_objects(item, found)
    return found


def dumps(value, **options):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), **options)


def resign(event, key=STRANGER):
    parsed = chain.check_event_form(json.loads(json.dumps(event)))
    digest = chain.event_hash(chain.canonical(parsed))
    event["hash"] = digest.hex()
    event["key_id"] = chain.key_id(bytes(key.verify_key))
    event["sig"] = key.sign(chain.signed_message(digest)).signature.hex()


def mutations(name, data, rng, count):
    """(label, bytes, must_stay_intact)."""
    text = data.decode("utf-8")
    lines = text.splitlines()
    is_bundle = name.startswith("bundle")
    out = [("original", data, True), ("no final LF", data.rstrip(b"\n"), True)]

    def join(changed):
        return ("\n".join(changed) + "\n").encode("utf-8")

    # Valid changes: members reordered, whitespace, escapes.
    for _ in range(2):
        index = rng.randrange(len(lines))
        value = json.loads(lines[index])
        for obj in walk_objects(value, []):
            items = list(obj.items())
            rng.shuffle(items)
            obj.clear()
            obj.update(items)
        changed = list(lines)
        changed[index] = dumps(value)
        out.append((f"line {index + 1}: members reordered", join(changed), True))
    index = rng.randrange(len(lines))
    changed = list(lines)
    changed[index] = json.dumps(json.loads(lines[index]), ensure_ascii=True, separators=(", ", " : "))
    out.append((f"line {index + 1}: spaces and \\u escapes", join(changed), True))

    for _ in range(count):
        choice = rng.randrange(15)
        changed = list(lines)
        index = rng.randrange(len(lines))
        line = lines[index]
        braces, names = structure(line)
        if choice == 0:  # byte flips
            raw = bytearray(data)
            at = rng.randrange(len(raw))
            raw[at] ^= 1 << rng.randrange(7)
            out.append((f"byte {at} flipped", bytes(raw), False))
            continue
        if choice == 1 and names:  # a member named twice, forged value first
            at = rng.choice(names)
            member = member_name_at(line, at)
            forged = rng.choice(['"forged"', "0", "null", "{}", "[]"])
            changed[index] = line[:at] + f"{member}:{forged}," + line[at:]
            label = f"line {index + 1}: {member} twice"
        elif choice == 2 and names:  # the same value twice
            at = rng.choice(names)
            value_of = json.loads(line)
            member = member_name_at(line, at)
            copy = None
            for obj in walk_objects(value_of, []):
                if json.loads(member) in obj:
                    copy = dumps(obj[json.loads(member)])
                    break
            changed[index] = line[:at] + f"{member}:{copy}," + line[at:]
            label = f"line {index + 1}: {member} twice, same value"
        elif choice == 3 and braces:  # an unknown member
            at = rng.choice(braces)
            comma = "" if line[at + 1] == "}" else ","
            changed[index] = line[:at + 1] + '"zz_unknown":1' + comma + line[at + 1:]
            label = f"line {index + 1}: unknown member"
        elif choice == 4:  # a member removed
            value = json.loads(line)
            objects = [obj for obj in walk_objects(value, []) if obj]
            victim = rng.choice(objects)
            del victim[rng.choice(list(victim))]
            changed[index] = dumps(value)
            label = f"line {index + 1}: a member removed"
        elif choice == 5 and len(lines) > 2:  # a line dropped
            del changed[index]
            label = f"line {index + 1} dropped"
        elif choice == 6 and index + 1 < len(lines):
            changed[index], changed[index + 1] = changed[index + 1], changed[index]
            label = f"lines {index + 1} and {index + 2} swapped"
        elif choice == 7:
            changed.insert(index, line)
            label = f"line {index + 1} repeated"
        elif choice == 8:  # cut short
            keep = rng.randrange(len(lines))
            changed = changed[:keep]
            label = f"cut after line {keep}"
            out.append((label, join(changed) if changed else b"", False))
            out.append((label + " mid-line", (join(changed) if changed else b"") + lines[keep][: len(lines[keep]) // 2].encode(), False))
            continue
        elif choice == 9:
            form = rng.choice(["crlf", "bom", "blank", "trailing blank", "after seal"])
            mutated = {"crlf": data.replace(b"\n", b"\r\n"), "bom": b"\xef\xbb\xbf" + data,
                       "blank": join(lines[:index] + [""] + lines[index:]), "trailing blank": data + b"\n",
                       "after seal": data + b'{"seal":{}}\n'}[form]
            out.append((form, mutated, False))
            continue
        elif choice == 10:  # re-signed with a stranger's key
            value = json.loads(line)
            event = value.get("event", value) if isinstance(value, dict) else None
            if not isinstance(event, dict) or "sig" not in event:
                continue
            if isinstance(event.get("data"), dict):
                event["data"]["zz_added"] = 1
            resign(event)
            changed[index] = dumps(value)
            label = f"line {index + 1}: changed and re-signed by a stranger"
        elif choice == 11 and is_bundle:  # the seal re-signed by a stranger
            value = json.loads(lines[-1])
            seal = value.get("seal")
            if not isinstance(seal, dict):
                continue
            digest = bytes.fromhex(seal["digest"])
            seal["key_id"] = chain.key_id(bytes(STRANGER.verify_key))
            seal["sig"] = STRANGER.sign(chain.signed_message(digest)).signature.hex()
            changed[-1] = dumps(value)
            label = "seal re-signed by a stranger"
        elif choice == 12:  # a number rewritten in another spelling
            found = list(re.finditer(r'(?<=[:\[,])(-?[0-9]+)(?=[,}\]])', line))
            if not found:
                continue
            hit = rng.choice(found)
            spelling = rng.choice([hit.group(1) + ".0", hit.group(1) + "e0", "0" + hit.group(1).lstrip("-")])
            changed[index] = line[:hit.start()] + spelling + line[hit.end():]
            label = f"line {index + 1}: number {hit.group(1)} as {spelling}"
        elif choice == 13:  # a hex value upper-cased
            found = list(re.finditer(r'"([0-9a-f]{64,128})"', line))
            if not found:
                continue
            hit = rng.choice(found)
            changed[index] = line[:hit.start(1)] + hit.group(1).upper() + line[hit.end(1):]
            label = f"line {index + 1}: hex upper-cased"
        elif choice == 14:  # a version beyond the canonical range (2^53)
            found = re.search(r'"subject_version":[0-9]+', line)
            if not found:
                continue
            changed[index] = line[:found.start()] + '"subject_version":9007199254740992' + line[found.end():]
            label = f"line {index + 1}: subject_version 2^53"
        else:
            continue
        out.append((label, join(changed), False))
    return out


# ---- verdicts -----------------------------------------------------------------

def parse_verdict(code, text):
    first = text.strip().splitlines()[0] if text.strip() else ""
    found = re.match(r"FAILED at (seq|line) (\d+)", first)
    if code == 1 and found:
        return ("failed", found.group(1), int(found.group(2)))
    if code == 0 and first.startswith("intact"):
        return ("intact",)
    if code == 2 and first.startswith("nothing verified"):
        return ("nothing",)
    return ("unexpected", code, first[:200])


def rust_chain(warden, path, env, pinned=()):
    keys = [arg for key in pinned for arg in ("--trusted-key", key.hex())]
    ran = subprocess.run([warden, "verify", "--file", str(path), *keys], env=env, capture_output=True, text=True,
                         check=False)
    return parse_verdict(ran.returncode, ran.stdout)


def log_keys(chain_export):
    """The public keys a chain export announces."""
    events = [json.loads(line) for line in chain_export.decode("utf-8").splitlines()]
    return [bytes.fromhex(e["data"]["public_key"]) for e in events if e["kind"] == "signing_key.added"]


def rust_bundle(warden, path, env):
    ran = subprocess.run([warden, "verify", "--bundle", str(path)], env=env, capture_output=True, text=True, check=False)
    return parse_verdict(ran.returncode, ran.stdout)


def tool_bundle(tool, path):
    ran = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    return parse_verdict(ran.returncode, ran.stdout)


def python_chain(data, pinned=()):
    try:
        count = chain.verify_lines(chain.file_lines(data), list(pinned))[0]
        return ("intact",) if count else ("nothing",)
    except chain.ChainError as error:
        return ("failed", "seq", error.seq)
    except chain.Malformed as error:
        found = re.match(r"line (\d+)", str(error))
        return ("failed", "line", int(found.group(1))) if found else ("unexpected", "malformed", str(error))


def python_bundle(data):
    try:
        bundle_check.verify_bundle(data)
        return ("intact",)
    except bundle_check.BundleError as error:
        return ("failed", "line", error.line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warden")
    parser.add_argument("bundle_verify")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--per-file", type=int, default=60)
    parser.add_argument("--keep", help="keep the corpus in this directory")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="warden-differential-"))
    work.mkdir(parents=True, exist_ok=True)
    node, files = make_log(args.warden, work)
    corpus_dir = work / "corpus"
    corpus_dir.mkdir(exist_ok=True)
    disagreements, checked, refused, unharmed = [], 0, 0, []
    for name, data in files.items():
        for number, (label, mutated, valid) in enumerate(mutations(name, data, rng, args.per_file)):
            path = corpus_dir / f"{name}-{number:03}.jsonl"
            path.write_bytes(mutated)
            if name.startswith("chain"):
                pinned = log_keys(files["chain"]) if name != "chain" else ()
                verdicts = {"warden verify --file": rust_chain(args.warden, path, node.env, pinned),
                            "python": python_chain(mutated, pinned)}
            else:
                verdicts = {"warden verify --bundle": rust_bundle(args.warden, path, node.env),
                            "bundle-verify": tool_bundle(args.bundle_verify, path),
                            "python": python_bundle(mutated)}
            checked += 1
            distinct = set(verdicts.values())
            agreed = distinct.pop() if len(distinct) == 1 else None
            if agreed is None or agreed[0] == "unexpected" or (valid and agreed != ("intact",)):
                disagreements.append((path, label, verdicts))
            elif agreed != ("intact",):
                refused += 1
            elif not valid:
                unharmed.append(f"{path.name} ({label})")
    for path, label, verdicts in disagreements:
        print(f"DISAGREE {path.name} ({label}):")
        for verifier, verdict in verdicts.items():
            print(f"    {verifier}: {verdict}")
    for line in unharmed:
        print(f"intact for every verifier although changed: {line}")
    print(f"differential: {checked} files, {refused} refused by every verifier, "
          f"{len(disagreements)} disagreements (corpus in {corpus_dir})")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
