#!/usr/bin/env python3
"""An independent verifier of traceledger auditor bundles.

It follows docs/verification.md (section 5, "The bundle format, step by step"),
docs/format.md and docs/signatures.md, and shares no code with traceledger: Python's json,
hashlib, base64, re and decimal, the `blake3` package (BLAKE3) and the `cryptography`
package (Ed25519, RFC 8032, by OpenSSL; the strict checks OpenSSL skips are done here). It
checks, in this order:

  1. the file's form (members, types);
  2. the checkpoint: a C2SP signed note with a valid signature of the ledger key;
  3. every record: its hash recomputed from its fields, and its inclusion proof into the
     checkpoint's RFC 9162 tree;
  4. the genesis: records 1, 2, ... of source system:traceledger-init come first;
  5. every electronic signature of every other record, against the keys and roles the
     carried records registered before it (docs/signatures.md);
  6. the manifest signature of the ledger key over the subject, the checkpoint and the seq
     and hash of every record.

It does not validate events against the JSON Schemas (schemas/) and does not rebuild the
DHR; `traceledger verify-bundle` does both.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install cryptography blake3
    /tmp/venv/bin/python docs/vectors/verify_bundle.py BUNDLE --ledger-key LEDGER.key.pub
    /tmp/venv/bin/python docs/vectors/verify_bundle.py --consistency OLD NEW PROOF --ledger-key LEDGER.key.pub

The second form checks two checkpoints you hold (OLD and NEW, signed notes) against PROOF,
the output of `traceledger prove --consistency OLD NEW --json`: that the log of NEW extends
the log of OLD (docs/verification.md, section 4).

Exit status: 0 if the bundle is valid; 1 if it is not, with one line naming the record
(seq) and the rule it breaks; 2 for a usage error or an unreadable key or file.
"""

import base64
import hashlib
import json
import re
import sys
from decimal import Decimal

import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "traceledger-bundle/v1"
RECORD_DOMAIN = b"traceledger/record/v1\x00"
CONTENT_DOMAIN = b"traceledger/signed-content/v1\x00"
MESSAGE_DOMAIN = b"traceledger/signature/v1\x00"
MANIFEST_DOMAIN = b"traceledger/bundle/v1\x00"
GENESIS_SOURCE = "system:traceledger-init"
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class Invalid(Exception):
    """The bundle breaks a rule: (seq or None, rule, detail)."""

    def __init__(self, seq, rule, detail):
        super().__init__(detail)
        self.seq, self.rule, self.detail = seq, rule, detail

    def __str__(self):
        where = f"seq {self.seq}: " if self.seq is not None else ""
        return f"{where}{self.rule}: {self.detail}"


# --- RFC 8785 canonical JSON (format.md section 1) ----------------------------------------


def es_number(x):
    """A double as ECMAScript's Number.prototype.toString writes it (RFC 8785 3.2.2.3)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("a number that is not finite has no canonical form")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires; Decimal splits
    # them into digits and a power of ten without rounding anything.
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    # value = DIGITS x 10^exponent = 0.DIGITS x 10^n
    n = exponent + len(digits)
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mark = "+" if e >= 0 else "-"
        head = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{head}e{mark}{abs(e)}"
    return sign + body


def jcs(value):
    """RFC 8785: members sorted by UTF-16 code units, no white space, minimal escapes,
    numbers as IEEE 754 doubles written as ECMAScript does."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        try:
            return es_number(float(value))
        except OverflowError:
            raise ValueError(f"the integer {value} is beyond the range of a double")
    if isinstance(value, float):
        return es_number(value)
    if isinstance(value, str):
        # json.dumps with ensure_ascii=False escapes exactly ", \ and U+0000..U+001F, with
        # the short forms and \u00xx in lowercase hex: RFC 8785 3.2.2.2.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(value[k]) for k in keys) + "}"
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def strict_loads(text):
    """JSON that refuses duplicate member names (their meaning would depend on the reader)."""

    def pairs(items):
        seen = {}
        for key, value in items:
            if key in seen:
                raise ValueError(f"duplicate member {key!r}")
            seen[key] = value
        return seen

    return json.loads(text, object_pairs_hook=pairs)


def b64decode_strict(text):
    """Standard base64 with padding, canonical (no stray bits, no white space)."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


# --- Ed25519, verified strictly (format.md section 6) -------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decompress(encoded):
    """The Edwards point of a 32-byte encoding, in extended coordinates; None if none."""
    if len(encoded) != 32:
        return None
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    sign = encoded[31] >> 7
    y %= P
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P != 0:
        x = (x * SQRT_M1) % P
        if (v * x * x - u) % P != 0:
            return None
    if x & 1 != sign:
        x = (-x) % P
    return (x, y, 1, (x * y) % P)


def point_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * D * t1 * t2 % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def small_order(point):
    """Whether 8 * point is the identity (the point's order divides 8)."""
    for _ in range(3):
        point = point_add(point, point)
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def valid_public_key(raw):
    """A 32-byte string that decodes to a point on the curve."""
    return decompress(raw) is not None


def ed25519_verify_strict(public, signature, message):
    """RFC 8032 verification, refusing S >= L and a public key or R of small order (what
    ed25519-dalek's verify_strict refuses); the equation is checked by OpenSSL."""
    if len(public) != 32 or len(signature) != 64:
        return False
    if int.from_bytes(signature[32:], "little") >= L:
        return False
    a, r = decompress(public), decompress(signature[:32])
    if a is None or r is None or small_order(a) or small_order(r):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Times (signatures.md, "When a signature is valid") -----------------------------------

RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def days_from_civil(year, month, day):
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def instant_millis(text):
    """An RFC 3339 time with an offset as milliseconds since 1970 (offset applied, digits
    after the millisecond ignored); None if it is not one."""
    m = RFC3339.match(text) if isinstance(text, str) else None
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    fraction, zone = m.group(7), m.group(8)
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    offset = 0
    if zone not in ("Z", "z"):
        offset = int(zone[1:3]) * 60 + int(zone[4:6])
        offset = -offset if zone[0] == "-" else offset
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds - offset * 60) * 1000 + millis


# --- The checkpoint: a C2SP signed note (format.md section 7) -----------------------------


def note_key_id(name, public):
    return hashlib.sha256(name.encode("utf-8") + b"\x0a\x01" + public).digest()[:4]


def open_checkpoint(note, public):
    """Parses the note and checks the ledger key's signature; returns (origin, size, root)."""

    def bad(detail):
        return Invalid(None, "checkpoint", detail)

    if len(note.encode("utf-8")) > 64 * 1024:
        raise bad("the note is larger than 64 KiB")
    if any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in note):
        raise bad("the note holds a control character other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise bad("no empty line before the signatures")
    if not note.endswith("\n"):
        raise bad("the note does not end with a newline")
    body, signatures = note[: split + 1], note[split + 2 :]
    lines = body.split("\n")
    if len(lines) < 4 or lines[0] == "":
        raise bad("the body has no origin, tree size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise bad(f"tree size {size_text!r} is not a decimal number")
    root = b64decode_strict(root_text)
    if root is None or len(root) != 32:
        raise bad(f"root {root_text!r} is not 32 bytes of base64")
    wanted = note_key_id(origin, public)
    for line in signatures.split("\n")[:-1]:
        if not line.startswith("\u2014 "):
            raise bad(f"signature line {line!r} does not start with an em dash and a space")
        name, space, blob = line[2:].partition(" ")
        raw = b64decode_strict(blob)
        if not space or raw is None or len(raw) < 4:
            raise bad(f"signature line of {name!r} is not a key name and base64")
        if name != origin or raw[:4] != wanted:
            continue  # another key's signature (a witness, say)
        if len(raw) != 68 or not ed25519_verify_strict(public, raw[4:], body.encode("utf-8")):
            raise bad("the ledger key's signature does not verify: the note was altered")
        return origin, int(size_text), root
    raise bad(f"no signature by the ledger key (key name {origin}, key id {wanted.hex()})")


# --- The Merkle tree (format.md section 7, RFC 9162 2.1) ----------------------------------


def leaf_hash(record_hash):
    return hashlib.sha256(b"\x00" + record_hash).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(index, size, leaf, proof):
    """RFC 9162 2.1.3.2; None if the proof has the wrong length for this index and size."""
    if index >= size or len(leaf) != 32:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def consistent(old_size, new_size, old_root, new_root, proof):
    """RFC 9162 2.1.4.2: whether the tree of old_size leaves with head old_root is a prefix
    of the tree of new_size leaves with head new_root."""
    if old_size == 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = ([old_root] if old_size & (old_size - 1) == 0 else []) + list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- Who may sign what (signatures.md) ----------------------------------------------------

MEANINGS = ("authored", "reviewed", "approved", "released", "verified")
MAY_SIGN = {
    "operator": {"authored", "verified"},
    "engineer": {"authored", "reviewed", "approved", "verified"},
    "qa": set(MEANINGS),
    "admin": {"authored", "approved"},
    "auditor": {"reviewed"},
}
AUTHORITY_TYPES = ("key.registered", "key.revoked", "role.granted", "role.revoked")


def requirement(event_type, data):
    """(meaning or None for any, roles or () for any, key whose holder may also sign) or
    None when the type requires no signature."""
    text = lambda name: data.get(name) if isinstance(data.get(name), str) else None
    if event_type in ("role.granted", "role.revoked", "key.registered"):
        return ("approved", ("admin",), None)
    if event_type == "key.revoked":
        return ("approved", ("admin",), text("key"))
    if event_type in ("routing.released", "routing.configured", "change.released"):
        return ("approved", ("engineer", "qa"), None)
    if event_type == "lot.dispositioned" and text("disposition") == "released":
        return ("released", ("qa",), None)
    if event_type == "nonconformance.dispositioned":
        return ("approved", ("qa",), None)
    if event_type == "unit.released":
        return ("released", ("qa",), None)
    if event_type == "correction.recorded":
        return (None, (), None)
    if event_type == "signature.applied":
        meaning = text("meaning")
        return (meaning if meaning in MEANINGS else None, (), None)
    return None


class Authority:
    """Keys and roles as the records carried so far registered them, each change stamped
    with its record's seq and occurred_at."""

    def __init__(self):
        self.keys = {}  # key id -> {"person", "public", "registered": (seq, ms), "revoked"}
        self.roles = {}  # (person, role) -> [(seq, ms, granted)]

    def observe(self, seq, event):
        event_type = event.get("type")
        if event_type not in AUTHORITY_TYPES:
            return
        at = instant_millis(event.get("occurred_at"))
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        text = lambda name: data.get(name) if isinstance(data.get(name), str) else None
        if at is None:
            return
        if event_type == "key.registered":
            public = b64decode_strict(text("public_key"))
            if text("key") is None or text("person") is None:
                return
            if public is None or len(public) != 32 or not valid_public_key(public):
                return
            # The first registration of a key id stands.
            self.keys.setdefault(
                text("key"),
                {"person": text("person"), "public": public, "registered": (seq, at), "revoked": None},
            )
        elif event_type == "key.revoked":
            entry = self.keys.get(text("key"))
            if entry is not None and entry["revoked"] is None:
                entry["revoked"] = (seq, at)
        else:
            if text("person") is None or text("role") not in MAY_SIGN:
                return
            changes = self.roles.setdefault((text("person"), text("role")), [])
            changes.append((seq, at, event_type == "role.granted"))

    def holds(self, person, role, seq, at):
        changes = [c for c in self.roles.get((person, role), []) if c[0] < seq and c[1] <= at]
        if not changes:
            return False
        return max(changes, key=lambda c: (c[1], c[0]))[2]

    def check(self, seq, event, content):
        """Judges every signature of record `seq`, then the type's requirement."""
        entries = event.get("signatures", [])
        required = requirement(event.get("type"), event.get("data") if isinstance(event.get("data"), dict) else {})
        met = required is None
        for index, entry in enumerate(entries):
            fail = lambda rule, detail: Invalid(seq, rule, f"signature {index}: {detail}")
            key_id, signer, meaning, signed_at = (
                entry["key"], entry["signer"], entry["meaning"], entry["signed_at"])
            key = self.keys.get(key_id)
            if key is None or key["registered"][0] >= seq:
                raise fail("1 key registered", f"key {key_id!r} is not registered by an earlier record")
            if key["person"] != signer:
                raise fail("2 signer's key", f"key {key_id!r} is registered to {key['person']}, not to {signer}")
            at = instant_millis(signed_at)
            if at is None:
                raise fail("3 signed_at is a time", f"signed_at {signed_at!r} is not an RFC 3339 time")
            if at < key["registered"][1]:
                raise fail("4 key registered at signed_at", f"key {key_id!r} was not yet registered at {signed_at}")
            revoked = key["revoked"]
            if revoked is not None and revoked[0] < seq and revoked[1] <= at:
                raise fail("5 key not revoked at signed_at",
                           f"key {key_id!r} was revoked (seq {revoked[0]}) at or before {signed_at}")
            message = MESSAGE_DOMAIN + jcs({
                "content": content.hex(), "key": key_id, "meaning": meaning,
                "signed_at": signed_at, "signer": signer}).encode("utf-8")
            if not ed25519_verify_strict(key["public"], entry["raw"], message):
                raise fail("6 Ed25519 signature verifies",
                           f"the signature does not verify for this record and key {key_id!r}")
            held = [role for role in MAY_SIGN if self.holds(signer, role, seq, at)]
            if not any(meaning in MAY_SIGN[role] for role in held):
                raise fail("7 role allows the meaning",
                           f"{signer} held no role allowed to sign {meaning!r} at {signed_at} "
                           f"(roles then: {', '.join(held) or 'none'})")
            if required is not None and not met:
                want_meaning, want_roles, holder_of = required
                holder = self.keys.get(holder_of) if holder_of is not None else None
                by_holder = holder is not None and holder["person"] == signer
                meaning_ok = want_meaning is None or want_meaning == meaning
                role_ok = not want_roles or any(role in held for role in want_roles)
                met = by_holder or (meaning_ok and role_ok)
        if not met:
            want_meaning, want_roles, holder_of = required
            what = f"a {want_meaning} signature" if want_meaning else "a signature"
            if want_roles:
                what += " by " + " or ".join(want_roles)
            if holder_of:
                what += f" (or any signature by the holder of key {holder_of!r})"
            raise Invalid(seq, "required signature",
                          f"{event.get('type')} requires {what}; none of its {len(entries)} signature(s) is one")


def signature_entries(seq, event):
    """The event's signatures, decoded; each exactly five strings (format.md section 6)."""
    entries = event.get("signatures", [])
    if not isinstance(entries, list):
        raise Invalid(seq, "signature form", "signatures is not an array")
    for index, entry in enumerate(entries):
        members = ("key", "meaning", "signature", "signed_at", "signer")
        if not isinstance(entry, dict) or sorted(entry) != list(members) or not all(
            isinstance(entry[m], str) for m in members
        ):
            raise Invalid(seq, "signature form", f"signature {index} is not exactly the five strings {members}")
        if entry["meaning"] not in MEANINGS:
            raise Invalid(seq, "signature form", f"signature {index}: unknown meaning {entry['meaning']!r}")
        raw = b64decode_strict(entry["signature"])
        if raw is None or len(raw) != 64:
            raise Invalid(seq, "signature form", f"signature {index}: signature is not 64 bytes of base64")
        entry["raw"] = raw
    return entries


# --- The bundle ---------------------------------------------------------------------------

TOP_MEMBERS = ("checkpoint", "format", "manifest_signature", "records", "subject")
# Optional: consistency proofs from the checkpoints the ledger kept of fewer records
# (verification.md, the bundle's members); not covered by the manifest signature.
OPTIONAL_MEMBERS = ("consistency",)
RECORD_MEMBERS = ("event", "hash", "prev", "proof", "recorded_at", "seq")


def check_form(bundle):
    def bad(detail):
        return Invalid(None, "bundle form", detail)

    if not isinstance(bundle, dict):
        raise bad("the bundle is not a JSON object")
    unknown = sorted(set(bundle) - set(TOP_MEMBERS) - set(OPTIONAL_MEMBERS))
    if unknown:
        raise bad(f"unknown member(s) {unknown}")
    for entry in bundle.get("consistency", []) if isinstance(bundle.get("consistency", []), list) else [None]:
        if (
            not isinstance(entry, dict)
            or set(entry) != {"old_size", "proof"}
            or not isinstance(entry["old_size"], int)
            or not isinstance(entry["proof"], list)
            or not all(isinstance(h, str) and len(h) == 64 for h in entry["proof"])
        ):
            raise bad("consistency is not a list of {old_size, proof: [64 hex digits, ...]}")
    for name in ("format", "subject", "checkpoint", "records", "manifest_signature"):
        if name not in bundle:
            raise bad(f"no member {name!r}")
    for name in ("format", "subject", "checkpoint"):
        if not isinstance(bundle[name], str):
            raise bad(f"{name} is not a string")
    if not isinstance(bundle["manifest_signature"], str):
        raise bad("manifest_signature is not a string")
    if bundle["format"] != BUNDLE_FORMAT:
        raise bad(f"format is {bundle['format']!r}, not {BUNDLE_FORMAT!r}")
    if not isinstance(bundle["records"], list):
        raise bad("records is not an array")
    for position, item in enumerate(bundle["records"]):
        where = f"records[{position}]"
        if not isinstance(item, dict) or sorted(item) != list(RECORD_MEMBERS):
            raise bad(f"{where} does not have exactly the members {RECORD_MEMBERS}")
        seq = item["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**64:
            raise bad(f"{where}.seq is not an unsigned integer")
        for name in ("recorded_at", "prev", "hash", "event"):
            if not isinstance(item[name], str):
                raise bad(f"{where}.{name} is not a string")
        if not isinstance(item["proof"], list) or not all(isinstance(p, str) for p in item["proof"]):
            raise bad(f"{where}.proof is not an array of strings")


def record_hash(seq, recorded_at, prev, event_text):
    """format.md section 3, with the event's canonical text as carried."""
    canonical = (
        '{"event":' + event_text + ',"prev":"' + prev.hex() + '","recorded_at":'
        + jcs(recorded_at) + ',"seq":' + str(seq) + "}"
    )
    return blake3.blake3(RECORD_DOMAIN + canonical.encode("utf-8")).digest()


def verify(bundle, ledger_key, warn):
    check_form(bundle)
    origin, tree_size, root = open_checkpoint(bundle["checkpoint"], ledger_key)
    authority = Authority()
    previous, genesis_size, signatures = 0, 0, 0
    for item in bundle["records"]:
        seq = item["seq"]
        if seq <= previous:
            raise Invalid(seq, "order", "records are not in strictly increasing seq order")
        if not HEX64.match(item["prev"]):
            raise Invalid(seq, "record form", "prev is not 64 hex digits")
        prev = bytes.fromhex(item["prev"])
        computed = record_hash(seq, item["recorded_at"], prev, item["event"])
        if item["hash"] != computed.hex():
            raise Invalid(seq, "record hash",
                          f"the record hashes to {computed.hex()}, not to the hash it claims (it was altered)")
        if not all(HEX64.match(p) for p in item["proof"]):
            raise Invalid(seq, "record form", "a proof hash is not 64 hex digits")
        proof = [bytes.fromhex(p) for p in item["proof"]]
        if root_from_inclusion_proof(seq - 1, tree_size, leaf_hash(computed), proof) != root:
            raise Invalid(seq, "inclusion proof",
                          f"the record is not leaf {seq - 1} of the checkpoint's tree of size {tree_size}")
        try:
            event = strict_loads(item["event"])
            canonical = jcs(event)
        except ValueError as e:
            raise Invalid(seq, "event form", f"the event is not JSON: {e}")
        if not isinstance(event, dict):
            raise Invalid(seq, "event form", "the event is not a JSON object")
        if canonical != item["event"]:
            raise Invalid(seq, "event form", "the event text is not its RFC 8785 canonical form")
        if event.get("source") == GENESIS_SOURCE:
            if seq != genesis_size + 1:
                raise Invalid(seq, "genesis",
                              f"a genesis record (source {GENESIS_SOURCE}) at seq {seq}: the genesis is "
                              f"records 1, 2, ... and must come first, without gaps")
            genesis_size = seq
        else:
            if genesis_size == 0:
                raise Invalid(seq, "genesis", "the bundle does not start with the genesis (seq 1)")
            entries = signature_entries(seq, event)
            unsigned = {k: v for k, v in event.items() if k != "signatures"}
            content = blake3.blake3(CONTENT_DOMAIN + jcs(unsigned).encode("utf-8")).digest()
            authority.check(seq, event, content)
            signatures += len(entries)
        authority.observe(seq, event)
        previous = seq
    if genesis_size == 0:
        raise Invalid(None, "genesis", "the bundle carries no genesis record")
    message = MANIFEST_DOMAIN + jcs({
        "checkpoint": bundle["checkpoint"],
        "records": [{"hash": r["hash"], "seq": r["seq"]} for r in bundle["records"]],
        "subject": bundle["subject"],
    }).encode("utf-8")
    raw = b64decode_strict(bundle["manifest_signature"])
    if raw is None or len(raw) != 64 or not ed25519_verify_strict(ledger_key, raw, message):
        raise Invalid(None, "manifest signature",
                      "the ledger key's signature over the subject, checkpoint and records does not "
                      "verify: records were left out or added, or the subject or checkpoint changed")
    return {
        "origin": origin, "tree_size": tree_size, "root": root.hex(),
        "records": len(bundle["records"]), "signatures": signatures,
        "genesis_size": genesis_size, "manifest": "valid", "subject": bundle["subject"],
    }


def read_ledger_key(path):
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def check_consistency(old_path, new_path, proof_path, ledger_key):
    """Two checkpoints and the output of `traceledger prove --consistency OLD NEW --json`."""
    checkpoints = []
    for path in (old_path, new_path):
        with open(path, encoding="utf-8") as f:
            checkpoints.append(open_checkpoint(f.read(), ledger_key))
    (old_origin, old_size, old_root), (new_origin, new_size, new_root) = checkpoints
    if old_origin != new_origin:
        raise Invalid(None, "consistency", f"the checkpoints are of two logs: {old_origin} and {new_origin}")
    with open(proof_path, encoding="utf-8") as f:
        printed = strict_loads(f.read())
    hashes = printed.get("proof") if isinstance(printed, dict) else None
    if not isinstance(hashes, list) or not all(isinstance(h, str) and HEX64.match(h) for h in hashes):
        raise Invalid(None, "consistency", "the proof is not a list of 64-hex-digit hashes")
    # The sizes and roots come from the signed checkpoints, never from the printed proof.
    if not consistent(old_size, new_size, old_root, new_root, [bytes.fromhex(h) for h in hashes]):
        raise Invalid(None, "consistency",
                      f"the proof does not show the tree of {old_size} records to be a prefix of the "
                      f"tree of {new_size}: the log was rewritten, or these are two views of it")
    return f"ok: checkpoint of {old_size} records is a prefix of checkpoint of {new_size} records ({new_origin})"


def main(argv):
    consistency = len(argv) == 7 and argv[1] == "--consistency" and argv[5] == "--ledger-key"
    if not consistency and (len(argv) != 4 or argv[2] != "--ledger-key"):
        print(__doc__, file=sys.stderr)
        return 2
    key_path = argv[-1]
    try:
        ledger_key = read_ledger_key(key_path)
    except (OSError, ValueError) as e:
        print(f"cannot read the ledger key {key_path}: {e}", file=sys.stderr)
        return 2
    if consistency:
        try:
            print(check_consistency(argv[2], argv[3], argv[4], ledger_key))
        except (OSError, UnicodeDecodeError) as e:
            print(f"cannot read a file: {e}", file=sys.stderr)
            return 2
        except ValueError as e:
            print(f"invalid: consistency: the proof file is not JSON: {e}")
            return 1
        except Invalid as e:
            print(f"invalid: {e}")
            return 1
        return 0
    try:
        with open(argv[1], encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"cannot read {argv[1]}: {e}", file=sys.stderr)
        return 2
    try:
        try:
            bundle = strict_loads(text)
        except ValueError as e:
            raise Invalid(None, "bundle form", f"not JSON: {e}")
        result = verify(bundle, ledger_key, lambda line: print(line, file=sys.stderr))
    except Invalid as e:
        print(f"invalid: {e}")
        return 1
    print(
        f"ok: {result['records']} records of {result['subject']} proven into checkpoint "
        f"{result['origin']} (tree size {result['tree_size']}, root {result['root']}), "
        f"genesis of {result['genesis_size']}, {result['signatures']} signatures valid, "
        f"manifest signature {result['manifest']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
